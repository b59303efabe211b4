"""The caller's verdict after an agent (CSAT): one question, 1 to 5, then a short comment.

Asked on the caller's leg once the agent has hung up (the Enqueue action with
``QueueResult=bridged``, ``ivr.hotline.Hotline.queue_done``), in the caller's language,
outside the tree: its two steps are the flow's own nodes, ``QUESTION`` and ``COMMENT``,
which no tree node can be named (node ids in parentheses are the records' own, as
``(queue-done)``). A wrong key or silence is asked again once, then thanks and goodbye;
what is kept goes through ``Services.verdicts``, taken with the call's turn, so a replayed
request never counts twice. No Flask, no Twilio, no database.
"""

from __future__ import annotations

from dataclasses import replace

from ivr.flow.call import Ask, CallEvent, CallState, Step, Utterance
from ivr.flow.services import Services

QUESTION = "(survey)"
COMMENT = "(comment)"
NODES = frozenset({QUESTION, COMMENT})
SCORES = "12345"
#: the question's time-out: long enough to think about a number after the agent is gone
TIMEOUT_S = 8
#: the survey's ``substep`` once it said goodbye
DONE = "done"
#: the question's tries: the first, and once again after a wrong key or silence
TRIES = 2


def after_agent(state: CallState, services: Services) -> Step | None:
    """What the caller hears once the agent hung up: the question, or (the question off)
    the invitation to comment; None when the survey is off."""
    survey = services.survey
    if survey.question:
        return _question(replace(state, node=QUESTION, substep="", failures=0), services, ())
    if survey.comment:
        return _comment(replace(state, node=COMMENT, substep=""), services, "csat_comment_only")
    return None


def answer(state: CallState, event: CallEvent, services: Services) -> Step:
    """The caller's key at the question, or their comment recorded."""
    if state.node == COMMENT:
        return _commented(state, event, services)
    digits = event.digits or ""
    key = digits[:1]
    if key and key in SCORES:
        score = int(key)
        if services.verdicts is not None:
            services.verdicts.answered(state.call_sid, score, services.now)
        state = replace(state, data={**state.data, "csat": score})
        if services.survey.comment:
            return _comment(replace(state, node=COMMENT), services, "csat_comment",
                            logged=key, choice=key)
        return _bye(state, services, "csat_thanks", logged=key, choice=key)
    choice = "invalid" if digits else "no_input"
    failures = state.failures + 1
    if failures >= TRIES:  # counted as not answered
        return _bye(state, services, "goodbye", logged=digits, choice=choice)
    return _question(replace(state, failures=failures), services,
                     (_utter(state, services, "csat_invalid"),), logged=digits, choice=choice)


def again(state: CallState, services: Services) -> Step:
    """A replayed or concurrent request during the survey: its prompt again, no change."""
    if state.substep == DONE:
        return Step(state, hangup=True)
    if state.node == COMMENT:
        return _comment(state, services, "csat_comment" if "csat" in state.data
                        else "csat_comment_only")
    return _question(state, services, ())


def _utter(state: CallState, services: Services, key: str) -> Utterance:
    return services.catalog.utterance(state.lang, key)


def _question(state: CallState, services: Services, before: tuple[Utterance, ...],
              logged: str | None = None, choice: str | None = None) -> Step:
    said = (*before, _utter(state, services, "csat_question"))
    return Step(state, said, ask=Ask(node=QUESTION, num_digits=1, timeout_s=TIMEOUT_S),
                logged_input=logged, choice=choice)


def _comment(state: CallState, services: Services, prompt: str, logged: str | None = None,
             choice: str | None = None) -> Step:
    # the Record's own silence ends it, and # does; hanging up keeps what was said
    return Step(state, (_utter(state, services, prompt),),
                ask=Ask(node=COMMENT, kind="record", max_length_s=services.survey.comment_s,
                        finish_on_key="#"),
                logged_input=logged, choice=choice)


def _commented(state: CallState, event: CallEvent, services: Services) -> Step:
    """The comment's Record ended: keep its URL when there is audio. A comment is
    optional, so nothing recorded is not asked again: thanks, goodbye."""
    if event.recording_url and (event.recording_duration_s or 0) > 0:
        if services.verdicts is not None:
            services.verdicts.commented(state.call_sid, event.recording_url,
                                        event.recording_duration_s)
        return _bye(state, services, "csat_thanks", choice="recorded")
    return _bye(state, services, "csat_thanks", choice="no_input")


def _bye(state: CallState, services: Services, key: str, logged: str | None = None,
         choice: str | None = None) -> Step:
    return Step(replace(state, substep=DONE), (_utter(state, services, key),), hangup=True,
                logged_input=logged, choice=choice)
