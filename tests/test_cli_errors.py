"""Mistakes a user makes on the command line: one line naming the problem and the file,
exit 1 or 2, no traceback, and nothing created or changed on the way (issue 9, point 3)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ivr.cli import cli

ROOT = Path(__file__).parent.parent
PROMPTS = ROOT / "ivr" / "data" / "prompts"
MENU = ROOT / "ivr" / "menus" / "wallet.yaml"
TRAFFIC = ROOT / "ivr" / "data" / "traffic.yaml"


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


def test_negative_or_endless_numbers_are_refused(run, tmp_path):
    calls_db(tmp_path / "x.db")
    one_error(run("call", "--press", "2 0", "--bridge-after", "-5"), "--bridge-after")
    one_error(run("call", "--press", "2 0", "--bridge-after", "inf"), "--bridge-after")
    one_error(run("replay", "--calls", "x.db", "--time-tolerance", "-1"), "--time-tolerance")


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


ERRORS_YAML = str(ROOT / "tests" / "scenarios" / "errors.yaml")


@pytest.mark.parametrize("command", [["call", "--press", "2 0"], ["demo"], ["replay", ERRORS_YAML]])
def test_call_demo_and_replay_refuse_a_database_that_is_not_sqlite(run, tmp_path, command):
    path = tmp_path / "notes.txt"
    path.write_text("not a database")
    one_error(run(*command, "--db", str(path)), "notes.txt", "not a SQLite database")
    assert path.read_text() == "not a database"


# ---- files that are not UTF-8 ---------------------------------------------------------

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
    for args in (["advise", "--traffic", traffic],
                 ["forecast", "--db", "x.db", "--traffic", traffic]):
        one_error(run(*args), "traffic.yaml", "UTF-8")
    for command in (["demo"], ["callbacks"], ["call", "--press", "2 0"]):
        if command == ["callbacks"]:
            sqlite3.connect("app.db").execute("CREATE TABLE callbacks (x)").connection.close()
        one_error(run(*command, env={"IVR_TRAFFIC": traffic}), "traffic.yaml", "UTF-8")


def test_a_gbk_prompt_file(run, gbk):
    prompts = str(gbk / "prompts")
    one_error(run("audio", "check", "--prompts", prompts), "zh-CN.yaml", "UTF-8")
    one_error(run("audio", "check", env={"IVR_PROMPTS_DIR": prompts}), "zh-CN.yaml", "UTF-8")
    for command in (["demo"], ["call", "--press", "2 0"]):
        one_error(run(*command, env={"IVR_PROMPTS_DIR": prompts}), "zh-CN.yaml", "UTF-8")


def test_a_gbk_menu(run, gbk):
    menu = str(gbk / "menu.yaml")
    one_error(run("call", "--press", "2 0", "--menu", menu), "menu.yaml", "UTF-8")
    one_error(run("replay", ERRORS_YAML, "--menu", menu), "menu.yaml", "UTF-8")
    one_error(run("demo", env={"IVR_MENU": menu}), "menu.yaml", "UTF-8")
    result = run("lint", menu)  # lint lists it as a problem of the tree
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "menu.yaml" in result.output and "UTF-8" in result.output


def test_a_gbk_scenario_file(run, tmp_path):
    scenario = tmp_path / "scenarios" / "mine.yaml"
    scenario.parent.mkdir()
    scenario.write_bytes("name: 沉默的来电者\npress: '_ _ _ _'\n".encode("gbk"))
    for target in (scenario, scenario.parent):
        one_error(run("replay", str(target)), "mine.yaml", "UTF-8")
