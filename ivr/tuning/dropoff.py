"""Where callers drop off, node by node along the tree's main paths: the figures from
``ivr report``'s dict, and the chart drawn from them as inline SVG.

``stages`` picks the figures (plain data); ``svg`` draws them and nothing else, so the
console's report and ``ivr report --html`` draw the same chart from the same numbers. The
chart carries its own text alternative: a ``<title>``, a ``<desc>`` saying every row in
words, and a ``<title>`` per row.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ivr.plural import counted

#: the chart's geometry, in SVG units (the chart scales to its box)
WIDTH, ROW_H, LABEL_W, FIGURE_W, TOP = 760, 24, 190, 190, 30
BAR_W = WIDTH - LABEL_W - FIGURE_W
REACHED_COLOUR, HUNG_UP_COLOUR = "#9ecae1", "#c0392b"


@dataclass(frozen=True, slots=True)
class Stage:
    """A node callers reached: the distinct calls that did, and those that hung up there."""

    node: str
    calls: int
    hangups: int

    @property
    def share(self) -> float:
        """The share of the calls reaching the node that hung up there."""
        return self.hangups / self.calls if self.calls else 0.0


def stages(report: Mapping[str, Any], order: Sequence[str] = ()) -> list[Stage]:
    """The nodes reached, along the main paths: those of the most used paths into a queue
    first, in the order callers walk them, then the rest in the tree's ``order``."""
    nodes: Mapping[str, Any] = report.get("nodes") or {}
    walked: list[str] = []
    for path in sorted(report.get("paths") or [], key=lambda p: -int(p["calls"])):
        walked += [n for n in path["path"] if n not in walked]
    rank = {n: i for i, n in enumerate([*walked, *(n for n in order if n not in walked)])}
    reached = [n for n, e in nodes.items() if int(e.get("calls", 0))]
    return [Stage(n, int(nodes[n]["calls"]), int(nodes[n]["hangups"]))
            for n in sorted(reached, key=lambda n: (rank.get(n, len(rank)), n))]


@dataclass(frozen=True, slots=True)
class Words:
    """What the chart says, in the page's language; ``row`` says one stage in a sentence,
    ``percent`` writes a share as every table of the report does."""

    title: str
    reached: str
    hung_up: str
    row: Callable[[Stage], str]
    percent: Callable[[float | None], str]


def english(percent: Callable[[float | None], str]) -> Words:
    """The chart's words for ``ivr report --html``."""
    return Words(
        title="Where callers hang up, node by node along the main paths",
        reached="calls that reached the node", hung_up="hung up there",
        row=lambda s: (f"{s.node}: {counted(s.calls, 'call')} reached it, {s.hangups} hung "
                       f"up there ({percent(s.share)})"),
        percent=percent)


def svg(found: Sequence[Stage], words: Words, chart_id: str = "report-funnel") -> str:
    """The chart: a bar per stage as long as its calls, its red part those that hung up."""
    most = max((s.calls for s in found), default=0) or 1
    height = TOP + ROW_H * len(found) + 6
    e = html.escape
    rows = []
    for i, stage in enumerate(found):
        y = TOP + i * ROW_H
        reached, hung = BAR_W * stage.calls / most, BAR_W * stage.hangups / most
        rows.append(
            f'<g class="stage" data-node="{e(stage.node)}" data-calls="{stage.calls}" '
            f'data-hangups="{stage.hangups}"><title>{e(words.row(stage))}</title>'
            f'<text x="{LABEL_W - 8}" y="{y + 16}" text-anchor="end">{e(stage.node)}</text>'
            f'<rect x="{LABEL_W}" y="{y + 4}" width="{reached:.1f}" height="{ROW_H - 8}" '
            f'fill="{REACHED_COLOUR}"/>'
            f'<rect x="{LABEL_W}" y="{y + 4}" width="{hung:.1f}" height="{ROW_H - 8}" '
            f'fill="{HUNG_UP_COLOUR}"/>'
            f'<text x="{LABEL_W + BAR_W + 8}" y="{y + 16}">{stage.calls} · '
            f'{stage.hangups} ({e(words.percent(stage.share))})</text></g>')
    desc = " ".join(f"{words.row(s)}." for s in found)
    legend = (f'<rect x="{LABEL_W}" y="6" width="12" height="12" fill="{REACHED_COLOUR}"/>'
              f'<text x="{LABEL_W + 18}" y="16">{e(words.reached)}</text>'
              f'<rect x="{LABEL_W + 250}" y="6" width="12" height="12" fill="{HUNG_UP_COLOUR}"/>'
              f'<text x="{LABEL_W + 268}" y="16">{e(words.hung_up)}</text>')
    return (f'<svg id="{chart_id}" class="funnel" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {WIDTH} {height}" width="100%" style="max-width: {WIDTH}px" role="img" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-size="12" '
            f'font-family="system-ui, sans-serif">'
            f'<title id="{chart_id}-title">{e(words.title)}</title>'
            f'<desc id="{chart_id}-desc">{e(desc)}</desc>{legend}{"".join(rows)}</svg>')
