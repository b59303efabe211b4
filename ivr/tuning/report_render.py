"""``ivr report``'s report (``ivr.tuning.report.build``) as text, CSV files or one HTML page.

The report is cut into the same tables for all three (``tables``), so the text, the CSV
files and the page always agree. Renders only: nothing here reads the database, and the
tree picture comes in as SVG text from the caller.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from ivr.plural import aligned, counted, percent, plural
from ivr.tuning import dropoff, zoom

#: the queue outcomes with a column of their own; the rest add up in "other"
SHOWN_OUTCOMES = ("answered", "hung_up_waiting", "callback", "refused")
#: the targets reached by speech shown per speech menu, most first
TOP_TARGETS = 5


@dataclass(frozen=True, slots=True)
class Choice:
    """One option chosen at a node: its key, how often, and its share there."""

    key: str
    count: int
    share: float | None

    @property
    def percent(self) -> str:
        return percent(self.share)

    @property
    def bar_pct(self) -> float:
        """The width of its bar, in percent of the cell."""
        return round((self.share or 0.0) * 100, 1)


@dataclass(frozen=True, slots=True)
class Choices:
    """A node's options as a cell: a sub-table on a page, one line in text and CSV."""

    items: tuple[Choice, ...]

    def __str__(self) -> str:
        return " ".join(f"{c.key}:{c.count} ({c.percent})" for c in self.items) or "-"


Cell = str | int | float | Choices | None


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the report: ``name`` is its CSV file's name."""

    name: str
    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[Cell, ...]]

    @property
    def numeric(self) -> tuple[bool, ...]:
        """Per column, whether it holds figures (right-aligned on a page): every cell a
        number, a share or ``-``, at least one not ``-``."""
        columns = list(zip(*self.rows, strict=False)) or [() for _ in self.headers]
        return tuple(any(_figure(c) for c in col) and all(_figure(c) or c in (None, "-")
                                                          for c in col)
                     for col in columns)


_pct = percent  # the one way shares are written (``ivr.plural.percent``)
#: a figure written as text: 12, 4.5, 33.3 %, 12 (33.3 %) or 0 (-)
_FIGURE = re.compile(r"-?\d[\d.,]*( %)?( \((-?\d[\d.]* %|-)\))?")


def _figure(cell: Cell) -> bool:
    if isinstance(cell, bool):
        return False
    return isinstance(cell, (int, float)) or (isinstance(cell, str)
                                              and bool(_FIGURE.fullmatch(cell)))


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _options(entry: dict[str, Any]) -> Choices:
    return Choices(tuple(Choice(k, n, entry["shares"].get(k))
                         for k, n in entry["options"].items()))


def _queue_rows(queues: dict[str, Any]) -> list[tuple[Cell, ...]]:
    rows: list[tuple[Cell, ...]] = []
    for queue, q in queues.items():
        out = q["outcomes"]
        other = sum(n for k, n in out.items() if k not in SHOWN_OUTCOMES)
        predicted = q.get("predicted") or {}
        rows.append((queue, q["calls"], _num(q["time_to_queue_s"]["p50"]),
                     _num(q["time_to_queue_s"]["p90"]), *(out[k] for k in SHOWN_OUTCOMES), other,
                     _pct(q["abandonment"]), _pct(predicted.get("p_abandon")),
                     _num(predicted.get("held_wait_s"))))
    return rows


def _split_rows(splits: dict[str, dict[str, Any]]) -> tuple[tuple[str, ...],
                                                             list[tuple[Cell, ...]]]:
    """The splits side by side: one column per version (or language), one row a figure."""
    names = list(splits)
    headers = ("", *(f"{n} ({s['menu_file']})" if s.get("menu_file") else n
                     for n, s in splits.items()))

    def row(label: str, pick: Any) -> tuple[Cell, ...]:
        return (label, *(pick(splits[n]) for n in names))

    rows = [row("calls", lambda s: s["calls"]),
            row("contained", lambda s: f"{s['containment']['calls']} "
                                       f"({_pct(s['containment']['rate'])})")]
    for key in ("attempted", "verified", "failed", "locked"):
        rows.append(row(f"verification {key}", lambda s, k=key: s["verification"][k]))
    for key in ("fallback", "back"):
        rows.append(row(f"misroutes {key}", lambda s, k=key: s["misroutes"][k]["calls"]))
    queues = sorted({q for s in splits.values() for q in s["queues"]})
    for queue in queues:
        rows.append(row(f"{queue} calls", lambda s, q=queue: s["queues"].get(q, {}).get("calls", 0)))
        rows.append(row(f"{queue} time to queue p50 s", lambda s, q=queue: _num(
            s["queues"][q]["time_to_queue_s"]["p50"]) if q in s["queues"] else "-"))
        rows.append(row(f"{queue} hung up waiting", lambda s, q=queue: s["queues"].get(
            q, {}).get("outcomes", {}).get("hung_up_waiting", 0)))
    nodes = sorted({n for s in splits.values() for n, e in s["nodes"].items() if e["hangups"]})
    for node in nodes:
        rows.append(row(f"{node} hang-ups", lambda s, n=node: s["nodes"].get(n, {}).get("hangups", 0)))
    for menu in sorted({m for s in splits.values() for m in s.get("speech", {})}):
        rows.append(row(f"{menu} spoke", lambda s, m=menu: _spoken(s, m, "spoke", "spoke_share")))
        rows.append(row(f"{menu} routed by speech",
                        lambda s, m=menu: _spoken(s, m, "routed", "routed_share")))
    return headers, rows


def _spoken(split: dict[str, Any], menu: str, figure: str, share: str) -> str:
    """``12 (40.0%)``: a speech figure of one split and its share."""
    entry = split.get("speech", {}).get(menu)
    return f"{entry[figure]} ({_pct(entry[share])})" if entry else "-"


def _speech_tables(speech: dict[str, Any], order: Sequence[str]) -> list[Table]:
    """Per speech menu what the callers who spoke got, and where speech routed them."""
    ordered = _ordered(speech, order)
    menus = [(menu, e["reached"], e["spoke"], _pct(e["spoke_share"]), e["matched"],
              e["asked_to_confirm"], e["confirmed"], e["declined"], e["reasked"], e["keypad"],
              e["routed"], _pct(e["routed_share"])) for menu, e in ordered]
    targets = [(menu, target, n) for menu, e in ordered
               for target, n in list(e["targets"].items())[:TOP_TARGETS]]
    return [
        Table("speech", "Speech menus (calls; routed by speech: matched, or confirmed by 1)",
              ("menu", "reached", "spoke", "spoke %", "matched", "asked to confirm",
               "confirmed", "declined", "re-asked", "to keypad", "routed by speech",
               "routed % of spoke"), menus),
        Table("speech_targets", f"Targets reached by speech (top {TOP_TARGETS} a menu)",
              ("menu", "target", "calls"), targets),
    ]


def _notice_table(notices: dict[str, Any]) -> Table:
    """Per incident notice, the calls that heard it and what they did next."""
    rows = [(int(number), e.get("scope") or "-", "yes" if e.get("emergency") else "no",
             e["heard"], sum(e["went_on"].values()),
             " ".join(f"{q}:{n}" for q, n in sorted(e["went_on"].items())) or "-",
             e["callback"], e["deflected"], e["in_progress"])
            for number, e in sorted(notices.items(), key=lambda item: int(item[0]))]
    return Table("notices", "Incident notices (calls that heard each, and what they did next)",
                 ("notice", "scope", "emergency", "heard", "went on to a queue", "by queue",
                  "callback", "hung up (deflected)", "in progress"), rows)


#: the groups the verdicts are split by, as the CSAT table names them
CSAT_SPLITS = (("queues", "queue"), ("agents", "agent"), ("languages", "language"),
               ("versions", "version"))


def _csat_table(verdicts: dict[str, Any]) -> Table:
    """The callers' verdicts after an agent: in all, then per queue, agent, language and
    tree version."""
    def cells(by: str, name: str, v: dict[str, Any]) -> tuple[Cell, ...]:
        return (by, name, v["bridged"], v["asked"], v["answered"], _pct(v["answered_share"]),
                _num(v["mean"]), *(v["scores"][k] for k in sorted(v["scores"])), v["comments"])

    rows = [cells("all", "-", verdicts)]
    rows += [cells(by, name, v) for split, by in CSAT_SPLITS
             for name, v in verdicts[split].items()]
    return Table("csat", "Callers' verdict after an agent (CSAT: 1 to 5)",
                 ("by", "name", "bridged", "asked", "answered", "answered %", "mean", "1", "2",
                  "3", "4", "5", "comments"), rows)


def _complaints_table(complaints: dict[str, Any]) -> Table:
    """The complaint tickets filed in the period through their workflow: at each stage
    now, how many left each and the mean hours they spent in it; then the replies."""
    spent = complaints["hours_in_stage"]
    rows: list[tuple[Cell, ...]] = [
        (stage, n, spent.get(stage, {}).get("left", 0),
         _num(spent.get(stage, {}).get("mean_hours")))
        for stage, n in complaints["stages"].items()]
    rows += [("results sent", complaints["results_sent"], "-", "-"),
             ("  after their reply-by time", complaints["replies_late"], "-", "-"),
             ("overdue now, no result", complaints["overdue_now"], "-", "-"),
             ("disputes", complaints["disputes"], "-", "-"),
             ("dispute rate", _pct(complaints["dispute_rate"]), "-", "-")]
    return Table("complaints", "Complaint tickets filed in the period, by stage",
                 ("stage", "tickets now", "left it", "mean hours in it"), rows)


def _returning_rows(returning: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """The known caller's shortcut in the summary, once it has been offered."""
    if not returning or not returning["offered"]:
        return []
    return [("known callers offered the way back", returning["offered"]),
            ("  took it (pressed 1)", returning["taken"]),
            ("  their time to queue p50 s", _num(returning["to_queue_p50_s"]))]


def _ordered(nodes: dict[str, Any], order: Sequence[str]) -> list[tuple[str, Any]]:
    """The nodes in the tree's order (``order``), then any the tree no longer has."""
    rank = {node: i for i, node in enumerate(order)}
    return sorted(nodes.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))


def tables(report: dict[str, Any], order: Sequence[str] = ()) -> list[Table]:
    """The report cut into tables, in reading order; nodes in the tree's ``order``."""
    verification = report["verification"]
    misroutes = report["misroutes"]
    summary = [("calls", report["calls"]),
               ("contained", report["containment"]["calls"]),
               ("containment rate", _pct(report["containment"]["rate"])),
               *((f"verification {k}", v) for k, v in verification.items()),
               *_returning_rows(report.get("returning")),
               ("misroutes: reached a queue through the fallback", misroutes["fallback"]["calls"]),
               *((f"  fallback into {q}", n) for q, n in misroutes["fallback"]["queues"].items()),
               ("misroutes: went back (9) from a sub-menu", misroutes["back"]["calls"]),
               *((f"  back from {n}", c) for n, c in misroutes["back"]["nodes"].items())]
    ordered = _ordered(report["nodes"], order)
    nodes = [(node, e["entered"], e["calls"], _options(e), e["invalid"], e["no_input"],
              e["repeat"], e["back"], e["hangups"], _num(e["median_s"]))
             for node, e in ordered]
    options = [(node, key, n, _pct(e["shares"].get(key)))
               for node, e in ordered for key, n in e["options"].items()]
    paths = [(p["queue"], p["calls"], " > ".join(p["path"])) for p in report["paths"]]
    found = [
        Table("summary", "Summary", ("figure", "value"), summary),
        Table("nodes", "Per node (entered: entries; calls: distinct calls)",
              ("node", "entered", "calls", "options", "invalid", "no input", "repeat",
               "back", "hang-ups", "median s"), nodes),
        Table("options", "Options chosen", ("node", "option", "count", "share"), options),
        Table("queues", "Per queue (time to queue from answer; abandonment beside Erlang A)",
              ("queue", "calls", "to queue p50 s", "p90 s", "answered", "hung up waiting",
               "callback", "refused", "other", "abandonment", "predicted", "predicted wait s"),
              _queue_rows(report["queues"])),
        Table("paths", "Top paths into each queue", ("queue", "calls", "path"), paths),
    ]
    if report.get("speech"):  # a tree without speech menus: no empty tables
        found += _speech_tables(report["speech"], order)
    if report.get("notices"):  # none heard in the period: no empty table
        found.append(_notice_table(report["notices"]))
    if report.get("csat", {}).get("bridged"):  # nobody bridged: no empty table
        found.append(_csat_table(report["csat"]))
    if (report.get("complaints") or {}).get("tickets"):  # none filed: no empty table
        found.append(_complaints_table(report["complaints"]))
    for name, title in (("versions", "By tree version"), ("languages", "By language")):
        headers, rows = _split_rows(report[name])
        found.append(Table(name, title, headers, rows))
    return found


def _local(moment: str | None, zone: tzinfo) -> str | None:
    """A stored ISO time (UTC when it has no offset) in ``zone``, to the second."""
    if not moment:
        return None
    at = datetime.fromisoformat(moment)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone) \
        .strftime("%Y-%m-%d %H:%M:%S")


def _period(report: dict[str, Any], zone: tzinfo = UTC) -> str:
    """The period in ``zone``, named: the centre's, as every other command says times."""
    period = report["period"]
    since, until = _local(period["since"], zone), _local(period["until"], zone)
    asked = (f" (asked: {since or 'the first'} to {until or 'now'})"
             if since or until else "")
    name = getattr(zone, "key", None) or str(zone)
    if not report["calls"]:
        return f"No calls in the period{asked}; times in {name}."
    said = (f"{counted(report['calls'], 'call')} from {_local(period['first_call'], zone)} "
            f"to {_local(period['last_call'], zone)}{asked}; times in {name}.")
    if report.get("unrecorded"):
        n = report["unrecorded"]
        said += (f"\nOf these, {counted(n, 'call')} {plural(n, 'was', 'were')} recorded by an "
                 "earlier release, without the choices and nodes of each step: counted in the "
                 "calls, queues and times, not in the figures per node.")
    return said


def text(report: dict[str, Any], order: Sequence[str] = (), zone: tzinfo = UTC) -> str:
    """The report as aligned plain-text tables; its period in ``zone`` (the centre's)."""
    lines = [_period(report, zone)]
    if not report["calls"]:
        return lines[0] + "\n"
    for table in tables(report, order):
        if table.name == "options":
            continue  # in the node table already
        lines += ["", table.title]
        cells = [table.headers, *(tuple("-" if c is None else str(c) for c in r)
                                  for r in table.rows)]
        lines += aligned(cells)
    return "\n".join(lines) + "\n"


def write_csv(report: dict[str, Any], folder: Path, order: Sequence[str] = ()) -> list[Path]:
    """One CSV file per table in ``folder``; the files written."""
    written = []
    for table in tables(report, order):
        path = folder / f"{table.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as file:
            out = csv.writer(file)
            out.writerow(table.headers)
            out.writerows(table.rows)
        written.append(path)
    return written


_RIGHT = ' class="n"'
#: the sections open on arrival; the rest fold, their titles still in view
OPEN = frozenset({"summary", "funnel", "nodes", "queues", "tree"})

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { color: #666; }
summary h2 { display: inline; font-size: 1.2em; }
details { margin: 0.8em 0; }
table.choices { margin: 0; font-size: 0.92em; }
table.choices td, table.choices th { border-color: #e3e3e3; padding: 0 6px; }
.bar { display: inline-block; height: 0.7em; background: #4a7ab0; }
""" + zoom.STYLE


def _choices(choices: Choices, headers: tuple[str, str, str] = ("option", "count", "share")
             ) -> str:
    """A node's options as a sub-table: key, count, share and a bar of it."""
    if not choices.items:
        return "-"
    head = "".join(f'<th{_RIGHT if i else ""}>{html.escape(h)}</th>'
                   for i, h in enumerate(headers))
    rows = "".join(
        f'<tr data-option="{html.escape(c.key)}"><td>{html.escape(c.key)}</td>'
        f'<td class="n">{c.count}</td><td class="n">{c.percent}</td>'
        f'<td><span class="bar" style="width: {c.bar_pct / 20:.2f}em"></span></td></tr>'
        for c in choices.items)
    return f'<table class="choices"><tr>{head}<th></th></tr>{rows}</table>'


def _html_cell(cell: Cell, numeric: bool) -> str:
    if isinstance(cell, Choices):
        return f"<td>{_choices(cell)}</td>"
    text = html.escape("-" if cell is None else str(cell))
    return f'<td class="n">{text}</td>' if numeric else f"<td>{text}</td>"


def section(name: str, title: str, body: str) -> str:
    """A section that folds: open on arrival when it is one of ``OPEN``."""
    opened = " open" if name in OPEN else ""
    return (f'<details id="section-{name}"{opened}><summary><h2>{html.escape(title)}</h2>'
            f"</summary>\n{body}\n</details>")


def _html_table(table: Table) -> str:
    numeric = table.numeric
    head = "".join(f'<th{_RIGHT if n else ""}>{html.escape(h)}</th>'
                   for h, n in zip(table.headers, numeric, strict=False))
    body = "".join("<tr>" + "".join(_html_cell(c, n) for c, n in zip(row, numeric, strict=False))
                   + "</tr>" for row in table.rows)
    return section(table.name, table.title,
                   f'<table id="report-{table.name}"><tr>{head}</tr>{body}</table>')


def page(report: dict[str, Any], picture: str | None, note: str = "",
         order: Sequence[str] = (), zone: tzinfo = UTC) -> str:
    """One self-contained HTML page: inline CSS, the drop-off chart and the tree as inline
    SVG (the tree fitted, with zoom and pan by an inline script), no links out."""
    parts: list[str] = []
    if report["calls"]:
        chart = dropoff.svg(dropoff.stages(report, order), dropoff.english(percent))
        parts = [_html_table(t) for t in tables(report, order) if t.name != "options"]
        parts.insert(1, section("funnel", "Where callers hang up", chart))
    tree = (zoom.frame(picture) + zoom.script() if picture else
            f'<p class="note">{html.escape(note)}</p>' if note else "")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>ivr report</title>"
            f"<style>{STYLE}</style></head><body>\n<h1>What callers did</h1>\n"
            f'<p id="report-period">{html.escape(_period(report, zone))}</p>\n'
            + "\n".join(parts) + "\n" + section("tree", "The tree", tree)
            + "\n</body></html>\n")
