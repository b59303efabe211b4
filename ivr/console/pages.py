"""The console's pages: Now, Tree, Report, Week, Callbacks, Tickets, Calls, Audit (and
Notices, in ``ivr.console.notices``; Plan, in ``ivr.console.planning``).

Each view gathers plain numbers from the library (``ivr.records.live``, ``ivr.queue.advice``,
``ivr.tuning``) and ``records``, and a template shows them; no figure is computed in a
template. Ops see every page and queue; an agent sees Now, Callbacks and Tickets of its
own queues (``site.scope``).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from ivr import moments
from ivr.console import chart, labels, records, wallboard
from ivr.console.site import bp, hotline, lang, ops_only, scope, t, user
from ivr.console.text import GRAPH_ZH
from ivr.errors import IVRError
from ivr.flow import complaints
from ivr.plural import counted, percent
from ivr.queue.calendar import WEEKDAYS, DayKind
from ivr.queue.plot import BOUNDS_MIN, CLOSED_COLOUR, OVER_COLOUR, cell_label
from ivr.records import complaints as complaints_records
from ivr.records import live

log = logging.getLogger(__name__)

#: the Now page reloads itself this often
REFRESH_S = 15
#: answered within this wait counts toward the service level (the common 80/20 target)
SERVICE_TARGET_S = wallboard.SERVICE_TARGET_S
#: the Week page's colour bands, in minutes, as ``ivr advise --plot`` draws them
#: the upper bound of each band of ``ivr advise --plot`` and a colour close to its own
BANDS = tuple(zip(BOUNDS_MIN[1:], ("#1a9850", "#66bd63", "#a6d96a", "#fee08b", "#fdae61",
                                   "#f46d43", "#d73027", "#a50026"), strict=True))
#: the legend's text on each band, black or white where the usual #222 is too faint: every
#: label has a contrast of at least 4.5:1 (WCAG AA, which axe-core checks in the browser)
BAND_INK = {"#1a9850": "#000", "#d73027": "#fff", "#a50026": "#fff"}


def _queues() -> tuple[str, ...]:
    return scope() or hotline().centre.queues


def _day_start(now: datetime) -> datetime:
    """Midnight today in the centre's timezone."""
    return wallboard.day_start(now)


# -- issue 24: Now as a wallboard (ivr.console.wallboard, ivr.console.chart) ------------
@bp.get("/")
def now() -> str:
    """A tile per queue, and today's intervals against the forecast; with ``?part=board``
    only the board, which the page's script swaps in place of its own every REFRESH_S."""
    h = hotline()
    at = h.now()
    queues = _queues()
    midnight = wallboard.day_start(at)
    queued = live.queued_since(h.store, midnight, queues)
    found = wallboard.intervals(queued, h.centre, queues, midnight, at)
    caller = live.current_caller(h.store, user().name, at) if user().is_agent else None
    nodes = sorted(live.in_ivr(h.store, at).items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [iv for iv in found if iv.counts.offered or iv.forecast_offered is not None]
    page = "console/now_board.html" if request.args.get("part") == "board" else \
        "console/now.html"
    return render_template(page, tiles=wallboard.tiles(queues, queued, at), nodes=nodes,
                           caller=caller, refresh_s=REFRESH_S, target_s=SERVICE_TARGET_S,
                           chart=Markup(chart.svg(found, h.centre.local(at), t,
                                                  "today-intervals")),
                           intervals=shown, tip=chart.tip, percent=percent)


@bp.get("/tree")
@ops_only
def tree() -> str:
    """The tree with today's traffic, fitted to the page on arrival, with zoom and pan
    (``ivr.tuning.zoom``); without Graphviz's dot, why there is no picture."""
    h = hotline()
    from ivr.tuning import zoom
    from ivr.tuning.graph import svg
    from ivr.tuning.report import build

    picture, why = None, ""
    report = build(h.store.database, since=_day_start(h.now()), version=h.tree.version,
                   menus=[h.tree.menu], centre=h.centre)
    try:
        menu = h.tree.menu
        mandarin = lang() == "zh"
        title = GRAPH_ZH["title"].format(
            source=menu.source, calls=report.get("calls", 0), failures=menu.max_failures,
            fallback=menu.fallback) if mandarin else None
        picture = svg(menu, lang="zh-CN" if mandarin else "en-US", catalog=h.catalog,
                      stats=report, words=GRAPH_ZH if mandarin else None,
                      queue_name=labels.queue_name, title=title)
    except IVRError as exc:
        why = str(exc)
    words = zoom.Words(label=t("tree_label"), zoom_in=t("zoom_in"), zoom_out=t("zoom_out"),
                       fit=t("zoom_fit"), fit_short=t("zoom_fit_short"), hint=t("zoom_hint"))
    framed = zoom.frame(picture, words) + zoom.script() if picture else None
    return render_template("console/tree.html", picture=framed, why=why, report=report,
                           tree=h.tree, tree_b=h.tree_b, share_b=percent(h.share_b),
                           zoom_style=zoom.STYLE)


def _moment(field: str, whole_day: bool = False) -> datetime | None:
    """A moment from the form, read as ``--at`` is (``ivr.moments``: local to the centre
    unless an offset is given); a date alone with ``whole_day`` runs to its end; 400 if
    unreadable or out of range."""
    value = request.args.get(field, "").strip()
    if not value:
        return None
    try:
        moment = moments.parse(value)
    except ValueError as exc:
        abort(400, f"{field}: {exc}")
    h = hotline()
    zone, now = h.centre.traffic.zone, h.now()
    return moment.until(zone, now) if whole_day else moment.resolve(zone, now)


@bp.get("/report")
@ops_only
def report() -> str:
    """``ivr report`` for a period and version, for scanning: the drop-off chart, shares
    written one way, figures right-aligned, each node's options as a sub-table, sections
    that fold, the period in the centre's time; headings in the console's language."""
    from ivr.tuning import dropoff, report_render
    from ivr.tuning.report import build

    h = hotline()
    since, until = _moment("since"), _moment("until", whole_day=True)
    version = request.args.get("version") or None
    versions = [h.tree, *([h.tree_b] if h.tree_b else [])]
    menus = [v.menu for v in versions]
    found = build(h.store.database, since=since, until=until, version=version, menus=menus,
                  centre=h.centre)
    order = [n for menu in menus for n in menu.nodes]
    word = _report_word
    # the verdicts have a table of their own, in the console's language; the options are
    # in the node table's sub-tables
    tables = [_in_words(t) for t in report_render.tables(found, order)
              if t.name not in ("csat", "options")] if found["calls"] else []
    chart = dropoff.svg(dropoff.stages(found, order), dropoff.Words(
        title=t("funnel_title"), reached=t("funnel_reached"), hung_up=t("funnel_hung_up"),
        row=lambda s: t("funnel_row", node=s.node, calls=counted(s.calls, "call"), n=s.calls,
                        hangups=s.hangups, share=percent(s.share)),
        percent=percent)) if found["calls"] else ""
    return render_template("console/report.html", report=found, tables=tables,
                           versions=versions, args=request.args, period=_report_period(found),
                           funnel=chart, funnel_title=word("funnel", title=True),
                           opened=report_render.OPEN, is_choices=_is_choices,
                           option_headers=[word("option"), word("count"), word("share")],
                           percent=percent,
                           csat=found["csat"], csat_splits=report_render.CSAT_SPLITS)


def _report_word(english: str, title: bool = False) -> str:
    """One of ``ivr report``'s words in the console's language (a title by table name)."""
    from ivr.console import text

    if lang() != "zh":
        return english if not title else {"funnel": "Where callers hang up"}.get(english, english)
    return (text.REPORT_TITLES_ZH if title else text.REPORT_ZH).get(english, english)


def _in_words(table: Any) -> Any:
    """A table of the report with its title, headers and row labels in the console's
    language."""
    from dataclasses import replace

    from ivr.console import text

    if lang() != "zh":
        return table
    queues = re.compile(r"(?<![\w-])(" + "|".join(
        re.escape(q) for q in sorted(hotline().centre.queues, key=len, reverse=True))
        + r")(?![\w-])")

    def said(cell: Any) -> Any:
        """The cell in Mandarin: its words from the report's table, a queue by its name
        ("payments calls" is "{queue} calls" in the table)."""
        if not isinstance(cell, str):
            return cell
        found = queues.search(cell)
        if found is None:
            return text.REPORT_ZH.get(cell, cell)
        pattern = cell[:found.start()] + "{queue}" + cell[found.end():]
        words = text.REPORT_ZH.get(pattern, pattern) if pattern != "{queue}" else pattern
        return queues.sub(lambda m: labels.queue_name(m.group(1)),
                          words.replace("{queue}", found.group(1)))

    rows = [(said(r[0]), *r[1:]) for r in table.rows]
    rows = [tuple(said(c) if table.name != "nodes" else c for c in r) for r in rows]
    return replace(table, title=text.REPORT_TITLES_ZH.get(table.name, table.title),
                   headers=tuple(text.REPORT_ZH.get(h, h) for h in table.headers), rows=rows)


def _is_choices(cell: object) -> bool:
    from ivr.tuning.report_render import Choices

    return isinstance(cell, Choices)


def _report_period(found: dict[str, Any]) -> str:
    """The period in the centre's timezone: the first and last call, and what was asked."""
    from ivr.console.site import local

    period, zone = found["period"], hotline().centre.timezone
    said = t("period", n=found["calls"], calls=counted(found["calls"], "call"),
             first=local(period["first_call"]), last=local(period["last_call"])) \
        if found["calls"] else t("no_calls")
    if period.get("since") or period.get("until"):
        said += " " + t("report_asked", since=local(period["since"]) if period.get("since")
                        else t("report_first"),
                        until=local(period["until"]) if period.get("until") else t("report_now"))
    return f"{said} {t('times_in', zone=zone)}"


def _colour(wait_s: float | None) -> str:
    if wait_s is None:
        return CLOSED_COLOUR
    for upto, colour in BANDS:
        if wait_s / 60 < upto:
            return colour
    return OVER_COLOUR


def _label(wait_s: float | None) -> str:
    """A week cell's minutes, as ``ivr advise --plot`` writes them."""
    return "" if wait_s is None else cell_label(min(wait_s, 1e9) / 60)


@bp.get("/week")
@ops_only
def week() -> str:
    """The ordinary week per queue; on a public holiday or a make-up working day, today as
    it really runs (its own hours and staffing) in a row of its own, outlined instead."""
    h = hotline()
    now = h.now()
    here, day = h.centre.local(now), h.centre.day(now)
    special = day.kind is not DayKind.NORMAL

    def cells(row: tuple[float | None, ...]) -> list[dict[str, Any]]:
        return [{"wait_s": w, "colour": _colour(w), "label": _label(w)} for w in row]

    maps = []
    for queue in h.centre.queues:
        rows = [cells(row) for row in h.centre.typical_week(queue)]
        if special:
            rows.append(cells(h.centre.day_waits(queue, now)))
        maps.append({"queue": queue, "cells": rows})
    # the rows said in the console's language; ``codes`` (mon ... sun) for the page's data
    days = [*labels.weekdays(), t("today")] if special else labels.weekdays()
    codes = [*WEEKDAYS, "today"] if special else list(WEEKDAYS)
    why = ""
    if day.kind is DayKind.HOLIDAY:
        why = t("week_holiday", name=labels.holiday(day.date, t("holiday")),
                runs_as=labels.weekday(day.runs_as))
    elif day.kind is DayKind.WORKDAY:
        why = t("week_workday", runs_as=labels.weekday(day.runs_as))
    return render_template("console/week.html", maps=maps, days=days, codes=codes, why=why,
                           today=len(WEEKDAYS) if special else here.weekday(), hour=here.hour,
                           bands=BANDS, band_ink=BAND_INK)


def _note() -> str:
    note = request.form.get("note", "").strip()
    return note[:500]


@bp.route("/callbacks", methods=["GET", "POST"])
def callbacks() -> str | Response:
    h = hotline()
    if request.method == "POST":
        outcome = request.form.get("outcome", "")
        if outcome not in records.OUTCOMES:
            abort(400, "outcome: done or failed")
        try:
            callback_id = int(request.form.get("id", ""))
        except ValueError:
            abort(400, "id: a callback's number")
        if records.settle_callback(h.store, h.now(), user().name, callback_id, outcome,
                                   _note(), scope()):
            flash(t("marked", id=callback_id, outcome=t(outcome)))
        else:
            flash(t("gone"))
        return redirect(url_for("console.callbacks"))
    return render_template("console/callbacks.html",
                           callbacks=records.callbacks(h.store, scope()))


@bp.route("/tickets", methods=["GET", "POST"])
def tickets() -> str | Response:
    """Complaint tickets of the user's teams, each moved along its workflow with a note
    (``ivr.flow.complaints``); the result, in both languages, when it is sent."""
    h = hotline()
    if request.method == "POST":
        number, note = request.form.get("number", ""), _note()
        to = request.form.get("to", "closed")
        results = {lang: request.form.get(f"result_{lang}", "")[:1000]
                   for lang in complaints.RESULT_LANGS}
        if not note:
            flash(t("note_needed"))
        else:
            try:
                h.move_ticket(number, to, actor=user().name, note=note, results=results,
                              teams=scope())
                flash(t("moved_ticket", id=number, stage=t(f"stage_{to}")))
            except complaints_records.MoveRefused as refused:
                flash(t("move_refused", id=number, why=str(refused)))
        return redirect(url_for("console.tickets"))
    return render_template("console/tickets.html", tickets=records.tickets(h.store, scope()),
                           next_stages=complaints.next_stages)


@bp.get("/calls")
@ops_only
def calls() -> str:
    h = hotline()
    query = request.args.get("q", "").strip()
    found = records.find_calls(h.store, query) if query else []
    sid = request.args.get("sid", "")
    if found and len(found) == 1 and not sid:
        sid = found[0]["call_sid"]
    call = h.store.call(sid) if sid else None
    events = h.store.events(sid) if call else []
    return render_template("console/calls.html", query=query, found=found, call=call,
                           events=[_step_in_words(e) for e in events], bad_query=found is None)


def _step_in_words(event: dict[str, Any]) -> dict[str, Any]:
    """A step of a call as the caller lived it (issue 24): the prompts heard, in the
    console's language, and the option pressed, in words; the input as logged (masked)."""
    outcome = str(event.get("outcome") or "")
    queue = outcome.removeprefix("enqueue:") if outcome.startswith("enqueue:") else None
    return {**event, "heard": labels.heard(event.get("said")), "pressed": labels.pressed(event),
            "to_queue": t("to_queue", queue=labels.queue_name(queue)) if queue else "",
            "moved": not outcome.startswith("ask:") and not queue and outcome}


@bp.get("/audit")
@ops_only
def audit() -> str:
    return render_template("console/audit.html", rows=records.audit_rows(hotline().store))
