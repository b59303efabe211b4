"""Sound processing with pydub: the only module that imports it, never used in a request.

WAV in and out need no ffmpeg (pydub reads and writes WAV itself); ffmpeg is only needed
for studio recordings in other formats.
"""

from __future__ import annotations

import math
import os
import random
import warnings
from pathlib import Path

import numpy as np

from ivr.audio import AudioError
from ivr.audio.settings import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH, AudioSettings

with warnings.catch_warnings():
    # pydub warns at import about audioop (deprecated) and about a missing ffmpeg, which
    # WAV-only use does not need; pytest's filterwarnings=error would turn both into errors
    warnings.simplefilter("ignore")
    from pydub import AudioSegment
    from pydub.generators import Sine
    from pydub.silence import detect_leading_silence

#: the keypad's row and column frequencies (ITU-T Q.23)
DTMF_ROWS = (697, 770, 852, 941)
DTMF_COLS = (1209, 1336, 1477, 1633)
DTMF_KEYS = ("123A", "456B", "789C", "*0#D")
#: telephone passband edge; everything above is filtered out before going to 8 kHz
_CUTOFF_HZ = 3600


def dtmf_freqs(digit: str) -> tuple[int, int]:
    """The (row, column) frequencies of a keypad key."""
    for row, keys in zip(DTMF_ROWS, DTMF_KEYS, strict=True):
        if digit.upper() in keys:
            return row, DTMF_COLS[keys.index(digit.upper())]
    raise AudioError(f"{digit!r} is not a keypad key")


def load(path: Path) -> AudioSegment:
    """Any audio file pydub can read (WAV without ffmpeg)."""
    try:
        # pydub leaves a file it opened itself unclosed; hand it an open one
        with warnings.catch_warnings(), path.open("rb") as handle:
            warnings.simplefilter("ignore")
            return AudioSegment.from_file(handle, format=path.suffix.lstrip(".").lower())
    except Exception as exc:  # pydub raises bare Exceptions and CouldntDecodeError
        raise AudioError(f"{path}: cannot read audio: {exc}") from exc


def export(segment: AudioSegment, out: Path) -> int:
    """Write a WAV atomically; return its duration in ms, from its frame count."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        segment.export(handle, format="wav")
    os.replace(tmp, out)
    return round(int(segment.frame_count()) * 1000 / int(segment.frame_rate))


def _lowpass(segment: AudioSegment, cutoff_hz: float) -> AudioSegment:
    """A windowed-sinc FIR, so speech sibilants do not alias when going to 8 kHz."""
    rate = segment.frame_rate
    taps = np.arange(-64, 65)
    kernel = np.sinc(2 * cutoff_hz / rate * taps) * np.hamming(len(taps))
    kernel /= kernel.sum()
    samples = np.frombuffer(segment.raw_data, dtype=np.int16).astype(np.float64)
    filtered = np.convolve(samples, kernel, mode="same")
    data = np.clip(np.round(filtered), -32768, 32767).astype(np.int16).tobytes()
    return segment._spawn(data)


def to_telephony(segment: AudioSegment) -> AudioSegment:
    """8 kHz, mono, 16-bit."""
    segment = segment.set_channels(CHANNELS).set_sample_width(SAMPLE_WIDTH)
    if segment.frame_rate > SAMPLE_RATE:
        segment = _lowpass(segment, _CUTOFF_HZ)
    return segment.set_frame_rate(SAMPLE_RATE)


def _level(segment: AudioSegment, target_dbfs: float, peak_dbfs: float) -> AudioSegment:
    """Gain to the target RMS level, but never past the peak ceiling (no clipping)."""
    gain = min(target_dbfs - segment.dBFS, peak_dbfs - segment.max_dBFS)
    return segment.apply_gain(gain)


def speech(source: Path, settings: AudioSettings) -> AudioSegment:
    """A raw recording or TTS output made into a prompt: telephony format, trimmed, levelled,
    with a short lead-in/out."""
    segment = to_telephony(load(source))
    if segment.rms == 0:
        raise AudioError(f"{source}: the audio is silent")
    threshold = segment.max_dBFS - settings.trim_below_peak_db
    start = detect_leading_silence(segment, silence_threshold=threshold, chunk_size=5)
    end = detect_leading_silence(segment.reverse(), silence_threshold=threshold, chunk_size=5)
    segment = segment[start:len(segment) - end]
    segment = _level(segment, settings.target_dbfs, settings.peak_dbfs)
    return (silence(settings.lead_in_ms) + segment + silence(settings.lead_out_ms))


def render_prompt(source: Path, out: Path, settings: AudioSettings) -> int:
    """``speech`` written to ``out``; returns its duration in ms."""
    return export(speech(source, settings), out)


def silence(duration_ms: float) -> AudioSegment:
    return AudioSegment.silent(duration=duration_ms, frame_rate=SAMPLE_RATE)


def tone(freqs: tuple[float, ...], duration_ms: float, volume_dbfs: float) -> AudioSegment:
    """Equal-level sines summed; each at ``volume_dbfs`` minus headroom for the sum."""
    each = volume_dbfs - 20 * math.log10(len(freqs))
    base = silence(duration_ms)
    for freq in freqs:
        base = base.overlay(Sine(freq, sample_rate=SAMPLE_RATE)
                            .to_audio_segment(duration=duration_ms, volume=each))
    return base


def dtmf(digit: str, duration_ms: float = 120) -> AudioSegment:
    """The dual tone a phone sends for ``digit``, 5 ms ramps against clicks."""
    return tone(dtmf_freqs(digit), duration_ms, -4.0).fade_in(5).fade_out(5)


# C major pentatonic from G3 to C6: no semitones, so no random walk over it can clash
_PENTATONIC_HZ = (196.00, 220.00, 261.63, 293.66, 329.63, 392.00, 440.00, 523.25,
                  587.33, 659.25, 783.99, 880.00, 1046.50)
# soft pads under the melody (root and fifth, an octave above the phone's low cut)
_PADS_HZ = ((261.63, 392.00), (220.00, 329.63), (293.66, 440.00), (196.00, 293.66))


def _note(freq: float, duration_ms: int, volume_dbfs: float) -> AudioSegment:
    """A sine with a quieter octave for warmth, a soft attack and a long release."""
    body = Sine(freq, sample_rate=SAMPLE_RATE).to_audio_segment(duration_ms, volume_dbfs)
    warm = Sine(freq * 2, sample_rate=SAMPLE_RATE).to_audio_segment(duration_ms,
                                                                     volume_dbfs - 14)
    return body.overlay(warm).fade_in(25).fade_out(int(duration_ms * 0.7))


def hold_music(settings: AudioSettings) -> AudioSegment:
    """A seeded random walk of soft notes over a pentatonic scale, over slow pads.

    Seeded, so every build writes the same file; a walk, so it never loops inside
    ``hold_seconds``.
    """
    rng = random.Random(settings.hold_seed)
    total_ms = settings.hold_seconds * 1000
    beat_ms = 600
    track = silence(total_ms)
    for bar, at in enumerate(range(0, total_ms, 4 * beat_ms)):
        pad = _PADS_HZ[0] if bar % 8 == 0 else rng.choice(_PADS_HZ)
        for freq in pad:
            track = track.overlay(_note(freq, 4 * beat_ms + 600, -22).fade_in(300), at)
    at, step = 0, 7
    while at < total_ms - beat_ms:
        step = min(max(step + rng.choice((-2, -1, -1, 1, 1, 2, 0)), 0), len(_PENTATONIC_HZ) - 1)
        beats = rng.choice((1, 1, 1, 2, 2, 3))
        if rng.random() > 0.12:  # an occasional rest lets the melody breathe
            track = track.overlay(_note(_PENTATONIC_HZ[step], beats * beat_ms + 400, -14), at)
        at += beats * beat_ms
    track = track.fade_in(1500).fade_out(2500)
    return track.apply_gain(settings.hold_dbfs - track.dBFS)


def render_hold(out: Path, settings: AudioSettings) -> int:
    """``hold_music`` written to ``out``; returns its duration in ms."""
    return export(hold_music(settings), out)


class Timeline:
    """A fixed-length track that sounds are laid on at given times (a call's recording).

    A sound longer than the room it is given is cut: a key press interrupts the prompt
    it barged into, as on a real call.
    """

    def __init__(self, duration_ms: float) -> None:
        self.track = silence(duration_ms)
        self._files: dict[Path, AudioSegment] = {}

    @property
    def duration_ms(self) -> int:
        return len(self.track)

    def _place(self, segment: AudioSegment, at_ms: float, max_ms: float | None) -> int:
        if max_ms is not None:
            segment = segment[:max(0, int(max_ms))]
        self.track = self.track.overlay(segment, position=int(at_ms))
        return len(segment)

    def file(self, path: Path, at_ms: float, max_ms: float | None = None) -> int:
        """Lay an audio file at ``at_ms``; return how many ms of it were laid."""
        if path not in self._files:
            self._files[path] = to_telephony(load(path))
        return self._place(self._files[path], at_ms, max_ms)

    def speech(self, source: Path, settings: AudioSettings, at_ms: float,
               max_ms: float | None = None) -> int:
        """Lay TTS output, made into a prompt first (level, trim), at ``at_ms``."""
        return self._place(speech(source, settings), at_ms, max_ms)

    def loop(self, path: Path, at_ms: float, duration_ms: float, offset_ms: float = 0) -> None:
        """Lay a file repeated to fill ``duration_ms``, starting ``offset_ms`` into the
        repetition (hold audio that carries on after an announcement)."""
        if path not in self._files:
            self._files[path] = to_telephony(load(path))
        clip = self._files[path]
        if len(clip) == 0 or duration_ms <= 0:
            return
        skip = int(offset_ms) % len(clip)
        looped = clip * math.ceil((skip + duration_ms) / len(clip))
        self._place(looped[skip:], at_ms, duration_ms)

    def dtmf(self, digit: str, at_ms: float, duration_ms: float = 120) -> None:
        self._place(dtmf(digit, duration_ms), at_ms, None)

    def ringback(self, at_ms: float, duration_ms: float) -> None:
        """The ringing a caller hears while an agent's phone rings (440+480 Hz, 2 s on,
        4 s off)."""
        ring = tone((440, 480), 2000, -16).fade_in(10).fade_out(10) + silence(4000)
        self._place(ring * math.ceil(max(duration_ms, 1) / 6000), at_ms, duration_ms)

    def beep(self, at_ms: float, duration_ms: float = 500) -> None:
        """The beep before a recording starts."""
        self._place(tone((1000,), duration_ms, -10).fade_in(5).fade_out(5), at_ms, None)

    def export(self, out: Path) -> int:
        return export(self.track, out)
