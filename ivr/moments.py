"""When a command says a call happens: ``--at`` read one way by every command.

Accepted, in the centre's timezone unless an offset is given (ops read the centre's
clock, so that is what a bare time means):

- ISO-8601 with an offset: ``2026-11-28T10:00+08:00``, ``2026-11-28T02:00Z``
- ISO-8601 without one: ``2026-11-28T10:00`` (the centre's local time)
- a date alone: ``2026-11-28`` (midnight; ``ivr demo`` plays its day's calls on it)
- a weekday and a time: ``sat 10:00``, ``Saturday 10``: the next such moment

A date must fall in the years ``FIRST_YEAR`` to ``LAST_YEAR``: every command computes
around its moment (a line's next opening ahead, weeks of forecast behind, the demo's
top-up the day before), and Python's dates end at the years 1 and 9999.

Pure: parses text and resolves it against a zone and a clock. No click, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_TIME = re.compile(r"^([a-z]+)\s+(\d{1,2})(?::(\d{2}))?$")

#: the years a moment may fall in: far enough from 1 and 9999 that what is computed
#: around it stays inside Python's dates: the next opening of a closed line (looked for
#: up to 400 days ahead), a forecast's ten years behind, a timezone's offset
FIRST_YEAR, LAST_YEAR = 1971, 9997

HELP = ("an ISO time (2026-11-28T10:00, the centre's local time; or with an offset, "
        "2026-11-28T10:00+08:00) or a weekday and a time ('sat 10:00')")


@dataclass(frozen=True, slots=True)
class Moment:
    """A parsed ``--at``: a fixed instant, a local time, or a weekday and time."""

    text: str
    when: datetime | None = None  # aware when an offset was given, else naive local
    weekday: int | None = None  # 0 = Monday, with ``clock``
    clock: time | None = None
    date_only: bool = False  # ``2026-11-28``: a day, at midnight

    @property
    def day(self) -> date | None:
        """The calendar day named, when the text named one (not for ``sat 10:00``)."""
        return self.when.date() if self.when is not None else None

    def resolve(self, zone: tzinfo, now: datetime) -> datetime:
        """The aware moment meant, reading local times in ``zone``; ``now`` is aware."""
        if self.when is not None:
            return self.when if self.when.tzinfo else self.when.replace(tzinfo=zone)
        assert self.weekday is not None and self.clock is not None
        local = now.astimezone(zone)
        days = (self.weekday - local.weekday()) % 7
        moment = datetime.combine(local.date() + timedelta(days=days), self.clock, zone)
        return moment if moment > local else moment + timedelta(days=7)

    def until(self, zone: tzinfo, now: datetime) -> datetime:
        """The moment as the end of a period (``--until``): a date alone takes in that day."""
        moment = self.resolve(zone, now)
        return moment + timedelta(days=1) if self.date_only else moment


def parse(text: str) -> Moment:
    """``text`` as a ``Moment``; ``ValueError`` saying what is accepted otherwise."""
    cleaned = " ".join(text.strip().lower().split())
    match = _WEEKDAY_TIME.match(cleaned)
    if match:
        name, hour, minute = match.groups()
        weekday = _weekday(name)
        if weekday is not None and int(hour) < 24 and int(minute or 0) < 60:
            return Moment(text, weekday=weekday, clock=time(int(hour), int(minute or 0)))
        raise ValueError(f"{text!r} is not a time: give {HELP}")
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a time: give {HELP}") from None
    if not FIRST_YEAR <= when.year <= LAST_YEAR:
        raise ValueError(f"{text!r} is out of range: give a moment in the years {FIRST_YEAR} "
                         f"to {LAST_YEAR}")
    date_only = re.fullmatch(r"\d{4}-?\d{2}-?\d{2}", text.strip()) is not None
    return Moment(text, when=when, date_only=date_only)


def _weekday(name: str) -> int | None:
    if name in _FULL:
        return _FULL.index(name)
    if name[:3] in WEEKDAYS and _FULL[WEEKDAYS.index(name[:3])].startswith(name):
        return WEEKDAYS.index(name[:3])
    return None
