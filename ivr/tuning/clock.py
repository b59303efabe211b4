"""How long the simulated caller spends on each thing: hearing an utterance, pressing keys.

An utterance lasts as long as its rendered audio where ``ivr audio build`` made it for
this exact text (``audio/manifest.json``), else the simulator's speech estimate
(``ivr.audio.timing.speech_ms``) in the language Twilio's ``<Say>`` uses for it (the
``VOICES`` setting). Each distinct text is measured once and cached: a tuning run hears
the same few hundred texts millions of times. A caller's own sentence at a speech menu
takes what it takes to say at the same rates, then the silence that ends it (the
``SPEECH_TIMEOUT`` setting: ``auto``, Twilio's "first pause", is taken as a second, as
``ivr call`` does). No Flask, no Twilio.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ivr.audio import AudioError
from ivr.audio.manifest import Manifest
from ivr.audio.timing import speech_ms
from ivr.flow.call import Utterance

log = logging.getLogger(__name__)

#: one key press, from deciding to the tone (a caller keying an 8-digit account takes 4 s)
KEY_S = 0.5
#: a recorded complaint message
RECORD_S = 30.0
#: the pause that ends a spoken answer under speechTimeout="auto" ("Twilio stops
#: recognizing speech at the first pause", https://www.twilio.com/docs/voice/twiml/gather)
AUTO_SPEECH_END_S = 1.0


def speech_end_s(timeout: str | int | float | None) -> float:
    """The silence after a spoken answer before Twilio takes it: the ``SPEECH_TIMEOUT``
    setting's seconds, or about a second for ``auto``."""
    if timeout is None or str(timeout).strip().lower() == "auto":
        return AUTO_SPEECH_END_S
    return float(timeout)


class Durations:
    """Seconds per utterance: rendered audio where it is fresh, else the speech estimate."""

    def __init__(self, audio_dir: Path | str | None = None,
                 voices: Mapping[str, Mapping[str, Any]] | None = None,
                 speech_end: float = AUTO_SPEECH_END_S) -> None:
        self.manifest: Manifest | None = None
        if audio_dir is not None:
            try:
                self.manifest = Manifest.load(audio_dir)
            except AudioError as exc:  # a broken manifest: estimate, as the calls would <Say>
                log.warning("%s; estimating every prompt's duration", exc)
        self.languages = {lang: str(v.get("language", lang)) for lang, v in (voices or {}).items()}
        self._cache: dict[tuple[str, str, str], float] = {}
        self.speech_end_s = speech_end

    def __call__(self, utterance: Utterance) -> float:
        key = (utterance.lang, utterance.key, utterance.text)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._measure(*key)
        return found

    def of(self, lang: str, key: str, text: str) -> float:
        return self(Utterance(key, text, lang))

    def speaking(self, lang: str, sentence: str) -> float:
        """Seconds from a caller's first word to Twilio taking the sentence."""
        key = (lang, "(caller)", sentence)
        found = self._cache.get(key)
        if found is None:
            talk = speech_ms(sentence, self.languages.get(lang, lang)) / 1000
            found = self._cache[key] = talk + self.speech_end_s
        return found

    def _measure(self, lang: str, key: str, text: str) -> float:
        if self.manifest is not None and self.manifest.fresh_file(lang, key, text):
            entry = self.manifest.entry(lang, key)
            assert entry is not None
            return entry.duration_ms / 1000
        return speech_ms(text, self.languages.get(lang, lang)) / 1000
