"""Run one call the way Twilio runs TwiML, against a real app, in simulated time.

``simulate`` fetches the Voice URL with a signed webhook, executes the verbs in order,
follows ``<Gather>``/``<Record>``/``<Redirect>``/``<Enqueue>`` to the next document, asks
the ``Caller`` whenever the call wants input, and returns the ``Trace``. It never sleeps:
every prompt, pause and time-out advances a millisecond clock (see ``timing``).

Twilio's rules it follows (and the simulator's own choices, marked *):

- every request carries AccountSid, ApiVersion, CallSid, CallStatus (``ringing`` on the
  first, ``completed`` once the call is over, else ``in-progress``), Called, Caller,
  Direction, From, To; a GET sends them in the query string and signs the full URL;
  relative URLs resolve against the document's;
- ``<Gather>`` posts Digits (or SpeechResult and Confidence) to its action, by default
  the current document's URL; a time-out, or only the finishOnKey, falls through to the
  next verb unless ``actionOnEmptyResult="true"`` (then the action gets no Digits);
  numDigits ends input at once, otherwise it ends ``timeout`` seconds after the last key;
- speech is heard only by a Gather whose ``input`` has ``speech``: elsewhere Twilio does
  not listen and the caller's words are no input (the time-out runs out); the speech
  attributes and what the recogniser sends are ``recognition``'s (its warnings 13327,
  13330, 13331, 13334, 13335, 13512...). * The caller speaks ``Pace.answer_delay_s`` after
  the prompt, for as long as the words take (``timing``), then the speechTimeout's
  silence ends the speech;
- barge-in: the first key stops the Gather's nested ``<Say>``/``<Play>``/``<Pause>``, and
  the time-out runs from the end of the prompt or from that key (Twilio's <Gather> page:
  the timeout starts once the nested verbs have finished). A scripted caller presses
  early only when its script says so (``1!``, see ``caller``); * otherwise the caller hears
  the prompt to its end, then waits ``Pace.answer_delay_s``;
- ``<Record>`` posts RecordingUrl, RecordingSid, RecordingDuration and Digits (the key
  that ended it, or ``hangup``); an empty recording posts nothing and falls through;
- ``<Enqueue>`` fetches its waitUrl with QueuePosition, QueueSid, QueueTime,
  AvgQueueTime, CurrentQueueSize and MaxQueueSize, plays it and fetches it again when it
  ends; no waitUrl is Twilio's default hold music, ``waitUrl=""`` is silence. When the
  caller leaves the queue its ``action`` is requested with QueueResult (see ``Hold``):
  ``leave`` (``<Leave>``), ``hangup`` (the caller hung up while holding, or the wait
  document said ``<Hangup>``: requested, its answer not run, the call being over),
  ``bridged`` (after the agent's conversation), ``queue-full``, ``error``,
  ``system-error``; without an action the verb after ``<Enqueue>`` runs. ``Hold`` says
  when the simulation stops with the caller still queued or bridged by an abstract agent
  (``redirected``, a REST API move, is not simulated), or parks the caller on the
  target's ``Switchboard`` for a later call to take;
- ``<Dial><Queue>`` (an agent's call) takes the first caller parked in that queue: the
  ``<Queue url>`` document is fetched for the *caller* (CallSid theirs, with QueueSid,
  QueueTime and DequeingCallSid) and played to them (Play, Say, Pause, Redirect only),
  the two talk for the caller's ``Hold.talk_s`` (``DEFAULT_TALK_S``), then the caller
  hangs up: their Enqueue action gets QueueResult=bridged (its answer not run) and the
  Dial's action DialCallStatus=completed and DialCallDuration. With nobody parked the
  Dial waits its ``timeout`` and the action gets DialCallStatus=no-answer. *A ``<Dial>``
  of anything else (or with no switchboard) is not simulated: the run stops there;
- ``loop="0"`` repeats 1000 times; 301, 302, 303 and 307 are followed, 10 at most
  (then 11215; another 3xx or one without Location is 11216), the request's own
  parameters (Digits...) not sent again, 301/302/303 as a GET;
- the answer's Content-Type: text/xml, application/xml and text/html are TwiML;
  text/plain is TwiML when it is XML, else its words are read out and the call hangs
  up; an audio type is played, then the call hangs up (in a queue the wait URL is
  fetched again); anything else, or none, is 12300; an empty body is 11770;
- what Twilio only warns about (12200 schema problems, bad attribute values such as
  13313 for a Gather timeout) is a ``warning`` event: the attribute falls back to its
  default, the element is dropped, and the call goes on;
- * keys (or speech) given in answer to the PIN or the account-number prompt are
  masked in the trace the way the app's call events mask them (``masking``); the app
  gets them in clear. Which prompt is which comes from ``CallOptions.prompt_keys``;
  without it nothing is masked;
- anything Twilio would refuse ends the call with an ``error`` event carrying Twilio's
  code (11200 HTTP retrieval failure, 11215/11216 redirects, 11770 empty body, 12100
  parse failure, 12102 root element, 12300 bad Content-Type, 14206 Enqueue method),
  the URL and the document.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import uuid
import wave
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from twilio.request_validator import HMAC_SHA1

from ivr.audio import timing
from ivr.sim import masking, recognition
from ivr.sim.caller import TIMEOUT, Answer, Caller, Kind, Pace, Prompt, Script
from ivr.sim.document import SCHEMA_VALIDATION, Verb, read
from ivr.sim.errors import TransportError, TwiMLError
from ivr.sim.recognition import Recognition
from ivr.sim.switchboard import Switchboard
from ivr.sim.trace import HEARD, EndedBy, EventType, Outcome, Trace, event
from ivr.sim.transport import Reply, Session, Transport, signed

log = logging.getLogger(__name__)

DEFAULT_FROM = "+15005550006"
DEFAULT_TO = "+18005550100"
ACCOUNT_SID = "AC" + "0" * 32
API_VERSION = "2010-04-01"
FOREVER = 1000  # what loop="0" means
#: Twilio follows these only (https://www.twilio.com/docs/api/errors/11216)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307})
MAX_HTTP_REDIRECTS = 10
MAX_CALL_S = 4 * 3600  # Twilio's longest call
#: Twilio's default hold music, played when <Enqueue> has no waitUrl
TWILIO_HOLD_MUSIC = "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"
TWILIO_HOLD_MUSIC_S = 30.0
TWIML_TYPES = frozenset({"text/xml", "application/xml", "text/html"})
TEXT_TYPE = "text/plain"
#: what <Play> (and so a document) may be (https://www.twilio.com/docs/voice/twiml/play)
AUDIO_TYPES = frozenset(
    {
        "audio/mpeg",
        "audio/wav",
        "audio/wave",
        "audio/x-wav",
        "audio/aiff",
        "audio/x-aifc",
        "audio/x-aiff",
        "audio/x-gsm",
        "audio/gsm",
        "audio/ulaw",
    }
)
HTTP_RETRIEVAL = 11200
TOO_MANY_REDIRECTS = 11215
INVALID_REDIRECT = 11216
EMPTY_BODY = 11770
BAD_CONTENT_TYPE = 12300
ENQUEUE_WAIT_METHOD = 14206
#: warnings for bad attribute values (https://www.twilio.com/docs/api/errors/<code>)
GATHER_FINISH_ON_KEY, GATHER_TIMEOUT, GATHER_SAY_LOOP = 13310, 13313, 13322
SAY_LOOP = 13510
DTMF = "0123456789*#"
#: QueueResult values of a queue session Twilio ends on its own side (``Hold.ends``)
TWILIO_ENDS = frozenset({"error", "system-error"})
HOLD_ENDS = frozenset({"queued", "hangup"}) | TWILIO_ENDS
#: how long a parked caller and the agent who takes them talk, unless ``Hold.talk_s`` says
DEFAULT_TALK_S = 60.0
#: <Dial>'s default timeout (https://www.twilio.com/docs/voice/twiml/dial)
DIAL_TIMEOUT_S = 30
_DEFAULT_AUDIO = timing.AudioDurations()


@dataclass(frozen=True, slots=True)
class Hold:
    """What happens once the caller is queued. No agent is simulated: the run stops after
    ``wait_loops`` plays of the waitUrl, or when an agent "answers" at ``bridge_after_s``
    of queue time, or when the caller gives up at ``patience_s``, whichever comes first
    (None: no such limit).

    :param ends: after the wait loops, ``queued``: the simulation stops, the caller still
        holding (no QueueResult); ``hangup``: the caller hangs up (QueueResult=hangup);
        ``error``/``system-error``: Twilio takes the caller out of the queue, the action
        is requested with that QueueResult and what it answers runs.
    :param talk_s: after an agent answers, they talk this long and hang up, then the
        action is requested with QueueResult=bridged and its answer runs (None: the
        simulation stops as the agent answers).
    :param queue_size: callers in the queue counting this one (CurrentQueueSize); more
        than ``max_queue_size`` (or the Enqueue's ``maxQueueSize``) and the queue is full:
        the caller is not queued, QueueResult=queue-full.
    :param wait_for_agent: after the wait loops the caller stays in the queue, parked on
        the target's ``Switchboard`` for a later call's ``<Dial><Queue>`` (an agent on
        ``/agent/voice``); ``talk_s`` is then how long they talk before hanging up.
    """

    wait_loops: int | None = 1
    bridge_after_s: float | None = None
    position: int = 1
    queue_size: int = 1
    avg_queue_time_s: int = 0
    max_queue_size: int = 1000
    patience_s: float | None = None
    ends: str = "queued"
    talk_s: float | None = None
    wait_for_agent: bool = False

    def __post_init__(self) -> None:
        if self.ends not in HOLD_ENDS:
            raise ValueError(f"hold ends {self.ends!r}: one of {', '.join(sorted(HOLD_ENDS))}")
        for name in ("bridge_after_s", "patience_s", "talk_s"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and value >= 0):
                raise ValueError(f"hold {name} {value!r}: a number of seconds, 0 or more")


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
    max_duration_s: float = MAX_CALL_S
    algorithm: str = HMAC_SHA1
    play_duration_s: timing.PlayDuration | None = None  # None: AudioDurations()
    #: names the catalog prompts a say/play event is, so the keys answering the PIN and
    #: account prompts are masked in the trace (None: the prompts are unknown, no masking)
    prompt_keys: masking.PromptKeys | None = None
    #: told the seconds since the call started before every webhook, so an app in this
    #: process can keep the call's simulated time (``target.SimClock``)
    tick: Callable[[float], None] | None = None
    #: the queues this call shares with the target's other calls (None: its own only)
    switchboard: Switchboard | None = None
    #: how the recogniser hears the caller's speech: its Confidence and noise
    recognition: Recognition = field(default_factory=Recognition)


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
    dequeued: bool = False  # a <Queue url> document, played to the caller being dequeued


class _Stop(Exception):
    def __init__(self, ended_by: EndedBy, queue: str | None = None) -> None:
        self.ended_by = ended_by
        self.queue = queue


class _Leave(Exception):
    pass


class _Dequeued(Exception):
    """The queue session ended with ``result`` and the call goes on at the action."""

    def __init__(self, result: str) -> None:
        self.result = result


@dataclass(slots=True)
class _Queue:
    name: str
    sid: str
    start_ms: int
    event: dict[str, Any]
    max_size: int
    deadline_ms: int | None = None
    at_deadline: str = "bridged"  # or "hangup": the caller's patience ran out first


#: a sound to play: its event type, its length in ms and the event's fields
_Sound = tuple[EventType, int, dict[str, Any]]


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
        self.over = False  # hung up: what Twilio still requests is not run
        #: parked on the switchboard: when, and the Enqueue's action and method
        self.parked: tuple[int, str | None, str] | None = None
        self.audio_s: dict[str, float | None] = {}  # audio answered as a document
        self.recogniser = options.recognition.recogniser()

    # -- the call ---------------------------------------------------------------------

    def run(self, url: str) -> Trace:
        nxt: _Next | None = _Next(url, self.o.method, {})
        try:
            while nxt is not None:
                doc_url, verbs = self._fetch(nxt)
                nxt = self._run(doc_url, verbs, nxt)
            stop = _Stop(EndedBy.END_OF_DOCUMENT)
        except _Stop as exc:
            stop = exc
        except TwiMLError as exc:
            stop = self._error(exc)
        if self.parked is not None and stop.ended_by is EndedBy.ENQUEUE:
            return self._trace(stop)  # still queued: a later call may take it
        return self._finish(stop)

    def _error(self, exc: TwiMLError) -> _Stop:
        fields = {"code": exc.code, "message": exc.message, "url": exc.url, "status": exc.status}
        self._emit(EventType.ERROR, **fields, document=exc.document[:20000])
        return _Stop(EndedBy.ERROR)

    def _finish(self, stop: _Stop) -> Trace:
        """The call is over: its queue closed, the status callback sent, its trace."""
        self._close_queue(
            {
                EndedBy.HANGUP: "hangup",
                EndedBy.CALLER_HANGUP: "hangup",
                EndedBy.ERROR: "error",
            }.get(stop.ended_by, "queued")
        )
        self._status_callback()
        return self._trace(stop)

    def _trace(self, stop: _Stop) -> Trace:
        outcome = Outcome(stop.ended_by, stop.queue, self.clock / 1000, self.requests)
        return Trace(self.sid, self.o.from_, self.o.to, tuple(self.events), outcome)

    def _run(self, doc_url: str, verbs: tuple[Verb, ...], came: _Next) -> _Next | None:
        """Execute one document (fetched by ``came``, whose rules a redirect keeps); the
        next request to make, or None when it runs out."""
        waiting = came.waiting
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
                nxt = _Next(target, method, {}, waiting, came.dequeued)
            elif name == "Record":
                nxt = self._record(verb, doc_url, waiting)
            elif name == "Enqueue":
                nxt = self._enqueue(verb, doc_url)
            elif name == "Leave" and waiting:
                raise _Leave
            elif name in ("Hangup", "Reject"):
                extra = {"reject": verb.get("reason", "rejected")} if name == "Reject" else {}
                self._emit(EventType.HANGUP, **extra)
                self.over = True
                raise _Stop(EndedBy.HANGUP)
            elif name == "Dial":
                nxt = self._dial(verb, doc_url)
            if nxt is not None:
                return nxt
        return None

    # -- what the caller hears ----------------------------------------------------------

    def _play(self, verb: Verb, doc_url: str) -> None:
        type_, duration, fields = self._sound(verb, doc_url)
        self._note_heard(type_, self._emit(type_, duration, **fields))

    def _sound(self, verb: Verb, doc_url: str, in_gather: bool = False) -> _Sound:
        """What a <Say>, <Play> or <Pause> will sound like, and for how long."""
        if verb.name == "Say":
            loop = self._int(verb, "loop", 1, GATHER_SAY_LOOP if in_gather else SAY_LOOP)
            times = FOREVER if loop == 0 else loop
            language = verb.get("language", "en-US") or "en-US"
            self.language = language
            one = timing.speech_ms(verb.text, language)
            one += sum(timing.break_ms(b.get("time"), b.get("strength")) for b in verb.children)
            voice = verb.get("voice", "man")
            fields = {"text": verb.text, "voice": voice, "language": language, "loop": loop}
            return EventType.SAY, one * times, fields
        if verb.name == "Play":
            loop = self._int(verb, "loop", 1)
            times = FOREVER if loop == 0 else loop
            digits = verb.get("digits")
            if digits:
                return EventType.PLAY, timing.dtmf_ms(digits) * times, {"digits": digits, "loop": loop}
            url = urljoin(doc_url, verb.text)
            seconds = self.audio_s[url] if url in self.audio_s else self.play_s(url)
            source = "audio" if seconds is not None else "guess"
            one = timing.ms(seconds if seconds is not None else timing.UNKNOWN_PLAY_S)
            fields = {"url": url, "loop": loop, "duration_source": source}
            return EventType.PLAY, one * times, fields
        return EventType.PAUSE, timing.ms(self._int(verb, "length", 1)), {}

    def _note_heard(self, type_: EventType, fields: Mapping[str, Any]) -> None:
        """Remember a sound for the next prompt's ``heard`` and for masking."""
        if type_ in HEARD:
            self.heard.append(str(fields.get("text") or fields.get("url") or fields.get("digits")))
            self.heard_events.append(fields)

    # -- input ----------------------------------------------------------------------------

    def _gather(self, verb: Verb, doc_url: str, waiting: bool) -> _Next | None:
        num_digits = self._int(verb, "numDigits", 0) or None
        finish = self._keys_attr(verb, "finishOnKey", "#", GATHER_FINISH_ON_KEY)
        timeout_ms = timing.ms(self._int(verb, "timeout", 5, GATHER_TIMEOUT))
        listen, warnings = recognition.listening(verb.attrs, timeout_ms)
        for warning in warnings:
            self._warn(warning.code, warning.message)
        modes = listen.modes
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
            **({"language": listen.language} if listen.speech else {}),
        )
        sounds = [self._sound(nested, doc_url, in_gather=True) for nested in verb.children]
        for type_, _, fields in sounds:
            self._note_heard(type_, fields)  # the whole prompt counts, even if cut short
        heard = self._take_heard()
        secret = self.asking
        prompt_ms = sum(duration for _, duration, _ in sounds)
        prompt = Prompt(
            "gather",
            doc_url,
            modes,
            num_digits,
            finish,
            heard,
            action,
            secret,
            prompt_ms / 1000,
            timeout_ms / 1000,
            listen.language,
        )
        # a script knows its answer as the prompt starts, so it may barge in; a person at
        # a terminal hears the prompt first
        answer = self.caller.answer(prompt) if getattr(self.caller, "ahead", False) else None
        first_key_ms = None  # from the start of the prompt
        if answer is not None and answer.kind is Kind.KEYS and "dtmf" in modes:
            decided = (
                min(timing.ms(answer.barge_in_s), prompt_ms)
                if answer.barge_in_s is not None
                else prompt_ms + timing.ms(answer.think_s)
            )
            first_key_ms = decided + timing.ms(self.o.pace.answer_delay_s)
        start = self.clock
        barged = self._play_prompt(sounds, first_key_ms)
        if answer is None:
            answer = self.caller.answer(prompt)
        params: dict[str, str] = {}
        if answer.kind is Kind.HANGUP:
            self._emit(EventType.INPUT, hangup=True)
            self.over = True
            raise _Stop(EndedBy.CALLER_HANGUP)
        if answer.kind is Kind.KEYS and "dtmf" in modes:
            if first_key_ms is None:
                first_key_ms = self.clock - start + timing.ms(
                    self.o.pace.answer_delay_s + answer.think_s
                )
            self._wait(max(start + first_key_ms - self.clock, 0))
            digits = self._keys(answer.value, num_digits, finish, timeout_ms, secret, barged)
            params = {"Digits": digits} if digits else {}
        elif answer.kind is Kind.SPEECH:
            params = self._speech(answer, listen, timeout_ms, secret)
        else:
            ignored = {} if answer == TIMEOUT else {"ignored": str(answer)}
            fields = masking.input_event(secret, {"digits": "", "timeout": True, **ignored})
            self._emit(EventType.INPUT, timeout_ms, **fields)
        if params or on_empty:
            return _Next(action, method, params, waiting)
        return None

    def _speech(self, answer: Answer, listen: recognition.Listening, timeout_ms: int,
                secret: masking.Secret | None) -> dict[str, str]:
        """The caller speaks: what the recogniser sends (SpeechResult and Confidence), or
        nothing when this Gather does not recognise it. The input event keeps what was
        said (``said``) beside what was sent (``speech``) when they differ, and why
        nothing was sent (``unheard``)."""
        got = self.recogniser.hear(answer.value, listen, answer.confidence)
        fields: dict[str, Any] = {"speech": got.text, "digits": ""} if got.text else {
            "said": answer.value, "digits": "", "timeout": True, "unheard": got.unheard}
        if got.text and got.text != answer.value:
            fields["said"] = answer.value
        if got.text and got.confidence != recognition.DEFAULT_CONFIDENCE:
            fields["confidence"] = got.confidence
        noise = self.o.recognition.noise
        if noise and listen.speech and not listen.fails and got.unheard != "nothing was said":
            fields["noise"] = {"rate": noise, "seed": self.recogniser.seed,
                               "dropped": got.dropped, "swapped": got.swapped}
        if not listen.speech:
            # Twilio does not listen for speech here: the caller talks into a Gather that
            # waits for keys, and its timeout runs out as for silence
            self._emit(EventType.INPUT, timeout_ms, **masking.input_event(secret, fields))
            return {}
        self._wait(timing.ms(self.o.pace.answer_delay_s))
        talk = timing.speech_ms(answer.value, listen.language)
        self._emit(EventType.INPUT, talk + listen.speech_end_ms,
                   **masking.input_event(secret, fields))
        if not got.text:
            return {}
        return {"SpeechResult": got.text, "Confidence": f"{got.confidence:g}"}

    def _play_prompt(self, sounds: list[_Sound], first_key_ms: int | None) -> bool:
        """Play a Gather's nested sounds; a key pressed ``first_key_ms`` after they start
        stops them there (Twilio's barge-in). True if it cut the prompt short."""
        start = self.clock
        for type_, duration, fields in sounds:
            left = None if first_key_ms is None else start + first_key_ms - self.clock
            if left is not None and duration > left:
                if left > 0:
                    self._emit(type_, left, **fields, interrupted=True)
                return True
            self._emit(type_, duration, **fields)
        return False

    def _keys(
        self,
        keys: str,
        num_digits: int | None,
        finish: str,
        timeout_ms: int,
        secret: masking.Secret | None = None,
        barged: bool = False,
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
            **({"barged_in": True} if barged else {}),
        }
        self._emit(EventType.INPUT, duration, **masking.input_event(secret, fields))
        return collected

    def _record(self, verb: Verb, doc_url: str, waiting: bool) -> _Next | None:
        action = urljoin(doc_url, verb.get("action") or "")
        method = self._method(verb, "method")
        timeout_ms = timing.ms(self._int(verb, "timeout", 5))
        finish = self._keys_attr(verb, "finishOnKey", DTMF, SCHEMA_VALIDATION)
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
            self.over = True
            self._request(_Next(action, method, params, waiting))
            raise _Stop(EndedBy.CALLER_HANGUP)
        return _Next(action, method, params, waiting)

    # -- queues ------------------------------------------------------------------------

    def _enqueue(self, verb: Verb, doc_url: str) -> _Next | None:
        name = verb.text
        hold = self.o.hold
        raw_wait = verb.get("waitUrl")
        # no waitUrl: Twilio's default music; waitUrl="": silence
        wait_url = raw_wait.strip() if raw_wait is not None else None
        wait_url = urljoin(doc_url, wait_url) if wait_url else wait_url
        action = _opt_url(doc_url, verb.get("action"))
        method = self._method(verb, "method")
        wait_method = self._method(verb, "waitUrlMethod")
        max_size = self._int(verb, "maxQueueSize", hold.max_queue_size)
        sid = "QU" + hashlib.md5(name.encode()).hexdigest()
        full = hold.queue_size > max_size
        ev = self._emit(
            EventType.ENQUEUE,
            queue=name,
            wait_url=wait_url,
            action=action,
            hold_s=0.0,
            result="queue-full" if full else "queued",
        )
        queue = _Queue(name, sid, self.clock, ev, max_size)
        if full:  # never queued: the action says why, or the next verb runs
            return self._dequeued(action, method, "queue-full", queue)
        deadlines = [
            (self.clock + timing.ms(seconds), kind)
            for seconds, kind in ((hold.bridge_after_s, "bridged"), (hold.patience_s, "hangup"))
            if seconds is not None
        ]
        if deadlines:
            queue.deadline_ms, queue.at_deadline = min(deadlines, key=lambda d: d[0])
        self.queue = queue
        loops = 0
        try:
            while hold.wait_loops is None or loops < hold.wait_loops:
                loops += 1
                self._hold_once(queue, wait_url, wait_method)
            board = self.o.switchboard
            if hold.wait_for_agent and board is not None:
                self.parked = (self.clock, action, method)
                board.park(name, self)
                raise _Stop(EndedBy.ENQUEUE, name)
            if hold.ends == "hangup":
                self._close_queue("hangup")
                self._emit(EventType.INPUT, hangup=True)
                raise _Stop(EndedBy.CALLER_HANGUP)
            if hold.ends in TWILIO_ENDS:
                raise _Dequeued(hold.ends)
        except _Leave:
            self._close_queue("leave")
            self._emit(EventType.LEAVE, queue=name)
            return self._dequeued(action, method, "leave", queue)
        except _Dequeued as out:
            self._close_queue(out.result)
            return self._dequeued(action, method, out.result, queue)
        except _Stop as stop:
            if stop.ended_by in (EndedBy.HANGUP, EndedBy.CALLER_HANGUP):
                # the caller hung up in the queue (or the wait document hung up): Twilio
                # still requests the action with QueueResult=hangup, the call being over
                # what it answers is not run (Twilio's <Enqueue> page, action)
                self._close_queue("hangup")
                self.over = True
                if action is not None:
                    self._request(_Next(action, method, self._queue_result(queue, "hangup")))
            raise
        raise _Stop(EndedBy.ENQUEUE, name)

    # -- the switchboard: an agent's <Dial><Queue> takes a parked caller -------------------

    def _dial(self, verb: Verb, doc_url: str) -> _Next | None:
        """``<Dial>``: a ``<Queue>`` alone takes its first parked caller; else the run stops."""
        action, method = _opt_url(doc_url, verb.get("action")), self._method(verb, "method")
        self._emit(EventType.DIAL, to=_dial_targets(verb), action=action)
        board = self.o.switchboard
        if board is None or [n.name for n in verb.children] != ["Queue"]:
            raise _Stop(EndedBy.DIAL)  # nobody else is simulated
        noun = verb.children[0]
        caller = board.take(noun.text)
        if caller is None:
            # "If the queue is empty, Dial will wait until the next person joins the queue
            # or until the <Dial> timeout" (Twilio's <Queue> page); nobody joins here
            self._wait(timing.ms(self._int(verb, "timeout", DIAL_TIMEOUT_S)))
            params = {"DialCallStatus": "no-answer"}
        else:
            assert isinstance(caller, _Call)
            url = _opt_url(doc_url, noun.get("url"))
            talk_ms = caller.bridge(self, url, (noun.get("method") or "POST").upper())
            params = {"DialCallStatus": "failed"} if talk_ms is None else {
                "DialCallStatus": "completed", "DialCallSid": caller.sid,
                "DialCallDuration": str(talk_ms // 1000)}
        # no action: the verb after the <Dial> runs (Twilio's <Dial> page)
        return _Next(action, method, params) if action else None

    def bridge(self, agent: _Call, url: str | None, method: str) -> int | None:
        """This parked caller is taken by ``agent``'s Dial: hear the ``<Queue url>``
        document, talk, hang up. The talk in ms; None when the document failed."""
        assert self.parked is not None and self.queue is not None
        parked_ms, action, action_method = self.parked
        self.parked = None
        queue, board = self.queue, self.o.switchboard
        assert board is not None
        self.clock = parked_ms + agent.clock  # the agent called as this caller parked
        self._close_queue("bridged")
        start = self.clock
        nxt = None if url is None else _Next(url, method, {
            "QueueSid": queue.sid, "QueueTime": str(int(queue.event["hold_s"])),
            "DequeingCallSid": agent.sid}, dequeued=True)
        try:
            while nxt is not None:
                doc, verbs = self._fetch(nxt)
                nxt = self._run(doc, verbs, nxt)
        except (TwiMLError, _Stop) as exc:
            queue.event["result"] = "error"
            stop = self._error(exc) if isinstance(exc, TwiMLError) else exc
            board.finished(self._finish(stop))
            return None
        agent._wait(self.clock - start)  # the agent hears the ringing meanwhile
        talk_ms = timing.ms(self.o.hold.talk_s if self.o.hold.talk_s is not None
                            else DEFAULT_TALK_S)
        self._emit(EventType.BRIDGE, talk_ms, queue=queue.name, agent=agent.sid)
        agent._emit(EventType.BRIDGE, talk_ms, queue=queue.name, caller=self.sid)
        # the caller hangs up; Twilio requests their Enqueue action, its answer not run
        self._emit(EventType.INPUT, hangup=True)
        self.over = True
        if action is not None:
            self._request(_Next(action, action_method, self._queue_result(queue, "bridged")))
        board.finished(self._finish(_Stop(EndedBy.CALLER_HANGUP)))
        return talk_ms

    @property
    def parked_s(self) -> float:
        return (self.parked[0] if self.parked else self.clock) / 1000

    def release(self) -> Trace:
        """Nobody took this parked caller: the run ends with them queued, as without a
        switchboard."""
        self.parked = None
        return self._finish(_Stop(EndedBy.ENQUEUE, self.queue.name if self.queue else None))

    def _hold_once(self, queue: _Queue, wait_url: str | None, wait_method: str) -> None:
        """One play of what the caller hears holding."""
        if wait_url is None:  # Twilio's default classical playlist
            music = timing.ms(TWILIO_HOLD_MUSIC_S)
            fields = {"url": TWILIO_HOLD_MUSIC, "loop": 1, "duration_source": "guess"}
            self._note_heard(EventType.PLAY, self._emit(EventType.PLAY, music, **fields))
            return
        if wait_url == "":  # waitUrl="": no music at all (Twilio's 13233: URL or "")
            self._emit(EventType.PAUSE, timing.ms(TWILIO_HOLD_MUSIC_S), silence=True)
            return
        nxt: _Next | None = _Next(wait_url, wait_method, self._queue_params(queue), True)
        while nxt is not None:
            doc, verbs = self._fetch(nxt)
            nxt = self._run(doc, verbs, nxt)

    def _dequeued(
        self, action: str | None, method: str, result: str, queue: _Queue
    ) -> _Next | None:
        """Where the call goes on once out of the queue: the action, else the next verb."""
        if action is None:
            return None
        return _Next(action, method, self._queue_result(queue, result))

    def _queue_result(self, queue: _Queue, result: str) -> dict[str, str]:
        return {
            "QueueResult": result,
            "QueueSid": queue.sid,
            "QueueTime": str(int(queue.event["hold_s"])),
        }

    def _queue_params(self, queue: _Queue) -> dict[str, str]:
        hold = self.o.hold
        return {
            "QueueSid": queue.sid,
            "QueuePosition": str(hold.position),
            "QueueTime": str((self.clock - queue.start_ms) // 1000),
            "AvgQueueTime": str(hold.avg_queue_time_s),
            "CurrentQueueSize": str(hold.queue_size),
            "MaxQueueSize": str(queue.max_size),
        }

    def _close_queue(self, result: str) -> None:
        if self.queue is not None:
            self.queue.event["hold_s"] = (self.clock - self.queue.start_ms) / 1000
            self.queue.event["result"] = result
            self.queue = None

    def _deadline(self) -> None:
        """An agent answered, or the caller's patience ran out (the clock is there)."""
        assert self.queue is not None
        name, kind = self.queue.name, self.queue.at_deadline
        if kind == "hangup":
            self._close_queue("hangup")
            self._emit(EventType.INPUT, hangup=True)
            raise _Stop(EndedBy.CALLER_HANGUP)
        self._close_queue("bridged")
        talk_s = self.o.hold.talk_s
        if talk_s is None:
            raise _Stop(EndedBy.ENQUEUE, name)
        self._emit(EventType.BRIDGE, timing.ms(talk_s), queue=name)
        # the agent hung up: Twilio requests the action, and the caller hears its answer
        raise _Dequeued("bridged")

    # -- time --------------------------------------------------------------------------

    def _emit(
        self, type_: EventType, duration_ms: int | None = None, /, **fields: Any
    ) -> dict[str, Any]:
        """Record an event now; if it takes time, spend it (an agent answering or the
        caller giving up in the queue may cut it short)."""
        ev = event(self.clock, type_, **fields)
        if duration_ms is not None:
            ev["duration_s"] = duration_ms / 1000
        self.events.append(ev)
        cut = self._spend(duration_ms or 0)
        if cut is not None:
            ev["duration_s"] = cut / 1000
            ev["interrupted"] = True
        self.caller.hear(ev)
        if cut is not None:
            self._deadline()
        return ev

    def _warn(self, code: int, message: str) -> None:
        """What Twilio logs as a warning and goes on after."""
        self._emit(EventType.WARNING, code=code, message=message, url=self.document[0])

    def _wait(self, duration_ms: int) -> None:
        if self._spend(duration_ms) is not None:
            self._deadline()

    def _spend(self, duration_ms: int) -> int | None:
        """Advance the clock; the part actually spent if the queue's deadline came first."""
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
        status = "in-progress" if self.requests else "ringing"
        return {
            "AccountSid": o.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.sid,
            "CallStatus": "completed" if self.over else status,
            "Called": o.to,
            "Caller": o.from_,
            "Direction": "inbound",
            "From": o.from_,
            "To": o.to,
        }

    def _request(self, nxt: _Next) -> Reply:
        """Send one signed webhook, following HTTP redirects as Twilio does."""
        url, method, params = nxt.url, nxt.method, {**self._standard(), **nxt.params}
        redirects = 0
        while True:
            if self.requests >= self.o.max_requests:
                raise TwiMLError(
                    None, f"gave up after {self.requests} requests (a loop?)", url, self.document[1]
                )
            self.requests += 1
            if self.o.tick is not None:
                self.o.tick(self.clock / 1000)
            try:
                reply = self.session.send(signed(method, url, params, self.token, self.o.algorithm))
            except TransportError as exc:
                raise TwiMLError(HTTP_RETRIEVAL, f"HTTP retrieval failure: {exc}", url) from None
            if not 300 <= reply.status < 400:
                break
            body = reply.body.decode("utf-8", "replace")
            if reply.status not in REDIRECT_STATUSES or not reply.location:
                why = "no Location" if reply.status in REDIRECT_STATUSES else "not a redirect"
                raise TwiMLError(
                    INVALID_REDIRECT,
                    f"HTTP invalid redirect: status {reply.status}, {why}",
                    url,
                    body,
                    reply.status,
                )
            redirects += 1
            if redirects > MAX_HTTP_REDIRECTS:
                raise TwiMLError(
                    TOO_MANY_REDIRECTS,
                    f"HTTP too many redirects (more than {MAX_HTTP_REDIRECTS})",
                    url,
                    body,
                    reply.status,
                )
            url = urljoin(url, reply.location)
            # the redirected request carries the call's parameters, not the verb's own:
            # Digits typed before a 3xx are not sent again
            params = self._standard()
            if reply.status != 307:
                method = "GET"
        self.document = (url, reply.body.decode("utf-8", "replace"))
        if not 200 <= reply.status < 300:
            raise TwiMLError(
                HTTP_RETRIEVAL,
                f"HTTP retrieval failure: status {reply.status}",
                url,
                self.document[1],
                reply.status,
            )
        return reply

    def _fetch(self, nxt: _Next) -> tuple[str, tuple[Verb, ...]]:
        """The next document's verbs, read by its Content-Type as Twilio does."""
        reply = self._request(nxt)
        url, body = self.document
        content_type = reply.content_type.split(";")[0].strip().lower()
        if not reply.body.strip():
            raise TwiMLError(EMPTY_BODY, "empty response body", url, body, reply.status)
        # after an audio file or a text Twilio hangs up ("Your Response", MIME types);
        # in a queue the wait URL is simply fetched again when it has played
        then = () if nxt.waiting else (Verb("Hangup"),)
        if content_type in AUDIO_TYPES:
            self.audio_s[url] = _audio_seconds(reply.body, content_type)
            return url, (Verb("Play", text=url), *then)
        if content_type == TEXT_TYPE and not body.lstrip("\ufeff \t\r\n").startswith("<"):
            return url, (Verb("Say", text=" ".join(body.split())), *then)
        if content_type not in TWIML_TYPES and content_type != TEXT_TYPE:
            what = f"invalid Content-Type {content_type!r}" if content_type else "no Content-Type"
            raise TwiMLError(BAD_CONTENT_TYPE, what, url, body, reply.status)
        document = read(reply.body, url=url, waiting=nxt.waiting, dequeued=nxt.dequeued)
        for warning in document.warnings:
            self._warn(warning.code, warning.message)
        return url, document.verbs

    def _status_callback(self) -> None:
        url = self.o.status_callback
        if not url:
            return
        params = {"CallStatus": "completed", "CallDuration": str(math.ceil(self.clock / 1000))}
        try:
            self._request(_Next(url, "POST", params))
        except TwiMLError as exc:
            log.warning("status callback failed: %s", exc)

    # -- attribute values: a bad one is a warning, and the default is used ---------------

    def _int(self, verb: Verb, name: str, default: int, code: int = SCHEMA_VALIDATION) -> int:
        raw = verb.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if value < 0:
            self._warn(code, f"<{verb.name} {name}={raw!r}> is not a whole number: {default} used")
            return default
        return value

    def _keys_attr(self, verb: Verb, name: str, default: str, code: int) -> str:
        raw = verb.get(name)
        if raw is None:
            return default
        if set(raw) - set(DTMF):
            self._warn(code, f"<{verb.name} {name}={raw!r}> is not phone keys: {default!r} used")
            return default
        return raw

    def _method(self, verb: Verb, name: str) -> str:
        raw = verb.get(name)
        method = (raw or "POST").upper()
        if method in ("GET", "POST"):
            return method
        url, body = self.document
        if verb.name == "Enqueue" and name == "waitUrlMethod":  # an error, not a warning
            raise TwiMLError(
                ENQUEUE_WAIT_METHOD, f"Enqueue: invalid waitUrlMethod {raw!r}", url, body
            )
        self._warn(SCHEMA_VALIDATION, f"<{verb.name} {name}={raw!r}> is not GET or POST: POST used")
        return "POST"


def _audio_seconds(body: bytes, content_type: str) -> float | None:
    """How long audio answered as a document lasts, when it is a readable WAV."""
    if "wav" not in content_type:
        return None
    try:
        with wave.open(io.BytesIO(body), "rb") as wav:
            return wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError, ZeroDivisionError):
        return None


def _opt_url(base: str, ref: str | None) -> str | None:
    return urljoin(base, ref) if ref else None


def _dial_targets(verb: Verb) -> list[str]:
    if verb.children:
        return [f"{c.name}:{c.text}" for c in verb.children]
    return [verb.text] if verb.text else []
