"""Installed and started as a user does: files where a user expects them, a light command
line, and several servers starting at once on one new database.

The wheel itself (built, installed in a fresh venv, run from another folder) is checked by
``.ci/run``; these are the parts that need no build.
"""

from __future__ import annotations

import fnmatch
import sqlite3
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from servers import _LAUNCH, Server, _stop, free_port, server_env

import ivr
from ivr import create_app
from ivr.audio import DEFAULT_AUDIO_DIR
from ivr.records.store import Store
from ivr.records.wallet import DEMO_ACCOUNTS, StoreWallet, seed_demo
from ivr.web.server import access_log

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "ivr"




# -- 1: what ships in the wheel, and where the app writes ---------------------------------
def test_the_wheel_carries_every_data_file_of_the_package():
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["ivr"]
    data = [path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*")
            if path.is_file() and path.suffix not in (".py", ".pyc")
            and "__pycache__" not in path.parts]
    assert "menus/wallet.yaml" in data
    # the catalog ops edit lies at the top (prompts/); the package links to it, and the wheel
    # takes it from there (.ci/run's wheel check runs ivr lint and ivr demo from the wheel)
    assert (PACKAGE / "data" / "prompts").resolve() == REPO / "prompts"
    assert "data/prompts/*.yaml" in patterns and list((REPO / "prompts").glob("*.yaml"))
    assert [f for f in data if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []


def test_what_the_app_writes_goes_to_the_working_folder(workdir):
    app = create_app({"TWILIO_AUTH_TOKEN": "t"})
    assert app.instance_path == str(workdir / "instance")  # not <sys.prefix>/var/...
    assert app.config["DATABASE"] == str(workdir / "instance" / "ivr.db")
    assert (workdir / "instance" / "ivr.db").exists()
    assert (workdir / "instance" / "secret_key").exists()
    assert app.config["AUDIO_DIR"] == str(workdir / "audio")
    # what it reads ships inside the package
    assert Path(app.config["PROMPTS_DIR"]).is_relative_to(PACKAGE)


def test_rendered_audio_defaults_to_the_working_folder(workdir):
    assert not DEFAULT_AUDIO_DIR.is_absolute()  # resolved where the command runs
    assert DEFAULT_AUDIO_DIR.resolve() == workdir / "audio"


# -- 26: commands that do not serve do not load the web stack ---------------------------
WEB = ("flask", "werkzeug", "gunicorn", "jinja2", "ivr.app", "ivr.web.webhooks")
PROBE = f"""
import sys
from ivr.cli import cli
try:
    cli(sys.argv[1:], prog_name="ivr")
except SystemExit:
    pass
print("loaded:", *sorted(m for m in sys.modules if m.startswith({WEB!r})))
"""


@pytest.mark.parametrize("args", [
    ["--help"], ["lint"],
    ["erlang", "--calls-per-hour", "200", "--aht-s", "180", "--agents", "14", "--target-s", "20"],
])
def test_a_command_that_does_not_serve_does_not_import_the_web_stack(args):
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert done.stdout.splitlines()[-1] == "loaded:", done.stdout + done.stderr


def test_create_app_is_still_importable_from_the_package():
    from ivr.app import create_app as factory

    assert ivr.create_app is factory and create_app is factory
    with pytest.raises(AttributeError, match="no attribute 'create_ap'"):
        ivr.create_ap  # noqa: B018


# -- 28: several processes open and seed one new database ----------------------------------
HOLD_WRITE_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")  # a new file, not yet in WAL mode, being written
db.execute("CREATE TABLE early (x)")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")  # and left empty, as another process's failed start would
"""


def test_a_new_database_another_process_is_writing_is_waited_for(tmp_path):
    """Making a new file WAL needs it to itself, and SQLite refuses that at once (no busy
    wait) while another process writes: the second ``ivr serve`` died of it."""
    path = tmp_path / "ivr.db"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WRITE_LOCK, str(path), "1.0"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        store = Store(path)
        assert time.monotonic() - started >= 0.5  # it waited for the other writer
        assert store.read_one("PRAGMA journal_mode")[0] == "wal"
    finally:
        holder.wait(timeout=10)
    assert holder.returncode == 0


def test_seeding_the_demo_twice_at_once_adds_it_once(tmp_path, monkeypatch):
    """Two processes both find no demo accounts, then both seed: one seeding counts."""
    now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    first = StoreWallet(Store(tmp_path / "ivr.db"), pin_cost=16)
    second = StoreWallet(Store(tmp_path / "ivr.db"), pin_cost=16)
    seed_demo(first, now)
    first.freeze("10000003")  # state a restart (or the other process) must keep
    hashes = first.store.read_all("SELECT number, pin_hash FROM accounts ORDER BY number")
    monkeypatch.setattr(second.store, "read_all", lambda sql, params=(): [])  # saw none
    seed_demo(second, now)
    db = first.store
    assert db.read_all("SELECT number, pin_hash FROM accounts ORDER BY number") == hashes
    assert len(hashes) == len(DEMO_ACCOUNTS)
    assert first.status("10000003") == "frozen"
    assert db.read_one("SELECT COUNT(*) FROM transactions")[0] == 1


def test_two_servers_started_at_the_same_moment_on_one_new_database_both_serve(tmp_path):
    """The user's case, with real ``ivr serve --demo`` processes; one of them keeps an
    access log (``IVR_ACCESS_LOG``), the other the default, none."""
    host, access = "127.0.0.1", tmp_path / "access.log"
    servers = []
    for extra in ({}, {"IVR_ACCESS_LOG": str(access)}):
        port, log_path = free_port(host), tmp_path / f"server-{len(servers)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH, "serve", "--demo", "--host", host, "--port",
                 str(port), "--workers", "1"],
                env=server_env(tmp_path, env=extra), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO)
        servers.append(Server(host, port, "unused", process, log_path))
    try:
        deadline = time.monotonic() + 60
        waiting = list(servers)
        while waiting and time.monotonic() < deadline:
            for server in list(waiting):
                assert server.process.poll() is None, server.output()
                try:
                    if server.request("GET", "/health", timeout_s=2.0).status == 200:
                        waiting.remove(server)
                except OSError:
                    pass
            time.sleep(0.1)
        assert not waiting, [s.output() for s in waiting]
    finally:
        for server in servers:
            _stop(server.process)
    with sqlite3.connect(tmp_path / "ivr.db") as db:
        assert db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == len(DEMO_ACCOUNTS)
        assert db.execute("SELECT COUNT(*) FROM transactions").fetchone()[0] == 1
    assert "GET /health" not in servers[0].output()  # no access log by default
    assert "GET /health" in access.read_text()


@pytest.mark.parametrize(("setting", "expected"), [(False, None), (True, "-"),
                                                   ("/var/log/ivr.log", "/var/log/ivr.log")])
def test_the_access_log_setting_is_gunicorns_accesslog(setting, expected):
    assert access_log(setting) == expected
