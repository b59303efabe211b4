"""Which values the code gives each prompt when it speaks it: what ``{placeholders}`` a
prompt's text may use. ``ivr lint`` checks the catalog against this table, so a typo such
as ``{amout}`` is found before a caller hits it.

Whoever makes the code give a prompt a new value (``catalog.text(lang, key, name=...)``,
``turn.utter(key, name=...)``) adds the name here. A prompt not listed is given none.
"""

from __future__ import annotations

GIVEN: dict[str, frozenset[str]] = {
    key: frozenset(names)
    for key, names in {
        # the call flow (ivr/flow/caller.py)
        "best_times": {"windows"},
        "callback_booked": {"window"},
        "closed_self_service": {"services"},
        "complaint_filed": {"hours", "ticket"},
        # every stage's words, and the dispute's, get all three (ivr.flow.complaints)
        **{key: {"ticket", "reply_by", "sent_on"} for key in (
            "complaint_status_open", "complaint_status_checking", "complaint_status_review",
            "complaint_status_investigation", "complaint_status_result",
            "complaint_status_accepted", "complaint_status_closed", "complaint_disputed",
            "complaint_status_result_untexted")},
        "complaint_unknown": {"ticket"},
        "hold_next": {"ahead", "wait"},
        "hold_position": {"ahead", "wait"},
        "hold_wait": {"wait"},
        "queue_closed": {"hours", "opens"},
        "team_closed": {"hours", "opens"},
        "topup_failed": {"amount", "date"},
        "topup_processing": {"amount", "date"},
        "verify_locked": {"duration"},
        "verify_locked_closed": {"duration"},
        "wait_estimate": {"wait"},
        # the SMS follow-ups (ivr/flow/texts.py)
        "sms_callback": {"window"},
        "sms_complaint": {"ticket", "reply_by"},
        "sms_complaint_result": {"ticket", "result"},  # ivr.hotline.Hotline.move_ticket
        "sms_freeze": {"last4"},
        # the agents' end (ivr/flow/agent.py)
        "agent_waiting": {"count", "wait"},
        # how things are said (ivr/flow/spoken.py)
        "fmt_amount": {"yuan"},
        "fmt_and": {"list", "item"},
        "fmt_date": {"day", "month", "month_name", "year"},
        "fmt_items": {"list", "item"},
        "fmt_day_range": {"first", "last"},
        "fmt_day_windows": {"day", "windows"},
        "fmt_days_hours": {"days", "hours"},
        "fmt_list_sep": {"list", "item"},
        "fmt_minute": {"minutes"},
        "fmt_minutes": {"minutes"},
        "fmt_moment": {"day", "time"},
        "fmt_span_minute": {"minutes"},
        "fmt_span_minutes": {"minutes"},
        "fmt_span_hour": {"hours"},
        "fmt_span_hours": {"hours"},
        "fmt_time_range": {"start", "end"},
        "fmt_weekday_date": {"weekday", "date"},
        "fmt_window": {"day", "start", "end"},
    }.items()
}


def given(key: str) -> frozenset[str]:
    """The names the code fills in for ``key`` (none for a prompt it only says)."""
    return GIVEN.get(key, frozenset())
