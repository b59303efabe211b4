"""The fewest agents per queue and interval that meet a service-level target in the
simulation (``ivr plan --staff-for 0.8/20``), beside Erlang A's plan, confirmed on fresh
seeds.

The search starts one agent under Erlang A's plan for each interval's simulated calls
(never under one where the queue is open and calls are forecast for it) and runs the
scenario on the same ``seeds`` each round (common random numbers: a change of plan, not
of luck, moves the figures). An interval *misses* unless it meets the target with 90 %
confidence over the seeds: the mean of its service level per seed, less its one-sided
90 % Student's t margin, is at the target or above (with callers in fewer than two
seeds: their pooled level is). Each round adds an agent to every interval that misses,
until none does. One pass then takes an agent from every interval that met the target,
puts back those that then miss, and the rounds go on. Intervals interact (a backlog,
callbacks made later, callers who try again), so the result is the fewest this greedy
search finds, not a proven minimum.

Common random numbers make the search fit its own seeds: an interval that met the
target on them by luck may miss on others. So the proposal is then run on ``check``
seeds, apart from the search's, and every interval whose service level pooled over them
misses gets an agent, until none does (at most ``CHECK_ROUNDS`` rounds). It is then run on
``fresh`` seeds, which neither step saw: per interval, the share of those runs meeting
the target on their own, and the pooled service level; per queue, the day's level; and
the intervals *short* of it beyond chance (the one-sided 95 % upper bound of their mean
level over the fresh seeds under the target), the ones a re-run shows wrongly staffed.
An interval pooled a point or two under the target on five fresh seeds is what chance
gives a plan that meets it: with 90 % confidence an interval, some of a day's 150 miss.

Groups of shared agents (skills) stay as the plan file gives them: the search moves only
each queue's own agents, and says so. For a queue a group serves it starts from Erlang
A's plan less the group's agents (at least none), with no floor of one agent: the
group's may be all it needs. No I/O.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ivr.plan.centre import Day
from ivr.plan.figures import Figures, figures
from ivr.plan.scenario import Scenario
from ivr.plan.staffing import Agents, Target, erlang_a

log = logging.getLogger(__name__)

MAX_ROUNDS = 40
#: the search starts this many agents under Erlang A's plan
START_BELOW_ERLANG = 1


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
    #: the seeds the proposal was checked on, and the agents that check added
    check: tuple[int, ...] = ()
    check_added: int = 0
    #: per queue and interval, the fresh runs' levels (None: nobody queued in that run)
    fresh_levels: dict[str, tuple[tuple[float | None, ...], ...]] = field(default_factory=dict)

    def intervals_met(self) -> tuple[int, int]:
        """(intervals meeting the target pooled over the fresh seeds, intervals with calls)."""
        met = total = 0
        for rows in self.confirmed.queues.values():
            for row in rows:
                if row.service_level is not None:
                    total += 1
                    met += row.service_level >= self.target.level - 1e-12
        return met, total

    def days_met(self) -> dict[str, float | None]:
        """Per queue, its day's service level pooled over the fresh seeds."""
        return {name: t.service_level for name, t in self.confirmed.totals.items()}

    def short(self) -> list[tuple[str, int]]:
        """The intervals short of the target beyond chance on the fresh seeds: the
        one-sided 95 % upper bound of their mean level over them is under it."""
        out = []
        for name, rows in self.fresh_levels.items():
            for i, levels in enumerate(rows):
                bound = bound_of(levels, _T95, upper=True)
                if bound is not None and bound < self.target.level - 1e-12:
                    out.append((name, i))
        return out


#: Student's t, one-sided 90 % and 95 %, by degrees of freedom (beyond 30: the normal's)
_T90 = {1: 3.078, 2: 1.886, 3: 1.638, 4: 1.533, 5: 1.476, 6: 1.440, 7: 1.415, 8: 1.397,
        9: 1.383, 10: 1.372, 12: 1.356, 15: 1.341, 20: 1.325, 30: 1.310, 31: 1.282}
_T95 = {1: 6.314, 2: 2.920, 3: 2.353, 4: 2.132, 5: 2.015, 6: 1.943, 7: 1.895, 8: 1.860,
        9: 1.833, 10: 1.812, 12: 1.782, 15: 1.753, 20: 1.725, 30: 1.697, 31: 1.645}
CONFIDENCE = 0.9
#: rounds of the check on seeds apart from the search's
CHECK_ROUNDS = 10


def _t(df: int, table: dict[int, float]) -> float:
    """The table's t for ``df`` degrees of freedom (the next lower one it lists)."""
    return next(t for d, t in sorted(table.items(), reverse=True) if d <= df)


def bound_of(levels: Sequence[float | None], table: dict[int, float],
             upper: bool = False) -> float | None:
    """A one-sided bound of an interval's mean service level over seeds (with one seed
    of callers: its level; with none: None)."""
    known = [v for v in levels if v is not None]
    if len(known) < 2:
        return known[0] if known else None
    mean = math.fsum(known) / len(known)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in known) / (len(known) - 1))
    margin = _t(len(known) - 1, table) * sd / math.sqrt(len(known))
    return mean + margin if upper else mean - margin


def lower_bound(levels: Sequence[float | None]) -> float | None:
    """The one-sided 90 % lower bound of an interval's mean service level over seeds."""
    return bound_of(levels, _T90)


def _misses(days: Sequence[Day], target: Target) -> dict[str, list[bool]]:
    per_seed = [figures([d]) for d in days]
    out: dict[str, list[bool]] = {}
    for name, rows in per_seed[0].queues.items():
        out[name] = []
        for i in range(len(rows)):
            bound = lower_bound([f.queues[name][i].service_level for f in per_seed])
            out[name].append(bound is not None and bound < target.level - 1e-12)
    return out


def staff_for(scenario: Scenario, target: Target, seeds: Sequence[int],
              fresh: Sequence[int], progress: Callable[[int, int], None] | None = None,
              check: Sequence[int] = ()) -> Proposal:
    """Search the fewest agents meeting ``target`` (see the module docstring)."""
    if scenario.rules.target_s != target.within_s:
        raise ValueError("the scenario's target_s must be the target's seconds")

    made = {s: scenario.calls(s) for s in seeds}  # the same calls every round

    def runs(agents: Agents) -> list[Day]:
        trial = scenario.with_agents(agents)
        return [trial.run(s, made[s]) for s in seeds]

    base = figures(runs(scenario.agents))
    # Erlang A's calls: the first calls reaching each queue in the scenario as staffed
    # (those who then took a callback included, callers trying again not)
    offered = {name: [r.offered - r.retrials for r in rows]
               for name, rows in base.queues.items()}
    plan = erlang_a(offered, {n: d.mean_s for n, d in scenario.handle.items()},
                    {n: d.mean_s for n, d in scenario.patience.items()},
                    scenario.rules.interval_s, target.level, target.within_s)
    floor = _floor(scenario)
    shared = _shared(scenario)
    current = {name: [max(floor[name][i], a - START_BELOW_ERLANG - shared[name][i])
                      for i, a in enumerate(row)]
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
            current = _trim(current, floor, target, runs)
            continue
        for name, row in current.items():
            for i, miss in enumerate(misses[name]):
                row[i] += miss
    added = _check(scenario, target, current, check)
    agents = {n: tuple(r) for n, r in current.items()}
    confirmed_days = [scenario.with_agents(agents).run(s) for s in fresh]
    met_share, fresh_levels = {}, {}
    per_run = [figures([d]) for d in confirmed_days]
    for name in agents:
        shares: list[float | None] = []
        levels_at = []
        for i in range(len(agents[name])):
            levels = tuple(f.queues[name][i].service_level for f in per_run)
            known = [v for v in levels if v is not None]
            shares.append(sum(v >= target.level - 1e-12 for v in known) / len(known)
                          if known else None)
            levels_at.append(levels)
        met_share[name], fresh_levels[name] = tuple(shares), tuple(levels_at)
    return Proposal(target, agents, plan, tuple(seeds), rounds, converged, tuple(fresh),
                    figures(confirmed_days), met_share, tuple(check), added, fresh_levels)


def _check(scenario: Scenario, target: Target, current: dict[str, list[int]],
           check: Sequence[int]) -> int:
    """An agent more wherever the level pooled over the ``check`` seeds misses, until
    none does (see the module docstring); how many agents that added."""
    made = {s: scenario.calls(s) for s in check}
    added = 0
    for _ in range(CHECK_ROUNDS if check else 0):
        trial = scenario.with_agents({n: tuple(r) for n, r in current.items()})
        pooled = figures([trial.run(s, made[s]) for s in check])
        short = [(name, i) for name in current
                 for i, row in enumerate(pooled.queues[name])
                 if row.service_level is not None and row.service_level < target.level - 1e-12]
        if not short:
            break
        for name, i in short:
            current[name][i] += 1
        added += len(short)
    return added


def _shared(scenario: Scenario) -> dict[str, list[int]]:
    """Per queue and interval, the agents of the groups serving it."""
    out = {name: [0] * len(row) for name, row in scenario.agents.items()}
    for group in scenario.groups:
        for name in group.queues:
            out[name] = [a + b for a, b in zip(out[name], group.agents, strict=True)]
    return out


def _floor(scenario: Scenario) -> dict[str, list[int]]:
    """Per queue, one agent wherever it is open and calls are forecast for it, so that
    an interval the search's seeds happened to see no caller in is not left unstaffed
    (none where a group serves the queue)."""
    grouped = {name for group in scenario.groups for name in group.queues}
    width = scenario.rules.interval_s
    forecast: dict[str, set[int]] = {}
    for queue, row in zip(scenario.demand.queue_of, scenario.demand.per_hour, strict=True):
        if queue is not None:
            forecast.setdefault(queue, set()).update(h for h, c in enumerate(row) if c > 0)
    return {name: [int(opened and name not in grouped
                       and int(i * width // 3600) in forecast.get(name, ()))
                   for i, opened in enumerate(scenario.open[name])]
            for name in scenario.agents}


def _trim(current: dict[str, list[int]], floor: dict[str, list[int]], target: Target,
          runs: Callable[[Agents], list[Day]]) -> dict[str, list[int]]:
    """One agent fewer wherever the target is met, kept only where it still is."""
    fewer = {name: [max(floor[name][i], a - 1) for i, a in enumerate(row)]
             for name, row in current.items()}
    misses = _misses(runs({n: tuple(r) for n, r in fewer.items()}), target)
    return {name: [f + 1 if miss and c > f else f
                   for f, c, miss in zip(fewer[name], current[name], misses[name], strict=True)]
            for name in current}
