"""Load test: N simulated callers, in real time, over HTTP against a running ``ivr serve``.

The goal (issue 8, "Load, measured"): on a 2-core machine, 200 concurrent callers, with
the production PIN cost (scrypt N=2^14), get 0 errors and a p99 webhook latency under 1 s.

    # one command: starts `ivr serve --demo --workers 2` on a free loopback port with a
    # temporary database and a random token, runs 200 callers for 120 s, stops the server
    python bench/bench_load.py --start-server --workers 2

    # the same with 8 clients trickling a request body and 8 idle connections all along
    python bench/bench_load.py --start-server --workers 2 --tricklers 8

    # against a server started by hand, without IVR_PIN_HASH_N (the demo PINs then cost
    # what production PINs cost)
    TWILIO_AUTH_TOKEN=secret IVR_SECRET_KEY=key ivr serve --demo --workers 2 --port 8000
    TWILIO_AUTH_TOKEN=secret python bench/bench_load.py --url http://127.0.0.1:8000

    # two hosts on one PostgreSQL: a throwaway server (tests/pg.py: initdb and pg_ctl from
    # the system's binaries), two `ivr serve --demo --workers 2` on it, and the bench as the
    # load balancer without sticky sessions: each request of a call goes to the other host
    python bench/bench_load.py --postgres --workers 2

    # a smoke run: 20 callers acting 10x faster than real time walk whole calls in 30 s
    python bench/bench_load.py --start-server --callers 20 --duration-s 30 --time-scale 10
    python bench/bench_load.py --start-server --json                          # for machines

It prints the settings, the calls completed, the webhooks sent, the errors by kind (HTTP
status, time-out, connection, invalid TwiML, the app's apology) and the p50/p95/p99
webhook latency, and exits 1 when the run missed the goal (any error, or p99 >= 1 s).
With ``--tricklers N`` (issue 8: "with 8 trickling clients connected, a signed webhook
still answers in under 1 s") N clients keep an unsigned POST's body trickling and N more
hold idle connections for the whole run, each connecting again when the server cuts it
off; every webhook's latency is then measured with them, and what they met is printed.

Each caller is a thread running the simulator (``ivr.sim.interpreter.simulate``) over HTTP,
paced in real time: before each webhook it waits as long as the simulated call spent
since the previous answer arrived (a prompt lasts its audio or its text at the speaking
rate, then the caller's answer delay and key presses, the hold), so the server gets the
requests when a real call would send them. Threads, because the simulator is synchronous
and 200 callers mostly sleep. A caller walks one path of a weighted mix, then starts the
next call, until ``--duration-s`` is up; calls still going then hang up before their next
webhook, and the ones in flight are waited for. The first calls start within ``--ramp-s``
(10 s): a surge, the hard case. In a steady state 200 calls of about two minutes start
about 1.5 a second: ``--ramp-s 120 --duration-s 300`` comes closer to that.

The mix uses the key sequences of the shipped scenarios (tests/scenarios/) but not the
scenarios as they are: each scenario runs on a fresh database, while here every call
shares one server for minutes, and their wrong PINs on account 10000001 and its fraud
freeze would soon lock or freeze the account every verified path uses (and no PIN would
be checked any more). So right PINs go to 10000001 (by number or by its caller ID) and to
10000002 (frozen), wrong PINs to 10000003 and to an unknown account; 10000003 locks early
in a run, as an account under a guessing attack does. Callers without a scripted caller
ID ring from random numbers. Offers the script does not foresee (a long wait's callback
offer, a closed line) get a plausible key; everything else the script did not plan for
times out, as a hesitant caller would.

With ``--postgres`` the hosts (``--hosts``, 2) share the token, the secret key, the
database and the balancer's address as ``IVR_PUBLIC_URL`` (``http://localhost``, which
is only a name: the bench sends each request to a host's own port), as a deployment
behind a load balancer does. A call's first request goes to the host after the one the
previous call began on, and each next request to the next host, so every call's steps
hop between the hosts. The report adds the webhooks each host answered and the CPU
PostgreSQL used (its server process and its backends).

Only loopback addresses are called: ``--url``, and every URL the TwiML leads to.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import itertools
import json
import logging
import math
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import click

from ivr.queue.advice import Centre
from ivr.sim.caller import TIMEOUT, Answer, Prompt, ScriptedCaller
from ivr.sim.errors import TransportError
from ivr.sim.interpreter import CallOptions, Hold, simulate
from ivr.sim.scenario import CallSpec
from ivr.sim.target import Prompts, Target, over_http
from ivr.sim.trace import EndedBy, EventType
from ivr.sim.transport import HTTPTransport, Reply, Request, Session

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
GOAL_P99_MS = 1000.0
#: the load balancer's address with --postgres: the hosts' IVR_PUBLIC_URL, what is signed
BALANCER = "http://localhost"
REDIAL_S = 5.0  # a caller whose call failed rings again after this long
LANGS = ("zh-CN", "en-US")
#: prompts worth counting: how verification went, and what the queue offered
COUNTED = frozenset({
    "verify_ok", "verify_wrong_pin", "verify_failed", "verify_locked", "verify_frozen",
    "wait_offer", "callback_booked", "queue_closed", "complaint_filed", "freeze_done",
})
#: the app's answer when a webhook raised (see ivr/web/webhooks.py ``apologise``)
APOLOGY = "apology"
_LOG_ERROR = re.compile(r"\[(ERROR|CRITICAL)\]|^(ERROR|CRITICAL) ")


@dataclass(frozen=True, slots=True)
class Profile:
    """One kind of call in the mix: keys as ``ivr call --press`` tokens, after the
    language key (``lang=False``: the caller presses none)."""

    name: str
    weight: int
    press: str
    from_: str | None = None  # None: a random number, no account on file
    lang: bool = True


ACCOUNT_PHONE = "+8613800138000"  # account 10000001's caller ID
FROZEN_PHONE = "+8613900139000"  # account 10000002's, frozen
MIX: tuple[Profile, ...] = (
    Profile("an agent", 14, "0"),
    Profile("overseas and other questions", 9, "5 1"),
    Profile("top-up, by caller ID and PIN", 10, "1 1 1 246810 0 1 {yesterday} 200#", ACCOUNT_PHONE),
    Profile("payment failed", 10, "1 2 10000001# 246810 1 {yesterday} 35*50#"),
    Profile("withdrawal not arrived", 5, "1 3 10000001# 246810 1 {yesterday} 1000#"),
    Profile("refund", 5, "1 4 10000001# 246810 1 {yesterday} 88#"),
    Profile("account locked or frozen", 4, "2 1 10000001# 246810 1"),
    Profile("forgot password", 5, "2 2 10000001# 246810 0"),
    Profile("change phone or card", 3, "2 3 10000001# 246810 1"),
    Profile("raise payment limit", 3, "2 4 10000001# 246810 1"),
    Profile("fraud, straight to a specialist", 4, "3 10000001# 246810 2"),
    Profile("frozen account, by caller ID", 2, "2 1 1 135790", FROZEN_PHONE),
    Profile("file a complaint", 4, "4 1 10000001# 246810 1 # 0"),
    Profile("complaint status", 3, "4 2 12345678# 0"),
    Profile("silence at the language menu", 3, "_ 0", lang=False),
    Profile("three time-outs", 2, "_ _ _"),
    Profile("three invalid keys", 2, "7 8 6"),
    Profile("wanders the menus", 3, "1 7 * 9 4 9 0"),
    Profile("a wrong PIN, then the right one", 4,
            "1 2 10000003# 111111 10000003# 112233 1 {yesterday} 5#"),
    Profile("three wrong PINs", 2, "2 1 10000003# 111111 10000003# 222222 10000003# 333333"),
    Profile("fraud, unknown account", 1, "3 99999999# 000000 99999999# 111111 99999999# 222222"),
    Profile("hangs up", 2, "1 h"),
)


@dataclass(frozen=True, slots=True)
class Settings:
    callers: int
    duration_s: float
    ramp_s: float
    hold_s: float
    timeout_s: float
    time_scale: float
    seed: int
    tricklers: int = 0
    idle: int = 0  # more idle connections (--idle), beside the tricklers' own
    one_byte: int = 0  # connections that sent one byte of a request line (--one-byte)

    @property
    def attacked(self) -> bool:
        return bool(self.tricklers or self.idle or self.one_byte)


# -- loopback only ---------------------------------------------------------------------


def is_loopback(url: str) -> bool:
    """``localhost`` or a loopback IP (127.0.0.0/8, ::1); any other host is refused."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- one caller ----------------------------------------------------------------------


class HungUp(Exception):
    """The run is over: the caller hangs up before the next webhook."""


@dataclass(slots=True)
class Tally:
    """What one caller thread saw; the threads' tallies are added up at the end."""

    webhooks: int = 0
    latencies: list[tuple[str, float]] = field(default_factory=list)  # (path, seconds)
    errors: Counter[str] = field(default_factory=Counter)
    started: int = 0
    completed: int = 0
    failed: int = 0  # ended by an error (Twilio would have hung up)
    cut: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    heard: Counter[str] = field(default_factory=Counter)
    hosts: Counter[str] = field(default_factory=Counter)  # webhooks sent to each host


class Pacer:
    """Real time for one call: the simulated seconds spent since the last answer, slept."""

    def __init__(self, stop: threading.Event, time_scale: float) -> None:
        self.stop = stop
        self.time_scale = time_scale
        self.sim_s = 0.0  # the simulated clock, from the events the caller hears
        self.sim_at_answer = 0.0
        self.wall_at_answer = time.monotonic()

    def heard(self, event: Mapping[str, Any]) -> None:
        # an event is stamped when it starts; the clock has moved past its duration
        self.sim_s = max(self.sim_s, float(event["t"]) + float(event.get("duration_s") or 0))

    def wait(self) -> None:
        """Sleep until the next webhook is due; HungUp if the run ends meanwhile."""
        due = self.wall_at_answer + (self.sim_s - self.sim_at_answer) / self.time_scale
        delay = due - time.monotonic()
        if delay > 0 and self.stop.wait(delay):
            raise HungUp

    def answered(self) -> None:
        self.sim_at_answer, self.wall_at_answer = self.sim_s, time.monotonic()


class PacedSession:
    """The simulator's HTTP session, paced, timed, and refusing non-loopback hosts."""

    def __init__(self, inner: Session, pacer: Pacer, tally: Tally) -> None:
        self.inner, self.pacer, self.tally = inner, pacer, tally

    def send(self, request: Request) -> Reply:
        self.pacer.wait()
        self.tally.webhooks += 1
        if not is_loopback(request.url):
            self.tally.errors["refused: not a loopback URL"] += 1
            raise TransportError(f"{request.url}: the load test calls loopback addresses only")
        started = time.perf_counter()
        try:
            reply = self.inner.send(request)
        except TransportError as exc:
            self.tally.errors[_transport_kind(exc)] += 1
            raise
        self.tally.latencies.append((urlsplit(request.url).path, time.perf_counter() - started))
        self.pacer.answered()
        if not 200 <= reply.status < 400:
            self.tally.errors[f"HTTP {reply.status}"] += 1
        return reply


class OneSession:
    """A transport whose one session is the paced one (``simulate`` asks once a call)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def session(self) -> Session:
        return self._session


class BalancedSession:
    """A load balancer without sticky sessions, for one call: each request to the
    balancer's address goes to the next host (the first to ``hosts[first]``), at the
    host's own port. The signature is left as it is: Twilio signs the address it calls,
    the balancer's, and every host checks it against that (``IVR_PUBLIC_URL``)."""

    def __init__(self, inner: Session, hosts: Sequence[str], first: int, tally: Tally) -> None:
        self.inner, self.hosts, self.turn, self.tally = inner, hosts, first, tally

    def send(self, request: Request) -> Reply:
        if not request.url.startswith(BALANCER + "/"):
            return self.inner.send(request)  # not the hotline's: PacedSession refused it
        host = self.hosts[self.turn % len(self.hosts)]
        self.turn += 1
        self.tally.hosts[host] += 1
        return self.inner.send(replace(request, url=host + request.url.removeprefix(BALANCER)))


def _transport_kind(exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        reason = cause.reason if isinstance(cause, urllib.error.URLError) else cause
        if isinstance(reason, TimeoutError):
            return "timeout"
        cause = cause.__cause__
    return "connection error"


class MixCaller:
    """A scripted caller who hears in real time and answers offers the script missed."""

    def __init__(
        self, script: ScriptedCaller, pacer: Pacer, prompts: Prompts | None,
        rng: random.Random, tally: Tally,
    ) -> None:
        self.script, self.pacer, self.prompts, self.rng, self.tally = (
            script, pacer, prompts, rng, tally)
        self.since_answer: set[str] = set()  # prompt keys heard since the last answer

    def hear(self, event: Mapping[str, Any]) -> None:
        self.pacer.heard(event)
        if self.prompts is None or event["type"] not in (EventType.SAY, EventType.PLAY):
            return
        keys = {k.split("/", 1)[-1] for k in self.prompts.keys(event)}
        self.since_answer |= keys
        self.tally.heard.update(keys & COUNTED)
        if APOLOGY in keys:
            self.tally.errors["app error (apology TwiML)"] += 1

    def answer(self, prompt: Prompt) -> Answer:
        heard, self.since_answer = self.since_answer, set()
        if self.script.unused:
            return self.script.answer(prompt)
        if "wait_offer" in heard:  # 1 a callback, 2 the best times, 3 keep waiting
            return Answer.parse(self.rng.choices("123", weights=(3, 1, 6))[0])
        if "closed_offer" in heard:  # 1 a callback, or hang up
            return Answer.parse(self.rng.choice(("1", "h")))
        return TIMEOUT


@dataclass(frozen=True, slots=True)
class Line:
    """What every caller thread shares (read-only)."""

    target: Target
    token: str
    settings: Settings
    language_keys: Mapping[str, str]
    today: date
    stop: threading.Event
    hosts: tuple[str, ...] = ()  # behind the balancer (--postgres); none: url itself
    calls: Iterator[int] = field(default_factory=itertools.count)  # calls begun, all callers


def caller_loop(index: int, line: Line, tally: Tally) -> None:
    """One caller: calls after calls until the run stops."""
    s = line.settings
    rng = random.Random(f"{s.seed}:{index}")
    weights = [p.weight for p in MIX]
    if line.stop.wait(index * s.ramp_s / s.callers):
        return
    while not line.stop.is_set():
        profile = rng.choices(MIX, weights=weights)[0]
        spec = CallSpec(lang=rng.choice(LANGS) if profile.lang else None,
                        press=tuple(profile.press.split()))
        pacer = Pacer(line.stop, s.time_scale)
        caller = MixCaller(spec.script(line.language_keys, line.today).caller(), pacer,
                           line.target.prompts, rng, tally)
        options = CallOptions(
            from_=profile.from_ or f"+86137{rng.randrange(10**8):08d}",
            hold=Hold(wait_loops=None, bridge_after_s=rng.uniform(0.5, 1.5) * s.hold_s),
            status_callback=line.target.status_callback,
            play_duration_s=line.target.play_duration_s,
        )
        inner = HTTPTransport(s.timeout_s).session()
        if line.hosts:
            inner = BalancedSession(inner, line.hosts, next(line.calls), tally)
        session = PacedSession(inner, pacer, tally)
        tally.started += 1
        try:
            trace = simulate(line.target.voice_url, transport=OneSession(session),
                             token=line.token, caller=caller, options=options)
        except HungUp:
            tally.cut += 1
            continue
        except Exception as exc:  # noqa: BLE001 - a bench fault must not end the run silently
            log.exception("caller %d: the simulator failed", index)
            tally.errors[f"bench fault: {type(exc).__name__}"] += 1
            line.stop.wait(REDIAL_S / s.time_scale)
            continue
        failed = trace.outcome.ended_by is EndedBy.ERROR
        tally.failed += failed
        tally.completed += not failed
        tally.outcomes[trace.outcome.queue or str(trace.outcome.ended_by)] += 1
        for ev in trace.of_type(EventType.ERROR):
            if ev.get("code") != 11200:  # HTTP failures are counted where they happen
                kind = "invalid TwiML" if ev.get("code") else "call error"
                tally.errors[f"{kind} {ev.get('code') or ''}: {ev.get('message', '')}"[:120]] += 1
        if failed:  # a failed call is not redialled at once
            line.stop.wait(REDIAL_S / s.time_scale)


# -- slow clients ------------------------------------------------------------------------

TRICKLE_EVERY_S = 0.5  # a trickler sends one body byte this often
TRICKLE_BODY = 1000  # bytes declared: 500 s to send, far beyond any request timeout
RECONNECT_S = 0.2  # a slow client cut off by the server connects again after this


@dataclass(slots=True)
class SlowTally:
    """What the slow clients met: they are the attack, so none of this is an error."""

    connections: int = 0  # opened, by tricklers and idle clients together
    cut: int = 0  # ended by the server before the client was done
    refused: int = 0  # could not connect
    health_asked: int = 0  # GET /health, every 0.5 s while they are connected
    health_answered: int = 0  # ... answered 200 within the time-out


def _trickle(host: str, port: int, stop: threading.Event, tally: SlowTally,
             lock: threading.Lock) -> None:
    """An unsigned POST /voice declaring a 1,000-byte body, sent a byte every 0.5 s; when
    the server cuts it off (its request timeout), the same again on a new connection."""
    head = (f"POST /voice HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {TRICKLE_BODY}\r\n\r\n").encode()

    def one(sock: socket.socket) -> None:
        sock.sendall(head)
        for _ in range(TRICKLE_BODY):
            if stop.wait(TRICKLE_EVERY_S):
                return
            sock.sendall(b"a")
        sock.recv(4096)  # the whole body went through (403: unsigned); go again

    _slow_client(host, port, stop, tally, lock, one)


def _idle(host: str, port: int, stop: threading.Event, tally: SlowTally,
          lock: threading.Lock, first: bytes = b"") -> None:
    """A connection that sends ``first`` (nothing, or a byte of a request line), held
    until the server closes it, then again."""
    def one(sock: socket.socket) -> None:
        sock.sendall(first)
        sock.settimeout(TRICKLE_EVERY_S)
        while not stop.is_set():
            try:
                if not sock.recv(1):
                    raise ConnectionResetError("closed by the server")
            except TimeoutError:
                continue

    _slow_client(host, port, stop, tally, lock, one)


def _slow_client(host: str, port: int, stop: threading.Event, tally: SlowTally,
                 lock: threading.Lock, one: Callable[[socket.socket], None]) -> None:
    """Run ``one`` on connection after connection until the run stops, counting them."""
    while not stop.is_set():
        try:
            sock = socket.create_connection((host, port), timeout=5)
        except OSError:
            with lock:
                tally.refused += 1
            stop.wait(1)
            continue
        with lock:
            tally.connections += 1
        with sock:
            try:
                one(sock)
            except OSError:
                if not stop.is_set():
                    with lock:
                        tally.cut += 1
        stop.wait(RECONNECT_S)


def _one_byte(host: str, port: int, stop: threading.Event, tally: SlowTally,
              lock: threading.Lock) -> None:
    _idle(host, port, stop, tally, lock, first=b"P")


def _health(url: str, stop: threading.Event, tally: SlowTally, lock: threading.Lock,
            timeout_s: float) -> None:
    """Ask ``url``/health every 0.5 s, as a load balancer would, until the run stops."""
    while not stop.wait(0.5):
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout_s) as r:
                answered = r.status == 200
        except OSError:
            answered = False
        with lock:
            tally.health_asked += 1
            tally.health_answered += answered


@contextmanager
def slow_clients(urls: Sequence[str], count: int, idle: int = 0, one_byte: int = 0,
                 timeout_s: float = 15.0) -> Iterator[SlowTally]:
    """``count`` clients trickling a request body, ``count + idle`` idle connections and
    ``one_byte`` connections that sent a byte against each of ``urls`` (loopback, checked
    by the caller) while the block runs, and each host's /health asked every 0.5 s."""
    tally, lock, stop = SlowTally(), threading.Lock(), threading.Event()
    threads = []
    for url in urls:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        threads += [threading.Thread(target=kind, args=(host, port, stop, tally, lock),
                                     name=f"{kind.__name__[1:]}-{port}-{i}", daemon=True)
                    for kind, n in ((_trickle, count), (_idle, count + idle),
                                    (_one_byte, one_byte)) for i in range(n)]
        threads.append(threading.Thread(target=_health, args=(url, stop, tally, lock,
                                                              timeout_s), daemon=True))
    for thread in threads:
        thread.start()
    try:
        yield tally
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


# -- a run -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    tally: Tally
    wall_s: float
    client_cpu_s: float
    stuck: int  # caller threads still in a webhook when the bench gave up waiting
    interrupted: bool
    slow: SlowTally | None = None  # with --tricklers


def run_load(url: str, token: str, settings: Settings, hosts: Sequence[str] = ()) -> Run:
    """Run ``settings.callers`` callers against ``url`` for ``settings.duration_s``, with
    ``settings.tricklers`` slow clients connected the whole time (to each host); with
    ``hosts``, ``url`` is the balancer's address and each call's requests go round them."""
    if not settings.attacked:
        return _run_callers(url, token, settings, hosts)
    with slow_clients(hosts or [url], settings.tricklers, settings.idle, settings.one_byte,
                      settings.timeout_s) as slow:
        time.sleep(1.0)  # the tricklers have sent their headers and hold their threads
        run = _run_callers(url, token, settings, hosts)
    return replace(run, slow=slow)


def _run_callers(url: str, token: str, settings: Settings, hosts: Sequence[str]) -> Run:
    target = over_http(url, token)
    line = Line(target, token, settings, target.language_keys(),
                datetime.now(Centre.load().traffic.zone).date(), threading.Event(),
                tuple(hosts))
    tallies = [Tally() for _ in range(settings.callers)]
    threads = [
        threading.Thread(target=caller_loop, args=(i, line, tally), name=f"caller-{i}",
                         daemon=True)
        for i, tally in enumerate(tallies)
    ]
    started, cpu = time.monotonic(), time.process_time()
    interrupted = False
    for thread in threads:
        thread.start()
    try:
        line.stop.wait(settings.duration_s)
    except KeyboardInterrupt:
        interrupted = True
    line.stop.set()
    # webhooks in flight finish (or time out); the callers hang up before the next one
    give_up = time.monotonic() + settings.timeout_s + 5
    for thread in threads:
        thread.join(max(0.0, give_up - time.monotonic()))
    stuck = sum(t.is_alive() for t in threads)
    return Run(_add(tallies), time.monotonic() - started, time.process_time() - cpu, stuck,
               interrupted)


def _add(tallies: Sequence[Tally]) -> Tally:
    total = Tally()
    for t in tallies:
        total.webhooks += t.webhooks
        total.latencies += t.latencies
        total.errors += t.errors
        total.started += t.started
        total.completed += t.completed
        total.failed += t.failed
        total.cut += t.cut
        total.outcomes += t.outcomes
        total.heard += t.heard
        total.hosts += t.hosts
    return total


# -- servers of its own ------------------------------------------------------------------


@dataclass(slots=True)
class Server:
    """The ``ivr serve`` hosts the bench started: one, or several on one PostgreSQL behind
    the balancer's address; ``cpu_s``, ``database_cpu_s`` and ``log_errors`` once stopped."""

    url: str  # what the callers ring: the one host, or the balancer's address
    token: str
    command: list[str]  # a host's (each host has its own --port)
    database: str
    hosts: list[str] = field(default_factory=list)  # behind the balancer; none: url alone
    cpu_s: float | None = None  # the hosts' CPU time (workers included), start-up included
    database_cpu_s: float | None = None  # PostgreSQL's: its server, backends, helpers
    log_errors: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg() -> ModuleType:
    """tests/pg.py: the test suite's throwaway PostgreSQL, the one copy of that code."""
    name = "ivr_tests_pg"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "tests" / "pg.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before it runs: its dataclass looks its module up
        spec.loader.exec_module(module)
    return sys.modules[name]


def _start_postgres(stack: ExitStack) -> tuple[Any, str]:
    """A throwaway PostgreSQL, stopped (and its folder removed) when ``stack`` closes;
    it and its version."""
    pg = _pg()
    why = pg.missing()
    if why:
        raise click.ClickException(f"--postgres needs a PostgreSQL to start: {why}")
    server = pg.PostgresServer.start()
    stack.callback(server.stop)
    done = subprocess.run([str(server.bin_dir / "postgres"), "--version"],
                          capture_output=True, text=True, check=False)
    version = re.search(r"\(PostgreSQL\) (\S+)", done.stdout)  # postgres (PostgreSQL) 15.8
    return server, version.group(1) if version else "?"


@contextmanager
def started_server(workers: int, threads: int | None, postgres: bool = False,
                   hosts: int = 1) -> Iterator[Server]:
    """``ivr serve --demo`` on a free loopback port, a temporary database, a random token,
    a random SECRET_KEY, and the default settings (no ``IVR_*`` from this environment:
    production PIN cost). With ``postgres``, ``hosts`` of them started at once on a
    throwaway PostgreSQL, sharing the token, the key and the balancer's address."""
    with tempfile.TemporaryDirectory(prefix="ivr-load-") as tmp, ExitStack() as stack:
        token = secrets.token_hex(16)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("IVR_") and k != "TWILIO_AUTH_TOKEN"}
        env.update(TWILIO_AUTH_TOKEN=token, IVR_SECRET_KEY=secrets.token_hex(32))
        pg_server = None
        if postgres:
            pg_server, version = _start_postgres(stack)
            env["IVR_DATABASE"] = pg_server.fresh_database()
            database = f"PostgreSQL {version} (throwaway, tests/pg.py)"
        else:
            env["IVR_DATABASE"] = str(Path(tmp) / "ivr.db")
            database, hosts = "SQLite (a temporary file)", 1
        ports = [_free_port() for _ in range(hosts)]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        env["IVR_PUBLIC_URL"] = BALANCER if postgres else urls[0]
        options = ["--workers", str(workers), *(["--threads", str(threads)] if threads else [])]
        server = Server(env["IVR_PUBLIC_URL"], token,
                        ["ivr", "serve", "--demo", "--host", "127.0.0.1", "--port", str(ports[0]),
                         *options], database, urls if postgres else [])
        cpu_before = _children_cpu_s()
        started: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        try:
            for url, port in zip(urls, ports, strict=True):
                log_path = Path(tmp) / f"server-{port}.log"
                with log_path.open("wb") as out:
                    # cwd=REPO: `python -c` imports this checkout's ivr, whatever is installed
                    started.append((url, subprocess.Popen(
                        [sys.executable, "-c", "from ivr.cli import cli; cli(prog_name='ivr')",
                         "serve", "--demo", "--host", "127.0.0.1", "--port", str(port),
                         *options],
                        stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                        start_new_session=True), log_path))  # Ctrl-C: the bench stops them
            for url, proc, log_path in started:
                _wait_healthy(url, proc, log_path)
            yield server
        finally:
            for _, proc, _ in started:
                if proc.poll() is None:
                    proc.terminate()  # gunicorn: graceful stop
            for _, proc, _ in started:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            server.cpu_s = _children_cpu_s() - cpu_before
            if pg_server is not None:
                server.database_cpu_s = _postgres_cpu_s(pg_server.data)
            for _, _, log_path in started:
                lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
                server.log_errors += [ln for ln in lines if _LOG_ERROR.search(ln)]


def _postgres_cpu_s(data: Path) -> float | None:
    """The CPU time PostgreSQL has used: its server process, with the backends and helpers
    it reaped and those still running (Linux's /proc; None elsewhere)."""
    def used_s(pid: int | str) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # u, s, cu, cs

    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = used_s(pid)
    except (OSError, ValueError, IndexError):
        return None
    for child in children:
        try:
            total += used_s(child)
        except OSError:  # ended meanwhile: the server has its time now, or soon
            pass
    return total


def _children_cpu_s() -> float:
    # the server's workers are reaped by its master, the master by us: once both are
    # stopped their CPU time is in our children's
    times = os.times()
    return times.children_user + times.children_system


def _check_health(url: str) -> None:
    parts = urlsplit(url)
    health = f"{parts.scheme}://{parts.netloc}/health"
    try:
        with urllib.request.urlopen(health, timeout=5):
            pass
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(f"no server answers at {health}: {exc}") from exc


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
            raise click.ClickException(f"the server exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise click.ClickException(f"the server at {url} did not answer /health within 60 s")


# -- the report -------------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank percentile of sorted values (0 for none)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(len(ordered) * q / 100))
    return ordered[min(len(ordered), rank) - 1]


def _latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    stats = {f"p{q}": percentile(ordered, q) for q in (50, 95, 99)}
    stats["max"] = ordered[-1] if ordered else 0.0
    return {k: round(v * 1000, 1) for k, v in stats.items()}


def make_report(run: Run, settings: Settings, url: str, server: Server | None) -> dict[str, Any]:
    """Everything measured, as plain data (printed as text or JSON)."""
    t = run.tally
    by_route: dict[str, list[float]] = {}
    for route, seconds in t.latencies:
        by_route.setdefault(route, []).append(seconds)
    latency = _latency_ms([s for _, s in t.latencies])
    errors = sum(t.errors.values())
    return {
        "settings": {
            **asdict(settings),
            "url": url,
            "server": _described(server),
            "database": server.database if server else "the server's",
            "pin_cost": "scrypt N=2^14 (no IVR_PIN_HASH_N)" if server else "the server's",
            "cpus": os.cpu_count(),
        },
        "wall_s": round(run.wall_s, 1),
        "calls": {"started": t.started, "completed": t.completed, "failed": t.failed,
                  "cut_at_end": t.cut},
        "webhooks": t.webhooks,
        "hosts": dict(sorted(t.hosts.items())) if t.hosts else {url: t.webhooks},
        "webhooks_per_s": round(t.webhooks / run.wall_s, 1) if run.wall_s else 0.0,
        "latency_ms": latency,
        "errors": dict(t.errors.most_common()),
        "routes": {
            route: {"n": len(s), **_latency_ms(s)}
            for route, s in sorted(by_route.items(), key=lambda kv: -len(kv[1]))
        },
        "outcomes": dict(t.outcomes.most_common()),
        "heard": dict(t.heard.most_common()),
        "client_cpu_s": round(run.client_cpu_s, 1),
        "server_cpu_s": round(server.cpu_s, 1) if server and server.cpu_s is not None else None,
        "database_cpu_s": (round(server.database_cpu_s, 1)
                           if server and server.database_cpu_s is not None else None),
        "server_log_errors": server.log_errors[:20] if server else None,
        "slow_clients": asdict(run.slow) if run.slow else None,
        "stuck_callers": run.stuck,
        "interrupted": run.interrupted,
        "goal_met": (errors == 0 and run.stuck == 0 and latency["p99"] < GOAL_P99_MS
                     and (run.slow is None
                          or run.slow.health_answered == run.slow.health_asked)),
    }


def _described(server: Server | None) -> str:
    if server is None:
        return "given (--url)"
    if not server.hosts:
        return " ".join(server.command)
    at = server.command.index("--port")
    command = " ".join([*server.command[:at], *server.command[at + 2:]])
    return (f"{len(server.hosts)} hosts behind {server.url} (each request of a call to the "
            f"next host), each: {command} --port <its own>")


def _slow_line(s: Mapping[str, Any], slow: Mapping[str, int] | None) -> list[str]:
    if slow is None:
        return []
    tricklers, idle, one_byte = s["tricklers"], s["tricklers"] + s["idle"], s["one_byte"]
    return [f"slow clients all along: {tricklers} trickling a body (a byte every "
            f"{TRICKLE_EVERY_S:g} s), {idle} idle, {one_byte} sent one byte; "
            f"/health answered {slow['health_answered']} of {slow['health_asked']}; "
            f"{slow['connections']} connections, "
            f"{slow['cut']} cut off by the server, {slow['refused']} refused"]


def render_text(report: Mapping[str, Any]) -> str:
    s, calls, lat = report["settings"], report["calls"], report["latency_ms"]
    pace = "real time" if s["time_scale"] == 1 else f"{s['time_scale']:g}x real time"
    out = [
        f"{s['callers']} callers for {s['duration_s']:g} s (ramp {s['ramp_s']:g} s, hold "
        f"~{s['hold_s']:g} s, {pace}, seed {s['seed']}) against {s['url']}",
        f"server: {s['server']}; database: {s['database']}; PINs: {s['pin_cost']}; "
        f"{s['cpus']} CPUs",
        *_slow_line(s, report["slow_clients"]),
        f"calls: {calls['started']} started, {calls['completed']} completed, "
        f"{calls['failed']} failed, {calls['cut_at_end']} cut at the end",
        f"webhooks: {report['webhooks']} ({report['webhooks_per_s']}/s)" + (
            "; by host: " + ", ".join(f"{host} {n}" for host, n in report["hosts"].items())
            if len(report["hosts"]) > 1 else ""),
        f"latency: p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms, "
        f"max {lat['max']} ms",
        "errors: " + (", ".join(f"{k}: {v}" for k, v in report["errors"].items()) or "none"),
    ]
    slowest = sorted(report["routes"].items(), key=lambda kv: -kv[1]["p99"])[:5]
    out.append("slowest routes (p99): " + "; ".join(
        f"{route} {r['p99']} ms (n={r['n']})" for route, r in slowest))
    out.append("outcomes: " + ", ".join(f"{k} {v}" for k, v in report["outcomes"].items()))
    out.append("heard: " + ", ".join(f"{k} {v}" for k, v in report["heard"].items()))
    cpu = f"bench {report['client_cpu_s']} s"
    if report["server_cpu_s"] is not None:
        cores = report["server_cpu_s"] / report["wall_s"] if report["wall_s"] else 0.0
        cpu += f", server {report['server_cpu_s']} s ({cores:.2f} cores on average)"
    if report["database_cpu_s"] is not None:
        cores = report["database_cpu_s"] / report["wall_s"] if report["wall_s"] else 0.0
        cpu += f", PostgreSQL {report['database_cpu_s']} s ({cores:.2f} cores)"
    out.append(f"CPU: {cpu} over {report['wall_s']} s")
    if report["server_log_errors"] is not None:
        logged = report["server_log_errors"]
        out.append(f"server log: {len(logged)} error line(s)" + "".join(
            f"\n  {ln[:160]}" for ln in logged[:5]))
    if report["stuck_callers"]:
        out.append(f"{report['stuck_callers']} caller(s) still waiting on a webhook at the end")
    if report["interrupted"]:
        out.append("interrupted (Ctrl-C): the figures cover the time run")
    met = "met" if report["goal_met"] else "NOT met"
    out.append(f"goal (0 errors, p99 < {GOAL_P99_MS:g} ms): {met}")
    return "\n".join(out)


# -- the command ----------------------------------------------------------------------------


@click.command(help=__doc__.split("\n\n")[0] if __doc__ else None)
@click.option("--url", default="http://127.0.0.1:8000", show_default=True,
              help="The running server (its base URL or Voice URL); loopback only.")
@click.option("--token", envvar="TWILIO_AUTH_TOKEN", help="The server's Twilio Auth Token "
              "[env: TWILIO_AUTH_TOKEN].")
@click.option("--callers", default=200, show_default=True, type=click.IntRange(1, 2000))
@click.option("--duration-s", default=120.0, show_default=True, type=click.FloatRange(1))
@click.option("--ramp-s", default=10.0, show_default=True, type=click.FloatRange(0),
              help="The callers' first calls are spread over this long.")
@click.option("--hold-s", default=30.0, show_default=True, type=click.FloatRange(0),
              help="A queued caller is answered after about this long (0.5-1.5x).")
@click.option("--timeout-s", default=15.0, show_default=True, type=click.FloatRange(0.1),
              help="A webhook not answered within this is a time-out (Twilio: 15 s).")
@click.option("--time-scale", default=1.0, show_default=True, type=click.FloatRange(0.1, 100),
              help="Callers act this many times faster than real time (1: real time).")
@click.option("--seed", default=1, show_default=True, help="The mix and the callers' choices.")
@click.option("--tricklers", default=0, show_default=True, type=click.IntRange(0, 256),
              help="Also keep this many clients trickling a request body (a byte every "
                   "0.5 s) and as many idle connections open all along, each connecting "
                   "again when the server cuts it off: the webhooks' latency with them.")
@click.option("--idle", default=0, show_default=True, type=click.IntRange(0, 1000),
              help="Also hold this many connections that send nothing (beside the "
                   "tricklers' own), each connecting again when the server closes it.")
@click.option("--one-byte", default=0, show_default=True, type=click.IntRange(0, 1000),
              help="Also hold this many connections that sent one byte of a request line.")
@click.option("--start-server", is_flag=True,
              help="Start `ivr serve --demo` on a free loopback port (temporary database, "
                   "random token) for the run, and stop it after.")
@click.option("--postgres", is_flag=True,
              help="Start a throwaway PostgreSQL (initdb and pg_ctl from the system's "
                   "binaries) and --hosts `ivr serve --demo` on it, and spread each call's "
                   "webhooks over them as a load balancer without sticky sessions.")
@click.option("--hosts", default=2, show_default=True, type=click.IntRange(1, 8),
              help="With --postgres: how many hosts.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="With --start-server or --postgres: gunicorn workers per host "
                   "(`ivr serve`'s default).")
@click.option("--threads", type=click.IntRange(1, 256),
              help="With --start-server or --postgres: threads per worker "
                   "(`ivr serve --threads`).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def main(url: str, token: str | None, callers: int, duration_s: float, ramp_s: float,
         hold_s: float, timeout_s: float, time_scale: float, seed: int, tricklers: int,
         idle: int, one_byte: int, start_server: bool, postgres: bool, hosts: int,
         workers: int, threads: int | None, as_json: bool) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ["no_proxy"] = "*"  # urllib would send even loopback URLs to an HTTP(S)_PROXY
    logging.getLogger("ivr").setLevel(logging.ERROR)
    settings = Settings(callers, duration_s, ramp_s, hold_s, timeout_s, time_scale, seed,
                        tricklers, idle, one_byte)
    if start_server or postgres:
        with started_server(workers, threads, postgres, hosts) as server:
            run = run_load(server.url, server.token, settings, server.hosts)
        report = make_report(run, settings, server.url, server)
    else:
        if not is_loopback(url):
            raise click.BadParameter(f"{url}: only loopback addresses (127.0.0.0/8, ::1, "
                                     "localhost)", param_hint="--url")
        if not token:
            raise click.BadParameter("the server's token is needed to sign the webhooks",
                                     param_hint="--token")
        _check_health(url)
        report = make_report(run_load(url, token, settings), settings, url, None)
    click.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json
               else render_text(report))
    if not report["goal_met"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
