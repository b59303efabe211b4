"""``ivr audio check``: is the rendered audio in step with the prompt catalog?

Reads WAV headers with the standard library only, so it runs anywhere (CI, a server
without pydub's ffmpeg) and fast.
"""

from __future__ import annotations

import wave
from pathlib import Path

from ivr.audio import AudioError
from ivr.audio.engine import STUDIO, studio_file
from ivr.audio.manifest import FILENAME, Manifest, static_prompts, text_sha256
from ivr.audio.settings import (
    CHANNELS,
    DEFAULT_SETTINGS,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
    AudioSettings,
)
from ivr.errors import Problem
from ivr.prompts import Catalog

#: a file may differ from its manifest duration by this much (rounding to whole ms)
TOLERANCE_MS = 2


def wav_problem(path: Path, duration_ms: int) -> str | None:
    """Why ``path`` is not telephony audio of ``duration_ms``, or None if it is."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
            frames = wav.getnframes()
    except FileNotFoundError:
        return "file missing"
    except (OSError, EOFError, wave.Error) as exc:
        return f"not a readable PCM WAV ({exc})"
    if (rate, channels, width) != (SAMPLE_RATE, CHANNELS, SAMPLE_WIDTH):
        return (f"not telephony audio: {rate} Hz, {channels} channel(s), {8 * width}-bit "
                f"(needs {SAMPLE_RATE} Hz mono 16-bit)")
    actual_ms = round(frames * 1000 / rate)
    if abs(actual_ms - duration_ms) > TOLERANCE_MS:
        return f"lasts {actual_ms} ms but the manifest says {duration_ms} ms"
    return None


def _studio_change(audio_dir: Path, lang: str, key: str, engine: str) -> str | None:
    studio = studio_file(audio_dir, lang, key)
    if studio is None:
        return "stale: its studio recording was removed" if engine == STUDIO else None
    if engine != STUDIO:
        return "stale: a studio recording was added"
    if studio.stat().st_mtime_ns > (audio_dir / lang / f"{key}.wav").stat().st_mtime_ns:
        return "stale: its studio recording was replaced"
    return None


def check(catalog: Catalog, audio_dir: Path,
          settings: AudioSettings = DEFAULT_SETTINGS) -> list[Problem]:
    """Every prompt whose audio is missing, stale or invalid, and a bad hold file."""
    where = f"{audio_dir}/{FILENAME}"
    try:
        manifest = Manifest.load(audio_dir)
    except AudioError as exc:
        return [Problem(where, str(exc))]
    problems: list[Problem] = []
    if manifest.sample_rate != SAMPLE_RATE:
        problems.append(Problem(where, f"sample_rate {manifest.sample_rate}, needs {SAMPLE_RATE}"))
    if manifest.prompts and manifest.target_dbfs != settings.target_dbfs:
        problems.append(Problem(where, f"rendered at {manifest.target_dbfs} dBFS, the target "
                                       f"is {settings.target_dbfs} dBFS: rebuild"))
    wanted = static_prompts(catalog)
    for lang, texts in sorted(wanted.items()):
        for key, text in sorted(texts.items()):
            entry = manifest.entry(lang, key)
            if entry is None:
                problems.append(Problem(f"{lang}/{key}", "no audio (run: ivr audio build)"))
            elif entry.text_sha256 != text_sha256(text):
                problems.append(Problem(f"{lang}/{key}", "stale: the text changed since "
                                                         "its audio was rendered"))
            elif (why := wav_problem(audio_dir / entry.file, entry.duration_ms)) is not None:
                problems.append(Problem(f"{lang}/{key}", f"{entry.file}: {why}"))
            elif (why := _studio_change(audio_dir, lang, key, entry.engine)) is not None:
                problems.append(Problem(f"{lang}/{key}", why))
    for lang, keys in sorted(manifest.prompts.items()):
        for key in sorted(set(keys) - set(wanted.get(lang, {}))):
            problems.append(Problem(f"{lang}/{key}", "audio for a prompt that is no longer "
                                                     "static in the catalog"))
    if manifest.hold is None:
        problems.append(Problem("hold", "no hold audio (run: ivr audio build)"))
    elif (why := wav_problem(audio_dir / manifest.hold.file, manifest.hold.duration_ms)):
        problems.append(Problem("hold", f"{manifest.hold.file}: {why}"))
    return problems
