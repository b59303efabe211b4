"""A seeded discrete-event simulation of one queue, to check the Erlang formulas.

First come, first served with ``agents`` agents: a caller's offered wait is fixed by the
callers before them, so the simulation only keeps, per agent, the time it next falls
free (a heap). A caller whose patience runs out before that time hangs up and takes no
agent. This is exact for the M/M/n+M model and needs no event calendar, which is what
makes it fast. Pure: no I/O, randomness only from the given seed.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Student's t, two-sided 99%, for batches - 1 degrees of freedom.
_T99 = {9: 3.250, 19: 2.861, 29: 2.756, 49: 2.680}


@dataclass(frozen=True, slots=True)
class Estimate:
    """A batch-means estimate: ``mean`` and its standard error."""

    mean: float
    stderr: float
    batches: int

    @property
    def half_width_99(self) -> float:
        """Half-width of the 99% confidence interval."""
        return _T99.get(self.batches - 1, 2.576) * self.stderr

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies in the 99% confidence interval."""
        return abs(value - self.mean) <= self.half_width_99


@dataclass(frozen=True, slots=True)
class Simulated:
    """Simulated counterparts of :class:`ivr.queue.erlang.Metrics`."""

    p_wait: Estimate
    asa_s: Estimate
    service_level: Estimate
    p_abandon: Estimate
    mean_wait_s: Estimate
    held_wait_s: Estimate
    callers: int


def simulate(
    calls_per_hour: float,
    aht_s: float,
    agents: int,
    patience_s: float | None = None,
    target_s: float = 20.0,
    callers: int = 200_000,
    seed: int = 0,
    batches: int = 20,
) -> Simulated:
    """Simulate ``callers`` arrivals (after a warm-up of a tenth as many) and batch the results."""
    if agents < 1 or calls_per_hour <= 0 or aht_s <= 0:
        raise ValueError("simulate needs agents >= 1, calls_per_hour > 0 and aht_s > 0")
    rng = random.Random(seed)
    arrival_rate = calls_per_hour / 3600.0
    service_rate = 1.0 / aht_s
    abandon_rate = 0.0 if patience_s is None or math.isinf(patience_s) else 1.0 / patience_s
    expo = rng.expovariate
    free_at = [0.0] * agents  # a heap: when each agent next falls free
    warmup = callers // 10
    per_batch = callers // batches
    # Per batch: waited, answered, answered within target, wait of answered, all waits, held.
    sums = [[0.0] * 6 for _ in range(batches)]
    now = 0.0
    for i in range(warmup + per_batch * batches):
        now += expo(arrival_rate)
        offered = free_at[0] - now
        if offered < 0.0:
            offered = 0.0
        patience = expo(abandon_rate) if abandon_rate else math.inf
        answered = offered <= patience
        if answered:
            heapq.heapreplace(free_at, now + offered + expo(service_rate))
        if i < warmup:
            continue
        acc = sums[(i - warmup) // per_batch]
        acc[0] += offered > 0.0
        acc[5] += offered
        if answered:
            acc[1] += 1
            acc[2] += offered <= target_s
            acc[3] += offered
            acc[4] += offered
        else:
            acc[4] += patience

    def estimate(values: list[float]) -> Estimate:
        mean = math.fsum(values) / len(values)
        var = math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
        return Estimate(mean, math.sqrt(var / len(values)), len(values))

    n = float(per_batch)
    return Simulated(
        p_wait=estimate([b[0] / n for b in sums]),
        asa_s=estimate([b[3] / b[1] if b[1] else math.inf for b in sums]),
        service_level=estimate([b[2] / n for b in sums]),
        p_abandon=estimate([1.0 - b[1] / n for b in sums]),
        mean_wait_s=estimate([b[4] / n for b in sums]),
        held_wait_s=estimate([b[5] / n for b in sums]),
        callers=per_batch * batches,
    )
