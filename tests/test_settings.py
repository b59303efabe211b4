"""Settings as a user gets them wrong: errors name what they typed, where they typed it.

Every test runs in an empty working folder (its ``instance/`` is the one read) with the
calling shell's ``IVR_*`` and ``TWILIO_*`` variables removed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr import config, create_app
from ivr.cli import cli
from ivr.errors import ConfigError, StoreError
from ivr.records.store import Store

LAUNCH = "import sys; from ivr.cli import cli; sys.exit(cli(prog_name='ivr'))"
REPO = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("workdir")


def instance_config(workdir: Path, text: str) -> Path:
    path = workdir / "instance" / "config.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def read_error(test_config: dict[str, object] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        config.read({"DEV": True, **(test_config or {})})
    return str(caught.value)


# -- instance/config.py --------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("LOCKOUT_S = 60\nPUBLIC_URL = 'https://x\n", "instance/config.py, line 2: SyntaxError"),
    ("LOCKOUT_S = 60\nLOCKOUT_MAX_S = 1 / 0\n",
     "instance/config.py, line 2: ZeroDivisionError: division by zero"),
    ("import no_such_module\n",
     "instance/config.py, line 1: ModuleNotFoundError: No module named 'no_such_module'"),
])
@pytest.mark.parametrize("command", [
    ["demo"], ["serve"], ["unlock", "10000001"], ["call", "--press", "1", "--json"],
])
def test_an_error_in_instance_config_is_one_line_naming_the_file(workdir, text, expected,
                                                                 command):
    instance_config(workdir, text)
    # no token: were the file not read, serve would stop at that instead of serving
    result = CliRunner().invoke(cli, command, catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_instance_config_is_read_from_the_working_folder(workdir):
    instance_config(workdir, "LOCKOUT_S = 60\nlowercase_is_ignored = 1\n")
    settings = config.read({"DEV": True})
    assert settings["LOCKOUT_S"] == 60 and "lowercase_is_ignored" not in settings


# -- errors name the setting as the user wrote it ------------------------------------------
def test_a_bad_environment_value_is_named_as_the_variable(monkeypatch):
    monkeypatch.setenv("IVR_LOCKOUT_S", "half an hour")
    monkeypatch.setenv("IVR_DEMO", "yes")
    message = read_error()
    assert "IVR_LOCKOUT_S must be a positive integer, not 'half an hour'" in message
    assert "IVR_DEMO must be true or false, not 'yes'" in message


def test_a_bad_value_in_instance_config_is_named_with_the_file(workdir, monkeypatch):
    instance_config(workdir, "LOCKOUT_S = -5\nPUBLIC_URL = 'ivr.example.com'\n")
    message = read_error()
    assert "LOCKOUT_S in instance/config.py must be a positive integer, not -5" in message
    assert "PUBLIC_URL in instance/config.py must start with http://" in message
    monkeypatch.setenv("IVR_LOCKOUT_S", "0")  # the environment overrides the file
    assert "IVR_LOCKOUT_S must be a positive integer, not 0" in read_error()


def test_every_problem_is_listed_in_one_error_through_the_cli(monkeypatch):
    monkeypatch.setenv("IVR_LOCKOUT_S", "-1")
    monkeypatch.setenv("IVR_MAX_DIGITS", "many")
    result = CliRunner().invoke(cli, ["serve"], env={"TWILIO_AUTH_TOKEN": "t"},
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "IVR_LOCKOUT_S must be a positive integer, not -1" in result.output
    assert "IVR_MAX_DIGITS must be a positive integer, not 'many'" in result.output
    assert "Traceback" not in result.output


# -- unknown IVR_* variables ----------------------------------------------------------------
def test_an_unknown_variable_is_warned_about_with_the_close_setting(monkeypatch, caplog):
    monkeypatch.setenv("IVR_LOCKOUT_SECS", "60")
    monkeypatch.setenv("IVR_PUBLIC_URL", "https://ivr.example.com")  # known: no warning
    monkeypatch.setenv("IVR_AUDIO_TARGET_DBFS", "-18")  # an audio command's option
    monkeypatch.setenv("IVR_ZZZ_UNLIKE_ANYTHING", "1")
    with caplog.at_level(logging.WARNING, logger="ivr.config"):
        settings = config.read({"DEV": True})
    warnings = [r.getMessage() for r in caplog.records if r.name == "ivr.config"]
    assert warnings == [
        "IVR_LOCKOUT_SECS is not a setting and is ignored (did you mean IVR_LOCKOUT_S?)",
        "IVR_ZZZ_UNLIKE_ANYTHING is not a setting and is ignored"]
    assert "LOCKOUT_SECS" not in settings and settings["LOCKOUT_S"] == 1800


def test_serve_warns_about_an_unknown_variable_once_at_start(workdir):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update({"IVR_WAIT_TRESHOLD_S": "600", "PYTHONPATH": str(REPO)})
    # no token: the settings are read, then the start is refused before gunicorn runs
    done = subprocess.run([sys.executable, "-c", LAUNCH, "serve"], env=env, cwd=workdir,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "TWILIO_AUTH_TOKEN is required" in done.stderr
    warnings = [line.split(" ", 1) for line in done.stderr.splitlines()
                if "IVR_WAIT_TRESHOLD_S" in line]
    assert [when[:4].isdigit() for when, _ in warnings] == [True]  # the line's time first
    assert [line for _, line in warnings] == [
        "WARNING ivr.config: IVR_WAIT_TRESHOLD_S is not a setting and is ignored (did you "
        "mean IVR_WAIT_THRESHOLD_S?)"]


# -- the database is a SQLite file or a PostgreSQL URL ---------------------------------------
@pytest.mark.parametrize("url", ["mysql://ivr:s3cret@db.example.com/ivr", "mongodb://db/ivr"])
def test_another_databases_url_is_refused_with_one_clear_error(workdir, monkeypatch, url):
    monkeypatch.setenv("IVR_DATABASE", url)
    result = CliRunner().invoke(cli, ["serve"], catch_exceptions=False)  # no token: no server
    assert result.exit_code == 1
    scheme = url.split(":")[0]
    assert (f"IVR_DATABASE must be a SQLite file (a path or sqlite:///path) or a "
            f"postgresql:// URL: {scheme} databases are not supported") in result.output
    assert "s3cret" not in result.output  # a password is not echoed to a log
    assert list(workdir.iterdir()) == []  # no folder named "mysql:"


@pytest.mark.parametrize("url", ["postgresql://ivr:s3cret@db.example.com/ivr",
                                 "postgres://db/ivr"])
def test_a_postgresql_url_is_the_database_as_it_is(workdir, monkeypatch, url):
    """Read, not connected to: the settings take it whole; nothing is kept on disk for it,
    so the secret key every host shares must be given."""
    assert config.read({"DEV": True, "SECRET_KEY": "k", "DATABASE": url})["DATABASE"] == url
    monkeypatch.setenv("IVR_DATABASE", url)
    monkeypatch.setenv("IVR_SECRET_KEY", "k")
    assert config.read({"DEV": True})["DATABASE"] == url
    monkeypatch.delenv("IVR_SECRET_KEY")
    assert read_error() == ("SECRET_KEY must be set with a PostgreSQL database: every host "
                            "sharing it needs the same key (IVR_SECRET_KEY)")
    assert list(workdir.iterdir()) == []  # no instance folder, no secret_key beside a URL


@pytest.mark.parametrize("value", ["sqlite://", "sqlite:///", "sqlite:///:memory:", ":memory:"])
def test_a_database_that_is_not_a_shared_file_is_refused(value):
    assert "DATABASE must be" in read_error({"DATABASE": value})


def test_a_sqlite_url_is_taken_as_its_path(workdir):
    relative = config.read({"DEV": True, "DATABASE": "sqlite:///data/ivr.db"})
    assert relative["DATABASE"] == "data/ivr.db"
    absolute = workdir / "abs" / "ivr.db"
    app = create_app({"DEV": True, "DATABASE": f"sqlite:///{absolute}"})
    assert app.config["DATABASE"] == str(absolute) and absolute.exists()
    assert (absolute.parent / "secret_key").exists()  # kept beside the database


def test_the_store_itself_refuses_another_databases_url(workdir):
    with pytest.raises(StoreError, match="is a URL"):
        Store("mysql://db/ivr")
    assert list(workdir.iterdir()) == []


# -- lint reads the settings as the app does -------------------------------------------------
def test_lint_reads_the_menu_and_prompts_settings_through_every_layer(workdir, monkeypatch):
    mine = workdir / "mine.yaml"
    mine.write_text((REPO / "ivr" / "menus" / "wallet.yaml").read_text("utf-8"), "utf-8")
    instance_config(workdir, f"MENU = {str(mine)!r}\n")
    result = CliRunner().invoke(cli, ["lint"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("mine.yaml: ")
    (workdir / "empty").mkdir()
    monkeypatch.setenv("IVR_PROMPTS_DIR", str(workdir / "empty"))
    result = CliRunner().invoke(cli, ["lint"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output == f"error: {workdir / 'empty'}: no <lang>.yaml prompt files\n"
    instance_config(workdir, "MENU = 1 / 0\n")  # a broken file stops lint as it stops serve
    result = CliRunner().invoke(cli, ["lint"], catch_exceptions=False)
    assert result.exit_code == 1 and "ZeroDivisionError" in result.output


# -- the access log -------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    (None, False), ("true", True), ("false", False), ("1", True), ("/var/log/ivr.log",
                                                                    "/var/log/ivr.log")])
def test_the_access_log_is_a_setting(monkeypatch, value, expected):
    if value is not None:
        monkeypatch.setenv("IVR_ACCESS_LOG", value)
    assert config.read({"DEV": True})["ACCESS_LOG"] == expected


def test_a_bad_access_log_value_is_refused(monkeypatch):
    monkeypatch.setenv("IVR_ACCESS_LOG", "3")
    assert "IVR_ACCESS_LOG must be true, false or a file, not 3" in read_error()


def test_logins_at_once_is_a_positive_count(monkeypatch):
    assert config.read({"DEV": True})["LOGINS_AT_ONCE"] == 2
    monkeypatch.setenv("IVR_LOGINS_AT_ONCE", "0")
    assert "IVR_LOGINS_AT_ONCE must be a positive integer, not 0" in read_error()


# -- the reverse proxies in front ------------------------------------------------------------
def test_trusted_proxies_is_a_count_of_proxies(monkeypatch):
    assert config.read({"DEV": True})["TRUSTED_PROXIES"] == 0
    monkeypatch.setenv("IVR_TRUSTED_PROXIES", "2")
    assert config.read({"DEV": True})["TRUSTED_PROXIES"] == 2
    for value, read in (("-1", "-1"), ("true", "True"), ("one", "'one'"), ("1.5", "1.5")):
        monkeypatch.setenv("IVR_TRUSTED_PROXIES", value)
        assert ("IVR_TRUSTED_PROXIES must be the number of reverse proxies in front (0 or "
                f"more), not {read}") in read_error()


def test_pins_are_hashed_at_the_production_cost_unless_a_setting_lowers_it(workdir):
    """The tests' apps hash at a token cost (tests/conftest.py); the default is scrypt's
    production cost, with the cost stored in each hash."""
    app = create_app({"TWILIO_AUTH_TOKEN": "t", "DEMO": True})
    store = Store(app.config["DATABASE"])
    hashes = [r["pin_hash"] for r in store.read_all("SELECT pin_hash FROM accounts")]
    store.close()
    assert hashes and all(h.startswith("scrypt$16384$8$1$") for h in hashes)


def test_pytests_own_clock_runs_under_freeze_time(clock):
    """``--durations`` measures with ``_pytest.timing``, which the frozen clock of the
    calls leaves alone (it printed 1.8 billion seconds when freezegun replaced it)."""
    import time

    from _pytest import timing

    start = timing.Instant()
    time.sleep(0.02)
    assert 0.01 < start.elapsed().seconds < 60
