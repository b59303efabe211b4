"""Whole calls through signed webhooks: every leaf of the shipped tree reaches its queue."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.both_backends

DEMO_PHONE = "+8613800138000"      # 10000001, PIN 246810, a 200 CNY top-up processing
STRANGER = "+8613700000000"        # no account

# keys after the language choice, for a caller whose phone is not on file:
# menu keys, then identity (account#, PIN) where the route needs it, then what follows
VERIFY = ("10000001#", "246810")
LEAVES = [
    ("top-up", ["1", "1", *VERIFY, "0", "1", "20261120", "200#"], "payments"),
    ("payment failed", ["1", "2", *VERIFY, "1", "20261119", "35*50#"], "payments"),
    ("withdrawal", ["1", "3", *VERIFY, "1", "20261118", "1000#"], "payments"),
    ("refund", ["1", "4", *VERIFY, "1", "20261117", "88#"], "payments"),
    ("locked", ["2", "1", *VERIFY, "1"], "account-security"),
    ("forgot password", ["2", "2", *VERIFY, "0"], "account-security"),
    ("change phone or card", ["2", "3", *VERIFY, "1"], "account-security"),
    ("payment limit", ["2", "4", *VERIFY, "1"], "account-security"),
    ("close account", ["2", "5", *VERIFY, "1"], "account-security"),
    ("privacy", ["2", "6", *VERIFY, "1"], "account-security"),
    ("fraud", ["3", *VERIFY, "2"], "fraud"),
    ("complaint status", ["4", "2", "12345678#", "0"], "complaints"),
    ("overseas and other", ["5", "1"], "general"),
    ("agent", ["0"], "general"),
]


@pytest.mark.parametrize("lang_key", ["1", "2"], ids=["zh-CN", "en-US"])
@pytest.mark.parametrize(("leaf", "keys", "queue"), LEAVES, ids=[leaf[0] for leaf in LEAVES])
def test_every_leaf_reaches_its_queue(caller, lang_key, leaf, keys, queue):
    call = caller(STRANGER)
    call.start()
    call.keys(lang_key, *keys)
    assert call.queue == queue


def test_complaint_filing_records_reads_ticket_and_queues(caller, app):
    call = caller(STRANGER)
    call.start()
    call.keys("2", "4", "1", *VERIFY, "1")
    assert call.root.find("Record").get("maxLength") == "120"
    call.record()
    ticket_line = next(t for t in call.heard if "ticket number is" in t)
    digits = ticket_line.split("ticket number is ")[1].split(".")[0]
    assert len(digits.split(" ")) == 8  # read back digit by digit
    assert call.said("within 48 hours")
    call.press("0")
    assert call.queue == "complaints"
    number = digits.replace(" ", "")
    status = caller(STRANGER)
    status.start()
    status.keys("2", "4", "2", number + "#")
    assert status.said(f"Complaint {digits} is registered. We will reply by")


def test_verified_topup_caller_hears_status_first_and_details_are_kept(caller, app):
    call = caller(DEMO_PHONE)
    call.start()
    call.keys("2", "1", "1", "1", "246810")
    assert call.heard[-2].startswith("Your top-up of 200 yuan on ")
    assert "Funds usually arrive within 48 hours" in call.heard[-2]
    call.keys("0", "1", "20261120", "200*5#")
    assert call.queue == "payments"
    record = app.extensions["ivr"].store.call(call.sid)
    assert record["verified"] and record["account_last4"] == "0001"
    assert record["details"] == {"transaction_date": "2026-11-20", "amount": "200.50"}
    assert record["issue"] == "topup"


def test_mandarin_is_the_default_when_the_caller_says_nothing(caller):
    call = caller()
    call.start()
    call.press("")
    # the menu is spoken piece by piece: the phrase, then its key
    assert "充值、支付、提现、退款，请按1；账户安全，请按2；" in "".join(call.heard)


def test_fraud_caller_who_cannot_verify_still_reaches_fraud_unverified(caller, app):
    call = caller(STRANGER)
    call.start()
    call.keys("2", "3", "99999999#", "000000", "99999999#", "111111", "99999999#", "222222")
    assert call.queue == "fraud"
    assert app.extensions["ivr"].store.call(call.sid)["verified"] is False


def test_verified_fraud_caller_can_freeze_the_account(caller, app):
    call = caller(DEMO_PHONE)
    call.start()
    call.keys("2", "3", "1", "246810")
    assert "To freeze your account now, press 1." in " ".join(call.heard)
    call.press("1")
    assert call.said("Your account is now frozen")
    assert call.queue == "fraud"
    assert app.extensions["ivr"].wallet.status("10000001") == "frozen"


def test_frozen_account_is_told_and_routed_to_account_security(caller):
    call = caller("+8613900139000")
    call.start()
    call.keys("2", "1", "1", "1", "135790")
    assert call.said("Your account is currently frozen")
    assert call.queue == "account-security"


def test_three_failures_go_to_general_never_a_hangup(caller):
    call = caller()
    call.start()
    call.keys("2", "", "7")
    assert call.said("Sorry, we did not receive your input")
    assert call.said("Sorry, that is not a valid choice")
    call.press("8")
    assert call.queue == "general"
    assert call.root.find("Hangup") is None


def test_star_repeats_and_nine_goes_back(caller):
    call = caller()
    call.start()
    call.keys("2", "1", "*")
    menu = " ".join(e.text or "" for e in call.root.find("Gather").iter("Say"))
    assert menu.startswith("If a top-up failed or has not arrived, press 1.")
    assert menu.endswith("To hear this again, press star. For the main menu, press 9.")
    call.press("9")
    menu = " ".join(e.text or "" for e in call.root.find("Gather").iter("Say"))
    assert "For top-up, payment, withdrawal or refund, press 1." in menu
    assert menu.endswith("For an agent, press 0. To hear this again, press star.")


def test_invalid_date_is_asked_again(caller):
    call = caller(STRANGER)
    call.start()
    call.keys("2", "1", "2", *VERIFY, "1", "20261340")
    assert call.said("Sorry, that entry is not valid")
    assert call.root.find("Gather").get("numDigits") == "8"


def test_unknown_step_restarts_at_the_main_menu(caller):
    call = caller()
    call.start()
    call.post(f"/voice/step/no_such_node?t={call.turn}", Digits="1")
    assert call.said("我们将带您回到主菜单")
    assert call.at == "main"


def test_replayed_request_asks_again_where_the_call_is(caller):
    call = caller()
    call.start()
    call.keys("2", "1")
    call.post("/voice/step/main", Digits="3")  # a retry of an earlier webhook
    assert call.at == "payments_menu"


def test_wait_url_and_queue_result_and_status_callback(caller, app):
    call = caller()
    call.start()
    call.keys("2", "0")
    enqueue = call.root.find("Enqueue")
    wait_url, done_url = enqueue.get("waitUrl"), enqueue.get("action")
    call.post(wait_url, QueuePosition="3", QueueTime="40")
    assert call.said("Callers ahead of you: 2. The expected wait is about")
    assert call.at == "general" and "/voice/hold-key/" in call.action
    call.post(done_url, QueueResult="hangup")
    assert call.root.find("Hangup") is not None
    response = call.send("/voice/status", CallStatus="completed", CallDuration="95")
    assert response.status_code == 204
    record = app.extensions["ivr"].store.call(call.sid)
    assert record["status"] == "completed" and record["queue_result"] == "hangup"
