"""``ivr audio build`` and ``check``: real espeak-ng, into a temporary audio dir."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from programs import needs_espeak

from ivr.audio import AudioError
from ivr.audio.build import build, plan
from ivr.audio.check import check
from ivr.audio.engine import EspeakEngine
from ivr.audio.manifest import Manifest, text_sha256
from ivr.audio.settings import AudioSettings
from ivr.cli.audio import audio
from ivr.flow import prompts

SETTINGS = AudioSettings(hold_seconds=3)
ENGINE = EspeakEngine(SETTINGS)
TEXTS = {
    "zh-CN": {"welcome": "您好，欢迎致电钱包客服热线。", "main_menu": "充值请按1，人工服务请按0。",
              "goodbye": "再见。", "topup": "您充值的{amount}仍在处理中。",
              "fmt_today": "今天", "fmt_sep": "；"},
    "en-US": {"welcome": "Welcome to the wallet hotline.", "main_menu": "For top-up, press 1.",
              "goodbye": "Goodbye.", "topup": "Your top-up of {amount} is being processed."},
}


def write_prompts(directory: Path, texts: dict[str, dict[str, str]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for lang, keys in texts.items():
        (directory / f"{lang}.yaml").write_text(yaml.safe_dump(keys, allow_unicode=True),
                                                encoding="utf-8")
    return directory


def wav_info(path: Path) -> tuple[int, int, int, int, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
        info = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes())
    return (*info, np.frombuffer(frames, dtype=np.int16).astype(np.float64) / 32768)


def run_build(catalog: prompts.Catalog, audio_dir: Path, **kw: Any) -> Any:
    the_plan = plan(catalog, audio_dir, engine=ENGINE, settings=SETTINGS, **kw)
    return build(the_plan, audio_dir, engine=ENGINE, settings=SETTINGS)


@pytest.fixture(name="built", scope="module")
def _built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Prompts rendered once; tests that change things work on a copy."""
    root = tmp_path_factory.mktemp("built")
    prompts_dir = write_prompts(root / "prompts", TEXTS)
    run_build(prompts.load(prompts_dir), root / "audio")
    return prompts_dir, root / "audio"


@pytest.fixture(name="copy")
def _copy(built: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    prompts_dir, audio_dir = built
    shutil.copytree(prompts_dir, tmp_path / "prompts")
    shutil.copytree(audio_dir, tmp_path / "audio")
    return tmp_path / "prompts", tmp_path / "audio"


@needs_espeak
def test_manifest_has_the_agreed_shape(built: tuple[Path, Path]) -> None:
    _, audio_dir = built
    raw = json.loads((audio_dir / "manifest.json").read_text(encoding="utf-8"))
    assert list(raw) == ["version", "sample_rate", "target_dbfs", "prompts", "hold"]
    assert (raw["version"], raw["sample_rate"], raw["target_dbfs"]) == (1, 8000, -20.0)
    assert sorted(raw["prompts"]) == ["en-US", "zh-CN"]
    # dynamic prompts and fragments of them are spoken with <Say> at call time
    assert sorted(raw["prompts"]["zh-CN"]) == ["goodbye", "main_menu", "welcome"]
    entry = raw["prompts"]["zh-CN"]["welcome"]
    assert entry == {"file": "zh-CN/welcome.wav",
                     "text_sha256": text_sha256(TEXTS["zh-CN"]["welcome"]),
                     "duration_ms": entry["duration_ms"], "engine": "espeak-ng"}
    assert raw["hold"]["file"] == "hold.wav" and raw["hold"]["duration_ms"] == 3000


@needs_espeak
def test_files_are_telephony_wav_matching_the_manifest(built: tuple[Path, Path]) -> None:
    prompts_dir, audio_dir = built
    manifest = Manifest.load(audio_dir)
    for keys in manifest.prompts.values():
        for entry in keys.values():
            rate, channels, width, frames, samples = wav_info(audio_dir / entry.file)
            assert (rate, channels, width) == (8000, 1, 2), entry.file
            assert abs(frames / 8 - entry.duration_ms) <= 1, entry.file
            assert 300 < entry.duration_ms < 10_000, entry.file
            rms_dbfs = 20 * np.log10(np.sqrt(np.mean(samples ** 2)))
            assert -23.5 < rms_dbfs < -19.0, (entry.file, rms_dbfs)  # padding lowers it a bit
            assert np.max(np.abs(samples)) <= 10 ** (-1 / 20) + 1e-3
            # trimmed, then exactly the lead-in of silence
            assert np.all(samples[:8 * 140] == 0) and np.any(samples[8 * 150:8 * 200] != 0)
    assert check(prompts.load(prompts_dir), audio_dir, SETTINGS) == []


@needs_espeak
def test_rebuild_without_changes_renders_nothing(copy: tuple[Path, Path]) -> None:
    prompts_dir, audio_dir = copy
    the_plan = plan(prompts.load(prompts_dir), audio_dir, engine=ENGINE, settings=SETTINGS)
    assert the_plan.jobs == () and the_plan.removed == () and not the_plan.hold


@needs_espeak
def test_changed_text_fails_check_and_rebuilds_only_that_prompt(copy: tuple[Path, Path]) -> None:
    prompts_dir, audio_dir = copy
    texts = {lang: dict(keys) for lang, keys in TEXTS.items()}
    texts["zh-CN"]["goodbye"] = "感谢您的来电，再见。"
    write_prompts(prompts_dir, texts)
    before = {p: p.stat().st_mtime_ns for p in audio_dir.rglob("*.wav")}
    catalog = prompts.load(prompts_dir)

    problems = check(catalog, audio_dir, SETTINGS)
    assert [(p.location, "stale" in p.message) for p in problems] == [("zh-CN/goodbye", True)]

    result = run_build(catalog, audio_dir)
    assert result.rendered == ("zh-CN/goodbye",) and not result.hold
    changed = {p for p, mtime in before.items() if p.stat().st_mtime_ns != mtime}
    assert changed == {audio_dir / "zh-CN" / "goodbye.wav"}
    assert check(catalog, audio_dir, SETTINGS) == []


@needs_espeak
def test_removed_prompt_loses_its_file_and_entry(copy: tuple[Path, Path]) -> None:
    prompts_dir, audio_dir = copy
    texts = {lang: {k: v for k, v in keys.items() if k != "goodbye"}
             for lang, keys in TEXTS.items()}
    write_prompts(prompts_dir, texts)
    catalog = prompts.load(prompts_dir)
    assert {p.location for p in check(catalog, audio_dir, SETTINGS)} == {"zh-CN/goodbye",
                                                                        "en-US/goodbye"}
    result = run_build(catalog, audio_dir)
    assert result.rendered == () and result.removed == ("en-US/goodbye.wav", "zh-CN/goodbye.wav")
    assert not (audio_dir / "zh-CN" / "goodbye.wav").exists()
    assert Manifest.load(audio_dir).entry("zh-CN", "goodbye") is None
    assert check(catalog, audio_dir, SETTINGS) == []


@needs_espeak
def test_studio_recording_replaces_tts_and_back(copy: tuple[Path, Path]) -> None:
    prompts_dir, audio_dir = copy
    catalog = prompts.load(prompts_dir)
    studio = audio_dir / "studio" / "en-US" / "goodbye.wav"
    studio.parent.mkdir(parents=True)
    t = np.arange(44100) / 44100  # one second of a 440 Hz "voice" at 44.1 kHz stereo
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    with wave.open(str(studio), "wb") as wav:
        wav.setnchannels(2), wav.setsampwidth(2), wav.setframerate(44100)
        wav.writeframes(np.repeat(tone, 2).tobytes())

    assert [(p.location, p.message) for p in check(catalog, audio_dir, SETTINGS)] == [
        ("en-US/goodbye", "stale: a studio recording was added")]
    result = run_build(catalog, audio_dir)
    assert result.rendered == ("en-US/goodbye",)
    assert check(catalog, audio_dir, SETTINGS) == []
    entry = Manifest.load(audio_dir).entry("en-US", "goodbye")
    assert entry is not None and entry.engine == "studio"
    assert entry.duration_ms == 1000 + SETTINGS.lead_in_ms + SETTINGS.lead_out_ms
    assert run_build(catalog, audio_dir).rendered == ()

    studio.unlink()
    assert "recording was removed" in check(catalog, audio_dir, SETTINGS)[0].message
    assert run_build(catalog, audio_dir).rendered == ("en-US/goodbye",)
    assert Manifest.load(audio_dir).prompts["en-US"]["goodbye"].engine == "espeak-ng"


@needs_espeak
def test_check_names_files_that_are_not_telephony_audio(copy: tuple[Path, Path]) -> None:
    prompts_dir, audio_dir = copy
    with wave.open(str(audio_dir / "zh-CN" / "welcome.wav"), "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(22050)
        wav.writeframes(b"\0\0" * 22050)
    with wave.open(str(audio_dir / "en-US" / "welcome.wav"), "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(8000)
        wav.writeframes(b"\0\0" * 80)
    (audio_dir / "en-US" / "goodbye.wav").unlink()
    (audio_dir / "hold.wav").write_bytes(b"not a wav")
    found = {p.location: p.message for p in check(prompts.load(prompts_dir), audio_dir, SETTINGS)}
    assert "22050 Hz" in found["zh-CN/welcome"]
    assert "lasts 10 ms" in found["en-US/welcome"]
    assert "file missing" in found["en-US/goodbye"]
    assert "not a readable PCM WAV" in found["hold"]
    assert len(found) == 4


@needs_espeak
def test_a_failing_engine_keeps_the_rest(tmp_path: Path) -> None:
    class Flaky:
        name = "espeak-ng"

        def synthesize(self, text: str, lang: str, out: Path) -> None:
            if "Goodbye" in text:
                raise AudioError("engine broke")
            ENGINE.synthesize(text, lang, out)

    catalog = prompts.load(write_prompts(tmp_path / "prompts", {"zh-CN": {"goodbye": "再见。"},
                                                                "en-US": {"goodbye": "Goodbye.",
                                                                          "hi": "Hi."}}))
    the_plan = plan(catalog, tmp_path / "audio", engine=Flaky(), settings=SETTINGS)
    with pytest.raises(AudioError, match="en-US/goodbye: engine broke"):
        build(the_plan, tmp_path / "audio", engine=Flaky(), settings=SETTINGS)
    assert [p.location for p in check(catalog, tmp_path / "audio", SETTINGS)] == ["en-US/goodbye"]


def test_keys_that_would_escape_the_audio_dir_are_refused(tmp_path: Path) -> None:
    catalog = prompts.Catalog({"zh-CN": {"../../etc/x": "你好。"}})
    with pytest.raises(AudioError, match="unusable as file names"):
        plan(catalog, tmp_path, engine=ENGINE, settings=SETTINGS)


@needs_espeak
def test_cli_build_check_report(tmp_path: Path) -> None:
    prompts_dir = write_prompts(tmp_path / "prompts", {
        "zh-CN": {"main_menu": "充值请按1。", "goodbye": "再见。"},
        "en-US": {"main_menu": "For top-up, press 1.", "goodbye": "Goodbye."}})
    audio_dir = tmp_path / "audio"
    args = ["--audio-dir", str(audio_dir), "--prompts", str(prompts_dir)]
    runner = CliRunner()

    result = runner.invoke(audio, ["check", *args], catch_exceptions=False)
    assert result.exit_code == 1 and "zh-CN/main_menu: no audio" in result.output

    result = runner.invoke(audio, ["build", *args, "-j", "2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "rendered 4, unchanged 0, removed 0, hold rendered" in result.output
    assert runner.invoke(audio, ["check", *args], catch_exceptions=False).exit_code == 0

    result = runner.invoke(audio, ["report", *args, "--limit-s", "1", "--strict"],
                           catch_exceptions=False)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "main_menu" in lines[0] and "MENU > 1 s" in lines[0]
    assert not any("goodbye" in line and "MENU" in line for line in lines)

    (prompts_dir / "en-US.yaml").write_text(
        "main_menu: For payments, press 1.\ngoodbye: Goodbye.\n")
    result = runner.invoke(audio, ["check", *args], catch_exceptions=False)
    assert result.exit_code == 1
    assert "error: en-US/main_menu: stale" in result.output and "goodbye" not in result.output
    result = runner.invoke(audio, ["build", *args], catch_exceptions=False)
    assert "rendered 1, unchanged 3, removed 0, hold unchanged" in result.output


@needs_espeak
def test_the_pieces_of_a_spoken_menu_are_rendered_to_be_heard_joined(tmp_path: Path) -> None:
    """A phrase and its key are one sentence: their files carry no lead-in and a short
    lead-out, a prompt on its own keeps both; a piece that stops being one is rendered
    again, and ``ivr audio build --menu`` takes the pieces from the tree."""
    texts = {"en-US": {"opt_topup": "For top-up,", "press_1": "press 1.",
                       "goodbye": "Goodbye."}, "zh-CN": {"opt_topup": "充值，",
                                                        "press_1": "请按1；", "goodbye": "再见。"}}
    catalog = prompts.load(write_prompts(tmp_path / "prompts", texts))
    audio_dir = tmp_path / "audio"
    joined = frozenset({"opt_topup", "press_1"})
    run_build(catalog, audio_dir, joined=joined)
    entries = Manifest.load(audio_dir).prompts

    def edges_ms(lang: str, key: str) -> tuple[float, float]:
        rate, _, _, _, samples = wav_info(audio_dir / entries[lang][key].file)
        loud = np.flatnonzero(np.abs(samples) > 0.01)
        return loud[0] / rate * 1000, (len(samples) - loud[-1]) / rate * 1000

    for lang in texts:
        assert {k: e.engine for k, e in entries[lang].items()} == {
            "opt_topup": "espeak-ng+joined", "press_1": "espeak-ng+joined",
            "goodbye": "espeak-ng"}
        lead_in, lead_out = edges_ms(lang, "press_1")
        assert lead_in < 40 and lead_out < SETTINGS.joined_lead_out_ms + 40
        lead_in, lead_out = edges_ms(lang, "goodbye")
        assert lead_in >= SETTINGS.lead_in_ms - 5 and lead_out >= SETTINGS.lead_out_ms - 5
    assert check(catalog, audio_dir, SETTINGS) == []
    assert run_build(catalog, audio_dir, joined=joined).rendered == ()
    again = run_build(catalog, audio_dir)  # no longer pieces: rendered as prompts of their own
    assert sorted(again.rendered) == ["en-US/opt_topup", "en-US/press_1", "zh-CN/opt_topup",
                                      "zh-CN/press_1"]
    result = CliRunner().invoke(audio, ["build", "--audio-dir", str(audio_dir), "--prompts",
                                        str(tmp_path / "prompts"), "--menu",
                                        str(write_tree(tmp_path / "tree.yaml"))])
    assert result.exit_code == 0, result.output
    assert Manifest.load(audio_dir).prompts["en-US"]["press_1"].engine == "espeak-ng+joined"


def write_tree(path: Path) -> Path:
    """A one-menu tree spoken from the phrase ``opt_topup``."""
    path.write_text(
        "start: main\nmain: main\nfallback: agent\nqueues: [general]\nnodes:\n"
        "  main:\n    kind: menu\n    options:\n"
        '      "1": {goto: agent, say: opt_topup}\n'
        "    invalid: goodbye\n    no_input: goodbye\n"
        "  agent:\n    kind: queue\n    queue: general\n    prompt: goodbye\n", "utf-8")
    return path
