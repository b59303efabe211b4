"""``audio/manifest.json``: what was rendered, from which text, and how long it lasts.

Read in requests (the TwiML asks ``fresh_file`` before every ``<Play>``) and by the
simulator's clock, so this module imports neither pydub nor Flask. The file's shape::

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from ivr.audio import AudioError
from ivr.audio.settings import SAMPLE_RATE
from ivr.prompts import Catalog, placeholders

log = logging.getLogger(__name__)

VERSION = 1
FILENAME = "manifest.json"


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

    def fresh_file(self, lang: str, key: str, text: str) -> str | None:
        """The audio file (relative to the audio dir) for this exact text, if it exists."""
        entry = self.entry(lang, key)
        if entry is None or entry.text_sha256 != text_sha256(text):
            return None
        return entry.file if (self.audio_dir / entry.file).is_file() else None

    def play_url(self, public_url: str, lang: str, key: str, text: str) -> str | None:
        """The absolute URL for ``<Play>``, or None to fall back to ``<Say>``.

        The ``?v=`` is the text hash, so a re-rendered prompt gets a new URL and Twilio's
        media cache never plays the old words.
        """
        file = self.fresh_file(lang, key, text)
        if file is None:
            return None
        return f"{public_url.rstrip('/')}/audio/{quote(file)}?v={text_sha256(text)[:12]}"

    def hold_url(self, public_url: str) -> str | None:
        """The absolute URL of the hold audio, if it was built."""
        if self.hold is None or not (self.audio_dir / self.hold.file).is_file():
            return None
        return f"{public_url.rstrip('/')}/audio/{quote(self.hold.file)}"


class Spoken(Protocol):
    """What the TwiML speaks: a catalog key, its filled text, its language."""

    @property
    def key(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def lang(self) -> str: ...


class LiveManifest:
    """The manifest of a directory, re-read only when the file changes (one stat a call).

    Loaded once at app start; ``ivr audio build`` on a running server takes effect on
    the next request. A broken manifest is logged and treated as empty: every prompt
    then falls back to ``<Say>`` instead of failing the call.
    """

    def __init__(self, audio_dir: Path | str) -> None:
        self.audio_dir = Path(audio_dir)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._manifest = Manifest(self.audio_dir)
        self.current()

    def _read_stamp(self) -> tuple[int, int] | None:
        try:
            st = (self.audio_dir / FILENAME).stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def current(self) -> Manifest:
        """The manifest as it is on disk now."""
        stamp = self._read_stamp()
        if stamp == self._stamp:
            return self._manifest
        with self._lock:
            try:
                manifest = Manifest.load(self.audio_dir)
            except AudioError as exc:
                log.error("prompt audio disabled: %s", exc)
                manifest = Manifest(self.audio_dir)
            self._manifest, self._stamp = manifest, stamp
        return manifest

    def fresh_file(self, lang: str, key: str, text: str) -> str | None:
        return self.current().fresh_file(lang, key, text)

    def __call__(self, spoken: Spoken) -> str | None:
        """``fresh_file`` for an utterance: the finder ``webhooks.audio_url`` calls."""
        return self.current().fresh_file(spoken.lang, spoken.key, spoken.text)

    def hold_file(self) -> str | None:
        """The hold audio file (relative to the audio dir), if it was built."""
        hold = self.current().hold
        return hold.file if hold and (self.audio_dir / hold.file).is_file() else None

    def play_url(self, public_url: str, lang: str, key: str, text: str) -> str | None:
        return self.current().play_url(public_url, lang, key, text)
