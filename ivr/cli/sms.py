"""``ivr sms``: the SMS follow-ups' outbox, listed, and sent once by hand.

Thin over ``ivr.records.outbox`` (the rows) and ``ivr.web.sender`` (Twilio's Messages
API). ``ivr serve`` sends the outbox in the background; ``send-pending`` is one pass of
the same sender, for a deployment that runs it from cron, or to send what waited while
credentials were missing. Without credentials nothing is sent and nothing is lost: the
messages wait in the outbox, and both commands say which settings are missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ivr.cli.args import Database, app_settings, boundary, database_problem
from ivr.plural import aligned, counted

if TYPE_CHECKING:
    from ivr.records.outbox import Outbox

DB_HELP = ("The database: a SQLite file or a postgresql:// URL (default: the app's, from "
           "IVR_DATABASE or the instance).")
#: how much of a message the table shows
SHOWN_BODY = 60


@contextmanager
def _outbox(database: Path | str | None) -> Iterator[tuple[Outbox, dict[str, Any]]]:
    from ivr.records.outbox import Outbox
    from ivr.records.store import Store

    settings = app_settings(database)
    location = str(settings["DATABASE"])
    problem = database_problem(location)
    if problem:
        raise click.ClickException(problem)
    with boundary():
        store = Store(location, state_ttl_s=settings["STATE_TTL_S"], pool_size=2)
    try:
        with boundary():
            yield Outbox(store), settings
    finally:
        store.close()


@click.group("sms")
def sms_group() -> None:
    """SMS follow-ups: list the outbox, send what is due."""


@sms_group.command("list")
@click.option("--db", "--database", "database", type=Database(create=False), help=DB_HELP)
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]),
              help="Only the messages waiting, sent, or given up.")
@click.option("--call", "call_sid", metavar="CALLSID", help="Only the messages of one call.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="The newest this many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per message.")
def list_command(database: Path | str | None, status: str | None, call_sid: str | None,
                 limit: int, as_json: bool) -> None:
    """List the outbox, newest first: who, what, and how its sending stands."""
    from ivr.web.sender import missing

    with _outbox(database) as (outbox, settings):
        messages = outbox.messages(status, call_sid, limit)
        waiting = outbox.waiting()
    if as_json:
        for m in messages:
            click.echo(json.dumps({
                "id": m.id, "call_sid": m.call_sid, "kind": m.kind, "to": m.to_number,
                "lang": m.lang, "body": m.body, "created_at": m.created_at.isoformat(),
                "status": m.status, "attempts": m.attempts, "message_sid": m.message_sid,
                "twilio_status": m.twilio_status, "error": m.error}, ensure_ascii=False))
        return
    lacks = missing(settings)
    if lacks and waiting:
        click.echo(f"{counted(waiting, 'message')} waiting, not sent: the settings lack "
                   f"{lacks}; nothing is lost, they are sent once those are set")
    if not messages:
        click.echo("no messages in the outbox" + (f" with status {status}" if status else ""))
        return
    rows = [("#", "WRITTEN (UTC)", "TO", "KIND", "STATUS", "TRIES", "TWILIO", "MESSAGE")]
    for m in messages:
        twilio = m.twilio_status or m.error or ""
        body = m.body if len(m.body) <= SHOWN_BODY else m.body[:SHOWN_BODY - 1] + "…"
        rows.append((str(m.id), m.created_at.strftime("%Y-%m-%d %H:%M"), m.to_number, m.kind,
                     m.status, str(m.attempts), twilio, body))
    for line in aligned(rows):
        click.echo(line)


@sms_group.command("send-pending")
@click.option("--db", "--database", "database", type=Database(create=False), help=DB_HELP)
def send_pending(database: Path | str | None) -> None:
    """Send the messages that are due, once (ivr serve does it in the background)."""
    from ivr.web.sender import Sender, missing

    with _outbox(database) as (outbox, settings):
        sender = Sender.from_settings(outbox, settings)
        if sender is None:
            raise click.ClickException(
                f"nothing sent: the settings lack {missing(settings)}; "
                f"{counted(outbox.waiting(), 'message')} waiting in the outbox (ivr sms list)")
        done = sender.send_pending()
        waiting = outbox.waiting()
    click.echo(f"sent {done.sent}, to retry {done.retried}, given up {done.failed}; "
               f"{counted(waiting, 'message')} waiting")
