"""The speech settings as a user gets them wrong (issue 13): SPEECH_MODEL, SPEECH_TIMEOUT
and SPEECH_LANGUAGES are checked at start, named as the user wrote them, and what they
accept is what the main menu's Gather asks Twilio for. SPEECH_MODEL is one model or one per
prompt language, each checked against the languages Twilio's table gives it; a language
without a recogniser gets its menus by keys only.

Every test runs in an empty working folder with the shell's ``IVR_*`` and ``TWILIO_*``
variables removed (the ``workdir`` fixture).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from conftest import TOKEN, Caller

from ivr import config, create_app
from ivr.cli import cli
from ivr.errors import ConfigError
from ivr.flow import prompts

pytestmark = pytest.mark.usefixtures("workdir")

#: Gather's documented speechModel values (https://www.twilio.com/docs/voice/twiml/gather,
#: "speechModel"); Deepgram's are deepgram_ and a model (deepgram_nova-2, deepgram_nova-3)
DOCUMENTED_MODELS = ("default", "numbers_and_commands", "phone_call",
                     "experimental_conversations", "experimental_utterances", "googlev2_long",
                     "googlev2_short", "googlev2_telephony", "googlev2_telephony_short",
                     "deepgram_nova-2", "deepgram_nova-3")
LANG_KEY = {"zh-CN": "1", "en-US": "2"}


def read_error(test_config: dict[str, object] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        config.read({"DEV": True, **(test_config or {})})
    return str(caught.value)


def main_menu(workdir, lang: str, **settings: object) -> ET.Element:
    """The main menu's Gather for a caller who chose ``lang``, on an app of these settings
    (over the environment's)."""
    app = create_app({"TESTING": True, "TWILIO_AUTH_TOKEN": TOKEN, "SECRET_KEY": "k",
                      "DATABASE": str(workdir / "ivr.db"), "AUDIO_DIR": str(workdir / "audio"),
                      **settings})
    call = Caller(app.test_client())
    call.start()
    call.press(LANG_KEY[lang])
    assert call.at == "main" and call.root is not None
    gather = call.root.find("Gather")
    assert gather is not None
    return gather


def said(gather: ET.Element) -> list[str]:
    return [e.text or "" for e in gather.iter("Say")]


def keys_only(gather: ET.Element) -> None:
    assert gather.get("input") == "dtmf"
    assert not {"language", "hints", "speechTimeout", "speechModel"} & set(gather.attrib)


# -- a speech model needs seconds (Twilio warning 13335) -------------------------------------
def test_a_speech_model_with_the_automatic_timeout_is_refused(monkeypatch):
    monkeypatch.setenv("IVR_SPEECH_MODEL", "phone_call")
    message = read_error()
    assert "SPEECH_TIMEOUT" in message and "IVR_SPEECH_MODEL" in message
    assert "13335" in message
    monkeypatch.setenv("IVR_SPEECH_TIMEOUT", "auto")  # said outright: named as written
    message = read_error()
    assert "IVR_SPEECH_TIMEOUT" in message and "IVR_SPEECH_MODEL" in message
    assert "13335" in message


def test_the_same_in_instance_config_names_the_file(workdir):
    folder = workdir / "instance"
    folder.mkdir()
    (folder / "config.py").write_text("SPEECH_MODEL = 'default'\nSPEECH_TIMEOUT = 'auto'\n")
    message = read_error()
    assert "SPEECH_TIMEOUT in instance/config.py" in message
    assert "SPEECH_MODEL in instance/config.py" in message and "13335" in message


def test_serve_refuses_to_start_on_it(monkeypatch):
    monkeypatch.setenv("IVR_SPEECH_MODEL", "googlev2_short")
    result = CliRunner().invoke(cli, ["serve"], env={"TWILIO_AUTH_TOKEN": "t"},
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "IVR_SPEECH_MODEL" in result.output and "SPEECH_TIMEOUT" in result.output
    assert "13335" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.usefixtures("clock")
def test_a_model_with_seconds_is_accepted_and_rendered(workdir, monkeypatch):
    monkeypatch.setenv("IVR_SPEECH_MODEL", "phone_call")
    monkeypatch.setenv("IVR_SPEECH_TIMEOUT", "3")
    # phone_call hears English, not Mandarin (the model's languages in Twilio's table)
    monkeypatch.setenv("IVR_SPEECH_LANGUAGES", '{"en-US": "en-US"}')
    assert config.read({"DEV": True})["SPEECH_TIMEOUT"] == 3
    gather = main_menu(workdir, "en-US")
    assert gather.get("input") == "dtmf speech" and gather.get("language") == "en-US"
    assert gather.get("speechModel") == "phone_call"
    assert gather.get("speechTimeout") == "3"


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize("lang", list(LANG_KEY))
def test_the_default_model_hears_both_languages(workdir, lang):
    gather = main_menu(workdir, lang, SPEECH_MODEL="default", SPEECH_TIMEOUT=2)
    assert (gather.get("speechModel"), gather.get("speechTimeout")) == ("default", "2")
    assert gather.get("language") == {"zh-CN": "cmn-Hans-CN", "en-US": "en-US"}[lang]


@pytest.mark.parametrize("model", ["deepgram_nova-2", "deepgram_nova-3", "googlev2_telephony"])
def test_the_documented_models_are_accepted(model):
    settings = config.read({"DEV": True, "SPEECH_MODEL": model, "SPEECH_TIMEOUT": 2,
                            "SPEECH_LANGUAGES": {"en-US": "en-US"}})
    assert settings["SPEECH_MODEL"] == model


@pytest.mark.parametrize("value", ["phone", "Phone_Call", "nova-3", "deepgram", "whisper",
                                   '{"en-US": "nova"}'])
def test_an_unknown_model_is_refused_listing_the_documented_ones(monkeypatch, value):
    monkeypatch.setenv("IVR_SPEECH_MODEL", value)
    monkeypatch.setenv("IVR_SPEECH_TIMEOUT", "2")
    monkeypatch.setenv("IVR_SPEECH_LANGUAGES", '{"en-US": "en-US"}')
    message = read_error()
    assert "IVR_SPEECH_MODEL" in message and "must be one of Twilio's speech models" in message
    for model in DOCUMENTED_MODELS[:-1]:  # and "deepgram_nova-2 ...": the family
        assert model in message, model
    if value.startswith("{"):  # one model per language: named by its language
        assert "IVR_SPEECH_MODEL['en-US']" in message


@pytest.mark.parametrize("value", ["5", '["phone_call"]', "true", "2.5"])
def test_a_model_of_another_shape_gets_one_message(monkeypatch, value):
    monkeypatch.setenv("IVR_SPEECH_MODEL", value)
    monkeypatch.setenv("IVR_SPEECH_TIMEOUT", "2")
    message = read_error()
    assert message == ("invalid setting: IVR_SPEECH_MODEL must be a model name or a mapping of "
                       f"prompt language to model, not {json.loads(value)!r}")


@pytest.mark.parametrize("value", ["0", "-3", "2.5", "soon", "true", "[3]"])
def test_a_speech_timeout_that_is_not_whole_seconds_is_refused(monkeypatch, value):
    monkeypatch.setenv("IVR_SPEECH_TIMEOUT", value)
    message = read_error()
    assert "IVR_SPEECH_TIMEOUT must be \"auto\" or a whole number of seconds" in message


# -- SPEECH_LANGUAGES: each prompt language to Gather's tag ----------------------------------
@pytest.mark.parametrize("value", [
    '["cmn-Hans-CN", "en-US"]', '"cmn-Hans-CN"', "cmn-Hans-CN", '{"zh-CN": 5}',
    '{"zh-CN": "Mandarin Chinese"}', '{"zh-CN": ""}', '{"zh-CN": {"tag": "cmn-Hans-CN"}}',
    '{"zh-CN": "cmn-Hans-CN", "en-US": null}', "3"])
def test_speech_languages_of_a_bad_shape_are_refused(monkeypatch, value):
    monkeypatch.setenv("IVR_SPEECH_LANGUAGES", value)
    message = read_error()
    assert "IVR_SPEECH_LANGUAGES must map each prompt language to Gather's language tag" \
        in message


def test_several_speech_mistakes_are_listed_together(monkeypatch):
    monkeypatch.setenv("IVR_SPEECH_LANGUAGES", "[]")
    monkeypatch.setenv("IVR_SPEECH_MODEL", "nova")
    monkeypatch.setenv("IVR_SPEECH_TIMEOUT", "-1")
    message = read_error()
    assert all(name in message for name in ("IVR_SPEECH_LANGUAGES", "IVR_SPEECH_MODEL",
                                            "IVR_SPEECH_TIMEOUT"))


@pytest.mark.usefixtures("clock")
def test_a_language_left_out_keeps_its_main_menu_to_keys(workdir, monkeypatch):
    monkeypatch.setenv("IVR_SPEECH_LANGUAGES", '{"en-US": "en-US"}')
    keys_only(main_menu(workdir, "zh-CN"))
    english = main_menu(workdir, "en-US")
    assert english.get("input") == "dtmf speech" and english.get("language") == "en-US"


@pytest.mark.usefixtures("clock")
def test_no_speech_languages_keep_every_main_menu_to_keys(workdir):
    for lang in LANG_KEY:
        keys_only(main_menu(workdir, lang, SPEECH_LANGUAGES={}))


@pytest.mark.usefixtures("clock")
def test_a_menu_that_cannot_listen_does_not_invite_the_caller_to_speak(workdir, monkeypatch):
    """A language without a recogniser gets the main menu by keys only, and no
    invitation to speak (speech_intro); the one with a recogniser still gets it."""
    monkeypatch.setenv("IVR_SPEECH_LANGUAGES", '{"en-US": "en-US"}')
    mandarin = main_menu(workdir, "zh-CN")
    keys_only(mandarin)
    assert said(mandarin) and not any("请简单说出" in w for w in said(mandarin)), said(mandarin)
    english = said(main_menu(workdir, "en-US"))
    assert any(w.startswith(prompts.load().text("en-US", "speech_intro")[:20]) for w in english), \
        english


@pytest.mark.usefixtures("clock")
def test_speech_languages_naming_no_prompt_language_are_refused(workdir):
    with pytest.raises(ConfigError) as caught:
        main_menu(workdir, "en-US", SPEECH_LANGUAGES={"zh-cn": "cmn-Hans-CN", "en-US": "en-US"})
    message = str(caught.value)
    assert message.startswith("invalid setting: SPEECH_LANGUAGES names 'zh-cn', which has no "
                              "prompt file (the prompt languages: "), message
    assert "zh-CN" in message and "en-US" in message


@pytest.mark.parametrize(("model", "kind"), [("phone_call", "str"), ("experimental_utterances", "str"),
                                             ("phone_call", "dict")])
def test_a_model_that_cannot_hear_a_configured_language_is_refused(model, kind):
    """Twilio's phone_call hears en-US, en-GB, en-AU, fr-FR, fr-CA, ja-JP, ru-RU, es-US, es-ES,
    pt-BR; the experimental ones a longer list without Mandarin (gather docs, speechModel
    table): with the default SPEECH_LANGUAGES the Mandarin menu's Gather (cmn-Hans-CN)
    would fail with warning 13331."""
    setting = model if kind == "str" else {"zh-CN": model, "en-US": model}
    message = read_error({"SPEECH_MODEL": setting, "SPEECH_TIMEOUT": 3})
    named = "SPEECH_MODEL" if kind == "str" else "SPEECH_MODEL['zh-CN']"
    assert f"{named}: Twilio's {model} does not hear cmn-Hans-CN (zh-CN callers; warning 13331)" \
        in message, message
    assert f'{{"en-US": "{model}"}}' in message  # the way out: one model per language
    assert "en-US" not in message.split("e.g.")[0]  # English is heard: only Mandarin named


def test_a_model_for_the_language_it_hears_is_accepted():
    settings = config.read({"DEV": True, "SPEECH_MODEL": {"en-US": "phone_call"},
                            "SPEECH_TIMEOUT": 3})
    assert settings["SPEECH_MODEL"] == {"en-US": "phone_call"}
    assert settings["SPEECH_LANGUAGES"] == {"zh-CN": "cmn-Hans-CN", "en-US": "en-US"}


@pytest.mark.usefixtures("clock")
def test_a_model_per_language_is_rendered_for_that_language_only(workdir, monkeypatch):
    monkeypatch.setenv("IVR_SPEECH_MODEL", '{"en-US": "phone_call"}')
    monkeypatch.setenv("IVR_SPEECH_TIMEOUT", "3")
    english = main_menu(workdir, "en-US")
    assert (english.get("input"), english.get("language")) == ("dtmf speech", "en-US")
    assert english.get("speechModel") == "phone_call" and english.get("speechTimeout") == "3"
    mandarin = main_menu(workdir, "zh-CN")
    assert (mandarin.get("input"), mandarin.get("language")) == ("dtmf speech", "cmn-Hans-CN")
    assert "speechModel" not in mandarin.attrib and mandarin.get("speechTimeout") == "3"


def test_a_model_mapping_naming_no_speech_language_is_refused():
    message = read_error({"SPEECH_MODEL": {"en-us": "phone_call"}, "SPEECH_TIMEOUT": 3})
    assert "en-us" in message
