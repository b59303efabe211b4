"""The centre's day as a discrete-event simulation: hotline calls walk the tree (a walk
drawn from real ones, ``ivr.plan.walks``) and reach their queue when the flow enqueues
them; each queue is first come, first served, with agents per interval, a handle time
and a patience per queue; a caller told a wait over the threshold, or reaching a closed
queue, may book a callback into the window the flow's advice gives then (``QueueSetup.
windows``); at a moment drawn evenly over the window the callback joins its queue as a
call with no patience limit, first come, first served with the callers there (a window's
callbacks are paced across it, as an agent working down the console's list would, not all
made at its first second: the night's callbacks of a queue closed overnight share the
morning's first window, and all at 08:00:00 would hold every caller of that interval).
A share of those who hang up in the queue call again after a delay, and walk the tree
again.

No event calendar for the agents: in a FIFO queue whose abandoners take no agent, when a
caller is answered depends only on the callers before them, so each caller is settled
when they arrive: the earliest moment an agent is free and on shift (an agent finishes
the call in hand when their shift ends). Only calls are events: the day's calls in time
order, and a heap of what they lead to (arrivals at a queue, callers trying again,
callbacks falling due). Queues whose agents are shared (``GroupSetup``: skills, fraud
first) cannot be settled on arrival: ``ivr.plan.skills`` simulates those with
a full event calendar, the untouched queues keep this fast path. With
constant rates, exponential handle times and patience this is the M/M/n+M queue, Erlang
A (``tests/test_plan.py`` holds it to ``ivr.queue.erlang``). Pure: randomness only from
the given seed.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
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
#: a callback's window: (start, end) in seconds from the run's start
Window = tuple[float, float]
#: the class of caller that marks a callback falling due in the event heap
CALLBACK_DUE = -1


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
    #: per interval, the window a callback booked then is made in (``ivr.plan.scenario``
    #: asks the flow's advice); empty: the next open interval
    windows: tuple[Window, ...] = ()

    def callback_windows(self, interval_s: float) -> tuple[Window, ...]:
        """Per interval, the window a callback booked then gets (inf: none in the run)."""
        if self.windows:
            return self.windows
        out: list[Window] = []
        after: Window = (math.inf, math.inf)
        for i in range(len(self.open) - 1, -1, -1):
            out.append(after)
            if self.open[i]:
                after = (i * interval_s, (i + 1) * interval_s)
        return tuple(reversed(out))


@dataclass(frozen=True, slots=True)
class GroupSetup:
    """Agents shared by queues (skills): a free agent takes the fraud queue's first
    caller, else the longest waiting of the queues' first callers."""

    name: str
    queues: tuple[str, ...]
    agents: tuple[int, ...]


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
    """One queue's figures per interval (by the interval a caller reached the queue or
    booked a callback; busy time and callbacks made by when they happened). Busy time is
    the queue's own agents'; shared agents' is their group's (``GroupTally``)."""

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
    #: callbacks booked instead of waiting (part of ``offered``), callbacks made
    booked: list[int]
    served: list[int]
    retrials: list[int]
    #: reached the queue while it was closed; of them, booked a callback
    closed: list[int]
    busy_s: list[float]
    booked_closed: list[int] = field(default_factory=list)
    #: callbacks booked in the tree itself for this queue (an emergency switch)
    booked_tree: list[int] = field(default_factory=list)
    #: callbacks made after their window's end
    late: list[int] = field(default_factory=list)
    #: callbacks booked and not made by the end
    owed: int = 0

    @classmethod
    def empty(cls, agents: tuple[int, ...]) -> Tally:
        n = len(agents)
        return cls(agents, offered=[0] * n, answered=[0] * n, abandoned=[0] * n,
                   within=[0] * n, waited=[0] * n, wait_answered_s=[0.0] * n,
                   queue_time_s=[0.0] * n, booked=[0] * n, served=[0] * n, retrials=[0] * n,
                   closed=[0] * n, busy_s=[0.0] * n, booked_closed=[0] * n,
                   booked_tree=[0] * n, late=[0] * n)

    def add_busy(self, start: float, end: float, width: float) -> None:
        add_busy(self.busy_s, start, end, width)


def add_busy(busy: list[float], start: float, end: float, width: float) -> None:
    """Add the time from ``start`` to ``end`` to ``busy``'s intervals (none past its last)."""
    i, n = int(start / width), len(busy)
    while start < end and i < n:
        upto = min(end, (i + 1) * width)
        busy[i] += upto - start
        start, i = upto, i + 1


@dataclass(slots=True)
class GroupTally:
    """A group of shared agents: per interval its agents and their busy time, and their
    busy time per queue served (attributed to the queue whose caller they served)."""

    queues: tuple[str, ...]
    agents: tuple[int, ...]
    busy_s: list[float]
    busy_by_queue_s: dict[str, float]


@dataclass(frozen=True, slots=True)
class Day:
    """What a run produced: per queue its tally, and the hotline's own per interval."""

    interval_s: float
    target_s: float
    queues: dict[str, Tally]
    hotline: dict[str, list[int]] = field(default_factory=dict)
    groups: dict[str, GroupTally] = field(default_factory=dict)


class LiveWait:
    """The wait told to a caller finding every agent busy: the live estimate with the
    callers ahead (``ivr.queue.erlang.live_wait_s``), as the flow says it. It sums
    1/(n mu + j theta) for j = 0..ahead: kept per n as running sums, since a busy queue
    asks it for every caller."""

    def __init__(self, aht_s: float, patience_s: float) -> None:
        self.aht_s, self.patience_s = aht_s, patience_s
        self.sums: dict[int, list[float]] = {}

    def told_s(self, ahead: int, agents: int) -> float:
        if agents == 0:
            return math.inf
        sums = self.sums.get(agents)
        if sums is None:
            sums = self.sums[agents] = []
        if len(sums) <= ahead:
            rate, theta = agents / self.aht_s, 1.0 / self.patience_s
            total = sums[-1] if sums else 0.0
            for j in range(len(sums), ahead + 1):
                total += 1.0 / (rate + j * theta)
                sums.append(total)
        return sums[ahead]


class _Queue:
    """A queue being simulated: when each agent is next free, and its waiting callers."""

    def __init__(self, setup: QueueSetup, rules: Rules, rng: random.Random,
                 end_s: float | None = None) -> None:
        self.agents = setup.agents
        self.open = setup.open
        self.n = len(setup.agents)
        self.width = rules.interval_s
        self.end_s = self.n * self.width if end_s is None else end_s
        self.rules = rules
        self.rng = rng
        self.handle = setup.handle.sampler(rng)
        self.patience = setup.patience.sampler(rng)
        self.windows = setup.callback_windows(rules.interval_s)
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
        self.live = LiveWait(setup.handle.mean_s, setup.patience.mean_s)
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

    def told_s(self, t: float) -> float:
        """The wait told to a caller finding every agent busy (``LiveWait``)."""
        waiting = self.waiting
        while waiting and waiting[0] <= t:
            heapq.heappop(waiting)
        return self.live.told_s(len(waiting), self.agents[self.interval(t)])

    def book(self, t: float) -> Window:
        """A callback for this queue booked in the tree at ``t``: its window."""
        i = self.interval(t)
        self.tally.booked_tree[i] += 1
        return self.windows[i]

    def arrive(self, t: float, retrial: bool, klass: int) -> float | Window | None:
        """A caller (of ``klass``) reaches the queue at ``t``: when they hang up (a
        float), the window of the callback they book (a pair), or None (answered, or
        nothing more to do)."""
        tally, i = self.tally, self.interval(t)
        rules = self.rules
        if not self.open[i]:
            tally.closed[i] += 1
            if rules.callback_take and self.rng.random() < rules.callback_take:
                tally.booked_closed[i] += 1
                return self.windows[i]
            return None
        tally.offered[i] += 1
        tally.retrials[i] += retrial
        start, agent = self.earliest(t)
        wait = start - t
        if wait > 0 and rules.wait_threshold_s < math.inf:
            if self.told_s(t) > rules.wait_threshold_s and \
                    self.rng.random() < rules.callback_take:
                tally.booked[i] += 1
                return self.windows[i]
        patience = self.patience()
        if wait > 0:
            tally.waited[i] += 1
        if wait <= patience and agent >= 0:
            end = start + self.handle()
            self.free[agent] = end
            tally.add_busy(start, end, self.width)
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

    def call_back(self, t: float, due: float) -> None:
        """A callback joins the queue at ``t`` (a moment in its window), waiting as long as it
        takes; made late after ``due``, owed when not made before the run's end."""
        tally = self.tally
        start, agent = self.earliest(t) if t < self.end_s else (math.inf, -1)
        if agent < 0 or start >= self.end_s:
            tally.owed += 1
            return
        end = start + self.handle()
        self.free[agent] = end
        tally.add_busy(start, end, self.width)
        i = self.interval(start)
        tally.served[i] += 1
        tally.late[i] += start > due
        if start > t:
            heapq.heappush(self.waiting, start)


class Queues(Protocol):
    """Where the run sends its callers: the fast path (``_Queue``) or shared agents
    (``ivr.plan.skills.Pool``), which has events of its own."""

    def arrive(self, t: float, retrial: bool, klass: int) -> float | Window | None: ...

    def book(self, t: float) -> Window: ...

    def call_back(self, t: float, due: float) -> None: ...


class Shared(Protocol):
    """The queues with shared agents, as one event-driven simulation (``ivr.plan.skills``)."""

    def queue(self, name: str) -> Queues: ...

    def next_s(self) -> float:
        """When its next event happens (inf: none)."""
        ...

    def step(self) -> tuple[float, int] | None:
        """Its next event; when a caller hangs up in it, when, and their class."""
        ...

    def finish(self) -> None: ...

    def tallies(self) -> tuple[dict[str, Tally], dict[str, GroupTally]]: ...


#: builds the shared agents' simulation: (the queues touched, the groups, the rules, the
#: rng, the run's end) to a ``Shared``
MakeShared = Callable[[Mapping[str, QueueSetup], Sequence[GroupSetup], Rules, random.Random,
                       float], Shared]


def run(calls: Sequence[Call], walker: Walker, queues: Mapping[str, QueueSetup],
        rules: Rules, seed: int = 0, groups: Sequence[GroupSetup] = (),
        shared: MakeShared | None = None) -> Day:
    """Simulate the hotline's ``calls`` (in any order) through the tree and the queues;
    the queues a group of ``groups`` serves through ``shared`` (``ivr.plan.skills.pool``)."""
    rng = random.Random(seed)
    width = rules.interval_s
    intervals = len(next(iter(queues.values())).agents) if queues else 1
    end = intervals * width
    pooled = {q for g in groups for q in g.queues}
    pool: Shared | None = None
    if pooled:
        if shared is None:
            raise ValueError("groups of shared agents need the shared simulation")
        pool = shared({n: queues[n] for n in queues if n in pooled}, groups, rules, rng, end)
    fast = {name: _Queue(setup, rules, rng, end) for name, setup in queues.items()
            if name not in pooled}
    state: dict[str, Queues] = {**fast}
    if pool is not None:
        state.update({name: pool.queue(name) for name in pooled})
    hotline = {key: [0] * intervals for key in HOTLINE}
    # the calls in time order, and a heap of what they lead to: (time, order, queue
    # (None: a call to the hotline, a caller trying again), class (CALLBACK_DUE: a
    # callback falling due), retrial, a callback's window's end)
    ordered = sorted(calls)
    events: list[tuple[float, int, str | None, int, bool, float]] = []
    order, next_call, count = 0, 0, len(ordered)
    unit, expo, push, pop = rng.random, rng.expovariate, heapq.heappush, heapq.heappop
    retry_share, retry_rate = rules.retry_share, 1.0 / rules.retry_delay_s
    last = intervals - 1
    calls_at, retrials_at = hotline["calls"], hotline["retrials"]
    walk = walker.walk
    inf = math.inf

    def falls_due(window: Window) -> float:
        """A moment drawn evenly over ``window`` (its start when it has no end in the run)."""
        start, stop = window
        return start + unit() * (stop - start) if stop < inf else start
    while next_call < count or events or pool is not None:
        if pool is not None:
            # the shared agents' own events (answers, hang-ups, shift changes) go first
            # when they come before the next call or caller
            due = min(events[0][0] if events else inf,
                      ordered[next_call][0] if next_call < count else inf)
            if pool.next_s() <= due and pool.next_s() < inf:
                hung_up = pool.step()
                if hung_up is not None and retry_share and unit() < retry_share:
                    order += 1
                    push(events, (hung_up[0] + expo(retry_rate), order, None, hung_up[1],
                                  True, 0.0))
                continue
            if not events and next_call == count:
                break
        if events and (next_call == count or events[0][0] < ordered[next_call][0]):
            t, _, name, klass, retrial, until = pop(events)
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
                push(events, (t + after_s, order, queue, klass, retrial, 0.0))
            elif outcome == CALLBACK and queue in state:  # an emergency switch booked it
                window = state[queue].book(t + after_s)
                order += 1
                push(events, (falls_due(window), order, queue, CALLBACK_DUE, False, window[1]))
            continue
        if klass == CALLBACK_DUE:
            state[name].call_back(t, until)
            continue
        gone = state[name].arrive(t, retrial, klass)
        if gone is None:
            continue
        if isinstance(gone, tuple):  # a callback booked: it falls due in its window
            order += 1
            push(events, (falls_due(gone), order, name, CALLBACK_DUE, False, gone[1]))
        elif retry_share and unit() < retry_share:
            order += 1
            push(events, (gone + expo(retry_rate), order, None, klass, True, 0.0))
    tallies = {name: q.tally for name, q in fast.items()}
    group_tallies: dict[str, GroupTally] = {}
    if pool is not None:
        pool.finish()
        shared_tallies, group_tallies = pool.tallies()
        tallies.update(shared_tallies)
    return Day(width, rules.target_s, {name: tallies[name] for name in queues}, hotline,
               group_tallies)
