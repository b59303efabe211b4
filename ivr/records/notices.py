"""The incident notices ops publish (``ivr notice``, the console's Notices page), kept in the
database so that every host says the same ones from the moment they are kept.

``publish`` checks a notice against the trees the line runs and the prompt languages
(``ivr.flow.notices.problems``: every problem at once, raised as a ``MenuError``) and keeps
it with its audit row in one transaction; ``end`` ends one before its time, audited too; a
notice ended, or past its end, is never in ``active``, which is what a step's flow is given.
Times are kept as UTC ISO text (``ivr.records.store.iso``); the commands and the console
show them in the centre's timezone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ivr.errors import IVRError, MenuError
from ivr.flow.notices import Notice, parse_scope, problems
from ivr.menu.model import Menu
from ivr.records.database import Database
from ivr.records.store import Store, audit_row, iso, parse_iso

_COLUMNS = ("SELECT id, scope, texts, starts_at, ends_at, emergency, created_at, created_by, "
            "ended_at, ended_by FROM notices ")


class NoticeError(IVRError):
    """A notice that cannot be ended (unknown, or over already), with why."""


@dataclass(frozen=True, slots=True)
class Published:
    """A kept notice with who published it, and when and by whom it was ended early."""

    notice: Notice
    created_at: datetime
    created_by: str
    ended_at: datetime | None = None
    ended_by: str | None = None

    def state(self, now: datetime) -> str:
        """``upcoming``, ``active`` or ``ended`` (by ops, or at its end)."""
        if self.ended_at is not None or now >= self.notice.ends_at:
            return "ended"
        return "upcoming" if now < self.notice.starts_at else "active"

    def ended(self) -> datetime:
        """When it stopped, or stops, being said."""
        return self.ended_at or self.notice.ends_at


def _published(row: Any) -> Published:
    notice = Notice(int(row["id"]), json.loads(row["texts"]), parse_scope(row["scope"]),
                    parse_iso(row["starts_at"]), parse_iso(row["ends_at"]),
                    bool(row["emergency"]))
    return Published(notice, parse_iso(row["created_at"]), str(row["created_by"]),
                     parse_iso(row["ended_at"]) if row["ended_at"] else None,
                     row["ended_by"])


def _described(notice: Notice) -> str:
    """The audit row's detail: what and when, the words left to the notice itself."""
    switch = "emergency switch, " if notice.emergency else ""
    return (f"{switch}{notice.scope}, {iso(notice.starts_at)} to {iso(notice.ends_at)}; "
            + json.dumps(dict(notice.texts), ensure_ascii=False))


def checked(notice: Notice, *, menus: Sequence[Menu], languages: Iterable[str],
            now: datetime) -> Notice:
    """``notice`` with its words stripped, ready to keep; MenuError listing every problem
    when it cannot be said as written (before a command opens, or makes, a database)."""
    notice = replace(notice, texts={k: v.strip() for k, v in notice.texts.items()})
    found = problems(notice, menus, languages, now)
    if found:
        raise MenuError(found, "the notice")
    return notice


def publish(store: Store, notice: Notice, *, menus: Sequence[Menu], languages: Iterable[str],
            now: datetime, actor: str) -> Notice:
    """Keep ``notice`` (``checked``) and its audit row; the notice with its id."""
    notice = checked(notice, menus=menus, languages=languages, now=now)
    with store.tx() as db:
        number = int(db.execute(
            "INSERT INTO notices (scope, texts, starts_at, ends_at, emergency, created_at, "
            "created_by) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (str(notice.scope), json.dumps(dict(notice.texts), ensure_ascii=False),
             iso(notice.starts_at), iso(notice.ends_at), int(notice.emergency), iso(now),
             actor)).fetchone()[0])
        kept = replace(notice, id=number)
        audit_row(db, now, actor, "notice published", f"notice {number}", _described(kept))
    return kept


def end(store: Store, number: int, now: datetime, actor: str) -> Published:
    """End notice ``number`` now: it is not said from the next step on. NoticeError when
    there is no such notice or it is over already."""
    with store.tx(f"notice:{number}") as db:
        row = db.execute(_COLUMNS + "WHERE id=?", (number,)).fetchone()
        if row is None:
            raise NoticeError(f"there is no notice {number}")
        found = _published(row)
        if found.state(now) == "ended":
            raise NoticeError(f"notice {number} is over already: " + (
                f"{found.ended_by} ended it" if found.ended_by else "its end has passed"))
        db.execute("UPDATE notices SET ended_at=?, ended_by=? WHERE id=?",
                   (iso(now), actor, number))
        audit_row(db, now, actor, "notice ended", f"notice {number}", str(found.notice.scope))
    return replace(found, ended_at=now, ended_by=actor)


def active(store: Store, now: datetime) -> tuple[Notice, ...]:
    """The notices to be said at ``now``: started, not past their end, not ended by ops."""
    rows = store.read_all(_COLUMNS + "WHERE ended_at IS NULL AND starts_at <= ? AND ends_at > ? "
                          "ORDER BY id", (iso(now), iso(now)))
    return tuple(_published(r).notice for r in rows)


def listed(store: Store, now: datetime, every: bool = False) -> list[Published]:
    """The notices active or to come, latest start first; with ``every``, the ended too."""
    sql = _COLUMNS + ("" if every else "WHERE ended_at IS NULL AND ends_at > ? ")
    rows = store.read_all(sql + "ORDER BY starts_at DESC, id DESC", () if every else (iso(now),))
    return [_published(r) for r in rows]


def named(records: Store | Database, number: int) -> Published | None:
    """Notice ``number`` as kept, from the store or a database opened to read it."""
    row = records.read_one(_COLUMNS + "WHERE id=?", (number,))
    return _published(row) if row else None
