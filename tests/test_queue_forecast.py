"""Forecast calls per hour from the calls actually recorded."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import Caller

from ivr import cli
from ivr.errors import StoreError
from ivr.queue import forecast as forecast_module
from ivr.queue import traffic
from ivr.queue.forecast import Timed, forecast, forecast_from_db, learn_times, small_samples

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
    with pytest.raises(StoreError, match=r"is not an ivr database \(it has no tables\)"):
        forecast_from_db(empty, weeks=1, now=NOW)


# ---- handle time and patience, learnt from the calls agents answered -------------------

def test_patience_is_the_censored_exponential_fit(monkeypatch):
    """Waits of callers who hung up are patiences seen; answered waits are only shorter
    than the caller's patience: the estimate is all the waiting over the hang-ups."""
    monkeypatch.setattr(forecast_module, "MIN_TIMED_CALLS", 4)
    at = NOW - timedelta(days=1)
    timed = [Timed("general", at, 60, talk_s=200), Timed("general", at, 120, talk_s=300),
             Timed("general", at, 30, talk_s=100), Timed("general", at, 90, abandoned=True),
             Timed("general", at, 300, abandoned=True)]
    queues = traffic.read_raw()["queues"]
    learned, kept = learn_times(timed, queues)
    assert learned["general"] == {"answered": 3, "waits": 5, "hung_up_waiting": 2,
                                  "patience_s": 300.0}  # (60+120+30+90+300) / 2
    assert "general: handle time kept at 240 s (3 answered calls with a talk time, 4 needed)" \
        in kept
    learned, kept = learn_times(timed + [Timed("general", at, 5, talk_s=400)], queues)
    assert learned["general"]["aht_s"] == 250.0 and not [k for k in kept if "general" in k]
    learned, kept = learn_times([t for t in timed if not t.abandoned] * 2, queues)
    assert "patience_s" not in learned["general"]
    assert "general: patience kept at 1800 s (no caller hung up waiting)" in kept


def test_too_few_timed_calls_keep_the_files_figures(caplog):
    at = NOW - timedelta(days=1)
    tree = forecast([("general", at)], weeks=1, now=NOW,
                    timed=[Timed("general", at, 30, talk_s=100)])
    base = traffic.read_raw()["queues"]["general"]
    assert tree["queues"]["general"]["aht_s"] == base["aht_s"]
    assert tree["forecast"]["learned"]["general"]["answered"] == 1
    assert "general: handle time kept at 240 s" in caplog.text
    # a timed call outside the period does not count
    tree = forecast([("general", at)], weeks=1, now=NOW,
                    timed=[Timed("general", NOW - timedelta(weeks=2), 30, talk_s=100)])
    assert "learned" not in tree["forecast"]


def _queued(client, from_number: str) -> tuple[Caller, str]:
    """A caller in ``general`` (English, an agent), and their Enqueue action."""
    c = Caller(client, from_number)
    c.start()
    c.keys("2", "0")
    return c, c.root.find("Enqueue").get("action")


def test_forecast_learns_from_calls_answered_through_the_agents_end(app, client, clock,
                                                                     runner, monkeypatch,
                                                                     caplog):
    """Callers queue, agents take some (through /agent/voice and the Queue url), others hang
    up waiting; ``ivr forecast --db`` then learns the handle time and the patience."""
    monkeypatch.setattr(forecast_module, "MIN_TIMED_CALLS", 4)
    app.extensions["ivr"].users.add("wang", "a long password", "agent", datetime.now(UTC),
                                    queues=("general",), phone="+8613900000001")
    answered = [(40, 200), (80, 260), (20, 140), (60, 200)]  # (wait, talk)
    for n, (wait, talk) in enumerate(answered):
        caller, action = _queued(client, f"+86137000001{n:02d}")
        clock.tick(wait)
        agent = Caller(client, "+8613900000001")
        dial = agent.post("/agent/voice").find("Dial")
        caller.post(dial.find("Queue").get("url"), QueueSid="QU1", QueueTime=str(wait),
                    DequeingCallSid=agent.sid)
        clock.tick(talk)
        caller.post(action, QueueResult="bridged", QueueTime=str(wait))
        agent.post(dial.get("action"), DialCallStatus="completed", DialCallDuration=str(talk))
        caller.send("/voice/status", CallStatus="completed", CallDuration=str(wait + talk))
    for n, wait in enumerate((100, 300)):
        caller, action = _queued(client, f"+86137000002{n:02d}")
        clock.tick(wait)
        caller.post(action, QueueResult="hangup", QueueTime=str(wait))
        caller.send("/voice/status", CallStatus="completed", CallDuration=str(wait + 60))
    result = runner.invoke(cli.cli, ["forecast", "--db", app.config["DATABASE"], "--weeks", "1",
                                     "--now", "2026-11-25T18:00+08:00"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    tree = yaml.safe_load(result.stdout)
    general = tree["queues"]["general"]
    assert general["aht_s"] == 200.0  # (200+260+140+200) / 4
    assert general["patience_s"] == 300.0  # (40+80+20+60 + 100+300) / 2 hang-ups
    assert tree["forecast"]["learned"]["general"] == {
        "answered": 4, "waits": 6, "hung_up_waiting": 2, "aht_s": 200.0, "patience_s": 300.0}
    base = traffic.read_raw()["queues"]["payments"]
    assert tree["queues"]["payments"]["aht_s"] == base["aht_s"]
    # said on stderr (``ivr``'s logging; pytest keeps the records here)
    assert "\n  payments: handle time kept at 300 s (0 answered calls" in caplog.text
    assert traffic.parse(tree).queues["general"].aht_s == 200.0
