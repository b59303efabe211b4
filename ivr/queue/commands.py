"""The queue model's click commands: ``erlang``, ``advise`` and ``forecast``.

Thin: parse arguments, call ``ivr.queue``, print. They are plain commands, registered on
the ``ivr`` group in ``ivr/cli.py`` with ``cli.add_command``. Times given without an
offset on the command line are the centre's local time, the clock ops read.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ivr.errors import IVRError
from ivr.queue import erlang
from ivr.queue import traffic as traffic_file
from ivr.queue.advice import Advice, Centre, describe_wait, plot_week
from ivr.queue.forecast import forecast_from_db

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else value


def _non_negative(ctx: click.Context, param: click.Parameter, value: float | None
                  ) -> float | None:
    if value is not None and not (value >= 0 and math.isfinite(value)):
        raise click.BadParameter(f"must be a finite number >= 0, not {value}")
    return value


def _positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise click.BadParameter(f"must be a finite number > 0, not {value}")
    return value


@click.command("erlang")
@click.option("--calls-per-hour", type=float, required=True, callback=_non_negative,
              help="Forecast calls arriving per hour.")
@click.option("--aht-s", type=float, required=True, callback=_positive,
              help="Mean handle time, seconds.")
@click.option("--agents", type=click.IntRange(min=0), help="Agents on shift.")
@click.option("--target-level", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Instead of --agents: find the fewest agents reaching this service level.")
@click.option("--target-s", type=float, default=20.0, show_default=True, callback=_non_negative,
              help="Service-level target: answered within this many seconds.")
@click.option("--patience-s", type=float, callback=_positive,
              help="Mean caller patience, seconds: Erlang A instead of Erlang C.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def erlang_command(calls_per_hour: float, aht_s: float, agents: int | None,
                   target_level: float | None, target_s: float, patience_s: float | None,
                   as_json: bool) -> None:
    """Waits, service level and occupancy for one queue, or the agents it needs."""
    if (agents is None) == (target_level is None):
        raise click.UsageError("give exactly one of --agents and --target-level")
    result: dict[str, Any] = {}
    if agents is None:
        assert target_level is not None
        agents = erlang.agents_for(calls_per_hour, aht_s, target_level, target_s, patience_s)
        result["agents"] = agents
    m = erlang.metrics(calls_per_hour, aht_s, agents, target_s, patience_s)
    result |= {"p_wait": m.p_wait, "asa_s": _finite(m.asa_s), "service_level": m.service_level,
               "occupancy": m.occupancy}
    if patience_s is not None:
        result["p_abandon"] = m.p_abandon
    if as_json:
        click.echo(json.dumps(result))
        return
    model = "Erlang A" if patience_s is not None else "Erlang C"
    click.echo(f"{model}: {calls_per_hour:g} calls/h, AHT {aht_s:g} s, {agents} agents")
    for key, value in result.items():
        shown = "never answered (load >= agents)" if value is None else f"{value:.6g}"
        click.echo(f"  {key:<14} {shown}")


def _when(value: str | None, centre: Centre, option: str) -> datetime:
    """An ISO-8601 option; without an offset it is the centre's local time."""
    if value is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO-8601 time: {value!r}", param_hint=option) from None
    return at.replace(tzinfo=centre.traffic.zone) if at.tzinfo is None else at


def _centre(path: Path | None) -> Centre:
    try:
        return Centre.load(path)
    except IVRError as exc:
        raise click.ClickException(str(exc)) from exc


def _describe(advice: Advice, centre: Centre) -> str:
    at = advice.at
    head = f"{advice.queue}, {at:%A %Y-%m-%d %H:%M} ({centre.timezone}): "
    if advice.open_now:
        lines = [head + f"open, expected wait {describe_wait(advice.expected_wait_s)}."]
    else:
        opens = centre.next_open(advice.queue, at)
        lines = [head + f"closed; opens {opens:%A %Y-%m-%d %H:%M}.",
                 f"Opening hours: {centre.opening_hours(advice.queue).describe()}."]
    if advice.windows:
        lines.append("Best times to call:")
        lines += [f"  {i}. {w.describe()}" for i, w in enumerate(advice.windows, 1)]
    if not advice.certain:
        lines.append("Note: the holiday calendar does not cover all of the coming week yet, "
                     "so this advice is less certain.")
    return "\n".join(lines)


@click.command("advise")
@click.option("--at", "at_text", metavar="ISO", help="When (ISO-8601; default now; without "
              "an offset, the centre's local time).")
@click.option("--queue", default="general", show_default=True)
@click.option("--traffic", "traffic_path", type=_FILE, help="Traffic file (default: shipped).")
@click.option("--windows", default=3, show_default=True, type=click.IntRange(1, 20),
              help="How many windows to suggest.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the week's expected waits to this PNG.")
def advise_command(at_text: str | None, queue: str, traffic_path: Path | None, windows: int,
                   as_json: bool, plot_path: Path | None) -> None:
    """The expected wait now and the best times to call in the coming week."""
    centre = _centre(traffic_path)
    if queue not in centre.queues:
        raise click.BadParameter(f"no queue {queue!r}; choose from {', '.join(centre.queues)}",
                                 param_hint="--queue")
    advice = centre.advise(queue, _when(at_text, centre, "--at"), windows)
    click.echo(json.dumps(advice.as_dict(), ensure_ascii=False) if as_json
               else _describe(advice, centre))
    if plot_path is not None:
        plot_week(centre, queue, plot_path)
        click.echo(f"wrote {plot_path}", err=True)


@click.command("forecast")
@click.option("--db", "db_path", type=_FILE, required=True, help="The IVR's SQLite database.")
@click.option("--weeks", default=4, show_default=True, type=click.IntRange(min=1),
              help="Average over this many weeks before --now.")
@click.option("--traffic", "traffic_path", type=_FILE,
              help="Traffic file whose staffing and hours to keep (default: shipped).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the new traffic file here (default: stdout).")
@click.option("--now", "now_text", metavar="ISO", help="End of the period (default now).")
def forecast_command(db_path: Path, weeks: int, traffic_path: Path | None,
                     output: Path | None, now_text: str | None) -> None:
    """A traffic file whose calls per hour come from the calls actually recorded."""
    centre = _centre(traffic_path)
    now = _when(now_text, centre, "--now")
    try:
        base = traffic_file.read_raw(traffic_path)
        tree = forecast_from_db(db_path, weeks, now, base)
    except (IVRError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    text = traffic_file.dump(tree)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    info = tree["forecast"]
    click.echo(f"wrote {output}: {info['calls']} calls, {info['from']} to {info['until']}",
               err=True)
