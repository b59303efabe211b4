"""How fast ``ivr tune`` simulates whole calls through ``flow.step``: calls a second on the
shipped tree and mix, for 1 and 2 workers.

    python bench/bench_tune.py                 # 100,000 calls with 1 worker, then 2
    python bench/bench_tune.py --calls 2000 --fresh

Each caller is drawn, walked through the real call flow and timed as ``ivr tune`` does
(``ivr.tuning.simulate``). ``--fresh`` turns off the trie of histories, so that every
step of every call runs ``flow.step`` anew (the flow's own speed); ``--profile`` prints
the top of a cProfile of one worker's run.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from ivr.config import DEFAULTS
from ivr.flow import prompts
from ivr.menu import load_validated
from ivr.plural import counted
from ivr.tuning import mix as mix_file
from ivr.tuning import simulate
from ivr.tuning.routes import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="no trie: flow.step every step")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    catalog = prompts.load()
    routes = build(load_validated(None, catalog))
    mix = mix_file.load(None, routes, catalog.languages)
    spec = simulate.Spec(routes.menu, catalog, None, DEFAULTS["VOICES"],
                         simulate.remembered(routes, mix), memo=not args.fresh)
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(simulate.run, (spec,), mix, args.calls, args.seed, 1)
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    first = None
    for workers in (1, 2):
        start = time.perf_counter()
        results = simulate.run((spec,), mix, args.calls, args.seed, workers)[0]
        wall = time.perf_counter() - start
        same = "" if first is None else \
            f", the same results as 1 worker: {'yes' if results == first else 'NO'}"
        first = first or results
        print(f"{counted(workers, 'worker')}: {args.calls:,} calls in {wall:.2f} s, "
              f"{args.calls / wall:,.0f} calls/s"
              f"{' (every step through flow.step)' if args.fresh else ''}{same}")


if __name__ == "__main__":
    main()
