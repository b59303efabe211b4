"""One scenario of the centre, ready to run on any seed: who calls when (``arrivals``),
how the tree ends their calls (``walks``), and the queues with their agents, handle
times and patience (``centre``). Each run draws its calls and its queue anew from its
seed alone, so a figure is the same whatever else runs beside it. No I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ivr.errors import ConfigError
from ivr.plan import arrivals, centre
from ivr.plan.arrivals import Demand, Recorded, demand
from ivr.plan.centre import Day, Duration, QueueSetup, Rules
from ivr.plan.staffing import Agents, from_traffic, repeat
from ivr.plan.walks import PER_CLASS, Walks, walk_tree
from ivr.queue import calendar
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

    @property
    def queues(self) -> tuple[str, ...]:
        return tuple(self.agents)

    def with_agents(self, agents: Mapping[str, tuple[int, ...]]) -> Scenario:
        return replace(self, agents={**self.agents, **agents})

    def setups(self) -> dict[str, QueueSetup]:
        return {name: QueueSetup(name, self.handle[name], self.patience[name], row,
                                 self.open[name]) for name, row in self.agents.items()}

    def calls(self, seed: int) -> list[centre.Call]:
        """The hotline's calls on ``seed`` (drawn from ``2 * seed``)."""
        return arrivals.calls(self.demand.per_hour, 2 * seed)

    def run(self, seed: int, calls: list[centre.Call] | None = None) -> Day:
        """The scenario on ``seed``: its calls drawn from ``2 * seed`` (or given, as
        ``calls(seed)`` made them: a search reuses them), its queues from ``2 * seed + 1``."""
        made = self.calls(seed) if calls is None else calls
        return centre.run(made, self.walks, self.setups(), self.rules, 2 * seed + 1)


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
          plan: Mapping[str, list[int]] | None = None, per_class: int = PER_CLASS,
          seed: int = 0, learnt: Recorded | None = None,
          hourly: tuple[float, ...] | None = None) -> Scenario:
    """The scenario of ``days`` from the traffic file (or the hours ``learnt`` from
    recorded calls, ``hourly`` on top of ``scale``), the mix and the tree of ``spec``;
    ``plan`` (per queue, agents per interval of a day) over the traffic file's agents.
    Raise ``ConfigError`` when the tree enqueues in a queue the traffic file lacks."""
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
    return Scenario(need, walks, handles, patiences, agents, opened, rules)


def spec_routes(spec: simulate.Spec) -> Routes:
    return build_routes(spec.menu)
