"""Menus spoken from per-option phrases: what callers hear, where their keys lead, what
lint catches, and the audio that plays each phrase on its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import Caller
from programs import needs_espeak

from ivr import create_app
from ivr.cli import cli
from ivr.flow import prompts
from ivr.menu.loader import DEFAULT_MENU
from ivr.menu.loader import load as load_menu
from ivr.menu.model import spoken_pieces

SHIPPED = DEFAULT_MENU.read_text("utf-8")
PROMPTS = Path(prompts.DEFAULT_DIR)
CATALOG = prompts.load()
MENU, _ = load_menu()
STRANGER = "+8613700000000"  # no account on file

#: what the main menu says, pinned: the main menu takes speech, so its invitation to speak
#: comes first, then its pieces
MAIN_HEARD = {
    "en-US": "Say what you are calling about, or press a key. "
             "For top-up, payment, withdrawal or refund, press 1. For account and security, "
             "press 2. For a stolen account or fraud, press 3. For complaints, press 4. For "
             "overseas use and other questions, press 5. For an agent, press 0. To hear this "
             "again, press star.",
    "zh-CN": "请说出您要办理的业务，或按键选择。"
             "充值、支付、提现、退款，请按1；账户安全，请按2；被盗或诈骗，请按3；投诉，请按4；"
             "境外及其他问题，请按5；人工服务，请按0；重听请按星号键。",
}
#: where each menu key led before the menus were spoken from phrases
ROUTES = {
    "main": {"1": "payments_menu", "2": "account_menu", "3": "fraud_identify",
             "4": "complaints_menu", "5": "other_prepare", "0": "agent_general"},
    "payments_menu": {"1": "topup_status", "2": "payment_prepare", "3": "withdrawal_prepare",
                      "4": "refund_prepare"},
    "account_menu": {"1": "locked_prepare", "2": "password_help", "3": "change_info_prepare",
                     "4": "limit_prepare", "5": "close_prepare", "6": "privacy_prepare"},
    "complaints_menu": {"1": "complaint_prepare", "2": "complaint_ticket"},
    "fraud_freeze_offer": {"1": "fraud_freeze", "2": "fraud_queue"},
}
LANG_KEY = {"zh-CN": "1", "en-US": "2"}
#: the main menu takes speech: its Gather says the invitation to speak, then the menu
MAIN_SAID = ["speech_intro", *(key for _, key in spoken_pieces(MENU["main"]))]


def gather_says(call: Caller) -> list[tuple[str, str | None]]:
    gather = call.root.find("Gather")
    assert gather is not None
    return [(say.text or "", say.get("voice")) for say in gather.iter("Say")]


def joiner(lang: str) -> str:
    return "" if lang == "zh-CN" else " "


# -- what the caller hears -----------------------------------------------------------------
@pytest.mark.parametrize("lang", ["zh-CN", "en-US"])
def test_the_main_menu_says_its_phrases_in_order(app, caller, lang):
    call = caller(STRANGER)
    call.start()
    call.press(LANG_KEY[lang])
    assert call.at == "main"
    said = gather_says(call)
    expected = [CATALOG.text(lang, key) for key in MAIN_SAID]
    assert [text for text, _ in said] == expected  # each piece its own <Say>, in order
    assert joiner(lang).join(expected) == MAIN_HEARD[lang]
    assert {voice for _, voice in said} == {app.config["VOICES"][lang]["voice"]}


@pytest.mark.parametrize("lang", ["zh-CN", "en-US"])
def test_a_sub_menu_ends_with_repeat_then_back_and_star_says_it_again(caller, lang):
    call = caller(STRANGER)
    call.start()
    call.keys(LANG_KEY[lang], "4")
    first = [text for text, _ in gather_says(call)]
    assert first[-2:] == [CATALOG.text(lang, "menu_repeat"), CATALOG.text(lang, "menu_back")]
    assert first[:2] == [CATALOG.text(lang, "opt_complaint_file"), CATALOG.text(lang, "press_1")]
    call.press("*")
    assert [text for text, _ in gather_says(call)][-len(first):] == first
    call.press("9")
    assert call.at == "main"


def test_an_intro_prompt_is_said_before_the_phrases(tmp_path, settings, clock):
    menu = tmp_path / "menu.yaml"
    menu.write_text(SHIPPED.replace("  main:\n    kind: menu\n",
                                    "  main:\n    kind: menu\n    prompt: restart\n", 1), "utf-8")
    call = Caller(create_app({**settings, "MENU": str(menu)}).test_client(), STRANGER)
    call.start()
    call.press("2")
    said = [text for text, _ in gather_says(call)]
    assert said[:2] == [CATALOG.text("en-US", "speech_intro"), CATALOG.text("en-US", "restart")]
    assert " ".join([said[0], *said[2:]]) == MAIN_HEARD["en-US"]


# -- where the keys lead ---------------------------------------------------------------------
def test_every_menu_key_leads_where_it_led_before():
    for node_id, keys in ROUTES.items():
        node = MENU[node_id]
        assert node.spoken_options
        assert {o.key: o.goto for o in node.options} == keys, node_id
        assert [o.key for o in node.options] == list(keys)  # spoken in the order written


@pytest.mark.parametrize(("path", "at"), [((), "main"), (("1",), "payments_menu"),
                                          (("2",), "account_menu"), (("4",), "complaints_menu")])
def test_calls_reach_the_same_nodes_by_the_same_keys(caller, path, at):
    """Whole calls through each menu and key: the node each lands on, as before."""
    for key, target in ROUTES[at].items():
        call = caller(STRANGER)
        call.start()
        call.keys("2", *path)
        assert call.at == at
        call.press(key)
        node = MENU[target]
        if node.kind.value == "queue":
            assert call.queue == node.queue
        else:  # a node for verified callers asks who they are first
            assert call.at == ("identify" if node.verified else target), (at, key)


# -- what lint catches ---------------------------------------------------------------------
def lint(tmp_path: Path, menu_text: str, texts: dict[str, dict[str, str]] | None = None
         ) -> tuple[int, list[str]]:
    menu = tmp_path / "menu.yaml"
    menu.write_text(menu_text, "utf-8")
    args = ["lint", str(menu)]
    if texts is not None:
        folder = tmp_path / "prompts"
        shutil.copytree(PROMPTS, folder, dirs_exist_ok=True)
        for lang, changes in texts.items():
            data = yaml.safe_load((folder / f"{lang}.yaml").read_text("utf-8"))
            data.update(changes)
            data = {k: v for k, v in data.items() if v is not None}
            (folder / f"{lang}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                                 "utf-8")
        args += ["--prompts", str(folder)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.output.splitlines()[:-1]


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_an_option_without_a_phrase_in_a_spoken_menu_is_named(tmp_path):
    text = SHIPPED.replace('"0": {goto: agent_general, label: an agent, say: opt_agent}',
                           '"0": {goto: agent_general, label: an agent}')
    code, problems = lint(tmp_path, text)
    line = line_of(text, '"0": {goto: agent_general')
    assert code == 1
    assert problems == [f"error: menu.yaml:{line} nodes.main.options['0']: has no 'say' while "
                        "options ['1', '2', '3', '4', '5'] have one: in a menu spoken from its "
                        "options' phrases every option needs one, or the caller never hears it"]


def test_a_phrase_in_no_prompt_file_is_named_with_a_guess(tmp_path):
    text = SHIPPED.replace("say: opt_complaints}", "say: opt_complaint}")
    code, problems = lint(tmp_path, text)
    line = line_of(text, "say: opt_complaint}")
    assert code == 1
    assert problems == [f"error: menu.yaml:{line} nodes.main.options['4']: prompt 'opt_complaint' "
                        "is in no prompt file (en-US, zh-CN); did you mean 'opt_complaints'?"]


def test_each_missing_piece_is_named_in_its_language_where_it_is_used(tmp_path):
    code, problems = lint(tmp_path, SHIPPED, {"en-US": {"opt_refund": None, "press_6": None},
                                              "zh-CN": {"menu_back": None}})
    assert code == 1
    refund = line_of(SHIPPED, "say: opt_refund")
    six = line_of(SHIPPED, '"6": {goto: privacy_prepare')
    found = [p for p in problems if "missing translation" not in p]
    assert f"error: menu.yaml:{refund} nodes.payments_menu.options['4']: prompt 'opt_refund' " \
           "has no en-US text" in found
    assert f"error: menu.yaml:{six} nodes.account_menu.options['6']: prompt 'press_6' has no " \
           "en-US text" in found
    back = [p for p in found if "'menu_back'" in p]
    assert [p.split(" ")[2] for p in back] == ["nodes.payments_menu.back:",
                                               "nodes.account_menu.back:",
                                               "nodes.complaints_menu.back:"]
    assert all(p.endswith("prompt 'menu_back' has no zh-CN text") for p in back)
    assert len(found) == 5


def test_a_menu_with_neither_prompt_nor_phrases_is_named(tmp_path):
    text = SHIPPED.replace(", say: opt_freeze}", "}").replace(", say: opt_fraud_agent}", "}")
    code, problems = lint(tmp_path, text)
    assert code == 1
    assert problems == [f"error: menu.yaml:{line_of(text, '  fraud_freeze_offer:')} "
                        "nodes.fraud_freeze_offer: a menu node needs 'prompt'"]


def test_the_shipped_tree_lints_clean_with_its_no_input_option_unspoken(tmp_path):
    assert MENU["fraud_freeze_offer"].no_input is not None
    code, problems = lint(tmp_path, SHIPPED)
    assert (code, problems) == (0, [])


# -- audio: each phrase rendered and played on its own --------------------------------------
@pytest.fixture(scope="module", name="menu_audio")
def _menu_audio(tmp_path_factory):
    """The main menu's pieces rendered (only they: the rest of the catalog stays <Say>)."""
    root = tmp_path_factory.mktemp("menu_audio")
    keys = MAIN_SAID
    (root / "prompts").mkdir()
    for lang in CATALOG.languages:
        (root / "prompts" / f"{lang}.yaml").write_text(
            yaml.safe_dump({k: CATALOG.raw(lang, k) for k in keys}, allow_unicode=True),
            "utf-8")
    args = ["--audio-dir", str(root / "audio"), "--prompts", str(root / "prompts")]
    result = CliRunner().invoke(cli, ["audio", "build", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root, args


@needs_espeak
def test_each_phrase_is_rendered_and_played_as_its_own_file(menu_audio, settings, clock):
    root, _ = menu_audio
    manifest = json.loads((root / "audio" / "manifest.json").read_text("utf-8"))
    keys = MAIN_SAID
    for lang in CATALOG.languages:
        assert set(keys) <= set(manifest["prompts"][lang])
    call = Caller(create_app({**settings, "AUDIO_DIR": str(root / "audio")}).test_client(),
                  STRANGER)
    call.start()
    gather = call.press("1").find("Gather")
    assert gather is not None
    plays = [e.text or "" for e in gather.iter("Play")]
    assert [p.split("/audio/", 1)[1].split("?")[0] for p in plays] == \
        [f"zh-CN/{key}.wav" for key in keys]
    assert list(gather.iter("Say")) == []


@needs_espeak
def test_the_audio_report_measures_a_spoken_menu_as_the_sum_of_its_pieces(menu_audio):
    root, args = menu_audio
    manifest = json.loads((root / "audio" / "manifest.json").read_text("utf-8"))
    result = CliRunner().invoke(cli, ["audio", "report", *args, "--limit-s", "3", "--strict"],
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output
    keys = MAIN_SAID  # the main menu takes speech: its invitation is heard first, and counts
    for lang in CATALOG.languages:
        total_s = sum(manifest["prompts"][lang][k]["duration_ms"] for k in keys) / 1000
        row = next(line for line in result.output.splitlines()
                   if f" {lang} " in line and "main (spoken)" in line)
        assert row.lstrip().startswith(f"{total_s:.1f} s"), row
        assert f"MENU > 3 s ({len(keys)} pieces)" in row
    # the pieces (and the invitation to speak, rendered too) are counted once in the total,
    # not again in their menu's row
    assert f"{2 * len(set(MAIN_SAID))} prompts" in result.output.splitlines()[-1]
    assert not any("press_1" in line and "MENU" in line for line in result.output.splitlines())
