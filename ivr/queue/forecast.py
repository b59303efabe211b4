"""Arrival rates from the calls actually received, for ``ivr forecast``.

Hour-of-week averages over the last N weeks up to now, in the centre's local time,
written into a copy of an existing traffic tree so that its staffing, hours and calendar
are kept. An average is calls per hour the period covered: the hour in progress counts
for the part of it that has passed, so calls taken a minute ago are in. Public holidays
and make-up working days are left out of the averages: they are not the ordinary week
the file describes. ``small_samples`` says when too few calls stand behind the averages.
Only ``forecast_from_db`` does I/O.
"""

from __future__ import annotations

import copy
import logging
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ivr.errors import StoreError
from ivr.plural import counted, plural
from ivr.queue import traffic as traffic_file
from ivr.queue.calendar import WEEKDAYS, DayKind

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
#: calls per open hour of the week a queue's averages need: with n calls an hourly count
#: is known to about 1/sqrt(n), so 10 keep each within about a third
MIN_CALLS_PER_OPEN_HOUR = 10
#: an hour of the week the period saw for less than this (holidays) keeps its old figure
MIN_OBSERVED_H = 0.5


def forecast(
    calls: Iterable[tuple[str, datetime]],
    weeks: int,
    now: datetime,
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A new traffic tree whose ``calls_per_hour`` are the recorded hour-of-week averages.

    :param calls: ``(queue, started_at)`` pairs; naive times are UTC.
    :param weeks: how many whole weeks before ``now`` to average over.
    :param base: the traffic tree to copy (the shipped week when None).
    :raise ValueError: no call of a known queue in the period.

    ``tree["forecast"]`` records the period, the calls in all and per queue.
    """
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, not {weeks}")
    tree = copy.deepcopy(dict(base)) if base is not None else traffic_file.read_raw()
    checked = traffic_file.parse(tree, "base traffic")
    zone = checked.zone
    calendar = checked.calendar
    # Up to now, not to the last whole hour: right after a call it is counted. Each hour
    # of the week is observed for as long as the period covers it (the hours at both ends
    # in part), and its average is calls / hours observed.
    end = _aware(now).astimezone(zone)
    end_utc = end.astimezone(UTC)
    start_utc = end_utc - timedelta(weeks=weeks)

    occurrences: dict[tuple[int, int], float] = defaultdict(float)  # hours observed
    t = start_utc
    while t < end_utc:
        here = t.astimezone(zone)
        hour_end = min((here.replace(minute=0, second=0, microsecond=0) + HOUR)
                       .astimezone(UTC), end_utc)
        if calendar.day(here.date()).kind is DayKind.NORMAL:
            occurrences[here.weekday(), here.hour] += (hour_end - t) / HOUR
        t = hour_end

    counts: dict[str, Counter[tuple[int, int]]] = {name: Counter() for name in checked.queues}
    used = skipped = 0
    unknown: Counter[str] = Counter()
    for queue, started_at in calls:
        when = _aware(started_at).astimezone(UTC)
        if not start_utc <= when < end_utc:
            continue
        if queue not in counts:
            unknown[queue] += 1
            continue
        here = when.astimezone(zone)
        if calendar.day(here.date()).kind is not DayKind.NORMAL:
            skipped += 1
            continue
        counts[queue][here.weekday(), here.hour] += 1
        used += 1
    if unknown:
        log.warning("calls to queues not in the traffic file were ignored: %s", dict(unknown))
    if used == 0:
        raise ValueError(f"no calls recorded between {start_utc:%Y-%m-%d %H:%M} and "
                         f"{end_utc:%Y-%m-%d %H:%M} UTC for the queues "
                         f"{', '.join(checked.queues)}")
    log.info("forecast from %d calls over %d weeks (%d on holidays left out)", used, weeks,
             skipped)

    for name, known in checked.queues.items():
        rows = {}
        for d, day in enumerate(WEEKDAYS):
            rows[day] = [
                round(counts[name][d, h] / occurrences[d, h], 2)
                if occurrences[d, h] >= MIN_OBSERVED_H
                else known.calls_per_hour[d][h]  # (almost) never seen, all holidays: keep
                for h in range(24)
            ]
        tree["queues"][name]["calls_per_hour"] = rows
    tree["forecast"] = {
        "from": start_utc.astimezone(zone).isoformat(timespec="seconds"),
        "until": end.isoformat(timespec="seconds"),
        "weeks": weeks,
        "calls": used,
        "calls_per_queue": {name: sum(counts[name].values()) for name in checked.queues},
    }
    traffic_file.parse(tree, "forecast")  # what we hand back must load
    return tree


def small_samples(tree: Mapping[str, Any]) -> list[str]:
    """Why the averages of a ``forecast`` tree rest on too few calls, queue by queue: fewer
    than ``MIN_CALLS_PER_OPEN_HOUR`` calls per open hour of the week."""
    info = tree.get("forecast") or {}
    per_queue = info.get("calls_per_queue") or {}
    weeks = info.get("weeks", 1)
    checked = traffic_file.parse(tree, "forecast")
    found = []
    for name, queue in checked.queues.items():
        open_hours = sum(end - start for day in queue.hours[:7] for start, end in day)
        calls = int(per_queue.get(name, 0))
        if open_hours and calls < MIN_CALLS_PER_OPEN_HOUR * open_hours:
            found.append(f"{name}: {counted(calls, 'call')} in {counted(weeks, 'week')}, "
                         f"{counted(open_hours, 'open hour')} a week")
    return found


def forecast_from_db(
    db_path: str | Path,
    weeks: int,
    now: datetime,
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``forecast`` from the ``calls`` table (``started_at`` ISO-8601 UTC, ``queue``)."""
    try:
        with closing(sqlite3.connect(f"file:{Path(db_path)}?mode=ro", uri=True)) as db:
            rows = db.execute(
                "SELECT queue, started_at FROM calls WHERE queue IS NOT NULL"
            ).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read calls from {db_path}: {exc}") from exc
    calls = []
    bad = 0
    for queue, started_at in rows:
        try:
            calls.append((str(queue), datetime.fromisoformat(str(started_at))))
        except ValueError:
            bad += 1
    if bad:
        log.warning("%s in %s %s an unreadable started_at and %s ignored",
                    counted(bad, "call"), db_path, plural(bad, "has", "have"),
                    plural(bad, "was", "were"))
    return forecast(calls, weeks, now, base)


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at
