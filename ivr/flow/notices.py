"""Incident notices (hot messages) and the emergency switch, as the call flow sees them.

Ops publish a notice (``ivr notice add``, the console's Notices page; kept by
``ivr.records.notices``): a text in every prompt language, a scope, a start and an end. The
flow is given the notices active at the moment of a step as data (``Services.notices``)
and says each one at most once per call, in the caller's language:

- ``line``: the whole line, said as the caller reaches the main menu, right after the
  language choice;
- ``node:<id>``: a menu branch or one node, said as the caller enters that node or any node
  of its branch (``branch``: the nodes a caller reaches only through it), so a caller who
  asks for a refund by voice, skipping the payments menu, still hears the payments
  branch's notice, and one who chose account security does not;
- ``queue:<name>``: said as the caller arrives at a queue node of that queue.

An *emergency* notice is also a switch: a caller arriving at a queue it switches hears it
and is offered a callback or the fraud line instead of being queued. ``queue:<name>``
switches that queue; ``line`` every queue but the fraud line (``FRAUD_QUEUE``), which only
a switch naming it (``queue:fraud``) turns off: a stolen account cannot wait for the end
of an incident elsewhere.

Pure: no I/O. ``problems`` checks a notice as ``ivr lint`` checks a tree: every problem,
each with where it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ivr.errors import Problem, close_match
from ivr.menu.model import Kind, Menu, Node

#: the queue a whole-line switch never turns off, and the line it offers instead
FRAUD_QUEUE = "fraud"
SCOPE_KINDS = ("line", "node", "queue")
#: the longest text a notice may have: a minute of speech, well inside <Say>'s 4,096
MAX_TEXT = 600
#: the key a notice's words are spoken under (their text is the ops', not the catalog's)
NOTICE_KEY = "notice"
SCOPE_HELP = "line, node:<node id> (a node and its branch) or queue:<queue>"


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a notice is said: the whole ``line``, a ``node`` and its branch, a ``queue``."""

    kind: str
    name: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind


def read_scope(text: str) -> Scope:
    """A scope as written (``line``, ``node:<id>``, ``queue:<name>``), right or wrong:
    ``problems`` says what is wrong with it, among the notice's other problems."""
    kind, colon, name = text.strip().partition(":")
    return Scope(kind.strip().lower() if colon or kind.strip().lower() in SCOPE_KINDS
                 else kind.strip(), name.strip())


def parse_scope(text: str) -> Scope:
    """A scope kept by the records; ValueError when it is none."""
    scope = read_scope(text)
    if _form(scope) is not None:
        raise ValueError(f"{text!r} is not a scope: give {SCOPE_HELP}")
    return scope


def _form(scope: Scope) -> str | None:
    """What is wrong with the scope's form (not whether its node or queue exists)."""
    if scope.kind == "line":
        return None if not scope.name else "line takes no name: the whole line is the scope"
    if scope.kind in ("node", "queue"):
        return None if scope.name else f"give the {scope.kind}'s name: {scope.kind}:<name>"
    return f"{str(scope)!r} is not a scope: give {SCOPE_HELP}"


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice as published: ``id`` 0 until it is kept."""

    id: int
    texts: Mapping[str, str]
    scope: Scope
    starts_at: datetime
    ends_at: datetime
    emergency: bool = False

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def text(self, lang: str, default_lang: str) -> str:
        """The words in ``lang``: every language is required, but a catalog may have
        gained one since."""
        return self.texts.get(lang) or self.texts.get(default_lang) or \
            next(iter(self.texts.values()), "")

    def switches(self, queue: str) -> bool:
        """Whether this notice, an emergency one, turns ``queue`` off."""
        if not self.emergency:
            return False
        if self.scope.kind == "queue":
            return self.scope.name == queue
        return self.scope.kind == "line" and queue != FRAUD_QUEUE


# -- validation ----------------------------------------------------------------------------

def problems(notice: Notice, menus: Sequence[Menu], languages: Iterable[str],
             now: datetime) -> list[Problem]:
    """Every mistake in a notice about to be published, each with its field: a scope no
    tree has, a language missing or unknown, an empty or overlong text, an end not after
    its start or already past, an emergency switch on a node."""
    found: list[Problem] = []
    langs = tuple(languages)
    scope = notice.scope
    nodes = {n for m in menus for n in m.nodes}
    queues = {q for m in menus for q in m.queues}
    wrong = _form(scope)
    if wrong is not None:
        bare = scope.kind if not scope.name and scope.kind not in SCOPE_KINDS else ""
        hint = (f" (did you mean node:{bare}?)" if bare in nodes else
                f" (did you mean queue:{bare}?)" if bare in queues else "")
        found.append(Problem("scope", wrong + hint))
    elif scope.kind == "node" and scope.name not in nodes:
        found.append(Problem("scope", f"node {scope.name!r} is in no tree the line runs"
                                      f"{_meant(scope.name, nodes, 'node:')}"))
    elif scope.kind == "queue" and scope.name not in queues:
        found.append(Problem("scope", f"queue {scope.name!r} is not a queue of the line "
                                      f"(its queues: {', '.join(sorted(queues))})"
                                      f"{_meant(scope.name, queues, 'queue:')}"))
    for lang in langs:
        text = (notice.texts.get(lang) or "").strip()
        if not text:
            found.append(Problem(f"text {lang}", "missing: a notice is said in every prompt "
                                                 f"language ({', '.join(langs)})"))
        elif len(text) > MAX_TEXT:
            found.append(Problem(f"text {lang}", f"{len(text)} characters: at most {MAX_TEXT} "
                                                 "(about a minute said)"))
    for lang in notice.texts:
        if lang not in langs:
            found.append(Problem(f"text {lang}", "not a prompt language (they are "
                                                 f"{', '.join(langs)})"
                                                 f"{_meant(lang, langs, '')}"))
    if notice.ends_at <= notice.starts_at:
        found.append(Problem("end", "not after the start: the notice would never be said"))
    elif notice.ends_at <= now:
        found.append(Problem("end", "already past: the notice would never be said"))
    if notice.emergency and scope.kind == "node":
        found.append(Problem("emergency", "a switch turns off a queue or the whole line, not "
                                          "a node: give queue:<queue> or line"))
    return found


def _meant(name: str, candidates: Iterable[str], prefix: str) -> str:
    close = close_match(name, candidates, 0.6)
    return f" (did you mean {prefix}{close}?)" if close else ""


# -- where a notice is said ------------------------------------------------------------------

_BRANCHES: dict[int, tuple[Menu, dict[str, frozenset[str]]]] = {}


def branch(menu: Menu, head: str) -> frozenset[str]:
    """``head`` and the nodes a caller reaches only through it: those it dominates in the
    tree's keypad graph from the start (options, ``next``, ``back``, failures' targets;
    not the verification gate's return, which every verified node shares). So the
    payments menu's branch holds its sub-menus, their collects and the payments queue,
    and a node shared by two branches (a date both a payment and a refund ask for) is in
    the branch of the menu above both. Made once per tree."""
    kept = _BRANCHES.get(id(menu))
    if kept is None or kept[0] is not menu:
        kept = _BRANCHES[id(menu)] = (menu, _dominated(menu))
    return kept[1].get(head, frozenset())


def _dominated(menu: Menu) -> dict[str, frozenset[str]]:
    """Per node, the nodes it dominates (itself included), by the iterative data-flow
    rule dom(n) = {n} + the intersection of its predecessors' dom. A node the start does
    not reach by keys (the verification gate) dominates only what it alone reaches."""
    preds: dict[str, set[str]] = {n: set() for n in menu.nodes}
    for node in menu.nodes.values():
        for name, target in menu.targets(node):
            if name != "verified" and target in preds:
                preds[target].add(node.id)
    roots = {menu.start} | {n for n, p in preds.items() if not p}
    every = frozenset(menu.nodes)
    dom: dict[str, frozenset[str]] = {n: frozenset({n}) if n in roots else every
                                      for n in menu.nodes}
    changed = True
    while changed:
        changed = False
        for node_id in menu.nodes:
            if node_id in roots:
                continue
            new = frozenset.intersection(*(dom[p] for p in preds[node_id])) | {node_id}
            if new != dom[node_id]:
                dom[node_id], changed = new, True
    below: dict[str, set[str]] = {n: set() for n in menu.nodes}
    for node_id, doms in dom.items():
        for head in doms:
            below[head].add(node_id)
    return {head: frozenset(nodes) for head, nodes in below.items()}


def _rank(notice: Notice) -> tuple[int, datetime, int]:
    return SCOPE_KINDS.index(notice.scope.kind), notice.starts_at, notice.id


def due(notices: Iterable[Notice], menu: Menu, entered: Iterable[Node],
        heard: Iterable[int]) -> list[Notice]:
    """The notices to say as the caller enters ``entered`` (the node chosen and, when it
    needs verification first, the gate), not heard in this call yet: the line's at the
    main menu, a branch's in it, a queue's at its queue nodes; the line's first."""
    nodes, done = list(entered), set(heard)
    found = []
    for notice in notices:
        if notice.id in done:
            continue
        scope = notice.scope
        if scope.kind == "line":
            hit = any(n.id == menu.main for n in nodes)
        elif scope.kind == "node":
            hit = any(n.id in branch(menu, scope.name) for n in nodes)
        else:
            hit = any(n.kind is Kind.QUEUE and n.queue == scope.name for n in nodes)
        if hit:
            found.append(notice)
    return sorted(found, key=_rank)


def switch_for(notices: Iterable[Notice], queue: str) -> Notice | None:
    """The emergency notice that turns ``queue`` off (a queue's own before the line's)."""
    found = sorted((n for n in notices if n.switches(queue)),
                   key=lambda n: (n.scope.kind != "queue", n.starts_at, n.id))
    return found[0] if found else None


def fraud_line(menu: Menu) -> Node | None:
    """The queue node a switched caller may take instead: the fraud line's."""
    return next((n for n in menu.nodes.values()
                 if n.kind is Kind.QUEUE and n.queue == FRAUD_QUEUE), None)
