"""Processes writing one SQLite file queue on an ``flock`` of ``<database>-lock`` around each
write transaction (``ivr.records.database.sqlite``), instead of meeting in SQLite's busy
handler, which sleeps up to 100 ms between looks (issue 21, finding 8). What must hold:
the queue is held exactly while a transaction is, a writer that dies holding it holds
nothing, and where it cannot be made the writes go on without it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ivr.records.database.sqlite import SQLiteDatabase

REPO = Path(__file__).resolve().parents[1]
DIES_WRITING = """
import os, sys
from pathlib import Path
from ivr.records.database.sqlite import SQLiteDatabase
with SQLiteDatabase(Path(sys.argv[1])).tx() as db:
    db.execute("INSERT INTO t VALUES (1)")
    os._exit(0)
"""


def taken(lock: Path) -> bool:
    """Whether a writer holds the queue: another open file cannot take it now."""
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing it lets go of what it took
    return False


def test_the_queue_is_held_exactly_while_a_write_transaction_is(tmp_path: Path) -> None:
    database = SQLiteDatabase(tmp_path / "ivr.db")
    lock = tmp_path / "ivr.db-lock"
    with database.tx() as db:
        db.execute("CREATE TABLE t (n INTEGER)")
        assert taken(lock)
    assert not taken(lock)
    with pytest.raises(ZeroDivisionError), database.tx() as db:
        db.execute("INSERT INTO t VALUES (1)")
        1 / 0  # noqa: B018 - a transaction that fails lets go of the queue too
    assert not taken(lock)
    assert database.read_all("SELECT n FROM t") == []
    assert lock.stat().st_mode & 0o777 == 0o600  # made as privately as the database
    database.close()


def test_a_writer_that_dies_holding_the_queue_holds_nothing(tmp_path: Path) -> None:
    database = SQLiteDatabase(tmp_path / "ivr.db")
    with database.tx() as db:
        db.execute("CREATE TABLE t (n INTEGER)")
    # another process, ended in the middle of its transaction
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    subprocess.run([sys.executable, "-c", DIES_WRITING, str(tmp_path / "ivr.db")], check=True,
                   timeout=60, env=env)
    with database.tx() as db:  # neither the queue nor SQLite's lock is still held
        db.execute("INSERT INTO t VALUES (2)")
    assert [r[0] for r in database.read_all("SELECT n FROM t")] == [2]
    database.close()


def test_without_a_lock_file_the_writes_go_on(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "ivr.db-lock").mkdir()  # cannot be opened as a file
    database = SQLiteDatabase(tmp_path / "ivr.db")
    with caplog.at_level(logging.WARNING), database.tx() as db:
        db.execute("CREATE TABLE t (n INTEGER)")
    with database.tx() as db:
        db.execute("INSERT INTO t VALUES (1)")
    assert [r[0] for r in database.read_all("SELECT n FROM t")] == [1]
    warned = [r.getMessage() for r in caplog.records if "busy handler" in r.getMessage()]
    assert len(warned) == 1  # said once, not at every write
    database.close()


def test_a_read_only_database_makes_no_lock_file(tmp_path: Path) -> None:
    SQLiteDatabase(tmp_path / "ivr.db").close()
    reader = SQLiteDatabase(tmp_path / "ivr.db", read_only=True)
    assert reader.read_one("SELECT 1")[0] == 1
    reader.close()
    assert not (tmp_path / "ivr.db-lock").exists()


def _wal_pages(database: SQLiteDatabase, rows: int) -> None:
    """One transaction writing well past SQLite's automatic checkpoint (1,000 pages)."""
    with database.tx() as db:
        db.execute("CREATE TABLE IF NOT EXISTS big (blob BLOB)")
        db.executemany("INSERT INTO big VALUES (?)", ([os.urandom(3000)] for _ in range(rows)))


def test_a_serving_process_checkpoints_behind_its_writers_not_in_their_commits(
        tmp_path: Path) -> None:
    """A commit past 1,000 pages of log checkpoints it at once, syncing the disk while every
    writer waits; a server's process leaves that to a thread of its own (``serving``)."""
    plain = SQLiteDatabase(tmp_path / "plain.db")
    _wal_pages(plain, 2000)
    assert (tmp_path / "plain.db").stat().st_size > 4_000_000  # the commit copied the log

    served = SQLiteDatabase(tmp_path / "served.db")
    served.serving(every_s=3600)  # a checkpointer that does not come round in this test
    _wal_pages(served, 2000)
    _wal_pages(served, 2000)
    assert (tmp_path / "served.db").stat().st_size < 100_000  # the commits left it in the log
    assert (tmp_path / "served.db-wal").stat().st_size > 8_000_000
    served.close()
    plain.close()

    behind = SQLiteDatabase(tmp_path / "behind.db")
    behind.serving(every_s=0.05)
    _wal_pages(behind, 2000)
    deadline = time.monotonic() + 10
    while (tmp_path / "behind.db").stat().st_size < 4_000_000:  # the checkpointer's copy
        assert time.monotonic() < deadline, "the checkpointer never copied the log"
        time.sleep(0.05)
    assert len(behind.read_all("SELECT 1 FROM big")) == 2000
    behind.close()
    assert not [t for t in threading.enumerate() if t.name == "ivr-checkpoint behind.db"]
