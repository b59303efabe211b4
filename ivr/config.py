"""Settings, read once when the app is created, in layers, failing loudly.

defaults (here) -> ``instance/config.py`` -> ``IVR_*`` environment variables (JSON-decoded
where they parse, so ``IVR_PIN_TRIES_PER_CALL=3`` is an int) -> ``TWILIO_AUTH_TOKEN`` ->
the ``test_config`` mapping. Views read ``current_app.config``, never ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from ivr.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    "TWILIO_AUTH_TOKEN": None,
    # the secret for HMAC-SHA256 signatures (X-Twilio-Webhooks-Signature-Settings)
    "TWILIO_WEBHOOK_SHARED_KEY": None,
    "DEV": False,  # explicit dev mode: no token required, signatures not checked without one
    "DEMO": False,  # seed the demo accounts
    "PUBLIC_URL": None,  # e.g. https://ivr.example.com, as Twilio sees us behind a proxy
    "DATABASE": None,  # default: <instance>/ivr.db
    "MENU": None,  # default: the shipped ivr/menus/wallet.yaml
    "PROMPTS_DIR": str(REPO / "prompts"),
    "AUDIO_DIR": str(REPO / "audio"),
    "VOICES": {
        "zh-CN": {"voice": "Polly.Zhiyu", "language": "cmn-CN"},
        "en-US": {"voice": "Polly.Joanna", "language": "en-US"},
    },
    "PIN_TRIES_PER_CALL": 3,
    # scrypt cost of newly stored PINs; lower it only for simulations (ivr replay, bulk)
    "PIN_HASH_N": 2**14,
    "LOCKOUT_FAILURES": 5,
    "LOCKOUT_WINDOW_S": 24 * 3600,
    "LOCKOUT_S": 30 * 60,
    "STATE_TTL_S": 4 * 3600,
    "MAX_DIGITS": 32,
    "COMPLAINT_REPLY_HOURS": 48,
    "TRAFFIC": None,  # the centre's week (default: the shipped ivr/data/traffic.yaml)
    # above this expected wait the caller is offered a callback (the articles: ~20 minutes)
    "WAIT_THRESHOLD_S": 20 * 60,
}

_INTS = ("PIN_TRIES_PER_CALL", "LOCKOUT_FAILURES", "LOCKOUT_WINDOW_S", "LOCKOUT_S",
         "STATE_TTL_S", "MAX_DIGITS", "COMPLAINT_REPLY_HOURS", "WAIT_THRESHOLD_S")


def load(app: Flask, test_config: Mapping[str, Any] | None = None) -> None:
    """Fill ``app.config`` from the layers above and check it."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("IVR")
    if os.environ.get("TWILIO_AUTH_TOKEN") and not app.config.get("TWILIO_AUTH_TOKEN"):
        app.config["TWILIO_AUTH_TOKEN"] = os.environ["TWILIO_AUTH_TOKEN"]
    if test_config:
        app.config.from_mapping(test_config)
    for name in ("DEV", "DEMO"):  # IVR_DEV=1 reads as the integer 1
        if app.config.get(name) in (0, 1):
            app.config[name] = bool(app.config[name])
    if not app.config["DATABASE"]:
        app.config["DATABASE"] = str(Path(app.instance_path) / "ivr.db")
    check(app.config)


def check(config: Mapping[str, Any]) -> None:
    """Refuse to start on settings that would only fail on the first call."""
    problems = []
    for name in _INTS:
        value = config.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            problems.append(f"{name} must be a positive integer, not {value!r}")
    for name in ("DEV", "DEMO"):
        if not isinstance(config.get(name), bool):
            problems.append(f"{name} must be true or false, not {config.get(name)!r}")
    cost = config.get("PIN_HASH_N")
    if not isinstance(cost, int) or cost < 2 or cost & (cost - 1):
        problems.append(f"PIN_HASH_N must be a power of 2, not {cost!r}")
    if not config.get("TWILIO_AUTH_TOKEN") and not config.get("DEV"):
        problems.append("TWILIO_AUTH_TOKEN is required (or start in dev mode: ivr serve --dev)")
    url = config.get("PUBLIC_URL")
    if url and not str(url).startswith(("http://", "https://")):
        problems.append(f"PUBLIC_URL must start with http:// or https://, not {url!r}")
    voices = config.get("VOICES")
    if not isinstance(voices, dict) or not all(
            isinstance(v, dict) and "voice" in v and "language" in v for v in voices.values()):
        problems.append("VOICES must map each language to {voice, language}")
    if problems:
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems))
