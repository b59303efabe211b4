"""The console's Notices page (ops only): publish an incident notice, or an emergency switch,
and end one; the notices active, to come and lately ended.

The same library as ``ivr notice`` (``ivr.records.notices``): a notice is checked against
the trees and prompt languages the line runs and refused with every problem listed; each
change is kept with its audit row (the user's name) in one transaction. The forms carry
the console's CSRF token like every other. Times are read and shown in the centre's
timezone, as ``--at`` reads them.
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ivr import moments
from ivr.console.site import bp, hotline, ops_only, t, user
from ivr.errors import MenuError, Problem
from ivr.flow.notices import Notice, read_scope
from ivr.records import notices

#: the ended notices the page still shows, latest first
ENDED_SHOWN = 20


def _moment(field: str, default: datetime | None) -> tuple[datetime | None, Problem | None]:
    """A time from the form, the centre's unless it has an offset; a problem if unreadable."""
    text = request.form.get(field, "").strip()
    if not text:
        return default, None if default else Problem(field, t("notice_time_needed"))
    try:
        moment = moments.parse(text)
    except ValueError as exc:
        return None, Problem(field, str(exc))
    h = hotline()
    return moment.resolve(h.centre.traffic.zone, h.now()), None


def _publish() -> list[Problem]:
    """Publish the notice of the form; the problems that refused it (none: published)."""
    h = hotline()
    now = h.now()
    starts, start_unread = _moment("start", now)
    ends, end_unread = _moment("end", None)
    unread = [p for p in (start_unread, end_unread) if p]
    texts = {lang: request.form.get(f"text_{lang}", "") for lang in h.catalog.languages}
    notice = Notice(0, texts, read_scope(request.form.get("scope", "")), starts or now,
                    ends or now, request.form.get("emergency") == "on")
    menus = [h.tree.menu, *([h.tree_b.menu] if h.tree_b else [])]
    try:
        if unread:  # every problem at once: the times' and the rest's
            notices.checked(notice, menus=menus, languages=h.catalog.languages, now=now)
            return unread
        kept = notices.publish(h.store, notice, menus=menus, languages=h.catalog.languages,
                               now=now, actor=user().name)
    except MenuError as exc:
        # an unreadable end stands in as now: its problems would be about that stand-in
        # (an unreadable start stands in as now too, which the end is rightly held to)
        guessed = {"end"} if end_unread else set()
        return unread + [p for p in exc.problems if p.location not in guessed]
    flash(t("notice_published", id=kept.id))
    return []


@bp.route("/notices", methods=["GET", "POST"])
@ops_only
def notices_page() -> str | Response | tuple[str, int]:
    h = hotline()
    problems: list[Problem] = []
    if request.method == "POST":
        action = request.form.get("action", "")
        if action == "publish":
            problems = _publish()
        elif action == "end":
            try:
                number = int(request.form.get("id", ""))
            except ValueError:
                abort(400, "id: a notice's number")
            try:
                notices.end(h.store, number, h.now(), user().name)
                flash(t("notice_was_ended", id=number))
            except notices.NoticeError:
                flash(t("gone"))
        else:
            abort(400, "action: publish or end")
        if not problems:
            return redirect(url_for("console.notices_page"))
    now = h.now()
    shown = notices.listed(h.store, now, every=True)
    current = [p for p in shown if p.state(now) != "ended"]
    ended = [p for p in shown if p.state(now) == "ended"][:ENDED_SHOWN]
    menus = [h.tree.menu, *([h.tree_b.menu] if h.tree_b else [])]
    page = render_template(
        "console/notices.html", current=current, ended=ended, now=now, problems=problems,
        form=request.form if problems else {}, languages=h.catalog.languages,
        nodes=sorted({n for m in menus for n in m.nodes}),
        queues=list(dict.fromkeys(q for m in menus for q in m.queues)))
    return (page, 400) if problems else page
