"""The queue model's click commands: ``erlang``, ``advise`` and ``forecast``.

Thin: parse arguments, call ``ivr.queue``, print. They are plain commands, loaded by the
``ivr`` group (``ivr.cli.main``) when asked for. Times given without an
offset on the command line are the centre's local time, the clock ops read (``--at`` is
read by ``ivr.moments``, as in every command).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ivr.cli.args import MOMENT, Database, OutputFile, TextFile, app_settings, boundary
from ivr.errors import close_match
from ivr.moments import Moment
from ivr.queue import erlang
from ivr.queue import traffic as traffic_file
from ivr.queue.advice import Advice, Centre, describe_wait
from ivr.queue.forecast import MIN_CALLS_PER_OPEN_HOUR, forecast_from_db, small_samples

_FILE = TextFile()
#: a million agents (or Erlangs) is beyond any contact centre and takes 0.1 s to model;
#: the time grows with the agents (100 million took 16 s)
MAX_AGENTS = 1_000_000
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
#: a forecast averages up to ten years of weeks: older calls say little of next week's
MAX_WEEKS = 520


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
@click.option("--agents", type=click.IntRange(0, MAX_AGENTS), help="Agents on shift.")
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
    load = calls_per_hour * aht_s / 3600
    if load > MAX_AGENTS:
        raise click.BadParameter(
            f"{calls_per_hour:g} calls/h of {aht_s:g} s offer {load:,.0f} Erlangs; the model "
            f"runs up to {MAX_AGENTS:,}", param_hint="--calls-per-hour")
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
    result["target_s"] = target_s
    if as_json:
        click.echo(json.dumps(result))
        return
    model = "Erlang A" if patience_s is not None else "Erlang C"
    fewest = (f", the fewest answering {_percent(target_level)} within {target_s:g} s"
              if target_level is not None else "")
    click.echo(f"{model}: {calls_per_hour:g} calls/h, AHT {aht_s:g} s ({load:.4g} Erlangs), "
               f"{agents} agents{fewest}")
    asa = ("never answered (load >= agents)" if result["asa_s"] is None
           else f"{m.asa_s:.1f} s")
    rows = [("callers who wait", _percent(m.p_wait)),
            ("average wait of those answered", asa),
            (f"answered within {target_s:g} s (service level)", _percent(m.service_level)),
            ("agent occupancy", _percent(m.occupancy))]
    if patience_s is not None:
        rows.append((f"callers who hang up (patience {patience_s:g} s)",
                     _percent(m.p_abandon)))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        click.echo(f"  {label:<{width}}  {value}")


def _percent(share: float) -> str:
    """``0.8883`` as ``88.8 %``; a share that rounds to 0 or 100 but is not, said so."""
    value = share * 100
    if 0 < value < 0.1:
        return "< 0.1 %"
    if 99.9 < value < 100:
        return "> 99.9 %"
    return f"{value:.1f} %"


def _when(value: Moment | None, centre: Centre) -> datetime:
    """``--at``/``--now``: now by default; without an offset, the centre's local time."""
    now = datetime.now(UTC)
    return now if value is None else value.resolve(centre.traffic.zone, now)


def _traffic(path: Path | None) -> Path | None:
    """``--traffic``, else the app's TRAFFIC setting (``IVR_TRAFFIC``, or
    ``instance/config.py``), read as ``ivr serve`` reads it; None: the shipped week."""
    if path is not None:
        return path
    setting = app_settings().get("TRAFFIC")
    return Path(setting) if setting else None


def _centre(path: Path | None) -> Centre:
    with boundary([path or traffic_file.DEFAULT_PATH]):
        return Centre.load(path)


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
@click.option("--at", "at", type=MOMENT, metavar="TIME",
              help="When: an ISO time (without an offset, the centre's local time) or a "
              "weekday and time ('sat 10:00'). Default: now.")
@click.option("--queue", default="general", show_default=True)
@click.option("--traffic", "traffic_path", type=_FILE,
              help="Traffic file (default: the TRAFFIC setting, IVR_TRAFFIC, else the "
                   "shipped one).")
@click.option("--windows", default=3, show_default=True, type=click.IntRange(1, 20),
              help="How many windows to suggest.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--plot", "plot_path", type=OutputFile(PLOT_SUFFIXES),
              help="Also draw the week's expected waits to this PNG (or .svg, .pdf).")
def advise_command(at: Moment | None, queue: str, traffic_path: Path | None, windows: int,
                   as_json: bool, plot_path: Path | None) -> None:
    """The expected wait now and the best times to call in the coming week."""
    centre = _centre(_traffic(traffic_path))
    if queue not in centre.queues:
        close = close_match(queue, centre.queues, 0.6)
        hint = f" (did you mean {close!r}?)" if close else ""
        raise click.BadParameter(f"no queue {queue!r}{hint}; choose from "
                                 f"{', '.join(centre.queues)}", param_hint="--queue")
    advice = centre.advise(queue, _when(at, centre), windows)
    click.echo(json.dumps(advice.as_dict(), ensure_ascii=False) if as_json
               else _describe(advice, centre))
    if plot_path is not None:
        from ivr.queue.plot import plot_week

        try:
            plot_week(centre, queue, plot_path)
        except OSError as exc:
            raise click.ClickException(f"{plot_path}: cannot write: {exc.strerror}") from exc
        click.echo(f"wrote {plot_path}", err=True)


@click.command("forecast")
@click.option("--db", "--database", "db_path", type=Database(create=False), required=True,
              help="The IVR's database: a SQLite file or a postgresql:// URL.")
@click.option("--weeks", default=4, show_default=True, type=click.IntRange(1, MAX_WEEKS),
              help=f"Average over this many weeks up to --now (up to {MAX_WEEKS}).")
@click.option("--traffic", "traffic_path", type=_FILE,
              help="Traffic file whose staffing and hours to keep (default: the TRAFFIC "
                   "setting, IVR_TRAFFIC, else the shipped one).")
@click.option("-o", "--output", type=OutputFile((".yaml", ".yml")),
              help="Write the new traffic file here (default: stdout).")
@click.option("--now", "now", type=MOMENT, metavar="TIME",
              help="End of the period, read as --at is (default: now).")
def forecast_command(db_path: Path | str, weeks: int, traffic_path: Path | None,
                     output: Path | None, now: Moment | None) -> None:
    """A traffic file whose calls per hour come from the calls actually recorded.

    The period runs up to now, the hour in progress included. A warning on stderr names
    each queue whose averages rest on too few calls.
    """
    traffic_path = _traffic(traffic_path)
    centre = _centre(traffic_path)
    with boundary([traffic_path or traffic_file.DEFAULT_PATH]):
        base = traffic_file.read_raw(traffic_path)
        try:
            tree = forecast_from_db(db_path, weeks, _when(now, centre), base)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    text = traffic_file.dump(tree)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"{output}: cannot write: {exc.strerror}") from exc
        info = tree["forecast"]
        click.echo(f"wrote {output}: {info['calls']} calls, {info['from']} to {info['until']}",
                   err=True)
    few = small_samples(tree)
    if few:
        click.echo(f"warning: too few calls for hourly averages (about "
                   f"{MIN_CALLS_PER_OPEN_HOUR} per open hour of the week are needed; try more "
                   "--weeks); these queues' figures are mostly chance:", err=True)
        for line in few:
            click.echo(f"  {line}", err=True)
