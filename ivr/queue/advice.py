"""What the call flow asks the queue model: is the line open, how long is the wait, and
when should a caller try again.

``Centre`` wraps a checked traffic file. Every time it returns is in the centre's
timezone; it accepts aware datetimes in any zone and treats naive ones as UTC. Waits are
Erlang A waits of a caller who holds on until answered. No I/O except ``Centre.load``;
``forecast`` (traffic learnt from the calls) is re-exported here; the heat map of the week
is ``ivr.queue.plot``, which draws a ``Centre``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from ivr.errors import ConfigError
from ivr.queue import traffic as traffic_file
from ivr.queue.calendar import WEEKDAYS, Day, DayKind
from ivr.queue.erlang import Metrics, erlang_a_metrics, live_wait_s
from ivr.queue.forecast import forecast, forecast_from_db
from ivr.queue.traffic import Queue, Ranges, Traffic

log = logging.getLogger(__name__)

__all__ = ["Advice", "Centre", "OpeningHours", "Slot", "Window", "describe_wait", "forecast",
           "forecast_from_db"]

HOUR = timedelta(hours=1)
HORIZON = timedelta(days=7)
WINDOW_H = 2  # advice names two-hour windows: easy to say, easy to keep
# Share of the callers of the current hour who will act on the advice; they are the load
# the recommended windows must absorb.
DEFAULT_UPTAKE = 0.3
_RANK_GRAIN_S = 30.0  # waits this close rank by time, soonest first
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")


@lru_cache(maxsize=65536)
def _metrics(calls_per_hour: float, aht_s: float, agents: int, patience_s: float) -> Metrics:
    return erlang_a_metrics(calls_per_hour, aht_s, agents, patience_s)


def _held_wait_s(queue: Queue, calls_per_hour: float, agents: int) -> float:
    return _metrics(calls_per_hour, queue.aht_s, agents, queue.patience_s).held_wait_s


def describe_wait(wait_s: float) -> str:
    """A wait as a caller would say it: "about 3 minutes"."""
    if math.isinf(wait_s):
        return "no answer expected"
    if wait_s < 45:
        return "under a minute"
    minutes = round(wait_s / 60)
    if minutes < 60:
        return "about 1 minute" if minutes == 1 else f"about {minutes} minutes"
    hours, minutes = divmod(minutes, 60)
    hours_text = "1 hour" if hours == 1 else f"{hours} hours"
    minutes_text = "" if not minutes else " 1 minute" if minutes == 1 else f" {minutes} minutes"
    return f"about {hours_text}{minutes_text}"


def _json_wait(wait_s: float) -> float | None:
    return None if math.isinf(wait_s) else round(wait_s, 1)


@dataclass(frozen=True, slots=True)
class Window:
    """A time to call back, in the centre's timezone, and the wait expected then."""

    start: datetime
    end: datetime
    expected_wait_s: float

    def describe(self) -> str:
        """"Tuesday 24 November 09:00–11:00, about 1 minute": with the date, because the
        advice spans a week and a bare weekday may be today's or next week's."""
        start = self.start
        end = "24:00" if self.end.hour == 0 and self.end.date() > start.date() else \
            f"{self.end:%H:%M}"
        return (f"{_DAY_NAMES[start.weekday()]} {start.day} {_MONTH_NAMES[start.month - 1]} "
                f"{start:%H:%M}–{end}, {describe_wait(self.expected_wait_s)}")

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "expected_wait_s": _json_wait(self.expected_wait_s)}


@dataclass(frozen=True, slots=True)
class Advice:
    """The wait now and the best windows to call back; ``certain`` is False when the
    holiday calendar does not cover the coming week yet."""

    queue: str
    at: datetime
    expected_wait_s: float
    windows: tuple[Window, ...]
    certain: bool
    open_now: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"queue": self.queue, "at": self.at.isoformat(),
                "expected_wait_s": _json_wait(self.expected_wait_s),
                "windows": [w.as_dict() for w in self.windows],
                "open": self.open_now, "certain": self.certain}


@dataclass(frozen=True, slots=True)
class Slot:
    """One local hour of one queue: open or not, forecast calls and agents on shift."""

    start: datetime
    end: datetime
    day: Day
    open: bool
    calls_per_hour: float
    agents: int


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """A queue's hours per weekday (``mon`` ... ``sun``) and on public holidays."""

    queue: str
    timezone: str
    always_open: bool
    days: tuple[tuple[str, Ranges], ...]

    def describe(self) -> str:
        """"Monday–Friday 08:00–22:00; Saturday–Sunday 09:00–21:00; holidays 09:00–18:00"."""
        if self.always_open:
            return "24 hours, every day"

        def hours(ranges: Ranges) -> str:
            return ", ".join(f"{s:02d}:00–{e:02d}:00" for s, e in ranges) or "closed"

        parts: list[str] = []
        week = self.days[:7]
        i = 0
        while i < 7:
            j = i
            while j + 1 < 7 and week[j + 1][1] == week[i][1]:
                j += 1
            names = _DAY_NAMES[i] if i == j else f"{_DAY_NAMES[i]}–{_DAY_NAMES[j]}"
            parts.append(f"{names} {hours(week[i][1])}")
            i = j + 1
        parts.append(f"public holidays {hours(self.days[7][1])}")
        return "; ".join(parts)


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


@dataclass(frozen=True, slots=True)
class Centre:
    """The loaded traffic file, answering questions about one queue at one moment."""

    traffic: Traffic

    @classmethod
    def load(cls, path: str | Path | None = None) -> Centre:
        """The centre described by ``path``, or by the shipped ``ivr/data/traffic.yaml``."""
        return cls(traffic_file.load(path))

    @property
    def queues(self) -> tuple[str, ...]:
        return tuple(self.traffic.queues)

    @property
    def timezone(self) -> str:
        return self.traffic.timezone

    def queue(self, name: str) -> Queue:
        try:
            return self.traffic.queues[name]
        except KeyError:
            raise ConfigError(f"no queue {name!r} in {self.traffic.source}; it has "
                              f"{', '.join(self.queues)}") from None

    def local(self, at: datetime) -> datetime:
        """``at`` in the centre's timezone (naive means UTC)."""
        return _aware(at).astimezone(self.traffic.zone)

    def slots(self, queue: str, start: datetime, end: datetime) -> Iterator[Slot]:
        """The local hours from the one containing ``start`` up to ``end``.

        Stepping in UTC and reading the local clock makes daylight-saving days come out
        right: the skipped spring hour never appears, the repeated autumn hour twice.
        """
        q = self.queue(name=queue)
        zone = self.traffic.zone
        first = self.local(start).replace(minute=0, second=0, microsecond=0)
        t = first.astimezone(UTC)
        stop = _aware(end).astimezone(UTC)
        day: Day | None = None
        while t < stop:
            here = t.astimezone(zone)
            if day is None or day.date != here.date():
                day = self.traffic.calendar.day(here.date())
            row = day.runs_as
            yield Slot(here, (t + HOUR).astimezone(zone), day, q.open_at(day, here.hour),
                       q.calls_per_hour[row][here.hour], q.agents[row][here.hour])
            t += HOUR

    def slot(self, queue: str, at: datetime) -> Slot:
        return next(self.slots(queue, at, _aware(at) + timedelta(seconds=1)))

    def is_open(self, queue: str, at: datetime) -> bool:
        """Whether ``queue`` takes calls at ``at``."""
        return self.slot(queue, at).open

    def next_open(self, queue: str, at: datetime) -> datetime:
        """``at`` itself when open, else when ``queue`` next opens (centre's timezone)."""
        if self.is_open(queue, at):
            return self.local(at)
        for slot in self.slots(queue, at, _aware(at) + timedelta(days=400)):
            if slot.open and slot.start.timestamp() > _aware(at).timestamp():
                return slot.start
        raise ConfigError(f"queue {queue!r} does not open within 400 days of {at}")

    def opening_hours(self, queue: str) -> OpeningHours:
        q = self.queue(queue)
        days = tuple(zip((*WEEKDAYS, "holiday"), q.hours, strict=True))
        return OpeningHours(queue, self.timezone, q.always_open, days)

    def metrics(self, queue: str, at: datetime) -> Metrics:
        """Erlang A figures for the forecast and staffing of the hour containing ``at``."""
        q = self.queue(queue)
        slot = self.slot(queue, at)
        return _metrics(slot.calls_per_hour, q.aht_s, slot.agents, q.patience_s)

    def expected_wait_s(self, queue: str, at: datetime, callers_ahead: int | None = None
                        ) -> float:
        """Expected wait of a caller who holds on; ``math.inf`` when closed or unstaffed.

        With ``callers_ahead`` (from the live queue, e.g. Twilio's QueuePosition - 1) it
        is the live estimate with every agent busy, counting callers ahead who hang up.
        """
        q = self.queue(queue)
        slot = self.slot(queue, at)
        if not slot.open:
            return math.inf
        if callers_ahead is not None:
            return live_wait_s(callers_ahead, slot.agents, q.aht_s, q.patience_s)
        return _held_wait_s(q, slot.calls_per_hour, slot.agents)

    def typical_week(self, queue: str) -> tuple[tuple[float | None, ...], ...]:
        """Expected waits per weekday and hour of an ordinary week; None when closed."""
        q = self.queue(queue)
        rows = []
        for d in range(7):
            day = Day(date(2001, 1, 1 + d), DayKind.NORMAL, d)  # 2001-01-01 was a Monday
            rows.append(tuple(
                _held_wait_s(q, q.calls_per_hour[d][h], q.agents[d][h])
                if q.open_at(day, h) else None for h in range(24)))
        return tuple(rows)

    def day(self, at: datetime) -> Day:
        """The centre's day at ``at``: an ordinary weekday, a public holiday or a make-up
        working day, and the weekday it runs as."""
        return self.traffic.calendar.day(self.local(at).date())

    def day_waits(self, queue: str, at: datetime) -> tuple[float | None, ...]:
        """Expected waits per local hour of the day containing ``at``, as that day runs
        (a holiday's hours and staffing); None when closed. A daylight-saving day keeps
        its hours by the clock: the repeated autumn hour once, the skipped one closed."""
        q = self.queue(queue)
        midnight = self.local(at).replace(hour=0, minute=0, second=0, microsecond=0)
        waits: dict[int, float | None] = {}
        for slot in self.slots(queue, midnight, midnight + timedelta(hours=25)):
            if slot.start.date() == midnight.date():
                waits.setdefault(slot.start.hour, _held_wait_s(
                    q, slot.calls_per_hour, slot.agents) if slot.open else None)
        return tuple(waits.get(h) for h in range(24))

    def advise(self, queue: str, at: datetime, n: int = 3, *,
               redirect_calls: float | None = None) -> Advice:
        """The wait at ``at`` and the ``n`` best windows to call in the coming 7 days, in
        time order (so the first is the soonest of them: where a callback goes).

        Capacity-aware: the ``redirect_calls`` callers expected to follow this advice
        (by default ``DEFAULT_UPTAKE`` of the current hour's calls) are split over the
        recommended windows, and each window is judged with its share added, so a
        window without room for them loses to one with room.
        """
        q = self.queue(queue)
        local = self.local(at)
        now = self.slot(queue, at)
        wait_now = self.expected_wait_s(queue, at)
        # From local midnight, so that windows are cut the same way whatever the hour.
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        horizon = list(self.slots(queue, midnight, local + HORIZON))
        certain = all(s.day.certain for s in horizon)
        if redirect_calls is None:
            open_calls = [s.calls_per_hour for s in horizon[24:] if s.open]
            typical = sum(open_calls) / len(open_calls) if open_calls else 0.0
            redirect_calls = DEFAULT_UPTAKE * (now.calls_per_hour if now.open else typical)
        candidates = self._windows(horizon, local)
        share = redirect_calls / n if n else 0.0

        def wait(window: list[Slot], extra_calls: float) -> float:
            per_hour = extra_calls / len(window)
            return max(_held_wait_s(q, s.calls_per_hour + per_hour, s.agents) for s in window)

        def rank(item: tuple[float, list[Slot]]) -> tuple[float, float]:
            grain = item[0] / _RANK_GRAIN_S
            return (math.ceil(grain) if math.isfinite(grain) else grain,
                    item[1][0].start.timestamp())

        chosen = sorted(((wait(w, share), w) for w in candidates), key=rank)[:n]
        # the best n, then in time order: the order a caller hears them and can keep them
        windows = tuple(sorted((Window(w[0].start, w[-1].end, wait_s) for wait_s, w in chosen),
                               key=lambda window: window.start.timestamp()))
        log.debug("advice for %s at %s: wait %.0f s, %d windows", queue, local, wait_now,
                  len(windows))
        return Advice(queue, local, wait_now, windows, certain, now.open)

    def _windows(self, horizon: list[Slot], after: datetime) -> list[list[Slot]]:
        """Runs of open hours inside the advice hours, cut into ``WINDOW_H``-hour blocks
        from the start of each run, so that the blocks do not move with ``after``."""
        advice_hours = self.traffic.advice_hours
        runs: list[list[Slot]] = []
        run: list[Slot] = []
        for slot in horizon:
            usable = slot.open and any(s <= slot.start.hour < e for s, e in advice_hours)
            if usable and run and run[-1].end.timestamp() == slot.start.timestamp():
                run.append(slot)
                continue
            if run:
                runs.append(run)
            run = [slot] if usable else []
        if run:
            runs.append(run)
        after_ts = after.timestamp()
        return [block for run in runs for i in range(0, len(run), WINDOW_H)
                if (block := run[i:i + WINDOW_H])[0].start.timestamp() >= after_ts]
