"""What an agent hears on ``/agent/voice``, decided without Flask, Twilio or a database.

An agent is identified (by caller ID, else an agent code and a PIN by keypad, at most
``MAX_TRIES`` times a call), hears how many callers wait in their queues, and is put
through to the longest-waiting one; with nobody waiting the line checks again every
``RECHECK_S`` seconds. After each caller the agent may take the next. Star switches the
language (zh-CN unless the agent chose another on an earlier call).

Silence at the code or PIN prompt is no input, never a wrong code: the prompt is said
again (``SILENCES`` times in all, then goodbye) and no try is spent. The code's Gather
ends only on its hash key, so star could not end it: the switch is offered first, in a
Gather of one key of its own, and acts at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ivr.flow import spoken
from ivr.flow.call import Utterance, Waiting
from ivr.flow.notices import FRAUD_QUEUE
from ivr.flow.prompts import Catalog

MAX_TRIES = 3
RECHECK_S = 20
#: the key that switches the language at any prompt of the agents' line
SWITCH_KEY = "*"
#: how many times the code or PIN prompt is said to silence before goodbye
SILENCES = 3


@dataclass(frozen=True, slots=True)
class AgentReply:
    """One answer to the agent's phone: words, then a Gather, a Dial of a queue, or the end.

    :param ask: the endpoint the Gather posts to (``code``, ``pin``, ``next``); None: none
    :param pause_s: a silence inside the Gather before it times out (nobody waiting)
    :param again_on_silence: the Gather's action is asked even when no key was pressed
    :param dial: the queue whose first caller the agent is put through to
    :param switch: said first, in a Gather of one key posted to ``language`` (star
        switches at once); silence goes on to the ask
    :param repeats: after a silence the ask is said again this many times, each after
        ``again`` (no try is spent: the server never hears of it), then ``then``
    """

    say: tuple[Utterance, ...] = ()
    ask: str | None = None
    num_digits: int | None = None
    timeout_s: int = 5
    pause_s: int = 0
    again_on_silence: bool = False
    dial: str | None = None
    #: said when the Gather times out without a key and ``again_on_silence`` is off
    then: tuple[Utterance, ...] = ()
    switch: tuple[Utterance, ...] = ()
    repeats: int = 0
    again: tuple[Utterance, ...] = ()


def other_lang(catalog: Catalog, lang: str) -> str:
    """The language star switches to: the next one of the catalog's."""
    langs = catalog.languages
    return langs[(langs.index(lang) + 1) % len(langs)] if lang in langs else catalog.default_lang


def _switch(catalog: Catalog, lang: str) -> Utterance:
    """How to switch, said in the language it switches to."""
    other = other_lang(catalog, lang)
    return catalog.utterance(other, "agent_lang_switch")


def _keyed(catalog: Catalog, lang: str, key: str, ask: str) -> AgentReply:
    """A code or PIN typed and ended by the hash key: silence asks again, then goodbye."""
    return AgentReply((catalog.utterance(lang, key),), ask=ask, timeout_s=10,
                      repeats=SILENCES - 1, again=(catalog.utterance(lang, "no_input"),),
                      then=(catalog.utterance(lang, "goodbye"),))


def ask_code(catalog: Catalog, lang: str, *, wrong: bool = False,
             switch: bool = True) -> AgentReply:
    """An agent the caller ID does not name: the welcome (or why the last code failed) and
    the language switch, then their code (``switch`` False: the code alone)."""
    reply = _keyed(catalog, lang, "agent_code_again" if wrong else "agent_code", "code")
    if not switch:
        return reply
    first = catalog.utterance(lang, "agent_wrong" if wrong else "agent_welcome")
    return replace(reply, switch=(first, _switch(catalog, lang)))


def ask_pin(catalog: Catalog, lang: str) -> AgentReply:
    return _keyed(catalog, lang, "agent_pin", "pin")


def unheard(catalog: Catalog, lang: str, reply: AgentReply) -> AgentReply:
    """``reply`` for a request that came without keys: no input, not a wrong code."""
    return replace(reply, say=(catalog.utterance(lang, "no_input"), *reply.say), switch=())


def refused(catalog: Catalog, lang: str, tries: int) -> AgentReply:
    """A code and PIN that match no agent: again, or goodbye after ``MAX_TRIES``."""
    if tries >= MAX_TRIES:
        return AgentReply((catalog.utterance(lang, "agent_denied"),))
    return ask_code(catalog, lang, wrong=True)


def offer(catalog: Catalog, lang: str, waiting: list[Waiting], now: datetime, *,
          quiet: bool = False) -> AgentReply:
    """Put the agent through to the longest-waiting caller, fraud first, or wait for one.

    An agent of several queues takes a caller reporting fraud before anyone else: money
    may still be leaving their account (``ivr plan``'s shared agents serve them so).

    :param waiting: the callers waiting in the agent's queues, longest first
    :param quiet: a re-check while nobody waits: no words, just the next silence
    """
    if waiting:
        first = next((w for w in waiting if w.queue == FRAUD_QUEUE), waiting[0])
        said = catalog.utterance(lang, "agent_waiting", count=len(waiting),
                                 wait=spoken.wait(catalog, lang, waiting[0].waited_s(now)))
        return AgentReply((said,), dial=first.queue)
    words = () if quiet else (catalog.utterance(lang, "agent_none_waiting"),
                              _switch(catalog, lang))
    return AgentReply(words, ask="next", num_digits=1, timeout_s=1, pause_s=RECHECK_S,
                      again_on_silence=True)


def after_caller(catalog: Catalog, lang: str) -> AgentReply:
    """The caller is gone: the next one on 1, else goodbye (the Gather falls through)."""
    return AgentReply((catalog.utterance(lang, "agent_next"), _switch(catalog, lang)),
                      ask="next", num_digits=1, timeout_s=8,
                      then=(catalog.utterance(lang, "goodbye"),))


def goodbye(catalog: Catalog, lang: str) -> AgentReply:
    return AgentReply((catalog.utterance(lang, "goodbye"),))


def connecting(catalog: Catalog, lang: str) -> tuple[Utterance, ...]:
    """What the caller hears as an agent takes them (the ``<Queue url>`` document)."""
    return (catalog.utterance(lang, "connecting"),)
