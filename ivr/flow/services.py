"""What the call flow needs from outside it: the wallet backend, the lockout book, the
queue model, the callback book and the SMS outbox, as protocols, and the ``Services``
bundle the webhook layer passes in. The implementations on either database are in
``ivr.records.wallet``, ``ivr.records.store`` and ``ivr.records.outbox``; the queue model is
``ivr.queue.advice.Centre``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from ivr.flow.notices import Notice
from ivr.flow.prompts import Catalog


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
    #: where it is in its workflow (``ivr.flow.complaints.STAGES``), and when its result
    #: was sent
    stage: str = "registered"
    result_at: datetime | None = None
    #: the result, by language, and whether it was texted to the caller (not to a
    #: withheld number, nor one that texted STOP: those hear it read out)
    result: dict[str, str] = field(default_factory=dict)
    texted: bool = False


class Wallet(Protocol):
    """The wallet backend the IVR's self-service and verification need."""

    def account_for_phone(self, phone: str) -> str | None: ...
    def status(self, account: str) -> str | None: ...
    def check_pin(self, account: str, pin: str) -> bool: ...
    def recent_topups(self, account: str, since: datetime) -> list[Topup]: ...
    def freeze(self, account: str) -> bool: ...
    def file_complaint(self, account: str | None, call_sid: str, recording_url: str,
                       details: dict[str, Any], now: datetime, *, team: str,
                       reply_hours: float = 48) -> Ticket: ...
    def complaint(self, number: str) -> Ticket | None: ...
    def dispute_complaint(self, number: str, recording_url: str, now: datetime,
                          reply_hours: float) -> Ticket | None: ...
    def complete_recording(self, call_sid: str, recording_sid: str, recording_url: str,
                           duration_s: int | None, status: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Lock:
    """Phone verification refused: until when (None: until support clears it).

    ``in_flight``: refused only because checks of the account that have not settled fill
    its allowance; nothing is locked, so no duration may be told.
    """

    until: datetime | None
    by_caller: bool = False
    in_flight: bool = False

    def seconds_left(self, now: datetime) -> float | None:
        return (self.until - now).total_seconds() if self.until else None


class Lockouts(Protocol):
    """The lockout book (``ivr.records.lockouts``): a PIN is checked only inside a reservation."""

    def locked(self, account: str, caller: str, now: datetime) -> Lock | None: ...
    def reserve(self, account: str, caller: str, now: datetime) -> int | Lock: ...
    def settle(self, attempt: int, right: bool, now: datetime) -> Lock | None: ...


class QueueModel(Protocol):
    """The centre's model (``ivr.queue.advice.Centre``): hours, waits and advice."""

    def is_open(self, queue: str, at: datetime) -> bool: ...
    def next_open(self, queue: str, at: datetime) -> datetime: ...
    def expected_wait_s(self, queue: str, at: datetime,
                        callers_ahead: int | None = None) -> float: ...
    def advise(self, queue: str, at: datetime, n: int = 3) -> Any: ...
    def opening_hours(self, queue: str) -> Any: ...
    def local(self, at: datetime) -> datetime: ...


class Callbacks(Protocol):
    """Where requested callbacks are kept for the agents."""

    def add_callback(self, *, number: str, account: str | None, queue: str,
                     issue: str | None, window_start: datetime | None,
                     window_end: datetime | None, call_sid: str, now: datetime,
                     max_per_day: int = 3) -> int | None: ...


class Texts(Protocol):
    """The SMS outbox (``ivr.records.outbox``): a call only writes a follow-up there, a
    sender sends it later, never within the webhook. None when refused (the number opted
    out, or had ``max_per_day`` already) or when the call already wrote one of ``kind``."""

    def add_text(self, *, number: str, lang: str, kind: str, body: str, call_sid: str,
                 now: datetime, max_per_day: int) -> int | None: ...


@dataclass(frozen=True, slots=True)
class PastNeed:
    """What a caller's number last called about (``issue``, a node's ``issue:``), and when."""

    issue: str
    at: datetime


class History(Protocol):
    """The calls a number made lately (``ivr.records.known``), for the known caller's
    shortcut: None for a withheld number, an unknown one, or one with no recent need."""

    def last_need(self, number: str, call_sid: str, now: datetime) -> PastNeed | None: ...


class Verdicts(Protocol):
    """Where the caller's verdict after an agent is kept (``ivr.records.csat``): each once
    a call, whatever is replayed."""

    def answered(self, call_sid: str, score: int, now: datetime) -> bool: ...
    def commented(self, call_sid: str, url: str, seconds: int | None) -> bool: ...


@dataclass(frozen=True, slots=True)
class Survey:
    """What a caller is asked after an agent hangs up (``ivr.flow.survey``): the question
    (1 to 5), a recorded comment of at most ``comment_s`` seconds; either may be off."""

    question: bool = True
    comment: bool = True
    comment_s: int = 60

    @property
    def on(self) -> bool:
        return self.question or self.comment


@dataclass(frozen=True, slots=True)
class Services:
    """What the flow needs from outside, passed in by the webhook layer."""

    wallet: Wallet
    lockouts: Lockouts
    catalog: Catalog
    now: datetime
    pin_tries_per_call: int = 3
    complaint_reply_hours: int = 48
    queues: QueueModel | None = None
    callbacks: Callbacks | None = None
    wait_threshold_s: float = 20 * 60
    account_digits: int = 8  # input of another length is not an account: never looked up
    callbacks_per_day: int = 3  # new callbacks one number may book in 24 hours
    lookups_per_call: int = 3  # complaint-status lookups before the caller goes to a person
    #: the languages a speech menu can hear (a recogniser language is set for them:
    #: SPEECH_LANGUAGES); None: every one. In the others a speech menu takes keys only
    listens: frozenset[str] | None = None
    #: the incident notices active at ``now`` (``ivr.flow.notices``), as ops published them
    notices: tuple[Notice, ...] = ()
    #: what a caller's number called about lately: offered as a shortcut after the language
    history: History | None = None
    #: the survey after an agent, and where its answers are kept
    survey: Survey = Survey(question=False, comment=False)
    verdicts: Verdicts | None = None
    #: where the SMS follow-ups are written (``ivr.flow.texts``); None: none are sent
    texts: Texts | None = None
    texts_per_day: int = 3  # follow-ups one number may be sent in 24 hours


def mask(digits: str) -> str:
    """An account number as it may appear in logs: only the last 4 digits."""
    return "*" * max(len(digits) - 4, 0) + digits[-4:]
