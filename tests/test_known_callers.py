"""A known caller's shortcut (issue 22, point 3): a number that called lately about a need
that went to a queue or a ticket is asked after the language whether it calls about it
again, and 1 goes straight to that need's team; anything else, the main menu. The number is
kept only as a keyed hash; withheld numbers never hear it; ``ivr report`` counts the offers
and ``ivr tune --repeat-callers`` simulates what it saves. Whole calls through signed
webhooks, on SQLite and on PostgreSQL; the clock frozen (``QUIET``: Wednesday 25 November
2026, 09:30 in Shanghai)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import Caller

from ivr.app import create_app
from ivr.cli import cli

STRANGER = "+8613700000000"  # no account: types the account number and the PIN
VERIFY = ("10000001#", "246810")
ASK = {"en-US": "Are you calling again about", "zh-CN": "您是否还是咨询"}
REFUND = {"en-US": "a refund.", "zh-CN": "退款问题"}
MAIN = {"en-US": "For top-up, payment, withdrawal or refund,", "zh-CN": "充值、支付、提现、退款，"}
LANG_KEYS = [("1", "zh-CN"), ("2", "en-US")]


def refund(call: Caller, key: str = "2") -> None:
    """A whole refund call: verified, the date and amount keyed, queued in payments, over."""
    call.start()
    call.keys(key, "1", "4", *VERIFY, "1", "20261119", "35*50#")
    assert call.queue == "payments"
    call.send("/voice/status", CallStatus="completed", CallDuration="95")


def offered(call: Caller, lang: str) -> bool:
    return ASK[lang] in call.heard


def records(app) -> list[dict]:
    store = app.extensions["ivr"].store
    return [dict(r) for r in store.read_all(
        "SELECT call_sid, from_number, caller_key, issue FROM calls ORDER BY started_at")]


# -- the acceptance: a refund yesterday --------------------------------------------------------

@pytest.mark.both_backends
@pytest.mark.parametrize(("key", "lang"), LANG_KEYS, ids=[lang for _, lang in LANG_KEYS])
def test_a_caller_who_asked_about_a_refund_yesterday_goes_straight_to_payments(
        app, caller, clock, key, lang):
    refund(caller(STRANGER), key)
    clock.tick(24 * 3600)
    again = caller(STRANGER)
    again.start()
    again.press(key)
    # right after the language: the topic of the last need, in the caller's language
    assert again.heard[-3:] == [ASK[lang], REFUND[lang], again.heard[-1]]
    assert again.root.find("Gather").get("numDigits") == "1"
    again.press("1")
    assert again.queue == "payments"
    record = app.extensions["ivr"].store.call(again.sid)
    # being known by number verifies nothing: the agent verifies
    assert record["issue"] == "refund" and not record["verified"]
    assert record["details"] == {"unverified": True}
    events = app.extensions["ivr"].store.events(again.sid)
    assert [e["choice"] for e in events][-1] == "returning"


@pytest.mark.both_backends
@pytest.mark.parametrize("answer", ["2", "5", ""], ids=["two", "another key", "silence"])
def test_anything_but_1_goes_on_to_the_main_menu(app, caller, clock, answer):
    refund(caller(STRANGER))
    again = caller(STRANGER)
    again.start()
    again.press("2")
    assert offered(again, "en-US")
    again.press(answer)
    assert again.heard[-1] != REFUND["en-US"] and MAIN["en-US"] in again.heard
    assert again.at == "main"
    again.press("0")  # the main menu's keys work as ever
    assert again.queue == "general"
    # offered once a call: back at the main menu, the menu itself
    third = caller(STRANGER)
    third.start()
    third.keys("2", "2", "1", "9")
    assert third.heard.count(ASK["en-US"]) == 1


@pytest.mark.both_backends
def test_a_complaint_ticket_is_offered_back_to_the_complaints_team(app, caller, clock):
    first = caller(STRANGER)
    first.start()
    first.keys("2", "4", "1", *VERIFY, "1")
    first.record()
    assert first.said("ticket number is")
    first.send("/voice/status", CallStatus="completed", CallDuration="80")  # before any queue
    assert app.extensions["ivr"].store.call(first.sid)["queue"] is None
    again = caller(STRANGER)
    again.start()
    again.keys("2")
    assert again.heard[-2] == "filing a complaint."
    again.press("1")
    assert again.queue == "complaints"


@pytest.mark.both_backends
def test_at_night_the_shortcut_hears_the_hours_before_anything(app, caller, clock):
    refund(caller(STRANGER))
    clock.move_to("2026-11-25 15:00:00")  # 23:00 in Shanghai: payments closed
    night = caller(STRANGER)
    night.start()
    night.keys("2", "1")
    assert night.said("This line is closed now") and night.queue is None
    assert not night.said("PIN")


# -- who is never offered it -------------------------------------------------------------------

@pytest.mark.both_backends
def test_a_withheld_number_is_neither_kept_nor_offered(app, caller, clock):
    refund(caller("anonymous"))
    again = caller("anonymous")
    again.start()
    again.press("2")
    assert not offered(again, "en-US") and MAIN["en-US"] in again.heard
    assert {r["caller_key"] for r in records(app)} == {None}


@pytest.mark.both_backends
@pytest.mark.parametrize("why", ["no queue", "in progress", "too long ago", "another number"])
def test_no_offer_without_a_recent_finished_need_of_this_number(app, caller, clock, why):
    first = caller(STRANGER)
    if why == "no queue":  # hung up at the payments menu: no need went anywhere
        first.start()
        first.keys("2", "1")
        first.send("/voice/status", CallStatus="completed", CallDuration="20")
    elif why == "in progress":  # the first call still holds in the queue
        first.start()
        first.keys("2", "1", "4", *VERIFY, "1", "20261119", "35*50#")
    else:
        refund(first)
    if why == "too long ago":
        clock.tick(73 * 3600)  # RETURNING_HOURS is 72
    again = caller("+8613755550000" if why == "another number" else STRANGER)
    again.start()
    again.press("2")
    assert not offered(again, "en-US") and MAIN["en-US"] in again.heard


@pytest.mark.both_backends
def test_returning_hours_0_offers_nobody(settings, clock):
    app = create_app({**settings, "RETURNING_HOURS": 0})
    client = app.test_client()
    refund(Caller(client, STRANGER))
    again = Caller(client, STRANGER)
    again.start()
    again.press("2")
    assert not offered(again, "en-US")


@pytest.mark.both_backends
def test_the_number_is_kept_as_a_keyed_hash(app, caller, clock, settings):
    refund(caller(STRANGER))
    (row,) = records(app)
    key = row["caller_key"]
    assert re.fullmatch(r"n:[0-9a-f]{32}", key) and "13700000000" not in key
    other = create_app({**settings, "SECRET_KEY": "another-secret"})
    assert other.extensions["ivr"].known.key(STRANGER) not in (None, key)
    assert app.extensions["ivr"].known.key("anonymous") is None


# -- counted and simulated ---------------------------------------------------------------------

@pytest.mark.both_backends
def test_the_report_counts_the_offers_and_who_took_them(app, caller, clock, runner, database):
    refund(caller(STRANGER))
    took = caller(STRANGER)
    took.start()
    took.keys("2", "1")
    took.send("/voice/status", CallStatus="completed", CallDuration="30")
    declined = caller(STRANGER)
    declined.start()
    declined.keys("2", "2", "0")
    report = runner.invoke(cli, ["report", "--db", database, "--json"])
    assert report.exit_code == 0, report.output
    found = json.loads(report.output)["returning"]
    assert found["offered"] == 2 and found["taken"] == 1
    assert found["to_queue_p50_s"] is not None
    text = runner.invoke(cli, ["report", "--db", database]).output
    assert re.search(r"known callers offered the way back\s+2\n\s+took it \(pressed 1\)\s+1",
                     text), text


def test_tune_predicts_the_time_the_shortcut_saves_returning_callers(runner):
    result = runner.invoke(cli, ["tune", "--calls", "3000", "--repeat-callers", "0.3",
                                 "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    known = found["known_ivr_s"]
    assert 0.1 * 3000 < found["known_callers"] < 0.3 * 3000
    # the menus and what to have ready skipped: a known caller is in the queue in under 15 s
    assert known["with"] < 15 < known["without"]
    assert known["difference"]["ci95"][1] < 0
    saved = found["difference"]["ivr_minutes_per_day"]
    assert saved["value"] < 0 and saved["ci95"][1] < 0
    nobody = json.loads(runner.invoke(cli, ["tune", "--calls", "500", "--repeat-callers", "0",
                                            "--json"]).output)
    assert nobody["known_callers"] == 0
    assert nobody["without"] == nobody["with"]
    text = runner.invoke(cli, ["tune", "--calls", "500", "--repeat-callers", "0.3"]).output
    assert "30 % of the callers whose need names an issue called about it lately" in text
    assert re.search(r"their time in the IVR, mean\s+[\d.]+ s\s+[\d.]+ s\s+-", text), text


@pytest.mark.parametrize(("args", "message"), [
    (["--repeat-callers", "1.5"], "1.5"),
    (["--repeat-callers", "0.2", "--against", "ivr/menus/wallet.yaml"],
     "--repeat-callers predicts the shortcut on the live tree"),
])
def test_tune_refuses_a_share_it_cannot_simulate(runner, args, message):
    result = runner.invoke(cli, ["tune", "--calls", "100", *args])
    assert result.exit_code == 2 and message in result.output, result.output


# -- the simulator --------------------------------------------------------------------------------

def test_ivr_call_reaches_payments_in_under_15_s_after_the_language(runner, tmp_path):
    """The whole path as ``ivr call`` times it: the offer after the language, then the
    queue's words and wait, in under 15 s; the usual way there takes five times that."""
    db = str(tmp_path / "calls.db")
    base = ["call", "--from", STRANGER, "--lang", "en-US", "--db", db, "--hold-loops", "1"]
    first = runner.invoke(cli, [*base, "--at", "2026-12-06 10:00", "--press",
                                "1 4 10000001# 246810 1 20261201 120#"])
    assert first.exit_code == 0 and "queued in 'payments'" in first.output, first.output
    again = runner.invoke(cli, [*base, "--at", "2026-12-07 10:00", "--press", "1"])
    assert again.exit_code == 0, again.output

    def at(output: str, pattern: str) -> float:
        found = re.search(rf"^\s+([\d.]+)s\s+{pattern}", output, re.M)
        assert found, output
        return float(found.group(1))

    assert "Are you calling again about" in again.output
    taken = at(again.output, "enqueue") - at(again.output, "input +pressed 2")
    usual = at(first.output, "enqueue") - at(first.output, "input +pressed 2")
    assert taken < 15 and usual > 5 * taken, (taken, usual)
    assert "issue=refund queue=payments" in again.output


def test_a_replayed_call_that_was_offered_its_last_need_is_offered_it_again(tmp_path):
    from ivr.sim.calllog import compare, read
    from ivr.sim.scenario import CallSpec
    from ivr.sim.target import sandbox

    database = tmp_path / "ivr.db"  # the calls as an app logged them
    with sandbox(settings={"DATABASE": str(database)}) as target:
        target.set_clock(target.quiet_at)
        today = target.quiet_at.astimezone(target.zone).date()
        for press in ("2 1 4 10000001# 246810 1 {yesterday} 5#", "2 1"):
            script = CallSpec(press=tuple(press.split())).script({}, today)
            target.call(script.caller(), from_=STRANGER)
    calls = read(database)
    assert calls[-1].said("returning_ask") and not calls[0].said("returning_ask")
    with sandbox() as fresh:  # no call of that number: set up as the original had it
        (replayed,) = compare(calls[-1:], fresh)
    assert replayed.before.queue == "payments" == replayed.after.queue
    assert not replayed.diverged


def test_the_last_need_is_found_without_walking_a_numbers_other_calls(app, caller, clock):
    """A number that rang thousands of times without a need (a load test, a switchboard,
    someone ringing and hanging up) once made every step of its next call walk them all:
    the lookup now reads the index of the number's calls with an issue."""
    from ivr.records.known import LAST_NEED

    store = app.extensions["ivr"].store
    if store.database.kind != "sqlite":
        pytest.skip("the query plan read is SQLite's")
    plan = " ".join(str(row[-1]) for row in store.read_all("EXPLAIN QUERY PLAN " + LAST_NEED,
                                                           ("n:0", "", "", "")))
    assert "calls_caller_need" in plan, plan
