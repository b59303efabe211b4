"""Simulated durations and scripts: speaking rates, audio lengths, answer tokens."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from ivr.audio.timing import AudioDurations, break_ms, dtmf_ms, speech_ms
from ivr.sim.caller import Answer, Kind, Script
from ivr.sim.errors import ScenarioError


@pytest.mark.parametrize(
    ("text", "language", "expected_ms"),
    [
        ("Press 1 for top-up.", "en-US", 2000),  # 5 words (top-up is two) at 150 a minute
        ("充值请按1", "cmn-CN", 1250),  # 4 characters + 1 digit at 4 a second
        ("账户尾号8000", "cmn-CN", 2000),  # digits read one by one
        ("", "en-US", 0),
        ("Hi", "en-US", 400),
        ("OK", "en-US", 400),
    ],
)
def test_speaking_rates(text: str, language: str, expected_ms: int) -> None:
    assert speech_ms(text, language) == expected_ms


def test_breaks_and_tones() -> None:
    assert break_ms("750ms", None) == 750 and break_ms("2s", None) == 2000
    assert break_ms(None, "strong") == 750 and break_ms(None, None) == 500
    assert dtmf_ms("1w2") == 1000


def _wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))


def test_play_durations_from_manifest_then_wav_header(tmp_path: Path) -> None:
    manifest = {
        "prompts": {"en-US": {"welcome": {"file": "en-US/welcome.wav", "duration_ms": 2300}}},
        "hold": {"file": "hold.wav", "duration_ms": 30000},
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    _wav(tmp_path / "zh-CN" / "menu.wav", 1.5)
    durations = AudioDurations(tmp_path)
    assert durations("https://ivr.example/audio/en-US/welcome.wav") == 2.3
    assert durations("/audio/hold.wav") == 30.0
    assert durations("https://ivr.example/audio/zh-CN/menu.wav") == 1.5
    assert durations("https://ivr.example/audio/missing.wav") is None
    assert durations("https://elsewhere.example/music.mp3") is None


def test_script_tokens() -> None:
    script = Script.parse("2 1 _ 246810# h say", ["my card is lost"])
    assert [a.kind for a in script.answers] == [Kind.KEYS] * 2 + [
        Kind.TIMEOUT,
        Kind.KEYS,
        Kind.HANGUP,
        Kind.SPEECH,
    ]
    assert str(script) == "2 1 _ 246810# h say:my card is lost"
    assert Script.parse("", ["hello"]).answers == (Answer(Kind.SPEECH, "hello"),)
    assert Script.parse(["1", "say:two words", 3]).answers[1] == Answer(Kind.SPEECH, "two words")


@pytest.mark.parametrize(("press", "says"), [("12a", []), ("say", []), ("1", ["unused"])])
def test_bad_scripts_say_what_is_wrong(press: str, says: list[str]) -> None:
    with pytest.raises(ScenarioError):
        Script.parse(press, says)
