"""``ivr call`` and ``ivr replay`` as a user runs them, and the real app over HTTP."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from ivr.cli.calls import call, register_trace_option, replay
from ivr.sim import Script
from ivr.sim.target import SIM_TOKEN, for_app, over_http, sandbox

SCENARIOS = Path(__file__).parent / "scenarios"
QUIET = "wed 09:30"  # lines open, short waits


pytestmark = pytest.mark.usefixtures("quiet_app_logs")


def test_scripted_call_prints_the_trace_as_json(runner: CliRunner) -> None:
    args = [
        "--lang",
        "en-US",
        "--press",
        "1 1 10000001# 246810 0 1 20261101 200#",
        "--from",
        "+8613700000000",
        "--at",
        QUIET,
        "--json",
    ]
    result = runner.invoke(call, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    trace = json.loads(result.output)
    assert list(trace) == ["call_sid", "from", "to", "events", "outcome"]
    assert trace["outcome"]["queue"] == "payments" and trace["outcome"]["ended_by"] == "enqueue"
    assert trace["from"] == "+8613700000000"
    assert {"t", "type"} <= set(trace["events"][0])


def test_scripted_call_prints_what_the_caller_hears(runner: CliRunner) -> None:
    result = runner.invoke(
        call, ["--lang", "en-US", "--press", "0", "--at", QUIET], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert "input    pressed 0" in result.output
    assert "call ended by enqueue in queue 'general'" in result.output
    assert "call record: verified=False" in result.output


def test_interactive_call_reads_keys_enter_times_out_h_hangs_up(runner: CliRunner) -> None:
    result = runner.invoke(call, ["--at", QUIET], input="\n\nh\n", catch_exceptions=False)
    assert result.exit_code == 0
    assert "(no input, 5 s)" in result.output  # Enter at the language menu: Mandarin
    assert "call ended by caller-hangup" in result.output


def test_bad_answers_and_languages_are_usage_errors(runner: CliRunner) -> None:
    assert runner.invoke(call, ["--press", "1 x"]).exit_code == 2
    result = runner.invoke(call, ["--lang", "fr-FR", "--press", "1"])
    assert result.exit_code == 2 and "the menu offers ['en-US', 'zh-CN']" in result.output


def test_a_call_that_fails_exits_1(runner: CliRunner) -> None:
    result = runner.invoke(
        call,
        ["--url", "http://127.0.0.1:9", "--token", "x", "--press", "1"],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    assert "Twilio error 11200" in result.output


def test_other_modules_can_take_the_trace(runner: CliRunner, tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    option = click.Option(["--keep"], type=click.Path(path_type=Path), help="test hook")
    register_trace_option(
        option, lambda trace, value: seen.append((str(trace.outcome.queue), str(value)))
    )
    try:
        result = runner.invoke(
            call,
            ["--lang", "en-US", "--press", "0", "--at", QUIET, "--keep", str(tmp_path / "x")],
            catch_exceptions=False,
        )
        plain = runner.invoke(call, ["--lang", "en-US", "--press", "0", "--at", QUIET])
    finally:
        call.params.remove(option)
    assert result.exit_code == 0 and plain.exit_code == 0
    assert seen == [("general", str(tmp_path / "x"))]


def test_replay_runs_scenarios_one_line_each(runner: CliRunner) -> None:
    result = runner.invoke(replay, [str(SCENARIOS / "queue.yaml")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(line.startswith("PASS  queue.yaml: ") for line in lines[:-1])
    assert lines[-1] == "5 passed, 0 failed"


def test_replay_fails_with_the_scenario_the_expectation_and_what_happened(
    runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "fraud.yaml").write_text(
        "name: fraud goes to general\nlang: en-US\npress: '3 99999999# 0 99999999# 1 99999999# 2'\n"
        "expect: {queue: general}\n"
    )
    result = runner.invoke(replay, [str(tmp_path), str(SCENARIOS / "queue.yaml"), "-q"])
    assert result.exit_code == 1
    assert result.output.splitlines()[:3] == [
        "FAIL  fraud.yaml: fraud goes to general",
        "        expected queue 'general', got 'fraud'",
        result.output.splitlines()[2],
    ]
    assert result.output.splitlines()[2].startswith("        what happened: call ended by enqueue")
    assert result.output.splitlines()[-1] == "5 passed, 1 failed"


def test_replay_repeats_in_bulk_on_several_workers(runner: CliRunner) -> None:
    result = runner.invoke(
        replay,
        [str(SCENARIOS / "queue.yaml"), "--repeat", "3", "--workers", "2", "-q"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "15 passed, 0 failed" in result.output
    assert "with 2 workers" in result.output


def test_replay_of_logged_calls(runner: CliRunner, tmp_path: Path) -> None:
    rows = [
        {
            "call_sid": "CA1",
            "at": "2026-11-25T01:30:00+00:00",
            "node": "(start)",
            "input": None,
            "said": "welcome language_menu",
            "outcome": "ask:language",
        },
        {
            "call_sid": "CA1",
            "at": "2026-11-25T01:30:09+00:00",
            "node": "language",
            "input": "2",
            "said": "main_menu",
            "outcome": "ask:main",
        },
        {
            "call_sid": "CA1",
            "at": "2026-11-25T01:30:31+00:00",
            "node": "main",
            "input": "3",
            "said": "queue_general",
            "outcome": "enqueue:general",
        },
    ]
    export = tmp_path / "calls.json"
    export.write_text(json.dumps({"call_events": rows}))
    result = runner.invoke(replay, ["--calls", str(export)], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("DIFF  CA1  queue general -> fraud")
    assert (
        result.output.splitlines()[-1]
        == "1 calls replayed (against the recorded outcomes): 1 differ"
    )
    assert runner.invoke(replay, ["--calls", str(export), "--strict"]).exit_code == 1
    assert runner.invoke(replay, []).exit_code == 2


def test_over_http_the_real_app_gives_the_same_traces_as_in_process() -> None:
    with sandbox() as local:
        app = local.extensions["app"]
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            remote = over_http(base, SIM_TOKEN, database=app.config["DATABASE"])
            local.set_clock(local.quiet_at)  # the server is the same app: the same clock
            for press in [
                "2 1 2 10000001# 246810 1 20261120 5#",
                "2 3 99999999# 0 99999999# 1 99999999# 2",
                "_ _ _ _",
            ]:
                sid = "CA" + "7" * 32
                local.reset()
                here = local.call(
                    Script.parse(press).caller(), from_="+8613700000000", call_sid=sid
                )
                local.reset()  # wrong PINs count towards a lockout: start both alike
                there = remote.call(
                    Script.parse(press).caller(), from_="+8613700000000", call_sid=sid
                )
                assert there.to_json().replace(base, "http://localhost") == here.to_json()
                assert (
                    remote.record(sid) is not None
                    and remote.record(sid)["queue"] == here.outcome.queue
                )
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
    assert for_app  # the in-process target is the one sandbox() builds
