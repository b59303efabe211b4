"""The simulated caller: what they answer when the call asks for input.

A call asks for input at every ``<Gather>`` and ``<Record>``. A ``Script`` answers them in
order, one answer each:

- ``1``, ``246810#``: keys pressed (``*`` and ``#`` included), after the prompt;
- ``1!``: the same keys pressed as soon as the prompt starts (a caller who knows the
  menu barges in: Twilio stops a ``<Gather>``'s nested ``<Say>``/``<Play>`` at the first
  key); ``1!4.5``: pressed once the caller has heard 4.5 s of it (the option they want).
  Either way the caller still takes ``Pace.answer_delay_s`` to react, and never presses
  later than a caller who listened to the end would;
- ``_``: nothing (a time-out, or silence on a ``<Record>``);
- ``h``: hang up;
- ``say:some words``: speech (``say`` alone takes the next text from a separate list);
  in a list of answers (a scenario's ``press``) also ``{say: some words, confidence: 0.3}``,
  the Confidence the recogniser reports for them (else ``Recognition.confidence``).

When the script runs out, the caller times out at every further prompt. The
``InteractiveCaller`` asks a person at a terminal instead, without echoing what they type
at the PIN and account-number prompts.
"""

from __future__ import annotations

import getpass
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from ivr.plural import counted, plural
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
    #: keys only: seconds into the prompt when the caller knows what to press and barges
    #: in (``1!`` is 0, ``1!4.5`` is 4.5); None: they listen to the end first
    barge_in_s: float | None = None
    #: seconds the caller thinks after the prompt, before the usual reaction time (a
    #: replayed caller who was slower than ``Pace``)
    think_s: float = 0.0
    #: speech only: the Confidence the recogniser reports (None: the call's default)
    confidence: float | None = None

    @classmethod
    def parse(cls, token: str | Mapping[str, Any]) -> Answer:
        """One script token: keys (``1``, ``1!``, ``1!4.5``), ``_``, ``h`` or ``say:text``;
        or a mapping ``{say: text, confidence: 0.3}``."""
        if isinstance(token, Mapping):
            return cls._spoken(token)
        token = token.strip()
        if token in ("_", ""):
            return cls(Kind.TIMEOUT)
        if token.lower() in ("h", "hangup"):
            return cls(Kind.HANGUP)
        if token.lower().startswith("say:"):
            return cls(Kind.SPEECH, token[4:].strip())
        keys, bang, after = token.partition("!")
        barge_in_s = None
        if bang:
            try:
                barge_in_s = float(after) if after else 0.0
            except ValueError:
                barge_in_s = -1.0
            if not keys or not (math.isfinite(barge_in_s) and barge_in_s >= 0):
                raise ScenarioError(
                    f"answer {token!r}: barging in is keys, '!' and optionally the seconds "
                    "heard first ('1!', '1!4.5')"
                )
        bad = sorted(set(keys) - DTMF_KEYS)
        if bad:
            raise ScenarioError(f"answer {token!r}: {''.join(bad)!r} is not a phone key (0-9 * #)")
        return cls(Kind.KEYS, keys, barge_in_s)

    @classmethod
    def _spoken(cls, step: Mapping[str, Any]) -> Answer:
        unknown = sorted(set(step) - {"say", "confidence"})
        if unknown or "say" not in step:
            raise ScenarioError(f"answer {dict(step)!r}: a spoken answer is {{say: words}}, "
                                "optionally with confidence: a number from 0 to 1"
                                + (f" (unknown: {', '.join(map(str, unknown))})" if unknown else ""))
        words, confidence = step["say"], step.get("confidence")
        if not isinstance(words, str) or not words.strip():
            raise ScenarioError(f"answer {dict(step)!r}: say: the words, as text")
        if confidence is not None and (
                isinstance(confidence, bool) or not isinstance(confidence, int | float)
                or not (math.isfinite(confidence) and 0 <= confidence <= 1)):
            raise ScenarioError(f"answer {dict(step)!r}: confidence {confidence!r} is not a "
                                "number from 0 to 1")
        return cls(Kind.SPEECH, words.strip(),
                   confidence=None if confidence is None else float(confidence))

    def __str__(self) -> str:
        if self.kind is Kind.SPEECH and self.confidence is not None:
            return f"say:{self.value} (confidence {self.confidence:g})"
        if self.kind is Kind.KEYS and self.barge_in_s is not None:
            return f"{self.value}!{self.barge_in_s:g}" if self.barge_in_s else f"{self.value}!"
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
    duration_s: float = 0.0  # how long the Gather's nested prompt lasts, heard to the end
    timeout_s: float = 5.0  # the Gather's timeout
    language: str = "en-US"  # the Gather's speech recognition language


class Caller(Protocol):
    """Answers the prompts of a call.

    A caller whose ``ahead`` attribute is true (a script) is asked for its answer as a
    ``<Gather>`` starts, so it can barge into the prompt; any other (a person at a
    terminal) hears the whole prompt first.
    """

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
        tokens: list[str | Mapping[str, Any]] = (
            list(press.split()) if isinstance(press, str)
            else [t if isinstance(t, Mapping) else str(t) for t in press])
        if not tokens:
            return cls(tuple(Answer(Kind.SPEECH, s) for s in says))
        pending = list(says)
        answers: list[Answer] = []
        for token in tokens:
            if isinstance(token, str) and token.strip().lower() == "say":
                if not pending:
                    raise ScenarioError("more 'say' answers than --say texts")
                answers.append(Answer(Kind.SPEECH, pending.pop(0)))
            else:
                answers.append(Answer.parse(token))
        if pending:
            raise ScenarioError(f"--say {plural(len(pending), 'text')} {pending} "
                               f"{plural(len(pending), 'has', 'have')} no 'say' answer to go with")
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
    ahead: bool = True  # knows its answers before hearing the prompt: may barge in

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
            counted(prompt.num_digits, "key")
            if prompt.num_digits
            else f"keys, end with {prompt.finish_on_key or 'a pause'}"
        )
    if "speech" in prompt.input:
        parts.append("or 'say words'")
    hidden = f" (your {_SECRET_NAMES[prompt.secret]}, not shown)" if prompt.secret else ""
    return " ".join(parts) + hidden + "; Enter: time-out, h: hang up"


_SECRET_NAMES = {Secret.PIN: "PIN", Secret.ACCOUNT: "account number"}
