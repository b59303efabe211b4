"""The Twilio webhooks: the only module that reads ``flask.request``.

Each view turns the form into a ``CallEvent``, lets the ``Hotline`` answer it, and renders
TwiML. Any exception becomes an apology and the fallback queue as valid TwiML: Twilio would
otherwise play "an application error has occurred" and drop the caller.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, g, request, url_for
from werkzeug.exceptions import HTTPException

from ivr.errors import StoreUnreachable
from ivr.flow.call import CallEvent, LiveQueue, Step, Utterance
from ivr.hotline import ENDED, Hotline
from ivr.web import twiml
from ivr.web.signature import host_root, verify_twilio_signature

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")
bp.before_request(verify_twilio_signature)


def hotline() -> Hotline:
    return current_app.extensions["ivr"]  # type: ignore[no-any-return]


def absolute(endpoint: str, **values: Any) -> str:
    """An absolute URL for TwiML, on the public host when one is configured."""
    path = url_for(endpoint, **values)
    base = current_app.config.get("PUBLIC_URL")
    return base.rstrip("/") + path if base else url_for(endpoint, _external=True, **values)


#: what ``url_for`` leaves unquoted in a path segment (werkzeug's ``BaseConverter``)
_SEGMENT_SAFE = "!$&'()*+,/:;=@"


def link(path: str, *segments: str, t: int | None = None) -> str:
    """The absolute URL of ``path`` with ``segments`` quoted onto it (and the turn), as
    ``absolute`` builds it: by hand, since a document names up to ten URLs and ``url_for``
    was a fifth of a step's cost. tests/test_security.py holds the two equal."""
    root = g.get("ivr_root")
    if root is None:  # once a request: werkzeug builds request.url_root anew each time
        base = current_app.config.get("PUBLIC_URL")
        root = g.ivr_root = (base.rstrip("/") if base else host_root()) + request.script_root
    url = root + path + "".join("/" + quote(s, safe=_SEGMENT_SAFE) for s in segments)
    return url if t is None else f"{url}?t={t}"


def audio_urls() -> Callable[[Utterance], str | None]:
    """This request's ``twiml.AudioFor``: an utterance's audio URL, None to say it. Made
    once a document, which says a dozen utterances."""
    finder = current_app.extensions.get("ivr.audio")

    def audio_url(utterance: Utterance) -> str | None:
        rel = finder(utterance) if finder else None
        return link("/audio", rel) if rel else None

    return audio_url


def xml(document: str) -> Response:
    return Response(document, mimetype="text/xml")


def clean_digits(raw: str | None) -> str | None:
    """Only keypad characters, bounded: whatever else arrives is not the caller's keys."""
    if raw is None:
        return None
    return re.sub(r"[^0-9*#]", "", raw)[: current_app.config["MAX_DIGITS"]]


def count(name: str) -> int | None:
    """A non-negative integer parameter, or None: ASCII digits only (``'²'.isdigit()``
    is true, ``int('²')`` fails) and at most 9 of them (Python refuses huge ones)."""
    value = request.values.get(name, "")
    return int(value) if re.fullmatch(r"[0-9]{1,9}", value) else None


def plausible_sid(value: str) -> str:
    """``value`` if it may be a Twilio SID (letters and digits), else "": a SID keys rows,
    and PostgreSQL refuses a NUL in a query's text."""
    return value if re.fullmatch(r"[A-Za-z0-9]{1,64}", value) else ""


def call_sid() -> str:
    """The request's CallSid; 400 without a plausible one (it keys the call's state)."""
    sid = plausible_sid(request.values.get("CallSid", ""))
    if not sid:
        abort(400, "a CallSid is required")
    return sid


#: the longest SpeechResult read: a few sentences; what a caller says to a menu is shorter
MAX_SPEECH = 500


def confidence() -> float | None:
    """Gather's ``Confidence``, 0 to 1, or None: Twilio "doesn't guarantee its accuracy or
    presence" (https://www.twilio.com/docs/voice/twiml/gather#action)."""
    value = request.values.get("Confidence", "")
    if not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,12})?", value):
        return None
    number = float(value)
    return number if 0.0 <= number <= 1.0 else None


def _event(kind: str, node: str = "") -> CallEvent:
    form = request.values
    return CallEvent(
        call_sid=call_sid(),
        kind=kind,
        node=node[:64],
        digits=clean_digits(form.get("Digits")),
        speech=form.get("SpeechResult", "")[:MAX_SPEECH].strip() or None,
        confidence=confidence(),
        recording_url=form.get("RecordingUrl") or None,
        recording_duration_s=count("RecordingDuration"),
        from_number=form.get("From", "")[:32],
        to_number=form.get("To", "")[:32],
        turn=count("t"),
    )


def _answer(event: CallEvent) -> Response:
    return _render(hotline().answer(event, hotline().now()))


#: how many documents ``_render`` keeps written (then it starts again): a tree's prompts at
#: the turns calls reach them, in each language, are far fewer
DOCUMENTS_KEPT = 4096


def _render(step: Step) -> Response:
    """The step's TwiML document, written once for all the calls that hear it.

    A document is made of the step's words, what it asks, the queue, the caller's language
    and turn, this host's URLs and the audio files it plays; the same prompt at the same
    turn is the same document for every caller, and writing one was a fifth of a step's
    cost. The app's voices and speech settings are fixed for its life.
    """
    audio_url = audio_urls()
    audio = tuple(audio_url(u) for u in step.say)
    state = step.state
    key = (step.say, step.ask, step.enqueue, step.twilio_hold_music, state.lang, state.turn,
           link(""), audio)
    documents: dict[Any, str] = current_app.extensions.setdefault("ivr.documents", {})
    document = documents.get(key)
    if document is None:
        played = dict(zip(step.say, audio, strict=True))
        document = twiml.render(
            step,
            step_url=lambda node: link("/voice/step", node, t=state.turn),
            wait_url=lambda queue: link("/voice/wait", queue, t=state.turn),
            queue_done_url=link("/voice/queue-done", t=state.turn),
            voices=current_app.config["VOICES"],
            audio_for=played.get,
            recording_status_url=link("/voice/recording"),
            speech=current_app.extensions["ivr.speech"],
        )
        if len(documents) >= DOCUMENTS_KEPT:
            documents.clear()
        documents[key] = document
    return xml(document)


# Twilio's CallStatus values after which a call takes no more steps
FINAL_STATUSES = ENDED


@bp.route("", methods=["GET", "POST"])
def incoming() -> Response:
    """The number's Voice URL: a new call starts at the top of the tree."""
    return _answer(_event("start"))


@bp.route("/step/<node>", methods=["GET", "POST"])
def step(node: str) -> Response:
    """A Gather or Record action: the caller's input at ``node``."""
    return _answer(_event("input", node))


@bp.route("/wait/<queue>", methods=["GET", "POST"])
def wait(queue: str) -> Response:
    """The Enqueue waitUrl, fetched again whenever the last document ends."""
    live = LiveQueue(position=count("QueuePosition") or 0, waited_s=count("QueueTime") or 0,
                     avg_wait_s=count("AvgQueueTime") or 0, size=count("CurrentQueueSize") or 0)
    step = hotline().hold(call_sid(), queue, live, hotline().now())
    key_url = link("/voice/hold-key", queue, t=count("t"))
    return xml(twiml.hold(step.say, key_url=key_url,
                          voices=current_app.config["VOICES"], audio_for=audio_urls(),
                          music_url=_hold_music_url()))


@bp.route("/hold-key/<queue>", methods=["GET", "POST"])
def hold_key(queue: str) -> Response:
    """A key pressed while holding: 1 leaves the queue for a callback."""
    line = hotline()
    sid = call_sid()
    if clean_digits(request.values.get("Digits")) == "1" and \
            line.request_callback(sid, count("t"), hotline().now()):
        return xml(twiml.leave())
    lang = line.lang_of(sid)
    keep = Utterance("hold_continue", line.catalog.text(lang, "hold_continue"), lang)
    return xml(twiml.words([keep], voices=current_app.config["VOICES"], audio_for=audio_urls()))


def _hold_music_url() -> str | None:
    finder = current_app.extensions.get("ivr.hold")
    rel = finder() if finder else None
    return link("/audio", rel) if rel else None


@bp.route("/queue-done", methods=["GET", "POST"])
def queue_done() -> Response:
    """The Enqueue action: the caller left the queue (hung up, bridged, or ``<Leave>``);
    after a bridge, the survey while the caller is still on the line (CallStatus)."""
    step = hotline().queue_done(call_sid(), request.values.get("QueueResult", "")[:32],
                                count("t"), hotline().now(),
                                request.values.get("CallStatus", "")[:32])
    return _render(step)


@bp.route("/recording", methods=["GET", "POST"])
def recording() -> Response:
    """The Record verb's recordingStatusCallback: the complaint's recording, processed.

    Twilio reads no answer. Bound to no turn: it comes when the recording is ready, which
    may be after the call ended; the ticket takes only the recording it was filed with.
    """
    form = request.values
    hotline().recording_done(call_sid(), form.get("RecordingSid", "")[:64],
                             form.get("RecordingUrl", "")[:512], count("RecordingDuration"),
                             form.get("RecordingStatus", "")[:32])
    return Response(status=204)


@bp.route("/fallback", methods=["GET", "POST"])
def fallback() -> Response:
    """The number's Fallback URL ("Primary handler fails"): Twilio asks it when the Voice
    URL or a later document failed, with ErrorCode and ErrorUrl
    (https://www.twilio.com/docs/usage/security/availability-reliability).

    Touches no database, which may be what failed: an apology in every language, then the
    fallback queue on Twilio's own hold music, with no URL of ours left to fail.
    """
    code = re.sub(r"[^0-9]", "", request.values.get("ErrorCode", ""))[:8]
    log.error("Twilio used the fallback URL for call %r: error %s at %r",
              request.values.get("CallSid", "")[:64], code or "?",
              request.values.get("ErrorUrl", "")[:256] or "?")
    line = hotline()
    return xml(twiml.apology(line.fallback_words(), line.fallback_queue(), wait_url=None,
                             queue_done_url=None, voices=current_app.config["VOICES"]))


@bp.route("/status", methods=["GET", "POST"])
def status() -> Response:
    """The status callback at the end of a call: from now on the call takes no steps.

    Only a final ``CallStatus`` ends it: a number whose callback also subscribes to
    ``initiated``/``ringing``/``answered`` events gets ``in-progress`` or ``ringing`` mid-call
    (Twilio, "StatusCallbackEvent"), and those must not freeze a live call."""
    sid, state = call_sid(), request.values.get("CallStatus", "")[:32]
    if state in FINAL_STATUSES:
        hotline().store.end_call(sid, state, count("CallDuration"), hotline().now())
    return Response(status=204)


@bp.errorhandler(Exception)
def apologise(exc: Exception) -> Response | HTTPException:
    """Never a 5xx: log, then apologise and queue the caller for a person."""
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        return exc
    if isinstance(exc, StoreUnreachable):  # one line each: an outage is many of them
        log.error("webhook %s failed: %s", request.path, exc)
    else:
        log.exception("webhook %s failed", request.path)
    if request.endpoint in ("voice.status", "voice.recording"):
        # Twilio reads no TwiML here; it logs the 503
        return Response(status=503)
    line = hotline()
    lang: str | None = None  # the caller's, when the database still tells it
    # a database that did not answer would wait as long again (a PostgreSQL away: the
    # pool's 10 s), and the apology would miss Twilio's 15 s; one that failed a statement
    # (a table broken, a write refused) may still say the caller's language
    if not isinstance(exc, StoreUnreachable):
        try:
            lang = line.lang_of(request.values.get("CallSid", ""))
        except Exception:  # noqa: BLE001 - the store may fail now, too
            log.exception("could not read the call's language")

    def said(key: str) -> tuple[Utterance, ...]:
        """In the caller's language, or else in every one: an English caller is told in
        English too, not only in the default language."""
        if lang is None:
            return line.in_every_language(key)
        return (Utterance(key, line.catalog.text(lang, key), lang),)

    voices = current_app.config["VOICES"]
    if request.endpoint in ("voice.wait", "voice.hold_key"):
        # inside the wait loop <Enqueue> is not allowed: just keep the caller holding
        return xml(twiml.hold(said("hold_message"),
                              key_url=absolute("voice.hold_key", queue="general"), voices=voices))
    return xml(twiml.apology(said("apology"), line.fallback_queue(),
                             wait_url=lambda q: absolute("voice.wait", queue=q),
                             queue_done_url=absolute("voice.queue_done"), voices=voices))
