"""``build``, ``check`` and the app agree: whatever check rejects, a plain build renders
again, and the app ``<Play>``s only files check would pass (checked once per file
version, not per request)."""

from __future__ import annotations

import logging
import os
import shutil
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from conftest import Caller
from programs import needs_espeak

from ivr import create_app
from ivr.audio import manifest as manifest_module
from ivr.audio.build import build, plan
from ivr.audio.check import check
from ivr.audio.manifest import RECHECK_S, LiveManifest, Manifest
from ivr.audio.settings import AudioSettings
from ivr.cli.audio import audio
from ivr.flow import prompts
from ivr.flow.call import Utterance

SETTINGS = AudioSettings(hold_seconds=2)
SHIPPED_PROMPTS = Path(__file__).parent.parent / "prompts"
TEXTS = {
    "zh-CN": {"welcome": "您好，欢迎致电钱包客服热线。", "main_menu": "充值请按1。", "goodbye": "再见。"},
    "en-US": {"welcome": "Welcome to the wallet hotline.", "main_menu": "For top-up, press 1.",
              "goodbye": "Goodbye."},
}


class ToneEngine:
    """A stand-in for espeak-ng: a tone as long as the text, at 16 kHz (fast, no binary)."""

    name = "tone"

    def synthesize(self, text: str, lang: str, out: Path) -> None:
        write_wav(out, 200 + 20 * len(text), rate=16000, amplitude=8000)


ENGINE = ToneEngine()


def write_wav(path: Path, ms: int, rate: int = 8000, channels: int = 1,
              amplitude: int = 3000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(rate * ms // 1000) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * amplitude).astype(np.int16)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels), wav.setsampwidth(2), wav.setframerate(rate)
        wav.writeframes(np.repeat(samples, channels).tobytes())


def run_build(catalog: prompts.Catalog, audio_dir: Path) -> tuple[str, ...]:
    """A plain build (no --force): what it rendered, hold included."""
    the_plan = plan(catalog, audio_dir, engine=ENGINE, settings=SETTINGS)
    result = build(the_plan, audio_dir, engine=ENGINE, settings=SETTINGS)
    return result.rendered + (("hold",) if result.hold else ())


@pytest.fixture(name="built")
def _built(tmp_path: Path) -> tuple[prompts.Catalog, Path]:
    folder = tmp_path / "prompts"
    folder.mkdir()
    for lang, texts in TEXTS.items():
        (folder / f"{lang}.yaml").write_text(yaml.safe_dump(texts, allow_unicode=True), "utf-8")
    catalog = prompts.load(folder)
    audio_dir = tmp_path / "audio"
    run_build(catalog, audio_dir)
    assert check(catalog, audio_dir, SETTINGS) == []
    return catalog, audio_dir


def spoil(audio_dir: Path) -> None:
    """The ways a rendered file goes bad that check names, one file each."""
    (audio_dir / "zh-CN" / "welcome.wav").write_bytes(b"RIFF\x00\x00garbage")   # corrupt
    write_wav(audio_dir / "en-US" / "welcome.wav",                                # 44.1 kHz
              Manifest.load(audio_dir).prompts["en-US"]["welcome"].duration_ms, rate=44100)
    write_wav(audio_dir / "zh-CN" / "goodbye.wav", 50)                            # cut short
    data = (audio_dir / "en-US" / "goodbye.wav").read_bytes()
    (audio_dir / "en-US" / "goodbye.wav").write_bytes(data[:len(data) // 2])     # truncated
    (audio_dir / "hold.wav").write_bytes(b"not a wav")


SPOILT = {"zh-CN/welcome", "en-US/welcome", "zh-CN/goodbye", "en-US/goodbye", "hold"}


def test_a_plain_build_renders_again_whatever_check_rejects(built):
    catalog, audio_dir = built
    spoil(audio_dir)
    found = {p.location: p.message for p in check(catalog, audio_dir, SETTINGS)}
    assert set(found) == SPOILT
    assert "44100 Hz" in found["en-US/welcome"] and "cut short" in found["en-US/goodbye"]
    assert set(run_build(catalog, audio_dir)) == SPOILT  # the rest is kept
    assert check(catalog, audio_dir, SETTINGS) == []
    assert run_build(catalog, audio_dir) == ()


def test_a_manifest_not_at_8_khz_is_rendered_again(built):
    catalog, audio_dir = built
    raw = Manifest.load(audio_dir)
    Manifest(audio_dir, raw.prompts, raw.hold, raw.target_dbfs, sample_rate=16000).save()
    assert [p.message for p in check(catalog, audio_dir, SETTINGS)] == [
        "sample_rate 16000, needs 8000"]
    assert len(run_build(catalog, audio_dir)) == 7  # six prompts and the hold
    assert check(catalog, audio_dir, SETTINGS) == []


@needs_espeak
def test_the_cli_build_mends_what_the_cli_check_reports(tmp_path):
    folder = tmp_path / "prompts"
    folder.mkdir()
    for lang, texts in TEXTS.items():
        (folder / f"{lang}.yaml").write_text(yaml.safe_dump({"goodbye": texts["goodbye"]},
                                                            allow_unicode=True), "utf-8")
    args = ["--audio-dir", str(tmp_path / "audio"), "--prompts", str(folder)]
    runner = CliRunner()
    assert runner.invoke(audio, ["build", *args], catch_exceptions=False).exit_code == 0
    write_wav(tmp_path / "audio" / "en-US" / "goodbye.wav", 500, rate=44100)
    result = runner.invoke(audio, ["check", *args], catch_exceptions=False)
    assert result.exit_code == 1 and "en-US/goodbye" in result.output
    result = runner.invoke(audio, ["build", *args], catch_exceptions=False)
    assert "rendered 1, unchanged 1" in result.output, result.output
    assert runner.invoke(audio, ["check", *args], catch_exceptions=False).exit_code == 0


def test_the_app_plays_only_what_check_passes(built, caplog):
    catalog, audio_dir = built
    live = LiveManifest(audio_dir, recheck_s=0)  # every lookup looks at the disk

    def heard(lang: str, key: str) -> str | None:
        return live(Utterance(key, TEXTS[lang][key], lang))

    assert heard("zh-CN", "welcome") == "zh-CN/welcome.wav" and live.hold_file() == "hold.wav"
    spoil(audio_dir)
    with caplog.at_level(logging.WARNING, logger="ivr.audio.manifest"):
        assert heard("zh-CN", "welcome") is None
        assert heard("en-US", "welcome") is None
        assert heard("zh-CN", "goodbye") is None and heard("en-US", "goodbye") is None
        assert live.hold_file() is None
        assert heard("zh-CN", "main_menu") == "zh-CN/main_menu.wav"  # untouched: played
    assert "44100 Hz" in caplog.text and "spoken with <Say>" in caplog.text
    run_build(catalog, audio_dir)  # files replaced, manifest rewritten: played again
    assert heard("en-US", "welcome") == "en-US/welcome.wav"
    assert live.hold_file() == "hold.wav"
    # a manifest that is not at 8 kHz is not trusted at all
    raw = Manifest.load(audio_dir)
    Manifest(audio_dir, raw.prompts, raw.hold, raw.target_dbfs, sample_rate=44100).save()
    stamp = (audio_dir / "manifest.json").stat().st_mtime_ns + 10**9
    os.utime(audio_dir / "manifest.json", ns=(stamp, stamp))
    assert heard("zh-CN", "main_menu") is None


def test_each_file_is_checked_once_per_version(built, monkeypatch):
    _, audio_dir = built
    checked: list[Path] = []
    real = manifest_module.wav_problem

    def counting(path: Path, duration_ms: int) -> str | None:
        checked.append(path)
        return real(path, duration_ms)

    monkeypatch.setattr(manifest_module, "wav_problem", counting)
    live = LiveManifest(audio_dir, recheck_s=0)  # every lookup looks at the disk
    utterance = Utterance("welcome", TEXTS["zh-CN"]["welcome"], "zh-CN")
    for _ in range(50):
        assert live(utterance) == "zh-CN/welcome.wav"
        assert live.hold_file() == "hold.wav"
    assert len(checked) == 2
    write_wav(audio_dir / "zh-CN" / "welcome.wav", 10, rate=22050)  # replaced: checked again
    for _ in range(5):
        assert live(utterance) is None
    assert len(checked) == 3


def test_lookups_look_at_the_disk_at_most_once_a_second(built, monkeypatch):
    """Issue 21: a webhook asks for every prompt it says; the answers come from memory, and
    the manifest and the files are looked at again only a second after the last look."""
    _, audio_dir = built
    looked: list[str] = []
    real_stat = os.stat

    def counting(path, *args, **kwargs):
        looked.append(str(path))
        return real_stat(path, *args, **kwargs)

    now = [0.0]
    live = LiveManifest(audio_dir, clock=lambda: now[0])
    utterance = Utterance("welcome", TEXTS["zh-CN"]["welcome"], "zh-CN")
    assert live(utterance) == "zh-CN/welcome.wav"
    monkeypatch.setattr(manifest_module.os, "stat", counting)
    for _ in range(100):
        assert live(utterance) == "zh-CN/welcome.wav"
    assert looked == []
    write_wav(audio_dir / "zh-CN" / "welcome.wav", 10, rate=22050)  # spoilt by hand
    looked.clear()  # what writing it looked at
    now[0] += 0.5
    assert live(utterance) == "zh-CN/welcome.wav"  # not looked at yet
    now[0] += 0.5
    assert live(utterance) is None
    assert looked == [str(audio_dir / "manifest.json"), str(audio_dir / "zh-CN" / "welcome.wav")]


def test_a_call_says_what_a_spoilt_file_would_have_played(tmp_path, settings, clock):
    folder = tmp_path / "prompts"
    shutil.copytree(SHIPPED_PROMPTS, folder)
    catalog = prompts.load(folder)
    audio_dir = tmp_path / "audio"
    run_build(catalog, audio_dir)
    app = create_app({**settings, "AUDIO_DIR": str(audio_dir), "PROMPTS_DIR": str(folder)})
    client = app.test_client()
    first = Caller(client).start()
    assert any(p.text and p.text.endswith("/zh-CN/welcome.wav") for p in first.iter("Play"))
    write_wav(audio_dir / "zh-CN" / "welcome.wav", 1000, rate=44100)
    time.sleep(RECHECK_S)  # the app looks at the disk again a second after its last look
    call = Caller(client)
    root = call.start()
    assert not any("/zh-CN/welcome.wav" in (p.text or "") for p in root.iter("Play"))
    assert call.heard[0] == catalog.text("zh-CN", "welcome")
    for played in root.iter("Play"):  # every other <Play> is a file check passes
        file = played.text.split("/audio/", 1)[1].split("?")[0]
        entry = next(e for keys in Manifest.load(audio_dir).prompts.values()
                     for e in keys.values() if e.file == file)
        assert manifest_module.wav_problem(audio_dir / file, entry.duration_ms) is None
