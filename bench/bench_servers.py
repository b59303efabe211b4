"""Which HTTP server should answer the hotline? The candidates side by side, measured.

Issue 21, finding 1: gunicorn's gthread worker gives every new connection a thread while
it waits for the request, so 100 idle and 40 one-byte sockets, which cost an attacker
nothing, stall the signed webhooks and ``/health``. Each candidate serves the same app
(``create_app()`` with the demo accounts, a temporary SQLite file, a random token), with
the same number of processes and request threads, and is measured twice:

- **attack**: ``--idle`` connections that send nothing and ``--one-byte`` connections that
  send one byte of a request line, held open (opened again when the server closes one)
  for ``--attack-s``, while 4 clients send signed webhooks (a new call's first ``/voice``,
  each on a new connection) and one asks ``/health`` every 0.5 s; every request gives up
  after ``--timeout-s`` (5 s). Printed: webhooks answered, p50/p99, time-outs, ``/health``
  answered of asked, and how many attack sockets the server closed.
- **load**: ``--connections`` (16) keep-alive clients walking real call steps as fast as
  they get answers (each call on its own CallSid: ``/voice``, the language key 1, then 9
  at the main menu, which is no option there), for ``--load-s``. Printed: requests per
  second, p50/p99, errors, and the server's memory (the RSS of all its processes) after.

    pip install granian uvicorn a2wsgi waitress         # the candidates but gunicorn
    python bench/bench_servers.py                       # every candidate, 3 runs each
    python bench/bench_servers.py --server granian --runs 1 --attack-s 10 --load-s 5

Each figure is the median over ``--runs``. The bench, the servers and any other work on
the machine share its CPUs: throughput is noisy, the attack's time-outs are not.
Servers: ``ivr-serve`` (whatever ``ivr serve`` runs now), ``gunicorn-gthread`` (plain
gunicorn, gthread workers: ``ivr serve`` before issue 21 added a deadline to these),
``granian`` (its WSGI interface), ``uvicorn-a2wsgi`` (uvicorn, the app behind a2wsgi's
WSGI-to-ASGI adapter), ``waitress`` (one process: its ``--threads`` are workers x threads),
and behind ``ivr.web.asgi.Buffered``, which reads bodies on the event loop:
``gunicorn-asgi`` (gunicorn's asgi worker), ``granian-asgi`` and ``uvicorn-buffered``.
``--trickling N`` adds N POSTs sending their body a byte at a time. Only loopback is used.
"""

from __future__ import annotations

import html
import http.client
import os
import re
import secrets
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import click
from twilio.request_validator import RequestValidator

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]
_ACTION = re.compile(r'<Gather action="([^"]+)"')
_IVR = "import sys; from ivr.cli import cli; sys.exit(cli(prog_name='ivr'))"


def asgi_app() -> Any:
    """The app behind a2wsgi's adapter, for ``uvicorn --factory bench_servers:asgi_app``;
    its thread pool is the threads of the other servers' workers."""
    from a2wsgi import WSGIMiddleware

    from ivr.app import create_app

    return WSGIMiddleware(create_app(), workers=int(os.environ["BENCH_THREADS"]))


def buffered_app() -> Any:
    """The app behind ``ivr.web.asgi.Buffered``: bodies read on the event loop."""
    from ivr.app import create_app
    from ivr.web.asgi import Buffered

    app = create_app()
    return Buffered(app, threads=int(os.environ["BENCH_THREADS"]),
                    max_body=int(app.config["MAX_CONTENT_LENGTH"]), deadline_s=15)


def commands(workers: int, threads: int, port: int) -> dict[str, list[str]]:
    """How each candidate is started; every one builds the app with ``create_app()``."""
    py, bind = sys.executable, f"{HOST}:{port}"
    return {
        "ivr-serve": [py, "-c", _IVR, "serve", "--demo", "--host", HOST, "--port", str(port),
                      "--workers", str(workers), "--threads", str(threads)],
        "gunicorn-gthread": [py, "-m", "gunicorn", "-k", "gthread", "-w", str(workers),
                             "--threads", str(threads), "--keep-alive", "5", "-b", bind,
                             "--no-control-socket", "ivr.app:create_app()"],
        "granian": [py, "-m", "granian", "--interface", "wsgi", "--factory", "--workers",
                    str(workers), "--blocking-threads", str(threads), "--host", HOST,
                    "--port", str(port), "--no-ws", "ivr.app:create_app"],
        "uvicorn-a2wsgi": [py, "-m", "uvicorn", "--factory", "--app-dir", str(REPO / "bench"),
                           "--workers", str(workers), "--host", HOST, "--port", str(port),
                           "--no-access-log", "bench_servers:asgi_app"],
        "gunicorn-asgi": [py, "-m", "gunicorn", "-k", "asgi", "-w", str(workers),
                          "--keep-alive", "5", "-b", bind, "--no-control-socket",
                          "--pythonpath", str(REPO / "bench"), "bench_servers:buffered_app()"],
        "granian-asgi": [py, "-m", "granian", "--interface", "asgi", "--factory", "--workers",
                         str(workers), "--host", HOST, "--port", str(port), "--no-ws",
                         "--working-dir", str(REPO / "bench"), "bench_servers:buffered_app"],
        "uvicorn-buffered": [py, "-m", "uvicorn", "--factory", "--app-dir",
                             str(REPO / "bench"), "--workers", str(workers), "--host", HOST,
                             "--port", str(port), "--no-access-log",
                             "bench_servers:buffered_app"],
        "waitress": [py, "-m", "waitress", "--call", f"--threads={workers * threads}",
                     "--connection-limit=2000", f"--listen={bind}", "ivr.app:create_app"],
    }


@dataclass(frozen=True, slots=True)
class Target:
    port: int
    token: str

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def signed(self, path: str, params: dict[str, str]) -> dict[str, str]:
        """The headers Twilio sends with a POST of ``params`` to ``path``."""
        return {"Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": RequestValidator(self.token).compute_signature(
                    self.base + path, params)}


def caller_number() -> str:
    """A caller's own number: callers ring from their own phones (one number for every
    call made each one's lookup of its last need walk all the others' calls)."""
    return f"+86137{secrets.randbelow(10**8):08d}"


def _call() -> dict[str, str]:
    return {"CallSid": "CA" + secrets.token_hex(16), "From": caller_number(),
            "To": "+8695188"}


@contextmanager
def started(name: str, workers: int, threads: int,
            command: list[str] | None = None) -> Iterator[tuple[Target, int]]:
    """The server ``name`` on a free port with the demo app (or ``command``, which may
    name ``{port}``); yields it and its pid once /health answers, then stops it as a
    deployment would (SIGTERM, SIGKILL after 20 s)."""
    with tempfile.TemporaryDirectory(prefix="ivr-servers-") as tmp:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        target = Target(port, secrets.token_hex(16))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
        env.update(TWILIO_AUTH_TOKEN=target.token, IVR_SECRET_KEY=secrets.token_hex(32),
                   IVR_DATABASE=str(Path(tmp) / "ivr.db"), IVR_AUDIO_DIR=str(Path(tmp) / "a"),
                   IVR_DEMO="true", BENCH_THREADS=str(threads),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), str(REPO / "bench"),
                                                            env.get("PYTHONPATH")])))
        log = Path(tmp) / "server.log"
        argv = ([part.replace("{port}", str(port)) for part in command] if command
                else commands(workers, threads, port)[name])
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, env=env, cwd=tmp,
                                    stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while _get(target, "/health", 2.0) != 200:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise click.ClickException(f"{name} did not start:\n{log.read_text()}")
                time.sleep(0.2)
            time.sleep(2.0)  # every worker up, not only the first
            yield target, proc.pid
        finally:
            with suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _get(target: Target, path: str, timeout_s: float) -> int | None:
    conn = http.client.HTTPConnection(HOST, target.port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def _first_step(target: Target, timeout_s: float) -> float | None:
    """A new call's signed first webhook on a new connection: seconds, None if none came."""
    params = _call()
    conn = http.client.HTTPConnection(HOST, target.port, timeout=timeout_s)
    started_at = time.perf_counter()
    try:
        conn.request("POST", "/voice", urlencode(params), target.signed("/voice", params))
        response = conn.getresponse()
        response.read()
        return time.perf_counter() - started_at if response.status == 200 else None
    except OSError:
        return None
    finally:
        conn.close()


@dataclass(slots=True)
class Attack:
    webhooks_ms: list[float] = field(default_factory=list)
    webhooks_failed: int = 0
    health_asked: int = 0
    health_answered: int = 0
    closed_by_server: int = 0


def _hold(port: int, count: int, first: bytes, drip: bool, stop: threading.Event,
          attack: Attack, lock: threading.Lock) -> None:
    """Keep ``count`` connections open that sent ``first`` and nothing more (``drip``: then
    a byte of body every 0.25 s); one the server closes is opened again."""
    socks: list[socket.socket] = []
    try:
        while not stop.is_set():
            while len(socks) < count and not stop.is_set():
                try:
                    sock = socket.create_connection((HOST, port), timeout=5)
                    sock.sendall(first)
                    socks.append(sock)
                except OSError:
                    stop.wait(0.1)
            readable, _, _ = select.select(socks, [], [], 0.25)
            for sock in socks if drip else ():
                with suppress(OSError):  # cut: seen as readable next time round
                    sock.send(b"a")
            for sock in readable:  # closed, or an answer (a 400 or 408): gone either way
                socks.remove(sock)
                sock.close()
                with lock:
                    attack.closed_by_server += 1
    finally:
        for sock in socks:
            sock.close()


def run_attack(target: Target, idle: int, one_byte: int, trickling: int, seconds: float,
               timeout_s: float) -> Attack:
    """Signed webhooks and /health while ``idle`` + ``one_byte`` + ``trickling`` sockets are
    held open."""
    attack, lock, stop = Attack(), threading.Lock(), threading.Event()

    def webhooks() -> None:
        while not stop.is_set():
            took = _first_step(target, timeout_s)
            with lock:
                if took is None:
                    attack.webhooks_failed += 1
                else:
                    attack.webhooks_ms.append(took * 1000)
            stop.wait(0.05)

    def health() -> None:
        while not stop.is_set():
            status = _get(target, "/health", timeout_s)
            with lock:
                attack.health_asked += 1
                attack.health_answered += status == 200
            stop.wait(0.5)

    trickle = (f"POST /voice HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 60000\r\n"
               "Content-Type: application/x-www-form-urlencoded\r\n\r\nC").encode()
    holders = [threading.Thread(target=_hold, args=(target.port, n, first, drip, stop, attack,
                                                    lock))
               for n, first, drip in ((idle, b"", False), (one_byte, b"P", False),
                                      (trickling, trickle, True))]
    probes = [threading.Thread(target=webhooks) for _ in range(4)]
    probes.append(threading.Thread(target=health))
    try:  # stopped also on Ctrl-C, or the threads would keep the bench alive
        for thread in holders:
            thread.start()
        time.sleep(2.0)  # the sockets are open and the server has taken them up
        for thread in probes:
            thread.start()
        time.sleep(seconds)
    finally:
        stop.set()
        for thread in [*probes, *holders]:
            if thread.ident is not None:
                thread.join()
    return attack


@dataclass(slots=True)
class Load:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0


def run_load(target: Target, connections: int, seconds: float, timeout_s: float) -> Load:
    """``connections`` keep-alive clients walking calls: /voice, key 1, then key 9."""
    load, lock = Load(), threading.Lock()
    begin = time.monotonic() + 1.0  # a second of warm-up is not counted
    end = begin + seconds

    def post(conn: http.client.HTTPConnection, path: str, params: dict[str, str]) -> str:
        started_at = time.perf_counter()
        conn.request("POST", path, urlencode(params), target.signed(path, params))
        response = conn.getresponse()
        body = response.read().decode()
        if response.status != 200:
            raise OSError(f"{response.status} from {path}")
        if time.monotonic() >= begin:
            with lock:
                load.latencies_ms.append((time.perf_counter() - started_at) * 1000)
        return body

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, target.port, timeout=timeout_s)
        while time.monotonic() < end:
            params, path = _call(), "/voice"
            try:
                for digits in (None, "1", "9"):
                    body = post(conn, path, params if digits is None
                                else {**params, "Digits": digits})
                    found = _ACTION.search(body)
                    if found is None:
                        raise OSError(f"no Gather in the answer to {path}")
                    path = html.unescape(found.group(1)).removeprefix(target.base)
            except OSError:
                with lock:
                    load.errors += 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, target.port, timeout=timeout_s)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.seconds = seconds
    return load


def rss_mib(pid: int) -> float:
    """The resident memory of ``pid`` and all its descendants (Linux's /proc)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        with suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return total / 1024


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def measure(name: str, *, workers: int, threads: int, idle: int, one_byte: int, trickling: int,
            attack_s: float, load_s: float, connections: int,
            timeout_s: float) -> dict[str, float]:
    """One run of one server: the attack, then the load, on a fresh server each."""
    with started(name, workers, threads) as (target, _pid):
        attack = run_attack(target, idle, one_byte, trickling, attack_s, timeout_s)
    with started(name, workers, threads) as (target, pid):
        load = run_load(target, connections, load_s, timeout_s)
        memory = rss_mib(pid)
    return {
        "attack_ok": len(attack.webhooks_ms), "attack_timeouts": attack.webhooks_failed,
        "attack_p50_ms": _pct(attack.webhooks_ms, 50),
        "attack_p99_ms": _pct(attack.webhooks_ms, 99),
        "health_answered": attack.health_answered, "health_asked": attack.health_asked,
        "closed_by_server": attack.closed_by_server,
        "load_rps": len(load.latencies_ms) / load.seconds, "load_errors": load.errors,
        "load_p50_ms": _pct(load.latencies_ms, 50), "load_p99_ms": _pct(load.latencies_ms, 99),
        "rss_mib": memory,
    }


ROW = ("{:<17} {:>8} {:>8} {:>9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>6} {:>7}")
HEAD = ROW.format("server", "hooks ok", "timeouts", "p50 ms", "p99 ms", "/health", "closed",
                  "req/s", "p50 ms", "p99 ms", "errors", "RSS MiB")


def row(name: str, runs: list[dict[str, float]]) -> str:
    """The median of each figure over the runs, as one line of the table."""
    m = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    return ROW.format(name, f"{m['attack_ok']:.0f}", f"{m['attack_timeouts']:.0f}",
                      f"{m['attack_p50_ms']:.1f}", f"{m['attack_p99_ms']:.1f}",
                      f"{m['health_answered']:.0f}/{m['health_asked']:.0f}",
                      f"{m['closed_by_server']:.0f}", f"{m['load_rps']:.0f}",
                      f"{m['load_p50_ms']:.1f}", f"{m['load_p99_ms']:.1f}",
                      f"{m['load_errors']:.0f}", f"{m['rss_mib']:.0f}")


SERVERS = ("ivr-serve", "gunicorn-gthread", "granian", "uvicorn-a2wsgi", "waitress",
           "gunicorn-asgi", "granian-asgi", "uvicorn-buffered")


@click.command()
@click.option("--server", "servers", multiple=True, type=click.Choice(SERVERS),
              help="A candidate to measure (repeat it); all of them by default.")
@click.option("--runs", default=3, show_default=True, type=click.IntRange(1, 20))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 8))
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 64))
@click.option("--idle", default=100, show_default=True, type=click.IntRange(0, 1000))
@click.option("--one-byte", default=40, show_default=True, type=click.IntRange(0, 1000))
@click.option("--trickling", default=0, show_default=True, type=click.IntRange(0, 1000),
              help="Also hold this many POSTs sending their body a byte every 0.25 s.")
@click.option("--attack-s", default=30.0, show_default=True, type=click.FloatRange(1, 600))
@click.option("--load-s", default=10.0, show_default=True, type=click.FloatRange(1, 600))
@click.option("--connections", default=16, show_default=True, type=click.IntRange(1, 256))
@click.option("--timeout-s", default=5.0, show_default=True, type=click.FloatRange(0.1, 60))
def main(servers: tuple[str, ...], runs: int, workers: int, threads: int, idle: int,
         one_byte: int, trickling: int, attack_s: float, load_s: float, connections: int,
         timeout_s: float) -> None:
    """Measure each server under the idle-socket attack and under load; print the table."""
    click.echo(f"{workers} workers x {threads} threads; attack: {idle} idle + {one_byte} "
               f"one-byte + {trickling} trickling sockets for {attack_s:.0f} s, requests time "
               f"out at {timeout_s:.0f} s; load: {connections} connections for {load_s:.0f} s; "
               f"median of {runs} runs")
    click.echo(" " * 18 + "--- attack: signed /voice, /health ---------------  "
               "--- load: real steps ------------------")
    click.echo(HEAD)
    for name in servers or SERVERS:
        results = [measure(name, workers=workers, threads=threads, idle=idle,
                           one_byte=one_byte, trickling=trickling, attack_s=attack_s, load_s=load_s,
                           connections=connections, timeout_s=timeout_s)
                   for _ in range(runs)]
        click.echo(row(name, results))


if __name__ == "__main__":
    main()
