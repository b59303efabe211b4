"""Check that a webhook really comes from Twilio: ``X-Twilio-Signature`` via the twilio
library's ``RequestValidator``, against the public URL Twilio used (twilio-python #751:
behind a proxy or tunnel the request URL we see is not the one Twilio signed).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from flask import abort, current_app, g, request
from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    RequestValidator,
    compare,
    get_signature_algorithm,
)
from werkzeug.sansio.utils import get_current_url
from werkzeug.urls import iri_to_uri

log = logging.getLogger(__name__)


def public_url() -> str:
    """The URL Twilio requested: ``PUBLIC_URL`` + path and query when set, else ours.

    The path is taken as sent (``RAW_URI``), since Twilio signs the percent-encoded form and
    ``request.url`` is decoded.
    """
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        raw = iri_to_uri(request.full_path.removesuffix("?"))
    base = current_app.config.get("PUBLIC_URL") or host_root()
    return base.rstrip("/") + raw


def host_root() -> str:
    """``request.host_url`` without its slash, made once a request (the signature and the
    document's URLs all start with it), and for each scheme and host once a process:
    werkzeug writes it anew for each request (the host decoded from IDNA, the URL
    requoted), which was a twentieth of a webhook step's CPU."""
    root: str | None = g.get("ivr_host")
    if root is None:
        root = g.ivr_host = _host_root(request.scheme, request.host)
    return root


@lru_cache(maxsize=64)  # the Host header is the client's: a bounded number kept
def _host_root(scheme: str, host: str) -> str:
    """What werkzeug's ``Request.host_url`` is for ``scheme`` and ``host``, no slash."""
    return get_current_url(scheme, host).rstrip("/")


def verify_twilio_signature() -> None:
    """Blueprint ``before_request``: 403 unless the request is signed with our secret.

    The algorithm is the configured one, never the caller's choice: with a shared key
    (Twilio's webhook shared keys replace the Auth Token for signing) only HMAC-SHA256
    with that key is accepted, otherwise only HMAC-SHA1 with the Auth Token. A request
    whose settings header names another algorithm is refused, not downgraded.
    """
    config = current_app.config
    token = config.get("TWILIO_AUTH_TOKEN")
    if not token and config.get("DEV"):
        return
    shared_key = config.get("TWILIO_WEBHOOK_SHARED_KEY")
    algorithm, secret = (HMAC_SHA256, shared_key) if shared_key else (HMAC_SHA1, token)
    asked = get_signature_algorithm(
        request.headers.get("X-Twilio-Webhooks-Signature-Settings", ""))
    params = request.form if request.method == "POST" else {}
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or asked.upper() != algorithm or not _signed(
            RequestValidator(secret), public_url(), params, signature, algorithm):
        log.warning("rejected an unsigned or wrongly signed request to %s", request.path)
        abort(403)


def _signed(validator: RequestValidator, url: str, params: Any, signature: str,
            algorithm: str) -> bool:
    """``validator.validate``, with one signature computed for a request signed as it came.

    ``validate`` signs the URL both with and without its port ("since sig generation on
    back end is inconsistent", twilio-python) and compares both: two HMACs of the whole
    form per request. The URL as it came is one of those two, so a match on it alone is
    what ``validate`` would accept; only a mismatch (or a forgery) pays for the other.
    """
    return compare(validator.compute_signature(url, params, algorithm), signature) or bool(
        validator.validate(url, params, signature, algorithm))
