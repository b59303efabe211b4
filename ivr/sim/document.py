"""Parse a TwiML document and check it the way Twilio does before running it.

Twilio refuses a document it cannot parse (error 12100) or one that breaks the TwiML
schema: an unknown verb, an unknown attribute, a verb nested where it may not be, a
verb a waitUrl document may not use (error 12200). This module only reads XML; it
never fetches anything and never runs a verb.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.sim.errors import TwiMLError

PARSE_FAILURE = 12100
SCHEMA_VALIDATION = 12200

_RECORDING_CALLBACK = {
    "recordingStatusCallback",
    "recordingStatusCallbackMethod",
    "recordingStatusCallbackEvent",
}

#: verb -> the attributes Twilio documents for it
ATTRIBUTES: Mapping[str, frozenset[str]] = {
    "Say": frozenset({"voice", "language", "loop"}),
    "Play": frozenset({"loop", "digits"}),
    "Pause": frozenset({"length"}),
    "Gather": frozenset(
        {
            "action",
            "method",
            "timeout",
            "finishOnKey",
            "numDigits",
            "input",
            "speechTimeout",
            "speechModel",
            "profanityFilter",
            "language",
            "hints",
            "bargeIn",
            "debug",
            "actionOnEmptyResult",
            "partialResultCallback",
            "partialResultCallbackMethod",
            "enhanced",
            "maxSpeechTime",
        }
    ),
    "Redirect": frozenset({"method"}),
    "Record": frozenset(
        {
            "action",
            "method",
            "timeout",
            "finishOnKey",
            "maxLength",
            "playBeep",
            "trim",
            "transcribe",
            "transcribeCallback",
            "storageUrl",
            "storageUrlMethod",
        }
        | _RECORDING_CALLBACK
    ),
    "Enqueue": frozenset(
        {"action", "method", "waitUrl", "waitUrlMethod", "workflowSid", "maxQueueSize"}
    ),
    "Leave": frozenset(),
    "Hangup": frozenset(),
    "Reject": frozenset({"reason"}),
    "Dial": frozenset(
        {
            "action",
            "method",
            "timeout",
            "hangupOnStar",
            "timeLimit",
            "callerId",
            "record",
            "trim",
            "answerOnBridge",
            "ringTone",
            "recordingTrack",
            "sequential",
            "referUrl",
            "referMethod",
            "events",
        }
        | _RECORDING_CALLBACK
    ),
    # valid TwiML that does not change what the caller hears in this simulator
    "Start": frozenset({"action", "method"}),
    "Stop": frozenset(),
}
#: valid TwiML verbs this simulator does not run (reported, never guessed at)
UNSUPPORTED = frozenset({"Connect", "Pay", "Refer", "Sms", "Message", "Echo", "Prompt"})
GATHER_NESTS = frozenset({"Say", "Play", "Pause"})
DIAL_NOUNS = frozenset({"Number", "Client", "Sip", "Conference", "Queue", "Sim", "Application"})
#: what a waitUrl document (and what its Gathers lead to) may use
WAIT_VERBS = frozenset({"Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"})


@dataclass(frozen=True, slots=True)
class Verb:
    """One TwiML element: its name, attributes, text and children."""

    name: str
    attrs: Mapping[str, str] = field(default_factory=dict)
    text: str = ""
    children: tuple[Verb, ...] = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)


def parse(body: bytes | str, *, url: str, waiting: bool = False) -> tuple[Verb, ...]:
    """The verbs of a ``<Response>``; raise TwiMLError with Twilio's code and the document.

    :param waiting: the document runs while the caller is in a queue (waitUrl rules)
    """
    document = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise TwiMLError(PARSE_FAILURE, f"document parse failure: {exc}", url, document) from None
    if root.tag != "Response":
        raise TwiMLError(
            SCHEMA_VALIDATION, f"root element is <{root.tag}>, not <Response>", url, document
        )
    if root.attrib:
        raise TwiMLError(
            SCHEMA_VALIDATION, f"<Response> has attributes {sorted(root.attrib)}", url, document
        )
    problem = _problem(root, waiting)
    if problem:
        raise TwiMLError(SCHEMA_VALIDATION, problem, url, document)
    return tuple(_verb(child) for child in root)


def _problem(root: ET.Element, waiting: bool) -> str | None:
    for child in root:
        name = child.tag
        if name in UNSUPPORTED:
            return f"<{name}> is valid TwiML but the simulator does not run it"
        if name not in ATTRIBUTES:
            return f"unknown verb <{name}>"
        if waiting and name not in WAIT_VERBS:
            return f"<{name}> is not allowed in a waitUrl document"
        unknown = sorted(set(child.attrib) - ATTRIBUTES[name])
        if unknown:
            return f"<{name}> has unknown attribute(s) {', '.join(unknown)}"
        if name == "Gather":
            for nested in child:
                if nested.tag not in GATHER_NESTS:
                    return f"<Gather> cannot nest <{nested.tag}>"
                unknown = sorted(set(nested.attrib) - ATTRIBUTES[nested.tag])
                if unknown:
                    return f"<{nested.tag}> has unknown attribute(s) {', '.join(unknown)}"
        elif name == "Dial":
            for nested in child:
                if nested.tag not in DIAL_NOUNS:
                    return f"<Dial> cannot nest <{nested.tag}>"
        elif name in (
            "Play",
            "Pause",
            "Hangup",
            "Leave",
            "Reject",
            "Redirect",
            "Enqueue",
            "Record",
        ):
            nested_tags = [n.tag for n in child if not (name == "Enqueue" and n.tag == "Task")]
            if nested_tags:
                return f"<{name}> cannot nest <{nested_tags[0]}>"
        if name == "Redirect" and not (child.text or "").strip():
            return "<Redirect> has no URL"
    return None


def _verb(element: ET.Element) -> Verb:
    return Verb(
        name=element.tag,
        attrs=dict(element.attrib),
        text=_text(element) if element.tag == "Say" else (element.text or "").strip(),
        children=tuple(_verb(c) for c in element) if element.tag != "Say" else _breaks(element),
    )


def _text(say: ET.Element) -> str:
    """The words of a ``<Say>``, SSML tags dropped."""
    return " ".join("".join(say.itertext()).split())


def _breaks(say: ET.Element) -> tuple[Verb, ...]:
    """SSML ``<break>``s inside a ``<Say>``, kept because they take time."""
    return tuple(Verb("break", dict(b.attrib)) for b in say.iter("break"))
