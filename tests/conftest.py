"""Fixtures: a fresh app per test on its own SQLite file, and a signed-webhook caller."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from itertools import count
from typing import Any
from urllib.parse import urlsplit

import freezegun
import pg
import programs
import pytest
from click.testing import CliRunner
from freezegun import freeze_time
from pg import PostgresServer
from twilio.request_validator import RequestValidator

from ivr import create_app

TOKEN = "test-auth-token"
# the PostgreSQL driver and pool keep real time under freeze_time: the pool's own
# scheduler and timeouts would otherwise wait on a clock that never moves
freezegun.configure(extend_ignore_list=["psycopg", "_pytest.timing"])
_sids = count(1)


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_backends`` run once on SQLite and once on PostgreSQL."""
    if metafunc.definition.get_closest_marker("both_backends") and \
            "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session", name="postgres_server")
def _postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL for the session (tests/pg.py); skipped, with the reason
    and how to install it, where the system has none."""
    why = pg.missing()
    if why:
        pytest.skip(why)
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="backend")
def _backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(name="database")
def _database(backend: str, tmp_path: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """The test's own database: a SQLite file, or a fresh PostgreSQL database (dropped
    after the test)."""
    if backend == "sqlite":
        yield str(tmp_path / "ivr.db")
        return
    server = request.getfixturevalue("postgres_server")
    url = str(server.fresh_database())
    yield url
    server.drop_database(url)


@pytest.fixture(name="settings")
def _settings(tmp_path: Any, database: str) -> dict[str, Any]:
    # no rendered audio: every prompt is a <Say>, whatever the checkout's audio/ holds; PINs
    # hashed at a token scrypt cost (the production cost is the default, tests/test_settings
    # checks it): the calls check the same hashes, 20 times sooner
    return {"TESTING": True, "TWILIO_AUTH_TOKEN": TOKEN, "DEMO": True, "SECRET_KEY": "test-secret",
            "DATABASE": database, "AUDIO_DIR": str(tmp_path / "audio"), "PIN_HASH_N": 16}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line for each thing missing here (PostgreSQL, a program of tests/programs.py)
    whose tests were skipped, saying how to have them."""
    skipped = [str(r.longrepr) for r in terminalreporter.stats.get("skipped", [])]
    for why in filter(None, [pg.missing(), *map(programs.missing, programs.PROGRAMS)]):
        count = sum(why in reason for reason in skipped)
        if count:
            terminalreporter.write_line(f"{why} ({count} tests)")


#: a quiet hour: Wednesday 25 November 2026, 09:30 in Shanghai, lines open, short waits
QUIET = "2026-11-25 01:30:00"
#: when the README's example calls were made: Wednesday 2 December 2026, 09:30 in Shanghai
#: (the line open; the demo's top-up, made the day before, is said as 12月1日)
README_MOMENT = "2026-12-02 01:30:00"


@pytest.fixture(name="clock")
def _clock() -> Any:
    """Calls happen at a known moment: waits and opening hours depend on it."""
    with freeze_time(QUIET) as frozen:
        yield frozen


@pytest.fixture(name="app")
def _app(settings: dict[str, Any], clock: Any) -> Any:
    return create_app(settings)


@pytest.fixture(name="client")
def _client(app: Any) -> Any:
    return app.test_client()


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


class Caller:
    """One phone call walked through signed webhooks, the way Twilio drives it."""

    def __init__(self, client: Any, from_number: str = "+8613700000000",
                 base: str = "http://localhost") -> None:
        self.client, self.base = client, base  # base: the URL Twilio signs (IVR_PUBLIC_URL)
        self.sid = f"CA{next(_sids):032d}"
        self.from_number = from_number
        self.heard: list[str] = []
        self.root: ET.Element | None = None

    def send(self, url: str, **params: str) -> Any:
        """A signed POST with Twilio's standard parameters; the raw response."""
        parts = urlsplit(url)
        url = parts.path + (f"?{parts.query}" if parts.query else "")
        data = {"CallSid": self.sid, "From": self.from_number, "To": "+8695188",
                "AccountSid": "AC" + "0" * 32, "CallStatus": "in-progress", **params}
        signature = sign(self.base + url, data)
        return self.client.post(url, data=data, headers={"X-Twilio-Signature": signature})

    def post(self, url: str, **params: str) -> ET.Element:
        response = self.send(url, **params)
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/xml"
        self.root = ET.fromstring(response.data)
        assert self.root.tag == "Response"
        self.heard += [e.text or "" for e in self.root.iter("Say")]
        return self.root

    def start(self) -> ET.Element:
        return self.post("/voice")

    @property
    def action(self) -> str:
        assert self.root is not None
        node = self.root.find("Gather")
        if node is None:
            node = self.root.find("Record")
        assert node is not None, ET.tostring(self.root)
        return node.get("action", "")

    @property
    def at(self) -> str:
        """The node the current Gather or Record answers to (its action URL's last part)."""
        return urlsplit(self.action).path.rsplit("/", 1)[-1]

    @property
    def turn(self) -> str:
        """The turn the current Gather's action URL carries (``t``)."""
        return urlsplit(self.action).query.removeprefix("t=")

    def press(self, digits: str = "") -> ET.Element:
        """Keys for the current Gather; '' is a time-out (actionOnEmptyResult)."""
        return self.post(self.action, Digits=digits)

    def say(self, words: str, confidence: str = "0.92") -> ET.Element:
        """Speak to the current Gather (a speech menu's): Twilio's SpeechResult and its
        Confidence, with no Digits."""
        return self.post(self.action, SpeechResult=words, Confidence=confidence)

    def keys(self, *answers: str) -> ET.Element:
        for answer in answers:
            self.press(answer)
        assert self.root is not None
        return self.root

    def record(self, seconds: int = 12) -> ET.Element:
        return self.post(self.action, RecordingUrl="https://api.twilio.com/rec/RE1",
                         RecordingDuration=str(seconds), Digits="#")

    @property
    def queue(self) -> str | None:
        assert self.root is not None
        node = self.root.find("Enqueue")
        return node.text if node is not None else None

    def said(self, fragment: str) -> bool:
        return any(fragment in text for text in self.heard)


@pytest.fixture(name="caller")
def _caller(client: Any) -> Callable[..., Caller]:
    return lambda from_number="+8613700000000": Caller(client, from_number)


@pytest.fixture(name="target", scope="module")
def _target() -> Iterator[Any]:
    """The hotline as the simulator's sandbox app, one per module; the app's expected
    warnings (lockouts, faults the scenarios provoke) kept out of the output."""
    from ivr.sim import sandbox

    logging.getLogger("ivr").setLevel(logging.ERROR)
    with sandbox() as target:
        yield target
    logging.getLogger("ivr").setLevel(logging.NOTSET)


@pytest.fixture(name="runner")
def _runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(name="quiet_app_logs")
def _quiet_app_logs() -> Iterator[None]:
    """Commands that log expected lockouts and faults, kept out of the output checked."""
    logging.getLogger("ivr").setLevel(logging.ERROR)
    yield
    logging.getLogger("ivr").setLevel(logging.NOTSET)


def signed_app(name: str, token: str) -> Any:
    """A TwiML server of a test's own (the far end the simulator calls): it refuses
    unsigned requests and keeps each request it saw in ``config["SEEN"]``."""
    from flask import Flask, abort, request

    app = Flask(name)
    app.config["SEEN"] = seen = []

    @app.before_request
    def check_signature() -> None:
        signature = request.headers.get("X-Twilio-Signature", "")
        if not RequestValidator(token).validate(request.url, request.form, signature):
            abort(403)
        seen.append((request.method, request.path, dict(request.values)))

    return app


@pytest.fixture(name="workdir")
def _workdir(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A working folder of the test's own, and no IVR_/TWILIO_ variables of the shell."""
    import os

    for name in list(os.environ):
        if name.startswith(("IVR_", "TWILIO_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path
