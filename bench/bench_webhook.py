"""What a webhook costs next to a static page, on the same server (issue 21, finding 8).

Two servers, one after the other, both started by ``ivr.web.server.run_gunicorn`` (what
``ivr serve`` runs) with the same workers and threads, and loaded the same way:
``--connections`` keep-alive clients, each walking calls as fast as answers come (a new
CallSid, ``/voice``, the language key 1, then 9 at the main menu), every request signed as
Twilio signs it (``bench_servers.run_load``), for ``--seconds`` after a second of warm-up.

- **real**: ``ivr serve --demo``: the app with its SQLite file in a temporary folder, the
  demo accounts and a random Auth Token. Every request is checked, runs a step of the call
  and keeps it.
- **static**: a Flask app whose ``/voice`` routes answer one fixed TwiML document (a
  Gather with the language menu's two sentences) without reading the request.

Printed for each: requests per second, p50 and p99 latency, errors, the server's CPU time
per request (all its processes, user and system), and after the load the resident memory
of all its processes (RSS) and of its largest worker: resident (RSS), its proportional
share (PSS: a page shared by n processes counts 1/n) and its own pages (USS); then the
ratios real/static. A worker's memory is compared by PSS: the pages the workers share with
the arbiter (the Mandarin tables, loaded before the fork) cost the machine once. The goal
(issue 21): real steps at 16 connections at least 0.5x the static throughput, p99 under
50 ms, worker memory at most 2x; ``--check`` exits 1 when a run misses it.

    python bench/bench_webhook.py                    # 2 workers x 16 threads, 16 clients
    python bench/bench_webhook.py --runs 3 --seconds 20 --check

Both servers and the clients share the machine's CPUs; on 2 CPUs the clients' own work
(signing, parsing) is a large part of it, the same for both servers. Only loopback is used.
"""

from __future__ import annotations

import os
import statistics
import sys
from contextlib import suppress
from pathlib import Path
from typing import Any

import click
from bench_servers import HOST, Load, _pct, rss_mib, run_load, started

REPO = Path(__file__).resolve().parents[1]
_IVR = "import sys; from ivr.cli import cli; sys.exit(cli(prog_name='ivr'))"
_STATIC = ("import sys, bench_webhook as b; "
           "b.serve_static(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))")

#: the static app's only document: what the language menu says, as a Gather
DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/voice/step/language" '
    'actionOnEmptyResult="true" finishOnKey="" input="dtmf" method="POST" numDigits="1" '
    'timeout="5"><Say language="cmn-CN" voice="Polly.Zhiyu">您好，欢迎致电钱包客服热线。'
    '普通话请按1。</Say><Say language="en-US" voice="Polly.Joanna">For English, press 2.'
    '</Say></Gather></Response>')


def static_app() -> Any:
    """A Flask app that answers every webhook with ``DOCUMENT`` and reads nothing."""
    from flask import Flask, Response

    app = Flask("static")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024

    @app.post("/voice")
    @app.post("/voice/step/<node>")
    def voice(node: str = "") -> Response:
        return Response(DOCUMENT, mimetype="text/xml")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve_static(port: int, workers: int, threads: int) -> None:
    """The static app under ``run_gunicorn``, as ``ivr serve`` runs the real one."""
    from ivr.web.server import run_gunicorn

    run_gunicorn(static_app(), host=HOST, port=port, workers=workers, threads=threads)


def _workers_mib(pid: int) -> list[dict[str, float]]:
    """Each worker's (the arbiter's children's) memory, MiB: resident (RSS), its share of
    the pages it shares with the arbiter and the other workers (PSS), and its own (USS)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    found = []
    for child in children:
        kib = {}
        for line in Path(f"/proc/{child}/smaps_rollup").read_text().splitlines()[1:]:
            name, value = line.split(":", 1)
            kib[name] = int(value.split()[0])
        found.append({"rss": kib["Rss"] / 1024, "pss": kib["Pss"] / 1024,
                      "uss": (kib["Private_Clean"] + kib["Private_Dirty"]) / 1024})
    return found


def measure(kind: str, workers: int, threads: int, connections: int, seconds: float,
            timeout_s: float) -> dict[str, float]:
    py = sys.executable
    command = ([py, "-c", _IVR, "serve", "--demo", "--host", HOST, "--port", "{port}",
                "--workers", str(workers), "--threads", str(threads)] if kind == "real"
               else [py, "-c", _STATIC, "{port}", str(workers), str(threads)])
    with started(kind, workers, threads, command) as (target, pid):
        cpu_before = _cpu_s(pid)
        load: Load = run_load(target, connections, seconds, timeout_s)
        cpu_s = _cpu_s(pid) - cpu_before
        workers_mib = _workers_mib(pid)
        total = rss_mib(pid)
    requests = len(load.latencies_ms) or 1
    return {"rps": len(load.latencies_ms) / load.seconds, "errors": load.errors,
            "p50_ms": _pct(load.latencies_ms, 50), "p99_ms": _pct(load.latencies_ms, 99),
            # the warm-up second is not in the latencies but is in the CPU: a little high
            "cpu_ms": cpu_s * 1000 / requests,
            "rss_mib": total,
            **{f"worker_{kind}": max(w[kind] for w in workers_mib) for kind in ("rss", "pss", "uss")}}


def _cpu_s(pid: int) -> float:
    """The CPU seconds (user and system) the server's processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        with suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return total


ROW = "{:<7} {:>6} {:>7} {:>7} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8}"
HEAD = ROW.format("app", "req/s", "p50 ms", "p99 ms", "errors", "CPU ms", "RSS MiB",
                  "w. RSS", "w. PSS", "w. USS")


@click.command()
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 8))
@click.option("--threads", default=None, type=click.IntRange(1, 64),
              help="Request threads per worker; ivr serve's default when left out.")
@click.option("--connections", default=16, show_default=True, type=click.IntRange(1, 256))
@click.option("--seconds", default=15.0, show_default=True, type=click.FloatRange(1, 600))
@click.option("--runs", default=1, show_default=True, type=click.IntRange(1, 20),
              help="Runs of each server, alternating; each figure is their median.")
@click.option("--timeout-s", default=5.0, show_default=True, type=click.FloatRange(0.1, 60))
@click.option("--check", is_flag=True, help="Exit 1 when the real steps miss the goal.")
def main(workers: int, threads: int | None, connections: int, seconds: float, runs: int,
         timeout_s: float, check: bool) -> None:
    """Real webhook steps and a static page on the same server, side by side."""
    from ivr.web.server import DEFAULT_THREADS

    threads = threads or DEFAULT_THREADS
    click.echo(f"{workers} workers x {threads} threads, {connections} keep-alive clients "
               f"for {seconds:.0f} s, median of {runs} run{'s' if runs > 1 else ''}")
    results: dict[str, list[dict[str, float]]] = {"static": [], "real": []}
    for _ in range(runs):
        for kind in results:
            results[kind].append(measure(kind, workers, threads, connections, seconds,
                                         timeout_s))
    median = {kind: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
              for kind, rs in results.items()}
    click.echo(HEAD)
    for kind, m in median.items():
        click.echo(ROW.format(kind, f"{m['rps']:.0f}", f"{m['p50_ms']:.1f}",
                              f"{m['p99_ms']:.1f}", f"{m['errors']:.0f}", f"{m['cpu_ms']:.2f}",
                              f"{m['rss_mib']:.0f}", f"{m['worker_rss']:.0f}",
                              f"{m['worker_pss']:.0f}", f"{m['worker_uss']:.0f}"))
    real, static = median["real"], median["static"]
    throughput = real["rps"] / static["rps"]
    memory = real["worker_pss"] / static["worker_pss"]
    click.echo(f"real/static: throughput {throughput:.2f}x (goal >= 0.5x), p99 "
               f"{real['p99_ms']:.1f} ms (goal < 50 ms), worker memory (PSS) {memory:.2f}x "
               f"(goal <= 2x)")
    if check and not (throughput >= 0.5 and real["p99_ms"] < 50 and memory <= 2
                      and real["errors"] == 0):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
