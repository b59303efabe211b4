"""``ivr report``: what callers did, from the call records (``ivr.tuning.report``)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ivr import moments
from ivr.cli.args import (
    MOMENT,
    Database,
    OutputFile,
    app_settings,
    boundary,
    database_problem,
    settings_files,
)

if TYPE_CHECKING:
    from ivr.menu.model import Menu

log = logging.getLogger(__name__)


@click.command("report")
@click.option("--db", "--database", "database", type=Database(create=False),
              help="The call records: a SQLite file or a postgresql:// URL (default: the "
                   "app's, from IVR_DATABASE or the instance).")
@click.option("--since", type=MOMENT, help=f"Calls that started at or after: {moments.HELP}.")
@click.option("--until", type=MOMENT,
              help="Calls that started before this moment (a date alone: up to the end of "
                   "that day).")
@click.option("--version", "version",
              help="Only calls run on this tree: its version hash or file name.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--csv", "csv_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write one CSV file per table into this folder (made if missing).")
@click.option("--html", "html_file", type=OutputFile((".html", ".htm")),
              help="Write one self-contained HTML page with the tables and the tree.")
def report_command(database: Path | str | None, since: moments.Moment | None,
                   until: moments.Moment | None, version: str | None, as_json: bool,
                   csv_dir: Path | None, html_file: Path | None) -> None:
    """Report what callers did: per node, per queue, containment, verification, top
    paths, likely misroutes, and the same split by tree version and by language.

    Times without an offset are the centre's (the traffic file's timezone).
    """
    from ivr.tuning import report_render as render
    from ivr.tuning.report import build

    if sum(bool(x) for x in (as_json, csv_dir, html_file)) > 1:
        raise click.UsageError("give one of --json, --csv and --html")
    settings = app_settings(database)
    location = str(settings["DATABASE"])
    problem = database_problem(location)
    if problem:
        raise click.ClickException(problem)
    if csv_dir is not None and not csv_dir.parent.is_dir():
        raise click.BadParameter(f"{csv_dir}: the folder {csv_dir.parent} does not exist",
                                 param_hint="--csv")
    with boundary(lambda: settings_files(settings)):
        from ivr.queue.advice import Centre

        centre = Centre.load(settings.get("TRAFFIC"))
        start, end = _period(since, until, centre.traffic.zone)
        menus = _menus(settings)
        if version is not None:
            _check_version(location, version)
        report = build(location, since=start, until=end, version=version, menus=menus,
                       centre=centre)
    zone = centre.traffic.zone  # the period as every other command says times
    order = [n for menu in menus for n in menu.nodes]  # the tables in the tree's order
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    elif csv_dir is not None:
        csv_dir.mkdir(exist_ok=True)
        written = render.write_csv(report, csv_dir, order)
        click.echo(f"wrote {len(written)} CSV files to {csv_dir}: "
                   + ", ".join(p.name for p in written))
    elif html_file is not None:
        picture, note = _picture(menus, version, report)
        html_file.write_text(render.page(report, picture, note, order, zone),
                             encoding="utf-8")
        click.echo(f"wrote {html_file}" + (f" ({note})" if note else ""))
    else:
        click.echo(render.text(report, order, zone), nl=False)


def _period(since: moments.Moment | None, until: moments.Moment | None,
            zone: Any) -> tuple[datetime | None, datetime | None]:
    """The moments as aware datetimes; ``until`` a date alone takes in that whole day."""
    now = datetime.now(UTC)
    start = since.resolve(zone, now) if since else None
    end = until.until(zone, now) if until else None
    if start and end and end <= start:
        raise click.BadParameter(f"{until.text if until else ''!r} is not after "
                                 f"{since.text if since else ''!r}", param_hint="--until")
    return start, end


def _check_version(location: str, version: str) -> None:
    """Refuse a ``--version`` no recorded call ran on, listing those they did: an unknown
    one would otherwise read as a period without calls."""
    from ivr.tuning.report import recorded_versions

    known = recorded_versions(location)
    if any(version in (v, file) or Path(version).name == file for v, file in known):
        return
    listed = ", ".join(f"{v} ({file})" if file else v for v, file in known)
    raise click.BadParameter(f"unknown tree version {version!r}: "
                             + (f"the calls recorded ran on {listed}" if known else
                                "the calls recorded name no tree version"),
                             param_hint="--version")


def _menus(settings: dict[str, Any]) -> list[Menu]:
    """The trees the app runs: MENU (by default the shipped one), and MENU_B in a trial."""
    from ivr.menu import load

    trial = settings.get("MENU_B")
    return [load(settings.get("MENU"))[0], *([load(trial)[0]] if trial else [])]


def _picture(menus: list[Menu], version: str | None,
             report: dict[str, Any]) -> tuple[str | None, str]:
    """The tree drawn by ``ivr.tuning.graph`` with the report's numbers, or why not."""
    try:
        from ivr.tuning.graph import svg
    except ImportError:
        return None, "the tree picture needs ivr.tuning.graph, not installed here"
    menu = next((m for m in menus if version and m.source == Path(version).name), menus[0])
    try:
        return svg(menu, stats=report), ""
    except Exception as exc:  # the page is still worth writing without the picture
        log.warning("the tree %s could not be drawn: %s", menu.source, exc)
        return None, f"the tree could not be drawn: {exc}"
