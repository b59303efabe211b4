"""``ivr report``'s report (``ivr.tuning.report.build``) as text, CSV files or one HTML page.

The report is cut into the same tables for all three (``tables``), so the text, the CSV
files and the page always agree. Renders only: nothing here reads the database, and the
tree picture comes in as SVG text from the caller.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from ivr.plural import aligned, counted, plural

Cell = str | int | float | None
#: the queue outcomes with a column of their own; the rest add up in "other"
SHOWN_OUTCOMES = ("answered", "hung_up_waiting", "callback", "refused")
#: the targets reached by speech shown per speech menu, most first
TOP_TARGETS = 5


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the report: ``name`` is its CSV file's name."""

    name: str
    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[Cell, ...]]


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _options(entry: dict[str, Any]) -> str:
    return " ".join(f"{k}:{n} ({_pct(entry['shares'].get(k))})"
                    for k, n in entry["options"].items()) or "-"


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
    options = [(node, key, n, e["shares"].get(key))
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


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: left; }
th { background: #f0f0f0; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #666; }
"""


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="n">{c}</td>' if isinstance(c, (int, float)) else
            f"<td>{html.escape('-' if c is None else str(c))}</td>" for c in row) + "</tr>"
        for row in table.rows)
    return (f"<h2>{html.escape(table.title)}</h2>\n<table><tr>{head}</tr>{body}</table>")


def page(report: dict[str, Any], picture: str | None, note: str = "",
         order: Sequence[str] = (), zone: tzinfo = UTC) -> str:
    """One self-contained HTML page: inline CSS, the tree as inline SVG, no links out."""
    parts: Iterable[str] = ([_html_table(t) for t in tables(report, order)]
                            if report["calls"] else [])
    tree = picture if picture else f'<p class="note">{html.escape(note)}</p>' if note else ""
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            "<title>ivr report</title>"
            f"<style>{STYLE}</style></head><body>\n<h1>What callers did</h1>\n"
            f"<p>{html.escape(_period(report, zone))}</p>\n"
            + "\n".join(parts) + f"\n<h2>The tree</h2>\n{tree}\n</body></html>\n")
