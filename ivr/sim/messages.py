"""The simulator's Twilio gains the Messages API: the app's SMS sender posts to it in this
process (a ``twilio.http.HttpClient``, as httpx's ``MockTransport`` swaps out only the
network), and it keeps what it was sent, so ``ivr call`` prints "SMS to …: …" and
scenarios can expect the texts (``expect: {sms: [...]}``).

It checks a post as Twilio would (a number in E.164, a sender, a body) and answers with a
message SID; nothing leaves the machine, so a simulated call never texts anyone.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from twilio.http import HttpClient
from twilio.http.response import Response

from ivr.phone import E164

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Text:
    """A message the app sent through the simulator's Twilio."""

    to: str
    body: str
    sender: str  # the number or Messaging Service it was sent from


class MessagesAPI(HttpClient):  # type: ignore[misc]
    """Twilio's ``POST /2010-04-01/Accounts/{sid}/Messages.json``, in process."""

    def __init__(self) -> None:
        super().__init__(log, is_async=False)
        self.sent: dict[str, Text] = {}
        self._lock = threading.Lock()

    def request(self, method: str, uri: str, params: Any = None, data: Any = None,
                headers: Any = None, auth: Any = None, timeout: Any = None,
                allow_redirects: bool = False) -> Response:
        if method.upper() != "POST" or not uri.endswith("/Messages.json"):
            return _error(404, 20404, f"the simulator's Twilio has no {method} {uri}")
        form = {k: str(v) for k, v in (data or {}).items()}
        to, body = form.get("To", ""), form.get("Body", "")
        sender = form.get("MessagingServiceSid") or form.get("From", "")
        if not E164.fullmatch(to):  # Twilio's 21211 "Invalid 'To' Phone Number"
            return _error(400, 21211, f"the 'To' number {to} is not a valid phone number")
        if not sender:
            return _error(400, 21603, "a 'From' phone number is required")
        if not body:
            return _error(400, 21602, "Message body is required")
        sid = "SM" + uuid.uuid4().hex
        with self._lock:
            self.sent[sid] = Text(to, body, sender)
        return Response(201, json.dumps({"sid": sid, "status": "queued", "to": to,
                                         "body": body}))


def _error(status: int, code: int, message: str) -> Response:
    return Response(status, json.dumps({"code": code, "message": message, "status": status,
                                        "more_info": ""}))
