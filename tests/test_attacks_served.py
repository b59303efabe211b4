"""The lockout and the per-call serialisation against a real ``ivr serve``: several gunicorn
workers (separate processes) share the lockout book and the call state only through the
database, so in-process tests alone cannot show that they hold."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from urllib.parse import urlsplit

from servers import Server, serve

ACCOUNT, PIN = "10000003", "112233"
WRONG = [f"{n:06d}" for n in range(600000, 600100)]
_sids = count(1)


class HTTPCaller:
    """One call over HTTP: signed form POSTs to the URLs the TwiML names."""

    def __init__(self, server: Server, from_number: str = "+8613700000000") -> None:
        self.server, self.from_number = server, from_number
        self.sid = f"CA{next(_sids):08d}{'f' * 24}"
        self.heard: list[str] = []
        self.root: ET.Element | None = None

    def post(self, path: str, **params: str) -> ET.Element:
        data = {"CallSid": self.sid, "From": self.from_number, "To": "+8695188", **params}
        reply = self.server.post(path, data, timeout_s=30)
        assert reply.status == 200, reply.body
        self.root = ET.fromstring(reply.body)
        self.heard += [e.text or "" for e in self.root.iter("Say")]
        return self.root

    @property
    def action(self) -> str:
        assert self.root is not None
        gather = self.root.find("Gather")
        assert gather is not None, ET.tostring(self.root)
        parts = urlsplit(gather.get("action", ""))
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def press(self, *answers: str) -> ET.Element:
        for digits in answers:
            self.post(self.action, Digits=digits)
        assert self.root is not None
        return self.root

    def said(self, fragment: str) -> bool:
        return any(fragment in text for text in self.heard)


def at_pin_prompt(server: Server) -> HTTPCaller:
    """A caller on the fraud line's verification, open at every hour (the server runs on
    the real clock: at night account security is told closed before any PIN is asked)."""
    call = HTTPCaller(server)
    call.post("/voice")
    call.press("2", "3", f"{ACCOUNT}#")
    assert call.said("Please enter your 6-digit phone PIN")
    return call


def pin_checks(tmp_path) -> int:
    with sqlite3.connect(tmp_path / "ivr.db") as db:
        return db.execute("SELECT COUNT(*) FROM pin_attempts WHERE outcome != 'pending'"
                          ).fetchone()[0]


def test_fifty_parallel_wrong_pins_over_several_workers_check_at_most_five(tmp_path):
    with serve(tmp_path, workers=3) as server, ThreadPoolExecutor(max_workers=26) as pool:
        calls = list(pool.map(lambda _: at_pin_prompt(server), range(51)))
        list(pool.map(lambda pair: pair[0].press(pair[1]), zip(calls[:50], WRONG, strict=False)))
        assert pin_checks(tmp_path) <= 5
        assert sum(c.said("The account number or PIN is not correct") for c in calls[:50]) <= 5
        assert all(c.said("locked for") for c in calls[:50]
                   if not c.said("The account number or PIN is not correct"))
        calls[50].press(PIN)
        assert not calls[50].said("you are verified")
        assert calls[50].said("Phone verification is locked for 30 minutes")


def test_twenty_parallel_requests_on_one_call_over_several_workers_take_one_step(tmp_path):
    with serve(tmp_path, workers=3) as server:
        call = at_pin_prompt(server)
        action = call.action

        def guess(pin: str) -> ET.Element:
            other = HTTPCaller(server)
            other.sid = call.sid
            return other.post(action, Digits=pin)

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(guess, WRONG[:20]))
        assert len(answers) == 20  # every one answered with TwiML
        assert pin_checks(tmp_path) == 1
        with sqlite3.connect(tmp_path / "ivr.db") as db:
            tries = db.execute("SELECT json_extract(state, '$.pin_tries') FROM calls "
                               "WHERE call_sid=?", (call.sid,)).fetchone()[0]
        assert tries == 1
