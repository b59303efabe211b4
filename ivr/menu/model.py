"""The menu tree's types: frozen data, no I/O.

A node is one step of the call. Its ``kind`` says what it does:

- ``menu``: a prompt and options by key; ``*`` repeats, ``9`` goes ``back`` in sub-menus
- ``verify``: identify the caller (caller ID or account number, then a phone PIN)
- ``prepare``: tell the caller what to have ready; 1 when ready, 2 to hear it again
- ``collect``: a keypad entry (a date, an amount, a ticket number) kept on the call
- ``service``: a self-service action against the wallet backend, then 0 for an agent
- ``record``: record a message (a complaint) up to ``max_length_s``
- ``queue``: enqueue for a team
- ``say``: speak and go on; ``hangup``: speak and end the call

Any node may say ``verified: true``: a caller not yet verified is sent through the tree's
``verify`` node first and comes back to it.

A menu may accept speech (``speech: true``; the main menu does when its options have
phrases). A node a caller may ask for by voice lists ``phrases`` per language (what callers
say for it) and a ``topic``, the prompt that names it when a weak match is confirmed. A
speech menu's targets are its options' nodes and what lies below them through sub-menus
(``speech_targets``), so a caller may land deep in the tree in one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import field as _field  # Node has a field named 'field'
from enum import StrEnum


class Kind(StrEnum):
    MENU = "menu"
    VERIFY = "verify"
    PREPARE = "prepare"
    COLLECT = "collect"
    SERVICE = "service"
    RECORD = "record"
    QUEUE = "queue"
    SAY = "say"
    HANGUP = "hangup"


#: kinds that wait for the caller's keys, so they need no-input and invalid handling
GATHERING = frozenset({Kind.MENU, Kind.PREPARE, Kind.COLLECT, Kind.SERVICE, Kind.VERIFY})

#: the self-service actions the wallet backend offers, by name used in the tree
SERVICE_ACTIONS = frozenset(
    {"topup_status", "password_help", "freeze", "complaint_file", "complaint_status",
     "complaint_dispute"}
)
#: actions reached from another service's answer, not offered as self-services of their own
FOLLOW_UPS = frozenset({"complaint_dispute"})

#: what a ``collect`` node accepts
COLLECT_FORMATS = frozenset({"date", "amount", "digits"})

#: what a caller does on the way to an agent that serves them nothing by itself: prove who
#: they are, hear what to have ready, key the details (``agents_only``)
FOR_AGENTS = frozenset({Kind.VERIFY, Kind.PREPARE, Kind.COLLECT})


@dataclass(frozen=True, slots=True)
class Option:
    """A key of a menu: where it goes, and optionally the language it sets."""

    key: str
    goto: str
    lang: str | None = None
    label: str = ""
    #: the prompt key of the phrase that announces this option (the menu is then spoken
    #: from its options' phrases, in the order written: see ``Node.spoken_options``)
    say: str | None = None


@dataclass(frozen=True, slots=True)
class Node:
    """One step of the call flow, as read from the tree (see the module docstring)."""

    id: str
    kind: Kind
    prompt: str | None = None
    next: str | None = None
    options: tuple[Option, ...] = ()
    back: str | None = None
    invalid: str | None = None
    no_input: str | Option | None = None
    fallback: str | None = None
    timeout_s: int | None = None
    queue: str | None = None
    issue: str | None = None
    action: str | None = None
    field: str | None = None
    format: str | None = None
    max_length_s: int = 120
    on_fail: str | None = None
    on_locked: str | None = None
    #: a ``complaint_status`` service: the record node a caller whose complaint's result
    #: was sent reaches with key 1, to dispute it (``ivr.flow.complaints``)
    dispute: str | None = None
    agent: bool = True
    verified: bool = False
    #: a menu that accepts speech: None (not written) is true for the main menu when its
    #: options have phrases (``takes_speech``)
    speech: bool | None = None
    #: what callers say for this node, by language ("充值", "没到账"; "top up" ...)
    phrases: dict[str, tuple[str, ...]] = _field(default_factory=dict, compare=False)
    #: the prompt naming this node in a confirmation ("您要办理的是" + topic + "，对吗？")
    topic: str | None = None
    line: int = 0
    #: the line of each field as written, for problems that point at one field
    lines: dict[str, int] = _field(default_factory=dict, compare=False, repr=False)

    def option(self, key: str) -> Option | None:
        return next((o for o in self.options if o.key == key), None)

    @property
    def spoken_options(self) -> bool:
        """Whether the menu is spoken from its options' phrases (``Option.say``) rather
        than one prompt text: then the order options are written in is the order heard."""
        return any(o.say for o in self.options)


@dataclass(frozen=True, slots=True)
class Menu:
    """The whole tree: nodes by id plus the tree-wide settings."""

    nodes: dict[str, Node]
    start: str
    main: str
    fallback: str
    queues: tuple[str, ...]
    source: str = "menu"
    verify: str = ""
    max_failures: int = 3
    timeout_s: int = 5
    settings: dict[str, object] = field(default_factory=dict)
    #: the line of each top-level field (``start``, ``queues`` ...), for problems
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    #: nodes written in the file that could not be read (an unknown kind): their line
    broken: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    #: node ids named in the parts of a node that could not be read, so what the author
    #: meant to reach through them is not reported unreachable as well
    loose: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __getitem__(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def line(self, name: str) -> int:
        """The line of a top-level field (0 when the file does not have it)."""
        return self.lines.get(name, 0)

    @property
    def size(self) -> int:
        """The nodes the file writes, read or not: one of an unknown kind is still a node."""
        return len(self.nodes.keys() | self.broken.keys())

    def defines(self, node_id: str) -> bool:
        """Whether the file writes a node of this id (read or not)."""
        return node_id in self.nodes or node_id in self.broken

    def targets(self, node: Node) -> list[tuple[str, str]]:
        """Every (field, node id) a node can lead to, for validation and reachability."""
        found = [(name, getattr(node, name)) for name in
                 ("next", "back", "fallback", "on_fail", "on_locked", "dispute")
                 if getattr(node, name)]
        found += [(f"options['{o.key}']", o.goto) for o in node.options]
        if isinstance(node.no_input, Option):
            found.append(("no_input", node.no_input.goto))
        if node.verified:
            found.append(("verified", self.verify))
        return found


def takes_speech(menu: Menu, node: Node) -> bool:
    """Whether a menu listens for speech as well as keys: as written, else (the main menu)
    when its options' nodes have phrases, so a tree written before speech keeps keys only."""
    if node.kind is not Kind.MENU:
        return False
    if node.speech is not None:
        return node.speech
    return node.id == menu.main and any(
        menu.nodes[o.goto].phrases for o in node.options if o.goto in menu.nodes)


def speech_targets(menu: Menu, node: Node) -> list[str]:
    """The nodes a caller may ask for by voice at a speech menu: its options' nodes first
    (in the order written), then what lies below them through sub-menus' options, breadth
    first. Not through ``back`` or a node's ``next``: a sentence names a topic, not a step."""
    found: list[str] = []
    todo = [o.goto for o in node.options]
    while todo:
        target = todo.pop(0)
        if target in found or target == node.id or target not in menu.nodes:
            continue
        found.append(target)
        below = menu.nodes[target]
        if below.kind is Kind.MENU:
            todo += [o.goto for o in below.options]
    return found


def agents_only(menu: Menu, node_id: str) -> Node | None:
    """The queue node a choice ends in when all on its way (by ``next``) is for the agent
    (``FOR_AGENTS``): only an agent can do it. None when a self-service, a recording, a
    menu or words of its own lie on the way, or it leads to no queue."""
    node, seen = menu.nodes.get(node_id), set()
    while node is not None and node.id not in seen:
        if node.kind is Kind.QUEUE:
            return node
        if node.kind not in FOR_AGENTS or not node.next:
            return None
        seen.add(node.id)
        node = menu.nodes.get(node.next)
    return None


def topic_of(menu: Menu, issue: str) -> Node | None:
    """The node that names ``issue`` to a caller: the first, in the order written, with
    that ``issue`` and a ``topic`` (None when this tree has none: a need recorded on
    another tree that is not offered back)."""
    return next((n for n in menu.nodes.values() if n.issue == issue and n.topic), None)


def self_services(menu: Menu) -> list[str]:
    """The self-service actions the tree offers, each once, in the order written: not the
    ones only a service's answer leads to (a dispute, after a complaint's status)."""
    return list(dict.fromkeys(n.action for n in menu.nodes.values()
                              if n.kind is Kind.SERVICE and n.action in SERVICE_ACTIONS
                              and n.action not in FOLLOW_UPS))


def service_phrase(action: str) -> str:
    """The prompt naming what a self-service action does, a piece of a sentence ("hear
    the status of your recent top-ups"): said when agents are closed (``closed_self_service``)."""
    return f"fmt_service_{action}"


#: what a menu spoken from its options' phrases says after them (``flow.menu_words``):
#: required of every catalog only when the tree has such a menu
SPOKEN_MENU_PROMPTS = ("menu_repeat", "menu_back")


def spoken_pieces(node: Node, leave_out: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """(field, prompt key) of what a menu spoken from its options' phrases says, in order:
    its intro, each option's phrase and key (but the keys in ``leave_out``), how to repeat
    and go back. The one list the flow speaks (``flow._Turn.menu_words``), lint checks and
    the audio report measures."""
    pieces = [("prompt", node.prompt)] if node.prompt else []
    for option in node.options:
        if option.say and option.key not in leave_out:
            where = f"options['{option.key}']"
            pieces += [(where, option.say), (where, f"press_{option.key}")]
    pieces.append(("", SPOKEN_MENU_PROMPTS[0]))
    if node.back:
        pieces.append(("back", SPOKEN_MENU_PROMPTS[1]))
    return pieces
