"""The interpreter against a deliberately tricky TwiML server: exact Twilio traces.

The server below is written with the twilio library and checks every signature, so a
trace here proves both the TwiML semantics and the signing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import signed_app
from flask import Flask, Response, request
from twilio.twiml.voice_response import Dial, VoiceResponse
from werkzeug.serving import make_server

from ivr.sim import CallOptions, FlaskTransport, Hold, HTTPTransport, Script, simulate
from ivr.sim.caller import InteractiveCaller

TOKEN = "tricky-token"
BASE = "http://tricky.test"
SID = "CA" + "1" * 32


def twiml(vr: VoiceResponse | str) -> Response:
    return Response(str(vr), mimetype="text/xml")


def tricky_app() -> Flask:
    app = signed_app("tricky", TOKEN)

    @app.post("/voice")
    def voice() -> Response:
        vr = VoiceResponse()
        if request.args.get("retry"):
            vr.say("Goodbye.")
            vr.hangup()
            return twiml(vr)
        with vr.gather(num_digits=1, action="menu/choice", timeout=3) as g:
            g.say("Menu.", voice="Polly.Joanna")
            g.pause(length=2)
        vr.say("Nothing?")
        vr.redirect("voice?retry=1")
        return twiml(vr)

    @app.post("/menu/choice")
    def choice() -> Response:
        vr = VoiceResponse()
        digit = request.form["Digits"]
        if digit == "1":
            vr.redirect("../queue/join")
        elif digit == "2":
            vr.say("Message.")
            vr.record(action="done", max_length=30, finish_on_key="#", timeout=4)
            vr.say("Nothing recorded.")
        elif digit == "3":
            with vr.gather(action="errors", num_digits=1, action_on_empty_result=True) as g:
                g.say("Pick.")
        elif digit == "4":
            with vr.gather(input="speech", action="/speech", speech_timeout="auto") as g:
                g.say("Speak.")
        elif digit == "5":
            with vr.gather(finish_on_key="*", timeout=2) as g:  # no action: posts to this URL
                g.play(digits="1w2")
        return twiml(vr)

    @app.post("/menu/errors")
    def errors() -> Response:
        digits = request.form.get("Digits")
        if digits is None:
            vr = VoiceResponse()
            vr.say("Empty.")
            return twiml(vr)
        if digits == "5":
            return Response("boom", status=500)
        if digits == "4":
            return Response("nope", status=404)
        if digits == "6":
            return Response("<Response><Say>unclosed</Response>", mimetype="text/xml")
        if digits == "7":
            return twiml("<Response><Sayy>typo</Sayy></Response>")
        if digits == "8":
            vr = VoiceResponse()
            with vr.gather() as g:
                g.append(Dial("+15550001111"))
            return twiml(vr)
        if digits == "9":
            return twiml('<Response><Say colour="red">hi</Say></Response>')
        return Response("just text", mimetype="text/plain")

    @app.post("/menu/done")
    def done() -> Response:
        vr = VoiceResponse()
        vr.say(
            f"Got {request.form['RecordingDuration']} s ending {request.form.get('Digits', 'none')}."
        )
        vr.hangup()
        return twiml(vr)

    @app.post("/speech")
    def speech() -> Response:
        vr = VoiceResponse()
        vr.say(f"You said {request.form['SpeechResult']} ({request.form['Confidence']}).")
        return twiml(vr)

    @app.post("/queue/join")
    def join() -> Response:
        vr = VoiceResponse()
        vr.enqueue("support", wait_url="wait", wait_url_method="GET", action="after")
        vr.say("Unreachable after a leave with an action.")
        return twiml(vr)

    @app.get("/queue/wait")
    def wait() -> Response:
        vr = VoiceResponse()
        with vr.gather(num_digits=1, action="wait-choice", timeout=2) as g:
            g.say(f"You are number {request.args['QueuePosition']}.")
        vr.play("/audio/hold.wav")
        return twiml(vr)

    @app.post("/queue/wait-choice")
    def wait_choice() -> Response:
        vr = VoiceResponse()
        if request.form["Digits"] == "*":
            vr.leave()
        else:
            vr.redirect("wait", method="GET")
        return twiml(vr)

    @app.post("/queue/after")
    def after() -> Response:
        f = request.form
        vr = VoiceResponse()
        vr.say(f"Left {f['QueueSid'][:2]} with {f['QueueResult']} after {f['QueueTime']} s.")
        vr.hangup()
        return twiml(vr)

    @app.post("/status")
    def status() -> Response:
        return Response("", status=204)

    return app


def hold_wav(url: str) -> float | None:
    return 4.0 if url.endswith("/audio/hold.wav") else None


def call(press: str | list[str], app: Flask | None = None, **options: Any) -> Any:
    app = app or tricky_app()
    opts = CallOptions(call_sid=SID, play_duration_s=hold_wav, **options)
    return simulate(
        f"{BASE}/voice",
        transport=FlaskTransport(app, BASE),
        token=TOKEN,
        caller=Script.parse(press).caller(),
        options=opts,
    )


def test_gather_times_out_falls_through_and_relative_redirect() -> None:
    trace = call("_")
    assert trace.to_dict() == {
        "call_sid": SID,
        "from": "+15005550006",
        "to": "+18005550100",
        "events": [
            {
                "t": 0.0,
                "type": "gather",
                "action": f"{BASE}/menu/choice",
                "method": "POST",
                "input": "dtmf",
                "num_digits": 1,
                "finish_on_key": "#",
                "timeout_s": 3.0,
                "action_on_empty_result": False,
            },
            {
                "t": 0.0,
                "type": "say",
                "text": "Menu.",
                "voice": "Polly.Joanna",
                "language": "en-US",
                "loop": 1,
                "duration_s": 0.4,
            },
            {"t": 0.4, "type": "pause", "duration_s": 2.0},
            {"t": 2.4, "type": "input", "digits": "", "timeout": True, "duration_s": 3.0},
            {
                "t": 5.4,
                "type": "say",
                "text": "Nothing?",
                "voice": "man",
                "language": "en-US",
                "loop": 1,
                "duration_s": 0.4,
            },
            {"t": 5.8, "type": "redirect", "url": f"{BASE}/voice?retry=1", "method": "POST"},
            {
                "t": 5.8,
                "type": "say",
                "text": "Goodbye.",
                "voice": "man",
                "language": "en-US",
                "loop": 1,
                "duration_s": 0.4,
            },
            {"t": 6.2, "type": "hangup"},
        ],
        "outcome": {"ended_by": "hangup", "queue": None, "duration_s": 6.2, "requests": 2},
    }


def say(t: float, text: str, duration_s: float, voice: str = "man") -> dict[str, Any]:
    return {
        "t": t,
        "type": "say",
        "text": text,
        "voice": voice,
        "language": "en-US",
        "loop": 1,
        "duration_s": duration_s,
    }


def gather(
    t: float, action: str, timeout_s: float, num_digits: int | None = 1, **extra: Any
) -> dict[str, Any]:
    return {
        "t": t,
        "type": "gather",
        "action": f"{BASE}{action}",
        "method": "POST",
        "input": "dtmf",
        "num_digits": num_digits,
        "finish_on_key": "#",
        "timeout_s": timeout_s,
        "action_on_empty_result": False,
        **extra,
    }


def keys(
    t: float, pressed: str, duration_s: float = 0.0, ended: str = "num-digits"
) -> dict[str, Any]:
    digits = pressed.rstrip("#")
    return {
        "t": t,
        "type": "input",
        "digits": digits,
        "keys": pressed,
        "key_interval_s": 0.3,
        "ended": ended,
        "duration_s": duration_s,
    }


MENU = [
    gather(0.0, "/menu/choice", 3.0),
    say(0.0, "Menu.", 0.4, voice="Polly.Joanna"),
    {"t": 0.4, "type": "pause", "duration_s": 2.0},
]


def test_wait_url_loops_then_the_caller_leaves_the_queue() -> None:
    app = tricky_app()
    trace = call("1 _ *", app, hold=Hold(wait_loops=3), status_callback=f"{BASE}/status")
    assert trace.to_dict()["events"] == [
        *MENU,
        keys(3.4, "1"),
        {"t": 3.4, "type": "redirect", "url": f"{BASE}/queue/join", "method": "POST"},
        {
            "t": 3.4,
            "type": "enqueue",
            "queue": "support",
            "wait_url": f"{BASE}/queue/wait",
            "action": f"{BASE}/queue/after",
            "hold_s": 10.2,
            "result": "leave",
        },
        gather(3.4, "/queue/wait-choice", 2.0),
        say(3.4, "You are number 1.", 1.6),
        {"t": 5.0, "type": "input", "digits": "", "timeout": True, "duration_s": 2.0},
        {
            "t": 7.0,
            "type": "play",
            "url": f"{BASE}/audio/hold.wav",
            "loop": 1,
            "duration_source": "audio",
            "duration_s": 4.0,
        },
        gather(11.0, "/queue/wait-choice", 2.0),  # the waitUrl document ran out: fetched again
        say(11.0, "You are number 1.", 1.6),
        keys(13.6, "*"),
        {"t": 13.6, "type": "leave", "queue": "support"},
        say(13.6, "Left QU with leave after 10 s.", 2.8),
        {"t": 16.4, "type": "hangup"},
    ]
    assert trace.outcome.to_dict() == {
        "ended_by": "hangup",
        "queue": None,
        "duration_s": 16.4,
        "requests": 8,
    }
    requests = app.config["SEEN"]
    assert [(m, p) for m, p, _ in requests] == [
        ("POST", "/voice"),
        ("POST", "/menu/choice"),
        ("POST", "/queue/join"),
        ("GET", "/queue/wait"),
        ("GET", "/queue/wait"),
        ("POST", "/queue/wait-choice"),
        ("POST", "/queue/after"),
        ("POST", "/status"),
    ]
    first, second = requests[3][2], requests[4][2]
    assert first["QueueTime"] == "0" and second["QueueTime"] == "7"
    assert {
        k: second[k] for k in ("QueuePosition", "CurrentQueueSize", "AvgQueueTime", "MaxQueueSize")
    } == {
        "QueuePosition": "1",
        "CurrentQueueSize": "1",
        "AvgQueueTime": "0",
        "MaxQueueSize": "1000",
    }
    assert second["QueueSid"].startswith("QU") and len(second["QueueSid"]) == 34
    assert requests[6][2]["QueueResult"] == "leave" and requests[6][2]["QueueTime"] == "10"
    assert requests[7][2]["CallStatus"] == "completed" and requests[7][2]["CallDuration"] == "17"


def test_standard_parameters_on_every_request() -> None:
    app = tricky_app()
    call("1", app, from_="+8613800138000", to="+864001234567")
    voice, choice = app.config["SEEN"][0][2], app.config["SEEN"][1][2]
    assert voice == {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": SID,
        "CallStatus": "ringing",
        "Called": "+864001234567",
        "Caller": "+8613800138000",
        "Direction": "inbound",
        "From": "+8613800138000",
        "To": "+864001234567",
    }
    assert choice == {**voice, "CallStatus": "in-progress", "Digits": "1"}


def test_caller_stays_queued_until_the_hold_ends() -> None:
    trace = call("1", hold=Hold(wait_loops=1))
    assert trace.outcome.to_dict() == {
        "ended_by": "enqueue",
        "queue": "support",
        "duration_s": 11.0,
        "requests": 4,
    }
    assert trace.of_type("enqueue")[0]["result"] == "queued"
    assert trace.of_type("enqueue")[0]["hold_s"] == 7.6


def test_an_agent_answering_cuts_the_hold_audio_short() -> None:
    trace = call("1", hold=Hold(wait_loops=None, bridge_after_s=5.0))
    assert trace.events[-1] == {
        "t": 7.0,
        "type": "play",
        "url": f"{BASE}/audio/hold.wav",
        "loop": 1,
        "duration_source": "audio",
        "duration_s": 1.4,
        "interrupted": True,
    }
    enqueue = trace.of_type("enqueue")[0]
    assert (enqueue["t"], enqueue["result"], enqueue["hold_s"]) == (3.4, "bridged", 5.0)
    assert trace.outcome.to_dict() == {
        "ended_by": "enqueue",
        "queue": "support",
        "duration_s": 8.4,
        "requests": 4,
    }


def test_record_posts_recording_to_its_relative_action() -> None:
    app = tricky_app()
    trace = call("2 #", app)
    assert trace.to_dict()["events"][len(MENU) :] == [
        keys(3.4, "2"),
        say(3.4, "Message.", 0.4),
        {
            "t": 3.8,
            "type": "record",
            "action": f"{BASE}/menu/done",
            "method": "POST",
            "max_length_s": 30.0,
            "timeout_s": 4.0,
            "finish_on_key": "#",
            "beep": True,
            "duration_s": 0.5,
        },
        {
            "t": 4.3,
            "type": "input",
            "digits": "#",
            "recording_s": 10.0,
            "timeout": False,
            "duration_s": 10.0,
        },
        say(14.3, "Got 10 s ending #.", 1.6),
        {"t": 15.9, "type": "hangup"},
    ]
    posted = app.config["SEEN"][-1][2]
    assert posted["RecordingUrl"].endswith("/Recordings/" + posted["RecordingSid"])
    assert posted["RecordingUrl"].startswith("https://api.twilio.com/2010-04-01/Accounts/AC")


def test_silent_recording_falls_through_without_a_request() -> None:
    trace = call("2 _")
    assert [e["type"] for e in trace.events][-3:] == ["record", "input", "say"]
    assert trace.events[-1]["text"] == "Nothing recorded."
    assert trace.outcome.to_dict() == {
        "ended_by": "end-of-document",
        "queue": None,
        "duration_s": 9.1,
        "requests": 2,
    }


def test_hanging_up_during_a_recording_still_posts_it() -> None:
    app = tricky_app()
    trace = call("2 h", app)
    assert trace.outcome.ended_by == "caller-hangup"
    assert app.config["SEEN"][-1][2]["Digits"] == "hangup"
    assert trace.outcome.requests == 3


def test_action_on_empty_result_posts_without_digits() -> None:
    app = tricky_app()
    trace = call("3 _", app)
    assert trace.to_dict()["events"][len(MENU) :] == [
        keys(3.4, "3"),
        gather(3.4, "/menu/errors", 5.0, action_on_empty_result=True),
        say(3.4, "Pick.", 0.4),
        {"t": 3.8, "type": "input", "digits": "", "timeout": True, "duration_s": 5.0},
        say(8.8, "Empty.", 0.4),
    ]
    assert "Digits" not in app.config["SEEN"][-1][2]


def test_only_the_finish_key_is_no_input() -> None:
    trace = call("#")
    assert [e["type"] for e in trace.events][3:] == ["input", "say", "redirect", "say", "hangup"]
    assert trace.events[3]["ended"] == "finish-on-key" and trace.events[3]["digits"] == ""


def test_gather_without_action_posts_back_to_its_document() -> None:
    app = tricky_app()
    trace = call("5 12*9", app)
    assert trace.events[-1] == {
        "t": 5.4,
        "type": "input",
        "digits": "12",
        "keys": "12*",
        "key_interval_s": 0.3,
        "ended": "finish-on-key",
        "dropped": "9",
        "duration_s": 0.6,
    }
    assert trace.events[-2]["digits"] == "1w2" and trace.events[-2]["duration_s"] == 1.0
    assert app.config["SEEN"][-1][1:] == (
        "/menu/choice",
        {**app.config["SEEN"][-1][2], "Digits": "12"},
    )
    assert trace.outcome.ended_by == "end-of-document"


def test_digits_without_finish_key_wait_for_the_timeout() -> None:
    trace = call("5 12")
    assert trace.events[-1]["ended"] == "timeout" and trace.events[-1]["duration_s"] == 2.3


def test_speech_is_posted_as_speech_result() -> None:
    trace = call(["4", "say:top-up failed"])
    assert trace.events[-2] == {
        "t": 4.8,
        "type": "input",
        "speech": "top-up failed",
        "digits": "",
        "duration_s": 2.2,
    }
    assert trace.events[-1]["text"] == "You said top-up failed (0.9)."


def test_keys_into_a_speech_only_gather_are_ignored() -> None:
    trace = call("4 7")
    assert trace.events[-1] == {
        "t": 3.8,
        "type": "input",
        "digits": "",
        "timeout": True,
        "ignored": "7",
        "duration_s": 5.0,
    }
    assert trace.outcome.ended_by == "end-of-document"


@pytest.mark.parametrize(
    ("key", "code", "status", "message", "document"),
    [
        ("5", 11200, 500, "HTTP retrieval failure: status 500", "boom"),
        ("4", 11200, 404, "HTTP retrieval failure: status 404", "nope"),
        (
            "6",
            12100,
            None,
            "document parse failure: mismatched tag: line 1, column 25",
            "<Response><Say>unclosed</Response>",
        ),
    ],
)
def test_what_twilio_refuses_ends_the_call_with_its_error(
    key: str, code: int, status: int | None, message: str, document: str | None
) -> None:
    trace = call(f"3 {key}")
    error = trace.events[-1]
    assert error["t"] == 4.8 and error["type"] == "error"
    assert (error["code"], error["status"], error["message"], error["url"]) == (
        code,
        status,
        message,
        f"{BASE}/menu/errors",
    )
    assert error["document"] == document
    assert trace.outcome.to_dict() == {
        "ended_by": "error",
        "queue": None,
        "duration_s": 4.8,
        "requests": 3,
    }


@pytest.mark.parametrize(
    ("key", "code", "message"),
    [
        ("7", 12200, "unknown verb <Sayy> ignored"),
        ("8", 13320, "<Gather> cannot nest <Dial>: ignored"),
        ("9", 12200, "<Say> has unknown attribute colour: ignored"),
    ],
)
def test_what_twilio_only_warns_about_does_not_end_the_call(
    key: str, code: int, message: str
) -> None:
    trace = call(f"3 {key}")
    warning = trace.events[len(MENU) + 4]
    assert warning == {
        "t": 4.8,
        "type": "warning",
        "code": code,
        "message": message,
        "url": f"{BASE}/menu/errors",
    }
    assert trace.error is None and trace.outcome.ended_by != "error"
    if key == "9":  # the attribute is dropped, the verb runs
        assert trace.events[-1]["type"] == "say" and trace.events[-1]["text"] == "hi"


def test_a_text_plain_answer_that_is_not_twiml_is_read_out_then_the_call_hangs_up() -> None:
    trace = call("3 1")  # /menu/errors answers "just text" as text/plain
    assert [e["type"] for e in trace.events[-2:]] == ["say", "hangup"]
    assert trace.events[-2]["text"] == "just text"
    assert trace.outcome.ended_by == "hangup"


def test_a_wrong_token_is_refused_by_the_app() -> None:
    app = tricky_app()
    trace = simulate(
        f"{BASE}/voice",
        transport=FlaskTransport(app, BASE),
        token="wrong",
        options=CallOptions(call_sid=SID),
    )
    assert trace.error is not None and (trace.error["code"], trace.error["status"]) == (11200, 403)
    assert app.config["SEEN"] == []


def test_an_endless_redirect_loop_is_cut_off() -> None:
    app = Flask("loop")

    @app.post("/voice")
    def voice() -> Response:
        vr = VoiceResponse()
        vr.redirect("/voice")
        return twiml(vr)

    trace = simulate(
        f"{BASE}/voice",
        transport=FlaskTransport(app, BASE),
        token=TOKEN,
        options=CallOptions(max_requests=20),
    )
    assert trace.outcome.ended_by == "error" and trace.outcome.requests == 20
    assert (
        trace.error is not None and trace.error["message"] == "gave up after 20 requests (a loop?)"
    )


def test_script_runs_out_into_timeouts_and_h_hangs_up() -> None:
    assert call("").outcome.ended_by == "hangup"  # time-out, fall-through, redirect, goodbye
    assert call("h").to_dict()["events"][-1] == {"t": 2.4, "type": "input", "hangup": True}
    assert call("h").outcome.ended_by == "caller-hangup"


def test_interactive_caller_reads_keys_from_the_terminal() -> None:
    typed = iter(["", "h"])
    shown: list[str] = []
    caller = InteractiveCaller(
        read=lambda prompt: next(typed), show=lambda e: shown.append(str(e["type"]))
    )
    trace = simulate(
        f"{BASE}/voice", transport=FlaskTransport(tricky_app(), BASE), token=TOKEN, caller=caller
    )
    assert (
        trace.outcome.ended_by == "hangup"
    )  # Enter was a time-out; the retry document hangs up itself
    assert shown == ["gather", "say", "pause", "input", "say", "redirect", "say", "hangup"]


@pytest.fixture(name="server_url")
def _server_url() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, tricky_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("press", ["_", "1 _ *", "2 #", "3 _", "3 6", "5 12*"])
def test_http_transport_gives_the_same_trace_as_in_process(server_url: str, press: str) -> None:
    options = CallOptions(call_sid=SID, play_duration_s=hold_wav, hold=Hold(wait_loops=3))
    in_process = simulate(
        f"{BASE}/voice",
        transport=FlaskTransport(tricky_app(), BASE),
        token=TOKEN,
        caller=Script.parse(press).caller(),
        options=options,
    ).to_json()
    over_http = simulate(
        f"{server_url}/voice",
        transport=HTTPTransport(),
        token=TOKEN,
        caller=Script.parse(press).caller(),
        options=options,
    ).to_json()
    assert over_http.replace(server_url, BASE) == in_process


def test_unreachable_server_is_a_retrieval_failure() -> None:
    trace = simulate("http://127.0.0.1:9/voice", transport=HTTPTransport(timeout_s=2), token=TOKEN)
    assert trace.error is not None and trace.error["code"] == 11200
    assert trace.outcome.to_dict()["ended_by"] == "error"


def one_document_app(document: str) -> Flask:
    app = Flask("one")

    @app.post("/voice")
    def voice() -> Response:
        return twiml(document)

    return app


@pytest.mark.parametrize(
    ("document", "ended_by", "last"),
    [
        (
            "<Response><Dial callerId='+15550000000'><Number>+15551234567</Number></Dial></Response>",
            "dial",
            {"t": 0.0, "type": "dial", "to": ["Number:+15551234567"], "action": None},
        ),
        (
            "<Response><Reject reason='busy'/></Response>",
            "hangup",
            {"t": 0.0, "type": "hangup", "reject": "busy"},
        ),
        (
            "<Response><Say loop='3'>One <break time='1s'/> two.</Say></Response>",
            "end-of-document",
            {
                "t": 0.0,
                "type": "say",
                "text": "One two.",
                "voice": "man",
                "language": "en-US",
                "loop": 3,
                "duration_s": 5.4,
            },
        ),
        (
            "<Response><Enqueue>general</Enqueue></Response>",
            "enqueue",
            {
                "t": 30.0,
                "type": "play",
                "url": "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3",
                "loop": 1,
                "duration_source": "guess",
                "duration_s": 30.0,
            },
        ),
    ],
)
def test_dial_reject_say_loops_and_default_hold_music(
    document: str, ended_by: str, last: dict[str, Any]
) -> None:
    trace = simulate(
        f"{BASE}/voice",
        transport=FlaskTransport(one_document_app(document), BASE),
        token=TOKEN,
        options=CallOptions(hold=Hold(wait_loops=2)),
    )
    assert trace.outcome.ended_by == ended_by
    assert trace.to_dict()["events"][-1] == last


def test_a_get_voice_url_signs_the_query_string() -> None:
    app = tricky_app()
    seen = app.config["SEEN"]

    @app.get("/get-voice")
    def get_voice() -> Response:
        vr = VoiceResponse()
        vr.redirect("/voice?retry=1")
        return twiml(vr)

    trace = simulate(
        f"{BASE}/get-voice?campaign=7",
        transport=FlaskTransport(app, BASE),
        token=TOKEN,
        options=CallOptions(method="GET"),
    )
    assert trace.outcome.ended_by == "hangup"
    method, path, params = seen[0]
    assert (method, path, params["campaign"], params["CallStatus"]) == (
        "GET",
        "/get-voice",
        "7",
        "ringing",
    )
