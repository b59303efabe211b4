"""``ivr call`` and ``ivr replay``: thin click commands over the simulator.

Both run the app in this process on a sandbox (the demo accounts in a throwaway
database, signed with a generated token) unless ``--url`` points at a running server
(signed with ``--token``, or unsigned for a ``ivr serve --dev`` that has none).
Other modules add options to ``ivr call`` that receive the finished trace with
``register_trace_option`` (``--audio call.wav`` does).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ivr.cli.args import (
    MOMENT,
    CallRecords,
    Database,
    Finite,
    PhoneNumber,
    TextFile,
    WebhookURL,
    app_logs_quiet,
    app_settings,
    boundary,
    settings_files,
)
from ivr.menu.phrases import HAN
from ivr.moments import Moment
from ivr.phone import WITHHELD
from ivr.sim import bulk, calllog, scenario
from ivr.sim.caller import Answer, Caller, InteractiveCaller, Kind, Prompt, Script
from ivr.sim.errors import SimError
from ivr.sim.interpreter import DEFAULT_FROM, DEFAULT_TO, MAX_CALL_S, Hold
from ivr.sim.recognition import DEFAULT_CONFIDENCE, Recognition
from ivr.sim.target import Target, over_http, sandbox
from ivr.sim.trace import EndedBy, Trace
from ivr.sim.transcript import describe, lines, summary
from ivr.sim.transport import Reply, Request, Session, Transport, shown

log = logging.getLogger(__name__)

#: wait-loop documents a call may hear: about an hour and a half of the shipped hold loop,
#: well inside the simulator's 200 requests per call (a million ran 12,043 s, then gave up)
MAX_HOLD_LOOPS = 100
#: scenario runs of one ``replay`` (each a fresh database) and processes running them
MAX_REPEAT, MAX_WORKERS = 10_000, 64

TraceHandler = Callable[[Trace, Any], None]
_TRACE_OPTIONS: list[tuple[str, TraceHandler]] = []


def register_trace_option(option: click.Option, handle: TraceHandler) -> None:
    """Add ``option`` to ``ivr call``; ``handle(trace, value)`` runs after the call
    whenever the option was given (its value is not None)."""
    call.params.append(option)
    _TRACE_OPTIONS.append((str(option.name), handle))


def _target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--url",
                type=WebhookURL(),
                help="A running server (its base or Voice URL, e.g. http://127.0.0.1:8000) "
                "instead of the app in this process.",
            ),
            click.option(
                "--token",
                envvar="TWILIO_AUTH_TOKEN",
                help="Auth token to sign with (--url; env TWILIO_AUTH_TOKEN). Without "
                "one the webhooks go unsigned, as an `ivr serve --dev` without a token takes them.",
            ),
            click.option(
                "--menu",
                type=TextFile(),
                help="Another menu tree for the app in this process.",
            ),
            click.option(
                "--db",
                "--database",
                "db",
                type=Database(create=True, postgres=False),
                help="In-process: keep the calls in this database instead of a "
                "throwaway one. With --url: the server's database, to read records.",
            ),
        ]
    ):
        func = option(func)
    return func


@click.command("call")
@click.option(
    "--press",
    help='Scripted answers, one per prompt: "2 1 1 246810# 1"; '
    "_ is a time-out, h hangs up, say takes the next --say. Default: interactive.",
)
@click.option("--say", "says", multiple=True,
              help="Speech answers, in order (alone: after the language key, picked by "
              "their words unless --lang).")
@click.option("--confidence", type=Finite(0, 1), default=DEFAULT_CONFIDENCE, show_default=True,
              help="The Confidence the recogniser sends with the speech (0 to 1).")
@click.option("--noise", type=Finite(0, 1), metavar="RATE",
              help="Recognition errors: each word spoken is dropped or swapped with its "
              "neighbour with this chance (0 to 1), the Confidence lowered to match.")
@click.option("--seed", type=click.IntRange(0), metavar="N",
              help="With --noise: repeat the same errors (default: a fresh seed, shown).")
@click.option("--from", "from_", default=DEFAULT_FROM, show_default=True,
              type=PhoneNumber(withheld_ok=True),
              help=f"Caller ID: E.164 ('+' and digits), or {WITHHELD!r} (withheld).")
@click.option("--to", default=DEFAULT_TO, show_default=True, type=PhoneNumber(),
              help="The number called (E.164).")
@click.option("--lang", help="Pick this language first (zh-CN, en-US) at the language menu.")
@click.option(
    "--at",
    type=MOMENT,
    metavar="TIME",
    help="When the call happens (in-process): an ISO time (without an offset, the centre's "
    "local time) or a weekday and time ('tue 12:30'). Default: now.",
)
@click.option(
    "--hold-loops",
    type=click.IntRange(1, MAX_HOLD_LOOPS),
    default=1,
    show_default=True,
    help=f"Hold documents heard before the simulation ends in the queue (up to "
    f"{MAX_HOLD_LOOPS}).",
)
@click.option(
    "--bridge-after",
    type=Finite(0, MAX_CALL_S),
    help="An agent answers after this many s of hold (up to "
    f"{MAX_CALL_S:g}, Twilio's longest call).",
)
@click.option(
    "--talk",
    type=Finite(0, MAX_CALL_S),
    metavar="S",
    help="With --bridge-after: the agent talks this many s, then hangs up, and the caller "
    "hears what follows (the survey: how satisfied were they, 1 to 5).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the trace as JSON.")
@_target_options
def call(
    press: str | None,
    says: tuple[str, ...],
    confidence: float,
    noise: float | None,
    seed: int | None,
    from_: str,
    to: str,
    lang: str | None,
    at: Moment | None,
    hold_loops: int,
    bridge_after: float | None,
    talk: float | None,
    as_json: bool,
    url: str | None,
    token: str | None,
    menu: Path | None,
    db: Path | None,
    **extra: Any,
) -> None:
    """Phone the hotline: hear what a caller hears and answer with keys or words.

    Interactive unless --press or --say: Enter alone is a time-out, h hangs up,
    'say words' speaks. Exits 0 when the call ends normally, 1 on an error.
    """
    if at and url:
        raise click.BadParameter(
            "a running server keeps its own clock; --at works in-process only", param_hint="--at"
        )
    if talk is not None and bridge_after is None:
        raise click.BadParameter("the agent talks once one answers: give --bridge-after S too",
                                 param_hint="--talk")
    if seed is not None and noise is None:
        raise click.BadParameter("the seed repeats the noise: give --noise RATE too",
                                 param_hint="--seed")
    recognition = Recognition(confidence, noise or 0.0, seed)
    with _app_logs_quiet(), _target(url, token, menu, db) as target:
        if at:
            moment = at.resolve(target.zone, datetime.now(UTC))
            target.set_clock(moment)
            log.debug("the call happens at %s", moment.isoformat())
        tokens = (press or "").split() if press is not None else ["say"] * len(says)
        lang = lang or _spoken_language(tokens, says, target)
        first = [_language_key(lang, target)] if lang else []
        caller: Caller
        if press is None and not says:
            live = InteractiveCaller(
                read=_read_line,
                show=lambda e: click.echo(describe(e, target.heard)),
                read_secret=_read_secret,
            )
            caller = _Prefixed(live, [Answer.parse(k) for k in first])
        else:
            try:
                script = Script.parse([*first, *tokens], says)
            except SimError as exc:
                raise click.BadParameter(str(exc), param_hint="--press/--say") from exc
            _speaks(script, confidence, noise)
            caller = script.caller()
        trace = target.call(
            caller,
            from_=from_,
            to=to,
            hold=Hold(wait_loops=hold_loops, bridge_after_s=bridge_after, talk_s=talk),
            recognition=recognition,
        )
        record = target.record(trace.call_sid)
        understood = _understood(target.logged(trace.call_sid) or [])
        texts = target.texts(trace.call_sid) if target.texts else []
    _refused(trace, url, token)
    if as_json:
        click.echo(trace.to_json())
    else:
        live_already = isinstance(caller, _Prefixed)
        shown = [summary(trace)] if live_already else lines(trace, target.heard)
        for line in shown:
            click.echo(line)
        for line in understood:
            click.echo(line)
        if record:
            click.echo(
                f"call record: verified={record['verified']} issue={record['issue']} "
                f"queue={record['queue']} result={record.get('queue_result')}"
            )
        for text in texts:
            click.echo(f"SMS to {text.to}: {text.body}")
    for name, handle in _TRACE_OPTIONS:
        if extra.get(name) is not None:
            handle(trace, extra[name])
    if trace.outcome.ended_by is EndedBy.ERROR:
        _unanswered(trace, url)
        raise SystemExit(1)


@click.command("replay")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--calls",
    "calls_from",
    type=CallRecords(),
    help="Re-run the recorded inputs of real calls: the app's database (a file or a "
    "postgresql:// URL, only read) or an export (.json, .jsonl). "
    "With --menu, compare the current tree with that one.",
)
@click.option(
    "--repeat",
    type=click.IntRange(1, MAX_REPEAT),
    default=1,
    show_default=True,
    help="Run the scenarios this many times (bulk).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    default=1,
    show_default=True,
    help="Processes for bulk runs, each with its own sandbox app.",
)
@click.option(
    "--time-tolerance",
    type=Finite(0),
    default=10.0,
    show_default=True,
    help="With --calls: time to queue differences within this many s are the same.",
)
@click.option("--strict", is_flag=True, help="With --calls: exit 1 when any call differs.")
@click.option("-q", "--quiet", is_flag=True, help="Print only failures and the summary.")
@_target_options
def replay(
    paths: tuple[Path, ...],
    calls_from: Path | str | None,
    repeat: int,
    workers: int,
    time_tolerance: float,
    strict: bool,
    quiet: bool,
    url: str | None,
    token: str | None,
    menu: Path | None,
    db: Path | None,
) -> None:
    """Run scenario files (a folder runs every *.yaml in it), or replay real calls.

    One line per scenario and "N passed, N failed"; exits 1 when any scenario fails.
    """
    if bool(paths) == bool(calls_from):
        raise click.UsageError("give scenario files or folders, or --calls, not both")
    with _app_logs_quiet():
        if calls_from:
            _replay_calls(calls_from, menu, url, token, db, time_tolerance, strict, quiet)
            return
        files = [f for p in paths for f in (sorted(p.rglob("*.yaml")) if p.is_dir() else [p])]
        try:
            with boundary(files):
                scenarios = [s for p in paths for s in scenario.load(p)] * repeat
        except SimError as exc:
            raise click.ClickException(str(exc)) from exc
        if url or workers == 1:
            with _target(url, token, menu, db) as target:
                batch = bulk.run_batch(scenarios, target=target)
        else:
            batch = bulk.run_batch(scenarios, workers=workers, menu=menu)
    for result in batch.results:
        if not (quiet and result.passed):
            click.echo(result.line())
    passed = len(batch.results) - len(batch.failed)
    click.echo(f"{passed} passed, {len(batch.failed)} failed")
    if repeat > 1 or workers > 1:
        click.echo(batch.summary())
    if batch.failed:
        raise SystemExit(1)


def _replay_calls(
    path: Path | str,
    menu: Path | None,
    url: str | None,
    token: str | None,
    db: Path | None,
    tolerance: float,
    strict: bool,
    quiet: bool,
) -> None:
    try:
        recorded = calllog.read(path)
    except SimError as exc:
        raise click.ClickException(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not an ivr database nor a UTF-8 export") from exc
    with _target(url, token, None, db) as current:
        if menu:
            with _target(None, None, menu, None) as other:
                replayed = calllog.compare(recorded, current, other)
        else:
            replayed = calllog.compare(recorded, current)
    differ = [r for r in replayed if r.differences(tolerance)]
    for item in replayed:
        if not (quiet and item not in differ):
            click.echo(item.line(tolerance))
    against = f"{menu} against the current tree" if menu else "against the recorded outcomes"
    click.echo(f"{len(replayed)} calls replayed ({against}): {len(differ)} differ")
    if strict and differ:
        raise SystemExit(1)


@contextmanager
def _target(
    url: str | None, token: str | None, menu: Path | None, db: Path | None
) -> Iterator[Target]:
    with boundary(lambda: [menu, *settings_files()]):
        if url:
            target = over_http(
                url,
                token or "",
                menu_path=str(menu) if menu else None,
                database=str(db) if db else None,
            )
            log.debug("calling %s (%s)", target.voice_url, "signed" if token else "unsigned")
            yield _logged(target)
            return
        # the settings are read as the app reads them, though the sandbox keeps its own
        # database: an IVR_DATABASE the app would refuse is refused here too
        app_settings(db)
        with sandbox(menu, {"DATABASE": str(db)} if db else None,
                     keep_records=db is not None) as target:
            log.debug("calling the app in this process (menu %s, database %s)",
                      menu or "the shipped one", db or "a throwaway one")
            yield _logged(target)


def _refused(trace: Trace, url: str | None, token: str | None) -> None:
    """A server that checks signatures refuses an unsigned call: say why, not 11200."""
    if url and not token and "status 403" in _error(trace):
        raise click.ClickException(
            f"{url} refused the unsigned webhook (403): it checks signatures; give "
            "--token or set TWILIO_AUTH_TOKEN (only `ivr serve --dev` without a token "
            "takes unsigned calls)"
        )


def _unanswered(trace: Trace, url: str | None) -> None:
    """Nothing listens at ``--url``: the trace ends in 11200, as Twilio's would; say what
    that means here, on stderr."""
    if url and "Connection refused" in _error(trace):
        click.echo(f"note: nothing answers at {url} (connection refused): is `ivr serve` "
                   "running there, on that port?", err=True)


def _error(trace: Trace) -> str:
    """What ended a call that ended in an error ("" for any other end)."""
    if trace.outcome.ended_by is not EndedBy.ERROR:
        return ""
    return str(next((e for e in trace.events if e["type"] == "error"), {}).get("message", ""))


def _logged(target: Target) -> Target:
    """The target, its webhooks logged at debug level (``ivr -v``)."""
    if not log.isEnabledFor(logging.DEBUG):
        return target
    return dataclasses.replace(target, transport=_LoggedTransport(target.transport))


class _LoggedTransport:
    """Logs each webhook and its answer; never a form value (it may be a PIN)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def session(self) -> Session:
        return _LoggedSession(self.transport.session())


class _LoggedSession:
    def __init__(self, session: Session) -> None:
        self.inner = session

    def send(self, request: Request) -> Reply:
        reply = self.inner.send(request)
        log.debug("%s %s -> %d %s, %d bytes", request.method, shown(request.url), reply.status,
                  reply.content_type.split(";")[0] or "-", len(reply.body))
        return reply


@contextmanager
def _app_logs_quiet() -> Iterator[None]:
    """The app's warnings (locked accounts...) are expected here: show them only with -v."""
    with app_logs_quiet():
        yield


def _language_key(lang: str, target: Target) -> str:
    keys = target.language_keys()
    if lang not in keys:
        raise click.BadParameter(
            f"the menu offers {sorted(keys) or 'no language choice'}", param_hint="--lang"
        )
    return keys[lang]


def _spoken_language(tokens: list[str], says: tuple[str, ...], target: Target) -> str | None:
    """A script that starts by speaking picks the language of its words at the language
    menu (Chinese characters: zh-CN, else en-US), when the menu offers it."""
    if not tokens or not says:
        return None
    first = tokens[0]
    words = says[0] if first.lower() == "say" else \
        first[4:] if first.lower().startswith("say:") else None
    if words is None:
        return None
    wanted = "zh-CN" if HAN.search(words) else "en-US"
    return wanted if wanted in target.language_keys() else None


def _speaks(script: Script, confidence: float, noise: float | None) -> None:
    """--confidence and --noise are about speech: refuse them for a script of keys."""
    if any(a.kind is Kind.SPEECH for a in script.answers):
        return
    for given, name in ((noise is not None, "--noise"),
                        (confidence != DEFAULT_CONFIDENCE, "--confidence")):
        if given:
            raise click.BadParameter("the script says nothing: give --say (or 'say:words' in "
                                     "--press)", param_hint=name)


def _understood(rows: list[dict[str, Any]]) -> list[str]:
    """What the app made of each spoken answer, from its log of the call (never the
    words: it keeps what they matched, how well, and the recogniser's Confidence)."""
    found = []
    for row in rows:
        if not row.get("heard"):
            continue
        heard = json.loads(row["heard"])
        target = f" {heard['target']}" if heard.get("target") else ""
        how = ", ".join(f"{k} {heard[k]:g}" for k in ("score", "confidence") if k in heard)
        found.append(f"speech at {row['node']}: {heard['outcome']}{target}"
                     + (f" ({how})" if how else ""))
    return found


def _read_line(prompt: str, hide_input: bool = False) -> str:
    try:
        return str(
            click.prompt(
                prompt, default="", show_default=False, prompt_suffix="", hide_input=hide_input
            )
        )
    except click.Abort:
        return "h"  # end of input: the caller puts the phone down


def _read_secret(prompt: str) -> str:
    """A PIN or an account number: typed without echo, so the terminal never shows it."""
    return _read_line(prompt, hide_input=True)


class _Prefixed:
    """A caller whose first answers are fixed (the language key), then asks a person."""

    def __init__(self, caller: Caller, first: list[Answer]) -> None:
        self.caller, self.first = caller, first

    def answer(self, prompt: Prompt) -> Answer:
        if self.first:
            answer = self.first.pop(0)
            click.echo(f"[{answer}]")
            return answer
        return self.caller.answer(prompt)

    def hear(self, event: Any) -> None:
        self.caller.hear(event)
