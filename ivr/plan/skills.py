"""Queues whose agents are shared (skills), as a full event-driven simulation.

A group of agents (``centre.GroupSetup``) serves several queues, as an agent of the
live line with several queues does (``ivr.flow.agent.offer``): a free agent takes the
fraud queue's first caller if one waits, else the first caller of the queue whose first
has waited longest (first come, first served within a queue); a queue may also keep
agents of its own. A caller reaching a queue takes a free agent of its own first, then
of the groups in the plan file's order. With fraud first, when a caller is answered
depends on callers behind them in another queue, so ``centre``'s settle-at-arrival path
does not hold: here every moment is an event (arrivals, given by ``centre.run`` in
time order; patience running out; calls ending; shift changes: an agent finishes the call
in hand when their shift ends, and one coming on takes a caller at once).

Tallies per queue are ``centre.Tally``'s: its ``busy_s`` is the time of the queue's own
agents; a group's agents' time is its ``GroupTally``'s, attributed to the queue whose
caller they served. The wait told (and so a callback offered) is the live estimate with
the callers waiting in the queue and every agent able to serve it on shift. Pure: every
draw from the run's generator, in the order of the events.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
from collections import deque
from collections.abc import Mapping, Sequence

from ivr.flow.notices import FRAUD_QUEUE
from ivr.plan.centre import (
    GroupSetup,
    GroupTally,
    LiveWait,
    QueueSetup,
    Rules,
    Tally,
    Window,
    add_busy,
)

log = logging.getLogger(__name__)

#: kinds of events, in the order they go at the same moment
_SHIFT, _END, _GIVE_UP = 0, 1, 2


class _Caller:
    __slots__ = ("at", "interval", "klass", "queue", "done", "patience", "due")

    def __init__(self, at: float, interval: int, klass: int, queue: int, patience: float,
                 due: float) -> None:
        self.at, self.interval, self.klass, self.queue = at, interval, klass, queue
        self.patience, self.due = patience, due  # due >= 0: a callback, made late after it
        self.done = False


class _Staff:
    """Agents with the same queues: a queue's own, or a group."""

    __slots__ = ("queues", "agents", "busy_until", "idle", "is_idle", "group")

    def __init__(self, queues: tuple[int, ...], agents: tuple[int, ...],
                 group: GroupTally | None) -> None:
        self.queues, self.agents, self.group = queues, agents, group
        slots = max(agents, default=0)
        self.busy_until = [0.0] * slots
        self.idle: list[int] = []  # a heap of agents free and on shift (stale ones skipped)
        self.is_idle = [False] * slots


class _Door:
    """One queue of the pool, as ``centre.run`` sees it."""

    __slots__ = ("pool", "index")

    def __init__(self, pool: Pool, index: int) -> None:
        self.pool, self.index = pool, index

    def arrive(self, t: float, retrial: bool, klass: int) -> float | Window | None:
        return self.pool.arrive(self.index, t, retrial, klass)

    def book(self, t: float) -> Window:
        return self.pool.book(self.index, t)

    def call_back(self, t: float, due: float) -> None:
        self.pool.call_back(self.index, t, due)


class Pool:
    """The queues touched by groups, with their own agents and the groups' (see the
    module docstring); made by ``pool``."""

    def __init__(self, setups: Mapping[str, QueueSetup], groups: Sequence[GroupSetup],
                 rules: Rules, rng: random.Random, end_s: float) -> None:
        self.names = tuple(setups)
        index = {name: i for i, name in enumerate(self.names)}
        self.fraud = index.get(FRAUD_QUEUE)
        first = next(iter(setups.values()))
        self.n = len(first.agents)
        self.width, self.end_s, self.rules, self.rng = rules.interval_s, end_s, rules, rng
        self.setups = [setups[name] for name in self.names]
        self.handle = [s.handle.sampler(rng) for s in self.setups]
        self.patience = [s.patience.sampler(rng) for s in self.setups]
        self.windows = [s.callback_windows(rules.interval_s) for s in self.setups]
        self.live = [LiveWait(s.handle.mean_s, s.patience.mean_s) for s in self.setups]
        self.tally = [Tally.empty(s.agents) for s in self.setups]
        self.group_tallies = {g.name: GroupTally(g.queues, g.agents, [0.0] * self.n,
                                                 dict.fromkeys(g.queues, 0.0))
                              for g in groups}
        # a queue's own agents first, then the groups in the plan file's order
        self.staff = [_Staff((i,), s.agents, None) for i, s in enumerate(self.setups)]
        self.staff += [_Staff(tuple(index[q] for q in g.queues), g.agents,
                              self.group_tallies[g.name]) for g in groups]
        self.staff_of = [[s for s in self.staff if i in s.queues] for i in range(len(self.names))]
        # per queue and interval, every agent able to serve it (for the wait told)
        self.able = [[sum(s.agents[j] for s in self.staff_of[i]) for j in range(self.n)]
                     for i in range(len(self.names))]
        self.waiting: list[deque[_Caller]] = [deque() for _ in self.names]
        self.count = [0] * len(self.names)
        self.events: list[tuple[float, int, int, int, int, _Caller | None]] = []
        self.order = 0
        for j in range(1, self.n):
            if any(s.agents[j] != s.agents[j - 1] for s in self.staff):
                self._push(j * self.width, _SHIFT, j, 0, None)
        for staff in self.staff:  # the first interval's agents are free at the start
            for k in range(staff.agents[0] if self.n else 0):
                staff.is_idle[k] = True
                staff.idle.append(k)

    def queue(self, name: str) -> _Door:
        return _Door(self, self.names.index(name))

    def _push(self, t: float, kind: int, a: int, b: int, caller: _Caller | None) -> None:
        self.order += 1
        heapq.heappush(self.events, (t, kind, self.order, a, b, caller))

    def interval(self, t: float) -> int:
        i = int(t / self.width) if t < self.end_s else self.n - 1
        return i if i < self.n else self.n - 1

    def next_s(self) -> float:
        return self.events[0][0] if self.events else math.inf

    # -- callers ----------------------------------------------------------------------
    def arrive(self, q: int, t: float, retrial: bool, klass: int) -> float | Window | None:
        tally, i, rules = self.tally[q], self.interval(t), self.rules
        if not self.setups[q].open[i]:
            tally.closed[i] += 1
            if rules.callback_take and self.rng.random() < rules.callback_take:
                tally.booked_closed[i] += 1
                return self.windows[q][i]
            return None
        tally.offered[i] += 1
        tally.retrials[i] += retrial
        taken = self._free_agent(q, t)
        if taken is None and rules.wait_threshold_s < math.inf:
            told = self.live[q].told_s(self.count[q], self.able[q][i])
            if told > rules.wait_threshold_s and self.rng.random() < rules.callback_take:
                tally.booked[i] += 1
                return self.windows[q][i]
        caller = _Caller(t, i, klass, q, self.patience[q](), -1.0)
        if taken is not None:
            self._serve(caller, taken[0], taken[1], t)
            return None
        tally.waited[i] += 1
        self._wait(caller)
        return None

    def book(self, q: int, t: float) -> Window:
        """A callback for queue ``q`` booked in the tree at ``t``: its window."""
        i = self.interval(t)
        self.tally[q].booked_tree[i] += 1
        return self.windows[q][i]

    def call_back(self, q: int, t: float, due: float) -> None:
        if t >= self.end_s:
            self.tally[q].owed += 1
            return
        caller = _Caller(t, self.interval(t), 0, q, math.inf, due)
        taken = self._free_agent(q, t)
        if taken is not None:
            self._serve(caller, taken[0], taken[1], t)
        else:
            self._wait(caller)

    def _wait(self, caller: _Caller) -> None:
        self.waiting[caller.queue].append(caller)
        self.count[caller.queue] += 1
        if caller.patience < math.inf:
            self._push(caller.at + caller.patience, _GIVE_UP, 0, 0, caller)

    def _free_agent(self, q: int, t: float) -> tuple[_Staff, int] | None:
        """A free agent on shift able to serve queue ``q``: its own first."""
        i = self.interval(t)
        for staff in self.staff_of[q]:
            idle, on = staff.idle, staff.agents[i]
            while idle:
                k = heapq.heappop(idle)
                if staff.is_idle[k]:
                    # taken, or off shift: either way no longer waiting in the heap
                    staff.is_idle[k] = False
                    if k < on:
                        return staff, k
        return None

    def _serve(self, caller: _Caller, staff: _Staff, k: int, t: float) -> None:
        q = caller.queue
        caller.done = True
        tally, wait = self.tally[q], t - caller.at
        end = t + self.handle[q]()
        staff.busy_until[k] = end
        staff.is_idle[k] = False  # any entry left in the idle heap is stale now
        self._push(end, _END, self.staff.index(staff), k, None)
        group = staff.group
        if group is None:
            tally.add_busy(t, end, self.width)
        else:
            add_busy(group.busy_s, t, end, self.width)
            group.busy_by_queue_s[self.names[q]] += max(0.0, min(end, self.n * self.width) - t)
        if caller.due >= 0:  # a callback
            if t >= self.end_s:
                tally.owed += 1
                return
            j = self.interval(t)
            tally.served[j] += 1
            tally.late[j] += t > caller.due
            return
        i = caller.interval
        tally.answered[i] += 1
        tally.within[i] += wait <= self.rules.target_s
        tally.wait_answered_s[i] += wait
        tally.queue_time_s[i] += wait

    def _next_caller(self, staff: _Staff) -> _Caller | None:
        """The fraud queue's first caller, else the one waiting longest of the staff's
        queues' first callers (the live line's rule, ``ivr.flow.agent.offer``)."""
        best: int | None = None
        for q in staff.queues:
            line = self.waiting[q]
            while line and line[0].done:
                line.popleft()
            if not line:
                continue
            if best is None or q == self.fraud or \
                    (best != self.fraud and line[0].at < self.waiting[best][0].at):
                best = q
        if best is None:
            return None
        self.count[best] -= 1
        return self.waiting[best].popleft()

    def _take_work(self, staff: _Staff, k: int, t: float) -> None:
        """Agent ``k``, free and on shift at ``t``: the next caller, else idle."""
        caller = self._next_caller(staff)
        if caller is not None:
            self._serve(caller, staff, k, t)
        elif not staff.is_idle[k]:
            staff.is_idle[k] = True
            heapq.heappush(staff.idle, k)

    # -- events -----------------------------------------------------------------------
    def step(self) -> tuple[float, int] | None:
        t, kind, _, a, b, caller = heapq.heappop(self.events)
        if kind == _GIVE_UP:
            assert caller is not None
            if caller.done:
                return None
            caller.done = True
            q = caller.queue
            self.count[q] -= 1
            tally = self.tally[q]
            tally.abandoned[caller.interval] += 1
            tally.queue_time_s[caller.interval] += caller.patience
            return t, caller.klass
        if kind == _END:
            staff = self.staff[a]
            if b < staff.agents[self.interval(t)]:
                self._take_work(staff, b, t)
            return None
        # a shift change: those coming on and free take callers; those going off, once
        # free, are skipped (``_free_agent`` checks the shift)
        for staff in self.staff:
            for k in range(staff.agents[a - 1], staff.agents[a]):
                if staff.busy_until[k] <= t:
                    self._take_work(staff, k, t)
        return None

    def finish(self) -> None:
        """Callbacks still waiting at the end are owed."""
        for q, line in enumerate(self.waiting):
            self.tally[q].owed += sum(1 for c in line if not c.done and c.due >= 0)

    def tallies(self) -> tuple[dict[str, Tally], dict[str, GroupTally]]:
        return dict(zip(self.names, self.tally, strict=True)), self.group_tallies


def pool(setups: Mapping[str, QueueSetup], groups: Sequence[GroupSetup], rules: Rules,
         rng: random.Random, end_s: float) -> Pool:
    """The shared agents' simulation ``centre.run`` takes as ``shared``."""
    return Pool(setups, groups, rules, rng, end_s)
