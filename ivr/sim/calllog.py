"""Replay real calls: the inputs the app logged (``call_events``), run again against the
current menu tree or another one, and where the outcome would differ.

The log holds each webhook's node, the caller's input (masked: PINs as ``******``,
account numbers as ``****0001``), the prompt keys said and the outcome. Inputs are
replayed in order, one per prompt, on the sandbox's demo data:

- a PIN is the identity's right PIN where the original attempt succeeded (the step said
  ``verify_ok``/``verify_frozen``), else a wrong one; an account number is the identity's;
- the identity is the frozen demo account if the original was frozen, else 10000001, and
  the call comes from its phone if the original was offered its caller ID;
- a lockout the original met is set up first (the failed tries it had before the call);
- an empty input is a time-out, except after a recording prompt, where it was a recording;
- a caller who hung up (the log ends on a prompt) hangs up there again, rather than
  timing out into the general queue;
- each key is pressed when the original pressed it: the log's times say how long after
  its prompt was served the answer came, so a caller who barged in (or thought longer
  than ``Pace``) does so again, to the log's one-second resolution;
- a spoken answer is logged as ``(speech)`` with what it matched, never the words: it is
  replayed as the target's first phrase in the tree (matched, at the logged Confidence),
  the same phrase with a Confidence too low to route on (``confirm``: the app asks
  again), or a word that matches nothing (``unmatched``, ``keypad``); a confirmation
  answered by voice as a plain yes or no (``confirmed``, ``declined``).

Both sides are measured alike: the replay's outcome comes from the app's own log and
record of the replayed call, as the original's does (the sandbox app's clock runs on the
simulated call's time, ``target.SimClock``), so an unchanged tree replays every call to
the same queue, verification and time to queue.

Sources: the app's database (a SQLite file or a PostgreSQL URL, only read), or an export:
JSON (``{"calls": [...], "call_events": [...]}`` or a list of ``call_events`` rows) or JSON
lines of rows (``EXPORT_SUFFIXES``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ivr.errors import StoreError
from ivr.flow import speech
from ivr.menu.phrases import family as family_of
from ivr.records.database import is_postgres, not_ivr, open_database
from ivr.sim.caller import TIMEOUT, Answer, Kind, Pace, Prompt
from ivr.sim.errors import ScenarioError
from ivr.sim.interpreter import Hold
from ivr.sim.target import Target
from ivr.sim.trace import Trace

if TYPE_CHECKING:
    from ivr.menu import Menu

log = logging.getLogger(__name__)

#: an export's suffixes: JSON, and JSON lines
EXPORT_SUFFIXES = (".json", ".jsonl", ".ndjson")
STRANGER = "+15005550006"
#: said for a spoken answer that matched nothing (a filler that names no target)
NOTHING = {"zh": "嗯", "en": "um"}
#: said for a confirmation the original answered by voice, by how it was taken
ANSWERED = {"confirmed": {"zh": "是", "en": "yes"}, "declined": {"zh": "不是", "en": "no"}}
#: the Confidence of a replayed answer the original had confirmed: too low to route on
UNSURE = round(speech.LOW_CONFIDENCE / 2, 2)
PIN_OK = ("verify_ok", "verify_frozen")
#: the app logs each step's time to the second
LOG_RESOLUTION_S = 1.0


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the replayed caller claims to be, in the sandbox's demo data."""

    account: str
    pin: str
    phone: str
    wrong_pin: str = "000000"


ACTIVE = Identity("10000001", "246810", "+8613800138000")
FROZEN = Identity("10000002", "135790", "+8613900139000")


@dataclass(frozen=True, slots=True)
class Step:
    node: str
    input: str | None
    said: tuple[str, ...]
    outcome: str
    at: str
    #: what a spoken answer matched (``ivr.flow.call.Heard.to_json``), never its words
    heard: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RecordedCall:
    call_sid: str
    from_number: str
    steps: tuple[Step, ...]
    verified: bool | None = None
    queue: str | None = None

    @property
    def outcome(self) -> CallOutcome:
        """How the call went, from the log."""
        queued = next((s for s in self.steps if s.outcome.startswith("enqueue:")), None)
        queue = self.queue
        if queue is None and queued is not None:
            queue = queued.outcome.split(":", 1)[1]
        verified = self.verified
        if verified is None:
            verified = any(k in PIN_OK for s in self.steps for k in s.said)
        seconds = None
        if queued is not None and queued.at and self.steps[0].at:
            seconds = (_when(queued.at) - _when(self.steps[0].at)).total_seconds()
        return CallOutcome(queue, verified, seconds)

    @property
    def hung_up(self) -> bool:
        """The caller hung up on a prompt: the log ends with the IVR asking."""
        return bool(self.steps) and self.steps[-1].outcome.startswith("ask:")

    def said(self, key: str) -> bool:
        return any(key in s.said for s in self.steps)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    queue: str | None
    verified: bool | None
    time_to_queue_s: float | None

    @classmethod
    def of(cls, trace: Trace, target: Target, like: RecordedCall | None = None) -> CallOutcome:
        """How a replayed call went, measured as ``like`` (the original) was: from the
        app's log and record of the call when the target lets us read them, else from
        the trace (the queue the call was routed to, even if the caller left it)."""
        record = target.record(trace.call_sid)
        rows = target.logged(trace.call_sid)
        if rows:
            # an export without the calls' records: measure the replay from its log alone
            facts = [record] if record and (like is None or like.verified is not None) else []
            logged = build(facts, rows)
            if logged:
                return logged[0].outcome
        verified = bool(record["verified"]) if record else None
        queued = trace.of_type("enqueue")
        queue = str(queued[0]["queue"]) if queued else trace.outcome.queue
        return cls(queue, verified, trace.time_to_queue_s)

    def __str__(self) -> str:
        verified = {True: "verified", False: "unverified", None: "verification unknown"}
        at = f", queued at {self.time_to_queue_s:.0f} s" if self.time_to_queue_s is not None else ""
        return f"{self.queue or 'not queued'}, {verified[self.verified]}{at}"


@dataclass(frozen=True, slots=True)
class Replayed:
    """One recorded call and how it goes now (and on the other tree)."""

    call: RecordedCall
    before: CallOutcome  # the original, or the current tree when comparing with another
    after: CallOutcome
    diverged: str | None  # the first step asked at another node than the original
    traces: tuple[Trace, ...]

    def differences(self, time_tolerance_s: float) -> list[str]:
        b, a = self.before, self.after
        found = []
        if b.queue != a.queue:
            found.append(f"queue {b.queue or '-'} -> {a.queue or '-'}")
        if b.verified is not None and a.verified is not None and b.verified != a.verified:
            found.append(f"verified {_yes(b.verified)} -> {_yes(a.verified)}")
        if b.time_to_queue_s is not None and a.time_to_queue_s is not None:
            delta = a.time_to_queue_s - b.time_to_queue_s
            if abs(delta) > time_tolerance_s:
                found.append(
                    f"time to queue {b.time_to_queue_s:.0f} s -> {a.time_to_queue_s:.0f} s ({delta:+.0f} s)"
                )
        return found

    def line(self, time_tolerance_s: float) -> str:
        found = self.differences(time_tolerance_s)
        if not found:
            return f"same  {self.call.call_sid}  {self.after}"
        where = f"  [{self.diverged}]" if self.diverged else ""
        return f"DIFF  {self.call.call_sid}  {'; '.join(found)}{where}"


def read(location: Path | str) -> list[RecordedCall]:
    """The calls logged in an app database (a SQLite file or a ``postgresql://`` URL, only
    read) or an export file."""
    if is_postgres(location):
        return build(*_read_db(str(location)))
    path = Path(location)
    if not path.exists():
        raise ScenarioError(f"{path}: no such file")
    if path.suffix.lower() in EXPORT_SUFFIXES:
        calls, rows = _read_export(path)
    else:
        calls, rows = _read_db(path)
    return build(calls, rows)


def build(
    calls: Iterable[Mapping[str, Any]], rows: Iterable[Mapping[str, Any]]
) -> list[RecordedCall]:
    """Group ``call_events`` rows (in log order) into calls, with the ``calls`` rows' facts."""
    info = {str(c["call_sid"]): c for c in calls}
    steps: dict[str, list[Step]] = {}
    for row in rows:
        said = tuple(str(row.get("said") or "").split())
        inp = row.get("input")
        step = Step(
            str(row.get("node") or ""),
            None if inp is None else str(inp),
            said,
            str(row.get("outcome") or ""),
            str(row.get("at") or ""),
            _heard(row.get("heard")),
        )
        steps.setdefault(str(row["call_sid"]), []).append(step)
    recorded = []
    for sid, call_steps in steps.items():
        c = info.get(sid, {})
        verified = c.get("verified")
        recorded.append(
            RecordedCall(
                sid,
                str(c.get("from_number") or ""),
                tuple(call_steps),
                None if verified is None else bool(verified),
                c.get("queue"),
            )
        )
    return recorded


def _heard(value: Any) -> Mapping[str, Any] | None:
    """A log row's ``heard``: JSON text in the database, maybe an object in an export."""
    if isinstance(value, Mapping):
        return value
    if not value:
        return None
    try:
        found = json.loads(str(value))
    except ValueError:
        return None
    return found if isinstance(found, Mapping) else None


def _read_db(location: Path | str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The logged steps and the calls' facts, read only (the database is not migrated);
    ``db.where`` names it without a URL's password."""
    try:
        with closing(open_database(location, read_only=True)) as db:
            problem = not_ivr(db.where, db.tables(), ("calls", "call_events"))
            if problem:
                raise ScenarioError(problem)
            rows = [dict(r) for r in db.read_all("SELECT * FROM call_events ORDER BY id")]
            calls = [dict(r) for r in db.read_all(
                "SELECT call_sid, from_number, verified, queue FROM calls")]
    except StoreError as exc:
        raise ScenarioError(str(exc)) from exc  # it names the database
    return calls, rows


def _read_export(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as exc:
        raise ScenarioError(f"{path}: not JSON ({exc})") from exc
    if isinstance(data, dict):
        return list(data.get("calls") or []), list(data.get("call_events") or [])
    return [], list(data)


class ReplayCaller:
    """Answers each prompt with the next logged input, unmasked for the sandbox, as fast
    or as slowly as the original caller did.

    Prompts outside the menu's nodes (holding in a queue) take only logged inputs that
    were given outside the nodes too (``(hold)``), so a call that now reaches a queue
    earlier does not spend the rest of its keys on the hold message.
    """

    ahead = True  # knows its answers as a prompt starts: may barge in as the original did

    def __init__(
        self,
        call: RecordedCall,
        identity: Identity,
        nodes: Iterable[str] = (),
        pace: Pace | None = None,
        menu: Menu | None = None,
    ) -> None:
        self.steps = list(call.steps[1:])  # the first step is the call arriving
        self.times = [_when_or_none(s.at) for s in call.steps]
        self.hung_up = call.hung_up
        self.identity = identity
        self.nodes = frozenset(nodes)
        self.pace = pace or Pace()
        self.menu = menu
        self.position = 0
        self.diverged: str | None = None

    def answer(self, prompt: Prompt) -> Answer:
        asked_at = node_of(prompt.action)
        if self.position >= len(self.steps):
            # the original caller put the phone down here (holding, they keep holding)
            in_menu = not self.nodes or asked_at in self.nodes
            return Answer(Kind.HANGUP) if self.hung_up and in_menu else TIMEOUT
        step = self.steps[self.position]
        if self.nodes and asked_at not in self.nodes and step.node in self.nodes:
            return TIMEOUT
        self.position += 1
        if self.diverged is None and step.node and asked_at != step.node:
            self.diverged = f"step {self.position}: asked at {asked_at}, originally at {step.node}"
        return self.paced(self.translate(step, prompt), prompt, self.position)

    def paced(self, answer: Answer, prompt: Prompt, index: int) -> Answer:
        """Keys pressed as long after the prompt started as the original's were: the log
        says when the prompt was served (the step before) and when the answer came."""
        if answer.kind is not Kind.KEYS or prompt.kind != "gather" or index >= len(self.times):
            return answer
        served, answered = self.times[index - 1], self.times[index]
        if served is None or answered is None:
            return answer
        keys, finish = answer.value, prompt.finish_on_key
        finished = bool(finish) and any(k in finish for k in keys)
        complete = prompt.num_digits is not None and len(keys) >= prompt.num_digits
        typing = (len(keys) - 1) * self.pace.key_interval_s
        typing += 0.0 if finished or complete else prompt.timeout_s  # input ended by time-out
        decided = (answered - served).total_seconds() - self.pace.answer_delay_s - typing
        if decided < prompt.duration_s - LOG_RESOLUTION_S:  # they barged into the prompt
            return replace(answer, barge_in_s=round(max(decided, 0.0), 3))
        if decided > prompt.duration_s + LOG_RESOLUTION_S:  # they thought it over first
            # (never so long that the Gather would have timed out before the key)
            longest = max(prompt.timeout_s - self.pace.answer_delay_s - 0.5, 0.0)
            return replace(answer, think_s=round(min(decided - prompt.duration_s, longest), 3))
        return answer

    def hear(self, event: Mapping[str, Any]) -> None:
        return None

    def translate(self, step: Step, prompt: Prompt) -> Answer:
        raw = step.input or ""
        if prompt.kind == "record":
            if raw == "hangup":
                return Answer(Kind.HANGUP)
            return TIMEOUT if "record_missing" in step.said else Answer(Kind.KEYS, "#")
        if raw == "(speech)":
            return self.spoken(step, prompt)
        if not raw:
            return TIMEOUT
        if re.fullmatch(r"\*{6}", raw):  # a masked PIN
            pin = (
                self.identity.pin
                if any(k in PIN_OK for k in step.said)
                else self.identity.wrong_pin
            )
            return Answer(Kind.KEYS, pin)
        if re.fullmatch(r"\*+\d{1,4}", raw):  # a masked account number
            raw = self.identity.account
        keys = re.sub(r"[^0-9*#]", "", raw)
        finish = prompt.finish_on_key
        if finish and keys and (prompt.num_digits is None or len(keys) < prompt.num_digits):
            keys += finish[0]  # the log holds Digits without the key that ended them
        return Answer(Kind.KEYS, keys) if keys else TIMEOUT


    def spoken(self, step: Step, prompt: Prompt) -> Answer:
        """Words that the app will take as the original's were (see the module docstring)."""
        heard = step.heard or {}
        family = "zh" if prompt.language.lower().startswith(("cmn", "zh", "yue")) else "en"
        target = self.menu.nodes.get(str(heard.get("target"))) if self.menu else None
        outcome = heard.get("outcome")
        if outcome in ANSWERED:  # a confirmation answered by voice
            return Answer(Kind.SPEECH, ANSWERED[str(outcome)][family])
        if target is None or outcome not in ("matched", "confirm"):
            return Answer(Kind.SPEECH, NOTHING[family])
        phrases = [p for lang, ps in sorted(target.phrases.items())
                   if family_of(lang) == family for p in ps]
        if not phrases:
            return Answer(Kind.SPEECH, NOTHING[family])
        words = phrases[0].replace(" ", speech.joiner("zh-CN" if family == "zh" else "en-US"))
        confidence = heard.get("confidence")
        if outcome == "confirm":
            confidence = UNSURE
        return Answer(Kind.SPEECH, words,
                      confidence=float(confidence) if confidence is not None else None)


def node_of(action: str) -> str:
    """The node an action URL posts to: ``/voice/step/identify?t=3`` -> ``identify``."""
    return unquote(urlsplit(action).path).rstrip("/").rsplit("/", 1)[-1]


def replay(
    call: RecordedCall, target: Target, *, hold: Hold | None = None
) -> tuple[Trace, ReplayCaller]:
    """Run one recorded call again on the target, from a fresh copy of its database."""
    identity = FROZEN if call.said("verify_frozen") else ACTIVE
    if target.reset:
        target.reset()
    if call.steps and call.steps[0].at:
        target.set_clock(_when(call.steps[0].at))  # the hours and waits of that moment
    from_ = identity.phone if call.said("verify_callerid") else STRANGER
    _recreate_lockout(call, identity, target, from_)
    _recreate_last_need(call, target, from_)
    caller = ReplayCaller(call, identity, target.menu.nodes if target.menu else (),
                          menu=target.menu)
    trace = target.call(caller, from_=from_, hold=hold, call_sid=None)
    return trace, caller


def compare(
    calls: Sequence[RecordedCall], target: Target, other: Target | None = None
) -> list[Replayed]:
    """Each call replayed on ``target`` against its original outcome, or, given ``other``
    (another menu tree), on both, ``target`` before and ``other`` after."""
    found = []
    for call in calls:
        trace, caller = replay(call, target)
        now = CallOutcome.of(trace, target, like=call)
        if other is None:
            found.append(Replayed(call, call.outcome, now, caller.diverged, (trace,)))
            continue
        other_trace, other_caller = replay(call, other)
        after = CallOutcome.of(other_trace, other, like=call)
        found.append(Replayed(call, now, after, other_caller.diverged, (trace, other_trace)))
    return found


def _recreate_lockout(
    call: RecordedCall, identity: Identity, target: Target, caller: str = ""
) -> None:
    """Give the identity the failed tries the original account had before this call.

    Whether the original met its account's lock or its caller ID's (the book throttles
    both), the replay meets the account's: the caller hears the same and goes to the
    same queue. The tries are the replayed caller's, so they count for its caller ID as
    they would have.
    """
    if not call.said("verify_locked"):
        return
    app = target.extensions.get("app")
    if app is None:
        log.warning("%s met a lockout: it cannot be set up over HTTP", call.call_sid)
        return
    hotline = app.extensions["ivr"]
    tries, on_a_pin = 0, False
    for step in call.steps:
        on_a_pin = bool(step.input and re.fullmatch(r"\*{6}", step.input))
        tries += on_a_pin
        if "verify_locked" in step.said:
            break
    # locked by a wrong PIN in this call: the earlier calls' failures; else already locked
    limit = hotline.lockouts.policy.max_failures
    needed = max(limit - tries, 0) if on_a_pin else limit
    now = target.clock() if target.clock else datetime.now(UTC)  # inside the lockout window
    for _ in range(needed):
        hotline.lockouts.record_failure(identity.account, now, caller)


def _recreate_last_need(call: RecordedCall, target: Target, caller: str) -> None:
    """Give the replayed caller's number the call the original was known by: an hour
    before, about the topic it was offered back (``ivr.records.known``), over, and in
    that topic's queue. So the replay hears the same offer and answers it as it was."""
    if not call.said("returning_ask"):
        return
    app = target.extensions.get("app")
    if app is None:
        log.warning("%s was offered its last need: it cannot be set up over HTTP",
                    call.call_sid)
        return
    hotline = app.extensions["ivr"]
    said = next(list(s.said) for s in call.steps if "returning_ask" in s.said)
    at_topic = said.index("returning_ask") + 1
    topic = said[at_topic] if at_topic < len(said) else ""
    node = next((n for n in hotline.menu.nodes.values() if n.topic == topic and n.issue), None)
    if node is None:
        log.warning("%s was offered a topic this tree does not name (%s)", call.call_sid, topic)
        return
    at = (target.clock() if target.clock else datetime.now(UTC)) - timedelta(hours=1)
    hotline.known.remember(caller, str(node.issue), at, f"{call.call_sid}-before")


def _when(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when_or_none(text: str) -> datetime | None:
    try:
        return _when(text) if text else None
    except ValueError:
        return None


def _yes(value: bool) -> str:
    return "yes" if value else "no"
