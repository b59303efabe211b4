"""How fast the simulator runs the shipped scenarios: a batch of calls, in-process.

    python bench/bench_sim.py                  # 1,000 calls, one process, then all CPUs
    python bench/bench_sim.py --calls 200 --real-pins

Each worker runs its own sandbox app (demo data, throwaway SQLite). By default the
sandbox stores the demo PINs with a tiny scrypt work factor (the same code path; see
``ivr.sim.target.sandbox``); ``--real-pins`` keeps the production cost (~60 ms a PIN).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from ivr.sim.bulk import pick, run_batch
from ivr.sim.scenario import load

SCENARIOS = Path(__file__).resolve().parents[1] / "tests" / "scenarios"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--real-pins", action="store_true")
    args = parser.parse_args()
    logging.getLogger("ivr").setLevel(logging.ERROR)  # lockouts are part of the scenarios

    scenarios = pick(load(SCENARIOS), args.calls)
    for workers in sorted({1, args.workers}):
        batch = run_batch(scenarios, workers=workers, fast_pins=not args.real_pins)
        simulated_h = sum(t.outcome.duration_s for r in batch.results for t in r.traces) / 3600
        print(batch.summary())
        print(
            f"  {simulated_h:.1f} h of simulated calls, "
            f"{1000 * batch.wall_s / batch.calls:.1f} ms of wall time a call; "
            f"queues: {dict(sorted(batch.queues().items()))}"
        )
        for failed in batch.failed[:3]:
            print(failed.line())


if __name__ == "__main__":
    main()
