"""No PIN and no full account number in anything the simulator records or prints: the
``--json`` trace, the transcript, the live terminal, replay reports; the app still gets
them in clear, so the call is verified."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask, Response, request
from programs import needs_espeak
from twilio.twiml.voice_response import VoiceResponse

from ivr.cli import cli
from ivr.flow import prompts
from ivr.sim import CallOptions, FlaskTransport, Script, simulate
from ivr.sim.caller import Prompt
from ivr.sim.calllog import ACTIVE, RecordedCall, ReplayCaller, Step, node_of
from ivr.sim.masking import Secret, input_event
from ivr.sim.target import Prompts
from ivr.sim.transport import shown

QUIET = "wed 09:30"  # lines open, short waits
PIN, ACCOUNT = "112233", "10000003"  # demo account 10000003, no caller ID on file
LANG_KEY = {"zh-CN": "1", "en-US": "2"}
#: account and security, locked or frozen (a node that wants the caller verified)
VERIFY = f"2 1 {ACCOUNT}# {PIN}"


pytestmark = pytest.mark.usefixtures("quiet_app_logs")


def _no_secrets(text: str) -> None:
    assert PIN not in text
    assert ACCOUNT not in text


def _verified(db: Path) -> list[Any]:
    with sqlite3.connect(db) as conn:
        return [bool(v) for (v,) in conn.execute("SELECT verified FROM calls")]


@pytest.mark.parametrize("lang", ["en-US", "zh-CN"])
def test_the_json_trace_masks_the_pin_and_the_account(
    runner: CliRunner, tmp_path: Path, lang: str
) -> None:
    db = tmp_path / "calls.db"
    args = ["call", "--lang", lang, "--press", VERIFY, "--at", QUIET, "--json", "--db", str(db)]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    _no_secrets(result.output)
    trace = json.loads(result.output)
    masked = [e for e in trace["events"] if e["type"] == "input" and e.get("masked")]
    assert [(e["masked"], e["digits"], e["keys"]) for e in masked] == [
        ("account", "****0003", "****0003#"),  # as many keys as pressed: the audio's tones
        ("pin", "******", "******"),
    ]
    assert _verified(db) == [True]  # the app got them in clear


def test_the_transcript_masks_them_too(runner: CliRunner) -> None:
    args = ["call", "--lang", "en-US", "--press", VERIFY, "--at", QUIET]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    _no_secrets(result.output)
    assert "input    pressed ****0003#  (account number, masked)" in result.output
    assert "input    pressed ******  (PIN, masked)" in result.output
    assert "call record: verified=True" in result.output


def test_a_caller_at_the_terminal_types_them_unseen(runner: CliRunner) -> None:
    typed = f"2\n1\n{ACCOUNT}#\n{PIN}\nh\n"
    result = runner.invoke(
        cli, ["call", "--lang", "en-US", "--at", QUIET], input=typed, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    _no_secrets(result.output)  # neither echoed as typed nor shown as pressed
    assert "(your account number, not shown)" in result.output
    assert "(your PIN, not shown)" in result.output
    assert "pressed ****0003#" in result.output and "pressed ******" in result.output
    assert "call ended by caller-hangup" in result.output
    assert "call record: verified=True" in result.output


def test_a_bad_key_at_the_pin_prompt_is_not_repeated(runner: CliRunner) -> None:
    typed = f"2\n1\n{ACCOUNT}#\n11x233\n{PIN}\nh\n"
    result = runner.invoke(
        cli, ["call", "--lang", "en-US", "--at", QUIET], input=typed, catch_exceptions=False
    )
    assert "only phone keys (0-9 * #), please" in result.output
    assert "11x233" not in result.output
    assert "call record: verified=True" in result.output


def _masked_inputs(output: str) -> list[dict[str, Any]]:
    return [
        {k: e.get(k) for k in ("masked", "digits", "keys", "dropped")}
        for e in json.loads(output)["events"]
        if e["type"] == "input" and e.get("masked")
    ]


def test_keys_run_on_after_the_account_number_are_masked(
    runner: CliRunner, tmp_path: Path
) -> None:
    db = tmp_path / "calls.db"
    press = f"2 1 {ACCOUNT}#{PIN} {PIN}"  # the PIN pressed before it was asked for
    args = ["call", "--lang", "en-US", "--press", press, "--at", QUIET, "--json", "--db", str(db)]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    _no_secrets(result.output)
    assert _masked_inputs(result.output) == [
        {"masked": "account", "digits": "****0003", "keys": "****0003#", "dropped": "******"},
        {"masked": "pin", "digits": "******", "keys": "******", "dropped": None},
    ]
    assert _verified(db) == [True]


def test_a_pin_typed_at_the_account_prompt_is_all_hidden(runner: CliRunner) -> None:
    args = ["call", "--lang", "en-US", "--press", f"2 1 {PIN}#", "--at", QUIET, "--json"]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    _no_secrets(result.output)
    # too short to show 4 digits and hide as many: none shown
    assert _masked_inputs(result.output)[0] == {
        "masked": "account",
        "digits": "******",
        "keys": "******#",
        "dropped": None,
    }


def test_replaying_the_logged_calls_still_works(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    for press in (VERIFY, f"2 1 {ACCOUNT}# 000000 {ACCOUNT}# {PIN}"):
        args = ["call", "--lang", "en-US", "--press", press, "--at", QUIET, "--db", str(db)]
        assert runner.invoke(cli, args, catch_exceptions=False).exit_code == 0
    # --at fixes the sandbox's clock, so the log says every step came at once: the time
    # to queue is not compared here, the queue and the verification are
    replay = ["replay", "--calls", str(db), "--time-tolerance", "3600"]
    result = runner.invoke(cli, replay, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    _no_secrets(result.output)
    assert result.output.splitlines()[-1].endswith(": 0 differ")
    assert result.output.count(", verified") == 2


@needs_espeak
def test_a_masked_trace_still_renders_a_tone_per_key(
    runner: CliRunner, tmp_path: Path
) -> None:
    from ivr.audio.call import render_call

    args = ["call", "--lang", "en-US", "--press", VERIFY, "--at", QUIET, "--json"]
    trace = json.loads(runner.invoke(cli, args, catch_exceptions=False).output)
    result = render_call(trace, tmp_path / "call.wav", tmp_path / "no-audio")
    keys = "".join(key for _, key in result.tones)
    assert keys == "221****0003#******"


def _app_asking(path: str, secret_text: str, got: list[str]) -> Flask:
    """A server whose Gather actions carry a query string, as the hotline's will."""
    app = Flask("asking")

    @app.post("/voice")
    def voice() -> Response:
        vr = VoiceResponse()
        with vr.gather(action=f"{path}?t=3", num_digits=6, finish_on_key="#") as g:
            g.say("Please listen.")
            g.say(secret_text)
        return Response(str(vr), mimetype="text/xml")

    @app.post(path)
    def step() -> Response:
        got.append(f"{request.args['t']}:{request.form['Digits']}")
        vr = VoiceResponse()
        vr.say("Thank you.")
        return Response(str(vr), mimetype="text/xml")

    return app


def test_masking_follows_the_prompt_heard_not_the_url(tmp_path: Path) -> None:
    catalog = prompts.load()
    known = Prompts(tmp_path, catalog)
    got: list[str] = []
    app = _app_asking("/voice/step/identify", catalog.raw("en-US", "verify_pin"), got)
    trace = simulate(
        "http://x/voice",
        transport=FlaskTransport(app, "http://x"),
        token="t",
        caller=Script.parse(PIN).caller(),
        options=CallOptions(prompt_keys=known.keys),
    )
    assert got == [f"3:{PIN}"]  # sent in clear
    [pressed] = trace.of_type("input")
    assert (pressed["digits"], pressed["keys"], pressed["masked"]) == ("******", "******", "pin")
    # the same keys at another prompt are not a secret
    other = _app_asking("/voice/step/amount", "How much?", got)
    plain = simulate(
        "http://x/voice",
        transport=FlaskTransport(other, "http://x"),
        token="t",
        caller=Script.parse(PIN).caller(),
        options=CallOptions(prompt_keys=known.keys),
    )
    assert plain.of_type("input")[0]["digits"] == PIN and "masked" not in plain.events[-2]


def test_a_server_prompt_file_missing_from_the_local_manifest_is_still_known(
    tmp_path: Path,
) -> None:
    known = Prompts(tmp_path, prompts.load())
    url = "https://ivr.example.com/audio/zh-CN/verify_account.wav"
    assert known.keys({"type": "play", "url": url}) == {"zh-CN/verify_account"}
    assert known.keys({"type": "play", "url": "https://x/audio/zh-CN/nope.wav"}) == set()


def test_replayed_calls_find_the_node_behind_a_query_string() -> None:
    assert node_of("http://x/voice/step/identify?t=3") == "identify"
    steps = (
        Step("(start)", None, ("welcome",), "ask:language", ""),
        Step("identify", "****0001", ("verify_pin",), "ask:identify", ""),
    )
    caller = ReplayCaller(RecordedCall("CA1", "", steps), ACTIVE, nodes=("identify",))
    prompt = Prompt("gather", "", finish_on_key="#", action="http://x/voice/step/identify?t=3")
    assert str(caller.answer(prompt)) == "10000001#" and caller.diverged is None


def test_input_events_and_error_urls_hide_secrets() -> None:
    assert input_event(None, {"digits": PIN}) == {"digits": PIN}
    assert input_event(Secret.PIN, {"digits": "", "timeout": True}) == {
        "digits": "",
        "timeout": True,
    }
    assert input_event(Secret.PIN, {"digits": "", "ignored": "say:one two"})["ignored"] == "*" * 11
    said = input_event(Secret.ACCOUNT, {"speech": "10000003", "digits": ""})
    assert said == {"speech": "****0003", "digits": "", "masked": "account"}
    assert shown(f"http://x/step?t=3&Digits={PIN}&CallSid=CA1") == (
        "http://x/step?t=3&Digits=***&CallSid=CA1"
    )
    assert shown("http://x/step") == "http://x/step"
