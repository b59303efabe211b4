"""``ivr plan``: a day (or a week) of the whole centre, callers through the real tree
into staffed queues, and with ``--staff-for`` the agents that meet a target.

Thin: read the tree, the catalog, the mix (or learn it and the hours from the calls
recorded, ``--db``: ``ivr.tuning.learn``), the traffic file and any plan file, build
the scenario (``ivr.plan.scenario``), run it, and print text, ``--json`` or ``--csv``,
draw ``--plot``; ``--staff-for`` calls ``ivr.plan.search``, ``--against`` ``ivr.plan.compare``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
import yaml

from ivr.cli.args import Database, Finite, OutputFile, TextFile, app_settings, boundary
from ivr.menu import load_validated
from ivr.plan import inputs, report
from ivr.plan.arrivals import parse_hourly
from ivr.plan.compare import compare, on_tree
from ivr.plan.figures import figures
from ivr.plan.search import Proposal, staff_for
from ivr.plan.staffing import Target, dump_plan
from ivr.queue import traffic as traffic_file

_DISTRIBUTIONS = click.Choice(["exponential", "lognormal"])
#: seeds for checking a proposal, and fresh ones for confirming it, start here, apart
#: from the search's and from each other
CHECK_FROM, FRESH_FROM = 500, 1000


if TYPE_CHECKING:  # generic from click 8.2; plain before
    _TargetBase = click.ParamType[Target]
else:
    _TargetBase = click.ParamType


class _TargetType(_TargetBase):
    name = "LEVEL/SECONDS"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> Target:
        if isinstance(value, Target):
            return value
        try:
            return Target.parse(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


if TYPE_CHECKING:
    _HourlyBase = click.ParamType[tuple[float, ...]]
else:
    _HourlyBase = click.ParamType


class _HourlyType(_HourlyBase):
    name = "HOURS=FACTOR,..."

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[float, ...]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_hourly(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.command("plan")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="The first day simulated, in the traffic file's calendar (default: today).")
@click.option("--days", type=click.IntRange(1, 7), default=1, show_default=True,
              help="Days simulated from --date (7: a week).")
@click.option("--scale", type=Finite(0.0, None, min_open=True), default=1.0, show_default=True,
              help="Every hour's calls times this (Singles' Day: 3).")
@click.option("--hourly", type=_HourlyType(), metavar="HOURS=FACTOR,...",
              help="Chosen hours of every day times their factor (0 or more), on top of "
                   "--scale, comma-separated: 12=3 (12:00-13:00), 13:00-15:00=2.5 (13 and "
                   "14: the end left out).")
@click.option("--db", "--database", "db", type=Database(create=False),
              help="Learn the calls per hour of each weekday and the mix from the calls "
                   "recorded in this database (a SQLite file or a postgresql:// URL) "
                   "instead of the traffic file's forecast (kept for weekdays no day "
                   "recorded ran as) and --mix.")
@click.option("--interval", "interval_min", type=click.Choice(["15", "30", "60"]), default="30",
              show_default=True, help="Minutes per interval of the figures and the staffing.")
@click.option("--menu", "menu_path", type=TextFile(), help="The tree (default: the MENU "
              "setting, else the shipped one).")
@click.option("--against", "against_path", type=TextFile(),
              help="A second tree: B − A over the same callers, with 95 % intervals over "
                   "the --runs seeds (5 unless given).")
@click.option("--mix", "mix_path", type=TextFile(),
              help="Who calls why (default: the shipped ivr/data/mix.yaml).")
@click.option("--traffic", "traffic_path", type=TextFile(),
              help="The centre's week (default: the TRAFFIC setting, else the shipped one).")
@click.option("--prompts", "prompts_dir", type=TextFile(folder=True),
              help="Prompt catalog folder (default: the PROMPTS_DIR setting).")
@click.option("--staffing", "staffing_path", type=TextFile(),
              help="Agents per queue and interval (a plan file) over the traffic file's, "
                   "and groups of agents shared by queues.")
@click.option("--handle", type=_DISTRIBUTIONS, default="exponential", show_default=True,
              help="Handle time's distribution, its mean the queue's aht_s.")
@click.option("--handle-cv", type=Finite(0.0, 10.0, min_open=True), default=1.0,
              show_default=True, help="Lognormal handle time: its coefficient of variation.")
@click.option("--patience", type=_DISTRIBUTIONS, default="exponential", show_default=True,
              help="Patience in the queue, its mean the queue's patience_s.")
@click.option("--patience-cv", type=Finite(0.0, 10.0, min_open=True), default=1.0,
              show_default=True, help="Lognormal patience: its coefficient of variation.")
@click.option("--target-s", type=Finite(0.0, 3600.0), default=20.0, show_default=True,
              help="Service level: answered within this many seconds.")
@click.option("--threshold-s", type=Finite(0.0, None), metavar="SECONDS",
              help="A callback is offered when the wait told is over this (default: the "
                   "WAIT_THRESHOLD_S setting).")
@click.option("--callback-take", type=Finite(0.0, 1.0), default=0.5, show_default=True,
              help="The share of callers offered a callback who take it.")
@click.option("--retry", type=Finite(0.0, 1.0), default=0.3, show_default=True,
              help="The share of callers hanging up in a queue who call again.")
@click.option("--retry-delay-min", type=Finite(0.0, 1440.0, min_open=True), default=10.0,
              show_default=True, help="Their mean delay before calling again, in minutes.")
@click.option("--runs", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Runs on seeds SEED, SEED+1, ...; counts are the mean per run.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True)
@click.option("--staff-for", "staff_target", type=_TargetType(),
              help="The fewest agents per interval meeting LEVEL within SECONDS (0.8/20).")
@click.option("--seeds", "search_seeds", type=click.IntRange(1, 50), default=5,
              show_default=True, help="--staff-for: seeds the search pools, and fresh ones "
                                      "to confirm.")
@click.option("-o", "--output", type=OutputFile((".yaml", ".yml")),
              help="--staff-for: write the proposal as a plan file (for --staffing).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "csv_path", type=OutputFile((".csv",)), help="Write the figures as CSV.")
@click.option("--plot", "plot_path", type=OutputFile((".png", ".svg")),
              help="Draw the day (PNG or SVG).")
def plan_command(day: datetime | None, days: int, scale: float,
                 hourly: tuple[float, ...] | None, db: Path | str | None, interval_min: str,
                 menu_path: Path | None, against_path: Path | None, mix_path: Path | None,
                 traffic_path: Path | None, prompts_dir: Path | None, staffing_path: Path | None, handle: str,
                 handle_cv: float, patience: str, patience_cv: float, target_s: float,
                 threshold_s: float | None, callback_take: float, retry: float,
                 retry_delay_min: float, runs: int, seed: int, staff_target: Target | None,
                 search_seeds: int, output: Path | None, as_json: bool, csv_path: Path | None,
                 plot_path: Path | None) -> None:
    """A day of the whole centre: callers through the real tree into staffed queues."""
    context = click.get_current_context()
    if against_path and staff_target:
        raise click.UsageError("--against compares two trees on the same staffing; leave out "
                               "--staff-for")
    if against_path and context.get_parameter_source("runs") is \
            click.core.ParameterSource.DEFAULT:
        runs = 5  # an interval needs seeds
    if mix_path and db:
        raise click.UsageError("give --mix or --db, not both")
    if output and not staff_target:
        raise click.UsageError("-o is where --staff-for writes its proposal; give --staff-for")
    if staff_target and context.get_parameter_source("target_s") \
            is not click.core.ParameterSource.DEFAULT and staff_target.within_s != target_s:
        raise click.UsageError("--target-s and --staff-for's seconds differ; give one")
    settings = app_settings()
    menu_path = menu_path or (Path(settings["MENU"]) if settings.get("MENU") else None)
    prompts_dir = prompts_dir or Path(settings["PROMPTS_DIR"])
    if traffic_path is None and settings.get("TRAFFIC"):
        traffic_path = Path(settings["TRAFFIC"])
    interval_s = int(interval_min) * 60.0
    target_s = staff_target.within_s if staff_target else target_s
    files = [menu_path, against_path, mix_path, prompts_dir, traffic_path or traffic_file.DEFAULT_PATH,
             staffing_path]
    with boundary(files):
        sources = inputs.read(settings, menu_path=menu_path, mix_path=mix_path,
                              traffic_path=traffic_path, prompts_dir=prompts_dir,
                              staffing_path=staffing_path, interval_s=interval_s, db=db)
        against = load_validated(against_path, sources.catalog) if against_path \
            else sources.routes.menu
        options = inputs.Options(days, scale, interval_s, target_s, threshold_s, callback_take,
                                 retry, retry_delay_min * 60.0, (handle, handle_cv),
                                 (patience, patience_cv), hourly=hourly)
        planned = inputs.prepare(sources, settings, day.date() if day else None, options)
        setup = planned.scenario
        other = on_tree(setup, planned.spec_on(against), sources.mix) if against_path else None
    seeds = tuple(range(seed, seed + runs))
    proposal: Proposal | None = None
    if staff_target:
        proposal = staff_for(setup, staff_target, range(seed, seed + search_seeds),
                             range(FRESH_FROM + seed, FRESH_FROM + seed + search_seeds),
                             check=range(CHECK_FROM + seed, CHECK_FROM + seed + search_seeds))
    comparison = compare(setup, other, seeds) if other else None
    result = comparison.a if comparison else figures([setup.run(s) for s in seeds])
    about = planned.about(seeds)
    if csv_path:
        csv_path.write_text(report.as_csv(result, proposal), "utf-8")
    if output and proposal:
        output.write_text(yaml.safe_dump(dump_plan(proposal.agents, interval_s,
                                                   sources.plan.groups),
                                         sort_keys=False), "utf-8")
    if plot_path:
        from ivr.plan.picture import plot_day

        plot_day(result, plot_path, f"{', '.join(about.days)} at scale {scale:g}",
                 staff_target.level if staff_target else None)
    tree_b = against.source
    if as_json:
        out = report.as_json(result, about, proposal)
        if comparison:
            out["against"] = report.comparison_json(comparison, sources.routes.menu.source, tree_b)
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        click.echo(report.text(result, about, proposal))
        if comparison:
            click.echo("\n" + "\n".join(report.comparison_text(comparison, sources.routes.menu.source,
                                                                tree_b)))

