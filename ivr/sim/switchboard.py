"""Queues shared by the calls of one simulator target, so that one call can take another
off a queue: a caller waits, then an agent's ``<Dial><Queue>`` (``/agent/voice``)
dequeues them, through the real endpoints on both sides.

A caller whose ``Hold.wait_for_agent`` is set stays in its queue when its run ends: it is
*parked* here, its call kept, its status callback not sent. A later call's
``<Dial><Queue>`` takes the first caller parked in that queue (Twilio connects "the first
enqueued call in the specified queue": https://www.twilio.com/docs/voice/twiml/queue)
and the interpreter plays both sides of the bridge. Calls nobody took are released at the
end (``close``): they end as a run that stopped with the caller queued always did.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from ivr.sim.trace import Trace


class Parked(Protocol):
    """A call waiting in a queue after its run (the interpreter's call)."""

    @property
    def sid(self) -> str: ...

    @property
    def parked_s(self) -> float:
        """The call's simulated time when it was parked."""
        ...

    def release(self) -> Trace:
        """End the call still queued (nobody took it); its final trace."""
        ...


class Switchboard:
    """The queues of one target: parked calls by queue, and the traces of those taken."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Parked]] = {}
        self._finished: dict[str, Trace] = {}

    def park(self, queue: str, call: Parked) -> None:
        self._queues.setdefault(queue, deque()).append(call)

    def take(self, queue: str) -> Parked | None:
        """The first call parked in ``queue``, now off it; None when nobody waits."""
        waiting = self._queues.get(queue)
        return waiting.popleft() if waiting else None

    def holds(self, call_sid: str) -> bool:
        """Whether the call is parked, or was taken and has a final trace to collect."""
        return call_sid in self._finished or any(
            c.sid == call_sid for q in self._queues.values() for c in q)

    @property
    def parked_s(self) -> float:
        """When the next call begins, in the first call's time: as the last one parked
        (so the waits the app records are the ones the simulator reports); 0 if none."""
        return max((c.parked_s for q in self._queues.values() for c in q), default=0.0)

    def finished(self, trace: Trace) -> None:
        """A taken call ended: keep its final trace for ``close``."""
        self._finished[trace.call_sid] = trace

    def close(self) -> dict[str, Trace]:
        """Release every call still parked; the final traces of all, by CallSid; empty."""
        for waiting in self._queues.values():
            while waiting:
                call = waiting.popleft()
                self._finished[call.sid] = call.release()
        done, self._finished = self._finished, {}
        self._queues.clear()
        return done
