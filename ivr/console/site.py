"""The console's blueprint and what every page shares: log-in required, the user and their
role, the language kept in the session, times in the centre's timezone.

A console session is the only way in: ``/voice`` and ``/agent`` are other blueprints,
signed by Twilio, and nothing here reads a Twilio signature nor sets the session from one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from ivr.console import text as words
from ivr.hotline import Hotline
from ivr.plural import counted
from ivr.records.recordings import twilio_recording
from ivr.records.store import parse_iso
from ivr.records.users import User, Users

bp = Blueprint("console", __name__, url_prefix="/ops", template_folder="templates",
               static_folder="static")

#: the pages open without a session
OPEN = ("console.login", "console.language", "console.static")

F = TypeVar("F", bound=Callable[..., Any])


def hotline() -> Hotline:
    found: Hotline = current_app.extensions["ivr"]
    return found


def users() -> Users:
    return hotline().users


def user() -> User:
    found: User = g.console_user
    return found


def scope() -> tuple[str, ...] | None:
    """The queues the user's pages show: an agent's own, or None for all."""
    return user().queues if user().is_agent else None


def lang() -> str:
    chosen = session.get("lang")
    return chosen if chosen in words.LANGS else words.DEFAULT


def t(key: str, **values: object) -> str:
    return words.text(lang(), key, **values)


def ops_only(view: F) -> F:
    """Refuse (403) an agent the pages that are for ops."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if user().is_agent:
            abort(403, t("forbidden"))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


@bp.before_request
def require_login() -> Response | None:
    """Every page but the log-in needs a user still known, not disabled, and a session of
    its current generation (log-out, disabling, a new password end the ones before)."""
    name = session.get("user")
    found = users().get(name) if isinstance(name, str) else None
    if found is None or found.disabled or session.get("gen") != found.session_gen:
        if request.endpoint in OPEN:
            return None
        session.pop("user", None)
        return redirect(url_for("console.login"))
    g.console_user = found
    return None


def local(moment: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored ISO time in the centre's timezone."""
    if not moment:
        return "-"
    return hotline().centre.local(parse_iso(moment)).strftime(fmt)


def minutes(seconds: float | None) -> str:
    """A wait for a person to read: 45 s, 3 min 20 s, or ∞ (closed, unstaffed)."""
    if seconds is None:
        return "-"
    if seconds == float("inf"):
        return "∞"
    whole = round(seconds)
    return f"{whole} s" if whole < 60 else f"{whole // 60} min {whole % 60:02d} s"


def last4(number: str | None) -> str:
    """A phone or account number in a list: its last 4 digits only."""
    return "…" + number[-4:] if number else "-"


def recording_link(url: str | None) -> str | None:
    """The URL to link a ticket's recording or a survey comment to, when it is Twilio's
    over https; else None, and the page shows it as text (``twilio_recording``)."""
    return twilio_recording(url)


@bp.context_processor
def shared() -> dict[str, Any]:
    return {"t": t, "counted": counted, "local": local, "minutes": minutes, "last4": last4,
            "recording_link": recording_link, "me": g.get("console_user"), "lang": lang(),
            "zone": hotline().centre.timezone}


@bp.after_request
def guarded(response: Response) -> Response:
    """Every console answer is never framed by another site (clickjacking: both the old
    header and CSP's ``frame-ancestors``, added to a policy already set) and never kept
    by a cache (a shared computer's back button, a proxy); the stylesheet may be."""
    response.headers["X-Frame-Options"] = "DENY"
    kept = [d.strip() for d in response.headers.get("Content-Security-Policy", "").split(";")
            if d.strip() and d.split()[0].lower() != "frame-ancestors"]
    response.headers["Content-Security-Policy"] = "; ".join([*kept, "frame-ancestors 'none'"])
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(400)
@bp.errorhandler(403)
def refused(error: HTTPException) -> tuple[str, int]:
    """A refused form (a missing CSRF token, a bad field) or page, in the console's frame."""
    code = error.code or 400
    return render_template("console/error.html", code=code, message=error.description), code
