"""Agents per queue and interval: from the traffic file, from a plan file, from Erlang A,
and the fewest that meet a service-level target in the simulation (``staff_for``).

A plan file maps each queue to its agents through a day, the same every day simulated,
as hour ranges (``"08:00-12:30": 13``, other times 0) or one number per interval::

    interval_min: 30          # what a list counts in (default: the run's interval)
    payments: {"08:00-12:00": 13, "12:00-14:00": 9, "14:00-22:00": 10}
    fraud: [2, 2, 2, ...]     # 48 numbers for 30-minute intervals

A queue the file leaves out keeps the traffic file's agents. Agents shared by queues
(skills) are ``groups``, each with its queues and its agents in the same forms as a
queue's; a free agent takes a fraud caller first, else whoever has waited longest in its
queues, as the live line's agents do::

    groups:
      risk desk:
        queues: [fraud, account-security]
        agents: {"08:00-22:00": 6}

A queue may keep agents of its own beside a group's (``ivr.plan.skills`` simulates
them). ``ivr plan --staff-for`` writes its proposal in this form (the groups as read).
Only ``load_plan`` and ``load_plan_file`` read a file.
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


def clock_span(text: str) -> tuple[int, int] | None:
    """The minutes of the day from and to that ``'HH:MM-HH:MM'`` gives, as written (the
    caller checks them); None when ``text`` is not of that form. The one reading of the
    hour ranges of plan files and ``--hourly``."""
    match = _RANGE.match(text)
    if match is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return h1 * 60 + m1, h2 * 60 + m2


def _ranges(check: list[Problem], where: str, value: dict[Any, Any], interval_s: float
            ) -> list[int] | None:
    row = [0] * per_day(interval_s)
    step = interval_s / 60
    for key, count in value.items():
        span = clock_span(str(key))
        at = f"{where}.{key}"
        if span is None:
            check.append(Problem(at, "expected 'HH:MM-HH:MM'"))
            return None
        start, end = span
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


@dataclass(frozen=True, slots=True)
class Group:
    """Agents shared by ``queues`` (fraud first, else the longest waiting), per interval
    of a day."""

    name: str
    queues: tuple[str, ...]
    agents: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PlanFile:
    """A plan file: per queue its own agents per interval of a day, and the groups."""

    agents: dict[str, list[int]]
    groups: tuple[Group, ...] = ()


def _row(problems: list[Problem], where: str, value: Any, interval_s: float, per_list: float
         ) -> list[int] | None:
    """Agents per interval of a day from hour ranges or a list (None: a problem said)."""
    if isinstance(value, dict):
        return _ranges(problems, where, value, interval_s)
    if isinstance(value, list):
        n = per_day(per_list * 60)
        bad = [v for v in value if isinstance(v, bool) or not isinstance(v, int) or v < 0]
        if len(value) != n or bad:
            problems.append(Problem(where, f"needs {n} whole numbers >= 0 (one per "
                                           f"{per_list:g} minutes), has {len(value)}"
                                    + (f", {bad[0]!r} among them" if bad else "")))
            return None
        # spread over (or gathered into) the run's intervals: an interval has the
        # agents of the list's entry it starts in
        return [value[int(i * interval_s // (per_list * 60))]
                for i in range(per_day(interval_s))]
    problems.append(Problem(where, "expected hour ranges or a list of numbers"))
    return None


def _unknown(name: str, queues: tuple[str, ...]) -> str:
    meant = close_match(name, queues, 0.6)
    hint = f"; did you mean '{meant}'?" if meant else f" ({', '.join(queues)})"
    return f"not a queue of the traffic file{hint}"


def _groups(problems: list[Problem], value: Any, queues: tuple[str, ...], interval_s: float,
            per_list: float) -> tuple[Group, ...]:
    if not isinstance(value, dict) or not value:
        problems.append(Problem("groups", "must map each group's name to its queues and "
                                          "agents"))
        return ()
    found: list[Group] = []
    for name, entry in value.items():
        at = f"groups.{name}"
        if not isinstance(entry, dict):
            problems.append(Problem(at, "expected 'queues' and "
                                        "'agents'"))
            continue
        for key in entry:
            if key not in ("queues", "agents"):
                problems.append(Problem(f"{at}.{key}", "unknown key (a group has 'queues' "
                                                       "and 'agents')"))
        served = entry.get("queues")
        ok = True
        if not isinstance(served, list) or not served:
            problems.append(Problem(f"{at}.queues", "needs a list of one queue or more"))
            ok, served = False, []
        seen: set[str] = set()
        for j, queue in enumerate(served):
            where = f"{at}.queues[{j}]"
            if str(queue) in seen:
                problems.append(Problem(where, f"'{queue}' is already in this group"))
                ok = False
            elif queue not in queues:
                problems.append(Problem(where, _unknown(str(queue), queues)))
                ok = False
            seen.add(str(queue))
        if "agents" not in entry:
            problems.append(Problem(f"{at}.agents", "missing: hour ranges or a list of "
                                                    "numbers"))
            continue
        row = _row(problems, f"{at}.agents", entry["agents"], interval_s, per_list)
        if ok and row is not None:
            found.append(Group(str(name), tuple(str(q) for q in served), tuple(row)))
    return tuple(found)


def parse_plan_file(data: Any, source: str, queues: tuple[str, ...], interval_s: float
                    ) -> PlanFile:
    """Per queue named its agents per interval of a day, and the groups; ``MenuError``
    lists every problem with its location."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise MenuError([Problem("(top)", "must map queues to their agents")], source)
    per_list = data.get("interval_min", interval_s / 60)
    if per_list not in (15, 30, 60):
        problems.append(Problem("interval_min", f"must be 15, 30 or 60, not {per_list!r}"))
        per_list = interval_s / 60
    found: dict[str, list[int]] = {}
    groups: tuple[Group, ...] = ()
    for name, value in data.items():
        if name == "interval_min":
            continue
        if name == "groups" and "groups" not in queues:
            groups = _groups(problems, value, queues, interval_s, per_list)
            continue
        if name not in queues:
            problems.append(Problem(str(name), _unknown(str(name), queues)))
            continue
        row = _row(problems, str(name), value, interval_s, per_list)
        if row is not None:
            found[str(name)] = row
    if problems:
        raise MenuError(problems, source)
    return PlanFile(found, groups)


def parse_plan(data: Any, source: str, queues: tuple[str, ...], interval_s: float
               ) -> dict[str, list[int]]:
    """Per queue named, its agents per interval of a day; ``MenuError`` lists every problem."""
    return parse_plan_file(data, source, queues, interval_s).agents


def load_plan_file(path: Path, queues: tuple[str, ...], interval_s: float) -> PlanFile:
    data, problem = load_yaml(path, str(path))
    if problem is not None:
        raise MenuError([problem], str(path))
    return parse_plan_file(data, str(path), queues, interval_s)


def load_plan(path: Path, queues: tuple[str, ...], interval_s: float) -> dict[str, list[int]]:
    return load_plan_file(path, queues, interval_s).agents


def dump_plan(agents: Mapping[str, tuple[int, ...]], interval_s: float,
              groups: tuple[Group, ...] = ()) -> dict[str, Any]:
    """A plan file's tree for the first day of ``agents`` (and ``groups``, per interval
    of a day): hour ranges, zeros left out."""
    out: dict[str, Any] = {"interval_min": int(interval_s // 60)}
    if groups:
        out["groups"] = {g.name: {"queues": list(g.queues),
                                  "agents": _dump_row(g.agents, interval_s)} for g in groups}
    for name, row in agents.items():
        out[name] = _dump_row(row, interval_s)
    return out


def _dump_row(row: tuple[int, ...], interval_s: float) -> dict[str, int]:
    n = per_day(interval_s)
    ranges: dict[str, int] = {}
    i = 0
    while i < n:
        j = i
        while j + 1 < n and row[j + 1] == row[i]:
            j += 1
        if row[i]:
            ranges[f"{_clock(i * interval_s)}-{_clock((j + 1) * interval_s)}"] = row[i]
        i = j + 1
    return ranges


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
