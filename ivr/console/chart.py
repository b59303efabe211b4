"""Today's intervals as an inline SVG picture, drawn on the server (no script, no library:
the console works offline and the picture is there with JavaScript off).

Per 30 minutes: a bar of the callers who joined a queue, split into answered, abandoned
and the rest (still waiting, or left for a callback), the forecast calls as a dash over
it, the service level as a dot and its forecast as a line on the right-hand scale. Takes
the figures (``ivr.console.wallboard``) and the words to say them with; computes nothing.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import datetime

from ivr.console.wallboard import INTERVAL, Interval
from ivr.plural import percent

Words = Callable[..., str]

WIDTH, HEIGHT = 1000, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 52, 16, 58
COLOURS = {"answered": "#1a9850", "abandoned": "#d73027", "other": "#b0b0b0",
           "forecast": "#1f3a5f", "sl": "#e66101", "forecast_sl": "#5e3c99"}


def _nice_top(value: float) -> int:
    """A round top for the calls scale, in four whole steps of a round size: 4, 8, 12, 20,
    40, 60, 80, 120 ..."""
    quarter = max(value, 4.0) / 4
    power = 10 ** math.floor(math.log10(quarter))
    return 4 * int(next(m * power for m in (1, 1.5, 2, 3, 5, 10)
                        if m * power >= quarter and float(m * power).is_integer()))


def _calls(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def tip(iv: Interval, t: Words) -> str:
    """One interval in words: its title in the picture and its row in the table."""
    c = iv.counts
    return t("iv_tip", start=iv.start.strftime("%H:%M"),
             end=(iv.start + INTERVAL).strftime("%H:%M"), offered=c.offered,
             forecast=_calls(iv.forecast_offered), answered=c.answered,
             abandoned=c.abandoned, sl=percent(c.service_level),
             forecast_sl=percent(iv.forecast_service_level))


def svg(found: Sequence[Interval], now: datetime, t: Words, element_id: str) -> str:
    """The picture of ``found`` (one day's intervals), ``now`` marked, as SVG markup."""
    slots = max(len(found), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bar_w = plot_w / slots
    top = _nice_top(max([iv.counts.offered for iv in found] +
                        [iv.forecast_offered or 0.0 for iv in found]))

    def y_calls(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    def y_share(v: float) -> float:
        return TOP + plot_h * (1 - v)

    root = ET.Element("svg", {
        "xmlns": "http://www.w3.org/2000/svg", "id": element_id, "class": "intervals",
        "viewBox": f"0 0 {WIDTH} {HEIGHT}", "role": "img", "font-size": "11",
        "font-family": "sans-serif", "aria-labelledby": f"{element_id}-title {element_id}-desc"})
    ET.SubElement(root, "title", id=f"{element_id}-title").text = t("iv_title")
    ET.SubElement(root, "desc", id=f"{element_id}-desc").text = t("iv_desc")
    axes = ET.SubElement(root, "g", {"class": "axes", "stroke": "#ccc"})
    for k in range(5):  # gridlines with both scales: calls left, service level right
        y = TOP + plot_h * k / 4
        ET.SubElement(axes, "line", x1=str(LEFT), x2=str(LEFT + plot_w), y1=f"{y:.1f}",
                      y2=f"{y:.1f}")
        ET.SubElement(root, "text", {"x": str(LEFT - 4), "y": f"{y + 4:.1f}",
                                     "text-anchor": "end"}).text = f"{top * (4 - k) / 4:g}"
        ET.SubElement(root, "text", {"x": str(LEFT + plot_w + 4), "y": f"{y + 4:.1f}"}
                      ).text = f"{100 * (4 - k) // 4} %"
    for i, iv in enumerate(found):
        x = LEFT + i * bar_w
        if iv.start.minute == 0 and iv.start.hour % 2 == 0:
            ET.SubElement(root, "text", {"x": f"{x:.1f}", "y": str(TOP + plot_h + 14),
                                         "text-anchor": "middle"}).text = f"{iv.start.hour:02d}"
        c = iv.counts
        group = ET.SubElement(root, "g", {
            "class": "interval", "data-start": iv.start.strftime("%H:%M"),
            "data-offered": str(c.offered), "data-answered": str(c.answered),
            "data-abandoned": str(c.abandoned), "data-service-level": percent(c.service_level),
            "data-forecast": _calls(iv.forecast_offered)})
        ET.SubElement(group, "title").text = tip(iv, t)
        # a transparent full-height hit area, so the title shows over an empty interval
        ET.SubElement(group, "rect", x=f"{x:.1f}", y=str(TOP), width=f"{bar_w:.1f}",
                      height=str(plot_h), fill="transparent")
        base = float(c.offered)
        for part, n in (("answered", c.answered), ("abandoned", c.abandoned),
                        ("other", c.offered - c.answered - c.abandoned)):
            if n <= 0:
                continue
            ET.SubElement(group, "rect", {"class": part, "x": f"{x + 1:.1f}",
                                          "y": f"{y_calls(base):.1f}", "width": f"{bar_w - 2:.1f}",
                                          "height": f"{plot_h * n / top:.1f}",
                                          "fill": COLOURS[part]})
            base -= n
        if iv.forecast_offered is not None:
            y = y_calls(iv.forecast_offered)
            ET.SubElement(group, "line", {"class": "forecast", "x1": f"{x + 1:.1f}",
                                          "x2": f"{x + bar_w - 1:.1f}", "y1": f"{y:.1f}",
                                          "y2": f"{y:.1f}", "stroke": COLOURS["forecast"],
                                          "stroke-width": "2", "stroke-dasharray": "4 2"})
        if c.service_level is not None:
            ET.SubElement(group, "circle", {"class": "sl", "cx": f"{x + bar_w / 2:.1f}",
                                            "cy": f"{y_share(c.service_level):.1f}", "r": "4",
                                            "fill": COLOURS["sl"], "stroke": "#fff"})
    line: list[str] = []
    for i, iv in enumerate(found):  # the forecast service level, broken where closed
        if iv.forecast_service_level is None:
            _polyline(root, line)
            line = []
            continue
        line.append(f"{LEFT + (i + 0.5) * bar_w:.1f},{y_share(iv.forecast_service_level):.1f}")
    _polyline(root, line)
    started = [i for i, iv in enumerate(found) if iv.past]
    if started:
        i = started[-1]
        offset = (now - found[i].start).total_seconds() / INTERVAL.total_seconds()
        x = LEFT + (i + min(max(offset, 0.0), 1.0)) * bar_w
        ET.SubElement(root, "line", {"id": f"{element_id}-now", "x1": f"{x:.1f}",
                                     "x2": f"{x:.1f}", "y1": str(TOP), "y2": str(TOP + plot_h),
                                     "stroke": "#06c", "stroke-width": "2"})
    _legend(root, t, TOP + plot_h + 34)
    return ET.tostring(root, encoding="unicode")


def _polyline(root: ET.Element, points: list[str]) -> None:
    if len(points) > 1:
        ET.SubElement(root, "polyline", {"class": "forecast-sl", "points": " ".join(points),
                                         "fill": "none", "stroke": COLOURS["forecast_sl"],
                                         "stroke-width": "2", "stroke-dasharray": "6 3"})


def _legend(root: ET.Element, t: Words, y: float) -> None:
    x = float(LEFT)
    for key in ("answered", "abandoned", "other", "forecast", "sl", "forecast_sl"):
        colour = COLOURS[key]
        if key in ("forecast", "forecast_sl"):
            ET.SubElement(root, "line", {"x1": f"{x:.0f}", "x2": f"{x + 16:.0f}",
                                         "y1": f"{y - 4:.0f}", "y2": f"{y - 4:.0f}",
                                         "stroke": colour, "stroke-width": "2",
                                         "stroke-dasharray": "4 2"})
        elif key == "sl":
            ET.SubElement(root, "circle", cx=f"{x + 8:.0f}", cy=f"{y - 4:.0f}", r="4",
                          fill=colour)
        else:
            ET.SubElement(root, "rect", x=f"{x:.0f}", y=f"{y - 10:.0f}", width="16",
                          height="10", fill=colour)
        label = t(f"iv_{key}")
        ET.SubElement(root, "text", x=f"{x + 20:.0f}", y=f"{y:.0f}").text = label
        x += 20 + 7 * len(label) * (2 if any(ord(ch) > 0x2E80 for ch in label) else 1) + 18
