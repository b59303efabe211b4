"""The fewest agents per queue and interval that meet a service-level target in the
simulation (``ivr plan --staff-for 0.8/20``), beside Erlang A's plan, confirmed on fresh
seeds.

The search starts two agents under Erlang A's plan for each interval's simulated calls
(never under 0) and runs the scenario on the same ``seeds`` each round (common random
numbers: a change of plan, not of luck, moves the figures). An interval *misses* when
its service level, pooled over the seeds, is under the target; each round adds an agent
to every interval that misses, until none does. One pass then takes an agent from every
interval that met the target with one to spare, and puts back those that then miss,
and the rounds go on. Intervals interact (a backlog, callbacks made later, callers who
try again), so the result is the fewest this greedy search finds, not a proven minimum.

The proposal is then run on ``fresh`` seeds it never saw: per interval, the share of
those runs meeting the target on their own, and the pooled service level. No I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ivr.plan.centre import Day
from ivr.plan.figures import Figures, figures
from ivr.plan.scenario import Scenario
from ivr.plan.staffing import Agents, Target, erlang_a

log = logging.getLogger(__name__)

MAX_ROUNDS = 40
#: the search starts this many agents under Erlang A's plan
START_BELOW_ERLANG = 2


@dataclass(frozen=True, slots=True)
class Proposal:
    target: Target
    agents: Agents
    erlang: Agents
    seeds: tuple[int, ...]
    rounds: int
    converged: bool
    #: on the fresh seeds
    fresh: tuple[int, ...]
    confirmed: Figures
    #: per queue and interval, the share of fresh runs meeting the target (None: nobody
    #: queued in any of them)
    met_share: dict[str, tuple[float | None, ...]]

    def intervals_met(self) -> tuple[int, int]:
        """(intervals meeting the target pooled over the fresh seeds, intervals with calls)."""
        met = total = 0
        for rows in self.confirmed.queues.values():
            for row in rows:
                if row.service_level is not None:
                    total += 1
                    met += row.service_level >= self.target.level - 1e-12
        return met, total


def _misses(days: Sequence[Day], target: Target) -> dict[str, list[bool]]:
    out = {}
    for name, rows in figures(days).queues.items():
        out[name] = [r.service_level is not None and r.service_level < target.level - 1e-12
                     for r in rows]
    return out


def staff_for(scenario: Scenario, target: Target, seeds: Sequence[int],
              fresh: Sequence[int], progress: Callable[[int, int], None] | None = None
              ) -> Proposal:
    """Search the fewest agents meeting ``target`` (see the module docstring)."""
    if scenario.rules.target_s != target.within_s:
        raise ValueError("the scenario's target_s must be the target's seconds")

    def runs(agents: Agents) -> list[Day]:
        trial = scenario.with_agents(agents)
        return [trial.run(s) for s in seeds]

    base = figures(runs(scenario.agents))
    offered = {name: [r.answered + r.abandoned for r in rows]
               for name, rows in base.queues.items()}
    plan = erlang_a(offered, {n: d.mean_s for n, d in scenario.handle.items()},
                    {n: d.mean_s for n, d in scenario.patience.items()},
                    scenario.rules.interval_s, target.level, target.within_s)
    current = {name: [max(0, a - START_BELOW_ERLANG) if a else 0 for a in row]
               for name, row in plan.items()}
    rounds, trimmed, converged = 0, False, False
    while rounds < MAX_ROUNDS:
        rounds += 1
        days = runs({n: tuple(r) for n, r in current.items()})
        misses = _misses(days, target)
        if progress:
            progress(rounds, sum(sum(m) for m in misses.values()))
        if not any(any(m) for m in misses.values()):
            if trimmed:
                converged = True
                break
            trimmed = True
            current = _trim(current, target, runs)
            continue
        for name, row in current.items():
            for i, miss in enumerate(misses[name]):
                row[i] += miss
    agents = {n: tuple(r) for n, r in current.items()}
    confirmed_days = [scenario.with_agents(agents).run(s) for s in fresh]
    met_share = {}
    per_run = [figures([d]) for d in confirmed_days]
    for name in agents:
        shares: list[float | None] = []
        for i in range(len(agents[name])):
            levels = [f.queues[name][i].service_level for f in per_run]
            known = [v for v in levels if v is not None]
            shares.append(sum(v >= target.level - 1e-12 for v in known) / len(known)
                          if known else None)
        met_share[name] = tuple(shares)
    return Proposal(target, agents, plan, tuple(seeds), rounds, converged, tuple(fresh),
                    figures(confirmed_days), met_share)


def _trim(current: dict[str, list[int]], target: Target,
          runs: Callable[[Agents], list[Day]]) -> dict[str, list[int]]:
    """One agent fewer wherever the target is met, kept only where it still is."""
    fewer = {name: [max(0, a - 1) for a in row] for name, row in current.items()}
    misses = _misses(runs({n: tuple(r) for n, r in fewer.items()}), target)
    return {name: [f + 1 if miss and c > f else f
                   for f, c, miss in zip(fewer[name], current[name], misses[name], strict=True)]
            for name in current}
