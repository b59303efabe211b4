"""The trace of one simulated call: stable JSON that tests, ``ivr replay`` and the audio
renderer read. No I/O, no Twilio, no Flask.

Shape (keys always present, in this order)::

    {"call_sid", "from", "to", "events": [...],
     "outcome": {"ended_by", "queue", "duration_s", "requests"}}

Each event is ``{"t": seconds since the call started, "type": EventType, ...}``. Events
that take time carry ``duration_s``; the stretches between events are silence (the
caller thinking, a gap the renderer fills with nothing). ``outcome.duration_s`` is the
end of the last event, so a WAV rendered from the events is exactly that long.

The caller's words (an input event's ``speech``, what the recogniser sent, and ``said``,
what the caller said when that differs) stay in memory, for the live display and the
transcript of the call just made; ``to_dict``, and so every trace written out (``--json``,
``--audio``, bulk output), keeps only their length (``speech_chars``, ``said_chars``), as
the app keeps only what they matched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    SAY = "say"
    PLAY = "play"
    PAUSE = "pause"
    GATHER = "gather"
    INPUT = "input"
    REDIRECT = "redirect"
    RECORD = "record"
    ENQUEUE = "enqueue"
    LEAVE = "leave"
    DIAL = "dial"
    BRIDGE = "bridge"  # an agent answered from the queue and talks with the caller
    HANGUP = "hangup"
    WARNING = "warning"  # Twilio logged a warning and went on (a schema problem)
    ERROR = "error"


class EndedBy(StrEnum):
    HANGUP = "hangup"
    ENQUEUE = "enqueue"
    DIAL = "dial"
    CALLER_HANGUP = "caller-hangup"
    END_OF_DOCUMENT = "end-of-document"
    ERROR = "error"


#: Event types whose ``text`` or ``url`` is something the caller hears.
HEARD = (EventType.SAY, EventType.PLAY)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the call ended, where, after how long, and how many webhooks it took."""

    ended_by: EndedBy
    queue: str | None
    duration_s: float
    requests: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "ended_by": str(self.ended_by),
            "queue": self.queue,
            "duration_s": self.duration_s,
            "requests": self.requests,
        }


@dataclass(frozen=True, slots=True)
class Trace:
    """Everything the caller heard and did, in order, and the outcome."""

    call_sid: str
    from_: str
    to: str
    events: tuple[Mapping[str, Any], ...]
    outcome: Outcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_sid": self.call_sid,
            "from": self.from_,
            "to": self.to,
            "events": [_plain(_unspoken(e)) for e in self.events],
            "outcome": self.outcome.to_dict(),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trace:
        """Read back what ``to_dict`` wrote (e.g. a ``--json`` file)."""
        out = data["outcome"]
        return cls(
            call_sid=data["call_sid"],
            from_=data["from"],
            to=data["to"],
            events=tuple(dict(e) for e in data["events"]),
            outcome=Outcome(
                EndedBy(out["ended_by"]),
                out["queue"],
                float(out["duration_s"]),
                int(out["requests"]),
            ),
        )

    def of_type(self, *types: EventType | str) -> list[Mapping[str, Any]]:
        return [e for e in self.events if e["type"] in types]

    def heard(self) -> list[str]:
        """The texts said and the URLs played, in order."""
        return [
            str(e.get("text") or e.get("url") or e.get("digits") or "")
            for e in self.of_type(*HEARD)
        ]

    @property
    def time_to_queue_s(self) -> float | None:
        """Seconds from the start of the call until it was first queued (a full queue
        that refused the caller does not count)."""
        queued = [e for e in self.of_type(EventType.ENQUEUE) if e.get("result") != "queue-full"]
        return float(queued[0]["t"]) if queued else None

    @property
    def warnings(self) -> list[Mapping[str, Any]]:
        """What Twilio would have logged as warnings, the call going on."""
        return self.of_type(EventType.WARNING)

    @property
    def error(self) -> Mapping[str, Any] | None:
        errors = self.of_type(EventType.ERROR)
        return errors[-1] if errors else None


def event(t_ms: int, type_: EventType, **fields: Any) -> dict[str, Any]:
    """A new event dict with ``t`` and ``type`` first, as every consumer expects."""
    return {"t": t_ms / 1000, "type": type_, **fields}


#: an input event's fields holding the caller's words
SPOKEN = ("speech", "said")


def _unspoken(e: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event without the caller's words: their length instead."""
    if not any(name in e for name in SPOKEN):
        return e
    out = {k: v for k, v in e.items() if k not in SPOKEN}
    for name in SPOKEN:
        if name in e:
            out[f"{name}_chars"] = len(str(e[name] or ""))
    return out


def _plain(e: Mapping[str, Any]) -> dict[str, Any]:
    # StrEnum members are str already; make them exactly str so dumps/equality are boring
    return {k: (str(v) if isinstance(v, StrEnum) else v) for k, v in e.items()}


def dumps_lines(traces: Iterable[Trace]) -> str:
    """One compact JSON trace per line (for bulk runs piped to other tools)."""
    return "".join(t.to_json(indent=None) + "\n" for t in traces)
