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
towards its busier neighbour.

Learnt from recorded calls instead (``ivr plan --db``, ``recorded``): the calls per hour
of a day running as a weekday are the calls recorded that started in that hour (in the
traffic file's timezone) on days running as that weekday, over the number of such days
recorded: every day from the first call recorded to the last, both whole (a first or
last day recorded in part counts as a whole day). They are shared among the classes of
caller by the learnt mix's shares of language and reason (``ivr.tuning.learn``), the
calls that ended in the tree before any reason included: the walks hang them up again.
A day running as a weekday no recorded day ran as takes the traffic file's forecast,
and ``Demand.notes`` says so.

``--hourly`` multiplies chosen hours of every day on top of ``scale`` (``hourly``). No I/O.
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ivr.plan.staffing import clock_span
from ivr.plural import counted
from ivr.queue.calendar import WEEKDAYS, Day
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


@dataclass(frozen=True, slots=True)
class Recorded:
    """The calls recorded, per weekday a day runs as (0 = Monday): the mean calls in each
    hour over the days recorded that ran as it (None: no such day), and those days."""

    per_hour: tuple[tuple[float, ...] | None, ...]
    days: tuple[int, ...]
    calls: int
    source: str
    first: date
    last: date


def recorded(starts: Iterable[datetime], traffic: Traffic, source: str) -> Recorded:
    """The calls per hour per weekday of the calls that started at ``starts`` (aware
    times), on the traffic file's clock and calendar (see the module docstring)."""
    local = sorted(start.astimezone(traffic.zone) for start in starts)
    if not local:
        raise ValueError(f"{source}: no call recorded: nothing to learn the hours from")
    first, last = local[0].date(), local[-1].date()
    runs_as = {first + timedelta(days=d): traffic.calendar.day(first + timedelta(days=d)).runs_as
               for d in range((last - first).days + 1)}
    days = [0] * 7
    for weekday in runs_as.values():
        days[weekday] += 1
    counts = [[0] * 24 for _ in range(7)]
    for start in local:
        counts[runs_as[start.date()]][start.hour] += 1
    return Recorded(tuple(tuple(n / days[w] for n in counts[w]) if days[w] else None
                          for w in range(7)), tuple(days), len(local), source, first, last)


def _learnt_note(learnt: Recorded) -> str:
    spread = ", ".join(f"{WEEKDAYS[w]} {n}" for w, n in enumerate(learnt.days) if n)
    return (f"calls per hour learnt from {counted(learnt.calls, 'call')} recorded at "
            f"{learnt.source}, {learnt.first.isoformat()} to {learnt.last.isoformat()}: "
            f"the mean over the days running as each weekday ({spread})")


def demand(traffic: Traffic, mix: Mix, routes: Routes, days: tuple[Day, ...],
           scale: float = 1.0, *, learnt: Recorded | None = None,
           hourly: tuple[float, ...] | None = None) -> Demand:
    """The calls per hour of every class of caller over ``days``, times ``scale`` and
    ``hourly``'s factor of the hour: from the traffic file, or ``learnt`` from the calls
    recorded where it has a day running as the weekday (see the module docstring)."""
    classes = [(lang, target, share) for lang, target, share in mix.classes() if share > 0]
    queue_of = [routes.queue.get(target) for _, target, _ in classes]
    factor = tuple(scale * (hourly[h] if hourly else 1.0) for h in range(24))
    notes = [_learnt_note(learnt)] if learnt else []
    if hourly and any(f != 1.0 for f in hourly):
        notes.append(f"calls per hour times {_hourly_said(hourly)}, on top of the scale")
    fallback = sorted({d.runs_as for d in days if not learnt or
                       learnt.per_hour[d.runs_as] is None})
    if learnt and fallback:
        notes.append(f"no day recorded ran as {', '.join(WEEKDAYS[w] for w in fallback)}: "
                     "those days take the traffic file's calls per hour")
    lead: dict[str, float] = {}
    for (_, _, share), queue in zip(classes, queue_of, strict=True):
        if queue is not None:
            lead[queue] = lead.get(queue, 0.0) + share
    for queue in sorted(set(lead) - set(traffic.queues)) if fallback else ():
        notes.append(f"the tree's queue {queue} is not in the traffic file: nobody calls for it")
    for queue in sorted(set(traffic.queues) - set(lead)) if fallback else ():
        notes.append(f"no reason of the mix leads to {queue}: its forecast is not used")
    self_share = sum(share for (_, _, share), q in zip(classes, queue_of, strict=True)
                     if q is None)
    rows: list[list[float]] = [[] for _ in classes]
    for day in days:
        mean = learnt.per_hour[day.runs_as] if learnt else None
        if mean is not None:
            for row, (_, _, share) in zip(rows, classes, strict=True):
                row.extend(factor[h] * share * mean[h] for h in range(24))
            continue
        forecast = {name: q.calls_per_hour[day.runs_as] for name, q in traffic.queues.items()
                    if name in lead}
        total = [sum(row[h] for row in forecast.values()) for h in range(24)]
        routed = 1.0 - self_share
        for row, (_, _, share), queue in zip(rows, classes, queue_of, strict=True):
            if queue is None:
                row.extend(factor[h] * share / routed * total[h] if routed > 0 else 0.0
                           for h in range(24))
            elif queue in forecast:
                row.extend(factor[h] * share / lead[queue] * forecast[queue][h]
                           for h in range(24))
            else:
                row.extend([0.0] * 24)
    return Demand(days, tuple((lang, target) for lang, target, _ in classes),
                  tuple(tuple(r) for r in rows), tuple(queue_of), tuple(notes))


_HOUR = re.compile(r"\d{1,2}")
HOURLY_FORM = "HOURS=FACTOR, comma-separated (12=3,13:00-15:00=2.5)"


def parse_hourly(text: str) -> tuple[float, ...]:
    """Per hour of the day, the factor ``text`` gives it (1 where it gives none): items
    ``HOURS=FACTOR``, HOURS an hour (``12``: 12:00 to 13:00) or whole hours with the end
    left out (``13:00-15:00``: 13 and 14), FACTOR a number, 0 or more. Raise
    ``ValueError`` saying what is wrong: an hour out of the day, hours given twice, a
    negative factor."""
    factors: list[float | None] = [None] * 24
    given: dict[int, str] = {}
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise ValueError(f"expected {HOURLY_FORM}")
    for item in items:
        hours, equals, number = (part.strip() for part in item.partition("="))
        if not equals or not hours or not number:
            raise ValueError(f"expected {HOURLY_FORM}, not {item!r}")
        span = _span(hours)
        try:
            value = float(number)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{item!r}: the factor must be a number, 0 or more "
                             f"(0.5 halves the hour's calls, 2 doubles them)")
        for h in span:
            if h in given:
                raise ValueError(f"{_said(h, h + 1)} is in both {given[h]!r} and {item!r}")
            factors[h], given[h] = value, item
    return tuple(1.0 if f is None else f for f in factors)


def _span(hours: str) -> range:
    if _HOUR.fullmatch(hours):
        if int(hours) > 23:
            raise ValueError(f"hour {hours} is not in the day: an hour is 0 to 23")
        return range(int(hours), int(hours) + 1)
    span = clock_span(hours)
    if span is None:
        raise ValueError(f"{hours!r}: give an hour (12) or whole hours, the end left out "
                         f"(13:00-15:00 for 13 and 14)")
    (start, start_min), (end, end_min) = (divmod(m, 60) for m in span)
    if start_min or end_min:
        raise ValueError(f"{hours!r}: whole hours only (13:00-15:00)")
    if start > 23 or span[1] > 24 * 60:
        raise ValueError(f"{hours!r} is not in the day: 00:00 to 24:00")
    if end <= start:
        raise ValueError(f"{hours!r} ends before it starts")
    return range(start, end)


def _said(start: int, end: int) -> str:
    return f"{start:02d}:00-{end:02d}:00"


def _hourly_said(hourly: tuple[float, ...]) -> str:
    """``hourly``'s factors other than 1, by runs of hours: '3 at 12:00-13:00, ...'."""
    runs: list[tuple[int, int, float]] = []
    for h, value in enumerate(hourly):
        if runs and runs[-1][1] == h and runs[-1][2] == value:
            runs[-1] = (runs[-1][0], h + 1, value)
        else:
            runs.append((h, h + 1, value))
    return ", ".join(f"{value:g} at {_said(start, end)}" for start, end, value in runs
                     if value != 1.0)


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
