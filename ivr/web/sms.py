"""The SMS webhooks, signed like the voice ones (``ivr.web.signature``): Twilio's status
callback for the messages the sender posted (``/sms/status``), and the number's incoming
messages (``/sms/inbound``), where a STOP is kept as an opt-out and a START lifts it.

Neither sends anything: the outbox (``ivr.records.outbox``) is only read by the sender.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, current_app, request

from ivr.hotline import Hotline
from ivr.phone import E164
from ivr.web import twiml
from ivr.web.signature import verify_twilio_signature

log = logging.getLogger(__name__)

bp = Blueprint("sms", __name__, url_prefix="/sms")
bp.before_request(verify_twilio_signature)

#: Twilio's default opt-out and opt-in keywords for long codes ("By default, Twilio handles
#: standard English-language reply messages—STOP, UNSUBSCRIBE, END, QUIT, STOPALL, REVOKE,
#: OPTOUT, and CANCEL", https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out;
#: START, YES and UNSTOP opt back in, https://help.twilio.com/hc/en-us/articles/223134027),
#: matched as Twilio matches them: the whole message, any case. Twilio blocks the number
#: itself too; keeping it here means the outbox holds nothing for it, and a Messaging
#: Service whose keywords are customised still stops. TD and 退订 are how a text in
#: mainland China is unsubscribed from ("回复TD退订").
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
                     "OPTOUT", "TD", "退订"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
_SID = re.compile(r"[A-Za-z0-9]{1,64}")


def hotline() -> Hotline:
    return current_app.extensions["ivr"]  # type: ignore[no-any-return]


def keyword(body: str) -> str:
    """The message as a keyword: trimmed, upper-case, its trailing stops dropped."""
    return body.strip().rstrip(".!。！").strip().upper()


@bp.route("/inbound", methods=["POST"])
def inbound() -> Response:
    """A text to the hotline's number: STOP and its kind opt the number out, START and
    its kind back in; anything else is not read (the hotline answers calls, not texts)."""
    number, word = request.form.get("From", "")[:32], keyword(request.form.get("Body", "")[:64])
    if E164.fullmatch(number):
        line = hotline()
        if word in OPT_OUT:
            line.outbox.opt_out(number, word, line.now())
            log.info("a number opted out of SMS follow-ups (%s)", word)
        elif word in OPT_IN:
            line.outbox.opt_in(number)
            log.info("a number opted back in to SMS follow-ups (%s)", word)
    return Response(twiml.no_reply(), mimetype="text/xml")


@bp.route("/status", methods=["POST"])
def status() -> Response:
    """The status callback of a message the sender posted (queued, sent, delivered,
    undelivered, failed), with the error code of one that failed."""
    sid = request.form.get("MessageSid", "")
    state = request.form.get("MessageStatus", "")[:32]
    code = re.sub(r"[^0-9]", "", request.form.get("ErrorCode", ""))[:8] or None
    if _SID.fullmatch(sid) and state:
        if not hotline().outbox.status_update(sid, state, code, hotline().now()):
            log.info("sms status %s for a message the outbox does not hold", state)
    return Response(status=204)
