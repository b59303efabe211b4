"""The report for scanning (issue 24), in the console and in ``ivr report --html``: shares
written one way, the drop-off chart with its text alternative and the report's own
numbers, each node's options as a sub-table, sections that fold, figures right-aligned,
the period in the centre's timezone, Mandarin headings on the Mandarin console; and the
tree fitted with its zoom buttons.

Calls are made through the real app (``test_report.six_calls``), the pages read through
the Flask test client and the command through click's runner.
"""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import programs
import pytest
from test_console import _people, log_in, token  # noqa: F401  (the people fixture)
from test_report import six_calls

from ivr.cli import cli
from ivr.tuning.report import build

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the centre's timezone (the shipped traffic file)
#: a share as the report writes one, and anything that looks like a share
SHARE = re.compile(r"\d+\.\d %")
ANY_SHARE = re.compile(r"[\d.]+\s*%")


class Page(HTMLParser):
    """What the checks need of a page: each table (by id) with the sections it is in and
    its cells, the funnel's stages, the option rows of the sub-tables."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.open: list[str] = []  # the tags open now (details, table, td ...)
        self.sections: dict[str, list[str]] = {}  # table id -> the details ids it is in
        self.details: list[str] = []
        self.opened: set[str] = set()  # details open on arrival
        self.cells: list[tuple[str, str, str]] = []  # (table id, class, text) of every td
        self.stages: dict[str, tuple[int, int]] = {}
        self.choices: dict[str, dict[str, int]] = {}  # node -> option -> count
        self.tables: list[str] = []
        self._text: list[str] | None = None
        self._cell: tuple[str, str] | None = None
        self._row: list[str] = []
        self._option: str | None = None
        self._node = ""
        self.words: list[str] = []  # the text a person reads (no script, no style)
        self.feed(text)

    def table(self) -> str:
        return next((t for t in reversed(self.tables) if t), "")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "details":
            self.details.append(a.get("id") or "")
            if "open" in a:
                self.opened.add(a.get("id") or "")
        elif tag == "table":
            self.tables.append(a.get("id") or "")
            if a.get("id"):
                self.sections[a["id"] or ""] = list(self.details)
        elif tag == "g" and a.get("class") == "stage":
            self.stages[a["data-node"] or ""] = (int(a["data-calls"] or 0),
                                                 int(a["data-hangups"] or 0))
        elif tag == "tr":
            self._row, self._option = [], a.get("data-option")
        elif tag == "td":  # a sub-table's cells are named "<table id> options"
            where = self.table() + ("" if self.tables[-1] else " options")
            self._cell, self._text = (where, a.get("class") or ""), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self.details.pop()
        elif tag == "table":
            self.tables.pop()
        elif tag == "td" and self._cell is not None and self._text is not None:
            text = "".join(self._text).strip()
            self.cells.append((*self._cell, text))
            self._row.append(text)
            self._cell = self._text = None
            if self.tables[-1] == "report-nodes" and len(self._row) == 1:
                self._node = text  # a node's row (not a sub-table's): its id first
        elif tag == "tr" and self._option is not None and self.tables[-1] == "":
            self.choices.setdefault(self._node, {})[self._option] = int(self._row[1])

    def handle_data(self, data: str) -> None:
        if self.lasttag not in ("script", "style"):
            self.words.append(data)
        if self._text is not None:
            self._text.append(data)


def checked_for_scanning(page: str, report: dict[str, Any], funnel_id: str) -> Page:
    """The checks both the console's report and ``ivr report --html`` pass."""
    found = Page(page)
    # one format for shares: 33.3 %, never 0.3333 or 33.3%
    shares = ANY_SHARE.findall(" ".join(found.words))
    assert shares and all(SHARE.fullmatch(s) for s in shares), sorted(set(shares))
    assert not re.search(r">0\.\d{3,}<", page)
    # the funnel: an image with a title and a description, each node's calls and hang-ups
    # as the report counts them
    chart = re.search(rf'<svg id="{funnel_id}"[^>]*>', page)
    assert chart and 'role="img"' in chart.group(0) and "aria-labelledby" in chart.group(0)
    assert f'<title id="{funnel_id}-title">' in page and f'<desc id="{funnel_id}-desc">' in page
    reached = {n: (e["calls"], e["hangups"]) for n, e in report["nodes"].items() if e["calls"]}
    assert found.stages == reached
    assert any(hangups for _, hangups in found.stages.values())
    # each node's options as a sub-table with the report's counts, not packed in a cell
    assert found.choices == {n: e["options"] for n, e in report["nodes"].items()
                             if e["options"]}
    assert not re.search(r"\d:\d+ \(", page)
    # every table in a section that folds; the chart too
    assert found.sections and all(found.sections[t] for t in found.sections), found.sections
    assert {"section-summary", "section-funnel", "section-nodes"} <= found.opened
    assert 'id="section-paths"' in page and "section-paths" not in found.opened
    # figures right-aligned in every table: a cell that is a number or a share is class n
    figures = [(t, c, text) for t, c, text in found.cells
               if re.fullmatch(r"-?\d[\d.,]*( %)?", text)
               and not (t.endswith(" options") and c != "n")]  # an option's key: a label
    assert figures and all(c == "n" for _, c, _ in figures), [f for f in figures if f[1] != "n"]
    return found


@pytest.fixture(name="calls")
def _calls(app: Any, client: Any, clock: Any) -> dict[str, Any]:
    six_calls(client, clock)
    return build(app.config["DATABASE"], menus=[app.extensions["ivr"].tree.menu])


def period_local(report: dict[str, Any]) -> str:
    first = datetime.fromisoformat(report["period"]["first_call"]).astimezone(SHANGHAI)
    return first.strftime("%Y-%m-%d %H:%M")


def test_the_console_report_is_for_scanning(client: Any, people: Any,
                                             calls: dict[str, Any]) -> None:
    log_in(client)
    page = client.get("/ops/report").data.decode()
    checked_for_scanning(page, calls, "report-funnel")
    # the period in the centre's timezone, named
    said = re.search(r'<p id="report-calls"[^>]*>([^<]*)</p>', page)
    assert said and f"the first at {period_local(calls)}" in said.group(1)
    assert "Times in Asia/Shanghai" in said.group(1)
    assert "Where callers hang up" in page and "Per node" in page
    # a period asked for is said in the centre's time too
    asked = client.get("/ops/report?since=2026-11-25&until=2026-11-25").data.decode()
    assert "Asked for: 2026-11-25 00:00 to 2026-11-26 00:00." in asked


def test_the_mandarin_console_report_has_mandarin_headings(client: Any, people: Any,
                                                           calls: dict[str, Any]) -> None:
    log_in(client)
    client.post("/ops/language", data={"lang": "zh", "back": "/ops/report",
                                       "csrf_token": token(client.get("/ops/report").data)})
    page = client.get("/ops/report").data.decode()
    found = checked_for_scanning(page, calls, "report-funnel")
    headings = re.findall(r"<summary><h2>([^<]*)</h2>", page)
    assert headings[:3] == ["概要", "来电者在哪里挂机", "各节点（进入：进入次数；通话：不同通话数）"]
    # no English word but the model's name
    assert not any(re.search(r"[A-Za-z]{3,}", h.replace("Erlang A", "")) for h in headings), headings
    assert ">节点</th>" in page and ">选项</th>" in page and ">占比</th>" in page
    assert "到达该节点的通话" in page and found.stages
    said = re.search(r'<p id="report-calls"[^>]*>([^<]*)</p>', page)
    assert said and f"第一个在 {period_local(calls)}" in said.group(1)


def test_the_html_report_is_for_scanning(settings: dict[str, Any], calls: dict[str, Any],
                                         runner: Any, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = runner.invoke(cli, ["report", "--db", settings["DATABASE"], "--html", str(out)],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    page = out.read_text("utf-8")
    checked_for_scanning(page, calls, "report-funnel")
    said = re.search(r'<p id="report-period">([^<]*)</p>', page)
    assert said and period_local(calls) in said.group(1) and "Asia/Shanghai" in said.group(1)
    # the tree: fitted and zoomable, or why not (no dot here)
    if programs.missing("dot") is None:
        assert_zoomable(page)
    else:
        assert "could not be drawn" in page and "<script" not in page


def assert_zoomable(page: str) -> None:
    """The tree fills its box's width (no fixed size), from the top-left, with zoom in,
    out and fit buttons labelled for a screen reader, and the script that moves it."""
    svg = re.search(r'<div class="zoom" id="tree-zoom">.*?(<svg[^>]*>)', page, re.S)
    assert svg, "no zoom box"
    tag = svg.group(1)
    assert "viewBox=" in tag and 'preserveAspectRatio="xMinYMin meet"' in tag
    assert not re.search(r'\s(width|height)="', tag), tag
    assert 'role="img"' in tag and "aria-label=" in tag
    for action in ("in", "out", "fit"):
        button = re.search(rf'<button type="button" data-zoom="{action}"[^>]*>', page)
        assert button and 'aria-label="' in button.group(0), action
    assert page.count("<script>") == 1 and "setAttribute(\"viewBox\"" in page


@programs.needs_dot
def test_the_tree_page_fits_with_zoom_buttons_in_both_languages(client: Any, people: Any,
                                                                 calls: dict[str, Any]) -> None:
    log_in(client)
    page = client.get("/ops/tree").data.decode()
    assert_zoomable(page)
    assert 'aria-label="Zoom in"' in page and "<title>welcome</title>" in page
    assert "% hung up" in page  # the traffic overlay kept
    client.post("/ops/language", data={"lang": "zh", "back": "/ops/tree",
                                       "csrf_token": token(client.get("/ops/tree").data)})
    page = client.get("/ops/tree").data.decode()
    assert_zoomable(page)
    assert 'aria-label="放大"' in page and 'aria-label="缩小"' in page


def test_without_dot_the_tree_page_says_why(client: Any, people: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # graphviz finds no dot program
    log_in(client)
    page = client.get("/ops/tree").data.decode()
    assert "apt-get install graphviz" in page and "<script" not in page
