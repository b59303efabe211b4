"""The call simulator: phone the IVR without a phone, through signed webhooks.

``simulate(url, transport=..., token=..., caller=..., options=...) -> Trace`` runs one
call with Twilio's TwiML semantics in simulated time; the rest of the package builds on it.
"""

from __future__ import annotations

from ivr.sim.caller import (
    Answer,
    Caller,
    InteractiveCaller,
    Pace,
    Prompt,
    Script,
    ScriptedCaller,
)
from ivr.sim.errors import ScenarioError, SimError, TransportError, TwiMLError
from ivr.sim.interpreter import CallOptions, Hold, simulate
from ivr.sim.trace import EndedBy, EventType, Outcome, Trace
from ivr.sim.transport import FlaskTransport, HTTPTransport, Transport

__all__ = [
    "Answer",
    "CallOptions",
    "Caller",
    "EndedBy",
    "EventType",
    "FlaskTransport",
    "HTTPTransport",
    "Hold",
    "InteractiveCaller",
    "Outcome",
    "Pace",
    "Prompt",
    "ScenarioError",
    "Script",
    "ScriptedCaller",
    "SimError",
    "Trace",
    "Transport",
    "TransportError",
    "TwiMLError",
    "simulate",
]
