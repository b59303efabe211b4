"""Forecast calls per hour from the calls actually recorded."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ivr.errors import StoreError
from ivr.queue import traffic
from ivr.queue.forecast import forecast, forecast_from_db, small_samples

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 0, 20, tzinfo=SHANGHAI)  # a Monday, just after midnight
WED = 2


def weekly_calls(queue: str, weekday: int, hour: int, per_week: list[int], now=NOW):
    """``per_week[i]`` calls in that hour of the week, i weeks back (0 = last week)."""
    monday = now.replace(hour=0, minute=0) - timedelta(weeks=1)
    calls = []
    for back, count in enumerate(per_week):
        start = monday - timedelta(weeks=back) + timedelta(days=weekday, hours=hour)
        calls += [(queue, start + timedelta(minutes=5 * i)) for i in range(count)]
    return calls


def test_hour_of_week_averages_over_the_weeks():
    calls = weekly_calls("payments", WED, 12, [3, 3, 3, 7])
    calls += weekly_calls("general", 0, 9, [2, 2, 2, 2])
    tree = forecast(calls, weeks=4, now=NOW)
    payments = tree["queues"]["payments"]["calls_per_hour"]
    assert payments["wed"][12] == 4.0
    assert sum(sum(row) for row in payments.values()) == 4.0
    assert tree["queues"]["general"]["calls_per_hour"]["mon"][9] == 2.0
    assert tree["queues"]["fraud"]["calls_per_hour"]["sun"] == [0.0] * 24
    assert tree["forecast"] == {"from": "2026-10-26T00:20:00+08:00",
                                "until": "2026-11-23T00:20:00+08:00", "weeks": 4, "calls": 24,
                                "calls_per_queue": {"payments": 16, "account-security": 0,
                                                    "fraud": 0, "complaints": 0, "general": 8}}


def test_staffing_hours_and_calendar_are_kept():
    base = traffic.read_raw()
    tree = forecast(weekly_calls("general", 0, 9, [1]), weeks=1, now=NOW, base=base)
    for key in ("timezone", "calendar", "service_hours", "profiles"):
        assert tree[key] == base[key]
    for name, queue in base["queues"].items():
        assert tree["queues"][name]["agents"] == queue["agents"]
        assert tree["queues"][name]["aht_s"] == queue["aht_s"]
    assert base["queues"]["general"]["calls_per_hour"]["weekdays"]["profile"] == "weekday"
    week = traffic.parse(tree)
    assert week.queues["general"].agents == traffic.parse(base).queues["general"].agents


def test_only_the_last_n_whole_weeks_count():
    calls = weekly_calls("payments", WED, 12, [4, 4, 100])  # 3 weeks back: outside
    calls.append(("payments", NOW - timedelta(minutes=10)))  # the hour in progress
    tree = forecast(calls, weeks=2, now=NOW)
    assert tree["queues"]["payments"]["calls_per_hour"]["wed"][12] == 4.0


def test_the_period_ends_now_so_a_call_a_minute_ago_counts():
    # Monday 10:25: the hour in progress has been seen for 25 minutes this week and for
    # the other 35 at the start of the period, one week back: an hour in all.
    now = datetime(2026, 11, 23, 10, 25, tzinfo=SHANGHAI)
    tree = forecast([("general", now - timedelta(minutes=1))], weeks=1, now=now)
    assert tree["queues"]["general"]["calls_per_hour"]["mon"][10] == 1.0
    assert tree["forecast"]["until"] == "2026-11-23T10:25:00+08:00"
    # and nothing after now, nor before the period, counts
    with pytest.raises(ValueError, match="no calls recorded"):
        forecast([("general", now + timedelta(minutes=1)),
                  ("general", now - timedelta(weeks=1, minutes=1))], weeks=1, now=now)


def test_small_samples_are_named_per_queue():
    few = forecast(weekly_calls("payments", WED, 12, [3, 3]), weeks=2, now=NOW)
    warnings = small_samples(few)
    assert [w.split(":")[0] for w in warnings] == list(few["queues"])  # every queue
    assert warnings[0].startswith("payments: 6 calls in 2 weeks, ")
    busy = [("payments", NOW - timedelta(minutes=1 + i % 10000)) for i in range(20000)]
    assert not [w for w in small_samples(forecast(busy, weeks=1, now=NOW))
                if w.startswith("payments")]


def test_naive_times_are_utc_and_unknown_queues_are_skipped(caplog):
    # 04:10 UTC is 12:10 in Shanghai.
    wednesday = datetime(2026, 11, 18, 4, 10)
    tree = forecast([("payments", wednesday), ("refunds", wednesday)], weeks=1, now=NOW)
    assert tree["queues"]["payments"]["calls_per_hour"]["wed"][12] == 1.0
    assert "refunds" in caplog.text


def test_holidays_and_make_up_days_are_left_out():
    # Two weeks to Monday 12 October 2026: 1-3 and 5-7 October were holidays, Saturday
    # the 10th a make-up working day; none of them is an ordinary day of the week.
    now = datetime(2026, 10, 12, 0, 0, tzinfo=SHANGHAI)
    thursday_1 = datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI)
    thursday_8 = datetime(2026, 10, 8, 10, 0, tzinfo=SHANGHAI)
    saturday_10 = datetime(2026, 10, 10, 10, 0, tzinfo=SHANGHAI)
    calls = [("general", thursday_1)] * 50 + [("general", thursday_8)] * 6
    calls += [("general", saturday_10)] * 40
    rows = forecast(calls, weeks=2, now=now)["queues"]["general"]["calls_per_hour"]
    assert rows["thu"][10] == 6.0  # only the 8th counts
    # No ordinary Saturday in the period (the 3rd a holiday, the 10th a make-up day):
    # the old forecast stands.
    base = traffic.load().queues["general"].calls_per_hour[5][10]
    assert rows["sat"][10] == base


def test_no_calls_is_an_error():
    with pytest.raises(ValueError, match="no calls recorded"):
        forecast([], weeks=4, now=NOW)
    with pytest.raises(ValueError, match="weeks"):
        forecast(weekly_calls("general", 0, 9, [1]), weeks=0, now=NOW)


def make_db(path, rows):
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE calls (call_sid TEXT PRIMARY KEY, started_at TEXT, "
                   "queue TEXT NULL, ended_at TEXT)")
        db.executemany("INSERT INTO calls (call_sid, started_at, queue) VALUES (?, ?, ?)", rows)
    db.close()


def test_forecast_from_the_calls_table(tmp_path):
    calls = weekly_calls("payments", WED, 12, [3, 5]) + weekly_calls("fraud", 6, 3, [1, 1])
    rows = [(f"CA{i:04d}", at.astimezone(UTC).isoformat().replace("+00:00", "Z"), queue)
            for i, (queue, at) in enumerate(calls)]
    rows += [("CAnull", "2026-11-18T04:00:00+00:00", None), ("CAbad", "yesterday", "general")]
    db_path = tmp_path / "ivr.db"
    make_db(db_path, rows)
    tree = forecast_from_db(db_path, weeks=2, now=NOW)
    assert tree == forecast(calls, weeks=2, now=NOW)
    assert tree["queues"]["payments"]["calls_per_hour"]["wed"][12] == 4.0
    assert tree["queues"]["fraud"]["calls_per_hour"]["sun"][3] == 1.0


def test_unreadable_database(tmp_path):
    with pytest.raises(StoreError, match="cannot read calls"):
        forecast_from_db(tmp_path / "missing.db", weeks=1, now=NOW)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(StoreError, match="no such table"):
        forecast_from_db(empty, weeks=1, now=NOW)
