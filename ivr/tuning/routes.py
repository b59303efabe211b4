"""Which option leads where: per menu and target node, the option a caller needing that
target presses, precomputed once per tree for the simulated caller and the analytic model.

A caller's *target* (their reason to call, ``ivr.tuning.mix``) is a node: a queue node, a
self-service node, or a node whose ``next`` chain ends at a queue (a ``prepare`` naming
the problem, say). At a menu they take the option from which the target is the fewest
steps away (ties: the option whose ``goto`` sorts first), so the choice depends on the
tree's shape, never on the order or keys of the options: the same callers want the same
options in a reordered or renumbered tree. At a menu taking speech a caller may instead
say what they need (``spoken_target``). No I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ivr.menu.model import Kind, Menu, Node, Option, speech_targets, takes_speech

MAX_HOPS = 50


def _edges(node: Node) -> list[str]:
    """The nodes a caller can move to from ``node`` on the way to a target."""
    if node.kind is Kind.MENU:
        return [o.goto for o in node.options]
    return [node.next] if node.next else []


@dataclass(frozen=True, slots=True)
class Routes:
    """For one tree: per menu, per target, the option to press (absent: none leads there)."""

    menu: Menu
    choice: dict[str, dict[str, Option]]
    #: per target, the queue a caller who needs it ends in (None: self-service only)
    queue: dict[str, str | None]

    def option(self, menu_id: str, target: str) -> Option | None:
        return self.choice.get(menu_id, {}).get(target)

    def reaches(self, target: str) -> bool:
        """Whether a caller on the main menu can get to ``target`` by its options."""
        return self.menu.main == target or self.option(self.menu.main, target) is not None

    def path(self, target: str, lang: str) -> list[tuple[Node, Option]]:
        """The menus a caller of ``lang`` passes from the start, and the option taken at
        each (the language menu by its language), when no key goes wrong."""
        menu, found = self.menu, []
        node_id: str | None = menu.start
        for _ in range(MAX_HOPS):
            if node_id is None or node_id == target or node_id not in menu.nodes:
                break
            node = menu.nodes[node_id]
            if node.kind is Kind.MENU:
                option = language_option(node, lang) or self.option(node.id, target)
                if option is None:
                    break
                found.append((node, option))
                node_id = option.goto
            else:
                node_id = node.next
        return found

    def way(self, start: str, target: str) -> list[str]:
        """The nodes from ``start`` to ``target``, both included, by the options leading
        there and the ``next`` of other nodes (empty when ``start`` does not lead there)."""
        found, node_id = [start], start
        for _ in range(MAX_HOPS):
            if node_id == target:
                return found
            node = self.menu.nodes.get(node_id)
            if node is None:
                break
            if node.kind is Kind.MENU:
                option = self.option(node_id, target)
                node_id = option.goto if option else ""
            else:
                node_id = node.next or ""
            if not node_id:
                break
            found.append(node_id)
        return []

    def spoken_target(self, menu_id: str, target: str, lang: str) -> str | None:
        """What a caller of ``lang`` needing ``target`` asks for at a speech menu: the
        deepest node a caller may ask for there (``speech_targets``) with phrases in
        ``lang``, on the way to ``target`` (the target itself, or the node above it: a
        caller needing ``fraud_queue`` asks for ``fraud_identify``); None at a menu not
        taking speech, or where nothing they could say leads on to the target."""
        menu = self.menu
        node = menu.nodes.get(menu_id)
        if node is None or not takes_speech(menu, node):
            return None
        askable = set(speech_targets(menu, node))
        found = None
        for node_id in self.way(menu_id, target)[1:]:
            if node_id in askable and menu.nodes[node_id].phrases.get(lang):
                found = node_id
        return found


def language_option(node: Node, lang: str) -> Option | None:
    """At a menu choosing the language, the option of ``lang``."""
    return next((o for o in node.options if o.lang == lang), None)


def queue_of(menu: Menu, target: str) -> str | None:
    """The queue a caller needing ``target`` ends in, following ``next`` (no menus)."""
    node_id: str | None = target
    for _ in range(MAX_HOPS):
        node = menu.nodes.get(node_id or "")
        if node is None or node.kind is Kind.MENU:
            return None
        if node.kind is Kind.QUEUE:
            return node.queue or "general"
        node_id = node.next
    return None


def is_target(menu: Menu, node_id: str) -> bool:
    """Whether a node can be a caller's reason: a self-service node, or one leading to a
    queue by ``next``."""
    node = menu.nodes.get(node_id)
    if node is None or node.kind is Kind.MENU:
        return False
    return node.kind is Kind.SERVICE or queue_of(menu, node_id) is not None


def build(menu: Menu) -> Routes:
    """The routes of every target through every menu of ``menu``."""
    back: dict[str, list[str]] = {n: [] for n in menu.nodes}
    for node in menu.nodes.values():
        for to in _edges(node):
            if to in back:
                back[to].append(node.id)
    choice: dict[str, dict[str, Option]] = {n.id: {} for n in menu.nodes.values()
                                            if n.kind is Kind.MENU}
    queue: dict[str, str | None] = {}
    for target in menu.nodes:
        if not is_target(menu, target):
            continue
        queue[target] = queue_of(menu, target)
        dist = {target: 0}
        todo = deque([target])
        while todo:
            here = todo.popleft()
            for before in back[here]:
                if before not in dist:
                    dist[before] = dist[here] + 1
                    todo.append(before)
        for menu_id, options in choice.items():
            near = [(dist[o.goto], o.goto, i) for i, o in enumerate(menu.nodes[menu_id].options)
                    if o.goto in dist]
            if near:
                options[target] = menu.nodes[menu_id].options[min(near)[2]]
    return Routes(menu, choice, queue)
