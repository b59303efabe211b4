"""How numbers, dates, waits and opening hours are said, per language, from ``fmt_*``
prompts: no wording lives in Python. Pure functions over the prompt catalog.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from ivr.prompts import Catalog


class TimeWindow(Protocol):
    start: datetime
    end: datetime


def digits(number: str) -> str:
    """Read a number digit by digit (ticket numbers, account endings)."""
    return " ".join(number)


def day_date(cat: Catalog, lang: str, day: date) -> str:
    return cat.text(lang, "fmt_date", day=day.day, month=day.month,
                    month_name=calendar.month_name[day.month], year=day.year)


def amount(cat: Catalog, lang: str, value: Decimal) -> str:
    yuan = f"{value:.2f}".removesuffix(".00")
    return cat.text(lang, "fmt_amount", yuan=yuan)


def wait(cat: Catalog, lang: str, wait_s: float) -> str:
    """"about 25 minutes"; waits under a minute and unknown waits have their own words."""
    if math.isinf(wait_s):
        return cat.text(lang, "fmt_long_wait")
    if wait_s < 45:
        return cat.text(lang, "fmt_under_minute")
    return cat.text(lang, "fmt_minutes", minutes=max(1, round(wait_s / 60)))


def duration(cat: Catalog, lang: str, seconds: float) -> str:
    """A span said exactly ("30 minutes", "one hour", "2 hours"): how long a lock lasts."""
    minutes = max(1, math.ceil(seconds / 60 - 1e-9))
    if minutes < 60 or minutes % 60:
        return cat.text(lang, "fmt_span_minute" if minutes == 1 else "fmt_span_minutes",
                        minutes=minutes)
    hours = minutes // 60
    return cat.text(lang, "fmt_span_hour" if hours == 1 else "fmt_span_hours", hours=hours)


def weekday(cat: Catalog, lang: str, index: int) -> str:
    return cat.text(lang, "fmt_weekdays").split(",")[index].strip()


def relative_day(cat: Catalog, lang: str, moment: datetime, now: datetime) -> str:
    """"today", "tomorrow", or the weekday's name: ``moment`` and ``now`` in one timezone."""
    local_now = now.astimezone(moment.tzinfo)
    if moment.date() == local_now.date():
        return cat.text(lang, "fmt_today")
    if moment.date() == local_now.date() + timedelta(days=1):
        return cat.text(lang, "fmt_tomorrow")
    return weekday(cat, lang, moment.weekday())


def window(cat: Catalog, lang: str, span: TimeWindow, now: datetime) -> str:
    end = "24:00" if span.end.hour == 0 and span.end.date() > span.start.date() \
        else f"{span.end:%H:%M}"
    return cat.text(lang, "fmt_window", day=relative_day(cat, lang, span.start, now),
                    start=f"{span.start:%H:%M}", end=end)


def windows(cat: Catalog, lang: str, spans: Iterable[TimeWindow], now: datetime) -> str:
    return cat.text(lang, "fmt_list_sep").join(window(cat, lang, s, now) for s in spans)


def moment(cat: Catalog, lang: str, when: datetime, now: datetime) -> str:
    return cat.text(lang, "fmt_moment", day=relative_day(cat, lang, when, now),
                    time=f"{when:%H:%M}")


def opening_hours(cat: Catalog, lang: str, always_open: bool,
                  days: Sequence[tuple[str, Any]]) -> str:
    """Weekdays with the same hours grouped: "Monday–Friday 08:00–22:00; ..."."""
    if always_open:
        return cat.text(lang, "fmt_all_day")

    def hours(ranges: Sequence[tuple[int, int]]) -> str:
        return ", ".join(f"{s:02d}:00–{e:02d}:00" for s, e in ranges) \
            or cat.text(lang, "fmt_closed_day")

    parts, week, i = [], list(days[:7]), 0
    while i < 7:
        j = i
        while j + 1 < 7 and week[j + 1][1] == week[i][1]:
            j += 1
        names = weekday(cat, lang, i) if i == j else \
            f"{weekday(cat, lang, i)}–{weekday(cat, lang, j)}"
        parts.append(cat.text(lang, "fmt_days_hours", days=names, hours=hours(week[i][1])))
        i = j + 1
    if len(days) > 7:
        parts.append(cat.text(lang, "fmt_days_hours", days=cat.text(lang, "fmt_holidays"),
                              hours=hours(days[7][1])))
    return cat.text(lang, "fmt_list_sep").join(parts)
