"""``audio/manifest.json``: what was rendered, from which text, and how long it lasts.

Read in requests (the TwiML asks ``fresh_file`` before every ``<Play>``) and by the
simulator's clock, so this module imports neither pydub nor Flask. A file is played only
when ``ivr audio check`` would pass it: its entry is for this exact text and the file is
an 8 kHz mono 16-bit WAV lasting what the manifest says (``wav_problem``, headers only);
anything else is spoken with ``<Say>`` until ``ivr audio build`` re-renders it. The file's
shape::

    {"version": 1, "sample_rate": 8000, "target_dbfs": -20.0,
     "prompts": {"<lang>": {"<key>": {"file": "<lang>/<key>.wav", "text_sha256": "...",
                                     "duration_ms": 2310, "engine": "espeak-ng"}}},
     "hold": {"file": "hold.wav", "duration_ms": 60000, "seed": ..., ...}}
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import wave
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from ivr.audio import AudioError
from ivr.audio.settings import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH
from ivr.flow.prompts import Catalog, placeholders
from ivr.plural import counted

log = logging.getLogger(__name__)

VERSION = 1
FILENAME = "manifest.json"
#: a file may differ from its manifest duration by this much (rounding to whole ms)
TOLERANCE_MS = 2


def wav_problem(path: Path, duration_ms: int) -> str | None:
    """Why ``path`` is not telephony audio of ``duration_ms``, or None if it is.

    Reads the WAV header only (the standard library, no pydub): cheap enough to ask once
    per file version in a request, and the one test ``check``, ``build`` and the app share.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
            frames = wav.getnframes()
    except FileNotFoundError:
        return "file missing"
    except (OSError, EOFError, wave.Error) as exc:
        return f"not a readable PCM WAV ({exc})"
    if (rate, channels, width) != (SAMPLE_RATE, CHANNELS, SAMPLE_WIDTH):
        return (f"not telephony audio: {rate} Hz, {counted(channels, 'channel')}, {8 * width}-bit "
                f"(needs {SAMPLE_RATE} Hz mono 16-bit)")
    actual_ms = round(frames * 1000 / rate)
    if abs(actual_ms - duration_ms) > TOLERANCE_MS:
        return f"lasts {actual_ms} ms but the manifest says {duration_ms} ms"
    if (path.stat().st_size - 44) < frames * channels * width - 2 * width:
        return f"cut short: holds fewer samples than its header's {frames} frames"
    return None


def text_sha256(text: str) -> str:
    """The hash a prompt's audio is tied to: its exact text, UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: catalog keys that are pieces of dynamic text (``fmt_date``, ``fmt_list_sep``), never
#: spoken on their own
FRAGMENT_PREFIX = "fmt_"


def is_static(key: str, text: str) -> bool:
    """A prompt worth rendering: spoken on its own, no ``{placeholders}``, some words."""
    return (not key.startswith(FRAGMENT_PREFIX) and not placeholders(text)
            and any(ch.isalnum() for ch in text))


def static_prompts(catalog: Catalog) -> dict[str, dict[str, str]]:
    """Per language, the prompts ``build`` renders (see ``is_static``)."""
    return {lang: {key: text for key, text in texts.items() if is_static(key, text)}
            for lang, texts in catalog.texts.items()}


@dataclass(frozen=True, slots=True)
class PromptAudio:
    """One rendered prompt."""

    file: str
    text_sha256: str
    duration_ms: int
    engine: str


@dataclass(frozen=True, slots=True)
class HoldAudio:
    """The hold audio played while a caller waits in a queue."""

    file: str
    duration_ms: int
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Manifest:
    """The parsed manifest of one audio directory (empty when nothing was built yet)."""

    audio_dir: Path
    prompts: Mapping[str, Mapping[str, PromptAudio]] = field(default_factory=dict)
    hold: HoldAudio | None = None
    target_dbfs: float | None = None
    sample_rate: int = SAMPLE_RATE

    @classmethod
    def load(cls, audio_dir: Path | str) -> Manifest:
        """Read ``audio_dir/manifest.json``; a missing file is an empty manifest."""
        audio_dir = Path(audio_dir)
        path = audio_dir / FILENAME
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(audio_dir)
        except (OSError, ValueError) as exc:
            raise AudioError(f"{path}: cannot read the manifest: {exc}") from exc
        try:
            if raw.get("version") != VERSION:
                raise AudioError(f"{path}: manifest version {raw.get('version')!r}, "
                                 f"expected {VERSION}")
            prompts = {lang: {key: PromptAudio(**entry) for key, entry in keys.items()}
                       for lang, keys in raw.get("prompts", {}).items()}
            hold_raw = dict(raw["hold"]) if raw.get("hold") else None
            hold = (HoldAudio(hold_raw.pop("file"), int(hold_raw.pop("duration_ms")), hold_raw)
                    if hold_raw else None)
            return cls(audio_dir, prompts, hold, raw.get("target_dbfs"),
                       int(raw.get("sample_rate", SAMPLE_RATE)))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise AudioError(f"{path}: malformed manifest: {exc!r}") from exc

    def to_json(self) -> dict[str, Any]:
        """The manifest as written, languages and keys sorted so rebuilds diff cleanly."""
        return {
            "version": VERSION,
            "sample_rate": self.sample_rate,
            "target_dbfs": self.target_dbfs,
            "prompts": {lang: {key: {"file": e.file, "text_sha256": e.text_sha256,
                                     "duration_ms": e.duration_ms, "engine": e.engine}
                               for key, e in sorted(self.prompts[lang].items())}
                        for lang in sorted(self.prompts)},
            "hold": ({"file": self.hold.file, "duration_ms": self.hold.duration_ms,
                      **self.hold.params} if self.hold else None),
        }

    def save(self) -> None:
        """Write atomically, so a request never reads half a manifest."""
        path = self.audio_dir / FILENAME
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")
        os.replace(tmp, path)

    def entry(self, lang: str, key: str) -> PromptAudio | None:
        return self.prompts.get(lang, {}).get(key)

    def playable(self, file: str, duration_ms: int) -> bool:
        """Whether ``file`` is telephony audio of ``duration_ms`` (see ``wav_problem``)."""
        return wav_problem(self.audio_dir / file, duration_ms) is None

    def fresh_file(self, lang: str, key: str, text: str) -> str | None:
        """The audio file (relative to the audio dir) for this exact text, if it exists
        and ``check`` would pass it."""
        entry = self.entry(lang, key)
        if entry is None or entry.text_sha256 != text_sha256(text):
            return None
        return entry.file if self.playable(entry.file, entry.duration_ms) else None

    def play_url(self, public_url: str, lang: str, key: str, text: str) -> str | None:
        """The absolute URL for ``<Play>``, or None to fall back to ``<Say>``.

        The ``?v=`` is the text hash, so a re-rendered prompt gets a new URL and Twilio's
        media cache never plays the old words.
        """
        file = self.fresh_file(lang, key, text)
        if file is None:
            return None
        return f"{public_url.rstrip('/')}/audio/{quote(file)}?v={text_sha256(text)[:12]}"

    def hold_file(self) -> str | None:
        """The hold audio file (relative to the audio dir), if it was built and is sound."""
        if self.hold is None or not self.playable(self.hold.file, self.hold.duration_ms):
            return None
        return self.hold.file

    def hold_url(self, public_url: str) -> str | None:
        """The absolute URL of the hold audio, if it was built."""
        file = self.hold_file()
        return None if file is None else f"{public_url.rstrip('/')}/audio/{quote(file)}"


class Spoken(Protocol):
    """What the TwiML speaks: a catalog key, its filled text, its language."""

    @property
    def key(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def lang(self) -> str: ...


#: how long a lookup trusts what it last saw of the disk: at most one look a second
RECHECK_S = 1.0


class LiveManifest:
    """The manifest of a directory, held in memory and re-read when the file changes.

    Loaded once at app start. A lookup answers from memory and looks at the disk (a stat
    of the manifest, of the file it names) at most once every ``recheck_s``: a webhook
    asks for every prompt it says, and a stat or two per prompt was a fifth of a step's
    cost. So ``ivr audio build`` on a running server, or a file spoilt by hand, takes
    effect within ``recheck_s`` (a second). A broken manifest is logged and treated as
    empty: every prompt then falls back to ``<Say>`` instead of failing the call.

    Each audio file is checked (``wav_problem``: its header) the first time it is asked
    for and again only when it changes (its mtime, size or inode, or its manifest
    duration). A file that fails is logged once and spoken with ``<Say>``.
    """

    def __init__(self, audio_dir: Path | str, *, recheck_s: float = RECHECK_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.audio_dir = Path(audio_dir)
        self.recheck_s, self._clock = recheck_s, clock
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._looked_at = float("-inf")  # when the manifest's stamp was last read
        self._manifest = Manifest(self.audio_dir)
        #: file -> (what it was checked as, why it cannot be played or None, when)
        self._checked: dict[str, tuple[tuple[int, int, int, int], str | None, float]] = {}
        self.current()

    def _read_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.audio_dir / FILENAME)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def current(self) -> Manifest:
        """The manifest as it was on disk at most ``recheck_s`` ago."""
        now = self._clock()
        if now - self._looked_at < self.recheck_s:
            return self._manifest
        stamp = self._read_stamp()
        self._looked_at = now
        if stamp == self._stamp:
            return self._manifest
        with self._lock:
            try:
                manifest = Manifest.load(self.audio_dir)
            except AudioError as exc:
                log.error("prompt audio disabled: %s", exc)
                manifest = Manifest(self.audio_dir)
            if manifest.sample_rate != SAMPLE_RATE:
                log.error("prompt audio disabled: %s/%s says %s Hz, telephony needs %s Hz "
                          "(run: ivr audio build)", self.audio_dir, FILENAME,
                          manifest.sample_rate, SAMPLE_RATE)
                manifest = Manifest(self.audio_dir)
            self._manifest, self._stamp = manifest, stamp
            self._checked = {}
        return manifest

    def playable(self, file: str, duration_ms: int) -> bool:
        """``Manifest.playable``, checked again only when the file changed (looked at
        at most once every ``recheck_s``)."""
        now = self._clock()
        known = self._checked.get(file)
        if known is not None and known[0][3] == duration_ms and now - known[2] < self.recheck_s:
            return known[1] is None
        try:
            st = os.stat(self.audio_dir / file)
        except OSError:
            return False
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino, duration_ms)
        if known is not None and known[0] == stamp:
            why = known[1]
        else:
            why = wav_problem(self.audio_dir / file, duration_ms)
            if why is not None:
                log.warning("%s: %s; spoken with <Say> until rebuilt (run: ivr audio build)",
                            self.audio_dir / file, why)
        self._checked[file] = (stamp, why, now)
        return why is None

    def fresh_file(self, lang: str, key: str, text: str) -> str | None:
        """The file for this exact text, if ``ivr audio check`` would pass it."""
        entry = self.current().entry(lang, key)
        if entry is None or entry.text_sha256 != text_sha256(text):
            return None
        return entry.file if self.playable(entry.file, entry.duration_ms) else None

    def __call__(self, spoken: Spoken) -> str | None:
        """``fresh_file`` for an utterance: the finder ``webhooks.audio_url`` calls."""
        return self.fresh_file(spoken.lang, spoken.key, spoken.text)

    def hold_file(self) -> str | None:
        """The hold audio file (relative to the audio dir), if it was built and is sound."""
        hold = self.current().hold
        return hold.file if hold and self.playable(hold.file, hold.duration_ms) else None

    def play_url(self, public_url: str, lang: str, key: str, text: str) -> str | None:
        file = self.fresh_file(lang, key, text)
        if file is None:
            return None
        return f"{public_url.rstrip('/')}/audio/{quote(file)}?v={text_sha256(text)[:12]}"
