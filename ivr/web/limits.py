"""Request-size limit: a body over ``MAX_CONTENT_LENGTH`` gets 413 before it is read.

Twilio's webhooks are a few KB of form fields; nothing this app serves takes a large
body, so a big one is a flood. An app-level ``before_request`` runs before any view or
blueprint hook touches the body: a declared ``Content-Length`` over the limit is refused
unread; a chunked body (no length to check) is read here, to at most one byte past the
limit, and handed on whole. Werkzeug's own stream limit (Flask's ``MAX_CONTENT_LENGTH``)
bounds the read too, but gives no 413 for a form: the parser stops at the limit and
parses the first 64 KiB as if they were the whole body. Every 413 carries
``Connection: close``:
the rest of the body is never read, so the connection cannot be reused (``ivr.web.server``
makes gunicorn honour that header instead of draining the body for keep-alive).

Only the size of requests; which clients may hold a worker thread, and for how long, is
``ivr.web.server``'s business.
"""

from __future__ import annotations

import io
import logging

from flask import Flask, Response, abort, current_app, request

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Refuse bodies over ``MAX_CONTENT_LENGTH`` (checked by ``ivr.config``) with 413."""
    app.before_request(refuse_large_body)
    app.after_request(close_after_413)


def refuse_large_body() -> None:
    """``before_request``: 413 for a body over the limit; a declared one is not read."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    declared = request.content_length
    if declared is not None and declared > limit:
        log.warning("refused a %d-byte body to %s (limit %d)", declared, request.path, limit)
        abort(413)
    if declared is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        environ = request.environ
        body = environ["wsgi.input"].read(limit + 1) if "wsgi.input_terminated" in environ \
            else b""  # a server that does not end chunked input: Werkzeug reads none of it
        if len(body) > limit:
            log.warning("refused a chunked body over %d bytes to %s", limit, request.path)
            abort(413)
        environ["wsgi.input"] = io.BytesIO(body)  # what the views read, whole


def close_after_413(response: Response) -> Response:
    """``after_request``: a refused body is still on the wire, so the connection ends here."""
    if response.status_code == 413:
        response.headers["Connection"] = "close"
    return response
