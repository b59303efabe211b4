"""Scenario files: scripted calls and what must happen, run against a ``Target``.

A YAML file holds one scenario (a mapping) or several (``scenarios:`` with shared
``defaults:``). A scenario is one call, or several in order (``calls:``) sharing one
database, such as wrong PINs spread over calls until the account locks. The target's
database is put back as it started before each scenario, so scenarios never leak state.

    name: top-up, verified by account number and PIN
    from: "+8613700000000"
    langs: [zh-CN, en-US]     # run once per language; its key is pressed first
    press: "1 1 10000001# 246810 0 1 {yesterday} 200#"
    expect: {queue: payments, verified: true, heard: {en-US: ["48 hours"]}}

Answers are ``ivr call --press`` tokens (``1!`` presses 1 as the prompt starts, see
``caller``); ``{today}``/``{yesterday}`` become YYYYMMDD. A caller speaks with
``say:words`` (in a list, as words have spaces: ``press: ["say:my payment failed", 1]``)
or ``{say: words, confidence: 0.3}``, the Confidence the recogniser sends with them
(default 0.9); ``recognition: {confidence: 0.9, noise: 0.2, seed: 3}`` sets the call's
recogniser (``ivr call --confidence/--noise/--seed``). ``hold`` sets the queue's
``Hold``: e.g. ``{patience_s: 30}`` hangs up after 30 s holding, ``{ends: hangup}``
after the wait loops, ``{bridge_after_s: 20, talk_s: 60}`` has an agent answer and hang
up, ``{queue_size: 11, max_queue_size: 10}`` finds the queue full, ``{wait_for_agent:
true, talk_s: 90}`` keeps the caller queued for a later call of the scenario to take:
``url: /agent/voice`` (a path on the target instead of its Voice URL) with ``from:`` an
agent's phone is an agent calling in, whose ``<Dial><Queue>`` dequeues them. A caller
taken so is checked once the scenario's calls are done, on the whole call.
``notices`` publishes incident notices (``ivr notice add``) on the target before the
scenario's calls, active around them: a list of ``{scope: node:payments_menu, text:
{zh-CN: ..., en-US: ...}, emergency: false}`` (the target must run in this process).
Expectations: ``queue``, ``ended_by``, ``heard``/``not_heard`` (text fragments or
``prompt:key``/``prompt:zh-CN/key`` catalog prompts, or a mapping language -> those,
so wording changes in prompts/ do not break scenarios), ``verified`` and ``issue``
(from the app's call record),
``record`` (a subset of that record), ``max_duration_s`` (until the caller is queued, or
the call ends), ``speech`` (what the app made of each spoken answer, in order, from its
log: ``matched:topup_status``, ``confirm:topup_status``, ``unmatched``, ``keypad``,
``confirmed:...``, ``declined:...``; a target may be left out), ``sms`` (fragments of
the texts the app sent the caller for the call, through the simulator's Messages API, or
a mapping language -> those; ``[]``: no text at all). Every answer must be asked for:
leftovers mean the call went elsewhere.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from ivr import moments
from ivr.errors import IVRError
from ivr.phone import number_problem
from ivr.plural import plural
from ivr.sim.caller import Script, ScriptedCaller
from ivr.sim.errors import ScenarioError
from ivr.sim.interpreter import DEFAULT_FROM, DEFAULT_TO, Hold
from ivr.sim.recognition import Recognition
from ivr.sim.target import Target
from ivr.sim.trace import Trace
from ivr.sim.transcript import summary

log = logging.getLogger(__name__)

CALL_KEYS = frozenset(
    {"from", "to", "url", "lang", "press", "say", "hold", "expect", "recognition"})
SCENARIO_KEYS = CALL_KEYS | {"name", "langs", "calls", "at", "notices"}
NOTICE_KEYS = frozenset({"scope", "text", "emergency"})
#: what the app logs of a spoken answer (``ivr.flow.call.Heard``)
HEARD_OUTCOMES = ("matched", "confirm", "unmatched", "keypad", "confirmed", "declined")
EXPECT_KEYS = frozenset(
    {"queue", "ended_by", "heard", "not_heard", "verified", "issue", "record", "max_duration_s",
     "speech", "sms"}
)


@dataclass(frozen=True, slots=True)
class CallSpec:
    """One scripted call and its expectations."""

    from_: str = DEFAULT_FROM
    to: str = DEFAULT_TO
    lang: str | None = None
    #: answer tokens, or ``{say: words, confidence: x}`` mappings
    press: tuple[str | Mapping[str, Any], ...] = ()
    say: tuple[str, ...] = ()
    hold: Hold = field(default_factory=Hold)
    expect: Mapping[str, Any] = field(default_factory=dict)
    #: the path the call starts at (None: the target's Voice URL, the hotline's number)
    url: str | None = None
    recognition: Recognition = field(default_factory=Recognition)

    def script(self, language_keys: Mapping[str, str], today: date) -> Script:
        """The answers, with the language key first and dates filled in."""
        tokens: list[str | Mapping[str, Any]] = [
            _dates(t, today) if isinstance(t, str) else t for t in self.press]
        if self.lang:
            if self.lang not in language_keys:
                raise ScenarioError(f"lang {self.lang!r}: the menu offers {sorted(language_keys)}")
            tokens.insert(0, language_keys[self.lang])
        return Script.parse(tokens, self.say)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    source: str
    calls: tuple[CallSpec, ...]
    #: when the calls happen, read as every command's ``--at`` (``ivr.moments``): an ISO
    #: time (without an offset, the centre's local time) or ``tue 12:30`` (the next one)
    at: moments.Moment | None = None
    #: incident notices published before the calls: ``{scope, text: {lang: words},
    #: emergency}``, active from an hour before the scenario's moment to a day after
    notices: tuple[Mapping[str, Any], ...] = ()

    def moment(self, target: Target, now: datetime | None = None) -> datetime | None:
        """When to run: ``at``, else a quiet hour of the target (None: its own clock)."""
        if self.at is None:
            return target.quiet_at
        return self.at.resolve(target.zone, now or datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Result:
    scenario: Scenario
    failures: tuple[str, ...]
    traces: tuple[Trace, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def hotline_traces(self) -> tuple[Trace, ...]:
        """The calls to the hotline's number: not the agents' (``url``), which the
        app's call records (``ivr report``) do not count either."""
        return tuple(t for t, spec in zip(self.traces, self.scenario.calls, strict=False)
                     if spec.url is None)

    def line(self) -> str:
        """``PASS``/``FAIL``, the scenario, and where its last call ended or what went wrong."""
        name = f"{self.scenario.source}: {self.scenario.name}"
        if self.passed:
            last = self.traces[-1]
            if last.outcome.queue and last.time_to_queue_s is not None:
                return f"PASS  {name}  ({last.outcome.queue} at {last.time_to_queue_s:.1f} s)"
            return f"PASS  {name}  ({last.outcome.ended_by} at {last.outcome.duration_s:.1f} s)"
        return f"FAIL  {name}\n" + "\n".join(f"        {f}" for f in self.failures)


def load(path: Path | str) -> list[Scenario]:
    """Every scenario in a file, or in the ``*.yaml`` files under a folder."""
    path = Path(path)
    files = sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise ScenarioError(f"{path}: no scenario files (*.yaml)")
    return [s for f in files for s in _load_file(f, path if path.is_dir() else f.parent)]


def _load_file(path: Path, root: Path) -> list[Scenario]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    source = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario file is a mapping")
    if "scenarios" in data:
        defaults = data.get("defaults") or {}
        extra = sorted(set(data) - {"scenarios", "defaults"})
        if extra:
            raise ScenarioError(f"{source}: unknown top-level {plural(len(extra), 'key')} {extra}")
        entries = [{**defaults, **entry} for entry in data["scenarios"]]
    else:
        entries = [data]
    return [s for i, entry in enumerate(entries) for s in _scenarios(entry, source, i)]


def _scenarios(entry: Mapping[str, Any], source: str, index: int) -> list[Scenario]:
    name = str(entry.get("name") or f"scenario {index + 1}")
    where = f"{source}: {name}"
    unknown = sorted(set(entry) - SCENARIO_KEYS)
    if unknown:
        raise ScenarioError(f"{where}: unknown {plural(len(unknown), 'key')} {unknown}")
    shared = {k: v for k, v in entry.items() if k in CALL_KEYS}
    raw_calls = entry.get("calls") or [{}]
    langs = entry.get("langs") or [entry.get("lang")]
    scenarios = []
    for lang in langs:
        calls = tuple(
            _call({**shared, **({"lang": lang} if lang else {}), **c}, where) for c in raw_calls
        )
        label = f"{name} [{lang}]" if len(langs) > 1 else name
        scenarios.append(Scenario(label, source, calls, _at(entry.get("at"), where),
                                  _notices(entry.get("notices"), where)))
    return scenarios


def _notices(value: Any, where: str) -> tuple[Mapping[str, Any], ...]:
    """The scenario's ``notices:`` as written, their form checked here; what they say and
    where is checked as ``ivr notice add`` checks it, when they are published."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ScenarioError(f"{where}: notices: a list of {{scope, text, emergency}}")
    for index, notice in enumerate(value, 1):
        at = f"{where}: notices[{index}]"
        if not isinstance(notice, Mapping):
            raise ScenarioError(f"{at}: a mapping {{scope, text, emergency}}")
        unknown = sorted(set(notice) - NOTICE_KEYS)
        if unknown:
            raise ScenarioError(f"{at}: unknown {plural(len(unknown), 'key')} {unknown}")
        text = notice.get("text")
        if not isinstance(notice.get("scope"), str) or not isinstance(text, Mapping) or \
                not all(isinstance(k, str) and isinstance(v, str) for k, v in text.items()):
            raise ScenarioError(f"{at}: give scope (line, node:<id>, queue:<name>) and text, "
                                "a mapping of language to words")
        if not isinstance(notice.get("emergency", False), bool):
            raise ScenarioError(f"{at}: emergency: true or false")
    return tuple(value)


def _at(value: Any, where: str) -> moments.Moment | None:
    """The scenario's ``at:``, or the one error naming the file, the scenario and the key.

    YAML reads an unquoted ``2026-11-25 09:30`` as a datetime and ``2026-11-25`` as a
    date: they are taken as written.
    """
    if value is None:
        return None
    text = value.isoformat() if isinstance(value, date) else str(value)
    try:
        return moments.parse(text)
    except ValueError as exc:
        raise ScenarioError(f"{where}: at: {exc}") from None


def _call(raw: Mapping[str, Any], where: str) -> CallSpec:
    unknown = sorted(set(raw) - CALL_KEYS)
    if unknown:
        raise ScenarioError(f"{where}: unknown call {plural(len(unknown), 'key')} {unknown}")
    expect = dict(raw.get("expect") or {})
    bad = sorted(set(expect) - EXPECT_KEYS)
    if bad:
        raise ScenarioError(
            f"{where}: unknown {plural(len(bad), 'expectation')} {bad}; known: {sorted(EXPECT_KEYS)}"
        )
    press = raw.get("press") or ()
    tokens = tuple(press.split()) if isinstance(press, str) else tuple(
        p if isinstance(p, Mapping) else str(p) for p in press)
    says = raw.get("say") or ()
    says = (says,) if isinstance(says, str) else tuple(str(s) for s in says)
    try:
        hold = Hold(**(raw.get("hold") or {}))
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{where}: hold: {exc}") from None
    heard_by = raw.get("recognition") or {}
    try:
        if not isinstance(heard_by, Mapping):
            raise TypeError("a mapping: {confidence: 0.9, noise: 0.2, seed: 3}")
        recognition = Recognition(**heard_by)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{where}: recognition: {exc}") from None
    spoken = expect.get("speech")
    if spoken is not None and not (isinstance(spoken, list) and all(
            isinstance(h, str) and h.split(":", 1)[0] in HEARD_OUTCOMES for h in spoken)):
        raise ScenarioError(f"{where}: expect: speech: {spoken!r} is not a list of "
                            f"{'/'.join(HEARD_OUTCOMES)}, each with an optional ':target'")
    numbers = {"from": str(raw.get("from") or DEFAULT_FROM), "to": str(raw.get("to") or DEFAULT_TO)}
    for key, number in numbers.items():  # as ivr call --from/--to take them
        problem = number_problem(number, withheld_ok=key == "from")
        if problem:
            raise ScenarioError(f"{where}: {key}: {problem}")
    url = raw.get("url")
    if url is not None and not (isinstance(url, str) and url.startswith("/")):
        raise ScenarioError(f"{where}: url: {url!r} is not a path on the target (/agent/voice)")
    spec = CallSpec(
        url=url,
        from_=numbers["from"],
        to=numbers["to"],
        lang=raw.get("lang"),
        press=tokens,
        say=says,
        hold=hold,
        expect=expect,
        recognition=recognition,
    )
    try:
        spec.script({spec.lang: "1"} if spec.lang else {}, date.today())
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    return spec


def run(scenario: Scenario, target: Target, *, today: date | None = None) -> Result:
    """Run a scenario's calls in order on a fresh copy of the target's database."""
    target.switchboard.close()  # nobody left waiting from an earlier run
    if target.reset:
        target.reset()
    moment = scenario.moment(target)
    target.set_clock(moment)
    today = today or (moment.astimezone(target.zone).date() if moment else date.today())
    failures: list[str] = []
    if scenario.notices:
        problem = _publish(scenario, target, moment or datetime.now(UTC))
        if problem:
            return Result(scenario, (problem,), ())
    traces: list[Trace] = []
    board = target.switchboard
    later: list[tuple[str, CallSpec, ScriptedCaller, int]] = []  # parked: checked at the end
    for number, spec in enumerate(scenario.calls, 1):
        prefix = f"call {number}: " if len(scenario.calls) > 1 else ""
        try:
            script = spec.script(target.language_keys(), today)
        except ScenarioError as exc:
            failures.append(prefix + str(exc))
            break
        caller = script.caller()
        trace = target.call(caller, from_=spec.from_, to=spec.to, hold=spec.hold, url=spec.url,
                            recognition=spec.recognition)
        traces.append(trace)
        if board.holds(trace.call_sid):
            later.append((prefix, spec, caller, len(traces) - 1))
        else:
            failures += _failures(prefix, spec, caller, trace, target)
    final = board.close()
    for prefix, spec, caller, index in later:
        traces[index] = final.get(traces[index].call_sid, traces[index])
        failures += _failures(prefix, spec, caller, traces[index], target)
    return Result(scenario, tuple(failures), tuple(traces))


def _publish(scenario: Scenario, target: Target, moment: datetime) -> str | None:
    """Publish the scenario's notices on the target; why not, if they cannot be."""
    if target.publish is None:
        return "notices: the target does not run in this process, so none can be published"
    try:
        target.publish(scenario.notices, moment)
    except IVRError as exc:
        return f"notices: {exc}"
    return None


def _failures(prefix: str, spec: CallSpec, caller: ScriptedCaller, trace: Trace,
              target: Target) -> list[str]:
    """What one call of a scenario did not do as expected, with what happened."""
    found = check(spec, trace, target)
    if caller.unused:
        found.append(f"answers never asked for: {' '.join(str(a) for a in caller.unused)}")
    if not found:
        return []
    return [f"{prefix}{f}" for f in found] + [
        f"{prefix}what happened: {summary(trace)}; heard last: {_tail(trace, target)}"]


def run_all(scenarios: Iterable[Scenario], target: Target) -> list[Result]:
    return [run(s, target) for s in scenarios]


def check(spec: CallSpec, trace: Trace, target: Target) -> list[str]:
    """Every expectation the trace (and the app's record of the call) does not meet."""
    expect, outcome = spec.expect, trace.outcome
    failures = []
    if "queue" in expect and expect["queue"] != outcome.queue:
        failures.append(f"expected queue {expect['queue']!r}, got {outcome.queue!r}")
    if "ended_by" in expect and expect["ended_by"] != outcome.ended_by:
        failures.append(
            f"expected the call to end by {expect['ended_by']!r}, not {str(outcome.ended_by)!r}"
        )
    events = trace.of_type("say", "play")
    for fragment in _for_lang(expect.get("heard"), spec.lang):
        if not any(_sounds_like(fragment, e, target) for e in events):
            failures.append(f"expected to hear {fragment!r}")
    for fragment in _for_lang(expect.get("not_heard"), spec.lang):
        said = next((e for e in events if _sounds_like(fragment, e, target)), None)
        if said is not None:
            failures.append(f"expected not to hear {fragment!r}, heard {target.heard(said)!r}")
    if "max_duration_s" in expect:
        took = trace.time_to_queue_s if trace.time_to_queue_s is not None else outcome.duration_s
        if took > float(expect["max_duration_s"]):
            failures.append(
                f"expected to be done within {expect['max_duration_s']} s, took {took:.1f} s"
            )
    wanted = dict(expect.get("record") or {})
    wanted.update({k: expect[k] for k in ("verified", "issue") if k in expect})
    if wanted:
        record = target.record(trace.call_sid)
        if record is None:
            failures.append(f"cannot check {sorted(wanted)}: no call record (in-process, or --db)")
        else:
            failures += [f"expected the call record's {m}" for m in _mismatches(wanted, record, "")]
    if "speech" in expect:
        failures += _speech_failures(list(expect["speech"]), target.logged(trace.call_sid))
    if "sms" in expect:
        failures += _sms_failures(_for_lang(expect["sms"], spec.lang), spec, trace, target)
    return failures


def _sms_failures(wanted: list[str], spec: CallSpec, trace: Trace, target: Target
                  ) -> list[str]:
    """The texts the app sent the caller for the call, against the fragments ``wanted``
    (none: no text at all)."""
    if target.texts is None:
        return ["cannot check sms: the app does not run in this process"]
    texts = target.texts(trace.call_sid)
    shown = "; ".join(f"to {t.to}: {t.body!r}" for t in texts) or "none"
    if not wanted:
        return [f"expected no text, the app sent {shown}"] if texts else []
    strays = [t for t in texts if t.to != spec.from_]
    found = [f"expected a text to {t.to}, the caller's number is {spec.from_}" for t in strays]
    bodies = " ".join(t.body for t in texts if t.to == spec.from_)
    found += [f"expected a text saying {w!r}; sent: {shown}" for w in wanted if w not in bodies]
    return found


def _speech_failures(wanted: list[str], rows: list[dict[str, Any]] | None) -> list[str]:
    """What the app made of the spoken answers (its log's ``heard``), against ``wanted``."""
    if rows is None:
        return ["cannot check speech: no call log (in-process, or --db)"]
    heard = [json.loads(r["heard"]) for r in rows if r.get("heard")]
    got = [f"{h['outcome']}:{h['target']}" if h.get("target") else h["outcome"] for h in heard]
    # a wanted outcome without its target matches that outcome whatever the target
    shown = [g if ":" in w else g.split(":", 1)[0] for w, g in zip(wanted, got, strict=False)]
    if len(got) == len(wanted) and shown == wanted:
        return []
    return [f"expected the app to hear {wanted}, it logged {got}"]


def _sounds_like(fragment: str, event: Mapping[str, Any], target: Target) -> bool:
    """A text fragment heard, or ``prompt:key`` / ``prompt:lang/key`` said or played."""
    if fragment.startswith("prompt:"):
        wanted = fragment.removeprefix("prompt:")
        keys = target.prompt_keys(event)
        return wanted in keys if "/" in wanted else any(k.endswith("/" + wanted) for k in keys)
    return fragment in target.heard(event)


def _for_lang(value: Any, lang: str | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [str(v) for v in value.get(lang, [])]
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def _mismatches(wanted: Mapping[str, Any], actual: Mapping[str, Any], path: str) -> list[str]:
    found = []
    for key, value in wanted.items():
        got = actual.get(key) if isinstance(actual, Mapping) else None
        if isinstance(value, Mapping) and isinstance(got, Mapping):
            found += _mismatches(value, got, f"{path}{key}.")
        elif got != value:
            found.append(f"{path}{key} to be {value!r}, got {got!r}")
    return found


def _tail(trace: Trace, target: Target, n: int = 2) -> str:
    heard = [target.heard(e) for e in trace.of_type("say", "play")][-n:]
    return " / ".join(repr(h[:80]) for h in heard) or "nothing"


def _dates(token: str, today: date) -> str:
    return token.replace("{today}", today.strftime("%Y%m%d")).replace(
        "{yesterday}", (today - timedelta(days=1)).strftime("%Y%m%d")
    )
