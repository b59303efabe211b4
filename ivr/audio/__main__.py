"""``python -m ivr.audio build|check|report``: the same as ``ivr audio ...``."""

from __future__ import annotations

from ivr.audio.commands import audio

audio(prog_name="ivr audio")
