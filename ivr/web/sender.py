"""Sends the SMS outbox through Twilio's Messages API: the only user of the twilio REST
client (``twilio.rest``), and never within a webhook.

A pass (``Sender.send_pending``: ``ivr sms send-pending``, or each turn of the background
sender ``ivr serve`` starts) claims the due messages with a lease (``Outbox.claim``), so
two senders on one database never send one message twice, and posts each: Twilio's
message SID and status are kept; a 5xx, a 429, a refused credential or a network error is
retried with a doubling wait; a message Twilio refuses (another 4xx: an invalid or
unsubscribed number) or one still unsent ``SMS_GIVE_UP_S`` after it was written is
given up with the reason kept. Without credentials nothing is sent and nothing is lost:
the messages wait in the outbox (``ivr sms list``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ivr.records.outbox import Message, Outbox

log = logging.getLogger(__name__)

#: the simulator's account and sending number (the number of Twilio's own examples)
SIM_ACCOUNT, SIM_FROM = "AC" + "5" * 32, "+15017122661"
#: how long a claimed message is a sender's alone: longer than a batch of posts can take
LEASE = timedelta(minutes=5)
#: how long the deployment's background sender holds its turn between renewals
SENDER_LEASE = timedelta(seconds=60)
#: seconds between the background sender's passes
POLL_S = 5.0
#: the longest wait between two tries of one message
MAX_RETRY = timedelta(hours=1)
#: seconds a post to Twilio may take
TIMEOUT_S = 10.0
BATCH = 20
#: Twilio's "Attempt to send to unsubscribed recipient": the number texted STOP to Twilio
UNSUBSCRIBED = 21610


@dataclass(frozen=True, slots=True)
class Account:
    """How to reach Twilio's Messages API, from the settings."""

    account_sid: str
    username: str  # the account SID with the Auth Token, or an API key (SK…)
    password: str
    from_number: str | None
    messaging_service_sid: str | None
    base_url: str | None
    status_callback: str | None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Account | None:
        """The account, or None when the settings lack a credential or a sender."""
        if missing(settings):
            return None
        sid = settings["TWILIO_ACCOUNT_SID"]
        key = settings.get("TWILIO_API_KEY")
        user, password = ((key, settings["TWILIO_API_SECRET"]) if key
                          else (sid, settings["TWILIO_AUTH_TOKEN"]))
        public = settings.get("PUBLIC_URL")
        return cls(sid, user, password, settings.get("SMS_FROM"),
                   settings.get("SMS_MESSAGING_SERVICE_SID"), settings.get("SMS_API_URL"),
                   public.rstrip("/") + "/sms/status" if public else None)


def missing(settings: Mapping[str, Any]) -> str | None:
    """What the settings lack to send (None when nothing): said by ``ivr sms`` and logged
    by ``ivr serve``, so that a message waiting is never a mystery."""
    lacks = []
    if not settings.get("TWILIO_ACCOUNT_SID"):
        lacks.append("TWILIO_ACCOUNT_SID")
    if settings.get("TWILIO_API_KEY"):
        if not settings.get("TWILIO_API_SECRET"):
            lacks.append("TWILIO_API_SECRET (for TWILIO_API_KEY)")
    elif not settings.get("TWILIO_AUTH_TOKEN"):
        lacks.append("TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET)")
    if not settings.get("SMS_FROM") and not settings.get("SMS_MESSAGING_SERVICE_SID"):
        lacks.append("SMS_FROM or SMS_MESSAGING_SERVICE_SID")
    return ", ".join(lacks) or None


@dataclass(frozen=True, slots=True)
class Pass:
    """What one pass did: messages sent, to be retried, and given up."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


class Sender:
    """Sends ``outbox``'s due messages with ``account``, as ``holder`` (unique per sender)."""

    def __init__(self, outbox: Outbox, account: Account, *, retry_s: int = 60,
                 give_up_s: int = 24 * 3600, holder: str | None = None,
                 clock: Callable[[], datetime] | None = None, http_client: Any = None) -> None:
        """``http_client``: a ``twilio.http.HttpClient`` in place of the network's (the
        simulator's Twilio takes the messages in process)."""
        # twilio's REST client (and requests under it, 8 MiB) loads where messages are sent,
        # not in every server worker of a deployment with no SMS credentials (issue 21)
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        self.outbox, self.account = outbox, account
        self.retry, self.give_up = timedelta(seconds=retry_s), timedelta(seconds=give_up_s)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock or (lambda: datetime.now(UTC))
        self.client = Client(account.username, account.password, account.account_sid,
                             http_client=http_client or TwilioHttpClient(timeout=TIMEOUT_S))
        if account.base_url:  # a fake of Twilio's API (tests, the simulator)
            self.client.api.base_url = account.base_url.rstrip("/")

    @classmethod
    def from_settings(cls, outbox: Outbox, settings: Mapping[str, Any],
                      holder: str | None = None) -> Sender | None:
        account = Account.from_settings(settings)
        if account is None:
            return None
        return cls(outbox, account, retry_s=settings["SMS_RETRY_S"],
                   give_up_s=settings["SMS_GIVE_UP_S"], holder=holder,
                   clock=settings.get("CLOCK"))

    def send_pending(self, now: datetime | None = None) -> Pass:
        """One pass over the due messages (``now``: the moment they are due by)."""
        sent = retried = failed = 0
        while True:
            at = now or self.clock()
            batch = self.outbox.claim(self.holder, at, LEASE, BATCH)
            for message in batch:
                outcome = self._send(message, now or self.clock())
                sent += outcome == "sent"
                retried += outcome == "retry"
                failed += outcome == "failed"
            if len(batch) < BATCH:
                return Pass(sent, retried, failed)

    def _send(self, message: Message, now: datetime) -> str:
        from twilio.base.exceptions import TwilioRestException

        if now - message.created_at >= self.give_up:
            # a callback's window or a reply-by time told a day late misleads: it waited
            # while no sender ran (no credentials, SMS_SENDER off, every host down), or
            # its retries ran out
            return self._failed(message, self._late(message.error), now)
        account, params = self.account, {"to": message.to_number, "body": message.body}
        if account.messaging_service_sid:
            params["messaging_service_sid"] = account.messaging_service_sid
        else:
            params["from_"] = account.from_number or ""
        if account.status_callback:
            params["status_callback"] = account.status_callback
        try:
            created = self.client.api.v2010.accounts(account.account_sid).messages.create(
                **params)
        except TwilioRestException as exc:
            error = f"Twilio answered {exc.status}" + (f" (error {exc.code})" if exc.code else "")
            # Twilio refused this message for good (an invalid or unsubscribed number):
            # trying again would be refused again. A 5xx, a 429 and a refused credential
            # (401, 403: a setting to fix) may pass later
            if 400 <= exc.status < 500 and exc.status not in (401, 403, 429):
                if exc.code == UNSUBSCRIBED:  # it texted STOP where we did not hear it
                    self.outbox.opt_out(message.to_number, f"Twilio {UNSUBSCRIBED}", now)
                return self._failed(message, error, now)
            return self._retry(message, error, now)
        except Exception as exc:  # noqa: BLE001 - the network: refused, reset, timed out
            return self._retry(message, f"not reached: {type(exc).__name__}: {exc}"[:300], now)
        self.outbox.sent(message, self.holder, str(created.sid), str(created.status or ""), now)
        log.info("sms %d (%s) sent as %s", message.id, message.kind, created.sid)
        return "sent"

    def _retry(self, message: Message, error: str, now: datetime) -> str:
        if now - message.created_at >= self.give_up:
            return self._failed(message, self._late(error), now)
        wait = min(self.retry * 2 ** max(message.attempts - 1, 0), MAX_RETRY)
        log.warning("sms %d: %s; trying again in %s", message.id, error, wait)
        self.outbox.retry(message, self.holder, now + wait, error, now)
        return "retry"

    def _late(self, error: str | None) -> str:
        """Why a message is given up for time, with the last error if it had one."""
        within = f"not sent within {self.give_up.total_seconds() / 3600:g} h"
        return f"{within}; last: {error}" if error else f"{within}: no sender sent it in time"

    def _failed(self, message: Message, error: str, now: datetime) -> str:
        log.error("sms %d (%s) given up: %s", message.id, message.kind, error)
        self.outbox.give_up(message, self.holder, error, now)
        return "failed"


def send_in_process(outbox: Outbox, settings: Mapping[str, Any], http_client: Any,
                    now: datetime | None = None) -> Pass:
    """One pass through ``http_client`` alone, never the network: the simulator's Twilio.
    Signed as the simulator's account (the app's own credentials are not handed to it), from
    the app's number or Messaging Service if it has one."""
    account = Account(SIM_ACCOUNT, SIM_ACCOUNT, "sim", settings.get("SMS_FROM") or SIM_FROM,
                      settings.get("SMS_MESSAGING_SERVICE_SID"), None, None)
    return Sender(outbox, account, retry_s=settings["SMS_RETRY_S"],
                  give_up_s=settings["SMS_GIVE_UP_S"], clock=settings.get("CLOCK"),
                  http_client=http_client).send_pending(now)


def start_background(outbox: Outbox, settings: Mapping[str, Any],
                     stop: threading.Event | None = None) -> threading.Thread | None:
    """The background sender of one process (``ivr serve`` starts one in each worker): a
    daemon thread that sends the due messages every few seconds while it holds the
    deployment's sender lease, so one sender of all hosts sends at a time. None when the
    settings turn it off or lack credentials (then the messages wait, logged once)."""
    if not settings.get("SMS_SENDER"):
        return None
    sender = Sender.from_settings(outbox, settings)
    if sender is None:
        log.warning("SMS follow-ups are kept in the outbox, not sent: the settings lack %s",
                    missing(settings))
        return None
    stop = stop or threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                if outbox.take_sender(sender.holder, sender.clock(), SENDER_LEASE):
                    sender.send_pending()
            except Exception:  # noqa: BLE001 - the database may be away; try again later
                log.exception("the SMS sender's pass failed")
            stop.wait(POLL_S)

    thread = threading.Thread(target=run, name="ivr-sms-sender", daemon=True)
    thread.start()
    return thread
