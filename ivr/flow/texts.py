"""The SMS follow-ups of a call: which the flow writes, to whom, in which words.

A follow-up confirms in writing what the caller heard once: a complaint's ticket number
and reply-by time, a booked callback's window, what to do after a freeze. It is written
to the outbox (``Services.texts``) in the caller's language from the prompt catalog
(``sms_<kind>``), and sent later by a sender, never within the webhook. Only to a number
that can receive it (E.164, not withheld); never an account number beyond its last 4
digits, a PIN or a code, and never a link (the freeze text names the official app's path:
a link in a text is what phishing looks like). Pure: no I/O but through the protocol.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ivr.flow import spoken
from ivr.flow.call import CallState
from ivr.flow.services import Services
from ivr.phone import callable_number

log = logging.getLogger(__name__)

#: the kinds of follow-up, each the prompt ``sms_<kind>``
COMPLAINT, CALLBACK, FREEZE = "complaint", "callback", "freeze"


def follow_up(svc: Services, state: CallState, kind: str, **values: Any) -> int | None:
    """Write the follow-up ``kind`` of the call for its caller; its outbox id, or None
    when none is written (no outbox, a number that cannot receive it, or one refused)."""
    if svc.texts is None or not callable_number(state.from_number):
        return None
    body = svc.catalog.text(state.lang, f"sms_{kind}", **values)
    return svc.texts.add_text(number=state.from_number, lang=state.lang, kind=kind, body=body,
                              call_sid=state.call_sid, now=svc.now,
                              max_per_day=svc.texts_per_day)


def written_moment(svc: Services, lang: str, at: datetime) -> str:
    """A moment as written in a text, read later: the weekday with its date and the time
    ("Wednesday 9 December at 14:37"), never "tomorrow"; in the centre's timezone."""
    local = svc.queues.local(at) if svc.queues else at
    cat = svc.catalog
    return cat.text(lang, "fmt_moment", day=_day(svc, lang, local),
                    time=spoken.clock(cat, lang, local.hour, local.minute))


def written_window(svc: Services, lang: str, start: datetime, end: datetime) -> str:
    """A callback window as written: "Wednesday 9 December between 8 a.m. and 10 a.m."."""
    cat = svc.catalog
    end_hour = 24 if end.date() > start.date() and end.hour == 0 else end.hour
    return cat.text(lang, "fmt_window", day=_day(svc, lang, start),
                    start=spoken.clock(cat, lang, start.hour, start.minute),
                    end=spoken.clock(cat, lang, end_hour, end.minute))


def _day(svc: Services, lang: str, at: datetime) -> str:
    cat = svc.catalog
    return cat.text(lang, "fmt_weekday_date", weekday=spoken.weekday(cat, lang, at.weekday()),
                    date=spoken.day_date(cat, lang, at.date()))
