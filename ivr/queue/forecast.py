"""Arrival rates from the calls actually received, for ``ivr forecast``.

Hour-of-week averages over the last N weeks, in the centre's local time, written into a
copy of an existing traffic tree so that its staffing, hours and calendar are kept.
Public holidays and make-up working days are left out of the averages: they are not
the ordinary week the file describes. Only ``forecast_from_db`` does I/O.
"""

from __future__ import annotations

import copy
import logging
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ivr.errors import StoreError
from ivr.queue import traffic as traffic_file
from ivr.queue.calendar import WEEKDAYS, DayKind

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)


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
    """
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, not {weeks}")
    tree = copy.deepcopy(dict(base)) if base is not None else traffic_file.read_raw()
    checked = traffic_file.parse(tree, "base traffic")
    zone = checked.zone
    calendar = checked.calendar
    # Whole local hours only: the hour in progress is not over yet.
    end = _aware(now).astimezone(zone).replace(minute=0, second=0, microsecond=0)
    end_utc = end.astimezone(UTC)
    start_utc = end_utc - timedelta(weeks=weeks)

    occurrences: Counter[tuple[int, int]] = Counter()
    t = start_utc
    while t < end_utc:
        here = t.astimezone(zone)
        if calendar.day(here.date()).kind is DayKind.NORMAL:
            occurrences[here.weekday(), here.hour] += 1
        t += HOUR

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
                round(counts[name][d, h] / occurrences[d, h], 2) if occurrences[d, h]
                else known.calls_per_hour[d][h]  # never seen (all holidays): keep the old
                for h in range(24)
            ]
        tree["queues"][name]["calls_per_hour"] = rows
    tree["forecast"] = {
        "from": start_utc.astimezone(zone).isoformat(),
        "until": end.isoformat(),
        "weeks": weeks,
        "calls": used,
    }
    traffic_file.parse(tree, "forecast")  # what we hand back must load
    return tree


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
        log.warning("%d call(s) in %s have an unreadable started_at and were ignored", bad,
                    db_path)
    return forecast(calls, weeks, now, base)


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at
