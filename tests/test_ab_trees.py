"""A/B trees: MENU_B takes MENU_B_SHARE of new calls by CallSid, and a call never switches.

The B tree here swaps where main-menu keys 1 and 2 lead, so the node a key reaches says
which tree a call runs on.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import Caller

from ivr import create_app
from ivr.errors import ConfigError, MenuError
from ivr.flow.prompts import load as load_prompts
from ivr.menu.loader import DEFAULT_MENU
from ivr.menu.version import takes_b, tree_version

pytestmark = pytest.mark.both_backends


def swapped_tree(path: Any) -> Any:
    """The shipped tree with main-menu keys 1 and 2 leading to each other's sub-menu."""
    raw = yaml.safe_load(DEFAULT_MENU.read_text("utf-8"))
    options = raw["nodes"]["main"]["options"]
    options["1"]["goto"], options["2"]["goto"] = options["2"]["goto"], options["1"]["goto"]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
    return path


@pytest.fixture(name="tree_b")
def _tree_b(tmp_path: Any) -> Any:
    return swapped_tree(tmp_path / "tree_b.yaml")


def sids(n: int, start: int = 1) -> list[str]:
    return [f"CA{i:032d}" for i in range(start, start + n)]


def at_after_key_1(client: Any, sid: str) -> str:
    """Where key 1 at the main menu takes the call ``sid`` (English, so no verification)."""
    call = Caller(client)
    call.sid = sid
    call.start()
    call.press("2")  # English
    call.press("1")
    return call.at


def test_the_share_of_calls_on_b_is_chosen_by_callsid_and_recorded(settings, clock, tree_b):
    app = create_app({**settings, "MENU_B": str(tree_b), "MENU_B_SHARE": 0.5})
    hotline = app.extensions["ivr"]
    client = app.test_client()
    assert hotline.tree_b is not None and hotline.tree_b.version != hotline.tree.version
    chosen = {sid: takes_b(sid, 0.5) for sid in sids(24)}
    assert 0 < sum(chosen.values()) < len(chosen)  # both trees get calls at this share
    for sid, on_b in chosen.items():
        reached = at_after_key_1(client, sid)
        assert reached == ("account_menu" if on_b else "payments_menu"), sid
        record = hotline.store.call(sid)
        tree = hotline.tree_b if on_b else hotline.tree
        assert (record["menu_version"], record["menu_file"]) == (tree.version, tree.file)


def test_a_call_stays_on_its_tree_when_the_share_changes_mid_call(settings, clock, tree_b):
    on_b = next(sid for sid in sids(50) if takes_b(sid, 0.5))
    first = create_app({**settings, "MENU_B": str(tree_b), "MENU_B_SHARE": 0.5})
    call = Caller(first.test_client())
    call.sid = on_b
    call.start()
    call.press("2")
    # a restart with the trial stopped: new calls all on A, this call still on B
    later = create_app({**settings, "MENU_B": str(tree_b), "MENU_B_SHARE": 0.0})
    call.client = later.test_client()
    call.press("1")
    assert call.at == "account_menu"
    assert at_after_key_1(later.test_client(), on_b[:-3] + "999") == "payments_menu"


def test_share_zero_and_no_trial_put_every_call_on_a(settings, clock, tree_b):
    for first, extra in ((100, {}), (200, {"MENU_B": str(tree_b), "MENU_B_SHARE": 0})):
        app = create_app({**settings, **extra})
        client = app.test_client()
        assert {at_after_key_1(client, sid) for sid in sids(6, first)} == {"payments_menu"}


def test_the_version_is_the_content_of_the_tree_and_the_prompts(tmp_path, tree_b):
    catalog = load_prompts()
    same = tmp_path / "same.yaml"
    same.write_bytes(DEFAULT_MENU.read_bytes())
    assert tree_version(same, catalog.texts) == tree_version(None, catalog.texts)
    assert tree_version(tree_b, catalog.texts) != tree_version(None, catalog.texts)
    reworded = {lang: {**texts, "goodbye": texts["goodbye"] + "!"}
                for lang, texts in catalog.texts.items()}
    assert tree_version(None, reworded) != tree_version(None, catalog.texts)


@pytest.mark.parametrize(("extra", "message"), [
    ({"MENU_B_SHARE": 0.2}, "MENU_B_SHARE is set but MENU_B"),
    ({"MENU_B": "{b}"}, "MENU_B_SHARE must be the share of calls (0 to 1)"),
    ({"MENU_B": "{b}", "MENU_B_SHARE": 1.5}, "not 1.5"),
    ({"MENU_B": "{b}", "MENU_B_SHARE": "half"}, "not 'half'"),
])
def test_a_bad_trial_setting_is_refused_at_start(settings, tree_b, extra, message):
    extra = {k: (v.format(b=tree_b) if isinstance(v, str) else v) for k, v in extra.items()}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        create_app({**settings, **extra})


def test_an_invalid_b_tree_is_refused_with_its_problems(settings, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT_MENU.read_text("utf-8").replace("goto: account_menu",
                                                           "goto: acount_menu"), "utf-8")
    with pytest.raises(MenuError) as raised:
        create_app({**settings, "MENU_B": str(bad), "MENU_B_SHARE": 0.1})
    assert "acount_menu" in str(raised.value) and "bad.yaml" in str(raised.value)
