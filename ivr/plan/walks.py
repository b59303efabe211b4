"""The tree's part of a day: per class of caller (language, reason), a pool of whole
calls walked through the real call flow by ``ivr tune``'s simulated callers
(``ivr.tuning.simulate``: keys, speech, wrong keys, barge-in, self-service that contains
them, notices, patience in the menus), each kept as where it ended and when.

The centre draws each hotline call's walk from its class's pool: walking every one of a
day's calls anew costs about 0.25 ms each (``bench/bench_tune.py``), drawing a walked
one a fraction of a microsecond; with ``per_class`` walks per class the shares of the
outcomes are those of the tree within sampling error (64 walks: a share's standard
error is at most 6 points, far less for the common ones). No I/O.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from ivr.plan.centre import CALLBACK, HUNG_UP, QUEUED, SERVED, Walk
from ivr.tuning import simulate
from ivr.tuning.mix import Mix

log = logging.getLogger(__name__)

PER_CLASS = 64


@dataclass(frozen=True, slots=True)
class Walks:
    """Per class (the order of ``classes``), its pool of walks."""

    classes: tuple[tuple[str, str], ...]
    pools: tuple[tuple[Walk, ...], ...]

    def walk(self, klass: int, u: float) -> Walk:
        pool = self.pools[klass]
        return pool[int(u * len(pool))]

    def queues(self) -> set[str]:
        return {q for pool in self.pools for outcome, _, q in pool if q and outcome == QUEUED}

    def shares(self) -> dict[str, float]:
        """The share of each outcome over all the walks (every class alike)."""
        counts: dict[str, int] = {}
        for pool in self.pools:
            for outcome, _, _ in pool:
                counts[outcome] = counts.get(outcome, 0) + 1
        total = sum(counts.values()) or 1
        return {k: v / total for k, v in sorted(counts.items())}


def _walk(result: simulate.Result, wanted: str | None) -> Walk:
    """Where a walk ended; a callback booked in the tree (an emergency switch) is for
    the queue the caller wanted, which makes it."""
    outcome, route_s, elapsed, contained, _, queue, heard = result
    if outcome in (simulate.ROUTED, simulate.MISROUTED) and queue is not None:
        return QUEUED, route_s if route_s is not None else elapsed, queue
    if outcome == simulate.CALLBACK:
        return CALLBACK, elapsed, wanted
    if outcome == simulate.DEFLECTED or (outcome == simulate.ROUTED and contained):
        return SERVED, elapsed, None
    return HUNG_UP, elapsed, None


def walk_tree(spec: simulate.Spec, mix: Mix, classes: tuple[tuple[str, str], ...],
              per_class: int = PER_CLASS, seed: int = 0) -> Walks:
    """``per_class`` callers of each class through the tree of ``spec``."""
    tree = spec.tree()
    pools = []
    for number, (lang, target) in enumerate(classes):
        pool = []
        for j in range(per_class):
            index = number * per_class + j
            rng = simulate.stream(seed, index)
            who = simulate.caller(mix, rng, index, seed)
            # the class is the plan's; the rest of the caller (kind, patience, phone) the mix's
            speaks = rng.random() < mix.speaks(lang)
            who = replace(who, lang=lang, target=target, speaks=speaks)
            pool.append(_walk(tree.call(who, rng, mix.wrong_key), tree.routes.queue.get(target)))
        pools.append(tuple(pool))
    return Walks(classes, tuple(pools))
