"""The ``ivr`` command: thin click commands over library functions.

Logging is configured here and in ``create_app`` only.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from ivr import prompts
from ivr.errors import IVRError, MenuError
from ivr.menu import load, validate


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
def cli(verbose: bool) -> None:
    """The wallet hotline IVR: serve it, lint its menu, call it, model its queues."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@cli.command()
@click.argument("menu_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--prompts", "prompts_dir", type=click.Path(file_okay=False, path_type=Path),
              default=prompts.DEFAULT_DIR, show_default=True, help="Prompt catalog folder.")
def lint(menu_file: Path | None, prompts_dir: Path) -> None:
    """Check a menu tree (default: the shipped one) and list every problem."""
    problems = []
    try:
        catalog = prompts.load(prompts_dir)
        problems += catalog.problems()
    except MenuError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        raise SystemExit(1) from exc
    menu, found = load(menu_file or os.environ.get("IVR_MENU"))
    problems += found
    if menu.nodes:
        problems += validate(menu, catalog)
    for problem in problems:
        click.echo(str(problem))
    errors = sum(p.severity == "error" for p in problems)
    click.echo(f"{menu.source}: {len(menu.nodes)} nodes, {errors} error(s)")
    if errors:
        raise SystemExit(1)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--dev", is_flag=True, help="Flask dev server; no Twilio token required.")
@click.option("--demo", is_flag=True, help="Seed the demo accounts.")
def serve(host: str, port: int, workers: int, dev: bool, demo: bool) -> None:
    """Answer the Twilio number: gunicorn, or the Flask dev server with --dev."""
    overrides = {"DEV": True} if dev else {}
    if demo:
        overrides["DEMO"] = True
    try:
        from ivr.app import create_app

        app = create_app(overrides)
    except IVRError as exc:
        raise click.ClickException(str(exc)) from exc
    if dev:
        app.run(host=host, port=port, debug=False)
        return
    from ivr.server import run_gunicorn

    run_gunicorn(app, host=host, port=port, workers=workers)




@cli.command()
@click.option("--database", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep the calls in this SQLite file (default: a temporary one).")
def demo(database: Path | None) -> None:
    """Play a few scripted calls through the real app and print what the caller hears."""
    from ivr import demo as demo_calls

    try:
        demo_calls.run(click.echo, database)
    except IVRError as exc:
        raise click.ClickException(str(exc)) from exc
