"""Who calls the hotline when: per class of caller (language and reason, the mix's), the
calls of a day or a week from the traffic file, drawn as a non-stationary Poisson process.

The traffic file forecasts, per queue and hour, the calls for that queue on the weekday
a date runs as (``ivr.queue.calendar``: a public holiday runs as its ``holiday_as`` day,
a make-up working day as its ``workday_as``). Those calls are shared among the reasons
that lead to the queue (``ivr.tuning.routes``) by the mix's shares of language and
reason; the reasons that end in self-service come on top, at the mix's share of all
calls, with the shape of all the queues' calls together. Queues get fewer calls than
forecast when the tree contains some callers, or loses them: that is the point.

Within an hour the rate is not constant: the hour's forecast is the rate at its middle,
with straight lines between the middles of neighbouring hours (flat before the first
and after the last), and calls are drawn from it by thinning (Lewis and Shedler, 1979):
candidates at the hour's highest rate, each kept with the ratio of the rate at its time
to that highest rate. The day's total is the forecast's; an hour's calls lean a little
towards its busier neighbour. No I/O.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import date, timedelta

from ivr.queue.calendar import Day
from ivr.queue.traffic import Traffic
from ivr.tuning.mix import Mix
from ivr.tuning.routes import Routes

log = logging.getLogger(__name__)

HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class Demand:
    """Per class of caller (language, reason), its calls per hour, hour after hour from
    the start of the first day."""

    days: tuple[Day, ...]
    classes: tuple[tuple[str, str], ...]
    per_hour: tuple[tuple[float, ...], ...]
    #: per class, the queue its reason leads to (None: self-service)
    queue_of: tuple[str | None, ...]
    #: what the traffic file and the mix do not say the same about
    notes: tuple[str, ...] = ()

    @property
    def hours(self) -> int:
        return 24 * len(self.days)

    @property
    def expected_calls(self) -> float:
        return sum(sum(row) for row in self.per_hour)


def days_from(traffic: Traffic, first: date, count: int) -> tuple[Day, ...]:
    """``count`` days from ``first``, as the traffic file's calendar sees them."""
    return tuple(traffic.calendar.day(first + timedelta(days=d)) for d in range(count))


def demand(traffic: Traffic, mix: Mix, routes: Routes, days: tuple[Day, ...],
           scale: float = 1.0) -> Demand:
    """The calls per hour of every class of caller over ``days``, times ``scale``."""
    classes = [(lang, target, share) for lang, target, share in mix.classes() if share > 0]
    queue_of = [routes.queue.get(target) for _, target, _ in classes]
    notes = []
    lead: dict[str, float] = {}
    for (_, _, share), queue in zip(classes, queue_of, strict=True):
        if queue is not None:
            lead[queue] = lead.get(queue, 0.0) + share
    for queue in sorted(set(lead) - set(traffic.queues)):
        notes.append(f"the tree's queue {queue} is not in the traffic file: nobody calls for it")
    for queue in sorted(set(traffic.queues) - set(lead)):
        notes.append(f"no reason of the mix leads to {queue}: its forecast is not used")
    self_share = sum(share for (_, _, share), q in zip(classes, queue_of, strict=True)
                     if q is None)
    rows: list[list[float]] = [[] for _ in classes]
    for day in days:
        forecast = {name: q.calls_per_hour[day.runs_as] for name, q in traffic.queues.items()
                    if name in lead}
        total = [sum(row[h] for row in forecast.values()) for h in range(24)]
        routed = 1.0 - self_share
        for row, (_, _, share), queue in zip(rows, classes, queue_of, strict=True):
            if queue is None:
                row.extend(scale * share / routed * total[h] if routed > 0 else 0.0
                           for h in range(24))
            elif queue in forecast:
                row.extend(scale * share / lead[queue] * forecast[queue][h] for h in range(24))
            else:
                row.extend([0.0] * 24)
    return Demand(days, tuple((lang, target) for lang, target, _ in classes),
                  tuple(tuple(r) for r in rows), tuple(queue_of), tuple(notes))


def _rate_points(row: tuple[float, ...], h: int) -> tuple[float, float, float]:
    """The rate at the start, middle and end of hour ``h``."""
    here = row[h]
    before = row[h - 1] if h > 0 else here
    after = row[h + 1] if h + 1 < len(row) else here
    return (before + here) / 2, here, (here + after) / 2


def calls(per_hour: tuple[tuple[float, ...], ...], seed: int) -> list[tuple[float, int]]:
    """The calls of every class (index into ``per_hour``), in time order, drawn by
    thinning from the piecewise-linear rate (see the module docstring)."""
    rng = random.Random(seed)
    expo, unit = rng.expovariate, rng.random
    found: list[tuple[float, int]] = []
    for klass, row in enumerate(per_hour):
        for h in range(len(row)):
            start, middle, end = _rate_points(row, h)
            top = max(start, middle, end) / HOUR_S
            if top <= 0:
                continue
            t, stop = h * HOUR_S, (h + 1) * HOUR_S
            half = h * HOUR_S + HOUR_S / 2
            while True:
                t += expo(top)
                if t >= stop:
                    break
                if t < half:
                    rate = start + (middle - start) * (t - h * HOUR_S) / (HOUR_S / 2)
                else:
                    rate = middle + (end - middle) * (t - half) / (HOUR_S / 2)
                if unit() * top * HOUR_S < rate:
                    found.append((t, klass))
    found.sort()
    return found


def constant(calls_per_hour: float, hours: float, seed: int) -> list[tuple[float, int]]:
    """Calls of one class at a constant rate (the queue alone, to check Erlang A)."""
    rng = random.Random(seed)
    rate, t, stop = calls_per_hour / HOUR_S, 0.0, hours * HOUR_S
    found: list[tuple[float, int]] = []
    while True:
        t += rng.expovariate(rate)
        if t >= stop:
            return found
        found.append((t, 0))
