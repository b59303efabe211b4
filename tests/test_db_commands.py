"""``ivr db status``, ``ivr db upgrade`` and ``ivr db copy`` on real databases: SQLite
files, the session's throwaway PostgreSQL, and a file made by the previous release.

``tests/data/release-0.15.db`` was made by release 0.15 (commit 8bd5cba) itself:

    git archive 8bd5cba | tar -x -C /tmp/old && cd /tmp/old
    PYTHONPATH=/tmp/old python -c "from ivr.cli import cli; cli()" \\
        demo --db /tmp/release-0.15.db --at 2026-11-26
    # then, with that release's Users, SQLiteWallet and console.records: an ops user
    # alice and an agent bo, a complaint ticket for the first call, alice's log-in, the
    # demo's callback settled and the ticket closed (three audit rows under "user")

It holds 5 calls (36 events), 3 accounts, 1 callback, 1 ticket, 2 users and 3 audit rows,
no schema_version, and audit_log's column still called ``user``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from conftest import Caller

from ivr import create_app
from ivr.cli import cli
from ivr.records.database import migrations, open_database
from ivr.records.database.copy import schema
from ivr.records.store import Store

RELEASE_015 = Path(__file__).parent / "data" / "release-0.15.db"
FIRST_CALL = "CA0e629096ac004523b8e3bbe3e09af899"  # verified, queued for payments
STRANGER = "+8613700000000"
VERIFY = ("10000001#", "246810")


def ivr(runner: Any, *args: str, **kwargs: Any) -> Any:
    return runner.invoke(cli, list(args), catch_exceptions=False, **kwargs)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def with_password(url: str, password: str = "s3cret") -> str:
    """The test server trusts every login: a password is accepted, and must not show."""
    return url.replace("://ivr@", f"://ivr:{password}@")


def rows(location: str | Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the schema, its rows in key order."""
    db = open_database(location, read_only=True)
    try:
        return {t.name: [tuple(r) for r in db.read_all(
            f"SELECT {', '.join(t.columns)} FROM {t.name} ORDER BY {t.key}")]
            for t in schema()}
    finally:
        db.close()


@pytest.fixture(name="old_db")
def _old_db(tmp_path: Path) -> Path:
    """A copy of release 0.15's file (opening the one in tests/data would leave its
    -wal and -shm beside it)."""
    path = tmp_path / "release-0.15.db"
    shutil.copyfile(RELEASE_015, path)
    return path


@pytest.fixture(name="old_rows")
def _old_rows(tmp_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of release 0.15's file once upgraded in place, as a copy should give them."""
    path = tmp_path / "upgraded.db"
    shutil.copyfile(RELEASE_015, path)
    Store(path).close()
    return rows(path)


@pytest.fixture(name="pg_url")
def _pg_url(postgres_server: Any) -> str:
    return str(postgres_server.fresh_database())


def newer(location: str | Path) -> None:
    """Bring ``location`` to this release's schema, then record the next version, of a
    future release."""
    db = open_database(location)
    try:
        migrations.upgrade(db)
        with db.tx() as tx:
            tx.execute("INSERT INTO schema_version (version, name, applied_at) VALUES "
                       f"({migrations.LATEST + 1}, 'from a future release', "
                       "'2027-01-01T00:00:00+00:00')")
    finally:
        db.close()


# -- status --------------------------------------------------------------------------------


#: the migrations' names, as the commands print them
HEARD = migrations.MIGRATIONS[2].name
KEYED_WITH = migrations.MIGRATIONS[3].name
LOGIN_NAME_KEY = migrations.MIGRATIONS[4].name
SESSION_GEN = migrations.MIGRATIONS[5].name
NOTICES = migrations.MIGRATIONS[6].name
TICKET_TEAM = migrations.MIGRATIONS[7].name
CALLER_KEY = migrations.MIGRATIONS[8].name
CALLER_NEED = migrations.MIGRATIONS[9].name
SMS_OUTBOX = migrations.MIGRATIONS[10].name
CSAT = migrations.MIGRATIONS[11].name
TICKET_STAGES = migrations.MIGRATIONS[12].name


def first_call(location: str | Path) -> dict | None:
    """The record of the 0.15 fixture's first call, as the store reads it at ``location``."""
    store = Store(location)
    try:
        return store.call(FIRST_CALL)
    finally:
        store.close()


def test_status_of_release_015_lists_both_migrations_pending_and_changes_nothing(runner, old_db):
    before = digest(old_db)
    result = ivr(runner, "db", "status", "--db", str(old_db))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"database: sqlite {old_db}"
    assert lines[1] == ("schema version: 0 (none recorded: made by a release before schema "
                        f"versions); this release's latest: {migrations.LATEST}")
    assert "applied: none" in lines
    assert any(line.split()[:1] == ["1"] and "the tables of the releases" in line
               for line in lines)
    assert lines[-1] == f"{len(migrations.MIGRATIONS)} migrations pending: run ivr db upgrade"
    assert digest(old_db) == before


def test_status_json_of_an_up_to_date_database(runner, tmp_path):
    path = tmp_path / "ivr.db"
    Store(path).close()
    result = ivr(runner, "db", "status", "--db", str(path), "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["backend"] == "sqlite" and found["where"] == str(path)
    assert (found["version"], found["latest"], found["state"]) == (
        migrations.LATEST, migrations.LATEST, "up to date")
    assert [a["number"] for a in found["applied"]] == [m.number for m in migrations.MIGRATIONS]
    assert all(a["applied_at"] for a in found["applied"]) and found["pending"] == []
    text = ivr(runner, "db", "status", "--db", str(path)).output.splitlines()
    assert text[-2:] == ["pending: none", "up to date"]


def test_status_reads_the_app_database_setting_by_default(runner, workdir):
    Store(workdir / "mine.db").close()
    result = ivr(runner, "db", "status", env={"IVR_DATABASE": "sqlite:///mine.db"})
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "database: sqlite mine.db"


def test_status_of_a_postgresql_database_without_ivr_tables_creates_none(runner, pg_url):
    url = with_password(pg_url)
    result = ivr(runner, "db", "status", "--db", url)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == ("no ivr tables yet: ivr db upgrade makes them "
                                              "(as ivr serve does at start)")
    assert "s3cret" not in result.output and ":***@" in result.output
    db = open_database(pg_url)
    try:
        assert db.tables() == set()
    finally:
        db.close()


def test_status_of_a_sqlite_file_of_another_program(runner, tmp_path):
    path = tmp_path / "other.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    before = path.read_bytes()
    for command in ("status", "upgrade"):  # neither read as an empty ivr one nor upgraded
        result = ivr(runner, "db", command, "--db", str(path))
        assert result.exit_code == 2
        assert result.output.splitlines()[-1].endswith(
            f"{path} is not an ivr database (it has tables notes but not calls)")
    assert path.read_bytes() == before


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_database_of_a_newer_release_is_refused(runner, tmp_path, request, kind):
    location = (str(tmp_path / "ivr.db") if kind == "sqlite"
                else with_password(request.getfixturevalue("pg_url")))
    newer(location)
    ahead = f"version {migrations.LATEST + 1} > {migrations.LATEST}"
    result = ivr(runner, "db", "status", "--db", location)
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == f"made by a newer ivr ({ahead}): upgrade ivr to use it"
    assert f"{migrations.LATEST + 1}  2027-01-01T00:00:00+00:00  from a future release" \
        in result.output
    assert json.loads(ivr(runner, "db", "status", "--db", location, "--json").output)[
        "state"] == "newer"
    upgraded = ivr(runner, "db", "upgrade", "--db", location)
    assert upgraded.exit_code == 1
    assert f"was made by a newer ivr ({ahead}): upgrade ivr" in upgraded.output
    copied = ivr(runner, "db", "copy", "--from", location, "--to", str(tmp_path / "copy.db"))
    assert copied.exit_code == 1
    assert f"was made by a newer ivr ({ahead})" in copied.output
    assert not (tmp_path / "copy.db").exists()
    assert "s3cret" not in result.output + upgraded.output + copied.output


def test_the_readmes_db_example_is_what_the_commands_print(runner, old_db):
    """The README's ``ivr db status`` then ``ivr db upgrade`` on a file of the release
    before schema versions, word for word (its path aside)."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("    $ ivr db status\n")
    block = readme[start:readme.index("`ivr db status` only reads", start)]
    shown = "/srv/hotline/instance/ivr.db"
    for command in ("status", "upgrade"):
        example = block.split(f"    $ ivr db {command}\n")[1].split("\n\n")[0]
        result = ivr(runner, "db", command, "--db", str(old_db))
        assert result.exit_code == 0, result.output
        assert [line[4:] for line in example.splitlines()] == \
            result.output.replace(str(old_db), shown).splitlines()


# -- upgrade -------------------------------------------------------------------------------

def test_upgrade_brings_release_015_to_the_latest_in_place(runner, old_db):
    with closing(sqlite3.connect(old_db)) as db:
        calls_before = db.execute("SELECT * FROM calls ORDER BY call_sid").fetchall()
        audit_before = db.execute('SELECT id, at, "user", action FROM audit_log').fetchall()
    result = ivr(runner, "db", "upgrade", "--db", str(old_db))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"database: sqlite {old_db}",
        "applying 1: the tables of the releases before schema versions",
        "applying 2: audit_log.user is now actor (user is a reserved word in PostgreSQL)",
        f"applying 3: {HEARD}",
        f"applying 4: {KEYED_WITH}",
        f"applying 5: {LOGIN_NAME_KEY}",
        f"applying 6: {SESSION_GEN}",
        f"applying 7: {NOTICES}",
        f"applying 8: {TICKET_TEAM}",
        f"applying 9: {CALLER_KEY}",
        f"applying 10: {CALLER_NEED}",
        f"applying 11: {SMS_OUTBOX}",
        f"applying 12: {CSAT}",
        f"applying 13: {TICKET_STAGES}",
        f"now at version {migrations.LATEST}",
    ]
    with closing(sqlite3.connect(old_db)) as db:
        after = db.execute("SELECT * FROM calls ORDER BY call_sid").fetchall()
        width = len(calls_before[0])  # the columns added since (caller_key) come last, empty
        assert [r[:width] for r in after] == calls_before
        assert {r[width:] for r in after} == {(None,) * (len(after[0]) - width)}
        assert db.execute("SELECT id, at, actor, action FROM audit_log").fetchall() == \
            audit_before
    again = ivr(runner, "db", "upgrade", "--db", str(old_db))
    assert again.output.splitlines()[-1] == \
        f"already at version {migrations.LATEST}, this release's latest"
    assert ivr(runner, "db", "status", "--db", str(old_db)).output.splitlines()[-1] == \
        "up to date"
    call = first_call(old_db)
    assert call is not None and call["verified"] and call["queue"] == "payments"
    assert call["status"] == "completed" and call["account_last4"] == "0001"
    report = ivr(runner, "report", "--db", str(old_db), "--since", "2026-11-26",
                 "--until", "2026-11-26", "--json")
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["calls"] == 5


def test_a_migration_merged_in_below_one_applied_still_applies(runner, tmp_path):
    """Migrations written on two branches (11, the SMS outbox; 12, the survey) may reach a
    database in either order: one that took the higher first still takes the lower. Here
    10 stands in for it, taken out of a database at the latest."""
    path = tmp_path / "ivr.db"
    Store(path).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("DROP INDEX calls_caller_need")
        db.execute("DELETE FROM schema_version WHERE version=10")
        db.commit()
    status = ivr(runner, "db", "status", "--db", str(path))
    assert status.output.splitlines()[-1] == "1 migration pending: run ivr db upgrade"
    result = ivr(runner, "db", "upgrade", "--db", str(path))
    assert f"applying 10: {CALLER_NEED}" in result.output.splitlines()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT 1 FROM sqlite_master WHERE name='calls_caller_need'"
                          ).fetchone()
    assert ivr(runner, "db", "status", "--db", str(path)).output.splitlines()[-1] == \
        "up to date"


def test_upgrade_gives_release_015s_complaint_ticket_to_the_complaints_team(runner, old_db):
    """Its one ticket was filed in a call that ended in the payments queue: before tickets
    kept their team, the Tickets page listed it under payments, and the complaints agents
    never saw it."""
    from ivr.console import records

    assert ivr(runner, "db", "upgrade", "--db", str(old_db)).exit_code == 0
    store = Store(old_db)
    try:
        assert first_call(old_db)["queue"] == "payments"
        (ticket,) = records.tickets(store, ("complaints",))
        assert ticket["call_sid"] == FIRST_CALL and ticket["team"] == "complaints"
        assert records.tickets(store, ("payments",)) == []
    finally:
        store.close()


def test_upgrade_makes_the_tables_of_a_new_postgresql_database(runner, pg_url):
    result = ivr(runner, "db", "upgrade", "--db", with_password(pg_url))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"now at version {migrations.LATEST}"
    assert "s3cret" not in result.output
    db = open_database(pg_url, read_only=True)
    try:
        assert {t.name for t in schema()} < db.tables()
        assert migrations.status(db).version == migrations.LATEST
    finally:
        db.close()


# -- copy ----------------------------------------------------------------------------------

def make_calls(caller: Any, app: Any) -> None:
    """A complaint filed (a ticket, PIN checks), a fraud call ended by Twilio's status
    callback, and a wrong PIN: rows in calls, call_events, pin_attempts, tickets."""
    complaint = caller(STRANGER)
    complaint.start()
    complaint.keys("2", "4", "1", *VERIFY, "1")
    complaint.record()
    complaint.press("0")
    assert complaint.queue == "complaints"
    fraud = caller(STRANGER)
    fraud.start()
    fraud.keys("2", "3", *VERIFY, "2")
    assert fraud.queue == "fraud"
    fraud.send("/voice/status", CallStatus="completed", CallDuration="95")
    wrong = caller(STRANGER)
    wrong.start()
    wrong.keys("2", "3", "10000001#", "111111")


def test_copy_sqlite_to_postgresql_and_back_keeps_every_row(runner, app, caller, settings,
                                                            tmp_path, pg_url):
    make_calls(caller, app)
    app.extensions["ivr"].store.close()
    source = settings["DATABASE"]
    before = rows(source)
    assert before["calls"] and before["call_events"] and before["tickets"]
    assert before["pin_attempts"]
    url = with_password(pg_url)
    there = ivr(runner, "db", "copy", "--from", source, "--to", url)
    assert there.exit_code == 0, there.output
    assert "s3cret" not in there.output
    assert rows(pg_url) == before
    back = tmp_path / "back.db"
    again = ivr(runner, "db", "copy", "--from", url, "--to", str(back))
    assert again.exit_code == 0, again.output
    assert rows(back) == before
    # a new call on the copy: its events and PIN checks get ids past the copied ones
    hosts = create_app({**settings, "DATABASE": pg_url})
    try:
        call = Caller(hosts.test_client(), STRANGER)
        call.start()
        call.keys("2", "2", "3", *VERIFY, "2")  # 2: not the last call's fraud (ivr.records.known)
        assert call.said("Are you calling again about")
        assert call.queue == "fraud"
        store = hosts.extensions["ivr"].store
        assert store.call(call.sid)["verified"]
        events = store.read_all("SELECT id FROM call_events WHERE call_sid=?", (call.sid,))
        assert events and min(r["id"] for r in events) == max(r[0] for r in before["call_events"]) + 1
        checks = store.read_all("SELECT id FROM pin_attempts WHERE id > ?",
                                (max(r[0] for r in before["pin_attempts"]),))
        assert len(checks) == 1
    finally:
        hosts.extensions["ivr"].store.close()


def test_copy_of_release_015_reads_it_as_it_is(runner, old_db, old_rows, pg_url):
    before = digest(old_db)
    result = ivr(runner, "db", "copy", "--from", str(old_db), "--to", pg_url)
    assert result.exit_code == 0, result.output
    assert digest(old_db) == before  # neither upgraded nor written
    copied = rows(pg_url)
    assert copied == old_rows
    assert [r[2] for r in copied["audit_log"]] == ["alice"] * 3  # read from "user"
    assert len(copied["calls"]) == 5 and len(copied["call_events"]) == 36
    assert result.stdout.splitlines()[-1] == ("17 tables, 59 rows; the target's row counts "
                                              "match the source's")
    assert "call_events 36".split() in [line.split() for line in result.stdout.splitlines()]
    call = first_call(pg_url)
    assert call is not None and call["verified"] and call["queue"] == "payments"


def test_copy_prints_its_progress_per_table_on_stderr(runner, old_db, old_rows, tmp_path):
    target = tmp_path / "copy.db"
    result = ivr(runner, "db", "copy", "--from", str(old_db), "--to", str(target),
                 "--batch", "10")
    assert result.exit_code == 0, result.output
    progress = result.stderr.splitlines()
    assert progress[:4] == [
        f"{target}: applying 1: the tables of the releases before schema versions",
        f"{target}: applying 2: audit_log.user is now actor (user is a reserved word in "
        "PostgreSQL)",
        f"{target}: applying 3: {HEARD}",
        f"{target}: applying 4: {KEYED_WITH}",
    ]
    assert [line for line in progress if line.startswith("copying call_events")] == [
        f"copying call_events: {n}/36 rows" for n in (10, 20, 30, 36)]
    assert "copying agent_calls: 0/0 rows" in progress
    assert "copying" not in result.stdout
    assert rows(target) == old_rows


def test_copy_refuses_a_target_holding_rows_unless_replace(runner, old_db, old_rows,
                                                          tmp_path):
    target = tmp_path / "target.db"
    store = Store(target)
    try:  # a row of the target's own, that a refused copy keeps
        with store.tx() as tx:
            tx.execute("INSERT INTO login_failures (key, at) VALUES ('k', '2026-01-01')")
    finally:
        store.close()
    refused = ivr(runner, "db", "copy", "--from", str(old_db), "--to", str(target))
    assert refused.exit_code == 1
    assert refused.output.splitlines()[-1] == (
        f"Error: {target} already holds ivr data: login_failures (1 row); copy into an "
        "empty database, or give --replace to delete them first")
    assert rows(target)["login_failures"] == [(1, "k", "2026-01-01", None)]
    replaced = ivr(runner, "db", "copy", "--from", str(old_db), "--to", str(target),
                   "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert rows(target) == old_rows
    twice = ivr(runner, "db", "copy", "--from", str(old_db), "--to", str(target))
    assert twice.exit_code == 1
    assert "accounts (3 rows), audit_log (3 rows), call_events (36 rows)" in twice.output


def test_copy_refuses_one_database_named_twice(runner, old_db, tmp_path, postgres_server):
    spelled = tmp_path / "." / old_db.name
    result = ivr(runner, "db", "copy", "--from", str(old_db), "--to", f"sqlite:///{spelled}")
    assert result.exit_code == 1
    assert result.output == f"Error: {old_db} is both --from and --to: give two databases\n"
    url = postgres_server.fresh_database()
    other_login = with_password(url).replace("127.0.0.1", "localhost")
    result = ivr(runner, "db", "copy", "--from", url, "--to", other_login)
    assert result.exit_code == 1 and "is both --from and --to" in result.output


def test_copy_errors_are_one_line_without_the_password(runner, old_db, tmp_path, pg_url):
    closed = "postgresql://ivr:s3cret@127.0.0.1:1/ivr"  # nothing listens on port 1
    for args in (["--from", str(old_db), "--to", closed],
                 ["--from", closed, "--to", str(tmp_path / "new.db")]):
        result = ivr(runner, "db", "copy", *args)
        assert result.exit_code == 1
        assert result.output.startswith("Error: cannot open the database "
                                        "postgresql://ivr:***@127.0.0.1:1/ivr: ")
        assert len(result.output.splitlines()) == 1 and "s3cret" not in result.output
    empty = ivr(runner, "db", "copy", "--from", with_password(pg_url),
                "--to", str(tmp_path / "new.db"))
    assert empty.exit_code == 1
    assert empty.output == (f"Error: {pg_url.replace('://ivr@', '://ivr:***@')} is not an "
                            "ivr database (it has no tables)\n")
    assert not (tmp_path / "new.db").exists()
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    result = ivr(runner, "db", "copy", "--from", str(other), "--to", pg_url)
    assert result.output.splitlines()[-1] == (f"Error: Invalid value for '--from': {other} is "
                                              "not an ivr database (it has tables notes but "
                                              "not calls)")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_snapshot_reads_one_moment_while_others_write(tmp_path, request, kind):
    """What lets ``ivr db copy`` read a live database: one consistent state."""
    location = (str(tmp_path / "ivr.db") if kind == "sqlite"
                else request.getfixturevalue("pg_url"))
    Store(location).close()
    reader, writer = open_database(location, read_only=True), open_database(location)
    count = "SELECT COUNT(*) FROM login_failures"
    try:
        with reader.snapshot():
            assert reader.read_one(count)[0] == 0
            with writer.tx() as tx:
                tx.execute("INSERT INTO login_failures (key, at) VALUES ('k', 't')")
            assert writer.read_one(count)[0] == 1
            assert reader.read_one(count)[0] == 0
        assert reader.read_one(count)[0] == 1
    finally:
        reader.close()
        writer.close()
