"""``ivr notice``: incident notices (hot messages) and the emergency switch, run by ops.

Thin over ``ivr.records.notices`` (kept in the database every host reads) and
``ivr.flow.notices`` (what a notice is, where it is said, what is wrong with one): parse
the arguments, call, print. A notice is checked as ``ivr lint`` checks a tree, against the
trees and prompt languages the app runs: every problem listed, exit 1. Each change is
written to the console's audit log as made by the system account (``root (ivr notice)``).
Times without an offset are the centre's (the traffic file's timezone), as ``--at``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ivr import moments
from ivr.cli.args import (
    MOMENT,
    Database,
    app_settings,
    boundary,
    database_problem,
    settings_files,
    system_actor,
)
from ivr.plural import aligned, counted

if TYPE_CHECKING:
    from ivr.records.notices import Published
    from ivr.records.store import Store

DB_HELP = ("The database: a SQLite file or a postgresql:// URL (default: the app's, from "
           "IVR_DATABASE or the instance).")
#: how much of a notice's words the table shows
SHOWN_TEXT = 48


def _db_option(create: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--db", "--database", "database", type=Database(create=create),
                        help=DB_HELP)


@contextmanager
def _store(settings: dict[str, Any], create: bool = False) -> Iterator[Store]:
    """The app's database, closed after; unless ``create``, one that is not there is an
    error, not a new file."""
    from ivr.records.store import Store

    location = str(settings["DATABASE"])
    problem = None if create and not Path(location).exists() else database_problem(location)
    if problem:
        raise click.ClickException(problem)
    with boundary():
        store = Store(location, state_ttl_s=settings["STATE_TTL_S"], pool_size=1)
    try:
        with boundary():
            yield store
    finally:
        store.close()


def _zone(settings: dict[str, Any]) -> tzinfo:
    """The centre's timezone, which times without an offset are read and shown in."""
    from ivr.queue import traffic

    with boundary(lambda: settings_files(settings)):
        return traffic.load(settings.get("TRAFFIC")).zone


def _local(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


@click.group("notice")
def notice_group() -> None:
    """Incident notices and the emergency switch: add, list, end."""


@notice_group.command("add")
@click.option("--scope", required=True,
              help="Where it is said: line (after the language choice), node:<id> (as a "
                   "caller enters that node or its branch, e.g. node:payments_menu) or "
                   "queue:<name> (as a caller reaches that queue).")
@click.option("--text", "texts", nargs=2, multiple=True, metavar="LANG TEXT",
              help="The words in one prompt language, e.g. --text en-US 'Top-ups are "
                   "delayed.'; give one for every language.")
@click.option("--start", type=MOMENT, metavar="TIME",
              help=f"From when it is said (default: now): {moments.HELP}.")
@click.option("--end", type=MOMENT, metavar="TIME", required=True,
              help="Until when it is said (a date alone: the end of that day).")
@click.option("--emergency", is_flag=True,
              help="Also switch off its queue (queue:<name>), or every queue but the fraud "
                   "line (line): callers hear the notice and are offered a callback or the "
                   "fraud line instead of being queued.")
@_db_option(create=True)
def add(scope: str, texts: tuple[tuple[str, str], ...], start: moments.Moment | None,
        end: moments.Moment, emergency: bool, database: Path | str | None) -> None:
    """Publish a notice: said from its start to its end, once a call, to every caller who
    enters its scope, in their language."""
    from ivr.flow import prompts
    from ivr.flow.notices import Notice, read_scope
    from ivr.menu import load
    from ivr.records import notices

    settings = app_settings(database)
    zone, now = _zone(settings), datetime.now(UTC)
    starts = start.resolve(zone, now) if start else now
    words: dict[str, str] = {}
    for lang, text in texts:
        if lang in words:
            raise click.BadParameter(f"{lang} is given twice", param_hint="--text")
        words[lang] = text
    notice = Notice(0, words, read_scope(scope), starts, end.until(zone, now), emergency)
    trees = [settings.get("MENU"), *([settings["MENU_B"]] if settings.get("MENU_B") else [])]
    with boundary(lambda: settings_files(settings)):
        catalog = prompts.load(settings["PROMPTS_DIR"])
        menus = [load(tree)[0] for tree in trees]
        notice = notices.checked(notice, menus=menus, languages=catalog.languages, now=now)
    with _store(settings, create=True) as store:
        kept = notices.publish(store, notice, menus=menus, languages=catalog.languages,
                               now=now, actor=system_actor("ivr notice"))
    switch = " (emergency switch)" if kept.emergency else ""
    click.echo(f"published notice {kept.id}{switch}: {kept.scope}, from "
               f"{_local(kept.starts_at, zone)} to {_local(kept.ends_at, zone)} "
               f"({getattr(zone, 'key', zone)})")


@notice_group.command("list")
@click.option("--all", "every", is_flag=True, help="The ended notices too.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per notice.")
@_db_option(create=False)
def list_notices(every: bool, as_json: bool, database: Path | str | None) -> None:
    """List the notices active or to come (with --all, the ended too), latest first."""
    from ivr.records import notices

    settings = app_settings(database)
    zone, now = _zone(settings), datetime.now(UTC)
    with _store(settings) as store:
        found = notices.listed(store, now, every)
    if as_json:
        for published in found:
            click.echo(json.dumps(_json(published, now, zone), ensure_ascii=False))
        return
    if not found:
        click.echo("no notices" + ("" if every else " active or to come (--all: the ended too)"))
        return
    rows: list[tuple[str, ...]] = [("ID", "STATE", "SCOPE", "SWITCH", "FROM", "UNTIL", "BY",
                                    "WORDS")]
    rows += [_row(p, now, zone) for p in found]
    for line in aligned(rows):
        click.echo(line)
    click.echo(f"{counted(len(found), 'notice')}; times in {getattr(zone, 'key', zone)}")


def _row(published: Published, now: datetime, zone: tzinfo) -> tuple[str, ...]:
    notice = published.notice
    first = next(iter(notice.texts.values()), "")
    words = first if len(first) <= SHOWN_TEXT else first[:SHOWN_TEXT - 1] + "…"
    state = published.state(now)
    if published.ended_by:
        state += f" by {published.ended_by}"
    return (str(notice.id), state, str(notice.scope), "emergency" if notice.emergency else "-",
            _local(notice.starts_at, zone), _local(published.ended(), zone),
            published.created_by, words)


def _json(published: Published, now: datetime, zone: tzinfo) -> dict[str, Any]:
    notice = published.notice
    return {"id": notice.id, "state": published.state(now), "scope": str(notice.scope),
            "emergency": notice.emergency, "texts": dict(notice.texts),
            "starts_at": notice.starts_at.astimezone(zone).isoformat(),
            "ends_at": notice.ends_at.astimezone(zone).isoformat(),
            "created_at": published.created_at.astimezone(zone).isoformat(),
            "created_by": published.created_by,
            "ended_at": published.ended_at.astimezone(zone).isoformat()
            if published.ended_at else None,
            "ended_by": published.ended_by}


@notice_group.command("end")
@click.argument("number", metavar="ID", type=click.IntRange(1))
@_db_option(create=False)
def end(number: int, database: Path | str | None) -> None:
    """End a notice now: from the next step of every call on, it is no longer said (nor
    its emergency switch on)."""
    from ivr.records import notices

    settings = app_settings(database)
    zone = _zone(settings)
    with _store(settings) as store:
        ended = notices.end(store, number, datetime.now(UTC), system_actor("ivr notice"))
    click.echo(f"ended notice {number} ({ended.notice.scope}) at "
               f"{_local(ended.ended(), zone)} ({getattr(zone, 'key', zone)})")
