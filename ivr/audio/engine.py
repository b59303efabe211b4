"""Where a prompt's raw sound comes from: a TTS engine, or a studio recording.

An engine only turns text into *some* WAV; ``sound.telephony`` then makes every source
alike (trimmed, levelled, 8 kHz mono). A recording placed at
``audio/studio/<lang>/<key>.wav`` replaces the engine for that prompt, so the voice of
any prompt can be upgraded one file at a time.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ivr.audio import AudioError
from ivr.audio.settings import AudioSettings

STUDIO = "studio"
#: what the manifest's engine of a piece of a spoken menu ends in (``build.Job.engine``):
#: rendered to be heard joined to the next piece
JOINED = "+joined"
#: what ``studio_file`` accepts; anything but WAV needs ffmpeg on the machine
STUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")


class Engine(Protocol):
    """Text to speech: writes ``text`` spoken in ``lang`` as a WAV file at ``out``."""

    @property
    def name(self) -> str: ...

    def synthesize(self, text: str, lang: str, out: Path) -> None: ...


@dataclass(frozen=True, slots=True)
class EspeakEngine:
    """espeak-ng, from the system's packages: offline, fast, every language we need."""

    settings: AudioSettings = field(default_factory=AudioSettings)
    binary: str = "espeak-ng"
    timeout_s: float = 60.0

    @property
    def name(self) -> str:
        return "espeak-ng"

    def executable(self) -> str:
        """The engine's path; AudioError if it is not installed."""
        exe = shutil.which(self.binary)
        if exe is None:
            raise AudioError(f"{self.binary} is not installed (apt-get install espeak-ng)")
        return exe

    def synthesize(self, text: str, lang: str, out: Path) -> None:
        exe = self.executable()
        # the text goes through stdin, so a prompt starting with '-' is not an option
        cmd = [exe, "-v", self.settings.voice(lang), "-s", str(self.settings.rate(lang)),
               "-b", "1", "-w", str(out), "--stdin"]
        try:
            done = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True,
                                  timeout=self.timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise AudioError(f"{self.binary} timed out on {text[:40]!r}") from exc
        error = done.stderr.decode("utf-8", "replace").strip()
        if done.returncode != 0 or not out.is_file() or out.stat().st_size <= 44:
            raise AudioError(f"{self.binary} -v {self.settings.voice(lang)} failed "
                             f"(exit {done.returncode}): {error or 'no audio written'}")


def studio_file(audio_dir: Path, lang: str, key: str) -> Path | None:
    """The studio recording that replaces TTS for this prompt, if one was placed."""
    folder = audio_dir / STUDIO / lang
    return next((folder / f"{key}{s}" for s in STUDIO_SUFFIXES
                 if (folder / f"{key}{s}").is_file()), None)
