"""Log-in, log-out and the language switch of the console; failed log-ins throttled.

The keys: Flask signs the session with a key derived from ``SECRET_KEY`` by HMAC, and the
throttle keys its hashes with another, so neither is the lockout book's key itself. The
throttle keeps keyed hashes of the name and of the address in ``login_failures``, never
the name or the address: ``MAX_FAILURES`` within ``WINDOW`` on either refuses the next
log-in until the oldest of them is out of the window. ``ivr ops users`` shows a name so
refused as locked, and ``ivr ops unlock`` lifts it (``failures``, ``unlock``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from datetime import datetime, timedelta

from flask import abort, current_app, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from ivr import plural
from ivr.console import records
from ivr.console import text as words
from ivr.console.site import bp, hotline, t, users
from ivr.records.store import Store, audit_row, iso, parse_iso

log = logging.getLogger(__name__)

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
#: where the language switch may go back to: a page of the console, in printable ASCII
#: without the backslash (browsers read it as a slash): no other site, no CR/LF in a header
BACK = re.compile(r"/ops/[\x21-\x5b\x5d-\x7e]*")


def derived_key(secret: str, purpose: str) -> bytes:
    """A key for one ``purpose``, derived from the settings' SECRET_KEY."""
    return hmac.new(secret.encode(), f"ivr console: {purpose}".encode(), hashlib.sha256).digest()


def _keyed(throttle_key: bytes, kind: str, value: str) -> str:
    return hmac.new(throttle_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def name_key(throttle_key: bytes, name: str) -> str:
    """The throttle's key of a log-in name, case folded: ``ivr ops`` makes it from the
    ``derived_key(SECRET_KEY, "throttle_key")`` the server uses."""
    return _keyed(throttle_key, "name", name.lower())


def _keys(name: str, address: str) -> tuple[str, str]:
    """The name's key, then the address's: ``reserve`` writes their rows in this order."""
    key = current_app.extensions["ivr_console"]["throttle_key"]
    return name_key(key, name), _keyed(key, "addr", address)


def reserve(store: Store, keys: tuple[str, ...], now: datetime) -> datetime | list[int]:
    """Count a log-in as failed before its password is checked, or say until when log-ins
    under ``keys`` are refused. In one write transaction, so log-ins sent in parallel are
    counted one after the other: none is checked past the limit (as the PIN lockout book
    reserves a check before hashing). The ids returned are taken back on a right password.
    """
    with store.tx(*(f"login:{key}" for key in keys)) as db:
        db.execute("DELETE FROM login_failures WHERE at < ?", (iso(now - WINDOW),))
        latest = None
        for key in keys:
            rows = db.execute("SELECT at FROM login_failures WHERE key=? AND at>? ORDER BY at",
                              (key, iso(now - WINDOW))).fetchall()
            if len(rows) >= MAX_FAILURES:
                free = parse_iso(rows[-MAX_FAILURES]["at"]) + WINDOW
                latest = max(latest, free) if latest else free
        if latest is not None:
            return latest
        return [int(db.execute("INSERT INTO login_failures (key, at) VALUES (?, ?) "
                               "RETURNING id", (key, iso(now))).fetchone()[0]) for key in keys]


def failures(store: Store, now: datetime) -> dict[str, int]:
    """The failed log-ins within the window, by key: a name's key at ``MAX_FAILURES`` is
    refused (``ivr ops users`` says locked)."""
    return {r["key"]: int(r["n"]) for r in store.read_all(
        "SELECT key, COUNT(*) AS n FROM login_failures WHERE at>? GROUP BY key",
        (iso(now - WINDOW),))}


def unlock(store: Store, key: str, now: datetime, actor: str, target: str,
           also: str = "") -> int:
    """``ivr ops unlock``: forget the failed log-ins of a name (its ``key``) and the same
    log-ins' count against their address, else the user stays refused from where they
    failed; the address keeps other names' failures, so a guesser there stays refused.
    An address's row is the one ``reserve`` wrote just after the name's (same second,
    next id). Audited with ``also`` (what else the command lifted) unless nothing was;
    returns how many failures within the window were forgotten."""
    with store.tx(f"login:{key}") as db:
        rows = db.execute("SELECT id, at FROM login_failures WHERE key=?", (key,)).fetchall()
        db.executemany("DELETE FROM login_failures WHERE id=? AND at=? AND key<>?",
                       [(int(r["id"]) + 1, r["at"], key) for r in rows])
        db.execute("DELETE FROM login_failures WHERE key=?", (key,))
        counted = sum(parse_iso(r["at"]) > now - WINDOW for r in rows)
        lifted = [f"{plural.counted(counted, 'failed log-in')} forgotten"] if counted else []
        if lifted or also:
            audit_row(db, now, actor, "user unlocked", target,
                      "; ".join([*lifted, *filter(None, [also])]))
    return counted


def _forgive(store: Store, ids: list[int]) -> None:
    """A right password: the failure counted for it in advance is taken back."""
    with store.tx() as db:
        db.executemany("DELETE FROM login_failures WHERE id=?", [(i,) for i in ids])


def _fresh_session() -> None:
    """Empty the session but for the language chosen."""
    chosen = session.get("lang")
    session.clear()
    if chosen:
        session["lang"] = chosen


def _form(error: str | None = None) -> str:
    return render_template("console/login.html", error=error)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """The log-in form; on success the session holds the user's name, and only that."""
    if request.method == "GET":
        return _form()
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    store, now = hotline().store, hotline().now()
    keys = _keys(name, request.remote_addr or "-")
    counted = reserve(store, keys, now)
    if isinstance(counted, datetime):
        wait_min = max(1, -(-int((counted - now).total_seconds()) // 60))  # rounded up
        return _form(t("throttled", minutes=wait_min))
    found = users().check_password(name, password)
    if found is None:
        log.info("console: a failed log-in")
        return _form(t("bad_login"))
    _forgive(store, counted)
    _fresh_session()  # nothing of an earlier session carries over
    session.permanent = True
    session["user"] = found.name
    records.audit(store, now, found.name, "log in")
    return redirect(url_for("console.now"))


@bp.post("/logout")
def logout() -> Response:
    records.audit(hotline().store, hotline().now(), session["user"], "log out")
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
