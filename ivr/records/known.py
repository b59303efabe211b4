"""Known callers: what a caller's number called about lately, for the shortcut the flow
offers them after the language ("Are you calling again about a refund? Press 1").

A call keeps its caller's number as a keyed hash (``calls.caller_key``: an HMAC with the
server's secret, as the lockout book keeps caller IDs), and the last need is looked up by
it: the newest call of the number in the last ``hours`` (the setting RETURNING_HOURS)
whose topic went to a queue or to a ticket, once it is over: Twilio reported its end, or
its state expired (STATE_TTL_S) without a report. A call still going on (the caller's
other phone line, or the first call of a caller put on hold) is not one to call *again*
about. A withheld number has no key, so it is never kept, looked up, or offered anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ivr.flow.services import PastNeed
from ivr.phone import callable_number
from ivr.records.lockouts import keyed
from ivr.records.store import Store, iso, parse_iso

#: the ``kind`` of a number's key: not a caller ID's of the lockout book (``c``)
KIND = "n"
#: a number's newest finished call with a need, read through the index of its calls with
#: an issue (migration 10, ``calls_caller_need``), not all of its calls
LAST_NEED = (
    "SELECT c.issue, c.started_at FROM calls c WHERE c.caller_key=? AND "
    "c.started_at >= ? AND c.call_sid <> ? AND c.issue IS NOT NULL AND "
    "(c.ended_at IS NOT NULL OR c.updated_at < ?) AND "
    "(c.queue IS NOT NULL OR EXISTS (SELECT 1 FROM tickets t "
    "WHERE t.call_sid = c.call_sid)) ORDER BY c.started_at DESC LIMIT 1")


class KnownCallers:
    """The calls of a number in the last ``hours``, by its keyed hash (0 hours: none)."""

    def __init__(self, store: Store, secret: str, hours: float = 72) -> None:
        self.store, self.hours = store, hours
        self._secret = secret.encode()

    def key(self, number: str) -> str | None:
        """The keyed hash a call of ``number`` is kept under; None for a withheld number."""
        return keyed(self._secret, KIND, number) if callable_number(number) else None

    def last_need(self, number: str, call_sid: str, now: datetime) -> PastNeed | None:
        """What ``number`` last called about in the window, when it went to a queue or a
        ticket (another call than ``call_sid``); None for anyone else."""
        key = self.key(number) if self.hours > 0 else None
        if key is None:
            return None
        row = self.store.read_one(
            LAST_NEED, (key, iso(now - timedelta(hours=self.hours)), call_sid,
             iso(now - self.store.state_ttl)))
        return PastNeed(str(row[0]), parse_iso(row[1])) if row else None

    def remember(self, number: str, issue: str, at: datetime, call_sid: str) -> None:
        """Keep a finished call of ``number`` about ``issue`` at ``at`` that went to a
        queue: what a replayed call was known by (``ivr.sim.calllog``)."""
        with self.store.tx() as db:
            db.execute("INSERT INTO calls (call_sid, from_number, to_number, started_at, "
                       "updated_at, ended_at, status, issue, queue, state, caller_key) "
                       "VALUES (?, ?, '', ?, ?, ?, 'completed', ?, 'replayed', '{}', ?)",
                       (call_sid, number, iso(at), iso(at), iso(at), issue, self.key(number)))
