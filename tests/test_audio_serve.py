"""Serving ``/audio`` and the manifest API the TwiML asks before every ``<Play>``."""

from __future__ import annotations

import logging
import os
import time
import wave
from pathlib import Path

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient

from ivr.audio import serve
from ivr.audio.manifest import (
    RECHECK_S,
    HoldAudio,
    LiveManifest,
    Manifest,
    PromptAudio,
    text_sha256,
)
from ivr.flow.call import Utterance

WELCOME = "您好，欢迎致电钱包客服热线。"


def write_wav(path: Path, ms: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(8000)
        wav.writeframes(b"\x01\x00" * (8 * ms))


@pytest.fixture(name="audio_dir")
def _audio_dir(tmp_path: Path) -> Path:
    audio_dir = tmp_path / "audio"
    write_wav(audio_dir / "zh-CN" / "welcome.wav", 100)
    write_wav(audio_dir / "hold.wav", 200)
    write_wav(audio_dir / "studio" / "zh-CN" / "welcome.wav", 100)
    (tmp_path / "secret.wav").write_bytes(b"RIFF secret")
    Manifest(audio_dir, {"zh-CN": {"welcome": PromptAudio("zh-CN/welcome.wav", text_sha256(WELCOME),
                                                          100, "espeak-ng")}},
             HoldAudio("hold.wav", 200), -20.0).save()
    return audio_dir


@pytest.fixture(name="audio_client")
def _audio_client(audio_dir: Path) -> FlaskClient:
    app = Flask(__name__)
    app.config.update(TESTING=True, AUDIO_DIR=str(audio_dir))
    serve.init_app(app)
    return app.test_client()


def test_serves_wav_with_cache_headers(audio_client: FlaskClient, audio_dir: Path) -> None:
    response = audio_client.get("/audio/zh-CN/welcome.wav?v=abc")
    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    assert response.data == (audio_dir / "zh-CN" / "welcome.wav").read_bytes()
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    assert response.cache_control.public and response.cache_control.max_age == 86400
    # an unversioned URL may change under Twilio's cache: revalidate every time
    plain = audio_client.get("/audio/zh-CN/welcome.wav")
    assert plain.cache_control.no_cache and not plain.cache_control.public


def test_conditional_get_is_304(audio_client: FlaskClient) -> None:
    first = audio_client.get("/audio/hold.wav")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = audio_client.get("/audio/hold.wav", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    since = audio_client.get("/audio/hold.wav", headers={"If-Modified-Since": modified})
    assert since.status_code == 304


@pytest.mark.parametrize("path", [
    "/audio/../secret.wav",
    "/audio/../../etc/passwd",
    "/audio/%2e%2e/secret.wav",
    "/audio/..%2fsecret.wav",
    "/audio/zh-CN/../../secret.wav",
    "/audio//etc/passwd.wav",
    "/audio/manifest.json",
    "/audio/studio/zh-CN/welcome.wav",
    "/audio/zh-CN/../studio/zh-CN/welcome.wav",
    "/audio/zh-CN/missing.wav",
])
def test_refuses_traversal_and_non_audio(audio_client: FlaskClient, path: str) -> None:
    # werkzeug first redirects "//" to "/"; what matters is where that ends
    assert audio_client.get(path, follow_redirects=True).status_code == 404


def test_fresh_file_only_for_the_same_text_and_an_existing_file(audio_dir: Path) -> None:
    manifest = Manifest.load(audio_dir)
    assert manifest.fresh_file("zh-CN", "welcome", WELCOME) == "zh-CN/welcome.wav"
    assert manifest.fresh_file("zh-CN", "welcome", WELCOME + "！") is None
    assert manifest.fresh_file("en-US", "welcome", WELCOME) is None
    assert manifest.play_url("https://ivr.example.com/", "zh-CN", "welcome", WELCOME) == (
        f"https://ivr.example.com/audio/zh-CN/welcome.wav?v={text_sha256(WELCOME)[:12]}")
    assert manifest.hold_url("https://ivr.example.com") == "https://ivr.example.com/audio/hold.wav"
    (audio_dir / "zh-CN" / "welcome.wav").unlink()
    assert manifest.fresh_file("zh-CN", "welcome", WELCOME) is None


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_live_manifest_reloads_when_the_file_changes(audio_dir: Path, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    live = LiveManifest(audio_dir, clock=clock)
    first = live.current()
    assert live.current() is first  # unchanged file: no re-read
    assert live.fresh_file("zh-CN", "welcome", WELCOME) == "zh-CN/welcome.wav"

    Manifest(audio_dir, {}, None, -20.0).save()
    stamp = (audio_dir / "manifest.json").stat().st_mtime_ns + 10**9
    os.utime(audio_dir / "manifest.json", ns=(stamp, stamp))
    clock.now += 0.5  # within a second of the last look, lookups answer from memory
    assert live.fresh_file("zh-CN", "welcome", WELCOME) == "zh-CN/welcome.wav"
    clock.now += 0.5  # then the disk is looked at again
    assert live.fresh_file("zh-CN", "welcome", WELCOME) is None

    (audio_dir / "manifest.json").write_text("{broken")
    clock.now += RECHECK_S
    with caplog.at_level(logging.ERROR):
        assert live.current().prompts == {}  # a broken manifest means <Say>, not a failed call
    assert "prompt audio disabled" in caplog.text
    assert LiveManifest(tmp_path / "nothing-built").fresh_file("zh-CN", "welcome", WELCOME) is None


def test_the_finders_the_webhooks_call(audio_client: FlaskClient, audio_dir: Path) -> None:
    app = audio_client.application
    finder, hold = app.extensions["ivr.audio"], app.extensions["ivr.hold"]
    assert finder(Utterance("welcome", WELCOME, "zh-CN")) == "zh-CN/welcome.wav"
    assert finder(Utterance("welcome", "changed", "zh-CN")) is None
    assert finder(Utterance("welcome", WELCOME, "en-US")) is None
    assert hold() == "hold.wav"
    with app.test_request_context("/voice"):
        assert serve.manifest().fresh_file("zh-CN", "welcome", WELCOME) == "zh-CN/welcome.wav"
        assert url_for("audio.serve", path="zh-CN/welcome.wav") == "/audio/zh-CN/welcome.wav"
    (audio_dir / "hold.wav").unlink()
    time.sleep(RECHECK_S)  # the disk is looked at again after a second
    assert hold() is None
