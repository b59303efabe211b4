"""The console in a real headless Chromium against a real ``ivr serve``: log in through the
form (CSRF token and all), open every page, mark a callback done, switch the language,
log out; an agent sees its own queues only. Every page is checked for errors and for its
key figures, and kept as ``build/screenshots/<page>.png``.

The calls are made first through the real app (signed webhooks through the test client,
at the real time, since the Now page shows what is happening now) on a centre open all
day with short waits, so what the caller hears does not depend on the hour the test runs.
``docs/console.png`` (the README's screenshot: Now, ops, English) is written when it is
missing or ``UPDATE_README_SCREENSHOT=1``, so a test run does not change a tracked file.
"""

from __future__ import annotations

import os
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser import Browser, headless, require_chromium
from conftest import Caller
from servers import serve

from ivr import create_app

require_chromium()  # else the module is skipped, saying what to install

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "screenshots"
README_SHOT = ROOT / "docs" / "console.png"

OPS, OPS_PASSWORD = "lead", "lead's long password"
AGENT, AGENT_PASSWORD = "wang", "wang's long password"
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the centre's timezone
AGENT_QUEUES, AGENT_PHONE = ("payments", "complaints"), "+8613500000001"
VERIFY = ("10000001#", "246810")  # a demo account and its PIN

# a centre open all day every day and well staffed in the queues the calls go to
# (STEADY): whenever the test runs, those callers are queued with a short wait (no
# callback offered up front); account-security opens 08:00-22:00 and is short-handed at
# lunch (9 minutes' wait), so the Week page's heat map has closed, quiet and busy hours
STEADY = ("payments", "fraud", "complaints", "general")
TRAFFIC = """\
timezone: Asia/Shanghai
calendar: {country: CN}
service_hours: {daily: "00:00-24:00", holiday: "00:00-24:00"}
profiles:
  day: [0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.0, 1.0,
        1.5, 1.5, 1.0, 1.0, 1.0, 0.9, 0.8, 0.7, 0.6, 0.4, 0.2, 0.1]
queues:
"""
for _queue in ("payments", "account-security", "fraud", "complaints", "general"):
    TRAFFIC += (f"  {_queue}:\n    aht_s: 240\n    patience_s: 1800\n"
                "    calls_per_hour: {daily: {profile: day, scale: 20}}\n"
                '    agents: {daily: {"00:00-24:00": 8}}\n' if _queue in STEADY else
                f"  {_queue}:\n    aht_s: 420\n    patience_s: 1500\n"
                '    hours: {daily: "08:00-22:00"}\n'
                "    calls_per_hour: {daily: {profile: day, scale: 40}}\n"
                '    agents: {daily: {"08:00-12:00": 8, "12:00-14:00": 5, "14:00-22:00": 8}}\n')


@dataclass
class Known:
    """What the database holds, to be found on the pages."""

    waiting: dict[str, int]  # callers waiting now, by queue
    talking: dict[str, int]  # agents talking to a caller now, by queue (12 s wait each)
    in_ivr: dict[str, int]  # calls in the IVR now, by node
    calls: int  # calls placed
    nodes: list[str]  # the tree's node ids
    version: str  # the tree's version served
    ticket: str
    callback_done: tuple[int, str]  # (id, masked number): ops marks this one done
    callback_kept: tuple[int, str]  # in the agent's queues: stays pending
    timeline_last4: str  # a caller's number's last 4: one call, shown as its timeline
    timeline_nodes: list[str]  # that call's path
    topup_date: str  # the date that caller keyed (the agent's caller), as shown


def _hold_and_leave(call: Caller) -> None:
    """A queued caller presses 1 while holding: out of the queue, a callback booked."""
    enqueue = call.root.find("Enqueue")
    call.post(enqueue.get("waitUrl"), QueuePosition="2", QueueTime="30")
    call.post(call.action, Digits="1")
    assert call.root.find("Leave") is not None
    call.post(enqueue.get("action"), QueueResult="leave", QueueTime="45")
    assert call.said("We will call you back")


def _call(client: Any, number: str, *keys: str) -> Caller:
    call = Caller(client, number)
    call.start()
    call.keys(*keys)
    return call


def make_calls(settings: dict[str, Any]) -> Known:
    """The known calls, users and records, through the real app."""
    app = create_app(settings)
    hotline, client = app.extensions["ivr"], app.test_client()
    # transaction dates a caller may key: recent, in the centre's days (never the future)
    day = [(datetime.now(UTC) - timedelta(days=n)).astimezone(SHANGHAI).strftime("%Y%m%d")
           for n in (1, 2, 3)]
    placed = [
        # waiting: two in payments (a verified top-up, whom the agent takes, and a failed
        # payment), one in general
        topup := _call(client, "+8613600004321", "2", "1", "1", *VERIFY, "0", "1", day[0], "200#"),
        _call(client, "+8613700002222", "2", "1", "2", *VERIFY, "1", day[1], "35*50#"),
        _call(client, "+8613700001111", "2", "0"),
        # callbacks: one in general (ops marks it done), one in payments (the agent's)
        general := _call(client, "+8613900005678", "2", "0"),
        refund := _call(client, "+8613900001234", "2", "1", "4", *VERIFY, "1", day[2], "88#"),
    ]
    assert [c.queue for c in placed] == ["payments", "payments", "general", "general",
                                         "payments"]
    _hold_and_leave(general)
    _hold_and_leave(refund)
    # a complaint: recorded, a ticket read back, then queued for complaints
    complaint = _call(client, "+8613700003333", "2", "4", "1", *VERIFY, "1")
    complaint.record()
    line = next(t for t in complaint.heard if "ticket number is" in t)
    ticket = line.split("ticket number is ")[1].split(".")[0].replace(" ", "")
    complaint.press("0")
    assert complaint.queue == "complaints"
    placed.append(complaint)

    # a caller still choosing at the main menu
    placed.append(_call(client, "+8613700004444", "2"))
    assert placed[-1].at == "main"

    pending = {c["number"]: c["id"] for c in hotline.store.pending_callbacks()}
    assert set(pending) == {"+8613900005678", "+8613900001234"}
    now = datetime.now(UTC)
    hotline.users.add(OPS, OPS_PASSWORD, "ops", now)
    hotline.users.add(AGENT, AGENT_PASSWORD, "agent", now, queues=AGENT_QUEUES,
                      known_queues=hotline.centre.queues, phone=AGENT_PHONE)
    # the agent calls in and is put through to the longest-waiting of its callers: the
    # top-up caller (Twilio asks the Queue url on the caller's leg as it bridges them)
    agent = Caller(client, AGENT_PHONE)
    agent.post("/agent/voice")
    dial = agent.root.find("Dial/Queue")
    assert dial is not None and dial.text == "payments", ET.tostring(agent.root)
    topup.post(dial.get("url"), QueueSid="QU1", QueueTime="12", DequeingCallSid=agent.sid)
    assert topup.said("Connecting you to an agent now.")
    nodes = [n for n in hotline.tree.menu.nodes if ":" not in n]
    path = [e["node"] for e in hotline.store.events(topup.sid)]
    hotline.store.close()
    return Known(waiting={"payments": 1, "general": 1, "complaints": 1},
                 talking={"payments": 1}, in_ivr={"main": 1}, calls=len(placed),
                 nodes=nodes, version=hotline.tree.version, ticket=ticket,
                 callback_done=(pending["+8613900005678"], "…5678"),
                 callback_kept=(pending["+8613900001234"], "…1234"),
                 timeline_last4="4321", timeline_nodes=path,
                 topup_date=f"{day[0][:4]}-{day[0][4:6]}-{day[0][6:]}")


@contextmanager
def served(tmp: Path, traffic: str) -> Iterator[tuple[Browser, Known]]:
    """The known calls on a centre of ``traffic``, a real ``ivr serve`` on them, and a
    headless Chromium to look at it."""
    (tmp / "traffic.yaml").write_text(traffic)
    settings = {"TESTING": True, "TWILIO_AUTH_TOKEN": "test-auth-token", "DEMO": True,
                "SECRET_KEY": "test-secret", "DATABASE": str(tmp / "ivr.db"),
                "AUDIO_DIR": str(tmp / "audio"), "PIN_HASH_N": 16,
                "TRAFFIC": str(tmp / "traffic.yaml")}
    known = make_calls(settings)
    # server_env points the server at tmp/ivr.db, with the same SECRET_KEY and token
    with serve(tmp, workers=1, env={"IVR_TRAFFIC": str(tmp / "traffic.yaml"),
                                     "IVR_DEMO": "false"}) as server:
        with headless(server.url, SHOTS) as browser:
            yield browser, known


@pytest.fixture(name="site", scope="module")
def _site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Browser, Known]]:
    """The console on the known calls, in Chromium."""
    with served(tmp_path_factory.mktemp("console"), TRAFFIC) as site:
        yield site


def log_in(browser: Browser, name: str, password: str) -> None:
    browser.forget()
    # a page behind the log-in leads to it
    browser.open("/ops/", ready="#login-form", check="login")
    browser.find("#name").send_keys(name)
    browser.find("#password").send_keys(password)
    browser.submit(browser.find("#login"), ready="#now-queues")
    assert name in browser.text("#whoami")


def log_out(browser: Browser) -> None:
    browser.submit(browser.find("#logout"), ready="#login-form", check="logged-out")
    assert not browser.all("#whoami")


def figure(browser: Browser, row: str, name: str) -> str:
    return str(browser.find(f"{row} [data-figure='{name}']").text)


def check_now(browser: Browser, known: Known, queues: tuple[str, ...] | None, shot: str) -> None:
    """The Now page: no error, the queues ``queues`` (None: all) with their figures."""
    browser.check(shot)
    shown = [r.get_attribute("data-queue") for r in browser.all("#now-queues [data-queue]")]
    assert shown and set(shown) == set(queues or shown), shown
    for queue in shown:
        assert figure(browser, f"#queue-{queue}", "waiting") == str(known.waiting.get(queue, 0))
        longest = figure(browser, f"#queue-{queue}", "longest")
        assert (longest == "-") == (queue not in known.waiting), (queue, longest)
        talking = known.talking.get(queue, 0)
        assert figure(browser, f"#queue-{queue}", "talking") == str(talking)
        assert figure(browser, f"#queue-{queue}", "service-level").startswith(
            f"100.0 % ({talking} " if talking else "- (0 "), queue
        if queue in STEADY:  # open, 8 agents, a short wait, whatever the hour
            assert re.fullmatch(r"\d+ s", figure(browser, f"#queue-{queue}", "expected")), queue
            assert figure(browser, f"#queue-{queue}", "planned") == "8"
    if queues is None:
        nodes = {r.get_attribute("data-node"): r.text.split()[-1]
                 for r in browser.all("#now-ivr tr[data-node]")}
        assert nodes == {n: str(c) for n, c in known.in_ivr.items()}, nodes


def test_ops_walks_every_page_and_marks_a_callback_done(site: tuple[Browser, Known]) -> None:
    browser, known = site
    log_in(browser, OPS, OPS_PASSWORD)

    # Now: every queue, the callers waiting in each
    check_now(browser, known, None, "now")
    assert set(known.waiting) <= {r.get_attribute("data-queue")
                                  for r in browser.all("#now-queues [data-queue]")}
    if os.environ.get("UPDATE_README_SCREENSHOT") == "1" or not README_SHOT.exists():
        browser.screenshot(README_SHOT, full=False)

    # Tree: the picture, with every node of the tree, and today's calls
    browser.open("/ops/tree", ready="#tree-picture svg", check="tree")
    titles = {t.get_attribute("textContent")
              for t in browser.all("#tree-picture svg g.node > title")}
    assert set(known.nodes) <= titles, set(known.nodes) - titles
    assert browser.text("#tree-calls") == str(known.calls)
    assert browser.text("#version-a")

    # Report: the calls placed, with its tables
    browser.open("/ops/report", ready="#report-calls", check="report")
    assert browser.find("#report-calls").get_attribute("data-calls") == str(known.calls)
    assert browser.all("main table[id^='report-']")
    # for a chosen period and version: today, the version served, then tomorrow (none)
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    browser.open(f"/ops/report?since={today}&version={known.version}", ready="#report-calls",
                 check="report-today")
    assert browser.find("#report-calls").get_attribute("data-calls") == str(known.calls)
    browser.open(f"/ops/report?since={today + timedelta(days=1)}", ready="#report-calls",
                 check="report-tomorrow")
    assert browser.find("#report-calls").get_attribute("data-calls") == "0"

    # Week: a heat map per queue, 7 days of 24 hours, today and now outlined
    before = datetime.now(UTC)
    browser.open("/ops/week", ready="svg.week", check="week")
    after = datetime.now(UTC)
    maps = browser.all("svg.week")
    assert {m.get_attribute("id") for m in maps} >= {f"week-{q}" for q in known.waiting}
    for heat in maps:  # 7 days of 24 hours, each cell titled "wed 12:00 9 min 24 s"
        cells = heat.find_elements("css selector", "rect[fill^='#'] > title")
        assert len(cells) == 7 * 24, heat.get_attribute("id")
    hours = [c.get_attribute("textContent") for c in
             browser.all("#week-account-security rect[fill^='#'] > title")][2 * 24:3 * 24]
    assert all(hours[h].endswith(" -") for h in (*range(8), 22, 23)), hours  # closed
    assert all(re.search(r" 9 min \d\d s$", hours[h]) for h in (12, 13)), hours  # lunch
    assert all(re.search(r" \d+ s$", hours[h]) for h in (8, 10, 15, 21)), hours  # quiet
    now_cell = browser.find("#week-payments-now")  # the hour the page was drawn in
    drawn = (now_cell.get_attribute("data-day"), now_cell.get_attribute("data-hour"))
    assert drawn in {(m.strftime("%a").lower(), str(m.hour)) for m in
                     (t.astimezone(SHANGHAI) for t in (before, after))}, drawn

    # Tickets: the complaint, open, with its reply-by time and recording
    browser.open("/ops/tickets", ready="#tickets", check="tickets")
    row = browser.find(f"#ticket-{known.ticket}")
    assert known.ticket in row.text and row.get_attribute("data-status") != "closed"
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", figure(browser, f"#ticket-{known.ticket}",
                                                           "reply-by"))
    link = row.find_element("css selector", "a[href]").get_attribute("href")
    assert link == "https://api.twilio.com/rec/RE1"
    # moved along its workflow from the page's own form: first check, with a note
    form = f"#move-{known.ticket}"
    assert [o.get_attribute("value") for o in browser.all(f"{form} select option")] == \
        ["first_check", "closed"]
    browser.find(f"{form} input[name='note']").send_keys("details look complete")
    browser.submit(browser.find(f"{form} button"), ready="#tickets", check="ticket-moved")
    assert browser.find(f"#ticket-{known.ticket}").get_attribute("data-stage") == "first_check"
    assert figure(browser, f"#ticket-{known.ticket}", "stage") == "first check"

    # Calls: a search by the caller's last 4 digits shows the call's path
    browser.open("/ops/calls", ready="#calls-form", check="calls-empty")
    browser.find("#calls-form input[name='q']").send_keys(known.timeline_last4)
    browser.submit(browser.find("#calls-form button"), ready="#call-timeline", check="calls")
    path = [li.get_attribute("data-node") for li in browser.all("#call-timeline li")]
    assert path == known.timeline_nodes
    body = browser.body()  # masked as call events are: no number, account or PIN
    assert not {"+8613600004321", "10000001", "246810"} & set(re.findall(r"[+\d]+", body))

    # Callbacks: both pending, masked; mark one done with a note
    done_id, done_masked = known.callback_done
    browser.open("/ops/callbacks", ready="#callbacks", check="callbacks")
    for callback_id, masked in (known.callback_done, known.callback_kept):
        assert masked in browser.text(f"#callback-{callback_id}")
    assert "+8613900005678" not in browser.body()
    # the same form without its CSRF token is refused, and changes nothing
    browser.driver.execute_script(
        f"document.querySelector('#settle-{done_id} input[name=csrf_token]').remove()")
    browser.submit(browser.find(f"#settle-{done_id} button[value='done']"), ready="body")
    answers, _ = browser.take()  # the refusal asked for: not an error of the next page
    assert (400, browser.base_url + "/ops/callbacks") in answers, answers
    assert "CSRF" in browser.body()
    browser.screenshot(SHOTS / "callbacks-csrf-refused.png")
    browser.open("/ops/callbacks", ready=f"#settle-{done_id}")
    form = browser.find(f"#settle-{done_id}")
    form.find_element("css selector", "input[name='note']").send_keys("called back, solved")
    browser.submit(form.find_element("css selector", "button[value='done']"), ready="#flash",
                   check="callbacks-done")
    assert str(done_id) in browser.text("#flash")
    assert not browser.all(f"#callback-{done_id}")
    assert browser.all(f"#callback-{known.callback_kept[0]}")

    # Audit: the change, who made it and the note
    browser.open("/ops/audit", ready="#audit", check="audit")
    rows = [r.text for r in browser.all("#audit tr")]
    assert any(f"callback {done_id}" in r and OPS in r and "called back, solved" in r
               for r in rows), rows

    # the language switch: Mandarin, then back to English, on the same page
    browser.submit(browser.find("#lang-switch"), ready="#audit", check="audit-zh")
    assert browser.find("html").get_attribute("lang") == "zh-CN"
    assert "审计" in browser.text("h1")
    browser.open("/ops/", ready="#now-queues")
    assert "实时" in browser.text("h1")
    check_now(browser, known, None, "now-zh")
    browser.submit(browser.find("#lang-switch"), ready="#now-queues", check="now-en")
    assert browser.find("html").get_attribute("lang") == "en"
    assert browser.text("h1") == "Now"

    log_out(browser)
    # the session is gone
    browser.open("/ops/callbacks", ready="#login-form", check="login-again")


def test_ops_publishes_and_ends_a_notice(site: tuple[Browser, Known]) -> None:
    """The Notices page: a form with every problem listed, a notice published for the
    payments branch, then ended; both in the audit log."""
    browser, _ = site
    log_in(browser, OPS, OPS_PASSWORD)
    browser.open("/ops/notices", ready="#publish", check="notices-empty")
    form = browser.find("#publish")
    form.find_element("css selector", "#scope option[value='node:payments_menu']").click()
    form.find_element("css selector", "#text-en-US").send_keys("Top-ups are delayed.")
    tomorrow = (datetime.now(UTC).astimezone(SHANGHAI) + timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M")
    browser.driver.execute_script(f"document.querySelector('#end').value = '{tomorrow}'")
    browser.submit(browser.find("#publish-button"), ready="#notice-problems")
    answers, _ = browser.take()  # the refusal asked for: not an error of the next page
    assert (400, browser.base_url + "/ops/notices") in answers, answers
    assert "text zh-CN: missing" in browser.text("#notice-problems")
    browser.screenshot(SHOTS / "notices-refused.png")
    browser.find("#text-zh-CN").send_keys("充值延迟到账。")  # the rest of the form is kept
    browser.submit(browser.find("#publish-button"), ready="#flash", check="notices")
    row = browser.find("tr[id^='notice-'][data-state='active']")
    number = row.get_attribute("id").removeprefix("notice-")
    assert "node:payments_menu" in row.text and "充值延迟到账。" in row.text
    browser.submit(browser.find(f"#end-{number} button"), ready="#flash", check="notices-ended")
    assert browser.find(f"#notice-{number}").get_attribute("data-state") == "ended"
    browser.open("/ops/audit", ready="#audit")
    rows = [r.text for r in browser.all("#audit tr")]
    assert any(f"notice {number}" in r and "notice ended" in r and OPS in r for r in rows)
    assert any(f"notice {number}" in r and "notice published" in r for r in rows)
    log_out(browser)


def test_ops_plans_singles_day(site: tuple[Browser, Known]) -> None:
    """The Plan page: Singles' Day at three times the volume, its figures and picture on
    the page under its own Content-Security-Policy (a blocked style would be an error)."""
    browser, _ = site
    log_in(browser, OPS, OPS_PASSWORD)
    browser.open("/ops/plan", ready="#plan-form", check="plan-form")
    browser.driver.execute_script("document.querySelector('#plan-date').value = '2026-11-11';"
                                  "document.querySelector('#plan-scale').value = '3'")
    browser.submit(browser.find("#plan-run"), ready="#plan-picture svg", check="plan")
    assert "wed 2026-11-11" in browser.text("#plan-days")
    assert [r.get_attribute("data-queue") for r in browser.all("#plan-totals tr[data-queue]")] \
        == ["payments", "account-security", "fraud", "complaints", "general"]
    log_out(browser)


def test_an_agent_sees_only_its_queues(site: tuple[Browser, Known]) -> None:
    browser, known = site
    log_in(browser, AGENT, AGENT_PASSWORD)
    check_now(browser, known, AGENT_QUEUES, "agent-now")
    # the caller the agent was put through to, as the IVR collected it, masked
    caller = {k: browser.text(f"#caller-{k}") for k in
              ("lang", "issue", "verified", "account", "date", "amount", "queue", "wait")}
    assert caller == {"lang": "en-US", "issue": "Top-up that failed or has not arrived",
                      "verified": "yes",
                      "account": "…0001", "date": known.topup_date, "amount": "200.00",
                      "queue": "Top-up, payment, withdrawal or refund", "wait": "12 s"}, caller
    links = {a.get_attribute("pathname") for a in browser.all("#nav a")}
    assert links == {"/ops/", "/ops/callbacks", "/ops/tickets"}, links

    browser.open("/ops/callbacks", ready="main", check="agent-callbacks")
    kept_id, kept_masked = known.callback_kept
    assert kept_masked in browser.text(f"#callback-{kept_id}")
    assert {r.get_attribute("data-queue") for r in browser.all("tr[data-queue]")} \
        <= set(AGENT_QUEUES)
    assert known.callback_done[1] not in browser.body()

    browser.open("/ops/tickets", ready="#tickets", check="agent-tickets")
    assert browser.all(f"#ticket-{known.ticket}")  # a complaint: in the agent's queues

    # the pages for ops refuse an agent
    browser.open("/ops/report", ready="body")
    browser.screenshot(SHOTS / "agent-report-refused.png")
    answers, _ = browser.take()  # the refusal asked for: not an error of the next page
    assert (403, browser.base_url + "/ops/report") in answers, answers
    browser.open("/ops/", ready="#now-queues")
    log_out(browser)


# -- issue 24: the wallboard, Calls in words, every label in both languages ---------------
ENGLISH_DAYS = re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(day|sday|nesday|rsday|urday)?\b",
                          re.I)
QUEUES = ("payments", "account-security", "fraud", "complaints", "general")


def _closed_now() -> tuple[str, str]:
    """TRAFFIC with account-security open two hours that are not now nor the next hour
    (in Shanghai), holidays too: closed whenever the test runs; and its opening time."""
    hour = datetime.now(UTC).astimezone(SHANGHAI).hour
    start = hour + 2 if hour < 20 else 2
    span = f"{start:02d}:00-{start + 2:02d}:00"
    traffic = TRAFFIC.replace('hours: {daily: "08:00-22:00"}',
                              f'hours: {{daily: "{span}", holiday: "{span}"}}')
    traffic = traffic.replace('{"08:00-12:00": 8, "12:00-14:00": 5, "14:00-22:00": 8}',
                              f'{{"{span}": 8}}')
    assert span in traffic
    return traffic, f"{start:02d}:00"


@pytest.fixture(name="wallboard", scope="module")
def _wallboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Browser, Known, str]]:
    """The known calls on a centre whose account-security queue is closed now, served."""
    traffic, opens = _closed_now()
    with served(tmp_path_factory.mktemp("wallboard"), traffic) as (browser, known):
        yield browser, known, opens


def _no_english_labels(browser: Browser, page: str) -> None:
    """A Mandarin page names no weekday nor queue in English."""
    words = browser.text("main")
    assert not ENGLISH_DAYS.search(words), (page, ENGLISH_DAYS.search(words))
    for queue in QUEUES:
        assert not re.search(rf"\b{queue}\b", words), (page, queue)


def test_now_is_a_wallboard_with_todays_intervals_in_both_languages(
        wallboard: tuple[Browser, Known, str]) -> None:
    browser, known, opens = wallboard
    log_in(browser, OPS, OPS_PASSWORD)
    browser.open("/ops/", ready="#today-intervals", check="wallboard")
    chart = browser.find("svg#today-intervals")
    assert chart.get_attribute("role") == "img"
    assert "30" in browser.find("#today-intervals-title").get_attribute("textContent")
    assert len(browser.all("#today-intervals g.interval")) in (46, 48, 50)  # DST days too
    offered = sum(int(g.get_attribute("data-offered"))
                  for g in browser.all("#today-intervals g.interval"))
    assert offered >= sum(known.waiting.values()) + sum(known.talking.values())
    closed = browser.find("#queue-account-security")
    assert closed.get_attribute("data-open") == "no"
    state = figure(browser, "#queue-account-security", "state")
    assert state.startswith("closed · opens ") and state.endswith(opens), state
    assert figure(browser, "#queue-account-security", "expected") == "closed"
    assert "∞" not in browser.text("#now-queues")
    for queue in STEADY:
        assert browser.find(f"#queue-{queue}").get_attribute("data-open") == "yes"
    # the board is fetched again and swapped in place: the page itself is not reloaded
    browser.driver.execute_script("window.keptAcross = 1; "
                                  "document.querySelector('#now-queues').dataset.old = '1'")
    for _ in range(60):
        if browser.driver.execute_script(
                "return !document.querySelector('#now-queues').dataset.old"):
            break
        time.sleep(0.5)
    assert browser.driver.execute_script(
        "return !document.querySelector('#now-queues').dataset.old && window.keptAcross === 1")
    browser.check("wallboard-refreshed")

    browser.submit(browser.find("#lang-switch"), ready="#today-intervals", check="wallboard-zh")
    state = figure(browser, "#queue-account-security", "state")
    assert state.startswith("已关闭 · ") and state.endswith(f"{opens} 开放"), state
    assert "今日" in browser.find("#today-intervals-title").get_attribute("textContent")
    _no_english_labels(browser, "now")
    browser.open("/ops/week", ready="svg.week", check="week-zh")
    _no_english_labels(browser, "week")
    rows = [t.text for t in browser.all("#week-general > text[x='2']")]
    assert rows[:7] == ["周一", "周二", "周三", "周四", "周五", "周六", "周日"], rows
    for page, ready in (("/ops/callbacks", "main"), ("/ops/tickets", "#tickets")):
        browser.open(page, ready=ready, check=page.rsplit("/", 1)[1] + "-zh")
        _no_english_labels(browser, page)
    browser.submit(browser.find("#lang-switch"), ready="main")
    log_out(browser)


def test_calls_timeline_in_words_in_both_languages(
        wallboard: tuple[Browser, Known, str]) -> None:
    """What the caller heard and pressed, in the console's language; no prompt key."""
    from ivr.flow.prompts import load

    browser, known, _ = wallboard
    catalog = load()
    log_in(browser, OPS, OPS_PASSWORD)
    for lang, shot in (("en-US", "calls-words"), ("zh-CN", "calls-words-zh")):
        if lang == "zh-CN":
            browser.submit(browser.find("#lang-switch"), ready="#calls-form")
        browser.open(f"/ops/calls?q={known.timeline_last4}", ready="#call-timeline", check=shot)
        timeline = browser.text("#call-timeline")
        assert catalog.text(lang, "welcome") in timeline, timeline
        assert catalog.text(lang, "opt_payments").rstrip("，,。. ") in timeline, timeline
        assert not re.search(r"\b(opt|press|menu|verify|queue)_[a-z_]+", timeline), timeline
        path = [li.get_attribute("data-node") for li in browser.all("#call-timeline li")]
        assert path == known.timeline_nodes
        body = browser.body()  # masked as before: no number, account or PIN
        assert not {"+8613600004321", "10000001", "246810"} & set(re.findall(r"[+\d]+", body))
    _no_english_labels(browser, "calls")
    browser.submit(browser.find("#lang-switch"), ready="main")
    log_out(browser)


# -- issue 24: the tree you can read, the report you can scan ------------------------------
#: the window of the tree's first-view check: a common laptop screen
FIRST_VIEW = (1366, 768)


def root_box(browser: Browser, root: str) -> dict[str, float]:
    """The root node's box on screen, and the window's size."""
    return dict(browser.driver.execute_script("""
        const root = [...document.querySelectorAll('#tree-picture svg g.node')]
            .find(g => g.querySelector('title').textContent === arguments[0]);
        const r = root.getBoundingClientRect();
        return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width,
                inner_w: window.innerWidth, inner_h: window.innerHeight};""", root))


def view_box(browser: Browser) -> list[float]:
    found = browser.driver.execute_script(
        "return document.querySelector('#tree-zoom svg').getAttribute('viewBox')")
    return [float(n) for n in str(found).split()]


def check_tree(browser: Browser, root: str, shot: str) -> None:
    """The whole tree fits the page on arrival, its root inside the first view; zoom in,
    pan and fit move the picture's viewBox."""
    browser.open("/ops/tree", ready="#tree-zoom svg", check=shot)
    box = root_box(browser, root)
    assert box["width"] > 0 and box["left"] >= 0 and box["top"] >= 0, box
    assert box["right"] <= box["inner_w"] and box["bottom"] <= box["inner_h"], box
    picture = browser.find("#tree-zoom svg").rect
    assert picture["x"] + picture["width"] <= box["inner_w"], picture  # no sideways scroll
    fit = view_box(browser)
    browser.find("#tree-zoom-in").click()
    zoomed = view_box(browser)
    assert zoomed[2] < fit[2] and zoomed[3] < fit[3], (fit, zoomed)
    browser.screenshot(SHOTS / f"{shot}-zoomed.png", full=False)
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser.driver).move_to_element(browser.find("#tree-zoom svg")) \
        .click_and_hold().move_by_offset(-120, -40).release().perform()
    panned = view_box(browser)
    assert panned[0] > zoomed[0] and panned[2:] == zoomed[2:], (zoomed, panned)
    browser.find("#tree-zoom-out").click()
    assert view_box(browser)[2] > zoomed[2]
    browser.find("#tree-zoom-fit").click()
    assert view_box(browser) == fit
    for button in ("in", "out", "fit"):  # named for a screen reader
        assert browser.find(f"#tree-zoom-{button}").get_attribute("aria-label")


def check_report(browser: Browser, known: Known, shot: str) -> None:
    """The report for scanning: the drop-off chart, sections that fold, shares one way."""
    browser.open("/ops/report", ready="#report-funnel", check=shot)
    stages = browser.all("#report-funnel g.stage")
    assert stages and max(int(s.get_attribute("data-calls")) for s in stages) == known.calls
    assert browser.find("#report-funnel desc").get_attribute("textContent")
    assert browser.all("details#section-nodes[open] table.choices")
    assert browser.all("details#section-paths:not([open])")
    shares = re.findall(r"[\d.]+\s*%", browser.body())
    assert shares and all(re.fullmatch(r"\d+\.\d %", s) for s in shares), set(shares)


def test_ops_reads_the_tree_and_scans_the_report_in_both_languages(
        site: tuple[Browser, Known]) -> None:
    from ivr.menu import load

    browser, known = site
    root = load(None)[0].start
    browser.driver.set_window_size(*FIRST_VIEW)
    try:
        log_in(browser, OPS, OPS_PASSWORD)
        check_tree(browser, root, "tree-fit")
        check_report(browser, known, "report-scan")
        browser.submit(browser.find("#lang-switch"), ready="#report-funnel")
        assert browser.find("html").get_attribute("lang") == "zh-CN"
        check_tree(browser, root, "tree-fit-zh")
        assert browser.find("#tree-zoom-in").get_attribute("aria-label") == "放大"
        check_report(browser, known, "report-scan-zh")
        headings = [h.text for h in browser.all("details > summary h2")]
        assert headings[:2] == ["概要", "来电者在哪里挂机"], headings
        browser.submit(browser.find("#lang-switch"), ready="#report-funnel")
        log_out(browser)
    finally:
        browser.driver.set_window_size(1366, 900)
# -- end of issue 24's browser test --------------------------------------------------------
