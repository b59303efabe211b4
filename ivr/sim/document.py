"""Parse a TwiML document and check it the way Twilio does before running it.

What Twilio refuses ends the call with an error: a body it cannot parse (12100), a root
element other than ``<Response>`` (12102). What merely breaks the TwiML schema is a
*warning* in Twilio's debugger (12200 "Schema validation warning", log level WARNING:
https://www.twilio.com/docs/api/errors/12200): an unknown verb, an unknown attribute, a
verb nested where it may not be (13320 for ``<Gather>``), a verb a waitUrl document may
not use. The call goes on without the offending part, and so does the simulator: the
element or attribute is dropped and the warning is kept for the trace. Valid TwiML the
simulator does not run (``<Connect>``, ``<Pay>``...) still stops it: it never guesses.

This module only reads XML; it never fetches anything and never runs a verb.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.plural import plural
from ivr.sim.errors import TwiMLError

PARSE_FAILURE = 12100
WRONG_ROOT = 12102
SCHEMA_VALIDATION = 12200
GATHER_NESTING = 13320

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
#: what a waitUrl document (and what its Gathers lead to) may use (Twilio's <Enqueue> page)
WAIT_VERBS = frozenset({"Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"})
#: what the document of a ``<Queue url>``, played to the caller being dequeued, may use
#: (https://www.twilio.com/docs/voice/twiml/queue)
QUEUE_URL_VERBS = frozenset({"Play", "Say", "Pause", "Redirect"})
#: Dial noun -> the attributes Twilio documents for it (the nouns the simulator runs)
NOUN_ATTRIBUTES: Mapping[str, frozenset[str]] = {
    "Queue": frozenset({"url", "method", "reservationSid", "postWorkActivitySid"}),
}
#: verbs whose children are their own business (nouns, SSML), not checked here
_OWN_CHILDREN = frozenset({"Say", "Dial", "Enqueue", "Gather", "Start", "Stop"})


@dataclass(frozen=True, slots=True)
class Verb:
    """One TwiML element: its name, attributes, text and children."""

    name: str
    attrs: Mapping[str, str] = field(default_factory=dict)
    text: str = ""
    children: tuple[Verb, ...] = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)


@dataclass(frozen=True, slots=True)
class SchemaWarning:
    """A problem Twilio logs as a warning and runs the document anyway."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class Document:
    """The verbs Twilio runs, and the warnings it logged reading them."""

    verbs: tuple[Verb, ...]
    warnings: tuple[SchemaWarning, ...] = ()


def parse(body: bytes | str, *, url: str, waiting: bool = False,
          dequeued: bool = False) -> tuple[Verb, ...]:
    """The verbs of a ``<Response>`` (what ``read`` keeps); raise TwiMLError on an error."""
    return read(body, url=url, waiting=waiting, dequeued=dequeued).verbs


def read(body: bytes | str, *, url: str, waiting: bool = False,
         dequeued: bool = False) -> Document:
    """The document as Twilio runs it: the verbs with what breaks the schema dropped, and
    a warning for each drop; raise TwiMLError with Twilio's code for what it refuses.

    :param waiting: the document runs while the caller is in a queue (waitUrl rules)
    :param dequeued: it is a ``<Queue url>`` document, played as the caller is dequeued
    """
    document = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise TwiMLError(PARSE_FAILURE, f"document parse failure: {exc}", url, document) from None
    if root.tag != "Response":
        raise TwiMLError(
            WRONG_ROOT, f"the root element must be <Response>, not <{root.tag}>", url, document
        )
    found: list[SchemaWarning] = []
    if root.attrib:
        found.append(
            SchemaWarning(SCHEMA_VALIDATION, f"<Response> has attributes {sorted(root.attrib)}")
        )
    allowed = (QUEUE_URL_VERBS, "a <Queue url>") if dequeued else \
        (WAIT_VERBS, "a waitUrl") if waiting else None
    verbs = []
    for child in root:
        if child.tag in UNSUPPORTED:
            raise TwiMLError(
                None, f"<{child.tag}> is valid TwiML but the simulator does not run it", url, document
            )
        verb = _checked(child, allowed, found)
        if verb is not None:
            verbs.append(verb)
    return Document(tuple(verbs), tuple(found))


def _checked(element: ET.Element, allowed: tuple[frozenset[str], str] | None,
             found: list[SchemaWarning]) -> Verb | None:
    """The verb with what breaks the schema dropped (None: all of it), noting why."""
    name = element.tag
    if name not in ATTRIBUTES:
        found.append(SchemaWarning(SCHEMA_VALIDATION, f"unknown verb <{name}> ignored"))
        return None
    if allowed is not None and name not in allowed[0]:
        found.append(SchemaWarning(
            SCHEMA_VALIDATION, f"<{name}> is not allowed in {allowed[1]} document: ignored"))
        return None
    if name == "Redirect" and not (element.text or "").strip():
        found.append(SchemaWarning(SCHEMA_VALIDATION, "<Redirect> has no URL: ignored"))
        return None
    attrs = _known_attributes(element, found)
    if name == "Gather":
        children = []
        for nested in element:
            if nested.tag not in GATHER_NESTS:
                found.append(
                    SchemaWarning(GATHER_NESTING, f"<Gather> cannot nest <{nested.tag}>: ignored")
                )
                continue
            children.append(_verb(nested, _known_attributes(nested, found)))
        return Verb(name, attrs, (element.text or "").strip(), tuple(children))
    if name == "Dial":
        for nested in element:
            if nested.tag not in DIAL_NOUNS:
                found.append(
                    SchemaWarning(SCHEMA_VALIDATION, f"<Dial> cannot nest <{nested.tag}>: ignored")
                )
        kept = [n for n in element if n.tag in DIAL_NOUNS]
        return Verb(name, attrs, (element.text or "").strip(),
                    tuple(_verb(n, _noun_attributes(n, found)) for n in kept))
    if name == "Enqueue":
        for nested in element:
            if nested.tag != "Task":  # <Task> is TaskRouter's, not simulated
                found.append(
                    SchemaWarning(SCHEMA_VALIDATION, f"<Enqueue> cannot nest <{nested.tag}>: ignored")
                )
    if name not in _OWN_CHILDREN:
        for nested in element:
            found.append(
                SchemaWarning(SCHEMA_VALIDATION, f"<{name}> cannot nest <{nested.tag}>: ignored")
            )
        return Verb(name, attrs, (element.text or "").strip())
    return _verb(element, attrs)


def _known_attributes(element: ET.Element, found: list[SchemaWarning],
                      known: frozenset[str] | None = None) -> dict[str, str]:
    known = ATTRIBUTES.get(element.tag, frozenset()) if known is None else known
    unknown = sorted(set(element.attrib) - known)
    if unknown:
        found.append(
            SchemaWarning(
                SCHEMA_VALIDATION,
                f"<{element.tag}> has unknown {plural(len(unknown), 'attribute')} "
                f"{', '.join(unknown)}: ignored",
            )
        )
    return {k: v for k, v in element.attrib.items() if k in known}


def _noun_attributes(noun: ET.Element, found: list[SchemaWarning]) -> dict[str, str]:
    """A Dial noun's attributes; for the nouns it runs, those Twilio documents only."""
    known = NOUN_ATTRIBUTES.get(noun.tag)
    return dict(noun.attrib) if known is None else _known_attributes(noun, found, known)


def _verb(element: ET.Element, attrs: Mapping[str, str]) -> Verb:
    if element.tag == "Say":
        return Verb(element.tag, dict(attrs), _text(element), _breaks(element))
    if element.tag == "Enqueue":  # <Task> belongs to TaskRouter: not simulated
        return Verb(element.tag, dict(attrs), (element.text or "").strip())
    return Verb(
        name=element.tag,
        attrs=dict(attrs),
        text=(element.text or "").strip(),
        children=tuple(_verb(c, dict(c.attrib)) for c in element),
    )


def _text(say: ET.Element) -> str:
    """The words of a ``<Say>``, SSML tags dropped."""
    return " ".join("".join(say.itertext()).split())


def _breaks(say: ET.Element) -> tuple[Verb, ...]:
    """SSML ``<break>``s inside a ``<Say>``, kept because they take time."""
    return tuple(Verb("break", dict(b.attrib)) for b in say.iter("break"))
