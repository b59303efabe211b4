"""The console's log-in throttle: failed log-ins counted, so a guesser gets few guesses and
nobody can keep a user out. No Flask here: ``ivr ops users`` and ``ivr ops unlock`` use it.

Each failed log-in is counted three times in ``login_failures``, by keyed hashes (never
the name or the address): for its name, for its address, and for the pair. Within
``WINDOW``:

- ``MAX_FAILURES`` for one name from one address refuse that pair until the oldest of them
  is out of the window: a guesser at one address, or a user who forgot the password;
- ``ADDRESS_FAILURES`` from one address, whatever the names, refuse that address likewise:
  one address trying many names;
- the name alone, over every address, is never locked, or a stranger sending 5 wrong
  passwords every 15 minutes would keep its user out for good: from its ``NAME_FREE``-th
  failure each log-in of the name waits a delay after the latest one, doubling with each
  further failure up to ``NAME_MAX_DELAY``. Guessing from many addresses stays slow; the
  user, at an address of their own, is in after a few seconds.

Each row also carries its name's key (``name_key``), so ``ivr ops unlock`` forgets every
count of that name's failed log-ins, the pair's and the address's among them.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from ivr import plural
from ivr.records.database import Tx
from ivr.records.store import Store, audit_row, iso, parse_iso

WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5
ADDRESS_FAILURES = 20
NAME_FREE = 5
NAME_MAX_DELAY = timedelta(seconds=30)


def derived_key(secret: str, purpose: str) -> bytes:
    """A key for one ``purpose``, derived from the settings' SECRET_KEY."""
    return hmac.new(secret.encode(), f"ivr console: {purpose}".encode(), hashlib.sha256).digest()


def _keyed(throttle_key: bytes, kind: str, value: str) -> str:
    return hmac.new(throttle_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def name_key(throttle_key: bytes, name: str) -> str:
    """The throttle's key of a log-in name, case folded: ``ivr ops`` makes it from the
    ``derived_key(SECRET_KEY, "throttle_key")`` the server uses."""
    return _keyed(throttle_key, "name", name.lower())


def keys(throttle_key: bytes, name: str, address: str) -> tuple[str, str, str]:
    """The keys of a log-in: its name's, its address's and the pair's."""
    return (name_key(throttle_key, name), _keyed(throttle_key, "addr", address),
            _keyed(throttle_key, "pair", f"{name.lower()} {address}"))


def name_delay(failures: int) -> timedelta:
    """How long a name waits after its latest failure, with ``failures`` in the window."""
    if failures < NAME_FREE:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - NAME_FREE, 16)), NAME_MAX_DELAY)


def _times(db: Tx, key: str, now: datetime) -> list[datetime]:
    return [parse_iso(r["at"]) for r in db.execute(
        "SELECT at FROM login_failures WHERE key=? AND at>? ORDER BY at",
        (key, iso(now - WINDOW))).fetchall()]


def reserve(store: Store, name: str, address: str, pair: str,
            now: datetime) -> datetime | list[int]:
    """Count a log-in as failed before its password is checked (the keys ``keys`` gives),
    or say until when it is refused. In one write transaction under the name's and the
    address's locks, so log-ins sent in parallel are counted one after the other: none is
    checked past a limit (as the PIN lockout book reserves a check before hashing). The
    ids returned are taken back on a right password (``forgive``)."""
    with store.tx(f"login:{name}", f"login:{address}") as db:
        db.execute("DELETE FROM login_failures WHERE at < ?", (iso(now - WINDOW),))
        frees = []
        for key, limit in ((pair, MAX_FAILURES), (address, ADDRESS_FAILURES)):
            times = _times(db, key, now)
            if len(times) >= limit:
                frees.append(times[-limit] + WINDOW)
        named = _times(db, name, now)
        if named:
            frees.append(named[-1] + name_delay(len(named)))
        latest = max(frees, default=now)
        if latest > now:
            return latest
        return [int(db.execute("INSERT INTO login_failures (key, name_key, at) VALUES "
                               "(?, ?, ?) RETURNING id", (key, name, iso(now))).fetchone()[0])
                for key in (name, address, pair)]


def forgive(store: Store, ids: list[int]) -> None:
    """A right password: the failure counted for it in advance is taken back."""
    with store.tx() as db:
        db.executemany("DELETE FROM login_failures WHERE id=?", [(i,) for i in ids])


def failures(store: Store, now: datetime) -> dict[str, int]:
    """The failed log-ins within the window, by key: a name's key at ``NAME_FREE`` or more
    is held back (``ivr ops users`` says locked)."""
    return {r["key"]: int(r["n"]) for r in store.read_all(
        "SELECT key, COUNT(*) AS n FROM login_failures WHERE at>? GROUP BY key",
        (iso(now - WINDOW),))}


def unlock(store: Store, key: str, now: datetime, actor: str, target: str,
           also: str = "") -> int:
    """``ivr ops unlock``: forget the failed log-ins of a name (its ``key``): their counts
    for the name, the pair and the address, so the user is in at once from anywhere; the
    address keeps other names' failures, so a guesser there stays refused. Audited with
    ``also`` (what else the command lifted) unless nothing was; returns how many failures
    within the window were forgotten."""
    with store.tx(f"login:{key}") as db:
        counted = len(_times(db, key, now))
        db.execute("DELETE FROM login_failures WHERE name_key=? OR key=?", (key, key))
        lifted = [f"{plural.counted(counted, 'failed log-in')} forgotten"] if counted else []
        if lifted or also:
            audit_row(db, now, actor, "user unlocked", target,
                      "; ".join([*lifted, *filter(None, [also])]))
    return counted
