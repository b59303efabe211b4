"""``ivr replay --db`` keeps the record of every call it makes, for ``ivr report``, while
each scenario still starts from the same accounts and lockouts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ivr.cli import cli

SCENARIOS = Path(__file__).parent / "scenarios"


def test_replay_keeps_every_call_in_the_database_and_no_state(runner, workdir):
    errors = SCENARIOS / "errors.yaml"  # wrong PINs and a lockout: state that must not leak
    result = runner.invoke(cli, ["replay", str(errors), "--repeat", "2", "--db", "calls.db",
                                 "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    runs = int(result.output.split(" calls (")[0].rsplit("\n", 1)[-1])
    with sqlite3.connect(workdir / "calls.db") as db:
        calls = db.execute("SELECT COUNT(*), COUNT(DISTINCT call_sid) FROM calls").fetchone()
        events = db.execute("SELECT COUNT(DISTINCT call_sid) FROM call_events").fetchone()[0]
        versions = db.execute("SELECT DISTINCT menu_file FROM calls").fetchall()
        locks = db.execute("SELECT COUNT(*) FROM pin_locks WHERE locked_until IS NOT NULL"
                           ).fetchone()[0]
    assert calls == (runs, runs) and events == runs and versions == [("wallet.yaml",)]
    assert locks == 0  # the lockout scenario's lock went back with the rest


def test_without_db_replay_forgets_its_calls(runner, workdir):
    result = runner.invoke(cli, ["replay", str(SCENARIOS / "fidelity.yaml"), "-q"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not list(workdir.glob("*.db")) and not (workdir / "instance").exists()
