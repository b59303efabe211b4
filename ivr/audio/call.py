"""Hear a simulated call: a trace (``ivr.sim.trace``) rendered to one WAV.

Every event is laid on a silent track exactly ``outcome.duration_s`` long, at its ``t``:

- ``say``: the prompt's rendered audio (found by language and text hash), else TTS on
  the fly; ``play``: the file behind an ``/audio/...`` URL, or DTMF for ``digits``;
- ``input``: the caller's keys as real DTMF dual tones at the moments they were pressed
  (``keys`` every ``key_interval_s``), or their speech in a second voice;
- ``record``: the beep; ``dial``: ringback;
- in a queue, our hold audio stands in for music we cannot fetch (Twilio's default),
  and fills a queue stretch in which nothing else is heard.

Gaps are silence (pauses, the caller thinking, a gather timing out). A sound never runs
past its ``duration_s`` nor into the next sound, as a key press cuts a prompt on Twilio.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ivr.audio import DEFAULT_AUDIO_DIR, sound
from ivr.audio.engine import Engine, EspeakEngine
from ivr.audio.manifest import Manifest, text_sha256
from ivr.audio.settings import DEFAULT_SETTINGS, AudioSettings

log = logging.getLogger(__name__)

#: events that make the caller hear something, or (input) stop what they hear
_SOUNDING = frozenset({"say", "play", "input", "record", "dial", "enqueue", "leave", "hangup"})
_CJK = re.compile(r"[\u3400-\u9fff]")
TONE_MS = 120
#: ``<Play digits>``: a tone every quarter second, ``w`` waits half a second (as the sim)
PLAY_DIGIT_MS, PLAY_WAIT_MS = 250, 500
#: between two keys when the event does not say
KEY_INTERVAL_MS = 300
BEEP_MS = 500


@dataclass(frozen=True, slots=True)
class CallAudio:
    """What was rendered: the file, its length, and each key the caller pressed as
    (seconds into the call, key)."""

    path: Path
    duration_ms: int
    tones: tuple[tuple[float, str], ...]
    spoken: int  # texts rendered with TTS on the fly (no fresh audio for them)


def _language(event: Mapping[str, Any], text: str, settings: AudioSettings) -> str:
    lang = event.get("language") or event.get("lang")
    if lang:
        return settings.catalog_lang(str(lang))
    return "zh-CN" if _CJK.search(text) else "en-US"


def local_file(url: str, audio_dir: Path) -> Path | None:
    """The file behind an ``.../audio/<path>`` URL inside ``audio_dir`` (query ignored)."""
    path = "/" + unquote(urlsplit(url).path).lstrip("/")
    if "/audio/" not in path:
        return None
    root = audio_dir.resolve()
    candidate = (root / path.split("/audio/", 1)[1]).resolve()
    return candidate if root in candidate.parents and candidate.is_file() else None


class _Renderer:
    def __init__(self, trace: Mapping[str, Any], audio_dir: Path, engine: Engine,
                 caller: Engine, settings: AudioSettings, workdir: Path) -> None:
        self.events: Sequence[Mapping[str, Any]] = trace["events"]
        self.end_ms = float(trace["outcome"]["duration_s"]) * 1000
        self.audio_dir = audio_dir
        self.manifest = Manifest.load(audio_dir)
        self.engine, self.caller, self.settings = engine, caller, settings
        self.workdir = workdir
        self.timeline = sound.Timeline(self.end_ms)
        self.tones: list[tuple[float, str]] = []
        self.heard: list[tuple[float, float]] = []  # (start, end) of everything laid
        self.spoken = 0
        self.in_queue = False
        self._by_text = {(lang, e.text_sha256): audio_dir / e.file
                         for lang, keys in self.manifest.prompts.items() for e in keys.values()}

    def room_ms(self, index: int) -> float:
        """How long event ``index`` may sound: its own duration, cut by the next sound."""
        start = float(self.events[index]["t"]) * 1000
        limit = self.end_ms
        for later in self.events[index + 1:]:
            if later["type"] in _SOUNDING and float(later["t"]) * 1000 > start:
                limit = float(later["t"]) * 1000
                break
        own = self.events[index].get("duration_s")
        if own is not None:
            limit = min(limit, start + float(own) * 1000)
        return max(0.0, limit - start)

    def render(self) -> None:
        queue_start: float | None = None
        heard_before = 0
        for index, event in enumerate(self.events):
            at = float(event["t"]) * 1000
            kind = event["type"]
            if kind == "enqueue":
                self.in_queue, queue_start, heard_before = True, at, len(self.heard)
            elif kind in ("leave", "dial", "hangup") and self.in_queue:
                self._quiet_queue(queue_start, at, heard_before)
                self.in_queue = False
            handler = getattr(self, f"on_{kind}", None)
            if handler is not None:
                handler(index, event, at)
        if self.in_queue:
            self._quiet_queue(queue_start, self.end_ms, heard_before)

    def _lay(self, path: Path, at: float, room: float, loop: bool = False) -> None:
        if loop:
            self.timeline.loop(path, at, room)
            laid = room
        else:
            laid = self.timeline.file(path, at, room)
        self.heard.append((at, at + laid))

    def _tts(self, text: str, lang: str, engine: Engine, at: float, room: float) -> None:
        self.spoken += 1
        raw = self.workdir / f"tts-{self.spoken}.wav"
        engine.synthesize(text, lang, raw)
        laid = self.timeline.speech(raw, self.settings, at, room)
        self.heard.append((at, at + laid))

    def _hold(self, at: float, room: float, offset: float = 0) -> None:
        hold = self.manifest.hold
        if hold is not None and (self.audio_dir / hold.file).is_file() and room > 0:
            self.timeline.loop(self.audio_dir / hold.file, at, room, offset_ms=offset)
            self.heard.append((at, at + room))

    def _quiet_queue(self, start: float | None, end: float, heard_before: int) -> None:
        """A queue stretch in which nothing was heard gets hold audio throughout."""
        if start is not None and len(self.heard) == heard_before:
            self._hold(start, end - start)

    def on_say(self, index: int, event: Mapping[str, Any], at: float) -> None:
        text = str(event.get("text", ""))
        if not text.strip():
            return
        lang = _language(event, text, self.settings)
        path = self._by_text.get((lang, text_sha256(text)))
        looped = str(event.get("loop", 1)) != "1"
        if path is not None and path.is_file():
            self._lay(path, at, self.room_ms(index), loop=looped)
        else:
            self._tts(text, lang, self.engine, at, self.room_ms(index))

    def on_play(self, index: int, event: Mapping[str, Any], at: float) -> None:
        if event.get("digits"):
            self._app_digits(str(event["digits"]), at)
            return
        path = local_file(str(event.get("url", "")), self.audio_dir)
        if path is not None:
            self._lay(path, at, self.room_ms(index), loop=str(event.get("loop", 1)) != "1")
        elif self.in_queue:
            self._hold(at, self.room_ms(index))
        else:
            log.warning("cannot hear %s: not a file under %s", event.get("url"), self.audio_dir)

    def _app_digits(self, digits: str, at: float) -> None:
        for digit in digits:
            if digit.lower() == "w":
                at += PLAY_WAIT_MS
                continue
            self.timeline.dtmf(digit, at, TONE_MS)
            at += PLAY_DIGIT_MS

    def on_input(self, index: int, event: Mapping[str, Any], at: float) -> None:
        keys = str(event.get("keys") or event.get("digits") or "")
        if event.get("speech"):
            speech = str(event["speech"])
            lang = _language(event, speech, self.settings)
            self._tts(speech, lang, self.caller, at, self.room_ms(index))
        if not keys or event.get("hangup"):
            return
        if event.get("recording_s") is not None:  # the key that ends a <Record>
            at += float(event["recording_s"]) * 1000
        interval = float(event.get("key_interval_s") or 0) * 1000 or KEY_INTERVAL_MS
        for n, key in enumerate(keys):
            when = at + n * interval
            self.timeline.dtmf(key, when, min(TONE_MS, interval * 0.6))
            self.tones.append((when / 1000, key))

    def on_record(self, index: int, event: Mapping[str, Any], at: float) -> None:
        if event.get("beep", True) and str(event.get("beep")).lower() != "false":
            self.timeline.beep(at, min(BEEP_MS, self.room_ms(index) or BEEP_MS))

    def on_dial(self, index: int, event: Mapping[str, Any], at: float) -> None:
        self.timeline.ringback(at, self.room_ms(index))


def render_call(trace: Mapping[str, Any], path: Path | str,
                audio_dir: Path | str = DEFAULT_AUDIO_DIR, *, engine: Engine | None = None,
                settings: AudioSettings = DEFAULT_SETTINGS) -> CallAudio:
    """Render a trace (``Trace.to_dict()``) to a WAV at ``path``, exactly as long as the
    call; see the module docstring. Raises AudioError if the TTS engine is missing."""
    audio_dir = Path(audio_dir)
    engine = engine or EspeakEngine(settings)
    # the caller speaks in a second voice, so the two sides are easy to tell apart
    caller_voices = {lang: f"{settings.voice(lang)}+f3" for lang in settings.voices}
    caller = EspeakEngine(replace(settings, voices=caller_voices))
    with tempfile.TemporaryDirectory(prefix="ivr-call-") as tmp:
        renderer = _Renderer(trace, audio_dir, engine, caller, settings, Path(tmp))
        renderer.render()
        duration = renderer.timeline.export(Path(path))
    return CallAudio(Path(path), duration, tuple(renderer.tones), renderer.spoken)
