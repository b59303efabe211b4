"""Issue 19, points 5 and 6: support tools tell the truth, and one setting behaves the same
in every command.

5. ``ivr unlock`` (and ``ivr ops unlock``) look lockouts up with the server's SECRET_KEY or
   refuse; "unlocked" is said and logged only when something was; a failing command leaves
   no file; the SQLite database and its -wal/-shm are created 0600.
6. ``ivr tune --database``; ``IVR_DEV=yes`` refused by lint as by serve; lint checks
   MENU_B; ``advise --queue`` and ``instance/config.py`` say "did you mean"; ``tune --keys``
   needs ``--suggest``; another application's SQLite file is named as such by every
   command; ``report --version`` of an unknown tree is refused; the report's period is in
   the centre's timezone.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import TOKEN
from servers import free_port

from ivr import config, create_app
from ivr.cli import cli
from ivr.errors import StoreError
from ivr.records.database import migrations, open_database
from ivr.records.store import Store

ACCOUNT, SERVERS = "10000003", "test-secret"  # conftest's settings key the server's book


def ivr(*args: str, env: dict[str, str | None] | None = None, input: str | None = None
        ) -> Result:
    return CliRunner().invoke(cli, list(args), env=env or {}, input=input)


def lock(app: Any, account: str = ACCOUNT) -> None:
    """Five wrong PINs, as the server counts them: the account is locked."""
    book, now = app.extensions["ivr"].lockouts, datetime.now(UTC)
    for _ in range(5):
        book.record_failure(account, now, "+8613700000009")
    assert book.locked(account, "", now) is not None


def unlocked_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "unlocked by support" in r.getMessage()]


# -- 5. the server's key, or a clear refusal -----------------------------------------------

@pytest.mark.both_backends
def test_unlock_with_another_key_refuses_and_the_servers_unlocks(app, database, clock, caplog):
    lock(app)
    clock.tick(1)  # support acts after the wrong PINs, not in the same second
    caplog.set_level(logging.WARNING, "ivr")
    wrong = ivr("unlock", ACCOUNT, "--db", database, env={"IVR_SECRET_KEY": "another"})
    assert wrong.exit_code == 1
    assert wrong.output.endswith(" were keyed with another SECRET_KEY: set IVR_SECRET_KEY to "
                                 "the server's\n"), wrong.output
    assert "no lock" not in wrong.output and not unlocked_logs(caplog)
    lockouts = app.extensions["ivr"].lockouts
    assert lockouts.locked(ACCOUNT, "", datetime.now(UTC)) is not None  # still locked

    right = ivr("unlock", ACCOUNT, "--db", database, env={"IVR_SECRET_KEY": SERVERS})
    assert right.output == "phone verification unlocked for account ****0003\n"
    assert lockouts.locked(ACCOUNT, "", datetime.now(UTC)) is None
    assert len(unlocked_logs(caplog)) == 1
    again = ivr("unlock", ACCOUNT, "--db", database, env={"IVR_SECRET_KEY": SERVERS})
    assert again.output == "account ****0003 had no lock or failed PINs on record\n"
    assert len(unlocked_logs(caplog)) == 1  # nothing unlocked, nothing logged


@pytest.mark.both_backends
def test_ops_unlock_with_another_key_refuses(app, database):
    password = "correct horse battery\n"
    added = ivr("ops", "add-user", "lead", "--db", database, input=password * 2)
    assert added.exit_code == 0, added.output
    result = ivr("ops", "unlock", "lead", "--db", database, env={"IVR_SECRET_KEY": "another"})
    assert result.exit_code == 1
    assert "were keyed with another SECRET_KEY: set IVR_SECRET_KEY" in result.output


def test_unlock_from_a_plain_shell_does_not_guess_the_key(workdir: Path, tmp_path: Path) -> None:
    """The issue's case: the server ran with IVR_SECRET_KEY, support's shell has none."""
    app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "SECRET_KEY": "the server's",
                      "AUDIO_DIR": str(tmp_path / "audio")})
    lock(app)
    app.extensions["ivr"].store.close()
    plain = ivr("unlock", ACCOUNT, env={"IVR_SECRET_KEY": None})
    assert plain.exit_code == 1
    assert plain.output.startswith("Error: SECRET_KEY is not set: the lockouts in ")
    assert plain.output.endswith("set IVR_SECRET_KEY to it\n")
    assert not (workdir / "instance" / "secret_key").exists()  # no key made
    (workdir / "instance" / "secret_key").write_text("a key kept by an earlier --dev run")
    stale = ivr("unlock", ACCOUNT, env={"IVR_SECRET_KEY": None})
    assert stale.exit_code == 1 and "keyed with another SECRET_KEY" in stale.output
    assert ivr("unlock", ACCOUNT, env={"IVR_SECRET_KEY": "the server's"}).output == \
        "phone verification unlocked for account ****0003\n"


def test_failed_pins_without_a_lock_are_said_so(app, database):
    book, now = app.extensions["ivr"].lockouts, datetime.now(UTC)
    book.record_failure(ACCOUNT, now, "+8613700000009")
    result = ivr("unlock", ACCOUNT, "--db", database, env={"IVR_SECRET_KEY": SERVERS})
    assert result.output == "account ****0003 was not locked; 1 failed PIN forgotten\n"


def test_a_failing_command_creates_no_file(workdir: Path) -> None:
    assert ivr("unlock", "10000001").exit_code == 1
    for command in ("unlock", "disable", "enable", "remove", "reset-password"):
        assert ivr("ops", command, "bob").exit_code == 1, command
    port = str(free_port())
    served = {"TWILIO_AUTH_TOKEN": TOKEN, "IVR_SECRET_KEY": "k"}
    result = ivr("serve", "--port", port,
                 env={**served, "IVR_ACCESS_LOG": "/nonexistent/x.log"})
    assert result.exit_code == 1
    assert result.output == ("Error: the access log (ACCESS_LOG): /nonexistent/x.log: the "
                             "folder /nonexistent does not exist\n")
    no_key = ivr("serve", "--port", port, env={"TWILIO_AUTH_TOKEN": TOKEN})
    assert no_key.exit_code == 1 and no_key.output.startswith("Error: SECRET_KEY is not set")
    assert list(workdir.iterdir()) == []


def test_the_database_and_its_wal_and_shm_are_private(tmp_path: Path) -> None:
    """And its -lock, where the processes writing it queue for SQLite's write lock."""
    before = os.umask(0o022)  # the usual umask, which made them 0644
    try:
        store = Store(tmp_path / "new" / "ivr.db")
    finally:
        os.umask(before)
    files = ["ivr.db", "ivr.db-lock", "ivr.db-shm", "ivr.db-wal"]
    try:
        made = sorted(tmp_path.joinpath("new").iterdir())
        assert [p.name for p in made] == files
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in made} == \
            dict.fromkeys(files, 0o600)
    finally:
        store.close()


# -- 6. one behaviour for one setting ------------------------------------------------------

def test_tune_takes_database_as_every_command_does(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.db")
    by_db, by_database = ivr("tune", "--db", missing), ivr("tune", "--database", missing)
    assert by_database.exit_code == by_db.exit_code == 2
    assert "No such option" not in by_database.output
    assert by_database.output == by_db.output


def test_a_flag_lint_accepts_is_one_serve_accepts(workdir: Path) -> None:
    said = "Error: invalid setting: IVR_DEV must be true or false, not 'yes'\n"
    for command in (["lint"], ["serve", "--dev"], ["serve"]):
        result = ivr(*command, env={"IVR_DEV": "yes", "TWILIO_AUTH_TOKEN": TOKEN})
        assert (result.exit_code, result.output) == (1, said), command
    assert ivr("lint", env={"IVR_DEV": "true"}).exit_code == 0
    assert list(workdir.iterdir()) == []


def test_lint_checks_the_ab_trials_second_tree(workdir: Path) -> None:
    shipped = (Path(config.PACKAGE) / "menus" / "wallet.yaml").read_text(encoding="utf-8")
    Path("b.yaml").write_text(shipped + "bogus: 1\n", encoding="utf-8")
    trial = {"IVR_MENU_B": "b.yaml", "IVR_MENU_B_SHARE": "0.1"}
    result = ivr("lint", env=trial)
    assert result.exit_code == 1
    assert result.output.splitlines()[-3:] == [
        "wallet.yaml: 39 nodes, 0 errors",
        f"error: b.yaml:{shipped.count(chr(10)) + 1} bogus: unknown top-level field",
        "b.yaml: 39 nodes, 1 error"]
    assert ivr("lint", "b.yaml").output.splitlines()[-1] == "b.yaml: 39 nodes, 1 error"
    assert ivr("lint", env={**trial, "IVR_MENU_B": str(config.PACKAGE / "menus" / "wallet.yaml")}
               ).exit_code == 0


def test_advise_suggests_the_queue_meant() -> None:
    result = ivr("advise", "--queue", "payment")
    assert result.exit_code == 2
    assert "no queue 'payment' (did you mean 'payments'?); choose from payments" in result.output


def test_tune_keys_without_suggest_is_refused() -> None:
    result = ivr("tune", "--keys", "renumber")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == ("Error: --keys says how --suggest numbers its "
                                              "options; give --suggest too")


def test_a_misspelt_name_in_the_config_file_is_warned_about(workdir: Path, caplog,
                                                            monkeypatch) -> None:
    monkeypatch.setattr(config, "_warned", set())
    Path("instance").mkdir()
    Path("instance/config.py").write_text("LOCKOUT_SECS = 5\nSESSION_COOKIE_NAME = 'x'\n")
    caplog.set_level(logging.WARNING, "ivr")
    assert ivr("lint").exit_code == 0
    said = [r.getMessage() for r in caplog.records if r.name == "ivr.config"]
    assert said == [f"LOCKOUT_SECS in {Path('instance/config.py')} is not a setting and is "
                    "ignored (did you mean LOCKOUT_S?)"]  # Flask's own names are no typo


def another_apps_database(location: str) -> None:
    """A database of another application: an accounts table without ivr's columns."""
    tables = ("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)",
              "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    if not location.startswith("postgresql://"):
        with closing(sqlite3.connect(location)) as conn, conn:
            for sql in tables:
                conn.execute(sql)
        return
    db = open_database(location)
    try:
        with db.tx() as tx:
            for sql in tables:
                tx.execute(sql)
    finally:
        db.close()


NOT_IVR = "is not an ivr database (it has tables accounts, notes but not calls)"


@pytest.mark.both_backends
@pytest.mark.parametrize("command", [
    ["report"], ["callbacks"], ["unlock", "10000001"], ["tune"], ["graph", "-o", "t.mmd"],
    ["forecast"], ["db", "status"], ["db", "upgrade"], ["ops", "add-user", "lead"],
    ["ops", "unlock", "lead"], ["replay", "--calls"], ["call", "--press", "1"], ["demo"]],
    ids=" ".join)
def test_another_applications_database_is_named_as_such(workdir, database, backend, command):
    if backend == "postgresql" and command[0] in ("call", "demo"):
        pytest.skip("the simulators keep their calls in SQLite files only")
    another_apps_database(database)
    option = [] if command[-1] == "--calls" else ["--db"]
    result = ivr(*command, *option, database, env={"IVR_SECRET_KEY": "k"})
    assert result.exit_code in (1, 2), result.output
    assert result.output.splitlines()[-1].endswith(NOT_IVR), result.output
    assert "Traceback" not in result.output and "no such column" not in result.output
    with closing(open_database(database, read_only=True)) as db:
        assert db.tables() == {"accounts", "notes"}  # neither migrated nor written


@pytest.mark.both_backends
def test_the_app_refuses_another_applications_database_too(database, settings):
    another_apps_database(database)
    with pytest.raises(StoreError, match=NOT_IVR.replace("(", r"\(").replace(")", r"\)")):
        create_app(settings)
    with closing(open_database(database, read_only=True)) as db:
        with pytest.raises(StoreError, match="is not an ivr database"):
            migrations.status(db)


def test_serve_on_another_applications_file_makes_nothing(workdir: Path) -> None:
    another_apps_database("other.db")
    before = Path("other.db").read_bytes()
    result = ivr("serve", "--port", str(free_port()),
                 env={"TWILIO_AUTH_TOKEN": TOKEN, "IVR_SECRET_KEY": "k",
                      "IVR_DATABASE": "other.db"})
    assert result.output == f"Error: other.db {NOT_IVR}\n"
    assert Path("other.db").read_bytes() == before
    assert sorted(p.name for p in workdir.iterdir()) == ["other.db"]


def test_report_refuses_an_unknown_version_and_lists_the_known(app, caller, database):
    caller().start()
    result = ivr("report", "--db", database, "--version", "nonexist")
    assert result.exit_code == 2
    line = result.output.splitlines()[-1]
    assert line.startswith("Error: Invalid value for --version: unknown tree version "
                           "'nonexist': the calls recorded ran on ")
    assert line.endswith(" (wallet.yaml)")
    assert ivr("report", "--db", database, "--version", "wallet.yaml").exit_code == 0


def test_report_says_its_period_in_the_centres_timezone(app, caller, database):
    caller().start()  # at conftest's QUIET: 01:30 UTC, 09:30 in Shanghai
    first = ivr("report", "--db", database, "--since", "2026-11-25").output.splitlines()[0]
    assert first == ("1 call from 2026-11-25 09:30:00 to 2026-11-25 09:30:00 (asked: "
                     "2026-11-25 00:00:00 to now); times in Asia/Shanghai.")
    empty = ivr("report", "--db", database, "--since", "2030-01-01").output
    assert empty == ("No calls in the period (asked: 2030-01-01 00:00:00 to now); times in "
                     "Asia/Shanghai.\n")


def test_sqlite_file_of_another_app_is_not_touched_by_a_reader(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE notes (x)")
    before = path.read_bytes()
    result = ivr("db", "upgrade", "--db", str(path))
    assert result.exit_code == 2 and "is not an ivr database" in result.output
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]
