"""Log-in, log-out and the language switch of the console; failed log-ins throttled.

The keys: Flask signs the session with a key derived from ``SECRET_KEY`` by HMAC, and the
throttle (``ivr.console.throttle``: by name and address together, a short delay for a
name alone) keys its hashes with another, so neither is the lockout book's key itself.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from datetime import datetime

from flask import abort, current_app, make_response, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from ivr.console import records, throttle
from ivr.console import text as words
from ivr.console.site import bp, hotline, t, user, users

log = logging.getLogger(__name__)

#: the Retry-After of a log-in refused while LOGINS_AT_ONCE passwords are being hashed
BUSY_RETRY_S = 1
#: where the language switch may go back to: a page of the console, in printable ASCII
#: without the backslash (browsers read it as a slash): no other site, no CR/LF in a header
BACK = re.compile(r"/ops/[\x21-\x5b\x5d-\x7e]*")


def _fresh_session() -> None:
    """Empty the session but for the language chosen."""
    chosen = session.get("lang")
    session.clear()
    if chosen:
        session["lang"] = chosen


def _form(error: str | None = None) -> str:
    return render_template("console/login.html", error=error)


def _refused_for(wait_s: float) -> str:
    """Why a log-in is refused, with the wait rounded up: seconds for a name's short delay,
    minutes for a lock."""
    whole = math.ceil(wait_s)
    if whole < 60:
        return t("delayed", seconds=whole)
    return t("throttled", minutes=-(-whole // 60))


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """The log-in form; on success the session holds the user's name and its session
    generation, and only that."""
    if request.method == "GET":
        return _form()
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    console = current_app.extensions["ivr_console"]
    hashing: threading.BoundedSemaphore = console["hashing"]
    if not hashing.acquire(blocking=False):
        # as many passwords as LOGINS_AT_ONCE are being hashed here: a flood of log-ins
        # must not take the CPU the webhooks need, so this one is neither counted nor hashed
        busy = make_response(_form(t("busy")), 429)
        busy.headers["Retry-After"] = str(BUSY_RETRY_S)
        return busy
    try:
        store, now = hotline().store, hotline().now()
        keys = throttle.keys(console["throttle_key"], name, request.remote_addr or "-")
        counted = throttle.reserve(store, *keys, now)
        if isinstance(counted, datetime):
            return _form(_refused_for((counted - now).total_seconds()))
        found = users().check_password(name, password)
    finally:
        hashing.release()
    if found is None:
        log.info("console: a failed log-in")
        return _form(t("bad_login"))
    throttle.forgive(store, counted)
    _fresh_session()  # nothing of an earlier session carries over
    session.permanent = True
    session["user"], session["gen"] = found.name, found.session_gen
    records.audit(store, now, found.name, "log in")
    return redirect(url_for("console.now"))


@bp.post("/logout")
def logout() -> Response:
    """End the user's sessions, this one and any other: a cookie saved before opens nothing."""
    users().log_out(user().name, hotline().now())
    _fresh_session()
    return redirect(url_for("console.login"))


@bp.post("/language")
def language() -> Response:
    """Switch the console's language, kept in the session (not an audited change)."""
    chosen = request.form.get("lang", "")
    if chosen in words.LANGS:
        session["lang"] = chosen
    back = request.form.get("back", "")
    if not back:
        return redirect(url_for("console.now"))
    if not BACK.fullmatch(back):  # the form sends a console path: this one was made up
        abort(400, "back: not a page of the console")
    return redirect(back)
