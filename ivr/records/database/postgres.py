"""PostgreSQL, shared by several ``ivr serve`` hosts: psycopg 3 and its connection pool.

Each process keeps one pool (made on first use, so gunicorn's workers never share a
connection made before the fork). A connection is checked as it is taken from the pool,
so after a server restart a stale one is replaced before a request uses it: a restart
costs at most the requests in flight. SQL arrives in the store's words (``?``
placeholders); rows answer by name and by position, as ``sqlite3.Row`` does.

Correctness under many writers: PostgreSQL runs transactions at READ COMMITTED, where a
statement sees what others committed before it began. Single statements (the call-state
compare-and-set, ``ON CONFLICT`` upserts) are atomic on their rows. A transaction that
reads to decide what to write (the lockout count-and-check, ticket numbers, callback
de-duplication) names advisory locks, taken in a fixed order and held to its end.

In an outage a request fails at once rather than wait: a wait for a connection is taken in
slices (``WAIT_SLICE_S``), and a slice without one, or a connection lost, has the circuit
breaker (``circuit``) ask the server afresh; while it is known to be down every request
raises ``StoreUnreachable`` at once, until the breaker's probe finds it back.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from ivr.errors import StoreError, StoreUnreachable
from ivr.records.database import Tx, shown
from ivr.records.database.circuit import PROBE_EVERY_S, Breaker

try:
    import psycopg
    import psycopg_pool
except ImportError:  # pragma: no cover - the [postgresql] extra not installed
    psycopg = psycopg_pool = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: how long a request waits for a connection (the pool full, or the server away)
CONNECT_TIMEOUT_S = 10.0
#: the wait for a connection is taken in slices this long: after each, a request asks
#: whether the server is known to be down (and if not, has it asked)
WAIT_SLICE_S = PROBE_EVERY_S
#: the probe's own connection: libpq counts whole seconds, and 2 is its least
PROBE_CONNECT_TIMEOUT_S = 2


class Row:
    """A row read by column name or position; ``dict(row)`` gives name: value."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values, self._index = values, index

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._index[key] if isinstance(key, str) else key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=True))!r})"


def _rows(cursor: Any) -> Any:
    """psycopg's row factory for ``Row``: the names are read once per result."""
    index = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


@lru_cache(maxsize=512)
def _sql(sql: str) -> str:
    """The store's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def lock_key(name: str) -> int:
    """An advisory lock's 64-bit key for ``name`` (the same on every host)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big",
                          signed=True)


class _Tx:
    """A connection, speaking the store's SQL."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(_sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        with self.conn.cursor() as cursor:
            cursor.executemany(_sql(sql), [tuple(r) for r in rows])
            return cursor.rowcount


class PostgresDatabase:
    """The PostgreSQL database at ``url``; safe to share between threads."""

    kind = "postgresql"

    def __init__(self, url: str, *, read_only: bool = False, pool_size: int = 8) -> None:
        if psycopg is None:
            raise StoreError("a PostgreSQL database needs psycopg: "
                             "pip install 'ivr[postgresql]'")
        self.url, self.where, self.read_only = url, shown(url), read_only
        self.pool_size = max(1, pool_size)
        self._pool: Any = None
        self._pid = 0
        self._orphans: list[Any] = []  # pools made before a fork, never closed by a child
        self._guard = threading.Lock()
        self._snapshot = threading.local()  # the connection of a thread's snapshot
        self.breaker = Breaker(self.where, self._answers, on_close=self._renew_pool)
        try:  # fail at start, not on the first call
            with psycopg.connect(url, **self._settings(), connect_timeout=10) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the database {self.where}: {_said(exc)}") from exc

    def _settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"autocommit": True, "row_factory": _rows}
        if self.read_only:
            settings["options"] = "-c default_transaction_read_only=on"
        return settings

    @property
    def pool(self) -> Any:
        """This process's pool, made on first use (after gunicorn's fork)."""
        if self._pool is None or self._pid != os.getpid():
            with self._guard:
                if self._pool is None or self._pid != os.getpid():
                    if self._pool is not None:
                        self._orphans.append(self._pool)  # the parent's: left alone
                    self._pool = psycopg_pool.ConnectionPool(
                        self.url, min_size=1, max_size=self.pool_size,
                        kwargs=self._settings(), check=psycopg_pool.ConnectionPool.check_connection,
                        timeout=CONNECT_TIMEOUT_S, name="ivr", open=True,
                        # retried sooner: psycopg_pool's back-off doubles until this is up
                        # (default 5 min: a long outage left gaps of minutes between tries)
                        reconnect_timeout=CONNECT_TIMEOUT_S)
                    self._pid = os.getpid()
        return self._pool

    def _answers(self) -> bool:
        """The breaker's probe: whether the server takes a new connection and a query."""
        try:
            with psycopg.connect(self.url, **self._settings(),
                                 connect_timeout=PROBE_CONNECT_TIMEOUT_S) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def _renew_pool(self) -> None:
        """A fresh pool once the server is back: the old one may be backing off between
        its tries to reconnect (seconds), and the first calls would wait for it."""
        with self._guard:
            old, self._pool = (self._pool, None) if self._pid == os.getpid() else (None, None)
        if old is not None:
            old.close(timeout=1.0)  # connections in use are closed when given back

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A connection of the pool, waited for at most ``CONNECT_TIMEOUT_S``; at once
        ``StoreUnreachable`` while the server is known to be down."""
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while True:
            self.breaker.check()
            pool = self.pool
            try:
                conn = pool.getconn(timeout=max(0.01, min(WAIT_SLICE_S,
                                                          deadline - time.monotonic())))
                break
            except psycopg_pool.PoolTimeout:
                if time.monotonic() >= deadline:
                    raise
                # no connection yet: is the server away? (its answer within the next slice)
                self.breaker.suspect(wait_s=min(WAIT_SLICE_S, deadline - time.monotonic()))
            except psycopg_pool.PoolClosed:
                if pool is self._pool:  # closed by its owner, not renewed by the breaker
                    raise
        try:
            with conn:
                yield conn
        finally:
            pool.putconn(conn)

    def _failed(self, exc: Exception) -> StoreError:
        log.error("database %s failed: %s", self.where, _said(exc))
        if isinstance(exc, psycopg.OperationalError | psycopg_pool.PoolTimeout):
            self.breaker.suspect()  # a connection lost, or none came: the server away?
        if isinstance(exc, psycopg_pool.PoolTimeout):  # the server away, or every connection busy
            return StoreUnreachable(f"the database {self.where} did not answer within "
                                    f"{CONNECT_TIMEOUT_S:g} s: {_said(exc)}")
        return StoreError(f"the database {self.where} failed: {_said(exc)}")

    @contextmanager
    def tx(self, *locks: str) -> Iterator[_Tx]:
        """A transaction holding the advisory ``locks`` (in one order on every host, so
        two transactions never wait for each other's)."""
        try:
            with self._connection() as conn, conn.transaction():
                for name in sorted(set(locks)):
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(name),))
                yield _Tx(conn)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self._failed(exc) from exc

    def read_one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._read(sql, params, lambda cursor: cursor.fetchone())

    def read_all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        rows: list[Any] = self._read(sql, params, lambda cursor: cursor.fetchall())
        return rows

    def _read(self, sql: str, params: Sequence[Any], fetch: Callable[[Any], Any]) -> Any:
        """``fetch`` of the query's cursor, in the thread's snapshot if one is open."""
        try:
            pinned = getattr(self._snapshot, "conn", None)
            if pinned is not None:
                return fetch(pinned.execute(_sql(sql), tuple(params)))
            with self._connection() as conn:
                return fetch(conn.execute(_sql(sql), tuple(params)))
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self._failed(exc) from exc

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One REPEATABLE READ transaction that this thread's reads go through: its first
        read fixes the moment every later one sees."""
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                self._snapshot.conn = conn
                try:
                    yield
                finally:
                    self._snapshot.conn = None
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self._failed(exc) from exc

    def reset_ids(self, table: str, column: str) -> str | None:
        # the next id handed out is one past the largest (1 in an empty table)
        return (f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"COALESCE(MAX({column}), 0) + 1, false) FROM {table}")

    def tables(self) -> set[str]:
        return {r[0] for r in self.read_all(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema()")}

    def columns(self, table: str, tx: Tx | None = None) -> set[str]:
        sql = ("SELECT column_name FROM information_schema.columns "
               "WHERE table_schema = current_schema() AND table_name = ?")
        return {r[0] for r in (tx.execute(sql, (table,)) if tx else self.read_all(sql, (table,)))}

    def ddl(self, sql: str) -> str:
        return sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT",
                           "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")

    def epoch(self, column: str) -> str:
        return f"CAST(EXTRACT(EPOCH FROM CAST({column} AS TIMESTAMPTZ)) AS BIGINT)"

    def json_without(self, column: str, paths: Sequence[tuple[str, ...]]) -> str:
        removed = " ".join(f"#- '{{{','.join(p)}}}'" for p in paths)
        return f"CAST(CAST({column} AS JSONB) {removed} AS TEXT)"

    def json_has_any(self, column: str, paths: Sequence[tuple[str, ...]]) -> str:
        return "(" + " OR ".join(f"CAST({column} AS JSONB) #> '{{{','.join(p)}}}' IS NOT NULL"
                                 for p in paths) + ")"

    def serving(self) -> None:
        pass  # the server checkpoints in its own processes

    def close(self) -> None:
        self.breaker.stop()
        if self._pool is not None and self._pid == os.getpid():
            self._pool.close()
        self._pool = None


def _said(exc: Exception) -> str:
    """The first line of a driver's message (the rest repeats the query)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
