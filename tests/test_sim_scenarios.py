"""The shipped scenarios (tests/scenarios/) against the real app, and the runner itself."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.sim.bulk import pick, run_batch
from ivr.sim.errors import ScenarioError
from ivr.sim.scenario import Scenario, load, run
from ivr.sim.target import Target

SCENARIOS = Path(__file__).parent / "scenarios"
SHIPPED = load(SCENARIOS)


@pytest.mark.parametrize("scenario", SHIPPED, ids=[f"{s.source}: {s.name}" for s in SHIPPED])
def test_shipped_scenario(scenario: Scenario, target: Target) -> None:
    result = run(scenario, target)
    assert result.passed, result.line()


def test_every_leaf_of_the_default_tree_has_a_scenario_in_both_languages(target: Target) -> None:
    assert target.menu is not None
    leaves = [n for n in target.menu.nodes.values() if n.kind.value == "queue"]
    reached = {(t.outcome.queue, s.calls[-1].lang) for s in SHIPPED for t in run(s, target).traces}
    for queue in {n.queue for n in leaves}:
        assert (queue, "zh-CN") in reached and (queue, "en-US") in reached, queue
    names = " ".join(s.name for s in SHIPPED if s.source == "leaves.yaml")
    for route in (
        "1-1",
        "1-2",
        "1-3",
        "1-4",
        "2-1",
        "2-2",
        "2-3",
        "2-4",
        "2-5",
        "2-6",
        "3 ",
        "4-1",
        "4-2",
        "5 ",
        "0 ",
    ):
        assert f"{route}" in names


def test_a_failure_names_the_scenario_the_expectation_and_what_happened(
    tmp_path: Path, target: Target
) -> None:
    (tmp_path / "wrong.yaml").write_text(
        "name: a caller who hangs up is queued (it is not)\n"
        "press: 'h 5'\n"
        "expect: {queue: payments, heard: ['Goodbye'], verified: true}\n"
    )
    [scenario] = load(tmp_path)
    result = run(scenario, target)
    assert not result.passed
    assert result.line().splitlines() == [
        "FAIL  wrong.yaml: a caller who hangs up is queued (it is not)",
        "        expected queue 'payments', got None",
        "        expected to hear 'Goodbye'",
        "        expected the call record's verified to be True, got False",
        "        answers never asked for: 5",
        (
            "        what happened: call ended by caller-hangup after "
            f"{result.traces[0].outcome.duration_s:.1f} s (2 requests); heard last: "
            "'普通话请按1。' / 'For English, press 2.'"
        ),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "name: x\npress: '1'\nexpect: {queue_name: general}\n",
            "unknown expectation ['queue_name']",
        ),
        ("name: x\npres: '1'\nexpct: {}\n", "unknown keys ['expct', 'pres']"),
        ("name: x\npres: '1'\n", "unknown key ['pres']"),
        ("name: x\npress: '1 x'\n", "'x' is not a phone key"),
        # at: read as every command's --at is, worded the same, naming the key
        ("name: x\nat: someday\n", "bad.yaml: x: at: 'someday' is not a time: give an ISO time"),
        ("name: x\nat: 0001-01-01\n", "x: at: '0001-01-01' is out of range: give a moment in "
                                        "the years 1971 to 9997"),
        ("name: x\nat: 'sat 25:00'\n", "x: at: 'sat 25:00' is not a time"),
        ("- just a list\n", "a scenario file is a mapping"),
        ("name: x\nfrom: abc\n", "x: from: 'abc' is not a phone number: give it in E.164"),
        ("name: x\nto: anonymous\n", "x: to: 'anonymous' is not a phone number"),
        ("name: x\nnotices: line\n", "x: notices: a list of {scope, text, emergency}"),
        ("name: x\nnotices: [{scope: line, text: {en-US: hi}, switch: true}]\n",
         "x: notices[1]: unknown key ['switch']"),
        ("name: x\nnotices: [{scope: line, text: hi}]\n",
         "x: notices[1]: give scope (line, node:<id>, queue:<name>) and text"),
    ],
)
def test_malformed_scenarios_are_refused_with_the_reason(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ScenarioError, match="bad.yaml") as info:
        load(tmp_path / "bad.yaml")
    assert problem in str(info.value)


@pytest.mark.parametrize(
    ("written", "want"),
    [
        ("'sun 09:30'", datetime(2026, 11, 22, 9, 30)),
        ("'sun 03:00'", datetime(2026, 11, 29, 3, 0)),  # the next one
        ("'Sunday 9'", datetime(2026, 11, 22, 9, 0)),  # as --at reads it
        ("'2026-11-25T09:30'", datetime(2026, 11, 25, 9, 30)),  # the centre's local time
        ("'2026-11-25T01:30Z'", datetime(2026, 11, 25, 9, 30)),
        ("2026-11-25", datetime(2026, 11, 25, 0, 0)),  # YAML's date, unquoted
        ("2026-11-25T01:30:00Z", datetime(2026, 11, 25, 9, 30)),  # YAML's timestamp
    ],
)
def test_at_reads_as_every_commands_at(tmp_path: Path, target: Target, written: str,
                                       want: datetime) -> None:
    (tmp_path / "at.yaml").write_text(f"name: x\nat: {written}\npress: '_'\n")
    [scenario] = load(tmp_path / "at.yaml")
    saturday_night = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)  # Sunday 07:00 in Shanghai
    shanghai = ZoneInfo("Asia/Shanghai")
    assert target.zone == shanghai
    assert scenario.moment(target, saturday_night) == want.replace(tzinfo=shanghai)


def test_a_scenarios_notice_is_checked_as_ivr_notice_add_checks_it(tmp_path: Path,
                                                                    target: Target) -> None:
    (tmp_path / "n.yaml").write_text(
        "name: x\nlang: en-US\npress: '0'\nnotices: [{scope: node:paymnts_menu, "
        "text: {en-US: Late top-ups.}}]\n", encoding="utf-8")
    [scenario] = load(tmp_path / "n.yaml")
    result = run(scenario, target)
    assert result.failures == (
        "notices: the notice is invalid (2 problems):\n"
        "  error: scope: node 'paymnts_menu' is in no tree the line runs (did you mean "
        "node:payments_menu?)\n"
        "  error: text zh-CN: missing: a notice is said in every prompt language (en-US, "
        "zh-CN)",)
    assert target.publish is not None and target.extensions["app"].extensions[
        "ivr"].store.read_all("SELECT id FROM notices") == []


def test_bulk_runs_in_several_processes_with_the_same_results() -> None:
    chosen = pick(SHIPPED, 30)
    single = run_batch(chosen, workers=1)
    double = run_batch(chosen, workers=2)
    assert single.calls == double.calls >= 30
    assert [r.scenario.name for r in double.results] == [s.name for s in chosen]
    assert single.queues() == double.queues()
    assert not single.failed and not double.failed
