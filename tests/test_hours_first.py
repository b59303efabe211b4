"""Hours before effort (issue 22): a choice only agents can do, while its team is closed,
tells the hours, when it opens, the best times, what self-service does now and a callback
before any prompt for an account, a PIN, a date or an amount; self-service stays open;
no agent is offered while none can answer; the fraud line is never affected.

Whole calls through signed webhooks, at fixed moments, on both databases.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Caller
from freezegun import freeze_time

from ivr import create_app
from ivr.menu.model import Kind, agents_only

pytestmark = pytest.mark.both_backends

NIGHT = "2026-11-25 15:00:00"  # Wednesday 23:00 in Shanghai: only the fraud team works
MORNING = "2026-11-25 01:30:00"  # Wednesday 09:30 in Shanghai: every team works
SHIPPED_TRAFFIC = Path(__file__).parent.parent / "ivr" / "data" / "traffic.yaml"
#: what a caller is asked to do for an agent: verify, have ready, key
EFFORT = ("verify_callerid", "verify_account", "verify_pin", "collect_date", "collect_amount",
          "prepare_")
LANG_KEY = {"zh-CN": "1", "en-US": "2"}


def text(app, key: str, lang: str = "en-US", **values: str) -> str:
    return app.extensions["ivr"].catalog.text(lang, key, **values)


def effort(app, lang: str) -> set[str]:
    catalog = app.extensions["ivr"].catalog
    return {catalog.text(lang, key) for key in catalog.texts[lang]
            if key.startswith(EFFORT) and key != "prepare_ready"}


def call(moment: str, settings, *keys: str, lang: str = "en-US",
         from_number: str = "+8613700000000"):
    """The app at ``moment`` and a call that chose ``lang`` and pressed ``keys``."""
    with freeze_time(moment):
        app = create_app(settings)
        caller = Caller(app.test_client(), from_number)
        caller.start()
        caller.keys(LANG_KEY[lang], *keys)
        return app, caller


#: every choice of the shipped tree only an agent can do, by its keys from the main menu:
#: its queue and the topic kept on the call
AGENTS_ONLY = {
    ("1", "2"): ("payments", "payment"), ("1", "3"): ("payments", "withdrawal"),
    ("1", "4"): ("payments", "refund"), ("2", "1"): ("account-security", "locked"),
    ("2", "3"): ("account-security", "change_info"), ("2", "4"): ("account-security", "limit"),
    ("2", "5"): ("account-security", "close_account"),
    ("2", "6"): ("account-security", "privacy"), ("5",): ("general", "other"),
    ("0",): ("general", None),
}


def test_the_choices_only_agents_can_do_are_the_trees(settings):
    """The list above is the shipped tree's, found as the flow finds them."""
    menu = create_app(settings).extensions["ivr"].tree.menu
    found = []
    for option in menu.nodes[menu.main].options:
        below = menu.nodes[option.goto]
        subs = [(o.key, o.goto) for o in below.options] if below.kind is Kind.MENU else [("", "")]
        for key, goto in subs:
            target = goto or option.goto
            queue = agents_only(menu, target) if menu.nodes[target].kind is not Kind.QUEUE \
                else menu.nodes[target]
            if queue is not None and queue.queue != "fraud":
                found.append(tuple(k for k in (option.key, key) if k))
    assert sorted(found) == sorted(AGENTS_ONLY)
    assert agents_only(menu, "topup_status") is None  # self-service first
    assert agents_only(menu, "complaint_prepare") is None  # a ticket is filed by the caller
    assert agents_only(menu, "payment_prepare").id == "payments_queue"


@pytest.mark.parametrize("keys", list(AGENTS_ONLY), ids=["-".join(k) for k in AGENTS_ONLY])
def test_at_23_a_choice_only_agents_can_do_hears_closed_before_any_effort(settings, keys):
    app, night = call(NIGHT, settings, *keys)
    assert night.said("This line is closed now. It opens again tomorrow at 8 a.m.")
    assert night.said("The best times to call are: tomorrow,")
    assert night.said("Self-service stays open at all hours: you can hear the status of your "
                      "recent top-ups, learn how to reset a forgotten password,")
    assert night.heard[-1] == text(app, "closed_offer")
    assert not set(night.heard) & effort(app, "en-US"), night.heard
    record = app.extensions["ivr"].store.call(night.sid)
    # the team and the topic chosen are kept, for the callback
    assert (record["queue"], record["issue"]) == AGENTS_ONLY[keys]


@pytest.mark.parametrize("lang", ["zh-CN", "en-US"])
def test_at_23_the_payments_team_is_closed_before_the_account_and_a_callback_keeps_the_topic(
        settings, lang):
    app, night = call(NIGHT, settings, "1", "2", lang=lang)  # payments, a payment failed
    first = next(i for i, said in enumerate(night.heard)
                 if said.startswith(text(app, "queue_closed", lang, opens="X", hours="Y")[:6]))
    assert first == len(night.heard) - 4  # the hours, the best times, self-service, the offer
    assert not set(night.heard) & effort(app, lang)
    with freeze_time(NIGHT):
        night.press("1")
    assert night.said(text(app, "goodbye", lang)) and night.root.find("Hangup") is not None
    (callback,) = app.extensions["ivr"].store.pending_callbacks()
    assert (callback["queue"], callback["issue"], callback["verified"]) == \
        ("payments", "payment", False)
    # at 09:30 the same keys ask for the account: the team is there
    app, morning = call(MORNING, settings, "1", "2", lang=lang)
    assert morning.heard[-2:] == [text(app, "verify_account", lang),
                                  text(app, "verify_account_unknown", lang)]


def test_at_23_top_up_status_still_answers_and_no_agent_is_offered(settings):
    app, night = call(NIGHT, settings, "1", "1", "1", "246810", from_number="+8613800138000")
    assert night.said("Your top-up of 200 yuan on 24 November is still processing.")
    assert night.heard[-1] == ("To hear when our agents are back, press 0. To hear this "
                               "again, press star. For the main menu, press 9.")
    assert not night.said("For an agent")
    with freeze_time(NIGHT):
        night.press("0")  # the hours, before the date and amount the agent would need
        assert night.said("This line is closed now")
        assert not set(night.heard) & effort(app, "en-US") - {text(app, "verify_callerid"),
                                                            text(app, "verify_pin")}
        night.press("9")  # back to the main menu: self-service, and no agent offered
    assert night.heard[-1] == text(app, "menu_repeat") and not night.said("For an agent,")
    assert app.extensions["ivr"].store.call(night.sid)["verified"]
    _, morning = call(MORNING, settings, "1", "1", "1", "246810", from_number="+8613800138000")
    assert morning.heard[-1].startswith("For an agent, press 0.")


def test_at_23_the_main_menu_offers_no_agent_and_the_fraud_line_is_open(settings):
    app, night = call(NIGHT, settings)
    assert not night.said(text(app, "opt_agent")) and night.said(text(app, "opt_fraud"))
    _, morning = call(MORNING, settings)
    assert morning.said(text(app, "opt_agent"))
    with freeze_time(NIGHT):
        night.press("0")  # the key still works: it tells the hours
        assert night.said("This line is closed now") and night.queue is None
    _, fraud = call(NIGHT, settings, "3", "10000001#", "246810", "2")
    assert fraud.said(text(app, "verify_account")) and not fraud.said("closed")
    assert fraud.queue == "fraud"


def test_at_23_a_withheld_number_hears_self_service_and_may_go_to_the_main_menu(settings):
    app, night = call(NIGHT, settings, "1", "2", lang="zh-CN", from_number="anonymous")
    assert night.said("自助服务全天开放，您可以查询近期充值状态、了解如何重置密码、"
                      "在账户被盗时立即冻结账户、提交投诉和查询投诉处理进度。")
    assert night.heard[-1] == "返回主菜单，请按9；结束通话，请挂机。"
    assert not night.said("回电")
    with freeze_time(NIGHT):
        night.press("9")
    assert night.heard[-1] == text(app, "menu_repeat", "zh-CN")


def test_when_only_the_team_is_closed_the_caller_hears_it_before_verifying(settings, tmp_path):
    """Payments closing at 20:00 while general works until 22:00: at 21:00 a failed payment
    hears the team is away before the account prompt, and may have an agent now."""
    traffic = tmp_path / "traffic.yaml"
    shipped = SHIPPED_TRAFFIC.read_text(encoding="utf-8")
    traffic.write_text(shipped.replace(
        "    aht_s: 300\n    patience_s: 1800\n",
        '    aht_s: 300\n    patience_s: 1800\n    hours: {weekdays: "08:00-20:00", '
        'weekend: "09:00-21:00", holiday: "09:00-18:00"}\n', 1), "utf-8")
    settings = {**settings, "TRAFFIC": str(traffic)}
    app, call_ = call("2026-11-25 13:00:00", settings, "1", "2")  # Wednesday 21:00
    assert call_.said("The team for this question is not available now. They are back "
                      "tomorrow at 8 a.m.")
    assert call_.heard[-1] == "For a callback from them, press 1. To speak to an agent now, press 2."
    assert not set(call_.heard) & effort(app, "en-US")
    with freeze_time("2026-11-25 13:00:00"):
        call_.press("2")
        if call_.queue is None:  # a long wait offered first: keep waiting
            call_.press("3")
    assert call_.queue == "general"
    record = app.extensions["ivr"].store.call(call_.sid)
    assert (record["issue"], record["verified"]) == ("payment", False)


# -- no hand-off to a team that answers no one ---------------------------------------------------

@pytest.mark.parametrize("lang", ["zh-CN", "en-US"])
def test_at_23_three_wrong_keys_are_not_told_put_through_before_closed(settings, lang):
    """Three wrong keys end in the agents' queue: at night the caller hears why, then that
    the line is closed, never "let me put you through to an agent" first."""
    app, night = call(NIGHT, settings, "7", "7", "7", lang=lang)
    said = night.heard
    assert text(app, "too_many_failures", lang) not in said
    closed_at = next(i for i, t in enumerate(said) if t.startswith(
        text(app, "queue_closed", lang, opens="", hours="")[:6]))
    assert said[closed_at - 1] == text(app, "too_many_failures_closed", lang)
    app, day = call(MORNING, settings, "7", "7", "7", lang=lang)
    assert text(app, "too_many_failures", lang) in day.heard and day.queue == "general"


def test_at_23_a_frozen_account_is_told_so_without_a_hand_off(settings):
    """Self-service verifies at night (the top-up status); a frozen account is handed to
    account security, which is closed: the freeze is told, then the hours."""
    frozen = "+8613900139000"  # 10000002, PIN 135790, frozen
    app, night = call(NIGHT, settings, "1", "1", "1", "135790", from_number=frozen)
    assert text(app, "verify_frozen_closed") in night.heard
    assert text(app, "verify_frozen") not in night.heard
    assert night.said("This line is closed now")
    app, day = call(MORNING, settings, "1", "1", "1", "135790", from_number=frozen)
    assert text(app, "verify_frozen") in day.heard and day.queue == "account-security"
