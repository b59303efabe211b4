"""``ivr audio build|check|report``: thin click commands over the audio library."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ivr.audio import DEFAULT_AUDIO_DIR, AudioError
from ivr.audio.manifest import Manifest
from ivr.audio.settings import AudioSettings
from ivr.cli.args import Finite, TextFile, boundary
from ivr.flow import prompts
from ivr.plural import counted

F = TypeVar("F", bound=Callable[..., Any])


def _common(func: F) -> F:
    """The options every audio command takes: where prompts and audio live, the level."""
    func = click.option("--target-dbfs", type=Finite(-60, 0),
                        default=AudioSettings().target_dbfs,
                        envvar="IVR_AUDIO_TARGET_DBFS", show_default=True,
                        help="RMS level every prompt is normalised to (-60 to 0).")(func)
    func = click.option("--prompts", "prompts_dir", default=prompts.DEFAULT_DIR,
                        type=TextFile(folder=True), envvar="IVR_PROMPTS_DIR", show_default=True,
                        help="Directory of <lang>.yaml prompt files.")(func)
    func = click.option("--audio-dir", default=DEFAULT_AUDIO_DIR,
                        type=click.Path(file_okay=False, path_type=Path),
                        envvar="IVR_AUDIO_DIR", show_default=True,
                        help="Where the rendered audio and manifest.json go.")(func)
    return func


def _catalog(prompts_dir: Path) -> prompts.Catalog:
    with boundary([prompts_dir]):
        return prompts.load(prompts_dir)


@click.group("audio")
def audio() -> None:
    """Render, check and measure the prompt audio."""


@audio.command()
@_common
@click.option("--menu", "menu_path", type=TextFile(), default=None, envvar="IVR_MENU",
              help="Menu tree whose spoken menus' pieces are rendered to be heard joined "
                   "(default: the shipped tree).")
@click.option("--force", is_flag=True, help="Re-render everything, changed or not.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None,
              help="Prompts rendered in parallel, up to 64 (default: one per CPU, up to 8).")
def build(audio_dir: Path, prompts_dir: Path, target_dbfs: float, menu_path: Path | None,
          force: bool, jobs: int | None) -> None:
    """Render every static prompt to 8 kHz telephony WAV, and the hold audio."""
    from ivr.audio import (
        build as builder,  # pydub is loaded only by the command that needs it
    )
    from ivr.audio.engine import EspeakEngine
    from ivr.audio.report import spoken_menus

    settings = AudioSettings(target_dbfs=target_dbfs)
    engine = EspeakEngine(settings)
    catalog = _catalog(prompts_dir)
    try:
        joined = frozenset(k for keys in spoken_menus(menu_path).values() for k in keys)
        plan = builder.plan(catalog, audio_dir, engine=engine, settings=settings, force=force,
                            joined=joined)
        if plan.jobs:
            engine.executable()  # one clear error rather than one per prompt
        with click.progressbar(length=plan.steps, label="Rendering prompts",
                               item_show_func=lambda label: label) as bar:
            result = builder.build(plan, audio_dir, engine=engine, settings=settings,
                                   workers=jobs, on_step=lambda label: bar.update(1, label))
    except AudioError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"rendered {len(result.rendered)}, unchanged {result.kept}, "
               f"removed {len(result.removed)}, hold {'rendered' if result.hold else 'unchanged'}"
               f" -> {audio_dir}")


@audio.command()
@_common
def check(audio_dir: Path, prompts_dir: Path, target_dbfs: float) -> None:
    """Fail naming each prompt whose audio is missing, stale or not telephony WAV."""
    from ivr.audio.check import check as find_problems

    problems = find_problems(_catalog(prompts_dir), audio_dir,
                             AudioSettings(target_dbfs=target_dbfs))
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{counted(len(problems), 'audio problem')}; run: ivr audio build", err=True)
        raise SystemExit(1)
    click.echo(f"audio in {audio_dir} matches the prompts in {prompts_dir}")


@audio.command()
@_common
@click.option("--menu", "menu_path", type=TextFile(),
              default=None, help="Menu tree naming the menu prompts (default: the wallet tree).")
@click.option("--limit-s", type=Finite(0, 3600, min_open=True), default=20.0, show_default=True,
              help="Flag menu prompts longer than this many seconds (more than 0).")
@click.option("--strict", is_flag=True, help="Exit 1 if any menu prompt is too long.")
def report(audio_dir: Path, prompts_dir: Path, target_dbfs: float, menu_path: Path | None,
           limit_s: float, strict: bool) -> None:
    """List prompts by length, longest first, flagging long menu prompts."""
    from ivr.audio.report import menu_prompt_keys, spoken_menus
    from ivr.audio.report import report as rows_of

    try:
        manifest = Manifest.load(audio_dir)
    except AudioError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = rows_of(_catalog(prompts_dir), manifest, menu_prompt_keys(menu_path), limit_s,
                   spoken_menus(menu_path))
    width = max((len(r.key) for r in rows), default=10)
    for row in rows:
        length = f"{row.duration_ms / 1000:6.1f} s" if row.duration_ms is not None else "     - s"
        flag = (f"  MENU > {limit_s:g} s" if row.too_long else "  menu" if row.menu else "")
        flag += f" ({counted(row.pieces, 'piece')})" if row.pieces else ""
        status = "" if row.status == "ok" else f"  ({row.status}: run ivr audio build)"
        click.echo(f"{length}  {row.lang:6} {row.key:{width}}{flag}{status}")
    long_menus = [r for r in rows if r.too_long]
    own = [r for r in rows if not r.pieces]  # a spoken menu's row re-counts its pieces
    total_s = sum(r.duration_ms or 0 for r in own) / 1000
    click.echo(f"{len(own)} prompts, {total_s:.1f} s in all; "
               f"{counted(len(long_menus), 'menu prompt')} over {limit_s:g} s")
    if strict and long_menus:
        raise SystemExit(1)
