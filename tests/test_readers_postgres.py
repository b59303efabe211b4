"""The commands that read a deployment's records, on PostgreSQL: ``ivr report``,
``forecast``, ``tune``, ``graph``, ``callbacks``, ``unlock`` and ``ops users`` give on a
PostgreSQL database filled by real calls what they give on a SQLite file filled by the
same calls; a server that does not answer, or a database that is no ivr one, is one
clear line without the password; and ``ivr serve`` on a URL keeps nothing on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from conftest import QUIET, TOKEN
from freezegun import freeze_time
from servers import free_port, serve
from test_report import Call, six_calls

from ivr import create_app
from ivr.cli import cli
from ivr.tuning import report
from ivr.tuning.report import build

SECRET = "test-secret"


def made(location: str, audio: Path) -> None:
    """The same calls, at the same moments, into the database at ``location``: one
    contained, one that wanders and hangs up, three for an agent (answered, a callback
    booked while holding, hung up waiting), a fallback into general, and a wrong PIN
    for account 10000003 before the caller hangs up."""
    with freeze_time(QUIET) as clock:
        app = create_app({"TESTING": True, "TWILIO_AUTH_TOKEN": TOKEN, "DEMO": True,
                          "SECRET_KEY": SECRET, "DATABASE": location,
                          "AUDIO_DIR": str(audio)})
        client = app.test_client()
        six_calls(client, clock)  # test_report's A to F
        Call(client, clock).keys("2", "1", "1", "10000003#", "000000").hang_up()
        Call(client, clock).hang_up()
    app.extensions["ivr"].store.close()  # in real time: the pool's threads wait on the clock


@pytest.fixture(name="both")
def _both(workdir: Path, postgres_server: Any) -> dict[str, str]:
    """The same calls in a SQLite file and in a PostgreSQL database."""
    databases = {"sqlite": str(workdir / "ivr.db"), "postgresql": postgres_server.fresh_database()}
    for location in databases.values():
        made(location, workdir / "audio")
    return databases


def ivr(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={"IVR_SECRET_KEY": SECRET, **(env or {})})


def output(*args: str, env: dict[str, str] | None = None) -> str:
    result = ivr(*args, env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_report_gives_the_same_numbers_on_both(both: dict[str, str]) -> None:
    sqlite, postgres = (json.loads(output("report", "--db", both[b], "--json"))
                        for b in ("sqlite", "postgresql"))
    assert postgres == sqlite
    assert postgres["calls"] == 8 and postgres["queues"]["general"]["calls"] == 4
    assert postgres["queues"]["general"]["outcomes"]["callback"] == 1
    assert postgres["verification"]["wrong"] == 1
    assert postgres["nodes"]["main"]["median_s"] == sqlite["nodes"]["main"]["median_s"]
    # through the setting, as the app reads it, and as text
    text = output("report", env={"IVR_DATABASE": both["postgresql"]})
    assert text == output("report", "--db", both["sqlite"])
    assert text.startswith("8 calls from ")


def test_a_report_read_a_few_events_at_a_time_is_the_same(both: dict[str, str],
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    whole = {b: build(location) for b, location in both.items()}
    monkeypatch.setattr(report, "EVENTS_PER_READ", 3)  # pages that end inside calls
    assert {b: build(location) for b, location in both.items()} == whole
    assert whole["postgresql"] == whole["sqlite"]


def test_forecast_and_tune_learn_the_same_from_both(both: dict[str, str]) -> None:
    forecasts = [ivr("forecast", "--db", both[b], "--weeks", "1", "--now", "2026-11-25T12:00")
                 for b in ("sqlite", "postgresql")]
    assert forecasts[0].stdout == forecasts[1].stdout and forecasts[1].exit_code == 0
    info = yaml.safe_load(forecasts[1].stdout)["forecast"]
    assert (info["calls"], info["calls_per_queue"]["general"]) == (4, 4)
    # the waits of the two who hung up in the queue, from the status callbacks' times
    assert info["learned"]["general"] == {"answered": 0, "waits": 2, "hung_up_waiting": 2}
    tuned = [json.loads(output("tune", "--db", both[b], "--calls", "200", "--json"))
             for b in ("sqlite", "postgresql")]
    sources = [t["mix"].pop("source") for t in tuned]
    assert sources == [both["sqlite"], both["postgresql"]]
    assert tuned[0] == tuned[1]
    assert tuned[1]["mix"]["calls_per_day"] == 8


def test_graph_draws_the_same_shares_from_both(both: dict[str, str], workdir: Path) -> None:
    for backend, location in both.items():
        said = output("graph", "--db", location, "-o", str(workdir / f"{backend}.mmd"))
        assert said.endswith(f", 8 calls from {location}\n")
    assert (workdir / "sqlite.mmd").read_text("utf-8") == \
        (workdir / "postgresql.mmd").read_text("utf-8")


def test_callbacks_and_unlock_work_on_postgresql(both: dict[str, str]) -> None:
    listed = {b: output("callbacks", "--db", both[b]).splitlines() for b in both}
    assert listed["postgresql"][0] == (f"Pending callbacks in {both['postgresql']}, earliest "
                                       "first; times in Asia/Shanghai (the centre's timezone, "
                                       "as the callers were told)")
    assert listed["postgresql"][1:] == listed["sqlite"][1:]
    assert listed["postgresql"][-1] == "1 pending callback to 1 number"
    rows = [json.loads(line) for line in output("callbacks", "--db", both["postgresql"],
                                                "--json").splitlines()]
    assert [(r["queue"], r["lang"], r["verified"]) for r in rows] == [("general", "en-US", False)]
    for location in both.values():  # 10000001 verified, 10000003's wrong PIN long ago
        assert output("unlock", "10000001", "--db", location) == \
            "account ****0001 had no lock or failed PINs on record\n"
        assert output("unlock", "10000003", "--db", location) == \
            "account ****0003 had no lock or failed PINs on record\n"


def test_ops_users_lists_the_users_of_a_postgresql_database(both: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["ops", "add-user", "lead", "--db", both["postgresql"]],
                                input="correct horse battery\ncorrect horse battery\n")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "added ops lead"
    key = {"IVR_SECRET_KEY": SECRET}  # the server's: with another, the locks are not shown
    lead = ["lead  ops   -       -         active"]
    assert output("ops", "users", "--db", both["postgresql"], env=key).splitlines()[1:] == lead
    assert output("ops", "users", "--db", both["sqlite"], env=key).splitlines()[1:] != lead


def test_replay_reads_the_recorded_calls_of_a_postgresql_database(both: dict[str, str]) -> None:
    def outcomes(location: str) -> list[str]:  # the calls' sids differ between the two
        *calls, summary = output("replay", "--calls", location).splitlines()
        return [" ".join(line.split()[:1] + line.split()[2:]) for line in calls] + [summary]

    from_server = outcomes(both["postgresql"])
    assert from_server == outcomes(both["sqlite"])
    assert from_server[0] == "same not queued, verified"
    assert from_server[-1].startswith("8 calls replayed (against the recorded outcomes)")
    assert output("db", "status", "--db", both["postgresql"]).splitlines()[-1] == "up to date"


# -- what cannot be read ----------------------------------------------------------------------

READERS = [["report"], ["callbacks"], ["unlock", "10000001"], ["forecast"], ["tune"],
           ["ops", "users"], ["graph", "-o", "tree.mmd"]]


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_server_that_does_not_answer_is_one_line_without_the_password(workdir: Path,
                                                                       command: list[str]
                                                                       ) -> None:
    url = f"postgresql://ivr:s3cret@127.0.0.1:{free_port()}/ivr"
    result = ivr(*command, "--db", url)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "s3cret" not in result.output
    assert result.output.splitlines() == [
        line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(result.output.splitlines()) == 1, result.output
    assert "cannot open the database postgresql://ivr:***@127.0.0.1:" in result.output
    assert list(workdir.iterdir()) == []  # no instance folder, no secret_key


def test_replay_from_a_server_that_does_not_answer_is_one_line_without_the_password(
        workdir: Path) -> None:
    url = f"postgresql://ivr:s3cret@127.0.0.1:{free_port()}/ivr"
    result = ivr("replay", "--calls", url)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: cannot open the database postgresql://ivr:***@")
    assert "s3cret" not in result.output and len(result.output.splitlines()) == 1


@pytest.mark.parametrize(("command", "said"), [
    (["report", "--db"], "is not an ivr database (it has no tables)"),
    (["tune", "--db"], "is not an ivr database (it has no tables)"),
    (["graph", "-o", "tree.mmd", "--db"], "is not an ivr database (it has no tables)"),
    (["callbacks", "--db"], "is not an ivr database (it has no tables)"),
    (["forecast", "--db"], "is not an ivr database (it has no tables)"),
    (["replay", "--calls"], "is not an ivr database (it has no tables)"),
], ids=lambda c: c[0] if isinstance(c, list) else "")
def test_a_database_without_ivr_tables_is_said_so_and_left_empty(workdir: Path,
                                                                postgres_server: Any,
                                                                command: list[str],
                                                                said: str) -> None:
    url = postgres_server.fresh_database()
    result = ivr(*command, url)  # the command's option for the database, then the URL
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and said in result.output
    assert url.rsplit("/", 1)[-1] in result.output
    assert len(result.output.splitlines()) == 1, result.output
    from ivr.records.database import open_database

    db = open_database(url, read_only=True)
    try:
        assert db.tables() == set()  # read, never migrated
    finally:
        db.close()


def test_a_postgresql_setting_without_a_secret_key_is_the_config_error(workdir: Path) -> None:
    env = {"IVR_DATABASE": "postgresql://ivr:s3cret@db.example.com/ivr", "IVR_SECRET_KEY": None}
    for command in (["unlock", "10000001"], ["serve"]):
        result = CliRunner().invoke(cli, command, env={**env, "TWILIO_AUTH_TOKEN": TOKEN})
        assert result.exit_code == 1, result.output
        assert result.output == ("Error: SECRET_KEY must be set with a PostgreSQL database: "
                                 "every host sharing it needs the same key (IVR_SECRET_KEY)\n")
    assert list(workdir.iterdir()) == []


# -- ivr serve -------------------------------------------------------------------------------

def test_serve_on_a_postgresql_url_keeps_nothing_on_disk(workdir: Path,
                                                        postgres_server: Any) -> None:
    url = postgres_server.fresh_database()
    with serve(workdir, workers=1, env={"IVR_DATABASE": url}) as server:
        reply = server.post("/voice", {"CallSid": "CA" + "7" * 32, "From": "+8613700000000",
                                       "To": "+8695188", "CallStatus": "in-progress"})
        assert reply.status == 200 and b"<Gather" in reply.body
        health = server.request("GET", "/health")
        assert health.status == 200, health.body
    # only the server's log: no instance folder, no secret_key, no folder named for the URL
    assert [p.name for p in workdir.iterdir() if not p.name.startswith("server-")] == []
    calls = json.loads(output("report", "--db", url, "--json"))["calls"]
    assert calls == 1
