"""SQLite in one file, in WAL mode: the embedded default, for one host.

One connection per thread (and per process: gunicorn forks its workers after the app is
built, and SQLite connections must not cross a fork). Every write is a ``BEGIN
IMMEDIATE`` transaction, which serialises writers: the locks PostgreSQL needs are not.
Writers queue for it on locks that wake them when it is free (``SQLiteDatabase.tx``), not
on SQLite's busy handler, which sleeps and polls.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from ivr.errors import StoreError
from ivr.records.database import Tx

log = logging.getLogger(__name__)
T = TypeVar("T")

#: how long a start waits for another process creating the same new file
PATIENCE_S = 30.0
#: how often a server's process copies the write-ahead log into the file (``serving``)
CHECKPOINT_EVERY_S = 0.25
#: the log's pages after which a server's writer checkpoints on its own all the same, were
#: the checkpointer stopped (SQLite's default is 1,000; 4 KiB each)
BACKSTOP_PAGES = 20_000


class SQLiteDatabase:
    """The SQLite file at ``path``; safe to share between threads.

    A connection that errs is dropped and a new one opened on the next use: a connection
    opened while the file was read-only stays read-only after the file is restored.
    """

    kind = "sqlite"

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.where = str(path)
        self.read_only = read_only
        self._local = threading.local()
        #: this process's writers, one at a time, then the processes' (see ``tx``)
        self._writing = threading.Lock()
        self._queue: _WriterQueue | None = None if read_only else _WriterQueue(path)
        #: the process whose connections leave checkpoints to its checkpointer (``serving``)
        self._serving_pid = 0
        self._checkpointer_stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if read_only:
            if not path.is_file():
                raise StoreError(f"{path}: no such database")
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot open the database {path}: {exc}") from exc
        try:
            self._patiently(lambda: self.db)
        except sqlite3.Error as exc:
            self.close()
            verb = "read" if read_only else "open the database"
            raise StoreError(f"cannot {verb} {path}: {exc}") from exc

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection; a new one after a fork or a failure."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            if self.read_only:
                conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                       timeout=30, isolation_level=None)
            else:
                if self.path.exists() and not os.access(self.path, os.W_OK):
                    # SQLite would quietly open it read-only, and stay so once it is writable
                    raise sqlite3.OperationalError("the database file is not writable")
                _created_private(self.path)
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            if not self.read_only:
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    if self._serving_pid == os.getpid():
                        conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
                except sqlite3.Error:
                    conn.close()
                    raise
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _patiently(self, action: Callable[[], T]) -> T:
        """``action``, tried again while SQLite answers "locked" at once where waiting
        could deadlock (switching a new file to WAL while another process opens it, as two
        ``ivr serve`` seeding one new demo file do), until ``PATIENCE_S`` has passed."""
        deadline = time.monotonic() + PATIENCE_S
        pause_s = 0.01
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() + pause_s > deadline:
                    raise
                self._drop()  # a fresh connection for the next try
                time.sleep(pause_s)
                pause_s = min(pause_s * 2, 0.5)

    def _failed(self, exc: sqlite3.Error) -> StoreError:
        """Drop this thread's connection, so the next use opens a fresh one."""
        log.error("database %s failed: %s", self.path, exc)
        self._drop()
        return StoreError(f"the database {self.path} failed: {exc}")

    @contextmanager
    def tx(self, *locks: str) -> Iterator[sqlite3.Connection]:
        """A short write transaction; ``BEGIN IMMEDIATE`` takes the file's one write lock
        at once (no upgrade deadlocks), so ``locks`` are already held.

        A process's threads queue for the write lock on a lock of their own first: waiting
        on SQLite's, each thread's connection would poll it with sleeps of up to 100 ms
        (its busy handler), and a worker's 16 threads writing at once made a webhook's p99
        430 ms where its p50 was 17 ms (``bench/bench_webhook.py``). The processes then
        queue on an ``flock`` of a file beside the database (``_WriterQueue``), for the same
        reason: ``ivr serve``'s two workers met in SQLite's busy handler on one BEGIN in
        seven, and a worker waited up to 90 ms for a lock held a tenth of a millisecond.
        """
        def begin() -> sqlite3.Connection:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            return db

        if not self._writing.acquire(timeout=PATIENCE_S):
            raise StoreError(f"the database {self.path} failed: another thread of this "
                             f"process held its write lock for {PATIENCE_S:.0f} s")
        queued = False
        try:
            queued = self._queue is not None and self._queue.enter()
            try:
                db = self._patiently(begin)
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
        finally:
            if queued:
                assert self._queue is not None
                self._queue.leave()
            self._writing.release()

    def read_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        try:
            row: sqlite3.Row | None = self.db.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
        return row

    def read_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

    def tables(self) -> set[str]:
        return {r[0] for r in self.read_all(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")}

    def columns(self, table: str, tx: Tx | None = None) -> set[str]:
        sql = f"PRAGMA table_info({table})"
        return {r[1] for r in (tx.execute(sql) if tx else self.read_all(sql))}

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction on this thread's connection: in WAL mode its first read
        fixes the moment every later one sees."""
        try:
            self.db.execute("BEGIN")
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
        try:
            yield
        finally:
            conn = getattr(self._local, "conn", None)  # None once a read failed
            if conn is not None and conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")  # reads only: nothing to keep

    def reset_ids(self, table: str, column: str) -> str | None:
        return None  # an id inserted as it is moves AUTOINCREMENT's counter past it

    def ddl(self, sql: str) -> str:
        return sql

    def epoch(self, column: str) -> str:
        return f"unixepoch({column})"

    def json_without(self, column: str, paths: Sequence[tuple[str, ...]]) -> str:
        return f"json_remove({column}, " + ", ".join(f"'{_path(p)}'" for p in paths) + ")"

    def json_has_any(self, column: str, paths: Sequence[tuple[str, ...]]) -> str:
        return "(" + " OR ".join(f"json_type({column}, '{_path(p)}') IS NOT NULL"
                                 for p in paths) + ")"

    def serving(self, every_s: float = CHECKPOINT_EVERY_S) -> None:
        """Copy the write-ahead log into the file from a thread of its own, not in the
        requests' commits.

        A commit that takes the log past ``wal_autocheckpoint`` pages checkpoints it at
        once, and with ``synchronous=NORMAL`` a checkpoint syncs the log and the file to
        disk: the writer waits for the disk while it holds the write lock every other
        writer of every process queues for. One server worker answered 348 steps a second
        so, and 778 with no sync at all. SQLite's documentation offers the way out: turn
        the automatic checkpoints off and run them "in a separate thread or process"
        (https://www.sqlite.org/wal.html#application_initiated_checkpoints). A PASSIVE
        checkpoint waits for no reader or writer, so the disk is waited for by this
        thread alone; every sync is still made, so what a commit keeps is as safe as
        before. The automatic checkpoint stays, far later (``BACKSTOP_PAGES``), in case
        this thread is gone.
        """
        if self.read_only or self._serving_pid == os.getpid():
            return
        self._serving_pid = os.getpid()
        self._drop()  # this thread's next connection is opened with the backstop
        self._checkpointer_stop = stop = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_behind, args=(stop, every_s), daemon=True,
            name=f"ivr-checkpoint {self.path.name}")
        self._checkpointer.start()

    def _checkpoint_behind(self, stop: threading.Event, every_s: float) -> None:
        while not stop.wait(every_s):
            try:
                self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:  # the next round tries afresh; writers go on
                log.debug("checkpoint of %s: %s", self.path, exc)
                self._drop()
        self._drop()

    def close(self) -> None:
        self._checkpointer_stop.set()
        if self._checkpointer is not None and self._serving_pid == os.getpid():
            self._checkpointer.join(PATIENCE_S)  # a checkpoint under way ends first
            self._checkpointer = None
        if self._queue is not None:
            # not under a writer's feet: closing the file would end the writer's lock
            held = self._writing.acquire(timeout=PATIENCE_S)
            try:
                self._queue.close()
            finally:
                if held:
                    self._writing.release()
        self._drop()

    def _drop(self) -> None:
        """Close this thread's connection (the next use opens another)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:  # pragma: no cover - closing a broken connection
                pass
            self._local.conn = None


def _created_private(path: Path) -> None:
    """Make a new database file readable by its owner only (0600): it holds PIN hashes and
    account numbers. SQLite gives its -wal and -shm files the main file's mode."""
    if str(path) == ":memory:" or path.exists():
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # another process made it first, as privately
    except OSError:
        pass  # SQLite's connect fails on it too, and says so as a database error


def _path(keys: tuple[str, ...]) -> str:
    return "$." + ".".join(keys)


class _WriterQueue:
    """The processes writing one SQLite file, one at a time: an exclusive ``flock`` of the
    file ``<database>-lock``, held around each write transaction of the processes that
    open the file with this module.

    A process waiting for it sleeps in the kernel until it is released, where SQLite's busy
    handler sleeps 1, 2, 5, 10 ... 100 ms and looks again. The kernel releases it when its
    process ends, however it ends. It only orders writers: a process that does not take it
    (another program, an older ``ivr``) still meets the others in SQLite's busy handler, as
    before. Where the file cannot be made (a folder that is not writable), SQLite's busy
    handler alone orders the writers, once a warning has said so.

    One open file a process, opened after a fork (a lock is shared by the processes that
    share an open file); used under the database's thread lock only.
    """

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = None if str(database) == ":memory:" else Path(f"{database}-lock")
        self._fd: int | None = None
        self._pid = 0

    def enter(self) -> bool:
        """Wait for the queue and take it; False when there is no lock file to take."""
        fd = self._opened()
        if fd is None:
            return False
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True

    def leave(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            with suppress(OSError):
                os.close(self._fd)
        self._fd = None

    def _opened(self) -> int | None:
        if self.path is None:
            return None
        if self._fd is None or self._pid != os.getpid():
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                log.warning("writers to %s queue in SQLite's busy handler: cannot open %s: %s",
                            self.database, self.path, exc)
                self.path = None
                return None
            self._pid = os.getpid()
        return self._fd
