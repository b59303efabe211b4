"""Simulated durations: how long the caller spends hearing or saying something.

Nothing here sleeps or plays audio. Time is kept in integer milliseconds so traces are
exact and repeatable.

Speaking rates (text-to-speech and the simulated caller's own speech):

- Chinese, Japanese, Cantonese (``cmn``, ``zh``, ``yue``, ``ja``): 4 characters a second,
  the pace of Polly Zhiyu reading a prompt.
- Everything else: 150 words a minute (2.5 words a second), a typical English TTS pace.

Latin words inside Chinese text count as words at 2.5 a second; in a CJK language each
digit is one character (numbers are read digit by digit on this hotline), elsewhere a
number is one word. SSML ``<break time="...">`` adds its time.

A ``<Play>`` lasts as long as its audio file where the simulator can find one (see
``AudioDurations``), else ``UNKNOWN_PLAY_S``.
"""

from __future__ import annotations

import json
import logging
import re
import wave
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from ivr.audio import DEFAULT_AUDIO_DIR  # ./audio, where `ivr audio build` writes

log = logging.getLogger(__name__)

PlayDuration = Callable[[str], "float | None"]

CJK_CHARS_PER_S = 4.0
WORDS_PER_S = 150 / 60
CJK_LANGS = ("cmn", "zh", "yue", "ja")
MIN_SAY_S = 0.3
#: a ``<Play>`` whose audio the simulator cannot measure
UNKNOWN_PLAY_S = 5.0
#: one DTMF tone played by ``<Play digits>``; ``w`` is Twilio's half-second wait
DTMF_TONE_S = 0.25
DTMF_WAIT_S = 0.5
#: the beep before ``<Record>``
BEEP_S = 0.5

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z0-9\u00c0-\u024f]+(?:['.,][A-Za-z0-9]+)*")
_BREAK = {"none": 0, "x-weak": 100, "weak": 250, "medium": 500, "strong": 750, "x-strong": 1000}


def ms(seconds: float) -> int:
    return round(seconds * 1000)


def speech_ms(text: str, language: str = "en-US") -> int:
    """How long ``text`` takes to say (see the module docstring for the rates)."""
    if not text.strip():
        return 0
    cjk = len(_CJK.findall(text))
    if language.lower().startswith(CJK_LANGS):
        # digits are read one syllable each ("8000" as ba-ling-ling-ling on an account)
        cjk += len(re.findall(r"\d", text))
        text = re.sub(r"\d", " ", text)
    words = len(_WORD.findall(text))
    return ms(max(cjk / CJK_CHARS_PER_S + words / WORDS_PER_S, MIN_SAY_S))


def break_ms(time: str | None, strength: str | None) -> int:
    """The length of an SSML ``<break>``: ``time="750ms"``/``"1s"`` or a strength."""
    if time:
        match = re.fullmatch(r"\s*([\d.]+)\s*(ms|s)\s*", time)
        if match:
            value = float(match.group(1))
            return int(value) if match.group(2) == "ms" else ms(value)
    return _BREAK.get(strength or "medium", 500)


def dtmf_ms(digits: str) -> int:
    """How long ``<Play digits="...">`` takes."""
    return sum(ms(DTMF_WAIT_S) if d == "w" else ms(DTMF_TONE_S) for d in digits)


class AudioDurations:
    """The default ``play_duration_s``: URLs under ``/audio/`` looked up in the rendered
    audio directory, first in ``manifest.json``, then in the WAV file's header.

    The manifest is ``{"prompts": {lang: {key: {"file": "<lang>/<key>.wav",
    "duration_ms": int}}}, "hold": {"file": "hold.wav", "duration_ms": int}}``.
    """

    def __init__(self, audio_dir: Path | str = DEFAULT_AUDIO_DIR) -> None:
        self.audio_dir = Path(audio_dir)
        self._by_file: dict[str, float] | None = None
        self._cache: dict[str, float | None] = {}

    def __call__(self, url: str) -> float | None:
        if url not in self._cache:
            self._cache[url] = self._measure(url)
        return self._cache[url]

    def _measure(self, url: str) -> float | None:
        path = urlsplit(url).path
        if "/audio/" not in path:
            return None
        relative = path.split("/audio/", 1)[1]
        seconds = self._manifest().get(relative)
        if seconds is not None:
            return seconds
        return wav_seconds(self.audio_dir / relative)

    def _manifest(self) -> dict[str, float]:
        if self._by_file is None:
            self._by_file = {}
            path = self.audio_dir / "manifest.json"
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return self._by_file
            entries = [e for lang in data.get("prompts", {}).values() for e in lang.values()]
            if isinstance(data.get("hold"), dict):
                entries.append(data["hold"])
            for entry in entries:
                if isinstance(entry, dict) and "file" in entry and "duration_ms" in entry:
                    self._by_file[str(entry["file"])] = int(entry["duration_ms"]) / 1000
        return self._by_file


def wav_seconds(path: Path) -> float | None:
    """The length of a WAV file from its header, or None if it is missing or unreadable."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / wav.getframerate()
    except (OSError, wave.Error, EOFError, ZeroDivisionError):
        return None
