"""Mistakes a user makes on the command line: one line naming the problem and the file,
exit 1 or 2, no traceback, and nothing created or changed on the way (issue 9, point 3)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ivr.cli import cli

ROOT = Path(__file__).parent.parent
PROMPTS = ROOT / "prompts"
MENU = ROOT / "ivr" / "menus" / "wallet.yaml"
TRAFFIC = ROOT / "ivr" / "data" / "traffic.yaml"
ERRORS_YAML = str(ROOT / "tests" / "scenarios" / "errors.yaml")
LAUNCH = "import sys; from ivr.cli import cli; sys.exit(cli(prog_name='ivr'))"


@pytest.fixture(name="run")
def _run(tmp_path, monkeypatch):
    """``ivr ARGS`` in a scratch working folder, with the app's files kept there."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        base = {"IVR_DATABASE": str(tmp_path / "app.db"), "IVR_AUDIO_DIR": str(tmp_path / "a"),
                "TWILIO_AUTH_TOKEN": None}
        return CliRunner().invoke(cli, list(args), env={**base, **(env or {})})
    return run


def one_error(result: Result, *names: str) -> str:
    """The command failed cleanly: exit 1 or 2, no traceback, and exactly one line saying
    what is wrong, naming each of ``names``."""
    assert result.exit_code in (1, 2), result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    for name in names:
        assert name in errors[0], result.output
    return errors[0]


def calls_db(path: Path) -> Path:
    """A SQLite file with an empty ``calls`` table."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE calls (call_sid TEXT, started_at TEXT, queue TEXT)")
    conn.close()
    return path


def digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


# ---- output paths ---------------------------------------------------------------------

def test_advise_plot_into_a_missing_folder_or_an_unknown_format(run, tmp_path):
    line = one_error(run("advise", "--plot", str(tmp_path / "missing_dir" / "w.png")),
                     "missing_dir")
    assert "does not exist" in line
    assert not (tmp_path / "missing_dir").exists()
    line = one_error(run("advise", "--plot", "w.xyz"), "w.xyz", ".png")
    assert not (tmp_path / "w.xyz").exists()
    result = run("advise", "--at", "2026-11-25T09:30", "--plot", "w.svg")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "w.svg").read_bytes().lstrip().startswith(b"<?xml")


def test_forecast_output_into_a_missing_folder(run, tmp_path):
    db = calls_db(tmp_path / "calls.db")
    line = one_error(run("forecast", "--db", str(db), "-o", str(tmp_path / "missing" / "x.yaml")),
                     str(tmp_path / "missing"))
    assert "does not exist" in line
    assert not (tmp_path / "missing").exists()


def test_call_audio_into_a_missing_folder_creates_nothing(run, tmp_path):
    target = tmp_path / "nonexistent" / "x.wav"
    one_error(run("call", "--press", "2 0", "--audio", str(target)), "nonexistent")
    assert not target.parent.exists()
    one_error(run("call", "--press", "2 0", "--audio", "call.mp3"), "call.mp3", ".wav")


@pytest.mark.parametrize(("args", "option"), [
    (["call", "--press", "2 0", "--bridge-after", "-5"], "--bridge-after"),
    (["call", "--press", "2 0", "--bridge-after", "inf"], "--bridge-after"),
    (["call", "--press", "2 0", "--bridge-after", "nan"], "--bridge-after"),
    (["call", "--press", "2 0", "--bridge-after", "86400"], "--bridge-after"),  # > 4 h call
    (["call", "--press", "2 0", "--hold-loops", "1000000"], "--hold-loops"),
    (["call", "--press", "2 0", "--hold-loops", "0"], "--hold-loops"),
    (["replay", "--calls", "x.db", "--time-tolerance", "-1"], "--time-tolerance"),
    (["replay", "--calls", "x.db", "--time-tolerance", "nan"], "--time-tolerance"),
    (["replay", ERRORS_YAML, "--workers", "1000"], "--workers"),
    (["replay", ERRORS_YAML, "--repeat", "1000000000"], "--repeat"),
    (["forecast", "--db", "x.db", "--weeks", "100000"], "--weeks"),
    (["audio", "report", "--limit-s", "-1"], "--limit-s"),
    (["audio", "report", "--limit-s", "0"], "--limit-s"),
    (["audio", "report", "--limit-s", "nan"], "--limit-s"),
    (["audio", "check", "--target-dbfs", "5"], "--target-dbfs"),
    (["audio", "build", "--jobs", "100000"], "--jobs"),
])
def test_negative_endless_or_unbounded_numbers_are_refused(run, tmp_path, args, option):
    calls_db(tmp_path / "x.db")
    result = run(*args)
    assert result.exit_code == 2
    one_error(result, option)
    assert not (tmp_path / "a").exists()  # refused before any work: no audio rendered


@pytest.mark.parametrize(("args", "option"), [
    (["--from", "abc"], "--from"), (["--from", ""], "--from"), (["--from", "8613700000000"],
                                                                "--from"),
    (["--from", "+86 137"], "--from"), (["--to", "anonymous"], "--to"), (["--to", "x"], "--to"),
])
def test_a_caller_id_is_a_phone_number(run, args, option):
    line = one_error(run("call", "--press", "2 0", *args), option)
    assert "is not a phone number: give it in E.164, a '+' and 3 to 15 digits" in line


def test_a_withheld_caller_id_calls_as_anonymous(run):
    result = run("call", "--press", "2 0", "--from", "anonymous", "--at", "wed 10:00", "--json")
    assert result.exit_code == 0, result.output
    trace = json.loads(result.stdout)
    assert trace["from"] == "anonymous" and trace["outcome"]["queue"] == "general"


# ---- --url ----------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "says"), [
    ("notaurl", "'notaurl' is not a server URL: give http:// or https://"),
    ("127.0.0.1:8000", "did you mean http://127.0.0.1:8000?"),  # no scheme
    ("ftp://127.0.0.1/voice", "is not a server URL"),
    ("http://127.0.0.1:99999", "the port must be a number from 1 to 65535"),
    ("http://127.0.0.1:http", "the port must be a number from 1 to 65535"),
    ("http://:8000", "give the host"),
])
def test_call_url_must_be_a_server_url(run, url, says):
    result = run("call", "--url", url, "--press", "2 0")
    assert result.exit_code == 2
    line = one_error(result, "--url")
    assert says in line
    assert "11200" not in result.output  # refused before a call is placed


def test_call_url_with_nothing_listening_ends_in_11200_and_says_why():
    with socket.socket() as probe:  # a port nothing listens on (free a moment ago)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(cli, ["call", "--url", f"http://127.0.0.1:{port}",
                                      "--press", "2 0"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Twilio error 11200" in result.stdout  # as Twilio's own trace would say
    assert (f"note: nothing answers at http://127.0.0.1:{port} (connection refused)"
            in result.stderr)


# ---- databases ------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"hello, not a database\n", b"SQLite format 2\x00..."])
def test_callbacks_on_a_file_that_is_not_an_ivr_database_leaves_it_alone(run, tmp_path,
                                                                           content):
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    before = digest(path)
    for flag in ("--db", "--database"):
        one_error(run("callbacks", flag, str(path)), "notes.db")
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]  # no -wal, no secret


def test_callbacks_on_another_apps_sqlite_file_leaves_it_alone(run, tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text)")
    conn.close()
    before = digest(path)
    line = one_error(run("callbacks", "--db", str(path)), "other.db")
    assert "not an ivr database" in line
    assert digest(path) == before
    one_error(run("callbacks", "--db", str(tmp_path / "missing.db")), "missing.db")
    assert not (tmp_path / "missing.db").exists()


def test_the_app_database_setting_is_checked_too(run, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a database")
    one_error(run("callbacks", env={"IVR_DATABASE": str(path)}), "notes.txt")
    one_error(run("unlock", "10000001", env={"IVR_DATABASE": str(path)}), "notes.txt")
    assert path.read_text() == "not a database"



@pytest.mark.parametrize("command", [["call", "--press", "2 0"], ["demo"], ["replay", ERRORS_YAML]])
def test_call_demo_and_replay_refuse_a_database_that_is_not_sqlite(run, tmp_path, command):
    path = tmp_path / "notes.txt"
    path.write_text("not a database")
    one_error(run(*command, "--db", str(path)), "notes.txt", "not a SQLite database")
    assert path.read_text() == "not a database"


MYSQL = "mysql://ivr:s3cret@db.example.com/ivr"
POSTGRES = "postgresql://ivr:s3cret@db.example.com/ivr"
SIMULATORS = [["call", "--press", "2 0"], ["demo"], ["replay", ERRORS_YAML]]


@pytest.mark.parametrize("command", [
    *SIMULATORS, ["forecast"], ["callbacks"], ["unlock", "10000001"], ["report"],
    ["tune"], ["ops", "users"]])
def test_db_reads_a_url_as_the_database_setting_does(run, tmp_path, command):
    """One reading for ``--db`` and ``IVR_DATABASE``: another database's URL is refused
    as not supported (the path not mangled, the password not echoed), nothing created."""
    line = one_error(run(*command, "--db", MYSQL), "--db",
                     "must be a SQLite file (a path or sqlite:///path) or a postgresql:// URL: "
                     "mysql databases are not supported")
    assert "s3cret" not in line and "ivr:***@db.example.com" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", SIMULATORS)
def test_the_simulators_refuse_a_postgresql_db(run, tmp_path, command):
    """Their sandbox snapshots and restores its database file whole: a PostgreSQL URL is
    refused before anything runs, in one line without the password."""
    line = one_error(run(*command, "--db", POSTGRES), "--db",
                     "the simulators keep their calls in a SQLite file of their own",
                     "not a PostgreSQL URL", "ivr:***@db.example.com")
    assert "s3cret" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", SIMULATORS)
def test_the_simulators_refuse_a_database_setting_the_app_refuses(run, tmp_path, command):
    """They keep their own throwaway database, but ``IVR_DATABASE=mysql://`` is a
    mistake that ``ivr serve`` would stop at: it is not run past silently."""
    result = run(*command, env={"IVR_DATABASE": MYSQL})
    line = one_error(result, "IVR_DATABASE must be a SQLite file",
                     "mysql databases are not supported")
    assert result.output.splitlines() == [line]  # one mistake, one line
    assert line.startswith("Error: invalid setting: IVR_DATABASE")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", SIMULATORS)
def test_the_simulators_run_beside_a_postgresql_database_setting(run, tmp_path, command):
    """The deployment's IVR_DATABASE (and no secret key: the hosts' is not needed) does
    not stop a simulation, which runs on a throwaway SQLite file of its own: the server
    named is never connected to."""
    result = run(*command, env={"IVR_DATABASE": POSTGRES, "IVR_SECRET_KEY": None})
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_db_takes_a_sqlite_url_as_the_database_setting_does(run, tmp_path):
    result = run("call", "--press", "2 0", "--db", "sqlite:///kept.db")
    assert result.exit_code == 0, result.output
    with closing(sqlite3.connect(tmp_path / "kept.db")) as db:
        assert db.execute("SELECT count(*) FROM calls").fetchone() == (1,)
    result = run("callbacks", "--db", f"sqlite:///{tmp_path / 'kept.db'}")  # absolute
    assert result.exit_code == 0 and "no pending callbacks in" in result.output
    one_error(run("callbacks", "--db", "sqlite:///"), "--db", "must be a file: sqlite:///")
    one_error(run("demo", "--db", "sqlite:///:memory:"), "--db", "a database every worker shares")


# ---- ivr serve --------------------------------------------------------------------------

@pytest.mark.parametrize("dev", [False, True])
def test_serve_on_a_port_in_use_is_one_line(tmp_path, dev):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update({"PYTHONPATH": str(ROOT), "TWILIO_AUTH_TOKEN": "t", "IVR_SECRET_KEY": "s",
                "IVR_DATABASE": str(tmp_path / "ivr.db")})
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        done = subprocess.run([sys.executable, "-c", LAUNCH, "serve", "--port", port,
                               *(["--dev"] if dev else [])], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: the port is in use (another server runs "
        "there?); stop it or give another --port"]  # not gunicorn's retries for 5 s


# ---- files that are not UTF-8 ---------------------------------------------------------

#: how a file saved as GBK is named, however the command was told of it
GBK = "cannot be read (it looks like GBK); save the file as UTF-8"


@pytest.fixture(name="gbk")
def _gbk(tmp_path):
    """A GBK-saved copy of each ops-edited file: prompts/zh-CN.yaml, menu.yaml, traffic.yaml."""
    folder = tmp_path / "gbk"
    shutil.copytree(PROMPTS, folder / "prompts")
    zh = folder / "prompts" / "zh-CN.yaml"
    zh.write_bytes(zh.read_text("utf-8").encode("gbk"))
    (folder / "menu.yaml").write_bytes(("# 钱包热线\n" + MENU.read_text("utf-8")).encode("gbk"))
    (folder / "traffic.yaml").write_bytes(
        ("# 客服中心\n" + TRAFFIC.read_text("utf-8")).encode("gbk", errors="replace"))
    return folder


def test_a_gbk_traffic_file(run, gbk, tmp_path):
    traffic = str(gbk / "traffic.yaml")
    calls_db(tmp_path / "x.db")
    # named on the command line or in the settings, the same line, the encoding guessed
    for args in (["advise", "--traffic", traffic],
                 ["forecast", "--db", "x.db", "--traffic", traffic]):
        one_error(run(*args), "traffic.yaml", "not UTF-8", GBK)
    for command in (["demo"], ["callbacks"], ["call", "--press", "2 0"], ["advise"],
                    ["forecast", "--db", "x.db"]):
        if command == ["callbacks"]:
            with closing(sqlite3.connect("app.db")) as db:  # ivr's tables, for the traffic file
                db.executescript("CREATE TABLE calls (x); CREATE TABLE callbacks (x)")
        one_error(run(*command, env={"IVR_TRAFFIC": traffic}), "traffic.yaml", "not UTF-8", GBK)


def test_a_gbk_prompt_file(run, gbk):
    prompts = str(gbk / "prompts")
    one_error(run("audio", "check", "--prompts", prompts), "zh-CN.yaml", "not UTF-8", GBK)
    one_error(run("audio", "check", env={"IVR_PROMPTS_DIR": prompts}), "zh-CN.yaml", "not UTF-8", GBK)
    for command in (["demo"], ["call", "--press", "2 0"]):
        one_error(run(*command, env={"IVR_PROMPTS_DIR": prompts}), "zh-CN.yaml", "not UTF-8", GBK)
    for how in (["lint", "--prompts", prompts], ["lint"]):  # lint reads the setting too
        result = run(*how, env={"IVR_PROMPTS_DIR": prompts})
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert re.search(r"zh-CN\.yaml:\d+:\d+: not UTF-8", result.output), result.output
        assert GBK in result.output


def test_a_gbk_menu(run, gbk):
    menu = str(gbk / "menu.yaml")
    one_error(run("call", "--press", "2 0", "--menu", menu), "--menu", "menu.yaml", "not UTF-8", GBK)
    one_error(run("replay", ERRORS_YAML, "--menu", menu), "--menu", "menu.yaml", "not UTF-8", GBK)
    one_error(run("call", "--press", "2 0", env={"IVR_MENU": menu}), "menu.yaml", "not UTF-8", GBK)
    one_error(run("demo", env={"IVR_MENU": menu}), "menu.yaml", "not UTF-8", GBK)
    one_error(run("audio", "report", "--menu", menu), "--menu", "menu.yaml", "not UTF-8", GBK)
    for how in ([menu], []):  # lint lists it as a problem of the tree, named or set
        result = run("lint", *how, env={"IVR_MENU": menu})
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "menu.yaml:1:5: not UTF-8" in result.output and GBK in result.output


def test_a_gbk_scenario_file(run, tmp_path):
    scenario = tmp_path / "scenarios" / "mine.yaml"
    scenario.parent.mkdir()
    scenario.write_bytes("name: 沉默的来电者\npress: '_ _ _ _'\n".encode("gbk"))
    for target in (scenario, scenario.parent):
        one_error(run("replay", str(target)), "mine.yaml", "UTF-8")


def test_a_scenario_at_out_of_range_names_the_file_and_the_key(run, tmp_path):
    scenario = tmp_path / "late.yaml"
    scenario.write_text("name: the last call\nat: 9999-12-31T23:00\npress: '_'\n")
    one_error(run("replay", str(scenario)), "late.yaml: the last call: at: '9999-12-31T23:00' "
              "is out of range: give a moment in the years 1971 to 9997")
