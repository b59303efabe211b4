"""``ivr demo``: a few scripted calls through the real app, printed as the caller hears them.

Runs on the embedded default (a SQLite file in a temporary folder, demo accounts seeded,
a throwaway token), so it works on a fresh machine with nothing configured. The calls
are placed on the coming weekday morning in the centre's timezone, so the demo shows the
same flows whenever it runs; ``--at`` places them at another moment. The demo data
follows the calls' moment (the top-up still processing is from the day before), and the
demo accounts are put back as they were before every run, so the scripted keys fit a
database the demo already ran on. Prints through ``echo`` only; logging is the caller's.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ivr.app import create_app
from ivr.moments import Moment
from ivr.plural import aligned
from ivr.records.wallet import DEMO_ACCOUNTS
from ivr.sim import Script, Trace
from ivr.sim.target import SimClock, for_app
from ivr.sim.transcript import lines

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DemoCall:
    title: str
    from_: str
    press: str  # ``{topup_date}``: the day of the demo's top-up, as the caller types it
    local_time: time | None = None  # on the demo day, instead of the morning
    #: the queue the caller asks for, when the title says how busy it is: the title then
    #: follows that queue at the moment the call is placed (``--at`` may move it)
    queue: str | None = None


MORNING, LUNCH = time(10, 30), time(12, 30)
TOPUP_ACCOUNT, TOPUP_AMOUNT = "10000001", Decimal("200.00")
TOPUP_AGE = timedelta(days=1)  # "yesterday": still processing, within the 48 hours promised


CALLS = (
    DemoCall("A top-up that has not arrived (Mandarin, recognised by caller ID)",
             "+8613800138000", "1 1 1 1 246810 0 1 {topup_date} 200#"),
    DemoCall("An English caller whose account was stolen, freezing it at once",
             "+14155550123", "2 3 1 112233 1"),
    DemoCall("A caller who cannot verify: three wrong PINs, then a person",
             "+8613700000000", "2 2 2 10000001# 111111 10000001# 222222 10000001# 333333"),
    # three strangers: one number calling three times would be known the second time
    # and offered the way back to its last need (ivr.records.known)
    DemoCall("A silent caller: Mandarin by default, then an agent after three time-outs",
             "+8613700000001", "_ _ _ _"),
    DemoCall("At the lunch peak: a long wait, the best times to call, then a callback",
             "+8613700000002", "2 0 2 1", LUNCH, queue="general"),
)

INTRO = ("ivr demo: {n} scripted calls to the real app (signed webhooks, in this process), "
         "on the demo accounts in {db}. Each shows when it is placed and what the caller "
         "presses, then second by second what the caller hears (the words, with the voice or "
         "the audio file played) and where the call ends; a summary closes.")


@dataclass(frozen=True, slots=True)
class Played:
    """One demo call as it went: its trace and the app's record of it."""

    call: DemoCall
    at: datetime
    trace: Trace
    record: Mapping[str, Any] | None
    route: tuple[str, ...]
    callback: str | None  # the queue a callback was booked for


def demo_day(now: datetime, zone: ZoneInfo) -> datetime:
    """The next weekday (today if it is one and it is still early) at 10:30, local."""
    local = now.astimezone(zone)
    day = local.date() if local.time() < MORNING else local.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, MORNING, zone)


def run(echo: Callable[[str], None], database: Path | None = None,
        at: Moment | datetime | None = None) -> list[Trace]:
    """Play the demo calls (all at ``at`` when given) and echo each transcript.

    ``at``: a moment, or a ``Moment`` from ``--at`` (read in the centre's timezone; a
    date alone plays the usual morning and lunch calls on that day).
    """
    with _workdir(database) as db:
        clock = SimClock()
        settings = {"TWILIO_AUTH_TOKEN": secrets.token_hex(16), "DEMO": True,
                    "DATABASE": str(db), "CLOCK": clock}
        app = create_app(settings)
        try:
            return _play(echo, app, clock, at, "a temporary database" if database is None
                         else str(database))
        finally:
            app.extensions["ivr"].store.close()


def _play(echo: Callable[[str], None], app: Any, clock: SimClock,
          at: Moment | datetime | None, where: str) -> list[Trace]:
    hotline = app.extensions["ivr"]
    zone = ZoneInfo(hotline.centre.timezone)
    moments = call_moments(at, zone, datetime.now(UTC))
    reset_demo_data(hotline, min(moments) - TOPUP_AGE)
    topup_day = (min(moments) - TOPUP_AGE).astimezone(zone)
    target = for_app(app)
    echo(INTRO.format(n=len(CALLS), db=where))
    played = []
    for call, moment in zip(CALLS, moments, strict=True):
        clock.at = moment
        press = call.press.format(topup_date=f"{topup_day:%Y%m%d}")
        local = moment.astimezone(zone)
        heading = title(call, hotline.centre, local, app.config["WAIT_THRESHOLD_S"])
        echo(f"\n=== {heading}\n    {local:%A %d %B %Y %H:%M} ({zone.key}), "
             f"from {call.from_}, pressing: {press}")
        trace = target.call(Script.parse(press).caller(), from_=call.from_)
        for line in lines(trace, target.heard):
            echo(f"    {line}")
        booked = hotline.store.read_one("SELECT queue FROM callbacks WHERE call_sid=?",
                                        (trace.call_sid,))
        played.append(Played(call, local, trace, target.record(trace.call_sid),
                             _route(hotline.store.events(trace.call_sid)),
                             booked["queue"] if booked else None))
    for line in summary(played):
        echo(line)
    return [p.trace for p in played]


def title(call: DemoCall, centre: Any, local: datetime, threshold_s: float) -> str:
    """The call's title, true to where it is placed: the lunch-peak call placed elsewhere
    by ``--at`` (Saturday 10:00, a quiet morning, the night) is titled by what its queue
    is like then, as the app will find it (the model's wait against the callback
    threshold); "the lunch peak" only when it is one."""
    if call.queue is None:
        return call.title
    if not centre.is_open(call.queue, local):
        return "While the line is closed: its opening hours and the best times to call"
    if centre.expected_wait_s(call.queue, local) <= threshold_s:
        return "At a quiet hour: a caller asking for a person is queued at once"
    peak = local.time() == call.local_time and local.weekday() < 5
    return ("At the lunch peak" if peak else "At a busy hour") + \
        ": a long wait, the best times to call, then a callback"


def call_moments(at: Moment | datetime | None, zone: ZoneInfo, now: datetime) -> list[datetime]:
    """When each demo call is placed: the demo day's morning (lunch for the peak call),
    or every call at ``at``."""
    day: date | None = None
    if isinstance(at, Moment):
        day = at.day if at.date_only else None
        at = None if at.date_only else at.resolve(zone, now)
    if at is not None:
        return [at] * len(CALLS)
    day = day or demo_day(now, zone).date()
    return [datetime.combine(day, call.local_time or MORNING, zone) for call in CALLS]


def reset_demo_data(hotline: Any, topup_at: datetime) -> None:
    """Put the demo accounts back as the README lists them, as of the demo's moment: their
    state (a freeze undone), one top-up from ``topup_at`` still processing, and no failed
    PINs or locks for them or for the demo's callers, whose earlier calls are forgotten as
    theirs (``ivr.records.known``: a second demo is not offered the first one's needs).
    Other accounts are not touched."""
    wallet, lockouts, store = hotline.wallet, hotline.lockouts, hotline.store
    callers = [k for k in (hotline.known.key(c.from_) for c in CALLS) if k]
    numbers = [number for number, *_ in DEMO_ACCOUNTS]
    with store.tx() as db:
        for number, _pin, _phone, status in DEMO_ACCOUNTS:
            db.execute("UPDATE accounts SET status=? WHERE number=?", (status, number))
        db.execute(f"DELETE FROM transactions WHERE account IN ({_marks(numbers)})", numbers)
        keys = [lockouts.key("a", n) for n in numbers]
        keys += [lockouts.key("c", c.from_) for c in CALLS]
        db.execute(f"DELETE FROM pin_attempts WHERE account_key IN ({_marks(keys)}) "
                   f"OR caller_key IN ({_marks(keys)})", keys + keys)
        db.execute(f"DELETE FROM pin_locks WHERE key IN ({_marks(keys)})", keys)
        db.execute(f"UPDATE calls SET caller_key=NULL WHERE caller_key IN ({_marks(callers)})",
                   callers)
    wallet.add_transaction(TOPUP_ACCOUNT, "topup", TOPUP_AMOUNT, "processing", topup_at)
    log.debug("demo accounts reset; their top-up is from %s", topup_at.isoformat())


def summary(played: list[Played]) -> list[str]:
    """The closing table: for each call where it ended, whether the caller was verified,
    how long it took and the menu nodes it went through."""
    rows = [("", "placed", "ended", "verified", "duration", "route")]
    for n, p in enumerate(played, 1):
        outcome = p.trace.outcome
        queue = (p.record or {}).get("queue") or outcome.queue
        ended = (f"queue {outcome.queue}" if outcome.queue
                 else f"callback from {p.callback}" if p.callback
                 else f"{outcome.ended_by}" + (f" (after {queue})" if queue else ""))
        rows.append((f"{n}.", f"{p.at:%a %H:%M}", ended,
                     "yes" if (p.record or {}).get("verified") else "no",
                     f"{outcome.duration_s:.0f} s", " > ".join(p.route) or "-"))
    out = ["", "=== Summary: where each call went"]
    out += ["    " + line for line in aligned(rows)]
    return out


def _route(events: list[Mapping[str, Any]]) -> tuple[str, ...]:
    """The menu nodes a call went through, in order, each once per visit."""
    route: list[str] = []
    for event in events:
        node = str(event.get("node") or "")
        if node and not node.startswith("(") and (not route or route[-1] != node):
            route.append(node)
    return tuple(route)


def _marks(values: list[str]) -> str:
    return ", ".join("?" * len(values))


@contextmanager
def _workdir(database: Path | None) -> Iterator[Path]:
    if database:
        yield database
        return
    with tempfile.TemporaryDirectory(prefix="ivr-demo-") as tmp:
        yield Path(tmp) / "ivr.db"
