"""The README's examples, run as a reader would type them, in a fresh working folder.

Each example is first found in the README as written (options in ``[brackets]`` are the
optional parts, run here with them), so a README edit that changes an example fails here
until the example is run again. The server, audio and benchmark examples are run by
tests/servers.py, tests/test_audio_*.py and .ci/run's wheel check.
"""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivr.cli import cli

README = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
SCENARIOS = Path(__file__).parent / "scenarios"

pytestmark = pytest.mark.usefixtures("workdir", "quiet_app_logs")


def run(runner, example: str, *, written: str | None = None, exit_code: int = 0):
    """Run ``example`` (as the README has it, brackets dropped); check it is documented."""
    assert (written or example) in README, f"not in the README: {written or example}"
    args = shlex.split(example.replace("[", "").replace("]", ""))
    assert args[0] == "ivr"
    result = runner.invoke(cli, args[1:], catch_exceptions=False)
    assert result.exit_code == exit_code, result.output
    return result


def test_the_demo_at_a_saturday(runner):
    result = run(runner, "ivr demo --at 2026-11-28T10:00+08:00")
    assert "Saturday" in result.output or "星期六" in result.output or "周六" in result.output


def test_a_scripted_call_prints_its_trace(runner):
    result = run(runner, 'ivr call --lang en-US --press "1 1 10000001# 246810 0 1 20261120 '
                         '200#" --json')
    trace = json.loads(result.output)
    assert list(trace) == ["call_sid", "from", "to", "events", "outcome"]
    assert trace["outcome"]["queue"] == "payments"
    assert "246810" not in result.output  # masked, as the README says


def test_the_scenarios_replay(runner, workdir):
    (workdir / "tests").symlink_to(SCENARIOS.parent)
    result = run(runner, "ivr replay tests/scenarios/")
    assert " passed, 0 failed" in result.output


def test_calls_recorded_replay_the_same_on_the_same_tree_and_feed_the_forecast(runner, workdir):
    (workdir / "instance").mkdir()  # as `ivr serve` makes it, whose calls these stand for
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT10:00+08:00")
    run(runner, f"ivr demo --db instance/ivr.db --at {yesterday}",  # calls that happened
        written="`--db demo.db` keeps the calls")
    (workdir / "new.yaml").write_text(
        (Path(__file__).parent.parent / "ivr" / "menus" / "wallet.yaml").read_text("utf-8"),
        "utf-8")
    replayed = run(runner, "ivr replay --calls instance/ivr.db [--menu new.yaml]")
    lines = [line for line in replayed.output.splitlines() if line.startswith(("same", "DIFF"))]
    assert lines and all(line.startswith("same") for line in lines)
    assert replayed.output.rstrip().endswith(": 0 differ")
    run(runner, "ivr forecast --db instance/ivr.db --weeks 4 -o traffic.yaml")
    assert (workdir / "traffic.yaml").read_text("utf-8").startswith(("#", "timezone"))
    listed = run(runner, "ivr callbacks [--json]")
    assert all(json.loads(line)["queue"] for line in listed.output.splitlines() if line)


def test_erlang_and_advice(runner, workdir):
    text = run(runner, "ivr erlang --calls-per-hour 200 --aht-s 180 --agents 14 --target-s 20 "
                       "[--patience-s 120]")
    assert "%" in text.output
    figures = run(runner, "ivr erlang --calls-per-hour 200 --aht-s 180 --agents 14 "
                          "--target-s 20 --json",
                  written="ivr erlang --calls-per-hour 200 --aht-s 180 --agents 14 --target-s 20")
    assert {"p_wait", "asa_s", "service_level", "occupancy"} <= set(json.loads(figures.output))
    run(runner, "ivr advise [--at 2026-11-25T12:30] [--queue general] [--json] "
                "[--plot week.png]")
    assert (workdir / "week.png").stat().st_size > 0


def test_lint_and_debug_logs(runner):
    assert ", 0 error" in run(runner, "ivr lint").output
    assert "ivr -v COMMAND" in README
    run(runner, "ivr -v lint", written="ivr -v COMMAND")
