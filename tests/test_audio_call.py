"""A simulated call rendered to WAV: DTMF tones found by a Goertzel filter, exact length."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from programs import needs_espeak

from ivr.audio.build import build, plan
from ivr.audio.call import render_call
from ivr.audio.engine import EspeakEngine
from ivr.audio.manifest import Manifest
from ivr.audio.settings import AudioSettings
from ivr.flow import prompts

pytestmark = needs_espeak  # every call here is rendered from real prompt audio
SETTINGS = AudioSettings(hold_seconds=4)
RATE = 8000
ROWS, COLS = (697, 770, 852, 941), (1209, 1336, 1477, 1633)
KEYPAD = ("123A", "456B", "789C", "*0#D")
WELCOME = "您好，欢迎致电钱包客服热线。"
MENU = "充值请按1，人工服务请按0。"
FRAME, HOP = 205, 80  # the classic DTMF Goertzel block at 8 kHz, 10 ms steps


def goertzel(frames: np.ndarray, freqs: tuple[int, ...]) -> np.ndarray:
    """Power at each frequency for each frame (rows): the Goertzel recurrence, vectorised
    over frames and frequencies."""
    coeff = 2 * np.cos(2 * np.pi * np.array(freqs) / RATE)
    s1 = np.zeros((len(frames), len(freqs)))
    s2 = np.zeros_like(s1)
    for n in range(frames.shape[1]):
        s1, s2 = frames[:, n, None] + coeff * s1 - s2, s1
    return s1 ** 2 + s2 ** 2 - coeff * s1 * s2


def detect_dtmf(samples: np.ndarray) -> list[tuple[float, str]]:
    """(onset seconds, key) of each tone: a frame counts when one row and one column
    frequency hold almost all of its energy, as a phone exchange's receiver decides."""
    starts = np.arange(0, len(samples) - FRAME, HOP)
    frames = np.stack([samples[s:s + FRAME] for s in starts])
    energy = np.sum(frames ** 2, axis=1)
    # a pure sine of the frame's whole energy scores 1
    scale = 2 / (FRAME * np.maximum(energy, 1e-12))[:, None]
    rows, cols = goertzel(frames, ROWS) * scale, goertzel(frames, COLS) * scale
    found: list[tuple[float, str]] = []
    previous = ""
    for i, start in enumerate(starts):
        r, c = int(np.argmax(rows[i])), int(np.argmax(cols[i]))
        key = ""
        strong = rows[i, r] > 0.3 and cols[i, c] > 0.3 and rows[i, r] + cols[i, c] > 0.85
        if energy[i] > 1e-3 and strong:
            key = KEYPAD[r][c]
        if key and key != previous:
            found.append((round(start / RATE, 3), key))
        previous = key
    return found


def read(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (RATE, 1, 2)
        data = wav.readframes(wav.getnframes())
    return np.frombuffer(data, dtype=np.int16).astype(np.float64) / 32768


@pytest.fixture(name="audio_dir", scope="module")
def _audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("call")
    (root / "prompts").mkdir()
    (root / "prompts" / "zh-CN.yaml").write_text(f"welcome: {WELCOME}\nmain_menu: {MENU}\n",
                                                 encoding="utf-8")
    engine = EspeakEngine(SETTINGS)
    catalog = prompts.load(root / "prompts")
    build(plan(catalog, root / "audio", engine=engine, settings=SETTINGS), root / "audio",
          engine=engine, settings=SETTINGS)
    return root / "audio"


def scripted_trace(audio_dir: Path) -> dict[str, Any]:
    """A call in the simulator's trace format: menu, a key, a dynamic prompt, an account
    number, the queue with Twilio's default music, then the caller hangs up."""
    manifest = Manifest.load(audio_dir)
    welcome_s = manifest.prompts["zh-CN"]["welcome"].duration_ms / 1000
    menu_s = manifest.prompts["zh-CN"]["main_menu"].duration_ms / 1000
    t_menu = welcome_s
    t_key = t_menu + menu_s + 1.0
    events = [
        {"t": 0.0, "type": "gather", "num_digits": 1, "timeout_s": 5.0},
        {"t": 0.0, "type": "say", "text": WELCOME, "language": "cmn-CN", "loop": 1,
         "duration_s": welcome_s},
        {"t": t_menu, "type": "play", "url": "http://x/audio/zh-CN/main_menu.wav?v=1",
         "loop": 1, "duration_s": menu_s},
        {"t": t_key, "type": "input", "digits": "1", "keys": "1", "key_interval_s": 0.3,
         "duration_s": 0.0},
        {"t": t_key, "type": "say", "text": "Please enter your account number.",
         "language": "en-US", "loop": 1, "duration_s": 2.0},
        {"t": t_key + 2.0, "type": "pause", "duration_s": 1.0},
        {"t": t_key + 3.0, "type": "input", "digits": "907", "keys": "907#",
         "key_interval_s": 0.3, "duration_s": 0.9},
        {"t": t_key + 3.9, "type": "enqueue", "queue": "general", "wait_url": None},
        {"t": t_key + 3.9, "type": "play", "url": "http://com.twilio.music/BusyStrings.mp3",
         "loop": 1, "duration_s": 6.0},
        {"t": t_key + 9.9, "type": "input", "hangup": True},
    ]
    return {"call_sid": "CA1", "from": "+86", "to": "+86", "events": events,
            "outcome": {"ended_by": "caller-hangup", "queue": "general",
                        "duration_s": round(t_key + 9.9, 3), "requests": 3}}


def test_tones_at_the_right_moments_and_exact_length(audio_dir: Path, tmp_path: Path) -> None:
    trace = scripted_trace(audio_dir)
    result = render_call(trace, tmp_path / "call.wav", audio_dir, settings=SETTINGS)
    samples = read(tmp_path / "call.wav")

    duration_s = trace["outcome"]["duration_s"]
    assert abs(len(samples) / RATE - duration_s) <= 0.01 * duration_s
    assert result.duration_ms == round(duration_s * 1000)
    t_key = trace["events"][3]["t"]
    expected = [(t_key, "1"), (t_key + 3.0, "9"), (t_key + 3.3, "0"), (t_key + 3.6, "7"),
                (t_key + 3.9, "#")]
    assert [k for _, k in result.tones] == [k for _, k in expected]
    found = detect_dtmf(samples)
    assert [k for _, k in found] == [k for _, k in expected], found
    for (at, key), (want, _) in zip(found, expected, strict=True):
        assert abs(at - want) < 0.04, (key, at, want)
    assert result.spoken == 1  # only the text without pre-rendered audio went to TTS


def test_prompts_silence_and_hold_where_they_belong(audio_dir: Path, tmp_path: Path) -> None:
    trace = scripted_trace(audio_dir)
    render_call(trace, tmp_path / "call.wav", audio_dir, settings=SETTINGS)
    samples = read(tmp_path / "call.wav")
    manifest = Manifest.load(audio_dir)
    welcome = read(audio_dir / manifest.prompts["zh-CN"]["welcome"].file)
    menu = read(audio_dir / manifest.prompts["zh-CN"]["main_menu"].file)
    assert np.array_equal(samples[:len(welcome)], welcome)
    assert np.array_equal(samples[len(welcome):len(welcome) + len(menu)], menu)

    def span(a: float, b: float) -> np.ndarray:
        return samples[int(a * RATE):int(b * RATE)]

    t_key = trace["events"][3]["t"]
    assert not span(t_key - 0.95, t_key - 0.05).any()  # the caller thinking: silence
    assert span(t_key + 0.3, t_key + 1.5).std() > 0.01  # the spoken (TTS) prompt
    assert not span(t_key + 2.0, t_key + 2.95).any()  # <Pause>
    hold = span(t_key + 4.5, t_key + 9.8)  # Twilio's music, stood in for by ours
    assert hold.std() == pytest.approx(10 ** (SETTINGS.hold_dbfs / 20), rel=0.5)
    assert detect_dtmf(hold) == []


def test_a_real_simulated_call(audio_dir: Path, app: Any, tmp_path: Path) -> None:
    """The app plays our audio, the simulator times it from the manifest, and the trace
    renders with the caller's keys audible where they were pressed."""
    from ivr.audio import serve
    from ivr.audio.timing import AudioDurations
    from ivr.sim import CallOptions, FlaskTransport, Script, simulate

    app.config["AUDIO_DIR"] = str(audio_dir)
    serve.init_app(app)
    options = CallOptions(play_duration_s=AudioDurations(audio_dir))
    trace = simulate("http://localhost/voice", transport=FlaskTransport(app), options=options,
                     token="test-auth-token", caller=Script.parse("1 0").caller()).to_dict()
    first = trace["events"][1]
    welcome = Manifest.load(audio_dir).prompts["zh-CN"]["welcome"]
    assert (first["type"], first["url"]) == ("play", "http://localhost/audio/zh-CN/welcome.wav")
    assert first["duration_s"] == welcome.duration_ms / 1000
    inputs = [e for e in trace["events"] if e["type"] == "input" and e.get("keys")]
    assert [e["keys"] for e in inputs] == ["1", "0"]
    result = render_call(trace, tmp_path / "real.wav", audio_dir, settings=SETTINGS)
    samples = read(tmp_path / "real.wav")
    duration_s = trace["outcome"]["duration_s"]
    assert abs(len(samples) / RATE - duration_s) <= 0.01 * duration_s
    found = detect_dtmf(samples)
    assert [k for _, k in found] == ["1", "0"]
    for (at, _), event in zip(found, inputs, strict=True):
        assert abs(at - event["t"]) < 0.04
    assert result.spoken >= 1  # prompts not in this small audio dir were spoken on the fly
