"""The console's Plan page (ops only): a day of the whole centre, ``ivr plan`` for ops.

A form (date, scale, the tree served or the A/B trial's B, incident notices said all day,
interval, runs, seed) runs the day on the server through the same library as the command
(``ivr.plan.inputs``, ``ivr.plan.figures``) on the app's own tree, prompts and traffic
file, and shows the same figures: the hotline's calls, each queue's day and intervals,
and the picture (``ivr.plan.picture``) as inline SVG.

Bounded, since it runs inside a request: a scale of at most ``MAX_SCALE``, at most
``MAX_RUNS`` runs, at most ``MAX_CALLS`` calls over them, one plan at a time per process
(another is answered 429); a day of about 14,000 calls takes about a second here, its
picture one or two more. Bad input is a 400 naming the field; nothing is written.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from flask import make_response, render_template, request
from werkzeug.wrappers import Response

from ivr.console.site import bp, hotline, ops_only, t
from ivr.errors import IVRError
from ivr.flow.notices import Notice
from ivr.hotline import Tree
from ivr.records import notices

if TYPE_CHECKING:
    from ivr.plan.figures import Figures

log = logging.getLogger(__name__)

MAX_SCALE = 10.0
MAX_RUNS = 5
#: the calls a request may simulate, over all its runs (about 2 s of the queues here)
MAX_CALLS = 100_000
INTERVALS_MIN = ("15", "30", "60")
#: the ended notices offered beside those active and to come, latest first
ENDED_OFFERED = 20
#: the page's policy: no script at all; styles inline for matplotlib's SVG
POLICY = ("default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'")
#: one plan at a time per process: each takes a CPU for seconds, beside the webhooks
_RUNNING = threading.BoundedSemaphore(1)
#: the Retry-After of a plan refused while another runs
BUSY_RETRY_S = 5


class Refused(Exception):
    """A field of the form that cannot be run, with the words saying why."""


@dataclass(frozen=True, slots=True)
class Asked:
    """The form, read and checked."""

    day: date
    scale: float
    tree: Tree
    notices: tuple[Notice, ...]
    answers: float
    interval_min: int
    runs: int
    seed: int


def _trees() -> list[Tree]:
    h = hotline()
    return [h.tree, *([h.tree_b] if h.tree_b else [])]


def _offered_notices() -> list[notices.Published]:
    """The notices the form offers: active and to come, then the latest ended."""
    h = hotline()
    now = h.now()
    shown = notices.listed(h.store, now, every=True)
    ended = [p for p in shown if p.state(now) == "ended"][:ENDED_OFFERED]
    return [p for p in shown if p.state(now) != "ended"] + ended


def _number(field: str, low: float, high: float, default: str, whole: bool = False) -> float:
    text = request.form.get(field, default).strip() or default
    try:
        value = float(int(text)) if whole else float(text)
    except ValueError:
        raise Refused(t("plan_not_number", field=t("plan_" + field), value=text[:40])) from None
    if not math.isfinite(value) or not low <= value <= high or (field == "scale" and value <= 0):
        shown = (f"{int(low)}", f"{int(high)}") if whole else (f"{low:g}", f"{high:g}")
        raise Refused(t("plan_out_of_range_" + field, low=shown[0], high=shown[1],
                        value=text[:40]))
    return value


def read_form() -> Asked:
    """The form as a plan; ``Refused`` naming the first field that cannot be run."""
    text = request.form.get("date", "").strip()
    try:
        day = date.fromisoformat(text)
        if len(text) != 10:
            raise ValueError(text)
    except ValueError:
        raise Refused(t("plan_bad_date", value=text[:40])) from None
    scale = _number("scale", 0.0, MAX_SCALE, "1")
    runs = int(_number("runs", 1, MAX_RUNS, "1", whole=True))
    seed = int(_number("seed", 0, 2**31 - 1, "0", whole=True))
    interval = request.form.get("interval", "30")
    if interval not in INTERVALS_MIN:
        raise Refused(t("plan_bad_interval", choices=", ".join(INTERVALS_MIN)))
    version = request.form.get("tree", "")  # none: the tree served
    tree = next((tr for tr in _trees() if tr.version == version or not version), None)
    if tree is None:
        raise Refused(t("plan_bad_tree", value=version[:40]))
    offered = {p.notice.id: p.notice for p in _offered_notices()}
    chosen = []
    for value in dict.fromkeys(request.form.getlist("notice")):  # each once
        number = int(value) if value.isdigit() else None
        if number not in offered:
            raise Refused(t("plan_bad_notice", value=value[:40]))
        chosen.append(offered[number])
    for notice in chosen:
        scope, menu = notice.scope, tree.menu
        if (scope.kind == "node" and scope.name not in menu.nodes) or \
                (scope.kind == "queue" and scope.name not in menu.queues):
            raise Refused(t("plan_notice_not_in_tree", id=notice.id, scope=str(scope),
                            tree=tree.version))
    answers = _number("answers", 0.0, 1.0, "0") if chosen else 0.0
    return Asked(day, scale, tree, tuple(chosen), answers, int(interval), runs, seed)


def _run(asked: Asked) -> dict[str, Any]:
    """The day asked for, as the page shows it."""
    # the planner (the tuning's walks, the queue model) loads at the first plan, not in
    # every worker that only answers the hotline's webhooks (issue 21: worker memory)
    from ivr.plan import inputs
    from ivr.plan.figures import DEFINITION, figures
    from ivr.plan.picture import svg_day

    h = hotline()
    sources = inputs.Sources.of(h.catalog, asked.tree.menu, h.centre.traffic)
    options = inputs.Options(scale=asked.scale, interval_s=asked.interval_min * 60.0,
                             notices=asked.notices, answers=asked.answers)
    planned = inputs.prepare(sources, h.settings, asked.day, options)
    expected = planned.scenario.demand.expected_calls * asked.runs
    if expected > MAX_CALLS:
        raise Refused(t("plan_too_many_calls", calls=f"{expected:,.0f}", most=f"{MAX_CALLS:,}"))
    seeds = tuple(range(asked.seed, asked.seed + asked.runs))
    found = figures([planned.scenario.run(s) for s in seeds])
    about = planned.about(seeds)
    return {"about": about, "figures": found, "hotline": _hotline(found),
            "definition": DEFINITION.format(t=found.target_s),
            "picture": svg_day(found, f"{', '.join(about.days)} at scale {asked.scale:g}")}


def _hotline(found: Figures) -> dict[str, float]:
    """The hotline's calls over the run, each kind summed over the intervals."""
    return {k: math.fsum(v) for k, v in found.hotline.items()}


def _page(asked: Asked | None, result: dict[str, Any] | None = None, error: str = "") -> str:
    from ivr.plan import report

    h = hotline()
    form = request.form if request.method == "POST" else {}
    return render_template(
        "console/plan.html", trees=_trees(), offered=_offered_notices(), now=h.now(),
        form=form, chosen={n.id for n in asked.notices} if asked else set(),
        today=h.centre.local(h.now()).date().isoformat(), intervals=INTERVALS_MIN,
        max_scale=MAX_SCALE, max_runs=MAX_RUNS, result=result, error=error,
        clock=report.clock, busy=report.busy, count=count, pct=report.pct,
        secs=report.secs)


def count(x: float) -> str:
    """A count as ``ivr plan`` prints it: whole, or to a tenth when a mean over runs."""
    return f"{x:,.0f}" if x == int(x) else f"{x:,.1f}"


@bp.route("/plan", methods=["GET", "POST"])
@ops_only
def plan() -> Response:
    """The form; on POST the day it asks for, or the reason it cannot run (400)."""
    if request.method == "GET":
        return _answer(_page(None))
    try:
        asked = read_form()
    except Refused as exc:
        return _answer(_page(None, error=str(exc)), 400)
    if not _RUNNING.acquire(blocking=False):
        busy = _answer(_page(asked, error=t("plan_busy")), 429)
        busy.headers["Retry-After"] = str(BUSY_RETRY_S)
        return busy
    try:
        return _answer(_page(asked, _run(asked)))
    except Refused as exc:
        return _answer(_page(asked, error=str(exc)), 400)
    except IVRError as exc:  # the tree and the traffic file disagree: said as ivr plan says it
        log.info("console plan: %s", exc)
        return _answer(_page(asked, error=str(exc)), 400)
    finally:
        _RUNNING.release()


def _answer(page: str, status: int = 200) -> Response:
    """The page with its own Content-Security-Policy (``site.guarded`` adds
    frame-ancestors to it)."""
    response = make_response(page, status)
    response.headers["Content-Security-Policy"] = POLICY
    return response
