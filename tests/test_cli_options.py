"""The options every command shares, and what ``demo``, ``callbacks``, ``erlang`` and
``forecast`` print (issue 9, points 4, 21, 23 and 25)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner, Result
from programs import needs_espeak
from werkzeug.serving import make_server

from ivr import create_app, moments
from ivr.cli import cli
from ivr.flow import prompts
from ivr.menu.loader import load as load_menu
from ivr.menu.model import spoken_pieces
from ivr.records.store import Store
from ivr.sim import demo
from ivr.sim.target import Prompts

ROOT = Path(__file__).parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(name="run")
def _run(tmp_path, monkeypatch):
    """``ivr ARGS`` in a scratch working folder, no audio rendered, no token set."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
        base = {"IVR_DATABASE": str(tmp_path / "app.db"), "IVR_AUDIO_DIR": str(tmp_path / "a"),
                "TWILIO_AUTH_TOKEN": None}
        return CliRunner().invoke(cli, list(args), env={**base, **(env or {})})
    return run


# ---- 4: one name for the database, one way to say when --------------------------------

@pytest.mark.parametrize("command", [["demo"], ["callbacks"], ["unlock"], ["call"], ["replay"],
                                     ["forecast"]])
def test_the_database_is_db_everywhere_with_database_as_its_alias(run, command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "--db, --database" in result.output


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2026-11-28T10:00+08:00", datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)),
        ("2026-11-28T02:00Z", datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)),
        ("2026-11-28T10:00", datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)),  # local
        ("2026-11-28", datetime(2026, 11, 28, 0, 0, tzinfo=SHANGHAI)),
        ("sat 10:00", datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)),
        ("Saturday 10", datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)),
        ("wed 09:30", datetime(2026, 12, 2, 9, 30, tzinfo=SHANGHAI)),  # the next one
        ("Wed 12:00", datetime(2026, 11, 25, 12, 0, tzinfo=SHANGHAI)),  # later today
    ],
)
def test_one_reading_of_at(text, want):
    now = datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)  # a Wednesday morning
    assert moments.parse(text).resolve(SHANGHAI, now) == want


@pytest.mark.parametrize("text", ["next tuesday", "sat", "sat 25:00", "xyz 10:00", "10:00",
                                  "2026-13-01"])
def test_what_at_refuses(text):
    with pytest.raises(ValueError, match="is not a time: give an ISO time"):
        moments.parse(text)


def _calls_db(path: Path, calls: int = 0) -> Path:
    """A SQLite file whose ``calls`` table holds ``calls`` general calls of the last minutes."""
    now = datetime.now(UTC)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE calls (call_sid TEXT, started_at TEXT, queue TEXT)")
        conn.executemany("INSERT INTO calls VALUES (?, ?, ?)",
                         [(f"CA{i}", (now - timedelta(minutes=1 + i)).isoformat(), "general")
                          for i in range(calls)])
    conn.close()
    return path


AT_OPTIONS = [["advise", "--at"], ["demo", "--at"], ["call", "--press", "2 0", "--at"],
              ["forecast", "--db", "x.db", "--now"]]


@pytest.mark.parametrize("text", ["9999-12-31T23:00", "0001-01-01", "0001-01-02",
                                  "1970-12-31T23:59+00:00", "9998-01-01T00:00+08:00"])
@pytest.mark.parametrize("command", AT_OPTIONS, ids=lambda c: c[0])
def test_a_moment_out_of_range_is_one_error_in_every_command(run, tmp_path, command, text):
    _calls_db(tmp_path / "x.db")
    result = run(*command, text)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert errors == [f"Error: Invalid value for '{command[-1]}': '{text}' is out of range: "
                      f"give a moment in the years {moments.FIRST_YEAR} to {moments.LAST_YEAR}"]
    assert not (tmp_path / "app.db").exists()  # refused before the app started


@pytest.mark.parametrize("at", ["9997-12-31", "9997-12-31T23:59-12:00", "1971-01-01T00:00+14:00"])
def test_every_command_computes_at_the_edges_of_the_range(run, tmp_path, at):
    """The range is one every computation survives: a closed line's next opening (looked
    for a year ahead), the advice week, a forecast's ten years behind, the demo's top-up."""
    _calls_db(tmp_path / "x.db")
    for queue in ("general", "fraud", "complaints"):
        result = run("advise", "--queue", queue, "--at", at, "--json")
        assert result.exit_code == 0, result.output
    for args in (["call", "--press", "2 0"], ["demo"]):
        result = run(*args, "--at", at)
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output and "ERROR" not in result.stderr
    result = run("forecast", "--db", "x.db", "--weeks", "520", "--now", at)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Error: no calls recorded between " in result.output


def test_every_command_reads_at_the_same_way(run):
    advised = []
    for at in ("sat 10:00", "2026-11-28T10:00", "2026-11-28T02:00Z"):
        result = run("advise", "--at", at, "--json")
        assert result.exit_code == 0, result.output
        advised.append(datetime.fromisoformat(json.loads(result.stdout)["at"]))
    assert advised[1] == advised[2] == datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)
    assert (advised[0].weekday(), advised[0].hour) == (5, 10)
    # demo: without an offset, the centre's local time, as its --help says
    result = run("demo", "--at", "2026-11-28T10:00")
    assert result.exit_code == 0, result.output
    assert "Saturday 28 November 2026 10:00 (Asia/Shanghai)" in result.output
    assert "centre's local time" in " ".join(run("demo", "--help").output.split())
    for command in (["call", "--press", "2 0"], ["demo"], ["advise"]):
        bad = run(*command, "--at", "next tuesday")
        assert bad.exit_code == 2 and "'next tuesday' is not a time" in bad.output
    bad = run("call", "--url", "http://127.0.0.1:9", "--at", "sat 10:00", "--press", "2 0")
    assert bad.exit_code == 2 and "in-process only" in bad.output


def test_call_url_needs_no_token_against_a_dev_server(run, tmp_path):
    dev = create_app({"TESTING": True, "DEV": True, "TWILIO_AUTH_TOKEN": None, "DEMO": True,
                      "DATABASE": str(tmp_path / "dev.db"), "SECRET_KEY": "k",
                      "AUDIO_DIR": str(tmp_path / "a")})
    signed = create_app({"TESTING": True, "TWILIO_AUTH_TOKEN": "tok", "DEMO": True,
                         "DATABASE": str(tmp_path / "signed.db"), "SECRET_KEY": "k",
                         "AUDIO_DIR": str(tmp_path / "a")})
    servers = [make_server("127.0.0.1", 0, app, threaded=True) for app in (dev, signed)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        url = f"http://127.0.0.1:{servers[0].server_port}"
        # to the fraud line, open 24 hours: the servers run on the real clock
        result = run("call", "--url", url, "--press", "2 3 10000001# 246810 2", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["outcome"]["queue"] == "fraud"
        url = f"http://127.0.0.1:{servers[1].server_port}"
        refused = run("call", "--url", url, "--press", "2 0")
        assert refused.exit_code == 1
        assert "refused the unsigned webhook (403)" in refused.output
        assert "--token" in refused.output
        assert run("call", "--url", url, "--token", "tok", "--press", "2 0").exit_code == 0
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_verbose_shows_debug_logs_without_secrets(run):
    press = "2 1 2 10000001# 246810 1 20261120 5#"
    result = run("-v", "call", "--press", press, "--at", "wed 09:30")
    assert result.exit_code == 0, result.output
    # each line: its time, then the level and the logger
    debug = [line.split(" ", 1)[1] for line in result.stderr.splitlines()
             if re.match(r"\d{4}-\d\d-\d\dT[\d:.]+[+-]\d{4} DEBUG ivr\.", line)]
    assert any(re.match(r"DEBUG ivr\.cli\.calls: POST http://localhost/voice -> 200", line)
               for line in debug), result.stderr
    assert any("the call happens at 2026-" in line for line in debug)
    assert "246810" not in result.stderr and "10000001" not in result.stderr
    quiet = run("call", "--press", press, "--at", "wed 09:30")
    assert "DEBUG" not in quiet.stderr
    advised = run("-v", "advise")
    assert "DEBUG ivr.queue.advice" in advised.stderr


def test_verbose_in_a_process_of_its_own():
    out = subprocess.run([sys.executable, "-c", "from ivr.cli import cli; cli()", "-v",
                          "call", "--press", "2 0", "--at", "wed 09:30"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "DEBUG ivr.cli.calls: POST http://localhost/voice" in out.stderr


# ---- 21: the demo ---------------------------------------------------------------------

def _topup_says(traces, catalog) -> list[str]:
    """What the first demo call heard from the top-up lookup, by prompt key."""
    keys = Prompts(Path("/nonexistent"), catalog)
    return [f"{sorted(keys.keys(e))}: {e['text']}" for e in traces[0].events
            if e["type"] == "say"
            and any(k.split("/")[-1].startswith("topup_") for k in keys.keys(e))]


@pytest.mark.parametrize(
    ("at", "day"),
    [("2026-11-28T10:00+08:00", 27),  # the README's example: a Saturday
     ("2026-11-20", 19)],  # a date alone: that day's calls; the top-up from the day before
)
def test_the_demo_data_follows_the_moment_of_the_calls(tmp_path, monkeypatch, at, day):
    monkeypatch.setenv("IVR_AUDIO_DIR", str(tmp_path / "a"))
    printed: list[str] = []
    traces = demo.run(printed.append, tmp_path / "demo.db", moments.parse(at))
    heard = _topup_says(traces, prompts.load())
    assert len(heard) == 1 and "topup_processing" in heard[0], heard
    assert re.search(rf"(?<!\d){day}(?!\d)", heard[0]) and "11" in heard[0], heard
    with sqlite3.connect(tmp_path / "demo.db") as db:
        [(created,)] = db.execute("SELECT created_at FROM transactions WHERE account='10000001'")
    db.close()
    local = datetime.fromisoformat(created).astimezone(SHANGHAI)
    assert (local.month, local.day) == (11, day)
    # the scripted date typed by the caller is that top-up's day too
    assert f"pressing: 1 1 1 1 246810 0 1 2026{11:02d}{day:02d} 200#" in "\n".join(printed)


def test_the_demo_opens_with_what_it_shows_and_closes_with_a_summary(run):
    result = run("demo")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("ivr demo: 5 scripted calls") and "summary" in lines[0]
    summary = lines[lines.index("=== Summary: where each call went") + 1:]
    assert summary[0].split() == ["placed", "ended", "verified", "duration", "route"]
    rows = summary[1:]
    assert len(rows) == len(demo.CALLS)
    for n, row in enumerate(rows, 1):
        assert re.match(rf"    {n}\.  \w{{3}} \d\d:\d\d  ", row), row
        assert re.search(r"  (yes|no) +\d+ s +language > ", row), row
    assert "queue payments" in rows[0] and "queue fraud" in rows[1]
    assert " yes " in rows[0] and " no " in rows[2]  # verified, and the wrong PINs not


@pytest.mark.parametrize(("at", "title", "ended"), [
    ("2026-11-25", "At the lunch peak: a long wait, the best times to call, then a callback",
     "callback from general"),  # a date alone: that Wednesday's morning, and lunch
    ("2026-11-28T10:00+08:00", "At a busy hour: a long wait, the best times to call, then a "
     "callback", "callback from general"),  # the README's Saturday: busy, but not lunch
    ("2026-11-25T09:30", "At a quiet hour: a caller asking for a person is queued at once",
     "queue general"),
    ("2026-11-25T03:00", "While the line is closed: its opening hours and the best times to "
     "call", "hangup"),
])
def test_the_peak_calls_title_is_true_to_where_it_is_placed(run, at, title, ended):
    result = run("demo", "--at", at)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    titles = [line for line in lines if line.startswith("=== ") and "Summary" not in line]
    assert titles[4] == f"=== {title}"
    if "lunch" not in title:
        assert "lunch" not in result.output
    fifth = lines[lines.index("=== Summary: where each call went") + 6]
    assert re.match(r"    5\.  \w{3} \d\d:\d\d  " + re.escape(ended), fifth), fifth


def test_the_demo_runs_twice_on_one_database_the_same_way(run, tmp_path):
    first = run("demo", "--db", str(tmp_path / "d.db"), "--at", "2026-11-25")
    second = run("demo", "--database", str(tmp_path / "d.db"), "--at", "2026-11-25")
    assert first.exit_code == second.exit_code == 0, second.output

    def same(text: str) -> str:
        return re.sub(r"CA[0-9a-f]{32}", "CA…", text)
    assert same(second.stdout) == same(first.stdout)  # a fresh database the first time


def test_no_log_line_lands_in_the_transcript():
    out = subprocess.run([sys.executable, "-c", "from ivr.cli import cli; cli()", "demo"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stdout
    assert not [line for line in out.stdout.splitlines()
                if re.match(r"(DEBUG|INFO|WARNING|ERROR) ", line)], out.stdout


@pytest.fixture(scope="module", name="some_audio")
def _some_audio(tmp_path_factory):
    """Audio rendered for a few prompts (welcome, the language menu, the main menu's pieces)."""
    root = tmp_path_factory.mktemp("some_audio")
    keys = ("welcome", "language_menu",
            *(key for _, key in spoken_pieces(load_menu()[0]["main"])))
    for lang in ("zh-CN", "en-US"):
        texts = yaml.safe_load((ROOT / "prompts" / f"{lang}.yaml")
                               .read_text("utf-8"))
        (root / "prompts").mkdir(exist_ok=True)
        (root / "prompts" / f"{lang}.yaml").write_text(
            yaml.safe_dump({k: texts[k] for k in keys if k in texts}, allow_unicode=True),
            encoding="utf-8")
    result = CliRunner().invoke(cli, ["audio", "build", "--audio-dir", str(root / "audio"),
                                      "--prompts", str(root / "prompts")])
    assert result.exit_code == 0, result.output
    return root / "audio"


@needs_espeak
def test_the_demo_shows_the_words_of_played_audio(run, some_audio):
    result = run("demo", env={"IVR_AUDIO_DIR": str(some_audio)})
    assert result.exit_code == 0, result.output
    plays = [line for line in result.stdout.splitlines() if re.match(r" +\d+\.\ds  play ", line)]
    assert any("welcome.wav" in line for line in plays), result.stdout
    prompts_played = [line for line in plays if "hold.wav" not in line]
    assert all(re.search(r'\.wav  \(\d+\.\d s\)  ".+"$', line) for line in prompts_played), plays
    catalog = prompts.load()
    assert any(catalog.raw("zh-CN", "welcome") in line for line in plays)
    # the main menu is played phrase by phrase, each with its own words
    assert any("opt_payments.wav" in line and catalog.raw("zh-CN", "opt_payments") in line
               for line in plays), plays
    assert any("press_1.wav" in line for line in plays), plays


# ---- 23: ivr callbacks ----------------------------------------------------------------

def _callbacks_db(path: Path) -> Path:
    store = Store(path)
    now = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)  # 12:30 in Shanghai
    window = (datetime(2026, 11, 25, 12, 0, tzinfo=UTC), datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
    rows = [("CA1", "+8613700000000", "general", "zh-CN", None, window),
            ("CA2", "+8613700000000", "payments", "zh-CN", "topup", window),
            ("CA3", "+14155550123", "fraud", "en-US", "fraud", (None, None))]
    with store.tx() as db:
        for sid, number, _queue, lang, _issue, _window in rows:
            db.execute("INSERT INTO calls (call_sid, from_number, started_at, updated_at, lang, "
                       "state) VALUES (?, ?, ?, ?, ?, '{}')",
                       (sid, number, now.isoformat(), now.isoformat(), lang))
    for sid, number, queue, _lang, issue, (start, end) in rows:
        store.add_callback(number=number, account="10000003" if sid == "CA3" else None,
                           queue=queue, issue=issue, window_start=start, window_end=end,
                           call_sid=sid, now=now)
    store.close()
    return path


def test_callbacks_in_the_centres_time_with_language_header_and_merged_numbers(run, tmp_path):
    db = _callbacks_db(tmp_path / "cb.db")
    result = run("callbacks", "--db", str(db))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Asia/Shanghai" in lines[0]
    assert lines[1].split() == ["#", "WHEN", "NUMBER", "LANG", "QUEUE", "CALLER", "ISSUE",
                                "ASKED"]
    body = lines[2:-1]
    assert len(body) == 2  # one line per number
    assert sum("+8613700000000" in line for line in body) == 1
    merged = next(line for line in body if "+8613700000000" in line)
    assert "20:00–22:00" in merged and "12:00" not in merged  # what the caller was told
    assert "zh-CN" in merged and "general, payments" in merged and "topup" in merged
    fraud = next(line for line in body if "+14155550123" in line)
    assert "en-US" in fraud and "****0003" in fraud and "10000003" not in result.output
    assert lines[-1] == "3 pending callbacks to 2 numbers"
    rows = [json.loads(line) for line in run("callbacks", "--json", "--db", str(db)).stdout
            .splitlines()]
    assert sorted((r["number"], r["lang"]) for r in rows) == [
        ("+14155550123", "en-US"), ("+8613700000000", "zh-CN"), ("+8613700000000", "zh-CN")]
    assert {r["window_start"] for r in rows} == {None, "2026-11-25T20:00:00+08:00"}


def test_counts_are_said_right_one_or_many(run, tmp_path):
    store = Store(tmp_path / "one.db")
    store.add_callback(number="+8613700000000", account=None, queue="general", issue=None,
                       window_start=None, window_end=None, call_sid="CA1",
                       now=datetime(2026, 11, 25, 4, 30, tzinfo=UTC))
    store.close()
    result = run("callbacks", "--db", str(tmp_path / "one.db"))
    assert result.output.splitlines()[-1] == "1 pending callback to 1 number"
    result = run("forecast", "--db", str(_calls_db(tmp_path / "calls.db", calls=1)),
                 "--weeks", "1")
    assert re.search(r"^  general: 1 call in 1 week, \d+ open hours a week$", result.stderr,
                     re.M), result.stderr
    assert "(s)" not in result.output


def test_advise_and_forecast_read_the_traffic_setting_as_serve_does(run, tmp_path):
    """IVR_TRAFFIC, or TRAFFIC in instance/config.py, names the centre's week for every
    command that reads it (demo, call and serve did; advise and forecast now too)."""
    new_york = str(ROOT / "tests" / "data" / "traffic_new_york.yaml")
    db = str(_calls_db(tmp_path / "calls.db", calls=3))
    config = tmp_path / "instance" / "config.py"
    for env in ({"IVR_TRAFFIC": new_york}, {}):
        if not env:  # the second time, through the file layer
            config.parent.mkdir()
            config.write_text(f"TRAFFIC = {new_york!r}\n")
        advised = run("advise", "--at", "2026-11-25T09:30", env=env)
        assert advised.exit_code == 0, advised.output
        assert advised.output.startswith("general, Wednesday 2026-11-25 09:30 "
                                         "(America/New_York): open")
        forecast = run("forecast", "--db", db, env=env)
        assert forecast.exit_code == 0, forecast.output
        assert yaml.safe_load(forecast.stdout)["timezone"] == "America/New_York"
    shipped = run("advise", "--at", "2026-11-25T09:30", "--traffic",
                  str(ROOT / "ivr" / "data" / "traffic.yaml"))  # the option wins
    assert "(Asia/Shanghai)" in shipped.output


# ---- 25: erlang and forecast ----------------------------------------------------------

def test_forecast_counts_calls_just_taken_and_warns_of_a_small_sample(run, tmp_path):
    db = _calls_db(tmp_path / "calls.db", calls=3)
    result = run("forecast", "--db", str(db), "-o", str(tmp_path / "t.yaml"))
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stderr and "3 calls" in result.stderr
    assert "warning: too few calls" in result.stderr
    assert re.search(r"^  general: 3 calls in 4 weeks, ", result.stderr, re.M)
