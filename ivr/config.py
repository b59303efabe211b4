"""Settings, read once at start, in layers, failing loudly.

defaults (here) -> ``instance/config.py`` -> ``IVR_*`` environment variables (JSON-decoded
where they parse, so ``IVR_PIN_TRIES_PER_CALL=3`` is an int) -> ``TWILIO_AUTH_TOKEN`` ->
the ``test_config`` mapping. Views read ``current_app.config``, never ``os.environ``.

What the app writes (the database, its ``secret_key``, rendered audio) goes to the working
folder by default (``./instance/ivr.db``, ``./audio``), never beside the code: installed
from a wheel, the code lies in site-packages. What it ships (prompts, menu, the centre's
week) is read from the package.

No Flask here: the commands that only read the settings (``ivr callbacks``, ``ivr
unlock``) call ``read`` without loading the web stack.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import traceback
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.audio import DEFAULT_AUDIO_DIR
from ivr.errors import ConfigError, close_match
from ivr.flow.gather import SPEECH_MODELS, hears, known_model
from ivr.records.database import SQLITE_URL, is_postgres, shown

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
#: the working folder's ``instance/``: ``config.py``, and by default the database
INSTANCE_DIR = Path("instance")
PREFIX = "IVR_"

DEFAULTS: dict[str, Any] = {
    "TWILIO_AUTH_TOKEN": None,
    # the secret for HMAC-SHA256 signatures (X-Twilio-Webhooks-Signature-Settings)
    "TWILIO_WEBHOOK_SHARED_KEY": None,
    "DEV": False,  # explicit dev mode: no token required, signatures not checked without one
    "DEMO": False,  # seed the demo accounts
    "PUBLIC_URL": None,  # e.g. https://ivr.example.com, as Twilio sees us behind a proxy
    "DATABASE": None,  # a SQLite file, or postgresql://…; default: ./instance/ivr.db
    # a process's PostgreSQL connections at most (its threads share them); unused by SQLite
    "DATABASE_POOL": 8,
    "MENU": None,  # default: the shipped ivr/menus/wallet.yaml
    # an A/B trial: this share (0 to 1) of new calls, chosen by CallSid, run on MENU_B
    "MENU_B": None,
    "MENU_B_SHARE": None,
    "PROMPTS_DIR": str(PACKAGE / "data" / "prompts"),
    "AUDIO_DIR": None,  # default: ./audio
    "VOICES": {
        "zh-CN": {"voice": "Polly.Zhiyu", "language": "cmn-CN"},
        "en-US": {"voice": "Polly.Joanna", "language": "en-US"},
    },
    # speech menus: Gather's recognition language for each prompt language (its tags are
    # not <Say>'s: Mandarin in China is cmn-Hans-CN there, cmn-CN here); a language left
    # out takes keys only
    "SPEECH_LANGUAGES": {"zh-CN": "cmn-Hans-CN", "en-US": "en-US"},
    # Gather's speechModel; None lets Twilio choose (and fail over between providers)
    "SPEECH_MODEL": None,
    # seconds of silence that end speech, or "auto" (the first pause); a SPEECH_MODEL
    # needs seconds (Twilio warning 13335)
    "SPEECH_TIMEOUT": "auto",
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
    "MAX_CONTENT_LENGTH": 64 * 1024,  # Flask's; a larger request body gets 413 (ivr.web.limits)
    "COMPLAINT_REPLY_HOURS": 48,
    # a caller whose number called this many hours back about a need that went to a queue
    # or a ticket is offered the way back to it after the language (0: never)
    "RETURNING_HOURS": 72,
    "TRAFFIC": None,  # the centre's week (default: the shipped ivr/data/traffic.yaml)
    # above this expected wait the caller is offered a callback (the articles: ~20 minutes)
    "WAIT_THRESHOLD_S": 20 * 60,
    # console log-ins one worker process checks at once (each an scrypt hash); more get
    # 429, unhashed, so a flood of log-ins never takes the CPU the webhooks need
    "LOGINS_AT_ONCE": 2,
    # the reverse proxies in front that append the client's address to X-Forwarded-For:
    # the console's log-in throttle counts the address they saw (0: the connecting one, and
    # the header, which a client can write, is never read)
    "TRUSTED_PROXIES": 0,
    # gunicorn's access log: false (off; the proxy in front keeps one), true (stdout) or a
    # file. Off by default: formatting it cost 7.5 % of a webhook's CPU
    "ACCESS_LOG": False,
    # after an agent hangs up, the caller is asked "how satisfied were you, 1 to 5"
    # (CSAT) and may leave a recorded comment of up to CSAT_COMMENT_S seconds
    "CSAT": True,
    "CSAT_COMMENT": True,
    "CSAT_COMMENT_S": 60,
    # SMS follow-ups (ivr.web.sender): Twilio's REST API with the account SID and either
    # the Auth Token above or an API key and its secret; sent from a number or a Messaging
    # Service. Without them the messages wait in the outbox (ivr sms list)
    "TWILIO_ACCOUNT_SID": None,
    "TWILIO_API_KEY": None,
    "TWILIO_API_SECRET": None,
    "SMS_FROM": None,  # the sending number, E.164
    "SMS_MESSAGING_SERVICE_SID": None,  # or a Messaging Service (MG…), which picks one
    "SMS_API_URL": None,  # Twilio's REST API (default https://api.twilio.com); tests: a fake
    "SMS_PER_DAY": 3,  # follow-ups one number may be sent in 24 hours
    "SMS_RETRY_S": 60,  # the first retry's wait; each further one doubles, up to an hour
    "SMS_GIVE_UP_S": 24 * 3600,  # a message not sent within this long is given up
    "SMS_SENDER": True,  # ivr serve sends the outbox in the background (one host at a time)
}

#: settings whose defaults live with the module that uses them (``ivr.audio.serve``)
_DEFAULTED_ELSEWHERE = ("AUDIO_MAX_AGE",)
#: ``IVR_*`` variables that are options of one command, not settings of the app
_COMMAND_VARIABLES = ("IVR_AUDIO_TARGET_DBFS",)
SETTINGS = (*DEFAULTS, *_DEFAULTED_ELSEWHERE)

_INTS = ("PIN_TRIES_PER_CALL", "LOCKOUT_FAILURES", "LOCKOUT_WINDOW_S", "LOCKOUT_S",
         "LOCKOUT_MAX_S", "LOCKOUT_HARD_LIMIT", "LOCKOUT_CALLER_FAILURES",
         "LOCKOUT_ALERT_FAILURES", "LOCKOUT_ALERT_WINDOW_S", "CALLBACKS_PER_DAY",
         "LOOKUPS_PER_CALL", "ACCOUNT_DIGITS", "STATE_TTL_S", "MAX_DIGITS",
         "COMPLAINT_REPLY_HOURS", "WAIT_THRESHOLD_S", "MAX_CONTENT_LENGTH", "DATABASE_POOL",
         "LOGINS_AT_ONCE", "CSAT_COMMENT_S", "SMS_PER_DAY", "SMS_RETRY_S", "SMS_GIVE_UP_S")
#: secrets are strings whatever they look like: IVR_..._KEY=123456 must not become an int
_SECRETS = ("TWILIO_AUTH_TOKEN", "TWILIO_WEBHOOK_SHARED_KEY", "SECRET_KEY", "TWILIO_API_SECRET",
            # not secrets, but strings as typed too: an SID or +8613800138000 is no number
            "TWILIO_ACCOUNT_SID", "TWILIO_API_KEY", "SMS_FROM", "SMS_MESSAGING_SERVICE_SID",
            "SMS_API_URL")
_FLAGS = ("DEV", "DEMO", "CSAT", "CSAT_COMMENT", "SMS_SENDER")
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")

_warned: set[str] = set()  # unknown variables already warned about by this process


def load(app: Flask, test_config: Mapping[str, Any] | None = None) -> None:
    """Fill ``app.config`` from the layers above and check it."""
    app.config.update(read(test_config))


def read(test_config: Mapping[str, Any] | None = None, *, token_required: bool = True,
         make_key: bool = True) -> dict[str, Any]:
    """The settings from every layer, checked; raise ConfigError listing every problem.

    A problem names the setting as the user wrote it: ``IVR_LOCKOUT_S`` for the
    environment, ``LOCKOUT_S in instance/config.py`` for the file.

    A command that reads the settings without answering calls requires no Twilio token
    (``token_required=False``) and makes no key on disk (``make_key=False``: a SECRET_KEY
    not given stays None; ``kept_key`` reads the one a server keeps). The other checks are
    the same, so ``ivr lint`` refuses what ``ivr serve`` refuses.
    """
    settings = dict(DEFAULTS)
    origin: dict[str, str] = {}  # setting -> where its value came from, as written there
    path = INSTANCE_DIR / "config.py"
    for name, value in _from_file(path).items():
        settings[name], origin[name] = value, f"{name} in {path}"
    warn_unknown_file(origin, path)
    warn_unknown_env()
    for key, text in os.environ.items():
        name = key.removeprefix(PREFIX)
        if key.startswith(PREFIX) and name in SETTINGS:
            settings[name] = text if name in _SECRETS else _decoded(text)  # secrets as typed
            origin[name] = key
    for name in ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID"):  # Twilio's own variables
        if os.environ.get(name) and not settings.get(name):
            settings[name], origin[name] = os.environ[name], name
    for name, value in (test_config or {}).items():
        if name in _FLAGS and name in origin and not isinstance(_flag(settings[name]), bool):
            continue  # a wrong IVR_DEV stays for check to name, even under ivr serve --dev
        settings[name] = value
        origin.pop(name, None)
    for name in (*_FLAGS, "ACCESS_LOG"):
        settings[name] = _flag(settings.get(name))
    settings["DATABASE"] = _database(settings["DATABASE"])
    if not settings["AUDIO_DIR"]:
        settings["AUDIO_DIR"] = str(DEFAULT_AUDIO_DIR.resolve())
    check(settings, origin, token_required=token_required)
    # whether a layer gave the key (``ivr serve`` requires one), before one is kept on disk
    settings["SECRET_KEY_GIVEN"] = bool(settings["SECRET_KEY"])
    if not settings["SECRET_KEY"]:
        if not make_key:
            settings["SECRET_KEY"] = None
        elif is_postgres(settings["DATABASE"]):  # no folder every host shares to keep one in
            raise ConfigError(NO_POSTGRES_KEY)
        else:
            settings["SECRET_KEY"] = _kept_secret(Path(settings["DATABASE"]).parent)
    return settings


NO_POSTGRES_KEY = ("SECRET_KEY must be set with a PostgreSQL database: every host sharing it "
                   "needs the same key (IVR_SECRET_KEY)")


def _flag(value: Any) -> Any:
    """A flag as a bool where it is one: ``IVR_DEV=1`` reads as the integer 1."""
    return bool(value) if value in (0, 1) else value


def warn_unknown_file(names: Iterable[str], path: Path) -> list[str]:
    """Warn once about each name ``path`` defines that is no setting but close to one (a
    typo is otherwise silently ignored, as a mistyped ``IVR_*`` variable is warned
    about); return them. A name close to none may be Flask's own (``SESSION_COOKIE_NAME``)."""
    mistyped = []
    for name in sorted(set(names) - set(SETTINGS)):
        close = close_match(name, SETTINGS, 0.6)
        if close:
            mistyped.append(name)
            said = f"{name} in {path}"
            if said not in _warned:
                _warned.add(said)
                log.warning("%s is not a setting and is ignored (did you mean %s?)", said,
                            close)
    return mistyped


def warn_unknown_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """Warn once about each ``IVR_*`` variable that is no setting (a typo is otherwise
    silently ignored), naming the closest setting; return the unknown names."""
    environ = os.environ if environ is None else environ
    known = [PREFIX + name for name in SETTINGS] + list(_COMMAND_VARIABLES)
    unknown = sorted(key for key in environ if key.startswith(PREFIX) and key not in known)
    for key in unknown:
        if key not in _warned:
            _warned.add(key)
            close = close_match(key, known, 0.6)
            log.warning("%s is not a setting and is ignored%s", key,
                        f" (did you mean {close}?)" if close else "")
    return unknown


def _decoded(text: str) -> Any:
    """An environment value as JSON where it parses (``3``, ``true``, ``{...}``), else text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _from_file(path: Path) -> dict[str, Any]:
    """The upper-case names ``path`` defines, as Flask's ``from_pyfile`` reads them; {} when
    there is no such file. Any error in it is one line naming the file and the line."""
    try:
        source = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    module = types.ModuleType("config")
    module.__file__ = str(path)
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)
    except SyntaxError as exc:
        raise ConfigError(f"{path}, line {exc.lineno}: SyntaxError: {exc.msg}") from None
    except Exception as exc:
        lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__)
                 if frame.filename == str(path)]
        where = f", line {lines[-1]}" if lines else ""
        raise ConfigError(f"{path}{where}: {type(exc).__name__}: {exc}") from None
    return {name: value for name, value in vars(module).items() if name.isupper()}


def _database(value: Any) -> Any:
    """The database setting as a location: the default, ``sqlite:///path`` unwrapped.

    A value ``database_location`` refuses is left as it is, for ``check`` to name.
    """
    if not value:
        return str((INSTANCE_DIR / "ivr.db").resolve())
    try:
        return database_location(value)
    except ValueError:
        return value


def database_location(value: Any) -> str:
    """The database a setting or a command's ``--db`` names: a ``postgresql://`` URL as
    it is, or a SQLite file: a path, or ``sqlite:///relative.db`` /
    ``sqlite:////absolute.db`` unwrapped. One reading for both, so the option and
    ``IVR_DATABASE`` accept and refuse the same values.

    ``ValueError`` says why not (the message reads after the name of the setting): a URL
    of another database (``mysql://``) would otherwise be taken for a path and make
    a folder ``mysql:``; an in-memory database is not shared by the workers.
    """
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise ValueError(f"must be a SQLite file path or a postgresql:// URL, not {value!r}")
    text: str = value
    if is_postgres(text):
        return text
    url = _URL.match(text)
    if url and text.startswith(SQLITE_URL):
        text = text.removeprefix(SQLITE_URL).split("?", 1)[0] or text
        url = _URL.match(text)
    if url:
        said = shown(text)  # no password in a log
        if url.group(1).lower() == "sqlite":
            raise ValueError(f"must be a file: {SQLITE_URL}relative/path.db or "
                             f"{SQLITE_URL}/absolute/path.db, not {said!r}")
        raise ValueError(f"must be a SQLite file (a path or {SQLITE_URL}path) or a "
                         f"postgresql:// URL: {url.group(1)} databases are not supported, "
                         f"not {said!r}")
    if text in ("", ":memory:") or text.startswith("file:"):
        raise ValueError(f"must be a SQLite file path (a database every worker shares), "
                         f"not {text!r}")
    return text


def kept_key(database: str) -> str | None:
    """The random SECRET_KEY a server without one keeps beside this SQLite database, if
    one did (never made here: a command that only reads keeps no file behind)."""
    path = Path(database).parent / "secret_key"
    try:
        return path.read_text().strip() if path.is_file() else None
    except OSError as exc:
        raise ConfigError(f"SECRET_KEY is not set and {path} cannot be read: {exc}") from exc


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


def check(config: Mapping[str, Any], origin: Mapping[str, str] | None = None, *,
          token_required: bool = True) -> None:
    """Refuse to start on settings that would only fail on the first call.

    ``origin`` names each setting as the user wrote it (``IVR_LOCKOUT_S``), for the message.
    ``token_required=False``: a command that answers no call needs no Twilio token.
    """
    def named(name: str) -> str:
        return (origin or {}).get(name, name)

    problems = []
    for name in _INTS:
        value = config.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            problems.append(f"{named(name)} must be a positive integer, not {value!r}")
    for name in _SECRETS:
        value = config.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(f"{named(name)} must be a string, not {type(value).__name__} "
                            f"{value!r}")
    for name in _FLAGS:
        if not isinstance(config.get(name), bool):
            problems.append(f"{named(name)} must be true or false, not {config.get(name)!r}")
    problems += _sms_problems(config, named)
    returning = config.get("RETURNING_HOURS")
    if not isinstance(returning, int) or isinstance(returning, bool) or returning < 0:
        problems.append(f"{named('RETURNING_HOURS')} must be a number of hours (0 or more; 0 "
                        f"offers no caller the way back to their last need), not {returning!r}")
    proxies = config.get("TRUSTED_PROXIES")
    if not isinstance(proxies, int) or isinstance(proxies, bool) or proxies < 0:
        problems.append(f"{named('TRUSTED_PROXIES')} must be the number of reverse proxies in "
                        f"front (0 or more), not {proxies!r}")
    access_log = config.get("ACCESS_LOG")
    if not isinstance(access_log, bool) and not (isinstance(access_log, str) and access_log):
        problems.append(f"{named('ACCESS_LOG')} must be true, false or a file, "
                        f"not {access_log!r}")
    try:
        database_location(config.get("DATABASE"))
    except ValueError as exc:
        problems.append(f"{named('DATABASE')} {exc}")
    cost = config.get("PIN_HASH_N")
    if not isinstance(cost, int) or cost < 2 or cost & (cost - 1):
        problems.append(f"{named('PIN_HASH_N')} must be a power of 2, not {cost!r}")
    if token_required and not config.get("TWILIO_AUTH_TOKEN") and not config.get("DEV"):
        problems.append("TWILIO_AUTH_TOKEN is required (or start in dev mode: ivr serve --dev)")
    url = config.get("PUBLIC_URL")
    if url and not str(url).startswith(("http://", "https://")):
        problems.append(f"{named('PUBLIC_URL')} must start with http:// or https://, "
                        f"not {url!r}")
    share = config.get("MENU_B_SHARE")
    if config.get("MENU_B"):
        if isinstance(share, bool) or not isinstance(share, (int, float)) or \
                not 0 <= share <= 1:
            problems.append(f"{named('MENU_B_SHARE')} must be the share of calls (0 to 1) that "
                            f"run on {named('MENU_B')}, not {share!r}")
    elif share is not None:
        problems.append(f"{named('MENU_B_SHARE')} is set but {named('MENU_B')} (the second "
                        "tree) is not")
    problems += _speech_problems(config, named)
    voices = config.get("VOICES")
    if not isinstance(voices, dict) or not all(
            isinstance(v, dict) and "voice" in v and "language" in v for v in voices.values()):
        problems.append(f"{named('VOICES')} must map each language to {{voice, language}}")
    if len(problems) == 1:  # one mistake, one line
        raise ConfigError(f"invalid setting: {problems[0]}")
    if problems:
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems))


_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")  # BCP-47's shape


def _sms_problems(config: Mapping[str, Any], named: Any) -> list[str]:
    """The SMS settings: a sending number in E.164, and a REST URL over http(s)."""
    problems = []
    sender = config.get("SMS_FROM")
    if isinstance(sender, str) and not re.fullmatch(r"\+[1-9][0-9]{2,14}", sender):
        problems.append(f"{named('SMS_FROM')} must be the sending number in E.164 (a '+' and "
                        f"3 to 15 digits), not {sender!r}")
    url = config.get("SMS_API_URL")
    if isinstance(url, str) and not url.startswith(("http://", "https://")):
        problems.append(f"{named('SMS_API_URL')} must start with http:// or https://, "
                        f"not {url!r}")
    return problems


def _speech_problems(config: Mapping[str, Any], named: Any) -> list[str]:
    """SPEECH_LANGUAGES, SPEECH_MODEL (one model, or one per prompt language) and
    SPEECH_TIMEOUT, as Twilio would take them."""
    problems = []
    languages = config.get("SPEECH_LANGUAGES")
    if not isinstance(languages, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and _LANGUAGE_TAG.fullmatch(v)
            for k, v in languages.items()):
        problems.append(f"{named('SPEECH_LANGUAGES')} must map each prompt language to "
                        f"Gather's language tag (zh-CN: cmn-Hans-CN), not {languages!r}")
        languages = {}
    raw = config.get("SPEECH_MODEL")
    if raw is not None and not isinstance(raw, (str, dict)):
        problems.append(f"{named('SPEECH_MODEL')} must be a model name or a mapping of prompt "
                        f"language to model, not {raw!r}")
    # one model for every language (checked once), or one per language
    models: dict[str | None, Any] = dict(raw) if isinstance(raw, dict) else \
        {None: raw} if isinstance(raw, str) else {}
    for lang, model in models.items():
        where = named("SPEECH_MODEL") + (f"[{lang!r}]" if lang is not None else "")
        if lang is not None and lang not in languages and languages:
            problems.append(f"{where} names no language of {named('SPEECH_LANGUAGES')} "
                            f"({', '.join(languages)}): it would never be used")
            continue
        if model is None:
            continue
        if not (isinstance(model, str) and known_model(model)):
            problems.append(f"{where} must be one of Twilio's speech models "
                            f"({', '.join(SPEECH_MODELS)} ...) or unset, not {model!r}")
            continue
        deaf = [k for k in ([lang] if lang is not None else languages)
                if k in languages and not hears(model, languages[k])]
        for k in deaf:
            problems.append(f"{where}: Twilio's {model} does not hear {languages[k]} "
                            f"({k} callers; warning 13331): leave it unset, or give one "
                            f"model per language, e.g. {{\"en-US\": \"{model}\"}}")
            break
    timeout = config.get("SPEECH_TIMEOUT")
    chosen = any(models.values())
    if timeout != "auto" and (isinstance(timeout, bool) or not isinstance(timeout, int)
                              or timeout <= 0):
        problems.append(f"{named('SPEECH_TIMEOUT')} must be \"auto\" or a whole number of "
                        f"seconds, not {timeout!r}")
    elif timeout == "auto" and chosen:
        problems.append(f"{named('SPEECH_TIMEOUT')} must be a number of seconds when "
                        f"{named('SPEECH_MODEL')} is set: Twilio refuses \"auto\" with a "
                        "speech model (warning 13335)")
    return problems
