"""The agents' end: /agent/voice identifies an agent, says who waits and dequeues them;
the caller hears "connecting" and the bridge and talk time land on the caller's record."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from conftest import Caller

from ivr.flow import agent as agent_flow
from ivr.sim.document import ATTRIBUTES, NOUN_ATTRIBUTES
from ivr.tuning.report import build

pytestmark = pytest.mark.both_backends

AGENT_PHONE = "+8613900000001"
CODE, PIN = "4321", "8642"


@pytest.fixture(name="agents")
def _agents(app):
    users = app.extensions["ivr"].users
    users.add("wang", "a long password", "agent", datetime.now(UTC),
              queues=("general", "payments"), phone=AGENT_PHONE, code=CODE, pin=PIN)
    users.add("li", "a long password", "agent", datetime.now(UTC), queues=("fraud",),
              code="5555", pin="1111")
    return users


class Agent(Caller):
    def voice(self) -> ET.Element:
        return self.post("/agent/voice")

    @property
    def action(self) -> str:
        """The Gather that takes the code or PIN (after the language offer, if any)."""
        assert self.root is not None
        gathers = [g.get("action", "") for g in self.root.findall("Gather")]
        assert gathers, ET.tostring(self.root)
        if len(gathers) > 1 and urlsplit(gathers[0]).path == "/agent/language":
            return gathers[1]
        return gathers[0]

    def switch(self) -> ET.Element:
        """Star at the language offer said before the code (its Gather of one key)."""
        assert self.root is not None
        offer = self.root.find("Gather").get("action", "")
        assert urlsplit(offer).path == "/agent/language"
        return self.post(offer, Digits="*")

    @property
    def dial(self) -> ET.Element | None:
        assert self.root is not None
        return self.root.find("Dial")


def documented(root: ET.Element) -> None:
    """Every attribute of every verb is one Twilio documents for it (the simulator's list)."""
    for element in root.iter():
        known = NOUN_ATTRIBUTES.get(element.tag) or ATTRIBUTES.get(element.tag)
        if element.tag == "Response" or known is None:
            continue
        assert set(element.attrib) <= known, (element.tag, element.attrib)


def queued(caller, from_number="+8613700000000") -> Caller:
    """A caller who chose English and an agent: waiting in ``general``."""
    c = caller(from_number)
    c.start()
    c.keys("2", "0")
    assert c.queue == "general"
    return c


def test_unsigned_requests_are_refused(client, agents):
    assert client.post("/agent/voice", data={"CallSid": "CA1", "From": AGENT_PHONE}
                       ).status_code == 403
    assert client.post("/agent/connect", data={"CallSid": "CA1"}).status_code == 403


def test_known_by_caller_id_and_nobody_waiting(client, agents):
    agent = Agent(client, AGENT_PHONE)
    root = agent.voice()
    documented(root)
    gather = root.find("Gather")
    assert gather is not None and agent.dial is None
    assert urlsplit(gather.get("action")).path == "/agent/next"
    assert gather.get("actionOnEmptyResult") == "true" and gather.get("numDigits") == "1"
    assert gather.find("Pause").get("length") == "20"
    says = [s.text for s in gather.iter("Say")]
    assert says[0].startswith("您的队列中目前没有来电者") and says[1] == "For English, press star."
    # the silence runs out: a quiet check, still nobody
    again = agent.press("")
    assert again.find("Gather/Pause") is not None and not list(again.iter("Say"))


def test_a_waiting_caller_is_dequeued_bridged_and_timed(client, caller, agents, app, clock):
    waiting = queued(caller)
    enqueue_action = waiting.root.find("Enqueue").get("action")
    clock.tick(95)
    agent = Agent(client, AGENT_PHONE)
    root = agent.voice()
    documented(root)
    dial = agent.dial
    assert dial is not None and urlsplit(dial.get("action")).path == "/agent/dial-done"
    (queue,) = dial.findall("Queue")  # one queue per Dial
    assert queue.text == "general" and urlsplit(queue.get("url")).path == "/agent/connect"
    assert "1位来电者" in root.find("Say").text and "2分钟" in root.find("Say").text

    # Twilio plays the Queue url to the caller, with the agent's call as DequeingCallSid
    heard = waiting.post(queue.get("url"), QueueSid="QU1", QueueTime="95",
                         DequeingCallSid=agent.sid)
    documented(heard)
    assert [s.text for s in heard.iter("Say")] == ["Connecting you to an agent now."]
    assert {e.tag for e in heard} <= {"Say", "Play", "Pause", "Redirect"}
    store = app.extensions["ivr"].store
    row = store.read_one("SELECT agent, bridged_at, wait_s FROM calls WHERE call_sid=?",
                         (waiting.sid,))
    assert row["agent"] == "wang" and row["wait_s"] == 95 and row["bridged_at"]
    # a replay of the Queue url does not move the bridge
    waiting.post(queue.get("url"), QueueSid="QU1", QueueTime="300", DequeingCallSid="CAx")
    assert store.read_one("SELECT wait_s FROM calls WHERE call_sid=?", (waiting.sid,))[0] == 95

    # the talk ends: the caller's Enqueue action hears bridged, the agent's Dial action
    clock.tick(240)
    done = waiting.post(enqueue_action, QueueResult="bridged", QueueTime="95")
    # the caller is still on the line: the survey (tests/test_csat.py)
    assert urlsplit(done.find("Gather").get("action")).path == "/voice/step/(survey)"
    after = agent.post(dial.get("action"), DialCallStatus="completed",
                       DialCallDuration="240", DialCallSid="CA99")
    documented(after)
    assert store.read_one("SELECT talk_s FROM calls WHERE call_sid=?", (waiting.sid,))[0] == 240
    gather = after.find("Gather")
    assert urlsplit(gather.get("action")).path == "/agent/next"
    assert gather.find("Say").text == "接听下一位来电者，请按1。"
    assert after.find("Hangup") is not None  # no key: goodbye
    report = build(app.config["DATABASE"])
    assert report["queues"]["general"]["outcomes"]["answered"] == 1
    # 1: the next caller; nobody is waiting now
    assert agent.press("1").find("Gather/Pause") is not None


def test_the_longest_waiting_queue_is_dialled(client, caller, agents, clock):
    queued(caller)
    clock.tick(60)
    payments = caller("+8613800138000")  # the demo phone: verified by caller ID
    payments.start()
    payments.keys("2", "1", "2", "246810", "1")
    clock.tick(10)
    agent = Agent(client, AGENT_PHONE)
    agent.voice()
    assert agent.dial.find("Queue").text == "general"
    # a fraud agent sees neither
    li = Agent(client, "+8613900000009")
    li.voice()
    li.press("5555")
    assert li.press("1111").find("Gather/Pause") is not None


def test_an_agent_of_fraud_and_general_takes_fraud_first(client, caller, agents, clock):
    """Fraud first where agents are shared: a fraud caller who came later is put through
    before a general caller waiting longer (as ``ivr plan``'s groups serve them)."""
    agents.add("chen", "a long password", "agent", datetime.now(UTC),
               queues=("general", "fraud"), phone="+8613900000002", code="7777", pin="2468")
    queued(caller)
    clock.tick(120)
    fraud = caller("+8613700000003")
    fraud.start()
    fraud.keys("2", "3", "99999999#", "000000", "99999999#", "111111", "99999999#", "222222")
    assert fraud.queue == "fraud"
    clock.tick(10)
    chen = Agent(client, "+8613900000002")
    chen.voice()
    assert chen.dial.find("Queue").text == "fraud"
    # wang serves general and payments, not fraud: the general caller, 130 s waiting
    wang = Agent(client, AGENT_PHONE)
    wang.voice()
    assert wang.dial.find("Queue").text == "general"


def test_the_connecting_words_are_in_the_callers_language(client, caller, agents):
    zh = caller()
    zh.start()
    zh.keys("1", "0")  # Mandarin, an agent
    agent = Agent(client, AGENT_PHONE)
    agent.voice()
    heard = zh.post(agent.dial.find("Queue").get("url"), QueueSid="QU1", QueueTime="3",
                    DequeingCallSid=agent.sid)
    assert [s.text for s in heard.iter("Say")] == ["正在为您接通客服代表，请稍候。"]
    assert heard.find("Say").get("language") == "cmn-CN"


def test_known_by_code_and_pin_in_english(client, caller, agents, caplog):
    waiting = queued(caller)
    agent = Agent(client, "+15005550006")
    root = agent.voice()
    documented(root)
    assert urlsplit(agent.action).path == "/agent/code"
    root = agent.press("*")  # English
    assert root.find("Gather/Say").text.startswith("Welcome to the agents' line")
    with caplog.at_level(logging.DEBUG):
        agent.press(CODE)
        assert urlsplit(agent.action).path == "/agent/pin"
        root = agent.press(PIN)
    assert PIN not in caplog.text and CODE not in caplog.text
    assert agent.dial.find("Queue").text == "general"
    assert root.find("Say").text.startswith("Callers waiting in your queues: 1.")
    assert waiting.sid  # the caller is still queued until Twilio bridges them


def test_star_at_the_language_offer_switches_at_once(client, agents, app):
    """The code's Gather ends only on its hash key, so star there waits out the 10 s
    time-out: the switch is offered first, in a Gather of one key that star ends."""
    agent = Agent(client, "+15005550006")
    root = agent.voice()
    documented(root)
    offer = root.find("Gather")
    assert urlsplit(offer.get("action")).path == "/agent/language"
    assert offer.get("numDigits") == "1" and offer.get("finishOnKey") == ""
    assert offer.get("actionOnEmptyResult") != "true"  # silence goes on to the code prompt
    assert [e.text for e in offer.iter("Say")] == ["欢迎致电客服代表专线。", "For English, press star."]
    assert root.find("Gather[2]/Say").text == "请输入您的工号，以井号键结束。"
    root = agent.switch()
    assert [e.text for e in root.find("Gather").iter("Say")] == [
        "Welcome to the agents' line.", "普通话服务请按星号键。"]
    assert root.find("Gather[2]/Say").text == \
        "Please enter your agent code, followed by the hash key."
    # a key other than star there (the code typed before it was asked for): the code prompt
    root = agent.post(root.find("Gather").get("action"), Digits="4")
    assert urlsplit(root.find("Gather").get("action")).path == "/agent/code"
    agent.press(CODE)
    assert agent.press(PIN).find("Gather/Pause") is not None  # in, in English
    kept = app.extensions["ivr"].store.read_one("SELECT * FROM agent_calls WHERE call_sid=?",
                                                (agent.sid,))
    assert kept["lang"] == "en-US" and kept["agent"] == "wang" and kept["tries"] == 1


def test_silence_at_the_code_and_pin_prompts_is_no_input_and_spends_no_try(client, agents,
                                                                          app):
    agent = Agent(client, "+15005550006")
    root = agent.voice()
    # each silence falls through, in the document itself, to "no input" and the prompt
    # again; after the third, goodbye: the server hears of none of them
    assert [e.tag for e in root] == ["Gather", "Gather", "Say", "Gather", "Say", "Gather",
                                     "Say", "Hangup"]
    codes = root.findall("Gather")[1:]
    assert {urlsplit(g.get("action")).path for g in codes} == {"/agent/code"}
    assert all(g.get("actionOnEmptyResult") != "true" for g in codes)
    assert [e.text for e in root.findall("Say")] == [
        "对不起，没有收到您的输入。", "对不起，没有收到您的输入。", "感谢您的来电，再见。"]
    # a request that comes without keys all the same: no input, not a wrong code
    root = agent.press("")
    assert [e.text for e in root.find("Gather").iter("Say")] == [
        "对不起，没有收到您的输入。", "请输入您的工号，以井号键结束。"]
    agent.press(CODE)
    root = agent.press("")  # silence at the PIN: asked again, the code kept
    assert urlsplit(agent.action).path == "/agent/pin"
    assert [e.text for e in root.find("Gather").iter("Say")] == [
        "对不起，没有收到您的输入。", "请输入您的密码，以井号键结束。"]
    assert agent.press(PIN).find("Gather/Pause") is not None  # in: nobody waiting
    assert not any("工号和密码不符" in said for said in agent.heard)
    store = app.extensions["ivr"].store
    kept = store.read_one("SELECT * FROM agent_calls WHERE call_sid=?", (agent.sid,))
    assert kept["agent"] == "wang" and kept["tries"] == 1  # the one PIN checked
    assert store.read_one("SELECT COUNT(*) FROM pin_attempts")[0] == 1


def test_three_wrong_pins_end_the_call(client, agents, app, caplog):
    agent = Agent(client, "+15005550006")
    agent.voice()
    with caplog.at_level(logging.DEBUG):
        for attempt in range(3):
            agent.press(CODE)
            root = agent.press("97531")
            if attempt < 2:
                assert urlsplit(agent.action).path == "/agent/code"
                assert [e.text for e in root.iter("Say")][:3] == [
                    "工号和密码不符。", "For English, press star.", "请重新输入您的工号，以井号键结束。"]
    assert root.find("Gather") is None and root.find("Hangup") is not None
    assert root.find("Say").text == "工号和密码不符。再见。"
    assert "97531" not in caplog.text and CODE not in caplog.text
    # a fourth try on the same call is refused without looking
    assert agent.post("/agent/pin", Digits=PIN).find("Hangup") is not None
    kept = app.extensions["ivr"].store.read_one("SELECT * FROM agent_calls WHERE call_sid=?",
                                                (agent.sid,))
    assert kept["agent"] is None and kept["code"] is None and kept["tries"] == 3


def test_a_malformed_code_spends_a_try(client, agents):
    agent = Agent(client, "+15005550006")
    agent.voice()
    root = agent.press("12")
    assert urlsplit(agent.action).path == "/agent/code"
    assert root.find("Gather/Say").text.startswith("工号和密码不符")


def test_an_unknown_agent_call_at_next_starts_over(client, agents):
    agent = Agent(client, "+15005550006")
    root = agent.post("/agent/next", Digits="1")
    assert urlsplit(agent.action).path == "/agent/code" and root.find("Dial") is None


def test_the_language_chosen_is_kept_for_the_agents_next_call(client, agents):
    first = Agent(client, AGENT_PHONE)
    first.voice()
    first.press("*")
    second = Agent(client, AGENT_PHONE)
    root = second.voice()
    assert root.find("Gather/Say").text.startswith("No caller is waiting")
    assert root.find("Gather/Say[2]").text == "普通话服务请按星号键。"


def test_a_dial_that_bridged_nobody_offers_again(client, agents):
    agent = Agent(client, AGENT_PHONE)
    agent.voice()
    root = agent.post("/agent/dial-done", DialCallStatus="no-answer")
    assert root.find("Gather/Pause") is not None and root.find("Dial") is None


def test_a_failure_is_never_a_5xx(client, caller, agents, monkeypatch, caplog):
    from ivr.records import live

    waiting = queued(caller)
    agent = Agent(client, AGENT_PHONE)
    queue_url = agent.voice().find("Dial/Queue").get("url")

    def broken(*args, **kwargs):
        raise RuntimeError("the database is gone")

    monkeypatch.setattr(live, "waiting", broken)
    monkeypatch.setattr(live, "record_bridge", broken)
    root = Agent(client, AGENT_PHONE).voice()
    assert [s.text for s in root.iter("Say")] == ["感谢您的来电，再见。"]
    assert root.find("Hangup") is not None
    # the caller being dequeued hears nothing from us, and is put through all the same
    heard = waiting.post(queue_url, QueueSid="QU1", QueueTime="5", DequeingCallSid=agent.sid)
    assert list(heard) == []
    assert "agent webhook /agent/connect failed" in caplog.text


def test_wrong_pins_over_several_calls_lock_the_code(client, agents, caplog):
    """The callers' lockout book counts an agent code's wrong PINs over all calls: after 5
    even the right PIN is refused (from another line too)."""
    for attempt in range(5):
        agent = Agent(client, f"+1500555{attempt:04d}")
        agent.voice()
        agent.press(CODE)
        agent.press("97531")
    agent = Agent(client, "+15005559999")
    agent.voice()
    agent.press(CODE)
    root = agent.press(PIN)
    assert root.find("Dial") is None and root.find("Hangup") is not None
    assert "that agent code is locked" in caplog.text and PIN not in caplog.text


def test_twenty_parallel_pins_in_one_agent_call_check_at_most_three(app, agents, settings):
    """20 PINs at once into one agent call (one CallSid, 20 threads, as 20 workers would
    take them): the per-call limit holds whatever the parallelism, in checks made (the
    lockout book's rows) and in tries counted on the call."""
    from concurrent.futures import ThreadPoolExecutor

    agent = Agent(app.test_client(), "+15005550006")
    agent.voice()
    agent.press(CODE)
    pin_url = agent.action

    def guess(n: int) -> int:
        other = Agent(app.test_client(), "+15005550006")
        other.sid = agent.sid
        return other.send(pin_url, Digits=f"{97000 + n}").status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert set(pool.map(guess, range(20))) == {200}
    store = app.extensions["ivr"].store
    checked = store.read_one("SELECT COUNT(*) FROM pin_attempts")[0]
    tries = store.read_one("SELECT tries FROM agent_calls WHERE call_sid=?", (agent.sid,))[0]
    assert checked <= agent_flow.MAX_TRIES
    assert tries <= agent_flow.MAX_TRIES
