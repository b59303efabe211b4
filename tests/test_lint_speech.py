"""`ivr lint` of speech menus: each mistake planted in a copy of the shipped tree (or its
prompt catalog) is reported at its file and line, several at once are all listed, and a
tree without phrases keeps its menus keys-only and needs no speech prompts.

A plant finds the line it changes by its node and key (``field``), not by the line's
text, so editing the shipped phrases does not break it. Phrases are compared as heard
(``ivr.menu.phrases.keywords``: stop words dropped, English stemmed, order ignored)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import cli
from ivr.flow import prompts, speech
from ivr.menu.loader import DEFAULT_MENU, check
from ivr.menu.model import takes_speech
from ivr.menu.validate import SPEECH_PROMPTS

SHIPPED = DEFAULT_MENU.read_text(encoding="utf-8")
SHIPPED_PROMPTS = Path(__file__).parent.parent / "prompts"
LANGS = ("zh-CN", "en-US")

#: a plant: (node, key of one of its lines, the line's replacement or a function of it)
Edit = tuple[str, str, "str | Callable[[str], str]"]


def block(text: str, node: str) -> tuple[int, int]:
    """Where node ``node``'s lines are in ``text``: from its ``  id:`` line to the next
    line at its indent or less."""
    found = re.search(rf"^  {re.escape(node)}:\n(?:(?:    .*|[ \t]*)\n)*", text, flags=re.M)
    assert found, f"no node {node!r} in the tree"
    return found.start(), found.end()


def field(text: str, node: str, key: str) -> re.Match[str]:
    """The line of ``key:`` (``topic``, ``phrases``, ``en-US``, ``"5"`` ...) in node
    ``node``'s block, whatever follows the colon."""
    start, end = block(text, node)
    pattern = re.compile(rf"^ +{re.escape(key)}:.*\n", flags=re.M)
    found = list(pattern.finditer(text, start, end))
    assert len(found) == 1, f"{len(found)} lines of {key!r} in node {node!r}"
    return found[0]


def at(text: str, node: str, key: str) -> int:
    """The line (from 1) of ``key:`` in node ``node``."""
    return text.count("\n", 0, field(text, node, key).start()) + 1


def block_line(text: str, node: str) -> int:
    """The line (from 1) of node ``node``'s ``  id:``."""
    return text.count("\n", 0, block(text, node)[0]) + 1


def planted(*edits: Edit, text: str = SHIPPED) -> str:
    for node, key, change in edits:
        found = field(text, node, key)
        new = change(found.group()) if callable(change) else change
        text = text[:found.start()] + new + text[found.end():]
    return text


def after(extra: str) -> Callable[[str], str]:
    """An edit adding ``extra`` (lines) after the line."""
    return lambda old: old + extra


def first(phrase: str) -> Callable[[str], str]:
    """An edit putting ``phrase`` first in a line of phrases (``en-US: [...]``)."""
    return lambda old: old.replace("[", f"[{phrase}, ", 1)


#: phrases on a node reached only through a verify node's next: no speech menu leads to it
FREEZE: Edit = ("fraud_freeze", "action", after("    phrases: {zh-CN: [马上冻结], en-US: [freeze now]}\n"))
#: and on one reached only through a menu no one speaks to
FRAUD_QUEUE: Edit = ("fraud_queue", "queue", after("    phrases: {zh-CN: [反诈], en-US: [fraud team]}\n"))


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
    assert output.strip() == "menu.yaml: 39 nodes, 0 errors"  # no warnings either
    menu, problems = check(DEFAULT_MENU, prompts.load())
    assert problems == []
    assert [n for n in menu.nodes.values() if takes_speech(menu, n)] == [menu.nodes["main"]]


# (name, edits, the node and field a problem names, the node and key of its line, message)
PLANTS = [
    ("an option without phrases in one language", [("other_prepare", "en-US", "")],
     "main.options['5']", ("main", '"5"'),
     "'other_prepare' needs phrases in en-US: 'main' takes speech"),
    ("a phrase naming two targets", [("refund_prepare", "en-US", first("Cash  Out"))],
     "refund_prepare.phrases.en-US", ("refund_prepare", "en-US"),
     "phrase 'Cash  Out' also names 'withdrawal_prepare' (line {withdrawal_en})"),
    ("a phrase naming two targets once heard", [("limit_prepare", "en-US", first("my Refunds"))],
     "limit_prepare.phrases.en-US", ("limit_prepare", "en-US"),
     "phrase 'my Refunds' also names 'refund_prepare' (line {refund_en})"),
    ("a phrase of words that say nothing", [("refund_prepare", "en-US", first('"I want to"'))],
     "refund_prepare.phrases.en-US", ("refund_prepare", "en-US"),
     "phrase 'I want to' is only words that say nothing of a topic: it would never be heard"),
    ("a Mandarin phrase of words that say nothing", [("refund_prepare", "zh-CN", first("我 的"))],
     "refund_prepare.phrases.zh-CN", ("refund_prepare", "zh-CN"),
     "phrase '我 的' is only words that say nothing of a topic"),
    ("a target without a topic", [("limit_prepare", "topic", "")],
     "limit_prepare.phrases", ("limit_prepare", "phrases"),
     "has phrases but no 'topic'"),
    ("a topic in no prompt file", [("limit_prepare", "topic", "    topic: topic_limits\n")],
     "limit_prepare.topic", ("limit_prepare", "topic"),
     "prompt 'topic_limits' is in no prompt file (en-US, zh-CN); did you mean 'topic_limit'?"),
    ("phrases in a language without prompts",
     [("refund_prepare", "en-US", after("      fr-FR: [remboursement]\n"))],
     "refund_prepare.phrases.fr-FR", ("refund_prepare", "fr-FR"),
     "phrases in 'fr-FR', which has no prompt file (en-US, zh-CN)"),
    ("speech on a prepare node", [("refund_prepare", "issue", after("    speech: true\n"))],
     "refund_prepare.speech", ("refund_prepare", "speech"),
     "only a menu takes speech, not a prepare node"),
    ("speech on a say node", [("welcome", "prompt", after("    speech: false\n"))],
     "welcome.speech", ("welcome", "speech"), "only a menu takes speech, not a say node"),
    ("speech not a bool", [("refund_prepare", "issue", after('    speech: "true"\n'))],
     "refund_prepare.speech", ("refund_prepare", "speech"),
     "speech must be true or false, not 'true'"),
    ("speech as a number", [("main", "kind", after("    speech: 1\n"))],
     "main.speech", ("main", "speech"), "speech must be true or false, not 1"),
    ("phrases not a mapping", [("refund_prepare", "phrases", "    phrases: [退款]\n"),
                               ("refund_prepare", "zh-CN", ""), ("refund_prepare", "en-US", "")],
     "refund_prepare.phrases", ("refund_prepare", "phrases"),
     "phrases must be a mapping of language to a list of phrases"),
    ("phrases of a language not a list", [("refund_prepare", "en-US", "      en-US: {refund: 1}\n")],
     "refund_prepare.phrases.en-US", ("refund_prepare", "en-US"),
     "must be a list of phrases, each some words callers say"),
    ("phrases of a language a number", [("refund_prepare", "en-US", "      en-US: 5\n")],
     "refund_prepare.phrases.en-US", ("refund_prepare", "en-US"), "must be a list of phrases"),
    ("an empty list of phrases", [("refund_prepare", "en-US", "      en-US: []\n")],
     "refund_prepare.phrases.en-US", ("refund_prepare", "en-US"), "must be a list of phrases"),
    ("an empty phrase", [("refund_prepare", "en-US", '      en-US: [refund, "  "]\n')],
     "refund_prepare.phrases.en-US", ("refund_prepare", "en-US"), "must be a list of phrases"),
    ("no phrases under a language", [("refund_prepare", "en-US", "      en-US:\n")],
     "refund_prepare.phrases.en-US", ("refund_prepare", "en-US"), "must be a list of phrases"),
]


#: the lines a message of PLANTS may name: {name} is the line of (node, key)
PHRASE_LINES = {"withdrawal_en": ("withdrawal_prepare", "en-US"),
                "refund_en": ("refund_prepare", "en-US")}


@pytest.mark.parametrize(("name", "edits", "where", "located", "message"), PLANTS,
                         ids=[p[0] for p in PLANTS])
def test_lint_finds_a_speech_mistake(tmp_path, name, edits, where, located, message):
    """Each mistake is one error at its line, and nothing else: a missing language on a
    speech menu's option is not also a warning on its target, and a list the loader could
    not read gets the loader's error only."""
    text = planted(*edits)
    message = message.format(**{name: at(text, *line) for name, line in PHRASE_LINES.items()
                                if f"{{{name}}}" in message})
    code, output = lint(tmp_path, text)
    assert code == 1, output
    expected = f"error: menu.yaml:{at(text, *located)} nodes.{where}: {message}"
    problems = [ln for ln in output.splitlines() if ln.startswith(("error: ", "warning: "))]
    assert len(problems) == 1 and problems[0].startswith(expected), f"{expected}\n not\n{output}"
    assert output.rstrip().endswith("1 error"), output


def test_an_unreadable_list_on_a_speech_menus_option_is_the_loaders_error_only(tmp_path):
    text = planted(("fraud_identify", "zh-CN", "      zh-CN: {被盗: 1}\n"))
    code, output = lint(tmp_path, text)
    assert code == 1
    assert (f"error: menu.yaml:{at(text, 'fraud_identify', 'zh-CN')} nodes.fraud_identify.phrases."
            "zh-CN: must be a list of phrases, each some words callers say") in output
    assert output.rstrip().endswith("1 error"), output


def test_phrases_are_compared_as_heard(tmp_path):
    """Case, spacing, order and words that say nothing do not make a phrase another one;
    a word that says something does: "我要 投诉" (complaint_prepare) is not "投诉"
    (complaints_menu)."""
    assert "我要 投诉" in field(SHIPPED, "complaint_prepare", "zh-CN").group()
    assert re.search(r"[\[ ]投诉[\],]", field(SHIPPED, "complaints_menu", "zh-CN").group())
    text = planted(("refund_prepare", "en-US", first("my Transfer  to BANK")),
                   ("limit_prepare", "zh-CN", first("我的 退款")))
    code, output = lint(tmp_path, text)
    assert code == 1
    assert (f"error: menu.yaml:{at(text, 'refund_prepare', 'en-US')} nodes.refund_prepare.phrases."
            "en-US: phrase 'my Transfer  to BANK' also names 'withdrawal_prepare' (line "
            f"{at(text, 'withdrawal_prepare', 'en-US')}): one phrase, one target, or 'main' could "
            "only guess") in output
    assert (f"error: menu.yaml:{at(text, 'limit_prepare', 'zh-CN')} nodes.limit_prepare.phrases."
            f"zh-CN: phrase '我的 退款' also names 'refund_prepare' (line "
            f"{at(text, 'refund_prepare', 'zh-CN')})") in output
    # the same words in the other language, or in a menu no speech menu reaches, are no clash
    assert output.count("also names") == 2, output
    assert output.rstrip().endswith("2 errors")


def test_a_sub_menu_taking_speech_needs_phrases_for_each_option(tmp_path):
    text = planted(("fraud_freeze_offer", "kind", after("    speech: true\n")))
    code, output = lint(tmp_path, text)
    assert code == 1
    for key, goto in (("1", "fraud_freeze"), ("2", "fraud_queue")):
        line = at(text, "fraud_freeze_offer", f'"{key}"')
        assert (f"error: menu.yaml:{line} nodes.fraud_freeze_offer.options['{key}']: '{goto}' "
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
    line = at(SHIPPED, node, "topic") if "topic" in where else block_line(SHIPPED, node)
    assert f"error: menu.yaml:{line} nodes.{where}: prompt '{key}' has no {lang} text" in output
    assert f"{lang}.yaml:{key}: missing translation" in output  # the catalog's own check


def test_phrases_no_speech_menu_reaches_are_a_warning(tmp_path):
    text = planted(FREEZE)
    code, output = lint(tmp_path, text)
    assert code == 0, output
    assert (f"warning: menu.yaml:{at(text, 'fraud_freeze', 'phrases')} nodes.fraud_freeze."
            "phrases: has phrases, but no speech menu leads to it: no caller can say them") in output
    assert output.rstrip().endswith("0 errors, 1 warning")


def test_several_nodes_no_speech_menu_reaches_are_one_warning(tmp_path):
    text = planted(FREEZE, FRAUD_QUEUE)
    code, output = lint(tmp_path, text)
    assert code == 0, output
    assert (f"warning: menu.yaml:{at(text, 'fraud_freeze', 'phrases')} nodes.fraud_freeze."
            "phrases: has phrases, but no speech menu leads to it (so do fraud_queue): no caller "
            "can say them") in output
    assert output.rstrip().endswith("0 errors, 1 warning")


def test_a_target_deep_in_the_tree_lacking_a_language_is_a_warning(tmp_path):
    text = planted(("refund_prepare", "en-US", ""))
    code, output = lint(tmp_path, text)
    assert code == 0, output
    assert (f"warning: menu.yaml:{at(text, 'refund_prepare', 'phrases')} nodes.refund_prepare."
            "phrases: has no phrases in en-US: those callers cannot say it") in output
    assert output.rstrip().endswith("0 errors, 1 warning")


def test_several_speech_mistakes_are_all_listed_with_their_lines(tmp_path):
    text = planted(
        ("other_prepare", "en-US", ""),
        ("refund_prepare", "en-US", lambda old: first("cash out")(old) + "      fr-FR: [remboursement]\n"),
        ("limit_prepare", "topic", ""),
        ("close_prepare", "topic", "    topic: topic_closed\n"),
        ("payment_prepare", "issue", after("    speech: true\n")),
        FREEZE,
        FRAUD_QUEUE,
        ("privacy_prepare", "en-US", first('""')),
        ("agent_general", "en-US", first("the")),
        ("main", "kind", after("    speech: yes please\n")),
    )
    code, output = lint(tmp_path, text)
    assert code == 1
    expected = [
        (at(text, "main", '"5"'), "main.options['5']", "'other_prepare' needs phrases in en-US"),
        (at(text, "refund_prepare", "en-US"), "refund_prepare.phrases.en-US", "phrase 'cash out' "
         f"also names 'withdrawal_prepare' (line {at(text, 'withdrawal_prepare', 'en-US')})"),
        (at(text, "refund_prepare", "fr-FR"), "refund_prepare.phrases.fr-FR", "phrases in 'fr-FR'"),
        (at(text, "limit_prepare", "phrases"), "limit_prepare.phrases", "has phrases but no 'topic'"),
        (at(text, "close_prepare", "topic"), "close_prepare.topic",
         "prompt 'topic_closed' is in no prompt file"),
        (at(text, "payment_prepare", "speech"), "payment_prepare.speech",
         "only a menu takes speech, not a prepare"),
        (at(text, "privacy_prepare", "en-US"), "privacy_prepare.phrases.en-US",
         "must be a list of phrases"),
        (at(text, "agent_general", "en-US"), "agent_general.phrases.en-US",
         "phrase 'the' is only words that say nothing"),
        (at(text, "main", "speech"), "main.speech", "speech must be true or false, not 'yes please'"),
    ]
    for line, where, message in expected:
        assert f"error: menu.yaml:{line} nodes.{where}: {message}" in output, (where, output)
    assert (f"warning: menu.yaml:{at(text, 'fraud_freeze', 'phrases')} nodes.fraud_freeze.phrases: "
            "has phrases, but no speech menu leads to it (so do fraud_queue)") in output
    errors = [ln for ln in output.splitlines() if ln.startswith("error: ")]
    assert all(re.match(r"error: menu\.yaml:\d+ nodes\.", ln) for ln in errors), output
    assert len(errors) == len(expected), output  # one problem per mistake
    assert output.count("warning: ") == 1, output


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
    assert output.strip() == "menu.yaml: 39 nodes, 0 errors"
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
    speech_line = at(text, "main", "speech")
    for key in SPEECH_PROMPTS:
        assert f"error: menu.yaml:{speech_line} nodes.main.speech: prompt '{key}' is in no prompt file" \
            in output
