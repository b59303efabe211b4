"""The app behind ``ivr.web.asgi.Buffered``, as ``ivr serve`` runs it: the WSGI environ it
is given carries the request's target as the client sent it (``RAW_URI``), which the
signature check signs, as gunicorn's own WSGI workers gave it before issue 21.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote, urlencode

from conftest import TOKEN
from twilio.request_validator import RequestValidator

from ivr import create_app
from ivr.web.asgi import Buffered


def served(app: Any, method: str, target: str, body: bytes = b"",
           headers: tuple[tuple[bytes, bytes], ...] = ()) -> tuple[int, bytes]:
    """One request through ``Buffered`` as gunicorn's asgi worker hands it over: the
    status and the body of the answer."""
    path, _, query = target.partition("?")
    scope = {"type": "http", "http_version": "1.1", "method": method, "scheme": "http",
             "path": unquote(path), "raw_path": path.encode("latin-1"),
             "query_string": query.encode("latin-1"), "root_path": "",
             "headers": [(b"host", b"ivr.example"), (b"content-length", str(len(body)).encode()),
                         *headers],
             "server": ("ivr.example", 80), "client": ("127.0.0.1", 50000)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    adapter = Buffered(app, threads=1, max_body=64 * 1024, deadline_s=5)
    try:
        asyncio.run(adapter(scope, receive, send))
    finally:
        adapter.pool.shutdown()
    return sent[0]["status"], sent[1]["body"]


def echo_raw_uri(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ.get("RAW_URI", "(none)").encode("latin-1")]


def test_the_target_reaches_the_app_as_sent() -> None:
    assert served(echo_raw_uri, "GET", "/voice/step/caf%c3%a9?t=2&x=%7e") == \
        (200, b"/voice/step/caf%c3%a9?t=2&x=%7e")
    assert served(echo_raw_uri, "GET", "/voice") == (200, b"/voice")


def test_a_webhook_signed_over_its_url_as_sent_is_accepted(settings: dict[str, Any]) -> None:
    """Twilio signs the URL it requests, its percent-encoding as it is: lower-case hex is
    not made upper-case (nor ``~`` encoded) before the signature is checked."""
    app = create_app(settings)
    params = {"CallSid": "CA" + "0" * 32, "From": "+8613700000000", "To": "+8695188",
              "Digits": "1"}
    body = urlencode(params).encode()
    for target in ("/voice/step/m%c3%a9nu?t=2", "/voice/step/language?t=2&x=%7e"):
        signature = RequestValidator(TOKEN).compute_signature(
            f"http://ivr.example{target}", params)
        headers = ((b"content-type", b"application/x-www-form-urlencoded"),
                   (b"x-twilio-signature", signature.encode()))
        status, answer = served(app, "POST", target, body, headers)
        assert status == 200, target
        assert answer.startswith(b"<?xml"), target
        forged = ((b"content-type", b"application/x-www-form-urlencoded"),
                  (b"x-twilio-signature", b"A" + signature.encode()[1:]))
        assert served(app, "POST", target, body, forged)[0] == 403
