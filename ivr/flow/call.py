"""What a call is between two webhooks: its state, the caller's event, and our answer.

Plain frozen data: the store serialises ``CallState`` to JSON keyed by CallSid, so any
worker can serve any step of a call; ``twiml.render`` turns a ``Step`` into TwiML.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Utterance:
    """One prompt as spoken: its catalog key (for pre-rendered audio) and its filled text."""

    key: str
    text: str
    lang: str


@dataclass(frozen=True, slots=True)
class Ask:
    """Wait for the caller: keys (``digits``) or a recorded message (``record``)."""

    node: str
    kind: str = "digits"
    num_digits: int | None = None
    finish_on_key: str | None = None
    timeout_s: int = 5
    max_length_s: int = 120
    #: listen for speech as well as keys (a speech menu), with these hints to the recogniser
    listen: bool = False
    hints: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallEvent:
    """What Twilio told us: a new call, the keys pressed, or a recording."""

    call_sid: str
    kind: str  # "start" | "input"
    node: str = ""
    digits: str | None = None
    #: what the recogniser heard (Gather's SpeechResult) and how sure it was (Confidence,
    #: 0 to 1, not always sent); never kept: only what it matched is
    speech: str | None = None
    confidence: float | None = None
    recording_url: str | None = None
    recording_duration_s: int | None = None
    from_number: str = ""
    to_number: str = ""
    #: the turn the request was issued for (the ``t`` of its action URL)
    turn: int | None = None


@dataclass(frozen=True, slots=True)
class LiveQueue:
    """What Twilio tells the wait URL about the queue a caller holds in.

    ``position`` is 1 for the caller next in line (0: not sent), ``waited_s`` this caller's
    time in the queue, ``avg_wait_s`` how long the callers in the queue now have waited on
    average, ``size`` how many there are (QueuePosition, QueueTime, AvgQueueTime,
    CurrentQueueSize: https://www.twilio.com/docs/voice/twiml/enqueue#attributes-waiturl-parameters).
    """

    position: int = 0
    waited_s: int = 0
    avg_wait_s: int = 0
    size: int = 0


@dataclass(frozen=True, slots=True)
class CallState:
    """Everything we remember about a call between webhooks."""

    call_sid: str
    from_number: str = ""
    to_number: str = ""
    lang: str = "zh-CN"
    node: str = ""
    failures: int = 0
    substep: str = ""
    verified: bool = False
    account: str | None = None
    pin_tries: int = 0
    resume: str | None = None
    issue: str | None = None
    queue: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    replay: tuple[Utterance, ...] = ()
    #: how many steps the call has taken: action URLs carry it, so a replayed or
    #: concurrent request for another turn changes nothing
    turn: int = 0

    def to_json(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies recursively, on every webhook
        raw = {name: getattr(self, name) for name in _STATE_FIELDS}
        raw["replay"] = [{"key": u.key, "text": u.text, "lang": u.lang} for u in self.replay]
        return raw

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CallState:
        values = {k: v for k, v in raw.items() if k in _STATE_FIELDS}
        values["replay"] = tuple(Utterance(**u) for u in values.get("replay", ()))
        return cls(**values)


#: ``CallState``'s fields by name, read once: ``dataclasses.fields`` builds them anew at
#: each call, twice a webhook step (the state read, then kept)
_STATE_FIELDS = dict.fromkeys(f.name for f in fields(CallState))


@dataclass(frozen=True, slots=True)
class Heard:
    """What the call keeps of a spoken answer: never the words, only what they matched.

    ``outcome`` is ``matched`` (routed to ``target``), ``confirm`` (asked whether
    ``target`` is meant), ``unmatched`` (asked again in other words), ``keypad`` (no match
    again: the keypad menu), and at the confirmation ``confirmed`` or ``declined``.
    """

    outcome: str
    target: str | None = None
    score: float | None = None
    confidence: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("outcome", self.outcome), ("target", self.target),
                                  ("score", self.score), ("confidence", self.confidence))
                if v is not None}


@dataclass(frozen=True, slots=True)
class Step:
    """Our answer to one event: what to say, then ask, enqueue or hang up."""

    state: CallState
    say: tuple[Utterance, ...] = ()
    ask: Ask | None = None
    enqueue: str | None = None
    hangup: bool = False
    #: the caller's input as it may be logged: PINs and account numbers masked
    logged_input: str | None = None
    #: enqueue without our wait URL (Twilio's own hold music): our wait loop is what failed
    twilio_hold_music: bool = False
    #: what the input meant at its node, for the call records ``ivr report`` reads: a menu
    #: option's key, ``invalid``, ``no_input``, ``repeat``, ``back``; at a verify node
    #: ``verified``, ``wrong``, ``failed``, ``locked`` or ``skipped`` (see ``ivr.flow.caller``)
    choice: str | None = None
    #: the nodes the call entered during this step, in order
    walked: tuple[str, ...] = ()
    #: the step moved on through a fallback (failures, a fault), not a choice
    fell_back: bool = False
    #: a spoken answer at a speech menu, or its confirmation: what it matched
    heard: Heard | None = None
    #: the incident notices said in this step, by id (``ivr.flow.notices``)
    notices: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Waiting:
    """A caller waiting in a queue since ``since`` (when the step that enqueued them ran)."""

    call_sid: str
    queue: str
    since: datetime
    lang: str | None
    issue: str | None
    verified: bool

    def waited_s(self, now: datetime) -> float:
        return max(0.0, (now - self.since).total_seconds())
