"""The picture of a simulated day: per queue, calls offered against answered and
abandoned per interval, the agents on shift, and the service level against its target.

Drawn with matplotlib's Agg canvas directly, as ``ivr.queue.plot`` is (no GUI backend,
no pyplot state), imported only when a picture is asked for; PNG or SVG by the file's
name. It takes the figures and draws them; it computes nothing.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import BinaryIO

from ivr.plan.figures import Figures

log = logging.getLogger(__name__)


def plot_day(figures: Figures, path: str | Path, title: str = "",
             target_level: float | None = None) -> Path:
    """Write the picture of ``figures`` to ``path`` (``.png`` or ``.svg``); return it."""
    out = Path(path)
    with out.open("wb") as file:
        draw_day(figures, file, out.suffix.lstrip(".").lower(), title, target_level)
    log.info("wrote %s", out)
    return out


def svg_day(figures: Figures, title: str = "", target_level: float | None = None) -> str:
    """The picture as an ``<svg>`` element to put inline in an HTML page (no XML
    declaration, no doctype). matplotlib writes every text escaped (labels as paths,
    with their words in comments it makes safe), so the element holds no markup of
    the queue names or the title."""
    buffer = io.BytesIO()
    draw_day(figures, buffer, "svg", title, target_level)
    text = buffer.getvalue().decode("utf-8")
    return text[text.index("<svg"):]


def draw_day(figures: Figures, file: BinaryIO, fmt: str, title: str = "",
             target_level: float | None = None) -> None:
    """Draw the picture of ``figures`` into ``file`` as ``fmt`` (``png`` or ``svg``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(figures.queues)
    figure = Figure(figsize=(13, 2.6 * len(names) + 0.6), layout="constrained")
    FigureCanvasAgg(figure)
    hours = figures.interval_s / 3600
    for n, name in enumerate(names):
        rows = figures.queues[name]
        x = [r.start_s / 3600 for r in rows]
        axes = figure.add_subplot(len(names), 1, n + 1)
        # bars side by side as one filled outline each (``stairs``): the same picture as a
        # bar per interval, drawn 20 times sooner (a patch per bar was most of the time)
        edges = x + [x[-1] + hours]
        answered = [r.answered for r in rows]
        axes.stairs([r.offered for r in rows], edges, fill=True, color="#c6dbef",
                    label="offered")
        axes.stairs(answered, edges, fill=True, color="#2171b5", label="answered")
        axes.stairs([a + r.abandoned for a, r in zip(answered, rows, strict=True)], edges,
                    baseline=answered, fill=True, color="#fb6a4a", label="abandoned")
        axes.step(edges, [r.agents for r in rows] + [rows[-1].agents],
                  where="post", color="black", linewidth=1.2, label="agents")
        axes.set_ylabel("calls / agents")
        axes.set_title(name, loc="left", fontsize=10)
        axes.set_xlim(0, x[-1] + hours)
        level = axes.twinx()
        level.plot([xi + hours / 2 for xi in x],
                   [r.service_level if r.service_level is not None else float("nan")
                    for r in rows], color="#238b45", marker=".", label="service level")
        if target_level is not None:
            level.axhline(target_level, color="#238b45", linestyle=":", linewidth=1)
        level.set_ylim(0, 1.05)
        level.set_ylabel(f"SL ({figures.target_s:g} s)")
        if n == 0:
            handles, labels = axes.get_legend_handles_labels()
            more, more_labels = level.get_legend_handles_labels()
            axes.legend(handles + more, labels + more_labels, loc="upper left", fontsize=8,
                        ncols=5)
    figure.supxlabel("hour")
    if title:
        figure.suptitle(title)
    figure.savefig(file, format=fmt, dpi=90)
