"""The menu tree as a picture: Graphviz (SVG, PNG, DOT source) or Mermaid text.

What is drawn is worked out once (``drawing``: boxes and arrows as plain data, with the
shares of calls when ``ivr report``'s numbers are given) and rendered by two small
functions, so the Graphviz picture and the Mermaid text never disagree. This module
computes nothing from call records (the report does) and is the only importer of
``graphviz``; only .svg and .png need its ``dot`` program.
"""

from __future__ import annotations

import logging
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.errors import IVRError
from ivr.flow.speech import joiner
from ivr.menu.model import Kind, Menu, Node, Option, speech_targets, takes_speech
from ivr.plural import counted, percent

if TYPE_CHECKING:
    import graphviz  # type: ignore[import-untyped]  # no stubs, no py.typed

    from ivr.flow.prompts import Catalog

log = logging.getLogger(__name__)

#: what ``write`` makes, by the output file's suffix
SUFFIXES = (".svg", ".png", ".dot", ".mmd")

#: shape (Graphviz, Mermaid's brackets) and colour of each kind of node
KINDS: dict[Kind, tuple[str, str, str, str]] = {
    Kind.MENU: ("box", "[", "]", "#9ecae1"),
    Kind.VERIFY: ("hexagon", "{{", "}}", "#fdd0a2"),
    Kind.PREPARE: ("note", "[/", "/]", "#c7e9c0"),
    Kind.COLLECT: ("parallelogram", "[\\", "\\]", "#dadaeb"),
    Kind.SERVICE: ("component", "[[", "]]", "#a1d99b"),
    Kind.RECORD: ("cylinder", "[(", ")]", "#fdae6b"),
    Kind.QUEUE: ("doubleoctagon", "([", "])", "#fcbba1"),
    Kind.SAY: ("ellipse", "(", ")", "#f0f0f0"),
    Kind.HANGUP: ("octagon", "((", "))", "#bdbdbd"),
}
#: the paths a caller takes when something went wrong: drawn dashed
FAILURES = frozenset({"fallback", "on_fail", "on_locked", "no_input"})
_EDGE_LABELS = {"next": "next", "back": "9: back", "fallback": "fallback",
                "on_fail": "verification failed", "on_locked": "locked",
                "no_input": "no input", "verified": "not verified yet",
                "dispute": "1: dispute the result"}
#: the drawing's own words, in English; a page in another language gives its own
#: (``drawing``'s ``words``: any key it leaves out stays English)
WORDS: dict[str, str] = {
    **{f"kind_{kind.value}": kind.value for kind in Kind},
    **{f"edge_{field}": label for field, label in _EDGE_LABELS.items()},
    "verified": "verified", "entered": "{n} in · {share} hung up",
    "not_entered": "not entered", "legend": "legend",
    "legend_lines": "── option (key: label), next\n╌╌ failure: no input, fallback, verification "
                    "failed, locked\n┈┈ back (9); grey: to the verification gate first (the "
                    "caller then comes back)\nblue: said at a speech menu, straight to a deeper "
                    "node (say: a phrase)",
    "legend_stats": "line width, %: share of calls entering the node that took it (blue: "
                    "that speech routed there)\nred: share that hung up there (full at {share} "
                    "or more)",
}
#: the colour of a speech menu's jumps to deeper nodes
SPEECH_COLOUR = "#2171b5"
#: the drop-off rate at which a node is shaded full red (most nodes lose far fewer)
FULL_SHADE_AT = 0.5
_WRAP = 28  # characters per label line: long phrases make very wide boxes


class GraphError(IVRError):
    """The picture could not be drawn (no ``dot`` program, an unknown file type)."""


@dataclass(frozen=True, slots=True)
class Box:
    """A node as drawn: its label lines and, with stats, the share that hung up there."""

    id: str
    kind: Kind
    lines: tuple[str, ...]
    drop: float | None = None


@dataclass(frozen=True, slots=True)
class Arrow:
    """An edge as drawn; ``share`` is the share of the calls entering ``tail`` taking it."""

    tail: str
    head: str
    field: str
    label: str
    share: float | None = None

    @property
    def failure(self) -> bool:
        return self.field in FAILURES


def _option_text(option: Option, lang: str | None, catalog: Catalog | None) -> str:
    """The option's phrase in ``lang`` when it has one, else its label."""
    if lang and catalog is not None and option.say and catalog.has(lang, option.say):
        # a phrase runs on into "press 1": its closing comma means nothing on an edge
        return catalog.text(lang, option.say).rstrip(" ,;:，、；：")
    return option.label


def drawing(menu: Menu, *, lang: str | None = None, catalog: Catalog | None = None,
            stats: Mapping[str, Any] | None = None, words: Mapping[str, str] | None = None,
            queue_name: Callable[[str], str] = str) -> tuple[list[Box], list[Arrow]]:
    """The boxes and arrows of the tree; ``stats`` is ``ivr report``'s dict (its
    ``nodes``): option edges then carry their share, nodes their drop-off rate. ``words``
    and ``queue_name``: the drawing's words and the queues' names in the page's language."""
    said = {**WORDS, **(words or {})}
    counts: Mapping[str, Any] = (stats or {}).get("nodes") or {}
    boxes: list[Box] = []
    arrows: list[Arrow] = []
    for node in menu.nodes.values():
        seen = counts.get(node.id) or {}
        entered, hangups = int(seen.get("entered", 0)), int(seen.get("hangups", 0))
        kind = said[f"kind_{node.kind.value}"]
        if node.kind is Kind.QUEUE and node.queue:
            kind = f"{kind}: {queue_name(node.queue)}"
        lines = [node.id, kind + (f" · {said['verified']}" if node.verified else "")]
        drop = None
        if stats is not None:
            drop = hangups / entered if entered else 0.0
            lines.append(said["entered"].format(n=entered, share=percent(drop)) if entered
                         else said["not_entered"])
        boxes.append(Box(node.id, node.kind, tuple(lines), drop))
        options = seen.get("options") or {}
        by_field = {f"options['{o.key}']": o for o in node.options}  # as ``targets`` names them
        for field, head in menu.targets(node):
            if head not in menu.nodes:
                continue  # a broken tree is refused before drawing; never draw a dangling edge
            share, label = None, said.get(f"edge_{field}", field)
            count: int | None = None
            if (option := by_field.get(field)) is not None:
                text = _option_text(option, lang, catalog)
                label = f"{option.key}: {text}" if text else option.key
                count = int(options.get(option.key, 0))
            elif field == "no_input" and isinstance(node.no_input, Option):
                count = int(seen.get("no_input", 0))  # a time-out here always takes this edge
            if stats is not None and count is not None and entered:
                share = count / entered
                label = f"{label}\n{percent(share)} ({count})"
            arrows.append(Arrow(node.id, head, field, label, share))
        if takes_speech(menu, node):
            spoken = ((stats or {}).get("speech") or {}).get(node.id) or {}
            arrows += _speech_jumps(menu, node, lang, spoken.get("targets") or {},
                                    entered if stats is not None else None)
    return boxes, arrows


def _speech_jumps(menu: Menu, node: Node, lang: str | None, routed: Mapping[str, int],
                  entered: int | None) -> list[Arrow]:
    """A speech menu's jumps past its sub-menus: to each deeper node a caller may ask for
    (its options' own nodes have their option's arrow), labelled with a phrase that
    names it; with stats, the share of the menu's calls that speech routed there."""
    children = {o.goto for o in node.options}
    arrows = []
    for target in speech_targets(menu, node):
        phrases = menu.nodes[target].phrases
        said_in = lang if phrases.get(lang or "") else next(iter(phrases), None)
        if target in children or said_in is None or not phrases[said_in]:
            continue  # a node without phrases cannot be asked for
        label = f"say: {phrases[said_in][0].replace(' ', joiner(said_in))}"  # as spoken
        share = None
        if entered is not None:
            count = int(routed.get(target, 0))
            share = count / entered if entered else 0.0
            label = f"{label}\n{percent(share)} ({count})"
        arrows.append(Arrow(node.id, target, "speech", label, share))
    return arrows


def _wrapped(text: str) -> str:
    """A Graphviz label: long lines wrapped, and a backslash shown as one (``\\N`` would
    otherwise print the node's name)."""
    return "\n".join(part.replace("\\", "\\\\") for line in text.split("\n")
                     for part in (textwrap.wrap(line, _WRAP) or [""]))


def _shade(rate: float) -> str:
    """White to red by drop-off rate, full red from ``FULL_SHADE_AT``."""
    level = min(1.0, max(0.0, rate) / FULL_SHADE_AT)
    red, green, blue = (255, round(255 - 200 * level), round(255 - 210 * level))
    return f"#{red:02x}{green:02x}{blue:02x}"


def _width(share: float) -> float:
    return round(1 + 7 * share, 2)


def _names(ids: Iterable[str], ok: Callable[[str], bool], fix: Callable[[str], str]
           ) -> dict[str, str]:
    """A name per node id for a format that cannot take every id: the id itself when
    ``ok``, else ``fix(id)`` made unique."""
    ids = list(ids)
    names: dict[str, str] = {i: i for i in ids if ok(i)}
    taken = set(names.values())
    for node_id in ids:
        if node_id not in names:
            names[node_id] = _unused(fix(node_id), taken)
    return names


def _title(menu: Menu, stats: Mapping[str, Any] | None) -> str:
    calls = f" · {counted(stats.get('calls', 0), 'call')}" if stats is not None else ""
    return (f"{menu.source}{calls} · after {counted(menu.max_failures, 'failure')} a caller goes "
            f"to {menu.fallback}")


def digraph(menu: Menu, *, lang: str | None = None, catalog: Catalog | None = None,
            stats: Mapping[str, Any] | None = None, words: Mapping[str, str] | None = None,
            queue_name: Callable[[str], str] = str,
            title: str | None = None) -> graphviz.Digraph:
    """The tree as a Graphviz digraph, with a legend of the kinds and line styles."""
    import graphviz

    boxes, arrows = drawing(menu, lang=lang, catalog=catalog, stats=stats, words=words,
                            queue_name=queue_name)
    # graphviz reads 'a:b' in an edge as node a, port b: such an id gets another name
    names = _names((b.id for b in boxes), lambda i: ":" not in i, lambda i: i.replace(":", "_"))
    dot = graphviz.Digraph(menu.source, graph_attr={
        "rankdir": "TB", "label": title or _title(menu, stats), "labelloc": "t", "fontname": "Helvetica",
        "fontsize": "16"})
    dot.attr("node", fontname="Helvetica", fontsize="11", style="filled")
    dot.attr("edge", fontname="Helvetica", fontsize="9", color="#555555")
    for box in boxes:
        shape, _, _, colour = KINDS[box.kind]
        attrs = {"shape": shape, "fillcolor": colour, "color": "#444444", "tooltip": box.id}
        if box.drop is not None:  # the fill says drop-off; the kind keeps shape and border
            attrs.update(fillcolor=_shade(box.drop), color=colour, penwidth="3")
        dot.node(names[box.id], _wrapped("\n".join(box.lines)), **attrs)
    taken = set(names.values())
    if menu.start in names:  # where a call comes in
        entry = _unused("call", taken)
        dot.node(entry, "", shape="point", width="0.2", style="filled", fillcolor="black")
        dot.edge(entry, names[menu.start])
    for arrow in arrows:
        attrs = {"style": "dashed" if arrow.failure else
                 "dotted" if arrow.field in ("back", "verified") else "solid"}
        label = arrow.label
        if arrow.field in ("back", "speech"):  # across the ranks: must not stretch them
            attrs["constraint"] = "false"
        if arrow.field == "speech":
            attrs.update(color=SPEECH_COLOUR, fontcolor=SPEECH_COLOUR)
        if arrow.field == "verified":  # a dozen of them: the legend says what they are
            attrs["color"], label = "#aaaaaa", ""
        if arrow.share is not None:
            attrs["penwidth"] = str(_width(arrow.share))
        dot.edge(names[arrow.tail], names[arrow.head], _wrapped(label), **attrs)
    _legend(dot, stats is not None, taken, {**WORDS, **(words or {})})
    return dot


def _unused(name: str, taken: set[str]) -> str:
    """``name``, else the first of ``name_2``, ``name_3`` ... not ``taken`` (which then
    holds it)."""
    unique, n = name, 1
    while unique in taken:
        n += 1
        unique = f"{name}_{n}"
    taken.add(unique)
    return unique


def _legend(dot: graphviz.Digraph, with_stats: bool, taken: set[str],
            said: Mapping[str, str]) -> None:
    with dot.subgraph(name="cluster_legend") as legend:
        legend.attr(label=said["legend"], fontsize="11", color="#999999", style="rounded")
        with legend.subgraph() as row:
            row.attr(rank="same")
            previous = None
            for kind, (shape, _, _, colour) in KINDS.items():
                name = _unused(f"legend_{kind.value}", taken)
                row.node(name, said[f"kind_{kind.value}"], shape=shape, fillcolor=colour,
                         fontsize="9")
                if previous:  # invisible, to keep the kinds in this order
                    row.edge(previous, name, style="invis")
                previous = name
        lines = said["legend_lines"].split("\n")
        if with_stats:
            lines += said["legend_stats"].format(share=percent(FULL_SHADE_AT)).split("\n")
        legend.node(_unused("legend_lines", taken), "\\l".join(lines) + "\\l", shape="plaintext",
                    style="", fontsize="9")


def _pipe(dot: graphviz.Digraph, fmt: str) -> bytes:
    import graphviz

    try:
        data: bytes = dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound as exc:
        raise GraphError("drawing .svg or .png needs Graphviz's dot program, which is not on "
                         "PATH: apt-get install graphviz (.dot and .mmd need no program)"
                         ) from exc
    except graphviz.CalledProcessError as exc:
        raise GraphError(f"Graphviz's dot failed: {exc}") from exc
    return data


def svg(menu: Menu, *, lang: str | None = "en-US", catalog: Catalog | None = None,
        stats: Mapping[str, Any] | None = None, words: Mapping[str, str] | None = None,
        queue_name: Callable[[str], str] = str, title: str | None = None) -> str:
    """The picture as an ``<svg>`` element to put inline in an HTML page (no XML
    declaration, no doctype); labels in ``lang`` from the shipped catalog unless given,
    the drawing's own ``words`` and ``queue_name`` in the page's language."""
    if catalog is None and lang:
        from ivr.flow import prompts

        catalog = prompts.load()
    text = _pipe(digraph(menu, lang=lang, catalog=catalog, stats=stats, words=words,
                         queue_name=queue_name, title=title), "svg").decode()
    return text[text.index("<svg"):]


# -- Mermaid -----------------------------------------------------------------------------

_MERMAID_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: words Mermaid's flowchart grammar takes for itself, so not usable as node ids
_MERMAID_WORDS = frozenset({"end", "graph", "flowchart", "subgraph", "style", "class",
                            "classdef", "linkstyle", "click", "call", "href", "direction", "default"})


def _mermaid_id(node_id: str) -> bool:
    return bool(_MERMAID_ID.fullmatch(node_id)) and node_id.lower() not in _MERMAID_WORDS


def _mermaid_fix(node_id: str) -> str:
    return "n_" + (re.sub(r"[^A-Za-z0-9_]", "_", node_id) or "node")


def mermaid_text(text: str) -> str:
    """Text for inside a Mermaid ``"..."`` label: quotes and markup as entity codes, so
    brackets, pipes and Chinese are read as text; lines joined by ``<br/>``."""
    def escaped(line: str) -> str:
        return "".join(f"#{ord(c)};" if c in '"#&<>|`' else c for c in line)

    return "<br/>".join(escaped(line) for line in text.split("\n"))


def mermaid(menu: Menu, *, lang: str | None = None, catalog: Catalog | None = None,
            stats: Mapping[str, Any] | None = None) -> str:
    """The tree as a Mermaid flowchart: for docs, no program needed to write it."""
    boxes, arrows = drawing(menu, lang=lang, catalog=catalog, stats=stats)
    names = _names((b.id for b in boxes), _mermaid_id, _mermaid_fix)
    out = ["flowchart TD", f"    %% {mermaid_text(_title(menu, stats))}"]
    out += [f"    classDef k_{kind.value} fill:{colour},stroke:#444444"
            for kind, (_, _, _, colour) in KINDS.items()]
    for box in boxes:
        _, opening, closing, _ = KINDS[box.kind]
        out.append(f'    {names[box.id]}{opening}"{mermaid_text(chr(10).join(box.lines))}"'
                   f"{closing}")
    for arrow in arrows:
        link = "-.->" if arrow.failure else "==>" if arrow.field == "speech" else "-->"
        out.append(f'    {names[arrow.tail]} {link}|"{mermaid_text(arrow.label)}"| '
                   f"{names[arrow.head]}")
    for box in boxes:
        out.append(f"    class {names[box.id]} k_{box.kind.value}")
        if box.drop is not None:
            out.append(f"    style {names[box.id]} fill:{_shade(box.drop)},"
                       f"stroke:{KINDS[box.kind][3]},stroke-width:3px")
    out += [f"    linkStyle {n} stroke-width:{_width(a.share)}px"
            for n, a in enumerate(arrows) if a.share is not None]
    return "\n".join(out) + "\n"


def write(menu: Menu, path: Path | str, *, lang: str | None = None,
          catalog: Catalog | None = None, stats: Mapping[str, Any] | None = None) -> Path:
    """Write the picture, its kind chosen by the suffix (``SUFFIXES``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise GraphError(f"{path}: the name must end in {', '.join(SUFFIXES)}")
    if suffix == ".mmd":
        path.write_text(mermaid(menu, lang=lang, catalog=catalog, stats=stats), "utf-8")
    else:
        dot = digraph(menu, lang=lang, catalog=catalog, stats=stats)
        if suffix == ".dot":
            path.write_text(dot.source, "utf-8")
        else:
            path.write_bytes(_pipe(dot, suffix[1:]))
    log.debug("wrote %s (%d nodes)", path, len(menu.nodes))
    return path
