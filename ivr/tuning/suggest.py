"""``ivr tune --suggest``: per menu, the option order that minimises the expected time to
route under the mix, written as a candidate tree.

The analytic model: a listener at a spoken-options menu presses when their option's
phrase and key have been heard, so the order of a menu costs its listeners
``sum over options of (share wanting it) x (seconds until its key is heard)``; barge-in
and returning callers press at once, whatever the order, and speakers (the mix's
``speakers``) who say what they need at a menu taking speech hear neither it nor the menus
their sentence takes them past (``Routes.spoken_target``). For one language that is
minimised by Smith's rule: options by share per second of phrase and key, descending.
The languages' phrases differ in length, so the rule runs on share-weighted seconds and
adjacent exchanges then lower the exact cost while they can. Options without a phrase and
the ``0`` (agent) option stay where they are; ``*`` and ``9`` are said after the options,
unchanged.

Keys are either kept (each option keeps its key; the keys are then heard out of order)
or renumbered in the new order. Renumbering saves listeners nothing (every ``press_<key>``
lasts about as long) and costs the returning callers who press from memory: a key that
is now no option costs them the apology and a full listen; one that is now another
option costs the words of where it leads and the way back, or, with no way back, a
misroute. ``best`` picks the variant the model prefers (renumbering only when it saves
more and misroutes no one). The candidate is the original text with the option lines of
each changed menu moved (and their keys rewritten when renumbered), so comments survive;
it must pass ``ivr lint``'s checks. No I/O.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from ivr.errors import MenuError, Problem
from ivr.flow.prompts import Catalog
from ivr.menu.loader import parse
from ivr.menu.model import Kind, Menu, Node, Option, spoken_pieces
from ivr.menu.validate import validate
from ivr.tuning.clock import KEY_S, Durations
from ivr.tuning.mix import Mix
from ivr.tuning.routes import Routes

FIXED_KEYS = ("0",)
_KEY_LINE = re.compile(r"""^(\s*)(["']?)([0-9*#])\2(\s*:)""")


@dataclass(frozen=True, slots=True)
class MenuChange:
    """One menu's new spoken order: the keys as they were, then as they will be."""

    node: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    #: old key -> new key (empty when keys are kept)
    renumbered: dict[str, str]
    saving_s: float


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The candidate tree and what the model expects of it."""

    changes: tuple[MenuChange, ...]
    keys: str  # "kept" | "renumbered"
    #: expected seconds to route saved per call (positive: faster)
    predicted_saving_s: float
    #: expected share of calls newly misrouted (returning callers on renumbered keys)
    predicted_misrouted: float
    text: str
    #: the candidate as ``ivr lint`` reads it (checked: no need to read the text again)
    menu: Menu


class _Model:
    """The analytic cost of menu orders under a mix."""

    def __init__(self, menu: Menu, routes: Routes, mix: Mix, catalog: Catalog,
                 durations: Durations) -> None:
        self.menu, self.mix, self.catalog, self.durations = menu, mix, catalog, durations
        #: per menu: (option goto, language) -> share of all calls taking it there
        self.wants: dict[str, dict[tuple[str, str], float]] = defaultdict(lambda: defaultdict(float))
        #: per kind of caller: their language, share of all calls and path, with the share
        #: of them who hear each menu of it (speakers skip what they say their way past)
        self.paths: list[tuple[str, float, list[tuple[Node, Option, float]]]] = []
        for lang, target, share in mix.classes():
            skipped = _spoken_past(routes, target, lang)
            heard = 1.0 - mix.speaks(lang)
            path = [(node, option, heard if node.id in skipped else 1.0)
                    for node, option in routes.path(target, lang)]
            self.paths.append((lang, share, path))
            for node, option, part in path:
                self.wants[node.id][(option.goto, lang)] += share * part

    def seconds(self, lang: str, key: str) -> float:
        return self.durations.of(lang, key, self.catalog.text(lang, key))

    def phrase(self, option: Option, key: str, lang: str) -> float:
        """Seconds of an option's phrase and its key."""
        if not option.say:
            return 0.0
        return self.seconds(lang, option.say) + self.seconds(lang, f"press_{key}")

    def until(self, order: list[tuple[Option, str]], goto: str, lang: str) -> float:
        """Seconds from the first option's phrase until ``goto``'s key is heard."""
        elapsed = 0.0
        for option, key in order:
            elapsed += self.phrase(option, key, lang)
            if option.goto == goto:
                return elapsed
        return elapsed

    def cost(self, node_id: str, order: list[tuple[Option, str]]) -> float:
        """Expected listening seconds per call at this menu (all callers counted)."""
        listen = self.mix.listening
        return sum(share * listen * self.until(order, goto, lang)
                   for (goto, lang), share in self.wants[node_id].items())

    def words(self, node: Node, lang: str) -> float:
        """Seconds of all a menu says (the intro, every option, repeat and back)."""
        return sum(self.seconds(lang, key) for _, key in spoken_pieces(node))


def _spoken_past(routes: Routes, target: str, lang: str) -> set[str]:
    """The menus a speaker needing ``target`` does not listen to: the first menu on their
    way that takes speech and the menus between it and what they ask for there."""
    for node, _ in routes.path(target, lang):
        asked = routes.spoken_target(node.id, target, lang)
        if asked is not None:
            way = routes.way(node.id, target)
            return {node.id, *(n for n in way[1:way.index(asked)]
                               if routes.menu.nodes[n].kind is Kind.MENU)}
    return set()


def _order(model: _Model, node: Node) -> list[Option]:
    """Smith's rule on share-weighted seconds, then adjacent exchanges on the exact cost."""
    options = list(node.options)
    fixed = {i for i, o in enumerate(options) if o.key in FIXED_KEYS or not o.say}
    movable = [o for i, o in enumerate(options) if i not in fixed]
    wants = model.wants[node.id]
    langs = [lang for lang, _ in model.mix.languages]

    def ratio(option: Option) -> float:
        weights = {lang: wants.get((option.goto, lang), 0.0) for lang in langs}
        total = sum(weights.values())
        if total <= 0:
            return 0.0
        seconds = sum(w * model.phrase(option, option.key, lang) for lang, w in weights.items())
        return total / max(seconds / total, 1e-9)

    ranked = sorted(movable, key=lambda o: -ratio(o))  # stable: ties keep their order

    def placed(sequence: list[Option]) -> list[Option]:
        """The movable options in ``sequence``'s order, the fixed ones where they were."""
        it = iter(sequence)
        return [o if i in fixed else next(it) for i, o in enumerate(options)]

    def cost(sequence: list[Option]) -> float:
        return model.cost(node.id, [(o, o.key) for o in placed(sequence)])

    best = cost(ranked)
    improved = True
    while improved:
        improved = False
        for i in range(len(ranked) - 1):
            swapped = ranked[:i] + [ranked[i + 1], ranked[i]] + ranked[i + 2:]
            value = cost(swapped)
            if value < best - 1e-12:
                ranked, best, improved = swapped, value, True
    return placed(ranked)


def _renumber(node: Node, order: list[Option]) -> dict[str, str]:
    """Old key -> new key: the movable options take their keys in ascending order."""
    movable = [o for o in order if o.key not in FIXED_KEYS and o.say]
    keys = sorted(o.key for o in movable)
    return {o.key: k for o, k in zip(movable, keys, strict=True) if o.key != k}


def _memory_penalty(model: _Model, renumbered: dict[str, dict[str, str]],
                    orders: dict[str, list[Option]]) -> tuple[float, float]:
    """(expected seconds per call, share misrouted) the returning callers lose to keys
    that now mean something else."""
    seconds = misrouted = 0.0
    returning = model.mix.returning
    menu = model.menu
    for lang, path_share, path in model.paths:
        for node, option, part in path:
            moved = renumbered.get(node.id, {})
            if option.key not in moved:
                continue
            share = path_share * part
            order = [(o, moved.get(o.key, o.key)) for o in orders.get(node.id, node.options)]
            new_keys = {key: o for o, key in order}
            listen = model.until(order, option.goto, lang) + KEY_S
            there = new_keys.get(option.key)
            if there is None:
                seconds += returning * share * (model.seconds(lang, "invalid_choice") + listen)
                continue
            lands = menu.nodes.get(there.goto)
            if lands is not None and lands.back:
                seconds += returning * share * (model.words(lands, lang) + KEY_S + listen)
            else:
                misrouted += returning * share
    return seconds, misrouted


def suggest(text: str, menu: Menu, routes: Routes, mix: Mix, catalog: Catalog,
            durations: Durations, keys: str = "best") -> Suggestion:
    """The candidate tree for ``menu`` (read from ``text``) under ``mix``."""
    model = _Model(menu, routes, mix, catalog, durations)
    orders: dict[str, list[Option]] = {}
    for node in menu.nodes.values():
        if node.spoken_options and len(node.options) > 1:
            order = _order(model, node)
            if [o.key for o in order] != [o.key for o in node.options]:
                orders[node.id] = order

    def saving(node_id: str, numbers: dict[str, str]) -> float:
        node = menu.nodes[node_id]
        before = model.cost(node_id, [(o, o.key) for o in node.options])
        after = model.cost(node_id, [(o, numbers.get(o.key, o.key)) for o in orders[node_id]])
        return before - after

    kept = {n: saving(n, {}) for n in orders}
    numbers = {n: _renumber(menu.nodes[n], o) for n, o in orders.items()}
    renumbered = {n: saving(n, numbers[n]) for n in orders}
    lost_s, lost_misrouted = _memory_penalty(model, numbers, orders)
    renumber_total = sum(renumbered.values()) - lost_s
    use_numbers = keys == "renumber" or (
        keys == "best" and renumber_total > sum(kept.values()) + 1e-9 and lost_misrouted == 0)
    chosen = numbers if use_numbers else {n: {} for n in orders}
    changes = tuple(MenuChange(n, tuple(o.key for o in menu.nodes[n].options),
                               tuple(chosen[n].get(o.key, o.key) for o in orders[n]),
                               chosen[n], (renumbered if use_numbers else kept)[n])
                    for n in orders)
    candidate = rewrite(text, menu, orders, chosen)
    return Suggestion(changes, "renumbered" if use_numbers else "kept",
                      renumber_total if use_numbers else sum(kept.values()),
                      lost_misrouted if use_numbers else 0.0, candidate,
                      check_candidate(candidate, menu, orders, chosen, catalog))


def rewrite(text: str, menu: Menu, orders: dict[str, list[Option]],
            numbers: dict[str, dict[str, str]]) -> str:
    """The tree's text with each menu's option lines in the new order (keys rewritten)."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    # from the bottom up, so that earlier line numbers stay right
    for node_id in sorted(orders, key=lambda n: -menu.nodes[n].line):
        node = menu.nodes[node_id]
        chunks = _chunks(lines, node)
        if chunks is None:
            raise MenuError([Problem(f"{menu.source}:{node.lines.get('options', node.line)} "
                                     f"nodes.{node_id}.options",
                                     "options written on one line cannot be reordered; write "
                                     "one option a line")], menu.source)
        first, last, by_key = chunks
        moved = []
        for option in orders[node_id]:
            chunk = list(by_key[option.key])
            new = numbers.get(node_id, {}).get(option.key)
            if new is not None:  # the key line: the first that is no comment
                at = next(i for i, line in enumerate(chunk)
                          if not line.lstrip().startswith("#") and _KEY_LINE.match(line))
                chunk[at] = _KEY_LINE.sub(_key(new), chunk[at], count=1)
            moved += chunk
        lines[first:last] = moved
    return "".join(lines)


def _key(new: str) -> Callable[[re.Match[str]], str]:
    return lambda m: f"{m[1]}{m[2]}{new}{m[2]}{m[4]}"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _chunks(lines: list[str], node: Node) -> tuple[int, int, dict[str, list[str]]] | None:
    """The span of a node's option lines and each option's lines (comments just above an
    option go with it); None when the options share a line."""
    starts = sorted((node.lines[f"options['{o.key}']"] - 1, o.key) for o in node.options)
    if len({s for s, _ in starts}) < len(starts):
        return None
    indent = _indent(lines[starts[0][0]])
    begins = []
    floor = node.lines.get("options", node.line)  # 1-based line of "options:", exclusive
    for start, _ in starts:
        begin = start
        while begin - 1 >= floor and lines[begin - 1].lstrip().startswith("#") and \
                _indent(lines[begin - 1]) >= indent:
            begin -= 1
        begins.append(begin)
    end = starts[-1][0] + 1
    while end < len(lines) and lines[end].strip() and _indent(lines[end]) > indent:
        end += 1
    bounds = begins[1:] + [end]
    by_key = {key: lines[b:e] for (_, key), b, e in zip(starts, begins, bounds, strict=True)}
    return begins[0], end, by_key


def check_candidate(text: str, menu: Menu, orders: dict[str, list[Option]],
                    numbers: dict[str, dict[str, str]], catalog: Catalog) -> Menu:
    """The candidate parsed and validated as ``ivr lint`` would, in the order meant."""
    candidate, problems = parse(text, source=f"candidate of {menu.source}")
    problems += validate(candidate, catalog) if candidate.nodes else []
    for node_id, order in orders.items():
        meant = [(numbers.get(node_id, {}).get(o.key, o.key), o.goto) for o in order]
        got = [(o.key, o.goto) for o in candidate.nodes[node_id].options]
        if got != meant:
            problems.append(Problem(f"candidate nodes.{node_id}.options",
                                    f"came out as {got}, not {meant}"))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise MenuError(errors, candidate.source)
    return candidate
