"""The hour-of-week heat map of expected waits, the picture ops read instead of a table.

Drawn with matplotlib's Agg canvas directly, so no GUI backend or pyplot state is
involved; matplotlib is imported only when a plot is asked for.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.queue.calendar import WEEKDAYS

if TYPE_CHECKING:
    from ivr.queue.advice import Centre

log = logging.getLogger(__name__)

THRESHOLD_MIN = 20  # the articles' "try another channel" wait
#: the bands of minutes a caller would tell apart; the threshold is where red starts
BOUNDS_MIN = (0, 1, 2, 5, 10, THRESHOLD_MIN, 30, 60, 120)
CLOSED_COLOUR, OVER_COLOUR = "#d9d9d9", "#40004b"


def cell_label(minutes: float) -> str:
    """What a cell of the week says: whole minutes, ``<1``, or ``∞`` (no agents)."""
    return "∞" if minutes > 1e6 else "<1" if minutes < 1 else f"{minutes:.0f}"


def plot_week(centre: Centre, queue: str, path: str | Path) -> Path:
    """Write a PNG of ``queue``'s expected waits per weekday and hour; return its path."""
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import BoundaryNorm
    from matplotlib.figure import Figure

    week = centre.typical_week(queue)
    minutes = np.array([[math.nan if w is None else min(w, 1e9) / 60 for w in row]
                        for row in week])
    data = np.ma.masked_invalid(minutes)
    bounds = list(BOUNDS_MIN)
    cmap = colormaps["RdYlGn_r"].resampled(len(bounds) - 1).with_extremes(
        bad=CLOSED_COLOUR, over=OVER_COLOUR)
    norm = BoundaryNorm(bounds, cmap.N)

    figure = Figure(figsize=(13, 4.4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(data, aspect="auto", cmap=cmap, norm=norm)
    for d, row in enumerate(minutes):
        for h, value in enumerate(row):
            if not math.isnan(value):
                axes.text(h, d, cell_label(value), ha="center", va="center", fontsize=7,
                          color="white" if value >= 30 else "black")
    axes.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
    axes.set_yticks(range(7), [w.capitalize() for w in WEEKDAYS])
    axes.set_xlabel(f"hour ({centre.timezone}); grey = closed")
    axes.set_title(f"{queue}: expected wait of a caller who holds on, in minutes "
                   f"(ordinary week; over {THRESHOLD_MIN} min: offer a callback)")
    figure.colorbar(image, ax=axes, label="minutes", ticks=bounds, extend="max")
    out = Path(path)
    figure.savefig(out, dpi=100)
    log.info("wrote %s", out)
    return out
