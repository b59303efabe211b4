"""The hotline's records, on either database (``ivr.records.database``): SQLite by default,
PostgreSQL when several hosts share one.

Holds calls (state keyed by CallSid, so any worker of any host serves any step), per-step
call events (input already masked by the flow), the PIN lockout book, and the demo wallet
backend. Every write is its own short transaction; the schema is brought to this
release's version (``ivr.records.database.migrations``) when the store opens.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ivr.errors import StoreError
from ivr.flow.call import CallState, Step
from ivr.records.database import Tx, migrations, open_database
from ivr.records.database.sqlite import SQLiteDatabase

log = logging.getLogger(__name__)

#: what a call's state holds that the call needs only while it lasts: the account typed,
#: the one registered to the caller ID, the verified one, and the self-service answers
#: spoken (top-up amounts and dates). Scrubbed when the call ends or its state expires.
PERSONAL = (("account",), ("data", "account"), ("data", "candidate"), ("replay",))
#: how often a process looks for expired states to scrub (when a call begins)
SWEEP_EVERY = timedelta(minutes=10)


def iso(moment: datetime) -> str:
    """Datetimes are stored as ISO-8601 in UTC, so they sort as text."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def audit_row(db: Tx, now: datetime, actor: str, action: str, target: str = "",
              detail: str = "") -> None:
    """Write one audit row in the transaction ``db`` of the change it records, so a change
    is never kept without its who, what and when (the console's Audit page lists them)."""
    db.execute("INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
               (iso(now), actor, action, target, detail))


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A call as the database has it: its state (None once expired), the turn its next
    request must carry, and whether Twilio reported it ended."""

    state: CallState | None
    turn: int
    ended: bool
    #: the version of the tree the call runs on (None for calls before versions)
    version: str | None = None


class Store:
    """The records at ``location`` (a SQLite path or a ``postgresql://`` URL); safe to
    share between threads. ``pool_size`` bounds a process's PostgreSQL connections."""

    def __init__(self, location: Path | str, state_ttl_s: int = 4 * 3600,
                 pool_size: int = 8) -> None:
        self.location = str(location)
        self.database = open_database(location, pool_size=pool_size)
        self.state_ttl = timedelta(seconds=state_ttl_s)
        self._swept_at: datetime | None = None
        try:
            migrations.upgrade(self.database)
        except StoreError:
            self.close()
            raise
        self._scrubbed = self.database.json_without("state", PERSONAL)
        self._unscrubbed = self.database.json_has_any("state", PERSONAL)

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's SQLite connection (the simulator's snapshots back it up)."""
        database = self.database
        if not isinstance(database, SQLiteDatabase):
            raise StoreError(f"{database.where} is not a SQLite file")
        return database.db

    def tx(self, *locks: str) -> AbstractContextManager[Tx]:
        """A short write transaction; see ``Database.tx`` for the ``locks``."""
        return self.database.tx(*locks)

    def read_one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.database.read_one(sql, params)

    def read_all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self.database.read_all(sql, params)

    def close(self) -> None:
        self.database.close()

    def check(self, now: datetime) -> None:
        """Raise StoreError unless the database answers and accepts a write (``/health``)."""
        # a row written, not updated: an equal update may write nothing. Under a lock: two
        # hosts' checks at once would otherwise both delete nothing and insert id 1
        with self.tx("health") as db:
            db.execute("DELETE FROM health")
            db.execute("INSERT INTO health (id, at) VALUES (1, ?)", (iso(now),))

    # -- calls --------------------------------------------------------------------------
    def load_call(self, call_sid: str, now: datetime) -> StoredCall | None:
        """The call as stored, or None when unknown."""
        row = self.read_one("SELECT state, updated_at, ended_at, turn, menu_version FROM calls "
                            "WHERE call_sid=?", (call_sid,))
        if row is None:
            return None
        fresh = now - parse_iso(row["updated_at"]) <= self.state_ttl
        # the turn is the row's (a claim moves it on without rewriting the state)
        state = CallState.from_json({**json.loads(row["state"]), "turn": row["turn"]}) \
            if fresh else None
        return StoredCall(state, row["turn"], row["ended_at"] is not None, row["menu_version"])

    def get_call(self, call_sid: str, now: datetime) -> CallState | None:
        """The call's state, or None when unknown or expired."""
        stored = self.load_call(call_sid, now)
        return stored.state if stored else None

    def begin_call(self, state: CallState, now: datetime, version: str | None = None,
                   menu_file: str | None = None, caller_key: str | None = None) -> bool:
        """Keep a new call at turn ``state.turn``, run on the tree ``version`` (read from
        ``menu_file``), its caller known by ``caller_key`` (``ivr.records.known``); False
        when the CallSid is already known."""
        self._sweep(now)
        with self.tx() as db:
            return bool(db.execute(
                "INSERT INTO calls (call_sid, from_number, to_number, started_at, updated_at, "
                "status, lang, state, turn, menu_version, menu_file, caller_key) "
                "VALUES (?, ?, ?, ?, ?, 'in-progress', ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (call_sid) DO NOTHING",
                (state.call_sid, state.from_number, state.to_number, iso(now), iso(now),
                 state.lang, json.dumps(state.to_json()), state.turn, version,
                 menu_file, caller_key)).rowcount)

    def claim(self, call_sid: str, turn: int) -> bool:
        """Take the call's next turn if it is still at ``turn`` and not ended.

        The compare-and-set that serialises concurrent requests of one call: of several
        requests for the same turn exactly one runs its step; the others change nothing.
        """
        with self.tx() as db:
            return bool(db.execute(
                "UPDATE calls SET turn=turn+1 WHERE call_sid=? AND turn=? AND ended_at IS NULL",
                (call_sid, turn)).rowcount)

    def save_step(self, step: Step, now: datetime, node: str, *, claimed: bool = True,
                  version: str | None = None, menu_file: str | None = None,
                  caller_key: str | None = None) -> bool:
        """Keep the call's new state and log the step (input masked by the flow); whether
        it was kept.

        ``claimed``: the step's turn was taken before it ran (``claim``, ``begin_call``),
        and it is kept only while the call is still at that turn. Otherwise the turn is
        taken here, in the same transaction: the step is kept only if the call is new (run
        on the tree ``version`` from ``menu_file``, its caller known by ``caller_key``), or
        still at the turn before the state's and not ended. A step that lost its turn to a
        concurrent one is not kept.
        """
        if not claimed and step.state.turn == 1:  # a new call, as begin_call does
            self._sweep(now)
        state = step.state
        details = {k: v for k, v in state.data.items()
                   if k in ("transaction_date", "amount", "ticket", "recording_url", "unverified")}
        outcome = (f"enqueue:{step.enqueue}" if step.enqueue else "hangup" if step.hangup
                   else f"ask:{step.ask.node}" if step.ask else "")
        at_turn = ("calls.turn=excluded.turn" if claimed else
                   "calls.turn=excluded.turn-1 AND calls.ended_at IS NULL")
        # every value made before the transaction: a worker's threads write one at a time
        at = iso(now)
        call = (state.call_sid, state.from_number, state.to_number, at, at, state.lang,
                state.node, int(state.verified), state.account[-4:] if state.account else None,
                state.issue, state.queue, json.dumps(details), json.dumps(state.to_json()),
                state.turn, version, menu_file, caller_key)
        event = (state.call_sid, at, node, step.logged_input, " ".join(u.key for u in step.say),
                 outcome, step.choice, " ".join(step.walked), int(step.fell_back),
                 json.dumps(step.heard.to_json()) if step.heard else None,
                 " ".join(map(str, step.notices)) or None)
        with self.tx() as db:
            kept = db.execute(
                f"""INSERT INTO calls (call_sid, from_number, to_number, started_at, updated_at,
                       status, lang, node, verified, account_last4, issue, queue, details, state,
                       turn, menu_version, menu_file, caller_key)
                   VALUES (?, ?, ?, ?, ?, 'in-progress', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (call_sid) DO UPDATE SET updated_at=excluded.updated_at,
                       lang=excluded.lang, node=excluded.node, verified=excluded.verified,
                       account_last4=excluded.account_last4, issue=excluded.issue,
                       queue=excluded.queue, details=excluded.details, state=excluded.state,
                       turn=excluded.turn
                   WHERE {at_turn}""", call).rowcount
            if kept:
                db.execute("INSERT INTO call_events (call_sid, at, node, input, said, outcome, "
                           "choice, walked, fell_back, heard, notices) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", event)
        if not kept and claimed:
            log.warning("call %s: a step lost its turn to a concurrent one", state.call_sid)
        return bool(kept)

    def end_call(self, call_sid: str, status: str, duration_s: int | None, now: datetime) -> None:
        """Twilio's status callback: the call is over, accepts no further steps, and its
        state keeps nothing ``PERSONAL``."""
        with self.tx() as db:
            db.execute(f"UPDATE calls SET ended_at=COALESCE(ended_at, ?), status=?, "
                       f"duration_s=COALESCE(?, duration_s), state={self._scrubbed} "
                       f"WHERE call_sid=?", (iso(now), status, duration_s, call_sid))

    def _sweep(self, now: datetime) -> None:
        """Scrub the states that expired without Twilio reporting the call's end (no status
        callback configured, or it failed): no step reads them again. Each row once; one
        host at a time (two sweeps locking the same rows in another order would deadlock)."""
        if self._swept_at is not None and now - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = now
        with self.tx("calls:sweep") as db:
            db.execute(f"UPDATE calls SET state={self._scrubbed} WHERE ended_at IS NULL "
                       f"AND updated_at < ? AND {self._unscrubbed}",
                       (iso(now - self.state_ttl),))

    def set_queue_result(self, call_sid: str, result: str) -> None:
        with self.tx() as db:
            db.execute("UPDATE calls SET queue_result=? WHERE call_sid=?", (result, call_sid))

    def call(self, call_sid: str) -> dict[str, Any] | None:
        """The call's record as an agent would see it (no PINs, account masked), with who
        answered it, when, after how long a wait and for how long (``ivr.records.live``),
        and the caller's verdict after it (``ivr.records.csat``)."""
        row = self.read_one(
            "SELECT call_sid, from_number, to_number, started_at, ended_at, status, lang, "
            "node, verified, account_last4, issue, queue, queue_result, details, "
            "menu_version, menu_file, agent, bridged_at, wait_s, talk_s, csat_score, "
            "csat_comment_url, csat_comment_s FROM calls "
            "WHERE call_sid=?", (call_sid,))
        if row is None:
            return None
        record = dict(row)
        record["verified"] = bool(record["verified"])
        record["details"] = json.loads(record["details"] or "{}")
        return record

    # -- callbacks ----------------------------------------------------------------------
    def add_callback(self, *, number: str, account: str | None, queue: str, issue: str | None,
                     window_start: datetime | None, window_end: datetime | None,
                     call_sid: str, now: datetime, max_per_day: int = 3) -> int | None:
        """Keep a requested callback for the agents; None when the number's daily cap is hit.

        One pending callback per number and queue: a new request updates it (the account
        only when verified, unverified requests marked as such). At most ``max_per_day``
        new callbacks per number in 24 hours, so a spoofed number cannot flood the agents.
        """
        values = (account, issue, iso(window_start) if window_start else None,
                  iso(window_end) if window_end else None, call_sid, int(account is not None))
        with self.tx(f"callbacks:{number}") as db:
            pending = db.execute("SELECT id FROM callbacks WHERE number=? AND queue=? "
                                 "AND status='pending'", (number, queue)).fetchone()
            # still pending as it is updated: an agent may mark it done meanwhile (the
            # console locks the callback, not the number), and then a new one is booked
            if pending and db.execute(
                    "UPDATE callbacks SET account=COALESCE(?, account), issue=?, "
                    "window_start=?, window_end=?, call_sid=?, "
                    "verified=CASE WHEN verified > ? THEN verified ELSE ? END, "
                    "requests=requests+1 WHERE id=? AND status='pending'",
                    (*values, values[-1], pending["id"])).rowcount:
                return int(pending["id"])
            booked = db.execute("SELECT COUNT(*) FROM callbacks WHERE number=? AND created_at>?",
                                (number, iso(now - timedelta(days=1)))).fetchone()[0]
            if booked >= max_per_day:
                log.warning("callback refused: %d already booked today for one number", booked)
                return None
            return int(db.execute(
                "INSERT INTO callbacks (created_at, number, queue, account, issue, "
                "window_start, window_end, call_sid, verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING id", (iso(now), number, queue, *values)).fetchone()[0])

    def pending_callbacks(self) -> list[dict[str, Any]]:
        """Callbacks not yet made, earliest requested window first."""
        rows = self.read_all(
            "SELECT id, created_at, number, account, queue, issue, window_start, "
            "window_end, call_sid, verified, requests FROM callbacks WHERE status='pending' "
            "ORDER BY COALESCE(window_start, created_at), id")
        return [{**dict(r), "verified": bool(r["verified"])} for r in rows]

    def events(self, call_sid: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT call_sid, at, node, input, said, outcome, choice, walked, fell_back, "
               "heard, notices FROM call_events")
        rows = (self.read_all(sql + " WHERE call_sid=? ORDER BY id", (call_sid,))
                if call_sid else self.read_all(sql + " ORDER BY id"))
        return [dict(r) for r in rows]
