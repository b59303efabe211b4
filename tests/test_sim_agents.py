"""The simulator plays agents: a caller waits on the target's switchboard, an agent calls
the real /agent/voice, whose <Dial><Queue> dequeues them; both sides of the bridge."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import signed_app
from flask import Response, request
from twilio.twiml.voice_response import VoiceResponse

from ivr.records.users import DEMO_AGENT, DEMO_AGENT_PHONE
from ivr.sim import CallOptions, FlaskTransport, Hold, Script, sandbox, simulate
from ivr.sim.scenario import load, run
from ivr.sim.switchboard import Switchboard

SCENARIOS = Path(__file__).parent / "scenarios" / "agents.yaml"
TOKEN = "far-end-token"
BASE = "http://far.test"


@pytest.fixture(name="target", scope="module")
def _target():
    with sandbox() as target:
        yield target


@pytest.mark.parametrize("scenario", load(SCENARIOS), ids=lambda s: s.name)
def test_the_agents_scenarios(scenario, target):
    result = run(scenario, target)
    assert result.passed, "\n".join(result.failures)


def test_an_agent_takes_the_waiting_caller_through_the_real_endpoints(target):
    (scenario, *_) = load(SCENARIOS)
    result = run(scenario, target)
    caller, agent = result.traces
    events = [e["type"] for e in caller.events]
    # the caller: queued, hears "connecting" from the Queue url, talks, hangs up
    heard = [e.get("text") for e in caller.events if e["type"] == "say"]
    assert heard[-1] == "Connecting you to an agent now."
    assert events[-2:] == ["bridge", "input"] and caller.outcome.ended_by == "caller-hangup"
    (queued,) = caller.of_type("enqueue")
    assert queued["result"] == "bridged"
    bridge = caller.of_type("bridge")[0]
    assert bridge["duration_s"] == 90.0 and bridge["agent"] == agent.call_sid
    # the agent: hears who waits, dials the queue, talks as long, is offered the next
    assert agent.of_type("dial")[0]["to"] == ["Queue:general"]
    assert agent.of_type("bridge")[0]["caller"] == caller.call_sid
    assert "接听下一位来电者" in " ".join(agent.heard())
    # what the app recorded on the caller's call: the bridge, the wait, the talk
    record = target.record(caller.call_sid)
    assert record["queue_result"] == "bridged" and record["agent"] == DEMO_AGENT
    assert record["wait_s"] == int(queued["hold_s"]) and record["talk_s"] == 90
    assert record["ended_at"] is not None  # its status callback came after the talk


def test_star_switches_the_agents_line_at_once(target):
    """Star at the offer said before the code ends its Gather of one key: the English words
    follow at once, not after the code prompt's 10 s time-out."""
    trace = target.call(Script.parse(["*", "_", "1001#", "2580#", "h"]).caller(),
                        from_="+15005550006", url="/agent/voice")
    star = trace.of_type("input")[0]
    assert (star["keys"], star["ended"], star["duration_s"]) == ("*", "num-digits", 0.0)
    english = next(e for e in trace.events if e.get("text") == "Welcome to the agents' line.")
    assert english["t"] == star["t"]
    assert "Please enter your PIN, followed by the hash key." in trace.heard()


def test_a_caller_nobody_takes_ends_queued_as_before(target):
    target.reset()
    trace = target.call(Script.parse(["2", "0"]).caller(), from_="+8613700000000",
                        hold=Hold(wait_for_agent=True))
    assert target.switchboard.holds(trace.call_sid)
    assert target.record(trace.call_sid)["ended_at"] is None  # still waiting
    final = target.switchboard.close()[trace.call_sid]
    assert final.outcome.ended_by == "enqueue" and final.outcome.queue == "general"
    assert final.of_type("enqueue")[0]["result"] == "queued"
    assert target.record(trace.call_sid)["ended_at"] is not None
    assert not target.switchboard.holds(trace.call_sid)


def far_end(queue_doc: str) -> tuple:
    """A far end of the test's own: /voice dials queue ``support``, /connect answers
    ``queue_doc`` (the Queue url), /done the Dial's action."""
    app = signed_app("far", TOKEN)

    @app.post("/voice")
    def voice() -> Response:
        vr = VoiceResponse()
        dial = vr.dial(action="/done", timeout=10)
        dial.queue("support", url="/connect", bogus="1")
        return Response(str(vr), mimetype="text/xml")

    @app.post("/wait")
    def wait() -> Response:
        return Response("<Response><Pause length='5'/></Response>", mimetype="text/xml")

    @app.post("/enqueue")
    def enqueue() -> Response:
        return Response("<Response><Enqueue action='/left' waitUrl='/wait'>support</Enqueue>"
                        "</Response>", mimetype="text/xml")

    @app.post("/connect")
    def connect() -> Response:
        return Response(queue_doc, mimetype="text/xml")

    @app.post("/done")
    @app.post("/left")
    def done() -> Response:
        return Response(f"<Response><Say>{request.path}</Say></Response>", mimetype="text/xml")

    return app, app.config["SEEN"]


def _call(app, path: str, board: Switchboard, **hold) -> object:
    return simulate(f"{BASE}{path}", transport=FlaskTransport(app, BASE), token=TOKEN,
                    options=CallOptions(switchboard=board, hold=Hold(**hold)))


def test_a_dial_of_an_empty_queue_waits_its_timeout():
    app, seen = far_end("<Response/>")
    trace = _call(app, "/voice", Switchboard())
    assert [w["message"] for w in trace.of_type("warning")] == [
        "<Queue> has unknown attribute bogus: ignored"]
    method, path, params = seen[-1]
    assert path == "/done" and params["DialCallStatus"] == "no-answer"
    dial = trace.of_type("dial")[0]
    assert trace.of_type("say")[0]["t"] == dial["t"] + 10.0


def test_the_queue_url_is_asked_for_the_caller_and_only_plays():
    app, seen = far_end("<Response><Say>connecting</Say><Gather/><Hangup/></Response>")
    board = Switchboard()
    caller = _call(app, "/enqueue", board, wait_for_agent=True, talk_s=30)
    assert caller.outcome.ended_by == "enqueue" and board.holds(caller.call_sid)
    agent = _call(app, "/voice", board)
    connect = next(p for _, path, p in seen if path == "/connect")
    assert connect["CallSid"] == caller.call_sid and connect["DequeingCallSid"] == agent.call_sid
    assert connect["QueueSid"].startswith("QU") and connect["QueueTime"] == "5"
    left = next(p for _, path, p in seen if path == "/left")
    assert left["QueueResult"] == "bridged" and left["CallStatus"] == "completed"
    done = next(p for _, path, p in seen if path == "/done")
    assert (done["DialCallStatus"], done["DialCallDuration"], done["DialCallSid"]) == (
        "completed", "30", caller.call_sid)
    final = board.close()[caller.call_sid]
    assert [w["message"] for w in final.of_type("warning")] == [
        "<Gather> is not allowed in a <Queue url> document: ignored",
        "<Hangup> is not allowed in a <Queue url> document: ignored"]
    assert final.heard()[-1] == "connecting"
    assert agent.heard() == ["/done"]  # the Dial's action answered, and was played


def test_a_dial_of_a_number_still_stops_the_run():
    app = signed_app("number", TOKEN)

    @app.post("/voice")
    def voice() -> Response:
        return Response("<Response><Dial>+15551234567</Dial></Response>", mimetype="text/xml")

    trace = _call(app, "/voice", Switchboard())
    assert trace.outcome.ended_by == "dial"


def test_agent_calls_are_not_counted_as_hotline_calls(target):
    from ivr.sim.bulk import run_batch

    batch = run_batch(load(SCENARIOS), target=target)
    assert not batch.failed
    assert batch.calls == 2  # the two callers; the four agent calls are not hotline calls
    assert DEMO_AGENT_PHONE.startswith("+86")
