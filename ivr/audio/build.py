"""``ivr audio build``: render every static prompt of the catalog to telephony WAVs.

Incremental: a prompt is re-rendered only when ``ivr audio check`` would reject it (its
text changed; its file is gone, unreadable, not 8 kHz mono 16-bit or not the length the
manifest says; a studio recording was added, replaced or removed), the engine or the
target level changed, or the manifest is unreadable or not at 8 kHz. So after a plain
build, check passes. Prompts that left the catalog lose their file and manifest entry. Planning
(``plan``) and rendering (``build``) are separate so the CLI can size its progress bar.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from ivr.audio import AudioError, sound
from ivr.audio.check import hold_problem, prompt_problem
from ivr.audio.engine import JOINED, STUDIO, Engine, studio_file
from ivr.audio.manifest import (
    HoldAudio,
    Manifest,
    PromptAudio,
    static_prompts,
    text_sha256,
)
from ivr.audio.settings import DEFAULT_SETTINGS, SAMPLE_RATE, AudioSettings
from ivr.flow.prompts import Catalog

log = logging.getLogger(__name__)

HOLD_FILE = "hold.wav"
#: keys and languages become file names, so nothing that could climb out of audio/
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True, slots=True)
class Job:
    """One prompt to render, and where its sound comes from."""

    lang: str
    key: str
    text: str
    studio: Path | None = None
    #: a piece of a spoken menu, rendered with the joined lead-in and lead-out
    joined: bool = False

    def engine(self, name: str) -> str:
        """The engine as the manifest records it: a piece's rendering is told apart, so a
        prompt that becomes a piece (or stops being one) is rendered again."""
        return f"{name}{JOINED}" if self.joined else name

    @property
    def file(self) -> str:
        return f"{self.lang}/{self.key}.wav"

    @property
    def label(self) -> str:
        return f"{self.lang}/{self.key}"


@dataclass(frozen=True, slots=True)
class Plan:
    """What a build will do: render ``jobs``, keep ``kept``, delete ``removed`` files."""

    jobs: tuple[Job, ...]
    kept: Mapping[str, Mapping[str, PromptAudio]]
    removed: tuple[str, ...]
    hold: bool
    old: Manifest

    @property
    def steps(self) -> int:
        return len(self.jobs) + int(self.hold)


@dataclass(frozen=True, slots=True)
class BuildResult:
    rendered: tuple[str, ...]
    removed: tuple[str, ...]
    kept: int
    hold: bool
    manifest: Manifest


def _unchanged(entry: PromptAudio | None, job: Job, audio_dir: Path, engine: str) -> bool:
    """Whether the rendered file can stay: ``check`` passes it, and it came from the
    source the build would use now."""
    if entry is None or entry.file != job.file:
        return False
    if prompt_problem(audio_dir, job.lang, job.key, job.text, entry) is not None:
        return False  # what check rejects is rendered again, whatever the reason
    if job.studio is not None:
        return entry.engine.endswith(JOINED) == job.joined
    return entry.engine == job.engine(engine)


def _old_manifest(audio_dir: Path) -> Manifest:
    try:
        return Manifest.load(audio_dir)
    except AudioError as exc:
        log.warning("%s; rebuilding everything", exc)
        return Manifest(audio_dir)


def plan(catalog: Catalog, audio_dir: Path, *, engine: Engine,
         settings: AudioSettings = DEFAULT_SETTINGS, force: bool = False,
         joined: frozenset[str] = frozenset()) -> Plan:
    """Compare the catalog with the manifest in ``audio_dir``; raise on unsafe key names.

    ``joined``: the keys that are pieces of spoken menus (``ivr.audio.report.spoken_menus``).
    """
    old = _old_manifest(audio_dir)
    bad = [f"{lang}/{key}" for lang, texts in catalog.texts.items() for key in texts
           if not (_SAFE_NAME.fullmatch(lang) and _SAFE_NAME.fullmatch(key))]
    if bad:
        raise AudioError(f"prompt keys unusable as file names: {', '.join(bad)}")
    force = (force or old.target_dbfs != settings.target_dbfs
             or old.sample_rate != SAMPLE_RATE)
    jobs: list[Job] = []
    kept: dict[str, dict[str, PromptAudio]] = {}
    wanted: set[str] = set()
    for lang, texts in static_prompts(catalog).items():
        for key, text in sorted(texts.items()):
            job = Job(lang, key, text, studio_file(audio_dir, lang, key), key in joined)
            wanted.add(job.file)
            entry = old.entry(lang, key)
            if not force and _unchanged(entry, job, audio_dir, engine.name):
                assert entry is not None
                kept.setdefault(lang, {})[key] = entry
            else:
                jobs.append(job)
    removed = tuple(sorted(e.file for keys in old.prompts.values() for e in keys.values()
                           if e.file not in wanted))
    hold = (force or old.hold is None or old.hold.file != HOLD_FILE
            or dict(old.hold.params) != settings.hold_signature
            or hold_problem(old) is not None)
    return Plan(tuple(jobs), kept, removed, hold, old)


def _render(job: Job, audio_dir: Path, engine: Engine, settings: AudioSettings) -> PromptAudio:
    out = audio_dir / job.file
    if job.joined:
        settings = settings.joined()
    if job.studio is not None:
        duration = sound.render_prompt(job.studio, out, settings)
        return PromptAudio(job.file, text_sha256(job.text), duration, job.engine(STUDIO))
    with tempfile.TemporaryDirectory(prefix="ivr-tts-") as tmp:
        raw = Path(tmp) / "raw.wav"
        engine.synthesize(job.text, job.lang, raw)
        duration = sound.render_prompt(raw, out, settings)
    return PromptAudio(job.file, text_sha256(job.text), duration, job.engine(engine.name))


def build(the_plan: Plan, audio_dir: Path, *, engine: Engine,
          settings: AudioSettings = DEFAULT_SETTINGS, workers: int | None = None,
          on_step: Callable[[str], None] | None = None) -> BuildResult:
    """Carry out a plan in parallel (the engine runs as subprocesses); write the manifest.

    Prompts that fail are left out of the manifest (``check`` then names them) and an
    AudioError lists them once everything else is written.
    """
    audio_dir.mkdir(parents=True, exist_ok=True)
    entries = {lang: dict(keys) for lang, keys in the_plan.kept.items()}
    failures: list[str] = []
    rendered: list[str] = []
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_render, job, audio_dir, engine, settings): job
                   for job in the_plan.jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                entries.setdefault(job.lang, {})[job.key] = future.result()
                rendered.append(job.label)
            except AudioError as exc:
                failures.append(f"{job.label}: {exc}")
            if on_step:
                on_step(job.label)
    hold = the_plan.old.hold
    if the_plan.hold:
        duration = sound.render_hold(audio_dir / HOLD_FILE, settings)
        hold = HoldAudio(HOLD_FILE, duration, settings.hold_signature)
        if on_step:
            on_step("hold")
    for file in the_plan.removed:
        (audio_dir / file).unlink(missing_ok=True)
    for lang_dir in audio_dir.iterdir():
        if lang_dir.is_dir() and lang_dir.name != STUDIO and not any(lang_dir.iterdir()):
            lang_dir.rmdir()
    manifest = Manifest(audio_dir, prompts={k: v for k, v in entries.items() if v},
                       hold=hold, target_dbfs=settings.target_dbfs, sample_rate=SAMPLE_RATE)
    manifest.save()
    if failures:
        raise AudioError("some prompts could not be rendered:\n  " + "\n  ".join(failures))
    return BuildResult(tuple(sorted(rendered)), the_plan.removed,
                       sum(len(k) for k in the_plan.kept.values()), the_plan.hold, manifest)
