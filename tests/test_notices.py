"""Incident notices and the emergency switch (issue 22, point 2): published with ``ivr
notice`` or the console's Notices page, heard through signed webhooks in the caller's
language once a call where they enter its scope, never after its end, and counted by ``ivr
report``; on SQLite and on PostgreSQL. The clock is frozen (``QUIET``: Wednesday 25
November 2026, 09:30 in Shanghai, every line open with short waits)."""

from __future__ import annotations

import json
import re

import pytest
from test_console import PASSWORD, log_in, post, token

from ivr.cli import cli

pytestmark = pytest.mark.both_backends

STRANGER = "+8613700000000"  # no account: types the account number and the PIN
VERIFY = ("10000001#", "246810")
PAYMENTS = {"en-US": "Top-ups through one bank are delayed by an outage; your money is safe.",
            "zh-CN": "因一家银行系统故障，部分充值会延迟到账，您的资金是安全的。"}
LINE = {"en-US": "Our app is being updated tonight; the hotline works as usual.",
        "zh-CN": "今晚钱包应用升级维护，热线服务照常。"}
#: 11:30 in Shanghai on the frozen day, two hours after the calls
END = "2026-11-25T11:30"
LANG_KEYS = [("1", "zh-CN"), ("2", "en-US")]


def other(lang: str) -> str:
    return "en-US" if lang == "zh-CN" else "zh-CN"


@pytest.fixture(name="notice")
def _notice(runner, database):
    """``ivr notice ...`` on the test's database, as the system account ``lead``."""
    def run(*args: str, texts: dict[str, str] | None = PAYMENTS):
        words = [a for lang, text in (texts or {}).items() for a in ("--text", lang, text)]
        return runner.invoke(cli, ["notice", *args, *words, "--db", database],
                             env={"LOGNAME": "lead"})
    return run


def add(notice, scope: str, texts: dict[str, str] = PAYMENTS, *extra: str) -> int:
    result = notice("add", "--scope", scope, "--end", END, *extra, texts=texts)
    assert result.exit_code == 0, result.output
    found = re.match(r"published notice (\d+)", result.output)
    assert found, result.output
    return int(found.group(1))


# -- the acceptance: a payments notice --------------------------------------------------------

@pytest.mark.parametrize(("key", "lang"), LANG_KEYS, ids=[lang for _, lang in LANG_KEYS])
def test_a_payments_notice_is_heard_in_payments_not_in_account_security_nor_after_its_end(
        app, caller, notice, clock, key, lang):
    add(notice, "node:payments_menu")
    pay = caller(STRANGER)
    pay.start()
    pay.keys(key, "1")
    assert PAYMENTS[lang] in pay.heard and PAYMENTS[other(lang)] not in pay.heard
    # said as the caller enters the branch, before its menu
    assert pay.heard.index(PAYMENTS[lang]) == len(pay.heard) - 11  # 4 options, star, 9
    pay.keys("9", "1")  # back to the main menu and into payments again: once a call
    pay.keys("2", *VERIFY, "1", "20261119", "35*50#")
    assert pay.queue == "payments"
    assert pay.heard.count(PAYMENTS[lang]) == 1
    security = caller(STRANGER)
    security.start()
    security.keys(key, "2", "1", *VERIFY, "1")
    assert security.queue == "account-security"
    assert not any(text in security.heard for text in PAYMENTS.values())
    clock.move_to("2026-11-25 03:30:00")  # 11:30 in Shanghai: its end
    late = caller(STRANGER)
    late.start()
    late.keys(key, "1")
    assert not any(text in late.heard for text in PAYMENTS.values())


def test_a_caller_who_asks_for_a_refund_by_voice_hears_the_payments_branchs_notice(
        app, caller, notice):
    add(notice, "node:payments_menu")
    call = caller(STRANGER)
    call.start()
    call.press("2")
    call.say("I want a refund")  # straight to refund_prepare, past the payments menu
    assert call.at == "identify"
    assert PAYMENTS["en-US"] in call.heard


def test_a_notice_ended_early_is_never_said_again(app, caller, notice):
    number = add(notice, "node:payments_menu")
    first = caller(STRANGER)
    first.start()
    first.press("2")
    ended = notice("end", str(number), texts=None)
    assert ended.exit_code == 0, ended.output
    assert ended.output.startswith(f"ended notice {number} (node:payments_menu) at 2026-11-25 09:30")
    first.press("1")  # the call went on after it ended
    assert PAYMENTS["en-US"] not in first.heard
    again = notice("end", str(number), texts=None)
    assert again.exit_code == 1
    assert f"notice {number} is over already: lead (ivr notice) ended it" in again.output


def test_a_whole_line_notice_is_said_right_after_the_language_choice(app, caller, notice):
    add(notice, "line", LINE)
    call = caller(STRANGER)
    call.start()
    before = len(call.heard)
    call.press("2")
    assert call.heard[before:before + 2] == [
        LINE["en-US"], "Say what you are calling about, or press a key."]
    call.keys("0")
    assert call.queue == "general" and call.heard.count(LINE["en-US"]) == 1


def test_a_queue_notice_is_said_as_the_caller_reaches_the_queue(app, caller, notice):
    add(notice, "queue:general")
    call = caller(STRANGER)
    call.start()
    call.keys("2", "0")
    assert call.queue == "general"
    assert call.heard[-3:-1] == [PAYMENTS["en-US"], "Connecting you to an agent."]


def test_notices_are_listed_in_the_centres_time(app, notice):
    add(notice, "node:payments_menu")
    add(notice, "queue:payments", PAYMENTS, "--emergency", "--start", "2026-11-25T10:00")
    listed = notice("list", texts=None)
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split() == ["ID", "STATE", "SCOPE", "SWITCH", "FROM", "UNTIL", "BY", "WORDS"]
    assert lines[1].split()[:7] == ["2", "upcoming", "queue:payments", "emergency", "2026-11-25",
                                    "10:00", "2026-11-25"]
    assert lines[2].split()[:4] == ["1", "active", "node:payments_menu", "-"]
    assert lines[-1] == "2 notices; times in Asia/Shanghai"
    rows = [json.loads(line) for line in notice("list", "--json", texts=None).output.splitlines()]
    assert rows[1]["texts"] == PAYMENTS and rows[1]["starts_at"] == "2026-11-25T09:30:00+08:00"
    assert rows[0]["emergency"] and rows[1]["created_by"] == "lead (ivr notice)"


# -- the emergency switch -------------------------------------------------------------------

def to_payments(call, key: str = "2") -> None:
    """A payment that failed: verified, the date and amount keyed, to the payments queue."""
    call.start()
    call.keys(key, "1", "2", *VERIFY, "1", "20261119", "35*50#")


def to_switched_payments(call, key: str = "2") -> None:
    """A payment that failed, while the payments queue is switched off: the switch is told
    at once, before the caller verifies or keys anything."""
    call.start()
    call.keys(key, "1", "2")
    assert not call.said("account number") and not call.said("账户号码")


def test_a_switched_queue_offers_a_callback_or_the_fraud_line_instead(app, caller, notice):
    add(notice, "queue:payments", PAYMENTS, "--emergency")
    call = caller(STRANGER)
    to_switched_payments(call)
    assert call.queue is None
    assert call.heard[-3:] == [
        PAYMENTS["en-US"], "Because of the incident, this team cannot take calls right now.",
        "For a callback, press 1. If your account was stolen or you suspect fraud, press 2 "
        "for our fraud line. Otherwise, please hang up."]
    call.press("1")
    assert call.said("We will call you back") and call.root.find("Hangup") is not None
    booked = app.extensions["ivr"].store.pending_callbacks()
    assert [(b["queue"], b["number"]) for b in booked] == [("payments", STRANGER)]
    booked_for = app.extensions["ivr"].store.call(call.sid)
    assert booked_for["issue"] == "payment" and not booked_for["verified"]
    fraud = caller(STRANGER)
    to_switched_payments(fraud)
    fraud.press("2")
    assert fraud.queue == "fraud"
    assert fraud.said("Connecting you to a fraud specialist.")


@pytest.mark.parametrize(("key", "lang"), LANG_KEYS, ids=[lang for _, lang in LANG_KEYS])
def test_a_withheld_number_is_offered_only_the_fraud_line(app, caller, notice, key, lang):
    add(notice, "queue:payments", PAYMENTS, "--emergency")
    call = caller("anonymous")
    to_switched_payments(call, key)
    offer = {"en-US": "If your account was stolen or you suspect fraud, press 2 for our fraud "
                      "line. Otherwise, please hang up.",
             "zh-CN": "如账户被盗或怀疑遭遇诈骗，请按2转接反诈骗专线；否则请挂机。"}
    assert call.heard[-1] == offer[lang]
    call.press("1")  # no callback to a withheld number: the offer again
    assert call.heard[-1] == offer[lang] and call.queue is None
    call.press("2")
    assert call.queue == "fraud"


def test_self_service_stays_open_behind_a_switched_queue(app, caller, notice):
    add(notice, "queue:payments", PAYMENTS, "--emergency")
    call = caller("+8613800138000")  # the demo account's phone: a top-up still processing
    call.start()
    call.keys("2", "1", "1", "1", "246810")  # a top-up: verified, its status
    assert call.heard[-2].startswith("Your top-up of 200 yuan")
    call.press("0")  # an agent: the switch, before the details are asked for
    assert call.heard[-2:] == ["Because of the incident, this team cannot take calls right now.",
                               "For a callback, press 1. If your account was stolen or you "
                               "suspect fraud, press 2 for our fraud line. Otherwise, please "
                               "hang up."]
    assert not call.said("Please enter the transaction date")
    complaint = caller(STRANGER)  # a complaint's ticket is filed, whatever the queue after
    add(notice, "queue:complaints", PAYMENTS, "--emergency")
    complaint.start()
    complaint.keys("2", "4", "1", *VERIFY, "1")
    complaint.record()
    assert complaint.said("Your complaint is registered")
    complaint.press("0")  # an agent after the ticket: the switch
    assert complaint.said("this team cannot take calls") and complaint.queue is None


def test_a_whole_line_switch_spares_the_fraud_line(app, caller, notice):
    add(notice, "line", LINE, "--emergency")
    agent = caller(STRANGER)
    agent.start()
    agent.keys("2", "0")
    assert agent.queue is None and agent.said("this team cannot take calls")
    assert agent.heard.count(LINE["en-US"]) == 1  # said after the language, not again
    fraud = caller(STRANGER)
    fraud.start()
    fraud.keys("2", "3", *VERIFY, "2")
    assert fraud.queue == "fraud" and not fraud.said("cannot take calls")


def test_only_a_switch_naming_the_fraud_line_turns_it_off(app, caller, notice):
    add(notice, "queue:fraud", PAYMENTS, "--emergency")
    fraud = caller(STRANGER)
    fraud.start()
    fraud.keys("2", "3", *VERIFY, "2")
    assert fraud.queue is None
    assert fraud.heard[-1] == ("For a callback, press 1. For the main menu, press 9. "
                               "Otherwise, please hang up.")
    fraud.keys("9")  # self-service stays open
    assert fraud.queue is None and "/voice/step/main" in fraud.action
    withheld = caller("anonymous")
    withheld.start()
    withheld.keys("2", "3", *VERIFY, "2")
    assert withheld.heard[-2:] == ["Because of the incident, this team cannot take calls right now.",
                                   "Thank you for calling. Goodbye."]
    assert withheld.root.find("Hangup") is not None


def test_silence_at_a_switched_queue_ends_in_the_fallback_queue_or_goodbye(app, caller, notice):
    payments = add(notice, "queue:payments", PAYMENTS, "--emergency")
    call = caller(STRANGER)
    to_switched_payments(call)
    call.keys("", "")
    assert call.heard[-1].startswith("For a callback, press 1.") and call.queue is None
    call.press("")
    assert call.queue == "general"  # the fallback queue is on
    assert notice("end", str(payments), texts=None).exit_code == 0
    add(notice, "line", LINE, "--emergency")
    late = caller(STRANGER)
    late.start()
    late.keys("2", "0", "", "", "")
    assert late.heard[-1] == "Thank you for calling. Goodbye." and late.queue is None


# -- validated like the tree ----------------------------------------------------------------

def test_a_wrong_notice_lists_every_problem_and_keeps_nothing(runner, tmp_path, clock):
    path = tmp_path / "new.db"
    result = runner.invoke(cli, ["notice", "add", "--scope", "payments_menu", "--text", "en-US",
                                 "Top-ups are late.", "--text", "fr-FR", "Retards.",
                                 "--start", "2026-11-25T12:00", "--end", "2026-11-25T11:00",
                                 "--db", str(path)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: the notice is invalid (4 problems):",
        "  error: scope: 'payments_menu' is not a scope: give line, node:<node id> (a node and "
        "its branch) or queue:<queue> (did you mean node:payments_menu?)",
        "  error: text zh-CN: missing: a notice is said in every prompt language (en-US, zh-CN)",
        "  error: text fr-FR: not a prompt language (they are en-US, zh-CN)",
        "  error: end: not after the start: the notice would never be said"]
    assert not path.exists()
    switch = runner.invoke(cli, ["notice", "add", "--scope", "node:paymnts_menu", "--emergency",
                                 "--text", "en-US", "x", "--text", "zh-CN", "y", "--start",
                                 "2026-11-24T08:00", "--end", "2026-11-24", "--db", str(path)])
    assert switch.exit_code == 1
    assert switch.output.splitlines()[1:] == [
        "  error: scope: node 'paymnts_menu' is in no tree the line runs (did you mean "
        "node:payments_menu?)",
        "  error: end: already past: the notice would never be said",
        "  error: emergency: a switch turns off a queue or the whole line, not a node: give "
        "queue:<queue> or line"]
    queue = runner.invoke(cli, ["notice", "add", "--scope", "queue:refunds", "--text", "en-US",
                                "x", "--text", "zh-CN", "y", "--end", "2099-01-01",
                                "--db", str(path)])
    assert queue.output.strip() == (
        "Error: scope: queue 'refunds' is not a queue of the line (its queues: "
        "account-security, complaints, fraud, general, payments)")
    assert not path.exists()


# -- ivr report --------------------------------------------------------------------------------

def test_the_report_counts_who_heard_a_notice_and_what_they_did_next(app, caller, notice,
                                                                     runner, database):
    add(notice, "node:payments_menu")
    went_on = caller(STRANGER)
    to_payments(went_on)
    assert went_on.queue == "payments"
    hung_up = caller(STRANGER)
    hung_up.start()
    hung_up.keys("2", "1")
    hung_up.send("/voice/status", CallStatus="completed", CallDuration="20")
    still = caller(STRANGER)
    still.start()
    still.keys("1", "1")
    never = caller(STRANGER)
    never.start()
    never.keys("2", "0")
    report = runner.invoke(cli, ["report", "--db", database, "--json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["notices"] == {"1": {
        "heard": 3, "went_on": {"payments": 1}, "deflected": 1, "callback": 0,
        "in_progress": 1, "scope": "node:payments_menu", "emergency": False}}
    text = runner.invoke(cli, ["report", "--db", database]).output
    table = text.split("Incident notices")[1].splitlines()
    assert table[1].split() == ["notice", "scope", "emergency", "heard", "went", "on", "to", "a",
                                "queue", "by", "queue", "callback", "hung", "up", "(deflected)",
                                "in", "progress"]
    assert table[2].split() == ["1", "node:payments_menu", "no", "3", "1", "payments:1", "0",
                                "1", "1"]


def test_the_records_keep_which_notice_a_step_said(app, caller, notice):
    number = add(notice, "node:payments_menu")
    call = caller(STRANGER)
    call.start()
    call.keys("2", "1")
    said = [e["notices"] for e in app.extensions["ivr"].store.events(call.sid)]
    assert said == [None, None, str(number)]


# -- the console --------------------------------------------------------------------------------

@pytest.fixture(name="lead")
def _lead(app):
    from datetime import UTC, datetime

    users, now = app.extensions["ivr"].users, datetime.now(UTC)
    users.add("lead", PASSWORD, "ops", now)
    users.add("wang", PASSWORD, "agent", now, queues=("general",), phone="+8613900000001")
    return users


def publish(client, **fields):
    form = {"action": "publish", "scope": "node:payments_menu", "text_en-US": PAYMENTS["en-US"],
            "text_zh-CN": PAYMENTS["zh-CN"], "end": END, **fields}
    return post(client, "/ops/notices", **form)


def test_the_console_publishes_and_ends_a_notice_audited(app, client, caller, lead):
    log_in(client)
    page = client.get("/ops/notices")
    assert page.status_code == 200 and b'id="publish"' in page.data
    published = publish(client)
    assert published.status_code == 302
    listed = client.get("/ops/notices").data.decode()
    assert "Notice 1 published." in listed and 'id="notice-1" data-state="active"' in listed
    call = caller(STRANGER)
    call.start()
    call.keys("2", "1")
    assert PAYMENTS["en-US"] in call.heard
    ended = post(client, "/ops/notices", action="end", id="1")
    assert ended.status_code == 302
    assert "Notice 1 ended." in client.get("/ops/notices").data.decode()
    later = caller(STRANGER)
    later.start()
    later.keys("2", "1")
    assert PAYMENTS["en-US"] not in later.heard
    audit = client.get("/ops/audit").data.decode()
    assert "notice published" in audit and "notice ended" in audit
    rows = app.extensions["ivr"].store.read_all(
        "SELECT actor, action, target FROM audit_log WHERE action LIKE 'notice%' ORDER BY id")
    assert [tuple(r) for r in rows] == [("lead", "notice published", "notice 1"),
                                        ("lead", "notice ended", "notice 1")]


def test_the_console_lists_every_problem_and_keeps_the_form(app, client, lead):
    log_in(client)
    refused = publish(client, scope="queue:refunds", **{"text_zh-CN": ""}, end="not a time",
                      emergency="on")
    assert refused.status_code == 400
    page = refused.data.decode()
    problems = re.findall(r"<li>([^<]+)</li>", page.split('id="notice-problems"')[1])
    assert problems == [
        "end: &#39;not a time&#39; is not a time: give an ISO time (2026-11-28T10:00, the "
        "centre&#39;s local time; or with an offset, 2026-11-28T10:00+08:00) or a weekday and "
        "a time (&#39;sat 10:00&#39;)",
        "scope: queue &#39;refunds&#39; is not a queue of the line (its queues: "
        "account-security, complaints, fraud, general, payments)",
        "text zh-CN: missing: a notice is said in every prompt language (en-US, zh-CN)"]
    assert PAYMENTS["en-US"] in page and "checked" in page.split('id="emergency"')[1][:20]
    assert app.extensions["ivr"].store.read_all("SELECT id FROM notices") == []


def test_the_notices_page_is_for_ops_and_needs_the_csrf_token(app, client, lead):
    log_in(client, "wang")
    assert client.get("/ops/notices").status_code == 403
    client.post("/ops/logout", data={"csrf_token": token(client.get("/ops/").data)})
    log_in(client)
    bare = client.post("/ops/notices", data={"action": "publish", "scope": "line"})
    assert bare.status_code == 400
    assert app.extensions["ivr"].store.read_all("SELECT id FROM notices") == []


# -- ivr tune ------------------------------------------------------------------------------------

def tuned(runner, path, *args: str) -> dict:
    result = runner.invoke(cli, ["tune", "--calls", "2000", "--json", *args],
                           env={"IVR_DATABASE": str(path)})
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_tune_predicts_the_ivr_minutes_and_queue_load_a_notice_saves(runner, tmp_path, clock):
    path = tmp_path / "ivr.db"
    for scope, extra in (("node:payments_menu", ()), ("queue:payments", ("--emergency",))):
        words = [a for lang, text in PAYMENTS.items() for a in ("--text", lang, text)]
        added = runner.invoke(cli, ["notice", "add", "--scope", scope, *words, "--end", END,
                                    *extra, "--db", str(path)])
        assert added.exit_code == 0, added.output
    found = tuned(runner, path, "--notice", "1", "--answers", "0.3")
    without, with_notice = found["without"], found["with"]
    assert found["notice"] == {"id": 1, "scope": "node:payments_menu", "emergency": False,
                               "answers": 0.3}
    assert without["heard_notice"] == 0 and 0.3 < with_notice["heard_notice"] < 0.6
    # a third of the callers who hear it hang up once it is said
    assert with_notice["deflected"] == pytest.approx(0.3 * with_notice["heard_notice"], abs=0.03)
    saved = found["difference"]["ivr_minutes_per_day"]
    assert saved["value"] < 0 and saved["ci95"][1] < 0
    payments = found["queues"]["payments"]
    assert payments["calls_per_day"]["with"] < 0.8 * payments["calls_per_day"]["without"]
    assert payments["agent_hours_per_day"]["without"] == pytest.approx(
        payments["calls_per_day"]["without"] * 300 / 3600, abs=0.01)
    assert found["queues"]["fraud"]["calls_per_day"]["with"] == \
        found["queues"]["fraud"]["calls_per_day"]["without"]
    # answering nobody, it only costs the time it takes to say (and a few impatient callers)
    idle = tuned(runner, path, "--notice", "1", "--answers", "0")
    assert idle["difference"]["ivr_minutes_per_day"]["value"] > 0
    assert idle["with"]["deflected"] == 0
    unanswered = idle["queues"]["payments"]["calls_per_day"]
    assert 0.95 * unanswered["without"] < unanswered["with"] <= unanswered["without"]
    # a switch takes the whole queue's load: its callers take a callback instead
    switch = tuned(runner, path, "--notice", "2", "--answers", "0")
    assert switch["queues"]["payments"]["calls_per_day"]["with"] == 0
    assert switch["with"]["callback"] > 0.2
    text = runner.invoke(cli, ["tune", "--calls", "500", "--notice", "1", "--answers", "0.3"],
                         env={"IVR_DATABASE": str(path)}).output
    assert "notice 1 (node:payments_menu), said all day, answering 30 % of the callers who " \
           "hear it" in text
    assert re.search(r"  payments\s+[\d,]+\s+[\d,]+\s+-[\d,]+ \(-[\d.,]+ agent-hours at 300 s\)",
                     text), text


@pytest.mark.parametrize(("args", "message"), [
    (["--notice", "1"], "--notice ID and --answers SHARE go together"),
    (["--notice", "9", "--answers", "0.5"], "there is no notice 9 in"),
    (["--notice", "1", "--answers", "1.5"], "1.5 is not in the range 0.0<=x<=1.0"),
    (["--notice", "1", "--answers", "0.5", "--against", "{menu}"], "leave out --against"),
])
def test_tune_refuses_a_notice_it_cannot_predict(runner, tmp_path, clock, args, message):
    from ivr.menu.loader import DEFAULT_MENU

    path = tmp_path / "ivr.db"
    words = [a for lang, text in PAYMENTS.items() for a in ("--text", lang, text)]
    assert runner.invoke(cli, ["notice", "add", "--scope", "line", *words, "--end", END,
                               "--db", str(path)]).exit_code == 0
    result = runner.invoke(cli, ["tune", *[a.format(menu=DEFAULT_MENU) for a in args]],
                           env={"IVR_DATABASE": str(path)})
    assert result.exit_code == 2 and message in result.output, result.output
