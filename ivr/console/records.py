"""What the console reads from and writes to the database beyond ``ivr.records.live``: callbacks,
tickets, call search, the agents talking now, and the audit log.

Every change made through the console goes through a function here that writes its
audit row in the same transaction, so a change is never kept without its who, what, when.
No Flask here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ivr.records.store import Store, audit_row, iso

CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
LAST4 = re.compile(r"\d{4}")
OUTCOMES = ("done", "failed")


def audit(store: Store, now: datetime, user: str, action: str, target: str = "",
          detail: str = "") -> None:
    """Write one audit row on its own (a log-in, a log-out)."""
    with store.tx() as db:
        audit_row(db, now, user, action, target, detail)


def audit_rows(store: Store, limit: int = 200) -> list[dict[str, Any]]:
    return [dict(r) for r in store.read_all(
        "SELECT at, actor AS user, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?",
        (limit,))]


def callbacks(store: Store, queues: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """``Store.pending_callbacks`` (in ``queues``) with the language of the call that asked."""
    langs = {r["call_sid"]: r["lang"] for r in store.read_all(
        "SELECT call_sid, lang FROM calls WHERE call_sid IN "
        "(SELECT call_sid FROM callbacks WHERE status='pending')")}
    return [{**c, "lang": langs.get(c["call_sid"])} for c in store.pending_callbacks()
            if queues is None or c["queue"] in queues]


def settle_callback(store: Store, now: datetime, user: str, callback_id: int, outcome: str,
                    note: str, queues: tuple[str, ...] | None) -> bool:
    """Mark a pending callback ``done`` or ``failed``; False when it is not pending (or not
    in ``queues``)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    with store.tx(f"callback:{callback_id}") as db:
        row = db.execute("SELECT queue FROM callbacks WHERE id=? AND status='pending'",
                         (callback_id,)).fetchone()
        if row is None or (queues is not None and row["queue"] not in queues):
            return False
        db.execute("UPDATE callbacks SET status=?, done_at=?, done_by=?, note=? WHERE id=?",
                   (outcome, iso(now), user, note, callback_id))
        audit_row(db, now, user, f"callback {outcome}", f"callback {callback_id}", note)
    return True


#: a ticket is its team's (``tickets.team``), not the queue its call ended in: a complaint
#: filed while the complaints team is closed goes on to general, and is still theirs
_TICKETS = ("SELECT t.number, t.status, t.created_at, t.reply_by, t.recording_url, "
            "t.closed_at, t.closed_by, t.note, t.call_sid, t.team, t.stage, t.stage_at, "
            "t.disputes, t.result_at, c.lang, c.issue "
            "FROM tickets t LEFT JOIN calls c ON c.call_sid = t.call_sid ")


def tickets(store: Store, queues: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """Complaint tickets (of the teams ``queues``), open ones first, then by reply-by time."""
    rows = store.read_all(_TICKETS + "ORDER BY t.closed_at IS NOT NULL, t.reply_by, t.number")
    return [dict(r) for r in rows if queues is None or r["team"] in queues]


def find_calls(store: Store, query: str, limit: int = 50) -> list[dict[str, Any]] | None:
    """Calls by CallSid, or by the last 4 digits of the account or of the caller's number,
    newest first; None when ``query`` is neither."""
    query = query.strip()
    columns = ("SELECT call_sid, from_number, started_at, lang, issue, queue, queue_result, "
               "verified, account_last4, agent, wait_s FROM calls ")
    if CALL_SID.fullmatch(query):
        rows = store.read_all(columns + "WHERE call_sid=?", (query,))
    elif LAST4.fullmatch(query):
        # substr from length-3, not from -4: PostgreSQL counts no positions from the end
        rows = store.read_all(columns + "WHERE account_last4=? OR "
                              "substr(from_number, length(from_number) - 3)=? "
                              "ORDER BY started_at DESC LIMIT ?", (query, query, limit))
    else:
        return None
    return [dict(r) for r in rows]


def talking(store: Store) -> dict[str, int]:
    """Agents on a call now, by queue: bridged calls not ended."""
    rows = store.read_all("SELECT queue, COUNT(DISTINCT agent) AS n FROM calls "
                          "WHERE bridged_at IS NOT NULL AND ended_at IS NULL GROUP BY queue")
    return {r["queue"]: int(r["n"]) for r in rows}
