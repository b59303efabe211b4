"""The call flow: ``step(menu, state, event, services) -> Step``. No Flask, no Twilio.

Each webhook is one ``step``: the caller's input is handled at the node the call is on,
then the flow walks through nodes that need no input (say, verified pass-through,
self-service without options) until it must ask, enqueue or hang up. The wallet backend,
the lockout book and the queue model are passed in (``ivr.backend.Services``), so the
flow is deterministic for a given backend and clock, and tests run it against the real
SQLite implementations.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ivr import spoken
from ivr.backend import Lock, Services, mask
from ivr.call import Ask, CallEvent, CallState, Step, Utterance
from ivr.menu.model import Kind, Menu, Node, Option

log = logging.getLogger(__name__)

MAX_HOPS = 50  # a walk through more nodes than this without input is a loop in the tree


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

    # -- speaking and answering -------------------------------------------------------
    def utter(self, key: str, **values: Any) -> Utterance:
        lang = self.state.lang
        return Utterance(key, self.svc.catalog.text(lang, key, **values), lang)

    def say(self, key: str, **values: Any) -> None:
        self.said.append(self.utter(key, **values))

    def done(self, **answer: Any) -> Step:
        return Step(self.state, tuple(self.said), logged_input=self.logged, **answer)

    def update(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def ask(self, node: Node, *prompts: Utterance, **spec: Any) -> Step:
        self.said += prompts
        timeout = node.timeout_s or self.menu.timeout_s
        return self.done(ask=Ask(node=node.id, timeout_s=timeout, **spec))

    # -- moving through the tree ------------------------------------------------------
    def goto(self, node_id: str) -> Step:
        for _ in range(MAX_HOPS):
            node = self.menu.nodes[node_id]
            if node.verified and not self.state.verified:
                self.update(resume=node_id)
                node = self.menu.nodes[self.menu.verify]
            self.update(node=node.id, failures=0, substep="")
            if node.issue:
                self.update(issue=node.issue)
            nxt = self.enter(node)
            if isinstance(nxt, Step):
                return nxt
            node_id = nxt
        log.error("call %s: no input needed for %d hops from %s", self.state.call_sid,
                  MAX_HOPS, node_id)
        return self.to_fallback("apology")

    def to_fallback(self, prompt: str, node: Node | None = None) -> Step:
        self.say(prompt)
        target = (node.fallback if node else None) or self.menu.fallback
        return self.goto(target)

    def enter(self, node: Node) -> Step | str:
        """Speak a node on arrival: a Step when it waits or ends, else the next node id."""
        kind = node.kind
        if kind is Kind.SAY:
            self.say(node.prompt or "")
            return node.next or self.menu.main
        if kind is Kind.HANGUP:
            self.say(node.prompt or "")
            return self.done(hangup=True)
        if kind is Kind.QUEUE:
            return self.arrive_at_queue(node)
        if kind is Kind.VERIFY and self.state.verified:
            return self.after_verify(node)
        if kind is Kind.SERVICE:
            if node.action == "complaint_status" and \
                    self.state.data.get("lookups", 0) >= self.svc.lookups_per_call:
                self.say("complaint_lookups_limit")  # ticket numbers are not to be guessed
                return node.next or self.menu.fallback
            result = self.service(node)
            if not node.agent:
                self.said += result
                return node.next or self.menu.main
            self.update(replay=tuple(result))
        return self.reask(node)

    def reask(self, node: Node) -> Step:
        """Ask again what the node asks, without running its side effects again."""
        kind, state = node.kind, self.state
        if kind is Kind.MENU:
            return self.ask(node, self.utter(node.prompt or ""), num_digits=1)
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
            return self.ask(node, *state.replay, self.utter("service_options"), num_digits=1)
        if kind is Kind.QUEUE:
            offer = "closed_offer" if state.substep == "closed" else "wait_offer"
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
        return self.ask(node, self.utter("verify_account"), finish_on_key="#")

    def fail(self, node: Node, prompt: str) -> Step:
        """No input or a wrong key: apologise and ask again, or give up to the fallback."""
        failures = self.state.failures + 1
        if failures >= self.menu.max_failures:
            return self.to_fallback("too_many_failures", node)
        self.update(failures=failures)
        self.say(prompt)
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
        if kind is Kind.VERIFY:
            return self.verify(node, digits)
        if kind is Kind.QUEUE:
            return self.queue_choice(node, digits)
        if kind is Kind.RECORD:
            if event.recording_url and (event.recording_duration_s or 0) > 0:
                self.update(data={**self.state.data, "recording_url": event.recording_url,
                                  "recording_s": event.recording_duration_s})
                return self.goto(node.next or self.menu.fallback)
            return self.fail(node, "record_missing")
        if not digits:
            if isinstance(node.no_input, Option):
                return self.take(node.no_input)
            return self.fail(node, node.no_input if isinstance(node.no_input, str) else "no_input")
        if kind is Kind.COLLECT:
            value = parse_entry(node.format or "digits", digits, self.svc.now.date())
            if value is None:
                return self.fail(node, "collect_invalid")
            self.update(data={**self.state.data, node.field or node.id: value})
            return self.goto(node.next or self.menu.fallback)
        key = digits[0]
        if key == "*" or (kind is Kind.PREPARE and key == "2"):
            return self.reask(node)
        if kind is Kind.MENU:
            if node.back and key == "9":
                return self.goto(node.back)
            option = node.option(key)
            return self.take(option) if option else self.fail(node, node.invalid or "invalid_choice")
        if kind is Kind.PREPARE and key == "1":
            return self.goto(node.next or self.menu.fallback)
        if kind is Kind.SERVICE and key == "0":
            return self.goto(node.next or self.menu.fallback)
        if kind is Kind.SERVICE and key == "9":
            return self.goto(self.menu.main)
        return self.fail(node, "invalid_choice")

    # -- verification -----------------------------------------------------------------
    def after_verify(self, node: Node) -> str:
        target = node.next or self.state.resume or self.menu.main
        self.update(resume=None)
        return target

    def verify(self, node: Node, digits: str) -> Step:
        state = self.state
        if state.substep == "callerid":
            if digits[:1] == "1":
                return self.start_pin(node, str(state.data["candidate"]))
            if digits[:1] == "2":
                self.update(substep="account")
                return self.reask(node)
            return self.fail(node, "no_input" if not digits else "invalid_choice")
        entry = digits.rstrip("#")
        if not entry:  # a time-out is not a wrong PIN or account
            self.logged = ""
            return self.fail(node, "no_input")
        if state.substep == "pin":
            self.logged = "******"
            return self.check_pin(node, entry)
        if not re.fullmatch(rf"\d{{{self.svc.account_digits}}}", entry):
            # not an account number (often a PIN typed too early): neither looked up,
            # nor kept, nor logged
            self.logged = "*" * len(entry)
            return self.wrong(node, at_pin=False)
        self.logged = mask(entry)
        return self.start_pin(node, entry)

    def start_pin(self, node: Node, account: str) -> Step:
        lock = self.svc.lockouts.locked(account, self.state.from_number, self.svc.now)
        if lock:
            return self.locked(node, lock)
        self.update(substep="pin", data={**self.state.data, "account": account})
        return self.reask(node)

    def check_pin(self, node: Node, pin: str) -> Step:
        """Check a PIN only inside a reservation of the lockout book (``ivr.lockouts``)."""
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
        self.update(verified=True, account=account)
        if wallet.status(account) == "frozen":
            self.say("verify_frozen")
            return self.goto(node.on_locked or self.menu.fallback)
        self.say("verify_ok")
        return self.goto(self.after_verify(node))

    def locked(self, node: Node, lock: Lock) -> Step:
        """Say how long verification by phone is locked; account security can still help."""
        left = lock.seconds_left(self.svc.now)
        if left is None:
            self.say("verify_locked_support")
        else:
            self.say("verify_locked", duration=spoken.duration(self.svc.catalog, self.state.lang,
                                                               left))
        return self.goto(node.on_locked or self.menu.fallback)

    def wrong(self, node: Node, *, at_pin: bool) -> Step:
        tries = self.state.pin_tries + 1
        self.update(pin_tries=tries)
        if tries >= self.svc.pin_tries_per_call:
            self.update(data={**self.state.data, "unverified": True})
            self.say("verify_failed")
            return self.goto(node.on_fail or self.menu.fallback)
        self.say("verify_wrong_pin")
        came_by_callerid = self.state.data.get("candidate") == self.state.data.get("account")
        self.update(substep="pin" if at_pin and came_by_callerid else "account")
        return self.reask(node)

    # -- queueing ---------------------------------------------------------------------
    def arrive_at_queue(self, node: Node) -> Step:
        """State the wait; when it is long, or the line closed, offer a callback first."""
        queue, model, now = node.queue or "general", self.svc.queues, self.svc.now
        self.update(queue=queue)
        if model is None:
            return self.enqueue(node, None)
        if not model.is_open(queue, now):
            hours = model.opening_hours(queue)
            cat, lang = self.svc.catalog, self.state.lang
            self.update(substep="closed")
            self.say("queue_closed", opens=spoken.moment(cat, lang, model.next_open(queue, now),
                                                         now),
                     hours=spoken.opening_hours(cat, lang, hours.always_open, hours.days))
            self.say_best_times(queue)
            return self.reask(node)
        wait_s = model.expected_wait_s(queue, now)
        if wait_s > self.svc.wait_threshold_s:
            self.update(substep="offer")
            self.say("wait_estimate", wait=spoken.wait(self.svc.catalog, self.state.lang, wait_s))
            return self.reask(node)
        return self.enqueue(node, wait_s)

    def enqueue(self, node: Node, wait_s: float | None) -> Step:
        if node.prompt:
            self.say(node.prompt)
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
        """1 a callback, 2 the best times (offer only), anything else keeps waiting."""
        key = digits[:1]
        if key == "1":
            return book_callback(self, node.queue or "general")
        if self.state.substep == "closed":
            self.say("goodbye")
            return self.done(hangup=True)
        if key == "2":
            self.say_best_times(node.queue or "general")
            return self.reask(node)
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
            return [self.utter("freeze_done" if wallet.freeze(account) else "freeze_already")]
        if action == "complaint_file":
            ticket = wallet.file_complaint(account, state.call_sid,
                                           str(state.data.get("recording_url", "")),
                                           {k: v for k, v in state.data.items()
                                            if k not in ("candidate", "account")}, now)
            self.update(data={**self.state.data, "ticket": ticket.number})
            return [self.utter("complaint_filed", ticket=spoken.digits(ticket.number),
                               hours=self.svc.complaint_reply_hours)]
        if action == "complaint_status":
            self.update(data={**state.data, "lookups": state.data.get("lookups", 0) + 1})
            number = str(state.data.get("ticket", ""))
            found = wallet.complaint(number)
            if found is None:
                return [self.utter("complaint_unknown", ticket=spoken.digits(number))]
            key = "complaint_status_open" if found.status == "open" else "complaint_status_closed"
            return [self.utter(key, ticket=spoken.digits(number),
                               reply_by=self.spoken_date(found.reply_by.date()))]
        return [self.utter("password_help_text")]


def book_callback(turn: _Turn, queue: str) -> Step:
    """Keep a callback for the best window ahead, tell the caller when, and say goodbye.

    Once per call; a number over its daily cap is told so and keeps its place in the queue.
    """
    svc, state = turn.svc, turn.state
    best = svc.queues.advise(queue, svc.now).windows if svc.queues else ()
    start, end = (best[0].start, best[0].end) if best else (None, None)
    if svc.callbacks is not None and not state.data.get("callback"):
        booked = svc.callbacks.add_callback(
            number=state.from_number, account=state.account if state.verified else None,
            queue=queue, issue=state.issue, window_start=start, window_end=end,
            call_sid=state.call_sid, now=svc.now, max_per_day=svc.callbacks_per_day)
        if booked is None:
            turn.say("callback_limit")
            turn.update(substep="queued")
            return turn.done(enqueue=queue)
    turn.update(data={**turn.state.data, "callback": True})
    if best:
        turn.say("callback_booked", window=spoken.window(svc.catalog, state.lang, best[0],
                                                         svc.now))
    turn.say("goodbye")
    return turn.done(hangup=True)


#: the wait loop speaks and books callbacks without walking the tree
_OUTSIDE_THE_TREE = Menu({}, "", "", "", ())


def hold(state: CallState, queue: str, position: int, services: Services) -> list[Utterance]:
    """What a queued caller hears every loop of the wait URL: place, wait, and how to leave.

    The estimate comes from the model's service rate with the callers ahead (some of whom
    will hang up), not from Twilio's average queue time.
    """
    turn = _Turn(_OUTSIDE_THE_TREE, state, services)
    model = services.queues
    if model is None or position < 1:
        return [turn.utter("hold_message")]
    ahead = position - 1
    wait_s = model.expected_wait_s(queue, services.now, callers_ahead=ahead)
    key = "hold_position" if ahead else "hold_next"
    return [turn.utter(key, ahead=ahead, wait=spoken.wait(services.catalog, state.lang, wait_s))]


def left_queue(state: CallState, services: Services) -> Step:
    """The caller pressed 1 while holding: book the callback they asked for."""
    turn = _Turn(_OUTSIDE_THE_TREE, state, services)
    return book_callback(turn, state.queue or "general")


def again(menu: Menu, state: CallState, services: Services) -> Step:
    """A replayed or concurrent request: the call's current prompt again, changing nothing."""
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
