"""The ``ivr`` command: thin click commands over library functions.

Logging is configured here and in ``create_app`` only.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from ivr import prompts
from ivr.audio.commands import audio
from ivr.errors import IVRError, MenuError
from ivr.menu import load, validate
from ivr.queue.commands import advise_command, erlang_command, forecast_command
from ivr.sim.commands import call, register_trace_option, replay
from ivr.sim.trace import Trace


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
def cli(verbose: bool) -> None:
    """The wallet hotline IVR: serve it, lint its menu, call it, model its queues."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


for command in (audio, call, replay, erlang_command, advise_command, forecast_command):
    cli.add_command(command)


def _write_call_audio(trace: Trace, path: Path) -> None:
    """``ivr call --audio call.wav``: what the caller heard, key tones and hold included."""
    from ivr.audio.call import render_call

    try:
        result = render_call(trace.to_dict(), path)
    except IVRError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {path}: {result.duration_ms / 1000:.1f} s, "
               f"{len(result.tones)} key tone(s)", err=True)


register_trace_option(
    click.Option(["--audio"], type=click.Path(dir_okay=False, path_type=Path),
                 help="Render what the caller heard to this WAV (prompts, key tones, hold)."),
    _write_call_audio)


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
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 256),
              help="Request threads per worker (gthread).")
@click.option("--request-timeout", "request_timeout_s", default=15, show_default=True,
              type=click.IntRange(1, 300), help="Seconds a connection may hold a thread to "
              "send its request and read the answer; slower clients are cut off.")
@click.option("--dev", is_flag=True, help="Flask dev server; no Twilio token required.")
@click.option("--demo", is_flag=True, help="Seed the demo accounts.")
def serve(host: str, port: int, workers: int, threads: int, request_timeout_s: int, dev: bool,
          demo: bool) -> None:
    """Answer the Twilio number: gunicorn, or the Flask dev server with --dev."""
    overrides = {"DEV": True} if dev else {}
    if demo:
        overrides["DEMO"] = True
    try:
        from ivr.app import create_app

        app = create_app(overrides)
    except IVRError as exc:
        raise click.ClickException(str(exc)) from exc
    if app.config["DEV"] and not dev:
        raise click.ClickException(
            "dev mode is set (IVR_DEV, or DEV in instance/config.py) but this is not "
            "`ivr serve --dev`: dev mode accepts unsigned webhooks, so only Flask's dev "
            "server may run with it")
    if dev:
        app.run(host=host, port=port, debug=False)
        return
    from ivr.server import run_gunicorn

    run_gunicorn(app, host=host, port=port, workers=workers, threads=threads,
                 request_timeout_s=request_timeout_s)




@cli.command()
@click.option("--database", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep the calls in this SQLite file (default: a temporary one).")
@click.option("--at", "at", type=click.DateTime(["%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M:%S%z",
                                                 "%Y-%m-%dT%H:%M"]),
              help="Place every call at this moment, e.g. 2026-11-25T12:30+08:00 (without an "
                   "offset it is UTC). Default: the coming weekday morning, lunch for the "
                   "peak call. Waits and opening hours depend on it.")
def demo(database: Path | None, at: datetime | None) -> None:
    """Play a few scripted calls through the real app and print what the caller hears."""
    from ivr import demo as demo_calls

    if at and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    try:
        demo_calls.run(click.echo, database, at)
    except IVRError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command()
@click.option("--database", type=click.Path(dir_okay=False, path_type=Path),
              help="The SQLite file (default: the app's, from IVR_DATABASE or the instance).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def callbacks(database: Path | None, as_json: bool) -> None:
    """List the pending callbacks, earliest requested window first."""
    import json

    from ivr.backend import mask
    from ivr.store import Store

    path = database or _app_database()
    if not Path(path).exists():
        raise click.ClickException(f"no database at {path}")
    pending = Store(path).pending_callbacks()
    if as_json:  # like every other output, accounts masked to the last 4 digits
        for row in pending:
            row["account"] = mask(row["account"]) if row["account"] else None
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not pending:
        click.echo("no pending callbacks")
        return
    for row in pending:
        window = (f"{row['window_start']} – {row['window_end']}" if row["window_start"]
                  else "as soon as possible")
        account = f"account {mask(row['account'])}" if row["account"] else "unverified"
        click.echo(f"#{row['id']:<5} {window:<52} {row['queue']:<17} {row['number']:<16} "
                   f"{account:<18} {row['issue'] or '-'}")
    click.echo(f"{len(pending)} pending")


def _app_settings(database: Path | None = None) -> dict[str, object]:
    """The app's settings, read through the same layers (no Twilio token needed here)."""
    from flask import Flask

    from ivr import config

    app = Flask("ivr", instance_relative_config=True)
    overrides: dict[str, object] = {"DEV": True}
    if database:
        overrides["DATABASE"] = str(database)
    try:
        config.load(app, overrides)
    except IVRError as exc:
        raise click.ClickException(str(exc)) from exc
    return dict(app.config)


def _app_database() -> str:
    """Where the app keeps its database, read through the same settings layers."""
    return str(_app_settings()["DATABASE"])


@cli.command()
@click.argument("account")
@click.option("--db", "--database", "database", type=click.Path(dir_okay=False, path_type=Path),
              help="The SQLite file (default: the app's, from IVR_DATABASE or the instance).")
def unlock(account: str, database: Path | None) -> None:
    """Lift an account's phone-verification lock, once support has verified its owner."""
    from ivr.backend import mask
    from ivr.lockouts import SQLiteLockouts
    from ivr.store import Store

    settings = _app_settings(database)
    digits = settings["ACCOUNT_DIGITS"]
    if not (account.isdigit() and len(account) == digits):
        raise click.BadParameter(f"an account number has {digits} digits", param_hint="ACCOUNT")
    path = Path(str(settings["DATABASE"]))
    if not path.exists():
        raise click.ClickException(f"no database at {path}")
    try:
        lockouts = SQLiteLockouts(Store(path), str(settings["SECRET_KEY"]))
        found = lockouts.unlock(account, datetime.now(UTC))
    except IVRError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"phone verification unlocked for account {mask(account)}" if found
               else f"account {mask(account)} had no lock or failed PINs on record")
