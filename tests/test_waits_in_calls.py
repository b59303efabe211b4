"""The queue model in the call: waits stated, callbacks offered and kept, advice spoken."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Caller
from freezegun import freeze_time

from ivr import create_app
from ivr.cli import cli

pytestmark = pytest.mark.both_backends

SHIPPED_TRAFFIC = Path(__file__).parent.parent / "ivr" / "data" / "traffic.yaml"


def call_at(moment: str, settings, keys=("2", "0"), from_number="+8613700000000"):
    with freeze_time(moment):
        app = create_app(settings)
        call = Caller(app.test_client(), from_number)
        call.start()
        call.keys(*keys)
        return app, call


WEDNESDAY_LUNCH = "2026-11-25 04:30:00"   # 12:30 in Shanghai
SATURDAY_MORNING = "2026-11-28 02:00:00"  # 10:00 in Shanghai
WEDNESDAY_MORNING = "2026-11-25 01:30:00"  # 09:30 in Shanghai


def stated_wait(call: Caller) -> str:
    return next(t for t in call.heard if t.startswith("The expected wait is"))


def test_the_same_call_at_three_moments_hears_three_different_answers(settings):
    _, lunch = call_at(WEDNESDAY_LUNCH, settings, keys=("2", "0", "2"))
    _, saturday = call_at(SATURDAY_MORNING, settings, keys=("2", "0", "2"))
    _, morning = call_at(WEDNESDAY_MORNING, settings)
    # peaks: a wait above the 20-minute threshold and the offer, no queue yet
    for peak in (lunch, saturday):
        assert peak.queue is None
        assert peak.said("For a callback, press 1. To hear the best times to call, press 2")
        minutes = int(stated_wait(peak).split("about ")[1].split(" ")[0])
        assert minutes > 20
    def advice(call: Caller) -> str:
        return next(t for t in call.heard if t.startswith("The best times to call are"))

    assert advice(lunch) != advice(saturday)  # Wednesday lunch: later today; Saturday: Monday
    assert "today" in advice(lunch) and "Monday" in advice(saturday)
    # a quiet weekday morning: a short wait, straight into the queue
    assert morning.queue == "general"
    assert stated_wait(morning) == "The expected wait is under a minute."
    assert not morning.said("For a callback, press 1")


def test_best_times_are_spoken_from_the_model_in_the_centre_timezone(settings):
    with freeze_time(WEDNESDAY_LUNCH):
        app = create_app(settings)
        call = Caller(app.test_client())
        call.start()
        call.keys("2", "0", "2")
        best = next(t for t in call.heard if t.startswith("The best times to call are"))
        advice = app.extensions["ivr"].centre.advise("general", app.extensions["ivr"].now())
        first = advice.windows[0]
        assert f"today, {first.start.hour - 12} p.m. to" in best
        assert "noon to" not in best and "1 p.m. to" not in best  # not at lunch
        assert not any(day in best for day in ("Saturday", "Sunday"))
        call.press("3")  # keep waiting
        assert call.queue == "general"


def test_choosing_the_callback_stores_it_and_ivr_callbacks_lists_it(settings):
    keys = ("2", "1", "2", "10000003#", "112233", "1", "20261120", "35#")
    app, call = call_at(WEDNESDAY_LUNCH, settings, keys=keys)
    # a verified caller whose payment failed, at the lunch peak
    assert call.said("For a callback, press 1")
    with freeze_time(WEDNESDAY_LUNCH):
        call.press("1")
    assert call.said("We will call you back")
    assert call.root.find("Hangup") is not None
    result = CliRunner().invoke(cli, ["callbacks", "--database", settings["DATABASE"]],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert "payments" in result.output and "+8613700000000" in result.output
    assert "account ****0003" in result.output and " payment" in result.output
    assert "1 pending" in result.output


def test_callbacks_are_listed_earliest_window_first(settings):
    call_at(WEDNESDAY_LUNCH, settings, keys=("2", "0", "1"))
    call_at(SATURDAY_MORNING, settings, keys=("2", "0", "1"), from_number="+8613711111111")
    call_at(WEDNESDAY_LUNCH, settings, keys=("2", "0", "1"), from_number="+8613722222222")
    result = CliRunner().invoke(cli, ["callbacks", "--database", settings["DATABASE"],
                                      "--json"], catch_exceptions=False)
    import json

    rows = [json.loads(line) for line in result.output.splitlines()]
    starts = [r["window_start"] for r in rows]
    assert starts == sorted(starts) and len(rows) == 3
    assert rows[-1]["number"] == "+8613711111111"


def test_outside_service_hours_the_caller_hears_hours_and_windows_and_may_ask_a_callback(
        settings):
    night = "2026-11-25 16:00:00"  # Thursday 00:00 in Shanghai
    app, call = call_at(night, settings)
    assert call.said("This line is closed now. It opens again today at 8 a.m., and its hours are "
                     "Monday to Friday, 8 a.m. to 10 p.m.")
    assert call.said("The best times to call are")
    with freeze_time(night):
        call.press("1")
    assert call.said("We will call you back")
    assert len(app.extensions["ivr"].store.pending_callbacks()) == 1


def test_the_fraud_line_is_open_all_night(settings):
    # an unverified caller at midnight: three failed tries, still the fraud queue
    _, call = call_at("2026-11-25 16:00:00", settings,
                      keys=("2", "3", "10000009#", "000000", "10000009#", "000000",
                            "10000009#", "000000"))
    assert call.queue == "fraud"
    assert not call.said("closed now")


def test_holding_callers_hear_their_place_and_can_leave_for_a_callback(settings):
    with freeze_time(WEDNESDAY_MORNING) as clock:
        app = create_app(settings)
        call = Caller(app.test_client())
        call.start()
        call.keys("2", "0")
        enqueue = call.root.find("Enqueue")
        call.post(enqueue.get("waitUrl"), QueuePosition="6", QueueTime="0", AvgQueueTime="0",
                  CurrentQueueSize="9")
        six = next(t for t in call.heard if t.startswith("Callers ahead of you: 5."))
        clock.tick(60)
        call.post(enqueue.get("waitUrl"), QueuePosition="2", QueueTime="60")
        two = next(t for t in call.heard if t.startswith("Callers ahead of you: 1."))
        assert six != two
        call.post(enqueue.get("waitUrl"), QueuePosition="1", QueueTime="90")
        assert call.heard[-2].startswith("You are next in line. The expected wait is")
        assert call.heard[-1] == "To leave the queue and get a callback, press 1 at any time."
        assert call.root.find("Gather").find("Play") is not None \
            or call.root.find("Gather").find("Pause") is not None  # hold audio between
        call.post(call.action, Digits="1")
        assert call.root.find("Leave") is not None
        call.post(enqueue.get("action"), QueueResult="leave", QueueTime="75")
        assert call.said("We will call you back")
        callbacks = app.extensions["ivr"].store.pending_callbacks()
        assert [c["queue"] for c in callbacks] == ["general"]


def test_a_holiday_closes_the_line_as_configured(settings, tmp_path):
    traffic = tmp_path / "traffic.yaml"
    text = SHIPPED_TRAFFIC.read_text(encoding="utf-8")
    traffic.write_text(text.replace('holiday: "09:00-18:00"', "holiday: closed"), "utf-8")
    settings = {**settings, "TRAFFIC": str(traffic)}
    _, national_day = call_at("2026-10-01 02:00:00", settings)  # 10:00, National Day
    assert national_day.said("closed now")
    _, normal_day = call_at("2026-10-14 02:00:00", settings)  # a Wednesday, 10:00
    assert not normal_day.said("closed now")


def test_caller_facing_times_are_in_the_centre_timezone_across_dst(settings, tmp_path):
    traffic = tmp_path / "traffic.yaml"
    text = SHIPPED_TRAFFIC.read_text(encoding="utf-8")
    traffic.write_text(text.replace("timezone: Asia/Shanghai", "timezone: America/New_York")
                       .replace("country: CN", "country: US"), "utf-8")
    settings = {**settings, "TRAFFIC": str(traffic)}
    # Saturday night 7 March 2026 23:30 in New York; clocks go forward at 02:00 Sunday
    _, call = call_at("2026-03-08 04:30:00", settings)
    assert call.said("It opens again tomorrow at 9 a.m.")
    _, autumn = call_at("2026-11-01 04:30:00", settings)  # 00:30 EDT, the night they fall back
    assert autumn.said("It opens again today at 9 a.m.")


def test_forecast_reads_the_calls_the_app_recorded(settings, tmp_path):
    from ivr.queue import traffic

    for day in ("2026-11-16", "2026-11-23"):  # two Mondays, 10:xx in Shanghai
        for minute in range(3):
            call_at(f"{day} 02:{minute:02d}:00", settings, keys=("2", "0"),
                    from_number=f"+861370000{minute:04d}")
    out = tmp_path / "forecast.yaml"
    result = CliRunner().invoke(cli, ["forecast", "--db", settings["DATABASE"], "--weeks", "2",
                                      "--now", "2026-11-29T00:00", "-o", str(out)])
    assert result.exit_code == 0, result.output
    week = traffic.load(out)
    assert week.queues["general"].calls_per_hour[0][10] == 3.0  # 6 calls over 2 Mondays
    assert week.queues["general"].calls_per_hour[1][10] == 0.0
