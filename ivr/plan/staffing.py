"""Agents per queue and interval: from the traffic file, from a plan file, from Erlang A,
and the fewest that meet a service-level target in the simulation (``staff_for``).

A plan file maps each queue to its agents through a day, the same every day simulated,
as hour ranges (``"08:00-12:30": 13``, other times 0) or one number per interval::

    interval_min: 30          # what a list counts in (default: the run's interval)
    payments: {"08:00-12:00": 13, "12:00-14:00": 9, "14:00-22:00": 10}
    fraud: [2, 2, 2, ...]     # 48 numbers for 30-minute intervals

A queue the file leaves out keeps the traffic file's agents. ``ivr plan --staff-for``
writes its proposal in this form. Only ``load_plan`` reads a file.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.errors import MenuError, Problem, close_match
from ivr.menu.source import load_yaml
from ivr.queue.calendar import Day
from ivr.queue.erlang import agents_for
from ivr.queue.traffic import Traffic

log = logging.getLogger(__name__)

DAY_S = 86400.0
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")

#: per queue, agents per interval over the whole run
Agents = dict[str, tuple[int, ...]]


def per_day(interval_s: float) -> int:
    return int(DAY_S // interval_s)


def from_traffic(traffic: Traffic, days: tuple[Day, ...], interval_s: float
                 ) -> tuple[Agents, dict[str, tuple[bool, ...]]]:
    """Per queue, the traffic file's agents and opening per interval (hourly, spread over
    the hour's intervals) on the weekday each day runs as, holidays' hours their own."""
    agents: Agents = {}
    opened: dict[str, tuple[bool, ...]] = {}
    n = per_day(interval_s)
    for name, q in traffic.queues.items():
        row_agents, row_open = [], []
        for day in days:
            for i in range(n):
                hour = int(i * interval_s // 3600)
                row_agents.append(q.agents[day.runs_as][hour])
                row_open.append(q.open_at(day, hour))
        agents[name], opened[name] = tuple(row_agents), tuple(row_open)
    return agents, opened


def _ranges(check: list[Problem], where: str, value: dict[Any, Any], interval_s: float
            ) -> list[int] | None:
    row = [0] * per_day(interval_s)
    step = interval_s / 60
    for key, count in value.items():
        match = _RANGE.match(str(key))
        at = f"{where}.{key}"
        if match is None:
            check.append(Problem(at, "expected 'HH:MM-HH:MM'"))
            return None
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if not 0 <= start < end <= 1440 or start % step or end % step:
            check.append(Problem(at, f"needs 00:00 <= start < end <= 24:00, both on a "
                                     f"{step:g}-minute interval's edge"))
            return None
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            check.append(Problem(at, f"must be a whole number >= 0, not {count!r}"))
            return None
        for i in range(int(start // step), int(end // step)):
            row[i] = count
    return row


def parse_plan(data: Any, source: str, queues: tuple[str, ...], interval_s: float
               ) -> dict[str, list[int]]:
    """Per queue named, its agents per interval of a day; ``MenuError`` lists every problem."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise MenuError([Problem("(top)", "must map queues to their agents")], source)
    per_list = data.get("interval_min", interval_s / 60)
    if per_list not in (15, 30, 60):
        problems.append(Problem("interval_min", f"must be 15, 30 or 60, not {per_list!r}"))
        per_list = interval_s / 60
    found: dict[str, list[int]] = {}
    for name, value in data.items():
        if name == "interval_min":
            continue
        if name not in queues:
            meant = close_match(str(name), queues, 0.6)
            hint = f"; did you mean '{meant}'?" if meant else f" ({', '.join(queues)})"
            problems.append(Problem(str(name), f"not a queue of the traffic file{hint}"))
            continue
        if isinstance(value, dict):
            row = _ranges(problems, str(name), value, interval_s)
        elif isinstance(value, list):
            n = per_day(per_list * 60)
            bad = [v for v in value if isinstance(v, bool) or not isinstance(v, int) or v < 0]
            if len(value) != n or bad:
                problems.append(Problem(str(name), f"needs {n} whole numbers >= 0 (one per "
                                                   f"{per_list:g} minutes), has {len(value)}"
                                        + (f", {bad[0]!r} among them" if bad else "")))
                continue
            # spread over (or gathered into) the run's intervals: an interval has the
            # agents of the list's entry it starts in
            row = [value[int(i * interval_s // (per_list * 60))]
                   for i in range(per_day(interval_s))]
        else:
            problems.append(Problem(str(name), "expected hour ranges or a list of numbers"))
            continue
        if row is not None:
            found[str(name)] = row
    if problems:
        raise MenuError(problems, source)
    return found


def load_plan(path: Path, queues: tuple[str, ...], interval_s: float) -> dict[str, list[int]]:
    data, problem = load_yaml(path, str(path))
    if problem is not None:
        raise MenuError([problem], str(path))
    return parse_plan(data, str(path), queues, interval_s)


def dump_plan(agents: Mapping[str, tuple[int, ...]], interval_s: float) -> dict[str, Any]:
    """A plan file's tree for the first day of ``agents``: hour ranges, zeros left out."""
    n = per_day(interval_s)
    out: dict[str, Any] = {"interval_min": int(interval_s // 60)}
    for name, row in agents.items():
        ranges: dict[str, int] = {}
        i = 0
        while i < n:
            j = i
            while j + 1 < n and row[j + 1] == row[i]:
                j += 1
            if row[i]:
                ranges[f"{_clock(i * interval_s)}-{_clock((j + 1) * interval_s)}"] = row[i]
            i = j + 1
        out[name] = ranges
    return out


def _clock(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def repeat(day: Mapping[str, list[int]], days: int) -> Agents:
    return {name: tuple(row) * days for name, row in day.items()}


def erlang_a(offered: Mapping[str, list[float]], aht_s: Mapping[str, float],
             patience_s: Mapping[str, float], interval_s: float, level: float,
             target_s: float) -> Agents:
    """Per queue and interval, Erlang A's fewest agents for its calls offered (a stationary
    interval standing alone: no backlog, no callbacks, no retrials)."""
    plan: Agents = {}
    for name, calls in offered.items():
        plan[name] = tuple(
            agents_for(c * 3600.0 / interval_s, aht_s[name], level, target_s,
                       patience_s[name]) if c > 0 else 0 for c in calls)
    return plan


@dataclass(frozen=True, slots=True)
class Target:
    """A service-level target: ``level`` of the callers who queue answered within
    ``within_s`` seconds (``0.8/20``)."""

    level: float
    within_s: float

    @classmethod
    def parse(cls, text: str) -> Target:
        """``LEVEL/SECONDS``, the level as a share (0.8) or a percentage (80%)."""
        left, sep, right = text.partition("/")
        try:
            level = float(left.rstrip("%")) / (100 if left.strip().endswith("%") else 1)
            within = float(right)
        except ValueError:
            level = within = math.nan
        if not sep or not 0 < level < 1 or not within >= 0 or math.isinf(within):
            raise ValueError(f"{text!r}: expected LEVEL/SECONDS, a level between 0 and 1 "
                             "(or 1% to 99%) and seconds >= 0, e.g. 0.8/20")
        return cls(level, within)

    def __str__(self) -> str:
        return f"{self.level:.0%} within {self.within_s:g} s"
