"""`ivr plan`'s callers learnt from recorded calls (``--db``) and overridden per hour
(``--hourly``): the pure functions of ``ivr.plan.arrivals``, then the command on calls
recorded by the app itself."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner

from ivr.cli import cli
from ivr.flow import prompts
from ivr.menu import load_validated
from ivr.plan import arrivals
from ivr.queue import traffic as traffic_file
from ivr.tuning import mix as mix_file
from ivr.tuning.routes import build

#: a Monday's recorded calls, by the hour they started in (Shanghai): the peak at noon
MONDAY = {10: 2, 12: 6, 15: 2}


@pytest.fixture(name="shipped", scope="module")
def _shipped():
    catalog = prompts.load()
    routes = build(load_validated(None, catalog))
    return traffic_file.load(), mix_file.load(None, routes, catalog.languages), routes


def _utc(day: str, hour: int, minute: int = 5) -> datetime:
    """``hour``:``minute`` in Shanghai on ``day``, in UTC (8 hours behind)."""
    local = datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}:00+08:00")
    return local.astimezone(UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("12=3", {12: 3.0}),
    ("12=3, 13:00-15:00=2.5", {12: 3.0, 13: 2.5, 14: 2.5}),
    ("0:00-24:00=0.5", {h: 0.5 for h in range(24)}),
    ("23=0", {23: 0.0}),
])
def test_hourly_factors_read_hours_and_ranges_with_their_end_left_out(text, expected):
    assert arrivals.parse_hourly(text) == tuple(expected.get(h, 1.0) for h in range(24))


@pytest.mark.parametrize(("text", "message"), [
    ("24=2", "hour 24 is not in the day"),
    ("10:00-25:00=2", "is not in the day"),
    ("13-14=2", "give an hour (12) or whole hours, the end left out"),
    ("12:30-14:00=2", "whole hours only"),
    ("14:00-12:00=2", "ends before it starts"),
    ("12=3,11:00-14:00=2", "12:00-13:00 is in both '12=3' and '11:00-14:00=2'"),
    ("12=-1", "the factor must be a number, 0 or more"),
    ("12=inf", "the factor must be a number, 0 or more"),
    ("12=much", "the factor must be a number, 0 or more"),
    ("12", "expected HOURS=FACTOR"),
    ("", "expected HOURS=FACTOR"),
    ("12=2,,13=2", "expected HOURS=FACTOR"),
])
def test_bad_hourly_factors_are_refused_saying_why(text, message):
    with pytest.raises(ValueError) as error:
        arrivals.parse_hourly(text)
    assert message in str(error.value)


def test_hourly_factors_multiply_their_hours_of_every_day_on_top_of_the_scale(shipped):
    traffic, mix, routes = shipped
    days = arrivals.days_from(traffic, date(2026, 11, 11), 2)
    plain = arrivals.demand(traffic, mix, routes, days, 2.0)
    hourly = arrivals.parse_hourly("12=3,13:00-15:00=0")
    changed = arrivals.demand(traffic, mix, routes, days, 2.0, hourly=hourly)
    for row, base in zip(changed.per_hour, plain.per_hour, strict=True):
        for h, (value, before) in enumerate(zip(row, base, strict=True)):
            assert value == pytest.approx(before * hourly[h % 24])
    assert "calls per hour times 3 at 12:00-13:00, 0 at 13:00-15:00, on top of the scale" \
        in changed.notes


def test_recorded_calls_give_each_weekday_its_mean_hours(shipped):
    """Calls recorded from Sunday 20 September 2026, a make-up working day (run as a
    Monday), to Monday 28 September, with Mid-Autumn Festival on Friday 25 (run as a
    Sunday) between: each weekday's hours are its calls over its days recorded, and a
    simulated day running as a weekday no day recorded ran as is the traffic file's."""
    traffic, mix, routes = shipped
    starts = [_utc(day, hour, minute) for day in ("2026-09-20", "2026-09-28")
              for hour, n in MONDAY.items() for minute in range(n)]
    starts.append(_utc("2026-09-25", 9))  # the festival
    learnt = arrivals.recorded(reversed(starts), traffic, "calls.db")
    assert (learnt.first, learnt.last, learnt.calls) == (date(2026, 9, 20), date(2026, 9, 28),
                                                         21)
    # run as Monday: the 20th, 21st (no call, but recorded) and 28th; as Sunday: the
    # 25th and 27th; as Friday: none
    assert learnt.days == (3, 1, 1, 1, 0, 1, 2)
    monday, sunday = learnt.per_hour[0], learnt.per_hour[6]
    assert monday is not None and sunday is not None and learnt.per_hour[4] is None
    assert monday == pytest.approx([2 * MONDAY.get(h, 0) / 3 for h in range(24)])
    assert sunday == pytest.approx([0.5 if h == 9 else 0.0 for h in range(24)])
    # Monday 30 November: the recorded Mondays' calls, shared by the mix; Friday 4
    # December: the traffic file's
    days = (traffic.calendar.day(date(2026, 11, 30)), traffic.calendar.day(date(2026, 12, 4)))
    need = arrivals.demand(traffic, mix, routes, days, 3.0, learnt=learnt)
    plain = arrivals.demand(traffic, mix, routes, days, 3.0)
    hours = [sum(row[h] for row in need.per_hour) for h in range(48)]
    assert hours[:24] == pytest.approx([3 * v for v in monday])
    assert hours[24:] == pytest.approx([sum(row[h] for row in plain.per_hour)
                                        for h in range(24, 48)])
    shares = {(lang, target): share for lang, target, share in mix.classes()}
    for klass, row in zip(need.classes, need.per_hour, strict=True):
        assert row[12] == pytest.approx(3 * monday[12] * shares[klass])
    assert "calls per hour learnt from 21 calls recorded at calls.db, 2026-09-20 to " \
        "2026-09-28: the mean over the days running as each weekday (mon 3, tue 1, wed 1, " \
        "thu 1, sat 1, sun 2)" in need.notes
    assert "no day recorded ran as fri: those days take the traffic file's calls per hour" \
        in need.notes
    with pytest.raises(ValueError, match="calls.db: no call recorded"):
        arrivals.recorded([], traffic, "calls.db")


def _recorded_mondays(caller, clock) -> None:
    """English callers asking for an agent (main menu 2, then 0) on two Mondays, 16 and
    23 November 2026, at the hours of ``MONDAY``."""
    for day in ("2026-11-16", "2026-11-23"):
        for hour, n in MONDAY.items():
            for minute in range(n):
                clock.move_to(_utc(day, hour, 5 * minute))
                call = caller(f"+86137{hour:02d}{minute:04d}00")
                call.start()
                call.keys("2", "0")
                if call.said("To keep waiting, press 3"):  # noon's long wait
                    call.press("3")
                assert call.queue == "general", (day, hour, call.heard[-3:])


@pytest.mark.both_backends
def test_the_plan_learns_its_callers_from_the_calls_recorded(app, caller, clock, settings,
                                                             workdir):
    """A Monday simulated from two recorded Mondays peaks at noon, as they did, with
    their mean volume; the hours overridden on top of it."""
    _recorded_mondays(caller, clock)
    args = ["plan", "--db", settings["DATABASE"], "--date", "2026-11-30", "--interval", "60",
            "--retry", "0", "--runs", "30", "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    calls = out["hotline"]["calls"]
    assert max(range(24), key=calls.__getitem__) == 12
    assert sum(calls) == pytest.approx(sum(MONDAY.values()), abs=1.5)  # 30 runs: sd 0.6
    assert sum(calls[:9]) == sum(calls[17:]) == 0
    assert any(n.startswith("calls per hour learnt from 20 calls recorded at ")
               for n in out["notes"])
    doubled = CliRunner().invoke(cli, [*args, "--hourly", "0:00-24:00=2"],
                                 catch_exceptions=False)
    assert sum(json.loads(doubled.output)["hotline"]["calls"]) == \
        pytest.approx(2 * sum(MONDAY.values()), abs=2.5)
    text = CliRunner().invoke(cli, args[:-1], catch_exceptions=False).output
    assert "note: calls per hour learnt from 20 calls recorded at" in text


def test_a_database_with_nothing_to_learn_from_is_a_clear_error(app, settings, workdir):
    result = CliRunner().invoke(cli, ["plan", "--db", settings["DATABASE"], "--date",
                                      "2026-11-30"])
    assert result.exit_code == 1, result.output
    assert "nothing to learn a mix from" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--db", "notes.txt"], "notes.txt is not a SQLite database"),
    (["--db", "missing.db"], "'missing.db' does not exist"),
    (["--db", "calls.db", "--mix", "notes.txt"], "give --mix or --db, not both"),
    (["--hourly", "25=2"], "hour 25 is not in the day"),
    (["--hourly", "12=2,12:00-14:00=3"], "12:00-13:00 is in both"),
    (["--hourly", "12=-0.5"], "the factor must be a number, 0 or more"),
    (["--hourly", "13-14=2"], "give an hour (12) or whole hours, the end left out"),
])
def test_bad_database_and_hourly_arguments_are_refused(args, message, workdir):
    (workdir / "notes.txt").write_text("not a database\n", "utf-8")
    sqlite3.connect(workdir / "calls.db").execute("CREATE TABLE calls (x)").connection.close()
    result = CliRunner().invoke(cli, ["plan", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
