"""Which kind of day a date is for the centre: a normal weekday, a public holiday, or a
make-up working day (China's 调休: a weekend day worked in exchange for a longer holiday).

Public holidays and make-up days come from the ``holidays`` package, with the traffic
file's overrides on top. China announces each year's arrangement only late in the year
before, so for a year the package has no arrangement for, dates fall back to plain
weekdays and weekends and the day is marked as less certain. No I/O.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from enum import Enum
from functools import lru_cache

import holidays

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Countries whose holiday arrangement is decreed one year at a time; the package knows
# it only for the years listed in its table of special holidays.
_DECREED_YEARLY = frozenset({"CN"})


class DayKind(Enum):
    """What a date is for the centre."""

    NORMAL = "normal"
    HOLIDAY = "holiday"
    WORKDAY = "workday"  # a make-up working day on what would be a weekend


@dataclass(frozen=True, slots=True)
class Day:
    """One local date, the weekday whose forecast and staffing it follows, and why."""

    date: date
    kind: DayKind
    runs_as: int  # 0 = Monday ... 6 = Sunday
    name: str = ""
    certain: bool = True


@dataclass(frozen=True, slots=True)
class _Known:
    holidays: dict[date, str]
    workdays: frozenset[date]
    covered: bool


def supported_country(code: str) -> bool:
    """Whether the ``holidays`` package has a calendar for this country code."""
    return code in holidays.list_supported_countries()


@lru_cache(maxsize=64)
def _known(country: str, year: int) -> _Known:
    # the names in English whatever the locale (3.13 reports LANG=C.UTF-8 as "C")
    calendar = holidays.country_holidays(country, years=year, language="en_US")
    if country in _DECREED_YEARLY:
        covered = year in getattr(calendar, "special_public_holidays", {})
    else:
        covered = calendar.start_year <= year <= calendar.end_year
    # ``weekend_workdays`` collects every year the instance has seen; keep this year's.
    workdays = frozenset(d for d in getattr(calendar, "weekend_workdays", ()) if d.year == year)
    return _Known(dict(calendar.items()), workdays, covered)


@dataclass(frozen=True, slots=True)
class Calendar:
    """The centre's calendar: a ``holidays`` country plus the traffic file's overrides."""

    country: str | None = None
    holidays: frozenset[date] = frozenset()  # extra closed-as-holiday dates
    workdays: frozenset[date] = frozenset()  # extra make-up working days
    not_holidays: frozenset[date] = frozenset()  # package holidays worked as normal
    covered_years: frozenset[int] = frozenset()  # years the overrides make complete
    holiday_as: int = 6
    workday_as: int = 0

    def covers(self, year: int) -> bool:
        """Whether holidays and make-up days are known for ``year``."""
        if self.country is None or year in self.covered_years:
            return True
        return _known(self.country, year).covered

    def day(self, on: date) -> Day:
        """Classify ``on``; overrides in the file win over the package."""
        certain = self.covers(on.year)
        if on in self.holidays:
            return Day(on, DayKind.HOLIDAY, self.holiday_as, "holiday", certain)
        if on in self.workdays:
            return Day(on, DayKind.WORKDAY, self.workday_as, "make-up working day", certain)
        if self.country is not None and certain:
            known = _known(self.country, on.year)
            if on in known.holidays and on not in self.not_holidays:
                return Day(on, DayKind.HOLIDAY, self.holiday_as, known.holidays[on], certain)
            if on in known.workdays:
                return Day(on, DayKind.WORKDAY, self.workday_as, "make-up working day", certain)
        return Day(on, DayKind.NORMAL, on.weekday(), "", certain)


@lru_cache(maxsize=64)
def _names_in(country: str, year: int, language: str) -> dict[date, str]:
    return dict(holidays.country_holidays(country, years=year, language=language).items())


def holiday_name(calendar: Calendar, on: date, language: str) -> str | None:
    """The public holiday ``on`` as the ``holidays`` package names it in ``language``
    (``zh_CN``, ``en_US``), or None: not the package's holiday, or no such translation."""
    if calendar.country is None:
        return None
    try:
        return _names_in(calendar.country, on.year, language).get(on)
    except (NotImplementedError, KeyError, ValueError):
        return None
