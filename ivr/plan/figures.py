"""The figures of one or more runs of a scenario, per interval and queue and for the
whole run, as plain data (rendered by ``ivr.plan.report`` and ``ivr.plan.picture``).

Counts are the mean per run. A caller is counted in the interval they reached the queue
(callbacks made and busy time: when they happened); callbacks booked count those booked
by callers who found the queue closed, and in the tree for the queue (an emergency
switch). Occupancy is the queue's own agents'; agents
shared by queues (a group) have theirs in ``GroupFigures``, with their time split by
the queue whose caller they served. Definitions, stated with the
figures: **service level** is the share of the callers who queued (answered or hung up
in the queue; not those who took a callback instead) answered within the target, the
definition of ``ivr.queue.erlang`` (abandoners count against it, however soon they
hang up); **ASA** the mean wait of the answered; **occupancy** the agents' busy time
over their staffed time (calls finished after a shift ends count, so it can pass 100 %).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ivr.plan.centre import HOTLINE, Day, GroupTally, Tally

log = logging.getLogger(__name__)

DEFINITION = ("service level = answered within {t:g} s / (answered + abandoned), callers "
              "who took a callback left out; ASA = mean wait of the answered; occupancy = "
              "agents' busy time / staffed time")


@dataclass(frozen=True, slots=True)
class Row:
    """One queue over one interval (or over the run, for totals)."""

    start_s: float
    agents: float
    offered: float
    answered: float
    abandoned: float
    service_level: float | None
    asa_s: float | None
    occupancy: float | None
    booked: float
    served: float
    retrials: float
    closed: float
    #: of ``booked``, by callers who found the queue closed
    booked_closed: float = 0.0
    #: of ``booked``, in the tree itself (an emergency switch)
    booked_tree: float = 0.0
    #: of ``served``, made after their window's end
    late: float = 0.0


@dataclass(frozen=True, slots=True)
class GroupFigures:
    """Agents shared by ``queues`` (served in that order) over the run."""

    queues: tuple[str, ...]
    agent_hours: float
    peak_agents: int
    occupancy: float | None
    #: per queue, the share of the group's busy time spent on its callers
    share: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class Figures:
    interval_s: float
    target_s: float
    runs: int
    #: per queue, its intervals
    queues: dict[str, tuple[Row, ...]]
    totals: dict[str, Row]
    #: callbacks booked and not made by the end, per queue (mean per run)
    owed: dict[str, float]
    #: the hotline's calls per interval: calls, retrials, queued, served, hung_up, callback
    hotline: dict[str, tuple[float, ...]]
    groups: dict[str, GroupFigures] = field(default_factory=dict)

    @property
    def day_total(self) -> Row:
        return _row(0.0, [t for t in self.totals.values()], self.interval_s, totals=True)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def _sum(tallies: Sequence[Tally], field: str, i: int) -> float:
    return math.fsum(getattr(t, field)[i] for t in tallies)


def _interval(tallies: Sequence[Tally], i: int, width: float) -> Row:
    runs = len(tallies)
    answered, abandoned = _sum(tallies, "answered", i), _sum(tallies, "abandoned", i)
    agents = tallies[0].agents[i]
    return Row(i * width, agents, _sum(tallies, "offered", i) / runs, answered / runs,
               abandoned / runs, _ratio(_sum(tallies, "within", i), answered + abandoned),
               _ratio(_sum(tallies, "wait_answered_s", i), answered),
               _ratio(_sum(tallies, "busy_s", i) / runs, agents * width),
               (_sum(tallies, "booked", i) + _sum(tallies, "booked_closed", i)
                + _sum(tallies, "booked_tree", i)) / runs,
               _sum(tallies, "served", i) / runs,
               _sum(tallies, "retrials", i) / runs, _sum(tallies, "closed", i) / runs,
               _sum(tallies, "booked_closed", i) / runs, _sum(tallies, "booked_tree", i) / runs,
               _sum(tallies, "late", i) / runs)


def _row(start_s: float, rows: list[Row], width: float, totals: bool = False) -> Row:
    """Rows summed: rates weighted by what they are rates of."""
    queued = sum(r.answered + r.abandoned for r in rows)
    answered = sum(r.answered for r in rows)
    staffed = sum(r.agents for r in rows) * (1 if totals else width)
    busy = sum((r.occupancy or 0.0) * r.agents * (1 if totals else width) for r in rows)
    return Row(start_s, sum(r.agents for r in rows), sum(r.offered for r in rows), answered,
               sum(r.abandoned for r in rows),
               _ratio(sum((r.service_level or 0.0) * (r.answered + r.abandoned) for r in rows),
                      queued),
               _ratio(sum((r.asa_s or 0.0) * r.answered for r in rows), answered),
               _ratio(busy, staffed), sum(r.booked for r in rows), sum(r.served for r in rows),
               sum(r.retrials for r in rows), sum(r.closed for r in rows),
               sum(r.booked_closed for r in rows), sum(r.booked_tree for r in rows),
               sum(r.late for r in rows))


def figures(days: Sequence[Day]) -> Figures:
    """The figures of runs of one scenario (each a ``Day`` of the same shape)."""
    first = days[0]
    width, runs = first.interval_s, len(days)
    queues: dict[str, tuple[Row, ...]] = {}
    totals: dict[str, Row] = {}
    owed: dict[str, float] = {}
    for name in first.queues:
        tallies = [d.queues[name] for d in days]
        rows = tuple(_interval(tallies, i, width) for i in range(len(tallies[0].agents)))
        queues[name] = rows
        # for the whole run, ``agents`` is agent-hours staffed
        totals[name] = replace(_row(0.0, list(rows), width),
                               agents=sum(r.agents for r in rows) * width / 3600.0)
        owed[name] = sum(t.owed for t in tallies) / runs
    hotline = {key: tuple(math.fsum(d.hotline[key][i] for d in days) / runs
                          for i in range(len(first.hotline[key]))) for key in HOTLINE}
    groups = {name: _group([d.groups[name] for d in days], width) for name in first.groups}
    return Figures(width, first.target_s, runs, queues, totals, owed, hotline, groups)


def _group(tallies: Sequence[GroupTally], width: float) -> GroupFigures:
    first = tallies[0]
    staffed = sum(first.agents) * width
    busy = math.fsum(math.fsum(t.busy_s) for t in tallies) / len(tallies)
    by_queue = {q: math.fsum(t.busy_by_queue_s[q] for t in tallies) / len(tallies)
                for q in first.queues}
    total = math.fsum(by_queue.values())
    return GroupFigures(first.queues, staffed / 3600.0, max(first.agents, default=0),
                        _ratio(busy, staffed), {q: _ratio(v, total) for q, v in by_queue.items()})

