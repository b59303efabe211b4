"""The Now page as a wallboard: a tile per queue and today's 30-minute intervals against
the forecast.

The figures come from the call records (``ivr.records.live``) and the centre's traffic
model (``Centre``: its forecast calls, staffing and Erlang A service level per hour);
``ivr.console.chart`` draws the intervals. A queue's figures count a caller by when they
joined it: offered (joined), answered (an agent took them), abandoned (hung up waiting),
and the service level, as the model counts it: answered within the target wait, of those
answered or abandoned (a caller who left for a callback or still waits counts for neither).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from ivr.console import labels, records
from ivr.console.site import hotline
from ivr.errors import ConfigError
from ivr.queue.advice import Centre
from ivr.records import live
from ivr.records.live import Queued

#: answered within this wait counts toward the service level (the common 80/20 target,
#: the one the model's service level is computed for)
SERVICE_TARGET_S = 20
INTERVAL = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Counts:
    """Callers who joined a queue in a period, and how it went for them."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    within_target: int = 0

    @property
    def service_level(self) -> float | None:
        """Answered within the target, of those answered or abandoned; None without any."""
        decided = self.answered + self.abandoned
        return self.within_target / decided if decided else None

    @property
    def abandonment(self) -> float | None:
        return self.abandoned / self.offered if self.offered else None


def count(queued: Iterable[Queued], target_s: int = SERVICE_TARGET_S) -> Counts:
    offered = answered = abandoned = within = 0
    for q in queued:
        offered += 1
        answered += q.answered
        abandoned += q.abandoned
        within += q.answered and q.wait_s is not None and q.wait_s <= target_s
    return Counts(offered, answered, abandoned, within)


@dataclass(frozen=True, slots=True)
class Interval:
    """Thirty minutes of today: what happened, and what the model forecast."""

    start: datetime  # in the centre's timezone
    counts: Counts
    forecast_offered: float | None  # None: every queue shown was closed
    forecast_service_level: float | None
    past: bool  # begun by now


def intervals(queued: list[Queued], centre: Centre, queues: tuple[str, ...],
              midnight: datetime, now: datetime) -> list[Interval]:
    """Today's intervals from local ``midnight`` to the next, each with the callers who
    joined one of ``queues`` in it and the forecast of those queues (calls, and the
    service level weighted by them) for its hour."""
    end = centre.local(midnight + timedelta(hours=26)).replace(hour=0, minute=0)
    found = []
    at = midnight.astimezone(UTC)
    while at < end:
        upto = at + INTERVAL
        here = [q for q in queued if at <= q.queued_at < upto]
        calls, served = 0.0, 0.0
        open_any = False
        for queue in queues:
            try:
                slot = centre.slot(queue, at)
                if not slot.open:
                    continue
                metrics = centre.metrics(queue, at)
            except ConfigError:  # a queue of the tree the traffic file does not model
                continue
            open_any = True
            share = slot.calls_per_hour * INTERVAL.total_seconds() / 3600
            calls += share
            served += share * metrics.service_level
        found.append(Interval(centre.local(at), count(here), calls if open_any else None,
                              served / calls if calls else None, at <= now))
        at = upto
    return found


@dataclass(frozen=True, slots=True)
class Tile:
    """One queue on the wallboard."""

    queue: str
    name: str
    open: bool
    opens: str  # when a closed queue opens, as the page says it
    waiting: int
    longest_s: float | None
    expected_s: float | None
    observed_s: float | None
    planned: int | None
    talking: int
    today: Counts
    callbacks_owed: int


def day_start(now: datetime) -> datetime:
    """Midnight today in the centre's timezone."""
    local = hotline().centre.local(now)
    return datetime.combine(local.date(), time(), local.tzinfo)


def tiles(queues: tuple[str, ...], queued: list[Queued], now: datetime) -> list[Tile]:
    """The wallboard's tiles for ``queues`` at ``now``, from the day's ``queued`` callers."""
    h = hotline()
    waiting = live.waiting(h.store, now, queues)
    last_hour = live.answered_waits(h.store, now - timedelta(hours=1), queues)
    talking = records.talking(h.store)
    owed = live.callbacks_owed(h.store, queues)
    found = []
    for queue in queues:
        here = [w for w in waiting if w.queue == queue]
        is_open, opens = True, ""
        try:
            slot = h.centre.slot(queue, now)
            is_open = slot.open
            planned: int | None = slot.agents
            expected: float | None = h.centre.expected_wait_s(queue, now) if is_open else None
            if not is_open:
                opens = labels.opens(h.centre.next_open(queue, now), h.centre.local(now))
        except ConfigError:  # a queue the traffic file does not model, or never open
            expected = planned = None
        found.append(Tile(
            queue=queue, name=labels.queue_name(queue), open=is_open, opens=opens,
            waiting=len(here), longest_s=max((w.waited_s(now) for w in here), default=None),
            expected_s=expected,
            observed_s=statistics.mean(last_hour[queue]) if last_hour.get(queue) else None,
            planned=planned, talking=talking.get(queue, 0),
            today=count(q for q in queued if q.queue == queue), callbacks_owed=owed[queue]))
    return found
