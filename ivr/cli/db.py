"""``ivr db``: where a database's schema stands (status), bringing it to this release's
(upgrade), and moving a deployment's records to another database (copy).

Thin commands over ``ivr.records.database.migrations`` and ``ivr.records.database.copy``. A database is
always named by ``Database.where``: a URL's password is never printed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ivr.cli.args import Database as DatabaseOption
from ivr.cli.args import app_settings, boundary, sqlite_problem
from ivr.plural import counted
from ivr.records.database import Database, is_postgres, migrations, open_database, shown
from ivr.records.database import copy as copying

DB_HELP = ("The database: a SQLite file or a postgresql:// URL (default: the app's, from "
           "IVR_DATABASE or the instance).")


@click.group("db")
def db_group() -> None:
    """The hotline's database: its schema version, upgrades, copies between SQLite and
    PostgreSQL."""


def _location(database: Path | str | None, create: bool) -> str:
    """``--db``, else the app's database setting (checked as ``--db`` would be)."""
    location = str(database) if database is not None else str(app_settings()["DATABASE"])
    if not is_postgres(location):
        problem = sqlite_problem(Path(location), create)
        if problem:
            raise click.ClickException(problem)
    return location


@contextmanager
def _opened(location: str | Path, read_only: bool = False) -> Iterator[Database]:
    with boundary():
        db = open_database(location, read_only=read_only, pool_size=2)
    try:
        with boundary():
            yield db
    finally:
        db.close()


def _state(db: Database, found: migrations.Status) -> str:
    """What the status comes to: up to date, pending, newer or empty."""
    if found.ahead:
        return "newer"
    if found.version == 0 and not copying.ivr_tables(db):
        return "empty"
    return "pending" if found.pending else "up to date"


@db_group.command("status")
@click.option("--db", "--database", "database", type=DatabaseOption(create=False),
              metavar="LOCATION", help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(database: Path | str | None, as_json: bool) -> None:
    """Show the schema version, the migrations applied and those pending. Reads only:
    the database is neither created nor changed."""
    with _opened(_location(database, create=False), read_only=True) as db:
        found = migrations.status(db)
        state = _state(db, found)
    if as_json:
        click.echo(json.dumps({
            "backend": db.kind, "where": db.where, "version": found.version,
            "latest": migrations.LATEST, "state": state,
            "applied": [{"number": n, "name": name, "applied_at": at}
                        for n, name, at in found.applied],
            "pending": [{"number": m.number, "name": m.name} for m in found.pending],
        }, ensure_ascii=False))
    else:
        for line in _status_lines(db, found, state):
            click.echo(line)
    if state == "newer":
        raise SystemExit(1)


def _status_lines(db: Database, found: migrations.Status, state: str) -> Iterator[str]:
    yield f"database: {db.kind} {db.where}"
    recorded = "" if found.applied or state == "empty" else \
        " (none recorded: made by a release before schema versions)"
    yield f"schema version: {found.version}{recorded}; this release's latest: {migrations.LATEST}"
    yield "applied:" + ("" if found.applied else " none")
    for number, name, at in found.applied:
        yield f"  {number:>3}  {at}  {name}"
    yield "pending:" + ("" if found.pending else " none")
    for migration in found.pending:
        yield f"  {migration.number:>3}  {migration.name}"
    yield {
        "newer": f"made by a newer ivr (version {found.version} > {migrations.LATEST}): "
                 "upgrade ivr to use it",
        "empty": "no ivr tables yet: ivr db upgrade makes them (as ivr serve does at start)",
        "pending": f"{counted(len(found.pending), 'migration')} pending: run ivr db upgrade",
        "up to date": "up to date",
    }[state]


@db_group.command("upgrade")
@click.option("--db", "--database", "database", type=DatabaseOption(create=True),
              metavar="LOCATION", help=DB_HELP)
def upgrade(database: Path | str | None) -> None:
    """Apply the migrations the database lacks, in order (as ivr serve does at start)."""
    with _opened(_location(database, create=True)) as db:
        click.echo(f"database: {db.kind} {db.where}")
        found = migrations.status(db)
        if found.ahead:
            raise click.ClickException(
                f"{db.where} was made by a newer ivr (version {found.version} > "
                f"{migrations.LATEST}): upgrade ivr; a database is never downgraded")
        if not found.pending:
            click.echo(f"already at version {found.version}, this release's latest")
            return
        migrations.upgrade(db, progress=lambda m: click.echo(f"applying {m.number}: {m.name}"))
        click.echo(f"now at version {migrations.status(db).version}")


@db_group.command("copy")
@click.option("--from", "source", required=True, type=DatabaseOption(create=False), metavar="LOCATION",
              help="The database copied from (only read): a SQLite file or a postgresql:// "
                   "URL, of this release or an earlier one.")
@click.option("--to", "target", required=True, type=DatabaseOption(create=True), metavar="LOCATION",
              help="The database copied to: brought to this release's schema; it must hold "
                   "no ivr rows, unless --replace.")
@click.option("--replace", is_flag=True,
              help="Delete the rows the target's ivr tables hold before copying.")
@click.option("--batch", default=copying.BATCH, show_default=True, type=click.IntRange(1),
              help="Rows read and written at a time.")
def copy(source: Path | str, target: Path | str, replace: bool, batch: int) -> None:
    """Copy a deployment's records to another database: SQLite to PostgreSQL (or back,
    or to another SQLite file). Progress goes to stderr, the summary to stdout."""
    if copying.same_place(source, target):
        raise click.ClickException(f"{shown(source)} is both --from and --to: give two "
                                   "databases")
    with _opened(source, read_only=True) as reader:
        copying.check_source(reader)  # before the target is made or changed
        with _opened(target) as writer:
            migrations.upgrade(writer, progress=lambda m: click.echo(
                f"{writer.where}: applying {m.number}: {m.name}", err=True))
            try:
                copied = copying.copy(reader, writer, replace=replace, batch=batch,
                                      progress=_progress)
            except copying.TargetNotEmpty as exc:
                raise click.ClickException(f"{exc}; copy into an empty database, or give "
                                           "--replace to delete them first") from exc
    click.echo(f"copied {reader.kind} {reader.where} to {writer.kind} {writer.where}")
    width = max(len(t) for t in copied)
    for table, rows in copied.items():
        click.echo(f"  {table:<{width}}  {rows:>8}")
    click.echo(f"{counted(len(copied), 'table')}, {counted(sum(copied.values()), 'row')}; "
               "the target's row counts match the source's")


def _progress(table: str, done: int, total: int) -> None:
    click.echo(f"copying {table}: {done}/{total} rows", err=True)
