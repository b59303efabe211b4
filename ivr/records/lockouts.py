"""The PIN lockout book: whether a PIN may be checked now, kept in the database so that it
holds across calls, workers, hosts and restarts.

Every PIN check is *reserved* before the PIN is hashed, in the same transaction that
counts the failures and reads the locks, and a reservation counts as a failure until it
is settled. So however many calls guess at once, at most ``max_failures`` PINs of one
account are ever checked before it locks, and a check whose result could not be recorded
(a crash, a failing disk) stays counted: the book fails closed.

Neither PINs nor account numbers nor caller IDs are stored here: accounts and callers are
keyed by an HMAC with the server's secret, so the table alone does not say who called or
which accounts exist. The policy and its reasons are in the README's security section.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ivr.flow.services import Lock, mask
from ivr.records.database import Database, Tx
from ivr.records.store import Store, iso, parse_iso

log = logging.getLogger(__name__)

#: ``locked_until`` of a lock only support can clear (the hard limit)
UNTIL_CLEARED = "support"
#: how long a reservation waits for the checks in flight of the same account (2 s)
IN_FLIGHT_WAITS, IN_FLIGHT_WAIT_S = 40, 0.05


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """How many wrong PINs lock what, for how long (settings ``LOCKOUT_*``)."""

    max_failures: int = 5  # wrong PINs of one account in a window lock it
    window_s: int = 24 * 3600
    lock_s: int = 30 * 60  # the first lock; each further lock before a success doubles
    max_lock_s: int = 24 * 3600
    #: consecutive wrong PINs since the last success that lock until support clears it
    #: (NIST SP 800-63B 5.2.2: no more than 100 consecutive failed attempts)
    hard_limit: int = 100
    caller_failures: int = 10  # wrong PINs from one caller ID, over all accounts
    alert_failures: int = 50  # wrong PINs over all accounts within alert_window_s: a warning
    alert_window_s: int = 600


#: what the key's fingerprint is an HMAC of: it says which key, and nothing of the key
FINGERPRINT_LABEL = b"ivr: which SECRET_KEY keys the lockout book"


def fingerprint(secret: str | bytes) -> str:
    """A fingerprint of a SECRET_KEY, kept in the database (``keyed_with``)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:32]


def key_problem(db: Database, secret: str | None) -> str | None:
    """Why ``secret`` may not be the key the server keys its hashes with (None when it
    is, or when no server of this release has recorded one). With another key a locked
    account reads as not locked: a support command refuses rather than say so."""
    recorded = db.read_one("SELECT fingerprint FROM keyed_with WHERE id=1") \
        if "keyed_with" in db.tables() else None
    if recorded is None:
        return None if secret else (f"SECRET_KEY is not set and none is kept beside "
                                    f"{db.where}: set IVR_SECRET_KEY to the server's")
    if secret and hmac.compare_digest(fingerprint(secret), str(recorded[0])):
        return None
    if not secret:
        return (f"SECRET_KEY is not set: the lockouts in {db.where} were keyed with the "
                "server's; set IVR_SECRET_KEY to it")
    return (f"the lockouts in {db.where} were keyed with another SECRET_KEY: set "
            "IVR_SECRET_KEY to the server's")


def keyed(secret: bytes, kind: str, value: str) -> str:
    """``kind:`` + a keyed hash of ``value``: stable for one SECRET_KEY, not reversible, and
    no two kinds alike (the lockout book's accounts and callers, ``ivr.records.known``'s
    numbers)."""
    digest = hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256)
    return f"{kind}:{digest.hexdigest()[:32]}"


class StoreLockouts:
    """The lockout book in the store (``pin_attempts`` and ``pin_locks``), on either database."""

    def __init__(self, store: Store, secret: str, policy: LockoutPolicy = LockoutPolicy()) -> None:
        self.store, self.policy = store, policy
        self._secret = secret.encode()

    def key(self, kind: str, value: str) -> str:
        """``a:``/``c:`` + a keyed hash of an account or a caller ID: stable, not reversible."""
        return keyed(self._secret, kind, value)

    def _keys(self, account: str, caller: str) -> tuple[str, str]:
        return self.key("a", account), self.key("c", caller or "anonymous")

    def locked(self, account: str, caller: str, now: datetime) -> Lock | None:
        """The lock on this account or this caller now, if any (read only)."""
        account_key, caller_key = self._keys(account, caller)
        for key in (account_key, caller_key):
            lock = self._lock_of(self.store.read_one(
                "SELECT locked_until FROM pin_locks WHERE key=?", (key,)), now, key)
            if lock:
                return lock
        return None

    def reserve(self, account: str, caller: str, now: datetime) -> int | Lock:
        """Reserve one PIN check: its id, or the lock that refuses it. Before hashing.

        When only checks still in flight fill the allowance, wait for them to settle
        (a few scrypt checks) rather than refuse: they may be right. Should they not settle
        in time, refuse without a lock (``in_flight``): none is stored to be told of.
        """
        for _ in range(IN_FLIGHT_WAITS):
            reserved = self._reserve(account, caller, now)
            if reserved is not None:
                return reserved
            time.sleep(IN_FLIGHT_WAIT_S)
        return Lock(None, in_flight=True)

    def _reserve(self, account: str, caller: str, now: datetime) -> int | Lock | None:
        account_key, caller_key = self._keys(account, caller)
        with self.store.tx(account_key, caller_key) as db:
            for key, limit in ((account_key, self.policy.max_failures),
                               (caller_key, self.policy.caller_failures)):
                row = db.execute("SELECT locked_until, counted_from FROM pin_locks WHERE key=?",
                                 (key,)).fetchone()
                lock = self._lock_of(row, now, key)
                if lock:
                    return lock
                if self._failures(db, key, row, now) >= limit:
                    return None  # checks in flight fill the allowance: wait for them
            return int(db.execute(
                "INSERT INTO pin_attempts (account_key, caller_key, at, outcome) "
                "VALUES (?, ?, ?, 'pending') RETURNING id",
                (account_key, caller_key, iso(now))).fetchone()[0])

    def settle(self, attempt: int, right: bool, now: datetime) -> Lock | None:
        """Record the checked PIN. A lock means: do not verify, even when it was right."""
        keys = self.store.read_one("SELECT account_key, caller_key FROM pin_attempts "
                                   "WHERE id=?", (attempt,))
        account_key, caller_key = keys["account_key"], keys["caller_key"]
        with self.store.tx(account_key, caller_key, "g:alert") as db:
            if right:
                lock = self._lock_of(db.execute(
                    "SELECT locked_until FROM pin_locks WHERE key=?", (account_key,)).fetchone(),
                    now, account_key)
                db.execute("UPDATE pin_attempts SET outcome=? WHERE id=?",
                           ("refused" if lock else "right", attempt))
                if lock is None:  # a success starts the count over; escalation ends
                    db.execute(
                        "INSERT INTO pin_locks (key, counted_from, locks, last_success) "
                        "VALUES (?, ?, 0, ?) ON CONFLICT (key) DO UPDATE SET "
                        "counted_from=excluded.counted_from, locks=0, "
                        "last_success=excluded.last_success, locked_until=NULL",
                        (account_key, iso(now), iso(now)))
                return lock
            db.execute("UPDATE pin_attempts SET outcome='wrong' WHERE id=?", (attempt,))
            lock = self._maybe_lock(db, account_key, self.policy.max_failures, now)
            caller_lock = self._maybe_lock(db, caller_key, self.policy.caller_failures, now)
            self._alert(db, now)
        if lock:
            log.warning("phone verification locked for an account (%s) until %s",
                        account_key, iso(lock.until) if lock.until else UNTIL_CLEARED)
        if caller_lock:
            log.warning("phone verification locked for a caller ID (%s) until %s",
                        caller_key, iso(caller_lock.until) if caller_lock.until else "-")
        return lock or caller_lock

    def record_failure(self, account: str, now: datetime, caller: str = "") -> Lock | None:
        """A wrong PIN checked elsewhere (``ivr replay`` recreating a call's lockout)."""
        attempt = self.reserve(account, caller, now)
        return attempt if isinstance(attempt, Lock) else self.settle(attempt, False, now)

    def unlock(self, account: str, now: datetime) -> tuple[bool, int]:
        """Support cleared the account after verifying the owner: the count starts over.

        Returns whether it was locked and the failed PINs that counted towards a lock,
        so that support is told, and the log says, only what was lifted (an earlier
        lock's escalation is reset all the same).
        """
        key = self.key("a", account)
        with self.store.tx(key) as db:
            row = db.execute("SELECT * FROM pin_locks WHERE key=?", (key,)).fetchone()
            locked, failures = self._lock_of(row, now, key) is not None, \
                self._failures(db, key, row, now)
            if locked or failures or (row and row["locks"]):
                db.execute(
                    "INSERT INTO pin_locks (key, counted_from, locks, last_success) "
                    "VALUES (?, ?, 0, ?) ON CONFLICT (key) DO UPDATE SET "
                    "counted_from=excluded.counted_from, locks=0, "
                    "last_success=excluded.last_success, locked_until=NULL",
                    (key, iso(now), iso(now)))
        if locked:
            log.warning("phone verification unlocked by support for account %s", mask(account))
        elif failures:
            log.warning("%d failed PINs of account %s forgotten by support", failures,
                        mask(account))
        return locked, failures

    def record_key(self, now: datetime) -> None:
        """Record which key the book is keyed with from now (a fingerprint), at the server's
        start: a support command with another key would find no lock on a locked account,
        so it compares its own first (``key_problem``) and refuses."""
        mine = fingerprint(self._secret)
        row = self.store.read_one("SELECT fingerprint FROM keyed_with WHERE id=1")
        if row is not None and hmac.compare_digest(row[0], mine):
            return
        with self.store.tx("ivr:keyed_with") as db:
            db.execute("INSERT INTO keyed_with (id, fingerprint, since) VALUES (1, ?, ?) "
                       "ON CONFLICT (id) DO UPDATE SET fingerprint=excluded.fingerprint, "
                       "since=excluded.since", (mine, iso(now)))
        if row is not None:
            log.warning("SECRET_KEY is not the key the lockout book was keyed with until now: "
                        "its locks and failed PINs no longer count (set the same "
                        "IVR_SECRET_KEY on every host and across restarts)")

    # -- the counting ---------------------------------------------------------------------
    def _lock_of(self, row: Any, now: datetime, key: str) -> Lock | None:
        until = row["locked_until"] if row else None
        if until == UNTIL_CLEARED:
            return Lock(None, key[0] == "c")
        if until and parse_iso(until) > now:
            return Lock(parse_iso(until), key[0] == "c")
        return None

    def _failures(self, db: Tx, key: str, row: Any, now: datetime) -> int:
        """Wrong and in-flight checks in the window, since the last lock ended or success."""
        since = now - timedelta(seconds=self.policy.window_s)
        counted_from = row["counted_from"] if row else None
        if counted_from and parse_iso(counted_from) > since:
            since = parse_iso(counted_from)
        column = "account_key" if key[0] == "a" else "caller_key"
        return int(db.execute(
            f"SELECT COUNT(*) FROM pin_attempts WHERE {column}=? AND at>=? "
            "AND outcome IN ('pending', 'wrong')", (key, iso(since))).fetchone()[0])

    def _maybe_lock(self, db: Tx, key: str, limit: int, now: datetime) -> Lock | None:
        row = db.execute("SELECT * FROM pin_locks WHERE key=?",
                         (key,)).fetchone()
        if self._lock_of(row, now, key) or self._failures(db, key, row, now) < limit:
            return None
        locks = row["locks"] if row else 0
        lock_s = min(self.policy.lock_s * 2 ** min(locks, 20), self.policy.max_lock_s)
        until = now + timedelta(seconds=lock_s)
        stored = iso(until)
        if key[0] == "a" and self._consecutive(db, key, row) >= self.policy.hard_limit:
            stored = UNTIL_CLEARED
        db.execute(
            "INSERT INTO pin_locks (key, counted_from, locks, locked_until) VALUES (?, ?, 1, ?) "
            "ON CONFLICT (key) DO UPDATE SET counted_from=excluded.counted_from, "
            "locks=pin_locks.locks+1, locked_until=excluded.locked_until",
            (key, iso(until), stored))  # after the lock, the count starts over
        return Lock(None if stored == UNTIL_CLEARED else until, key[0] == "c")

    def _consecutive(self, db: Tx, key: str, row: Any) -> int:
        last = row["last_success"] if row else None
        return int(db.execute(
            "SELECT COUNT(*) FROM pin_attempts WHERE account_key=? AND at>=? "
            "AND outcome IN ('pending', 'wrong')", (key, last or "")).fetchone()[0])

    def _alert(self, db: Tx, now: datetime) -> None:
        """A sudden rise of wrong PINs over all accounts: warn, at most once a window."""
        window = timedelta(seconds=self.policy.alert_window_s)
        count = db.execute(
            "SELECT COUNT(*) FROM pin_attempts WHERE at>=? AND outcome='wrong'",
            (iso(now - window),)).fetchone()[0]
        if count < self.policy.alert_failures:
            return
        row = db.execute("SELECT counted_from FROM pin_locks WHERE key='g:alert'").fetchone()
        if row and parse_iso(row["counted_from"]) > now - window:
            return
        db.execute("INSERT INTO pin_locks (key, counted_from) VALUES ('g:alert', ?) "
                   "ON CONFLICT (key) DO UPDATE SET counted_from=excluded.counted_from",
                   (iso(now),))
        log.warning("%d wrong PINs over all accounts in the last %d s: a guessing attack?",
                    count, self.policy.alert_window_s)
