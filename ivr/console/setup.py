"""The console put on the app: its blueprint, its keys, its cookie and CSRF protection.

Its own authentication path: a log-in form, a signed session cookie, CSRF tokens on every
form (Flask-WTF). The Twilio webhooks (``/voice``, ``/agent``) are signed by Twilio instead
and exempt from CSRF; neither path accepts the other's credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from itsdangerous import URLSafeTimedSerializer

from ivr.console import auth, notices, pages, planning  # noqa: F401  (the views register on the blueprint)
from ivr.console.site import bp
from ivr.console.throttle import derived_key

csrf = CSRFProtect()


class _DerivedKeySessions(SecureCookieSessionInterface):
    """Flask's signed cookie session, signed with the console's own derived key, and only
    on the console's pages: Twilio's webhooks carry no console cookie, and opening a
    session (a serializer made, the cookie looked for) was a tenth of a webhook step."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.path.startswith(bp.url_prefix or "/"):
            return self.null_session_class()
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = app.extensions["ivr_console"]["session_key"]
        return URLSafeTimedSerializer(key, salt=self.salt, serializer=self.serializer,
                                      signer_kwargs={"key_derivation": self.key_derivation,
                                                     "digest_method": self.digest_method})


def init_app(app: Flask, exempt: Iterable[Blueprint] = ()) -> None:
    """Register the console; ``exempt``: the blueprints signed by Twilio, which sends no
    CSRF token (the webhooks), exempted from the console's CSRF protection."""
    secret = str(app.config["SECRET_KEY"])
    keys: dict[str, Any] = {purpose: derived_key(secret, purpose)
                            for purpose in ("session_key", "throttle_key", "csrf_key")}
    # the password checks this process runs at once (``auth.login``; one app per process)
    keys["hashing"] = threading.BoundedSemaphore(app.config["LOGINS_AT_ONCE"])
    app.extensions["ivr_console"] = keys
    app.session_interface = _DerivedKeySessions()
    app.config.update(WTF_CSRF_SECRET_KEY=keys["csrf_key"], WTF_CSRF_TIME_LIMIT=None,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=12))
    csrf.init_app(app)
    for blueprint in exempt:
        csrf.exempt(blueprint)
    app.register_blueprint(bp)
