"""SMS follow-ups (issue 26, part 1): a call only writes a message to the outbox; a sender
posts it to Twilio's Messages API, here a fake of it (a real HTTP server on loopback, which
checks the form and the Basic auth as Twilio would), with retries, a lease so that two
senders never send one message twice, and STOP honoured. Whole calls through signed
webhooks, on SQLite and on PostgreSQL; the clock frozen (Wednesday 25 November 2026, 09:30
in Shanghai)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import TOKEN, Caller, sign
from fake_twilio import ACCOUNT, FakeTwilio

from ivr.app import create_app
from ivr.cli import cli
from ivr.records.outbox import Outbox
from ivr.records.store import Store
from ivr.web.sender import Pass, Sender

STRANGER = "+8613700000000"  # no account: types the account number and the PIN
OWNER = "+8613800138000"  # account 10000001's phone
VERIFY = ("10000001#", "246810")


@pytest.fixture(name="twilio")
def _twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    yield fake
    fake.close()


@pytest.fixture(name="sending")
def _sending(settings, twilio):
    """The settings of an app that sends from a number with the account's Auth Token."""
    return {**settings, "TWILIO_ACCOUNT_SID": ACCOUNT, "SMS_FROM": "+15005550006",
            "SMS_API_URL": twilio.url}


def outbox(app) -> Outbox:
    return app.extensions["ivr"].outbox


def complaint(call: Caller, lang_key: str = "2") -> str:
    """A complaint filed by a verified caller; its ticket number."""
    call.start()
    call.keys(lang_key, "4", "1", *VERIFY, "1")
    call.record()
    store = call.client.application.extensions["ivr"].store
    return store.call(call.sid)["details"]["ticket"]


def sign_sms(client, path: str, base: str = "http://localhost", **form: str):
    """A signed POST as Twilio makes it to ``base`` + ``path`` (``base``: IVR_PUBLIC_URL)."""
    return client.post(path, data=form,
                       headers={"X-Twilio-Signature": sign(base + path, form)})


# -- what a call writes ------------------------------------------------------------------------

@pytest.mark.both_backends
@pytest.mark.parametrize(("key", "words"), [
    ("2", ("Wallet hotline: your complaint is registered. Ticket number",
           "We will reply by Friday 27 November at 09:30.")),
    ("1", ("钱包客服热线：您的投诉已登记，投诉单号", "我们将在11月27日周五09:30前答复您"))],
    ids=["en-US", "zh-CN"])
def test_a_complaint_filed_in_a_call_puts_one_message_in_the_outbox(app, caller, key, words):
    call = caller(STRANGER)
    ticket = complaint(call, key)
    (message,) = outbox(app).messages()
    assert message.to_number == STRANGER and message.kind == "complaint"
    assert message.status == "pending" and message.call_sid == call.sid
    assert ticket in message.body and all(w in message.body for w in words)
    # 48 hours after 09:30 in Shanghai, written in the centre's time, never "tomorrow"
    assert "10000001" not in message.body and "246810" not in message.body
    for _ in range(3):  # the recording's step replayed: still one message
        call.send(call.action, RecordingUrl="https://api.twilio.com/rec/RE1",
                  RecordingDuration="12", Digits="#")
    assert len(outbox(app).messages()) == 1


@pytest.mark.parametrize("withheld", ["anonymous", "+266696687"])
def test_a_withheld_number_gets_none(app, caller, withheld):
    call = caller(withheld)
    call.start()
    call.keys("2", "4", "1", *VERIFY, "1")
    call.record()
    assert call.said("Your ticket number is")
    assert outbox(app).messages() == []


def test_a_freeze_texts_what_to_do_next_and_the_apps_path_never_a_link(app, caller):
    call = caller(OWNER)
    call.start()
    call.keys("2", "3", "1", "246810", "1")  # fraud: verified by caller ID, freeze now
    assert call.said("Your account is now frozen")
    (message,) = outbox(app).messages()
    assert message.kind == "freeze"
    assert "ending 0001" in message.body and "10000001" not in message.body
    assert "Me > Security" in message.body and "http" not in message.body
    assert "246810" not in message.body


def test_a_booked_callback_texts_its_window(app, client, clock):
    clock.move_to("2026-11-25 04:30:00")  # Wednesday lunch in Shanghai: the wait is long
    call = Caller(client, "+8613912345678")
    call.start()
    call.keys("2", "0")
    call.press("1")  # a callback
    assert call.said("We will call you back")
    (message,) = outbox(app).messages()
    assert message.kind == "callback"
    assert message.body.startswith("Wallet hotline: your callback is booked. We will call you "
                                   "Wednesday 25 November between")


def test_at_most_n_a_day_per_number(settings, clock):
    # RETURNING_HOURS 0: the next day the number is not offered the way back to its need
    app = create_app({**settings, "SMS_PER_DAY": 1, "RETURNING_HOURS": 0})
    for _ in range(2):
        complaint(Caller(app.test_client(), STRANGER))
    assert len(outbox(app).messages()) == 1
    clock.tick(24 * 3600 + 1)
    complaint(Caller(app.test_client(), STRANGER))
    assert len(outbox(app).messages()) == 2


# -- opt-outs ----------------------------------------------------------------------------------

@pytest.mark.both_backends
@pytest.mark.parametrize("word", ["STOP", "stop", " Unsubscribe ", "退订"])
def test_stop_from_a_number_stops_the_next_one_and_start_lets_it_through(
        app, client, caller, word):
    answer = sign_sms(client, "/sms/inbound", From=STRANGER, To="+15005550006", Body=word,
                      MessageSid="SM" + "9" * 32)
    assert answer.status_code == 200 and answer.data.endswith(b"<Response />")
    complaint(caller(STRANGER))
    assert outbox(app).messages() == []
    sign_sms(client, "/sms/inbound", From=STRANGER, To="+15005550006", Body="START",
             MessageSid="SM" + "8" * 32)
    complaint(caller(STRANGER))
    assert len(outbox(app).messages()) == 1


def test_a_text_that_is_not_a_keyword_changes_nothing_and_unsigned_ones_are_refused(
        app, client, caller):
    sign_sms(client, "/sms/inbound", From=STRANGER, Body="please stop calling me later")
    assert client.post("/sms/inbound", data={"From": STRANGER, "Body": "STOP"}).status_code == 403
    assert client.post("/sms/status", data={"MessageSid": "SM1", "MessageStatus": "failed"}
                       ).status_code == 403
    sign_sms(client, "/sms/inbound", From="anonymous", Body="STOP")  # no number to keep
    complaint(caller(STRANGER))
    assert len(outbox(app).messages()) == 1


# -- the sender ----------------------------------------------------------------------------------

@pytest.mark.both_backends
def test_the_sender_posts_it_to_twilio_with_the_right_fields(sending, twilio, clock):
    public = "https://ivr.example.com"
    app = create_app({**sending, "PUBLIC_URL": public})
    ticket = complaint(Caller(app.test_client(), STRANGER, base=public))
    sender = Sender.from_settings(outbox(app), app.config)
    assert sender.send_pending().sent == 1
    (post,) = twilio.posts
    assert post["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert (post["user"], post["password"]) == (ACCOUNT, TOKEN)
    form = post["form"]
    assert form["To"] == STRANGER and form["From"] == "+15005550006"
    assert ticket in form["Body"] and "MessagingServiceSid" not in form
    assert form["StatusCallback"] == "https://ivr.example.com/sms/status"
    (message,) = outbox(app).messages()
    assert message.status == "sent" and message.message_sid == "SM" + "0" * 31 + "1"
    assert message.twilio_status == "queued" and message.attempts == 1
    assert sender.send_pending().sent == 0 and len(twilio.posts) == 1  # sent once
    # Twilio's status callback, signed: delivered, and a late "sent" does not undo it
    for status in ("delivered", "sent"):
        answer = sign_sms(app.test_client(), "/sms/status", public,
                          MessageSid=message.message_sid,
                          MessageStatus=status, AccountSid=ACCOUNT)
        assert answer.status_code == 204
    assert outbox(app).messages()[0].twilio_status == "delivered"


def test_an_api_key_and_a_messaging_service(sending, twilio):
    app = create_app({**sending, "SMS_FROM": None, "SMS_MESSAGING_SERVICE_SID": "MG" + "2" * 32,
                      "TWILIO_API_KEY": "SK" + "3" * 32, "TWILIO_API_SECRET": "key-secret"})
    complaint(Caller(app.test_client(), STRANGER))
    Sender.from_settings(outbox(app), app.config).send_pending()
    (post,) = twilio.posts
    assert (post["user"], post["password"]) == ("SK" + "3" * 32, "key-secret")
    assert post["form"]["MessagingServiceSid"] == "MG" + "2" * 32 and "From" not in post["form"]


def test_a_500_is_retried_after_a_wait_and_then_succeeds(sending, twilio):
    app = create_app(sending)
    complaint(Caller(app.test_client(), STRANGER))
    twilio.answers = [500, 503]
    sender = Sender.from_settings(outbox(app), app.config)
    now = datetime.now(UTC)
    assert sender.send_pending(now).retried == 1
    (message,) = outbox(app).messages()
    assert message.status == "pending" and message.error == "Twilio answered 500 (error 20500)"
    assert sender.send_pending(now + timedelta(seconds=59)).retried == 0  # not yet due
    assert sender.send_pending(now + timedelta(seconds=60)).retried == 1  # 503: waits 2 min
    assert sender.send_pending(now + timedelta(seconds=60 + 119)).sent == 0
    assert sender.send_pending(now + timedelta(seconds=60 + 120)).sent == 1
    assert len(twilio.posts) == 3
    (message,) = outbox(app).messages()
    assert message.status == "sent" and message.attempts == 3 and message.error is None


def test_a_refused_number_is_given_up_at_once_and_an_unreachable_api_after_the_bound(
        sending, twilio):
    app = create_app(sending)
    complaint(Caller(app.test_client(), STRANGER))
    complaint(Caller(app.test_client(), "+14155550100"))
    twilio.answers = [400, 500]  # the first: Twilio refuses the number (21211)
    sender = Sender.from_settings(outbox(app), app.config)
    now = datetime.now(UTC)
    assert sender.send_pending(now) == Pass(sent=0, retried=1, failed=1)
    (failed,) = outbox(app).messages("failed")
    assert failed.to_number == STRANGER and failed.error == "Twilio answered 400 (error 21211)"
    twilio.close()  # Twilio is away: the second is retried until a day has passed
    assert sender.send_pending(now + timedelta(hours=1)).retried == 1
    (waiting,) = outbox(app).messages("pending")
    assert waiting.error.startswith("not reached: ConnectionError")
    assert sender.send_pending(now + timedelta(days=1)).failed == 1
    last = outbox(app).messages("failed")[0]
    assert last.error.startswith("not sent within 24 h; last: not reached: ConnectionError")


def test_a_message_that_waited_past_the_bound_is_given_up_unsent(settings, sending, twilio):
    app = create_app(settings)  # no credentials: the message waits
    complaint(Caller(app.test_client(), STRANGER))
    later = create_app(sending)  # credentials set two days later
    sender = Sender.from_settings(outbox(later), later.config)
    assert sender.send_pending(datetime.now(UTC) + timedelta(days=2)).failed == 1
    assert twilio.posts == []
    (failed,) = outbox(later).messages("failed")
    assert failed.error == "not sent within 24 h: no sender sent it in time"


def test_a_number_twilio_says_unsubscribed_is_kept_as_opted_out(sending, twilio):
    app = create_app(sending)
    complaint(Caller(app.test_client(), STRANGER))
    twilio.answers, twilio.code = [400], 21610
    Sender.from_settings(outbox(app), app.config).send_pending()
    (failed,) = outbox(app).messages("failed")
    assert failed.error == "Twilio answered 400 (error 21610)"
    assert outbox(app).opted_out(STRANGER)


@pytest.mark.both_backends
def test_two_senders_on_one_database_never_send_one_message_twice(sending, twilio, database):
    app = create_app(sending)
    for n in range(30):
        complaint(Caller(app.test_client(), f"+1415555{n:04d}"))
    stores = [Store(database) for _ in range(2)]
    try:
        senders = [Sender(Outbox(store), Sender.from_settings(outbox(app), app.config).account,
                          holder=f"host-{i}") for i, store in enumerate(stores)]
        go = threading.Barrier(2)

        def run(sender: Sender) -> None:
            go.wait()
            sender.send_pending()

        threads = [threading.Thread(target=run, args=(s,)) for s in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for store in stores:
            store.close()
    sent_to = [p["form"]["To"] for p in twilio.posts]
    assert sorted(sent_to) == sorted(set(sent_to)) and len(sent_to) == 30
    assert {m.status for m in outbox(app).messages()} == {"sent"}


def test_the_deployments_sender_lease_is_held_by_one(app, clock):
    box, now = outbox(app), datetime.now(UTC)
    lease = timedelta(seconds=60)
    assert box.take_sender("host-a", now, lease)
    assert not box.take_sender("host-b", now + timedelta(seconds=30), lease)
    assert box.take_sender("host-a", now + timedelta(seconds=30), lease)  # renewed
    assert box.take_sender("host-b", now + timedelta(seconds=91), lease)  # host-a went away


# -- the commands --------------------------------------------------------------------------------

def test_without_credentials_messages_wait_and_ivr_sms_list_shows_them(settings, monkeypatch,
                                                                        caller, app):
    complaint(caller(STRANGER))
    monkeypatch.setenv("IVR_DATABASE", settings["DATABASE"])
    from click.testing import CliRunner

    runner = CliRunner()
    listed = runner.invoke(cli, ["sms", "list"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0] == ("1 message waiting, not sent: the settings lack TWILIO_ACCOUNT_SID, "
                        "TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET), SMS_FROM "
                        "or SMS_MESSAGING_SERVICE_SID; nothing is lost, they are sent once "
                        "those are set")
    assert lines[1].split() == ["#", "WRITTEN", "(UTC)", "TO", "KIND", "STATUS", "TRIES",
                                "TWILIO", "MESSAGE"]
    assert STRANGER in lines[2] and "complaint" in lines[2] and "pending" in lines[2]
    sent = runner.invoke(cli, ["sms", "send-pending"])
    assert sent.exit_code == 1
    assert "nothing sent: the settings lack TWILIO_ACCOUNT_SID" in sent.output
    assert "1 message waiting in the outbox (ivr sms list)" in sent.output
    as_json = runner.invoke(cli, ["sms", "list", "--json", "--status", "pending"])
    assert json.loads(as_json.output)["to"] == STRANGER


def test_ivr_sms_send_pending_sends_with_the_settings(settings, sending, twilio, monkeypatch,
                                                      caller, app):
    complaint(caller(STRANGER))
    for name, value in (("DATABASE", settings["DATABASE"]),
                        ("TWILIO_ACCOUNT_SID", ACCOUNT), ("TWILIO_AUTH_TOKEN", TOKEN),
                        ("SMS_FROM", "+15005550006"), ("SMS_API_URL", twilio.url)):
        monkeypatch.setenv(f"IVR_{name}", value)
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["sms", "send-pending"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output == "sent 1, to retry 0, given up 0; 0 messages waiting\n"
    assert len(twilio.posts) == 1


@pytest.mark.parametrize(("args", "error"), [
    (["sms", "list", "--status", "lost"], "Invalid value for '--status': 'lost' is not one of"),
    (["sms", "list", "--limit", "0"], "Invalid value for '--limit': 0 is not in the range x>=1"),
    (["sms", "send"], "No such command 'send'"),
])
def test_a_bad_argument_gets_a_clear_error(args, error):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and error in result.output


def test_a_sending_number_not_in_e164_is_refused_at_start(settings):
    from ivr.errors import ConfigError

    with pytest.raises(ConfigError, match="SMS_FROM must be the sending number in E.164"):
        create_app({**settings, "SMS_FROM": "15005550006"})


# -- the simulator's Messages API ----------------------------------------------------------------

def test_ivr_call_prints_the_texts_the_app_sent_during_the_call():
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["call", "--from", STRANGER, "--lang", "en-US", "--press",
                                      "4 1 10000001# 246810 1 # 0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (line,) = [t for t in result.output.splitlines() if t.startswith("SMS to ")]
    assert line.startswith(f"SMS to {STRANGER}: Wallet hotline: your complaint is registered. "
                           "Ticket number ")
    withheld = CliRunner().invoke(cli, ["call", "--from", "anonymous", "--lang", "en-US",
                                        "--press", "4 1 10000001# 246810 1 # 0"])
    assert withheld.exit_code == 0 and "SMS to" not in withheld.output


def test_a_scenario_that_expects_texts_says_what_was_sent(tmp_path, target):
    from ivr.sim.scenario import load, run

    (tmp_path / "texts.yaml").write_text(
        "scenarios:\n"
        "  - name: expects none, gets one\n"
        "    from: '+8613700000000'\n"
        "    lang: en-US\n"
        "    press: '4 1 10000001# 246810 1 # 0'\n"
        "    expect: {sms: []}\n"
        "  - name: expects words it does not get\n"
        "    from: '+8613700000000'\n"
        "    lang: en-US\n"
        "    press: '4 1 10000001# 246810 1 # 0'\n"
        "    expect: {sms: ['your refund']}\n")
    none, words = (run(s, target) for s in load(tmp_path))
    assert not none.passed and not words.passed
    assert none.failures[0].startswith("expected no text, the app sent to +8613700000000: "
                                       "'Wallet hotline: your complaint is registered.")
    assert words.failures[0].startswith("expected a text saying 'your refund'; sent: to "
                                        "+8613700000000: 'Wallet hotline: your complaint")
