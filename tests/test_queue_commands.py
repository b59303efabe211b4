"""``ivr erlang``, ``ivr advise`` and ``ivr forecast``, invoked through click's runner."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from freezegun import freeze_time

from ivr.cli.queue import advise_command, erlang_command, forecast_command
from ivr.queue import erlang, traffic

DATA = Path(__file__).parent / "data"
BASE = ["--calls-per-hour", "200", "--aht-s", "180"]


@pytest.fixture(name="runner")
def _runner():
    return CliRunner()


def run_json(runner, command, args):
    result = runner.invoke(command, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_erlang_c(runner):
    out = run_json(runner, erlang_command, [*BASE, "--agents", "14", "--target-s", "20"])
    want = erlang.erlang_c_metrics(200, 180, 14, 20)
    assert out == {"p_wait": want.p_wait, "asa_s": want.asa_s,
                   "service_level": want.service_level, "occupancy": want.occupancy,
                   "target_s": 20.0}


def test_erlang_a_adds_abandonment(runner):
    out = run_json(runner, erlang_command, [*BASE, "--agents", "14", "--patience-s", "120"])
    want = erlang.erlang_a_metrics(200, 180, 14, 120, 20)
    assert list(out) == ["p_wait", "asa_s", "service_level", "occupancy", "p_abandon",
                         "target_s"]
    assert out["p_abandon"] == want.p_abandon and out["asa_s"] == want.asa_s


def test_erlang_minimum_agents(runner):
    out = run_json(runner, erlang_command, [*BASE, "--target-level", "0.8"])
    assert out["agents"] == 14 and out["service_level"] >= 0.8
    out = run_json(runner, erlang_command, [*BASE, "--target-level", "0.8", "--patience-s", "120"])
    assert out["agents"] == erlang.agents_for(200, 180, 0.8, 20, 120)


def test_erlang_overload_has_no_finite_wait(runner):
    out = run_json(runner, erlang_command, [*BASE, "--agents", "10"])
    assert out["asa_s"] is None and out["service_level"] == 0.0
    result = runner.invoke(erlang_command, [*BASE, "--agents", "10"])
    assert "never answered" in result.output and result.exit_code == 0


def test_erlang_human_output(runner):
    result = runner.invoke(erlang_command, [*BASE, "--agents", "14"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "Erlang C: 200 calls/h, AHT 180 s (10 Erlangs), 14 agents"
    # percentages with their unit, the target's seconds named in the line
    assert any(re.fullmatch(r"  answered within 20 s \(service level\) +88\.8 %", line)
               for line in lines), result.output
    assert any(re.fullmatch(r"  average wait of those answered +\d+\.\d s", line)
               for line in lines)
    assert not [line for line in lines[1:] if re.search(r"\b0\.\d{4}", line)]  # no bare shares


def test_erlang_output_says_each_figure_once(runner):
    result = runner.invoke(erlang_command, [*BASE, "--target-level", "0.8", "--target-s", "15",
                                            "--patience-s", "120"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    agents = erlang.agents_for(200, 180, 0.8, 15, 120)
    assert lines[0] == (f"Erlang A: 200 calls/h, AHT 180 s (10 Erlangs), {agents} agents, "
                        "the fewest answering 80.0 % within 15 s")
    assert [line for line in lines if "agents" in line] == [lines[0]]  # not again below
    assert len(lines) == len(set(lines)) == 6
    assert "callers who hang up (patience 120 s)" in result.output


def test_erlang_huge_inputs_are_capped_not_slow(runner):
    started = time.perf_counter()
    result = runner.invoke(erlang_command, [*BASE, "--agents", "100000000"])
    assert result.exit_code == 2 and "--agents" in result.output
    assert "1000000" in result.output
    result = runner.invoke(erlang_command, ["--calls-per-hour", "1e12", "--aht-s", "180",
                                            "--target-level", "0.8"])
    assert result.exit_code == 2 and "Erlangs" in result.output
    out = run_json(runner, erlang_command, [*BASE, "--agents", "1000000"])
    assert out["p_wait"] == 0.0 and out["service_level"] == 1.0
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (BASE, "exactly one of --agents and --target-level"),
        ([*BASE, "--agents", "14", "--target-level", "0.8"], "exactly one of"),
        (["--calls-per-hour", "-5", "--aht-s", "180", "--agents", "3"], "--calls-per-hour"),
        (["--calls-per-hour", "5", "--aht-s", "0", "--agents", "3"], "--aht-s"),
        ([*BASE, "--agents", "-1"], "--agents"),
        ([*BASE, "--agents", "3", "--patience-s", "-2"], "--patience-s"),
        ([*BASE, "--target-level", "1.2"], "--target-level"),
        ([*BASE, "--agents", "3", "--target-s", "-1"], "--target-s"),
        (["--aht-s", "180", "--agents", "3"], "--calls-per-hour"),
    ],
)
def test_erlang_bad_arguments(runner, args, message):
    result = runner.invoke(erlang_command, args)
    assert result.exit_code == 2
    assert message in result.output


def _lunch_or_weekend(window):
    start = datetime.fromisoformat(window["start"])
    end = datetime.fromisoformat(window["end"])
    return start.weekday() >= 5 or (start.hour < 14 and end.hour > 12)


def test_advise_json_on_the_shipped_week(runner):
    out = run_json(runner, advise_command, ["--at", "2026-11-25T12:30"])  # Shanghai time
    assert list(out)[:4] == ["queue", "at", "expected_wait_s", "windows"]
    assert out["queue"] == "general" and out["at"] == "2026-11-25T12:30:00+08:00"
    assert out["expected_wait_s"] > 20 * 60
    assert len(out["windows"]) == 3
    assert all(set(w) == {"start", "end", "expected_wait_s"} for w in out["windows"])
    assert not [w for w in out["windows"] if _lunch_or_weekend(w)]
    saturday = run_json(runner, advise_command, ["--at", "2026-11-28T02:00:00Z",
                                                 "--queue", "payments"])
    assert saturday["at"] == "2026-11-28T10:00:00+08:00"
    assert not [w for w in saturday["windows"] if _lunch_or_weekend(w)]


def test_advise_recommends_a_quiet_lunch(runner):
    out = run_json(runner, advise_command, ["--at", "2026-11-25T09:30", "--traffic",
                                            str(DATA / "traffic_quiet_lunch.yaml")])
    assert [w["start"][11:16] for w in out["windows"]] == ["12:00"] * 3


def test_advise_human_text_and_plot(runner, tmp_path):
    plot = tmp_path / "week.png"
    result = runner.invoke(advise_command, ["--at", "2026-11-25T09:30", "--queue", "payments",
                                            "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("payments, Wednesday 2026-11-25 09:30 (Asia/Shanghai): "
                                    "open, expected wait under a minute.")
    assert "  1. Wednesday 25 November 10:00–12:00, under a minute" in result.output
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_advise_when_closed_and_uncertain(runner):
    result = runner.invoke(advise_command, ["--at", "2026-12-31T23:00", "--queue",
                                            "complaints"])
    assert result.exit_code == 0
    assert "closed; opens Friday 2027-01-01 09:00" in result.output
    assert "Opening hours: Monday–Friday 09:00–18:00" in result.output
    assert "less certain" in result.output


def test_advise_defaults_to_now(runner):
    with freeze_time("2026-11-28 02:00:00"):  # Saturday 10:00 in Shanghai
        out = run_json(runner, advise_command, [])
    assert out["at"] == "2026-11-28T10:00:00+08:00"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--queue", "refunds"], 2, "no queue 'refunds'"),
        (["--at", "next tuesday"], 2, "'next tuesday' is not a time"),
        (["--traffic", str(DATA / "traffic_broken.yaml")], 1, "queues.payments.aht_s"),
        (["--traffic", "missing.yaml"], 2, "does not exist"),
    ],
)
def test_advise_errors(runner, args, code, message):
    result = runner.invoke(advise_command, args)
    assert result.exit_code == code
    assert message in result.output


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "ivr.db"
    monday = datetime(2026, 11, 16, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    rows = [(f"CA{i}", (monday + timedelta(minutes=i)).isoformat(), "payments")
            for i in range(30)]
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE calls (call_sid TEXT PRIMARY KEY, started_at TEXT, "
                   "queue TEXT NULL)")
        db.executemany("INSERT INTO calls VALUES (?, ?, ?)", rows)
    db.close()
    return path


def test_forecast_writes_a_loadable_traffic_file(runner, tmp_path):
    out = tmp_path / "forecast.yaml"
    result = runner.invoke(forecast_command, ["--db", str(_db(tmp_path)), "--weeks", "2",
                                              "--now", "2026-11-23T00:00", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "30 calls" in result.output
    week = traffic.load(out)
    assert week.queues["payments"].calls_per_hour[0][12] == 15.0  # 30 calls over 2 Mondays
    assert week.queues["payments"].agents == traffic.load().queues["payments"].agents


def test_forecast_to_stdout_keeping_a_given_base(runner, tmp_path):
    db = _db(tmp_path)
    result = runner.invoke(forecast_command, [
        "--db", str(db), "--weeks", "1", "--now", "2026-11-23T00:00",
        "--traffic", str(DATA / "traffic_quiet_lunch.yaml")])
    assert result.exit_code == 1  # the quiet-lunch file has no payments queue
    assert "no calls recorded" in result.output
    result = runner.invoke(forecast_command, ["--db", str(db), "--weeks", "1",
                                              "--now", "2026-11-23T00:00"])
    assert result.exit_code == 0
    assert result.output.startswith("# The centre's week")
    assert "timezone: Asia/Shanghai" in result.output


def test_forecast_errors(runner, tmp_path):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    result = runner.invoke(forecast_command, ["--db", str(empty)])
    assert result.exit_code == 2 and "empty.db is empty, not an ivr database" in result.output
    with sqlite3.connect(empty) as db:
        db.execute("CREATE TABLE other (x)")
    db.close()
    result = runner.invoke(forecast_command, ["--db", str(empty)])
    assert result.exit_code == 2
    assert "empty.db is not an ivr database (it has tables other but not calls)" in result.output
    result = runner.invoke(forecast_command, ["--db", str(empty), "--weeks", "0"])
    assert result.exit_code == 2
