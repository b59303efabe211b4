"""Prompt audio: render the catalog to telephony WAVs, check them, serve them, hear a call.

Static prompts (texts without ``{placeholders}``) are rendered ahead of time to
``audio/<lang>/<key>.wav`` and played with ``<Play>``; a prompt whose audio is missing or
older than its text falls back to ``<Say>``, so a missing file never breaks a call.

Dynamic prompts (amounts, dates, ticket numbers, waits) are *not* pre-rendered and not
assembled from digit clips; they are spoken with ``<Say>`` at call time, because:

- a fixed voice matters for the fixed prompts, which callers hear on every call and which
  a studio recording can replace one by one;
- the dynamic content is short, and the TTS reads numbers, amounts and dates correctly in
  each language (``128.50`` as an amount in Mandarin is not the English digit sequence);
- clips glued digit by digit sound choppy, and the joins differ across languages.

Modules: ``settings`` (the knobs), ``manifest`` (what was rendered; read by the TwiML and
the simulator, no pydub), ``engine`` (pluggable TTS: espeak-ng, studio files), ``sound``
(the only importer of pydub), ``build``/``check``/``report`` (library functions behind
``ivr audio ...``), ``serve`` (the ``/audio`` blueprint), ``call`` (a simulated call to a
WAV), ``timing`` (how long a prompt lasts: its audio, or the speaking rate). Nothing here
that imports pydub runs in a request.

It reads the flow's prompt catalog and the menu tree; it never imports the records, the
web edge, the console, the simulator or the CLI.
"""

from __future__ import annotations

from pathlib import Path

from ivr.errors import IVRError

#: the rendered output: ``audio/`` in the working folder (never beside the installed code)
DEFAULT_AUDIO_DIR = Path("audio")


class AudioError(IVRError):
    """Audio could not be rendered, read or written (engine missing, bad file, ...)."""
