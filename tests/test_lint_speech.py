"""`ivr lint` of speech menus: each mistake planted in a copy of the shipped tree (or its
prompt catalog) is reported at its file and line, several at once are all listed, and a
tree without phrases keeps its menus keys-only and needs no speech prompts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr import prompts, speech
from ivr.cli import cli
from ivr.menu.loader import DEFAULT_MENU, check
from ivr.menu.model import takes_speech
from ivr.menu.validate import SPEECH_PROMPTS

SHIPPED = DEFAULT_MENU.read_text(encoding="utf-8")
SHIPPED_PROMPTS = Path(__file__).parent.parent / "ivr" / "data" / "prompts"
LANGS = ("zh-CN", "en-US")

REFUND_EN = "      en-US: [refund, money back, refunded, return money, refund not received]\n"
OTHER_EN = "      en-US: [abroad, overseas, foreign currency, travel, traveling, exchange rate]\n"
REFUND_ZH = "      zh-CN: [退款, 退钱, 退回来, 没 退, 已经 退, 退回, 退款 没收到]\n"
REFUND_ALL = "    phrases:\n" + REFUND_ZH + REFUND_EN
WITHDRAW_EN = "      en-US: [withdraw, withdrawal, cash out, to my bank]\n"
#: phrases on a node reached only through a verify node's next: no speech menu leads to it
FREEZE = ("    action: freeze\n",
          "    action: freeze\n    phrases: {zh-CN: [马上冻结], en-US: [freeze now]}\n")


def planted(*edits: tuple[str, str], text: str = SHIPPED) -> str:
    for old, new in edits:
        assert text.count(old) == 1, f"the plant {old!r} no longer fits the shipped tree"
        text = text.replace(old, new)
    return text


def line(text: str, snippet: str, after: str = "") -> int:
    """The line (from 1) of the first ``snippet`` in ``text`` (after ``after``)."""
    start = text.index(after) if after else 0
    return text.count("\n", 0, text.index(snippet, start)) + 1


def lint(tmp_path: Path, text: str, prompts_dir: Path | None = None) -> tuple[int, str]:
    path = tmp_path / "menu.yaml"
    path.write_text(text, encoding="utf-8")
    extra = ["--prompts", str(prompts_dir)] if prompts_dir else []
    result = CliRunner().invoke(cli, ["lint", str(path), *extra], catch_exceptions=False)
    return result.exit_code, result.output


def catalog_without(tmp_path: Path, drop: dict[str, re.Pattern[str]]) -> Path:
    """A copy of the shipped prompt catalog without the keys matching ``drop[lang]``."""
    folder = tmp_path / "prompts"
    folder.mkdir()
    for lang in LANGS:
        text = (SHIPPED_PROMPTS / f"{lang}.yaml").read_text(encoding="utf-8")
        if lang in drop:
            text = "".join(ln for ln in text.splitlines(keepends=True) if not drop[lang].match(ln))
        (folder / f"{lang}.yaml").write_text(text, encoding="utf-8")
    return folder


def without_phrases(text: str) -> str:
    """The tree as written before speech: no phrases, no topics."""
    text = re.sub(r"^    phrases:\n(?:      .*\n)+", "", text, flags=re.M)
    return re.sub(r"^    topic: .*\n", "", text, flags=re.M)


def test_the_shipped_tree_lints_clean_and_its_main_menu_takes_speech(tmp_path):
    code, output = lint(tmp_path, SHIPPED)
    assert code == 0, output
    assert output.strip() == "menu.yaml: 37 nodes, 0 errors"  # no warnings either
    menu, problems = check(DEFAULT_MENU, prompts.load())
    assert problems == []
    assert [n for n in menu.nodes.values() if takes_speech(menu, n)] == [menu.nodes["main"]]


# (name, edits, the node and field a problem names, the snippet of its line, message)
PLANTS = [
    ("an option without phrases in one language", [(OTHER_EN, "")],
     "main.options['5']", '"5": {goto: other_prepare',
     "'other_prepare' needs phrases in en-US: 'main' takes speech"),
    ("a phrase naming two targets", [(REFUND_EN, REFUND_EN.replace("[refund,", "[Cash  Out,"))],
     "refund_prepare.phrases.en-US", "      en-US: [Cash  Out,",
     "phrase 'Cash  Out' also names 'withdrawal_prepare' (line {withdrawal_en})"),
    ("a target without a topic", [("    topic: topic_limit\n", "")],
     "limit_prepare.phrases", "    phrases:\n      zh-CN: [额度",
     "has phrases but no 'topic'"),
    ("a topic in no prompt file", [("topic: topic_limit\n", "topic: topic_limits\n")],
     "limit_prepare.topic", "topic: topic_limits",
     "prompt 'topic_limits' is in no prompt file (en-US, zh-CN); did you mean 'topic_limit'?"),
    ("phrases in a language without prompts",
     [(REFUND_EN, REFUND_EN + "      fr-FR: [remboursement]\n")],
     "refund_prepare.phrases.fr-FR", "fr-FR:",
     "phrases in 'fr-FR', which has no prompt file (en-US, zh-CN)"),
    ("speech on a prepare node", [("    issue: refund\n", "    issue: refund\n    speech: true\n")],
     "refund_prepare.speech", "speech: true", "only a menu takes speech, not a prepare node"),
    ("speech on a say node", [("    prompt: welcome\n", "    prompt: welcome\n    speech: false\n")],
     "welcome.speech", "speech: false", "only a menu takes speech, not a say node"),
    ("speech not a bool", [("    issue: refund\n", '    issue: refund\n    speech: "true"\n')],
     "refund_prepare.speech", "speech:", "speech must be true or false, not 'true'"),
    ("speech as a number", [("  main:\n    kind: menu\n", "  main:\n    kind: menu\n    speech: 1\n")],
     "main.speech", "speech: 1", "speech must be true or false, not 1"),
    ("phrases not a mapping", [(REFUND_ALL, "    phrases: [退款]\n")],
     "refund_prepare.phrases", "phrases: [退款]",
     "phrases must be a mapping of language to a list of phrases"),
    ("phrases of a language not a list", [(REFUND_EN, "      en-US: {refund: 1}\n")],
     "refund_prepare.phrases.en-US", "en-US: {refund: 1}",
     "must be a list of phrases, each some words callers say"),
    ("phrases of a language a number", [(REFUND_EN, "      en-US: 5\n")],
     "refund_prepare.phrases.en-US", "en-US: 5", "must be a list of phrases"),
    ("an empty list of phrases", [(REFUND_EN, "      en-US: []\n")],
     "refund_prepare.phrases.en-US", "en-US: []", "must be a list of phrases"),
    ("an empty phrase", [(REFUND_EN, '      en-US: [refund, "  "]\n')],
     "refund_prepare.phrases.en-US", 'en-US: [refund, "  "]', "must be a list of phrases"),
    ("no phrases under a language", [(REFUND_EN, "      en-US:\n")],
     "refund_prepare.phrases.en-US", "en-US:", "must be a list of phrases"),
]


@pytest.mark.parametrize(("name", "edits", "where", "snippet", "message"), PLANTS,
                         ids=[p[0] for p in PLANTS])
def test_lint_finds_a_speech_mistake(tmp_path, name, edits, where, snippet, message):
    text = planted(*edits)
    node = where.split(".", 1)[0]
    message = message.format(withdrawal_en=line(text, WITHDRAW_EN.strip()))
    code, output = lint(tmp_path, text)
    assert code == 1, output
    errors = [ln for ln in output.splitlines() if ln.startswith("error: ")]
    expected = f"error: menu.yaml:{line(text, snippet, f'  {node}:')} nodes.{where}: {message}"
    assert any(ln.startswith(expected) for ln in errors), f"{expected}\n not in\n{output}"


def test_a_phrase_naming_two_targets_names_both_with_their_lines(tmp_path):
    text = planted((REFUND_EN, REFUND_EN.replace("[refund,", "[refund, TO my   bank,")))
    code, output = lint(tmp_path, text)
    assert code == 1
    refund, withdrawal = line(text, "TO my   bank"), line(text, WITHDRAW_EN.strip())
    assert (f"error: menu.yaml:{refund} nodes.refund_prepare.phrases.en-US: phrase 'TO my   bank' "
            f"also names 'withdrawal_prepare' (line {withdrawal}): one phrase, one target, or "
            "'main' could only guess") in output
    # the same words in the other language, or in a menu no speech menu reaches, are no clash
    assert output.count("also names") == 1


def test_a_sub_menu_taking_speech_needs_phrases_for_each_option(tmp_path):
    text = planted(("  fraud_freeze_offer:\n    kind: menu\n",
                    "  fraud_freeze_offer:\n    kind: menu\n    speech: true\n"))
    code, output = lint(tmp_path, text)
    assert code == 1
    for key, goto in (("1", "fraud_freeze"), ("2", "fraud_queue")):
        at = line(text, f'"{key}": {{goto: {goto}', "  fraud_freeze_offer:")
        assert (f"error: menu.yaml:{at} nodes.fraud_freeze_offer.options['{key}']: '{goto}' "
                f"needs phrases in en-US, zh-CN: 'fraud_freeze_offer' takes speech") in output
    assert output.rstrip().endswith("2 errors")


@pytest.mark.parametrize(("lang", "key", "where"), [
    ("en-US", "topic_limit", "limit_prepare.topic"),
    ("zh-CN", "speech_confirm", "main"),
    ("en-US", "speech_intro", "main"),
])
def test_a_speech_prompt_missing_from_one_catalog(tmp_path, lang, key, where):
    folder = catalog_without(tmp_path, {lang: re.compile(rf"{key}:")})
    code, output = lint(tmp_path, SHIPPED, folder)
    assert code == 1
    node = where.split(".")[0]
    at = line(SHIPPED, "topic: topic_limit") if "topic" in where else line(SHIPPED, f"  {node}:\n")
    assert f"error: menu.yaml:{at} nodes.{where}: prompt '{key}' has no {lang} text" in output
    assert f"{lang}.yaml:{key}: missing translation" in output  # the catalog's own check


def test_phrases_no_speech_menu_reaches_are_a_warning(tmp_path):
    text = planted(FREEZE)
    code, output = lint(tmp_path, text)
    assert code == 0, output
    assert (f"warning: menu.yaml:{line(text, 'phrases: {zh-CN: [马上冻结]')} nodes.fraud_freeze."
            "phrases: has phrases, but no speech menu leads to it: no caller can say them") in output
    assert output.rstrip().endswith("0 errors, 1 warning")


def test_a_target_deep_in_the_tree_lacking_a_language_is_a_warning(tmp_path):
    text = planted((REFUND_EN, ""))
    code, output = lint(tmp_path, text)
    assert code == 0, output
    at = line(text, "    phrases:", "  refund_prepare:")
    assert (f"warning: menu.yaml:{at} nodes.refund_prepare.phrases: has no phrases in en-US: "
            "those callers cannot say it") in output
    assert output.rstrip().endswith("0 errors, 1 warning")


def test_several_speech_mistakes_are_all_listed_with_their_lines(tmp_path):
    text = planted(
        (OTHER_EN, ""),
        (REFUND_EN, REFUND_EN.replace("[refund,", "[cash out,") + "      fr-FR: [remboursement]\n"),
        ("    topic: topic_limit\n", ""),
        ("topic: topic_close\n", "topic: topic_closed\n"),
        ("    issue: payment\n", "    issue: payment\n    speech: true\n"),
        FREEZE,
        ("      en-US: [privacy,", "      en-US: [\"\", privacy,"),
        ("  main:\n    kind: menu\n", "  main:\n    kind: menu\n    speech: yes please\n"),
    )
    code, output = lint(tmp_path, text)
    assert code == 1
    expected = [
        (line(text, '"5": {goto: other_prepare'), "main.options['5']",
         "'other_prepare' needs phrases in en-US"),
        (line(text, "[cash out,"), "refund_prepare.phrases.en-US", "phrase 'cash out' also names "
         f"'withdrawal_prepare' (line {line(text, WITHDRAW_EN.strip())})"),
        (line(text, "fr-FR:"), "refund_prepare.phrases.fr-FR", "phrases in 'fr-FR'"),
        (line(text, "    phrases:", "  limit_prepare:"), "limit_prepare.phrases",
         "has phrases but no 'topic'"),
        (line(text, "topic: topic_closed"), "close_prepare.topic",
         "prompt 'topic_closed' is in no prompt file"),
        (line(text, "speech: true"), "payment_prepare.speech", "only a menu takes speech, not a prepare"),
        (line(text, "en-US: [\"\", privacy"), "privacy_prepare.phrases.en-US", "must be a list of phrases"),
        (line(text, "speech: yes please"), "main.speech", "speech must be true or false, not 'yes please'"),
    ]
    for at, where, message in expected:
        assert f"error: menu.yaml:{at} nodes.{where}: {message}" in output, (where, output)
    warning = f"warning: menu.yaml:{line(text, 'phrases: {zh-CN: [马上冻结]')} nodes.fraud_freeze.phrases"
    assert warning in output
    errors = [ln for ln in output.splitlines() if ln.startswith("error: ")]
    assert all(re.match(r"error: menu\.yaml:\d+ nodes\.", ln) for ln in errors), output
    assert len(errors) == len(expected), output  # one problem per mistake


def test_a_tree_without_phrases_keeps_its_menus_keys_only(tmp_path):
    """A tree written before speech: its main menu does not listen, and a catalog without
    any speech or topic prompt is complete for it."""
    text = without_phrases(SHIPPED)
    assert "phrases:" not in text and "topic:" not in text
    folder = catalog_without(tmp_path, {lang: re.compile(r"(speech|topic)_\w+:") for lang in LANGS})
    catalog = prompts.load(folder)
    assert not any(catalog.has(lang, key) for lang in LANGS for key in SPEECH_PROMPTS)
    code, output = lint(tmp_path, text, folder)
    assert code == 0, output
    assert output.strip() == "menu.yaml: 37 nodes, 0 errors"
    menu, problems = check(tmp_path / "menu.yaml", catalog)
    assert problems == []
    assert not any(takes_speech(menu, n) for n in menu.nodes.values())
    assert speech.listener(menu).targets == {}
    # asked anyway, the main menu understands nothing
    assert speech.listener(menu).understand(menu.nodes["main"], "zh-CN", "充值", 0.9).decision == "none"


def test_speech_switched_on_for_a_tree_without_phrases_lists_every_option(tmp_path):
    text = without_phrases(SHIPPED).replace("  main:\n    kind: menu\n",
                                            "  main:\n    kind: menu\n    speech: true\n", 1)
    folder = catalog_without(tmp_path, {lang: re.compile(r"(speech|topic)_\w+:") for lang in LANGS})
    code, output = lint(tmp_path, text, folder)
    assert code == 1
    options = re.findall(r'^      "(\d)": \{goto: (\w+)', text.split("  main:\n", 1)[1].split("\n\n")[0],
                         flags=re.M)
    assert len(options) == 6
    for key, goto in options:
        assert f"nodes.main.options['{key}']: '{goto}' needs phrases in en-US, zh-CN" in output
    speech_line = line(text, "speech: true")
    for key in SPEECH_PROMPTS:
        assert f"error: menu.yaml:{speech_line} nodes.main.speech: prompt '{key}' is in no prompt file" \
            in output
