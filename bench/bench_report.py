"""Benchmark ``ivr report``: time ``ivr.tuning.report.build`` over a million call events.

Not a test: it writes ~100,000 calls of ~10 events each (the paths the shipped tree
records: top-up status and hang-up, payments with verification, complaints, fraud,
wrong keys and time-outs, hang-ups at menus, callbacks) straight into a SQLite file with
the real schema (``ivr.records.store.Store``), then times ``build`` on it.

    python bench/bench_report.py                 # 100,000 calls, ~1,000,000 events
    python bench/bench_report.py --calls 1000    # a quick run
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.records.store import Store, iso  # noqa: E402
from ivr.tuning.report import build  # noqa: E402

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Shanghai
VERSIONS = (("08bb0e4dc5", "wallet.yaml"), ("3f1c2a9d7e", "wallet-b.yaml"))

#: (node the input was given at, input, choice, walked, outcome, seconds before it)
Step = tuple[str, str | None, str | None, str, str, int]
OPENING: list[Step] = [("(start)", None, None, "welcome language", "ask:language", 0)]
VERIFY: list[Step] = [
    ("identify", "****0001", "account", "", "ask:identify", 12),
    ("identify", "******", "verified", "topup_status", "ask:topup_status", 10)]
PAYMENTS: list[Step] = [
    ("main", "1", "1", "payments_menu", "ask:payments_menu", 14),
    ("payments_menu", "1", "1", "identify", "ask:identify", 17), *VERIFY]
PATHS: list[tuple[float, list[Step], str | None]] = [
    # weight, the steps after the language menu, the Enqueue result
    (0.25, [*PAYMENTS,
            ("topup_status", "0", "0", "topup_prepare", "ask:topup_prepare", 17),
            ("topup_prepare", "1", "1", "topup_date", "ask:topup_date", 15),
            ("topup_date", "20261120", "entered", "topup_amount", "ask:topup_amount", 11),
            ("topup_amount", "200", "entered", "payments_queue", "enqueue:payments", 9)],
     "bridged"),
    (0.20, PAYMENTS, None),  # heard the top-up status and hung up: contained
    (0.15, [("main", "*", "repeat", "", "ask:main", 20),
            ("main", "2", "2", "account_menu", "ask:account_menu", 14),
            ("account_menu", "9", "back", "main", "ask:main", 12),
            ("main", "3", "3", "fraud_identify", "ask:fraud_identify", 10),
            ("fraud_identify", "*", "skipped", "fraud_queue", "enqueue:fraud", 8)], "hangup"),
    (0.15, [("main", "", "no_input", "", "ask:main", 20),
            ("main", "7", "invalid", "", "ask:main", 15),
            ("main", "8", "invalid", "agent_general", "enqueue:general", 12)], "bridged"),
    (0.10, [("main", "4", "4", "complaints_menu", "ask:complaints_menu", 14)], None),
    (0.15, [("main", "1", "1", "payments_menu", "ask:payments_menu", 14),
            ("payments_menu", "2", "2", "identify", "ask:identify", 17),
            ("identify", "****0001", "account", "", "ask:identify", 12),
            ("identify", "******", "wrong", "", "ask:identify", 10),
            ("identify", "******", "verified", "payment_prepare", "ask:payment_prepare", 10),
            ("payment_prepare", "1", "1", "payment_date", "ask:payment_date", 12),
            ("payment_date", "20261120", "entered", "payments_queue", "ask:payments_queue", 10),
            ("payments_queue", "1", "1", "", "hangup", 6)], "callback"),
]


def write(path: Path, calls: int, seed: int = 7) -> int:
    """``calls`` calls into a new database at ``path``; the number of events written."""
    Store(path).close()  # the real schema
    rng = random.Random(seed)
    weights = [w for w, _, _ in PATHS]
    call_rows, event_rows, callbacks = [], [], []
    for i in range(calls):
        sid = f"CA{i:032x}"
        lang = "en-US" if rng.random() < 0.3 else "zh-CN"
        version, file = VERSIONS[rng.random() < 0.1]
        _, steps, result = rng.choices(PATHS, weights)[0]
        at = START + timedelta(seconds=i * 6 + rng.randrange(6))
        started = at
        key = "2" if lang == "en-US" else "1"
        chose_lang = ("language", key, key, "main", "ask:main", 7)
        queue = None
        # some callers ask to hear the main menu again (or time out) before choosing
        again = [("main", "*", "repeat", "", "ask:main", 18)] * rng.randrange(7)
        for node, keys, choice, walked, outcome, gap in [*OPENING, chose_lang, *again,
                                                          *steps]:
            at += timedelta(seconds=gap + rng.randrange(4))
            said = "callback_booked goodbye" if result == "callback" and outcome == "hangup" \
                else "prompt"
            event_rows.append((sid, iso(at), node, keys, said,
                               outcome, choice, walked, 0))
            if outcome.startswith("enqueue:"):
                queue = outcome[8:]
            elif walked.endswith("_queue"):
                queue = "payments"
        if result == "callback":
            callbacks.append((iso(at), "+8613700000000", queue, sid))
        ended = at + timedelta(seconds=rng.randrange(5, 300))
        call_rows.append((sid, "+8613700000000", "+8695188", iso(started),
                          iso(ended), iso(ended), "completed",
                          int((ended - started).total_seconds()), lang, "main", 1, None,
                          None, queue, result if result != "callback" else None, "{}", "{}",
                          len(steps) + len(again) + 2, version, file))
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO calls (call_sid, from_number, to_number, started_at, "
                       "updated_at, ended_at, status, duration_s, lang, node, verified, "
                       "account_last4, issue, queue, queue_result, details, state, turn, "
                       "menu_version, menu_file) VALUES "
                       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", call_rows)
        db.executemany("INSERT INTO call_events (call_sid, at, node, input, said, outcome, "
                       "choice, walked, fell_back) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       sorted(event_rows, key=lambda r: r[1]))  # interleaved, as calls are
        db.executemany("INSERT INTO callbacks (created_at, number, queue, call_sid) "
                       "VALUES (?, ?, ?, ?)", callbacks)
    return len(event_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000, help="calls to write")
    parser.add_argument("--repeat", type=int, default=3, help="time the best of this many")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "calls.db"
        began = time.perf_counter()
        events = write(path, args.calls)
        print(f"wrote {args.calls:,} calls, {events:,} events in "
              f"{time.perf_counter() - began:.1f} s")
        best = float("inf")
        report: dict[str, object] = {}
        for _ in range(max(1, args.repeat)):
            began = time.perf_counter()
            report = build(path)
            best = min(best, time.perf_counter() - began)
        print(f"build: {best:.2f} s for {events:,} events (best of {args.repeat}), "
              f"{report['calls']:,} calls, {events / best:,.0f} events/s")


if __name__ == "__main__":
    main()
