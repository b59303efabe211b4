"""The simulation backend of ``ivr tune``: in-memory Wallet, Lockouts and Services.

Every simulated caller has an account with a known PIN, and their caller ID is either
registered to it or not, so only two phones exist: ``REGISTERED`` (the flow offers the
registered account: press 1, then the PIN) and ``UNREGISTERED`` (type the account, then
the PIN). The backend keeps no state between calls (a freeze always succeeds, a complaint
always gets the same ticket, no PIN check ever locks): so ``flow.step`` is a pure function
of the tree, the call's state and the event, which lets ``ivr.tuning.simulate`` compute a
step once per distinct history of inputs and replay it for every caller who made it.

The queue model is left out (``Services.queues=None``): a queue node enqueues at once, so
the time to route ends at the enqueue, and waits, opening hours and callback offers (which
change what a queue node says above 20 minutes) are the queue model's business
(``ivr advise``), not the tree's. No I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ivr.flow.notices import Notice
from ivr.flow.prompts import Catalog
from ivr.flow.services import Lock, PastNeed, Services, Ticket, Topup

ACCOUNT = "10000001"
PIN = "123456"
TICKET = "20000001"
REGISTERED = "+8613800000001"
UNREGISTERED = "+8613900000002"
TO_NUMBER = "+8695188"
#: a fixed moment: with no queue model the time of day changes nothing the tree says
NOW = datetime(2026, 11, 25, 9, 30)
#: the date and amount a caller keys at a ``collect`` node
DATE_ENTRY = "20261120"
AMOUNT_ENTRY = "100#"


#: the numbers of known callers (``ivr tune --repeat-callers``): this prefix, registered to
#: the account or not, then the index of their last need's issue in ``SimHistory.issues``
KNOWN_REGISTERED, KNOWN_UNREGISTERED = "+861370000", "+861360000"


def known_phone(registered: bool, issue: int) -> str:
    """The number of a known caller whose last need was issue number ``issue``."""
    return f"{KNOWN_REGISTERED if registered else KNOWN_UNREGISTERED}{issue:04d}"


class SimWallet:
    """One active account, registered to ``REGISTERED`` (and the known callers' registered
    numbers), with a top-up still processing."""

    def account_for_phone(self, phone: str) -> str | None:
        return ACCOUNT if phone == REGISTERED or phone.startswith(KNOWN_REGISTERED) else None

    def status(self, account: str) -> str | None:
        return "active" if account == ACCOUNT else None

    def check_pin(self, account: str, pin: str) -> bool:
        return account == ACCOUNT and pin == PIN

    def recent_topups(self, account: str, since: datetime) -> list[Topup]:
        return [Topup(Decimal("100.00"), NOW - timedelta(hours=3), "processing")]

    def freeze(self, account: str) -> bool:
        return True

    def file_complaint(self, account: str | None, call_sid: str, recording_url: str,
                       details: dict[str, Any], now: datetime, *, team: str,
                       reply_hours: float = 48) -> Ticket:
        return Ticket(TICKET, "open", now + timedelta(hours=reply_hours))

    def complaint(self, number: str) -> Ticket | None:
        return Ticket(number, "open", NOW + timedelta(hours=48)) if number == TICKET else None

    def dispute_complaint(self, number: str, recording_url: str, now: datetime,
                          reply_hours: float) -> Ticket | None:
        return None  # the walked ticket is registered: there is no result to dispute

    def complete_recording(self, call_sid: str, recording_sid: str, recording_url: str,
                           duration_s: int | None, status: str) -> bool:
        return True


class SimLockouts:
    """A lockout book that never locks: the simulated callers know their PIN."""

    def locked(self, account: str, caller: str, now: datetime) -> Lock | None:
        return None

    def reserve(self, account: str, caller: str, now: datetime) -> int | Lock:
        return 1

    def settle(self, attempt: int, right: bool, now: datetime) -> Lock | None:
        return None


class SimHistory:
    """A known caller's last need, read from their number (``known_phone``): the day
    before, whatever the window."""

    def __init__(self, issues: tuple[str, ...]) -> None:
        self.issues = issues

    def last_need(self, number: str, call_sid: str, now: datetime) -> PastNeed | None:
        if not number.startswith((KNOWN_REGISTERED, KNOWN_UNREGISTERED)):
            return None
        return PastNeed(self.issues[int(number[-4:])], now - timedelta(days=1))


def services(catalog: Catalog, notices: tuple[Notice, ...] = (),
             issues: tuple[str, ...] = ()) -> Services:
    """The services a simulated call runs against (see the module docstring), with the
    incident ``notices`` of a what-if (``ivr tune --notice``) active throughout, and the
    known callers' ``issues`` (``ivr tune --repeat-callers``)."""
    return Services(SimWallet(), SimLockouts(), catalog, NOW, queues=None, callbacks=None,
                    notices=notices, history=SimHistory(issues) if issues else None)
