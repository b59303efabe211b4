"""The traffic file: the shipped week, its checks, and the calendar of holidays."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest
import yaml

from ivr.errors import MenuError
from ivr.queue import traffic
from ivr.queue.calendar import Calendar, DayKind

DATA = Path(__file__).parent / "data"


@pytest.fixture(name="shipped")
def _shipped():
    return traffic.read_raw()


def test_shipped_week_loads_with_the_five_queues():
    week = traffic.load()
    assert tuple(week.queues) == traffic.QUEUES
    assert week.timezone == "Asia/Shanghai"
    assert week.calendar.country == "CN"
    assert week.warnings == ()
    assert week.queues["fraud"].always_open
    assert not week.queues["payments"].always_open
    assert week.queues["complaints"].hours[5] == ()  # closed on Saturdays


def test_three_spellings_of_an_hourly_row_agree(shipped):
    profile = shipped["profiles"]["weekday"]
    spelled = copy.deepcopy(shipped)
    payments = spelled["queues"]["payments"]
    payments["calls_per_hour"]["weekdays"] = [round(100 * v, 6) for v in profile]
    payments["calls_per_hour"]["mon"] = [round(105 * v, 6) for v in profile]
    payments["agents"]["weekdays"] = [0] * 8 + [13] * 4 + [6] * 2 + [10] * 8 + [0] * 2
    a = traffic.parse(shipped).queues["payments"]
    b = traffic.parse(spelled).queues["payments"]
    assert b.agents == a.agents
    flat = [v for row in a.calls_per_hour for v in row]
    assert [v for row in b.calls_per_hour for v in row] == pytest.approx(flat)


def test_a_day_overrides_its_group(shipped):
    week = traffic.parse(shipped)
    mon, tue = week.queues["payments"].calls_per_hour[:2]
    assert mon[10] == pytest.approx(105) and tue[10] == pytest.approx(100)


def test_every_problem_is_reported_with_its_location():
    with pytest.raises(MenuError) as caught:
        traffic.load(DATA / "traffic_broken.yaml")
    where = {p.location for p in caught.value.problems}
    assert {
        "(top).extra_key",
        "timezone",
        "calendar.country",
        "calendar.holidays[0]",
        "calendar.holiday_as",
        "service_hours.weekdays",
        "service_hours.sat",
        "profiles.short",
        "queues.payments.aht_s",
        "queues.payments.patience_s",
        "queues.payments.calls_per_hour.weekdays.profile",
        "queues.payments.calls_per_hour.weekend",
        "queues.payments.agents.daily.08:00-22:00",
        "queues.general.patience_s",
        "queues.general.calls_per_hour.daily[23]",
        "queues.general.agents.someday",
    } <= where
    assert "traffic_broken.yaml is invalid" in str(caught.value)


@pytest.mark.parametrize(
    ("edit", "location", "message"),
    [
        (lambda t: t["service_hours"].pop("weekend"), "service_hours", "no value for sat, sun"),
        (lambda t: t["service_hours"].update(mon=["08:00-12:00", "11:00-14:00"]),
         "service_hours.mon", "overlap"),
        (lambda t: t.update(queues={}), "queues", "must map"),
        (lambda t: t["queues"]["fraud"].update(hours="sometimes"), "queues.fraud.hours",
         "must be a mapping"),
        (lambda t: t["calendar"].update(workdays=["2026-06-01"], holidays=["2026-06-01"]),
         "calendar", "both a holiday and a make-up working day"),
        (lambda t: t["queues"]["general"]["agents"].update(weekdays={"profile": "weekday"}),
         "queues.general.agents.weekdays.profile", "HH:00-HH:00"),
    ],
)
def test_single_mistakes(shipped, edit, location, message):
    edit(shipped)
    with pytest.raises(MenuError) as caught:
        traffic.parse(shipped, "edited")
    assert any(p.location == location and message in p.message for p in caught.value.problems), \
        caught.value.problems


def test_open_hours_without_agents_is_a_warning_not_an_error(shipped, caplog):
    shipped["queues"]["general"]["agents"]["mon"] = {"08:00-12:00": 12}
    week = traffic.parse(shipped, "edited")
    assert [w.location for w in week.warnings] == ["queues.general.agents.mon"]
    assert "12, 13, 14" in week.warnings[0].message
    assert "nobody would be answered" in caplog.text


def test_unreadable_files_are_reported(tmp_path):
    with pytest.raises(MenuError, match="cannot read"):
        traffic.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("queues: [unclosed\n", encoding="utf-8")
    with pytest.raises(MenuError, match="not valid YAML"):
        traffic.load(bad)


def test_dump_round_trips_and_keeps_rows_on_one_line(shipped):
    text = traffic.dump(shipped)
    assert "weekday: [0.04, 0.02," in text
    assert traffic.parse(yaml.safe_load(text)) == traffic.parse(shipped)


def test_china_holidays_and_make_up_days_come_from_the_holidays_package():
    cn = Calendar(country="CN", holiday_as=6, workday_as=0)
    national_day = cn.day(date(2025, 10, 1))
    assert national_day.kind is DayKind.HOLIDAY and national_day.runs_as == 6
    assert national_day.name == "National Day"
    make_up = cn.day(date(2025, 9, 28))  # a Sunday worked for the National Day break
    assert make_up.kind is DayKind.WORKDAY and make_up.runs_as == 0
    assert cn.day(date(2026, 2, 14)).kind is DayKind.WORKDAY  # a Saturday in 2026
    assert cn.day(date(2025, 10, 10)).kind is DayKind.NORMAL
    assert cn.day(date(2025, 10, 10)).runs_as == 4


def test_a_year_without_a_decreed_arrangement_falls_back_to_plain_weeks():
    cn = Calendar(country="CN")
    assert cn.covers(2026) and not cn.covers(2030)
    new_year = cn.day(date(2030, 1, 1))
    assert new_year.kind is DayKind.NORMAL and not new_year.certain
    assert new_year.runs_as == date(2030, 1, 1).weekday()
    # Ops can fill the year in themselves.
    filled = Calendar(country="CN", holidays=frozenset({date(2030, 1, 1)}),
                      covered_years=frozenset({2030}))
    assert filled.day(date(2030, 1, 1)).kind is DayKind.HOLIDAY
    assert filled.day(date(2030, 1, 1)).certain


def test_file_overrides_win_over_the_package():
    week = traffic.load(DATA / "traffic_holidays_closed.yaml")
    cal = week.calendar
    assert cal.day(date(2026, 6, 1)).kind is DayKind.HOLIDAY  # company day off
    assert cal.day(date(2026, 6, 7)).kind is DayKind.WORKDAY
    assert cal.day(date(2026, 6, 7)).runs_as == 4  # workday_as: fri
    assert cal.day(date(2026, 5, 1)).kind is DayKind.NORMAL  # Labour Day worked
    assert cal.day(date(2026, 5, 2)).kind is DayKind.HOLIDAY


def test_without_a_country_every_year_is_certain():
    plain = Calendar()
    assert plain.covers(2999)
    assert plain.day(date(2025, 10, 1)).kind is DayKind.NORMAL
