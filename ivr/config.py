"""Settings, read once when the app is created, in layers, failing loudly.

defaults (here) -> ``instance/config.py`` -> ``IVR_*`` environment variables (JSON-decoded
where they parse, so ``IVR_PIN_TRIES_PER_CALL=3`` is an int) -> ``TWILIO_AUTH_TOKEN`` ->
the ``test_config`` mapping. Views read ``current_app.config``, never ``os.environ``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from ivr.errors import ConfigError

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent

DEFAULTS: dict[str, Any] = {
    "TWILIO_AUTH_TOKEN": None,
    # the secret for HMAC-SHA256 signatures (X-Twilio-Webhooks-Signature-Settings)
    "TWILIO_WEBHOOK_SHARED_KEY": None,
    "DEV": False,  # explicit dev mode: no token required, signatures not checked without one
    "DEMO": False,  # seed the demo accounts
    "PUBLIC_URL": None,  # e.g. https://ivr.example.com, as Twilio sees us behind a proxy
    "DATABASE": None,  # default: <instance>/ivr.db
    "MENU": None,  # default: the shipped ivr/menus/wallet.yaml
    "PROMPTS_DIR": str(PACKAGE / "data" / "prompts"),
    "AUDIO_DIR": str(REPO / "audio"),
    "VOICES": {
        "zh-CN": {"voice": "Polly.Zhiyu", "language": "cmn-CN"},
        "en-US": {"voice": "Polly.Joanna", "language": "en-US"},
    },
    # keys the lockout book's hashes of accounts and caller IDs; one value for every host.
    # Unset: a random key kept in the file secret_key beside the database (one host only)
    "SECRET_KEY": None,
    "ACCOUNT_DIGITS": 8,  # keypad input of another length is not an account number
    "PIN_TRIES_PER_CALL": 3,
    # scrypt cost of newly stored PINs; lower it only for simulations (ivr replay, bulk)
    "PIN_HASH_N": 2**14,
    "LOCKOUT_FAILURES": 5,
    "LOCKOUT_WINDOW_S": 24 * 3600,
    "LOCKOUT_S": 30 * 60,  # the first lock; each further one before a success doubles
    "LOCKOUT_MAX_S": 24 * 3600,
    "LOCKOUT_HARD_LIMIT": 100,  # consecutive wrong PINs: locked until support clears it
    "LOCKOUT_CALLER_FAILURES": 10,  # wrong PINs from one caller ID over all accounts
    "LOCKOUT_ALERT_FAILURES": 50,  # wrong PINs over all accounts in LOCKOUT_ALERT_WINDOW_S
    "LOCKOUT_ALERT_WINDOW_S": 600,
    "CALLBACKS_PER_DAY": 3,  # new callbacks one phone number may book in 24 hours
    "LOOKUPS_PER_CALL": 3,  # complaint-status lookups in one call
    "STATE_TTL_S": 4 * 3600,
    "MAX_DIGITS": 32,
    "MAX_CONTENT_LENGTH": 64 * 1024,  # Flask's; a larger request body gets 413 (ivr.limits)
    "COMPLAINT_REPLY_HOURS": 48,
    "TRAFFIC": None,  # the centre's week (default: the shipped ivr/data/traffic.yaml)
    # above this expected wait the caller is offered a callback (the articles: ~20 minutes)
    "WAIT_THRESHOLD_S": 20 * 60,
}

_INTS = ("PIN_TRIES_PER_CALL", "LOCKOUT_FAILURES", "LOCKOUT_WINDOW_S", "LOCKOUT_S",
         "LOCKOUT_MAX_S", "LOCKOUT_HARD_LIMIT", "LOCKOUT_CALLER_FAILURES",
         "LOCKOUT_ALERT_FAILURES", "LOCKOUT_ALERT_WINDOW_S", "CALLBACKS_PER_DAY",
         "LOOKUPS_PER_CALL", "ACCOUNT_DIGITS", "STATE_TTL_S", "MAX_DIGITS",
         "COMPLAINT_REPLY_HOURS", "WAIT_THRESHOLD_S", "MAX_CONTENT_LENGTH")
#: secrets are strings whatever they look like: IVR_..._KEY=123456 must not become an int
_SECRETS = ("TWILIO_AUTH_TOKEN", "TWILIO_WEBHOOK_SHARED_KEY", "SECRET_KEY")


def load(app: Flask, test_config: Mapping[str, Any] | None = None) -> None:
    """Fill ``app.config`` from the layers above and check it."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("IVR")
    for name in _SECRETS:  # as typed, never JSON-decoded
        if f"IVR_{name}" in os.environ:
            app.config[name] = os.environ[f"IVR_{name}"]
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
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _kept_secret(Path(app.config["DATABASE"]).parent)


def _kept_secret(folder: Path) -> str:
    """A random secret made once and kept beside the database (mode 0600), for one host."""
    path = folder / "secret_key"
    try:
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        return path.read_text().strip()
    except FileExistsError:  # another worker made it first
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"SECRET_KEY is not set and {path} cannot be kept: {exc}") from exc


def check(config: Mapping[str, Any]) -> None:
    """Refuse to start on settings that would only fail on the first call."""
    problems = []
    for name in _INTS:
        value = config.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            problems.append(f"{name} must be a positive integer, not {value!r}")
    for name in _SECRETS:
        value = config.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(f"{name} must be a string, not {type(value).__name__} {value!r}")
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
