"""Two hosts writing one database at once (issue 12): each host is a ``Store`` of its own on
the same database, and threads of both hammer the same account's lockout, the same call's
turn, the same number's callback and the same call's ticket. What must hold is what holds
with one host: at most ``max_failures`` PIN checks, one step per turn, one pending callback,
one ticket. On SQLite the file's one writer serialises them; on PostgreSQL the row and
advisory locks do (``ivr.records.database.postgres``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from ivr.console.throttle import MAX_FAILURES
from ivr.console.throttle import reserve as reserve_log_in
from ivr.flow.call import CallState
from ivr.flow.services import Lock
from ivr.records.lockouts import LockoutPolicy, StoreLockouts
from ivr.records.store import Store
from ivr.records.wallet import StoreWallet

pytestmark = pytest.mark.both_backends

T = TypeVar("T")
NOW = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)
WRITERS = 24  # threads, split over the two hosts
SECRET = "one secret for both hosts"


@pytest.fixture(name="hosts")
def _hosts(database: str) -> Iterator[tuple[Store, Store]]:
    """Two stores on one database, as two ``ivr serve`` hosts have (4 connections each)."""
    first = Store(database, pool_size=4)
    second = Store(database, pool_size=4)
    yield first, second
    first.close()
    second.close()


def at_once(hosts: tuple[Store, Store], work: Callable[[Store, int], T],
            writers: int = WRITERS) -> list[T]:
    """``work(store, n)`` from ``writers`` threads released together, alternating hosts."""
    start = threading.Barrier(writers)

    def one(n: int) -> T:
        start.wait()
        return work(hosts[n % 2], n)

    with ThreadPoolExecutor(max_workers=writers) as pool:
        return list(pool.map(one, range(writers)))


def test_wrong_pins_on_two_hosts_check_at_most_max_failures(hosts):
    policy = LockoutPolicy()
    books = [StoreLockouts(store, SECRET, policy) for store in hosts]

    def guess(store: Store, n: int) -> int | Lock:
        book = books[hosts.index(store)]
        # a caller ID each: only the account's allowance is tested
        attempt = book.reserve("10000003", f"+86137000{n:05d}", NOW)
        if isinstance(attempt, int):
            book.settle(attempt, False, NOW)  # scrypt said no
        return attempt

    results = at_once(hosts, guess)
    checked = [r for r in results if isinstance(r, int)]
    assert len(checked) == policy.max_failures  # the rest were refused before any check
    assert all(isinstance(r, Lock) for r in results if not isinstance(r, int))
    outcomes = hosts[0].read_all("SELECT outcome, COUNT(*) FROM pin_attempts GROUP BY outcome")
    assert {r[0]: r[1] for r in outcomes} == {"wrong": policy.max_failures}
    for book in books:  # the lock counted on both holds on each
        lock = book.locked("10000003", "+8613900000000", NOW)
        assert lock is not None and not lock.by_caller
    (locks,) = hosts[1].read_one("SELECT locks FROM pin_locks WHERE key=?",
                                 (books[0].key("a", "10000003"),))
    assert locks == 1  # locked once, not once per host


def test_one_step_per_turn_when_both_hosts_claim_it(hosts):
    sid = "CA" + "5" * 32
    assert hosts[0].begin_call(CallState(sid, "+8613700000000", turn=1), NOW)
    assert not hosts[1].begin_call(CallState(sid, "+8613700000000", turn=1), NOW)
    for turn in range(1, 6):  # five turns, each raced by every thread
        won = at_once(hosts, lambda store, _n, turn=turn: store.claim(sid, turn))
        assert won.count(True) == 1
    (turn,) = hosts[1].read_one("SELECT turn FROM calls WHERE call_sid=?", (sid,))
    assert turn == 6


def test_callbacks_asked_on_both_hosts_are_one_pending_callback(hosts):
    def ask(store: Store, n: int) -> int | None:
        return store.add_callback(number="+8613912345678", account=None, queue="general",
                                  issue=None, window_start=None, window_end=None,
                                  call_sid=f"CA{n:032d}", now=NOW)

    booked = at_once(hosts, ask)
    assert None not in booked and len(set(booked)) == 1
    for store in hosts:
        (pending,) = store.pending_callbacks()
        assert pending["requests"] == WRITERS and pending["verified"] is False


def test_one_ticket_per_call_and_a_number_each_across_hosts(hosts):
    wallets = [StoreWallet(store, pin_cost=2**4) for store in hosts]

    def file(store: Store, n: int, call_sid: str | None = None) -> Any:
        wallet = wallets[hosts.index(store)]
        return wallet.file_complaint("10000001", call_sid or f"CA{n:032d}",
                                     "https://api.twilio.com/rec/RE1", {"n": n}, NOW,
                                     team="complaints")

    same = at_once(hosts, lambda store, n: file(store, n, "CA" + "7" * 32))
    assert len({t.number for t in same}) == 1  # a replayed recording: the call's ticket
    apart = at_once(hosts, file)
    assert len({t.number for t in apart}) == WRITERS  # every call its own number
    (count,) = hosts[0].read_one("SELECT COUNT(*) FROM tickets")
    assert count == WRITERS + 1


def test_log_ins_on_two_hosts_are_counted_one_after_the_other(hosts):
    keys = ("name-key", "address-key", "pair-key")  # one name from one address
    counted = at_once(hosts, lambda store, _n: reserve_log_in(store, *keys, NOW))
    assert sum(isinstance(c, list) for c in counted) == MAX_FAILURES
    assert all(isinstance(c, datetime) for c in counted if not isinstance(c, list))


def test_health_checks_on_two_hosts_at_once_all_answer(hosts):
    at_once(hosts, lambda store, _n: store.check(NOW))  # none raises StoreError
    assert [tuple(r) for r in hosts[0].read_all("SELECT id FROM health")] == [(1,)]


def test_hosts_starting_at_once_on_a_new_database_apply_each_migration_once(database: str) -> None:
    from ivr.records.database import migrations

    start = threading.Barrier(8)

    def host(_: int) -> Store:
        start.wait()
        return Store(database, pool_size=1)

    with ThreadPoolExecutor(max_workers=8) as pool:
        stores = list(pool.map(host, range(8)))  # none failed: each migrated, or found done
    try:
        applied = [tuple(r) for r in stores[0].read_all(
            "SELECT version FROM schema_version ORDER BY version")]
        assert applied == [(m.number,) for m in migrations.MIGRATIONS]
    finally:
        for store in stores:
            store.close()
