"""How fast ``ivr plan`` simulates the centre: a day of the shipped mix's volume (20,000
calls) through the real tree and the queues, a week of it, and the queue part alone
beside ciw's on the same M/M/n+M queue, in one run.

    python bench/bench_plan.py                 # a day, a week, the queue against ciw
    python bench/bench_plan.py --calls 2000 --no-week

The day is the shipped traffic week's Wednesday (2026-11-11) scaled to ``--calls``
first calls, on the shipped tree and mix. The tree's part is the pool of real walks
(``ivr.plan.walks``: 64 callers per class through ``flow.step``), timed apart from the
calls and the queues; the first pool of a process also loads the speech menus' word
lists (the Mandarin tables): a first scenario is built and timed apart. Figures: seconds, and calls a second
(first calls and retrials, through the tree and the queues).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ciw  # noqa: E402

from ivr.config import DEFAULTS  # noqa: E402
from ivr.flow import prompts  # noqa: E402
from ivr.menu import load_validated  # noqa: E402
from ivr.plan import arrivals, centre, scenario  # noqa: E402
from ivr.plan.centre import Duration, QueueSetup, Rules  # noqa: E402
from ivr.queue import traffic as traffic_file  # noqa: E402
from ivr.queue.erlang import erlang_a_metrics  # noqa: E402
from ivr.tuning import mix as mix_file  # noqa: E402
from ivr.tuning import simulate  # noqa: E402
from ivr.tuning.routes import build  # noqa: E402

DAY = date(2026, 11, 11)
AGENTS, AHT_S, PATIENCE_S = 40, 300.0, 600.0


class _Straight:
    def walk(self, klass: int, u: float) -> centre.Walk:
        return centre.QUEUED, 0.0, "q"


def centre_of(days: int, calls: int) -> tuple[float, float, scenario.Scenario]:
    """(seconds of a first scenario, seconds of the one timed, the scenario): the first
    builds its tree's trie and, the first time in a process, loads the Mandarin tables."""
    catalog = prompts.load()
    routes = build(load_validated(None, catalog))
    mix = mix_file.load(None, routes, catalog.languages)
    traffic = traffic_file.load()
    chosen = arrivals.days_from(traffic, DAY, days)

    def spec() -> simulate.Spec:
        return simulate.Spec(routes.menu, catalog, None, DEFAULTS["VOICES"],
                             simulate.remembered(routes, mix))

    start = time.perf_counter()
    one = scenario.build(traffic, mix, spec(), chosen[:1])
    first = time.perf_counter() - start
    scale = calls / one.demand.expected_calls
    start = time.perf_counter()
    built = scenario.build(traffic, mix, spec(), chosen, scale=scale,
                           rules=Rules(retry_share=0.3))
    return first, time.perf_counter() - start, built


def whole(days: int, calls: int) -> None:
    first, pool_s, plan = centre_of(days, calls)
    start = time.perf_counter()
    made = arrivals.calls(plan.demand.per_hour, 0)
    calls_s = time.perf_counter() - start
    start = time.perf_counter()
    day = centre.run(made, plan.walks, plan.setups(), plan.rules, 1)
    queues_s = time.perf_counter() - start
    total = sum(day.hotline["calls"])
    wall = pool_s + calls_s + queues_s
    what = "a day" if days == 1 else f"{days} days"
    print(f"{what}: {total:,} calls ({sum(day.hotline['retrials']):,} retrials) through the "
          f"real tree and the queues in {wall:.2f} s, {total / wall:,.0f} calls/s "
          f"(the tree's walks {pool_s:.2f} s, the calls {calls_s:.2f} s, the queues "
          f"{queues_s:.2f} s); a first scenario before it took {first:.2f} s (the tree's "
          "trie, and in a new process the Mandarin tables)")


def queue_alone(calls: int) -> None:
    rate = AGENTS / AHT_S  # 100 % load
    hours = calls / rate / 3600
    made = arrivals.constant(rate * 3600, hours, 7)
    setup = QueueSetup("q", Duration("exponential", AHT_S), Duration("exponential", PATIENCE_S),
                       (AGENTS,), (True,))
    rules = Rules(interval_s=hours * 3600, wait_threshold_s=math.inf)
    start = time.perf_counter()
    tally = centre.run(made, _Straight(), {"q": setup}, rules, 7).queues["q"]
    ours_s = time.perf_counter() - start
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=rate)],
        service_distributions=[ciw.dists.Exponential(rate=1 / AHT_S)],
        number_of_servers=[AGENTS],
        reneging_time_distributions=[ciw.dists.Exponential(rate=1 / PATIENCE_S)])
    ciw.seed(7)
    start = time.perf_counter()
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(hours * 3600)
    ciw_s = time.perf_counter() - start
    records = sim.get_all_records()
    ciw_calls = len(records)
    ciw_abandon = sum(r.record_type == "renege" for r in records) / max(1, ciw_calls)
    exact = erlang_a_metrics(rate * 3600, AHT_S, AGENTS, PATIENCE_S).p_abandon
    ours_calls = tally.offered[0]
    print(f"the queue alone (M/M/{AGENTS}+M at 100 % load, {calls:,} calls): ivr.plan "
          f"{ours_calls / ours_s:,.0f} calls/s ({ours_s:.2f} s), ciw {ciw_calls / ciw_s:,.0f} "
          f"calls/s ({ciw_s:.2f} s): {ciw_s / ours_s:.0f} times faster; P(abandon) "
          f"{tally.abandoned[0] / ours_calls:.4f} and ciw's {ciw_abandon:.4f}, exact "
          f"{exact:.4f} (one run each from an empty queue, no warm-up: both a little under)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="first calls a day")
    parser.add_argument("--no-week", action="store_true")
    args = parser.parse_args()
    whole(1, args.calls)
    if not args.no_week:
        whole(7, args.calls)
    queue_alone(args.calls)


if __name__ == "__main__":
    main()
