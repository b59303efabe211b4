"""Thousands of calls: scenarios repeated up to a number of calls, in this process or in
several, each worker on its own sandbox app. The Python API behind ``ivr replay
--repeat/--calls-total`` and ``bench/bench_sim.py``.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.plural import counted
from ivr.sim.scenario import Result, Scenario, run
from ivr.sim.target import Target, sandbox

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Batch:
    """The results of a bulk run and how long it took (wall clock)."""

    results: tuple[Result, ...]
    wall_s: float
    workers: int

    @property
    def calls(self) -> int:
        """Calls to the hotline (an agent's call taking one of them is not one)."""
        return sum(len(r.hotline_traces) for r in self.results)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.passed]

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.wall_s if self.wall_s else 0.0

    def queues(self) -> Counter[str]:
        """How many calls ended in each queue (or how they ended otherwise)."""
        return Counter(
            t.outcome.queue or str(t.outcome.ended_by) for r in self.results
            for t in r.hotline_traces
        )

    def summary(self) -> str:
        return (
            f"{counted(self.calls, 'call')} ({counted(len(self.results), 'scenario run')}) in "
            f"{self.wall_s:.1f} s with {counted(self.workers, 'worker')}: "
            f"{self.calls_per_s:.0f} calls/s, {counted(len(self.failed), 'scenario run')} failed"
        )


def pick(scenarios: Sequence[Scenario], calls: int) -> list[Scenario]:
    """Scenarios in turn until they make at least ``calls`` calls to the hotline (as
    ``Batch.calls`` counts them; agents' calls only if there are no others)."""
    if not scenarios:
        return []
    hotline = any(spec.url is None for s in scenarios for spec in s.calls)
    chosen: list[Scenario] = []
    made = 0
    while made < calls:
        scenario = scenarios[len(chosen) % len(scenarios)]
        chosen.append(scenario)
        made += sum(1 for spec in scenario.calls if spec.url is None or not hotline)
    return chosen


def run_batch(
    scenarios: Sequence[Scenario],
    *,
    target: Target | None = None,
    workers: int = 1,
    menu: str | Path | None = None,
    fast_pins: bool = True,
) -> Batch:
    """Run every scenario given (repeat them with ``pick``), on ``target`` or sandboxes.

    With ``workers > 1`` each process builds its own sandbox (``target`` must be None).
    """
    started = time.perf_counter()
    if workers <= 1:
        with ExitStack() as stack:
            target = target or stack.enter_context(sandbox(menu, fast_pins=fast_pins))
            results = [run(s, target) for s in scenarios]
        return Batch(tuple(results), time.perf_counter() - started, 1)
    if target is not None:
        raise ValueError("several workers run on their own sandboxes; pass no target")
    chunks = [list(scenarios[i::workers]) for i in range(workers)]
    with ProcessPoolExecutor(
        workers, initializer=_start_worker, initargs=(menu, fast_pins)
    ) as pool:
        parts = list(pool.map(_run_chunk, chunks))
    by_position = {}
    for i, part in enumerate(parts):
        for j, result in enumerate(part):
            by_position[j * workers + i] = result
    ordered = tuple(by_position[k] for k in sorted(by_position))
    return Batch(ordered, time.perf_counter() - started, workers)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


_worker: dict[str, Any] = {}


def _start_worker(menu: str | Path | None, fast_pins: bool) -> None:
    logging.getLogger("ivr").setLevel(logging.ERROR)
    stack = ExitStack()
    _worker["stack"] = stack  # lives as long as the worker process
    _worker["target"] = stack.enter_context(sandbox(menu, fast_pins=fast_pins))


def _run_chunk(scenarios: list[Scenario]) -> list[Result]:
    target: Target = _worker["target"]
    return [run(s, target) for s in scenarios]
