"""Check a loaded tree as a whole and report every problem with its location.

Runs when the app is created (an invalid tree refuses to start) and in ``ivr lint``.
No I/O: the prompt catalog is passed in.
"""

from __future__ import annotations

from typing import Protocol

from ivr.errors import Problem
from ivr.menu.model import COLLECT_FORMATS, GATHERING, SERVICE_ACTIONS, Kind, Menu, Node

#: keys every menu reserves: ``*`` repeats, ``9`` goes back in sub-menus
RESERVED_KEYS = frozenset({"*"})
DTMF_KEYS = frozenset("0123456789*#")
#: prompts the flow itself speaks, so every catalog must have them
FLOW_PROMPTS = (
    "invalid_choice", "no_input", "too_many_failures", "prepare_ready", "service_options",
    "verify_callerid", "verify_account", "verify_pin", "verify_wrong_pin", "verify_failed",
    "verify_locked", "verify_frozen", "verify_ok", "collect_invalid", "record_missing",
    "apology", "restart", "hold_message", "goodbye", "wait_estimate", "wait_offer",
    "best_times", "callback_booked", "queue_closed", "closed_offer", "hold_position", "hold_next",
    "hold_continue", "fmt_date", "fmt_amount", "fmt_minutes", "fmt_under_minute",
    "fmt_long_wait", "fmt_window", "fmt_moment", "fmt_today", "fmt_tomorrow", "fmt_weekdays",
    "fmt_days_hours", "fmt_holidays", "fmt_closed_day", "fmt_all_day", "fmt_list_sep",
)


class PromptCatalog(Protocol):
    @property
    def languages(self) -> tuple[str, ...]: ...

    def has(self, lang: str, key: str) -> bool: ...


def _required(node: Node) -> list[str]:
    """The fields a node of its kind cannot do without."""
    need = {
        Kind.MENU: ["prompt", "invalid", "no_input"],
        Kind.VERIFY: ["on_fail", "on_locked"],
        Kind.PREPARE: ["prompt", "next"],
        Kind.COLLECT: ["prompt", "next", "field", "format"],
        Kind.SERVICE: ["action"],
        Kind.RECORD: ["prompt", "next"],
        Kind.QUEUE: ["queue"],
        Kind.SAY: ["prompt", "next"],
        Kind.HANGUP: ["prompt"],
    }[node.kind]
    return [name for name in need if getattr(node, name) in (None, "")]


def _reachable(menu: Menu) -> set[str]:
    seen: set[str] = set()
    todo = [n for n in (menu.start, menu.main, menu.fallback) if n in menu.nodes]
    while todo:
        node_id = todo.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        todo += [t for _, t in menu.targets(menu.nodes[node_id]) if t in menu.nodes]
    return seen


def validate(menu: Menu, catalog: PromptCatalog) -> list[Problem]:
    """Every problem in the tree: targets, reachability, prompts, keys, handling, queues."""
    problems: list[Problem] = []
    src = menu.source
    for name in ("start", "main", "fallback"):
        target = getattr(menu, name)
        if target and target not in menu.nodes:
            problems.append(Problem(f"{src} {name}", f"'{target}' is not a defined node"))
    gated = [n.id for n in menu.nodes.values() if n.verified]
    if gated and (menu.verify not in menu.nodes or menu.nodes[menu.verify].kind is not Kind.VERIFY):
        problems.append(Problem(f"{src} verify", f"nodes {gated} need a verified caller, so "
                                                 "'verify' must name a verify node"))
    elif gated and menu.nodes[menu.verify].next:
        problems.append(Problem(f"{src} verify", f"the gate '{menu.verify}' must not have 'next': "
                                                 "a verified caller returns to the node they chose"))
    if not menu.queues:
        problems.append(Problem(f"{src} queues", "the tree declares no queues"))
    if menu.fallback in menu.nodes and menu.nodes[menu.fallback].kind is not Kind.QUEUE:
        problems.append(Problem(f"{src} fallback", "the fallback must be a queue node"))
    prompts: list[tuple[str, str]] = [(f"{src} (flow)", key) for key in FLOW_PROMPTS]
    for node in menu.nodes.values():
        loc = f"{src}:{node.line} nodes.{node.id}"
        for name in _required(node):
            problems.append(Problem(loc, f"a {node.kind.value} node needs '{name}'"))
        for where, target in menu.targets(node):
            if target not in menu.nodes and where != "verified":
                problems.append(Problem(f"{loc}.{where}", f"goto '{target}' is not a defined node"))
        if node.prompt:
            prompts.append((f"{loc}.prompt", node.prompt))
        if isinstance(node.invalid, str):
            prompts.append((f"{loc}.invalid", node.invalid))
        if isinstance(node.no_input, str):
            prompts.append((f"{loc}.no_input", node.no_input))
        if node.kind is Kind.QUEUE and node.queue and node.queue not in menu.queues:
            problems.append(Problem(f"{loc}.queue", f"unknown queue '{node.queue}'; "
                                                    f"declared: {', '.join(menu.queues)}"))
        if node.kind is Kind.SERVICE and node.action and node.action not in SERVICE_ACTIONS:
            problems.append(Problem(f"{loc}.action", f"unknown action '{node.action}'; one of "
                                                     f"{', '.join(sorted(SERVICE_ACTIONS))}"))
        if node.kind is Kind.SERVICE and node.agent and not node.next:
            problems.append(Problem(loc, "a service offering an agent needs 'next' (its queue)"))
        if node.kind is Kind.COLLECT and node.format and node.format not in COLLECT_FORMATS:
            problems.append(Problem(f"{loc}.format", f"unknown format '{node.format}'; one of "
                                                     f"{', '.join(sorted(COLLECT_FORMATS))}"))
        if node.options and node.kind is not Kind.MENU:
            problems.append(Problem(f"{loc}.options", f"a {node.kind.value} node has no options"))
        for option in node.options:
            where = f"{loc}.options['{option.key}']"
            if option.key not in DTMF_KEYS or len(option.key) != 1:
                problems.append(Problem(where, "a key must be one of 0-9, * or #"))
            elif option.key in RESERVED_KEYS or (node.back and option.key == "9"):
                problems.append(Problem(where, f"key '{option.key}' is reserved "
                                               "(* repeats, 9 goes back)"))
            if option.lang and option.lang not in catalog.languages:
                problems.append(Problem(where, f"language '{option.lang}' has no prompt file"))
        if node.kind in GATHERING and node.kind is not Kind.MENU and node.fallback is None \
                and not menu.fallback:
            problems.append(Problem(loc, "no fallback for repeated failures"))
    reachable = _reachable(menu)
    for node in menu.nodes.values():
        if node.id not in reachable:
            problems.append(Problem(f"{src}:{node.line} nodes.{node.id}",
                                    "unreachable from the start node", "error"))
    for where, key in prompts:
        for lang in catalog.languages:
            if not catalog.has(lang, key):
                problems.append(Problem(where, f"prompt '{key}' has no {lang} text"))
    return problems
