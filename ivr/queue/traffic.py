"""The centre's week as ops edit it: ``ivr/data/traffic.yaml``.

The file gives the timezone, the calendar (holidays and make-up working days), service
hours per weekday, and per queue the mean handle time, the mean patience, and for each
weekday and hour the forecast calls and the agents on shift. ``parse`` checks all of it
and reports every problem with its location at once; only ``load``, ``read_raw`` and
``dump`` touch files or YAML text.

An hourly row is written in one of three ways, whichever reads best:

- 24 numbers, hour 0 to hour 23: ``[0, 0, ..., 12, 14, ...]``
- a shared profile times a scale: ``{profile: weekday, scale: 100}``
- hour ranges, other hours 0: ``{"08:00-12:00": 13, "12:00-14:00": 6}``

and rows are given per day (``mon`` ... ``sun``) or per group (``daily``, ``weekdays``,
``weekend``), a day overriding its group.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from ivr.errors import MenuError, Problem
from ivr.menu.source import parse_yaml, read_text, safe_loaders
from ivr.plural import plural
from ivr.queue.calendar import WEEKDAYS, Calendar, Day, DayKind, supported_country

log = logging.getLogger(__name__)

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "traffic.yaml"
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_ADVICE_HOURS = "08:00-22:00"
QUEUES = ("payments", "account-security", "fraud", "complaints", "general")
GROUPS: dict[str, tuple[int, ...]] = {
    "daily": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekend": (5, 6),
}
HOLIDAY = 7  # index of the holiday entry in ``Queue.hours``
_TOP_KEYS = ("timezone", "calendar", "service_hours", "advice_hours", "profiles", "queues",
             "forecast")
_CALENDAR_KEYS = ("country", "holidays", "workdays", "not_holidays", "covered_years",
                  "holiday_as", "workday_as")
_QUEUE_KEYS = ("aht_s", "patience_s", "hours", "calls_per_hour", "agents")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")

Ranges = tuple[tuple[int, int], ...]  # [start hour, end hour) pairs, end up to 24


@dataclass(frozen=True, slots=True)
class Queue:
    """One queue's week: handle time, patience, hours, and hourly calls and agents."""

    name: str
    aht_s: float
    patience_s: float
    hours: tuple[Ranges, ...]  # mon ... sun, then public holidays
    calls_per_hour: tuple[tuple[float, ...], ...]  # [weekday][hour]
    agents: tuple[tuple[int, ...], ...]  # [weekday][hour]

    @property
    def always_open(self) -> bool:
        return all(r == ((0, 24),) for r in self.hours)

    def hours_on(self, day: Day) -> Ranges:
        """Opening hours on ``day``: a holiday has its own, a make-up day borrows a weekday's."""
        return self.hours[HOLIDAY if day.kind is DayKind.HOLIDAY else day.runs_as]

    def open_at(self, day: Day, hour: int) -> bool:
        return any(start <= hour < end for start, end in self.hours_on(day))


@dataclass(frozen=True, slots=True)
class Traffic:
    """A checked traffic file."""

    timezone: str
    calendar: Calendar
    queues: dict[str, Queue]
    advice_hours: Ranges
    source: str = "traffic"
    warnings: tuple[Problem, ...] = field(default=())

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


#: dates stay text, so that a bad one (2026-13-01) is reported with its location instead of
#: failing the whole file
_LOADERS = safe_loaders(yaml_implicit_resolvers={
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
})


def read_raw(path: str | Path | None = None) -> dict[str, Any]:
    """The file's YAML tree, unchecked (``forecast`` rewrites it)."""
    where = Path(path) if path is not None else DEFAULT_PATH
    # unreadable, or not UTF-8 (saved as GBK, say): one problem naming the file, worded
    # as for the tree and the prompts
    text, problem = read_text(where)
    if text is None:
        raise MenuError([problem] if problem else [], str(where))
    data, problem = parse_yaml(text, str(where), _LOADERS)
    if problem:
        raise MenuError([problem], str(where))
    if not isinstance(data, dict):
        raise MenuError([Problem("(top)", "must be a mapping")], str(where))
    return data


def load(path: str | Path | None = None) -> Traffic:
    """Read and check a traffic file; the shipped week when ``path`` is None."""
    where = Path(path) if path is not None else DEFAULT_PATH
    return parse(read_raw(where), str(where))


class _Checker:
    """Collects problems so that ops see all of them at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, location: str, message: str) -> None:
        self.problems.append(Problem(location, message))

    def warn(self, location: str, message: str) -> None:
        self.problems.append(Problem(location, message, "warning"))

    def mapping(self, value: object, location: str, keys: tuple[str, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(location, "must be a mapping")
            return {}
        for key in value:
            if key not in keys:
                self.error(f"{location}.{key}", f"unknown key; expected one of {', '.join(keys)}")
        return value

    def number(self, value: object, location: str, minimum: float = 0.0,
               strict: bool = False) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            self.error(location, f"must be a number, not {value!r}")
            return None
        if value < minimum or (strict and value == minimum) or math.isinf(value):
            self.error(location, f"must be {'>' if strict else '>='} {minimum:g}, not {value!r}")
            return None
        return float(value)

    def whole(self, value: object, location: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.error(location, f"must be a whole number >= 0, not {value!r}")
            return None
        return value

    def weekday(self, value: object, location: str, default: int) -> int:
        if value is None:
            return default
        if value not in WEEKDAYS:
            self.error(location, f"must be one of {', '.join(WEEKDAYS)}, not {value!r}")
            return default
        return WEEKDAYS.index(str(value))

    def dates(self, value: object, location: str) -> frozenset[date]:
        if value is None:
            return frozenset()
        if not isinstance(value, list):
            self.error(location, "must be a list of dates (YYYY-MM-DD)")
            return frozenset()
        found = set()
        for i, item in enumerate(value):
            if isinstance(item, date):
                found.add(item)
                continue
            try:
                found.add(date.fromisoformat(str(item)))
            except ValueError:
                self.error(f"{location}[{i}]", f"not a date (YYYY-MM-DD): {item!r}")
        return frozenset(found)

    def ranges(self, value: object, location: str) -> Ranges | None:
        """``closed``, ``24h``, ``HH:00-HH:00`` or a list of those."""
        items = value if isinstance(value, list) else [value]
        found: list[tuple[int, int]] = []
        for item in items:
            if item == "closed" and len(items) == 1:
                return ()
            if item == "24h" and len(items) == 1:
                return ((0, 24),)
            span = self.span(item, location)
            if span is None:
                return None
            found.append(span)
        found.sort()
        for (_, end), (start, _) in zip(found, found[1:], strict=False):
            if start < end:
                self.error(location, "hour ranges overlap")
                return None
        return tuple(found)

    def span(self, item: object, location: str) -> tuple[int, int] | None:
        match = _RANGE.match(item) if isinstance(item, str) else None
        if match is None:
            self.error(location, f"expected 'closed', '24h' or 'HH:00-HH:00', not {item!r}")
            return None
        start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
        if start_m or end_m:
            # The forecast is hourly, so opening hours are too.
            self.error(location, f"{item!r}: hours must start and end on the hour")
            return None
        if not 0 <= start_h < end_h <= 24:
            self.error(location, f"{item!r}: need 00:00 <= start < end <= 24:00")
            return None
        return start_h, end_h

    def per_day(self, value: object, location: str, parse: Callable[[object, str], Any],
                holiday: bool = False) -> list[Any] | None:
        """Seven parsed values from a mapping of days and day groups."""
        if not isinstance(value, dict):
            self.error(location, "must be a mapping of days (mon ... sun, daily, weekdays, "
                                 "weekend)")
            return None
        days: list[Any] = [None] * 7
        ok = True
        # Groups first, so that a single day overrides its group.
        ordered = sorted(value.items(), key=lambda kv: (kv[0] not in GROUPS, str(kv[0])))
        for key, item in ordered:
            if key == "holiday" and holiday:
                continue  # the caller reads it
            indices = GROUPS.get(key) or ((WEEKDAYS.index(key),) if key in WEEKDAYS else None)
            if indices is None:
                self.error(f"{location}.{key}", "unknown day; expected mon ... sun, daily, "
                                                "weekdays or weekend")
                ok = False
                continue
            parsed = parse(item, f"{location}.{key}")
            if parsed is None:
                ok = False
            for i in indices:
                days[i] = parsed
        missing = [WEEKDAYS[i] for i in range(7) if days[i] is None]
        if ok and missing:
            self.error(location, f"no value for {', '.join(missing)}")
        return days if ok and not missing else None

    def hourly(self, value: object, location: str, profiles: dict[str, tuple[float, ...]],
               whole: bool) -> tuple[float, ...] | None:
        """One day's 24 hourly values, in any of the three spellings."""
        if isinstance(value, list):
            if len(value) != 24:
                self.error(location, f"needs 24 values (hours 0-23), has {len(value)}")
                return None
            cells = [self.whole(v, f"{location}[{h}]") if whole else
                     self.number(v, f"{location}[{h}]") for h, v in enumerate(value)]
            return None if any(c is None for c in cells) else tuple(float(c or 0) for c in cells)
        if isinstance(value, dict) and "profile" in value and not whole:
            extra = set(value) - {"profile", "scale"}
            if extra:
                self.error(location, f"unknown {plural(len(extra), 'key')} "
                                     f"{', '.join(map(str, sorted(extra)))}; expected profile and scale")
            shape = profiles.get(value["profile"])
            if shape is None:
                self.error(f"{location}.profile", f"no profile {value['profile']!r} in "
                                                  "profiles")
                return None
            scale = self.number(value.get("scale", 1), f"{location}.scale")
            return None if scale is None else tuple(scale * v for v in shape)
        if isinstance(value, dict):
            row = [0.0] * 24
            for key, count in value.items():
                span = self.span(key, f"{location}.{key}")
                amount = (self.whole(count, f"{location}.{key}") if whole else
                          self.number(count, f"{location}.{key}"))
                if span is None or amount is None:
                    return None
                for h in range(*span):
                    row[h] = float(amount)
            return tuple(row)
        kinds = "24 numbers or hour ranges" if whole else \
            "24 numbers, {profile, scale} or hour ranges"
        self.error(location, f"expected {kinds}, not {value!r}")
        return None


def parse(data: object, source: str = "traffic") -> Traffic:
    """Check a traffic tree and build the model; raise ``MenuError`` listing every problem."""
    check = _Checker()
    top = check.mapping(data, "(top)", _TOP_KEYS)

    timezone = top.get("timezone", DEFAULT_TIMEZONE)
    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        check.error("timezone", f"unknown timezone {timezone!r} (use an IANA name such as "
                                "Asia/Shanghai)")

    cal = check.mapping(top.get("calendar"), "calendar", _CALENDAR_KEYS)
    country = cal.get("country")
    if country is not None and (not isinstance(country, str) or not supported_country(country)):
        check.error("calendar.country", f"{country!r} is not a country code the holidays "
                                        "package knows (e.g. CN, US) or null")
        country = None
    years = cal.get("covered_years") or []
    if not isinstance(years, list) or not all(isinstance(y, int) for y in years):
        check.error("calendar.covered_years", "must be a list of years")
        years = []
    calendar = Calendar(
        country=country,
        holidays=check.dates(cal.get("holidays"), "calendar.holidays"),
        workdays=check.dates(cal.get("workdays"), "calendar.workdays"),
        not_holidays=check.dates(cal.get("not_holidays"), "calendar.not_holidays"),
        covered_years=frozenset(years),
        holiday_as=check.weekday(cal.get("holiday_as"), "calendar.holiday_as", 6),
        workday_as=check.weekday(cal.get("workday_as"), "calendar.workday_as", 0),
    )
    for both in sorted(calendar.holidays & calendar.workdays):
        check.error("calendar", f"{both} is both a holiday and a make-up working day")

    service = _hours(check, top.get("service_hours"), "service_hours", calendar.holiday_as)
    advice_hours = check.ranges(top.get("advice_hours", DEFAULT_ADVICE_HOURS), "advice_hours")

    profiles: dict[str, tuple[float, ...]] = {}
    raw_profiles = top.get("profiles") or {}
    if not isinstance(raw_profiles, dict):
        check.error("profiles", "must map profile names to 24 hourly numbers")
        raw_profiles = {}
    for name, row in raw_profiles.items():
        if not isinstance(row, list):
            check.error(f"profiles.{name}", "a profile is a list of 24 numbers")
            continue
        parsed = check.hourly(row, f"profiles.{name}", {}, whole=False)
        if parsed is not None:
            profiles[str(name)] = parsed

    queues: dict[str, Queue] = {}
    raw_queues = top.get("queues")
    if not isinstance(raw_queues, dict) or not raw_queues:
        check.error("queues", "must map each queue name to its handle time, patience, calls "
                              "and agents")
        raw_queues = {}
    for name, spec in raw_queues.items():
        queue = _queue(check, str(name), spec, service, profiles, calendar.holiday_as)
        if queue is not None:
            queues[str(name)] = queue

    errors = [p for p in check.problems if p.severity == "error"]
    if errors:
        raise MenuError(check.problems, source)
    warnings = tuple(check.problems)
    for warning in warnings:
        log.warning("%s: %s", source, warning)
    return Traffic(str(timezone), calendar, queues, advice_hours or (), source, warnings)


def _hours(check: _Checker, value: object, location: str, holiday_as: int
           ) -> tuple[Ranges, ...] | None:
    days = check.per_day(value, location, check.ranges, holiday=True)
    holiday = value.get("holiday") if isinstance(value, dict) else None
    if days is None:
        return None
    if holiday is None:
        return (*days, days[holiday_as])
    parsed = check.ranges(holiday, f"{location}.holiday")
    return None if parsed is None else (*days, parsed)


def _queue(check: _Checker, name: str, spec: object, service: tuple[Ranges, ...] | None,
           profiles: dict[str, tuple[float, ...]], holiday_as: int) -> Queue | None:
    loc = f"queues.{name}"
    if not isinstance(spec, dict):
        check.error(loc, "must be a mapping")
        return None
    check.mapping(spec, loc, _QUEUE_KEYS)
    for key in ("aht_s", "patience_s", "calls_per_hour", "agents"):
        if key not in spec:
            check.error(f"{loc}.{key}", "missing")
    aht_s = check.number(spec.get("aht_s", 1), f"{loc}.aht_s", strict=True)
    patience_s = check.number(spec.get("patience_s", 1), f"{loc}.patience_s", strict=True)
    hours_spec = spec.get("hours", "service")
    if hours_spec == "service":
        hours = service
    elif hours_spec == "24h":
        hours = (((0, 24),),) * 8
    else:
        hours = _hours(check, hours_spec, f"{loc}.hours", holiday_as)
    calls = check.per_day(spec.get("calls_per_hour", {}), f"{loc}.calls_per_hour",
                          lambda v, at: check.hourly(v, at, profiles, whole=False))
    agents = check.per_day(spec.get("agents", {}), f"{loc}.agents",
                           lambda v, at: check.hourly(v, at, profiles, whole=True))
    if None in (aht_s, patience_s, hours, calls, agents):
        return None
    assert aht_s is not None and patience_s is not None and hours is not None
    assert calls is not None and agents is not None
    queue = Queue(name, aht_s, patience_s, hours, tuple(calls),
                  tuple(tuple(int(a) for a in row) for row in agents))
    for d in range(7):
        unstaffed = [h for h in range(24) if any(s <= h < e for s, e in hours[d])
                     and queue.agents[d][h] == 0 and queue.calls_per_hour[d][h] > 0]
        if unstaffed:
            check.warn(f"{loc}.agents.{WEEKDAYS[d]}",
                       f"open with calls forecast but no agents at {plural(len(unstaffed), 'hour')} "
                       f"{', '.join(map(str, unstaffed))}: nobody would be answered")
    return queue


class _Dumper(yaml.SafeDumper):
    """Hourly rows on one line, so that a day reads across like a timetable."""


def _represent_list(dumper: yaml.SafeDumper, items: list[Any]) -> yaml.Node:
    flow = all(isinstance(i, int | float | str | date) for i in items)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def dump(data: Mapping[str, Any]) -> str:
    """YAML text for a traffic tree, keys in their given order."""
    header = "# The centre's week: see ivr/queue/traffic.py for the format.\n"
    return header + yaml.dump(dict(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                              width=120)
