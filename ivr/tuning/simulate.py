"""What-if runs of whole calls through the real call flow (``ivr.flow.caller.step``, no HTTP).

Each simulated caller is drawn from the mix (``ivr.tuning.mix``) from their own random
stream, seeded by (seed, caller number): so a run gives the same calls whatever the
number of workers, and two trees run the same callers (common random numbers: paired
differences, ``ivr.tuning.stats``). A caller knows their target and, at each step:

- at a menu takes the option leading to it (``ivr.tuning.routes``): a *listener* presses
  when its phrase and key have been heard (``press_<key>``), a *barge-in* caller presses
  its key at once, a *returning* caller presses at once the key they used before on the
  live tree (on a renumbered tree that may be another option, or none); each at most once
  per menu, then they listen. With the mix's chance the key is a wrong one. At a menu
  where nothing leads to the target they press 9 (back) if they can, else the option to
  the fallback queue, else wait for the time-out;
- verifies (1 for the registered caller ID, else the account and #, then the PIN and #),
  presses 1 when ready at ``prepare``, keys a valid date, amount or ticket at ``collect``,
  records a message at ``record``; at a self-service node that is their target they hear
  the answer and are done (contained), elsewhere they press 0 for an agent;
- hangs up when their patience runs out.

A *speaker* (the mix's ``speakers`` share of their language, drawn apart from their own
stream, so that the rest of the caller stays the same with or without speakers) says what
they need at a menu taking speech, as soon as its invitation (``speech_intro``, or
``speech_reask`` when asked again) has been said (barge-in and returning callers: at
once, the first time, as they would press), over the menu that follows: Twilio's
Gather stops its prompt when speech starts (``bargeIn``, "Stop playing media upon
speech", on by default in twilio-python's ``Gather``). The sentence is the first phrase,
in their language, of the node they would ask for (``Routes.spoken_target``: their
target, or the deepest node on the way to it that the menu lets them ask for), keywords
joined as spoken; it goes through the real flow (``CallEvent.speech``, confidence 0.9),
so a sentence the tree does not understand is asked again and then keyed. A
confirmation they answer with 1; the keypad menu, and every other menu, they key.

With incident notices (``ivr tune --notice``; ``ivr.flow.notices``), the flow says them as a
call would, and the ``answers`` share of the callers who hear one (drawn apart from their
own stream, as speakers are) hang up once it has been said: *deflected*. A caller offered
a callback instead of a queue that an emergency switch turned off takes it: *callback*.

With known callers (``ivr tune --repeat-callers``; ``ivr.records.known``), the ``repeat``
share of the callers whose target names an issue (self-service aside) called about it the
day before (drawn apart from their own stream, as speakers are): the flow offers them the
way back to it after the language, and they press 1 once the offer has been said.

Time is the sum of what they hear (``ivr.tuning.clock``) and their key presses (or their
sentence, said at the caller's speaking rate, and the pause that ends it), plus the
Gather's time-out where they wait for it. A call ends *routed* (enqueued in the target's
queue, or its self-service heard), *misrouted* (enqueued in another queue) or *dropped*.

Speed: the simulation backend keeps no state (``ivr.tuning.simbackend``), so a step is a
pure function of the inputs so far: each distinct history is run through ``flow.step``
once and kept in a trie with its timings, and every caller who makes it replays it.
"""

from __future__ import annotations

import logging
import multiprocessing
import random
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ivr.flow.call import Ask, CallEvent, CallState, Step
from ivr.flow.caller import step as flow_step
from ivr.flow.notices import NOTICE_KEY, Notice
from ivr.flow.prompts import Catalog
from ivr.flow.services import Services
from ivr.flow.speech import joiner
from ivr.menu.model import Kind, Menu, Node, Option, topic_of
from ivr.tuning import simbackend as sim
from ivr.tuning.clock import AUTO_SPEECH_END_S, KEY_S, RECORD_S, Durations
from ivr.tuning.mix import Mix, draw
from ivr.tuning.routes import Routes, build, language_option

log = logging.getLogger(__name__)

ROUTED, MISROUTED, DROPPED, DEFLECTED, CALLBACK = 0, 1, 2, 3, 4
LISTEN, BARGE, MEMORY = "listen", "barge_in", "returning"
MAX_STEPS = 60  # a caller going round in circles this long is counted as dropped
SID = "CAsimulated"
_DIGITS = "0123456789"
#: what the simulated recogniser is sure of a speaker's sentence (Twilio's Confidence)
CONFIDENCE = 0.9
#: the utterances inviting speech: a speaker starts when one has been said
INVITATIONS = ("speech_intro", "speech_reask")
_MASK64 = (1 << 64) - 1
#: whether a notice answers a caller is drawn apart from whether they speak
_NOTICE_SALT = 0x5EED_0F_2022
#: and whether they called lately about the same need apart from both
_KNOWN_SALT = 0x5EED_0F_2026

#: (outcome, seconds to route (None: not routed), seconds in the IVR, contained in
#: self-service, spoke at a speech menu, the queue it was enqueued in, heard a notice);
#: None rather than nan, so that results compare equal across processes
Result = tuple[int, float | None, float, bool, bool, str | None, bool]
#: the key a returning caller remembers, per (menu, language, target), from the live tree
Memory = Mapping[tuple[str, str, str], str]


@dataclass(frozen=True, slots=True)
class Caller:
    """One simulated caller."""

    index: int
    lang: str
    target: str
    kind: str
    patience_s: float
    phone: str
    #: says what they need at menus taking speech
    speaks: bool = False
    #: in [0, 1): a notice they hear answers them when this is under its ``answers`` share
    settled: float = 1.0
    #: in [0, 1): they called lately about the same need (a known caller, offered the way
    #: back to it) when this is under the run's ``repeat`` share
    known: float = 1.0


def caller(mix: Mix, rng: random.Random, index: int, seed: int = 0) -> Caller:
    """Caller ``index`` of the mix, drawn from ``rng`` (its own stream); whether they
    speak apart from it (from ``seed`` and ``index`` alone)."""
    lang = draw(mix.languages, rng.random())
    target = draw(mix.reasons[lang], rng.random())
    u = rng.random()
    kind = BARGE if u < mix.barge_in else MEMORY if u < mix.barge_in + mix.returning else LISTEN
    patience = mix.patience.draw(rng.random() or 1e-12)
    phone = sim.REGISTERED if rng.random() < mix.registered else sim.UNREGISTERED
    share = mix.speaks(lang)
    speaks = share > 0 and _unit((seed << 40) | index) < share
    settled = _unit(((seed << 40) | index) ^ _NOTICE_SALT)
    known = _unit(((seed << 40) | index) ^ _KNOWN_SALT)
    return Caller(index, lang, target, kind, patience, phone, speaks, settled, known)


def _unit(x: int) -> float:
    """A number in [0, 1) drawn from ``x`` alone (splitmix64's finaliser): whether a caller
    speaks, apart from their own stream, at a fraction of the cost of seeding another."""
    z = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return ((z ^ (z >> 31)) >> 11) / (1 << 53)


def stream(seed: int, index: int) -> random.Random:
    """Caller ``index``'s own random stream for ``seed``."""
    return random.Random((seed << 40) | index)


def remembered(routes: Routes, mix: Mix) -> dict[tuple[str, str, str], str]:
    """The keys returning callers press from memory: those of the live tree."""
    found = {}
    for lang, target, _ in mix.classes():
        for node, option in routes.path(target, lang):
            found[(node.id, lang, target)] = option.key
    return found


class _Turn:
    """A step as the trie keeps it: the flow's answer and when each thing is heard."""

    __slots__ = ("step", "say_s", "press_at", "speak_at", "until_result", "walked", "children",
                 "notice_said_at")

    def __init__(self, step: Step, durations: Durations) -> None:
        self.step = step
        #: by (node, keys, sentence): the turns that follow
        self.children: dict[tuple[str, str, str], _Turn] = {}
        self.press_at: dict[str, float] = {}
        speak_at: float | None = None
        elapsed = 0.0
        last = 0.0
        #: when the last notice of the step has been said (None: the step says none)
        self.notice_said_at: float | None = None
        for u in step.say:
            last = durations(u)
            elapsed += last
            if u.key == NOTICE_KEY:
                self.notice_said_at = elapsed
            if u.key.startswith("press_"):
                self.press_at[u.key[6:]] = elapsed
            elif speak_at is None and u.key in INVITATIONS:
                speak_at = elapsed
        self.say_s = elapsed
        #: when a speaker starts: once invited, else when all is said
        self.speak_at = elapsed if speak_at is None else speak_at
        # a self-service answer is heard before the offer of an agent that follows it
        self.until_result = elapsed - last if step.say and \
            step.say[-1].key.startswith("service_options") else elapsed
        self.walked = frozenset(step.walked)


@dataclass
class Tree:
    """One tree as callers run through it."""

    menu: Menu
    catalog: Catalog
    durations: Durations
    memory: Memory
    memo: bool = True
    #: the incident notices the flow says, and the share of their hearers they answer
    notices: tuple[Notice, ...] = ()
    answers: float = 0.0
    #: the share of callers who called lately about the same need (``known_issue``)
    repeat: float = 0.0
    routes: Routes = field(init=False)
    services: Services = field(init=False)
    roots: dict[str, _Turn] = field(init=False, default_factory=dict)
    service_targets: set[str] = field(init=False, default_factory=set)
    #: the menus choosing the language, and each menu's option to the fallback queue:
    #: looked up once per tree rather than at every menu of every call
    language_menus: set[str] = field(init=False, default_factory=set)
    fallback_option: dict[str, Option | None] = field(init=False, default_factory=dict)
    #: per (speech menu, target, language): what a speaker says there (None: nothing)
    sentences: dict[tuple[str, str, str], str | None] = field(init=False, default_factory=dict)
    #: per target a known caller may have called about, its issue's index in ``issues``
    known_issue: dict[str, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.routes = build(self.menu)
        nodes = self.menu.nodes.values()
        issues = sorted({n.issue for n in nodes if n.issue and topic_of(self.menu, n.issue)})
        self.known_issue = {n.id: issues.index(n.issue) for n in nodes if n.issue in issues
                            and n.kind is not Kind.SERVICE}
        self.services = sim.services(self.catalog, self.notices,
                                     tuple(issues) if self.repeat > 0 else ())
        self.service_targets = {n.id for n in nodes if n.kind is Kind.SERVICE}
        menus = [n for n in nodes if n.kind is Kind.MENU]
        self.language_menus = {n.id for n in menus if any(o.lang for o in n.options)}
        self.fallback_option = {n.id: next((o for o in n.options if o.goto == self.menu.fallback),
                                           None) for n in menus}

    def _start(self, phone: str) -> _Turn:
        root = self.roots.get(phone) if self.memo else None
        if root is None:
            state = CallState(SID, phone, sim.TO_NUMBER, lang=self.catalog.default_lang, turn=1)
            event = CallEvent(SID, "start", from_number=phone, to_number=sim.TO_NUMBER)
            root = _Turn(flow_step(self.menu, state, event, self.services), self.durations)
            if self.memo:
                self.roots[phone] = root
        return root

    def _next(self, turn: _Turn, ask: Ask, digits: str, sentence: str = "") -> _Turn:
        child = turn.children.get((ask.node, digits, sentence)) if self.memo else None
        if child is None:
            recorded = ask.kind == "record"
            event = CallEvent(SID, "input", node=ask.node, digits=None if sentence else digits,
                              speech=sentence or None,
                              confidence=CONFIDENCE if sentence else None,
                              recording_url="https://sim.invalid/rec" if recorded else None,
                              recording_duration_s=int(RECORD_S) if recorded else None,
                              from_number=turn.step.state.from_number, to_number=sim.TO_NUMBER)
            child = _Turn(flow_step(self.menu, turn.step.state, event, self.services),
                          self.durations)
            if self.memo:
                turn.children[(ask.node, digits, sentence)] = child
        return child

    def sentence(self, menu_id: str, target: str, lang: str) -> str | None:
        """What a speaker needing ``target`` says at the speech menu ``menu_id``."""
        key = (menu_id, target, lang)
        if key not in self.sentences:
            asked = self.routes.spoken_target(menu_id, target, lang)
            phrase = self.menu.nodes[asked].phrases[lang][0] if asked else None
            self.sentences[key] = joiner(lang).join(phrase.split()) if phrase else None
        return self.sentences[key]

    def is_known(self, who: Caller) -> bool:
        """Whether ``who`` called lately about the need they call about now: a share of
        the callers whose target names an issue (self-service aside, which they would
        have heard last time), offered the way back to it after the language."""
        return who.known < self.repeat and who.target in self.known_issue

    def call(self, who: Caller, rng: random.Random, wrong_key: float) -> Result:
        """One whole call of ``who`` (``rng``: the rest of their stream)."""
        phone = who.phone
        if self.is_known(who):
            phone = sim.known_phone(phone == sim.REGISTERED, self.known_issue[who.target])
        turn = self._start(phone)
        target, patience = who.target, who.patience_s
        want_queue = self.routes.queue.get(target)
        self_service = target in self.service_targets
        settled = who.settled < self.answers
        elapsed = 0.0
        pressed_at_once: set[str] = set()
        spoke = heard = False
        for _ in range(MAX_STEPS):
            step = turn.step
            if turn.notice_said_at is not None:
                heard = True
                if settled:  # the notice was all they needed
                    done = elapsed + turn.notice_said_at
                    return (DEFLECTED, None, done, False, spoke, None, True) if done <= patience \
                        else (DROPPED, None, patience, False, spoke, None, True)
            if self_service and target in turn.walked:
                done = elapsed + turn.until_result
                return (ROUTED, done, done, True, spoke, None, heard) if done <= patience else \
                    (DROPPED, None, patience, False, spoke, None, heard)
            if step.enqueue or step.hangup or step.ask is None:
                done = elapsed + turn.say_s
                if done > patience:
                    return DROPPED, None, patience, False, spoke, None, heard
                if step.enqueue and step.enqueue == want_queue:
                    return ROUTED, done, done, False, spoke, step.enqueue, heard
                if step.state.data.get("callback"):
                    return CALLBACK, None, done, False, spoke, None, heard
                return (MISROUTED if step.enqueue else DROPPED), None, done, False, spoke, \
                    step.enqueue, heard
            ask = step.ask
            sentence, at = self._spoken(who, turn, ask, rng, pressed_at_once)
            if sentence:
                spoke = True
                elapsed += at + self.durations.speaking(who.lang, sentence)
                digits = ""
            else:
                digits, wait = self._answer(who, turn, ask, rng, wrong_key, pressed_at_once)
                elapsed += wait + KEY_S * len(digits)
            if elapsed > patience:
                return DROPPED, None, patience, False, spoke, None, heard
            turn = self._next(turn, ask, digits, sentence or "")
        return DROPPED, None, elapsed, False, spoke, None, heard

    def _spoken(self, who: Caller, turn: _Turn, ask: Ask, rng: random.Random,
                pressed_at_once: set[str]) -> tuple[str | None, float]:
        """A speaker's sentence at a Gather listening for speech (None: keys) and when
        they start: once invited, or at once the first time for a caller who knows the
        line (barge-in, returning), as they would press."""
        if not (who.speaks and ask.listen) or turn.step.state.substep == "confirm":
            return None, 0.0  # a confirmation (which listens too) they answer with 1
        sentence = self.sentence(ask.node, who.target, who.lang)
        if not sentence:
            return None, 0.0
        rng.random(), rng.random()  # as ``_choose`` draws at every menu: streams paired
        if who.kind != LISTEN and ask.node not in pressed_at_once:
            pressed_at_once.add(ask.node)
            return sentence, 0.0
        return sentence, turn.speak_at

    def _answer(self, who: Caller, turn: _Turn, ask: Ask, rng: random.Random,
                wrong_key: float, pressed_at_once: set[str]) -> tuple[str, float]:
        """The keys the caller presses at ``ask`` and how long after the step began."""
        node = self.menu.nodes[ask.node]
        kind, heard = node.kind, turn.say_s
        if kind is Kind.MENU and turn.step.state.substep == "confirm":
            return "1", heard  # the match of what they said, confirmed
        if turn.step.state.substep == "returning":  # offered their own last need: 1
            return "1", heard
        if kind is Kind.MENU:
            return self._choose(who, turn, node, rng, wrong_key, pressed_at_once)
        if kind is Kind.VERIFY:
            sub = turn.step.state.substep
            return ("1" if sub == "callerid" else f"{sim.PIN}#" if sub == "pin"
                    else f"{sim.ACCOUNT}#"), heard
        if kind is Kind.PREPARE:
            return "1", heard
        if kind is Kind.COLLECT:
            return {"date": sim.DATE_ENTRY, "amount": sim.AMOUNT_ENTRY}.get(
                node.format or "", f"{sim.TICKET}#"), heard
        if kind is Kind.RECORD:
            return "#", heard + RECORD_S
        if kind is Kind.SERVICE:
            return "0", heard
        if kind is Kind.QUEUE and turn.step.state.substep == "emergency":
            return "1", heard  # the queue is switched off: a callback
        if kind is Kind.QUEUE:
            return "3", heard  # an offer while queueing: keep waiting
        return "", heard + ask.timeout_s

    def _choose(self, who: Caller, turn: _Turn, node: Node, rng: random.Random,
                wrong_key: float, pressed_at_once: set[str]) -> tuple[str, float]:
        menu_id = node.id
        slip, which = rng.random(), rng.random()  # drawn at every menu: the streams stay paired
        langs = menu_id in self.language_menus
        option = language_option(node, who.lang) if langs else \
            self.routes.option(menu_id, who.target)
        if option is None:
            if langs:  # no key for their language: the time-out's default
                return "", turn.say_s + (node.timeout_s or self.menu.timeout_s)
            if node.back:
                return "9", turn.say_s
            out = self.fallback_option[menu_id]
            if out is not None:
                return out.key, turn.press_at.get(out.key, turn.say_s)
            return "", turn.say_s + (node.timeout_s or self.menu.timeout_s)
        key, at = option.key, turn.press_at.get(option.key, turn.say_s)
        if who.kind != LISTEN and menu_id not in pressed_at_once:
            pressed_at_once.add(menu_id)
            if who.kind == BARGE:
                at = 0.0
            else:
                memory = self.memory.get((menu_id, who.lang, who.target))
                if memory is not None:
                    key, at = memory, 0.0
        if slip < wrong_key:
            others = _DIGITS.replace(key, "")
            key = others[int(which * len(others))]
        return key, at


@dataclass(frozen=True)
class Spec:
    """What a worker needs to run a tree (picklable)."""

    menu: Menu
    catalog: Catalog
    audio_dir: str | None
    voices: Mapping[str, Mapping[str, Any]]
    memory: Memory
    memo: bool = True
    speech_end_s: float = AUTO_SPEECH_END_S
    notices: tuple[Notice, ...] = ()
    answers: float = 0.0
    repeat: float = 0.0

    def tree(self) -> Tree:
        return Tree(self.menu, self.catalog,
                    Durations(self.audio_dir, self.voices, self.speech_end_s), self.memory,
                    self.memo, self.notices, self.answers, self.repeat)


def run_chunk(specs: tuple[Spec, ...], mix: Mix, seed: int, start: int, stop: int
              ) -> list[list[Result]]:
    """Callers ``start`` to ``stop`` through every tree, the same callers through each."""
    trees = [s.tree() for s in specs]
    out: list[list[Result]] = [[] for _ in trees]
    wrong = mix.wrong_key
    for index in range(start, stop):
        for tree, results in zip(trees, out, strict=True):
            rng = stream(seed, index)
            who = caller(mix, rng, index, seed)
            results.append(tree.call(who, rng, wrong))
    return out


def run(specs: tuple[Spec, ...], mix: Mix, calls: int, seed: int = 0, workers: int = 1
        ) -> list[list[Result]]:
    """``calls`` callers through each tree; per tree, one result per caller, in order."""
    if workers <= 1 or calls < 2 * workers:
        return run_chunk(specs, mix, seed, 0, calls)
    bounds = [calls * w // workers for w in range(workers + 1)]
    out: list[list[Result]] = [[] for _ in specs]
    # spawned, not forked: a fork of a process running threads may deadlock (and warns)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = pool.map(run_chunk, *zip(*[(specs, mix, seed, a, b)
                                           for a, b in zip(bounds, bounds[1:], strict=False)],
                                         strict=True))
        for part in parts:
            for results, more in zip(out, part, strict=True):
                results.extend(more)
    return out
