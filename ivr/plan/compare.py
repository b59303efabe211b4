"""Another tree under the same callers (``ivr plan --against B.yaml``): the differences
B − A in the day's figures, with 95 % intervals over seeds.

Tree B's walks are made by the same simulated callers as A's (each pool's caller ``j``
of a class is the same person, from the same stream: ``ivr.plan.walks``), and each seed
runs both trees on the same calls and the same draws of walks (common random numbers),
so a difference is the trees', not luck's; the interval is Student's t over the seeds'
paired differences. No I/O.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ivr.errors import ConfigError
from ivr.plan.figures import Figures, Row, figures
from ivr.plan.scenario import Scenario
from ivr.plan.walks import PER_CLASS, walk_tree
from ivr.tuning import simulate
from ivr.tuning.mix import Mix

log = logging.getLogger(__name__)

#: Student's t, two-sided 95 %, by degrees of freedom (beyond: the normal's)
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042}
#: the figures compared, per queue and for the whole centre
MEASURES = ("offered", "answered", "abandoned", "service_level", "asa_s", "booked", "retrials")
#: and the hotline's own
HOTLINE = ("queued", "served", "hung_up")


@dataclass(frozen=True, slots=True)
class Difference:
    """B − A, the mean over seeds, and its 95 % interval (None with one seed)."""

    value: float
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class Comparison:
    seeds: tuple[int, ...]
    a: Figures
    b: Figures
    #: per queue (and "all"), per measure
    queues: dict[str, dict[str, Difference]]
    hotline: dict[str, Difference]


def on_tree(scenario: Scenario, spec: simulate.Spec, mix: Mix, per_class: int = PER_CLASS
            ) -> Scenario:
    """``scenario`` with the tree of ``spec``, walked by the same callers; ``ConfigError``
    when it puts callers in a queue the scenario has no agents for."""
    walks = walk_tree(spec, mix, scenario.demand.classes, per_class)
    missing = sorted(walks.queues() - set(scenario.agents))
    if missing:
        raise ConfigError(f"{spec.menu.source} puts callers in {', '.join(missing)}, which "
                          "the traffic file has no figures for")
    return replace(scenario, walks=walks)


def _t95(df: int) -> float:
    return next((t for d, t in sorted(_T95.items(), reverse=True) if d <= df), 1.96) \
        if df < 31 else 1.96


def difference(values: Sequence[float]) -> Difference:
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return Difference(mean, None, None)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half = _t95(len(values) - 1) * sd / math.sqrt(len(values))
    return Difference(mean, mean - half, mean + half)


def _value(row: Row, measure: str) -> float | None:
    value: float | None = getattr(row, measure)
    return value


def compare(a: Scenario, b: Scenario, seeds: Sequence[int]) -> Comparison:
    """Run ``a`` and ``b`` on each seed, on the same calls, and difference them."""
    days_a, days_b = [], []
    for seed in seeds:
        calls = a.calls(seed)
        days_a.append(a.run(seed, calls))
        days_b.append(b.run(seed, calls))
    runs_a, runs_b = [figures([d]) for d in days_a], [figures([d]) for d in days_b]
    queues: dict[str, dict[str, Difference]] = {}
    for name in [*runs_a[0].totals, "all"]:
        per: dict[str, Difference] = {}
        for measure in MEASURES:
            pairs = []
            for fa, fb in zip(runs_a, runs_b, strict=True):
                ra = fa.day_total if name == "all" else fa.totals[name]
                rb = fb.day_total if name == "all" else fb.totals[name]
                va, vb = _value(ra, measure), _value(rb, measure)
                if va is not None and vb is not None:
                    pairs.append(vb - va)
            if pairs:
                per[measure] = difference(pairs)
        queues[name] = per
    hotline = {key: difference([sum(fb.hotline[key]) - sum(fa.hotline[key])
                                for fa, fb in zip(runs_a, runs_b, strict=True)])
               for key in HOTLINE}
    return Comparison(tuple(seeds), figures(days_a), figures(days_b), queues, hotline)
