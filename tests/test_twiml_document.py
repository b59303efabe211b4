"""The webhooks write TwiML straight from twilio's builder (``ivr.web.twiml.document``), not
through ``to_xml``'s second tree: the bytes must be ``to_xml``'s, for any document."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.twiml.voice_response import VoiceResponse

from ivr.web.twiml import document

#: text with what XML escapes, line ends and tabs, Chinese, and the empty string
TEXT = st.text(alphabet=st.sampled_from(list("ab &<>\"'\r\n\t支付#*0]")), max_size=12)
ATTR = st.one_of(TEXT, st.integers(-5, 99), st.booleans(), st.none())


@st.composite
def responses(draw: st.DrawFn) -> VoiceResponse:
    """A VoiceResponse of the verbs the hotline uses, nested and with raw strings between."""
    vr = VoiceResponse()
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["say", "play", "gather", "enqueue", "record", "hangup",
                                     "redirect", "pause", "leave", "text"]))
        if kind == "say":
            vr.say(draw(TEXT), voice=draw(ATTR), language=draw(st.sampled_from(["en-US", None])))
        elif kind == "play":
            vr.play(draw(TEXT), loop=draw(ATTR))
        elif kind == "gather":
            gather = vr.gather(action=draw(TEXT), num_digits=draw(ATTR),
                               action_on_empty_result=draw(ATTR), finish_on_key=draw(ATTR))
            for _ in range(draw(st.integers(0, 3))):
                if draw(st.booleans()):
                    gather.say(draw(TEXT))
                else:
                    gather.append(draw(TEXT))  # a bare string: TwiML.xml's text and tails
        elif kind == "enqueue":
            vr.enqueue(draw(TEXT), wait_url=draw(ATTR), action=draw(ATTR))
        elif kind == "record":
            vr.record(action=draw(TEXT), max_length=draw(ATTR), play_beep=draw(ATTR))
        elif kind == "hangup":
            vr.hangup()
        elif kind == "redirect":
            vr.redirect(draw(TEXT), method="POST")
        elif kind == "pause":
            vr.pause(length=draw(ATTR))
        elif kind == "leave":
            vr.leave()
        else:
            vr.append(draw(TEXT))
    return vr


@settings(max_examples=400, deadline=None)
@given(responses())
def test_document_writes_what_to_xml_writes(vr: VoiceResponse) -> None:
    assert document(vr) == str(vr)
