"""Arrival rates from the calls actually received, for ``ivr forecast``.

Hour-of-week averages over the last N weeks up to now, in the centre's local time,
written into a copy of an existing traffic tree so that its staffing, hours and calendar
are kept. An average is calls per hour the period covered: the hour in progress counts
for the part of it that has passed, so calls taken a minute ago are in. Public holidays
and make-up working days are left out of the averages: they are not the ordinary week
the file describes. ``small_samples`` says when too few calls stand behind the averages.

Each queue's handle time and patience are learnt too, from the calls agents answered
(``ivr.web.agents`` records the wait and the talk on the caller's record) and the callers who
hung up waiting, once ``MIN_TIMED_CALLS`` of them are in the period; otherwise the traffic
file's figure is kept and a warning says so. Only ``forecast_from_db`` does I/O.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ivr.errors import StoreError
from ivr.plural import counted, plural
from ivr.queue import traffic as traffic_file
from ivr.queue.calendar import WEEKDAYS, DayKind
from ivr.records.database import is_postgres, not_ivr, open_database, shown

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
#: calls per open hour of the week a queue's averages need: with n calls an hourly count
#: is known to about 1/sqrt(n), so 10 keep each within about a third
MIN_CALLS_PER_OPEN_HOUR = 10
#: an hour of the week the period saw for less than this (holidays) keeps its old figure
MIN_OBSERVED_H = 0.5
#: answered calls (for the handle time) or waits (for the patience) a queue's figure is
#: learnt from; with fewer the traffic file's stands: a mean of n talks is known to about
#: 1/sqrt(n) of itself, so 20 keep it within about a quarter
MIN_TIMED_CALLS = 20


@dataclass(frozen=True, slots=True)
class Timed:
    """How one queued call's wait ended, and its talk: ``wait_s`` until an agent took it
    (``abandoned`` False) or the caller hung up (True); ``talk_s`` once answered."""

    queue: str
    started_at: datetime
    wait_s: float | None
    abandoned: bool = False
    talk_s: float | None = None


def learn_times(timed: Iterable[Timed], queues: Mapping[str, Any]
                ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Per queue, the handle time (mean talk) and the patience learnt from ``timed``, and
    a note for each figure kept from the file for want of calls.

    The patience is the mean of an exponential fitted by maximum likelihood to censored
    waits: a caller who hung up waiting shows their patience; one who was answered only
    that it was longer than their wait. So the estimate is the sum of all waits over the
    number of hang-ups (Erlang A's patience, as ``ivr.queue.erlang`` models it).

    :param queues: the traffic file's queues (``aht_s``, ``patience_s``), for the notes
    """
    talks: dict[str, list[float]] = defaultdict(list)
    waits: dict[str, list[float]] = defaultdict(list)
    gave_up: Counter[str] = Counter()
    for call in timed:
        if call.talk_s is not None:
            talks[call.queue].append(float(call.talk_s))
        if call.wait_s is not None:
            waits[call.queue].append(float(call.wait_s))
            gave_up[call.queue] += call.abandoned
    learned: dict[str, dict[str, Any]] = {}
    notes = []
    for name, spec in queues.items():
        found: dict[str, Any] = {"answered": len(talks[name]), "waits": len(waits[name]),
                                 "hung_up_waiting": gave_up[name]}
        if len(talks[name]) >= MIN_TIMED_CALLS:
            found["aht_s"] = round(sum(talks[name]) / len(talks[name]), 1)
        else:
            notes.append(f"{name}: handle time kept at {spec['aht_s']} s "
                         f"({counted(len(talks[name]), 'answered call')} with a talk time, "
                         f"{MIN_TIMED_CALLS} needed)")
        if len(waits[name]) >= MIN_TIMED_CALLS and gave_up[name]:
            found["patience_s"] = round(sum(waits[name]) / gave_up[name], 1)
        else:
            why = (f"{counted(len(waits[name]), 'wait')} recorded, {MIN_TIMED_CALLS} needed"
                   if len(waits[name]) < MIN_TIMED_CALLS else "no caller hung up waiting")
            notes.append(f"{name}: patience kept at {spec['patience_s']} s ({why})")
        learned[name] = found
    return learned, notes


def forecast(
    calls: Iterable[tuple[str, datetime]],
    weeks: int,
    now: datetime,
    base: Mapping[str, Any] | None = None,
    timed: Iterable[Timed] = (),
) -> dict[str, Any]:
    """A new traffic tree whose ``calls_per_hour`` are the recorded hour-of-week averages,
    and whose handle times and patiences are learnt from ``timed`` (``learn_times``).

    :param calls: ``(queue, started_at)`` pairs; naive times are UTC.
    :param timed: the queued calls' waits and talks; those started in the period count.
    :param weeks: how many whole weeks before ``now`` to average over.
    :param base: the traffic tree to copy (the shipped week when None).
    :raise ValueError: no call of a known queue in the period.

    ``tree["forecast"]`` records the period, the calls in all and per queue, and what
    was learnt of each queue's times (``learned``); a figure kept is logged as a warning.
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
    in_period = [t for t in timed if start_utc <= _aware(t.started_at).astimezone(UTC) < end_utc]
    learned, kept = learn_times(in_period, tree["queues"])
    for name, found in learned.items():
        for key in ("aht_s", "patience_s"):
            if key in found:
                tree["queues"][name][key] = found[key]
    if not in_period:
        log.warning("no call in the period was answered by an agent or hung up waiting: the "
                    "traffic file's handle times and patiences are kept")
    elif kept:
        log.warning("too few timed calls to learn every queue's times from, the traffic "
                    "file's figures kept:\n  %s", "\n  ".join(kept))
    tree["forecast"] = {
        "from": start_utc.astimezone(zone).isoformat(timespec="seconds"),
        "until": end.isoformat(timespec="seconds"),
        "weeks": weeks,
        "calls": used,
        "calls_per_queue": {name: sum(counts[name].values()) for name in checked.queues},
        **({"learned": learned} if in_period else {}),
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
    location: str | Path,
    weeks: int,
    now: datetime,
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``forecast`` from the ``calls`` table (``started_at`` ISO-8601 UTC, ``queue``) of
    the database at ``location`` (a SQLite path or a ``postgresql://`` URL, read only),
    and the times from its ``wait_s``/``talk_s`` (``_TIMED``)."""
    where = shown(location)
    if not is_postgres(location) and not Path(location).is_file():
        raise StoreError(f"cannot read calls from {where}: no such database")
    with closing(open_database(location, read_only=True)) as db:
        tables = db.tables()
        problem = not_ivr(db.where, tables)
        if problem:
            raise StoreError(problem)
        rows = db.read_all("SELECT queue, started_at FROM calls WHERE queue IS NOT NULL")
        timed = "call_events" in tables and \
            {"wait_s", "talk_s", "bridged_at", "queue_result", "ended_at"} <= db.columns("calls")
        timed_rows = db.read_all(_TIMED) if timed else []
    calls = []
    bad = 0
    for queue, started_at in rows:
        try:
            calls.append((str(queue), datetime.fromisoformat(str(started_at))))
        except ValueError:
            bad += 1
    if bad:
        log.warning("%s in %s %s an unreadable started_at and %s ignored",
                    counted(bad, "call"), where, plural(bad, "has", "have"),
                    plural(bad, "was", "were"))
    return forecast(calls, weeks, now, base, _timed(timed_rows))


#: a queued call's wait and talk: answered (``wait_s``, Twilio's QueueTime as the agent
#: took it), or hung up waiting, from its last enqueueing step to the call's end (the
#: status callback's time; without one the wait is unknown and left out)
_TIMED = """
    SELECT c.queue, c.started_at, c.wait_s, c.talk_s, c.queue_result, c.ended_at,
           (SELECT MAX(e.at) FROM call_events e WHERE e.call_sid = c.call_sid
            AND e.outcome LIKE 'enqueue:%') AS queued_at
    FROM calls c WHERE c.queue IS NOT NULL AND (c.bridged_at IS NOT NULL
        OR c.queue_result = 'hangup')
"""


def _timed(rows: Iterable[tuple[Any, ...]]) -> list[Timed]:
    found = []
    for queue, started, wait_s, talk_s, result, ended, queued in rows:
        try:
            started_at = datetime.fromisoformat(str(started))
            if wait_s is None and result == "hangup" and ended and queued:
                wait_s = max(0.0, (datetime.fromisoformat(str(ended))
                                   - datetime.fromisoformat(str(queued))).total_seconds())
                found.append(Timed(str(queue), started_at, wait_s, abandoned=True))
            elif wait_s is not None:
                found.append(Timed(str(queue), started_at, wait_s, talk_s=talk_s))
        except ValueError:
            continue  # an unreadable time: counted, if at all, by the call's own row
    return found


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at
