"""How numbers, dates, waits and opening hours are said, per language, from ``fmt_*``
prompts: no wording lives in Python. Pure functions over the prompt catalog.

Everything here is written for the ear: times of day as a person says them ("8 a.m.",
"上午8点"), days as "today", "tomorrow" or a weekday with its date, lists in time order.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from ivr.flow.prompts import Catalog, placeholders


class TimeWindow(Protocol):
    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...


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
    minutes = max(1, round(wait_s / 60))
    return cat.text(lang, "fmt_minute" if minutes == 1 else "fmt_minutes", minutes=minutes)


def duration(cat: Catalog, lang: str, seconds: float) -> str:
    """A span said exactly ("30 minutes", "one hour", "2 hours"): how long a lock lasts."""
    minutes = max(1, math.ceil(seconds / 60 - 1e-9))
    if minutes < 60 or minutes % 60:
        return cat.text(lang, "fmt_span_minute" if minutes == 1 else "fmt_span_minutes",
                        minutes=minutes)
    hours = minutes // 60
    return cat.text(lang, "fmt_span_hour" if hours == 1 else "fmt_span_hours", hours=hours)


def join(cat: Catalog, lang: str, items: Sequence[str], key: str = "fmt_list_sep") -> str:
    """Items said as one list: ``key`` ("{list}; {item}") adds each item to the list so far.

    A format rather than a bare separator, because prompt texts are stripped when loaded
    and a separator's trailing space would go with it ("22:00;Saturday"). A catalog that
    still has a bare separator is joined with it as it is.
    """
    raw = cat.raw(lang, key)
    if not placeholders(raw):
        return raw.join(items)
    said = items[0] if items else ""
    for item in items[1:]:
        said = cat.text(lang, key, list=said, item=item)
    return said


def listing(cat: Catalog, lang: str, items: Sequence[str]) -> str:
    """Items said as one list, the last after "and": "a, b and c" (``fmt_items``,
    ``fmt_and``)."""
    if len(items) < 3:
        return join(cat, lang, items, "fmt_and")
    return join(cat, lang, [join(cat, lang, items[:-1], "fmt_items"), items[-1]], "fmt_and")


def _names(cat: Catalog, lang: str, key: str) -> list[str]:
    return [name.strip() for name in cat.text(lang, key).split(",")]


def weekday(cat: Catalog, lang: str, index: int) -> str:
    return _names(cat, lang, "fmt_weekdays")[index]


def clock(cat: Catalog, lang: str, hour: int, minute: int = 0) -> str:
    """A time of day as said: "8 a.m.", "noon", "上午8点"; hour 24 is the day's end."""
    names = _names(cat, lang, "fmt_clock")
    if minute or hour >= len(names):  # the model works in whole hours: read others as shown
        return f"{hour:02d}:{minute:02d}"
    return names[hour]


def _time(cat: Catalog, lang: str, when: datetime, day_end: bool = False) -> str:
    if day_end and when.hour == 0 and when.minute == 0:
        return clock(cat, lang, 24)
    return clock(cat, lang, when.hour, when.minute)


def relative_day(cat: Catalog, lang: str, moment: datetime, now: datetime) -> str:
    """"today", "tomorrow", or the weekday with its date ("Monday 30 November"): a bare
    weekday would be heard as this week's even when it is next week's."""
    local_now = now.astimezone(moment.tzinfo)
    if moment.date() == local_now.date():
        return cat.text(lang, "fmt_today")
    if moment.date() == local_now.date() + timedelta(days=1):
        return cat.text(lang, "fmt_tomorrow")
    return cat.text(lang, "fmt_weekday_date", weekday=weekday(cat, lang, moment.weekday()),
                    date=day_date(cat, lang, moment.date()))


def window(cat: Catalog, lang: str, span: TimeWindow, now: datetime) -> str:
    """"tomorrow between 8 a.m. and 10 a.m."."""
    day_end = span.end.date() > span.start.date()
    return cat.text(lang, "fmt_window", day=relative_day(cat, lang, span.start, now),
                    start=_time(cat, lang, span.start), end=_time(cat, lang, span.end, day_end))


class _Span:
    __slots__ = ("start", "end")

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start, self.end = start, end


def windows(cat: Catalog, lang: str, spans: Iterable[TimeWindow], now: datetime) -> str:
    """The windows as one list in time order, back-to-back windows said as one and each
    day said once: "today, 6 p.m. to 10 p.m.; Monday 30 November, 8 a.m. to noon and ..."."""
    merged: list[_Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        if merged and merged[-1].end == span.start:
            merged[-1].end = span.end
        else:
            merged.append(_Span(span.start, span.end))
    days: dict[date, tuple[datetime, list[str]]] = {}
    for span in merged:
        day_end = span.end.date() > span.start.date()
        _, ranges = days.setdefault(span.start.date(), (span.start, []))
        ranges.append(cat.text(lang, "fmt_time_range", start=_time(cat, lang, span.start),
                               end=_time(cat, lang, span.end, day_end)))
    return join(cat, lang, [
        cat.text(lang, "fmt_day_windows", day=relative_day(cat, lang, first, now),
                 windows=join(cat, lang, ranges, "fmt_and"))
        for first, ranges in days.values()])


def moment(cat: Catalog, lang: str, when: datetime, now: datetime) -> str:
    """"tomorrow at 8 a.m."."""
    return cat.text(lang, "fmt_moment", day=relative_day(cat, lang, when, now),
                    time=_time(cat, lang, when))


def opening_hours(cat: Catalog, lang: str, always_open: bool,
                  days: Sequence[tuple[str, Any]]) -> str:
    """Weekdays with the same hours grouped: "Monday to Friday, 8 a.m. to 10 p.m.; ..."."""
    if always_open:
        return cat.text(lang, "fmt_all_day")

    def hours(ranges: Sequence[tuple[int, int]]) -> str:
        spans = [cat.text(lang, "fmt_time_range", start=clock(cat, lang, s),
                          end=clock(cat, lang, e)) for s, e in ranges]
        return join(cat, lang, spans, "fmt_and") if spans else cat.text(lang, "fmt_closed_day")

    parts, week, i = [], list(days[:7]), 0
    while i < 7:
        j = i
        while j + 1 < 7 and week[j + 1][1] == week[i][1]:
            j += 1
        first, last = weekday(cat, lang, i), weekday(cat, lang, j)
        names = first if i == j else join(cat, lang, [first, last], "fmt_and") if j == i + 1 \
            else cat.text(lang, "fmt_day_range", first=first, last=last)
        parts.append(cat.text(lang, "fmt_days_hours", days=names, hours=hours(week[i][1])))
        i = j + 1
    if len(days) > 7:
        parts.append(cat.text(lang, "fmt_days_hours", days=cat.text(lang, "fmt_holidays"),
                              hours=hours(days[7][1])))
    return join(cat, lang, parts)
