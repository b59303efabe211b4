"""What callers say at the main menu, understood on the shipped tree: the share of three
sets of utterances routed right, what a dropped word or an unsure recogniser does, and text
that means nothing.

- tests/data/speech_utterances.yaml: written with the tree.
- tests/data/speech_heldout.yaml: written before reading the tree's phrases; measured
  below 90 % when written (zh-CN 52/68, en-US 50/67). Its misses were then studied and the
  vocabulary gaps they showed fixed, so it is no longer blind: a regression set now.
- tests/data/speech_blind.yaml: a third set, written after that tuning without looking at
  the tree or the matcher. Measured first, before any tuning on it: zh-CN 41/48 = 85.4 %,
  en-US 43/48 = 89.6 %. The vocabulary gaps it showed were then fixed too, so it is no
  longer blind either: the figures above are the last out-of-sample ones.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import yaml

from ivr.flow import prompts, speech
from ivr.menu.loader import load_validated
from ivr.menu.model import Menu

DATA = Path(__file__).parent / "data"
LANGS = ("zh-CN", "en-US")
#: the share of a file's utterances that must come out right, per language
NEEDED = {"speech_utterances.yaml": 0.95, "speech_heldout.yaml": 0.90,
          "speech_blind.yaml": 0.90}
#: how sure the recogniser is in the accuracy runs (Twilio's Confidence)
SURE = 0.9
#: words that say nothing about why someone calls: never the "content word" dropped
FILLERS = set("我 你 您 的 了 吗 呢 啊 吧 嗯 喂 那个 就是 你好 请问 一下 是 有 在 就 都 也 还 这 那 个 "
              "i i'm me my a an the to of and or but is it it's hi yeah um uh so just please "
              "could you".split())
_SPOKEN = re.compile(r"[\w\u3400-\u9fff]")


@pytest.fixture(scope="module")
def menu() -> Menu:
    return load_validated(None, prompts.load())


def utterances(name: str) -> dict[str, list[dict]]:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


def understood(menu: Menu, lang: str, say: str, confidence: float | None = SURE) -> speech.Understood:
    return speech.listener(menu).understand(menu.nodes[menu.main], lang, say, confidence)


def right(item: dict, got: speech.Understood) -> bool:
    if "to" in item:
        return got.decision == "route" and got.target == item["to"]
    if "confirm" in item:
        return got.decision == "confirm" and got.target in item["confirm"]
    return got.decision == "none"


def report(capsys, lines: list[str]) -> None:
    """Shown in the log even with -q and captured output: the figures are the point."""
    with capsys.disabled():
        print("\n" + "\n".join(lines))


#: the sentences the blind set shares with speech_utterances.yaml: short requests its
#: writer, not having seen that file, wrote the same way
BLIND_SHARED = {"zh-CN": {"忘记密码了", "我想提高转账额度", "转人工", "我想换绑手机号"},
                "en-US": {"what's the weather like tomorrow"}}


def test_every_file_has_both_languages_and_every_target():
    for name in NEEDED:
        data = utterances(name)
        assert set(data) == set(LANGS), name
        for lang in LANGS:
            assert all(len({"to", "confirm", "none"} & set(item)) == 1 for item in data[lang])
    written, heldout = utterances("speech_utterances.yaml"), utterances("speech_heldout.yaml")
    for lang in LANGS:
        said = {name: {i["say"] for i in utterances(name)[lang]} for name in NEEDED}
        assert not said["speech_heldout.yaml"] & said["speech_utterances.yaml"], \
            "the held-out set must not share a sentence with the written one"
        assert not said["speech_blind.yaml"] & said["speech_heldout.yaml"], lang
        assert said["speech_blind.yaml"] & said["speech_utterances.yaml"] == BLIND_SHARED[lang]
        targets = {i["to"] for i in written[lang] if "to" in i}
        for name, items in (("speech_heldout.yaml", heldout[lang]),
                            ("speech_blind.yaml", utterances("speech_blind.yaml")[lang])):
            assert targets == {i["to"] for i in items if "to" in i}, (name, lang)


@pytest.mark.parametrize(("name", "lang"), [(name, lang) for name in NEEDED for lang in LANGS])
def test_accuracy(menu, capsys, name, lang):
    items = utterances(name)[lang]
    results = [(item, understood(menu, lang, item["say"])) for item in items]
    wrong = [(item, got) for item, got in results if not right(item, got)]
    share = 1 - len(wrong) / len(items)
    # a miss that still asks about the right topic costs the caller one keypress, not a turn
    asked = sum(got.decision == "confirm" and got.target == item.get("to") for item, got in wrong)
    report(capsys, [f"speech accuracy {name} {lang}: {len(items) - len(wrong)}/{len(items)} "
                    f"= {share:.1%} (of the misses, {asked} confirm the right target)"]
           + [f"  miss {item['say']!r}: wanted "
              f"{item.get('to') or item.get('confirm') or 'none'}, got {got.decision} "
              f"{got.target} (score {got.score}, rival {got.rival})" for item, got in wrong])
    if name == "speech_utterances.yaml":
        assert not [i["say"] for i, got in results if "confirm" in i and got.decision != "confirm"]
        assert not [i["say"] for i, got in results if "none" in i and got.decision != "none"]
    assert share >= NEEDED[name], f"{share:.1%} of {name} {lang} understood"


@pytest.mark.parametrize("lang", LANGS)
def test_a_word_lost_by_the_recogniser(menu, capsys, lang):
    """Drop one content word of each request (seeded): the caller is still routed, or
    asked to confirm, the right place most of the time. A request of one word is left out
    (without it nothing was said)."""
    chance = random.Random(13)
    kept = tried = 0
    lost: list[str] = []
    for item in utterances("speech_utterances.yaml")[lang]:
        if "to" not in item:
            continue
        words = speech.split(item["say"], lang)
        content = [i for i, w in enumerate(words)
                   if _SPOKEN.search(w) and w.lower().strip(",.?!，。？！") not in FILLERS]
        if len(content) < 2:
            continue
        dropped = chance.choice(content)
        said = speech.joiner(lang).join(w for i, w in enumerate(words) if i != dropped)
        got = understood(menu, lang, said)
        tried += 1
        if got.target == item["to"] and got.decision in ("route", "confirm"):
            kept += 1
        else:
            lost.append(f"  lost {said!r} (without {words[dropped]!r}): wanted {item['to']}, "
                        f"got {got.decision} {got.target}")
    report(capsys, [f"speech with a word dropped {lang}: {kept}/{tried} = {kept / tried:.1%} "
                    "still routed or confirmed right", *lost])
    assert kept / tried >= 0.7


@pytest.mark.parametrize("lang", LANGS)
def test_an_unsure_recogniser_is_asked_to_confirm(menu, lang):
    routed = [i for i in utterances("speech_utterances.yaml")[lang]
              if "to" in i and understood(menu, lang, i["say"]).decision == "route"]
    assert len(routed) >= 40
    for item in routed:
        unsure = understood(menu, lang, item["say"], 0.2)
        assert (unsure.decision, unsure.target) == ("confirm", item["to"]), item["say"]
        # Twilio may send no Confidence: then the words are taken as heard
        assert understood(menu, lang, item["say"], None).decision == "route", item["say"]


NOTHING = ["", " ", "\t\n  ", "。", "，，，？！", "...", "?!", "-- / _", "🙂🙂", "\x00",
           ("今天天气怎么样，" * 700)[:5000], ("what's the weather like tomorrow " * 200)[:5000],
           "x" * 5000, "啊" * 5000, "，" * 5000]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("said", NOTHING, ids=range(len(NOTHING)))
def test_text_that_says_nothing_is_none(menu, lang, said):
    assert understood(menu, lang, said).decision == "none"
    assert understood(menu, lang, said, 0.2).decision == "none"


@pytest.mark.parametrize(("lang", "said"), [
    ("en-US", "我充值的钱还没到账"), ("en-US", "转人工"), ("zh-CN", "my top up didn't go through"),
    ("zh-CN", "agent please"), ("zh-CN", "我的 refund 还没到"), ("en-US", "我的 refund 还没到"),
    ("zh-CN", "top up 充值 失败 failed"), ("en-US", "top up 充值 失败 failed"),
    ("zh-CN", "Ｒｅｆｕｎｄ　退款"), ("en-US", "ＲＥＦＵＮＤ"),
])
def test_text_in_the_other_language(menu, lang, said):
    """Words of the other language in a catalog's speech (a bilingual caller, a recogniser
    set to the wrong language) are matched as far as they go, never a crash."""
    got = understood(menu, lang, said)
    assert got.decision in ("route", "confirm", "none")
    assert got.target is None or got.target in speech.listener(menu).targets[menu.main]
    assert speech.split(said, lang) or not said.strip()


def test_a_request_in_the_other_language_is_not_routed_elsewhere(menu):
    """English words a Mandarin caller uses name the same target, or none."""
    for lang, said, target in [("en-US", "我的 refund 还没到", "refund_prepare"),
                               ("zh-CN", "我的 refund 还没到", "refund_prepare"),
                               ("en-US", "ＲＥＦＵＮＤ", "refund_prepare")]:
        got = understood(menu, lang, said)
        assert got.decision == "none" or got.target == target, (lang, said, got)


# -- a spoken yes or no to a confirmation --------------------------------------------------
@pytest.mark.parametrize(("lang", "said", "meaning"), [
    ("zh-CN", "是", True), ("zh-CN", "是的。", True), ("zh-CN", "对", True),
    ("zh-CN", "对对对", True), ("zh-CN", "没错", True), ("zh-CN", "没问题", True),
    ("zh-CN", "好的", True), ("zh-CN", "可以", True), ("zh-CN", "对，我充值的钱没到账", True),
    ("zh-CN", "是，没有到账", True),
    ("zh-CN", "不是", False), ("zh-CN", "不对", False), ("zh-CN", "不", False),
    ("zh-CN", "错了", False), ("zh-CN", "不是，我要退款", False), ("zh-CN", "我不是问这个", False),
    ("zh-CN", "没有", False),
    ("zh-CN", "嗯", None), ("zh-CN", "我要退款", None), ("zh-CN", "", None),
    ("en-US", "yes", True), ("en-US", "Yes, that's right.", True), ("en-US", "yeah", True),
    ("en-US", "correct", True), ("en-US", "sure", True), ("en-US", "OK", True),
    ("en-US", "no problem", True), ("en-US", "yes, my top up", True),
    ("en-US", "no", False), ("en-US", "nope", False), ("en-US", "that's not right", False),
    ("en-US", "wrong", False), ("en-US", "no, a refund", False), ("en-US", "I don't know", False),
    ("en-US", "um", None), ("en-US", "I know", None), ("en-US", "a refund", None),
])
def test_a_spoken_answer_to_a_confirmation(lang, said, meaning):
    assert speech.agrees(said, lang) is meaning


@pytest.mark.parametrize("lang", ["zh-CN", "en-US"])
def test_an_unsure_recogniser_says_neither_yes_nor_no(lang):
    yes = "是" if lang == "zh-CN" else "yes"
    assert speech.agrees(yes, lang, speech.LOW_CONFIDENCE) is True
    assert speech.agrees(yes, lang, speech.LOW_CONFIDENCE - 0.01) is None
