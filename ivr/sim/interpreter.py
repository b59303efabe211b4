"""Run one call the way Twilio runs TwiML, against a real app, in simulated time.

``simulate`` fetches the Voice URL with a signed webhook, executes the verbs in order,
follows ``<Gather>``/``<Record>``/``<Redirect>``/``<Enqueue>`` to the next document, asks
the ``Caller`` whenever the call wants input, and returns the ``Trace``. It never sleeps:
every prompt, pause and time-out advances a millisecond clock (see ``timing``).

Twilio's rules it follows (and the simulator's own choices, marked *):

- every request carries AccountSid, ApiVersion, CallSid, CallStatus (``ringing`` on the
  first, then ``in-progress``), Called, Caller, Direction, From, To; a GET sends them in
  the query string and signs the full URL; relative URLs resolve against the document's;
- ``<Gather>`` posts Digits (or SpeechResult and Confidence) to its action, by default
  the current document's URL; a time-out, or only the finishOnKey, falls through to the
  next verb unless ``actionOnEmptyResult="true"`` (then the action gets no Digits);
  numDigits ends input at once, otherwise it ends ``timeout`` seconds after the last key;
- ``<Record>`` posts RecordingUrl, RecordingSid, RecordingDuration and Digits (the key
  that ended it, or ``hangup``); an empty recording posts nothing and falls through;
- ``<Enqueue>`` fetches its waitUrl with QueuePosition, QueueSid, QueueTime,
  AvgQueueTime, CurrentQueueSize and MaxQueueSize, plays it and fetches it again when it
  ends; ``<Leave>`` there leaves the queue and posts QueueResult=leave to the action (or
  falls through to the verb after ``<Enqueue>``). *No agent is simulated: ``Hold`` says
  when the simulation stops with the caller still queued or bridged;
- ``loop="0"`` repeats 1000 times; 3xx redirects are followed (5 at most);
- * the caller hears every prompt to its end before answering (no barge-in), then
  waits ``Pace.answer_delay_s``;
- * keys (or speech) given in answer to the PIN or the account-number prompt are
  masked in the trace the way the app's call events mask them (``masking``); the app
  gets them in clear. Which prompt is which comes from ``CallOptions.prompt_keys``;
  without it nothing is masked;
- anything Twilio would refuse ends the call with an ``error`` event carrying Twilio's
  code (11200 HTTP retrieval failure, 12100 parse failure, 12200 schema validation,
  12300 bad Content-Type), the URL and the document.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from twilio.request_validator import HMAC_SHA1

from ivr.sim import masking, timing
from ivr.sim.caller import TIMEOUT, Caller, Kind, Pace, Prompt, Script
from ivr.sim.document import SCHEMA_VALIDATION, Verb, parse
from ivr.sim.errors import TransportError, TwiMLError
from ivr.sim.trace import HEARD, EndedBy, EventType, Outcome, Trace, event
from ivr.sim.transport import Reply, Session, Transport, signed

log = logging.getLogger(__name__)

DEFAULT_FROM = "+15005550006"
DEFAULT_TO = "+18005550100"
ACCOUNT_SID = "AC" + "0" * 32
API_VERSION = "2010-04-01"
FOREVER = 1000  # what loop="0" means
MAX_HTTP_REDIRECTS = 5
#: Twilio's default hold music, played when <Enqueue> has no waitUrl
TWILIO_HOLD_MUSIC = "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"
TWILIO_HOLD_MUSIC_S = 30.0
TWIML_TYPES = ("text/xml", "application/xml", "text/html", "")
BAD_CONTENT_TYPE = 12300
_DEFAULT_AUDIO = timing.AudioDurations()


@dataclass(frozen=True, slots=True)
class Hold:
    """What happens once the caller is queued: no agent is simulated, so the run stops
    after ``wait_loops`` plays of the waitUrl or when an agent "answers" at
    ``bridge_after_s`` of queue time, whichever comes first (None: no such limit)."""

    wait_loops: int | None = 1
    bridge_after_s: float | None = None
    position: int = 1
    queue_size: int = 1
    avg_queue_time_s: int = 0
    max_queue_size: int = 1000


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Who calls whom, and the limits of one simulated call."""

    from_: str = DEFAULT_FROM
    to: str = DEFAULT_TO
    call_sid: str | None = None  # None: a fresh random CallSid
    account_sid: str = ACCOUNT_SID
    method: str = "POST"  # of the Voice URL
    hold: Hold = field(default_factory=Hold)
    pace: Pace = field(default_factory=Pace)
    status_callback: str | None = None
    max_requests: int = 200
    max_duration_s: float = 4 * 3600  # Twilio's longest call
    algorithm: str = HMAC_SHA1
    play_duration_s: timing.PlayDuration | None = None  # None: AudioDurations()
    #: names the catalog prompts a say/play event is, so the keys answering the PIN and
    #: account prompts are masked in the trace (None: the prompts are unknown, no masking)
    prompt_keys: masking.PromptKeys | None = None


def simulate(
    url: str,
    *,
    transport: Transport,
    token: str,
    caller: Caller | None = None,
    options: CallOptions | None = None,
) -> Trace:
    """Call ``url`` (the Voice URL) and return what happened; never raises for app faults."""
    return _Call(
        transport.session(), token, caller or Script().caller(), options or CallOptions()
    ).run(url)


@dataclass(frozen=True, slots=True)
class _Next:
    url: str
    method: str
    params: Mapping[str, str]
    waiting: bool = False  # runs while queued (waitUrl rules)


class _Stop(Exception):
    def __init__(self, ended_by: EndedBy, queue: str | None = None) -> None:
        self.ended_by = ended_by
        self.queue = queue


class _Leave(Exception):
    pass


@dataclass(slots=True)
class _Queue:
    name: str
    sid: str
    start_ms: int
    event: dict[str, Any]
    deadline_ms: int | None


class _Call:
    def __init__(self, session: Session, token: str, caller: Caller, options: CallOptions) -> None:
        self.session = session
        self.token = token
        self.caller = caller
        self.o = options
        self.sid = options.call_sid or "CA" + uuid.uuid4().hex
        self.play_s = options.play_duration_s or _DEFAULT_AUDIO
        self.clock = 0
        self.events: list[dict[str, Any]] = []
        self.requests = 0
        self.heard: list[str] = []
        self.heard_events: list[Mapping[str, Any]] = []
        self.asking: masking.Secret | None = None  # what the last prompt heard asks for
        self.language = "en-US"
        self.queue: _Queue | None = None
        self.document = ("", "")  # url and body of the document running, for errors
        self.recordings = 0

    # -- the call ---------------------------------------------------------------------

    def run(self, url: str) -> Trace:
        nxt: _Next | None = _Next(url, self.o.method, {})
        try:
            while nxt is not None:
                doc_url, verbs = self._fetch(nxt)
                nxt = self._run(doc_url, verbs, nxt.waiting)
            stop = _Stop(EndedBy.END_OF_DOCUMENT)
        except _Stop as exc:
            stop = exc
        except TwiMLError as exc:
            fields = {
                "code": exc.code,
                "message": exc.message,
                "url": exc.url,
                "status": exc.status,
            }
            self._emit(EventType.ERROR, **fields, document=exc.document[:20000])
            stop = _Stop(EndedBy.ERROR)
        self._close_queue(
            {EndedBy.HANGUP: "hangup", EndedBy.ERROR: "error"}.get(stop.ended_by, "queued")
        )
        self._status_callback()
        outcome = Outcome(stop.ended_by, stop.queue, self.clock / 1000, self.requests)
        return Trace(self.sid, self.o.from_, self.o.to, tuple(self.events), outcome)

    def _run(self, doc_url: str, verbs: tuple[Verb, ...], waiting: bool) -> _Next | None:
        """Execute one document; the next request to make, or None when it runs out."""
        for verb in verbs:
            name = verb.name
            nxt: _Next | None = None
            if name in ("Say", "Play", "Pause"):
                self._play(verb, doc_url)
            elif name == "Gather":
                nxt = self._gather(verb, doc_url, waiting)
            elif name == "Redirect":
                target, method = urljoin(doc_url, verb.text), self._method(verb, "method")
                self._emit(EventType.REDIRECT, url=target, method=method)
                nxt = _Next(target, method, {}, waiting)
            elif name == "Record":
                nxt = self._record(verb, doc_url, waiting)
            elif name == "Enqueue":
                nxt = self._enqueue(verb, doc_url)
            elif name == "Leave" and waiting:
                raise _Leave
            elif name in ("Hangup", "Reject"):
                extra = {"reject": verb.get("reason", "rejected")} if name == "Reject" else {}
                self._emit(EventType.HANGUP, **extra)
                raise _Stop(EndedBy.HANGUP)
            elif name == "Dial":
                self._emit(
                    EventType.DIAL,
                    to=_dial_targets(verb),
                    action=_opt_url(doc_url, verb.get("action")),
                )
                raise _Stop(EndedBy.DIAL)
            if nxt is not None:
                return nxt
        return None

    # -- what the caller hears ----------------------------------------------------------

    def _play(self, verb: Verb, doc_url: str) -> None:
        loop = self._int(verb, "loop", 1)
        times = FOREVER if loop == 0 else loop
        if verb.name == "Say":
            language = verb.get("language", "en-US") or "en-US"
            self.language = language
            one = timing.speech_ms(verb.text, language)
            one += sum(timing.break_ms(b.get("time"), b.get("strength")) for b in verb.children)
            voice = verb.get("voice", "man")
            self._emit(
                EventType.SAY,
                one * times,
                text=verb.text,
                voice=voice,
                language=language,
                loop=loop,
            )
        elif verb.name == "Play" and verb.get("digits"):
            digits = verb.get("digits") or ""
            self._emit(EventType.PLAY, timing.dtmf_ms(digits) * times, digits=digits, loop=loop)
        elif verb.name == "Play":
            url = urljoin(doc_url, verb.text)
            seconds = self.play_s(url)
            source = "audio" if seconds is not None else "guess"
            one = timing.ms(seconds if seconds is not None else timing.UNKNOWN_PLAY_S)
            self._emit(EventType.PLAY, one * times, url=url, loop=loop, duration_source=source)
        else:
            self._emit(EventType.PAUSE, timing.ms(self._int(verb, "length", 1)))

    # -- input ----------------------------------------------------------------------------

    def _gather(self, verb: Verb, doc_url: str, waiting: bool) -> _Next | None:
        modes = frozenset((verb.get("input") or "dtmf").split())
        num_digits = self._int(verb, "numDigits", 0) or None
        finish = verb.get("finishOnKey", "#") or ""
        timeout_ms = timing.ms(self._int(verb, "timeout", 5))
        action = urljoin(doc_url, verb.get("action") or "")
        method = self._method(verb, "method")
        on_empty = (verb.get("actionOnEmptyResult") or "false").lower() == "true"
        self._emit(
            EventType.GATHER,
            action=action,
            method=method,
            input=" ".join(sorted(modes)),
            num_digits=num_digits,
            finish_on_key=finish,
            timeout_s=timeout_ms / 1000,
            action_on_empty_result=on_empty,
        )
        for nested in verb.children:
            self._play(nested, doc_url)
        heard = self._take_heard()
        secret = self.asking
        answer = self.caller.answer(
            Prompt("gather", doc_url, modes, num_digits, finish, heard, action, secret)
        )
        params: dict[str, str] = {}
        if answer.kind is Kind.HANGUP:
            self._emit(EventType.INPUT, hangup=True)
            raise _Stop(EndedBy.CALLER_HANGUP)
        if answer.kind is Kind.KEYS and "dtmf" in modes:
            self._wait(timing.ms(self.o.pace.answer_delay_s))
            digits = self._keys(answer.value, num_digits, finish, timeout_ms, secret)
            params = {"Digits": digits} if digits else {}
        elif answer.kind is Kind.SPEECH and "speech" in modes:
            self._wait(timing.ms(self.o.pace.answer_delay_s))
            end_ms = self._speech_timeout_ms(verb, timeout_ms)
            talk = timing.speech_ms(answer.value, verb.get("language", "en-US") or "en-US")
            said = masking.input_event(secret, {"speech": answer.value, "digits": ""})
            self._emit(EventType.INPUT, talk + end_ms, **said)
            params = {"SpeechResult": answer.value, "Confidence": "0.9"}
        else:
            ignored = {} if answer == TIMEOUT else {"ignored": str(answer)}
            fields = masking.input_event(secret, {"digits": "", "timeout": True, **ignored})
            self._emit(EventType.INPUT, timeout_ms, **fields)
        if params or on_empty:
            return _Next(action, method, params, waiting)
        return None

    def _keys(
        self,
        keys: str,
        num_digits: int | None,
        finish: str,
        timeout_ms: int,
        secret: masking.Secret | None = None,
    ) -> str:
        """Press ``keys`` into a Gather; emit the input event (masked if they answer a
        ``secret`` prompt); return the Digits, in clear."""
        collected, pressed, ended = "", "", "timeout"
        for key in keys:
            pressed += key
            if finish and key in finish:
                ended = "finish-on-key"
                break
            collected += key
            if num_digits and len(collected) >= num_digits:
                ended = "num-digits"
                break
        interval = timing.ms(self.o.pace.key_interval_s)
        duration = (len(pressed) - 1) * interval + (timeout_ms if ended == "timeout" else 0)
        extra = {"dropped": keys[len(pressed) :]} if len(pressed) < len(keys) else {}
        fields = {
            "digits": collected,
            "keys": pressed,
            "key_interval_s": interval / 1000,
            "ended": ended,
            **extra,
        }
        self._emit(EventType.INPUT, duration, **masking.input_event(secret, fields))
        return collected

    def _record(self, verb: Verb, doc_url: str, waiting: bool) -> _Next | None:
        action = urljoin(doc_url, verb.get("action") or "")
        method = self._method(verb, "method")
        timeout_ms = timing.ms(self._int(verb, "timeout", 5))
        finish = verb.get("finishOnKey", "1234567890*#") or ""
        max_ms = timing.ms(self._int(verb, "maxLength", 3600) or 3600)
        beep = (verb.get("playBeep") or "true").lower() != "false"
        trim = (verb.get("trim") or "trim-silence") != "do-not-trim"
        self._emit(
            EventType.RECORD,
            timing.ms(timing.BEEP_S) if beep else 0,
            action=action,
            method=method,
            max_length_s=max_ms / 1000,
            timeout_s=timeout_ms / 1000,
            finish_on_key=finish,
            beep=beep,
        )
        heard = self._take_heard()
        prompt = Prompt("record", doc_url, frozenset({"dtmf"}), None, finish, heard, action)
        answer = self.caller.answer(prompt)
        talk, key, silence = 0, "", timeout_ms
        if answer.kind is Kind.KEYS:
            talk = min(timing.ms(self.o.pace.record_s), max_ms)
            key = next((k for k in answer.value if k in finish), "") if talk < max_ms else ""
            silence = 0 if key or talk >= max_ms else timeout_ms
        elif answer.kind is Kind.SPEECH:
            talk = min(timing.speech_ms(answer.value, self.language), max_ms)
            silence = timeout_ms if talk < max_ms else 0
        elif answer.kind is Kind.HANGUP:
            talk, key, silence = min(timing.ms(self.o.pace.record_s), max_ms), "hangup", 0
        recorded = talk + (0 if trim else silence)
        fields: dict[str, Any] = {"digits": key, "recording_s": recorded / 1000}
        if answer.kind is Kind.SPEECH:
            fields["speech"] = answer.value
        if answer.kind is Kind.HANGUP:
            fields["hangup"] = True
        self._emit(EventType.INPUT, talk + silence, **fields, timeout=answer.kind is Kind.TIMEOUT)
        if talk == 0:
            return None  # Twilio drops an empty recording and carries on with the next verb
        self.recordings += 1
        rec_sid = "RE" + hashlib.md5(f"{self.sid}:{self.recordings}".encode()).hexdigest()
        params = {
            "RecordingSid": rec_sid,
            "RecordingUrl": f"https://api.twilio.com/{API_VERSION}/Accounts/{self.o.account_sid}/Recordings/{rec_sid}",
            "RecordingDuration": str(round(recorded / 1000)),
        }
        if key:
            params["Digits"] = key
        if key == "hangup":
            # Twilio still posts the recording to the action; what it answers is not played
            self._request(_Next(action, method, params, waiting))
            raise _Stop(EndedBy.CALLER_HANGUP)
        return _Next(action, method, params, waiting)

    # -- queues ------------------------------------------------------------------------

    def _enqueue(self, verb: Verb, doc_url: str) -> _Next | None:
        name = verb.text
        hold = self.o.hold
        wait_url = _opt_url(doc_url, verb.get("waitUrl"))
        action = _opt_url(doc_url, verb.get("action"))
        ev = self._emit(
            EventType.ENQUEUE,
            queue=name,
            wait_url=wait_url,
            action=action,
            hold_s=0.0,
            result="queued",
        )
        deadline = (
            self.clock + timing.ms(hold.bridge_after_s) if hold.bridge_after_s is not None else None
        )
        sid = "QU" + hashlib.md5(name.encode()).hexdigest()
        queue = self.queue = _Queue(name, sid, self.clock, ev, deadline)
        loops = 0
        try:
            while hold.wait_loops is None or loops < hold.wait_loops:
                loops += 1
                if wait_url is None:
                    music = timing.ms(TWILIO_HOLD_MUSIC_S)
                    self._emit(
                        EventType.PLAY,
                        music,
                        url=TWILIO_HOLD_MUSIC,
                        loop=1,
                        duration_source="guess",
                    )
                    continue
                nxt: _Next | None = _Next(
                    wait_url, self._method(verb, "waitUrlMethod"), self._queue_params(queue), True
                )
                while nxt is not None:
                    doc, verbs = self._fetch(nxt)
                    nxt = self._run(doc, verbs, waiting=True)
        except _Leave:
            self._close_queue("leave")
            self._emit(EventType.LEAVE, queue=name)
            if action is None:
                return None
            params = {
                "QueueResult": "leave",
                "QueueSid": sid,
                "QueueTime": str((self.clock - queue.start_ms) // 1000),
            }
            return _Next(action, self._method(verb, "method"), params)
        raise _Stop(EndedBy.ENQUEUE, name)

    def _queue_params(self, queue: _Queue) -> dict[str, str]:
        hold = self.o.hold
        return {
            "QueueSid": queue.sid,
            "QueuePosition": str(hold.position),
            "QueueTime": str((self.clock - queue.start_ms) // 1000),
            "AvgQueueTime": str(hold.avg_queue_time_s),
            "CurrentQueueSize": str(hold.queue_size),
            "MaxQueueSize": str(hold.max_queue_size),
        }

    def _close_queue(self, result: str) -> None:
        if self.queue is not None:
            self.queue.event["hold_s"] = (self.clock - self.queue.start_ms) / 1000
            self.queue.event["result"] = result
            self.queue = None

    # -- time --------------------------------------------------------------------------

    def _emit(
        self, type_: EventType, duration_ms: int | None = None, /, **fields: Any
    ) -> dict[str, Any]:
        """Record an event now; if it takes time, spend it (bridging may cut it short)."""
        ev = event(self.clock, type_, **fields)
        if duration_ms is not None:
            ev["duration_s"] = duration_ms / 1000
        self.events.append(ev)
        if type_ in HEARD:
            self.heard.append(str(ev.get("text") or ev.get("url") or ev.get("digits")))
            self.heard_events.append(ev)
        cut = self._spend(duration_ms or 0)
        if cut is not None:
            ev["duration_s"] = cut / 1000
            ev["interrupted"] = True
        self.caller.hear(ev)
        if cut is not None:
            self._bridged()
        return ev

    def _wait(self, duration_ms: int) -> None:
        if self._spend(duration_ms) is not None:
            self._bridged()

    def _spend(self, duration_ms: int) -> int | None:
        """Advance the clock; the part actually spent if an agent answered meanwhile."""
        q = self.queue
        if (
            q is not None
            and q.deadline_ms is not None
            and self.clock + duration_ms >= q.deadline_ms
        ):
            spent = max(q.deadline_ms - self.clock, 0)
            self.clock = q.deadline_ms
            return spent
        if self.clock + duration_ms > timing.ms(self.o.max_duration_s):
            raise TwiMLError(
                None,
                f"call longer than {self.o.max_duration_s:g} s",
                self.document[0],
                self.document[1],
            )
        self.clock += duration_ms
        return None

    def _bridged(self) -> None:
        assert self.queue is not None
        name = self.queue.name
        self._close_queue("bridged")
        raise _Stop(EndedBy.ENQUEUE, name)

    def _take_heard(self) -> tuple[str, ...]:
        """What was heard since the previous prompt; notes whether it asks for a secret
        (nothing heard: the caller still answers the prompt heard last)."""
        heard, self.heard = tuple(self.heard), []
        events, self.heard_events = self.heard_events, []
        if events and self.o.prompt_keys is not None:
            self.asking = masking.asked(events, self.o.prompt_keys)
        return heard

    # -- requests ------------------------------------------------------------------------

    def _standard(self) -> dict[str, str]:
        o = self.o
        return {
            "AccountSid": o.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.sid,
            "CallStatus": "ringing" if self.requests == 0 else "in-progress",
            "Called": o.to,
            "Caller": o.from_,
            "Direction": "inbound",
            "From": o.from_,
            "To": o.to,
        }

    def _request(self, nxt: _Next) -> Reply:
        """Send one signed webhook, following HTTP redirects."""
        url, method, params = nxt.url, nxt.method, {**self._standard(), **nxt.params}
        for _ in range(MAX_HTTP_REDIRECTS + 1):
            if self.requests >= self.o.max_requests:
                raise TwiMLError(
                    None, f"gave up after {self.requests} requests (a loop?)", url, self.document[1]
                )
            self.requests += 1
            try:
                reply = self.session.send(signed(method, url, params, self.token, self.o.algorithm))
            except TransportError as exc:
                raise TwiMLError(11200, f"HTTP retrieval failure: {exc}", url) from None
            if reply.status not in (301, 302, 303, 307, 308) or not reply.location:
                break
            url = urljoin(url, reply.location)
            if reply.status in (301, 302, 303):
                method, params = "GET", self._standard()
        self.document = (url, reply.body.decode("utf-8", "replace"))
        if not 200 <= reply.status < 300:
            raise TwiMLError(
                11200,
                f"HTTP retrieval failure: status {reply.status}",
                url,
                self.document[1],
                reply.status,
            )
        return reply

    def _fetch(self, nxt: _Next) -> tuple[str, tuple[Verb, ...]]:
        reply = self._request(nxt)
        url, body = self.document
        content_type = reply.content_type.split(";")[0].strip().lower()
        if content_type not in TWIML_TYPES:
            raise TwiMLError(
                BAD_CONTENT_TYPE, f"invalid Content-Type {content_type!r}", url, body, reply.status
            )
        return url, parse(reply.body, url=url, waiting=nxt.waiting)

    def _status_callback(self) -> None:
        url = self.o.status_callback
        if not url:
            return
        params = {"CallStatus": "completed", "CallDuration": str(math.ceil(self.clock / 1000))}
        try:
            self._request(_Next(url, "POST", params))
        except TwiMLError as exc:
            log.warning("status callback failed: %s", exc)

    # -- attribute values --------------------------------------------------------------

    def _int(self, verb: Verb, name: str, default: int) -> int:
        raw = verb.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if value < 0:
            url, body = self.document
            raise TwiMLError(
                SCHEMA_VALIDATION, f"<{verb.name} {name}={raw!r}> is not a whole number", url, body
            )
        return value

    def _speech_timeout_ms(self, verb: Verb, timeout_ms: int) -> int:
        """The silence that ends speech: ``auto`` is about a second, else a number."""
        raw = verb.get("speechTimeout")
        if raw == "auto":
            return 1000
        return timing.ms(self._int(verb, "speechTimeout", 0)) if raw else timeout_ms

    def _method(self, verb: Verb, name: str) -> str:
        method = (verb.get(name) or "POST").upper()
        if method not in ("GET", "POST"):
            url, body = self.document
            raise TwiMLError(
                SCHEMA_VALIDATION, f"<{verb.name} {name}={method!r}> is not GET or POST", url, body
            )
        return method


def _opt_url(base: str, ref: str | None) -> str | None:
    return urljoin(base, ref) if ref else None


def _dial_targets(verb: Verb) -> list[str]:
    if verb.children:
        return [f"{c.name}:{c.text}" for c in verb.children]
    return [verb.text] if verb.text else []
