"""Check a loaded tree as a whole and report every problem with its location.

Runs when the app is created (an invalid tree refuses to start) and in ``ivr lint``.
No I/O: the prompt catalog is passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ivr.errors import Problem, close_match
from ivr.menu.model import (
    COLLECT_FORMATS,
    FOLLOW_UPS,
    GATHERING,
    SERVICE_ACTIONS,
    Kind,
    Menu,
    Node,
    service_phrase,
    speech_targets,
    spoken_pieces,
    takes_speech,
)
from ivr.menu.phrases import keywords
from ivr.plural import counted, plural

#: what a speech menu says besides its menu (``flow._Turn.ask_by_voice``): required of
#: every catalog only when the tree has a speech menu
SPEECH_PROMPTS = ("speech_intro", "speech_reask", "speech_keypad", "speech_confirm",
                  "speech_confirm_keys")
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
    # self-service and the newer turns of the flow, and how they say things
    "callback_limit", "callback_stay", "callback_withheld", "complaint_filed",
    "complaint_lookups_limit", "complaint_retry",
    "complaint_status_closed", "complaint_status_open", "complaint_unknown", "freeze_done",
    "complaint_status_checking", "complaint_status_review", "complaint_status_investigation",
    "complaint_status_result", "complaint_status_accepted", "complaint_dispute_offer",
    "complaint_status_result_untexted",
    # the SMS follow-ups (ivr/flow/texts.py) and a complaint's result (Hotline.move_ticket)
    "sms_complaint", "sms_callback", "sms_freeze", "sms_complaint_result",
    "complaint_disputed",
    "freeze_already", "password_help_text", "topup_none", "topup_processing", "topup_failed",
    "hold_wait", "hold_callback", "queue_full", "team_closed", "team_closed_offer",
    "wait_offer_withheld", "team_closed_offer_withheld", "verify_account_unknown",
    "verify_locked_support", "fmt_and", "fmt_clock", "fmt_day_range", "fmt_day_windows",
    "fmt_minute", "fmt_span_hour", "fmt_span_hours", "fmt_span_minute", "fmt_span_minutes",
    "fmt_time_range", "fmt_weekday_date",
    # an emergency switch's offer instead of the queue (ivr/flow/notices.py)
    "emergency_switched", "emergency_offer", "emergency_offer_withheld",
    # a hand-off's reason without "let me put you through" while that team is closed
    # (ivr.flow.caller.HANDOVERS)
    "too_many_failures_closed", "apology_closed", "verify_locked_closed",
    "verify_locked_support_closed", "verify_frozen_closed", "complaint_lookups_limit_closed",
    # a known caller's shortcut after the language (ivr.records.known): returning_ask +
    # the topic of their last need + returning_keys
    "returning_ask", "returning_keys",
    # agents closed: said before any effort, and no "for an agent" offered
    "closed_offer_withheld", "closed_self_service", "service_options_closed", "fmt_items",
    # the agents' end (ivr/flow/agent.py), and the caller an agent takes
    "connecting", "agent_welcome", "agent_code", "agent_code_again", "agent_pin", "agent_wrong",
    "agent_denied", "agent_lang_switch", "agent_waiting", "agent_none_waiting", "agent_next",
    # the caller's verdict once the agent hung up (ivr/flow/survey.py)
    "csat_question", "csat_invalid", "csat_comment", "csat_comment_only", "csat_thanks",
)


class PromptCatalog(Protocol):
    @property
    def languages(self) -> tuple[str, ...]: ...

    def has(self, lang: str, key: str) -> bool: ...


def _required(node: Node) -> list[str]:
    """The fields a node of its kind cannot do without (a menu spoken from its options'
    phrases has those for a prompt: its own is only an intro)."""
    need = {
        Kind.MENU: ["invalid", "no_input"] if node.spoken_options else
        ["prompt", "invalid", "no_input"],
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


def _reachable(menu: Menu, also: tuple[str, ...] = ()) -> set[str]:
    """Node ids reached from the start, main and fallback nodes (and ``also``), through
    every target, including what broken nodes and unreadable parts name."""
    seen: set[str] = set()
    todo = [n for n in (menu.start, menu.main, menu.fallback, *also) if menu.defines(n)]
    while todo:
        node_id = todo.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        node = menu.nodes.get(node_id)
        targets = [t for _, t in menu.targets(node)] if node else []
        todo += [t for t in (*targets, *menu.loose.get(node_id, ())) if menu.defines(t)]
    return seen


def _in_file_order(menu: Menu) -> list[str]:
    lines = {**{n.id: n.line for n in menu.nodes.values()}, **menu.broken}
    return sorted(lines, key=lambda node_id: lines[node_id])


def _line(menu: Menu, node_id: str) -> int:
    node = menu.nodes.get(node_id)
    return node.line if node else menu.broken.get(node_id, 0)


def _orphans(menu: Menu, unreached: list[str]) -> list[tuple[str, list[str]]]:
    """Group the unreached nodes under the ones nothing unreached leads to: each group is
    one mistake (a node no option names), not one problem per node below it."""
    def below(node_id: str) -> set[str]:
        node = menu.nodes.get(node_id)
        targets = [t for _, t in menu.targets(node)] if node else []
        return {t for t in (*targets, *menu.loose.get(node_id, ())) if t in unreached_set}

    unreached_set = set(unreached)
    pointed = {t for n in unreached for t in below(n) if t != n}
    heads = [n for n in unreached if n not in pointed]
    groups: list[tuple[str, list[str]]] = []
    covered: set[str] = set()

    def cover(head: str) -> None:
        found, todo = [], [head]
        while todo:
            node_id = todo.pop()
            if node_id in covered:
                continue
            covered.add(node_id)
            if node_id != head:
                found.append(node_id)
            todo += sorted(below(node_id))
        groups.append((head, [n for n in unreached if n in found]))

    for head in heads:
        cover(head)
    for node_id in unreached:  # loops that nothing outside them leads into
        if node_id not in covered:
            cover(node_id)
    return groups


def validate(menu: Menu, catalog: PromptCatalog) -> list[Problem]:
    """Every problem in the tree: targets, reachability, prompts, keys, handling, queues.

    One mistake is one problem: a node with an unknown kind is still a defined node, and a
    misspelt target that names an otherwise unreachable node does not also make that node
    and everything below it "unreachable".
    """
    problems: list[Problem] = []
    src = menu.source

    def top(name: str) -> str:
        line = menu.line(name)
        return f"{src}:{line} {name}" if line else f"{src} {name}"

    #: (location, what it says, target) of every reference to no node
    undefined: list[tuple[str, str, str]] = []
    for name in ("start", "main", "fallback"):
        target = getattr(menu, name)
        if target and not menu.defines(target):
            undefined.append((top(name), f"'{target}' is not a defined node", target))
    gated = [n.id for n in menu.nodes.values() if n.verified]
    gate: str | None = None  # the verify node a gate naming no such node meant
    if gated and (menu.verify not in menu.nodes or menu.nodes[menu.verify].kind is not Kind.VERIFY):
        if menu.verify not in menu.broken:  # else its unknown kind is the one problem
            verify_nodes = [n.id for n in menu.nodes.values() if n.kind is Kind.VERIFY
                            and n.id != menu.verify]
            unreached = [n for n in verify_nodes if n not in _reachable(menu)]
            gate = close_match(menu.verify, verify_nodes, 0.6) if menu.verify else None
            for candidates in (unreached, verify_nodes):  # one left alone is the one meant
                if gate is None and len(candidates) == 1:
                    gate = candidates[0]
            hint = f"; did you mean '{gate}'?" if gate else ""
            problems.append(Problem(top("verify"), f"nodes {gated} need a verified caller, so "
                                                   f"'verify' must name a verify node{hint}"))
    elif gated and menu.nodes[menu.verify].next:
        problems.append(Problem(top("verify"), f"the gate '{menu.verify}' must not have 'next': "
                                               "a verified caller returns to the node they chose"))
    if not menu.queues:
        problems.append(Problem(top("queues"), "the tree declares no queues"))
    if menu.fallback in menu.nodes and menu.nodes[menu.fallback].kind is not Kind.QUEUE:
        problems.append(Problem(top("fallback"), "the fallback must be a queue node"))
    prompts: list[tuple[str, str]] = [(f"{src} (flow)", key) for key in FLOW_PROMPTS]
    for node in menu.nodes.values():
        def loc(field: str = "", node: Node = node) -> str:
            line = node.lines.get(field, node.line) if field else node.line
            return f"{src}:{line} nodes.{node.id}" + (f".{field}" if field else "")

        for name in _required(node):
            problems.append(Problem(loc(), f"a {node.kind.value} node needs '{name}'"))
        for where, target in menu.targets(node):
            if not menu.defines(target) and where != "verified":
                undefined.append((loc(where), f"goto '{target}' is not a defined node", target))
        if node.kind is Kind.MENU and node.spoken_options:
            problems += _unspoken(node, loc)
            prompts += [(loc(where), key) for where, key in spoken_pieces(node)]
        elif node.prompt:
            prompts.append((loc("prompt"), node.prompt))
        if isinstance(node.invalid, str):
            prompts.append((loc("invalid"), node.invalid))
        if isinstance(node.no_input, str):
            prompts.append((loc("no_input"), node.no_input))
        if node.kind is Kind.QUEUE and node.queue and node.queue not in menu.queues:
            meant = close_match(node.queue, menu.queues)
            hint = f" (did you mean '{meant}'?)" if meant else ""
            problems.append(Problem(loc("queue"), f"unknown queue '{node.queue}'{hint}; "
                                                  f"declared: {', '.join(menu.queues)}"))
        if node.kind is Kind.SERVICE and node.action and node.action not in SERVICE_ACTIONS:
            problems.append(Problem(loc("action"), f"unknown action '{node.action}'; one of "
                                                   f"{', '.join(sorted(SERVICE_ACTIONS))}"))
        elif node.kind is Kind.SERVICE and node.action and node.action not in FOLLOW_UPS:
            # said while agents are closed
            prompts.append((loc("action"), service_phrase(node.action)))
        if node.dispute and (node.kind is not Kind.SERVICE or node.action != "complaint_status"):
            problems.append(Problem(loc("dispute"), "only a complaint_status service takes "
                                                    "'dispute' (a result disputed with key 1)"))
        elif node.dispute and node.dispute in menu.nodes and \
                menu.nodes[node.dispute].kind is not Kind.RECORD:
            problems.append(Problem(loc("dispute"), "'dispute' leads to a record node: the "
                                                    "caller says why the result is wrong"))
        if node.kind is Kind.SERVICE and node.agent and not node.next:
            problems.append(Problem(loc(), "a service offering an agent needs 'next' (its queue)"))
        if node.kind is Kind.COLLECT and node.format and node.format not in COLLECT_FORMATS:
            problems.append(Problem(loc("format"), f"unknown format '{node.format}'; one of "
                                                   f"{', '.join(sorted(COLLECT_FORMATS))}"))
        if node.options and node.kind is not Kind.MENU:
            problems.append(Problem(loc("options"), f"a {node.kind.value} node has no options"))
        for option in node.options:
            where = loc(f"options['{option.key}']")
            if option.key not in DTMF_KEYS or len(option.key) != 1:
                problems.append(Problem(where, "a key must be one of 0-9, * or #"))
            elif option.key in RESERVED_KEYS or (node.back and option.key == "9"):
                problems.append(Problem(where, f"key '{option.key}' is reserved "
                                               "(* repeats, 9 goes back)"))
            if option.lang and option.lang not in catalog.languages:
                problems.append(Problem(where, f"language '{option.lang}' has no prompt file"))
        if node.kind in GATHERING and node.kind is not Kind.MENU and node.fallback is None \
                and not menu.fallback:
            problems.append(Problem(loc(), "no fallback for repeated failures"))
    speech, spoken_prompts = _speech(menu, catalog)
    problems += _unreachable(menu, undefined, gate)
    problems += speech
    problems += _missing_prompts(prompts + spoken_prompts, catalog)
    return problems


def _speech(menu: Menu, catalog: PromptCatalog) -> tuple[list[Problem], list[tuple[str, str]]]:
    """The speech menus' problems, and the prompts they need (with where each is named).

    Every option of a speech menu needs phrases in every language, each phrase must name
    one target of the menu (one phrase, two targets: the caller could only be guessed at),
    and every target with phrases needs a ``topic`` to be confirmed by.
    """
    problems: list[Problem] = []
    prompts: list[tuple[str, str]] = []
    src, languages = menu.source, catalog.languages

    def loc(node: Node, field: str = "") -> str:
        line = node.lines.get(field, node.line) if field else node.line
        return f"{src}:{line} nodes.{node.id}" + (f".{field}" if field else "")

    speaking = [n for n in menu.nodes.values() if takes_speech(menu, n)]
    targets: dict[str, Node] = {}  # every node a speech menu may route to
    for node in menu.nodes.values():
        if node.speech is not None and node.kind is not Kind.MENU:
            problems.append(Problem(loc(node, "speech"), f"only a menu takes speech, not a "
                                                         f"{node.kind.value} node"))
        for lang in node.phrases:
            if lang not in languages:
                problems.append(Problem(loc(node, f"phrases.{lang}"), (
                    f"phrases in '{lang}', which has no prompt file ({', '.join(languages)})")))
    for node in speaking:
        prompts += [(loc(node, "speech" if node.speech else ""), key) for key in SPEECH_PROMPTS]
        for option in node.options:
            target = menu.nodes.get(option.goto)
            if target is None:
                continue  # an undefined target is its own problem
            missing = [lang for lang in languages if not target.phrases.get(lang)
                       and f"phrases.{lang}" not in target.lines]  # else the loader said why
            if missing:
                problems.append(Problem(loc(node, f"options['{option.key}']"), (
                    f"'{option.goto}' needs phrases in {', '.join(missing)}: "
                    f"'{node.id}' takes speech, so callers may say any of its options")))
        seen: dict[tuple[str, str], str] = {}  # (lang, phrase as heard) -> the target
        for target_id in speech_targets(menu, node):
            target = menu.nodes[target_id]
            if not target.phrases:
                continue
            targets[target_id] = target
            for lang, phrases in target.phrases.items():
                for phrase in phrases:
                    said = keywords(phrase, lang)  # as compared: "我要 投诉" is "投诉"
                    if not said:
                        problems.append(Problem(loc(target, f"phrases.{lang}"), (
                            f"phrase '{phrase}' is only words that say nothing of a topic: "
                            "it would never be heard")))
                        continue
                    heard = " ".join(sorted(said))
                    other = seen.setdefault((lang, heard), target_id)
                    if other != target_id:
                        problems.append(Problem(loc(target, f"phrases.{lang}"), (
                            f"phrase '{phrase}' also names '{other}' (line "
                            f"{menu.nodes[other].lines.get(f'phrases.{lang}', 0)}): one phrase, "
                            f"one target, or '{node.id}' could only guess")))
    options = {o.goto for n in speaking for o in n.options}  # their gaps are errors above
    for target in targets.values():
        missing = [lang for lang in languages if not target.phrases.get(lang)
                   and f"phrases.{lang}" not in target.lines]  # else the loader said why
        if missing and len(missing) < len(languages) and target.id not in options:
            problems.append(Problem(loc(target, "phrases"), (
                f"has no phrases in {', '.join(missing)}: those callers cannot say it"),
                "warning"))
        if target.topic:
            prompts.append((loc(target, "topic"), target.topic))
        else:
            problems.append(Problem(loc(target, "phrases"), (
                "has phrases but no 'topic': the prompt that names it when a caller is asked "
                "to confirm what they said")))
    # a node nothing reaches (or a misspelt goto meant) is that problem, not also this one
    reached = _reachable(menu)
    unheard = [n for n in menu.nodes.values()
               if n.phrases and n.id not in targets and n.id in reached]
    if unheard:
        also = f" (so do {', '.join(n.id for n in unheard[1:])})" if unheard[1:] else ""
        problems.append(Problem(loc(unheard[0], "phrases"), (
            f"has phrases, but no speech menu leads to it{also}: no caller can say them"),
            "warning"))
    return problems, prompts


def _unspoken(node: Node, loc: Callable[[str], str]) -> list[Problem]:
    """The options of a spoken menu that have no phrase: a caller would never hear them."""
    spoken = [o.key for o in node.options if o.say]
    return [Problem(loc(f"options['{o.key}']"),
                    f"has no 'say' while options {spoken} have one: in a menu spoken from "
                    "its options' phrases every option needs one, or the caller never hears it")
            for o in node.options if not o.say]


def _unreachable(menu: Menu, undefined: list[tuple[str, str, str]],
                 gate: str | None) -> list[Problem]:
    """References to no node, then what nothing reaches, each mistake once.

    A reference to no node that closely matches a node nothing else reaches is taken to
    mean it: the reference is the problem (with a "did you mean"), and that node and
    what lies below it are not reported unreachable too. Without a start node (missing,
    or naming no node and close to none) nothing is reported unreachable: the start is
    the one mistake, and reaching is measured from it.
    """
    problems: list[Problem] = []
    src = menu.source
    reached = _reachable(menu)
    unreached = [n for n in _in_file_order(menu) if n not in reached]
    meant: list[str] = [gate] if gate in unreached else []
    by_target: dict[str, list[tuple[str, str]]] = {}
    for where, message, target in undefined:
        by_target.setdefault(target, []).append((where, message))
    start = menu.start if menu.defines(menu.start) else None
    for target, refs in by_target.items():
        guess = (close_match(target, [n for n in unreached if n not in meant], 0.6)
                 or close_match(target, _in_file_order(menu)))
        if guess in unreached:
            meant.append(guess)
        if target == menu.start:
            start = guess
        hint = f"; did you mean '{guess}'?" if guess else ""
        # one name used in several places is one mistake (often the node's own id)
        others = [where.split(" ", 1)[0].rsplit(":", 1)[-1] for where, _ in refs[1:]]
        also = f" (named on {plural(len(others), 'line')} {', '.join(others)} too)" if others else ""
        where, message = refs[0]
        problems.append(Problem(where, f"{message}{also}{hint}"))
    if start is None:  # no start to reach from: "unreachable" would only echo that
        return problems
    if meant:
        reached = _reachable(menu, tuple(meant))
        unreached = [n for n in unreached if n not in reached]
    for head, below in _orphans(menu, unreached):
        also = f" (nor is what only it leads to: {', '.join(below)})" if below else ""
        problems.append(Problem(f"{src}:{_line(menu, head)} nodes.{head}",
                                f"unreachable from the start node{also}"))
    return problems


def summary(menu: Menu, problems: Sequence[Problem]) -> str:
    """``ivr lint``'s closing line, ``wallet.yaml: 37 nodes, 0 errors``: it counts every
    node the file writes, as the problems do (a node of an unknown kind is still one)."""
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    line = f"{menu.source}: {counted(menu.size, 'node')}, {counted(errors, 'error')}"
    return line + (f", {counted(warnings, 'warning')}" if warnings else "")


def _missing_prompts(prompts: list[tuple[str, str]], catalog: PromptCatalog) -> list[Problem]:
    """Prompt keys without text: one problem per reference, naming the languages."""
    problems: list[Problem] = []
    languages = catalog.languages
    every: set[str] = set()
    for lang in languages:
        every |= set(getattr(catalog, "texts", {}).get(lang, ()))
    for where, key in prompts:
        missing = [lang for lang in languages if not catalog.has(lang, key)]
        if not missing:
            continue
        if len(missing) < len(languages):
            problems += [Problem(where, f"prompt '{key}' has no {lang} text") for lang in missing]
            continue
        meant = close_match(key, every)
        hint = f"; did you mean '{meant}'?" if meant else ""
        problems.append(Problem(where, f"prompt '{key}' is in no prompt file "
                                       f"({', '.join(languages)}){hint}"))
    return problems
