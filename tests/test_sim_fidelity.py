"""The simulator against Twilio's documented behaviour (issue 9, points 18-20).

- 18: when the caller leaves the queue Twilio requests the ``<Enqueue>`` action with
  QueueResult: ``hangup`` (hung up while holding, or the wait document hung up; the call
  being over, what the action answers is not run), ``bridged``, ``queue-full``,
  ``error``, ``system-error``, ``leave``.
- 19: barge-in: a key stops a ``<Gather>``'s nested prompt; ``1!`` presses as it starts.
- 20: ``waitUrl=""`` is silence; text/plain and audio answers; 10 HTTP redirects at most
  (11215, 11216) and no Digits after a 3xx; 11770, 12102; attribute problems are warnings.
"""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Callable
from typing import Any

import pytest
from conftest import signed_app
from flask import Flask, Response, request
from twilio.twiml.voice_response import VoiceResponse

from ivr.sim import CallOptions, FlaskTransport, Hold, InteractiveCaller, Script, simulate
from ivr.sim.caller import Answer, Kind
from ivr.sim.errors import ScenarioError
from ivr.sim.scenario import load, run
from ivr.sim.target import Target
from ivr.sim.trace import Trace

TOKEN = "fidelity-token"
BASE = "http://fidelity.test"
SID = "CA" + "2" * 32


def twiml(document: VoiceResponse | str, mimetype: str = "text/xml") -> Response:
    return Response(str(document), mimetype=mimetype)


def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\0\0" * int(seconds * rate))
    return out.getvalue()


def queue_app(enqueue: Callable[[VoiceResponse], None], wait: str | None = None) -> Flask:
    """/voice enqueues as ``enqueue`` says; /wait answers ``wait`` (default: a Gather for
    1 with a message, then a pause); /done is the action and says the QueueResult."""
    app = signed_app("queue", TOKEN)

    @app.post("/voice")
    def voice() -> Response:
        vr = VoiceResponse()
        enqueue(vr)
        vr.say("After the queue.")
        return twiml(vr)

    @app.post("/wait")
    def wait_doc() -> Response:
        if wait is not None:
            return twiml(wait)
        vr = VoiceResponse()
        with vr.gather(num_digits=1, action="/key", timeout=1) as g:
            g.say("You are number one.")
        vr.pause(length=10)
        return twiml(vr)

    @app.post("/key")
    def key() -> Response:
        vr = VoiceResponse()
        vr.leave()
        return twiml(vr)

    @app.post("/status")
    def status() -> Response:
        return Response("", status=204)

    @app.post("/done")
    def done() -> Response:
        vr = VoiceResponse()
        vr.say(f"Result {request.form['QueueResult']} after {request.form['QueueTime']} s.")
        vr.hangup()
        return twiml(vr)

    return app


def with_action(vr: VoiceResponse) -> None:
    vr.enqueue("support", wait_url="/wait", action="/done")


def call(app: Flask, press: str = "", **options: Any) -> Trace:
    return simulate(
        f"{BASE}/voice",
        transport=FlaskTransport(app, BASE),
        token=TOKEN,
        caller=Script.parse(press).caller(),
        options=CallOptions(call_sid=SID, **options),
    )


def posted(app: Flask, path: str) -> list[dict[str, str]]:
    return [params for _, p, params in app.config["SEEN"] if p == path]


# -- 18: the Enqueue action and QueueResult ------------------------------------------------


def test_hanging_up_while_holding_requests_the_action_with_queue_result_hangup() -> None:
    app = queue_app(with_action)
    trace = call(app, "h", status_callback=f"{BASE}/status")
    [done] = posted(app, "/done")
    assert (done["QueueResult"], done["QueueTime"], done["CallStatus"]) == (
        "hangup",
        "1",  # "You are number one." took 1.6 s
        "completed",
    )
    assert done["QueueSid"].startswith("QU")
    # the call is over: what the action answers is not played
    assert trace.events[-1] == {"t": 1.6, "type": "input", "hangup": True}
    assert trace.of_type("enqueue")[0]["result"] == "hangup"
    assert trace.outcome.ended_by == "caller-hangup"


def test_a_wait_document_that_hangs_up_requests_the_action_with_hangup() -> None:
    app = queue_app(with_action, wait="<Response><Say>Closing.</Say><Hangup/></Response>")
    trace = call(app)
    [done] = posted(app, "/done")
    assert done["QueueResult"] == "hangup" and done["CallStatus"] == "completed"
    assert [e["type"] for e in trace.events[-2:]] == ["say", "hangup"]
    assert trace.events[-2]["text"] == "Closing."
    assert trace.outcome.ended_by == "hangup"


def test_a_caller_out_of_patience_hangs_up_at_that_moment() -> None:
    app = queue_app(with_action)
    trace = call(app, hold=Hold(wait_loops=None, patience_s=30))
    [done] = posted(app, "/done")
    assert (done["QueueResult"], done["QueueTime"]) == ("hangup", "30")
    enqueue = trace.of_type("enqueue")[0]
    assert (enqueue["result"], enqueue["hold_s"]) == ("hangup", 30.0)
    assert trace.outcome.duration_s == 30.0 and trace.outcome.ended_by == "caller-hangup"


def test_hanging_up_after_the_wait_loops() -> None:
    app = queue_app(with_action)
    trace = call(app, hold=Hold(wait_loops=2, ends="hangup"))
    assert [d["QueueResult"] for d in posted(app, "/done")] == ["hangup"]
    assert len(posted(app, "/wait")) == 2 and trace.outcome.ended_by == "caller-hangup"


def test_an_agent_who_talks_then_hangs_up_leads_to_the_action_with_bridged() -> None:
    app = queue_app(with_action)
    trace = call(app, hold=Hold(wait_loops=None, bridge_after_s=5, talk_s=60))
    [done] = posted(app, "/done")
    assert (done["QueueResult"], done["QueueTime"]) == ("bridged", "5")
    bridge = trace.of_type("bridge")[0]
    assert (bridge["t"], bridge["duration_s"], bridge["queue"]) == (5.0, 60.0, "support")
    # the caller is still on the line: the action's answer runs
    assert trace.events[-2]["text"] == "Result bridged after 5 s."
    assert trace.outcome.ended_by == "hangup" and trace.outcome.duration_s > 65


def test_a_full_queue_refuses_the_caller() -> None:
    app = queue_app(with_action)
    trace = call(app, hold=Hold(queue_size=11, max_queue_size=10))
    assert posted(app, "/wait") == []
    [done] = posted(app, "/done")
    assert (done["QueueResult"], done["QueueTime"]) == ("queue-full", "0")
    assert trace.of_type("enqueue")[0]["result"] == "queue-full"
    assert trace.time_to_queue_s is None  # never queued
    assert trace.events[-2]["text"] == "Result queue-full after 0 s."
    # the Enqueue's own maxQueueSize counts as well; without an action the next verb runs
    app = queue_app(lambda vr: vr.enqueue("support", wait_url="/wait", max_queue_size=1))
    trace = call(app, hold=Hold(queue_size=2))
    assert trace.events[-1]["text"] == "After the queue."


@pytest.mark.parametrize("result", ["error", "system-error"])
def test_twilio_taking_the_caller_out_of_the_queue(result: str) -> None:
    app = queue_app(with_action)
    trace = call(app, hold=Hold(ends=result))
    assert [d["QueueResult"] for d in posted(app, "/done")] == [result]
    assert trace.events[-2]["text"] == f"Result {result} after 12 s."  # 1.6 + 1 + 10


def test_leave_still_posts_leave() -> None:
    app = queue_app(with_action)
    trace = call(app, "1")
    assert [d["QueueResult"] for d in posted(app, "/done")] == ["leave"]
    assert trace.events[-2]["text"].startswith("Result leave")


def test_a_bad_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="hold ends 'redirected'"):
        Hold(ends="redirected")
    with pytest.raises(ValueError, match="patience_s"):
        Hold(patience_s=-1)


def test_the_apps_queue_done_hears_the_caller_hang_up(target: Target) -> None:
    assert target.quiet_at is not None
    target.set_clock(target.quiet_at)
    trace = target.call(Script.parse("2 0 h").caller(), from_="+8613700000000")
    record = target.record(trace.call_sid)
    assert record is not None and record["queue"] == "general"
    assert record["queue_result"] == "hangup"  # the app's queue_done was requested
    # an abandoning caller, by patience: the same
    trace = target.call(
        Script.parse("2 0").caller(),
        from_="+8613700000000",
        hold=Hold(wait_loops=None, patience_s=20),
    )
    record = target.record(trace.call_sid)
    assert record is not None and record["queue_result"] == "hangup"
    assert trace.of_type("enqueue")[0]["hold_s"] == 20.0


# -- 19: barge-in ----------------------------------------------------------------------------


def menu_app() -> Flask:
    app = Flask("menu")
    app.config["SEEN"] = seen = []

    @app.post("/voice")
    def voice() -> Response:
        vr = VoiceResponse()
        with vr.gather(num_digits=1, action="/choice", timeout=5) as g:
            g.say("one two three four five six seven eight nine ten")  # 4.0 s
            g.say("eleven twelve thirteen fourteen fifteen")  # 2.0 s
        return twiml(vr)

    @app.post("/choice")
    def choice() -> Response:
        seen.append(request.form["Digits"])
        return twiml(VoiceResponse().hangup())

    return app


def test_a_caller_who_knows_the_key_stops_the_prompt_as_it_starts() -> None:
    listening = call(menu_app(), "1")
    assert listening.of_type("input")[0]["t"] == 7.0  # 6 s of prompt, 1 s to react
    app = menu_app()
    barging = call(app, "1!")
    say, key = barging.events[1], barging.events[2]
    assert say == {
        "t": 0.0,
        "type": "say",
        "text": "one two three four five six seven eight nine ten",
        "voice": "man",
        "language": "en-US",
        "loop": 1,
        "duration_s": 1.0,  # cut by the key, after the caller's reaction time
        "interrupted": True,
    }
    assert key["type"] == "input" and key["t"] == 1.0 and key["barged_in"] is True
    assert app.config["SEEN"] == ["1"]
    assert len(barging.of_type("say")) == 1  # the second part was never played
    assert barging.outcome.duration_s == 1.0


def test_barging_in_after_hearing_part_of_the_prompt() -> None:
    trace = call(menu_app(), "1!4.5")  # decided during the second <Say>
    says = trace.of_type("say")
    assert [s["duration_s"] for s in says] == [4.0, 1.5] and says[1].get("interrupted")
    assert trace.of_type("input")[0]["t"] == 5.5
    # never later than a caller who listened to the end
    assert call(menu_app(), "1!60").of_type("input")[0]["t"] == 7.0
    assert "barged_in" not in call(menu_app(), "1!60").of_type("input")[0]


@pytest.mark.parametrize(("token", "keys", "barge_in_s"), [("1!", "1", 0.0), ("12#!2.5", "12#", 2.5)])
def test_the_barge_in_notation(token: str, keys: str, barge_in_s: float) -> None:
    parsed = Answer.parse(token)
    assert (parsed.kind, parsed.value, parsed.barge_in_s) == (Kind.KEYS, keys, barge_in_s)
    assert str(parsed) == token
    assert str(Script.parse(f"2 {token} _")) == f"2 {token} _"


@pytest.mark.parametrize("token", ["!", "1!x", "1!-2", "h!", "1!nan", "a!"])
def test_a_bad_barge_in_is_refused(token: str) -> None:
    with pytest.raises(ScenarioError):
        Answer.parse(token)


def test_a_person_at_the_terminal_hears_the_prompt_before_answering() -> None:
    shown: list[str] = []
    typed = iter(["1!"])

    def read(prompt: str) -> str:
        shown.append("asked")
        return next(typed)  # asked once: the answer comes after the whole prompt

    caller = InteractiveCaller(read=read, show=lambda e: shown.append(str(e["type"])))
    trace = simulate(
        f"{BASE}/voice", transport=FlaskTransport(menu_app(), BASE), token=TOKEN, caller=caller
    )
    assert shown[:4] == ["gather", "say", "say", "asked"]
    assert trace.of_type("input")[0]["t"] == 7.0  # heard it all: no barge-in


def test_a_pin_typed_over_the_pin_prompt_is_still_masked(target: Target) -> None:
    assert target.quiet_at is not None
    target.set_clock(target.quiet_at)
    trace = target.call(
        Script.parse("2! 1! 2! 10000001#! 246810! 1 20261120 5#").caller(),
        from_="+8613700000000",
    )
    assert sum(1 for e in trace.of_type("input") if e.get("barged_in")) == 5
    text = trace.to_json()
    assert "246810" not in text and "10000001" not in text
    assert trace.outcome.queue == "payments"


def test_barging_in_makes_the_time_to_queue_honest(target: Target) -> None:
    assert target.quiet_at is not None
    target.set_clock(target.quiet_at)
    listening = target.call(Script.parse("2 5 1").caller(), from_="+8613700000000")
    barging = target.call(Script.parse("2! 5! 1!").caller(), from_="+8613700000000")
    assert listening.outcome.queue == barging.outcome.queue == "general"
    assert listening.time_to_queue_s is not None and barging.time_to_queue_s is not None
    assert listening.time_to_queue_s - barging.time_to_queue_s > 15
    # and the app logged the steps at those times
    logged = target.logged(barging.call_sid)
    assert logged is not None and logged[-1]["outcome"] == "enqueue:general"


# -- 20: documents, content types, redirects, errors and warnings --------------------------


def odd_app() -> Flask:
    app = Flask("odd")
    app.config["SEEN"] = seen = []

    @app.before_request
    def note() -> None:
        seen.append((request.method, request.path, dict(request.values)))

    @app.post("/voice")
    def voice() -> Response:
        vr = VoiceResponse()
        with vr.gather(num_digits=1, action="/pick", timeout=3, finish_on_key="") as g:
            g.say("Pick.")
        return twiml(vr)

    @app.route("/pick", methods=["GET", "POST"])
    def pick() -> Response:
        digits = request.values.get("Digits", "")
        answers: dict[str, Callable[[], Response]] = {
            "1": lambda: twiml("<Response><Say>plain TwiML</Say></Response>", "text/plain"),
            "2": lambda: Response(wav_bytes(2.5), mimetype="audio/wav"),
            "3": lambda: Response("<Response/>", status=307, headers={"Location": "/after-307"}),
            "4": lambda: Response("", status=302, headers={"Location": "/after-302"}),
            "5": lambda: Response("", status=302, headers={"Location": "/hop/1"}),
            "6": lambda: Response("", status=302, headers={"Location": "/hop/0"}),
            "7": lambda: Response("moved", status=308, headers={"Location": "/after-302"}),
            "8": lambda: Response("", mimetype="text/xml"),
            "9": lambda: twiml("<Responses><Say>hi</Say></Responses>"),
            "0": lambda: Response('{"ok": true}', mimetype="application/json"),
            "*": lambda: twiml(
                '<Response><Gather timeout="soon" numDigits="1"><Say loop="x">Again.</Say>'
                "</Gather><Say>Bye.</Say></Response>"
            ),
            "#": lambda: twiml('<Response><Enqueue waitUrlMethod="PUT">q</Enqueue></Response>'),
        }
        return answers[digits]() if digits in answers else twiml("<Response><Hangup/></Response>")

    @app.route("/after-307", methods=["GET", "POST"])
    @app.route("/after-302", methods=["GET", "POST"])
    def after() -> Response:
        return twiml(f"<Response><Say>Digits {request.values.get('Digits', 'none')}.</Say></Response>")

    @app.route("/hop/<int:n>", methods=["GET", "POST"])
    def hop(n: int) -> Response:
        if n >= 10:  # /hop/0 ... /hop/10: 11 redirects from /pick
            return twiml("<Response><Say>Landed.</Say></Response>")
        return Response("", status=301, headers={"Location": f"/hop/{n + 1}"})

    return app


def odd(press: str) -> tuple[Trace, list[tuple[str, str, dict[str, str]]]]:
    app = odd_app()
    trace = simulate(
        f"{BASE}/voice",
        transport=FlaskTransport(app, BASE),
        token=TOKEN,
        caller=Script.parse(press).caller(),
    )
    return trace, app.config["SEEN"]


def test_text_plain_twiml_runs_as_twiml() -> None:
    trace, _ = odd("1")
    assert trace.events[-1]["text"] == "plain TwiML" and trace.error is None


def test_an_audio_answer_is_played_then_the_call_hangs_up() -> None:
    trace, _ = odd("2")
    play, hangup = trace.events[-2:]
    assert (play["type"], play["url"], play["duration_s"]) == ("play", f"{BASE}/pick", 2.5)
    assert hangup["type"] == "hangup" and trace.outcome.ended_by == "hangup"


def test_after_a_307_the_method_stays_but_digits_are_not_sent_again() -> None:
    trace, seen = odd("3")
    assert seen[-1][:2] == ("POST", "/after-307") and "Digits" not in seen[-1][2]
    assert seen[-1][2]["CallSid"] == seen[0][2]["CallSid"]
    assert trace.events[-1]["text"] == "Digits none."


def test_after_a_302_the_redirect_is_a_get_without_digits() -> None:
    trace, seen = odd("4")
    assert seen[-1][:2] == ("GET", "/after-302") and "Digits" not in seen[-1][2]
    assert trace.events[-1]["text"] == "Digits none."


def test_ten_redirects_are_followed_and_the_eleventh_is_11215() -> None:
    trace, seen = odd("5")  # /pick -> /hop/1 ... /hop/10: 10 redirects
    assert trace.events[-1]["text"] == "Landed." and len(seen) == 12
    trace, seen = odd("6")  # /pick -> /hop/0 ... /hop/10: 11
    assert trace.error is not None
    assert (trace.error["code"], trace.error["message"]) == (
        11215,
        "HTTP too many redirects (more than 10)",
    )
    assert trace.outcome.ended_by == "error"


@pytest.mark.parametrize(
    ("key", "code", "message"),
    [
        ("7", 11216, "HTTP invalid redirect: status 308, not a redirect"),
        ("8", 11770, "empty response body"),
        ("9", 12102, "the root element must be <Response>, not <Responses>"),
        ("0", 12300, "invalid Content-Type 'application/json'"),
        ("#", 14206, "Enqueue: invalid waitUrlMethod 'PUT'"),
    ],
)
def test_documented_errors_end_the_call(key: str, code: int, message: str) -> None:
    trace, _ = odd(key)
    assert trace.error is not None
    assert (trace.error["code"], trace.error["message"]) == (code, message)
    assert trace.outcome.ended_by == "error"


def test_bad_attribute_values_are_warnings_and_their_defaults_are_used() -> None:
    trace, _ = odd("* _")
    warnings = [(w["code"], w["message"]) for w in trace.warnings]
    assert warnings == [
        (13313, "<Gather timeout='soon'> is not a whole number: 5 used"),
        (13322, "<Say loop='x'> is not a whole number: 1 used"),
    ]
    timeout = trace.of_type("input")[-1]
    assert timeout["timeout"] is True and timeout["duration_s"] == 5.0
    assert trace.events[-1]["text"] == "Bye." and trace.error is None


def test_wait_url_empty_is_silence_not_music() -> None:
    app = queue_app(lambda vr: vr.enqueue("support", wait_url=""))
    trace = call(app, hold=Hold(wait_loops=2))
    enqueue = trace.of_type("enqueue")[0]
    assert enqueue["wait_url"] == ""
    assert trace.of_type("play") == []
    assert [(e["type"], e["duration_s"], e.get("silence")) for e in trace.events[-2:]] == [
        ("pause", 30.0, True),
        ("pause", 30.0, True),
    ]
    assert posted(app, "/wait") == []
    # no waitUrl at all is Twilio's music
    music = call(queue_app(lambda vr: vr.enqueue("support")))
    assert music.of_type("play")[0]["url"].endswith("BusyStrings.mp3")


def test_an_audio_wait_url_is_played_and_fetched_again() -> None:
    app = Flask("audio-wait")

    @app.post("/voice")
    def voice() -> Response:
        return twiml('<Response><Enqueue waitUrl="/music">support</Enqueue></Response>')

    @app.post("/music")
    def music() -> Response:
        return Response(wav_bytes(4.0), mimetype="audio/x-wav")

    trace = call(app, hold=Hold(wait_loops=3))
    assert [e["duration_s"] for e in trace.of_type("play")] == [4.0, 4.0, 4.0]
    assert trace.outcome.ended_by == "enqueue" and trace.outcome.duration_s == 12.0


# -- the scenarios file of these behaviours runs clean ---------------------------------------


def test_the_fidelity_scenarios(target: Target) -> None:
    from pathlib import Path

    scenarios = load(Path(__file__).parent / "scenarios" / "fidelity.yaml")
    results = [run(s, target) for s in scenarios]
    assert all(r.passed for r in results), "\n".join(r.line() for r in results)
    assert json.dumps([r.scenario.name for r in results])


def test_the_readme_barge_in_example_runs() -> None:
    from click.testing import CliRunner

    from ivr.cli.calls import call as call_command

    result = CliRunner().invoke(
        call_command, ["--press", "2! 0!", "--at", "wed 09:30"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "pressed 2 during the prompt" in result.output
    assert "pressed 0 during the prompt" in result.output
    assert "call ended by enqueue in queue 'general'" in result.output
