"""What Twilio documents of ``<Gather>``'s speech models, for the settings check and the
simulator alike (https://www.twilio.com/docs/voice/twiml/gather#speechmodel). Plain
data, no Twilio library: the settings are read without the web stack."""

from __future__ import annotations

import re
from collections.abc import Mapping

#: ``hints``: "a comma-separated list of up to 500 entries", "each entry can up to 100
#: characters in length"
MAX_HINTS, MAX_HINT_CHARS = 500, 100
#: the documented speechModel values, in the page's order
SPEECH_MODELS = ("default", "numbers_and_commands", "phone_call", "experimental_conversations",
                 "experimental_utterances", "googlev2_long", "googlev2_short",
                 "googlev2_telephony", "googlev2_telephony_short", "deepgram_nova-2",
                 "deepgram_nova-3")
#: "Deepgram: Any", written ``deepgram_nova-2{-model}``
_DEEPGRAM = re.compile(r"deepgram_nova-[23](-[a-z0-9]+)+")
_EXPERIMENTAL = frozenset(
    "da-DK de-DE en-AU en-GB en-IN en-US es-ES es-US fi-FI fr-CA fr-FR hi-IN ja-JP ko-KR "
    "mk-MK nl-NL no-NO pl-PL pt-BR pt-PT ro-RO ru-RU th-TH tr-TR uk-UA vi-VN".split())
#: the languages of the generic models whose table lists them (no Chinese in any); a
#: recogniser language outside them fails the Gather (warning 13331)
MODEL_LANGUAGES: Mapping[str, frozenset[str]] = {
    "phone_call": frozenset(
        "en-US en-GB en-AU fr-FR fr-CA ja-JP ru-RU es-US es-ES pt-BR".split()),
    "experimental_conversations": _EXPERIMENTAL,
    "experimental_utterances": _EXPERIMENTAL,
}
#: the experimental models also take every Arabic region
_ANY_REGION = {"experimental_conversations": "ar-", "experimental_utterances": "ar-"}


def known_model(model: str) -> bool:
    """Whether ``model`` is a speechModel Twilio documents."""
    return model in SPEECH_MODELS or bool(_DEEPGRAM.fullmatch(model))


def hears(model: str | None, language: str) -> bool:
    """Whether the model takes the recognition language (models whose table lists no
    languages are taken to take any)."""
    supported = MODEL_LANGUAGES.get(model or "")
    prefix = _ANY_REGION.get(model or "")
    return supported is None or language in supported or bool(
        prefix and language.startswith(prefix))
