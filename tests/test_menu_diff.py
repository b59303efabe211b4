"""``ivr menu diff``: what changed between two trees, in the tree's terms."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ivr.cli import cli
from ivr.flow import prompts
from ivr.menu.diff import Change, What, diff
from ivr.menu.loader import DEFAULT_MENU, parse

SHIPPED = DEFAULT_MENU.read_text("utf-8")
PAYMENTS = '      "1": {goto: payments_menu, label: "top-up, payment, withdrawal and refund", ' \
           'say: opt_payments}\n'
AGENT = '      "0": {goto: agent_general, label: an agent, say: opt_agent}\n'


@pytest.fixture(name="tree")
def _tree(tmp_path):
    """Write a variant of the shipped tree; its path."""
    def write(text: str, name: str = "b.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, "utf-8")
        return path
    return write


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["menu", "diff", *map(str, args)], catch_exceptions=False)
    return result.exit_code, result.output


def changes_of(text: str) -> list[Change]:
    old, new = parse(SHIPPED, "a.yaml")[0], parse(text, "b.yaml")[0]
    return diff(old, new)


def test_the_shipped_tree_against_itself_has_no_changes():
    assert run(DEFAULT_MENU, DEFAULT_MENU) == (0, "no changes\n")
    code, output = run(DEFAULT_MENU, DEFAULT_MENU, "--json")
    assert (code, json.loads(output)) == (0, [])


def test_a_key_going_to_another_node_is_a_moved_option(tree):
    text = SHIPPED.replace('"5": {goto: other_prepare', '"5": {goto: agent_general') \
        .replace('"0": {goto: agent_general', '"0": {goto: other_prepare')
    code, output = run(DEFAULT_MENU, tree(text))
    assert code == 1
    assert output.splitlines() == [
        "nodes.main.options['5']: option moved: goto other_prepare -> goto agent_general",
        "nodes.main.options['0']: option moved: goto agent_general -> goto other_prepare",
        "2 changes"]


def test_the_first_option_spoken_last_is_one_reorder(tree):
    text = SHIPPED.replace(PAYMENTS, "").replace(AGENT, AGENT + PAYMENTS)
    assert [c.line() for c in changes_of(text)] == [
        "nodes.main.options['1']: option reordered: spoken 1st -> spoken 6th"]


def test_an_option_under_another_key_is_renumbered(tree):
    text = SHIPPED.replace(PAYMENTS, "").replace(AGENT, AGENT + PAYMENTS.replace('"1"', '"6"'))
    code, output = run(DEFAULT_MENU, tree(text), "--json")
    assert code == 1
    assert json.loads(output) == [
        {"what": "option renumbered", "where": "nodes.main.options['6']", "before": "key 1",
         "after": "key 6 (goto payments_menu)", "lang": None},
        {"what": "option reordered", "where": "nodes.main.options['6']",
         "before": "spoken 1st", "after": "spoken 6th", "lang": None}]


def test_a_removed_node_and_the_option_that_led_to_it(tree):
    # the node's whole block, its phrases and topic included
    node = re.search(r"^  privacy_prepare:\n(?:    .*\n)+", SHIPPED, re.M).group(0)
    option = '      "6": {goto: privacy_prepare, label: privacy and data security, ' \
             'say: opt_privacy}\n'
    assert node in SHIPPED and option in SHIPPED
    code, output = run(DEFAULT_MENU, tree(SHIPPED.replace(node, "").replace(option, "")))
    assert code == 1
    assert output.splitlines() == [
        "nodes.account_menu.options['6']: option removed (goto privacy_prepare)",
        "nodes.privacy_prepare: node removed (prepare)",
        "2 changes"]


def test_nodes_added_kinds_settings_and_prompt_keys(tree):
    text = SHIPPED.replace("  timeout_s: 5\n", "  timeout_s: 7\n", 1) \
        .replace("say: opt_complaints}", "say: opt_fraud}") \
        .replace("  complaint_status:\n    kind: service\n    action: complaint_status\n",
                 "  complaint_status:\n    kind: say\n    prompt: complaint_retry\n") \
        .replace("  agent_general:\n", "  spare:\n    kind: hangup\n    prompt: goodbye\n"
                                        "  agent_general:\n")
    lines = [c.line() for c in changes_of(text)]
    assert lines == [
        "settings.timeout_s: setting changed: 5 -> 7",
        "nodes.main.options['4'].say: prompt changed: opt_complaints -> opt_fraud",
        "nodes.complaint_status.kind: kind changed: service -> say",
        "nodes.complaint_status.prompt: prompt changed: (none) -> complaint_retry",
        "nodes.complaint_status.action: field changed: complaint_status -> (none)",
        "nodes.spare: node added (hangup)"]


def test_a_prompt_text_changed_in_one_language(tmp_path):
    catalogs = []
    for name in ("a", "b"):
        shutil.copytree(prompts.DEFAULT_DIR, tmp_path / name)
        catalogs.append(tmp_path / name)
    en = catalogs[1] / "en-US.yaml"
    texts = yaml.safe_load(en.read_text("utf-8"))
    texts["opt_complaints"] = "To make a complaint,"
    en.write_text(yaml.safe_dump(texts, allow_unicode=True), "utf-8")
    code, output = run(DEFAULT_MENU, DEFAULT_MENU, "--prompts", catalogs[0],
                       "--prompts", catalogs[1])
    assert code == 1
    assert output.splitlines() == [
        "prompt 'opt_complaints' (nodes.main.options['4']): prompt text changed in en-US: "
        '"For complaints," -> "To make a complaint,"',
        "1 change"]
    # one catalog for both trees: the same words
    assert run(DEFAULT_MENU, DEFAULT_MENU, "--prompts", catalogs[1]) == (0, "no changes\n")


def test_a_file_that_does_not_validate_is_every_problem_with_its_location(tree):
    text = SHIPPED.replace("say: opt_refund}", "say: opt_refunds}") \
        .replace('"2": {goto: complaint_ticket', '"2": {goto: complaint_tickets')
    path = tree(text)
    code, output = run(DEFAULT_MENU, path)
    lines = output.splitlines()
    refund = next(i for i, line in enumerate(text.splitlines(), 1) if "opt_refunds" in line)
    assert code == 2
    assert f"error: b.yaml:{refund} nodes.payments_menu.options['4']: prompt 'opt_refunds' is " \
           "in no prompt file (en-US, zh-CN); did you mean 'opt_refund'?" in lines
    assert any("nodes.complaints_menu.options['2']: goto 'complaint_tickets' is not a "
               "defined node" in line for line in lines)
    assert lines[-2:] == ["b.yaml: 39 nodes, 2 errors", f"cannot compare: {path} has errors"]
    broken = tree("nodes: [\n", "c.yaml")
    code, output = run(broken, path)
    assert code == 2 and output.startswith("error: c.yaml:")
    assert output.splitlines()[-1] == f"cannot compare: {broken} and {path} have errors"


def test_changes_are_plain_data():
    change = Change(What.NODE_ADDED, "nodes.x", after="menu")
    assert change.to_dict() == {"what": "node added", "where": "nodes.x", "before": None,
                                "after": "menu", "lang": None}
