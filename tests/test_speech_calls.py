"""Whole calls that speak to the main menu (issue 13), through signed webhooks, in both
languages: what the Gather asks Twilio for, where a sentence leads, how a weak or unknown
one is handled, what is kept of it (never the words), and the requests an attacker sends.
"""

from __future__ import annotations

import json
import logging
import re
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from conftest import QUIET, TOKEN, Caller
from freezegun import freeze_time

from ivr import create_app
from ivr.flow.speech import CLEAR
from ivr.records.database import open_database

pytestmark = pytest.mark.both_backends

REPO = Path(__file__).resolve().parent.parent
STRANGER = "+8613700000000"        # no account: verification asks for the account number
VERIFY = ("10000001#", "246810")   # the demo account with a 200 CNY top-up processing
LANG_KEY = {"zh-CN": "1", "en-US": "2"}
#: Gather's recognition language: Google STT's tag, not <Say>'s cmn-CN
#: (https://www.twilio.com/docs/voice/twiml/gather#languagetags)
RECOGNISER = {"zh-CN": "cmn-Hans-CN", "en-US": "en-US"}
BOTH = pytest.mark.parametrize("lang", list(LANG_KEY))

#: every attribute Twilio documents for <Gather>
#: (https://www.twilio.com/docs/voice/twiml/gather, "<Gather> attributes")
GATHER_ATTRIBUTES = {
    "action", "actionOnEmptyResult", "enhanced", "finishOnKey", "hints", "input", "language",
    "method", "numDigits", "partialResultCallback", "partialResultCallbackMethod",
    "profanityFilter", "speechModel", "speechTimeout", "timeout"}

#: sentences each carrying a word the tree cannot contain, so that finding it anywhere
#: means the caller's words were kept
MARK = "ZXQ7788"
TOPUP = {"zh-CN": f"我充值的钱还没到账，订单号{MARK}",
         "en-US": f"my top up has not arrived, order {MARK}"}
UNKNOWN = {"zh-CN": "今天天气怎么样", "en-US": "what is the weather like"}
WEAK = {"zh-CN": "我的钱没到账", "en-US": "my money hasn't arrived"}


# One app per backend for the module, not per test: calls of their own CallSids share a
# database as on a live line.
@pytest.fixture(name="backend", scope="module")
def _backend(request):
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(name="settings", scope="module")
def _settings(backend, tmp_path_factory, request):
    if backend == "sqlite":
        database = str(tmp_path_factory.mktemp("speech") / "ivr.db")
    else:
        database = request.getfixturevalue("postgres_server").fresh_database()
    folder = tmp_path_factory.mktemp("speech-audio")
    return {"TESTING": True, "TWILIO_AUTH_TOKEN": TOKEN, "DEMO": True, "SECRET_KEY": "test",
            "DATABASE": database, "AUDIO_DIR": str(folder), "PIN_HASH_N": 16}


@pytest.fixture(name="app", scope="module")
def _app(settings):
    with freeze_time(QUIET):  # the demo's top-up is dated by the clock the calls run on
        return create_app(settings)


@pytest.fixture(name="client")
def _client(app, clock):
    return app.test_client()


# -- helpers ----------------------------------------------------------------------------------
def at_main(client, lang: str, number: str = STRANGER) -> Caller:
    call = Caller(client, number)
    call.start()
    call.press(LANG_KEY[lang])
    assert call.at == "main"
    return call


def gather(call: Caller) -> ET.Element:
    assert call.root is not None
    found = call.root.findall("Gather")
    assert len(found) == 1, ET.tostring(call.root)
    return found[0]


def words(call: Caller) -> list[str]:
    """What the last answer says, <Say> by <Say>."""
    assert call.root is not None
    return [e.text or "" for e in call.root.iter("Say")]


def text(app, lang: str, key: str) -> str:
    return app.extensions["ivr"].catalog.text(lang, key)


def events(app, call: Caller) -> list[dict]:
    return app.extensions["ivr"].store.events(call.sid)


def heard(row: dict) -> dict | None:
    return json.loads(row["heard"]) if row["heard"] is not None else None


def keys_only(element: ET.Element) -> None:
    """A Gather that takes keys and nothing else: no recogniser attribute at all."""
    assert element.get("input") == "dtmf"
    assert not {"language", "hints", "speechTimeout", "speechModel"} & set(element.attrib)


def menu_words(app, call: Caller, lang: str) -> list[str]:
    """The main menu's words as keys, read from the speech menu (after speech_intro)."""
    said = words(call)
    assert said[0] == text(app, lang, "speech_intro")
    return said[1:]


def all_rows(settings) -> list[tuple]:
    """Every row of every table, read apart from the app."""
    database = open_database(settings["DATABASE"], read_only=True)
    try:
        return [tuple(row) for table in sorted(database.tables())
                for row in database.read_all(f'SELECT * FROM "{table}"')]
    finally:
        database.close()


# -- the main menu's TwiML ---------------------------------------------------------------------
@BOTH
def test_the_main_menu_listens_in_the_callers_language(app, client, lang):
    call = at_main(client, lang)
    menu = gather(call)
    assert set(menu.attrib) <= GATHER_ATTRIBUTES, set(menu.attrib) - GATHER_ATTRIBUTES
    assert menu.get("input") == "dtmf speech"
    assert menu.get("numDigits") == "1"
    assert menu.get("language") == RECOGNISER[lang] != "cmn-CN"
    assert menu.get("speechTimeout") == "auto"
    assert menu.get("actionOnEmptyResult") == "true"
    assert "speechModel" not in menu.attrib  # none set: Twilio chooses, and fails over
    # the words still say <Say>'s own tag
    assert {s.get("language") for s in menu.iter("Say")} == \
        {"cmn-CN" if lang == "zh-CN" else "en-US"}
    # hints: "a comma-separated list of up to 500 entries", each "up to 100 characters"
    hints = [h.strip() for h in menu.get("hints", "").split(",")]
    assert 0 < len(hints) <= 500 and all(0 < len(h) <= 100 for h in hints)
    nodes = app.extensions["ivr"].menu.nodes.values()
    phrases = {p.replace(" ", "") if lang == "zh-CN" else p
               for n in nodes for p in n.phrases.get(lang, ())}
    assert set(hints) <= phrases
    assert ("转人工" if lang == "zh-CN" else "agent") in hints
    # the invitation to speak, then the menu
    said = menu_words(app, call, lang)
    assert said[0] == text(app, lang, "opt_payments")


@BOTH
def test_the_sub_menus_take_keys_only(client, lang):
    call = at_main(client, lang)
    call.press("1")
    assert call.at == "payments_menu"
    keys_only(gather(call))
    call.press("9")
    call.press("2")
    assert call.at == "account_menu"
    keys_only(gather(call))


# -- a sentence goes deep ---------------------------------------------------------------------
@pytest.mark.parametrize(("lang", "sentence", "target", "issue"), [
    ("zh-CN", TOPUP["zh-CN"], "topup_status", "topup"),
    ("en-US", TOPUP["en-US"], "topup_status", "topup"),
    ("en-US", "my payment failed", "payment_prepare", "payment"),
    ("zh-CN", "我付款付不了", "payment_prepare", "payment"),
])
def test_a_sentence_leads_through_verification_to_its_topic(app, client, lang, sentence,
                                                            target, issue):
    call = at_main(client, lang)
    call.say(sentence)
    assert call.at == "identify"  # the topic needs a verified caller
    assert app.extensions["ivr"].store.call(call.sid)["issue"] == issue
    call.keys(*VERIFY)
    assert call.at == target
    if target == "topup_status":  # the self-service status, in the caller's language
        assert call.said("200") and call.said(text(app, lang, "service_options"))


@pytest.mark.parametrize(("lang", "sentence"), [("zh-CN", "转人工"), ("en-US", "agent please")])
def test_asking_for_a_person_reaches_the_general_queue(client, lang, sentence):
    call = at_main(client, lang)
    call.say(sentence)
    assert call.queue == "general"


@pytest.mark.parametrize(("lang", "sentence"), [("zh-CN", "我的账户被盗了"),
                                                ("en-US", "someone stole my account")])
def test_fraud_goes_straight_to_the_fraud_check(app, client, lang, sentence):
    call = at_main(client, lang)
    call.say(sentence)
    assert call.at == "fraud_identify"
    assert app.extensions["ivr"].store.call(call.sid)["issue"] == "fraud"


@BOTH
def test_keys_still_work_at_the_speech_menu(app, client, lang):
    call = at_main(client, lang)
    call.press("1")
    assert call.at == "payments_menu"
    row = events(app, call)[-1]
    assert (row["input"], row["choice"], row["heard"]) == ("1", "1", None)


# -- not understood: once more in other words, then the keypad --------------------------------
@BOTH
def test_words_matching_nothing_are_asked_again_then_the_keypad_menu(app, client, lang):
    call = at_main(client, lang)
    menu = menu_words(app, call, lang)
    call.say(UNKNOWN[lang])
    assert words(call) == [text(app, lang, "speech_reask")]  # listening, no menu words
    again = gather(call)
    assert again.get("input") == "dtmf speech" and again.get("language") == RECOGNISER[lang]
    assert again.get("hints")
    call.say(UNKNOWN[lang])
    assert words(call) == [text(app, lang, "speech_keypad"), *menu]
    keys_only(gather(call))
    call.press("1")
    assert call.at == "payments_menu"
    outcomes = [(heard(r) or {}).get("outcome") for r in events(app, call)[-3:]]
    assert outcomes == ["unmatched", "keypad", None]


@BOTH
def test_a_spoken_answer_at_the_keypad_menu_is_no_input(app, client, lang):
    call = at_main(client, lang)
    call.say(UNKNOWN[lang])
    call.say(UNKNOWN[lang])
    call.say(TOPUP[lang])  # Twilio would not send it (keys only); a forged one is silence
    assert call.at == "main"
    assert call.said(text(app, lang, "no_input"))
    assert events(app, call)[-1]["choice"] == "no_input"


# -- a weak or tied match is confirmed with one key, or a spoken yes or no ----------------------
def confirming(app, client, lang: str, sentence: str | None = None,
               confidence: str = "0.92") -> Caller:
    call = at_main(client, lang)
    call.say(sentence or WEAK[lang], confidence)
    assert words(call) == [text(app, lang, "speech_confirm"), text(app, lang, "topic_topup"),
                           text(app, lang, "speech_confirm_keys")]
    ask = gather(call)
    # callers answer "对" as often as they press 1: the question listens too, for a yes or no
    assert ask.get("input") == "dtmf speech" and ask.get("language") == RECOGNISER[lang]
    assert [h.strip() for h in ask.get("hints", "").split(",")] == \
        (["是", "不是", "对", "不对"] if lang == "zh-CN" else ["yes", "no"])
    assert ask.get("numDigits") == "1" and call.at == "main"
    row = events(app, call)[-1]
    assert heard(row)["outcome"] == "confirm" and heard(row)["target"] == "topup_status"
    return call


@BOTH
def test_a_weak_match_confirmed_with_1_goes_there(app, client, lang):
    call = confirming(app, client, lang)
    call.press("1")
    assert call.at == "identify"
    assert app.extensions["ivr"].store.call(call.sid)["issue"] == "topup"
    row = events(app, call)[-1]
    assert row["choice"] == "confirmed"
    assert heard(row) == {"outcome": "confirmed", "target": "topup_status"}


@BOTH
@pytest.mark.parametrize(("answer", "choice"), [("2", "declined"), ("", "no_input")])
def test_a_weak_match_declined_or_unanswered_gives_the_keypad_menu(app, client, lang,
                                                                   answer, choice):
    menu = menu_words(app, at_main(client, lang), lang)
    call = confirming(app, client, lang)
    call.press(answer)
    assert words(call) == [text(app, lang, "speech_keypad"), *menu]
    keys_only(gather(call))
    row = events(app, call)[-1]
    assert row["choice"] == choice and heard(row)["outcome"] == "declined"
    call.press("0")
    assert call.queue == "general"


@BOTH
def test_a_clear_sentence_heard_with_low_confidence_is_confirmed(app, client, lang):
    call = confirming(app, client, lang, TOPUP[lang], confidence="0.1")
    assert heard(events(app, call)[-1])["confidence"] == 0.1


# -- what is kept of a spoken answer: what it matched, never the words --------------------------
@BOTH
def test_the_spoken_step_keeps_what_it_matched_and_nothing_else(app, client, lang):
    call = at_main(client, lang)
    call.say(TOPUP[lang], "0.87")
    rows = events(app, call)
    spoken = rows[-1]
    assert (spoken["node"], spoken["input"], spoken["choice"]) == ("main", "(speech)", "speech")
    matched = heard(spoken)
    assert set(matched) == {"outcome", "target", "score", "confidence"}
    assert (matched["outcome"], matched["target"]) == ("matched", "topup_status")
    assert CLEAR <= matched["score"] <= 1 and matched["confidence"] == 0.87
    catalog = app.extensions["ivr"].catalog
    assert all(catalog.has(lang, key) for key in spoken["said"].split())  # prompt keys only
    assert [r["heard"] for r in rows[:-1]] == [None] * (len(rows) - 1)


def test_the_callers_words_are_in_no_table_no_file_and_no_log(app, client, settings, caplog):
    caplog.set_level(logging.DEBUG)
    sentences = []
    for lang in LANG_KEY:
        matched = at_main(client, lang)
        matched.say(TOPUP[lang])
        matched.keys(*VERIFY)
        unknown = at_main(client, lang)
        unknown.say(f"{UNKNOWN[lang]} {MARK}")  # not understood: asked again
        unknown.say(f"{UNKNOWN[lang]} {MARK}")  # again: the keypad menu
        low = at_main(client, lang)
        low.say(TOPUP[lang], "0.1")
        low.press("1")
        sentences += [TOPUP[lang], f"{UNKNOWN[lang]} {MARK}"]
    rows = repr(all_rows(settings))
    assert "(speech)" in rows  # the steps are there, without their words
    for found in (rows, *(r.getMessage() for r in caplog.records)):
        assert MARK not in found
        assert not any(s in found for s in sentences)
    if settings["DATABASE"].startswith("postgresql"):
        return
    database = Path(settings["DATABASE"])
    files = sorted(database.parent.glob(database.name + "*"))
    assert database.with_name(database.name + "-wal") in files
    raw = b"".join(path.read_bytes() for path in files)  # -wal and -shm too: freed pages
    assert b'"target": "topup_status"' in raw  # the scan sees what the calls wrote
    assert MARK.encode() not in raw
    assert "订单号".encode() not in raw and b"weather" not in raw


# -- attacks ----------------------------------------------------------------------------------
def test_a_100_kb_speech_result_is_refused_and_the_call_goes_on(app, client):
    call = at_main(client, "en-US")
    url = call.action
    huge = call.send(url, SpeechResult="agent " * 17_000, Confidence="0.9")
    assert huge.status_code == 413  # over MAX_CONTENT_LENGTH (ivr.web.limits), unread
    assert events(app, call)[-1]["node"] == "language"  # no step taken
    call.say("agent please")
    assert call.queue == "general"


def test_a_long_speech_result_under_the_body_limit_is_read_in_part(app, client):
    call = at_main(client, "en-US")
    call.say("agent please " + "and so on " * 3_000)  # 30 kB: the first 500 characters
    assert call.queue == "general"
    assert events(app, call)[-1]["input"] == "(speech)"


@pytest.mark.parametrize("confidence", ["abc", "-1", "1e9", "NaN", "0.5.5", "", "1.5", "inf"])
def test_a_nonsense_confidence_is_ignored(app, client, confidence):
    call = at_main(client, "zh-CN")
    call.say(TOPUP["zh-CN"], confidence)
    assert call.at == "identify"
    matched = heard(events(app, call)[-1])
    assert (matched["outcome"], matched["target"]) == ("matched", "topup_status")
    assert "confidence" not in matched


@pytest.mark.parametrize("said", [
    "'; DROP TABLE call_events; --", 'Robert"); DELETE FROM calls; --', "\x00\x07\x1b[31m充值\x7f",
    "😀🔥💸 top up 💳", "<Say>hi</Say>&amp;]]>", "\u202e\u200b\ufeff", "%00%27 OR 1=1"])
def test_hostile_words_are_just_words(app, client, settings, said):
    call = at_main(client, "en-US")
    before = len(events(app, call))
    response = call.send(call.action, SpeechResult=said, Confidence="0.9")
    assert response.status_code == 200
    root = ET.fromstring(response.data)  # well-formed TwiML, the words not echoed
    assert "DROP" not in response.data.decode() and root.find("Gather") is not None
    rows = events(app, call)
    assert len(rows) == before + 1 and rows[-1]["input"] in ("(speech)", "")
    assert app.extensions["ivr"].store.call(call.sid) is not None
    assert all_rows(settings)  # every table still there


@BOTH
def test_a_key_and_speech_in_one_request_the_key_wins(app, client, lang):
    call = at_main(client, lang)
    call.post(call.action, Digits="1", SpeechResult="转人工" if lang == "zh-CN" else "agent",
              Confidence="0.95")
    assert call.at == "payments_menu"
    row = events(app, call)[-1]
    assert (row["input"], row["choice"], row["heard"]) == ("1", "1", None)


@pytest.mark.parametrize("keys", [["1"], ["1", "1"]], ids=["sub-menu", "verification"])
def test_speech_posted_to_a_keys_only_node_is_no_input(app, client, keys):
    call = at_main(client, "en-US")
    call.keys(*keys)
    node = call.at
    call.say("agent please")
    assert call.at == node and call.queue is None
    assert call.said(text(app, "en-US", "no_input"))
    row = events(app, call)[-1]
    assert row["choice"] == "no_input" and row["heard"] is None


YES = {"zh-CN": ["是", "是的", "对，我充值没到账", "没错", "对对对"],
       "en-US": ["yes", "yeah that's right", "correct", "Yes, my top up."]}
NO = {"zh-CN": ["不是", "不对，我要退款", "我不是问这个"],
      "en-US": ["no", "that's not right", "nope, a refund"]}


@BOTH
def test_a_weak_match_confirmed_by_a_spoken_yes_goes_there(app, client, lang):
    for yes in YES[lang]:
        call = confirming(app, client, lang)
        call.say(yes)
        assert call.at == "identify", yes
        row = events(app, call)[-1]
        assert (row["input"], row["choice"]) == ("(speech)", "confirmed")
        assert heard(row) == {"outcome": "confirmed", "target": "topup_status"}


@BOTH
def test_a_spoken_no_or_neither_gives_the_keypad_menu(app, client, lang):
    menu = menu_words(app, at_main(client, lang), lang)
    unclear = [("嗯" if lang == "zh-CN" else "um", "0.9"), (YES[lang][0], "0.2")]
    for said, confidence in [*((no, "0.9") for no in NO[lang]), *unclear]:
        call = confirming(app, client, lang)
        call.say(said, confidence)
        assert words(call) == [text(app, lang, "speech_keypad"), *menu], said
        keys_only(gather(call))  # the keypad menu takes keys only
        row = events(app, call)[-1]
        assert row["input"] == "(speech)" and heard(row)["outcome"] == "declined"
        assert row["choice"] == ("declined" if (said, confidence) not in unclear else "invalid")


@BOTH
def test_a_replayed_spoken_request_changes_nothing(app, client, lang):
    call = at_main(client, lang)
    url = call.action
    call.say(TOPUP[lang])
    first = words(call)
    steps = len(events(app, call))
    state = app.extensions["ivr"].store.call(call.sid)
    call.post(url, SpeechResult=UNKNOWN[lang], Confidence="0.9")  # the same turn again
    assert call.at == "identify" and words(call) == first
    assert len(events(app, call)) == steps
    assert app.extensions["ivr"].store.call(call.sid) == state


def test_ten_parallel_spoken_requests_for_one_turn_take_one_step(app):
    call = at_main(app.test_client(), "zh-CN")
    url = call.action

    def speak(n: int):
        other = Caller(app.test_client(), STRANGER)
        other.sid = call.sid
        said = TOPUP["zh-CN"] if n % 2 else UNKNOWN["zh-CN"]
        return other.send(url, SpeechResult=said, Confidence="0.9")

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(speak, range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    spoken = [r for r in events(app, call) if r["node"] == "main"]
    assert len(spoken) == 1 and spoken[0]["input"] == "(speech)"
    turn = int(urlsplit(url).query.removeprefix("t="))
    state = app.extensions["ivr"].store.get_call(call.sid, app.extensions["ivr"].now())
    assert state.turn == turn + 1


# -- a tree without phrases keeps keys only ---------------------------------------------------
def without_phrases(source: str) -> str:
    """The tree's text with every ``phrases:`` block and ``topic:`` line taken out."""
    kept, block = [], None
    for line in source.splitlines():
        indent = len(line) - len(line.lstrip())
        if block is not None and (not line.strip() or indent > block):
            continue
        block = None
        if re.match(r"\s*phrases:", line):
            block = indent
            continue
        if not re.match(r"\s*topic:", line):
            kept.append(line)
    return "\n".join(kept) + "\n"


@BOTH
def test_a_tree_without_phrases_has_a_keys_only_main_menu(settings, clock, tmp_path, lang):
    tree = tmp_path / "wallet.yaml"
    tree.write_text(without_phrases((REPO / "ivr" / "menus" / "wallet.yaml").read_text("utf-8")),
                    "utf-8")
    nodes = yaml.safe_load(tree.read_text("utf-8"))["nodes"].values()
    assert not [n for n in nodes if "phrases" in n or "topic" in n]
    app = create_app({**settings, "MENU": str(tree)})
    call = at_main(app.test_client(), lang)
    keys_only(gather(call))
    assert not call.said(text(app, lang, "speech_intro"))
    assert words(call)[0] == text(app, lang, "opt_payments")
    call.say(TOPUP[lang])  # a forged spoken answer: silence
    assert call.at == "main" and call.said(text(app, lang, "no_input"))
    call.press("0")
    assert call.queue == "general"
