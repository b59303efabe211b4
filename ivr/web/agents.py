"""The agents' end of the queues: ``/agent/voice``, the Voice URL of an agent's phone.

Signed like ``/voice`` (the same ``verify_twilio_signature``), never a console session.
What the agent hears is decided by ``ivr.flow.agent``; this module reads the form, keeps
each agent call in the table ``agent_calls`` (which agent, their language, failed tries,
the caller they took) and renders TwiML. The bridge is written on the *caller's* record
(``live.record_bridge``, ``live.record_talk``), so ``ivr report`` and ``ivr forecast``
see answered waits and talk times. Agent calls are not hotline calls: no ``calls`` row.
No PIN, and no code typed, is ever logged; a code is kept only until its PIN is checked,
and each check goes through the callers' lockout book (``ivr.records.lockouts``), so guessing an
agent's PIN over many calls locks the code as it would an account.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from ivr.flow import agent as agent_flow
from ivr.flow.agent import AgentReply
from ivr.flow.services import Lock
from ivr.records import live
from ivr.records.store import iso
from ivr.records.users import CODE, User
from ivr.web import twiml
from ivr.web.signature import verify_twilio_signature
from ivr.web.webhooks import (
    absolute,
    audio_urls,
    call_sid,
    clean_digits,
    count,
    hotline,
    plausible_sid,
    xml,
)

log = logging.getLogger(__name__)

bp = Blueprint("agents", __name__, url_prefix="/agent")
bp.before_request(verify_twilio_signature)

# -- the agent_calls table -------------------------------------------------------------

def _row(sid: str) -> dict[str, Any] | None:
    row = hotline().store.read_one("SELECT * FROM agent_calls WHERE call_sid=?", (sid,))
    return dict(row) if row else None


def _begin(sid: str, now: datetime) -> dict[str, Any]:
    """The agent call's row, made on its first request in the default language."""
    line = hotline()
    with line.store.tx() as db:
        db.execute("INSERT INTO agent_calls (call_sid, lang, started_at, updated_at) "
                   "VALUES (?, ?, ?, ?) ON CONFLICT (call_sid) DO NOTHING",
                   (sid, line.catalog.default_lang, iso(now), iso(now)))
    row = _row(sid)
    assert row is not None
    return row


def _update(sid: str, now: datetime, **values: Any) -> None:
    sets = ", ".join(f"{name}=?" for name in values)
    with hotline().store.tx() as db:
        db.execute(f"UPDATE agent_calls SET {sets}, updated_at=? WHERE call_sid=?",
                   (*values.values(), iso(now), sid))


def _identified(sid: str, agent: User, lang: str, now: datetime) -> str:
    """Bind the call to ``agent``, in the language chosen on this call (``lang``), else on
    their last call, else the default one."""
    if lang == hotline().catalog.default_lang:
        last = hotline().store.read_one("SELECT lang FROM agent_calls WHERE agent=? AND "
                                        "call_sid<>? ORDER BY updated_at DESC LIMIT 1",
                                        (agent.name, sid))
        lang = last["lang"] if last else lang
    _update(sid, now, agent=agent.name, code=None, lang=lang)
    log.info("agent %s on the line (call %s)", agent.name, sid)
    return str(lang)


def _agent(row: dict[str, Any] | None) -> User | None:
    users = hotline().users
    if row is None or row["agent"] is None:
        return None
    user = users.get(row["agent"])
    return user if user and user.is_agent and not user.disabled else None


# -- rendering -------------------------------------------------------------------------

def _render(reply: AgentReply) -> Response:
    return xml(twiml.agent(
        reply, action_url=lambda step: absolute(f"agents.{step}"),
        dial_done_url=absolute("agents.dial_done"), connect_url=absolute("agents.connect"),
        voices=current_app.config["VOICES"], audio_for=audio_urls()))


def _offer(agent: User, lang: str, now: datetime, *, quiet: bool = False) -> Response:
    waiting = live.waiting(hotline().store, now, agent.queues)
    return _render(agent_flow.offer(hotline().catalog, lang, waiting, now, quiet=quiet))


# -- the webhooks ----------------------------------------------------------------------

@bp.route("/voice", methods=["GET", "POST"])
def voice() -> Response:
    """The agent's phone calls: known by caller ID, or asked for a code and PIN."""
    line, now, sid = hotline(), hotline().now(), call_sid()
    row = _begin(sid, now)
    known = _agent(row)
    if known is None:
        known = line.users.agent_by_phone(_from())
    if known is not None:
        return _offer(known, _identified(sid, known, row["lang"], now), now)
    return _render(agent_flow.ask_code(line.catalog, row["lang"]))


@bp.route("/language", methods=["GET", "POST"])
def language() -> Response:
    """The one key of the offer said before the code: star switches the language at once;
    another key (the code typed before it was asked for) asks for the code."""
    line, now, sid = hotline(), hotline().now(), call_sid()
    row = _row(sid) or _begin(sid, now)
    if (clean_digits(request.values.get("Digits")) or "") == agent_flow.SWITCH_KEY:
        return _switched(sid, row, now)
    return _render(agent_flow.ask_code(line.catalog, row["lang"], switch=False))


def _switched(sid: str, row: dict[str, Any], now: datetime) -> Response:
    lang = agent_flow.other_lang(hotline().catalog, row["lang"])
    _update(sid, now, lang=lang)
    return _render(agent_flow.ask_code(hotline().catalog, lang))


@bp.route("/code", methods=["GET", "POST"])
def code() -> Response:
    """The agent code typed (star, then hash or the time-out: switch language)."""
    line, now, sid = hotline(), hotline().now(), call_sid()
    row = _row(sid) or _begin(sid, now)
    digits = clean_digits(request.values.get("Digits")) or ""
    if digits == agent_flow.SWITCH_KEY:
        return _switched(sid, row, now)
    if not digits:  # no input (the Gather falls through on silence): no try spent
        return _render(agent_flow.unheard(line.catalog, row["lang"],
                                          agent_flow.ask_code(line.catalog, row["lang"])))
    if not CODE.fullmatch(digits):  # a code is never this: a try spent, nothing kept
        return _refuse(sid, row, now)
    _update(sid, now, code=digits)
    return _render(agent_flow.ask_pin(line.catalog, row["lang"]))


@bp.route("/pin", methods=["GET", "POST"])
def pin() -> Response:
    """The PIN typed after the code: the agent, or a try spent."""
    line, now, sid = hotline(), hotline().now(), call_sid()
    row = _row(sid)
    if row is None:
        return _render(agent_flow.refused(line.catalog, line.catalog.default_lang,
                                          agent_flow.MAX_TRIES))
    digits = clean_digits(request.values.get("Digits")) or ""
    code = row["code"]
    if code and not digits:  # no input: the code is kept and no try is spent
        return _render(agent_flow.unheard(line.catalog, row["lang"],
                                          agent_flow.ask_pin(line.catalog, row["lang"])))
    tries = _reserve_check(sid, code, now) if code else None
    if tries is None:  # no code typed (or another request took it), or no tries left
        return _refuse(sid, row, now)
    # the callers' lockout book, keyed apart from any account: a code takes 5 wrong PINs
    # a day over all calls, and the calling line's wrong PINs count with the callers'
    attempt = line.lockouts.reserve(f"agent:{code}", _from(), now)
    if isinstance(attempt, Lock):
        log.warning("agent call %s: that agent code is locked after wrong PINs", sid)
        _update(sid, now, tries=agent_flow.MAX_TRIES)
        return _render(agent_flow.refused(line.catalog, row["lang"], agent_flow.MAX_TRIES))
    agent = line.users.agent_by_code(code, digits)
    if line.lockouts.settle(attempt, agent is not None, now) is not None or agent is None:
        log.warning("agent call %s: a code and PIN that match no agent (try %d of %d)", sid,
                    tries, agent_flow.MAX_TRIES)
        return _render(agent_flow.refused(line.catalog, row["lang"], tries))
    return _offer(agent, _identified(sid, agent, row["lang"], now), now)


def _reserve_check(sid: str, code: str, now: datetime) -> int | None:
    """Take the ``code`` typed for one PIN check and count the try, in one compare-and-set:
    of parallel PINs on one call (a retry, or an attack sending 20 at once) one takes the
    code, so a code is checked once and a call at most ``MAX_TRIES`` times. A check
    counts as a try before the PIN is hashed, as the lockout book's reservations do.
    The try's number, or None when another request took the code or no try is left."""
    with hotline().store.tx() as db:
        taken = db.execute("UPDATE agent_calls SET tries=tries+1, code=NULL, updated_at=? "
                           "WHERE call_sid=? AND code=? AND tries<? RETURNING tries",
                           (iso(now), sid, code, agent_flow.MAX_TRIES)).fetchone()
    return int(taken[0]) if taken else None


def _from() -> str:
    return request.values.get("From", "")[:32]


def _refuse(sid: str, row: dict[str, Any], now: datetime) -> Response:
    # counted in the row, not from the row read: two hosts refusing at once count two
    # tries; never past the limit, which ends the call
    with hotline().store.tx() as db:
        counted = db.execute("UPDATE agent_calls SET tries=CASE WHEN tries<? THEN tries+1 "
                             "ELSE tries END, code=NULL, updated_at=? "
                             "WHERE call_sid=? RETURNING tries",
                             (agent_flow.MAX_TRIES, iso(now), sid)).fetchone()
    tries = int(counted[0]) if counted else agent_flow.MAX_TRIES
    log.warning("agent call %s: a code and PIN that match no agent (try %d of %d)", sid,
                tries, agent_flow.MAX_TRIES)
    return _render(agent_flow.refused(hotline().catalog, row["lang"], tries))


@bp.route("/next", methods=["GET", "POST"], endpoint="next")
def next_caller() -> Response:
    """1 (or, while nobody waits, the silence running out): look again; star: language."""
    line, now, sid = hotline(), hotline().now(), call_sid()
    row = _row(sid)
    agent = _agent(row)
    if agent is None or row is None:  # not identified on this call: start over
        return voice()
    digits = clean_digits(request.values.get("Digits")) or ""
    lang = row["lang"]
    if digits == agent_flow.SWITCH_KEY:
        lang = agent_flow.other_lang(line.catalog, lang)
        _update(sid, now, lang=lang)
    return _offer(agent, lang, now, quiet=digits == "")


@bp.route("/connect", methods=["GET", "POST"])
def connect() -> Response:
    """The ``<Queue url>``: played to the *caller* being dequeued, before the bridge.

    CallSid is the caller's, DequeingCallSid the agent's, QueueTime the caller's wait
    (https://www.twilio.com/docs/voice/twiml/queue). The bridge is written once.
    """
    line, now, sid = hotline(), hotline().now(), call_sid()
    agent_sid = plausible_sid(request.values.get("DequeingCallSid", ""))
    row = _row(agent_sid) if agent_sid else None
    name = row["agent"] if row and row["agent"] else "unknown"
    if row is None:
        log.warning("caller %s dequeued by %r, which is no agent call of ours", sid,
                    agent_sid or request.values.get("DequeingCallSid", "?")[:64])
    if live.record_bridge(line.store, sid, name, count("QueueTime"), now) and row:
        _update(agent_sid, now, caller_sid=sid)
    lang = line.lang_of(sid)
    return xml(twiml.words(agent_flow.connecting(line.catalog, lang),
                           voices=current_app.config["VOICES"], audio_for=audio_urls()))


@bp.route("/dial-done", methods=["GET", "POST"])
def dial_done() -> Response:
    """The Dial's action: the conversation is over (or never began). Talk time on the
    caller's record, then the next caller on 1."""
    line, now, sid = hotline(), hotline().now(), call_sid()
    row = _row(sid)
    agent = _agent(row)
    if agent is None or row is None:
        return _render(agent_flow.goodbye(line.catalog, line.catalog.default_lang))
    status = request.values.get("DialCallStatus", "")[:32]
    talk_s = count("DialCallDuration")
    if status == "completed" and row["caller_sid"] and talk_s is not None:
        live.record_talk(line.store, row["caller_sid"], talk_s)
        _update(sid, now, caller_sid=None)
        return _render(agent_flow.after_caller(line.catalog, row["lang"]))
    # nobody was bridged (the caller left as the Dial began, the queue stayed empty)
    return _offer(agent, row["lang"], now)


@bp.errorhandler(Exception)
def apologise(exc: Exception) -> Response | HTTPException:
    """Never a 5xx to Twilio: the agent hears goodbye; the caller's document is empty."""
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        return exc
    log.exception("agent webhook %s failed", request.path)
    if request.endpoint == "agents.connect":  # say nothing: the bridge goes ahead
        return xml(twiml.words((), voices=current_app.config["VOICES"]))
    catalog = hotline().catalog
    return _render(agent_flow.goodbye(catalog, catalog.default_lang))
