"""What a day of the centre is made from, read and put together once for every caller of
it (``ivr plan`` and the console's Plan page): the prompt catalog, the tree's routes, the
mix (or the mix and the hours learnt from recorded calls), the traffic file and any plan
file (``Sources``); then the tuning's simulator spec (with any incident notices said all
day), the centre's rules and the scenario (``ivr.plan.scenario.build``), with what the
report's About says of them (``Planned``).

Plain arguments in, plain data out: no click, no Flask, nothing printed. A file that
cannot be read or is wrong raises ivr's errors (``ConfigError``, ``MenuError``), or
``OSError`` / ``UnicodeDecodeError`` from the file itself; each caller turns them into
its own message (a click error, a page's 400).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ivr.flow import prompts
from ivr.flow.notices import Notice
from ivr.menu import Menu, load_validated
from ivr.plan import arrivals, report, scenario
from ivr.plan.arrivals import Recorded
from ivr.plan.centre import Rules
from ivr.plan.staffing import PlanFile, load_plan_file
from ivr.queue import traffic as traffic_file
from ivr.queue.calendar import WEEKDAYS, Day
from ivr.queue.traffic import Traffic
from ivr.tuning import mix as mix_file
from ivr.tuning import simulate
from ivr.tuning.clock import speech_end_s
from ivr.tuning.learn import default_base, learn_calls
from ivr.tuning.routes import Routes, build

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Options:
    """How the day is run, beside the files: ``ivr plan``'s options, with its defaults."""

    days: int = 1
    scale: float = 1.0
    interval_s: float = 1800.0
    target_s: float = 20.0
    #: a callback is offered over this wait told (None: the WAIT_THRESHOLD_S setting)
    threshold_s: float | None = None
    callback_take: float = 0.5
    retry: float = 0.3
    retry_delay_s: float = 600.0
    handle: tuple[str, float] = ("exponential", 1.0)
    patience: tuple[str, float] = ("exponential", 1.0)
    #: incident notices said all day whatever their own times (as ``ivr tune --notice``),
    #: and the share of their hearers each answers (who then hang up, served)
    notices: tuple[Notice, ...] = ()
    answers: float = 0.0
    #: per hour of the day, a factor on its calls on top of ``scale`` (``--hourly``)
    hourly: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class Sources:
    """The files a day is made from, read and checked."""

    catalog: prompts.Catalog
    routes: Routes
    mix: mix_file.Mix
    traffic: Traffic
    #: per queue, agents per interval of a day over the traffic file's, and groups of
    #: shared agents (a plan file)
    plan: PlanFile = PlanFile({})
    #: the hours learnt from recorded calls, in place of the traffic file's forecast
    learnt: Recorded | None = None

    @classmethod
    def of(cls, catalog: prompts.Catalog, menu: Menu, traffic: Traffic,
           mix_path: Path | str | None = None) -> Sources:
        """Sources from a tree, catalog and traffic already loaded (the app's), with the
        mix read from ``mix_path`` (the shipped one when None)."""
        routes = build(menu)
        return cls(catalog, routes, mix_file.load(mix_path, routes, catalog.languages), traffic)


def read(settings: Mapping[str, Any], *, menu_path: Path | None = None,
         mix_path: Path | None = None, traffic_path: Path | None = None,
         prompts_dir: Path | None = None, staffing_path: Path | None = None,
         interval_s: float = 1800.0, db: Path | str | None = None) -> Sources:
    """The files, each from its path or else from the settings (MENU, PROMPTS_DIR,
    TRAFFIC; the shipped ones when unset); a plan file cut into ``interval_s``; with
    ``db`` (a database's path or URL, only read) the mix and the hours learnt from the
    calls recorded there (``ivr.tuning.learn``, as ``ivr tune --db`` learns its mix)."""
    if menu_path is None and settings.get("MENU"):
        menu_path = Path(settings["MENU"])
    if traffic_path is None and settings.get("TRAFFIC"):
        traffic_path = Path(settings["TRAFFIC"])
    catalog = prompts.load(prompts_dir or Path(settings["PROMPTS_DIR"]))
    routes = build(load_validated(menu_path, catalog))
    traffic = traffic_file.load(traffic_path)
    plan = load_plan_file(staffing_path, tuple(traffic.queues), interval_s) \
        if staffing_path else PlanFile({})
    if db is None:
        return Sources(catalog, routes, mix_file.load(mix_path, routes, catalog.languages),
                       traffic, plan)
    recorded = learn_calls(db, routes, default_base(routes, catalog.languages))
    return Sources(catalog, routes, recorded.mix, traffic, plan,
                   arrivals.recorded(recorded.starts, traffic, recorded.mix.source))


@dataclass(frozen=True, slots=True)
class Planned:
    """A scenario ready to run, and what was put in it."""

    scenario: scenario.Scenario
    spec: simulate.Spec
    days: tuple[Day, ...]
    sources: Sources
    options: Options

    def spec_on(self, menu: Menu) -> simulate.Spec:
        """The same simulated callers on another tree (``ivr plan --against``)."""
        return replace(self.spec, menu=menu)

    def about(self, seeds: tuple[int, ...]) -> report.About:
        """What the report says above the figures of runs on ``seeds``."""
        setup, options = self.scenario, self.options
        handle = {n: f"handle {d.mean_s:g} s {d.kind}, patience "
                     f"{setup.patience[n].mean_s:g} s {setup.patience[n].kind}"
                  for n, d in setup.handle.items()}
        said = tuple(f"notice {n.id} ({n.scope}{', emergency switch' if n.emergency else ''}) "
                     f"said all day; it answers {options.answers:.0%} of those who hear it"
                     for n in options.notices)
        return report.About(tuple(describe(d) for d in self.days), options.scale,
                            self.sources.routes.menu.source, seeds, handle,
                            setup.demand.notes + said)


def prepare(sources: Sources, settings: Mapping[str, Any], first: date | None = None,
         options: Options | None = None) -> Planned:
    """The scenario of ``options.days`` days from ``first`` (today in the centre when None)
    on the sources, the simulator's timings and the wait threshold from the settings
    (AUDIO_DIR, VOICES, SPEECH_TIMEOUT, WAIT_THRESHOLD_S)."""
    options = options or Options()
    traffic = sources.traffic
    first = first or datetime.now(traffic.zone).date()
    chosen = arrivals.days_from(traffic, first, options.days)
    memory = simulate.remembered(sources.routes, sources.mix)  # returning callers know the live tree
    spec = simulate.Spec(sources.routes.menu, sources.catalog, settings["AUDIO_DIR"],
                         settings["VOICES"], memory,
                         speech_end_s=speech_end_s(settings.get("SPEECH_TIMEOUT")),
                         notices=options.notices, answers=options.answers)
    threshold_s = float(settings["WAIT_THRESHOLD_S"]) if options.threshold_s is None \
        else options.threshold_s
    rules = Rules(options.interval_s, options.target_s, threshold_s, options.callback_take,
                  options.retry, options.retry_delay_s)
    setup = scenario.build(traffic, sources.mix, spec, chosen, scale=options.scale, rules=rules,
                           handle=options.handle, patience=options.patience,
                           plan=sources.plan.agents, groups=sources.plan.groups,
                           learnt=sources.learnt, hourly=options.hourly)
    return Planned(setup, spec, chosen, sources, options)


def describe(day: Day) -> str:
    """A day as the report names it: its weekday and date, and how it runs when it is a
    public holiday or a make-up working day."""
    what = {"normal": "", "holiday": f", {day.name or 'holiday'}, runs as ",
            "workday": ", make-up working day, runs as "}[day.kind.value]
    runs = WEEKDAYS[day.runs_as] if what else ""
    return f"{WEEKDAYS[day.date.weekday()]} {day.date.isoformat()}{what}{runs}" + \
        ("" if day.certain else " (holidays not yet known for its year)")
