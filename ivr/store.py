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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
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
    state TEXT NOT NULL, turn INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS call_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, call_sid TEXT NOT NULL, at TEXT NOT NULL,
    node TEXT, input TEXT, said TEXT, outcome TEXT
);
CREATE INDEX IF NOT EXISTS call_events_sid ON call_events (call_sid, id);
-- calls whose end Twilio has not reported: the ones an expired state is scrubbed from
CREATE INDEX IF NOT EXISTS calls_open ON calls (updated_at) WHERE ended_at IS NULL;
-- the lockout book (ivr.lockouts): keyed hashes of accounts and caller IDs, never the
-- numbers; a check is 'pending' from before its PIN is hashed until it is settled
CREATE TABLE IF NOT EXISTS pin_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, account_key TEXT NOT NULL,
    caller_key TEXT NOT NULL, at TEXT NOT NULL, outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pin_attempts_account ON pin_attempts (account_key, at);
CREATE INDEX IF NOT EXISTS pin_attempts_caller ON pin_attempts (caller_key, at);
CREATE INDEX IF NOT EXISTS pin_attempts_at ON pin_attempts (at);
CREATE TABLE IF NOT EXISTS pin_locks (
    key TEXT PRIMARY KEY, counted_from TEXT NOT NULL, locks INTEGER NOT NULL DEFAULT 0,
    last_success TEXT, locked_until TEXT
);
-- earlier releases kept full account numbers (and mistyped PINs) here
DROP TABLE IF EXISTS pin_failures;
DROP TABLE IF EXISTS lockouts;
CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY, at TEXT NOT NULL);
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
CREATE INDEX IF NOT EXISTS tickets_call ON tickets (call_sid);
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, number TEXT NOT NULL,
    account TEXT, queue TEXT NOT NULL, issue TEXT, window_start TEXT,
    window_end TEXT, call_sid TEXT, status TEXT NOT NULL DEFAULT 'pending',
    verified INTEGER NOT NULL DEFAULT 0, requests INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS callbacks_number ON callbacks (number, created_at);
-- the console's users and the agents' roster (ivr.users): scrypt hashes, never a password
-- or a PIN; an agent calls from ``phone`` or types ``code`` and a PIN, and takes ``queues``
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,
    queues TEXT NOT NULL DEFAULT '', phone TEXT, code TEXT UNIQUE, pin_hash TEXT,
    created_at TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS users_phone ON users (phone);
-- the agents' calls to /agent/voice (ivr.agents): which agent, their language, failed
-- tries, the code typed until its PIN is checked, the caller they took
CREATE TABLE IF NOT EXISTS agent_calls (
    call_sid TEXT PRIMARY KEY, agent TEXT, lang TEXT NOT NULL, code TEXT,
    tries INTEGER NOT NULL DEFAULT 0, caller_sid TEXT,
    started_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_calls_agent ON agent_calls (agent, updated_at);
-- every change made in the console: who, what, when
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, user TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT, detail TEXT
);
-- failed console log-ins, by a keyed hash of the name and of the address, for throttling
CREATE TABLE IF NOT EXISTS login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at);
"""

#: columns added since the first release: (table, column, definition)
ADDED_COLUMNS = (
    ("calls", "turn", "INTEGER NOT NULL DEFAULT 0"),
    ("callbacks", "verified", "INTEGER NOT NULL DEFAULT 0"),
    ("callbacks", "requests", "INTEGER NOT NULL DEFAULT 1"),
    # what ``ivr report`` reads: the tree a call ran on, and what each step's input meant
    ("calls", "menu_version", "TEXT"),
    ("calls", "menu_file", "TEXT"),
    ("call_events", "choice", "TEXT"),
    ("call_events", "walked", "TEXT"),
    ("call_events", "fell_back", "INTEGER NOT NULL DEFAULT 0"),
    # the agents' end: who answered, when, after how long a wait, for how long
    ("calls", "agent", "TEXT"),
    ("calls", "bridged_at", "TEXT"),
    ("calls", "wait_s", "INTEGER"),
    ("calls", "talk_s", "INTEGER"),
    # the console: a callback made or failed, a complaint ticket closed, by whom and why
    ("callbacks", "done_at", "TEXT"),
    ("callbacks", "done_by", "TEXT"),
    ("callbacks", "note", "TEXT"),
    ("tickets", "closed_at", "TEXT"),
    ("tickets", "closed_by", "TEXT"),
    ("tickets", "note", "TEXT"),
)


#: what a call's state holds that the call needs only while it lasts: the account typed,
#: the one registered to the caller ID, the verified one, and the self-service answers
#: spoken (top-up amounts and dates). Scrubbed when the call ends or its state expires.
PERSONAL = ("$.account", "$.data.account", "$.data.candidate", "$.replay")
_SCRUBBED = "json_remove(state, " + ", ".join(f"'{p}'" for p in PERSONAL) + ")"
_UNSCRUBBED = " OR ".join(f"json_type(state, '{p}') IS NOT NULL" for p in PERSONAL)
#: how often a process looks for expired states to scrub (when a call begins)
SWEEP_EVERY = timedelta(minutes=10)


def iso(moment: datetime) -> str:
    """Datetimes are stored as ISO-8601 in UTC, so they sort as text."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


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
    """The SQLite database at ``path``; safe to share between threads.

    A connection that errs is dropped and a new one opened on the next use: a connection
    opened while the file was read-only stays read-only after the file is restored.
    """

    def __init__(self, path: Path | str, state_ttl_s: int = 4 * 3600) -> None:
        if "://" in str(path):  # a URL taken for a path would make a folder "postgresql:"
            raise StoreError(f"{path} is a URL, not a SQLite file path")
        self.path = Path(path)
        self.state_ttl = timedelta(seconds=state_ttl_s)
        self._local = threading.local()
        self._swept_at: datetime | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._create_schema()
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc

    def _create_schema(self, patience_s: float = 30.0) -> None:
        """Create the tables and add new columns, in one ``BEGIN IMMEDIATE`` transaction.

        Several processes may open one new file at the same moment (two ``ivr serve``,
        each seeding the demo). Writers queue for the lock within the busy timeout, but
        SQLite answers "database is locked" at once, without waiting, where waiting could
        deadlock: switching a new file to WAL, or a reader of the schema upgrading to a
        writer. Those are retried here until ``patience_s`` has passed.
        """
        deadline = time.monotonic() + patience_s
        pause_s = 0.01
        while True:
            try:
                db = self.db  # a new connection switches the file to WAL
                db.executescript("BEGIN IMMEDIATE;" + SCHEMA)  # the transaction stays open
                try:
                    for table, column, definition in ADDED_COLUMNS:
                        have = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
                        if column not in have:
                            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
                    db.execute("COMMIT")
                except BaseException:
                    try:
                        db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass  # the failure that got us here is the one to report
                    raise
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() + pause_s > deadline:
                    raise
                self.close()  # a fresh connection for the next try
                time.sleep(pause_s)
                pause_s = min(pause_s * 2, 0.5)

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection; a new one after a fork (gunicorn forks its workers
        after the app is built, and SQLite connections must not cross a fork) or a failure."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            if self.path.exists() and not os.access(self.path, os.W_OK):
                # SQLite would quietly open it read-only, and stay so once it is writable
                raise sqlite3.OperationalError("the database file is not writable")
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _failed(self, exc: sqlite3.Error) -> StoreError:
        """Drop this thread's connection, so the next use opens a fresh one."""
        log.error("database %s failed: %s", self.path, exc)
        self.close()
        return StoreError(f"the database {self.path} failed: {exc}")

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction (BEGIN IMMEDIATE avoids upgrade deadlocks)."""
        try:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
        try:
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the failure that got us here is the one to report
            if isinstance(exc, sqlite3.Error):
                raise self._failed(exc) from exc
            raise

    def read_one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        try:
            row: sqlite3.Row | None = self.db.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
        return row

    def read_all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:  # pragma: no cover - closing a broken connection
                pass
            self._local.conn = None

    def check(self, now: datetime) -> None:
        """Raise StoreError unless the database answers and accepts a write (``/health``)."""
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO health (id, at) VALUES (1, ?)", (iso(now),))

    # -- calls --------------------------------------------------------------------------
    def load_call(self, call_sid: str, now: datetime) -> StoredCall | None:
        """The call as stored, or None when unknown."""
        row = self.read_one("SELECT state, updated_at, ended_at, turn, menu_version FROM calls "
                            "WHERE call_sid=?", (call_sid,))
        if row is None:
            return None
        fresh = now - parse_iso(row["updated_at"]) <= self.state_ttl
        state = CallState.from_json(json.loads(row["state"])) if fresh else None
        if state is not None:
            state = replace(state, turn=row["turn"])
        return StoredCall(state, row["turn"], row["ended_at"] is not None, row["menu_version"])

    def get_call(self, call_sid: str, now: datetime) -> CallState | None:
        """The call's state, or None when unknown or expired."""
        stored = self.load_call(call_sid, now)
        return stored.state if stored else None

    def begin_call(self, state: CallState, now: datetime, version: str | None = None,
                   menu_file: str | None = None) -> bool:
        """Keep a new call at turn ``state.turn``, run on the tree ``version`` (read from
        ``menu_file``); False when the CallSid is already known."""
        with self.tx() as db:
            self._sweep(db, now)
            return bool(db.execute(
                "INSERT INTO calls (call_sid, from_number, to_number, started_at, updated_at, "
                "status, lang, state, turn, menu_version, menu_file) "
                "VALUES (?, ?, ?, ?, ?, 'in-progress', ?, ?, ?, ?, ?) "
                "ON CONFLICT (call_sid) DO NOTHING",
                (state.call_sid, state.from_number, state.to_number, iso(now), iso(now),
                 state.lang, json.dumps(state.to_json()), state.turn, version,
                 menu_file)).rowcount)

    def claim(self, call_sid: str, turn: int) -> bool:
        """Take the call's next turn if it is still at ``turn`` and not ended.

        The compare-and-set that serialises concurrent requests of one call: of several
        requests for the same turn exactly one runs its step; the others change nothing.
        """
        with self.tx() as db:
            return bool(db.execute(
                "UPDATE calls SET turn=turn+1 WHERE call_sid=? AND turn=? AND ended_at IS NULL",
                (call_sid, turn)).rowcount)

    def save_step(self, step: Step, now: datetime, node: str) -> None:
        """Keep the call's new state and log the step (input masked by the flow).

        Only while the call is still at the state's turn: a step that lost its turn to a
        concurrent one is not kept.
        """
        state = step.state
        details = {k: v for k, v in state.data.items()
                   if k in ("transaction_date", "amount", "ticket", "recording_url", "unverified")}
        outcome = (f"enqueue:{step.enqueue}" if step.enqueue else "hangup" if step.hangup
                   else f"ask:{step.ask.node}" if step.ask else "")
        with self.tx() as db:
            kept = db.execute(
                """INSERT INTO calls (call_sid, from_number, to_number, started_at, updated_at,
                       status, lang, node, verified, account_last4, issue, queue, details, state,
                       turn)
                   VALUES (?, ?, ?, ?, ?, 'in-progress', ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (call_sid) DO UPDATE SET updated_at=excluded.updated_at,
                       lang=excluded.lang, node=excluded.node, verified=excluded.verified,
                       account_last4=excluded.account_last4, issue=excluded.issue,
                       queue=excluded.queue, details=excluded.details, state=excluded.state
                   WHERE calls.turn=excluded.turn""",
                (state.call_sid, state.from_number, state.to_number, iso(now), iso(now),
                 state.lang, state.node, int(state.verified),
                 state.account[-4:] if state.account else None, state.issue, state.queue,
                 json.dumps(details), json.dumps(state.to_json()), state.turn)).rowcount
            if not kept:
                log.warning("call %s: a step lost its turn to a concurrent one", state.call_sid)
                return
            db.execute(
                "INSERT INTO call_events (call_sid, at, node, input, said, outcome, choice, "
                "walked, fell_back) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (state.call_sid, iso(now), node, step.logged_input,
                 " ".join(u.key for u in step.say), outcome, step.choice,
                 " ".join(step.walked), int(step.fell_back)))

    def end_call(self, call_sid: str, status: str, duration_s: int | None, now: datetime) -> None:
        """Twilio's status callback: the call is over, accepts no further steps, and its
        state keeps nothing ``PERSONAL``."""
        with self.tx() as db:
            db.execute(f"UPDATE calls SET ended_at=COALESCE(ended_at, ?), status=?, "
                       f"duration_s=COALESCE(?, duration_s), state={_SCRUBBED} "
                       f"WHERE call_sid=?", (iso(now), status, duration_s, call_sid))

    def _sweep(self, db: sqlite3.Connection, now: datetime) -> None:
        """Scrub the states that expired without Twilio reporting the call's end (no status
        callback configured, or it failed): no step reads them again. Each row once."""
        if self._swept_at is not None and now - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = now
        db.execute(f"UPDATE calls SET state={_SCRUBBED} WHERE ended_at IS NULL "
                   f"AND updated_at < ? AND ({_UNSCRUBBED})", (iso(now - self.state_ttl),))

    def set_queue_result(self, call_sid: str, result: str) -> None:
        with self.tx() as db:
            db.execute("UPDATE calls SET queue_result=? WHERE call_sid=?", (result, call_sid))

    def call(self, call_sid: str) -> dict[str, Any] | None:
        """The call's record as an agent would see it (no PINs, account masked), with who
        answered it, when, after how long a wait and for how long (``ivr.live``)."""
        row = self.read_one(
            "SELECT call_sid, from_number, to_number, started_at, ended_at, status, lang, "
            "node, verified, account_last4, issue, queue, queue_result, details, "
            "menu_version, menu_file, agent, bridged_at, wait_s, talk_s FROM calls "
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
        with self.tx() as db:
            pending = db.execute("SELECT id FROM callbacks WHERE number=? AND queue=? "
                                 "AND status='pending'", (number, queue)).fetchone()
            if pending:
                db.execute("UPDATE callbacks SET account=COALESCE(?, account), issue=?, "
                           "window_start=?, window_end=?, call_sid=?, "
                           "verified=MAX(verified, ?), requests=requests+1 WHERE id=?",
                           (*values, pending["id"]))
                return int(pending["id"])
            booked = db.execute("SELECT COUNT(*) FROM callbacks WHERE number=? AND created_at>?",
                                (number, iso(now - timedelta(days=1)))).fetchone()[0]
            if booked >= max_per_day:
                log.warning("callback refused: %d already booked today for one number", booked)
                return None
            cursor = db.execute(
                "INSERT INTO callbacks (created_at, number, queue, account, issue, "
                "window_start, window_end, call_sid, verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (iso(now), number, queue, *values))
        return int(cursor.lastrowid or 0)

    def pending_callbacks(self) -> list[dict[str, Any]]:
        """Callbacks not yet made, earliest requested window first."""
        rows = self.read_all(
            "SELECT id, created_at, number, account, queue, issue, window_start, "
            "window_end, call_sid, verified, requests FROM callbacks WHERE status='pending' "
            "ORDER BY COALESCE(window_start, created_at), id")
        return [{**dict(r), "verified": bool(r["verified"])} for r in rows]

    def events(self, call_sid: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT call_sid, at, node, input, said, outcome, choice, walked, fell_back "
               "FROM call_events")
        rows = (self.read_all(sql + " WHERE call_sid=? ORDER BY id", (call_sid,))
                if call_sid else self.read_all(sql + " ORDER BY id"))
        return [dict(r) for r in rows]
