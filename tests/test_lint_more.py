"""`ivr lint`, more: placeholders the code does not give, each mistake reported once at
its file and line, files that are not UTF-8 or not YAML; and a call that meets a
placeholder nobody fills still says the rest."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import Caller

from ivr import create_app
from ivr.cli import cli
from ivr.errors import MenuError, Problem
from ivr.flow import prompt_values, prompts
from ivr.menu import summary, validate
from ivr.menu.loader import DEFAULT_MENU
from ivr.menu.loader import load as load_menu
from ivr.menu.source import not_utf8
from ivr.menu.validate import FLOW_PROMPTS
from ivr.queue import traffic

SHIPPED_PROMPTS = Path(__file__).parent.parent / "prompts"

#: a small tree with every kind of reference: start, main, fallback, the verify gate,
#: next, back, options, a no-input option
TREE = """\
start: welcome
main: main
fallback: agent
verify: identify
queues: [general]
nodes:
  welcome:
    kind: say
    prompt: welcome
    next: main
  main:
    kind: menu
    prompt: main_menu
    options:
      "1": {goto: sub}
      "0": agent
    invalid: invalid_choice
    no_input: no_input
  sub:
    kind: menu
    prompt: sub_menu
    back: main
    options:
      "1": done
    invalid: invalid_choice
    no_input: {goto: main}
  done:
    kind: hangup
    prompt: goodbye
    verified: true
  identify:
    kind: verify
    on_fail: agent
    on_locked: agent
  agent:
    kind: queue
    queue: general
"""


def write_catalog(directory: Path, extra: dict[str, str] | None = None) -> Path:
    """A catalog with every prompt the flow and TREE speak, the same in both languages."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = {*FLOW_PROMPTS, "welcome", "main_menu", "sub_menu", "goodbye"}
    for lang in ("zh-CN", "en-US"):
        lines = [f"{key}: {key} text" for key in sorted(keys)]
        lines += [f"{key}: {text}" for key, text in (extra or {}).items()]
        (directory / f"{lang}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def lint(tmp_path: Path, tree: str, prompts_dir: Path | None = None) -> tuple[int, list[str]]:
    """Exit code and the problem lines (without the closing count)."""
    path = tmp_path / "menu.yaml"
    path.write_text(tree, encoding="utf-8")
    prompts_dir = prompts_dir or write_catalog(tmp_path / "prompts")
    result = CliRunner().invoke(cli, ["lint", str(path), "--prompts", str(prompts_dir)],
                                catch_exceptions=False)
    return result.exit_code, [line for line in result.output.splitlines()
                              if not line.startswith("menu.yaml: ")]


def test_the_small_tree_is_clean(tmp_path):
    assert lint(tmp_path, TREE) == (0, [])


# ---- 6: each mistake once, at its line --------------------------------------------------

CRAFTED = [
    ("a goto typo is one problem, not also its target's subtree",
     ('      "1": {goto: sub}', '      "1": {goto: sbu}'),
     ["error: menu.yaml:15 nodes.main.options['1']: goto 'sbu' is not a defined node; "
      "did you mean 'sub'?"]),
    ("a bad kind is not also 'not a defined node' nor its subtree unreachable",
     ("    kind: menu\n    prompt: sub_menu", "    kind: mneu\n    prompt: sub_menu"),
     ["error: menu.yaml:20 nodes.sub: unknown kind 'mneu'; did you mean 'menu'? (one of menu, "
      "verify, prepare, collect, service, record, queue, say, hangup)"]),
    ("a bad start has a line, and a close one is what it meant",
     ("start: welcome", "start: welcom"),
     ["error: menu.yaml:1 start: 'welcom' is not a defined node; did you mean 'welcome'?"]),
    ("a start naming nothing alike is one problem: no 'unreachable' without a start",
     ("start: welcome", "start: hello"),
     ["error: menu.yaml:1 start: 'hello' is not a defined node"]),
    ("a verify gate typo does not orphan the verify node",
     ("verify: identify", "verify: identfy"),
     ["error: menu.yaml:4 verify: nodes ['done'] need a verified caller, so 'verify' must "
      "name a verify node; did you mean 'identify'?"]),
    ("a misspelt node id is one problem, not one per place naming it",
     ("  main:\n", "  mian:\n"),
     ["error: menu.yaml:2 main: 'main' is not a defined node (named on lines 10, 22, 26 "
      "too); did you mean 'mian'?"]),
    ("a missing verify gate is one problem, naming the verify node nothing reaches",
     ("verify: identify\n", ""),
     ["error: menu.yaml verify: nodes ['done'] need a verified caller, so 'verify' must "
      "name a verify node; did you mean 'identify'?"]),
    ("an orphaned branch is one problem naming what hangs below it",
     ('      "1": {goto: sub}\n', ""),
     ["error: menu.yaml:18 nodes.sub: unreachable from the start node (nor is what only it "
      "leads to: done, identify)"]),
    ("a misspelt field is read as meant: not also a missing one",
     ("    next: main", "    nxt: main"),
     ["error: menu.yaml:10 nodes.welcome: unknown field 'nxt'; did you mean 'next'?"]),
    ("a misspelt top-level field is read as meant",
     ("start: welcome", "strat: welcome"),
     ["error: menu.yaml:1 strat: unknown top-level field; did you mean 'start'?"]),
    ("an option without goto does not orphan what it names",
     ('      "1": {goto: sub}', '      "1": {got: sub}'),
     ["error: menu.yaml:15 nodes.main.options['1']: must be a node id or a mapping with 'goto'"]),
    ("a prompt key missing from every language is one problem",
     ("    prompt: sub_menu", "    prompt: sub_menus"),
     ["error: menu.yaml:21 nodes.sub.prompt: prompt 'sub_menus' is in no prompt file "
      "(en-US, zh-CN); did you mean 'sub_menu'?"]),
    ("a bad settings value is a problem, not a traceback",
     ("queues: [general]\n", "queues: [general]\nsettings: {max_failures: three}\n"),
     ["error: menu.yaml:6 settings.max_failures: must be a whole number above 0, not 'three'"]),
    ("an unknown queue points at its line",
     ("    queue: general", "    queue: generl"),
     ["error: menu.yaml:37 nodes.agent.queue: unknown queue 'generl' (did you mean "
      "'general'?); declared: general"]),
]


@pytest.mark.parametrize(("name", "edit", "expected"), CRAFTED, ids=[c[0] for c in CRAFTED])
def test_each_mistake_is_reported_once_where_it_is(tmp_path, name, edit, expected):
    old, new = edit
    assert old in TREE
    assert lint(tmp_path, TREE.replace(old, new, 1)) == (1, expected)


# ---- 6, in the shipped tree: a bad start, a bad kind, the closing count ----------------

SHIPPED = DEFAULT_MENU.read_text("utf-8")


def lint_shipped(tmp_path: Path, old: str, new: str) -> tuple[int, list[str]]:
    """Lint a copy of the shipped tree with one mistake planted (``old`` -> ``new``)."""
    assert old in SHIPPED, f"the plant {old!r} no longer fits the shipped tree"
    return lint(tmp_path, SHIPPED.replace(old, new, 1), SHIPPED_PROMPTS)


def test_a_missing_start_is_one_problem(tmp_path):
    """Not also "nodes.welcome: unreachable": without a start nothing is reached."""
    assert lint_shipped(tmp_path, "start: welcome\n", "") == (
        1, ["error: menu.yaml start: the tree needs a 'start' node id"])


def test_a_start_naming_no_node_is_one_problem(tmp_path):
    assert lint_shipped(tmp_path, "start: welcome", "start: hello") == (
        1, ["error: menu.yaml:4 start: 'hello' is not a defined node"])


@pytest.mark.parametrize(("written", "message"), [
    ("[welcome]", "must be one node id, not a list; did you mean 'welcome'?"),
    ("{node: welcome}", "must be one node id, not a mapping; did you mean 'welcome'?"),
    ("[welcome, main]", "must be one node id, not a list"),
    ("true", "must be one node id, not true/false"),
])
def test_a_start_of_another_type_names_the_type(tmp_path, written, message):
    """A list where a node id is wanted is said so, not "'['welcome']' is not a defined
    node"; one node id inside it is read as meant, so nothing else is reported."""
    assert lint_shipped(tmp_path, "start: welcome", f"start: {written}") == (
        1, [f"error: menu.yaml:4 start: {message}"])


def test_a_node_of_an_unknown_kind_still_counts(tmp_path):
    written = len(yaml.safe_load(SHIPPED)["nodes"])
    menu, problems = load_menu()
    assert summary(menu, problems + validate(menu, prompts.load())) == \
        f"wallet.yaml: {written} nodes, 0 errors"
    path = tmp_path / "menu.yaml"
    path.write_text(SHIPPED.replace("kind: record\n", "kind: recorder\n", 1), "utf-8")
    menu, problems = load_menu(path)
    problems += validate(menu, prompts.load())
    assert [p.message.split(";")[0] for p in problems] == ["unknown kind 'recorder'"]
    assert summary(menu, problems) == f"menu.yaml: {written} nodes, 1 error"


def test_the_count_of_errors_is_in_words(tmp_path):
    menu, _ = load_menu()
    errors = [Problem("x", "one"), Problem("y", "two")]
    assert summary(menu, errors).endswith(" nodes, 2 errors")
    assert summary(menu, [Problem("x", "w", "warning")]).endswith(", 0 errors, 1 warning")
    written = len(yaml.safe_load(SHIPPED)["nodes"])
    shipped = CliRunner().invoke(cli, ["lint"], catch_exceptions=False)
    assert shipped.output.splitlines()[-1] == f"wallet.yaml: {written} nodes, 0 errors"
    code, _ = lint_shipped(tmp_path, "kind: record\n", "kind: recorder\n")
    path = tmp_path / "menu.yaml"
    closing = CliRunner().invoke(cli, ["lint", str(path)]).output.splitlines()[-1]
    assert code == 1 and closing == f"menu.yaml: {written} nodes, 1 error"


def test_yaml_syntax_errors_name_the_file_line_and_column(tmp_path):
    code, lines = lint(tmp_path, TREE.replace("    next: main", "    next: [main"))
    assert code == 1
    assert lines == ["error: menu.yaml:11:7: not valid YAML: expected ',' or ']', but got "
                     "':' (while parsing a flow sequence at line 10)"]
    assert "<unicode string>" not in "\n".join(lines)


def test_a_file_that_is_not_yaml_text_at_all(tmp_path):
    code, lines = lint(tmp_path, TREE.replace("kind: say", "kind: say\x07"))
    assert code == 1
    assert lines == ["error: menu.yaml:8:14: not valid YAML: the character '\\x07' is not "
                     "allowed (special characters are not allowed)"]


# ---- 3: files that are not UTF-8 ---------------------------------------------------------

def test_a_gbk_menu_is_one_clear_problem(tmp_path, settings):
    path = tmp_path / "menu.yaml"
    path.write_bytes(("# 钱包热线\n" + TREE).encode("gbk"))
    menu, problems = load_menu(path)
    assert not menu.nodes and [str(p) for p in problems] == [
        f"error: {path}:1:5: not UTF-8: byte 0xb0 cannot be read (it looks like GBK); "
        "save the file as UTF-8"]
    with pytest.raises(MenuError, match="not UTF-8"):  # the app names it, no traceback
        create_app({**settings, "MENU": str(path)})
    result = CliRunner().invoke(cli, ["lint", str(path), "--prompts",
                                      str(write_catalog(tmp_path / "prompts"))])
    assert result.exit_code in (1, 2) and isinstance(result.exception, SystemExit)
    assert "menu.yaml" in result.output and "UTF-8" in result.output


def test_a_gbk_prompt_file_is_one_clear_problem(tmp_path, settings):
    folder = tmp_path / "prompts"
    shutil.copytree(SHIPPED_PROMPTS, folder)
    zh = folder / "zh-CN.yaml"
    zh.write_bytes(zh.read_text("utf-8").encode("gbk"))
    with pytest.raises(MenuError) as error:
        prompts.load(folder)
    [problem] = error.value.problems
    assert problem.location.startswith(f"{zh}:") and "not UTF-8" in problem.message
    assert "it looks like GBK" in problem.message
    result = CliRunner().invoke(cli, ["lint", "--prompts", str(folder)])
    assert result.exit_code in (1, 2) and isinstance(result.exception, SystemExit)
    assert "zh-CN.yaml" in result.output and "UTF-8" in result.output
    with pytest.raises(MenuError, match="not UTF-8"):  # the app names it too
        create_app({**settings, "PROMPTS_DIR": str(folder)})


def test_a_gbk_traffic_file_says_it_looks_like_gbk(tmp_path):
    """Read from the settings (``traffic.load``) or checked as a command's ``--traffic``
    (``not_utf8``), the file gets the same hint as the tree and the prompts."""
    path = tmp_path / "traffic.yaml"
    path.write_bytes(("# 客服中心\n" + traffic.DEFAULT_PATH.read_text("utf-8")).encode("gbk"))
    with pytest.raises(MenuError) as error:
        traffic.load(path)
    [problem] = error.value.problems
    assert str(problem) == (f"error: {path}:1:3: not UTF-8: byte 0xbf cannot be read (it "
                            "looks like GBK); save the file as UTF-8")
    assert not_utf8(path) == problem
    assert not_utf8(traffic.DEFAULT_PATH) is None


def test_a_prompt_file_with_a_yaml_error_names_it(tmp_path):
    folder = write_catalog(tmp_path / "prompts")
    (folder / "en-US.yaml").write_text("welcome: [Welcome\n", encoding="utf-8")
    with pytest.raises(MenuError) as error:
        prompts.load(folder)
    [problem] = error.value.problems
    assert problem.location == f"{folder / 'en-US.yaml'}:2:1"
    assert "<unicode string>" not in str(problem)


# ---- 5: placeholders the code does not give ---------------------------------------------

def test_a_placeholder_typo_in_both_languages_is_found_with_file_and_line(tmp_path):
    folder = tmp_path / "prompts"
    shutil.copytree(SHIPPED_PROMPTS, folder)
    for lang in ("zh-CN", "en-US"):
        path = folder / f"{lang}.yaml"
        text = path.read_text("utf-8")
        assert "{amount}" in text
        path.write_text(text.replace("{amount}", "{amout}", 1), encoding="utf-8")
    result = CliRunner().invoke(cli, ["lint", "--prompts", str(folder)],
                                catch_exceptions=False)
    assert result.exit_code == 1
    for lang in ("zh-CN", "en-US"):
        line = next(i for i, text in enumerate(
            (folder / f"{lang}.yaml").read_text("utf-8").splitlines(), 1) if "{amout}" in text)
        key = (folder / f"{lang}.yaml").read_text("utf-8").splitlines()[line - 1].split(":")[0]
        assert (f"error: {folder}/{lang}.yaml:{line} {key}: {{amout}}: not a value the code "
                f"gives this prompt (it gives {{amount}}, {{date}}); did you mean {{amount}}?"
                ) in result.output, result.output


def test_placeholders_in_a_prompt_the_code_gives_nothing(tmp_path):
    folder = write_catalog(tmp_path / "prompts", {"sub_menu_x": "Press 1 for {name}."})
    catalog = prompts.load(folder)
    found = [str(p) for p in catalog.problems()]
    line = len({*FLOW_PROMPTS, "welcome", "main_menu", "sub_menu", "goodbye"}) + 1
    assert sorted(found) == [
        f"error: {folder}/{lang}.yaml:{line} sub_menu_x: {{name}}: the code gives this prompt "
        "no values, so the caller would hear it without them (ivr/flow/prompt_values.py)"
        for lang in ("en-US", "zh-CN")]


def test_placeholders_that_do_not_parse(tmp_path):
    folder = write_catalog(tmp_path / "prompts", {"x_open": "'Press {'", "x_positional": "'{0}'"})
    found = {(p.location.rsplit(" ", 1)[1], p.message) for p in prompts.load(folder).problems()}
    assert found == {
        ("x_open", "the braces do not parse (Single '{' encountered in format string); a "
                   "literal brace is written {{ or }}"),
        ("x_positional", "placeholder {0} is not a name")}


def test_the_shipped_catalog_gives_every_placeholder():
    assert [str(p) for p in prompts.load().problems()] == []


def test_every_table_row_is_a_prompt_or_a_format():
    catalog = prompts.load()
    assert set(prompt_values.GIVEN) <= set(catalog.texts["zh-CN"]), \
        "ivr/flow/prompt_values.py names a prompt the catalog does not have"


# ---- 5: the call never fails on a value nobody gives ------------------------------------

def test_text_leaves_out_a_missing_value_and_logs(caplog):
    catalog = prompts.Catalog({"en-US": {"t": "Your top-up of {amout} on {date} is processing."},
                               "zh-CN": {"t": "您{amout}于{date}的充值正在处理。"}})
    with caplog.at_level(logging.ERROR, logger="ivr.flow.prompts"):
        said = catalog.text("en-US", "t", amount="200 yuan", date="24 November")
        assert catalog.text("zh-CN", "t", amount="200元", date="11月24日") == "您于11月24日的充值正在处理。"
    assert said == "Your top-up of on 24 November is processing."
    assert "en-US/t cannot be filled" in caplog.text and "amout" in caplog.text
    # braces that do not parse, positional fields: the words, never an exception
    bad = prompts.Catalog({"zh-CN": {"a": "Press {1} or {", "b": "Hi {}!", "c": "{x.y} ok"}})
    assert bad.text("zh-CN", "a", x=1) == "Press or"
    assert bad.text("zh-CN", "b") == "Hi!"
    assert bad.text("zh-CN", "c", x=1) == "ok"


def test_a_call_meeting_a_value_nobody_gives_goes_on(tmp_path, settings, clock, monkeypatch,
                                                      caplog):
    """The table claims a value the code does not give (lint trusts it): the verified caller
    still hears the top-up status, not an apology and the general queue."""
    folder = tmp_path / "prompts"
    shutil.copytree(SHIPPED_PROMPTS, folder)
    for lang in ("zh-CN", "en-US"):
        path = folder / f"{lang}.yaml"
        text = path.read_text("utf-8")
        line = next(t for t in text.splitlines() if t.startswith("topup_processing:"))
        path.write_text(text.replace(line, line.replace("{amount}", "{amout}")), "utf-8")
    monkeypatch.setitem(prompt_values.GIVEN, "topup_processing",
                        prompt_values.given("topup_processing") | {"amout"})
    app = create_app({**settings, "PROMPTS_DIR": str(folder)})
    call = Caller(app.test_client(), "+8613800138000")
    call.start()
    with caplog.at_level(logging.ERROR):
        call.keys("2", "1", "1", "1", "246810")
    assert any(h.startswith("Your top-up of on ") for h in call.heard), call.heard
    assert not call.said("sorry") and not call.said("Sorry")
    call.keys("0")
    assert call.at != "agent_general"
    record = app.extensions["ivr"].store.call(call.sid)
    assert record["verified"] and record["issue"] == "topup"
    assert "topup_processing cannot be filled" in caplog.text


def test_every_prompt_the_code_names_is_required_of_a_catalog():
    """A prompt the code says by name must be in FLOW_PROMPTS, or lint would pass a
    custom catalog that lacks it and the call would fail on it."""
    import re
    from pathlib import Path

    from ivr.flow.prompts import load
    from ivr.menu.model import SPOKEN_MENU_PROMPTS
    from ivr.menu.validate import FLOW_PROMPTS, SPEECH_PROMPTS

    shipped = set(load().texts["en-US"])
    named = set()
    for source in (Path(__file__).parent.parent / "ivr").rglob("*.py"):
        named |= set(re.findall(r"""["']([a-z]+_[a-z_]+)["']""", source.read_text("utf-8")))
    # what a spoken menu says after its options is required once a menu is spoken so, and
    # what a speech menu says (its invitation, re-ask, confirmation) once a menu takes speech
    assert (named & shipped) - set(FLOW_PROMPTS) - set(SPOKEN_MENU_PROMPTS) \
        - set(SPEECH_PROMPTS) - {"language_menu"} == set()
