"""Benchmark the queue model against pyworkforce (staffing) and ciw (simulation).

Not a test: it times both sides in one process on the same inputs and prints the
ratios and how well the answers agree.

    python bench/bench_queue.py            # about half a minute
    python bench/bench_queue.py --quick    # a few seconds

1. Staffing every open hour of the shipped week (5 queues, 168 hours) for 80% answered
   within 20 s, with ``ivr.queue.erlang.agents_for`` and with pyworkforce's ``ErlangC``;
   then the same week for a centre 20 times as large.
2. The validation simulation (``ivr.queue.simulate``) against ciw on the same Erlang A
   centre, the same number of callers, both compared with the exact figures.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ciw  # noqa: E402
from pyworkforce.queuing import ErlangC  # noqa: E402

from ivr.queue import traffic  # noqa: E402
from ivr.queue.erlang import agents_for, erlang_a_metrics, erlang_c_metrics  # noqa: E402
from ivr.queue.simulate import simulate  # noqa: E402

TARGET_LEVEL = 0.8
TARGET_S = 20.0


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Fastest of ``repeat`` runs, and the result of the last."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def week_inputs(scale: float) -> list[tuple[float, float]]:
    """(calls per hour, AHT s) for every open hour with calls in the shipped week."""
    week = traffic.load()
    inputs = []
    for queue in week.queues.values():
        for d in range(7):
            for h in range(24):
                if any(s <= h < e for s, e in queue.hours[d]) and queue.calls_per_hour[d][h]:
                    inputs.append((queue.calls_per_hour[d][h] * scale, queue.aht_s))
    return inputs


def ours_staffing(inputs: list[tuple[float, float]]) -> list[int]:
    return [agents_for(calls, aht_s, TARGET_LEVEL, TARGET_S) for calls, aht_s in inputs]


def pyworkforce_staffing(inputs: list[tuple[float, float]]) -> list[int]:
    return [
        ErlangC(transactions=calls, aht=aht_s / 60, asa=TARGET_S / 60, interval=60)
        .required_positions(TARGET_LEVEL)["raw_positions"]
        for calls, aht_s in inputs
    ]


def minimal(calls: float, aht_s: float, n: int) -> bool:
    """Whether ``n`` is the fewest agents meeting the target (by our Erlang C)."""
    def level(m: int) -> float:
        return erlang_c_metrics(calls, aht_s, m, TARGET_S).service_level

    return level(n) >= TARGET_LEVEL and (n == 0 or level(n - 1) < TARGET_LEVEL)


def bench_staffing(repeat: int) -> None:
    print("1. Staffing a 168-hour week for 80% answered within 20 s (Erlang C)")
    for scale, label in ((1.0, "shipped week"), (20.0, "20x larger centre")):
        inputs = week_inputs(scale)
        t_ours, ours = best_of(repeat, lambda inputs=inputs: ours_staffing(inputs))
        t_pw, theirs = best_of(repeat, lambda inputs=inputs: pyworkforce_staffing(inputs))
        same = sum(a == b for a, b in zip(ours, theirs, strict=True))
        differ = [(c, a, o, t) for (c, a), o, t in zip(inputs, ours, theirs, strict=True)
                  if o != t]
        ours_right = sum(minimal(c, a, o) for c, a, o, _ in differ)
        theirs_right = sum(minimal(c, a, t) for c, a, _, t in differ)
        print(f"   {label}: {len(inputs)} hour-queues, {sum(ours)} agent-hours, "
              f"up to {max(ours)} agents in an hour")
        print(f"     ivr.queue  {t_ours * 1e3:9.2f} ms")
        print(f"     pyworkforce{t_pw * 1e3:9.2f} ms   -> ours is {t_pw / t_ours:.1f}x faster")
        print(f"     same answer in {same}/{len(inputs)} hours", end="")
        if differ:
            print(f"; of the {len(differ)} others, the minimal count is ours in {ours_right} "
                  f"and pyworkforce's in {theirs_right}", end="")
            c, a, o, t = differ[0]
            print(f"\n       e.g. {c:.1f} calls/h x {a:.0f} s: ours {o}, pyworkforce {t} "
                  f"(SL at {min(o, t)} agents = "
                  f"{erlang_c_metrics(c, a, min(o, t), TARGET_S).service_level:.4f})", end="")
        print()
        # Where both give the same count, the service levels agree to rounding.
        worst = max(abs(erlang_c_metrics(c, a, n, TARGET_S).service_level -
                        ErlangC(transactions=c, aht=a / 60, asa=TARGET_S / 60, interval=60)
                        .service_level(n))
                    for (c, a), n in zip(inputs, ours, strict=True))
        print(f"     largest service-level difference at our counts: {worst:.1e}")


def ciw_run(calls: float, aht_s: float, agents: int, patience_s: float, callers: int,
            seed: int) -> dict[str, list[float]]:
    """The same centre in ciw, batched like ``simulate`` (20 batches after a 10% warm-up)."""
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=calls / 3600)],
        service_distributions=[ciw.dists.Exponential(rate=1 / aht_s)],
        number_of_servers=[agents],
        reneging_time_distributions=[ciw.dists.Exponential(rate=1 / patience_s)],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    warmup_t = callers / 10 / (calls / 3600)
    sim.simulate_until_max_time(warmup_t + callers / (calls / 3600))
    records = sorted((r for r in sim.get_all_records() if r.arrival_date >= warmup_t),
                     key=lambda r: r.arrival_date)
    size = len(records) // 20
    batches: dict[str, list[float]] = {"p_wait": [], "p_abandon": [], "asa_s": [],
                                       "service_level": []}
    for i in range(20):
        chunk = records[i * size:(i + 1) * size]
        served = [r for r in chunk if r.record_type == "service"]
        batches["p_wait"].append(sum(r.waiting_time > 0 for r in chunk) / len(chunk))
        batches["p_abandon"].append(1 - len(served) / len(chunk))
        batches["asa_s"].append(statistics.fmean(r.waiting_time for r in served))
        batches["service_level"].append(
            sum(r.waiting_time <= TARGET_S for r in served) / len(chunk))
    return batches


def bench_simulation(callers: int, repeat: int) -> None:
    calls, aht_s, agents, patience_s = 200.0, 180.0, 14, 120.0
    print(f"\n2. Simulating {callers:,} callers: {calls:g} calls/h, AHT {aht_s:g} s, "
          f"{agents} agents, patience {patience_s:g} s (Erlang A)")
    exact = erlang_a_metrics(calls, aht_s, agents, patience_s, TARGET_S)
    t_ours, ours = best_of(repeat, lambda: simulate(calls, aht_s, agents, patience_s, TARGET_S,
                                                    callers=callers, seed=1))
    t_ciw, theirs = best_of(repeat, lambda: ciw_run(calls, aht_s, agents, patience_s, callers,
                                                    1))
    print(f"     ivr.queue.simulate {t_ours:8.2f} s")
    print(f"     ciw                {t_ciw:8.2f} s   -> ours is {t_ciw / t_ours:.0f}x faster")
    print(f"     {'':14}{'exact':>10}{'ours':>22}{'ciw':>22}")
    t99 = 2.861  # Student's t, 19 degrees of freedom, 99%
    for name in ("p_wait", "p_abandon", "asa_s", "service_level"):
        est = getattr(ours, name)
        values = theirs[name]
        mean = statistics.fmean(values)
        half = t99 * statistics.stdev(values) / math.sqrt(len(values))
        want = getattr(exact, name)
        mark_ours = "ok" if est.covers(want) else "!!"
        mark_ciw = "ok" if abs(mean - want) <= half else "!!"
        print(f"     {name:14}{want:10.4f}{est.mean:12.4f} ±{est.half_width_99:6.4f} {mark_ours}"
              f"{mean:12.4f} ±{half:6.4f} {mark_ciw}")
    print("     (± is the 99% confidence half-width; ok = the exact value lies inside it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and callers")
    args = parser.parse_args()
    bench_staffing(repeat=1 if args.quick else 7)
    bench_simulation(callers=20_000 if args.quick else 200_000, repeat=1 if args.quick else 2)


if __name__ == "__main__":
    main()
