"""A complaint's workflow, as the source articles describe it (seed 000; ``domain.md``,
"The complaint workflow"): registered → first check of the information → review by the
specialist team → investigation → the result sent to the caller → accepted, or disputed
and back to review → closed, and kept for analysis.

Ops and agents move a ticket on the console, each move with a note
(``ivr.records.complaints``); a caller who checks a ticket hears its stage, and one whose
result was sent may dispute it with key 1: a short recording of why, the ticket back in
review with a new reply-by time. Pure: no database here, only what may follow what.
"""

from __future__ import annotations

#: the stages, in the order a ticket goes through them
STAGES = ("registered", "first_check", "review", "investigation", "result_sent", "accepted",
          "closed")
#: where each stage moves on (``closed`` besides, from any stage: a duplicate, a withdrawn
#: complaint); ``result_sent`` → ``review`` is a dispute
MOVES: dict[str, tuple[str, ...]] = {
    "registered": ("first_check",),
    "first_check": ("review",),
    "review": ("investigation", "result_sent"),
    "investigation": ("result_sent",),
    "result_sent": ("accepted", "review"),
    "accepted": ("closed",),
    "closed": (),
}
#: what a caller checking the ticket hears at each stage
STATUS_PROMPTS = {
    "registered": "complaint_status_open",
    "first_check": "complaint_status_checking",
    "review": "complaint_status_review",
    "investigation": "complaint_status_investigation",
    "result_sent": "complaint_status_result",
    "accepted": "complaint_status_accepted",
    "closed": "complaint_status_closed",
}
#: the languages a result is written in before it is sent (the prompt catalogs')
RESULT_LANGS = ("en-US", "zh-CN")


def next_stages(stage: str) -> tuple[str, ...]:
    """Where a ticket at ``stage`` may be moved: its next stages, then ``closed``."""
    if stage == "closed" or stage not in MOVES:
        return ()
    return MOVES[stage] + (() if "closed" in MOVES[stage] else ("closed",))


def is_dispute(stage: str, to: str) -> bool:
    """A result sent back to review: the caller does not accept it."""
    return stage == "result_sent" and to == "review"
