"""The knobs of prompt rendering, in one frozen value with defaults.

The manifest records the target level, so changing it re-renders every prompt; after
changing another knob (voices, speed, lead-in/out) run ``ivr audio build --force``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

#: espeak-ng voice per catalog language (``espeak-ng --voices`` lists them)
DEFAULT_VOICES: Mapping[str, str] = MappingProxyType({"zh-CN": "cmn", "en-US": "en-us"})
#: espeak-ng speed (words a minute) per language: its ``cmn`` default of 175 reads about
#: 3 characters a second, slower than a hotline voice; 200 gives about 4, the pace the
#: simulator's clock assumes before audio exists
DEFAULT_RATES: Mapping[str, int] = MappingProxyType({"zh-CN": 200, "en-US": 160})

#: G.711 telephony: 8 kHz, mono, 16-bit linear PCM in the WAV
SAMPLE_RATE = 8000
CHANNELS = 1
SAMPLE_WIDTH = 2


@dataclass(frozen=True, slots=True)
class AudioSettings:
    """How prompts and hold audio are rendered."""

    #: RMS level every prompt is normalised to (peaks are kept at or below ``peak_dbfs``)
    target_dbfs: float = -20.0
    peak_dbfs: float = -1.0
    #: silence kept before and after the speech, so a prompt never starts clipped
    lead_in_ms: int = 150
    lead_out_ms: int = 250
    #: the same for the pieces of a menu spoken from its options' phrases, heard one right
    #: after the other: a phrase and its key are one sentence, not two prompts
    joined_lead_in_ms: int = 0
    joined_lead_out_ms: int = 120
    #: anything quieter than this, relative to the peak, counts as leading/trailing silence
    trim_below_peak_db: float = 45.0
    voices: Mapping[str, str] = field(default_factory=lambda: DEFAULT_VOICES)
    rates_wpm: Mapping[str, int] = field(default_factory=lambda: DEFAULT_RATES)
    #: speed for a language missing from ``rates_wpm`` (a bit slower than espeak's 175)
    rate_wpm: int = 160
    hold_seconds: int = 60
    hold_seed: int = 95188
    #: hold music sits below the prompts so the next announcement stands out
    hold_dbfs: float = -26.0

    def joined(self) -> AudioSettings:
        """These settings for a piece of a spoken menu (``joined_lead_*``)."""
        return replace(self, lead_in_ms=self.joined_lead_in_ms,
                       lead_out_ms=self.joined_lead_out_ms)

    def voice(self, lang: str) -> str:
        """The engine voice for a catalog language: mapped, else the language itself."""
        return self.voices.get(lang) or lang.lower()

    def catalog_lang(self, lang: str) -> str:
        """The catalog language a TwiML ``language`` means (Polly's ``cmn-CN`` is zh-CN)."""
        if lang in self.voices:
            return lang
        base = lang.split("-")[0].lower()
        base = {"cmn": "zh"}.get(base, base)
        return next((k for k in self.voices if k.split("-")[0].lower() == base), lang)

    def rate(self, lang: str) -> int:
        """The engine speed for a catalog language, in words per minute."""
        return self.rates_wpm.get(lang, self.rate_wpm)

    @property
    def hold_signature(self) -> dict[str, float | int]:
        """The settings the hold file depends on."""
        return {"seconds": self.hold_seconds, "seed": self.hold_seed,
                "level_dbfs": self.hold_dbfs, "recipe": 1}


#: the defaults, shared (the value is frozen)
DEFAULT_SETTINGS = AudioSettings()
