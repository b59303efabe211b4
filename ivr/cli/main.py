"""The ``ivr`` group, and the commands of the line itself: ``serve``, ``lint``, ``demo``,
``callbacks``, ``unlock``. The other groups live beside it and load when asked for.

Logging is configured here and in ``create_app`` only. Every command checks its inputs
with the types in ``ivr.cli.args``: a mistake is one line naming the problem and the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from ivr import moments
from ivr.cli.args import (
    MOMENT,
    Database,
    OutputFile,
    app_logs_quiet,
    app_settings,
    boundary,
    configure_logging,
    database_problem,
    listen_problem,
    settings_files,
)
from ivr.plural import aligned, counted

if TYPE_CHECKING:
    from ivr.sim.trace import Trace

#: the commands of other modules: name -> (module, attribute, the first paragraph of its
#: help, which ``ivr --help`` lists). Each module is imported only when its command runs
#: or shows its own help, so that ``ivr --help`` and light commands load no NumPy,
#: holidays, simulator or tuning code (tests/test_cli.py keeps the summaries true)
LAZY: dict[str, tuple[str, str, str]] = {
    "advise": ("ivr.cli.queue", "advise_command",
               "The expected wait now and the best times to call in the coming week."),
    "audio": ("ivr.cli.audio", "audio", "Render, check and measure the prompt audio."),
    "call": ("ivr.cli.calls", "call",
             "Phone the hotline: hear what a caller hears and answer with keys or words."),
    "db": ("ivr.cli.db", "db_group",
           "The hotline's database: its schema version, upgrades, copies between SQLite "
           "and PostgreSQL."),
    "erlang": ("ivr.cli.queue", "erlang_command",
               "Waits, service level and occupancy for one queue, or the agents it needs."),
    "forecast": ("ivr.cli.queue", "forecast_command",
                 "A traffic file whose calls per hour come from the calls actually recorded."),
    "graph": ("ivr.cli.graph", "graph_command",
              "Draw the menu tree: nodes by kind, edges by key and label (and by share of "
              "callers with --db)."),
    "menu": ("ivr.cli.menu", "menu_group", "Compare menu trees."),
    "notice": ("ivr.cli.notice", "notice_group",
               "Incident notices and the emergency switch: add, list, end."),
    "ops": ("ivr.cli.ops", "ops_group",
            "The ops console's users: add, list, disable, enable, remove, reset-password, unlock."),
    "plan": ("ivr.cli.plan", "plan_command",
             "A day of the whole centre: callers through the real tree into staffed queues."),
    "replay": ("ivr.cli.calls", "replay",
               "Run scenario files (a folder runs every *.yaml in it), or replay real calls."),
    "report": ("ivr.cli.report", "report_command",
               "Report what callers did: per node, per queue, containment, verification, "
               "top exits."),
    "sms": ("ivr.cli.sms", "sms_group", "SMS follow-ups: list the outbox, send what is due."),
    "tune": ("ivr.cli.tune", "tune_command",
             "Predict what a tree does to the time to route before it goes live."),
}


class LazyGroup(click.Group):
    """A group whose commands in ``LAZY`` are imported when first asked for (click's
    documented pattern for lazily loaded subcommands); their help line comes from ``LAZY``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY and cmd_name not in self.commands:
            module, attribute, _ = LAZY[cmd_name]
            command = getattr(import_module(module), attribute)
            if cmd_name == "call":
                _add_audio_option(command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, with a stand-in (name and help only) for each command not loaded."""
        real = self.commands
        self.commands = {name: real.get(name) or click.Command(name, help=LAZY[name][2])
                         for name in self.list_commands(ctx)}
        try:
            super().format_commands(ctx, formatter)
        finally:
            self.commands = real


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", is_flag=True,
              help="Show ivr's debug logs on stderr (each webhook of a simulated call, the "
                   "files and moments used) and the app's warnings.")
def cli(verbose: bool) -> None:
    """The wallet hotline IVR: serve it, lint its menu, call it, model its queues."""
    configure_logging(verbose)
    from ivr.config import warn_unknown_env

    warn_unknown_env()  # a mistyped IVR_* variable is otherwise silently ignored


def _write_call_audio(trace: Trace, path: Path) -> None:
    """``ivr call --audio call.wav``: what the caller heard, key tones and hold included."""
    from ivr.audio.call import render_call

    with boundary():
        result = render_call(trace.to_dict(), path)
    click.echo(f"wrote {path}: {result.duration_ms / 1000:.1f} s, "
               f"{counted(len(result.tones), 'key tone')}", err=True)


def _add_audio_option(call: click.Command) -> None:
    """``ivr call --audio``: the simulator knows nothing of audio, the CLI joins the two."""
    from ivr.cli.calls import register_trace_option

    register_trace_option(
        click.Option(["--audio"], type=OutputFile((".wav",)),
                     help="Render what the caller heard to this WAV (prompts, key tones, "
                          "hold); its folder must exist."),
        _write_call_audio)


@cli.command()
@click.argument("menu_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--prompts", "prompts_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Prompt catalog folder (default: the PROMPTS_DIR setting, "
                   "IVR_PROMPTS_DIR, else the shipped one).")
def lint(menu_file: Path | None, prompts_dir: Path | None) -> None:
    """Check a menu tree (default: the MENU setting, IVR_MENU, else the shipped one, and
    in an A/B trial MENU_B too) and list every problem."""
    from ivr.errors import MenuError
    from ivr.flow import prompts
    from ivr.menu import summary
    from ivr.menu.loader import check

    settings = app_settings()  # the trees and the catalog the app would load
    problems = []
    # the app validates both trees of a trial at start: so does lint, unless given one
    trees = [menu_file] if menu_file else \
        [settings["MENU"], *([settings["MENU_B"]] if settings.get("MENU_B") else [])]
    prompts_dir = prompts_dir or Path(settings["PROMPTS_DIR"])
    with boundary([*trees, prompts_dir]):
        try:
            catalog = prompts.load(prompts_dir)
            problems += catalog.problems()
        except MenuError as exc:
            for problem in exc.problems:
                click.echo(str(problem))
            raise SystemExit(1) from exc
        checked = [check(tree, catalog) for tree in trees]
    failed = False
    for index, (menu, found) in enumerate(checked):
        shown = [*(problems if index == 0 else []), *found]  # the catalog's with the first
        for problem in shown:
            click.echo(str(problem))
        click.echo(summary(menu, shown))
        failed = failed or any(p.severity == "error" for p in shown)
    if failed:
        raise SystemExit(1)


NO_SECRET_KEY = ("SECRET_KEY is not set: ivr serve signs the console's sessions and keys the "
                 "lockout hashes with it, the same on every host; set IVR_SECRET_KEY (e.g. "
                 "IVR_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')) "
                 "or SECRET_KEY in instance/config.py, or try it out with ivr serve --dev")




def _serve_problems(overrides: dict[str, bool], dev: bool, host: str, port: int) -> None:
    """Refuse what would stop ``ivr serve`` once started, before the app makes its database
    or a key on disk: a failing command leaves no file behind."""
    from ivr import config
    from ivr.app import DEV_REFUSED
    from ivr.cli.args import sqlite_problem, writable_problem
    from ivr.records.database import is_postgres

    with boundary(settings_files):
        settings = config.read(overrides, make_key=False)
    if settings["DEV"] and not dev:  # as create_app refuses it
        raise click.ClickException(DEV_REFUSED)
    location = str(settings["DATABASE"])
    if not settings["SECRET_KEY_GIVEN"] and (is_postgres(location) or not dev):
        raise click.ClickException(config.NO_POSTGRES_KEY if is_postgres(location)
                                   else NO_SECRET_KEY)
    existing = not is_postgres(location) and Path(location).exists()  # else made, folder too
    log_file = settings["ACCESS_LOG"]
    problem = listen_problem(host, port) or (
        sqlite_problem(Path(location)) if existing else None) or (
        writable_problem(Path(log_file), "the access log (ACCESS_LOG)")
        if isinstance(log_file, str) and not dev else None)
    if problem:
        raise click.ClickException(problem)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 256),
              help="Threads per worker that run the app on complete requests.")
@click.option("--request-timeout", "request_timeout_s", default=15, show_default=True,
              type=click.IntRange(1, 300), help="Seconds a client may take to send a "
              "request's headers (from connecting, or from the last answer) and its body; "
              "a connection without headers is closed, a body not sent gets 408.")
@click.option("--dev", is_flag=True, help="Flask dev server; no Twilio token required.")
@click.option("--demo", is_flag=True, help="Seed the demo accounts.")
def serve(host: str, port: int, workers: int, threads: int, request_timeout_s: int, dev: bool,
          demo: bool) -> None:
    """Answer the Twilio number: gunicorn (asgi workers), or the Flask dev server with --dev."""
    overrides = {"DEV": True} if dev else {}
    if demo:
        overrides["DEMO"] = True
    _serve_problems(overrides, dev, host, port)  # before anything is made on disk
    with boundary(settings_files):
        from ivr.app import create_app

        app = create_app(overrides)
    if dev:
        from ivr.web.sender import start_background

        start_background(app.extensions["ivr"].outbox, app.config)
        app.run(host=host, port=port, debug=False)
        return
    from ivr.web.server import run_gunicorn

    run_gunicorn(app, host=host, port=port, workers=workers, threads=threads,
                 request_timeout_s=request_timeout_s)


@cli.command()
@click.option("--db", "--database", "database", type=Database(create=True, postgres=False),
              help="Keep the calls in this SQLite file (default: a temporary one). The demo "
                   "accounts in it are put back as they were before each run.")
@click.option("--at", "at", type=MOMENT, metavar="TIME",
              help="Place every call at this moment: 2026-11-28T10:00 is the centre's local "
                   "time (Asia/Shanghai in the shipped week); 2026-11-28T10:00+08:00 gives the "
                   "offset; 'sat 10:00' is the next Saturday at 10:00; a date alone plays the "
                   "morning calls and the lunch-peak call on that day. Default: the coming "
                   "weekday morning, lunch for the peak call. Waits, opening hours and the "
                   "demo's recent top-up depend on it.")
def demo(database: Path | None, at: moments.Moment | None) -> None:
    """Play a few scripted calls through the real app and print what the caller hears."""
    from ivr.sim import demo as demo_calls

    # the demo keeps its own database, but an IVR_DATABASE the app refuses is refused
    app_settings(database)
    with app_logs_quiet(), boundary(settings_files):
        demo_calls.run(click.echo, database, at)


DB_HELP = ("The database: a SQLite file or a postgresql:// URL (default: the app's, from "
           "IVR_DATABASE or the instance).")


@cli.command()
@click.option("--db", "--database", "database", type=Database(create=False), help=DB_HELP)
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON line per stored callback instead of the table.")
def callbacks(database: Path | str | None, as_json: bool) -> None:
    """List the pending callbacks, earliest requested window first.

    Times are in the centre's timezone (the traffic file's), as the caller was told them;
    one line per phone number, however many queues it asked for a callback from.
    """
    import json

    from ivr.flow.services import mask
    from ivr.queue import traffic as traffic_file
    from ivr.records.database import shown

    settings = app_settings(database)
    location = str(settings["DATABASE"])
    _check_database(location)
    with boundary([settings.get("TRAFFIC") or traffic_file.DEFAULT_PATH]):
        zone = traffic_file.load(settings.get("TRAFFIC")).zone
    pending = _pending_callbacks(location)
    where = shown(location)
    if as_json:  # like every other output, accounts masked to the last 4 digits
        for row in pending:
            row["account"] = mask(row["account"]) if row["account"] else None
            for key in ("created_at", "window_start", "window_end"):
                row[key] = _local(row[key], zone).isoformat() if row[key] else None
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not pending:
        click.echo(f"no pending callbacks in {where}")
        return
    rows = _merged(pending, zone, mask)
    click.echo(f"Pending callbacks in {where}, earliest first; times in {zone.key} "
               "(the centre's timezone, as the callers were told)")
    table = [("#", "WHEN", "NUMBER", "LANG", "QUEUE", "CALLER", "ISSUE", "ASKED"), *rows]
    for line in aligned(table):
        click.echo(line)
    click.echo(f"{counted(len(pending), 'pending callback')} to "
               f"{counted(len(rows), 'number')}")


def _check_database(location: str) -> None:
    problem = database_problem(location)
    if problem:
        raise click.ClickException(problem)


def _pending_callbacks(location: str) -> list[dict[str, Any]]:
    """The pending callbacks with the language of the call that asked, read only: a
    SQLite file is neither created, migrated nor written, a PostgreSQL session refuses
    writes."""
    from ivr.records.database import not_ivr, open_database

    with boundary(), closing(open_database(location, read_only=True)) as db:
        tables = db.tables()
        problem = not_ivr(db.where, tables, ("callbacks",))
        if problem:
            raise click.ClickException(problem)
        columns = db.columns("callbacks")
        optional = {"verified": "0", "requests": "1"}  # older databases lack them
        picked = ", ".join(f"b.{c}" if c in columns else f"{default} AS {c}"
                           for c, default in optional.items())
        lang = "c.lang" if "calls" in tables else "NULL"
        join = "LEFT JOIN calls c ON c.call_sid = b.call_sid" if "calls" in tables else ""
        rows = db.read_all(
            "SELECT b.id, b.created_at, b.number, b.account, b.queue, b.issue, "
            f"b.window_start, b.window_end, b.call_sid, {picked}, {lang} AS lang "
            f"FROM callbacks b {join} WHERE b.status='pending' "
            "ORDER BY COALESCE(b.window_start, b.created_at), b.id")
    return [{**dict(r), "verified": bool(r["verified"])} for r in rows]


def _local(text: str, zone: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)


def _window(row: dict[str, Any], zone: ZoneInfo) -> str:
    if not row["window_start"]:
        return "as soon as possible"
    start, end = _local(row["window_start"], zone), _local(row["window_end"], zone)
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %d %b %H:%M}"
    return f"{start:%a %d %b %H:%M}–{until}"


def _merged(pending: list[dict[str, Any]], zone: ZoneInfo,
            mask: Any) -> list[tuple[str, ...]]:
    """One row per phone number, earliest window first: an agent calls each number once,
    about everything it asked (the store keeps one callback per number and queue)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in pending:
        groups.setdefault(row["number"], []).append(row)

    def joined(values: Iterator[str]) -> str:
        return ", ".join(dict.fromkeys(values)) or "-"

    rows: list[tuple[str, ...]] = []
    for number, same in groups.items():
        verified = [r for r in same if r["verified"] and r["account"]]
        accounts = [r["account"] for r in same if r["account"]]
        caller = (f"account {mask(accounts[0])}" if verified else
                  f"unverified ({mask(accounts[0])})" if accounts else "unverified")
        rows.append((
            " ".join(f"#{r['id']}" for r in same),
            joined(_window(r, zone) for r in same),
            number,
            joined(r["lang"] or "-" for r in same),
            joined(r["queue"] for r in same),
            caller,
            joined(r["issue"] or "-" for r in same),
            str(sum(int(r["requests"] or 1) for r in same)),
        ))
    return rows


@cli.command()
@click.argument("account")
@click.option("--db", "--database", "database", type=Database(create=False), help=DB_HELP)
def unlock(account: str, database: Path | str | None) -> None:
    """Lift an account's phone-verification lock, once support has verified its owner."""
    from ivr.cli.args import server_key
    from ivr.flow.services import mask
    from ivr.records.lockouts import StoreLockouts
    from ivr.records.store import Store

    settings = app_settings(database)
    digits = settings["ACCOUNT_DIGITS"]
    if not (account.isdigit() and len(account) == digits):
        raise click.BadParameter(f"an account number has {digits} digits", param_hint="ACCOUNT")
    secret = server_key(settings)  # another key would find no lock on a locked account
    location = str(settings["DATABASE"])
    with boundary(), closing(Store(location, pool_size=1)) as store:
        locked, failures = StoreLockouts(store, secret).unlock(account, datetime.now(UTC))
    forgotten = f"{counted(failures, 'failed PIN')} forgotten"
    click.echo(f"phone verification unlocked for account {mask(account)}" if locked
               else f"account {mask(account)} was not locked; {forgotten}" if failures
               else f"account {mask(account)} had no lock or failed PINs on record")
