"""Rendered audio in real calls: <Play> only for fresh files that exist, <Say> for the rest."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from conftest import Caller
from programs import needs_espeak

from ivr import create_app
from ivr.cli import cli

pytestmark = needs_espeak  # every test here plays audio built by espeak-ng
PROMPTS = Path(__file__).parent.parent / "prompts"


@pytest.fixture(scope="module", name="rendered")
def _rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("rendered")
    shutil.copytree(PROMPTS, root / "prompts")
    result = CliRunner().invoke(cli, ["audio", "build", "--audio-dir", str(root / "audio"),
                                      "--prompts", str(root / "prompts")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root


def plays(root) -> list[str]:
    return [e.text for e in root.iter("Play")]


def test_static_prompts_play_their_files_and_dynamic_text_is_said(rendered, settings, clock):
    app = create_app({**settings, "AUDIO_DIR": str(rendered / "audio"),
                      "PROMPTS_DIR": str(rendered / "prompts"),
                      "PUBLIC_URL": "https://ivr.example.com"})
    client = app.test_client()
    call = Caller(client, "+8613800138000", base="https://ivr.example.com")
    first = call.start()
    assert plays(first) and all(url.startswith("https://ivr.example.com/audio/")
                                for url in plays(first))
    assert any("/zh-CN/welcome.wav" in url for url in plays(first))
    call.keys("2", "1", "1", "1")
    status = call.press("246810")
    assert call.said("Your top-up of 200 yuan on")  # dynamic: spoken, never pre-rendered
    assert any(url.endswith("/en-US/verify_ok.wav") or "/en-US/verify_ok.wav?" in url
               for url in plays(status))
    every = plays(first) + plays(status)
    for url in every:  # every <Play> points at a file the app really serves
        response = client.get(urlsplit(url).path + "?" + urlsplit(url).query)
        assert response.status_code == 200 and response.mimetype == "audio/wav"


def test_stale_or_missing_audio_falls_back_to_say(rendered, settings, clock, tmp_path):
    audio = tmp_path / "audio"
    shutil.copytree(rendered / "audio", audio)
    prompts = tmp_path / "prompts"
    shutil.copytree(rendered / "prompts", prompts)
    zh = prompts / "zh-CN.yaml"
    zh.write_text(zh.read_text("utf-8").replace("您好，欢迎致电钱包客服热线。",
                                                "您好，这里是钱包客服热线。"), "utf-8")
    for lang in ("zh-CN", "en-US"):
        (audio / lang / "language_menu.wav").unlink()
    app = create_app({**settings, "AUDIO_DIR": str(audio), "PROMPTS_DIR": str(prompts)})
    call = Caller(app.test_client())
    root = call.start()
    assert call.heard[0] == "您好，这里是钱包客服热线。"
    assert any("普通话请按1" in said for said in call.heard[1:])
    assert plays(root) == []
    check = CliRunner().invoke(cli, ["audio", "check", "--audio-dir", str(audio),
                                     "--prompts", str(prompts)])
    assert check.exit_code != 0
    assert "welcome" in check.output and "language_menu" in check.output
