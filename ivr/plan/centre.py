"""The centre's day as a discrete-event simulation: hotline calls walk the tree (a walk
drawn from real ones, ``ivr.plan.walks``) and reach their queue when the flow enqueues
them; each queue is first come, first served, with agents per interval, a handle time
and a patience per queue; a caller told a wait over the threshold may book a callback,
which an agent makes when idle (no caller waiting) later in the day; a share of those who
hang up in the queue call again after a delay, and walk the tree again.

No event calendar for the agents: in a FIFO queue whose abandoners take no agent, when a
caller is answered depends only on the callers before them, so each caller is settled
when they arrive: the earliest moment an agent is free and on shift (an agent finishes
the call in hand when their shift ends). Only calls are events: the day's calls in time
order, and a heap of what they lead to (arrivals at a queue, callers trying again). With
constant rates, exponential handle times and patience this is the M/M/n+M queue, Erlang
A (``tests/test_plan.py`` holds it to ``ivr.queue.erlang``). Pure: randomness only from
the given seed.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)

#: what a walk of the tree ends in
QUEUED, SERVED, HUNG_UP, CALLBACK = "queued", "served", "hung_up", "callback"
#: (outcome, seconds in the tree until it ends, the queue when QUEUED)
Walk = tuple[str, float, str | None]
#: a hotline call: (seconds from the start of the first day, its class of caller)
Call = tuple[float, int]
#: the hotline's own tallies per interval
HOTLINE = ("calls", "retrials", QUEUED, SERVED, HUNG_UP, CALLBACK)


class Walker(Protocol):
    """The tree as the centre sees it: a walk for a caller of a class, at quantile ``u``."""

    def walk(self, klass: int, u: float) -> Walk: ...


@dataclass(frozen=True, slots=True)
class Duration:
    """A handle time or a patience: ``exponential`` (its mean) or ``lognormal`` (its mean
    and coefficient of variation)."""

    kind: str
    mean_s: float
    cv: float = 1.0

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        if math.isinf(self.mean_s):
            return lambda: math.inf
        if self.kind == "exponential":
            rate, expo = 1.0 / self.mean_s, rng.expovariate
            return lambda: expo(rate)
        sigma = math.sqrt(math.log1p(self.cv * self.cv))
        mu, draw = math.log(self.mean_s) - sigma * sigma / 2, rng.lognormvariate
        return lambda: draw(mu, sigma)


@dataclass(frozen=True, slots=True)
class QueueSetup:
    """One queue: its handle time, its callers' patience, and per interval its agents
    and whether it is open."""

    name: str
    handle: Duration
    patience: Duration
    agents: tuple[int, ...]
    open: tuple[bool, ...]


@dataclass(frozen=True, slots=True)
class Rules:
    """How the centre behaves besides its queues."""

    interval_s: float = 1800.0
    #: service level: answered within this many seconds
    target_s: float = 20.0
    #: a callback is offered when the wait told is over this (inf: never)
    wait_threshold_s: float = 20 * 60.0
    #: the share of those offered a callback who take it
    callback_take: float = 0.5
    #: the share of those who hang up in a queue who call again, and after how long (mean)
    retry_share: float = 0.0
    retry_delay_s: float = 600.0


@dataclass(slots=True)
class Tally:
    """One queue's figures per interval (by the interval a caller reached the queue;
    busy time and callbacks made by when they happened)."""

    agents: tuple[int, ...]
    offered: list[int]
    answered: list[int]
    abandoned: list[int]
    #: answered within the target
    within: list[int]
    #: found every agent busy (their offered wait was over 0)
    waited: list[int]
    #: seconds: the waits of those answered; the time in queue of all who queued
    wait_answered_s: list[float]
    queue_time_s: list[float]
    booked: list[int]
    served: list[int]
    retrials: list[int]
    #: reached the queue while it was closed
    closed: list[int]
    busy_s: list[float]
    #: callbacks booked and not made by the end
    owed: int = 0

    @classmethod
    def empty(cls, agents: tuple[int, ...]) -> Tally:
        n = len(agents)
        return cls(agents, offered=[0] * n, answered=[0] * n, abandoned=[0] * n,
                   within=[0] * n, waited=[0] * n, wait_answered_s=[0.0] * n,
                   queue_time_s=[0.0] * n, booked=[0] * n, served=[0] * n, retrials=[0] * n,
                   closed=[0] * n, busy_s=[0.0] * n)


@dataclass(frozen=True, slots=True)
class Day:
    """What a run produced: per queue its tally, and the hotline's own per interval."""

    interval_s: float
    target_s: float
    queues: dict[str, Tally]
    hotline: dict[str, list[int]] = field(default_factory=dict)


class _Queue:
    """A queue being simulated: when each agent is next free, its waiting callers, the
    callbacks it owes."""

    def __init__(self, setup: QueueSetup, rules: Rules, rng: random.Random) -> None:
        self.agents = setup.agents
        self.open = setup.open
        self.n = len(setup.agents)
        self.width = rules.interval_s
        self.rules = rules
        self.rng = rng
        self.handle = setup.handle.sampler(rng)
        self.patience = setup.patience.sampler(rng)
        self.aht_s, self.patience_s = setup.handle.mean_s, setup.patience.mean_s
        slots = max(setup.agents, default=0)
        self.free = [0.0] * slots
        # per agent and interval, the first interval from it on which they are on shift
        # (self.n: never again): an agent k is on shift while k < agents
        self.on_from: list[list[int]] = []
        for k in range(slots):
            row, nxt = [self.n] * self.n, self.n
            for i in range(self.n - 1, -1, -1):
                if setup.agents[i] > k:
                    nxt = i
                row[i] = nxt
            self.on_from.append(row)
        self.waiting: list[float] = []  # when those queued leave it (answered or gone)
        self.callbacks: deque[float] = deque()
        self.live_sums: dict[int, list[float]] = {}
        self.tally = Tally.empty(setup.agents)

    def interval(self, t: float) -> int:
        i = int(t / self.width)
        return i if i < self.n else self.n - 1

    def earliest(self, t: float) -> tuple[float, int]:
        """When the first agent is free and on shift from ``t``, and which agent."""
        free, width = self.free, self.width
        i = self.interval(t)
        n = self.agents[i]
        if n:
            m = min(free[:n])
            if m <= t:
                return t, free.index(m)
            if m < (i + 1) * width:  # no agent off shift now comes on before m
                return m, free.index(m)
        best, agent = math.inf, -1
        last = self.n - 1
        for k, f in enumerate(free):
            a = f if f > t else t
            j = int(a / width)
            j = j if j < last else last
            on = self.on_from[k][j]
            if on > last:
                continue
            s = a if on == j else on * width
            if s < best:
                best, agent = s, k
        return best, agent

    def busy(self, start: float, end: float) -> None:
        busy, width = self.tally.busy_s, self.width
        i = int(start / width)
        while start < end and i < self.n:
            upto = min(end, (i + 1) * width)
            busy[i] += upto - start
            start, i = upto, i + 1

    def make_callbacks(self, until: float) -> None:
        """Callbacks made by agents idle before ``until`` with nobody waiting."""
        callbacks = self.callbacks
        while callbacks:
            start, agent = self.earliest(callbacks[0])
            if start >= until:
                return
            callbacks.popleft()
            end = start + self.handle()
            self.free[agent] = end
            self.busy(start, end)
            self.tally.served[self.interval(start)] += 1

    def told_s(self, t: float) -> float:
        """The wait told to a caller finding every agent busy: the live estimate with the
        callers ahead (``ivr.queue.erlang.live_wait_s``), as the flow says it."""
        waiting = self.waiting
        while waiting and waiting[0] <= t:
            heapq.heappop(waiting)
        agents = self.agents[self.interval(t)]
        if agents == 0:
            return math.inf
        ahead = len(waiting)
        # live_wait_s sums 1/(n mu + j theta) for j = 0..ahead: kept per n as running
        # sums, since a busy queue asks it for every caller
        sums = self.live_sums.get(agents)
        if sums is None:
            sums = self.live_sums[agents] = []
        if len(sums) <= ahead:
            rate, theta = agents / self.aht_s, 1.0 / self.patience_s
            total = sums[-1] if sums else 0.0
            for j in range(len(sums), ahead + 1):
                total += 1.0 / (rate + j * theta)
                sums.append(total)
        return sums[ahead]

    def arrive(self, t: float, retrial: bool) -> float | None:
        """A caller reaches the queue at ``t``; when they hang up (None: they do not)."""
        tally, i = self.tally, self.interval(t)
        if not self.open[i]:
            tally.closed[i] += 1
            return None
        if self.callbacks:
            self.make_callbacks(t)
        tally.offered[i] += 1
        tally.retrials[i] += retrial
        start, agent = self.earliest(t)
        wait = start - t
        rules = self.rules
        if wait > 0 and rules.wait_threshold_s < math.inf:
            if self.told_s(t) > rules.wait_threshold_s and \
                    self.rng.random() < rules.callback_take:
                tally.booked[i] += 1
                self.callbacks.append(t)
                return None
        patience = self.patience()
        if wait > 0:
            tally.waited[i] += 1
        if wait <= patience and agent >= 0:
            end = start + self.handle()
            self.free[agent] = end
            self.busy(start, end)
            tally.answered[i] += 1
            tally.within[i] += wait <= rules.target_s
            tally.wait_answered_s[i] += wait
            tally.queue_time_s[i] += wait
            if wait > 0:
                heapq.heappush(self.waiting, start)
            return None
        tally.abandoned[i] += 1
        tally.queue_time_s[i] += patience
        heapq.heappush(self.waiting, t + patience)
        return t + patience


def run(calls: Sequence[Call], walker: Walker, queues: Mapping[str, QueueSetup],
        rules: Rules, seed: int = 0) -> Day:
    """Simulate the hotline's ``calls`` (in any order) through the tree and the queues."""
    rng = random.Random(seed)
    width = rules.interval_s
    intervals = len(next(iter(queues.values())).agents) if queues else 1
    state = {name: _Queue(setup, rules, rng) for name, setup in queues.items()}
    hotline = {key: [0] * intervals for key in HOTLINE}
    # the calls in time order, and a heap of what they lead to: (time, order, queue
    # (None: a call to the hotline, a caller trying again), class, retrial)
    ordered = sorted(calls)
    events: list[tuple[float, int, str | None, int, bool]] = []
    order, next_call, count = 0, 0, len(ordered)
    unit, expo, push, pop = rng.random, rng.expovariate, heapq.heappush, heapq.heappop
    retry_share, retry_rate = rules.retry_share, 1.0 / rules.retry_delay_s
    last = intervals - 1
    calls_at, retrials_at = hotline["calls"], hotline["retrials"]
    walk = walker.walk
    while next_call < count or events:
        if events and (next_call == count or events[0][0] < ordered[next_call][0]):
            t, _, name, klass, retrial = pop(events)
        else:
            t, klass = ordered[next_call]
            next_call += 1
            name, retrial = None, False
        if name is None:
            i = int(t / width)
            i = i if i < last else last
            calls_at[i] += 1
            retrials_at[i] += retrial
            outcome, after_s, queue = walk(klass, unit())
            hotline[outcome][i] += 1
            if outcome == QUEUED and queue is not None:
                order += 1
                push(events, (t + after_s, order, queue, klass, retrial))
            continue
        gone = state[name].arrive(t, retrial)
        if gone is not None and retry_share and unit() < retry_share:
            order += 1
            push(events, (gone + expo(retry_rate), order, None, klass, True))
    end = intervals * width
    for q in state.values():
        q.make_callbacks(end)
        q.tally.owed = len(q.callbacks)
    return Day(width, rules.target_s, {name: q.tally for name, q in state.items()}, hotline)
