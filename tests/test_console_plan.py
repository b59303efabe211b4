"""The console's Plan page (/ops/plan): ``ivr plan`` for ops, on the app's own tree, prompts
and traffic file. The figures it shows are the command's for the same date, scale and
seed; bad input is a 400 saying which field; agents are refused."""

from __future__ import annotations

import html
import json
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from test_console import PASSWORD, log_in, post

from ivr.cli import cli
from ivr.console import planning
from ivr.flow.notices import Notice, read_scope
from ivr.plan import inputs
from ivr.plan.figures import figures
from ivr.records import notices

SINGLES_DAY = {"date": "2026-11-11", "scale": "3"}


class Tables(HTMLParser):
    """Each table's rows (cells' text) by the table's id, and the text of each element with
    an id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.table: str | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self.table = found.get("id") or ""
            self.tables[self.table] = []
        elif tag == "tr" and self.table is not None:
            self.tables[self.table].append([])
        elif tag in ("td", "th") and self.table is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.table is not None:
            self.tables[self.table][-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.table = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def tables(page: bytes) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(page.decode())
    return parser.tables


@pytest.fixture(name="people")
def _people(app):
    users, now = app.extensions["ivr"].users, datetime.now(UTC)
    users.add("lead", PASSWORD, "ops", now)
    users.add("wang", PASSWORD, "agent", now, queues=("general",), phone="+8613900000001")
    return users


@pytest.fixture(name="lead")
def _lead(client, people):
    assert log_in(client).status_code == 302
    return client


def shown(row: dict) -> list[str]:
    """A row of the command's JSON as the page writes it (counts whole for one run)."""
    def pct(x):
        return "-" if x is None else f"{x:.0%}"

    return [f"{row['offered']:,.0f}", f"{row['answered']:,.0f}", f"{row['abandoned']:,.0f}",
            pct(row["service_level"]), "-" if row["asa_s"] is None else f"{row['asa_s']:.0f}",
            pct(row["occupancy"]), f"{row['callbacks_booked']:,.0f}",
            f"{row['callbacks_made']:,.0f}", f"{row['retrials']:,.0f}", f"{row['closed']:,.0f}"]


def test_the_page_is_in_the_navigation_with_its_form(lead):
    page = lead.get("/ops/plan")
    assert page.status_code == 200
    text = page.data.decode()
    assert 'href="/ops/plan"' in lead.get("/ops/").data.decode()
    for field in ("date", "scale", "tree", "interval", "runs", "seed", "csrf_token"):
        assert f'name="{field}"' in text, field
    # no notice published: no notice control, which would do nothing
    assert 'name="notice"' not in text and 'name="answers"' not in text
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'none'" in policy and "frame-ancestors 'none'" in policy


def test_singles_day_shows_the_commands_figures_and_picture(app, lead):
    page = post(lead, "/ops/plan", **SINGLES_DAY)
    assert page.status_code == 200, page.data[-2000:]
    # the command on the same settings (the app's audio folder: the prompts' timings)
    result = CliRunner().invoke(cli, ["plan", "--date", "2026-11-11", "--scale", "3", "--json"],
                                env={"IVR_AUDIO_DIR": app.config["AUDIO_DIR"]},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    found = tables(page.data)
    totals = {row[0]: row[1:] for row in found["plan-totals"][1:]}
    assert list(totals) == [*out["queues"], "all"]
    for name, queue in out["queues"].items():
        total = queue["total"]
        assert totals[name] == [f"{total['agent_hours']:.0f}h", *shown(total)], name
        rows = {row[0]: row[2:] for row in found[f"plan-intervals-{name}"][1:]}
        busy = [i for i in queue["intervals"] if i["agents"] or i["offered"]
                or i["callbacks_made"]]
        assert list(rows) == [i["start"] for i in busy]
        for interval in busy:
            assert rows[interval["start"]] == shown(interval), (name, interval["start"])
    assert totals["all"][1:] == shown(out["total"])
    text = html.unescape(page.data.decode())
    calls = sum(out["hotline"]["calls"])
    assert f'data-calls="{calls}"' in text
    assert "wed 2026-11-11" in text and out["definition"] in text
    picture = text[text.index('id="plan-picture"'):]
    assert picture.index("<svg") < picture.index("</svg>") and "<script" not in text


def test_an_incident_notice_is_said_all_day(app, lead):
    """A notice on the payments branch answering 30 % of its hearers: the page names it and
    shows the day the library gives with it, which sends payments fewer calls."""
    h = app.extensions["ivr"]
    now = h.now()
    notice = notices.publish(
        h.store, Notice(0, {"zh-CN": "部分充值延迟。", "en-US": "Some top-ups are late."},
                        read_scope("node:payments_menu"), now, now + timedelta(hours=2)),
        menus=[h.tree.menu], languages=h.catalog.languages, now=now, actor="lead")
    form = lead.get("/ops/plan").data.decode()
    assert f'name="notice" value="{notice.id}"' in form and 'name="answers"' in form
    page = post(lead, "/ops/plan", **SINGLES_DAY, notice=str(notice.id), answers="0.3")
    assert page.status_code == 200, page.data[-2000:]
    assert f"notice {notice.id} (node:payments_menu) said all day; it answers 30% of" in \
        page.data.decode()
    sources = inputs.Sources.of(h.catalog, h.tree.menu, h.centre.traffic)
    told, plain = (figures([inputs.prepare(sources, h.settings, date(2026, 11, 11),
                                           inputs.Options(scale=3, notices=n, answers=a)
                                           ).scenario.run(0)])
                   for n, a in (((notice,), 0.3), ((), 0.0)))
    shown_payments = tables(page.data)["plan-totals"][1:]
    payments = next(row for row in shown_payments if row[0] == "payments")
    assert payments[2] == f"{told.totals['payments'].offered:,.0f}"
    assert told.totals["payments"].offered < plain.totals["payments"].offered


@pytest.mark.parametrize(("field", "value", "message"), [
    ("date", "2026-13-01", "is not a date"),
    ("date", "11/11/2026", "is not a date"),
    ("date", "", "is not a date"),
    ("scale", "0", "Scale: 0 is not over 0"),
    ("scale", "-1", "Scale: -1 is not over 0"),
    ("scale", "11", "at most 10"),
    ("scale", "nan", "Scale: nan is not over 0"),
    ("scale", "lots", "Scale: &#39;lots&#39; is not a number"),
    ("runs", "0", "Runs: 0 is not from 1 to 5"),
    ("runs", "6", "Runs: 6 is not from 1 to 5"),
    ("runs", "1.5", "is not a number"),
    ("seed", "-1", "Seed: -1 is not from 0 to 2147483647"),
    ("interval", "45", "Interval: one of 15, 30, 60 minutes"),
    ("tree", "nope", "is not a tree the line serves"),
    ("notice", "7", "is not one of the notices offered"),
])
def test_bad_input_is_a_400_saying_which_field(lead, field, value, message):
    page = post(lead, "/ops/plan", **{**SINGLES_DAY, field: value})
    assert page.status_code == 400
    assert message in page.data.decode()
    assert 'id="plan-error"' in page.data.decode() and "<svg" not in page.data.decode()


def test_a_day_too_big_for_a_request_is_refused(lead):
    page = post(lead, "/ops/plan", date="2026-11-11", scale="10", runs="5")
    assert page.status_code == 400
    assert "the page runs at most 100,000" in page.data.decode()


def test_one_plan_at_a_time(lead):
    assert planning._RUNNING.acquire(blocking=False)
    try:
        page = post(lead, "/ops/plan", **SINGLES_DAY)
    finally:
        planning._RUNNING.release()
    assert page.status_code == 429 and page.headers["Retry-After"] == "5"
    assert "Another plan is running" in page.data.decode()


def test_agents_and_strangers_are_refused(client, people):
    assert client.get("/ops/plan").location == "/ops/login"
    assert client.post("/ops/plan", data=SINGLES_DAY).status_code in (302, 400)
    assert log_in(client, name="wang").status_code == 302
    assert client.get("/ops/plan").status_code == 403
    assert 'href="/ops/plan"' not in client.get("/ops/").data.decode()


def test_the_form_needs_its_csrf_token(lead):
    assert lead.post("/ops/plan", data=SINGLES_DAY).status_code == 400
