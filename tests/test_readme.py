"""The README's examples, run as a reader would type them, in a fresh working folder.

Each example is first found in the README as written (options in ``[brackets]`` are the
optional parts, run here with them), so a README edit that changes an example fails here
until the example is run again. ``ivr`` commands run through click's runner; ``flask
--app ivr run`` and the benchmarks run as subprocesses, the benchmarks with the smallest
parameters that still exercise every part of them (their figures are checked to be
printed, never their values: timings belong in the README, not in tests). ``ivr serve``
is run by the tests that use tests/servers.py, the audio examples by tests/test_audio_*.py,
and the installed wheel by .ci/run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import programs
import pytest
from conftest import README_MOMENT
from freezegun import freeze_time
from servers import free_port

from ivr.cli import cli

REPO = Path(__file__).parent.parent
README = (REPO / "README.md").read_text("utf-8")
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
    with freeze_time(README_MOMENT, tick=True):  # a weekday morning: the line is open
        result = run(runner, 'ivr call --lang en-US --press "1 1 10000001# 246810 0 1 '
                             '20261120 200#" --json')
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
    assert run(runner, "ivr lint").output.rstrip().endswith(" nodes, 0 errors")
    assert "ivr -v COMMAND" in README
    run(runner, "ivr -v lint", written="ivr -v COMMAND")


def test_a_call_at_a_moment(runner):
    """Wednesday 12:30 is the lunch peak: the wait is long enough to offer a callback."""
    result = run(runner, 'ivr call --lang en-US --press "1 1 10000001# 246810 0 1 20261120 '
                         '200#" --at "wed 12:30" --json', written='--at "wed 12:30"')
    said = [e["text"] for e in json.loads(result.output)["events"] if e["type"] == "say"]
    assert any(text.startswith("For a callback, press 1") for text in said), said


# ---- subprocesses: the dev server and the benchmarks --------------------------------------

def reader_env(**extra: str) -> dict[str, str]:
    """The shell of a reader in the checkout: no IVR_/TWILIO_ settings of ours, and this
    checkout's ivr whatever else is installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return {**env, "no_proxy": "*", **extra}


def python(example: str, *smaller: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``example`` (``python bench/...`` as the README has it) from the checkout, with
    the ``smaller`` parameters added; its output is printed for the test log."""
    assert example in README, f"not in the README: {example}"
    args = shlex.split(example)
    assert args[0] == "python"
    done = subprocess.run([sys.executable, *args[1:], *smaller], cwd=REPO, env=reader_env(),
                          capture_output=True, text=True, timeout=timeout_s, check=False)
    print(done.stdout, done.stderr, sep="\n")
    return done


def test_flask_run_answers_health(workdir):
    """``flask --app ivr run`` with a token: the dev server on a free loopback port."""
    assert "`flask --app ivr run` works too, with `TWILIO_AUTH_TOKEN` set" \
        in README.replace("\n", " ")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "ivr", "run", "--host", "127.0.0.1",
         "--port", str(port)], cwd=workdir, env=reader_env(TWILIO_AUTH_TOKEN="reader-token"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status, deadline = None, time.monotonic() + 30
        while status is None and process.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    status = r.status
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert status == 200, output
    assert (workdir / "instance" / "ivr.db").exists()  # where the README says it goes


def test_the_load_benchmark_runs_with_tricklers():
    """A few callers at 50x real time for 3 s, 2 tricklers and 2 idle connections."""
    done = python("python bench/bench_load.py --start-server --workers 2", "--callers", "5",
                  "--duration-s", "3", "--ramp-s", "0.5", "--time-scale", "50",
                  "--tricklers", "2", "--json")
    assert "--tricklers 8" in README
    assert done.returncode in (0, 1), done.stderr  # 1: the goal missed, which is a figure
    report = json.loads(done.stdout)
    assert report["calls"]["started"] >= 5 and report["webhooks"] > 0
    assert set(report["latency_ms"]) == {"p50", "p95", "p99", "max"}
    assert report["slow_clients"]["connections"] >= 4
    assert set(report["errors"]) <= {"timeout"}, report["errors"]  # a slow machine's, at most
    assert report["server_log_errors"] == []


def test_the_server_benchmark_runs():
    """``ivr serve`` alone, one short run: the attack and the load, one line of the table."""
    done = python("python bench/bench_servers.py", "--server", "ivr-serve", "--runs", "1",
                  "--attack-s", "2", "--load-s", "1", "--idle", "10", "--one-byte", "4",
                  "--connections", "2")
    assert done.returncode == 0, done.stderr
    line = done.stdout.splitlines()[-1].split()
    assert line[0] == "ivr-serve" and int(line[1]) > 0 and line[2] == "0", done.stdout


def test_the_webhook_profile_runs():
    """A few calls through the adapter: both apps' CPU a request, then the profile."""
    done = python("python bench/profile_webhook.py", "--calls", "10", "--top", "60")
    assert done.returncode == 0, done.stderr
    assert re.search(r"^real +[0-9.]+ ms CPU a request", done.stdout, re.M), done.stdout
    assert re.search(r"^static +[0-9.]+ ms CPU a request", done.stdout, re.M), done.stdout
    # the app's thread is in the profile, not only the event loop's
    assert "ivr/hotline.py" in done.stdout and "flask/app.py" in done.stdout, done.stdout


def test_the_simulator_benchmark_runs():
    done = python("python bench/bench_sim.py", "--calls", "10")
    assert done.returncode == 0, done.stderr
    assert "10 calls" in done.stdout
    assert "ms of wall time a call" in done.stdout


def test_the_queue_benchmark_runs():
    for package in ("ciw", "pyworkforce"):
        pytest.importorskip(package, reason="bench/bench_queue.py compares against the "
                                            "[bench] extras: pip install -e '.[bench]'")
    done = python("python bench/bench_queue.py", "--quick")
    assert done.returncode == 0, done.stderr
    assert "faster" in done.stdout and "same answer in" in done.stdout


def test_the_tuning_walkthrough(runner, workdir):
    """See, picture, predict, compare: the README's walk-through, in its order."""
    (workdir / "tests").symlink_to(SCENARIOS.parent)
    (workdir / "ivr").symlink_to(REPO / "ivr")
    replayed = run(runner, "ivr replay tests/scenarios/ --repeat 3 --db calls.db -q")
    assert " 0 scenario runs failed" in replayed.output
    report = run(runner, "ivr report --db calls.db --json", written="ivr report --db calls.db")
    figures = json.loads(report.output)
    assert figures["calls"] == int(replayed.output.rsplit(" calls (", 1)[0].rsplit("\n", 1)[-1])
    # the README says how many
    assert f"--repeat 3 --db calls.db -q   # {figures['calls']} calls," in README
    run(runner, "ivr report --db calls.db --html report.html")
    # the tree's picture, or where Graphviz is missing, what to install to have it
    assert programs.tree_picture() in (workdir / "report.html").read_text("utf-8")
    if programs.missing("dot") is None:
        run(runner, "ivr graph --db calls.db -o tree.svg")
        assert (workdir / "tree.svg").read_text("utf-8").lstrip().startswith(("<?xml", "<svg"))
    else:  # the same picture as Graphviz source, which needs no program
        runner.invoke(cli, ["graph", "--db", "calls.db", "-o", "tree.dot"], catch_exceptions=False)
        assert (workdir / "tree.dot").read_text("utf-8").lstrip().startswith("digraph")
    learnt = run(runner, "ivr tune --db calls.db --json", written="ivr tune --db calls.db")
    assert json.loads(learnt.output)
    suggested = run(runner, "ivr tune --suggest -o candidate.yaml")
    assert "predicted saving" in suggested.output and ": agrees" in suggested.output
    assert run(runner, "ivr lint candidate.yaml", written="it passes `ivr lint`"
               ).output.rstrip().endswith(" 0 errors")
    diff = run(runner, "ivr menu diff ivr/menus/wallet.yaml candidate.yaml", exit_code=1)
    assert "reordered" in diff.output
    compared = run(runner, "ivr tune --against candidate.yaml")
    assert "B − A (95 % interval)" in compared.output
    assert "IVR_MENU_B=candidate.yaml IVR_MENU_B_SHARE=0.1 ivr serve" in README


def test_the_report_and_tune_benchmarks_run():
    done = python("python bench/bench_report.py", "--calls", "20")
    assert done.returncode == 0, done.stderr
    assert " s" in done.stdout and "events" in done.stdout
    done = python("python bench/bench_tune.py", "--calls", "200")
    assert done.returncode == 0, done.stderr
    assert "calls/s" in done.stdout and "the same results as 1 worker: yes" in done.stdout


def test_a_day_of_the_whole_centre(runner, workdir):
    """Singles' Day at three times the volume: the figures and the picture, the agents
    that meet 80 % in 20 s, and the day again with them."""
    day = run(runner, "ivr plan --date 2026-11-11 --scale 3 --plot day.png")
    assert "service level = answered within 20 s" in day.output
    assert (workdir / "day.png").read_bytes().startswith(b"\x89PNG")
    staffed = run(runner, "ivr plan --date 2026-11-11 --scale 3 --staff-for 0.8/20 -o plan.yaml")
    assert "confirmed on fresh seeds" in staffed.output
    again = run(runner, "ivr plan --date 2026-11-11 --scale 3 --staffing plan.yaml")
    # the day's service level, on the last line (all queues, the whole day)
    worse, better = (float(r.output.rstrip().rsplit("\n", 1)[1].split()[5].rstrip("%"))
                     for r in (day, again))
    assert better > worse


def test_a_day_with_lunch_busier_and_a_week_of_the_callers_recorded(runner, workdir):
    lunch = run(runner, 'ivr plan --date 2026-11-11 --scale 3 --hourly "12:00-14:00=1.5"')
    assert "note: calls per hour times 1.5 at 12:00-14:00, on top of the scale" in lunch.output
    (workdir / "instance").mkdir()
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT10:00+08:00")
    run(runner, f"ivr demo --db instance/ivr.db --at {yesterday}",
        written="`ivr demo --db instance/ivr.db`")
    week = run(runner, "ivr plan --db instance/ivr.db --days 7")
    assert "note: calls per hour learnt from 5 calls recorded at instance/ivr.db" in week.output
    assert "those days take the traffic file's calls per hour" in week.output


def test_the_plan_benchmark_runs():
    pytest.importorskip("ciw", reason="bench/bench_plan.py compares against the [bench] "
                                      "extras: pip install -e '.[bench]'")
    done = python("python bench/bench_plan.py", "--calls", "500", "--no-week")
    assert done.returncode == 0, done.stderr
    assert "calls/s" in done.stdout and "ciw" in done.stdout
