"""Spoken calls in the simulator: ``ivr call --say``, the recogniser's Confidence and
noise, speech at a Gather that does not listen, Twilio's speech attributes checked, time
saved by speaking, and the caller's words kept out of everything saved.

Whole calls through the real app (the sandbox in this process, and once ``ivr serve``);
the Gather attribute checks run against a small TwiML app of hand-written documents.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import README_MOMENT
from flask import Flask, Response, request
from freezegun import freeze_time
from servers import serve

from ivr.cli import cli
from ivr.sim import FlaskTransport, Script, simulate
from ivr.sim.calllog import build, compare
from ivr.sim.errors import ScenarioError
from ivr.sim.recognition import Recognition
from ivr.sim.scenario import load, run
from ivr.sim.target import Target, over_http
from ivr.sim.trace import Trace

ROOT = Path(__file__).parent
TOPUP = "我充值的钱还没到账"
STRANGER = "+8613700000000"  # verifies with account 10000001 and PIN 246810
OWNER = "+8613800138000"  # that account's caller ID


@pytest.fixture(name="ivr")
def _ivr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``ivr ARGS`` in a scratch folder, the app's database there."""
    monkeypatch.chdir(tmp_path)

    def ivr(*args: str) -> Result:
        env = {"IVR_DATABASE": str(tmp_path / "app.db"), "IVR_AUDIO_DIR": str(tmp_path / "a"),
               "TWILIO_AUTH_TOKEN": None}
        return CliRunner().invoke(cli, list(args), env=env)
    return ivr


def call(target: Target, *answers: Any, from_: str = STRANGER, **recognition: Any) -> Trace:
    target.reset and target.reset()
    target.set_clock(target.quiet_at)
    script = Script.parse(list(answers)).caller()
    trace = target.call(script, from_=from_, recognition=Recognition(**recognition))
    assert not script.unused, script.unused
    return trace


def inputs(trace: Trace) -> list[dict[str, Any]]:
    return [dict(e) for e in trace.of_type("input")]


def heard(target: Target, trace: Trace) -> list[dict[str, Any]]:
    """What the app logged of each spoken answer."""
    return [json.loads(r["heard"]) for r in target.logged(trace.call_sid) or [] if r["heard"]]


# -- ivr call --say -------------------------------------------------------------------

def test_ivr_call_say_picks_mandarin_by_the_words_and_routes_deep_through_verification(ivr):
    result = ivr("call", "--from", OWNER, "--press", "say 1 246810 0", "--say", TOPUP)
    assert result.exit_code == 0, result.output
    out = result.output
    assert re.search(r"\binput +pressed 1\n", out)  # 1 for Mandarin, from the words
    assert "listening for 1 key or speech (cmn-Hans-CN)" in out
    assert f"said '{TOPUP}'" in out
    assert "请按1；账户安全" not in out  # the payments sub-menu never played
    assert "身份验证成功" in out and "pressed ******  (PIN, masked)" in out
    assert "speech at main: matched topup_status (score 1, confidence 0.9)" in out
    assert "call record: verified=True issue=topup" in out
    assert "246810" not in out


def test_ivr_call_say_alone_and_with_lang_in_english_with_a_low_confidence(ivr):
    result = ivr("call", "--lang", "en-US", "--say", "my payment failed", "--confidence", "0.3")
    assert result.exit_code == 0, result.output
    assert "said 'my payment failed', confidence 0.3" in result.output
    assert "speech at main: confirm payment_prepare (score 1, confidence 0.3)" in result.output
    assert "You would like help with" in result.output  # asked to confirm, not routed


def test_noise_drops_and_swaps_words_lowers_the_confidence_and_repeats_with_its_seed(ivr):
    written = ivr("call", "--say", TOPUP, "--noise", "0.5", "--seed", "7", "--json")
    assert written.exit_code == 0, written.output
    [event] = [e for e in json.loads(written.output)["events"] if e.get("noise")]
    noise = event["noise"]
    assert noise["rate"] == 0.5 and noise["seed"] == 7
    assert noise["dropped"] + noise["swapped"] >= 1
    words = 7  # 我 充值 的 钱 还 没到 账, as jieba cuts them (ivr.flow.mandarin)
    garbled = noise["dropped"] + 2 * noise["swapped"]
    assert event["confidence"] == round(0.9 * (1 - min(garbled, words) / words), 3)
    assert TOPUP not in written.output  # the trace written out keeps no words
    assert event["said_chars"] == len(TOPUP) and event["speech_chars"] <= len(TOPUP)
    # the same seed garbles the same way; the screen shows the words said and sent
    shown = ivr("call", "--say", TOPUP, "--noise", "0.5", "--seed", "7")
    line = next(x for x in shown.output.splitlines() if "(noise 0.5, seed 7" in x)
    sent = re.search(r"sent '([^']*)'", line)
    assert f"said '{TOPUP}', sent '" in line and sent is not None
    assert len(sent.group(1)) == event["speech_chars"]
    assert f"confidence {event['confidence']:g}" in line


def test_a_fresh_seed_is_shown_so_the_noise_can_be_repeated(ivr):
    result = ivr("call", "--lang", "en-US", "--say", "my top up has not arrived",
                 "--noise", "0.3")
    assert result.exit_code == 0, result.output
    assert re.search(r"\(noise 0\.3, seed \d+: ", result.output)


@pytest.mark.parametrize(("args", "option", "says"), [
    (["--say", "x", "--confidence", "1.5"], "--confidence", "0<=x<=1"),
    (["--say", "x", "--confidence", "-0.1"], "--confidence", "0<=x<=1"),
    (["--say", "x", "--confidence", "nan"], "--confidence", "not a number"),
    (["--say", "x", "--confidence", "high"], "--confidence", "not a valid float"),
    (["--say", "x", "--noise", "2"], "--noise", "0<=x<=1"),
    (["--say", "x", "--noise", "inf"], "--noise", "0<=x<=1"),
    (["--say", "x", "--noise", "0.2", "--seed", "-1"], "--seed", "x>=0"),
    (["--say", "x", "--seed", "3"], "--seed", "give --noise RATE too"),
    (["--press", "2 0", "--noise", "0.2"], "--noise", "the script says nothing"),
    (["--press", "2 0", "--confidence", "0.5"], "--confidence", "the script says nothing"),
    (["--press", "say", "--say", "a", "--say", "b"], "--press/--say", "no 'say' answer"),
])
def test_bad_speech_options_are_one_error_line(ivr, args, option, says):
    result = ivr("call", *args)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and option in errors[0] and says in errors[0], result.output
    assert "Traceback" not in result.output and "gather" not in result.output


# -- the same decisions, call by call ---------------------------------------------------

def test_speech_at_a_keys_only_gather_is_no_input_and_the_trace_says_why(target):
    # the language menu takes keys only: Twilio does not listen, its timeout runs out (and
    # the app goes on in Mandarin, whose main menu listens)
    trace = call(target, f"say:{TOPUP}", f"say:{TOPUP}", "10000001#", "246810")
    first = inputs(trace)[0]
    assert first["timeout"] is True and first["duration_s"] == 5.0
    assert first["unheard"] == "the <Gather> takes keys only (input='dtmf')"
    assert first["said"] == TOPUP and "speech" not in first
    rows = target.logged(trace.call_sid) or []
    assert rows[1]["node"] == "language" and rows[1]["input"] in ("", None)  # no SpeechResult
    assert heard(target, trace) == [{"outcome": "matched", "target": "topup_status",
                                     "score": 1.0, "confidence": 0.9}]


def test_english_words_to_the_mandarin_recogniser_are_not_recognised(target):
    trace = call(target, "1", "say:my payment failed", "say:我想提高一下支付限额", "10000001#",
                 "246810", "1")
    english, mandarin = inputs(trace)[1:3]
    assert english["unheard"] == "the recogniser listens for cmn-Hans-CN"
    assert mandarin["speech"] == "我想提高一下支付限额"
    assert [h["outcome"] for h in heard(target, trace)] == ["matched"]  # re-asked once
    assert target.record(trace.call_sid)["issue"] == "limit"


def test_every_word_lost_to_noise_sends_nothing(target):
    trace = call(target, "2", "say:refund", noise=1.0, seed=0)
    lost = inputs(trace)[1]
    assert lost["unheard"] == "every word was lost to noise" and lost["timeout"] is True
    assert heard(target, trace) == []  # the app got no SpeechResult


def test_a_spoken_answer_shortens_the_call_against_pressing_through_the_sub_menu(target):
    tail = ["10000001#", "246810", "0", "1", "20261120", "200#"]
    pressed = call(target, "1", "1", "1", *tail)
    spoken = call(target, "1", f"say:{TOPUP}", *tail)
    assert pressed.outcome.queue == spoken.outcome.queue == "payments"
    assert target.record(spoken.call_sid)["issue"] == "topup"
    assert pressed.time_to_queue_s is not None and spoken.time_to_queue_s is not None
    saved_s = pressed.time_to_queue_s - spoken.time_to_queue_s
    print(f"time to queue: keys {pressed.time_to_queue_s:.1f} s, speech "
          f"{spoken.time_to_queue_s:.1f} s, saved {saved_s:.1f} s")
    talk = next(e for e in inputs(spoken) if e.get("speech"))["duration_s"]
    assert talk > 2.0 and saved_s > 5.0, (saved_s, talk)  # speaking takes time, saves more
    # English: "my top up has not arrived" against 1 1
    pressed_en = call(target, "2", "1", "1", *tail)
    spoken_en = call(target, "2", "say:my top up has not arrived", *tail)
    assert spoken_en.time_to_queue_s < pressed_en.time_to_queue_s - 5.0  # type: ignore[operator]


# -- privacy ----------------------------------------------------------------------------

def test_no_word_reaches_the_written_trace_the_app_log_or_a_replay(target):
    scripts = [("1", f"say:{TOPUP}", "10000001#", "246810", "0", "1", "20261120", "200#"),
               ("2", "say:my money hasn't arrived", "2", "0"),
               ("1", "say:今天天气不错", "say:嗯嗯", "0"),
               # confirmations answered by voice
               ("1", "say:我的钱没到账", "say:对对对", "10000001#", "246810", "0", "1",
                "20261120", "200#"),
               ("2", "say:my money hasn't arrived", "say:nope, wrong one", "0")]
    words = (TOPUP, "money", "天气", "嗯嗯", "我的钱", "对对对", "nope")
    recorded = []
    for script in scripts:
        trace = call(target, *script)
        written = trace.to_json()
        assert not any(w in written for w in words), written
        assert any(w in str(trace.events) for w in words)  # in memory, for the transcript
        rows = target.logged(trace.call_sid) or []
        assert not any(w in json.dumps(rows, ensure_ascii=False) for w in words)
        recorded += build([target.record(trace.call_sid)], rows)
    # the logged calls replay: each spoken answer as what it matched
    assert [[s.heard["outcome"] for s in c.steps if s.heard] for c in recorded] == [
        ["matched"], ["confirm", "declined"], ["unmatched", "keypad"],
        ["confirm", "confirmed"], ["confirm", "declined"]]
    assert [s.input for s in recorded[3].steps[2:4]] == ["(speech)", "(speech)"]
    replayed = compare(recorded, target)
    assert [r.differences(10.0) for r in replayed] == [[], [], [], [], []]
    assert [r.after.queue for r in replayed] == ["payments", "general", "general", "payments",
                                                 "general"]
    for item in replayed:
        said = [e for e in item.traces[0].of_type("input") if e.get("speech")]
        assert said and not any(w in str(said) for w in words)


# -- scenarios ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "problem"), [
    ("press: ['1', {say: x, confidence: 2}]", "confidence 2 is not a number from 0 to 1"),
    ("press: ['1', {say: x, confidence: yes}]", "confidence True is not a number from 0 to 1"),
    ("press: ['1', {say: x, loud: 1}]", "unknown: loud"),
    ("press: ['1', {confidence: 0.5}]", "a spoken answer is {say: words}"),
    ("press: ['1', {say: ''}]", "say: the words, as text"),
    ("press: '1'\nrecognition: {noise: 3}", "recognition: noise 3: a number from 0 to 1"),
    ("press: '1'\nrecognition: {seed: x}", "recognition: seed 'x': a whole number"),
    ("press: '1'\nrecognition: {loud: 1}", "recognition: "),
    ("press: '1'\nrecognition: 0.5", "recognition: a mapping"),
    ("press: '1'\nexpect: {speech: [heard]}", "expect: speech: ['heard'] is not a list of matched/"),
])
def test_a_bad_spoken_step_recognition_or_expectation_names_the_scenario_and_the_mistake(
        tmp_path, text, problem):
    (tmp_path / "bad.yaml").write_text(f"name: x\nlang: zh-CN\n{text}\n")
    with pytest.raises(ScenarioError, match="bad.yaml: x") as info:
        load(tmp_path / "bad.yaml")
    assert problem in str(info.value)


def test_a_speech_expectation_that_fails_says_what_the_app_logged(tmp_path, target):
    (tmp_path / "s.yaml").write_text(
        "name: wrong\nlang: en-US\npress: ['say:my payment failed']\n"
        "expect: {speech: ['matched:topup_status']}\n")
    [scenario] = load(tmp_path / "s.yaml")
    result = run(scenario, target)
    assert "expected the app to hear ['matched:topup_status'], it logged " \
           "['matched:payment_prepare']" in result.line()


def test_a_spoken_scenario_over_http_against_ivr_serve(tmp_path):
    # to the fraud line: the server runs on the real clock, and the other lines close at night
    [scenario] = [s for s in load(ROOT / "scenarios" / "speech_zh.yaml")
                  if s.name.startswith("说 我的账户被盗了")]
    with serve(tmp_path, workers=1) as server:
        target = over_http(server.url, server.token, database=str(tmp_path / "ivr.db"))
        result = run(scenario, target)
    assert result.passed, result.line()


# -- Twilio's speech attributes ------------------------------------------------------------

def gather_app(attrs: str) -> Flask:
    """A Voice URL answering one hand-written Gather, and its action saying what came."""
    app = Flask("gathers")

    @app.post("/voice")
    def voice() -> Response:
        body = (f'<Response><Gather action="/heard" actionOnEmptyResult="true" {attrs}>'
                "<Say>Speak.</Say></Gather></Response>")
        return Response(body, mimetype="text/xml")

    @app.post("/heard")
    def heard_it() -> Response:
        said = request.form.get("SpeechResult")
        text = f"Heard {said} {request.form['Confidence']}" if said else "Nothing"
        return Response(f"<Response><Say>{text}</Say></Response>", mimetype="text/xml")
    return app


def gathered(attrs: str, said: str = "my payment failed") -> tuple[list[tuple[int, str]], str]:
    trace = simulate("http://g.test/voice", transport=FlaskTransport(gather_app(attrs),
                                                                     "http://g.test"),
                     token="t", caller=Script.parse([f"say:{said}"]).caller())
    return [(w["code"], w["message"]) for w in trace.warnings], trace.heard()[-1]


HINTS_501 = ", ".join(f"h{i}" for i in range(501))


@pytest.mark.parametrize(("attrs", "code", "message"), [
    ('input="dtmf voice"', 12200, "input is dtmf, speech or 'dtmf speech': 'dtmf' used"),
    ('input="speech" language="en"', 13512, "is not a language and region"),
    ('input="speech" language="english"', 13512, "is not a language and region"),
    ('input="speech" language="cmn-CN"', 13512,
     "is <Say>'s tag: speech recognition takes cmn-Hans-CN"),
    (f'input="speech" hints="{HINTS_501}"', 13330, "has 501 entries, more than 500"),
    (f'input="speech" hints="ok, {"x" * 101}"', 13330, "1 of 2 entries are longer than 100"),
    ('input="speech" speechTimeout="0"', 13327, "is not a positive whole number or 'auto'"),
    ('input="speech" speechTimeout="soon"', 13327, "the timeout (5 s) used"),
    ('input="speech" speechModel="best"', 13334, "is not a documented model"),
    ('input="speech" speechModel="phone_call" speechTimeout="auto"', 13335,
     "cannot be used with speechModel phone_call"),
    ('input="speech" profanityFilter="maybe"', 12200, "is not true or false"),
    ('input="speech" bargeIn="1"', 13332, "is not true or false"),
    ('input="speech" enhanced="yes"', 13339, "is not true or false"),
])
def test_bad_speech_attributes_are_twilio_warnings_and_the_default_is_used(attrs, code,
                                                                           message):
    warnings, _ = gathered(attrs)
    assert [c for c, _ in warnings] == [code], warnings
    assert message in warnings[0][1]


def test_gathers_twilio_accepts_give_no_warning_and_hear_the_caller():
    for attrs, said in [
        ('input="dtmf speech" language="cmn-Hans-CN" speechTimeout="auto" hints="充值, 没到账"',
         TOPUP),
        ('input="speech" language="en-US" speechModel="experimental_utterances" '
         'speechTimeout="2"', "my payment failed"),
        ('input="speech" language="multi" speechModel="deepgram_nova-3" speechTimeout="1"',
         "my payment failed"),
        ('input="speech" speechModel="deepgram_nova-2-phonecall" speechTimeout="3"',
         "my payment failed"),
    ]:
        warnings, last = gathered(attrs, said)
        assert warnings == [] and last == f"Heard {said} 0.9", (attrs, warnings, last)


def test_a_language_the_model_does_not_take_fails_the_gather_for_speech():
    warnings, last = gathered('input="dtmf speech" language="cmn-Hans-CN" '
                              'speechModel="experimental_utterances" speechTimeout="2"', TOPUP)
    assert warnings == [(13331, "<Gather>: speechModel experimental_utterances does not take "
                                "cmn-Hans-CN: the gather fails for speech")]
    assert last == "Nothing"


def test_say_s_mandarin_tag_on_a_gather_leaves_the_caller_unheard():
    warnings, last = gathered('input="speech" language="cmn-CN"', TOPUP)
    assert [c for c, _ in warnings] == [13512] and last == "Nothing"


def test_the_app_s_own_speech_gathers_raise_no_warning(target):
    for trace in (call(target, "1", f"say:{TOPUP}", "10000001#", "246810"),
                  call(target, "2", "say:um", "say:um", "0")):
        assert trace.warnings == []
        assert {e.get("language") for e in trace.of_type("gather")} - {None} in (
            {"cmn-Hans-CN"}, {"en-US"})


# -- the README ------------------------------------------------------------------------

README = (ROOT.parent / "README.md").read_text("utf-8")


def readme_example(command: str) -> list[str]:
    """The output the README shows under ``$ command``."""
    block = README.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() != "..."]


@pytest.mark.parametrize("command", [
    'ivr call --from +8613800138000 --press "say 1 246810" --say "我充值的钱还没到账"',
    'ivr call --say "我充值的钱还没到账" --noise 0.6 --seed 1',
])
def test_the_readme_s_spoken_calls_print_what_it_shows(ivr, command):
    shown = readme_example(command)
    # the README's calls were made on 2 December 2026 while the line was open: at night the
    # same call ends with the closed line's hours, and on another day the demo's top-up
    # has another date, said in more or fewer words (the command has no --at: the clock
    # decides both)
    with freeze_time(README_MOMENT, tick=True):
        result = ivr(*shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    printed = result.output.splitlines()
    # the top-up status read out depends on the demo data's dates: not compared
    missing = [line for line in shown if line not in printed and "仍在处理中" not in line]
    assert not missing, result.output
