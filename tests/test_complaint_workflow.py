"""A complaint's whole workflow (issue 26, part 2; ivr.flow.complaints): filed in a call,
moved by ops on the console from registered to result sent, each move with a note and
audited; the caller who checks it hears its stage, and once the result is sent may dispute
it with key 1: a recording of why, the ticket back in review with a new reply-by time,
counted by ``ivr report``."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from test_console import PASSWORD, audit, complaint_filed, log_in, post

from ivr.cli import cli
from ivr.records import complaints
from ivr.records.store import parse_iso

pytestmark = pytest.mark.both_backends

STAGES_TO_RESULT = ("first_check", "review", "investigation")
RESULT = {"result_en-US": "We refunded the double charge of 200 yuan on 25 November.",
          "result_zh-CN": "11月25日重复扣款的200元已退回您的账户。"}


@pytest.fixture(name="lead")
def _lead(app, client):
    app.extensions["ivr"].users.add("lead", PASSWORD, "ops", app.extensions["ivr"].now())
    log_in(client)
    return client


def ticket(app, number):
    return dict(app.extensions["ivr"].store.read_all(
        "SELECT stage, status, reply_by, disputes, result_en, result_zh, result_at "
        "FROM tickets WHERE number=?", (number,))[0])


def flashed(client) -> str:
    return client.get("/ops/tickets").data.decode()


def to_result(lead, number):
    for stage in STAGES_TO_RESULT:
        post(lead, "/ops/tickets", number=number, to=stage, note=f"now {stage}")
    post(lead, "/ops/tickets", number=number, to="result_sent", note="refund made", **RESULT)


def status_call(caller, number, lang_key="2"):
    """A caller checking the ticket: English (2) or Mandarin (1), complaints, status; from
    another phone than the one that filed it (which would be offered its last need)."""
    call = caller("+8613711112222")
    call.start()
    call.keys(lang_key, "4", "2", number + "#")
    return call


def test_ops_move_a_ticket_stage_by_stage_each_with_a_note(app, caller, lead):
    _, number = complaint_filed(caller)
    assert ticket(app, number)["stage"] == "registered"
    # no skipping: registered moves to its first check (or is closed), nothing else
    post(lead, "/ops/tickets", number=number, to="investigation", note="skip")
    assert "registered: it moves to first_check, closed, not investigation" in flashed(lead)
    post(lead, "/ops/tickets", number=number, to="first_check", note="")
    assert "A note is required." in flashed(lead)
    assert ticket(app, number)["stage"] == "registered"
    for stage in STAGES_TO_RESULT:
        post(lead, "/ops/tickets", number=number, to=stage, note=f"now {stage}")
        assert ticket(app, number)["stage"] == stage
    # the result goes out in the caller's language: both are written before it is sent
    post(lead, "/ops/tickets", number=number, to="result_sent", note="refund made",
         **{"result_en-US": RESULT["result_en-US"]})
    assert "the result is needed in zh-CN" in flashed(lead)
    post(lead, "/ops/tickets", number=number, to="result_sent", note="refund made", **RESULT)
    sent = ticket(app, number)
    assert (sent["stage"], sent["status"]) == ("result_sent", "open")
    assert sent["result_zh"] == RESULT["result_zh-CN"]
    moved = complaints.moves(app.extensions["ivr"].store, number)
    assert [(m["from_stage"], m["to_stage"], m["actor"]) for m in moved] == [
        ("registered", "first_check", "lead"), ("first_check", "review", "lead"),
        ("review", "investigation", "lead"), ("investigation", "result_sent", "lead")]
    assert [a["action"] for a in audit(app)[-4:]] == [
        "ticket first_check", "ticket review", "ticket investigation", "ticket result_sent"]
    row = re.search(rf'<tr id="ticket-{number}".*?</tr>', flashed(lead), re.S).group(0)
    assert 'data-stage="result_sent"' in row and "result sent" in row


def test_the_caller_hears_each_stage_in_their_language(app, caller, lead):
    _, number = complaint_filed(caller)
    spaced = " ".join(number)
    assert status_call(caller, number).said(f"Complaint {spaced} is registered. We will "
                                            "reply by")
    post(lead, "/ops/tickets", number=number, to="first_check", note="checking")
    assert status_call(caller, number).said("and we are checking its details")
    post(lead, "/ops/tickets", number=number, to="review", note="to the team")
    assert status_call(caller, number, "1").said(f"投诉单{spaced}正在由专门团队审核")
    post(lead, "/ops/tickets", number=number, to="investigation", note="records")
    assert status_call(caller, number).said("is under investigation")
    post(lead, "/ops/tickets", number=number, to="result_sent", note="refund made", **RESULT)
    heard = status_call(caller, number)
    assert heard.said(f"The result of complaint {spaced} was sent to you by text message on")
    assert heard.said("If you do not accept the result, press 1 to dispute it.")
    post(lead, "/ops/tickets", number=number, to="accepted", note="caller agreed")
    accepted = status_call(caller, number)
    assert accepted.said("You accepted the result") and not accepted.said("press 1 to dispute")
    post(lead, "/ops/tickets", number=number, to="closed", note="done")
    closed = status_call(caller, number)
    assert closed.said(f"Complaint {spaced} is closed.")
    assert not closed.said("text message")  # nothing is claimed that was not sent


def test_a_caller_disputes_the_result_and_the_ticket_goes_back_to_review(
        app, caller, lead, clock, runner, database):
    _, number = complaint_filed(caller)
    to_result(lead, number)
    clock.tick(timedelta(days=3))
    call = status_call(caller, number)
    call.press("1")
    assert call.root.find("Record") is not None
    assert call.said("please say briefly why you do not accept the result")
    call.record(20)
    now = app.extensions["ivr"].now()
    disputed = ticket(app, number)
    assert (disputed["stage"], disputed["disputes"]) == ("review", 1)
    assert parse_iso(disputed["reply_by"]) == now + timedelta(hours=48)
    due = app.extensions["ivr"].centre.local(now + timedelta(hours=48))
    assert call.said(f"Your dispute is registered. Complaint {' '.join(number)} is back with "
                     f"our specialist team, and we will reply by {due.day} {due:%B}")
    last = complaints.moves(app.extensions["ivr"].store, number)[-1]
    assert (last["from_stage"], last["to_stage"], last["actor"]) == ("result_sent", "review",
                                                                     "caller")
    assert last["recording_url"] == "https://api.twilio.com/rec/RE1"
    # a replayed dispute, or a second one in the same call, counts once
    call.post(call.action, Digits="1")
    assert ticket(app, number)["disputes"] == 1
    # the report counts it
    shown = runner.invoke(cli, ["report", "--db", database, "--json"])
    assert shown.exit_code == 0, shown.output
    found = json.loads(shown.output)["complaints"]
    assert found["disputes"] == 1 and found["dispute_rate"] == 1.0
    assert found["stages"]["review"] == 1 and found["results_sent"] == 1
    text = runner.invoke(cli, ["report", "--db", database]).output
    assert "Complaint tickets filed in the period, by stage" in text
    assert re.search(r"dispute rate\s+100\.0 %", text), text
    log_in(lead)  # the console's Report page shows the same table
    page = lead.get("/ops/report").data.decode()
    table = re.search(r'<table id="report-complaints">.*?</table>', page, re.S).group(0)
    assert "<td>dispute rate</td><td class=\"n\">100.0 %</td>" in table


def test_no_dispute_is_offered_before_a_result_is_sent(app, caller, lead):
    _, number = complaint_filed(caller)
    call = status_call(caller, number)
    assert not call.said("press 1 to dispute")
    call.press("1")  # not a dispute: an invalid choice at this point
    assert ticket(app, number)["disputes"] == 0
    assert call.root.find("Record") is None


def test_the_figures_count_stages_time_in_them_late_replies_and_disputes(app, caller, lead,
                                                                          clock):
    _, late = complaint_filed(caller)
    _, on_time = complaint_filed(caller)
    to_result(lead, on_time)
    clock.tick(timedelta(days=3))  # past the 48 hours promised
    log_in(lead)  # a console session lasts 12 hours
    to_result(lead, late)
    store = app.extensions["ivr"].store
    found = complaints.figures(store, app.extensions["ivr"].now())
    assert found["tickets"] == 2 and found["stages"]["result_sent"] == 2
    assert (found["results_sent"], found["replies_late"], found["disputes"]) == (2, 1, 0)
    assert found["dispute_rate"] == 0.0
    registered = found["hours_in_stage"]["registered"]
    assert registered["left"] == 2 and registered["mean_hours"] == pytest.approx(36.0, abs=0.1)


def test_the_result_is_texted_in_the_callers_language_and_again_after_a_dispute(
        app, caller, lead, clock):
    from fake_twilio import ACCOUNT, FakeTwilio

    from ivr.web.sender import Sender

    call, number = complaint_filed(caller)  # an English caller, +8613700000000
    outbox = app.extensions["ivr"].outbox
    filed = len(outbox.messages())  # the ticket's own text, written when it was filed
    to_result(lead, number)
    result = outbox.messages()[0]
    assert len(outbox.messages()) == filed + 1 and result.kind == "result"
    assert (result.to_number, result.lang, result.call_sid) == ("+8613700000000", "en-US",
                                                               call.sid)
    assert result.body.startswith(f"Wallet hotline: the result of your complaint {number}. "
                                  + RESULT["result_en-US"])
    assert "press 1" in result.body and "11月" not in result.body
    twilio = FakeTwilio()
    try:
        sending = {**app.config, "TWILIO_ACCOUNT_SID": ACCOUNT, "SMS_FROM": "+15005550006",
                   "SMS_API_URL": twilio.url}
        assert Sender.from_settings(outbox, sending).send_pending().sent == filed + 1
        assert RESULT["result_en-US"] in twilio.posts[-1]["form"]["Body"]
    finally:
        twilio.close()
    # disputed on the phone, reviewed again, and a second result: a second text
    status = status_call(caller, number)
    status.press("1")
    status.record()
    log_in(lead)
    post(lead, "/ops/tickets", number=number, to="result_sent", note="second look",
         **{**RESULT, "result_en-US": "We looked again: the charge was a refund in transit."})
    again = outbox.messages()[0]
    assert again.kind == "result-2" and "refund in transit" in again.body


def test_a_number_that_texted_stop_gets_no_result(app, caller, lead, client):
    from conftest import sign

    _, number = complaint_filed(caller)
    form = {"From": "+8613700000000", "Body": "STOP", "AccountSid": "AC" + "0" * 32}
    client.post("/sms/inbound", data=form,
                headers={"X-Twilio-Signature": sign("http://localhost/sms/inbound", form)})
    to_result(lead, number)
    assert ticket(app, number)["stage"] == "result_sent"  # the move is made, untexted
    assert not [m for m in app.extensions["ivr"].outbox.messages() if m.kind == "result"]


def test_a_chinese_callers_result_is_texted_in_chinese(app, caller, lead):
    call = caller()
    call.start()
    call.keys("1", "4", "1", "10000001#", "246810", "1")
    call.record()
    number = app.extensions["ivr"].store.call(call.sid)["details"]["ticket"]
    to_result(lead, number)
    result = app.extensions["ivr"].outbox.messages()[0]
    assert result.lang == "zh-CN"
    assert result.body == (f"钱包客服热线：您的投诉{number}的处理结果：{RESULT['result_zh-CN']}"
                           "如不接受，请致电热线并选择投诉，查询该投诉单后按1提出异议。"
                           "我们不会向您索要密码或短信验证码。")


def test_a_result_not_texted_is_not_said_to_have_been_sent(app, caller, lead):
    """Filed from a withheld number: no text can reach it, so the caller checking the
    ticket hears the result is decided and the team will go through it, not "it was sent
    to you by text message", and is offered no dispute of a result they have not read."""
    call = caller("anonymous")
    call.start()
    call.keys("2", "4", "1", "10000001#", "246810", "1")
    call.record()
    number = app.extensions["ivr"].store.call(call.sid)["details"]["ticket"]
    to_result(lead, number)
    assert not [m for m in app.extensions["ivr"].outbox.messages() if m.kind == "result"]
    heard = status_call(caller, number)
    assert heard.said("but we could not send it to you by text message. Our complaints team "
                      "can go through it with you.")
    assert not heard.said("was sent to you") and not heard.said("press 1 to dispute")
    assert heard.said("For an agent, press 0.")


def test_moves_and_disputes_at_once_are_made_once(app, caller, lead):
    """Ten leads moving one ticket at the same moment: one move is made, the others are
    refused (it is no longer where they saw it); then ten disputes of its result sent at
    once, from ten calls: one dispute, one new reply-by time."""
    from concurrent.futures import ThreadPoolExecutor

    _, number = complaint_filed(caller)
    clients = []
    for i in range(10):
        app.extensions["ivr"].users.add(f"lead{i}", PASSWORD, "ops", app.extensions["ivr"].now())
        other = app.test_client()
        log_in(other, f"lead{i}")
        clients.append(other)
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda c: post(c, "/ops/tickets", number=number, to="first_check",
                                     note="mine"), clients))
    moved = complaints.moves(app.extensions["ivr"].store, number)
    assert [(m["from_stage"], m["to_stage"]) for m in moved] == [("registered", "first_check")]
    for stage in ("review", "investigation"):
        post(lead, "/ops/tickets", number=number, to=stage, note=stage)
    post(lead, "/ops/tickets", number=number, to="result_sent", note="sent", **RESULT)
    calls = [status_call(caller, number) for _ in range(10)]
    for call in calls:
        call.press("1")
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda c: c.record(), calls))
    after = ticket(app, number)
    assert (after["stage"], after["disputes"]) == ("review", 1)
    assert sum(m["actor"] == "caller" for m in complaints.moves(app.extensions["ivr"].store,
                                                                 number)) == 1
