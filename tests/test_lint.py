"""`ivr lint` finds each kind of problem, each test planting one in the shipped tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr import create_app
from ivr.cli import cli
from ivr.errors import MenuError
from ivr.menu.loader import DEFAULT_MENU

SHIPPED = DEFAULT_MENU.read_text(encoding="utf-8")


def lint(tmp_path: Path, text: str, *extra: str) -> tuple[int, str]:
    path = tmp_path / "menu.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["lint", str(path), *extra], catch_exceptions=False)
    return result.exit_code, result.output


def test_the_shipped_tree_is_clean():
    result = CliRunner().invoke(cli, ["lint"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(" nodes, 0 errors")


PLANTED = [
    ("undefined target", ('"4": {goto: refund_prepare', '"4": {goto: refunds_prepare'),
     "nodes.payments_menu.options['4']: goto 'refunds_prepare' is not a defined node"),
    ("unreachable node", ('      "6": {goto: privacy_prepare, label: privacy and data security, '
                          'say: opt_privacy}\n', ""),
     "nodes.privacy_prepare: unreachable from the start node"),
    ("missing prompt", ("prompt: prepare_limit", "prompt: prepare_limits"),
     "nodes.limit_prepare.prompt: prompt 'prepare_limits' is in no prompt file (en-US, zh-CN); "
     "did you mean 'prepare_limit'?"),
    ("duplicate key", ('"2": {goto: fraud_queue, label: straight to an agent',
                       '"1": {goto: fraud_queue, label: straight to an agent'),
     "nodes.fraud_freeze_offer.options: duplicate key '1'"),
    ("menu without invalid handling", ("    invalid: invalid_choice\n    no_input: {goto: main,",
                                       "    no_input: {goto: main,"),
     "nodes.language: a menu node needs 'invalid'"),
    ("menu without no-input handling", ("    invalid: invalid_choice\n    no_input: no_input\n"
                                        "\n  # ---- 1", "    invalid: invalid_choice\n\n  # ---- 1"),
     "nodes.main: a menu node needs 'no_input'"),
    ("unknown queue", ("queue: complaints\n", "queue: complaint\n"),
     "nodes.complaints_queue.queue: unknown queue 'complaint'"),
    ("gate with a fixed next", ("    kind: verify\n    on_fail: agent_general",
                                "    kind: verify\n    next: main\n    on_fail: agent_general"),
     "the gate 'identify' must not have 'next'"),
    ("unknown kind", ("kind: record", "kind: recorder"), "unknown kind 'recorder'"),
    ("reserved key", ('"1": {goto: locked_prepare', '"9": {goto: locked_prepare'),
     "key '9' is reserved"),
]


@pytest.mark.parametrize(("name", "edit", "expected"), PLANTED, ids=[p[0] for p in PLANTED])
def test_lint_finds_a_planted_problem(tmp_path, name, edit, expected):
    old, new = edit
    assert old in SHIPPED, f"the plant for {name} no longer fits the shipped tree"
    code, output = lint(tmp_path, SHIPPED.replace(old, new, 1))
    assert code == 1
    assert expected in output, output
    assert "menu.yaml:" in output  # located by file and line


def test_missing_translation_is_reported_with_its_file(tmp_path):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for lang in ("zh-CN", "en-US"):
        text = (Path(__file__).parent.parent / "prompts" / f"{lang}.yaml").read_text("utf-8")
        if lang == "en-US":
            text = "\n".join(line for line in text.splitlines()
                             if not line.startswith("queue_fraud:"))
        (prompts / f"{lang}.yaml").write_text(text, encoding="utf-8")
    code, output = lint(tmp_path, SHIPPED, "--prompts", str(prompts))
    assert code == 1
    assert "en-US.yaml:queue_fraud: missing translation" in output


def test_a_self_service_needs_the_words_that_name_it_while_agents_are_closed(tmp_path):
    """What the caller hears when no agent answers names each self-service the tree offers
    (``closed_self_service``): a catalog without one is an error at the node's action."""
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for lang in ("zh-CN", "en-US"):
        text = (Path(__file__).parent.parent / "prompts" / f"{lang}.yaml").read_text("utf-8")
        text = "\n".join(line for line in text.splitlines()
                         if not line.startswith("fmt_service_password_help:"))
        (prompts / f"{lang}.yaml").write_text(text, encoding="utf-8")
    code, output = lint(tmp_path, SHIPPED, "--prompts", str(prompts))
    assert code == 1
    assert ("nodes.password_help.action: prompt 'fmt_service_password_help' is in no prompt "
            "file") in output, output


def test_every_problem_is_listed_at_once(tmp_path):
    broken = SHIPPED.replace("queue: complaints\n", "queue: complaint\n").replace(
        '"4": {goto: refund_prepare', '"4": {goto: refunds_prepare')
    code, output = lint(tmp_path, broken)
    assert code == 1
    assert "unknown queue 'complaint'" in output and "'refunds_prepare'" in output
    # the typo is the one problem: what it meant to reach is not also "unreachable"
    assert "did you mean 'refund_prepare'?" in output and "unreachable" not in output
    assert output.rstrip().endswith(" nodes, 2 errors")


def test_not_yaml_and_missing_file_are_clear_errors(tmp_path):
    code, output = lint(tmp_path, "nodes: [unclosed")
    assert code == 1 and "not valid YAML" in output
    result = CliRunner().invoke(cli, ["lint", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1 and "cannot read" in result.output


def test_the_app_refuses_to_start_on_an_invalid_tree(tmp_path, settings):
    path = tmp_path / "menu.yaml"
    path.write_text(SHIPPED.replace("queue: complaints\n", "queue: complaint\n"), "utf-8")
    with pytest.raises(MenuError) as error:
        create_app({**settings, "MENU": str(path)})
    assert "unknown queue 'complaint'" in str(error.value)
