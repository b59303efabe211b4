"""The call simulator: phone the IVR without a phone, through signed webhooks.

``simulate(url, transport=..., token=..., caller=..., options=...) -> Trace`` runs one
call with Twilio's TwiML semantics in simulated time; the rest builds on it:

- ``interpreter`` (the TwiML rules), ``document`` (parsing: Twilio's 12100/12102 errors
  and 12200 warnings),
  ``transport`` (in-process or HTTP, signed), ``caller`` (scripts, a person at a terminal),
  ``recognition`` (speech Gathers' attributes, the recogniser's Confidence and noise),
  ``trace`` (the JSON), ``transcript`` (text), ``masking`` (PINs and account numbers kept
  out of traces and transcripts); how long things take is ``ivr.audio.timing``;
- ``target`` (the hotline as a sandbox app or a server), ``scenario`` (YAML scenarios and
  expectations), ``calllog`` (replaying logged calls), ``bulk`` (thousands of calls),
  ``demo`` (``ivr demo``'s scripted calls), ``messages`` (Twilio's Messages API, which
  the app's SMS sender posts a call's texts to).

It is Twilio's side of the line: it builds the app (``create_app``) or calls a URL, and
then knows the app only by the requests it sends and the TwiML it gets back. It never
imports the Twilio edge, the console or the CLI (``ivr call`` and ``ivr replay`` are
``ivr.cli.calls``).
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
from ivr.sim.recognition import Recognition
from ivr.sim.target import Target, for_app, over_http, sandbox
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
    "Recognition",
    "ScenarioError",
    "Script",
    "ScriptedCaller",
    "SimError",
    "Target",
    "Trace",
    "Transport",
    "TransportError",
    "TwiMLError",
    "for_app",
    "over_http",
    "sandbox",
    "simulate",
]
