"""Turn a flow ``Step`` into TwiML: the only importer of ``twilio.twiml``.

Every prompt with fresh pre-rendered audio is a ``<Play>`` of its absolute URL; the rest
(dynamic text, missing or stale audio) is ``<Say>`` in the language's configured voice, so
a missing file never breaks a call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from twilio.twiml import TwiML
from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.flow.agent import AgentReply
from ivr.flow.call import Step, Utterance


def document(root: TwiML) -> str:
    """``str(root)``, written straight from twilio's builder.

    ``TwiML.to_xml`` copies the builder's nodes into an ElementTree and serialises that: a
    fifth of a webhook step's cost went to the second tree. This writes the same bytes
    (attributes sorted, booleans lower-case, text and attributes escaped as ElementTree
    escapes them, empty elements as ``<X />``) from the builder's nodes;
    tests/test_twiml_document.py holds it equal to ``to_xml`` on random documents.
    """
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    _write(root, out)
    return "".join(out)


def _write(node: TwiML, out: list[str]) -> None:
    out.append("<" + node.name)
    attrs = node.attrs
    for key in sorted(attrs):
        value = attrs[key]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out.append(f' {key}="{_attribute(text) if _ATTRIBUTE_ESCAPED.search(text) else text}"')
    text = json.dumps(node.value) if isinstance(node.value, dict) else node.value
    children: list[list[Any]] = []  # [child, the text after it], as TwiML.xml nests them
    for verb in node.verbs:
        if not isinstance(verb, str):
            children.append([verb, None])
        elif children:
            children[-1][1] = verb
        else:
            text = verb
    if not text and not children:
        out.append(" />")
        return
    out.append(">")
    if text:
        out.append(_text(text))
    for child, tail in children:
        _write(child, out)
        if tail:
            out.append(_text(tail))
    out.append(f"</{node.name}>")


#: what ElementTree writes as an entity in an attribute's value
_ATTRIBUTE_ESCAPED = re.compile('[&<>"\r\n\t]')


def _text(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _attribute(value: str) -> str:
    return (_text(value).replace('"', "&quot;").replace("\r", "&#13;")
            .replace("\n", "&#10;").replace("\t", "&#09;"))


#: node id -> absolute URL of its webhook; and utterance -> audio URL or None
UrlFor = Callable[[str], str]
AudioFor = Callable[[Utterance], str | None]


def _speak(target: VoiceResponse | Gather, utterances: Iterable[Utterance],
           voices: Mapping[str, Mapping[str, str]], audio_for: AudioFor | None) -> None:
    for u in utterances:
        url = audio_for(u) if audio_for else None
        if url:
            target.play(url)
        else:
            voice = voices.get(u.lang) or next(iter(voices.values()))
            target.say(u.text, voice=voice["voice"], language=voice["language"])


def listening(step: Step, speech: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Gather attributes that make a speech menu listen as well as take keys.

    The recogniser's language is Gather's own tag for the caller's language
    (``SPEECH_LANGUAGES``: ``cmn-Hans-CN`` for Mandarin in China, where ``<Say>`` takes
    ``cmn-CN``; https://www.twilio.com/docs/voice/twiml/gather#languagetags); a language
    without one takes keys only. ``hints`` are "a comma-separated list of up to 500
    entries", each up to 100 characters. ``speechTimeout="auto"`` stops "at the first
    pause in speech"; with a ``speechModel`` (one, or one per language) Twilio wants a
    number of seconds instead (warning 13335), which the settings check enforces.
    """
    ask = step.ask
    language = (speech or {}).get("languages", {}).get(step.state.lang)
    if ask is None or not ask.listen or not language or speech is None:
        return {"input": "dtmf"}
    found: dict[str, Any] = {"input": "dtmf speech", "language": language,
                             "speech_timeout": speech.get("timeout", "auto")}
    if ask.hints:
        found["hints"] = ", ".join(ask.hints)
    model = speech.get("model")
    model = model.get(step.state.lang) if isinstance(model, Mapping) else model
    if model:
        found["speech_model"] = model
    return found


def render(step: Step, *, step_url: UrlFor, wait_url: UrlFor, queue_done_url: str,
           voices: Mapping[str, Mapping[str, str]], audio_for: AudioFor | None = None,
           recording_status_url: str | None = None,
           speech: Mapping[str, Any] | None = None) -> str:
    """The TwiML document answering one step (``speech``: see ``listening``).

    A ``<Record>`` asks for ``recording_status_url`` when the recording is processed: the
    RecordingUrl its action carries "may not yet be accessible", and its duration is
    before silence is trimmed (https://www.twilio.com/docs/voice/twiml/record).
    """
    vr = VoiceResponse()
    ask = step.ask
    if ask and ask.kind == "digits":
        gather = vr.gather(action=step_url(ask.node), method="POST",
                           timeout=ask.timeout_s, num_digits=ask.num_digits,
                           finish_on_key=ask.finish_on_key or "", action_on_empty_result=True,
                           **listening(step, speech))
        _speak(gather, step.say, voices, audio_for)
        return document(vr)
    _speak(vr, step.say, voices, audio_for)
    if ask:  # record
        status = {"recording_status_callback": recording_status_url,
                  "recording_status_callback_method": "POST",
                  "recording_status_callback_event": "completed absent"} \
            if recording_status_url else {}
        vr.record(action=step_url(ask.node), method="POST", max_length=ask.max_length_s,
                  finish_on_key=ask.finish_on_key or "#", play_beep=True, timeout=5, **status)
        # no recording at all falls through here: tell the flow so it can ask again
        vr.redirect(step_url(ask.node), method="POST")
    elif step.enqueue and step.twilio_hold_music:  # no waitUrl: Twilio's own playlist
        vr.enqueue(step.enqueue, action=queue_done_url, method="POST")
    elif step.enqueue:
        vr.enqueue(step.enqueue, wait_url=wait_url(step.enqueue), wait_url_method="POST",
                   action=queue_done_url, method="POST")
    else:
        vr.hangup()
    return document(vr)


#: Without hold audio the words are said this many times per wait-URL document, each
#: followed by a pause of ``HOLD_PAUSE_S``: the document lasts about a minute, like one
#: with the hold track, and the caller is never left in a silence long enough to wonder
#: whether the line went dead.
HOLD_REPEATS = 4
HOLD_PAUSE_S = 5


def hold(utterances: Iterable[Utterance], *, key_url: str,
         voices: Mapping[str, Mapping[str, str]], audio_for: AudioFor | None = None,
         music_url: str | None = None, pause_s: int = HOLD_PAUSE_S) -> str:
    """The wait URL's document: where the caller stands, then hold audio, listening for 1.

    With no hold audio (``music_url`` None: none built) the words are repeated with short
    pauses instead. When the document ends Twilio fetches the wait URL again, so the
    announcement is brought up to date about once a minute.
    """
    said = list(utterances)
    vr = VoiceResponse()
    gather = vr.gather(input="dtmf", num_digits=1, action=key_url, method="POST", timeout=1)
    _speak(gather, said, voices, audio_for)
    if music_url:
        gather.play(music_url)
        return document(vr)
    for repeat in range(HOLD_REPEATS):
        if repeat:
            _speak(gather, said, voices, audio_for)
        gather.pause(length=pause_s)
    return document(vr)


def leave() -> str:
    """Take the caller out of the queue; the Enqueue action decides what follows."""
    vr = VoiceResponse()
    vr.leave()
    return document(vr)


def words(utterances: Iterable[Utterance], *, voices: Mapping[str, Mapping[str, str]],
          audio_for: AudioFor | None = None) -> str:
    """Just speak (inside the wait loop, where the document ending means: keep waiting)."""
    vr = VoiceResponse()
    _speak(vr, utterances, voices, audio_for)
    return document(vr)


def apology(utterances: Iterable[Utterance], queue: str, *, wait_url: UrlFor | None,
            queue_done_url: str | None, voices: Mapping[str, Mapping[str, str]]) -> str:
    """What a caller hears when something broke: sorry, and the general queue.

    Without ``wait_url`` the caller holds to Twilio's own music, and without
    ``queue_done_url`` the call ends when they leave the queue: a document that needs
    nothing more from this server (the number's Fallback URL).
    """
    vr = VoiceResponse()
    _speak(vr, utterances, voices, None)
    where = {"wait_url": wait_url(queue), "wait_url_method": "POST"} if wait_url else {}
    done = {"action": queue_done_url, "method": "POST"} if queue_done_url else {}
    vr.enqueue(queue, **where, **done)
    return document(vr)


def agent(reply: AgentReply, *, action_url: Callable[[str], str], dial_done_url: str,
          connect_url: str, voices: Mapping[str, Mapping[str, str]],
          audio_for: AudioFor | None = None) -> str:
    """The agents' line: words, then a Gather, a ``<Dial><Queue>``, or goodbye.

    One ``<Queue>`` per ``<Dial>``: Twilio's <Queue> page speaks of "a queue to dial" and
    connects "the first enqueued call in the specified queue", so the agent's queue is
    chosen here (https://www.twilio.com/docs/voice/twiml/queue). Its ``url`` is played to
    the *caller* being dequeued, before the bridge, and may only Play, Say, Pause and
    Redirect. The Dial's action is asked when the conversation ends, with DialCallStatus
    and DialCallDuration (https://www.twilio.com/docs/voice/twiml/dial).
    """
    vr = VoiceResponse()
    if reply.ask:
        if reply.switch:  # one key, so star needs no hash; silence falls through to the ask
            first = vr.gather(input="dtmf", action=action_url("language"), method="POST",
                              timeout=1, num_digits=1, finish_on_key="")
            _speak(first, reply.switch, voices, audio_for)
        for repeat in range(1 + reply.repeats):  # a time-out falls through to the next
            if repeat:
                _speak(vr, reply.again, voices, audio_for)
            gather = vr.gather(input="dtmf", action=action_url(reply.ask), method="POST",
                               timeout=reply.timeout_s, finish_on_key="#",
                               action_on_empty_result=reply.again_on_silence,
                               **({"num_digits": reply.num_digits} if reply.num_digits else {}))
            _speak(gather, reply.say, voices, audio_for)
            if reply.pause_s:
                gather.pause(length=reply.pause_s)
        _speak(vr, reply.then, voices, audio_for)
        if reply.then:
            vr.hangup()
        return document(vr)
    _speak(vr, reply.say, voices, audio_for)
    if reply.dial:
        dial = vr.dial(action=dial_done_url, method="POST")
        dial.queue(reply.dial, url=connect_url, method="POST")
    else:
        vr.hangup()
    return document(vr)


def no_reply() -> str:
    """The answer to an incoming text that needs none: an empty ``<Response/>`` of
    Messaging TwiML (Twilio itself confirms a STOP to the sender)."""
    from twilio.twiml.messaging_response import MessagingResponse

    return document(MessagingResponse())
