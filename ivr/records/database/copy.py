"""Moving a deployment's records to another database (``ivr db copy``): SQLite to
PostgreSQL when a hotline grows to several hosts, and back, or SQLite to SQLite.

The source is only read, in one snapshot (a live one copies as it was at one moment),
and may come from an older release: its rows are read by the columns it has, a column
added since is left to the schema's default, one renamed since is read by its old name.
So a deployment copies without being upgraded first, and the release it runs on can go
on using it until the new hosts take over (an upgraded source could not go back).

The target is brought to this release's schema, must hold no ivr rows (unless they are
replaced), and takes every table in one transaction: a copy that fails, or whose row
counts do not match, leaves it as it was. Its id counters are then moved past the ids
copied in, so the rows its hosts add next do not collide.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from ivr.errors import StoreError
from ivr.plural import counted
from ivr.records.database import Database, Tx, is_postgres, migrations, not_ivr

#: rows read and written at a time: bounded memory however large a table is
BATCH = 1000
#: not copied: the versions are the target's own, and health holds the last probe's row
#: (``/health``), rewritten by the next; sms_sender only who sends now, a lease
NOT_COPIED = ("schema_version", "health", "sms_sender")
#: columns renamed since a release, read by their old name: (table, column) -> old name
RENAMED = {("audit_log", "actor"): "user"}  # migration 2
#: columns added since a release with values made from the others, as their migration
#: made them: (table, column) -> (the source's columns it reads, the SQL that makes it)
DERIVED = {  # migration 13: a ticket's stage, from its status
    ("tickets", "stage"): (("status",), "CASE WHEN \"status\" = 'closed' THEN 'closed' "
                                        "ELSE 'registered' END"),
    ("tickets", "stage_at"): (("closed_at", "created_at"),
                              "COALESCE(\"closed_at\", \"created_at\")"),
}

#: ``progress(table, rows done, rows in the table)``, after each batch
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Table:
    """A table of this release's schema, as the migrations make it."""

    name: str
    columns: tuple[str, ...]
    #: its primary key: rows are read in its order, a batch at a time
    key: str
    #: whether the database hands out the key (an id with a counter to move)
    numbered: bool


class TargetNotEmpty(StoreError):
    """The target already holds ivr rows: ``held`` maps each such table to its count."""

    def __init__(self, where: str, held: dict[str, int]) -> None:
        self.held = held
        super().__init__(f"{where} already holds ivr data: " + ", ".join(
            f"{table} ({counted(rows, 'row')})" for table, rows in held.items()))


@lru_cache(maxsize=1)
def schema() -> tuple[Table, ...]:
    """This release's tables (but ``NOT_COPIED``), read from a scratch database in memory
    that the migrations build: one definition of the schema, not a second list here."""
    from ivr.records.database.sqlite import SQLiteDatabase

    scratch = SQLiteDatabase(Path(":memory:"))
    try:
        migrations.upgrade(scratch)
        tables = []
        for name in sorted(scratch.tables() - set(NOT_COPIED)):
            info = scratch.read_all(f"PRAGMA table_info({name})")
            created = scratch.read_all("SELECT sql FROM sqlite_master WHERE name=?", (name,))[0]
            key = next(r["name"] for r in info if r["pk"])
            tables.append(Table(name, tuple(r["name"] for r in info), key,
                                "AUTOINCREMENT" in created["sql"].upper()))
        return tuple(tables)
    finally:
        scratch.close()


def ivr_tables(db: Database) -> set[str]:
    """The tables of this release's schema that ``db`` has."""
    return {t.name for t in schema()} & db.tables()


def same_place(first: str | Path, second: str | Path) -> bool:
    """Whether two locations name one database: one file (however its path is spelled),
    or one database on one PostgreSQL server (whoever logs in)."""
    if is_postgres(first) != is_postgres(second):
        return False
    if not is_postgres(first):
        a, b = Path(first), Path(second)
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    return _server_database(str(first)) == _server_database(str(second))


def _server_database(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or parts.username or ""  # libpq's default: the user's
    host = (parts.hostname or "localhost").lower()
    return ("localhost" if host == "127.0.0.1" else host, parts.port or 5432, name)


def check_source(source: Database) -> migrations.Status:
    """Where the source stands; StoreError when it is no ivr database, or one made by a
    newer release (whose columns this one cannot know)."""
    found = migrations.status(source)
    if found.ahead:
        raise StoreError(f"{source.where} was made by a newer ivr (version {found.version} > "
                         f"{migrations.LATEST}): copy it with that release")
    if not ivr_tables(source):
        raise StoreError(not_ivr(source.where, source.tables()) or
                         f"{source.where} has no ivr tables: not an ivr database")
    return found


def copy(source: Database, target: Database, *, replace: bool = False, batch: int = BATCH,
         progress: Progress | None = None) -> dict[str, int]:
    """Copy every table of the schema from ``source`` into ``target``; the rows copied,
    per table. ``replace`` clears the target's ivr tables first; without it a target
    holding rows is refused (``TargetNotEmpty``). StoreError for any other failure, the
    target then left as it was."""
    if same_place(source.where, target.where):
        raise StoreError(f"{source.where} is both the source and the target")
    check_source(source)
    migrations.upgrade(target)
    tables = schema()
    present = source.tables()
    copied: dict[str, int] = {}
    # the target's transaction inside the source's snapshot: a failure of either is
    # named by its own database before it leaves
    with source.snapshot(), target.tx("ivr:copy") as writer:
        held = {t.name: n for t in tables if (n := _count(writer, t.name))}
        if held and not replace:
            raise TargetNotEmpty(target.where, held)
        for name in held:
            writer.execute(f"DELETE FROM {name}")
        for table in tables:
            copied[table.name] = (_copy_table(source, writer, table, batch, progress)
                                  if table.name in present else 0)
            if table.name not in present and progress:
                progress(table.name, 0, 0)  # a table added since the source's release
        wrong = {t.name: (copied[t.name], found) for t in tables
                 if (found := _count(writer, t.name)) != copied[t.name]}
        if wrong:  # someone else writing to the target meanwhile: keep nothing
            raise StoreError(f"{target.where}: the row counts do not match the source's (" +
                             ", ".join(f"{t}: {n} copied, {m} found"
                                       for t, (n, m) in wrong.items()) + "); nothing kept")
        for table in tables:
            reset = target.reset_ids(table.name, table.key) if table.numbered else None
            if reset:
                writer.execute(reset)
    return copied


def _count(tx: Tx, table: str) -> int:
    return int(tx.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _copy_table(source: Database, writer: Tx, table: Table, batch: int,
                progress: Progress | None) -> int:
    """``table``'s rows, read from the source in key order a batch at a time (each read
    starting after the last key: no offset to skip over) and inserted with their keys."""
    have = source.columns(table.name)
    picked: list[tuple[str, str]] = []  # (the target's column, what the source reads)
    for column in table.columns:
        old = RENAMED.get((table.name, column))
        made = DERIVED.get((table.name, column))
        if column in have:
            picked.append((column, _quoted(column)))
        elif old in have:
            picked.append((column, _quoted(old)))
        elif made and set(made[0]) <= have:
            picked.append((column, made[1]))
        # else: added since the source's release; the schema's default fills it
    if table.key not in have:
        raise StoreError(f"{source.where}: the table {table.name} has no {table.key} column: "
                         f"not an ivr database")
    names = [c for c, _ in picked]
    read = (f"SELECT {', '.join(c for _, c in picked)} FROM {table.name} "
            f"{{where}} ORDER BY {_quoted(table.key)} LIMIT {int(batch)}")
    insert = (f"INSERT INTO {table.name} ({', '.join(_quoted(c) for c in names)}) "
              f"VALUES ({', '.join('?' for _ in names)})")
    key_at = names.index(table.key)
    total = int(source.read_one(f"SELECT COUNT(*) FROM {table.name}")[0])
    done, last = 0, None
    while True:
        rows = (source.read_all(read.format(where=""), ()) if last is None else
                source.read_all(read.format(where=f"WHERE {_quoted(table.key)} > ?"), (last,)))
        if rows:
            writer.executemany(insert, [tuple(r) for r in rows])
            done, last = done + len(rows), rows[-1][key_at]
        if progress and (rows or not done):
            progress(table.name, done, total)
        if len(rows) < batch:
            return done


def _quoted(column: str) -> str:
    return f'"{column}"'  # "user" is a reserved word in PostgreSQL
