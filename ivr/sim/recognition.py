"""Twilio's speech recogniser, simulated: what a ``<Gather>`` listens for, and what it
sends the action when the caller speaks (``SpeechResult`` and ``Confidence``).

``listening`` reads a Gather's speech attributes the way Twilio's <Gather> page
(https://www.twilio.com/docs/voice/twiml/gather) documents them; a bad value is a warning
in Twilio's debugger and the default is used, as for every other attribute:

- ``input``: ``dtmf``, ``speech`` or both (12200 otherwise: the unknown word is dropped;
  none left is ``dtmf``, the default);
- ``language``: "any value the STT provider supports", default ``en-US``; a tag without a
  region is refused (13512: "en is an invalid value, but en-US is a valid value"), and so
  is ``<Say>``'s Mandarin tag: text-to-speech takes ``cmn-CN``, recognition
  ``cmn-Hans-CN`` (the page's language tags), and mixing them up is easy;
- ``hints``: "a comma-separated list of up to 500 entries", "each entry can up to 100
  characters" (13330);
- ``speechTimeout``: "positive integer or ``auto``" (13327); ``auto`` together with a
  ``speechModel`` is 13335 ("Use a positive integer for speechTimeout whenever you set
  speechModel"), and the Gather's ``timeout`` is used instead;
- ``speechModel``: one of the documented models (13334); a language the page says the
  model does not support is 13331, and then "the gather fails": speech is not recognised
  (keys still are);
- ``profanityFilter``, ``enhanced`` (13339), ``bargeIn`` (13332), ``debug`` (13336):
  ``true`` or ``false``.

The simulator's own choices (Twilio documents none of them): ``auto`` ends the speech 1 s
after the caller stops; words in another script than the recogniser's language (Chinese
characters to an ``en-US`` recogniser, Latin words alone to a Mandarin one) are not
recognised, so a Gather in the wrong language is found in a simulated call.

A ``Recogniser`` (one per call, from ``Recognition``) turns what the caller said into what
Twilio sends: the words, possibly garbled by noise (each word dropped or swapped with its
neighbour with probability ``noise``, words as ``ivr.flow.speech.split`` cuts them), and the
Confidence, lowered by the share of words garbled. Pure apart from its random numbers.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ivr.flow import speech
from ivr.flow.gather import MAX_HINT_CHARS, MAX_HINTS, hears, known_model
from ivr.menu import phrases
from ivr.sim.document import SCHEMA_VALIDATION, SchemaWarning

#: the Confidence sent when neither the caller nor the options say another
DEFAULT_CONFIDENCE = 0.9
INPUTS = ("dtmf", "speech")
DEFAULT_LANGUAGE = "en-US"
#: the silence after speech that ends it, for speechTimeout="auto" (*)
AUTO_END_S = 1.0
GATHER_SPEECH_TIMEOUT = 13327
GATHER_HINTS = 13330
GATHER_LANGUAGE_FOR_MODEL = 13331
GATHER_BARGE_IN = 13332
GATHER_MODEL = 13334
GATHER_AUTO_WITH_MODEL = 13335
GATHER_DEBUG = 13336
GATHER_ENHANCED = 13339
GATHER_LANGUAGE = 13512
#: ``<Say>``'s Mandarin tags -> recognition's (the TTS page, and the Gather page's tags)
SAY_TAGS = {"cmn-cn": "cmn-Hans-CN", "cmn-tw": "cmn-Hant-TW"}
#: language (2-3 letters), an optional script, a region (2 letters or 3 digits)
_TAG = re.compile(r"[a-z]{2,3}(-[a-z]{4})?-([a-z]{2}|\d{3})", re.IGNORECASE)
_BOOLEANS = {"profanityFilter": SCHEMA_VALIDATION, "enhanced": GATHER_ENHANCED,
             "bargeIn": GATHER_BARGE_IN, "debug": GATHER_DEBUG}
_CJK_LANGS = ("cmn", "zh", "yue")
#: reports one warning: its Twilio code and message
_Warn = Callable[[int, str], None]
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True, slots=True)
class Listening:
    """What a ``<Gather>`` listens for, once its attributes are read."""

    modes: frozenset[str]
    language: str = DEFAULT_LANGUAGE
    #: the silence after the caller's last word that ends their speech
    speech_end_ms: int = 5000
    model: str | None = None
    #: why speech is never recognised at this Gather (None: it is when it listens)
    fails: str | None = None

    @property
    def speech(self) -> bool:
        return "speech" in self.modes


def listening(attrs: Mapping[str, str], timeout_ms: int) -> tuple[Listening, list[SchemaWarning]]:
    """A Gather's speech attributes (``timeout_ms``: its timeout), and Twilio's warnings
    about them; a bad value falls back to the default."""
    found: list[SchemaWarning] = []

    def warn(code: int, message: str) -> None:
        found.append(SchemaWarning(code, message))

    raw_input = attrs.get("input")
    words = (raw_input or "dtmf").split()
    modes = frozenset(w for w in words if w in INPUTS)
    unknown = [w for w in words if w not in INPUTS]
    if unknown or raw_input is not None and not words:
        kept = " ".join(sorted(modes)) or "dtmf"
        warn(SCHEMA_VALIDATION, f"<Gather input={raw_input!r}>: input is dtmf, speech or "
                                f"'dtmf speech': {kept!r} used")
    modes = modes or frozenset({"dtmf"})
    for name, code in _BOOLEANS.items():
        value = attrs.get(name)
        if value is not None and value.lower() not in ("true", "false"):
            warn(code, f"<Gather {name}={value!r}> is not true or false: ignored")
    model = _model(attrs.get("speechModel"), warn)
    language = _language(attrs.get("language"), model, warn)
    _hints(attrs.get("hints"), warn)
    end_ms = _speech_timeout_ms(attrs.get("speechTimeout"), model, timeout_ms, warn)
    fails = None
    if language == "multi" and model != "deepgram_nova-3":
        fails = "language 'multi' needs speechModel deepgram_nova-3"
    elif not hears(model, language):
        fails = f"speechModel {model} does not take {language}"
    if fails:
        warn(GATHER_LANGUAGE_FOR_MODEL, f"<Gather>: {fails}: the gather fails for speech")
    return Listening(modes, language, end_ms, model, fails), found


def _model(raw: str | None, warn: _Warn) -> str | None:
    if raw is None or raw == "":
        return None
    if known_model(raw):
        return raw
    warn(GATHER_MODEL, f"<Gather speechModel={raw!r}> is not a documented model: default used")
    return None


def _language(raw: str | None, model: str | None, warn: _Warn) -> str:
    if raw is None:
        return DEFAULT_LANGUAGE
    if raw == "multi" and model is not None:
        return raw  # deepgram_nova-3's multilingual mode (checked with the model)
    said = SAY_TAGS.get(raw.lower())
    if said:
        warn(GATHER_LANGUAGE, f"<Gather language={raw!r}> is <Say>'s tag: speech "
                              f"recognition takes {said}; {DEFAULT_LANGUAGE} used")
        return DEFAULT_LANGUAGE
    if not _TAG.fullmatch(raw):
        warn(GATHER_LANGUAGE, f"<Gather language={raw!r}> is not a language and region "
                              f"(en-US, cmn-Hans-CN): {DEFAULT_LANGUAGE} used")
        return DEFAULT_LANGUAGE
    return raw


def _hints(raw: str | None, warn: _Warn) -> None:
    if not raw:
        return
    entries = [h.strip() for h in raw.split(",")]
    if len(entries) > MAX_HINTS:
        warn(GATHER_HINTS, f"<Gather hints> has {len(entries)} entries, more than "
                           f"{MAX_HINTS}: ignored")
    long = [h for h in entries if len(h) > MAX_HINT_CHARS]
    if long:
        warn(GATHER_HINTS, f"<Gather hints>: {len(long)} of {len(entries)} entries are longer "
                           f"than {MAX_HINT_CHARS} characters (the first: {long[0][:40]!r}...): "
                           "ignored")


def _speech_timeout_ms(raw: str | None, model: str | None, timeout_ms: int,
                       warn: _Warn) -> int:
    """The silence ending speech: ``auto`` about a second, a whole number of seconds, or
    by default the Gather's timeout ("Default: timeout value")."""
    if raw is None or raw == "":
        return timeout_ms
    if raw == "auto":
        if model is not None:
            warn(GATHER_AUTO_WITH_MODEL, f"<Gather speechTimeout='auto'> cannot be used with "
                                         f"speechModel {model}: the timeout "
                                         f"({timeout_ms / 1000:g} s) used")
            return timeout_ms
        return round(AUTO_END_S * 1000)
    if raw.isdigit() and int(raw) > 0:
        return int(raw) * 1000
    warn(GATHER_SPEECH_TIMEOUT, f"<Gather speechTimeout={raw!r}> is not a positive whole "
                                f"number or 'auto': the timeout ({timeout_ms / 1000:g} s) used")
    return timeout_ms


# -- what the recogniser sends ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Recognition:
    """How the simulated recogniser hears callers: the Confidence it reports, and its
    errors (``noise``: the chance for each word to be dropped or swapped, with ``seed``
    to repeat them; None: a fresh seed per call, kept in the trace)."""

    confidence: float = DEFAULT_CONFIDENCE
    noise: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("confidence", "noise"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or \
                    not (math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"{name} {value!r}: a number from 0 to 1")
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int)):
            raise ValueError(f"seed {self.seed!r}: a whole number")

    def recogniser(self) -> Recogniser:
        return Recogniser(self)


@dataclass(frozen=True, slots=True)
class Recognised:
    """What Twilio sends for what the caller said: ``text`` ("" sends nothing: the
    Gather gets no input) and ``confidence``; ``unheard`` says why nothing was sent."""

    text: str
    confidence: float
    dropped: int = 0
    swapped: int = 0
    unheard: str | None = None


class Recogniser:
    """One call's recogniser: its noise draws from one seeded stream, answer after answer."""

    def __init__(self, recognition: Recognition) -> None:
        self.recognition = recognition
        seed = recognition.seed
        self.seed = seed if seed is not None else random.SystemRandom().randrange(1_000_000)
        self.random = random.Random(self.seed)

    def hear(self, said: str, at: Listening, confidence: float | None = None) -> Recognised:
        """What Twilio makes of ``said`` at a Gather (``confidence``: the caller's own
        choice of the Confidence, else the recognition's)."""
        sure = self.recognition.confidence if confidence is None else confidence
        if not at.speech:
            return Recognised("", sure, unheard=f"the <Gather> takes keys only "
                                                 f"(input={' '.join(sorted(at.modes))!r})")
        if at.fails:
            return Recognised("", sure, unheard=at.fails)
        if not said.strip():
            return Recognised("", sure, unheard="nothing was said")
        cjk = at.language.lower().startswith(_CJK_LANGS)
        han = bool(phrases.HAN.search(said))
        latin_only = not han and bool(_LATIN.search(said))
        if at.language != "multi" and (han and not cjk or cjk and latin_only):
            return Recognised("", sure, unheard=f"the recogniser listens for {at.language}")
        if not self.recognition.noise:
            return Recognised(said, sure)
        lang = "zh-CN" if cjk else "en-US"
        words = speech.split(said, lang)
        kept, dropped, swapped = _garbled(words, self.recognition.noise, self.random)
        garbled = dropped + 2 * swapped
        lowered = round(sure * (1 - min(garbled, len(words)) / len(words)), 3) if words else sure
        text = speech.joiner(lang).join(kept)
        unheard = None if text else "every word was lost to noise"
        return Recognised(text, lowered, dropped, swapped, unheard)


def _garbled(words: list[str], rate: float, rng: random.Random) -> tuple[list[str], int, int]:
    """Each word, with probability ``rate``, dropped or swapped with the next (the last
    with the one before); the words kept, and how many were dropped and swapped."""
    out: list[str] = []
    dropped = swapped = 0
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if rng.random() >= rate:
            out.append(word)
            continue
        if rng.random() < 0.5 or len(words) == 1:
            dropped += 1
        elif i < len(words):  # swapped with the next word, which is then spoken
            out += [words[i], word]
            i += 1
            swapped += 1
        elif out:  # the last word swaps with the one before
            out.insert(len(out) - 1, word)
            swapped += 1
        else:
            dropped += 1
    return out, dropped, swapped
