"""No input makes a webhook answer 5xx or invalid TwiML; a fault is an apology, not a crash."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from conftest import TOKEN, sign
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ivr import create_app
from ivr.flow import prompts
from ivr.menu.loader import load as load_menu
from ivr.menu.model import spoken_pieces

pytestmark = pytest.mark.both_backends

VERBS = {"Say", "Play", "Pause", "Gather", "Record", "Enqueue", "Hangup", "Redirect", "Leave"}
NODES = ["language", "main", "payments_menu", "identify", "topup_status", "payment_date",
         "complaint_record", "complaint_ticket", "fraud_freeze_offer", "no_such", "", "%00",
         "a" * 300]


@pytest.fixture(scope="module", name="hammered")
def _hammered(tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz") / "ivr.db"
    return create_app({"TESTING": True, "TWILIO_AUTH_TOKEN": TOKEN, "DEMO": True,
                       "DATABASE": str(db), "AUDIO_DIR": str(db.parent)}).test_client()


text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=400)
request = st.fixed_dictionaries(
    {"path": st.one_of(st.sampled_from(["/voice", "/voice/queue-done", "/voice/wait/general",
                                        "/voice/wait/%E9%98%9F", "/voice/status",
                                        "/voice/hold-key/general", "/voice/hold-key/x"]),
                       st.sampled_from(NODES).map(lambda n: f"/voice/step/{n}")),
     "method": st.sampled_from(["POST", "GET"])},
    optional={"CallSid": st.sampled_from(["CA1", "CA2", "CA3", ""]) | text,
              "Digits": st.one_of(st.sampled_from(["1", "2", "0", "*", "#", "9", "10000001#",
                                                   "246810", "20261120", "200*5#", ""]), text),
              "From": st.sampled_from(["+8613800138000", "+14155550123", ""]) | text,
              "RecordingUrl": text, "RecordingDuration": text, "QueueResult": text,
              "CallDuration": text})


WAIT_VERBS = {"Say", "Play", "Pause", "Gather", "Hangup", "Redirect", "Leave"}


def check_twiml(body: bytes, path: str) -> None:
    root = ET.fromstring(body)
    assert root.tag == "Response"
    if path.startswith(("/voice/wait/", "/voice/hold-key/")):  # what a waitUrl may answer
        assert {e.tag for e in root} <= WAIT_VERBS
    for element in root:
        assert element.tag in VERBS, element.tag
    for gather in root.iter("Gather"):
        assert gather.get("action", "").startswith(("http://localhost/voice/step/",
                                                    "http://localhost/voice/hold-key/"))
    assert len(root) > 0  # never an empty answer: the caller always hears or does something


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(request, min_size=1, max_size=12))
def test_no_sequence_of_requests_gets_a_5xx_or_invalid_twiml(hammered, calls):
    for call in calls:
        path, method = call.pop("path"), call.pop("method")
        url = "http://localhost" + path
        if method == "GET":
            from urllib.parse import urlencode

            query = urlencode(call)
            signed_url = url + (f"?{query}" if query else "")
            response = hammered.get(signed_url.removeprefix("http://localhost"),
                                    headers={"X-Twilio-Signature": sign(signed_url, {})})
        else:
            response = hammered.post(path, data=call,
                                     headers={"X-Twilio-Signature": sign(url, call)})
        assert response.status_code < 500, response.data
        if response.status_code == 200:
            assert response.mimetype == "text/xml"
            check_twiml(response.data, path)
        else:
            assert response.status_code in (204, 400, 404, 405)
            if response.status_code == 400:  # only a request without a usable CallSid
                assert not re.fullmatch(r"[A-Za-z0-9]{1,64}", call.get("CallSid", ""))


#: CR/LF, NUL, an escape and a Unicode line separator: what would split a header or a log line
JUNK = "x\r\nLocation: https://evil.example/\r\n\x00\x1b[31m\u2028"
WEBHOOKS = ["/voice", "/voice/step/main", "/voice/wait/general", "/voice/hold-key/general",
            "/voice/queue-done", "/voice/recording", "/voice/fallback", "/voice/status",
            "/agent/voice", "/agent/code", "/agent/pin", "/agent/next", "/agent/connect",
            "/agent/dial-done", "/voice/step/a%0D%0Ab", "/voice/wait/a%0D%0Ab",
            "/voice/hold-key/a%0D%0Ab", "/voice/step/main?t=1%0D%0A"]
FIELDS = ["From", "To", "Digits", "SpeechResult", "Confidence", "RecordingUrl", "RecordingSid",
          "RecordingStatus", "RecordingDuration", "QueueResult", "QueueTime", "QueuePosition",
          "DequeingCallSid", "DialCallStatus", "DialCallDuration", "CallStatus", "ErrorCode",
          "ErrorUrl", "t", "back"]


@pytest.mark.parametrize("path", WEBHOOKS)
def test_cr_lf_in_any_webhook_field_or_path_is_never_a_5xx_nor_a_fault(client, path, caplog):
    """A field or a path part that a webhook echoes into a URL, a header or a log: junk in
    it is answered (or refused with a 4xx) and never breaks the webhook. (The callers'
    language switch is a key in the flow: no webhook takes a ``back`` address.)"""
    for field in [*FIELDS, "CallSid"]:
        data = {"CallSid": "CA" + "1" * 32, "From": "+8613700000000", "To": "+8695188",
                field: JUNK}
        response = client.post(path, data=data,
                               headers={"X-Twilio-Signature": sign("http://localhost" + path, data)})
        assert response.status_code < 500 and "Location" not in response.headers, (field,
                                                                                    response)
        if field == "CallSid" and path != "/voice/fallback":  # the fallback reads no row
            assert response.status_code == 400
    assert not [r for r in caplog.records if r.exc_info], "a webhook failed on junk"


def test_a_fault_inside_a_webhook_is_an_apology_and_the_general_queue(app, caller):
    call = caller()
    call.start()
    call.press("2")
    with app.extensions["ivr"].store.tx() as db:
        db.execute("DROP TABLE call_events")  # the database breaks mid-call
    root = call.press("1")
    assert call.said("something went wrong on our side")
    assert root.find("Enqueue").text == "general"


def test_a_fault_while_holding_keeps_the_caller_holding(app, caller):
    call = caller()
    call.start()
    call.keys("2", "0")
    wait_url = call.root.find("Enqueue").get("waitUrl")
    with app.extensions["ivr"].store.tx() as db:
        db.execute("DROP TABLE calls")
    root = call.post(wait_url, QueuePosition="2")
    # waitUrl documents may not hold <Enqueue>: the caller hears hold and stays queued
    assert root.find("Enqueue") is None and root.find("Gather") is not None
    assert call.said("所有客服代表正在忙")  # the call state is gone: the default language


def test_an_expired_call_restarts_at_the_main_menu(caller, clock):
    call = caller()
    call.start()
    call.keys("2", "1")
    clock.tick(5 * 3600)  # longer than IVR_STATE_TTL_S
    call.press("1")
    # the call state is gone: back to the main menu in the default language, whole
    catalog, main = prompts.load(), load_menu()[0]["main"]
    menu = [catalog.text("zh-CN", key) for _, key in spoken_pieces(main)]
    # the main menu listens: its invitation to speak comes before the menu
    assert call.heard[-len(menu) - 2:] == ["我们将带您回到主菜单。",
                                           catalog.text("zh-CN", "speech_intro"), *menu]
    assert call.at == "main"


keys = st.sampled_from(["", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#",
                        "10000001#", "246810", "20261120", "88#", "12345678#"])


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(presses=st.lists(keys, min_size=1, max_size=25))
def test_any_caller_ends_queued_asked_or_told_why_never_dropped(caller, presses):
    """Whatever a caller presses, each answer asks, queues, or ends only with a goodbye."""
    call = caller("+8613800138000")
    call.start()
    for digits in presses:
        if call.root.find("Gather") is None and call.root.find("Record") is None:
            break
        root = call.press(digits) if call.root.find("Gather") is not None else call.record()
        verbs = {e.tag for e in root}
        assert verbs & {"Gather", "Enqueue", "Hangup", "Record"}, verbs
        if "Hangup" in verbs:  # only after a callback or at a closed line, with a goodbye
            assert call.heard[-1] in ("Thank you for calling. Goodbye.", "感谢您的来电，再见。")
