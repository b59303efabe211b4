"""The tree's picture made to fit its box on arrival, with zoom and pan.

Inline SVG with viewBox control and a small inline script, not a vendored library: the
picture is already an inline ``<svg>`` with a viewBox, and zooming or panning it is only
moving that viewBox (some forty lines), so there is no library to vendor, license and keep
up to date, and the same few lines work in the console and in ``ivr report --html``, a
single offline file. Without the script (or before it runs) the picture still fits the
box: the SVG is 100 % wide and its height follows the viewBox.

Renders only: the SVG comes in as text (``ivr.tuning.graph.svg``), the words of the
buttons from the caller (the console's in its language).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

#: the rules the framed picture needs, for the console's page and the report's <style>
STYLE = """
.zoom { position: relative; border: 1px solid #ddd; background: #fff; }
.zoom svg { display: block; width: 100%; height: auto; max-height: 75vh; cursor: grab;
  touch-action: none; }
.zoom svg.panning { cursor: grabbing; }
.zoom:focus-within { outline: 2px solid #1f3a5f; }
.zoom-buttons { position: absolute; top: 0.4em; right: 0.4em; display: flex; gap: 0.3em; }
.zoom-buttons button { min-width: 2.2em; padding: 0.2em 0.5em; font: inherit;
  background: #fff; color: #1f3a5f; border: 1px solid #1f3a5f; border-radius: 3px; }
.zoom-hint { margin: 0.3em 0; color: #555; }
"""

#: zoom in/out by this factor a click (or a key: + and -); arrows pan an eighth of the view
SCRIPT = """
(function () {
  document.querySelectorAll(".zoom").forEach(function (box) {
    var svg = box.querySelector("svg");
    if (!svg || !svg.viewBox || !svg.viewBox.baseVal) { return; }
    var b = svg.viewBox.baseVal, fit = [b.x, b.y, b.width, b.height], v = fit.slice();
    var show = function () { svg.setAttribute("viewBox", v.map(function (n) {
      return Math.round(n * 100) / 100; }).join(" ")); };
    var zoom = function (f) {
      var w = Math.min(fit[2], v[2] / f), h = Math.min(fit[3], v[3] / f);
      v = [v[0] + (v[2] - w) / 2, v[1] + (v[3] - h) / 2, w, h]; show();
    };
    var pan = function (dx, dy) { v[0] += dx; v[1] += dy; show(); };
    var act = {"in": function () { zoom(1.5); }, "out": function () { zoom(1 / 1.5); },
               "fit": function () { v = fit.slice(); show(); }};
    box.querySelectorAll("button[data-zoom]").forEach(function (button) {
      button.addEventListener("click", act[button.getAttribute("data-zoom")]);
    });
    var from = null;
    svg.addEventListener("pointerdown", function (e) {
      from = [e.clientX, e.clientY]; svg.setPointerCapture(e.pointerId);
      svg.classList.add("panning");
    });
    svg.addEventListener("pointermove", function (e) {
      if (!from) { return; }
      var k = v[2] / svg.getBoundingClientRect().width;
      pan((from[0] - e.clientX) * k, (from[1] - e.clientY) * k);
      from = [e.clientX, e.clientY];
    });
    var stop = function () { from = null; svg.classList.remove("panning"); };
    svg.addEventListener("pointerup", stop);
    svg.addEventListener("pointercancel", stop);
    svg.addEventListener("keydown", function (e) {
      var keys = {"+": act["in"], "=": act["in"], "-": act.out, "0": act.fit,
        "ArrowLeft": function () { pan(-v[2] / 8, 0); },
        "ArrowRight": function () { pan(v[2] / 8, 0); },
        "ArrowUp": function () { pan(0, -v[3] / 8); },
        "ArrowDown": function () { pan(0, v[3] / 8); }};
      if (keys[e.key]) { keys[e.key](); e.preventDefault(); }
    });
  });
})();
"""

_SVG_TAG = re.compile(r"<svg\b[^>]*>")
_SIZE = re.compile(r'\s(?:width|height)="[^"]*"')


@dataclass(frozen=True, slots=True)
class Words:
    """What the controls say (visible, and to a screen reader), in the page's language."""

    label: str  # the picture as a whole
    zoom_in: str
    zoom_out: str
    fit: str
    fit_short: str  # the fit button's own word
    hint: str  # how to pan and zoom


ENGLISH = Words(label="The menu tree", zoom_in="Zoom in", zoom_out="Zoom out",
                fit="Fit the whole tree", fit_short="Fit",
                hint="Drag to pan; + and - zoom, 0 fits.")


def fitted(svg: str) -> str:
    """The SVG sized by its box: no fixed width or height (the viewBox keeps its shape),
    drawn from the top-left of the box, focusable for the keys."""
    tag = _SVG_TAG.search(svg)
    if tag is None:
        return svg
    opened = _SIZE.sub("", tag.group(0))
    opened = opened[:-1] + ' preserveAspectRatio="xMinYMin meet" tabindex="0">'
    return svg[:tag.start()] + opened + svg[tag.end():]


def frame(svg: str, words: Words = ENGLISH, box_id: str = "tree-zoom") -> str:
    """The picture fitted in a box with its zoom in, zoom out and fit buttons; the script
    that moves its viewBox comes once per page (``script``)."""
    def button(action: str, text: str, label: str) -> str:
        return (f'<button type="button" data-zoom="{action}" id="{box_id}-{action}" '
                f'aria-label="{html.escape(label)}" title="{html.escape(label)}">'
                f"{html.escape(text)}</button>")

    picture = fitted(svg)
    tag = _SVG_TAG.search(picture)
    if tag is not None:  # the picture names itself to a screen reader
        named = tag.group(0)[:-1] + f' role="img" aria-label="{html.escape(words.label)}">'
        picture = picture[:tag.start()] + named + picture[tag.end():]
    return (f'<p class="zoom-hint" id="{box_id}-hint">{html.escape(words.hint)}</p>\n'
            f'<div class="zoom" id="{box_id}">\n'
            f'<div class="zoom-buttons" role="group" aria-label="{html.escape(words.label)}">'
            + button("in", "+", words.zoom_in) + button("out", "\u2212", words.zoom_out)
            + button("fit", words.fit_short, words.fit) + "</div>\n" + picture + "\n</div>")


def script() -> str:
    """The inline ``<script>`` that makes every framed picture of a page zoom and pan."""
    return f"<script>{SCRIPT}</script>"
