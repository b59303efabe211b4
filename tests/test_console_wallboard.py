"""Issue 24 without a browser: the Now page's wallboard (each queue's day, today's
30-minute intervals against the forecast, a closed queue said as closed with its opening
time), Calls in words, and the labels of a Mandarin page, on calls made through the app
at known moments (the ``clock`` fixture: Wednesday 25 November 2026, 09:30 in Shanghai)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from conftest import Caller
from test_console import PASSWORD, log_in, token

pytestmark = pytest.mark.both_backends

AGENT_PHONE = "+8613900000001"
QUEUES = ("payments", "account-security", "fraud", "complaints", "general")
ENGLISH_DAYS = re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(day|sday|nesday|rsday|urday)?\b",
                          re.I)


@pytest.fixture(name="lead")
def _lead(app):
    users, now = app.extensions["ivr"].users, datetime.now(UTC)
    users.add("lead", PASSWORD, "ops", now)
    users.add("wang", PASSWORD, "agent", now, queues=("general",), phone=AGENT_PHONE)
    return users


def queued(caller, number: str) -> Caller:
    """A caller through the app: English, an agent, so waiting in the queue general."""
    call = caller(number)
    call.start()
    call.keys("2", "0")
    assert call.queue == "general"
    return call


def taken(client, call: Caller, wait_s: int) -> None:
    """The agent calls in and is put through to ``call`` after ``wait_s`` in the queue."""
    agent = Caller(client, AGENT_PHONE)
    agent.post("/agent/voice")
    dial = agent.root.find("Dial/Queue")
    assert dial is not None and dial.text == "general"
    call.post(dial.get("url"), QueueSid="QU1", QueueTime=str(wait_s),
              DequeingCallSid=agent.sid)
    assert call.said("Connecting you to an agent now.")


def hung_up(call: Caller, wait_s: int) -> None:
    """The caller hangs up while waiting: Twilio's Enqueue action says ``hangup``, then the
    call's status callback that it is over."""
    call.send(call.root.find("Enqueue").get("action"), QueueResult="hangup",
              QueueTime=str(wait_s), CallStatus="completed")
    call.send("/voice/status", CallStatus="completed", CallDuration=str(wait_s + 20))


def in_chinese(client) -> None:
    page = client.get("/ops/").data
    client.post("/ops/language", data={"lang": "zh", "back": "/ops/", "csrf_token": token(page)})


def figures(page: str, selector: str) -> dict[str, str]:
    """The ``data-figure`` cells of the element whose opening tag matches ``selector``."""
    found = re.search(rf"<(section|tr) {selector}.*?</(section|tr)>", page, re.S)
    assert found, selector
    return {k: v.strip() for k, v in re.findall(r'data-figure="([^"]+)">([^<]*)<',
                                                found.group(0))}


def visible(page: str) -> str:
    """The words a person reads: the page without its tags (titles of pictures kept)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page.split("<body>", 1)[-1]))


def test_intervals_count_offered_answered_abandoned_and_service_level(
        app, client, caller, clock, lead):
    """09:30-10:00: two callers queue, one is answered in 10 s, one hangs up after 40 s;
    10:00-10:30: one more, answered after 30 s. Each interval, the queue's tile and the
    picture say so, against the model's forecast for the hour."""
    first, second = queued(caller, "+8613700000001"), queued(caller, "+8613700000002")
    clock.tick(10)
    taken(client, first, 10)
    clock.tick(40)
    hung_up(second, 40)
    clock.move_to("2026-11-25 02:05:00")  # 10:05 in Shanghai
    third = queued(caller, "+8613700000003")
    clock.tick(30)
    taken(client, third, 30)
    log_in(client)
    page = client.get("/ops/").data.decode()

    assert figures(page, 'data-start="09:30"') == {
        "offered": "2", "answered": "1", "abandoned": "1", "service-level": "50.0 %",
        "forecast": figures(page, 'data-start="09:30"')["forecast"],
        "forecast-service-level": figures(page, 'data-start="09:30"')["forecast-service-level"]}
    later = figures(page, 'data-start="10:00"')
    assert (later["offered"], later["answered"], later["abandoned"], later["service-level"]) \
        == ("1", "1", "0", "0.0 %")
    assert figures(page, 'data-start="09:00"')["offered"] == "0"
    # the forecast: the open queues' calls of the hour, halved, from the traffic model
    centre, at = app.extensions["ivr"].centre, datetime(2026, 11, 25, 1, 30, tzinfo=UTC)
    forecast = sum(centre.slot(q, at).calls_per_hour / 2 for q in QUEUES
                   if centre.slot(q, at).open)
    assert figures(page, 'data-start="09:30"')["forecast"] == f"{forecast:.1f}"
    assert re.fullmatch(r"\d+\.\d %", figures(page, 'data-start="09:30"')["forecast-service-level"])

    # the queue's tile: the day so far
    general = figures(page, 'id="queue-general"')
    assert general["service-level"] == "33.3 % (2 answered today)"
    assert general["abandoned"] == "33.3 % (1 / 3)" and general["waiting"] == "0"
    assert figures(page, 'id="queue-payments"')["abandoned"] == "- (0 / 0)"

    # the picture: an SVG with its title, each interval a group with the same figures
    svg = re.search(r'<svg [^>]*id="today-intervals".*?</svg>', page, re.S).group(0)
    assert 'role="img"' in svg and '<title id="today-intervals-title">' in svg
    bar = re.search(r'<g class="interval" data-start="09:30"[^>]*>', svg).group(0)
    assert 'data-offered="2"' in bar and 'data-answered="1"' in bar
    assert 'data-abandoned="1"' in bar and 'data-service-level="50.0 %"' in bar
    assert len(re.findall(r'<g class="interval"', svg)) == 48
    assert 'id="today-intervals-now"' in svg
    assert "no plan from ivr plan is kept" in page


def test_the_board_alone_and_the_page_without_script(client, lead):
    """The page's script swaps in ``?part=board``; without it, ``<noscript>`` refreshes."""
    log_in(client)
    page = client.get("/ops/").data.decode()
    assert '<noscript><meta http-equiv="refresh" content="15"></noscript>' in page
    assert 'data-board-url="/ops/?part=board"' in page and "now.js" in page
    board = client.get("/ops/?part=board").data.decode()
    assert 'id="now-queues"' in board and 'id="today-intervals"' in board
    assert "<html" not in board and "<header" not in board
    assert client.get("/ops/static/now.js").status_code == 200


def test_a_closed_queue_says_closed_and_when_it_opens(client, clock, lead):
    """08:30 in Shanghai: the complaints team opens at 09:00; its tile says so in either
    language, with no endless wait and no agents planned."""
    clock.move_to("2026-11-25 00:30:00")
    log_in(client)
    page = client.get("/ops/").data.decode()
    tile = figures(page, 'id="queue-complaints"')
    assert tile["state"] == "closed · opens 09:00"
    assert tile["expected"] == "closed" and tile["planned"] == "-"
    assert "∞" not in page
    assert 'data-open="yes"' in re.search(r'<section id="queue-general"[^>]*>', page).group(0)
    in_chinese(client)
    page = client.get("/ops/").data.decode()
    assert figures(page, 'id="queue-complaints"')["state"] == "已关闭 · 09:00 开放"
    # after hours: the next day's opening, said with its weekday
    clock.move_to("2026-11-25 15:00:00")  # 23:00 Wednesday
    log_in(client)
    in_chinese(client)
    page = client.get("/ops/").data.decode()
    assert figures(page, 'id="queue-complaints"')["state"] == "已关闭 · 周四 09:00 开放"


def test_mandarin_pages_name_queues_weekdays_and_the_holiday_in_chinese(
        app, client, caller, clock, lead):
    queued(caller, "+8613700000001")
    log_in(client)
    in_chinese(client)
    for path in ("/ops/", "/ops/week", "/ops/callbacks", "/ops/tickets"):
        words = visible(client.get(path).data.decode())
        assert not ENGLISH_DAYS.search(words), (path, ENGLISH_DAYS.search(words))
        for queue in QUEUES:
            assert not re.search(rf"\b{queue}\b", words), (path, queue)
    now = visible(client.get("/ops/").data.decode())
    assert "充值、支付、提现或退款" in now and "账户和安全" in now and "投诉" in now
    week = client.get("/ops/week").data.decode()
    assert re.findall(r'<text x="2" y="\d+"[^>]*>([^<]+)</text>',
                      week.split('<svg id="week-general"', 1)[1].split("</svg>")[0]) == \
        ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
    clock.move_to("2026-10-01 02:30:00")  # National Day
    log_in(client)
    in_chinese(client)
    week = visible(client.get("/ops/week").data.decode())
    assert "今天是国庆节" in week and "周日的话务量" in week
    assert not ENGLISH_DAYS.search(week) and "National Day" not in week


def test_calls_show_what_the_caller_heard_and_pressed_in_words(app, client, caller, lead):
    """The timeline says the prompts in words in the console's language, the option
    chosen by its phrase; the PIN and the account stay masked."""
    call = caller("+8613600004321")
    call.start()
    call.keys("2", "1", "1", "10000001#", "246810")  # English, payments, a top-up, verified
    log_in(client)
    page = html.unescape(client.get(f"/ops/calls?q={call.sid}").data.decode())
    timeline = page.split('id="call-timeline"', 1)[1].split("</ol>", 1)[0]
    catalog = app.extensions["ivr"].catalog
    assert catalog.text("en-US", "welcome") in timeline
    assert catalog.text("en-US", "opt_payments").rstrip(",. ") in timeline
    words = visible(timeline)
    assert not re.search(r"\b(opt|press|menu|verify)_[a-z_]+", words), words
    assert "10000001" not in page and "246810" not in page and "****0001" in page
    assert "******" in page
    in_chinese(client)
    page = html.unescape(client.get(f"/ops/calls?q={call.sid}").data.decode())
    assert catalog.text("zh-CN", "welcome") in page
    assert catalog.text("zh-CN", "opt_payments").rstrip("，,。 ") in page
    assert "听到" in page and "按键" in page
    assert 'data-issue="topup">充值失败或未到账<' in page  # the need, named by its topic
