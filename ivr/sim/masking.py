"""Keep the caller's secrets out of what the simulator records and prints.

No PIN may reach a trace, and account numbers appear only masked (README). The simulator
sees nothing but TwiML (the app may be a remote server), so it decides from what the
caller heard: keys pressed in answer to a PIN prompt (``verify_pin``, the agents'
``agent_pin``) are a PIN, keys
pressed in answer to the account-number prompt (``verify_account``) an account number.
Their ``input`` events, and so ``--json``, transcripts, the live terminal and replay
reports, carry them masked the way the app's call events do: ``******`` and ``****0003``.
What is sent to the app is never masked. Pure: no I/O, no URLs (action URLs carry query
strings the simulator must not depend on).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any

from ivr.flow.services import mask

#: a prompt's catalog names, ``lang/key`` (what ``target.Prompts.keys`` returns)
PromptKeys = Callable[[Mapping[str, Any]], Iterable[str]]


class Secret(StrEnum):
    PIN = "pin"
    ACCOUNT = "account"


#: catalog prompt key -> what the keys pressed in answer to it are
PROMPTS: Mapping[str, Secret] = {"verify_pin": Secret.PIN, "verify_account": Secret.ACCOUNT,
                                 "agent_pin": Secret.PIN}  # the agents' line (ivr.web.agents)
PIN_MASK = "******"
#: an account number shows its last 4 digits, as in the call events, only when at least as
#: many stay hidden: a PIN typed at the account prompt must not show 4 of its 6 digits
SHOWN = 4


def secret_of(prompt_keys: Iterable[str]) -> Secret | None:
    """What a prompt asks for, from its catalog names (``key`` or ``lang/key``)."""
    found = {PROMPTS.get(name.rsplit("/", 1)[-1]) for name in prompt_keys}
    if Secret.PIN in found:  # a text that could be either: the stricter mask
        return Secret.PIN
    return Secret.ACCOUNT if Secret.ACCOUNT in found else None


def asked(heard: Iterable[Mapping[str, Any]], prompt_keys: PromptKeys) -> Secret | None:
    """The secret asked for by the last secret prompt among the say/play events ``heard``
    since the previous input (None: none of them asks for one)."""
    secret = None
    for event in heard:
        secret = secret_of(prompt_keys(event)) or secret
    return secret


def pin(digits: str) -> str:
    """A PIN as the call events log it: ``******`` whatever its length."""
    return PIN_MASK if digits else ""


def account(digits: str) -> str:
    """An account number as the call events log it (``ivr.flow.services.mask``), ``****0003``;
    all hidden when it is too short to hide as many digits as it would show."""
    return mask(digits) if len(digits) >= 2 * SHOWN else "*" * len(digits)


def input_event(secret: Secret | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    """An ``input`` event's fields with what the caller gave at a secret prompt masked.

    ``digits`` (what the app was sent) as the call events mask it; ``keys`` keeps one
    character a key, and the finishing key in clear, so the audio renderer still plays as
    many tones; ``dropped``/``ignored`` keys and speech are hidden too. A masked event
    says so in ``masked`` (``pin`` or ``account``).
    """
    out = dict(fields)
    if secret is None:
        return out
    hide = pin if secret is Secret.PIN else account
    digits = str(fields.get("digits") or "")
    if digits:
        out["digits"] = hide(digits)
    keys = str(fields.get("keys") or "")
    if keys:
        head = digits if keys.startswith(digits) else keys
        shown = "*" * len(head) if secret is Secret.PIN else account(head)
        out["keys"] = shown + keys[len(head) :]
    for name in ("dropped", "ignored"):
        if fields.get(name):
            out[name] = "*" * len(str(fields[name]))
    for name in ("speech", "said"):  # what the recogniser sent, what the caller said
        speech = str(fields.get(name) or "")
        if speech:
            said = re.sub(r"\D", "", speech)
            out[name] = account(said) if secret is Secret.ACCOUNT and said else PIN_MASK
    if out != fields:
        out["masked"] = str(secret)
    return out
