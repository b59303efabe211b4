"""What is happening on the hotline now, read from the call records: the callers waiting in
each queue, the calls in the IVR by node, the caller an agent is talking to; and the bridge
of a caller to an agent, written on the caller's record.

Shared by the console's Now page and the agents' end (``/agent/voice``), so both count a
waiting caller the same way: a call not ended, whose state is fresh, whose last step
enqueued it, and which no agent has taken yet.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ivr.flow.call import Waiting
from ivr.records.store import Store, iso, parse_iso

#: the last step of each call not ended and still fresh
_LAST_STEPS = """
    SELECT c.call_sid, c.lang, c.issue, c.verified, e.at, e.outcome
    FROM calls c JOIN call_events e ON e.id = (
        SELECT MAX(id) FROM call_events WHERE call_sid = c.call_sid)
    WHERE c.ended_at IS NULL AND c.updated_at > ? AND c.bridged_at IS NULL
"""


def _fresh_since(store: Store, now: datetime) -> str:
    return iso(now - store.state_ttl)


def waiting(store: Store, now: datetime, queues: tuple[str, ...] | None = None) -> list[Waiting]:
    """The callers waiting now (in ``queues``, or all), the longest-waiting first."""
    found = []
    for row in store.read_all(_LAST_STEPS, (_fresh_since(store, now),)):
        outcome = row["outcome"] or ""
        if not outcome.startswith("enqueue:"):
            continue
        queue = outcome.removeprefix("enqueue:")
        if queues is not None and queue not in queues:
            continue
        found.append(Waiting(row["call_sid"], queue, parse_iso(row["at"]), row["lang"],
                             row["issue"], bool(row["verified"])))
    return sorted(found, key=lambda w: (w.since, w.call_sid))


def in_ivr(store: Store, now: datetime) -> Counter[str]:
    """Calls in the IVR now (not queued, not ended) by the node they are at."""
    nodes: Counter[str] = Counter()
    for row in store.read_all(_LAST_STEPS, (_fresh_since(store, now),)):
        outcome = row["outcome"] or ""
        if outcome.startswith("ask:"):
            nodes[outcome.removeprefix("ask:")] += 1
    return nodes


def answered_waits(store: Store, since: datetime, queues: tuple[str, ...] | None = None
                   ) -> dict[str, list[int]]:
    """The waits (seconds) of the callers an agent took since ``since``, by queue."""
    rows = store.read_all("SELECT queue, wait_s FROM calls WHERE bridged_at >= ? "
                          "AND wait_s IS NOT NULL ORDER BY bridged_at", (iso(since),))
    waits: dict[str, list[int]] = {}
    for row in rows:
        if queues is None or row["queue"] in queues:
            waits.setdefault(row["queue"], []).append(int(row["wait_s"]))
    return waits


def record_bridge(store: Store, call_sid: str, agent: str, wait_s: int | None,
                  now: datetime) -> bool:
    """An agent took the caller ``call_sid`` after ``wait_s`` in the queue (Twilio's
    QueueTime); False when the call is unknown. Once: a replay keeps the first bridge."""
    with store.tx() as db:
        return bool(db.execute(
            "UPDATE calls SET agent=?, bridged_at=?, wait_s=? WHERE call_sid=? "
            "AND bridged_at IS NULL", (agent, iso(now), wait_s, call_sid)).rowcount)


def record_talk(store: Store, call_sid: str, talk_s: int) -> None:
    """How long the caller and the agent talked (the Dial's DialCallDuration)."""
    with store.tx() as db:
        db.execute("UPDATE calls SET talk_s=? WHERE call_sid=?", (talk_s, call_sid))


def current_caller(store: Store, agent: str, now: datetime,
                   within: timedelta = timedelta(hours=2)) -> dict[str, Any] | None:
    """The caller ``agent`` was last put through to and is still on the line with: what the
    IVR collected, masked as agents see it (``Store.call``), and the wait."""
    row = store.read_one("SELECT call_sid FROM calls WHERE agent=? AND bridged_at >= ? "
                         "AND ended_at IS NULL ORDER BY bridged_at DESC LIMIT 1",
                         (agent, iso(now - within)))
    return store.call(row["call_sid"]) if row else None


# -- the day so far, for the wallboard (issue 24) ---------------------------------------
@dataclass(frozen=True, slots=True)
class Queued:
    """One caller who joined a queue: when, whether an agent took them (after how long)
    and whether they hung up waiting (Twilio's QueueResult ``hangup``)."""

    queue: str
    queued_at: datetime
    answered: bool
    wait_s: int | None
    abandoned: bool


#: each queued call with its first enqueueing step; started a while before ``since`` so a
#: caller who spent long in the IVR before midnight still counts by when they queued
_QUEUED = """
    SELECT c.queue, c.bridged_at, c.wait_s, c.queue_result,
           (SELECT MIN(e.at) FROM call_events e WHERE e.call_sid = c.call_sid
            AND e.outcome LIKE 'enqueue:%') AS queued_at
    FROM calls c WHERE c.queue IS NOT NULL AND c.started_at >= ?
"""


def queued_since(store: Store, since: datetime, queues: tuple[str, ...] | None = None
                 ) -> list[Queued]:
    """The callers who joined a queue (of ``queues``, or any) since ``since``, in order."""
    found = []
    for row in store.read_all(_QUEUED, (iso(since - timedelta(hours=2)),)):
        if not row["queued_at"] or (queues is not None and row["queue"] not in queues):
            continue
        at = parse_iso(row["queued_at"])
        if at < since:
            continue
        answered = row["bridged_at"] is not None
        found.append(Queued(row["queue"], at, answered,
                            int(row["wait_s"]) if row["wait_s"] is not None else None,
                            not answered and row["queue_result"] == "hangup"))
    return sorted(found, key=lambda q: q.queued_at)


def callbacks_owed(store: Store, queues: tuple[str, ...] | None = None) -> Counter[str]:
    """Callbacks not yet made, by queue."""
    rows = store.read_all("SELECT queue, COUNT(*) AS n FROM callbacks WHERE status='pending' "
                          "GROUP BY queue")
    return Counter({r["queue"]: int(r["n"]) for r in rows
                    if queues is None or r["queue"] in queues})
