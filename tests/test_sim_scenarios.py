"""The shipped scenarios (tests/scenarios/) against the real app, and the runner itself."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.sim.bulk import pick, run_batch
from ivr.sim.errors import ScenarioError
from ivr.sim.scenario import Scenario, load, run, when
from ivr.sim.target import Target, sandbox

SCENARIOS = Path(__file__).parent / "scenarios"
SHIPPED = load(SCENARIOS)


@pytest.fixture(name="target", scope="module")
def _target() -> Iterator[Target]:
    logging.getLogger("ivr").setLevel(logging.ERROR)  # lockouts are expected here
    with sandbox() as target:
        yield target
    logging.getLogger("ivr").setLevel(logging.NOTSET)


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
            "unknown expectation(s) ['queue_name']",
        ),
        ("name: x\npres: '1'\n", "unknown key(s) ['pres']"),
        ("name: x\npress: '1 x'\n", "'x' is not a phone key"),
        ("name: x\nat: someday\n", "not an ISO time nor 'tue 12:30'"),
        ("- just a list\n", "a scenario file is a mapping"),
    ],
)
def test_malformed_scenarios_are_refused_with_the_reason(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ScenarioError, match="bad.yaml") as info:
        load(tmp_path / "bad.yaml")
    assert problem in str(info.value)


def test_when_reads_iso_times_and_next_weekday_times() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    saturday_night = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)  # Sunday 07:00 in Shanghai
    assert when("sun 09:30", shanghai, saturday_night) == datetime(
        2026, 11, 22, 9, 30, tzinfo=shanghai
    )
    assert when("sun 03:00", shanghai, saturday_night) == datetime(
        2026, 11, 29, 3, 0, tzinfo=shanghai
    )
    assert when("2026-11-25T09:30", shanghai, saturday_night) == datetime(
        2026, 11, 25, 9, 30, tzinfo=shanghai
    )


def test_bulk_runs_in_several_processes_with_the_same_results() -> None:
    chosen = pick(SHIPPED, 30)
    single = run_batch(chosen, workers=1)
    double = run_batch(chosen, workers=2)
    assert single.calls == double.calls >= 30
    assert [r.scenario.name for r in double.results] == [s.name for s in chosen]
    assert single.queues() == double.queues()
    assert not single.failed and not double.failed
