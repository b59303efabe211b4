"""``ivr tune`` with callers who speak (issue 13): a mix's ``speakers`` say their reason at
the main menu through the real flow and reach it sooner than they would by keys; the
command sets the mix's speakers against nobody speaking over the same callers; ``--db``
learns the share who speak; ``--suggest`` knows speakers skip the menus; bad ``speakers``
values are all listed with their lines."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_tune import MIX, moved_to_end

from ivr.cli import cli
from ivr.config import DEFAULTS
from ivr.flow import prompts
from ivr.menu import load_validated
from ivr.tuning import mix as mix_file
from ivr.tuning import simulate
from ivr.tuning.learn import learn
from ivr.tuning.routes import build

SPEAKERS = MIX.replace("  wrong_key: 0.01\n", "  wrong_key: 0.01\n  speakers: {zh-CN: 0.5, en-US: 0.4}\n")
SILENT = MIX.replace("  wrong_key: 0.01\n", "  wrong_key: 0.01\n  speakers: 0\n")


def tune(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["tune", *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(name="shipped")
def _shipped() -> tuple[prompts.Catalog, simulate.Tree]:
    catalog = prompts.load()
    routes = build(load_validated(None, catalog))
    spec = simulate.Spec(routes.menu, catalog, None, DEFAULTS["VOICES"], {})
    return catalog, spec.tree()


def test_a_speaker_reaches_every_reason_sooner_than_by_keys(shipped) -> None:
    catalog, tree = shipped
    mix = mix_file.load(None, tree.routes, catalog.languages)
    reasons = {(lang, target) for lang, target, _ in mix.classes()}
    assert len(reasons) == 32
    for lang, target in sorted(reasons):
        who = simulate.Caller(0, lang, target, simulate.LISTEN, float("inf"),
                              simulate.sim.REGISTERED)
        keyed = tree.call(who, random.Random(1), 0.0)
        spoken = tree.call(replace(who, speaks=True), random.Random(1), 0.0)
        assert keyed[0] == spoken[0] == simulate.ROUTED, (lang, target, keyed, spoken)
        assert (keyed[4], spoken[4]) == (False, True)
        assert spoken[1] < keyed[1], (lang, target, keyed, spoken)
    # what they said: the first phrase of the node they asked for, as spoken
    assert tree.sentence("main", "fraud_queue", "zh-CN") == "被盗"  # fraud_identify's
    assert tree.sentence("main", "complaint_status", "en-US") == "complaint status"
    assert tree.sentence("payments_menu", "topup_status", "zh-CN") is None  # keys only there


def test_a_weak_sentence_is_confirmed_with_1(shipped) -> None:
    """A tree whose phrase for the top-up is only half heard: asked, confirmed, routed."""
    _, tree = shipped
    tree.sentences[("main", "topup_status", "zh-CN")] = "我的钱没到账"
    who = simulate.Caller(0, "zh-CN", "topup_status", simulate.LISTEN, float("inf"),
                          simulate.sim.REGISTERED, speaks=True)
    assert tree.call(who, random.Random(1), 0.0)[0] == simulate.ROUTED
    at_main = next(iter(next(iter(tree.roots.values())).children.values()))
    spoken = next(t for (_, keys, said), t in at_main.children.items() if said)
    assert spoken.step.heard is not None and spoken.step.heard.outcome == "confirm"
    assert [keys for (_, keys, _) in spoken.children] == ["1"]


def test_speakers_save_time_in_the_ivr_against_nobody_speaking(tmp_path: Path) -> None:
    (tmp_path / "speakers.yaml").write_text(SPEAKERS, encoding="utf-8")
    (tmp_path / "silent.yaml").write_text(SILENT, encoding="utf-8")
    code, out = tune("--mix", str(tmp_path / "speakers.yaml"), "--calls", "2000", "--json")
    assert code == 0, out
    found = json.loads(out)
    assert found["mix"]["behaviour"]["speakers"] == {"zh-CN": 0.5, "en-US": 0.4}
    a, speech = found["trees"]["A"], found["speech"]
    assert 0.4 < a["spoke"] < 0.5  # 0.7 × 0.5 + 0.3 × 0.4 of the callers
    saved = speech["difference"]["ivr_s_per_call"]
    assert saved["value"] < -1.0 and saved["ci95"][1] < 0
    assert speech["difference"]["route_mean_s"]["ci95"][1] < 0
    assert speech["without_speakers"]["spoke"] == 0
    # nobody speaking is the same callers as a mix whose speakers are 0
    code, out = tune("--mix", str(tmp_path / "silent.yaml"), "--calls", "2000", "--json")
    assert code == 0, out
    silent = json.loads(out)
    assert "speech" not in silent
    assert silent["trees"]["A"] == {**speech["without_speakers"], "file": "wallet.yaml"}
    # the text says the same, beside the usual table
    code, out = tune("--mix", str(tmp_path / "speakers.yaml"), "--calls", "500")
    assert code == 0, out
    assert "spoke (speech menus)" in out and "time in the IVR, mean" in out
    assert "A with the mix's speakers (zh-CN 50 %, en-US 40 %) and with nobody speaking" in out
    assert "speakers − none (95 % interval)" in out
    code, out = tune("--mix", str(tmp_path / "silent.yaml"), "--calls", "500")
    assert code == 0 and "spoke" not in out and "nobody speaking" not in out, out


def test_suggest_knows_speakers_do_not_listen_to_the_main_menu(tmp_path: Path) -> None:
    """Everyone speaks: the order of the menus they skip costs nobody anything."""
    (tmp_path / "moved.yaml").write_text(moved_to_end(), encoding="utf-8")
    everyone = MIX.replace("  wrong_key: 0.01\n", "  wrong_key: 0.01\n  speakers: 1\n")
    (tmp_path / "mix.yaml").write_text(everyone, encoding="utf-8")
    code, out = tune("--menu", str(tmp_path / "moved.yaml"), "--mix", str(tmp_path / "mix.yaml"),
                     "--calls", "500", "--suggest", "-o", str(tmp_path / "c.yaml"), "--json")
    assert code == 0, out
    found = json.loads(out)
    assert "main" not in {m["node"] for m in found["menus"]}
    assert found["agrees"] is True


def test_the_share_of_speakers_is_learnt_from_the_records(app, caller, settings) -> None:
    spoken = caller("+8613711111111")  # English, says "an agent"
    spoken.start()
    spoken.press("2")
    spoken.say("I want to talk to a real person")
    assert spoken.queue == "general"
    for number, lang in (("+8613722222222", "2"), ("+8613733333333", "1")):  # keys only
        keyed = caller(number)
        keyed.start()
        keyed.keys(lang, "0")
        assert keyed.queue == "general"
    catalog = prompts.load()
    routes = build(load_validated(None, catalog))
    mix = learn(settings["DATABASE"], routes, mix_file.load(None, routes, catalog.languages))
    assert mix.speakers == (("en-US", 0.5), ("zh-CN", 0.0))


BAD = """\
calls_per_day: 100
languages: {zh-CN: 0.5, en-US: 0.5}
reasons: {zh-CN: {agent_general: 1}, en-US: {agent_general: 1}}
behaviour:
  speakers:
    zh-CN: -0.1
    en-GB: 0.3
    en-US: yes
"""


@pytest.mark.parametrize(("text", "problems"), [
    (BAD, [(6, "behaviour.speakers.zh-CN: must be a number between 0 and 1, not -0.1"),
           (7, "behaviour.speakers.en-GB: a language not in languages; did you mean 'en-US'?"),
           (8, "behaviour.speakers.en-US: must be a number between 0 and 1, not True")]),
    (BAD.split("  speakers:")[0] + "  speakers: 1.5\n",
     [(5, "behaviour.speakers: must be a number between 0 and 1, not 1.5")]),
    (BAD.split("  speakers:")[0] + "  speakers: most\n",
     [(5, "behaviour.speakers: must be a share between 0 and 1 for every language, or a "
          "mapping of languages to shares, not 'most'")]),
])
def test_bad_speakers_are_all_listed_with_their_lines(tmp_path: Path, text: str,
                                                      problems: list[tuple[int, str]]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    code, out = tune("--mix", str(path), "--calls", "10")
    assert code == 1, out
    for line, message in problems:
        assert f"{path}:{line} {message}" in out, (line, message, out)
