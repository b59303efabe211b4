"""Where the hotline's records live: SQLite in a file (the embedded default), or a shared
PostgreSQL that several ``ivr serve`` hosts write at once.

Both backends offer one interface (``Database``), so nothing above the store knows which
one it talks to. SQL is written once, in the subset both speak: ``?`` placeholders,
``ON CONFLICT`` upserts, ``RETURNING`` for new ids; the few expressions they spell
differently (JSON edits, epoch seconds) are the backend's methods. The only importer of
psycopg (in ``postgres``, loaded for a PostgreSQL URL alone).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from ivr.errors import StoreError

#: the URL schemes of PostgreSQL, as libpq accepts them
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_URL = "sqlite:///"


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Tx(Protocol):
    """One transaction (or, for reads, one connection): rows read by name or position."""

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...


class Database(Protocol):
    """What the store, the lockout book, the console and the reports ask of a database."""

    #: "sqlite" or "postgresql"
    kind: str
    #: where it is, fit for a log line (a file path, or the URL without its password)
    where: str
    read_only: bool

    def tx(self, *locks: str) -> AbstractContextManager[Tx]:
        """A short write transaction. SQLite serialises every writer (``BEGIN
        IMMEDIATE``); PostgreSQL reads others' commits between statements, so a read that
        decides a write names the ``locks`` it needs (advisory locks, held to the end)."""
        ...

    def read_one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def read_all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
    def tables(self) -> set[str]: ...
    def columns(self, table: str, tx: Tx | None = None) -> set[str]:
        """``table``'s columns; read in ``tx`` when given (a migration sees the tables
        its own transaction has just made)."""
        ...
    def snapshot(self) -> AbstractContextManager[None]:
        """While it lasts, this thread's reads see the database at one moment, whatever
        others commit meanwhile: a copy of a live database reads one state. Reads only."""
        ...
    def reset_ids(self, table: str, column: str) -> str | None:
        """An SQL statement moving the counter that numbers ``table.column`` past its
        largest value, once rows came in with their ids (a copy); None where the
        database moves it itself."""
        ...
    def ddl(self, sql: str) -> str:
        """``sql`` in this backend's words for auto-numbered ids."""
        ...
    def epoch(self, column: str) -> str:
        """An SQL expression: the ISO-8601 text ``column`` as integer Unix seconds."""
        ...
    def json_without(self, column: str, paths: Sequence[tuple[str, ...]]) -> str:
        """An SQL expression: the JSON text ``column`` without the keys at ``paths``."""
        ...
    def json_has_any(self, column: str, paths: Sequence[tuple[str, ...]]) -> str:
        """An SQL condition: the JSON text ``column`` holds a key at one of ``paths``."""
        ...
    def serving(self) -> None:
        """This process is a server's worker: many short writes from many threads, for
        as long as it runs. Called once, after the fork."""
        ...
    def close(self) -> None: ...


def is_postgres(location: str | Path) -> bool:
    return str(location).lower().startswith(POSTGRES_SCHEMES)


def shown(location: str | Path) -> str:
    """``location`` fit for a log or an error: a URL's password replaced by ***."""
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", str(location))


#: the table every ivr database has had since its first release
IVR_TABLE = "calls"


def not_ivr(where: str, tables: Collection[str],
            needed: Sequence[str] = (IVR_TABLE,)) -> str | None:
    """Why the database at ``where``, holding ``tables``, is not the ivr database a command
    needs (None when it holds ``calls`` and every ``needed`` table): one wording for every
    command, naming what it has, so another application's file is recognised as such."""
    missing = [t for t in dict.fromkeys((IVR_TABLE, *needed)) if t not in tables]
    if not missing:
        return None
    if IVR_TABLE in missing:  # no ivr database at all: the one table that says so
        missing = [IVR_TABLE]
    if not tables:
        return f"{where} is not an ivr database (it has no tables)"
    have = sorted(tables)
    listed = ", ".join(have[:6]) + (" …" if len(have) > 6 else "")
    return f"{where} is not an ivr database (it has tables {listed} but not {', '.join(missing)})"


def open_database(location: str | Path, *, read_only: bool = False,
                  pool_size: int = 8) -> Database:
    """The database at ``location``: a ``postgresql://`` URL, or a SQLite file path.

    ``read_only`` opens it for reading (reports): a SQLite file is neither created nor
    changed, a PostgreSQL session refuses writes. ``pool_size`` bounds one process's
    PostgreSQL connections (its threads share them).
    """
    if is_postgres(location):
        from ivr.records.database.postgres import PostgresDatabase

        return PostgresDatabase(str(location), read_only=read_only, pool_size=pool_size)
    if "://" in str(location):
        raise StoreError(f"{shown(location)} is a URL, not a SQLite file path")
    from ivr.records.database.sqlite import SQLiteDatabase

    return SQLiteDatabase(Path(location), read_only=read_only)
