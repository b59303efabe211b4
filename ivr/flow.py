"""The call flow: ``step(menu, state, event, services) -> Step``. No Flask, no Twilio.

Each webhook is one ``step``: the caller's input is handled at the node the call is on,
then the flow walks through nodes that need no input (say, verified pass-through,
self-service without options) until it must ask, enqueue or hang up. The wallet backend
and the lockout book are passed in (``Services``), so the flow is deterministic for a
given backend and clock, and tests run it against the real SQLite implementations.
"""

from __future__ import annotations

import calendar
import logging
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from ivr.call import Ask, CallEvent, CallState, Step, Utterance
from ivr.menu.model import Kind, Menu, Node, Option
from ivr.prompts import Catalog

log = logging.getLogger(__name__)

MAX_HOPS = 50  # a walk through more nodes than this without input is a loop in the tree


@dataclass(frozen=True, slots=True)
class Topup:
    amount: Decimal
    created_at: datetime
    status: str  # "processing" | "failed" | "completed"


@dataclass(frozen=True, slots=True)
class Ticket:
    number: str
    status: str  # "open" | "closed"
    reply_by: datetime


class Wallet(Protocol):
    """The wallet backend the IVR's self-service and verification need."""

    def account_for_phone(self, phone: str) -> str | None: ...
    def status(self, account: str) -> str | None: ...
    def check_pin(self, account: str, pin: str) -> bool: ...
    def recent_topups(self, account: str, since: datetime) -> list[Topup]: ...
    def freeze(self, account: str) -> bool: ...
    def file_complaint(self, account: str | None, call_sid: str, recording_url: str,
                       details: dict[str, Any], now: datetime) -> Ticket: ...
    def complaint(self, number: str) -> Ticket | None: ...


class Lockouts(Protocol):
    """Failed PIN tries per account, persisted across calls and restarts."""

    def locked_until(self, account: str, now: datetime) -> datetime | None: ...
    def record_failure(self, account: str, now: datetime) -> datetime | None: ...
    def clear(self, account: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Services:
    """What the flow needs from outside, passed in by the webhook layer."""

    wallet: Wallet
    lockouts: Lockouts
    catalog: Catalog
    now: datetime
    pin_tries_per_call: int = 3
    complaint_reply_hours: int = 48


def mask(digits: str) -> str:
    """An account number as it may appear in logs: only the last 4 digits."""
    return "*" * max(len(digits) - 4, 0) + digits[-4:]


def spoken_digits(number: str) -> str:
    """Read a number digit by digit (ticket numbers)."""
    return " ".join(number)


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
            if node.prompt:
                self.say(node.prompt)
            self.update(queue=node.queue)
            return self.done(enqueue=node.queue)
        if kind is Kind.VERIFY and self.state.verified:
            return self.after_verify(node)
        if kind is Kind.SERVICE:
            spoken = self.service(node)
            if not node.agent:
                self.said += spoken
                return node.next or self.menu.main
            self.update(replay=tuple(spoken))
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
        # verify
        if state.substep == "":
            candidate = self.svc.wallet.account_for_phone(state.from_number)
            self.update(substep="account", data={**state.data, "candidate": candidate})
            if candidate:
                self.update(substep="callerid")
        if self.state.substep == "callerid":
            last4 = spoken_digits(str(self.state.data["candidate"])[-4:])
            return self.ask(node, self.utter("verify_callerid", last4=last4), num_digits=1)
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
        if state.substep == "pin":
            self.logged = "******" if digits else ""
            return self.check_pin(node, digits.rstrip("#"))
        account = digits.rstrip("#")
        self.logged = mask(account)
        if not account:
            return self.fail(node, "no_input")
        if not account.isdigit() or len(account) > 20:
            return self.wrong(node, account)
        return self.start_pin(node, account)

    def start_pin(self, node: Node, account: str) -> Step:
        if self.svc.lockouts.locked_until(account, self.svc.now):
            self.say("verify_locked")
            return self.goto(node.on_locked or self.menu.fallback)
        self.update(substep="pin", data={**self.state.data, "account": account})
        return self.reask(node)

    def check_pin(self, node: Node, pin: str) -> Step:
        account = str(self.state.data.get("account", ""))
        wallet, now = self.svc.wallet, self.svc.now
        if re.fullmatch(r"\d{6}", pin) and wallet.check_pin(account, pin):
            self.svc.lockouts.clear(account)
            self.update(verified=True, account=account)
            if wallet.status(account) == "frozen":
                self.say("verify_frozen")
                return self.goto(node.on_locked or self.menu.fallback)
            self.say("verify_ok")
            return self.goto(self.after_verify(node))
        return self.wrong(node, account)

    def wrong(self, node: Node, account: str) -> Step:
        locked = self.svc.lockouts.record_failure(account, self.svc.now) if account else None
        tries = self.state.pin_tries + 1
        self.update(pin_tries=tries)
        if locked:
            self.say("verify_locked")
            return self.goto(node.on_locked or self.menu.fallback)
        if tries >= self.svc.pin_tries_per_call:
            self.update(data={**self.state.data, "unverified": True})
            self.say("verify_failed")
            return self.goto(node.on_fail or self.menu.fallback)
        self.say("verify_wrong_pin")
        came_by_callerid = self.state.data.get("candidate") == account
        self.update(substep="pin" if came_by_callerid else "account")
        return self.reask(node)

    # -- self-service -----------------------------------------------------------------
    def spoken_date(self, day: date) -> str:
        cat, lang = self.svc.catalog, self.state.lang
        return cat.text(lang, "fmt_date", day=day.day, month=day.month,
                        month_name=calendar.month_name[day.month], year=day.year)

    def spoken_amount(self, amount: Decimal) -> str:
        yuan = f"{amount:.2f}".removesuffix(".00")
        return self.svc.catalog.text(self.state.lang, "fmt_amount", yuan=yuan)

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
            return [self.utter(key, amount=self.spoken_amount(latest.amount),
                               date=self.spoken_date(latest.created_at.date()))]
        if action == "freeze" and account:
            return [self.utter("freeze_done" if wallet.freeze(account) else "freeze_already")]
        if action == "complaint_file":
            ticket = wallet.file_complaint(account, state.call_sid,
                                           str(state.data.get("recording_url", "")),
                                           {k: v for k, v in state.data.items()
                                            if k not in ("candidate", "account")}, now)
            self.update(data={**self.state.data, "ticket": ticket.number})
            return [self.utter("complaint_filed", ticket=spoken_digits(ticket.number),
                               hours=self.svc.complaint_reply_hours)]
        if action == "complaint_status":
            number = str(state.data.get("ticket", ""))
            found = wallet.complaint(number)
            if found is None:
                return [self.utter("complaint_unknown", ticket=spoken_digits(number))]
            key = "complaint_status_open" if found.status == "open" else "complaint_status_closed"
            return [self.utter(key, ticket=spoken_digits(number),
                               reply_by=self.spoken_date(found.reply_by.date()))]
        return [self.utter("password_help_text")]


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
