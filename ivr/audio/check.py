"""``ivr audio check``: is the rendered audio in step with the prompt catalog?

Reads WAV headers with the standard library only, so it runs anywhere (CI, a server
without pydub's ffmpeg) and fast. ``prompt_problem`` and ``hold_problem`` are the one rule:
``build`` re-renders whatever they reject, and the app plays only what passes
``wav_problem`` for the exact text.
"""

from __future__ import annotations

from pathlib import Path

from ivr.audio import AudioError
from ivr.audio.engine import JOINED, STUDIO, studio_file
from ivr.audio.manifest import (
    FILENAME,
    TOLERANCE_MS,
    Manifest,
    PromptAudio,
    static_prompts,
    text_sha256,
    wav_problem,
)
from ivr.audio.settings import DEFAULT_SETTINGS, SAMPLE_RATE, AudioSettings
from ivr.errors import Problem
from ivr.flow.prompts import Catalog

__all__ = ["TOLERANCE_MS", "check", "hold_problem", "prompt_problem", "wav_problem"]


def _studio_change(audio_dir: Path, lang: str, key: str, engine: str) -> str | None:
    engine = engine.removesuffix(JOINED)  # a piece of a spoken menu, rendered as such
    studio = studio_file(audio_dir, lang, key)
    if studio is None:
        return "stale: its studio recording was removed" if engine == STUDIO else None
    if engine != STUDIO:
        return "stale: a studio recording was added"
    if studio.stat().st_mtime_ns > (audio_dir / lang / f"{key}.wav").stat().st_mtime_ns:
        return "stale: its studio recording was replaced"
    return None


def prompt_problem(audio_dir: Path, lang: str, key: str, text: str,
                   entry: PromptAudio | None) -> str | None:
    """Why one prompt's audio is not right for ``text``, or None: the rule ``check``
    reports and ``build`` re-renders by."""
    if entry is None:
        return "no audio (run: ivr audio build)"
    if entry.text_sha256 != text_sha256(text):
        return "stale: the text changed since its audio was rendered"
    if (why := wav_problem(audio_dir / entry.file, entry.duration_ms)) is not None:
        return f"{entry.file}: {why}"
    return _studio_change(audio_dir, lang, key, entry.engine)


def hold_problem(manifest: Manifest) -> str | None:
    """Why the hold audio is not right, or None."""
    if manifest.hold is None:
        return "no hold audio (run: ivr audio build)"
    why = wav_problem(manifest.audio_dir / manifest.hold.file, manifest.hold.duration_ms)
    return f"{manifest.hold.file}: {why}" if why else None


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
            why = prompt_problem(audio_dir, lang, key, text, manifest.entry(lang, key))
            if why is not None:
                problems.append(Problem(f"{lang}/{key}", why))
    for lang, keys in sorted(manifest.prompts.items()):
        for key in sorted(set(keys) - set(wanted.get(lang, {}))):
            problems.append(Problem(f"{lang}/{key}", "audio for a prompt that is no longer "
                                                     "static in the catalog"))
    if (why := hold_problem(manifest)) is not None:
        problems.append(Problem("hold", why))
    return problems
