"""One scenario of the centre, ready to run on any seed: who calls when (``arrivals``),
how the tree ends their calls (``walks``), and the queues with their agents, handle
times and patience (``centre``), groups of shared agents (``skills``), and per queue and
interval the window a callback booked then is made in: the soonest of the best windows
the flow's advice gives (``ivr.queue.advice.Centre.advise``, as
``ivr.flow.caller.book_callback`` books it), in seconds from the run's start. Each run
draws its calls and its queue anew from its seed alone, so a figure is the same whatever
else runs beside it. No I/O.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta

from ivr.errors import ConfigError
from ivr.plan import arrivals, centre, skills
from ivr.plan.arrivals import Demand, Recorded, demand
from ivr.plan.centre import Day, Duration, GroupSetup, QueueSetup, Rules, Window
from ivr.plan.staffing import Agents, Group, from_traffic, repeat
from ivr.plan.walks import PER_CLASS, Walks, walk_tree
from ivr.queue import calendar
from ivr.queue.advice import HORIZON, Centre, Slot
from ivr.queue.traffic import Traffic
from ivr.tuning import simulate
from ivr.tuning.mix import Mix
from ivr.tuning.routes import Routes
from ivr.tuning.routes import build as build_routes

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A day or a week of the centre (see the module docstring)."""

    demand: Demand
    walks: Walks
    handle: dict[str, Duration]
    patience: dict[str, Duration]
    agents: Agents
    open: dict[str, tuple[bool, ...]]
    rules: Rules
    #: agents shared by queues, per interval over the whole run
    groups: tuple[GroupSetup, ...] = ()
    #: per queue and interval, a callback's window (empty: the next open interval)
    windows: dict[str, tuple[Window, ...]] = field(default_factory=dict)

    @property
    def queues(self) -> tuple[str, ...]:
        return tuple(self.agents)

    def with_agents(self, agents: Mapping[str, tuple[int, ...]]) -> Scenario:
        """The scenario with these queues' own agents (the groups' kept)."""
        return replace(self, agents={**self.agents, **agents})

    def setups(self) -> dict[str, QueueSetup]:
        return {name: QueueSetup(name, self.handle[name], self.patience[name], row,
                                 self.open[name], self.windows.get(name, ()))
                for name, row in self.agents.items()}

    def calls(self, seed: int) -> list[centre.Call]:
        """The hotline's calls on ``seed`` (drawn from ``2 * seed``)."""
        return arrivals.calls(self.demand.per_hour, 2 * seed)

    def run(self, seed: int, calls: list[centre.Call] | None = None) -> Day:
        """The scenario on ``seed``: its calls drawn from ``2 * seed`` (or given, as
        ``calls(seed)`` made them: a search reuses them), its queues from ``2 * seed + 1``."""
        made = self.calls(seed) if calls is None else calls
        return centre.run(made, self.walks, self.setups(), self.rules, 2 * seed + 1,
                          self.groups, skills.pool)


def durations(traffic: Traffic, handle: str = "exponential", handle_cv: float = 1.0,
              patience: str = "exponential", patience_cv: float = 1.0
              ) -> tuple[dict[str, Duration], dict[str, Duration]]:
    """Per queue, its handle time and its callers' patience: the traffic file's means,
    with the distributions asked for."""
    return ({n: Duration(handle, q.aht_s, handle_cv) for n, q in traffic.queues.items()},
            {n: Duration(patience, q.patience_s, patience_cv) for n, q in traffic.queues.items()})


def build(traffic: Traffic, mix: Mix, spec: simulate.Spec, days: tuple[calendar.Day, ...], *,
          scale: float = 1.0, rules: Rules | None = None,
          handle: tuple[str, float] = ("exponential", 1.0),
          patience: tuple[str, float] = ("exponential", 1.0),
          plan: Mapping[str, list[int]] | None = None, groups: tuple[Group, ...] = (),
          per_class: int = PER_CLASS, seed: int = 0, learnt: Recorded | None = None,
          hourly: tuple[float, ...] | None = None) -> Scenario:
    """The scenario of ``days`` from the traffic file (or the hours ``learnt`` from
    recorded calls, ``hourly`` on top of ``scale``), the mix and the tree of ``spec``;
    ``plan`` (per queue, agents per interval of a day) over the traffic file's agents,
    ``groups`` of shared agents beside them (a queue a group serves and the plan leaves
    out keeps the traffic file's own agents). Raise ``ConfigError`` when the tree
    enqueues in a queue the traffic file lacks."""
    rules = rules or Rules()
    need = demand(traffic, mix, spec_routes(spec), days, scale, learnt=learnt, hourly=hourly)
    walks = walk_tree(spec, mix, need.classes, per_class, seed)
    missing = sorted(walks.queues() - set(traffic.queues))
    if missing:
        raise ConfigError(f"the tree puts callers in {', '.join(missing)}, which the traffic "
                          f"file {traffic.source} has no figures for")
    agents, opened = from_traffic(traffic, days, rules.interval_s)
    if plan:
        agents.update(repeat(plan, len(days)))
    handles, patiences = durations(traffic, *handle, *patience)
    shared = tuple(GroupSetup(g.name, g.queues, g.agents * len(days)) for g in groups)
    windows = callback_windows(traffic, days, rules.interval_s) if rules.callback_take else {}
    return Scenario(need, walks, handles, patiences, agents, opened, rules, shared, windows)


@dataclass(frozen=True, slots=True)
class _Advisor(Centre):
    """The flow's advice, its hours made once per queue: a day's advice walks a week
    of hours for every interval, and the same hours each time."""

    made: dict[str, tuple[float, list[float], list[Slot]]] = field(default_factory=dict)

    def prepare(self, first: datetime, last: datetime) -> None:
        for name in self.traffic.queues:
            hours = list(Centre.slots(self, name, first, last))
            self.made[name] = (hours[0].start.timestamp(), [h.start.timestamp() for h in hours],
                               hours)

    def slots(self, queue: str, start: datetime, end: datetime) -> Iterator[Slot]:
        made = self.made.get(queue)
        if made is None or start.tzinfo is None or end.tzinfo is None:
            yield from Centre.slots(self, queue, start, end)
            return
        base, starts, hours = made
        # the hour containing ``start``: the last one starting at it or before
        i = int((start.timestamp() - base) // 3600)
        while 0 < i < len(starts) and starts[i] > start.timestamp():
            i -= 1
        while i + 1 < len(starts) and starts[i + 1] <= start.timestamp():
            i += 1
        if i < 0 or i >= len(starts):
            yield from Centre.slots(self, queue, start, end)
            return
        stop = end.timestamp()
        while i < len(starts) and starts[i] < stop:
            yield hours[i]
            i += 1
        if i == len(starts) and hours[-1].end.timestamp() < stop:
            yield from Centre.slots(self, queue, hours[-1].end, end)


def callback_windows(traffic: Traffic, days: tuple[calendar.Day, ...], interval_s: float
                     ) -> dict[str, tuple[Window, ...]]:
    """Per queue and interval of ``days``, the window a callback booked at the interval's
    start gets: the first (soonest) of the advice's best windows, in seconds from the
    first day's local midnight; (inf, inf) where the advice has none."""
    start = datetime.combine(days[0].date, time(0), tzinfo=traffic.zone)
    advisor = _Advisor(traffic)
    advisor.prepare(start, start + timedelta(days=len(days) + 1) + HORIZON)
    n = len(days) * int(86400 // interval_s)
    out: dict[str, tuple[Window, ...]] = {}
    for name in traffic.queues:
        row: list[Window] = []
        known: Window | None = None
        for i in range(n):
            at = start + timedelta(seconds=i * interval_s)
            # within an hour the advice changes only by dropping the windows starting
            # before ``at``: one that starts after it still comes first
            if known is None or at.minute == 0 or known[0] < i * interval_s:
                best = advisor.advise(name, at).windows
                known = ((best[0].start - start).total_seconds(),
                         (best[0].end - start).total_seconds()) if best else (math.inf, math.inf)
            row.append(known)
        out[name] = tuple(row)
    return out


def spec_routes(spec: simulate.Spec) -> Routes:
    return build_routes(spec.menu)
