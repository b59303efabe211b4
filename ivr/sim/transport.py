"""How webhooks reach the app: in-process through Flask's test client, or over HTTP.

Like httpx's ``MockTransport``, only the network is swapped: the request, its signature
and the app's code are the same either way. Each call opens its own ``Session`` because
Twilio keeps the cookies an app sets for the length of one call.
"""

from __future__ import annotations

import http.cookiejar
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from twilio.request_validator import (
    HMAC_SHA1,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
)

from ivr.sim.errors import TransportError

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

#: what Twilio's webhook client sends; apps sometimes log it
USER_AGENT = "TwilioProxy/1.1 (ivr-sim)"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str  # for GET the params are already in the query string
    params: Mapping[str, str]  # the form body of a POST; empty for GET
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content_type: str
    body: bytes
    location: str | None = None


class Session(Protocol):
    def send(self, request: Request) -> Reply: ...


class Transport(Protocol):
    def session(self) -> Session:
        """A connection for one call."""
        ...


def signed(
    method: str, url: str, params: Mapping[str, str], token: str, algorithm: str = HMAC_SHA1
) -> Request:
    """A webhook request signed as Twilio signs it: POST signs URL + sorted form params,
    GET puts the params in the query string and signs the full URL alone."""
    method = method.upper()
    if method == "GET":
        sep = "&" if urlsplit(url).query else "?"
        url = f"{url}{sep}{urlencode(params)}" if params else url
        params = {}
    headers = {
        "X-Twilio-Signature": RequestValidator(token).compute_signature(url, params, algorithm),
        "User-Agent": USER_AGENT,
    }
    if algorithm != HMAC_SHA1:
        headers[SIGNATURE_SETTINGS_HEADER] = f"key=ivr-sim,algorithm={algorithm}"
    return Request(method, url, dict(params), headers)


def shown(url: str) -> str:
    """A request URL fit for an error message: a GET carries the caller's input in its
    query string, which may be a PIN, so its ``Digits`` and ``SpeechResult`` are hidden."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = [
        (k, "***" if k in _INPUT_PARAMS and v else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe="*")))


_INPUT_PARAMS = frozenset({"Digits", "SpeechResult"})


class FlaskTransport:
    """Webhooks into a Flask app in this process, via ``app.test_client()``.

    :param base_url: the public URL the app is reached at (``IVR_PUBLIC_URL``); request
        URLs under it are served by the app, anything else is unreachable.
    """

    def __init__(self, app: Flask, base_url: str = "http://localhost") -> None:
        self.app = app
        self.base_url = base_url.rstrip("/")

    def session(self) -> Session:
        return _FlaskSession(self)


class _FlaskSession:
    def __init__(self, transport: FlaskTransport) -> None:
        self.transport = transport
        self.client = transport.app.test_client()

    def send(self, request: Request) -> Reply:
        base = self.transport.base_url
        if not (
            request.url == base
            or request.url.startswith(base + "/")
            or request.url.startswith(base + "?")
        ):
            raise TransportError(
                f"{shown(request.url)} is not served in-process (the app is at {base})"
            )
        path = request.url[len(base) :] or "/"
        response = self.client.open(
            path,
            base_url=base,
            method=request.method,
            data=dict(request.params) if request.method == "POST" else None,
            headers=dict(request.headers),
        )
        reply = Reply(
            response.status_code,
            response.headers.get("Content-Type", ""),
            response.get_data(),
            response.headers.get("Location"),
        )
        response.close()
        return reply


class HTTPTransport:
    """Webhooks over HTTP to a running server (``ivr serve``), with the stdlib's urllib."""

    def __init__(self, timeout_s: float = 15.0) -> None:
        # Twilio gives up on a webhook after 15 s
        self.timeout_s = timeout_s

    def session(self) -> Session:
        return _HTTPSession(self.timeout_s)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # the interpreter follows redirects itself, so it can count and sign each request
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class _HTTPSession:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.opener = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def send(self, request: Request) -> Reply:
        data = urlencode(request.params).encode() if request.method == "POST" else None
        try:
            req = urllib.request.Request(
                request.url, data=data, method=request.method, headers=dict(request.headers)
            )
        except ValueError as exc:  # no scheme: a URL a document named, say; Twilio's 11200
            raise TransportError(f"{request.method} {shown(request.url)}: {exc}") from exc
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self.opener.open(req, timeout=self.timeout_s) as response:
                return Reply(
                    response.status, response.headers.get("Content-Type", ""), response.read()
                )
        except urllib.error.HTTPError as exc:
            with exc:
                return Reply(
                    exc.code,
                    exc.headers.get("Content-Type", ""),
                    exc.read(),
                    exc.headers.get("Location"),
                )
        except (urllib.error.URLError, OSError) as exc:
            raise TransportError(f"{request.method} {shown(request.url)}: {exc}") from exc
