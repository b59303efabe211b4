"""`ivr tune`: what-if runs through the real call flow, the mix, and --suggest.

The Done-when test moves the most-used main-menu option to the end: the simulation says
the time to route grows, ``--suggest`` puts it back first, and the re-simulated saving
agrees with the predicted one.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import cli
from ivr.config import DEFAULTS
from ivr.errors import MenuError
from ivr.flow import prompts
from ivr.menu import load_validated
from ivr.menu.loader import DEFAULT_MENU
from ivr.tuning import mix as mix_file
from ivr.tuning import simulate
from ivr.tuning.learn import learn
from ivr.tuning.routes import build
from ivr.tuning.whatif import Setting, compare_trees

SHIPPED = DEFAULT_MENU.read_text(encoding="utf-8")
PAYMENTS = '      "1": {goto: payments_menu'
CALLS = "3000"

#: most callers need the payments branch (main menu option 1)
MIX = """\
calls_per_day: 10000
languages: {zh-CN: 0.7, en-US: 0.3}
reasons:
  zh-CN: {topup_status: 0.45, payment_prepare: 0.15, password_help: 0.1, fraud_queue: 0.1,
          complaint_prepare: 0.1, agent_general: 0.1}
  en-US: {topup_status: 0.35, refund_prepare: 0.15, other_prepare: 0.3, locked_prepare: 0.2}
behaviour:
  barge_in: 0.1
  returning: 0.2
  wrong_key: 0.01
  patience_s: {distribution: lognormal, median: 150, p90: 400}
"""


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines(keepends=True) if line.startswith(start))


def moved_to_end(text: str = SHIPPED) -> str:
    """The shipped tree with main's option 1 (payments) said last, after the agent."""
    line = _line(text, PAYMENTS)
    agent = _line(text, '      "0": {goto: agent_general')
    return text.replace(line, "", 1).replace(agent, agent + line, 1)


def tune(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["tune", *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(name="files")
def _files(tmp_path: Path) -> dict[str, Path]:
    paths = {"mix": tmp_path / "mix.yaml", "moved": tmp_path / "moved.yaml",
             "shipped": tmp_path / "wallet.yaml"}
    paths["mix"].write_text(MIX, encoding="utf-8")
    paths["moved"].write_text(moved_to_end(), encoding="utf-8")
    paths["shipped"].write_text(SHIPPED, encoding="utf-8")
    return paths


def test_the_most_used_option_moved_last_is_slower_and_suggest_puts_it_back(files, tmp_path):
    code, out = tune("--menu", str(files["shipped"]), "--against", str(files["moved"]),
                     "--mix", str(files["mix"]), "--calls", CALLS, "--json")
    assert code == 0, out
    longer = json.loads(out)["difference"]["route_mean_s"]
    assert longer["value"] > 1.0 and longer["ci95"][0] > 0  # B (moved) is slower

    candidate = tmp_path / "candidate.yaml"
    code, out = tune("--menu", str(files["moved"]), "--mix", str(files["mix"]), "--calls", CALLS,
                     "--suggest", "-o", str(candidate), "--json")
    assert code == 0, out
    found = json.loads(out)
    main = next(m for m in found["menus"] if m["node"] == "main")
    assert main["after"][0] == "1" and main["after"][4] == "0"  # back first, the agent kept
    assert found["keys"] == "kept"
    predicted, measured = found["predicted_saving_s"], found["measured_saving_s"]
    assert predicted > 1.0
    low, high = measured["ci95"]
    assert low <= predicted <= high or abs(predicted - measured["value"]) <= 0.1 + 0.05 * predicted
    assert found["agrees"] is True
    # the candidate is a tree ivr lint accepts, and the option is said first again
    lint = CliRunner().invoke(cli, ["lint", str(candidate)], catch_exceptions=False)
    assert lint.exit_code == 0, lint.output
    text = candidate.read_text(encoding="utf-8")
    options = text[text.index("  main:"):].split("options:", 1)[1]
    assert options.lstrip("\n").startswith(PAYMENTS.rstrip())
    # the text output says the same
    code, out = tune("--menu", str(files["moved"]), "--mix", str(files["mix"]), "--calls", "500",
                     "--suggest", "-o", str(candidate))
    assert code == 0 and "predicted saving:" in out and "main: 2 3 4 5 0 1 → 1" in out, out


def test_suggest_keeps_comments_and_renumbers_when_asked(files, tmp_path):
    commented = moved_to_end().replace(PAYMENTS, "      # the busiest\n" + PAYMENTS, 1)
    files["moved"].write_text(commented, encoding="utf-8")
    candidate = tmp_path / "renumbered.yaml"
    code, out = tune("--menu", str(files["moved"]), "--mix", str(files["mix"]), "--calls", "500",
                     "--suggest", "-o", str(candidate), "--keys", "renumber", "--json")
    assert code == 0, out
    assert json.loads(out)["keys"] == "renumbered"
    text = candidate.read_text(encoding="utf-8")
    main = text[text.index("  main:"):]
    assert "      # the busiest\n      \"1\": {goto: payments_menu" in main
    catalog = prompts.load()
    tree = load_validated(candidate, catalog)
    assert [o.key for o in tree.nodes["main"].options] == ["1", "2", "3", "4", "0", "5"]  # 0 kept


def test_returning_callers_are_misrouted_on_a_renumbered_tree(tmp_path):
    # keys 1 and 3 of the main menu swapped: payments is now 3, fraud 1
    swapped = SHIPPED.replace('"1": {goto: payments_menu', '"X": {goto: payments_menu', 1) \
        .replace('"3": {goto: fraud_identify', '"1": {goto: fraud_identify', 1) \
        .replace('"X": {goto: payments_menu', '"3": {goto: payments_menu', 1)
    (tmp_path / "swapped.yaml").write_text(swapped, encoding="utf-8")
    (tmp_path / "mix.yaml").write_text(
        "calls_per_day: 100\nlanguages: {zh-CN: 1}\nreasons: {zh-CN: {payment_prepare: 1}}\n"
        "behaviour: {barge_in: 0, returning: 1, wrong_key: 0}\n", encoding="utf-8")
    code, out = tune("--against", str(tmp_path / "swapped.yaml"), "--mix",
                     str(tmp_path / "mix.yaml"), "--calls", "200", "--json")
    assert code == 0, out
    trees = json.loads(out)["trees"]
    assert trees["A"]["misrouted"] == 0
    assert trees["B"]["misrouted"] > 0.9  # pressed 1 from memory: into fraud


def _setting(calls: int = 600, seed: int = 7, workers: int = 1) -> Setting:
    return Setting(prompts.load(), None, DEFAULTS["VOICES"], calls, seed, workers)


def _mix(tmp_path: Path, routes) -> mix_file.Mix:
    (tmp_path / "mix.yaml").write_text(MIX, encoding="utf-8")
    return mix_file.load(tmp_path / "mix.yaml", routes, ("zh-CN", "en-US"))


def test_a_seed_gives_the_same_calls_and_another_seed_others(tmp_path):
    routes = build(load_validated(None, prompts.load()))
    mix = _mix(tmp_path, routes)
    first = compare_trees(_setting(), routes, mix)
    assert compare_trees(_setting(), routes, mix) == first
    assert compare_trees(_setting(seed=8), routes, mix) != first


def test_workers_give_the_same_results(tmp_path):
    catalog = prompts.load()
    routes = build(load_validated(None, catalog))
    mix = _mix(tmp_path, routes)
    spec = simulate.Spec(routes.menu, catalog, None, DEFAULTS["VOICES"],
                         simulate.remembered(routes, mix))
    one = simulate.run((spec,), mix, 400, seed=3, workers=1)
    assert simulate.run((spec,), mix, 400, seed=3, workers=2) == one
    # and without the trie of histories: every step through flow.step anew, same calls
    fresh = simulate.Spec(spec.menu, catalog, None, DEFAULTS["VOICES"], spec.memory, memo=False)
    assert simulate.run((fresh,), mix, 400, seed=3) == one


BAD_MIX = """\
calls_per_day: -5
languages: {zh-CN: 0.6, en-GB: 0.3}
reasons:
  zh-CN: {topup_stauts: 0.5, main: 0.2, locked_queue: 0.2}
  en-GB: {other_prepare: 1}
behaviour:
  barge_in: 0.7
  returning: 0.6
  wrong_keys: 0.1
  patience_s: {distribution: gamma, mean: 3}
"""


def test_mix_mistakes_are_all_listed_with_their_lines(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_MIX, encoding="utf-8")
    code, out = tune("--mix", str(path), "--calls", "10")
    assert code == 1
    where = f"{path}:"
    expected = [
        (1, "calls_per_day: must be a number > 0, not -5"),
        (2, "languages: shares sum to 0.9, not 1"),
        (2, "languages.en-GB: no prompt file for this language; did you mean 'en-US'?"),
        (4, "reasons.zh-CN: shares sum to 0.9, not 1"),
        (4, "reasons.zh-CN.topup_stauts: 'topup_stauts' is not a node of wallet.yaml; "
            "did you mean 'topup_status'?"),
        (4, "reasons.zh-CN.main: 'main' is a menu node"),
        (4, "reasons.zh-CN.locked_queue: 'locked_queue' cannot be reached from the main menu"),
        (9, "behaviour.wrong_keys: unknown key; did you mean 'wrong_key'?"),
        (8, "behaviour: barge_in and returning are shares of the same callers"),
        (10, "behaviour.patience_s.distribution: must be one of lognormal, exponential, fixed"),
    ]
    for line, message in expected:
        assert f"{where}{line} {message}" in out, (line, message, out)


def test_a_mix_that_is_not_yaml_is_one_problem(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("languages: {zh-CN: 1\n", encoding="utf-8")
    code, out = tune("--mix", str(path))
    assert code == 1 and f"{path}:" in out and "not valid YAML" in out


def test_the_shipped_mix_fits_the_shipped_tree():
    catalog = prompts.load()
    routes = build(load_validated(None, catalog))
    mix = mix_file.load(None, routes, catalog.languages)
    assert abs(sum(s for _, _, s in mix.classes()) - 1) < 1e-6


@pytest.mark.parametrize(("args", "message"), [
    (["--mix", "{mix}", "--db", "{db}"], "give --mix or --db, not both"),
    (["--suggest"], "--suggest needs -o FILE"),
    (["-o", "{out}"], "give --suggest too"),
    (["--suggest", "-o", "{out}", "--against", "{mix}"], "leave out --against"),
    (["--calls", "0"], "Invalid value for '--calls'"),
    (["--workers", "0"], "Invalid value for '--workers'"),
    (["--seed", "-1"], "Invalid value for '--seed'"),
    (["--suggest", "-o", "{tmp}/candidate.txt"], "the name must end in .yaml or .yml"),
    (["--keys", "shuffle"], "Invalid value for '--keys'"),
    (["--db", "{tmp}/missing.db"], "Invalid value for '--db'"),
])
def test_bad_arguments_are_refused_clearly(files, tmp_path, args, message):
    db = tmp_path / "calls.db"
    sqlite3.connect(db).execute("CREATE TABLE calls (x)").connection.close()
    values = {"mix": str(files["mix"]), "db": str(db), "out": str(tmp_path / "c.yaml"),
              "tmp": str(tmp_path)}
    code, out = tune(*[a.format(**values) for a in args])
    assert code == 2, out
    assert message in out, out


def _hang_up(call, seconds: str) -> None:
    assert call.send("/voice/status", CallStatus="completed", CallDuration=seconds).status_code \
        in (200, 204)


def test_the_mix_is_learnt_from_calls_recorded_by_the_app(app, caller, clock, settings):
    for _ in range(2):  # English, straight to an agent
        call = caller("+8613711111111")
        call.start()
        call.keys("2", "0")
        assert call.queue == "general"
        clock.tick(20)
        _hang_up(call, "60")
    call = caller("+8613722222222")  # Mandarin, the overseas questions, then the queue
    call.start()
    call.keys("1", "5", "1")
    assert call.queue == "general"
    call = caller("+8613733333333")  # hangs up at the main menu after 30 s
    call.start()
    call.press("1")
    clock.tick(30)
    _hang_up(call, "30")
    catalog = prompts.load()
    routes = build(load_validated(None, catalog))
    base = mix_file.load(None, routes, catalog.languages)
    mix = learn(settings["DATABASE"], routes, base)
    assert dict(mix.languages) == {"en-US": pytest.approx(2 / 3), "zh-CN": pytest.approx(1 / 3)}
    assert mix.reasons == {"en-US": (("agent_general", 1.0),), "zh-CN": (("agent_general", 1.0),)}
    assert mix.returning == pytest.approx(1 / 4)  # the second call from +8613711111111
    assert mix.wrong_key == 0  # no invalid key at a menu
    assert mix.barge_in == base.barge_in  # not in the records
    assert mix.patience.distribution == "exponential" and mix.patience.params[0] > 0
    assert mix.calls_per_day == 4
    code, out = tune("--db", settings["DATABASE"], "--calls", "200", "--json")
    assert code == 0, out
    assert json.loads(out)["mix"]["source"] == settings["DATABASE"]


def test_a_database_without_calls_to_learn_from_is_a_clear_error(tmp_path, app, settings):
    code, out = tune("--db", settings["DATABASE"], "--calls", "10")
    assert code == 1 and "nothing to learn a mix from" in out, out


def test_learn_refuses_a_mix_that_names_no_reasons(tmp_path):
    routes = build(load_validated(None, prompts.load()))
    with pytest.raises(MenuError, match="missing"):
        mix_file.parse({"calls_per_day": 1}, "m.yaml", routes, ("zh-CN",))
