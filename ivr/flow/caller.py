"""The call flow: ``step(menu, state, event, services) -> Step``. No Flask, no Twilio.

Each webhook is one ``step``: the caller's input is handled at the node the call is on,
then the flow walks through nodes that need no input (say, verified pass-through,
self-service without options) until it must ask, enqueue or hang up. The wallet backend,
the lockout book and the queue model are passed in (``ivr.flow.services.Services``), so the
flow is deterministic for a given backend and clock, and tests run it against the real
SQLite implementations.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ivr.flow import complaints, hours, notices, spoken, survey, texts
from ivr.flow.call import Ask, CallEvent, CallState, Heard, LiveQueue, Step, Utterance
from ivr.flow.services import Lock, QueueModel, Services, Ticket, mask
from ivr.flow.speech import YES_NO_HINTS, agrees, listener
from ivr.menu.model import Kind, Menu, Node, Option, spoken_pieces, takes_speech, topic_of
from ivr.menu.phrases import family
from ivr.phone import callable_number

log = logging.getLogger(__name__)

#: CallState's fields in order, for ``_Turn.update``
_STATE_FIELDS = tuple(f.name for f in fields(CallState))
MAX_HOPS = 50  # a walk through more nodes than this without input is a loop in the tree
#: the prompts ending in a hand-off ("let me put you through to ..."), and their words
#: without it, said when that team answers no one now (``_Turn.handing_over``)
HANDOVERS = {key: f"{key}_closed" for key in (
    "too_many_failures", "apology", "verify_locked", "verify_locked_support", "verify_frozen",
    "complaint_lookups_limit")}
#: the shortest time scale of a wait estimate: below it a wait told as "under a minute"
#: would give way to the live queue at the first second of holding
MIN_HORIZON_S = 60.0


@dataclass(frozen=True, slots=True)
class Wait:
    """A caller's expected wait, and whether the live queue carries it (so that their place
    in it may be said alongside without the two contradicting each other)."""

    seconds: float
    by_queue: bool = False


def estimate_wait(model: QueueModel, queue: str, now: datetime, live: LiveQueue | None = None,
                  told_s: float | None = None) -> Wait:
    """The one wait estimate a caller hears, on arrival and in the wait loop.

    On arrival (no ``live`` queue yet) it is the model's forecast for the hour (Erlang A:
    a caller who holds on). In the wait loop it starts from what the caller was told
    (``told_s``, else the forecast when they joined) less the time they have waited, and
    follows the live queue Twilio reports: the model's service rate applied to the callers
    ahead. More callers ahead than that remainder allows is a fact and is said at once; a
    shorter queue than the forecast (often one that formed seconds ago) is believed as the
    caller's own wait and the queue's average wait (AvgQueueTime) grow against the told
    wait, so one announcement does not contradict the one before.
    """
    if live is None:
        return Wait(model.expected_wait_s(queue, now))
    waited = float(live.waited_s)
    if told_s is None:
        told_s = model.expected_wait_s(queue, now - timedelta(seconds=waited))
    left = max(0.0, told_s - waited)
    if live.position < 1:
        return Wait(left)
    ahead = live.position - 1
    pace = model.expected_wait_s(queue, now, callers_ahead=ahead)
    if math.isinf(left) or (ahead and pace >= left):
        return Wait(pace, by_queue=True)
    evidence = max(waited, float(live.avg_wait_s))
    weight = evidence / (evidence + max(told_s, MIN_HORIZON_S))
    wait_s = left + weight * (pace - left)
    # the place is said with a wait near the one it implies, never with "next in line" and
    # "about 27 minutes" together
    return Wait(wait_s, by_queue=abs(wait_s - pace) <= max(MIN_HORIZON_S, pace / 4))


def parse_entry(fmt: str, digits: str, today: date) -> str | None:
    """A keypad entry in the node's format, normalised; None when it is not valid."""
    digits = digits.rstrip("#")
    if fmt == "date":
        if not re.fullmatch(r"\d{8}", digits):
            return None
        try:
            day = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            return None
        return day.isoformat() if today - timedelta(days=3660) <= day <= today else None
    if fmt == "amount":
        if not re.fullmatch(r"\d{1,7}(\*\d{1,2})?", digits):
            return None
        try:
            amount = Decimal(digits.replace("*", "."))
        except InvalidOperation:  # pragma: no cover - the pattern rules it out
            return None
        return f"{amount:.2f}" if amount > 0 else None
    return digits if re.fullmatch(r"\d{4,20}", digits) else None


class _Turn:
    """One webhook's worth of work: the state as it changes and what the caller hears."""

    def __init__(self, menu: Menu, state: CallState, services: Services) -> None:
        self.menu, self.state, self.svc = menu, state, services
        self.said: list[Utterance] = []
        self.logged: str | None = None
        #: what the call records of this step (``Step.choice``, ``walked``, ``fell_back``)
        self.choice: str | None = None
        self.walked: list[str] = []
        self.fell_back = False
        self.heard: Heard | None = None
        #: the notices said during this step (``Step.notices``)
        self.told: list[int] = []

    # -- speaking and answering -------------------------------------------------------
    def utter(self, key: str, **values: Any) -> Utterance:
        return self.svc.catalog.utterance(self.state.lang, key, **values)

    def say(self, key: str, **values: Any) -> None:
        self.said.append(self.utter(key, **values))

    def utter_for(self, node: Node, key: str) -> list[Utterance]:
        """A prompt of ``node``: in the call's language, or, where the node's options choose
        the language, once in each of them, from its own catalog and in its own voice."""
        catalog = self.svc.catalog
        langs = list(dict.fromkeys(o.lang for o in node.options
                                   if o.lang and o.lang in catalog.languages))
        if not langs:
            return [self.utter(key)]
        return [Utterance(key, catalog.text(lang, key), lang) for lang in langs]

    def menu_words(self, node: Node) -> list[Utterance]:
        """A menu spoken from its options' phrases (``spoken_pieces``), in the order the
        tree writes them: so the spoken order is data (``ivr tune`` reorders it) and each
        piece is static text the audio build renders once. An option that is a queue no
        agent answers now ("for an agent, press 0") is not offered (its key still tells
        the hours)."""
        unmanned = frozenset(o.key for o in node.options
                             if hours.unmanned(self.menu, self.svc.queues, o.goto, self.svc.now))
        return [self.utter(key) for _, key in spoken_pieces(node, unmanned)]

    def announce(self, key: str, target: str) -> None:
        """Say a hand-off ("let me put you through to ...") that names ``target``'s team, so
        that node does not announce the same hand-off again."""
        self.say(self.handing_over(key, target))
        self.update(data={**self.state.data, "announced": target})

    def handing_over(self, key: str, target: str) -> str:
        """``key``, a reason and "let me put you through to ...", or, when no one of that
        team answers now (away, or switched off), its ``_closed`` words: the reason alone,
        since the queue says at once that it is closed and what the caller can do, and a
        hand-off before "this line is closed" is one the caller never gets."""
        queue = self.menu.nodes.get(self.queue_after(target) or "")
        if queue is None or not HANDOVERS.get(key):
            return key
        name = queue.queue or "general"
        if hours.shut(self.menu, self.svc.queues, name, self.svc.now) or \
                notices.switch_for(self.svc.notices, name) is not None:
            return HANDOVERS[key]
        return key

    def done(self, **answer: Any) -> Step:
        return Step(self.state, tuple(self.said), logged_input=self.logged,
                    choice=self.choice, walked=tuple(self.walked), fell_back=self.fell_back,
                    heard=self.heard, notices=tuple(self.told), **answer)

    def chose(self, choice: str) -> None:
        """Record what the input meant (the first meaning given stands: a wrong key that
        ends in the fallback stays ``invalid``)."""
        if self.choice is None:
            self.choice = choice

    def update(self, **changes: Any) -> None:
        # by hand, not dataclasses.replace: the flow changes the state several times a
        # step, and replace's checks were a third of a step's time (``ivr tune --fresh``)
        state = self.state
        self.state = CallState(*[changes[name] if name in changes else getattr(state, name)
                                 for name in _STATE_FIELDS])

    def ask(self, node: Node, *prompts: Utterance, **spec: Any) -> Step:
        self.said += prompts
        timeout = node.timeout_s or self.menu.timeout_s
        return self.done(ask=Ask(node=node.id, timeout_s=timeout, **spec))

    # -- moving through the tree ------------------------------------------------------
    def goto(self, node_id: str) -> Step:
        for _ in range(MAX_HOPS):
            node = self.menu.nodes[node_id]
            changes: dict[str, Any] = {"failures": 0, "substep": ""}
            if node.issue:  # the topic chosen, even when verification comes first
                changes["issue"] = node.issue
            ahead = self.switched_ahead(node)
            if ahead is node:
                ahead = hours.closed_ahead(self.menu, self.svc.queues, node, self.svc.now) or node
            if ahead is not node:  # switched off or away: told before any effort for it
                node = ahead
            elif node.verified and not self.state.verified:
                changes["resume"] = node_id
                node = self.menu.nodes[self.menu.verify]
                if node.issue:
                    changes["issue"] = node.issue
            changes["node"] = node.id
            data = self.state.data
            if data.get("announced") not in (None, node.id):
                changes["data"] = {k: v for k, v in data.items() if k != "announced"}
            self.update(**changes)
            self.walked.append(node.id)
            self.tell_notices(self.menu.nodes[node_id], node)
            nxt = self.enter(node)
            if isinstance(nxt, Step):
                return nxt
            node_id = nxt
        log.error("call %s: no input needed for %d hops from %s", self.state.call_sid,
                  MAX_HOPS, node_id)
        return self.to_fallback("apology")

    def to_fallback(self, prompt: str, node: Node | None = None) -> Step:
        target = (node.fallback if node else None) or self.menu.fallback
        self.fell_back = True
        if target == self.menu.fallback:  # "let me put you through to an agent": that one
            self.announce(prompt, target)
        else:  # another team, whose own words say which
            self.say(self.handing_over(prompt, target))
        return self.goto(target)

    def enter(self, node: Node) -> Step | str:
        """Speak a node on arrival: a Step when it waits or ends, else the next node id."""
        kind = node.kind
        if node.id == self.menu.main and "returning" not in self.state.data:
            self.offer_return()
        if kind is Kind.SAY:
            self.say(node.prompt or "")
            return node.next or self.menu.main
        if kind is Kind.HANGUP:
            self.say(node.prompt or "")
            return self.done(hangup=True)
        if kind is Kind.QUEUE:
            return self.switched(node) or self.arrive_at_queue(node)
        if kind is Kind.VERIFY and self.state.verified:
            return self.after_verify(node)
        if kind is Kind.SERVICE:
            if node.action == "complaint_status" and \
                    self.state.data.get("lookups", 0) >= self.svc.lookups_per_call:
                # ticket numbers are not to be guessed
                target = node.next or self.menu.fallback
                self.announce("complaint_lookups_limit", target)
                return target
            result = self.service(node)
            if not node.agent:
                self.said += result
                return node.next or self.menu.main
            self.update(replay=tuple(result))
        return self.reask(node)

    def reask(self, node: Node) -> Step:
        """Ask again what the node asks, without running its side effects again."""
        kind, state = node.kind, self.state
        if state.substep == "returning":  # "Last time, you called about" + topic + keys
            topic = self.menu.nodes[str(state.data["returning"])]
            return self.ask(node, self.utter("returning_ask"), self.utter(topic.topic or ""),
                            self.utter("returning_keys"), num_digits=1)
        if kind is Kind.MENU:
            words = self.menu_words(node) if node.spoken_options else \
                self.utter_for(node, node.prompt or "")
            if self.listens(node):
                return self.ask_by_voice(node, words)
            return self.ask(node, *words, num_digits=1)
        if kind is Kind.PREPARE:
            return self.ask(node, self.utter(node.prompt or ""), self.utter("prepare_ready"),
                            num_digits=1)
        if kind is Kind.COLLECT:
            if node.format == "date":
                return self.ask(node, self.utter(node.prompt or ""), num_digits=8)
            return self.ask(node, self.utter(node.prompt or ""), finish_on_key="#")
        if kind is Kind.RECORD:
            return self.ask(node, self.utter(node.prompt or ""), kind="record",
                            max_length_s=node.max_length_s, finish_on_key="#")
        if kind is Kind.SERVICE:
            after = self.queue_after(node.next) if node.next else None
            # no "for an agent, press 0" while none answers: 0 tells when they are back
            options = "service_options_closed" if after and hours.unmanned(
                self.menu, self.svc.queues, after, self.svc.now) else "service_options"
            return self.ask(node, *state.replay, self.utter(options), num_digits=1)
        if kind is Kind.QUEUE and state.substep == "emergency":
            return self.ask(node, self.utter(self.emergency_offer(node)), num_digits=1)
        if kind is Kind.QUEUE:
            offer = {"closed": "closed_offer", "team_closed": "team_closed_offer"}.get(
                state.substep, "wait_offer")
            if not callable_number(state.from_number):  # cannot be called back
                offer += "_withheld"
            return self.ask(node, self.utter(offer), num_digits=1)
        # verify
        if state.substep == "":
            candidate = self.svc.wallet.account_for_phone(state.from_number)
            self.update(substep="account", data={**state.data, "candidate": candidate})
            if candidate:
                self.update(substep="callerid")
        if self.state.substep == "callerid":
            # no digit of the account before verification: caller IDs can be spoofed
            return self.ask(node, self.utter("verify_callerid"), num_digits=1)
        if self.state.substep == "pin":
            return self.ask(node, self.utter("verify_pin"), finish_on_key="#", num_digits=6)
        return self.ask(node, self.utter("verify_account"), self.utter("verify_account_unknown"),
                        finish_on_key="#")

    # -- speech menus ------------------------------------------------------------------
    def listens(self, node: Node) -> bool:
        """Whether the menu takes speech for this caller: a speech menu, in a language a
        recogniser is set for (else keys only, and no invitation to speak)."""
        listens = self.svc.listens
        return takes_speech(self.menu, node) and (listens is None or self.state.lang in listens)

    def ask_by_voice(self, node: Node, words: list[Utterance]) -> Step:
        """A speech menu's question, by where the caller is in it (``substep``): first the
        invitation to say it, then the menu, keys and speech in one Gather; after words
        that matched nothing, once more in other words; a weak match, confirmed by a key or
        a spoken yes or no; then the keypad menu alone."""
        substep = self.state.substep
        if substep == "confirm":  # a key, or a spoken yes or no (callers answer "对")
            target = self.menu.nodes[str(self.state.data.get("speech_target"))]
            return self.ask(node, self.utter("speech_confirm"), self.utter(target.topic or ""),
                            self.utter("speech_confirm_keys"), num_digits=1, listen=True,
                            hints=YES_NO_HINTS[family(self.state.lang)])
        if substep == "keypad":
            return self.ask(node, *words, num_digits=1)
        hints = listener(self.menu).hints(node, self.state.lang)
        if substep == "reask":
            return self.ask(node, self.utter("speech_reask"), num_digits=1, listen=True,
                            hints=hints)
        return self.ask(node, self.utter("speech_intro"), *words, num_digits=1, listen=True,
                        hints=hints)

    def by_voice(self, node: Node, event: CallEvent) -> Step | None:
        """A speech menu's answer that is not a key of the menu: spoken words, or the key
        answering a confirmation; None for keys the menu handles as any other."""
        digits = event.digits or ""
        if self.state.substep == "confirm":
            if event.speech and not digits:
                self.logged = "(speech)"  # never the words
                said = agrees(event.speech, self.state.lang, event.confidence)
                return self.confirmation(node, {True: "1", False: "2", None: "?"}[said])
            return self.confirmation(node, digits)
        if event.speech and not digits and self.state.substep in ("", "reask"):
            self.logged = "(speech)"  # never the words
            return self.hear(node, event.speech, event.confidence)
        return None

    def hear(self, node: Node, said: str, confidence: float | None) -> Step:
        """Route by what was said: a clear match goes there, however deep; a weak or tied
        one is confirmed; no match is asked once more, then the keypad menu."""
        understood = listener(self.menu).understand(node, self.state.lang, said, confidence)
        target, score = understood.target, understood.score
        self.chose("speech")
        if understood.decision == "route" and target:
            self.heard = Heard("matched", target, score, confidence)
            return self.goto(target)
        if understood.decision == "confirm" and target:
            self.heard = Heard("confirm", target, score, confidence)
            self.update(substep="confirm", data={**self.state.data, "speech_target": target})
            return self.reask(node)
        if self.state.substep == "":
            self.heard = Heard("unmatched", None, score, confidence)
            self.update(substep="reask")
            return self.reask(node)
        self.heard = Heard("keypad", None, score, confidence)
        return self.to_keypad(node)

    def confirmation(self, node: Node, digits: str) -> Step:
        """1 (or a spoken yes): the match was right, on to it; anything else: the keypad
        menu."""
        target = str(self.state.data.get("speech_target", ""))
        self.update(data={k: v for k, v in self.state.data.items() if k != "speech_target"})
        if digits[:1] == "1" and target in self.menu.nodes:
            self.chose("confirmed")
            self.heard = Heard("confirmed", target)
            return self.goto(target)
        self.chose("declined" if digits[:1] == "2" else "no_input" if not digits else "invalid")
        self.heard = Heard("declined", target)
        return self.to_keypad(node)

    def to_keypad(self, node: Node) -> Step:
        self.update(substep="keypad")
        self.say("speech_keypad")
        return self.reask(node)

    def fail(self, node: Node, prompt: str) -> Step:
        """No input or a wrong key: apologise and ask again, or give up to the fallback."""
        failures = self.state.failures + 1
        if failures >= self.menu.max_failures:
            if node.kind is Kind.VERIFY:  # the team of the caller's topic, unverified
                self.choice = "failed"
                return self.unverified(node, "verify_failed")
            return self.to_fallback("too_many_failures", node)
        self.update(failures=failures)
        self.said += self.utter_for(node, prompt)
        return self.reask(node)

    def take(self, option: Option) -> Step:
        if option.lang:
            self.update(lang=option.lang)
        return self.goto(option.goto)

    # -- handling input ---------------------------------------------------------------
    def handle(self, node: Node, event: CallEvent) -> Step:
        digits = event.digits or ""
        self.logged = digits
        kind = node.kind
        if self.state.substep == "returning":
            return self.returning_choice(node, digits)
        if kind is Kind.MENU and self.listens(node):
            spoken_answer = self.by_voice(node, event)
            if spoken_answer is not None:
                return spoken_answer
        if kind is Kind.VERIFY:
            return self.verify(node, digits)
        if kind is Kind.QUEUE:
            return self.queue_choice(node, digits)
        if kind is Kind.RECORD:
            if event.recording_url and (event.recording_duration_s or 0) > 0:
                self.chose("recorded")
                self.update(data={**self.state.data, "recording_url": event.recording_url,
                                  "recording_s": event.recording_duration_s})
                return self.goto(node.next or self.menu.fallback)
            self.chose("no_input")
            return self.fail(node, "record_missing")
        if not digits:
            self.chose("no_input")
            if isinstance(node.no_input, Option):
                return self.take(node.no_input)
            return self.fail(node, node.no_input if isinstance(node.no_input, str) else "no_input")
        if kind is Kind.COLLECT:
            value = parse_entry(node.format or "digits", digits, self.svc.now.date())
            if value is None:
                self.chose("invalid")
                return self.fail(node, "collect_invalid")
            self.chose("entered")
            self.update(data={**self.state.data, node.field or node.id: value})
            return self.goto(node.next or self.menu.fallback)
        key = digits[0]
        if key == "*" or (kind is Kind.PREPARE and key == "2"):
            self.chose("repeat")
            return self.reask(node)
        if kind is Kind.MENU:
            if node.back and key == "9":
                self.chose("back")
                return self.goto(node.back)
            option = node.option(key)
            if option is None:
                self.chose("invalid")
                return self.fail(node, node.invalid or "invalid_choice")
            self.chose(key)
            return self.take(option)
        if kind is Kind.PREPARE and key == "1":
            self.chose(key)
            return self.goto(node.next or self.menu.fallback)
        if kind is Kind.SERVICE and key == "0":
            self.chose(key)
            return self.goto(node.next or self.menu.fallback)
        if kind is Kind.SERVICE and key == "1" and node.dispute and \
                self.state.data.get("ticket_disputable"):
            self.chose("dispute")  # the result sent is not accepted: say why
            return self.goto(node.dispute)
        if kind is Kind.SERVICE and key == "1" and self.state.data.get("ticket_unknown"):
            entry = self.entry_before(node)
            if entry:  # the number was not found: type it again
                self.chose(key)
                return self.goto(entry)
        if kind is Kind.SERVICE and key == "9":
            self.chose("back")
            return self.goto(self.menu.main)
        self.chose("invalid")
        return self.fail(node, "invalid_choice")

    # -- a known caller's shortcut (``ivr.records.known``) -------------------------------
    def offer_return(self) -> None:
        """At the main menu, once a call: a caller whose number called lately about a need
        that went to a queue or a ticket is asked first whether they call about it again
        (``substep`` ``returning``). A withheld number is never looked up."""
        history, state = self.svc.history, self.state
        past = history.last_need(state.from_number, state.call_sid, self.svc.now) \
            if history is not None and callable_number(state.from_number) else None
        topic = topic_of(self.menu, past.issue) if past else None
        self.update(data={**state.data, "returning": topic.id if topic else ""})
        if topic is not None:
            self.update(substep="returning")

    def returning_choice(self, node: Node, digits: str) -> Step:
        """1: straight to the need's team; anything else, silence too: the menu itself."""
        topic = self.menu.nodes.get(str(self.state.data.get("returning", "")))
        self.update(substep="")
        if digits[:1] == "1" and topic is not None:
            self.chose("returning")
            return self.return_to(topic)
        self.chose("not_returning")
        return self.reask(node)

    def return_to(self, topic: Node) -> Step:
        """The shortcut taken: straight to the queue the topic leads to (the topic itself
        when it leads to none, as the fraud line's own verification), with the topic kept.

        Being known by number verifies nothing (a caller ID can be spoofed, and the last
        call's verification is not carried over): a topic that asks for verification
        reaches its team marked unverified, as a caller who skips verification does, and
        the agent verifies. A queue whose agents are away or switched off says so there.
        """
        target = self.menu.nodes[self.queue_after(topic.id) or topic.id]
        data = self.state.data
        if topic.verified and not self.state.verified and target is not topic:
            data = {**data, "unverified": True}
        self.update(issue=topic.issue or self.state.issue, data=data)
        self.tell_notices(topic)  # its branch's notices: the caller skips its menus
        return self.goto(target.id)

    # -- verification -----------------------------------------------------------------
    def after_verify(self, node: Node) -> str:
        target = node.next or self.state.resume or self.menu.main
        self.update(resume=None)
        return target

    def verify(self, node: Node, digits: str) -> Step:
        state = self.state
        if state.substep == "callerid":
            if digits[:1] == "1":
                self.chose("callerid")
                return self.start_pin(node, str(state.data["candidate"]))
            if digits[:1] == "2":
                self.chose("other_account")
                self.update(substep="account")
                return self.reask(node)
            self.chose("no_input" if not digits else "invalid")
            return self.fail(node, "no_input" if not digits else "invalid_choice")
        entry = digits.rstrip("#")
        if not entry:  # a time-out is not a wrong PIN or account
            self.logged = ""
            self.chose("no_input")
            return self.fail(node, "no_input")
        if entry.startswith("*"):
            # "I don't know my account number" or "... my PIN": straight on, unverified, not
            # a wrong try. Only # ends the Gather, so the words say "star, then hash"
            self.logged = "*"
            self.chose("skipped")
            return self.unverified(node, None)
        if state.substep == "pin":
            self.logged = "******"
            return self.check_pin(node, entry)
        if not re.fullmatch(rf"\d{{{self.svc.account_digits}}}", entry):
            # not an account number (often a PIN typed too early): neither looked up,
            # nor kept, nor logged
            self.logged = "*" * len(entry)
            return self.wrong(node, at_pin=False)
        self.logged = mask(entry)
        self.chose("account")
        return self.start_pin(node, entry)

    def start_pin(self, node: Node, account: str) -> Step:
        lock = self.svc.lockouts.locked(account, self.state.from_number, self.svc.now)
        if lock:
            return self.locked(node, lock)
        self.update(substep="pin", data={**self.state.data, "account": account})
        return self.reask(node)

    def check_pin(self, node: Node, pin: str) -> Step:
        """Check a PIN only inside a reservation of the lockout book (``ivr.records.lockouts``)."""
        account = str(self.state.data.get("account", ""))
        if not re.fullmatch(r"\d{6}", pin):  # cannot be right: not worth a check
            return self.wrong(node, at_pin=True)
        lockouts, wallet, now = self.svc.lockouts, self.svc.wallet, self.svc.now
        attempt = lockouts.reserve(account, self.state.from_number, now)
        if isinstance(attempt, Lock):
            return self.locked(node, attempt)
        right = wallet.check_pin(account, pin)
        lock = lockouts.settle(attempt, right, now)
        if lock:  # even a right PIN does not verify while locked
            return self.locked(node, lock)
        if not right:
            return self.wrong(node, at_pin=True)
        self.chose("verified")
        self.update(verified=True, account=account)
        if wallet.status(account) == "frozen":
            self.choice = "frozen"
            return self.locked_out(node, "verify_frozen")
        self.say("verify_ok")
        return self.goto(self.after_verify(node))

    def locked(self, node: Node, lock: Lock) -> Step:
        """Say how long verification by phone is locked; account security can still help."""
        self.choice = "locked"  # whatever the keys were: the lock is what happened
        if lock.in_flight:  # no lock to tell of: other checks of the account never settled
            return self.locked_out(node, "apology")
        left = lock.seconds_left(self.svc.now)
        if left is None:
            return self.locked_out(node, "verify_locked_support")
        return self.locked_out(node, "verify_locked", duration=spoken.duration(
            self.svc.catalog, self.state.lang, left))

    def locked_out(self, node: Node, prompt: str, **values: Any) -> Step:
        """Locked or frozen: say so and hand over to account security (``on_locked``)."""
        target = node.on_locked or self.menu.fallback
        self.say(self.handing_over(prompt, target), **values)
        if node.id == self.menu.verify:  # the gate's words name the team it hands over to
            self.update(data={**self.state.data, "announced": target})
        return self.goto(target)

    def unverified(self, node: Node, prompt: str | None) -> Step:
        """Give up verifying: on to the queue of the caller's topic, marked unverified.

        The topic is the node the caller was on the way to (through the tree's gate), whose
        queue is the first one its ``next`` chain reaches; a verify node of its own (fraud)
        or a topic without a queue goes to ``on_fail``.
        """
        resume = self.state.resume
        target = (self.queue_after(resume) if resume else None) or node.on_fail \
            or self.menu.fallback
        self.update(resume=None, data={**self.state.data, "unverified": True})
        if prompt:  # what went wrong; the queue's own words say where the caller goes
            self.say(prompt)
        return self.goto(target)

    def queue_after(self, node_id: str) -> str | None:
        """The queue node a node leads to by ``next``, if any."""
        for _ in range(MAX_HOPS):
            node = self.menu.nodes.get(node_id)
            if node is None:
                return None
            if node.kind is Kind.QUEUE:
                return node.id
            if not node.next:
                return None
            node_id = node.next
        return None

    def team_of(self, node: Node) -> str:
        """The team a node's work belongs to: the queue its ``next`` chain reaches (a
        complaint ticket is the complaints team's, whatever queue the call ends in)."""
        found = self.queue_after(node.next) if node.next else None
        return self.menu.nodes[found or self.menu.fallback].queue or "general"

    def entry_before(self, node: Node) -> str | None:
        """The ``collect`` node whose entry ``node`` acts on (the ticket number it looks up)."""
        return next((n.id for n in self.menu.nodes.values()
                     if n.kind is Kind.COLLECT and n.next == node.id), None)

    def wrong(self, node: Node, *, at_pin: bool) -> Step:
        tries = self.state.pin_tries + 1
        self.update(pin_tries=tries)
        if tries >= self.svc.pin_tries_per_call:
            self.choice = "failed"
            return self.unverified(node, "verify_failed")
        self.choice = "wrong"
        self.say("verify_wrong_pin")
        came_by_callerid = self.state.data.get("candidate") == self.state.data.get("account")
        self.update(substep="pin" if at_pin and came_by_callerid else "account")
        return self.reask(node)

    # -- queueing ---------------------------------------------------------------------
    def arrive_at_queue(self, node: Node) -> Step:
        """State the wait; when it is long, or the line closed, offer a callback first.

        Only the chosen queue's hours count: when its team is closed but the fallback queue
        (the agents for everything) is open, the caller may go there instead. When no agent
        answers, the caller hears the hours, the best times and what self-service does now,
        then may ask for a callback (a number that shows) or go to the main menu.
        """
        queue, model, now = node.queue or "general", self.svc.queues, self.svc.now
        self.update(queue=queue)
        if model is None:
            return self.enqueue(node, None)
        shut = hours.shut(self.menu, model, queue, now)
        if shut:
            opening = model.opening_hours(queue)
            cat, lang = self.svc.catalog, self.state.lang
            opens = spoken.moment(cat, lang, model.next_open(queue, now), now)
            spoken_hours = spoken.opening_hours(cat, lang, opening.always_open, opening.days)
            self.update(substep=shut)
            if shut == "team_closed":
                self.say("team_closed", opens=opens, hours=spoken_hours)
                return self.reask(node)
            self.say("queue_closed", opens=opens, hours=spoken_hours)
            self.say_best_times(queue)
            services = hours.self_service(cat, lang, self.menu)
            if services:  # what the caller can do without an agent
                self.say("closed_self_service", services=services)
            return self.reask(node)
        wait_s = estimate_wait(model, queue, now).seconds
        # what the caller is told is where the wait loop's estimate starts
        told = {**self.state.data, "wait_told_s": wait_s if math.isfinite(wait_s) else None}
        self.update(data=told)
        if wait_s > self.svc.wait_threshold_s:
            self.update(substep="offer")
            self.say("wait_estimate", wait=spoken.wait(self.svc.catalog, self.state.lang, wait_s))
            return self.reask(node)
        return self.enqueue(node, wait_s)

    def enqueue(self, node: Node, wait_s: float | None) -> Step:
        data = self.state.data
        if node.prompt and data.get("announced") != node.id:  # not announced twice
            self.say(node.prompt)
        if "announced" in data:
            self.update(data={k: v for k, v in data.items() if k != "announced"})
        if wait_s is not None and self.state.substep != "offer":
            self.say("wait_estimate", wait=spoken.wait(self.svc.catalog, self.state.lang, wait_s))
        self.update(substep="queued")
        return self.done(enqueue=node.queue)

    def say_best_times(self, queue: str) -> None:
        assert self.svc.queues is not None
        advice = self.svc.queues.advise(queue, self.svc.now)
        if advice.windows:
            self.say("best_times", windows=spoken.windows(self.svc.catalog, self.state.lang,
                                                          advice.windows, self.svc.now))

    def queue_choice(self, node: Node, digits: str) -> Step:
        """1 a callback, 2 the best times (offer only), anything else keeps waiting; at a
        closed line 9 the main menu, anything else goodbye."""
        if self.state.substep == "emergency":
            return self.emergency_choice(node, digits)
        key, closed = digits[:1], self.state.substep == "closed"
        self.chose(key if key in ("1", "2") or (closed and key == "9") else "wait")
        if key == "1":
            return book_callback(self, node.queue or "general")
        if self.state.substep == "team_closed":  # an agent now, with the topic kept
            return self.goto(self.menu.fallback)
        if closed and key == "9":  # self-service, which stays open
            return self.goto(self.menu.main)
        if closed:
            self.say("goodbye")
            return self.done(hangup=True)
        if key == "2":
            self.say_best_times(node.queue or "general")
            return self.reask(node)
        if self.state.substep == "full":
            # the queue refused the caller: trying it again at once would only loop, so
            # the general line takes them, or, when that is the full one, a callback does
            fallback = self.menu.nodes[self.menu.fallback]
            if fallback.queue != node.queue:
                return self.goto(fallback.id)
            return book_callback(self, node.queue or "general")
        return self.enqueue(node, None)

    # -- self-service -----------------------------------------------------------------
    def spoken_date(self, day: date) -> str:
        return spoken.day_date(self.svc.catalog, self.state.lang, day)

    def service(self, node: Node) -> list[Utterance]:
        """Run a self-service action once and return what it says."""
        wallet, state, now = self.svc.wallet, self.state, self.svc.now
        action, account = node.action, state.account
        if action == "topup_status" and account:
            topups = wallet.recent_topups(account, now - timedelta(days=7))
            pending = [t for t in topups if t.status in ("processing", "failed")]
            if not pending:
                return [self.utter("topup_none")]
            latest = max(pending, key=lambda t: t.created_at)
            key = "topup_processing" if latest.status == "processing" else "topup_failed"
            return [self.utter(key, amount=spoken.amount(self.svc.catalog, self.state.lang, latest.amount),
                               date=self.spoken_date(latest.created_at.date()))]
        if action == "freeze" and account:
            if state.data.get("froze"):  # once per call, whatever is replayed
                return [self.utter("freeze_done")]
            self.update(data={**state.data, "froze": True})
            if not wallet.freeze(account):
                return [self.utter("freeze_already")]
            texts.follow_up(self.svc, self.state, texts.FREEZE, last4=account[-4:])
            return [self.utter("freeze_done")]
        if action == "complaint_file":
            ticket = wallet.file_complaint(account, state.call_sid,
                                           str(state.data.get("recording_url", "")),
                                           {k: v for k, v in state.data.items()
                                            if k not in ("candidate", "account")}, now,
                                           team=self.team_of(node),
                                           reply_hours=self.svc.complaint_reply_hours)
            self.update(data={**self.state.data, "ticket": ticket.number})
            texts.follow_up(self.svc, self.state, texts.COMPLAINT, ticket=ticket.number,
                            reply_by=texts.written_moment(self.svc, self.state.lang,
                                                          ticket.reply_by))
            return [self.utter("complaint_filed", ticket=spoken.digits(ticket.number),
                               hours=self.svc.complaint_reply_hours)]
        if action == "complaint_status":
            self.update(data={**state.data, "lookups": state.data.get("lookups", 0) + 1})
            number = str(state.data.get("ticket", ""))
            found = wallet.complaint(number)
            # a result they heard of by text may be disputed here; one not texted to them is
            # not read out to whoever has the number: the complaints team goes through it
            disputable = found is not None and found.stage == "result_sent" and \
                found.texted and bool(node.dispute)
            self.update(data={**self.state.data, "ticket_unknown": found is None,
                              "ticket_disputable": disputable})
            if found is None:
                retry = [self.utter("complaint_retry")] if self.entry_before(node) else []
                return [self.utter("complaint_unknown", ticket=spoken.digits(number)), *retry]
            said = [self.complaint_stage(found, number)]
            return [*said, self.utter("complaint_dispute_offer")] if disputable else said
        if action == "complaint_dispute":
            number = str(state.data.get("ticket", ""))
            if not state.data.get("disputed"):  # once per call, whatever is replayed
                found = wallet.dispute_complaint(number, str(state.data.get("recording_url", "")),
                                                 now, self.svc.complaint_reply_hours)
                self.update(data={**self.state.data, "disputed": found is not None,
                                  "ticket_disputable": False})
            found = wallet.complaint(number)
            if found is None:
                return [self.utter("complaint_unknown", ticket=spoken.digits(number))]
            if not self.state.data.get("disputed"):
                # its result was taken back meanwhile: say where it stands
                return [self.complaint_stage(found, number)]
            return [self.utter("complaint_disputed", ticket=spoken.digits(number),
                               reply_by=self.spoken_date(found.reply_by.date()))]
        return [self.utter("password_help_text")]

    def complaint_stage(self, found: Ticket, number: str) -> Utterance:
        """Where a complaint stands, as its stage says it. A result not texted to the
        caller (filed from a withheld number, or one that texted STOP) is not said to have
        been sent: the caller is told it is ready, and that the team will go through it."""
        key = complaints.STATUS_PROMPTS.get(found.stage, "complaint_status_open")
        if found.stage == "result_sent" and not found.texted:
            key = "complaint_status_result_untexted"
        sent = found.result_at or found.reply_by
        return self.utter(key, ticket=spoken.digits(number),
                          reply_by=self.spoken_date(found.reply_by.date()),
                          sent_on=self.spoken_date(sent.date()))

    # -- incident notices and the emergency switch (``ivr.flow.notices``) ---------------
    def tell_notices(self, *entered: Node) -> None:
        """Say the active notices whose scope the caller enters, each once a call."""
        active = self.svc.notices
        if not active:
            return
        heard = list(self.state.data.get("notices", ()))
        for notice in notices.due(active, self.menu, entered, heard):
            self.tell(notice)

    def tell(self, notice: notices.Notice) -> None:
        """One notice in the caller's language, unless this call heard it already."""
        heard = list(self.state.data.get("notices", ()))
        if notice.id in heard:
            return
        lang = self.state.lang
        self.said.append(Utterance(notices.NOTICE_KEY,
                                   notice.text(lang, self.svc.catalog.default_lang), lang))
        self.told.append(notice.id)
        self.update(data={**self.state.data, "notices": [*heard, notice.id]})

    def switched_ahead(self, node: Node) -> Node:
        """The queue node an emergency switch turned off, when ``node`` only leads to it
        by ``next`` through verification, what to have ready and details to key (no
        self-service on the way): the caller hears the switch before that effort, not after
        it. Otherwise ``node``."""
        if not self.svc.notices:
            return node
        ahead: Node | None = node
        for _ in range(MAX_HOPS):
            if ahead is None or ahead.kind in (Kind.MENU, Kind.SERVICE, Kind.HANGUP):
                return node
            if ahead.kind is Kind.QUEUE:
                switched = notices.switch_for(self.svc.notices, ahead.queue or "general")
                return ahead if switched and ahead is not node else node
            ahead = self.menu.nodes.get(ahead.next or "")
        return node

    def switched(self, node: Node) -> Step | None:
        """A queue an emergency notice turns off: the notice (unless heard), then a
        callback or the fraud line instead of the queue; None when the queue is on."""
        queue = node.queue or "general"
        switch = notices.switch_for(self.svc.notices, queue)
        if switch is None:
            return None
        self.update(queue=queue, substep="emergency")
        self.tell(switch)
        self.say("emergency_switched")
        if self.emergency_offer(node) == "goodbye":  # nothing to offer a withheld number
            self.say("goodbye")
            return self.done(hangup=True)
        return self.reask(node)

    def fraud_line(self, node: Node) -> Node | None:
        """The fraud line's queue node, when a switched caller may be put through to it."""
        fraud = notices.fraud_line(self.menu)
        if fraud is None or node.queue == fraud.queue or \
                notices.switch_for(self.svc.notices, notices.FRAUD_QUEUE):
            return None
        return fraud

    def emergency_offer(self, node: Node) -> str:
        """The prompt offering what a switched queue's caller may have: a callback (not to
        a withheld number), the fraud line (unless it is the one switched), or goodbye."""
        callback = callable_number(self.state.from_number)
        fraud = self.fraud_line(node) is not None
        if callback:
            return "emergency_offer" if fraud else "closed_offer"
        return "emergency_offer_withheld" if fraud else "goodbye"

    def emergency_choice(self, node: Node, digits: str) -> Step:
        """1 a callback, 2 the fraud line, 9 the main menu where the offer says so (the
        fraud line's own switch: ``closed_offer``), * the offer again; after too many of
        anything else the fallback queue, or goodbye when it is switched off too."""
        key, offer = digits[:1], self.emergency_offer(node)
        fraud = self.fraud_line(node)
        if key == "1" and offer in ("emergency_offer", "closed_offer"):
            self.chose("1")
            return book_callback(self, node.queue or "general")
        if key == "9" and offer == "closed_offer":  # self-service stays open
            self.chose("9")
            return self.goto(self.menu.main)
        if key == "2" and fraud is not None:
            self.chose("2")
            return self.goto(fraud.id)
        if key == "*":
            self.chose("repeat")
            return self.reask(node)
        self.chose("invalid" if digits else "no_input")
        fallback = self.menu.nodes[self.menu.fallback]
        if self.state.failures + 1 >= self.menu.max_failures and \
                notices.switch_for(self.svc.notices, fallback.queue or "general"):
            self.say("goodbye")
            return self.done(hangup=True)
        return self.fail(node, "invalid_choice" if digits else "no_input")


def book_callback(turn: _Turn, queue: str) -> Step:
    """Keep a callback for the best window ahead, tell the caller when, and say goodbye.

    Once per call; a number over its daily cap is told so and keeps its place in the queue.
    """
    svc, state = turn.svc, turn.state
    best = svc.queues.advise(queue, svc.now).windows if svc.queues else ()
    start, end = (best[0].start, best[0].end) if best else (None, None)
    if svc.callbacks is not None and not state.data.get("callback"):
        if not callable_number(state.from_number):
            return no_callback(turn, queue, "callback_withheld")
        booked = svc.callbacks.add_callback(
            number=state.from_number, account=state.account if state.verified else None,
            queue=queue, issue=state.issue, window_start=start, window_end=end,
            call_sid=state.call_sid, now=svc.now, max_per_day=svc.callbacks_per_day)
        if booked is None:
            return no_callback(turn, queue, "callback_limit")
        if start and end:
            texts.follow_up(svc, state, texts.CALLBACK,
                            window=texts.written_window(svc, state.lang, start, end))
    turn.update(data={**turn.state.data, "callback": True})
    if best:
        turn.say("callback_booked", window=spoken.window(svc.catalog, state.lang, best[0],
                                                         svc.now))
    turn.say("goodbye")
    return turn.done(hangup=True)


def no_callback(turn: _Turn, queue: str, why: str) -> Step:
    """A callback that cannot be booked: say why, then the queue while it is open (the
    caller keeps their place), or goodbye when it is closed (no one would answer)."""
    turn.say(why)
    queues = turn.svc.queues
    if queues is None or queues.is_open(queue, turn.svc.now):
        turn.say("callback_stay")
        turn.update(substep="queued")
        return turn.done(enqueue=queue)
    turn.say("goodbye")
    return turn.done(hangup=True)


#: the wait loop speaks and books callbacks without walking the tree
_OUTSIDE_THE_TREE = Menu({}, "", "", "", ())


def hold(state: CallState, queue: str, live: LiveQueue | None,
         services: Services) -> list[Utterance]:
    """What a queued caller hears every loop of the wait URL: the wait, and how to leave.

    The wait is ``estimate_wait``'s, from what the caller was told on arrival and the live
    queue; their place in the queue is said with it when the live queue carries it.
    """
    turn = _Turn(_OUTSIDE_THE_TREE, state, services)
    model = services.queues
    if model is None or live is None or live.position < 1:
        return [turn.utter("hold_message")]
    told = state.data.get("wait_told_s") if state.queue == queue else None
    wait = estimate_wait(model, queue, services.now, live,
                         float(told) if isinstance(told, (int, float)) else None)
    said = spoken.wait(services.catalog, state.lang, wait.seconds)
    ahead = live.position - 1
    where = (turn.utter("hold_wait", wait=said) if not wait.by_queue else
             turn.utter("hold_position" if ahead else "hold_next", ahead=ahead, wait=said))
    # a withheld number cannot be called back, so it is not offered a callback
    return [where, turn.utter("hold_callback")] if callable_number(state.from_number) else [where]


def takes_step(result: str, state: CallState) -> bool:
    """Whether the Enqueue action's ``QueueResult`` moves the call on (``after_queue``);
    otherwise the caller is gone or elsewhere and nothing changes."""
    return result in ("queue-full", "error", "system-error") or \
        (result == "leave" and bool(state.data.get("leaving")))


def after_queue(menu: Menu, state: CallState, result: str, services: Services) -> Step:
    """The Enqueue action, for a result that ``takes_step``
    (https://www.twilio.com/docs/voice/twiml/enqueue#attributes-action-parameters-queueresult).

    ``leave`` after the caller pressed 1 books their callback. ``queue-full`` (the queue
    refused them) offers a callback, the best times or another try. ``error`` (our wait
    document or the Enqueue failed) and ``system-error`` (Twilio's) get an apology and the
    fallback queue; a second error in the call holds there on Twilio's own music, since our
    wait loop may be what fails. ``bridged`` (the agent hung up) is not one of them: the
    caller hears the survey instead (``ivr.flow.survey``, from ``Hotline.queue_done``).
    """
    turn = _Turn(menu, state, services)
    if result == "leave":
        turn.update(data={**state.data, "leaving": False})
        return book_callback(turn, state.queue or "general")
    here = menu.nodes.get(state.node)
    if result == "queue-full":
        if here is None or here.kind is not Kind.QUEUE:
            here = menu.nodes[menu.fallback]
        turn.update(node=here.id, queue=here.queue, substep="full", failures=0)
        turn.say("queue_full")
        return turn.reask(here)
    errors = int(state.data.get("queue_errors", 0)) + 1
    turn.update(data={**state.data, "queue_errors": errors})
    answer = turn.to_fallback("apology")
    if errors > 1 and answer.enqueue:
        return replace(answer, twilio_hold_music=True)
    return answer


def again(menu: Menu, state: CallState, services: Services) -> Step:
    """A replayed or concurrent request: the call's current prompt again, changing nothing."""
    if state.node in survey.NODES:
        return survey.again(state, services)
    turn = _Turn(menu, state, services)
    node = menu.nodes.get(state.node)
    if node is None or node.kind in (Kind.SAY, Kind.HANGUP) or state.data.get("callback"):
        return turn.done(hangup=True)
    if node.kind is Kind.QUEUE and state.substep == "queued":
        return turn.done(enqueue=node.queue)
    return turn.reask(node)


def step(menu: Menu, state: CallState, event: CallEvent, services: Services) -> Step:
    """Answer one webhook of a call: the pure heart of the IVR."""
    turn = _Turn(menu, state, services)
    if event.kind == "start":
        return turn.goto(menu.start)
    if state.node in survey.NODES:  # after the agent, outside the tree
        if event.node != state.node:
            return survey.again(state, services)
        return survey.answer(state, event, services)
    node = menu.nodes.get(state.node)
    if node is None or event.node not in menu.nodes:
        # an unknown step or an expired call: start again at the main menu
        log.info("call %s: step %r with state at %r; restarting", state.call_sid,
                 event.node, state.node)
        turn.say("restart")
        return turn.goto(menu.main)
    if event.node != state.node:
        # a replayed or out-of-order request: ask again where the call really is
        return turn.reask(node)
    return turn.handle(node, event)
