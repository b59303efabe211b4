"""The figures of ``ivr plan`` as text, JSON and CSV (the picture: ``ivr.plan.picture``).
Each renderer takes the computed figures and returns a string or plain data. No I/O.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ivr.plan.compare import HOTLINE as HOTLINE_COMPARED
from ivr.plan.compare import MEASURES, Comparison, Difference
from ivr.plan.figures import DEFINITION, Figures, GroupFigures, Row
from ivr.plan.search import Proposal

log = logging.getLogger(__name__)

COLUMNS = ("agents", "offered", "answered", "abandoned", "service_level", "asa_s", "occupancy",
           "callbacks_booked", "callbacks_made", "retrials", "closed", "callbacks_booked_closed",
           "callbacks_booked_tree", "callbacks_late")


@dataclass(frozen=True, slots=True)
class About:
    """What was simulated, said above the figures."""

    days: tuple[str, ...]
    scale: float
    tree: str
    seeds: tuple[int, ...]
    handle: Mapping[str, str]
    notes: tuple[str, ...] = ()


def clock(seconds: float) -> str:
    minutes = int(seconds // 60)
    day, minutes = divmod(minutes, 1440)
    return (f"d{day + 1} " if day else "") + f"{minutes // 60:02d}:{minutes % 60:02d}"


def row_dict(row: Row) -> dict[str, Any]:
    return {"agents": row.agents, "offered": row.offered, "answered": row.answered,
            "abandoned": row.abandoned, "service_level": row.service_level,
            "asa_s": row.asa_s, "occupancy": row.occupancy, "callbacks_booked": row.booked,
            "callbacks_made": row.served, "retrials": row.retrials, "closed": row.closed,
            "callbacks_booked_closed": row.booked_closed,
            "callbacks_booked_tree": row.booked_tree, "callbacks_late": row.late}


def group_line(name: str, g: GroupFigures) -> str:
    """Which queues share which agents, and how their time went."""
    order = ", ".join(g.queues)
    split = ", ".join(f"{q} {pct(share)}" for q, share in g.share.items())
    return (f"shared agents: {name} ({g.peak_agents} at most, {g.agent_hours:.0f} agent-hours) "
            f"serve {order} (fraud first, else the longest waiting); occupancy "
            f"{pct(g.occupancy)}; their time by the queue served: {split}")


def group_dict(g: GroupFigures) -> dict[str, Any]:
    return {"queues": list(g.queues), "agent_hours": g.agent_hours,
            "peak_agents": g.peak_agents, "occupancy": g.occupancy, "busy_share": g.share}


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def _count(x: float) -> str:
    return f"{x:.0f}" if x == int(x) else f"{x:.1f}"


_HEAD = (f"{'time':>16} {'agents':>6} {'offered':>7} {'answered':>8} {'abandoned':>9} "
         f"{'SL':>5} {'ASA s':>6} {'occ.':>5} {'cb booked':>9} {'cb made':>7} {'retrials':>8} "
         f"{'closed':>6}")


def _line(label: str, row: Row, agents: str | None = None) -> str:
    return (f"{label:>16} {agents or _count(row.agents):>6} {_count(row.offered):>7} "
            f"{_count(row.answered):>8} {_count(row.abandoned):>9} {pct(row.service_level):>5} "
            f"{secs(row.asa_s):>6} {pct(row.occupancy):>5} {_count(row.booked):>9} "
            f"{_count(row.served):>7} {_count(row.retrials):>8} {_count(row.closed):>6}")


def busy(row: Row) -> bool:
    """An interval worth a line: staffed, offered calls, or callbacks made in it."""
    return bool(row.agents or row.offered or row.served)


def text(figures: Figures, about: About, proposal: Proposal | None = None) -> str:
    """The figures per queue and interval, the day's totals, and any proposal."""
    runs = len(about.seeds)
    lines = [f"ivr plan: {', '.join(about.days)}; scale {about.scale:g}; tree {about.tree}; "
             f"{runs} run{'s' if runs > 1 else ''} (seed{'s' if runs > 1 else ''} "
             f"{', '.join(map(str, about.seeds))}){'; counts are means per run' if runs > 1 else ''}",
             DEFINITION.format(t=figures.target_s) + "."]
    lines += [f"note: {n}" for n in about.notes]
    hot = {k: sum(v) for k, v in figures.hotline.items()}
    calls = hot["calls"] or 1
    lines.append(f"hotline: {hot['calls']:,.0f} calls ({hot['retrials']:,.0f} of them callers "
                 f"trying again): {hot['queued'] / calls:.0%} reached a queue, "
                 f"{hot['served'] / calls:.0%} served by the tree, {hot['hung_up'] / calls:.0%} "
                 f"hung up in the tree, {hot['callback'] / calls:.0%} booked a callback there")
    lines += [group_line(name, g) for name, g in figures.groups.items()]
    if figures.groups:
        lines.append("(a queue's agents and occupancy below are its own agents'; shared "
                     "agents' time is theirs above)")
    for name, rows in figures.queues.items():
        lines += ["", f"{name} ({about.handle.get(name, '')})", _HEAD]
        lines += [_line(clock(r.start_s), r) for r in rows if busy(r)]
        total = figures.totals[name]
        lines.append(_line("all", total, f"{total.agents:.0f}h"))
        lines.append(f"{'':>16} callbacks owed at the end: {_count(figures.owed[name])}; "
                     f"made after their window: {_count(total.late)}; callers finding it "
                     f"closed: {_count(total.closed)}, {_count(total.booked_closed)} of them "
                     "booked a callback"
                     + (f"; booked in the tree (an emergency switch): {_count(total.booked_tree)}"
                        if total.booked_tree else ""))
    lines += ["", "the whole run (agents: agent-hours)", _HEAD.replace("    time", "   queue")]
    lines += [_line(name, t, f"{t.agents:.0f}h") for name, t in figures.totals.items()]
    day = figures.day_total
    lines.append(_line("all", day, f"{day.agents:.0f}h"))
    if proposal is not None:
        lines += ["", *staffing_text(proposal)]
    return "\n".join(lines)


def staffing_text(p: Proposal) -> list[str]:
    met, total = p.intervals_met()
    kept = [f"note: the shared agents ({', '.join(p.confirmed.groups)}) are kept as the plan "
            "file gives them; the search moved each queue's own agents only"] \
        if p.confirmed.groups else []
    lines = [*kept, f"staffing for {p.target} (met with 90 % confidence over seeds "
             f"{', '.join(map(str, p.seeds))}; {p.rounds} rounds"
             f"{'' if p.converged else ', stopped before every interval met it'})",
             *_checked(p),
             f"confirmed on fresh seeds {', '.join(map(str, p.fresh))}: {_days(p)}; {met} of "
             f"{total} intervals with callers meet it pooled over them, {_short(p)}; 'met' is "
             "the share of those runs in which the interval met it on its own",
             "Erlang A: each interval alone at its simulated calls, no backlog, callbacks or "
             "retrials; where the simulation needs more, calls waiting from the interval before, "
             "callbacks made and callers trying again take agents' time; where fewer, callers "
             "who take a callback leave the queue",
             f"{'queue':<17} {'time':>8} {'agents':>6} {'Erlang A':>8} {'+/-':>4} {'SL':>5} "
             f"{'met':>5}"]
    for name, row in p.agents.items():
        rows = p.confirmed.queues[name]
        for i, (a, e) in enumerate(zip(row, p.erlang[name], strict=True)):
            if not (a or e or rows[i].offered):
                continue
            lines.append(f"{name:<17} {clock(rows[i].start_s):>8} {a:>6} {e:>8} {a - e:>+4} "
                         f"{pct(rows[i].service_level):>5} {pct(p.met_share[name][i]):>5}")
        lines.append(f"{name:<17} {'all':>8} {sum(row) * p.confirmed.interval_s / 3600:>5.0f}h "
                     f"{sum(p.erlang[name]) * p.confirmed.interval_s / 3600:>7.0f}h")
    return lines


def _checked(p: Proposal) -> list[str]:
    if not p.check:
        return []
    return [f"checked on seeds {', '.join(map(str, p.check))}: "
            + (f"{p.check_added} agent{'s' if p.check_added != 1 else ''} added where the "
               "level pooled over them missed" if p.check_added else "every interval met it")]


def _days(p: Proposal) -> str:
    levels = p.days_met()
    met = [n for n, v in levels.items() if v is not None and v >= p.target.level - 1e-12]
    said = ", ".join(f"{n} {pct(v)}" for n, v in levels.items() if v is not None)
    whole = "every queue's day meets the target" if len(met) == len(
        [v for v in levels.values() if v is not None]) else \
        f"{len(met)} of {len(levels)} queues' days meet the target"
    return f"{whole} ({said})"


def _short(p: Proposal) -> str:
    short = p.short()
    if not short:
        return "and none is short of it beyond chance (its 95 % upper bound over the seeds)"
    rows = p.confirmed.queues
    return f"and {len(short)} short of it beyond chance: " + ", ".join(
        f"{name} {clock(rows[name][i].start_s)}" for name, i in short)


def as_json(figures: Figures, about: About, proposal: Proposal | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "days": list(about.days), "scale": about.scale, "tree": about.tree,
        "seeds": list(about.seeds), "interval_min": figures.interval_s / 60,
        "target_s": figures.target_s, "definition": DEFINITION.format(t=figures.target_s),
        "notes": list(about.notes),
        "hotline": {k: list(v) for k, v in figures.hotline.items()},
        "queues": {name: {"handle": about.handle.get(name),
                          "intervals": [{"start": clock(r.start_s), **row_dict(r)}
                                        for r in rows],
                          "total": row_dict(figures.totals[name]) | {
                              "agent_hours": figures.totals[name].agents},
                          "callbacks_owed": figures.owed[name]}
                   for name, rows in figures.queues.items()},
        "total": row_dict(figures.day_total),
        "groups": {name: group_dict(g) for name, g in figures.groups.items()},
    }
    if proposal is not None:
        met, total = proposal.intervals_met()
        out["staffing"] = {
            "target": {"level": proposal.target.level, "within_s": proposal.target.within_s},
            "seeds": list(proposal.seeds), "fresh_seeds": list(proposal.fresh),
            "rounds": proposal.rounds, "converged": proposal.converged,
            "groups_kept": list(proposal.confirmed.groups),
            "check_seeds": list(proposal.check), "check_added": proposal.check_added,
            "intervals_met": met, "intervals_with_callers": total,
            "days_service_level": proposal.days_met(),
            "intervals_short": [{"queue": name, "start": clock(
                proposal.confirmed.queues[name][i].start_s)} for name, i in proposal.short()],
            "queues": {name: {"agents": list(row), "erlang_a": list(proposal.erlang[name]),
                              "service_level": [r.service_level
                                                for r in proposal.confirmed.queues[name]],
                              "met_share": list(proposal.met_share[name])}
                       for name, row in proposal.agents.items()}}
    return out


def as_csv(figures: Figures, proposal: Proposal | None = None) -> str:
    """One line per queue and interval."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    extra = ("proposed_agents", "erlang_a_agents") if proposal else ()
    writer.writerow(("queue", "start", *COLUMNS, *extra))
    for name, rows in figures.queues.items():
        for i, r in enumerate(rows):
            values = row_dict(r)
            more = (proposal.agents[name][i], proposal.erlang[name][i]) if proposal else ()
            writer.writerow((name, clock(r.start_s),
                             *("" if values[c] is None else values[c] for c in COLUMNS), *more))
    return buffer.getvalue()


def _shown(measure: str, value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    sign = "+" if signed else ""
    if measure == "service_level":
        return f"{value * 100:{sign}.1f}{' pt' if signed else ' %'}"
    if measure == "asa_s":
        return f"{value:{sign}.0f} s"
    return f"{value:{sign},.1f}"


def _interval(measure: str, d: Difference) -> str:
    if d.low is None or d.high is None:
        return "(one seed: no interval)"
    return f"{_shown(measure, d.low, True)} to {_shown(measure, d.high, True)}"


def comparison_text(c: Comparison, tree_a: str, tree_b: str) -> list[str]:
    """B − A per queue and measure, with the interval, beside A's and B's figures."""
    lines = [f"B − A: {tree_b} against {tree_a}, the same callers on seeds "
             f"{', '.join(map(str, c.seeds))} (mean per run; 95 % interval over the seeds' "
             "paired differences)",
             f"{'':<17} {'measure':<14} {'A':>10} {'B':>10} {'B − A':>10}  interval"]
    hot_a = {k: sum(v) for k, v in c.a.hotline.items()}
    hot_b = {k: sum(v) for k, v in c.b.hotline.items()}
    for key in HOTLINE_COMPARED:
        d = c.hotline[key]
        lines.append(f"{'hotline':<17} {key:<14} {_shown(key, hot_a[key]):>10} "
                     f"{_shown(key, hot_b[key]):>10} {_shown(key, d.value, True):>10}  "
                     f"{_interval(key, d)}")
    for name, per in c.queues.items():
        ra = c.a.day_total if name == "all" else c.a.totals[name]
        rb = c.b.day_total if name == "all" else c.b.totals[name]
        for measure in MEASURES:
            if measure not in per:
                continue
            d = per[measure]
            lines.append(f"{name:<17} {measure:<14} {_shown(measure, getattr(ra, measure)):>10} "
                         f"{_shown(measure, getattr(rb, measure)):>10} "
                         f"{_shown(measure, d.value, True):>10}  {_interval(measure, d)}")
    return lines


def comparison_json(c: Comparison, tree_a: str, tree_b: str) -> dict[str, Any]:
    def one(d: Difference) -> dict[str, float | None]:
        return {"value": d.value, "low": d.low, "high": d.high}

    return {"a": tree_a, "b": tree_b, "seeds": list(c.seeds), "interval": 0.95,
            "hotline": {k: one(d) for k, d in c.hotline.items()},
            "queues": {name: {m: one(d) for m, d in per.items()}
                       for name, per in c.queues.items()},
            "b_figures": {name: row_dict(row) for name, row in c.b.totals.items()}}
