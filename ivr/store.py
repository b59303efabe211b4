"""The embedded database: SQLite in WAL mode, created on first use.

Holds calls (state keyed by CallSid, so any worker serves any step), per-step call events
(input already masked by the flow), the PIN lockout book, and the demo wallet backend.
One connection per thread; every write is its own short transaction.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ivr.call import CallState, Step
from ivr.errors import StoreError

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_sid TEXT PRIMARY KEY, from_number TEXT, to_number TEXT,
    started_at TEXT NOT NULL, updated_at TEXT NOT NULL, ended_at TEXT, status TEXT,
    duration_s INTEGER, lang TEXT, node TEXT, verified INTEGER NOT NULL DEFAULT 0,
    account_last4 TEXT, issue TEXT, queue TEXT, queue_result TEXT, details TEXT,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS call_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, call_sid TEXT NOT NULL, at TEXT NOT NULL,
    node TEXT, input TEXT, said TEXT, outcome TEXT
);
CREATE INDEX IF NOT EXISTS call_events_sid ON call_events (call_sid, id);
CREATE TABLE IF NOT EXISTS pin_failures (account TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS pin_failures_account ON pin_failures (account, at);
CREATE TABLE IF NOT EXISTS lockouts (account TEXT PRIMARY KEY, until TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    number TEXT PRIMARY KEY, phone TEXT, pin_hash TEXT NOT NULL, status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS accounts_phone ON accounts (phone);
CREATE TABLE IF NOT EXISTS transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, kind TEXT NOT NULL,
    amount TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tickets (
    number TEXT PRIMARY KEY, account TEXT, call_sid TEXT, recording_url TEXT,
    details TEXT, status TEXT NOT NULL, created_at TEXT NOT NULL, reply_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, number TEXT NOT NULL,
    account TEXT, queue TEXT NOT NULL, issue TEXT, window_start TEXT,
    window_end TEXT, call_sid TEXT, status TEXT NOT NULL DEFAULT 'pending'
);
"""


def iso(moment: datetime) -> str:
    """Datetimes are stored as ISO-8601 in UTC, so they sort as text."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Store:
    """The SQLite database at ``path``; safe to share between threads."""

    def __init__(self, path: Path | str, state_ttl_s: int = 4 * 3600) -> None:
        self.path = Path(path)
        self.state_ttl = timedelta(seconds=state_ttl_s)
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db.executescript(SCHEMA)  # runs in its own transaction
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection; a new one after a fork (gunicorn forks its workers
        after the app is built, and SQLite connections must not cross a fork)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction (BEGIN IMMEDIATE avoids upgrade deadlocks)."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- calls --------------------------------------------------------------------------
    def get_call(self, call_sid: str, now: datetime) -> CallState | None:
        """The call's state, or None when unknown or expired."""
        row = self.db.execute("SELECT state, updated_at, ended_at FROM calls WHERE call_sid=?",
                              (call_sid,)).fetchone()
        if row is None or now - parse_iso(row["updated_at"]) > self.state_ttl:
            return None
        return CallState.from_json(json.loads(row["state"]))

    def save_step(self, step: Step, now: datetime, node: str) -> None:
        """Keep the call's new state and log the step (input masked by the flow)."""
        state = step.state
        details = {k: v for k, v in state.data.items()
                   if k in ("transaction_date", "amount", "ticket", "recording_url", "unverified")}
        outcome = (f"enqueue:{step.enqueue}" if step.enqueue else "hangup" if step.hangup
                   else f"ask:{step.ask.node}" if step.ask else "")
        with self.tx() as db:
            db.execute(
                """INSERT INTO calls (call_sid, from_number, to_number, started_at, updated_at,
                       status, lang, node, verified, account_last4, issue, queue, details, state)
                   VALUES (?, ?, ?, ?, ?, 'in-progress', ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (call_sid) DO UPDATE SET updated_at=excluded.updated_at,
                       lang=excluded.lang, node=excluded.node, verified=excluded.verified,
                       account_last4=excluded.account_last4, issue=excluded.issue,
                       queue=excluded.queue, details=excluded.details, state=excluded.state""",
                (state.call_sid, state.from_number, state.to_number, iso(now), iso(now),
                 state.lang, state.node, int(state.verified),
                 state.account[-4:] if state.account else None, state.issue, state.queue,
                 json.dumps(details), json.dumps(state.to_json())))
            db.execute(
                "INSERT INTO call_events (call_sid, at, node, input, said, outcome) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (state.call_sid, iso(now), node, step.logged_input,
                 " ".join(u.key for u in step.say), outcome))

    def end_call(self, call_sid: str, status: str, duration_s: int | None, now: datetime) -> None:
        with self.tx() as db:
            db.execute("UPDATE calls SET ended_at=?, status=?, duration_s=? WHERE call_sid=?",
                       (iso(now), status, duration_s, call_sid))

    def set_queue_result(self, call_sid: str, result: str) -> None:
        with self.tx() as db:
            db.execute("UPDATE calls SET queue_result=? WHERE call_sid=?", (result, call_sid))

    def call(self, call_sid: str) -> dict[str, Any] | None:
        """The call's record as an agent would see it (no PINs, account masked)."""
        row = self.db.execute(
            "SELECT call_sid, from_number, to_number, started_at, ended_at, status, lang, "
            "node, verified, account_last4, issue, queue, queue_result, details "
            "FROM calls WHERE call_sid=?", (call_sid,)).fetchone()
        if row is None:
            return None
        record = dict(row)
        record["verified"] = bool(record["verified"])
        record["details"] = json.loads(record["details"] or "{}")
        return record

    def add_callback(self, *, number: str, account: str | None, queue: str, issue: str | None,
                     window_start: datetime | None, window_end: datetime | None,
                     call_sid: str, now: datetime) -> int:
        """Keep a requested callback for the agents: the account only when verified."""
        with self.tx() as db:
            cursor = db.execute(
                "INSERT INTO callbacks (created_at, number, account, queue, issue, "
                "window_start, window_end, call_sid) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (iso(now), number, account, queue, issue,
                 iso(window_start) if window_start else None,
                 iso(window_end) if window_end else None, call_sid))
        return int(cursor.lastrowid or 0)

    def pending_callbacks(self) -> list[dict[str, Any]]:
        """Callbacks not yet made, earliest requested window first."""
        rows = self.db.execute(
            "SELECT id, created_at, number, account, queue, issue, window_start, "
            "window_end, call_sid FROM callbacks WHERE status='pending' "
            "ORDER BY COALESCE(window_start, created_at), id")
        return [dict(r) for r in rows]

    def events(self, call_sid: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT call_sid, at, node, input, said, outcome FROM call_events"
        rows = (self.db.execute(sql + " WHERE call_sid=? ORDER BY id", (call_sid,))
                if call_sid else self.db.execute(sql + " ORDER BY id"))
        return [dict(r) for r in rows]
