"""What a caller hears, held against issue 9: the language menu in two voices, one wait
estimate from arrival to the wait loop, a failed verification that keeps the topic, a
team closed while others are open, hand-offs said once, ways out at the account and PIN
prompts and after an unknown ticket, Twilio's queue results, the recording status callback
and the number's fallback URL. Each test failed on the code before it, but the one marked as
a guard of what that code already did right."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from conftest import Caller, sign
from programs import needs_espeak

from ivr.errors import StoreError
from ivr.flow import spoken
from ivr.records.store import Store

pytestmark = pytest.mark.both_backends

STRANGER = "+8613700000000"
VERIFY = ("10000001#", "246810")
SATURDAY_MORNING = "2026-11-28 02:00:00"  # 10:00 in Shanghai: long waits, complaints closed


def hotline(app):
    return app.extensions["ivr"]


def text(app, key, lang="en-US", **values):
    return hotline(app).catalog.text(lang, key, **values)


def says(root):
    return [(say.text, say.get("voice"), say.get("language")) for say in root.iter("Say")]


# -- 7. the language menu: each language's words in its own voice --------------------------------
def test_the_language_menu_says_each_language_in_its_own_voice(app, caller):
    call = caller()
    root = call.start()
    voices = app.config["VOICES"]
    heard = says(root.find("Gather"))
    zh = ("普通话请按1。", voices["zh-CN"]["voice"], voices["zh-CN"]["language"])
    en = ("For English, press 2.", voices["en-US"]["voice"], voices["en-US"]["language"])
    assert heard[-2:] == [zh, en]
    call.press("7")  # a wrong key: the apology in both voices too, then the menu again
    again = says(call.root.find("Gather"))
    assert [voice for _, voice, _ in again] == [voices["zh-CN"]["voice"],
                                                voices["en-US"]["voice"]] * 2
    call.press("2")
    menu = says(call.root.find("Gather"))
    # the main menu takes speech: its invitation first, then the menu's first option
    assert [words for words, _, _ in menu[:2]] == [
        "Say what you are calling about, or press a key.",
        "For top-up, payment, withdrawal or refund,"]
    assert {voice for _, voice, _ in menu} == {voices["en-US"]["voice"]}


@needs_espeak
def test_the_built_audio_plays_each_language_s_line_from_its_own_file(settings, clock,
                                                                       tmp_path):
    from click.testing import CliRunner

    from ivr import create_app
    from ivr.cli import cli

    prompts = tmp_path / "prompts"  # only the language menu, as the shipped catalog has it
    prompts.mkdir()
    for lang in ("zh-CN", "en-US"):
        line = create_app(settings).extensions["ivr"].catalog.text(lang, "language_menu")
        (prompts / f"{lang}.yaml").write_text(f"language_menu: {line}\n", "utf-8")
    built = CliRunner().invoke(cli, ["audio", "build", "--audio-dir", str(tmp_path / "audio"),
                                     "--prompts", str(prompts)], catch_exceptions=False)
    assert built.exit_code == 0, built.output
    app = create_app({**settings, "AUDIO_DIR": str(tmp_path / "audio")})
    root = Caller(app.test_client()).start()
    played = [urlsplit(e.text).path for e in root.find("Gather").iter("Play")]
    assert played == ["/audio/zh-CN/language_menu.wav", "/audio/en-US/language_menu.wav"]


# -- 10. one wait estimate, from arrival to the wait loop ------------------------------------------
class Model:
    """A queue model with fixed answers: the forecast, and 60 s per caller ahead and one."""

    def __init__(self, forecast_s):
        self.forecast_s = forecast_s

    def expected_wait_s(self, queue, at, callers_ahead=None):
        return self.forecast_s if callers_ahead is None else 60.0 * (callers_ahead + 1)


NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def test_the_estimate_starts_from_what_was_told_and_follows_the_live_queue():
    from ivr.flow.call import LiveQueue
    from ivr.flow.caller import estimate_wait

    model = Model(1620.0)
    told = estimate_wait(model, "general", NOW)
    assert told.seconds == 1620.0 and not told.by_queue
    # seconds later, alone at the head of the queue: still what the caller was told
    first = estimate_wait(model, "general", NOW, LiveQueue(1, 5, 5, 1), told.seconds)
    assert first.seconds == pytest.approx(1615, abs=5) and not first.by_queue
    # as the caller holds on, the live queue takes over: no more than was told, going down
    # while the told wait lasts, then near the live queue's pace
    waits = [estimate_wait(model, "general", NOW, LiveQueue(1, t, t, 1), 1620.0).seconds
             for t in range(0, 3600, 60)]
    assert max(waits) == 1620.0
    assert waits[:28] == sorted(waits[:28], reverse=True)
    assert all(w < 120 for w in waits[27:])
    # a queue that has been there a while (its callers' average wait) is believed sooner
    settled = estimate_wait(model, "general", NOW, LiveQueue(1, 0, 3000, 9), 1620.0)
    assert settled.seconds < 800 and not settled.by_queue
    # and the place in the queue is said once the wait is near the one it implies
    assert estimate_wait(model, "general", NOW, LiveQueue(1, 30, 30, 1), 20.0).by_queue
    # more callers ahead than the told wait allows: said at once, with the place
    crowded = estimate_wait(model, "general", NOW, LiveQueue(31, 0, 0, 31), 40.0)
    assert crowded.seconds == 60.0 * 31 and crowded.by_queue
    # a forecast that cannot be estimated gives way to the live queue
    assert estimate_wait(model, "general", NOW, LiveQueue(3, 0, 0, 3), math.inf).seconds == 180


def minutes(said: str) -> str:
    return said.split("The expected wait is ")[1].split(".")[0]


def holding(call) -> str:
    """What the wait loop said of the wait, before its callback offer."""
    assert call.heard[-1] == "To leave the queue and get a callback, press 1 at any time."
    return call.heard[-2]


def test_the_wait_said_in_the_queue_agrees_with_the_wait_said_on_arrival(app, caller, clock):
    clock.move_to(SATURDAY_MORNING)
    call = caller()
    call.start()
    call.keys("2", "0")
    arrival = next(t for t in call.heard if t.startswith("The expected wait is"))
    assert "about 2" in arrival  # the weekend peak: well over 20 minutes
    call.press("3")  # keep waiting
    enqueue = call.root.find("Enqueue")
    clock.tick(10)
    call.post(enqueue.get("waitUrl"), QueuePosition="1", QueueTime="10", AvgQueueTime="10",
              CurrentQueueSize="1")
    told, held = (int(minutes(said).split()[1]) for said in (arrival, holding(call)))
    assert told - 1 <= held <= told  # not "about 1 minute" after "about 27 minutes"
    assert not call.said("You are next in line")  # nor "next in line ... 27 minutes"


def test_the_fraud_line_does_not_say_under_a_minute_and_then_two_minutes(app, caller, clock):
    clock.move_to(SATURDAY_MORNING)
    call = caller("+8613800138000")  # the demo account's phone
    call.start()
    call.keys("2", "3", "1", "246810", "2")  # verified, straight to the fraud team
    assert call.queue == "fraud"
    arrival = next(t for t in call.heard if t.startswith("The expected wait is"))
    call.post(call.root.find("Enqueue").get("waitUrl"), QueuePosition="1", QueueTime="0")
    assert minutes(holding(call)) == minutes(arrival)


def test_a_longer_live_queue_than_forecast_is_said_at_once_with_the_place(app, caller):
    """A guard: the old code said this right, and the one estimate must keep it."""
    call = caller()
    call.start()
    call.keys("2", "0")  # a quiet morning: "under a minute"
    assert call.said("The expected wait is under a minute")
    line = hotline(app)
    call.post(call.root.find("Enqueue").get("waitUrl"), QueuePosition="31", QueueTime="5",
              AvgQueueTime="400", CurrentQueueSize="40")
    wait_s = line.centre.expected_wait_s("general", line.now(), callers_ahead=30)
    expected = text(app, "hold_position", ahead=30,
                    wait=spoken.wait(line.catalog, "en-US", wait_s))
    assert holding(call) == expected


# -- 11. a failed verification keeps the topic --------------------------------------------------
def test_a_caller_who_cannot_verify_keeps_the_topic_and_its_queue(app, caller):
    call = caller()
    call.start()
    call.keys("2", "1", "2", "10000009#", "000000", "10000009#", "000000", "10000009#", "000000")
    assert call.said("Sorry, we could not verify your identity")
    assert call.queue == "payments"
    record = hotline(app).store.call(call.sid)
    assert record["issue"] == "payment" and record["queue"] == "payments"
    assert record["verified"] is False and record["details"]["unverified"] is True


def test_silence_at_the_account_prompt_also_keeps_the_topic(app, caller):
    call = caller()
    call.start()
    call.keys("2", "2", "3", "", "", "")  # account and security, new phone: then silence
    assert call.said("Sorry, we could not verify your identity.")
    assert call.queue == "account-security"
    record = hotline(app).store.call(call.sid)
    assert record["issue"] == "change_info" and record["verified"] is False


# -- 12. closed only when the chosen queue is closed --------------------------------------------
def test_at_the_weekend_an_agent_is_open_though_the_complaints_team_is_not(app, caller, clock):
    clock.move_to(SATURDAY_MORNING)
    call = caller()
    call.start()
    call.keys("2", "0")  # 0 for an agent: general is open on Saturdays
    assert not call.said("closed")
    complaint = caller()
    complaint.start()
    complaint.keys("2", "4", "2", "12345678#", "0")  # complaint status, then an agent
    assert not complaint.said("This line is closed")
    assert complaint.said("The team for this question is not available now. They are back "
                          "Monday 30 November at 9 a.m.")
    assert complaint.said("To speak to an agent now, press 2")
    complaint.press("2")
    complaint.press("3")  # the weekend peak's offer: keep waiting
    assert complaint.queue == "general"
    assert hotline(app).store.call(complaint.sid)["issue"] == "complaint_status"


def test_a_withheld_number_at_a_closed_team_is_offered_an_agent_not_a_callback(caller, clock):
    clock.move_to(SATURDAY_MORNING)
    complaint = caller("anonymous")
    complaint.start()
    complaint.keys("2", "4", "2", "12345678#", "0")  # complaint status, then an agent
    assert complaint.said("The team for this question is not available now.")
    assert complaint.heard[-1] == "To speak to an agent now, press 2."
    complaint.press("2")
    # the weekend peak's long wait: the best times or keep waiting, no callback
    assert complaint.heard[-1] == \
        "To hear the best times to call, press 2. To keep waiting, press 3."
    complaint.press("3")
    assert complaint.queue == "general" and not complaint.said("callback")


# -- 13. hand-offs said once; ways out ------------------------------------------------------------
def test_a_hand_off_is_announced_once(app, caller, clock):
    for moment in ("2026-11-25 01:30:00", SATURDAY_MORNING):  # quiet, and with the offer
        clock.move_to(moment)
        call = caller()
        call.start()
        call.keys("1", "", "", "")  # Mandarin, then silence at the main menu
        if call.queue is None:
            call.press("3")
        assert call.queue == "general"
        assert call.said(text(app, "too_many_failures", "zh-CN"))
        assert not call.said(text(app, "queue_general", "zh-CN"))


def test_a_locked_caller_hears_the_hand_off_once(app, caller):
    call = caller("+8613900139000")  # the frozen demo account
    call.start()
    call.keys("2", "2", "1", "1", "135790")
    assert call.said("Your account is currently frozen")
    assert not call.said(text(app, "queue_account"))
    assert call.queue == "account-security"


#: the way out, in words that match the Gather: ``*`` alone does not end it (only ``#``
#: does), so the caller is told to press star, then hash
WAY_OUT = {"en-US": ("If you do not know your account number, press star, then the hash key.",
                     "If you do not know it, press star, then the hash key."),
           "zh-CN": ("如不知道账户号码，请按星号键，再按井号键。",
                     "如忘记密码，请按星号键，再按井号键。")}


@pytest.mark.parametrize(("lang", "key"), [("en-US", "2"), ("zh-CN", "1")])
def test_an_unverified_fraud_caller_has_a_way_out_at_the_account_prompt(app, caller, lang,
                                                                        key):
    call = caller()
    call.start()
    root = call.keys(key, "3")
    assert call.heard[-1] == WAY_OUT[lang][0]
    assert root.find("Gather").get("finishOnKey") == "#"
    requests = len(hotline(app).store.events(call.sid))
    call.press("*")  # star, then hash: Twilio sends the star
    assert call.queue == "fraud"
    assert call.said(text(app, "queue_fraud", lang))  # with its safety words
    assert len(hotline(app).store.events(call.sid)) == requests + 1
    record = hotline(app).store.call(call.sid)
    assert record["verified"] is False and record["issue"] == "fraud"
    assert hotline(app).store.events(call.sid)[-1]["input"] == "*"


@pytest.mark.parametrize(("lang", "key"), [("en-US", "2"), ("zh-CN", "1")])
def test_a_caller_who_does_not_know_the_pin_has_a_way_out_at_the_pin_prompt(app, caller,
                                                                           lang, key):
    call = caller("+8613800138000")  # 10000001 is registered to this phone
    call.start()
    root = call.keys(key, "2", "1", "1")  # account and security, locked: the caller-ID account
    assert call.heard[-1].endswith(WAY_OUT[lang][1])
    assert root.find("Gather").get("finishOnKey") == "#"
    call.press("*")
    assert call.queue == "account-security"
    assert not call.said(text(app, "verify_wrong_pin", lang))  # not a wrong PIN
    record = hotline(app).store.call(call.sid)
    assert record["verified"] is False and record["details"]["unverified"] is True
    assert hotline(app).store.read_one("SELECT COUNT(*) FROM pin_attempts")[0] == 0


def test_an_unknown_ticket_number_can_be_typed_again(app, caller):
    call = caller()
    call.start()
    call.keys("2", "4", "2", "12345678#")
    assert call.said("Sorry, we could not find complaint 1 2 3 4 5 6 7 8.")
    assert call.said("To enter the ticket number again, press 1.")
    call.press("1")
    assert call.at == "complaint_ticket"
    call.press("87654321#")
    assert call.said("Sorry, we could not find complaint 8 7 6 5 4 3 2 1.")
    call.press("0")
    assert call.queue == "complaints"


# -- 14. Twilio's queue results ------------------------------------------------------------------------
def queued(caller):
    call = caller()
    call.start()
    call.keys("2", "0")
    assert call.queue == "general"
    return call, call.root.find("Enqueue")


def test_a_caller_refused_by_a_full_queue_is_offered_a_callback(app, caller):
    call, enqueue = queued(caller)
    call.post(enqueue.get("action"), QueueResult="queue-full")
    assert call.root.find("Hangup") is None
    assert call.said("Sorry, the queue for this team is full right now.")
    assert call.heard[-1] == text(app, "wait_offer")
    offer = call.action
    assert urlsplit(offer).query != urlsplit(enqueue.get("action")).query  # a new turn
    call.post(enqueue.get("action"), QueueResult="queue-full")  # a replay: nothing new
    assert call.action == offer
    call.press("1")
    assert call.said("We will call you back")
    assert len(hotline(app).store.pending_callbacks()) == 1
    assert hotline(app).store.call(call.sid)["queue_result"] == "queue-full"


@pytest.mark.parametrize("keys", ["", "3"], ids=["silence", "keep waiting"])
def test_a_full_queue_is_not_tried_again_in_a_loop(app, caller, keys):
    call = caller()
    call.start()
    call.keys("2", "1", "2", "10000001#", "246810", "1", "20261120", "35#")  # payments
    assert call.queue == "payments"
    call.post(call.root.find("Enqueue").get("action"), QueueResult="queue-full")
    call.press(keys)
    assert call.queue == "general"  # the general line takes them, topic kept
    assert hotline(app).store.call(call.sid)["issue"] == "payment"
    call.post(call.root.find("Enqueue").get("action"), QueueResult="queue-full")
    call.press(keys)  # general is full too: a callback, not a third try
    assert call.said("We will call you back") and call.root.find("Hangup") is not None
    assert len(hotline(app).store.pending_callbacks()) == 1


def test_an_error_in_the_queue_apologises_and_queues_again(app, caller):
    call, enqueue = queued(caller)
    call.post(enqueue.get("action"), QueueResult="error")
    assert call.root.find("Hangup") is None
    assert call.said(text(app, "apology"))
    again = call.root.find("Enqueue")
    assert again.text == "general" and again.get("waitUrl")
    call.post(again.get("action"), QueueResult="system-error")  # again: Twilio's own music
    last = call.root.find("Enqueue")
    assert last.text == "general" and last.get("waitUrl") is None and last.get("action")


def test_a_call_redirected_out_of_the_queue_is_not_changed(app, caller):
    call, enqueue = queued(caller)
    before = hotline(app).store.load_call(call.sid, hotline(app).now())
    call.post(enqueue.get("action"), QueueResult="redirected")
    assert call.root.find("Hangup") is None and call.root.find("Say") is None
    after = hotline(app).store.load_call(call.sid, hotline(app).now())
    assert after.turn == before.turn and after.state == before.state


# -- 15. the recording status callback completes the ticket -----------------------------------------
def test_the_recording_status_callback_completes_the_complaint_ticket(app, caller):
    call = caller()
    call.start()
    call.keys("2", "4", "1", *VERIFY, "1")
    record = call.root.find("Record")
    assert urlsplit(record.get("recordingStatusCallback")).path == "/voice/recording"
    assert set(record.get("recordingStatusCallbackEvent").split()) == {"completed", "absent"}
    call.record(20)  # the action: RecordingUrl .../RE1, 20 s before trimming
    assert call.said("Your complaint is registered")

    def ticket():
        row = hotline(app).store.read_one("SELECT recording_url, details FROM tickets "
                                          "WHERE call_sid=?", (call.sid,))
        return row["recording_url"], json.loads(row["details"])

    other = call.send("/voice/recording", RecordingSid="RE2", RecordingStatus="completed",
                      RecordingUrl="https://api.twilio.com/rec/RE2", RecordingDuration="3")
    assert other.status_code == 204
    assert "recording_status" not in ticket()[1]  # another recording of the call: ignored
    for _ in range(2):  # the callback, and a replay of it
        answer = call.send("/voice/recording", RecordingSid="RE1", RecordingStatus="completed",
                           RecordingUrl="https://api.twilio.com/rec/RE1",
                           RecordingDuration="17")
        assert answer.status_code == 204
        url, details = ticket()
        assert url == "https://api.twilio.com/rec/RE1"
        assert details["recording_s"] == 17 and details["recording_status"] == "completed"
    unsigned = call.client.post("/voice/recording", data={"CallSid": call.sid,
                                                          "RecordingSid": "RE1"})
    assert unsigned.status_code == 403


# -- 17. the number's fallback URL ----------------------------------------------------------------------
def test_the_fallback_url_needs_no_database(app, client, monkeypatch):
    def broken(self):
        raise StoreError("the database is gone")

    monkeypatch.setattr(Store, "db", property(broken))
    params = {"CallSid": "CA" + "5" * 32, "From": STRANGER, "To": "+8695188",
              "ErrorCode": "11200", "ErrorUrl": "https://ivr.example.com/voice"}
    answer = client.post("/voice/fallback", data=params,
                         headers={"X-Twilio-Signature": sign("http://localhost/voice/fallback",
                                                             params)})
    assert answer.status_code == 200
    root = ET.fromstring(answer.data)
    voices = app.config["VOICES"]
    assert says(root) == [(text(app, "apology", "zh-CN"), voices["zh-CN"]["voice"],
                           voices["zh-CN"]["language"]),
                          (text(app, "apology", "en-US"), voices["en-US"]["voice"],
                           voices["en-US"]["language"])]
    enqueue = root.find("Enqueue")
    assert enqueue.text == "general"
    assert enqueue.get("waitUrl") is None and enqueue.get("action") is None  # nothing of ours
    assert client.post("/voice/fallback", data=params).status_code == 403


def test_the_fallback_url_answers_a_live_call_the_same(app, caller):
    call = caller()
    call.start()
    call.post("/voice/fallback", ErrorCode="12100",
              ErrorUrl=f"http://localhost/voice/step/language?t={call.turn}")
    assert call.root.find("Enqueue").text == "general"
    assert call.root.find("Hangup") is None


def test_without_a_told_wait_the_loop_starts_from_the_forecast_when_the_caller_joined():
    from ivr.flow.call import LiveQueue
    from ivr.flow.caller import estimate_wait

    class Hours(Model):
        def expected_wait_s(self, queue, at, callers_ahead=None):
            if callers_ahead is not None:
                return 60.0
            return 600.0 if at <= NOW - timedelta(seconds=30) else 0.0  # the hour changed

    joined = estimate_wait(Hours(0), "general", NOW, LiveQueue(1, 30, 30, 1))
    assert joined.seconds == pytest.approx(570 + (30 / 630) * (60 - 570))
