"""``ivr demo``: a few scripted calls through the real app, printed as the caller hears them.

Runs on the embedded default (a SQLite file in a temporary folder, demo accounts seeded,
a throwaway token), so it works on a fresh machine with nothing configured. The calls
are placed on the coming weekday morning in the centre's timezone, so the demo shows the
same flows whenever it runs; ``--at`` places them at another moment.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ivr.app import create_app
from ivr.sim import CallOptions, FlaskTransport, Script, Trace, simulate
from ivr.sim.transcript import lines


@dataclass(frozen=True, slots=True)
class DemoCall:
    title: str
    from_: str
    press: str
    local_time: time | None = None  # on the demo day, instead of the morning


MORNING, LUNCH = time(10, 30), time(12, 30)


CALLS = (
    DemoCall("A top-up that has not arrived (Mandarin, recognised by caller ID)",
             "+8613800138000", "1 1 1 1 246810 0 1 20261120 200#"),
    DemoCall("An English caller whose account was stolen, freezing it at once",
             "+14155550123", "2 3 1 112233 1"),
    DemoCall("A caller who cannot verify: three wrong PINs, then a person",
             "+8613700000000", "2 2 2 10000001# 111111 10000001# 222222 10000001# 333333"),
    DemoCall("A silent caller: Mandarin by default, then an agent after three time-outs",
             "+8613700000000", "_ _ _ _"),
    DemoCall("At the lunch peak: a long wait, the best times to call, then a callback",
             "+8613700000000", "2 0 2 1", LUNCH),
)


def demo_day(now: datetime, zone: ZoneInfo) -> datetime:
    """The next weekday (today if it is one and it is still early) at 10:30, local."""
    local = now.astimezone(zone)
    day = local.date() if local.time() < MORNING else local.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, MORNING, zone)


def run(echo: Callable[[str], None], database: Path | None = None,
        at: datetime | None = None) -> list[Trace]:
    """Play the demo calls (all at ``at`` when given) and echo each transcript."""
    with _workdir(database) as db:
        token = secrets.token_hex(16)
        clock = [at or datetime.now(UTC)]
        settings = {"TWILIO_AUTH_TOKEN": token, "DEMO": True, "DATABASE": str(db),
                    "CLOCK": lambda: clock[0]}
        app = create_app(settings)
        zone = ZoneInfo(app.extensions["ivr"].centre.timezone)
        morning = demo_day(clock[0], zone)
        transport = FlaskTransport(app)
        traces = []
        for call in CALLS:
            if at is None:
                clock[0] = datetime.combine(morning.date(), call.local_time or MORNING, zone)
            echo(f"\n=== {call.title}\n    {clock[0]:%A %d %B %H:%M} ({zone.key}), "
                 f"from {call.from_}, pressing: {call.press}")
            trace = simulate("http://localhost/voice", transport=transport, token=token,
                             caller=Script.parse(call.press).caller(),
                             options=CallOptions(from_=call.from_))
            for line in lines(trace):
                echo(f"    {line}")
            traces.append(trace)
        return traces


@contextmanager
def _workdir(database: Path | None) -> Iterator[Path]:
    if database:
        yield database
        return
    with tempfile.TemporaryDirectory(prefix="ivr-demo-") as tmp:
        yield Path(tmp) / "ivr.db"

