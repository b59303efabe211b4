"""Complaint tickets through their workflow (``ivr.flow.complaints``), in the store: each
move checked against the stages, kept with its who, when and note (``ticket_moves``, and
the audit log), the result's text in each language when it is sent, a dispute counted and
given a new reply-by time; and the figures ops read (``figures``): tickets per stage, the
time spent in each, replies late against the promised time, and the dispute rate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ivr.flow import complaints
from ivr.flow.services import mask
from ivr.records.database import Database, Tx
from ivr.records.store import Store, audit_row, iso, parse_iso


class MoveRefused(Exception):
    """A move the workflow does not allow, or missing what it needs (the reason, said)."""


@dataclass(frozen=True, slots=True)
class Moved:
    """A ticket after a move: where it went, and whether the move was a dispute."""

    number: str
    stage: str
    reply_by: datetime
    disputed: bool
    #: the caller's number and language, for the result's text message
    caller: str | None
    lang: str | None
    account: str | None
    call_sid: str | None
    #: results sent so far, this move's included: the first, or one after a dispute
    results: int


def move(store: Store, number: str, to: str, *, actor: str, note: str, now: datetime,
         reply_hours: float, results: dict[str, str] | None = None,
         recording_url: str = "", teams: tuple[str, ...] | None = None,
         also: Callable[[Tx, Moved], None] | None = None) -> Moved:
    """Move ticket ``number`` to stage ``to``, with a note, in one transaction.

    Moving to ``result_sent`` needs the result in every language of ``RESULT_LANGS``;
    ``result_sent`` back to ``review`` is a dispute: counted, and the reply due
    ``reply_hours`` from now. ``teams`` limits the tickets ``actor`` may move (an agent's
    queues). ``also(tx, moved)`` runs in the same transaction (the result's text
    message put in the outbox), so a move is never kept without it. MoveRefused says why
    a move is not made.
    """
    note = note.strip()
    if not note:
        raise MoveRefused("a move needs a note")
    with store.tx(f"ticket-number:{number}") as db:
        row = db.execute(
            "SELECT t.number, t.stage, t.reply_by, t.team, t.account, t.call_sid, "
            "c.from_number, c.lang, (SELECT COUNT(*) FROM ticket_moves m "
            "WHERE m.number = t.number AND m.to_stage = 'result_sent') AS results "
            "FROM tickets t LEFT JOIN calls c ON c.call_sid = t.call_sid WHERE t.number=?",
            (number,)).fetchone()
        if row is None or (teams is not None and row["team"] not in teams):
            raise MoveRefused(f"no ticket {number}")
        stage = str(row["stage"])
        if to not in complaints.next_stages(stage):
            allowed = ", ".join(complaints.next_stages(stage)) or "none"
            raise MoveRefused(f"ticket {number} is {stage}: it moves to {allowed}, not {to}")
        reply_by = parse_iso(row["reply_by"])
        disputed = complaints.is_dispute(stage, to)
        sets: dict[str, str | int] = {"stage": to, "stage_at": iso(now)}
        if to == "result_sent":
            written = {lang: (results or {}).get(lang, "").strip()
                       for lang in complaints.RESULT_LANGS}
            missing = [lang for lang, text in written.items() if not text]
            if missing:
                raise MoveRefused(f"the result is needed in {', '.join(missing)}")
            sets.update(result_en=written["en-US"], result_zh=written["zh-CN"],
                        result_at=iso(now), result_texted=0)
        if disputed:
            reply_by = now + timedelta(hours=reply_hours)
            sets["reply_by"] = iso(reply_by)
        if to == "closed":
            sets.update(status="closed", closed_at=iso(now), closed_by=actor, note=note)
        late = to == "result_sent" and now > reply_by
        db.execute(f"UPDATE tickets SET {', '.join(f'{k}=?' for k in sets)}"
                   f"{', disputes=disputes+1' if disputed else ''} WHERE number=?",
                   (*sets.values(), number))
        db.execute("INSERT INTO ticket_moves (number, at, actor, from_stage, to_stage, note, "
                   "recording_url, late) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (number, iso(now), actor, stage, to, note, recording_url or None, int(late)))
        audit_row(db, now, actor, "ticket disputed" if disputed else f"ticket {to}",
                  f"ticket {number}", note)
        moved = Moved(number, to, reply_by, disputed, row["from_number"], row["lang"],
                      row["account"], row["call_sid"],
                      int(row["results"]) + (to == "result_sent"))
        if also is not None:
            also(db, moved)
    return moved


def moves(store: Store, number: str) -> list[dict[str, Any]]:
    """A ticket's moves, oldest first."""
    return [dict(r) for r in store.read_all(
        "SELECT at, actor, from_stage, to_stage, note, recording_url, late FROM ticket_moves "
        "WHERE number=? ORDER BY at, id", (number,))]


def figures(store: Store | Database, now: datetime, since: datetime | None = None,
            until: datetime | None = None) -> dict[str, Any] | None:
    """The tickets filed in the period: how many are at each stage; the mean hours spent
    in each stage left (and how many left it); replies sent late against the reply-by
    time of the moment, and those overdue now with no result; and the share of results
    sent that were disputed. None for records made before ticket stages (migration 13),
    which ``ivr report`` reads as they are."""
    if isinstance(store, Store):
        store = store.database
    if "ticket_moves" not in store.tables():
        return None
    where, params = _period(since, until)
    tickets = store.read_all(
        f"SELECT number, stage, created_at, reply_by, result_at, disputes FROM tickets{where}",
        params)
    stages = dict.fromkeys(complaints.STAGES, 0)
    for row in tickets:
        stages[row["stage"]] = stages.get(row["stage"], 0) + 1
    spent: dict[str, list[float]] = defaultdict(list)
    entered = {r["number"]: parse_iso(r["created_at"]) for r in tickets}
    late = sent = 0
    # the moves of the period's tickets, not of every ticket ever filed
    of_period = where.replace("created_at", "t.created_at")
    for row in store.read_all(
            "SELECT m.number, m.at, m.from_stage, m.to_stage, m.late FROM ticket_moves m "
            f"JOIN tickets t ON t.number = m.number{of_period} ORDER BY m.at, m.id", params):
        at = parse_iso(row["at"])
        spent[row["from_stage"]].append((at - entered[row["number"]]).total_seconds() / 3600)
        entered[row["number"]] = at
        if row["to_stage"] == "result_sent":
            sent += 1
            late += int(row["late"])
    overdue = sum(1 for r in tickets if r["stage"] in ("registered", "first_check", "review",
                                                         "investigation")
                  and parse_iso(r["reply_by"]) < now)
    with_result = sum(1 for r in tickets if r["result_at"])
    disputed = sum(1 for r in tickets if r["disputes"])
    return {
        "tickets": len(tickets),
        "stages": stages,
        "hours_in_stage": {s: {"left": len(h), "mean_hours": round(sum(h) / len(h), 2)}
                           for s, h in spent.items() if h},
        "results_sent": sent,
        "replies_late": late,
        "overdue_now": overdue,
        "disputes": sum(int(r["disputes"]) for r in tickets),
        "dispute_rate": round(disputed / with_result, 4) if with_result else None,
    }


def _period(since: datetime | None, until: datetime | None) -> tuple[str, tuple[str, ...]]:
    found = [("created_at >= ?", iso(since)) if since else None,
             ("created_at < ?", iso(until)) if until else None]
    kept = [f for f in found if f]
    if not kept:
        return "", ()
    return " WHERE " + " AND ".join(c for c, _ in kept), tuple(p for _, p in kept)


def describe(moved: Moved) -> str:
    """A move as the log says it: the ticket and stage, the account masked."""
    account = mask(moved.account) if moved.account else "-"
    return f"ticket {moved.number} of account {account} now {moved.stage}"

