"""The app factory: config -> load and validate the menu -> blueprints.

An invalid tree or prompt catalog raises ``MenuError`` here, so the app refuses to start
instead of failing on a caller.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr import config, console, logs
from ivr.audio import serve as audio_serve
from ivr.errors import ConfigError, StoreError
from ivr.hotline import Hotline
from ivr.web import agents, limits, sms, webhooks

log = logging.getLogger(__name__)

DEV_REFUSED = (
    "dev mode is set (IVR_DEV, or DEV in instance/config.py), but dev mode accepts unsigned "
    "webhooks and runs only under `ivr serve --dev` (Flask's dev server): unset IVR_DEV, "
    "or start it with `ivr serve --dev`")


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the IVR app; ``test_config`` overrides every other settings layer."""
    # under gunicorn 'ivr:create_app()' nothing else configures logging: lines with their
    # time, one a record (before Flask gives its logger a handler of its own)
    logs.configure_if_unset()
    # the working folder's instance/, as the settings read it: for an installed package
    # Flask's default is <sys.prefix>/var/ivr-instance
    app = Flask(__name__, instance_path=str(config.INSTANCE_DIR.resolve()),
                instance_relative_config=True)
    config.load(app, test_config)
    if app.config["DEV"] and not (test_config or {}).get("DEV"):
        # only a caller that asks for it may have it (``ivr serve --dev``, tests): not a
        # variable left set under gunicorn 'ivr:create_app()' or ``flask --app ivr run``
        raise ConfigError(DEV_REFUSED)
    if app.config["TRUSTED_PROXIES"]:
        # the client's address as the proxies in front saw it (the console's log-in throttle
        # counts it), from as many X-Forwarded-For hops as there are proxies; without
        # proxies the header is never read: a client could write anything there
        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]
    limits.init_app(app)
    app.extensions["ivr"] = Hotline.from_settings(app.config)
    app.extensions["ivr.speech"] = {"languages": app.config["SPEECH_LANGUAGES"],
                                    "model": app.config["SPEECH_MODEL"],
                                    "timeout": app.config["SPEECH_TIMEOUT"]}
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(agents.bp)
    app.register_blueprint(sms.bp)
    # the console's cookie only over https, but for the dev server and tests on http
    app.config["SESSION_COOKIE_SECURE"] = bool((test_config or {}).get(
        "SESSION_COOKIE_SECURE", not (app.config["DEV"] or app.config.get("TESTING"))))
    console.init_app(app, exempt=(webhooks.bp, agents.bp, sms.bp))  # Twilio signs these
    audio_serve.init_app(app)

    @app.get("/health")
    def health() -> tuple[dict[str, str], int]:
        """For the load balancer: ok only when the database answers and takes writes. The
        answer is public, so why not is logged, not told: it names the database's host,
        port, user and file."""
        hotline: Hotline = app.extensions["ivr"]
        try:
            hotline.store.check(hotline.now())
        except StoreError as exc:
            log.warning("health: unavailable: %s", exc)
            return {"status": "unavailable"}, 503
        return {"status": "ok"}, 200

    return app


def send_texts(app: Flask, http_client: Any, now: datetime | None = None) -> None:
    """One pass of the app's SMS sender through ``http_client`` (a ``twilio.http``
    client), never the network: how the simulator's Twilio takes the texts a call wrote,
    where ``ivr serve``'s background sender would post them to Twilio; ``now``: the moment
    they are due by."""
    from ivr.web.sender import send_in_process

    send_in_process(app.extensions["ivr"].outbox, app.config, http_client, now)
