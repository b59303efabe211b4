"""The simulated caller: what they answer when the call asks for input.

A call asks for input at every ``<Gather>`` and ``<Record>``. A ``Script`` answers them in
order, one answer each:

- ``1``, ``246810#``: keys pressed (``*`` and ``#`` included);
- ``_``: nothing (a time-out, or silence on a ``<Record>``);
- ``h``: hang up;
- ``say:some words``: speech (``say`` alone takes the next text from a separate list).

When the script runs out, the caller times out at every further prompt. The
``InteractiveCaller`` asks a person at a terminal instead, without echoing what they type
at the PIN and account-number prompts.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from ivr.sim.errors import ScenarioError
from ivr.sim.masking import Secret
from ivr.sim.transcript import describe

DTMF_KEYS = frozenset("0123456789*#")


class Kind(StrEnum):
    KEYS = "keys"
    SPEECH = "speech"
    TIMEOUT = "timeout"
    HANGUP = "hangup"


@dataclass(frozen=True, slots=True)
class Answer:
    kind: Kind
    value: str = ""

    @classmethod
    def parse(cls, token: str) -> Answer:
        """One script token: keys, ``_``, ``h`` or ``say:text``."""
        token = token.strip()
        if token in ("_", ""):
            return cls(Kind.TIMEOUT)
        if token.lower() in ("h", "hangup"):
            return cls(Kind.HANGUP)
        if token.lower().startswith("say:"):
            return cls(Kind.SPEECH, token[4:].strip())
        bad = sorted(set(token) - DTMF_KEYS)
        if bad:
            raise ScenarioError(f"answer {token!r}: {''.join(bad)!r} is not a phone key (0-9 * #)")
        return cls(Kind.KEYS, token)

    def __str__(self) -> str:
        return {Kind.TIMEOUT: "_", Kind.HANGUP: "h", Kind.SPEECH: f"say:{self.value}"}.get(
            self.kind, self.value
        )


TIMEOUT = Answer(Kind.TIMEOUT)


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast the simulated caller acts (simulated seconds, never slept)."""

    answer_delay_s: float = 1.0  # from the end of the prompt to the first key or word
    key_interval_s: float = 0.3  # between two key presses
    record_s: float = 10.0  # talking into a <Record> before pressing the finishing key


@dataclass(frozen=True, slots=True)
class Prompt:
    """A request for input, as the caller sees it."""

    kind: str  # "gather" or "record"
    url: str  # the document that asks
    input: frozenset[str] = frozenset({"dtmf"})
    num_digits: int | None = None
    finish_on_key: str = "#"
    heard: tuple[str, ...] = ()  # what was said or played since the previous prompt
    action: str = ""  # where the answer will be sent
    secret: Secret | None = None  # the prompt asks for a PIN or an account number


class Caller(Protocol):
    def answer(self, prompt: Prompt) -> Answer: ...

    def hear(self, event: Mapping[str, Any]) -> None:
        """Called with every trace event as it happens (for live display)."""
        ...


@dataclass(frozen=True, slots=True)
class Script:
    """The answers of a scripted call, in prompt order."""

    answers: tuple[Answer, ...] = ()

    @classmethod
    def parse(cls, press: str | Iterable[object] = "", says: Sequence[str] = ()) -> Script:
        """From ``--press "2 1 _ 246810#"`` (or a list) and ``--say`` texts.

        A ``say`` token takes the next text from ``says``; ``say:words`` carries its own.
        With no press tokens at all, the says are the whole script.
        """
        tokens = press.split() if isinstance(press, str) else [str(t) for t in press]
        if not tokens:
            return cls(tuple(Answer(Kind.SPEECH, s) for s in says))
        pending = list(says)
        answers: list[Answer] = []
        for token in tokens:
            if token.strip().lower() == "say":
                if not pending:
                    raise ScenarioError("more 'say' answers than --say texts")
                answers.append(Answer(Kind.SPEECH, pending.pop(0)))
            else:
                answers.append(Answer.parse(token))
        if pending:
            raise ScenarioError(f"--say text(s) {pending} have no 'say' answer to go with")
        return cls(tuple(answers))

    def __str__(self) -> str:
        return " ".join(str(a) for a in self.answers)

    def caller(self) -> ScriptedCaller:
        return ScriptedCaller(self)


@dataclass(slots=True)
class ScriptedCaller:
    """Plays a Script once; times out after the last answer."""

    script: Script
    position: int = 0

    def answer(self, prompt: Prompt) -> Answer:
        if self.position >= len(self.script.answers):
            return TIMEOUT
        self.position += 1
        return self.script.answers[self.position - 1]

    def hear(self, event: Mapping[str, Any]) -> None:
        return None

    @property
    def unused(self) -> tuple[Answer, ...]:
        return self.script.answers[self.position :]


@dataclass(slots=True)
class InteractiveCaller:
    """A person at a terminal: prints what they hear, reads what they press.

    Enter alone is a time-out, ``h`` hangs up, ``say words`` speaks. At a prompt asking
    for a PIN or an account number the line is read with ``read_secret`` (not echoed).
    """

    read: Callable[[str], str] = input
    show: Callable[[Mapping[str, Any]], None] = lambda e: print(describe(e))
    history: list[Answer] = field(default_factory=list)
    read_secret: Callable[[str], str] = getpass.getpass

    def answer(self, prompt: Prompt) -> Answer:
        hint = (
            "record (Enter: silence, a key: stop, h: hang up)"
            if prompt.kind == "record"
            else _hint(prompt)
        )
        read = self.read_secret if prompt.secret else self.read
        while True:
            try:
                line = read(f"[{hint}] > ")
            except EOFError:
                line = "h"
            line = line.strip()
            if line.lower().startswith("say "):
                line = "say:" + line[4:]
            try:
                answer = Answer.parse(
                    line.replace(" ", "") if not line.startswith("say:") else line
                )
            except ScenarioError as exc:
                # the message quotes the line: not when it is a PIN or an account number
                print("only phone keys (0-9 * #), please" if prompt.secret else exc)
                continue
            self.history.append(answer)
            return answer

    def hear(self, event: Mapping[str, Any]) -> None:
        self.show(event)


def _hint(prompt: Prompt) -> str:
    parts = []
    if "dtmf" in prompt.input:
        parts.append(
            f"{prompt.num_digits} key(s)"
            if prompt.num_digits
            else f"keys, end with {prompt.finish_on_key or 'a pause'}"
        )
    if "speech" in prompt.input:
        parts.append("or 'say words'")
    hidden = f" (your {_SECRET_NAMES[prompt.secret]}, not shown)" if prompt.secret else ""
    return " ".join(parts) + hidden + "; Enter: time-out, h: hang up"


_SECRET_NAMES = {Secret.PIN: "PIN", Secret.ACCOUNT: "account number"}
