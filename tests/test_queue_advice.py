"""The call flow's questions to the queue model: open?, how long?, when to call back?"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from ivr.errors import ConfigError
from ivr.queue import traffic
from ivr.queue.advice import Centre, Window, describe_wait
from ivr.queue.erlang import erlang_a_metrics, live_wait_s
from ivr.queue.plot import plot_week

DATA = Path(__file__).parent / "data"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
THRESHOLD_S = 20 * 60
BIG_QUEUES = ("payments", "general")


@pytest.fixture(name="centre", scope="module")
def _centre():
    return Centre.load()


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


# An ordinary week: no Chinese holiday or make-up day from 2026-11-23 to 2026-12-06.
WED_1230 = shanghai(2026, 11, 25, 12, 30)
SAT_1000 = shanghai(2026, 11, 28, 10, 0)
WED_0930 = shanghai(2026, 11, 25, 9, 30)


@pytest.mark.parametrize("queue", BIG_QUEUES)
def test_lunch_and_weekend_waits_are_long_mornings_short(centre, queue):
    lunch = centre.expected_wait_s(queue, WED_1230)
    weekend = centre.expected_wait_s(queue, SAT_1000)
    morning = centre.expected_wait_s(queue, WED_0930)
    assert lunch > THRESHOLD_S and weekend > THRESHOLD_S
    assert morning < 60
    advice = {at: centre.advise(queue, at) for at in (WED_1230, SAT_1000, WED_0930)}
    assert len({a.windows for a in advice.values()}) == 3
    assert all(a.certain and a.open_now and len(a.windows) == 3 for a in advice.values())
    assert advice[WED_1230].expected_wait_s == lunch


def test_waits_are_the_erlang_a_held_wait_of_the_hour(centre):
    q = centre.traffic.queues["payments"]
    want = erlang_a_metrics(q.calls_per_hour[2][12], q.aht_s, q.agents[2][12], q.patience_s)
    assert centre.expected_wait_s("payments", WED_1230) == want.held_wait_s
    assert centre.metrics("payments", WED_1230) == want


def test_frozen_clock_call_flow_pattern(centre):
    with freeze_time("2026-11-25 04:30:00"):  # 12:30 in Shanghai
        now = datetime.now(UTC)
        assert centre.local(now) == WED_1230
        assert centre.expected_wait_s("general", now) > THRESHOLD_S


def _bad(window: Window) -> bool:
    lunch = window.start.hour < 14 and (window.end.hour > 12 or window.end.hour == 0)
    return window.start.weekday() >= 5 or lunch


def test_shipped_week_never_recommends_lunch_or_weekends(centre):
    monday = shanghai(2026, 11, 23, 0, 0)
    for queue in centre.queues:
        step = 1 if queue in BIG_QUEUES else 3
        for hour in range(0, 7 * 24, step):
            advice = centre.advise(queue, monday + timedelta(hours=hour, minutes=17))
            assert advice.windows, (queue, hour)
            assert not [w for w in advice.windows if _bad(w)], (queue, hour, advice.windows)


def test_a_quiet_lunch_is_recommended():
    centre = Centre.load(DATA / "traffic_quiet_lunch.yaml")
    advice = centre.advise("general", WED_0930)
    assert [w.describe() for w in advice.windows] == [
        "Wednesday 25 November 12:00–14:00, under a minute",
        "Thursday 26 November 12:00–14:00, under a minute",
        "Friday 27 November 12:00–14:00, under a minute",
    ]
    assert advice.expected_wait_s > THRESHOLD_S


def _capacity_centre() -> Centre:
    # Monday 08-10 is quiet but has a single agent: best for one caller, no room for many.
    tree = {
        "timezone": "Asia/Shanghai",
        "service_hours": {"weekdays": "08:00-12:00", "weekend": "closed"},
        "queues": {"general": {
            "aht_s": 300, "patience_s": 1800,
            "calls_per_hour": {"weekdays": {"08:00-12:00": 70}, "weekend": [0] * 24,
                               "mon": {"08:00-10:00": 2, "10:00-12:00": 70}},
            "agents": {"weekdays": {"08:00-12:00": 8}, "weekend": [0] * 24,
                       "mon": {"08:00-10:00": 1, "10:00-12:00": 8}},
        }},
    }
    return Centre(traffic.parse(tree))


def test_advice_makes_room_for_the_callers_it_redirects():
    centre = _capacity_centre()
    sunday = shanghai(2026, 11, 22, 12, 0)
    alone = centre.advise("general", sunday, redirect_calls=0)
    assert alone.windows[0].start == shanghai(2026, 11, 23, 8, 0)
    crowd = centre.advise("general", sunday, redirect_calls=60)
    starts = [w.start for w in crowd.windows]
    assert shanghai(2026, 11, 23, 8, 0) not in starts
    assert len(set(starts)) == 3
    base = {w.start: w.expected_wait_s for w in centre.advise("general", sunday, n=10,
                                                              redirect_calls=0).windows}
    # Each window is judged with its share of the redirected callers added.
    assert all(w.expected_wait_s > base[w.start] for w in crowd.windows)


def test_times_are_in_the_centres_zone_whatever_the_input(centre):
    naive_utc = datetime(2026, 11, 25, 4, 30)
    in_london = datetime(2026, 11, 25, 4, 30, tzinfo=ZoneInfo("Europe/London"))
    for at in (naive_utc, in_london, WED_1230):
        advice = centre.advise("general", at)
        assert advice.at == WED_1230 and advice.at.tzinfo == SHANGHAI
        assert all(w.start.tzinfo == SHANGHAI for w in advice.windows)
    assert centre.expected_wait_s("general", naive_utc) == \
        centre.expected_wait_s("general", WED_1230)


def test_live_estimate_from_callers_ahead(centre):
    q = centre.traffic.queues["general"]
    agents = q.agents[2][12]
    for ahead in (0, 5, 40):
        assert centre.expected_wait_s("general", WED_1230, callers_ahead=ahead) == \
            live_wait_s(ahead, agents, q.aht_s, q.patience_s)
    assert centre.expected_wait_s("general", WED_1230, callers_ahead=40) < 41 * q.aht_s / agents
    closed = shanghai(2026, 11, 25, 23, 0)
    assert centre.expected_wait_s("general", closed, callers_ahead=3) == math.inf
    assert centre.expected_wait_s("general", closed) == math.inf


def test_opening_hours_and_next_open(centre):
    assert centre.is_open("general", WED_0930)
    assert not centre.is_open("general", shanghai(2026, 11, 25, 7, 59))
    assert centre.is_open("fraud", shanghai(2026, 11, 25, 3, 0))
    assert centre.next_open("general", WED_0930) == WED_0930
    assert centre.next_open("general", shanghai(2026, 11, 25, 22, 0)) == \
        shanghai(2026, 11, 26, 8, 0)
    assert centre.next_open("complaints", shanghai(2026, 11, 27, 18, 30)) == \
        shanghai(2026, 11, 30, 9, 0)  # Friday evening -> Monday
    hours = centre.opening_hours("complaints")
    assert dict(hours.days)["sat"] == () and dict(hours.days)["mon"] == ((9, 18),)
    assert hours.describe() == ("Monday–Friday 09:00–18:00; Saturday–Sunday closed; "
                                "public holidays closed")
    assert centre.opening_hours("fraud").describe() == "24 hours, every day"


def test_public_holidays_run_as_configured(centre):
    # National Day 2025 runs like a Sunday, open 09-18; its make-up Sunday like a Monday.
    national_day = shanghai(2025, 10, 1, 8, 30)
    assert not centre.is_open("general", national_day)
    assert centre.next_open("general", national_day) == shanghai(2025, 10, 1, 9, 0)
    sunday = shanghai(2025, 10, 12, 10, 0)
    assert centre.expected_wait_s("general", shanghai(2025, 10, 1, 10, 0)) == \
        centre.expected_wait_s("general", sunday)
    make_up = shanghai(2025, 9, 28, 8, 30)  # a Sunday
    assert centre.is_open("general", make_up)
    assert centre.expected_wait_s("general", make_up) == \
        centre.expected_wait_s("general", shanghai(2025, 9, 29, 8, 30))


def test_holidays_close_the_line_when_the_file_says_so():
    centre = Centre.load(DATA / "traffic_holidays_closed.yaml")
    national_day = shanghai(2026, 10, 1, 10, 0)
    assert not centre.is_open("general", national_day)
    assert centre.is_open("fraud", national_day)  # 24 hours, holidays included
    # The 2026 break: holidays on 1-3 and 5-7 October; Sunday the 4th is an ordinary
    # Sunday inside it and keeps its weekend hours.
    assert centre.next_open("general", national_day) == shanghai(2026, 10, 4, 9, 0)
    assert centre.next_open("general", shanghai(2026, 10, 5, 10, 0)) == \
        shanghai(2026, 10, 8, 8, 0)
    advice = centre.advise("general", shanghai(2026, 9, 30, 21, 30))
    holidays = {1, 2, 3, 5, 6, 7}
    assert advice.windows
    assert not [w for w in advice.windows if w.start.month == 10 and w.start.day in holidays]
    assert centre.expected_wait_s("general", national_day) == math.inf
    # The Saturday worked in exchange (10 October) follows Friday's forecast (workday_as).
    assert centre.expected_wait_s("general", shanghai(2026, 10, 10, 10, 0)) == \
        centre.expected_wait_s("general", shanghai(2026, 10, 9, 10, 0))
    # Company day off from the overrides.
    assert not centre.is_open("general", shanghai(2026, 6, 1, 10, 0))


def test_advice_is_less_certain_beyond_the_decreed_calendar(centre):
    assert centre.advise("general", WED_0930).certain
    assert not centre.advise("general", shanghai(2026, 12, 28, 10, 0)).certain
    assert not centre.advise("general", shanghai(2027, 3, 3, 10, 0)).certain


def test_daylight_saving_days_have_23_and_25_hours():
    centre = Centre.load(DATA / "traffic_new_york.yaml")
    spring = list(centre.slots("fraud", datetime(2025, 3, 9, tzinfo=NEW_YORK),
                               datetime(2025, 3, 10, tzinfo=NEW_YORK)))
    assert len(spring) == 23 and 2 not in [s.start.hour for s in spring]
    autumn = list(centre.slots("fraud", datetime(2025, 11, 2, tzinfo=NEW_YORK),
                               datetime(2025, 11, 3, tzinfo=NEW_YORK)))
    assert len(autumn) == 25
    assert [s.start.utcoffset() for s in autumn if s.start.hour == 1] == \
        [timedelta(hours=-4), timedelta(hours=-5)]


def test_opening_hours_follow_the_local_clock_across_dst():
    centre = Centre.load(DATA / "traffic_new_york.yaml")
    # 12:00 UTC is 07:00 before the change (closed) and 08:00 after it (open).
    assert not centre.is_open("general", datetime(2025, 3, 7, 12, 0, tzinfo=UTC))
    assert centre.is_open("general", datetime(2025, 3, 10, 12, 0, tzinfo=UTC))
    opens = centre.next_open("general", datetime(2025, 3, 8, 22, 0, tzinfo=NEW_YORK))
    assert opens == datetime(2025, 3, 9, 10, 0, tzinfo=NEW_YORK)
    assert opens.utcoffset() == timedelta(hours=-4)
    advice = centre.advise("general", datetime(2025, 3, 7, 21, 0, tzinfo=NEW_YORK))
    assert advice.at.utcoffset() == timedelta(hours=-5)
    for window in advice.windows:
        assert window.start.minute == 0 and window.start.utcoffset() == timedelta(hours=-4)
        assert window.start.weekday() < 5
    autumn = centre.advise("general", datetime(2025, 11, 1, 17, 0, tzinfo=NEW_YORK))
    assert autumn.windows[0].start == datetime(2025, 11, 3, 8, 0, tzinfo=NEW_YORK)
    assert autumn.windows[0].start.utcoffset() == timedelta(hours=-5)


def test_us_holiday_closes_the_new_york_line():
    centre = Centre.load(DATA / "traffic_new_york.yaml")
    july_4 = datetime(2025, 7, 4, 10, 0, tzinfo=NEW_YORK)
    assert not centre.is_open("general", july_4)
    assert centre.is_open("fraud", july_4)
    assert centre.next_open("general", july_4) == datetime(2025, 7, 5, 10, 0, tzinfo=NEW_YORK)
    advice = centre.advise("general", datetime(2025, 7, 3, 21, 0, tzinfo=NEW_YORK))
    assert advice.certain
    assert all(w.start.date() != july_4.date() for w in advice.windows)


def test_unknown_queue(centre):
    with pytest.raises(ConfigError, match="no queue 'refunds'"):
        centre.expected_wait_s("refunds", WED_0930)


@pytest.mark.parametrize(
    ("wait_s", "said"),
    [(0, "under a minute"), (50, "about 1 minute"), (61 * 20, "about 20 minutes"),
     (3600, "about 1 hour"), (2 * 3600 + 600, "about 2 hours 10 minutes"),
     (math.inf, "no answer expected")],
)
def test_waits_in_words(wait_s, said):
    assert describe_wait(wait_s) == said


def test_window_in_words_and_json():
    window = Window(shanghai(2026, 12, 1, 9, 0), shanghai(2026, 12, 1, 11, 0), 62.0)
    assert window.describe() == "Tuesday 1 December 09:00–11:00, about 1 minute"
    assert window.as_dict() == {"start": "2026-12-01T09:00:00+08:00",
                                "end": "2026-12-01T11:00:00+08:00", "expected_wait_s": 62.0}


def test_typical_week_and_plot(centre, tmp_path):
    week = centre.typical_week("complaints")
    assert len(week) == 7 and all(len(row) == 24 for row in week)
    assert week[5] == (None,) * 24 and week[0][10] is not None
    out = plot_week(centre, "payments", tmp_path / "week.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
