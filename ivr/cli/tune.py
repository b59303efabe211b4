"""``ivr tune``: what-if runs of whole calls through the real call flow, and the option
order that saves the most time (``--suggest``).

Thin: read the tree(s), the catalog and the mix (``--mix`` file, the shipped example, or
learnt from ``--db``), call ``ivr.tuning.whatif`` / ``ivr.tuning.suggest``, print text
or ``--json``. ``--notice ID --answers SHARE`` predicts what an incident notice saves,
``--repeat-callers SHARE`` what the known caller's shortcut saves the callers who call again.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from ivr.cli.args import (
    Database,
    Finite,
    OutputFile,
    TextFile,
    app_settings,
    boundary,
    database_problem,
)
from ivr.flow import prompts
from ivr.flow.notices import Notice
from ivr.menu import load_validated
from ivr.menu.loader import DEFAULT_MENU
from ivr.menu.model import Menu
from ivr.plural import counted, plural
from ivr.records.database import shown
from ivr.tuning import mix as mix_file
from ivr.tuning import stats
from ivr.tuning.clock import Durations, speech_end_s
from ivr.tuning.learn import default_base, learn
from ivr.tuning.routes import build
from ivr.tuning.suggest import Suggestion, suggest
from ivr.tuning.whatif import (
    Check,
    Comparison,
    NoticeEffect,
    ReturningEffect,
    Setting,
    check_suggestion,
    compare_trees,
    notice_effect,
    returning_effect,
)

MAX_CALLS = 10_000_000


@click.command("tune")
@click.option("--menu", "menu_path", type=TextFile(),
              help="The live tree (default: the MENU setting, else the shipped one).")
@click.option("--against", "against_path", type=TextFile(),
              help="A second tree: the difference B − A over the same callers.")
@click.option("--mix", "mix_path", type=TextFile(),
              help="The traffic mix (default: the shipped example ivr/data/mix.yaml).")
@click.option("--db", "--database", "db", type=Database(create=False),
              help="Learn the mix from the calls recorded in this database instead (a SQLite "
                   "file or a postgresql:// URL).")
@click.option("--calls", type=click.IntRange(1, MAX_CALLS), default=20_000, show_default=True,
              help="Simulated calls per tree.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes; the results are the same for any number.")
@click.option("--suggest", "suggest_order", is_flag=True,
              help="Propose the option order that minimises the time to route (needs -o).")
@click.option("-o", "--output", type=OutputFile((".yaml", ".yml")),
              help="Where --suggest writes the candidate tree.")
@click.option("--keys", type=click.Choice(["best", "keep", "renumber"]), default="best",
              show_default=True, help="--suggest: keep each option's key, renumber 1..n in "
                                      "the new order, or whichever the model prefers.")
@click.option("--prompts", "prompts_dir", type=TextFile(folder=True),
              help="Prompt catalog folder (default: the PROMPTS_DIR setting).")
@click.option("--notice", "notice_id", type=click.IntRange(1), metavar="ID",
              help="An incident notice (ivr notice list; read from --db, else the app's "
                   "database): the live tree without it and with it said all day.")
@click.option("--answers", type=Finite(0.0, 1.0), metavar="SHARE",
              help="With --notice: the share (0 to 1) of the callers who hear it that it "
                   "answers; they hang up once it is said.")
@click.option("--repeat-callers", "repeat", type=Finite(0.0, 1.0), metavar="SHARE",
              help="The share (0 to 1) of callers who called lately about the same need: "
                   "the live tree without and with the known caller's shortcut.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tune_command(menu_path: Path | None, against_path: Path | None, mix_path: Path | None,
                 db: Path | str | None, calls: int, seed: int, workers: int, suggest_order: bool,
                 output: Path | None, keys: str, prompts_dir: Path | None,
                 notice_id: int | None, answers: float | None, repeat: float | None,
                 as_json: bool) -> None:
    """Predict what a tree does to the time to route before it goes live."""
    if mix_path and db:
        raise click.UsageError("give --mix or --db, not both")
    if (notice_id is None) != (answers is None):
        raise click.UsageError("--notice ID and --answers SHARE go together: the notice, and "
                               "the share of its hearers it answers")
    if notice_id is not None and (against_path or suggest_order):
        raise click.UsageError("--notice predicts one notice on the live tree: leave out "
                               "--against and --suggest")
    if repeat is not None and (against_path or suggest_order or notice_id is not None):
        raise click.UsageError("--repeat-callers predicts the shortcut on the live tree: leave "
                               "out --against, --suggest and --notice")
    if suggest_order and not output:
        raise click.UsageError("--suggest needs -o FILE for the candidate tree")
    if output and not suggest_order:
        raise click.UsageError("-o is where --suggest writes; give --suggest too")
    if suggest_order and against_path:
        raise click.UsageError("--suggest compares its own candidate; leave out --against")
    if not suggest_order and click.get_current_context().get_parameter_source("keys") \
            is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("--keys says how --suggest numbers its options; give "
                               "--suggest too")
    settings = app_settings()
    menu_path = menu_path or (Path(settings["MENU"]) if settings.get("MENU") else None)
    prompts_dir = prompts_dir or Path(settings["PROMPTS_DIR"])
    with boundary([menu_path, against_path, mix_path, prompts_dir]):
        catalog = prompts.load(prompts_dir)
        menu = load_validated(menu_path, catalog)
        against = load_validated(against_path, catalog) if against_path else None
        routes = build(menu)
        mix = learn(db, routes, default_base(routes, catalog.languages)) if db else \
            mix_file.load(mix_path, routes, catalog.languages)
        setting = Setting(catalog, settings["AUDIO_DIR"], settings["VOICES"], calls, seed,
                          workers, speech_end_s(settings.get("SPEECH_TIMEOUT")))
        if notice_id is not None and answers is not None:
            effect = notice_effect(setting, routes, mix, _notice(db or settings["DATABASE"],
                                                                 notice_id, menu), answers)
            aht = _handle_times(settings)
            if as_json:
                click.echo(json.dumps(_notice_json(effect, menu.source, mix, calls, seed, aht),
                                      indent=2, ensure_ascii=False))
            else:
                click.echo(_notice_text(effect, menu.source, mix, calls, seed, aht))
            return
        if repeat is not None:
            returning = returning_effect(setting, routes, mix, repeat)
            if as_json:
                click.echo(json.dumps(_returning_json(returning, menu.source, mix, calls, seed),
                                      indent=2, ensure_ascii=False))
            else:
                click.echo(_returning_text(returning, menu.source, mix, calls, seed))
            return
        if suggest_order:
            assert output is not None
            text = (menu_path or DEFAULT_MENU).read_text(encoding="utf-8")
            found = suggest(text, menu, routes, mix, catalog,
                            Durations(setting.audio_dir, setting.voices, setting.speech_end_s),
                            keys)
            output.write_text(found.text, encoding="utf-8")
            check = check_suggestion(setting, routes, mix, found.menu, found.predicted_saving_s)
            if as_json:
                click.echo(json.dumps(_suggestion_json(found, check, output, mix), indent=2))
            else:
                click.echo(_suggestion_text(found, check, output, menu.source))
            return
        result = compare_trees(setting, routes, mix, against)
    names = (menu.source, against.source if against else None)
    if as_json:
        click.echo(json.dumps(_json(result, names, mix, calls, seed), indent=2))
    else:
        click.echo(_text(result, names, mix, calls, seed))


def _notice(location: Path | str, number: int, menu: Menu) -> Notice:
    """Notice ``number`` from the database at ``location`` (only read), its scope in the
    live tree; a click error otherwise."""
    from contextlib import closing

    from ivr.records.database import open_database
    from ivr.records.notices import named

    problem = database_problem(location)
    if problem:
        raise click.ClickException(problem)
    with closing(open_database(location, read_only=True, pool_size=1)) as db:
        found = named(db, number) if "notices" in db.tables() else None
    if found is None:
        raise click.BadParameter(f"there is no notice {number} in {shown(location)} (ivr "
                                 "notice list --all lists them)", param_hint="--notice")
    scope = found.notice.scope
    if (scope.kind == "node" and scope.name not in menu.nodes) or \
            (scope.kind == "queue" and scope.name not in menu.queues):
        raise click.BadParameter(f"notice {number}'s scope {scope} is not in {menu.source}: "
                                 "no caller would hear it", param_hint="--notice")
    return found.notice


def _handle_times(settings: dict[str, Any]) -> dict[str, float]:
    """Each queue's handle time (the traffic file's), which turns its calls into load."""
    from ivr.queue import traffic

    return {name: q.aht_s for name, q in traffic.load(settings.get("TRAFFIC")).queues.items()}


def _notice_json(effect: NoticeEffect, source: str, mix: mix_file.Mix, calls: int, seed: int,
                 aht: dict[str, float]) -> dict[str, Any]:
    notice = effect.notice
    return {"calls": calls, "seed": seed, "tree": source,
            "mix": {"source": mix.source, **mix.to_json()},
            "notice": {"id": notice.id, "scope": str(notice.scope),
                       "emergency": notice.emergency, "answers": effect.answers},
            "without": effect.without.to_json(), "with": effect.with_notice.to_json(),
            "difference": {k: d.to_json() for k, d in effect.difference.items()},
            "queues": {q: {"calls_per_day": {"without": round(a, 3), "with": round(b, 3)},
                           "agent_hours_per_day": {"without": _hours(a, q, aht),
                                                   "with": _hours(b, q, aht)}}
                       for q, (a, b) in effect.queues.items()}}


def _hours(calls_per_day: float, queue: str, aht: dict[str, float]) -> float | None:
    """A queue's calls a day as agent-hours of handling (None: no handle time known)."""
    return round(calls_per_day * aht[queue] / 3600, 3) if queue in aht else None


def _notice_text(effect: NoticeEffect, source: str, mix: mix_file.Mix, calls: int, seed: int,
                 aht: dict[str, float]) -> str:
    notice, a, b = effect.notice, effect.without, effect.with_notice
    switch = ", an emergency switch" if notice.emergency else ""
    lines = [f"{counted(calls, 'simulated call')} (seed {seed}) on {source}, mix {mix.source} "
             f"({_per_day(mix.calls_per_day)})",
             f"notice {notice.id} ({notice.scope}{switch}), said all day, answering "
             f"{100 * effect.answers:.0f} % of the callers who hear it",
             f"{'':30}{'without':>10}{'with':>10}   with − without (95 % interval)"]
    rows = (("heard the notice", "heard_notice", _pct), ("hung up after it (deflected)",
                                                         "deflected", _pct),
            ("callback instead of a queue", "callback", _pct),
            ("routed", "routed", _pct), ("dropped", "dropped", _pct),
            ("time in the IVR, mean", "ivr_s_per_call", _s),
            ("IVR minutes per day", "ivr_minutes_per_day", lambda v: f"{v:,.0f}"))
    for label, field, fmt in rows:
        row = f"{label:30}{fmt(getattr(a, field)):>10}{fmt(getattr(b, field)):>10}"
        if field in DIFFS:
            unit, scale, digits = DIFFS[field]
            row += f"   {_signed(effect.difference[field], unit, scale, digits)}"
        lines.append(row.rstrip())
    lines.append("queue calls per day (agent-hours of handling)")
    for queue, (before, after) in effect.queues.items():
        saved = after - before
        hours = _hours(saved, queue, aht)
        load = f" ({hours:+,.1f} agent-hours at {aht[queue]:.0f} s)" if hours is not None else ""
        lines.append(f"  {queue:28}{before:>10,.0f}{after:>10,.0f}   {saved:+,.0f}{load}")
    return "\n".join(lines)


def _plain(value: float) -> float | None:
    return round(value, 3) if math.isfinite(value) else None


def _returning_json(effect: ReturningEffect, source: str, mix: mix_file.Mix, calls: int,
                    seed: int) -> dict[str, Any]:
    before, after, change = effect.known_ivr_s
    return {"calls": calls, "seed": seed, "tree": source,
            "mix": {"source": mix.source, **mix.to_json()},
            "repeat_callers": effect.repeat, "known_callers": effect.known,
            "known_ivr_s": {"without": _plain(before), "with": _plain(after),
                            "difference": change.to_json()},
            "without": effect.without.to_json(), "with": effect.with_shortcut.to_json(),
            "difference": {k: d.to_json() for k, d in effect.difference.items()}}


def _returning_text(effect: ReturningEffect, source: str, mix: mix_file.Mix, calls: int,
                    seed: int) -> str:
    a, b = effect.without, effect.with_shortcut
    before, after, change = effect.known_ivr_s
    lines = [f"{counted(calls, 'simulated call')} (seed {seed}) on {source}, mix {mix.source} "
             f"({_per_day(mix.calls_per_day)})",
             f"{100 * effect.repeat:.0f} % of the callers whose need names an issue called "
             f"about it lately: {counted(effect.known, 'known caller')}, offered the way back "
             "after the language",
             f"{'':30}{'without':>10}{'with':>10}   with − without (95 % interval)",
             f"{'their time in the IVR, mean':30}{_s(before):>10}{_s(after):>10}   "
             f"{_signed(change, ' s')}"]
    for label, field, fmt in (("routed", "routed", _pct), ("dropped", "dropped", _pct),
                              ("time in the IVR, mean", "ivr_s_per_call", _s),
                              ("IVR minutes per day", "ivr_minutes_per_day",
                               lambda v: f"{v:,.0f}")):
        row = f"{label:30}{fmt(getattr(a, field)):>10}{fmt(getattr(b, field)):>10}"
        if field in DIFFS:
            unit, scale, digits = DIFFS[field]
            row += f"   {_signed(effect.difference[field], unit, scale, digits)}"
        lines.append(row.rstrip())
    return "\n".join(lines)


def _json(result: Comparison, names: tuple[str, str | None], mix: mix_file.Mix, calls: int,
          seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {"calls": calls, "seed": seed, "mix": {"source": mix.source,
                                                                  **mix.to_json()},
                           "trees": {"A": {"file": names[0], **result.a.to_json()}}}
    if result.b is not None and result.difference is not None:
        out["trees"]["B"] = {"file": names[1], **result.b.to_json()}
        out["difference"] = {k: d.to_json() for k, d in result.difference.items()}
    if result.silent is not None and result.speech is not None:
        out["speech"] = {"without_speakers": result.silent.to_json(),
                         "difference": {k: d.to_json() for k, d in result.speech.items()}}
    return out


def _s(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.1f} s"


def _pct(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{100 * value:.1f} %"


def _signed(d: stats.Difference, unit: str, scale: float = 1.0, digits: int = 2) -> str:
    if not math.isfinite(d.value):
        return "-"
    low, high = (f"{scale * d.low:+.{digits}f}", f"{scale * d.high:+.{digits}f}") \
        if math.isfinite(d.low) else ("?", "?")
    return f"{scale * d.value:+.{digits}f}{unit} ({low} to {high})"


ROWS = (("time to route, mean", "route_mean_s", _s), ("time to route, p50", "route_p50_s", _s),
        ("time to route, p90", "route_p90_s", _s), ("routed", "routed", _pct),
        ("misrouted", "misrouted", _pct), ("dropped", "dropped", _pct),
        ("contained (self-service)", "contained", _pct),
        ("spoke (speech menus)", "spoke", _pct),
        ("time in the IVR, mean", "ivr_s_per_call", _s),
        ("IVR minutes per day", "ivr_minutes_per_day", lambda v: f"{v:,.0f}"))
DIFFS = {"route_mean_s": (" s", 1.0, 2), "misrouted": (" pp", 100.0, 2),
         "dropped": (" pp", 100.0, 2), "ivr_s_per_call": (" s", 1.0, 2),
         "ivr_minutes_per_day": ("", 1.0, 0)}
#: rows of a mix with speakers only
SPEECH_ROWS = ("spoke",)


def _per_day(calls: float) -> str:
    """``20,000 calls a day``, ``1 call a day``, ``0.3 calls a day``."""
    shown = f"{calls:,.0f}" if calls >= 1 else f"{calls:.1g}"
    return f"{shown} {plural(1 if shown == '1' else 2, 'call')} a day"


def _text(result: Comparison, names: tuple[str, str | None], mix: mix_file.Mix, calls: int,
          seed: int) -> str:
    head = f"{counted(calls, 'simulated call')} per tree (seed {seed}), mix {mix.source} " \
           f"({_per_day(mix.calls_per_day)})"
    lines = [head, f"A: {names[0]}"] + ([f"B: {names[1]}"] if names[1] else [])
    width = 26
    title = f"{'':{width}}{'A':>10}" + (f"{'B':>10}   B − A (95 % interval)" if result.b else "")
    lines.append(title)
    rows = [r for r in ROWS if mix.speaking or r[1] not in SPEECH_ROWS]
    for label, field, fmt in rows:
        row = f"{label:{width}}{fmt(getattr(result.a, field)):>10}"
        if result.b is not None and result.difference is not None:
            row += f"{fmt(getattr(result.b, field)):>10}"
            if field in DIFFS:
                unit, scale, digits = DIFFS[field]
                row += f"   {_signed(result.difference[field], unit, scale, digits)}"
        lines.append(row.rstrip())
    if result.silent is not None and result.speech is not None:
        lines += ["", *_speech_text(result, mix, width)]
    return "\n".join(lines)


def _speech_text(result: Comparison, mix: mix_file.Mix, width: int) -> list[str]:
    """A against itself with nobody speaking: what the mix's speakers save."""
    assert result.silent is not None and result.speech is not None
    shares = ", ".join(f"{lang} {100 * share:.0f} %" for lang, share in mix.speakers)
    lines = [f"A with the mix's speakers ({shares}) and with nobody speaking, same callers:",
             f"{'':{width}}{'speakers':>10}{'none':>10}   speakers − none (95 % interval)"]
    for label, field, fmt in ROWS:
        if field in SPEECH_ROWS:
            continue
        row = f"{label:{width}}{fmt(getattr(result.a, field)):>10}" \
              f"{fmt(getattr(result.silent, field)):>10}"
        if field in DIFFS:
            unit, scale, digits = DIFFS[field]
            row += f"   {_signed(result.speech[field], unit, scale, digits)}"
        lines.append(row.rstrip())
    return lines


def _suggestion_json(found: Suggestion, check: Check, output: Path, mix: mix_file.Mix
                     ) -> dict[str, Any]:
    return {"candidate": str(output), "keys": found.keys, "mix": mix.source,
            "menus": [{"node": c.node, "before": list(c.before), "after": list(c.after),
                       "renumbered": c.renumbered, "predicted_saving_s": round(c.saving_s, 6)}
                      for c in found.changes],
            "predicted_saving_s": round(found.predicted_saving_s, 6),
            "predicted_misrouted": round(found.predicted_misrouted, 6),
            "measured_saving_s": check.measured.to_json(),
            "measured_saving_with_patience_s": check.with_patience.to_json(),
            "agrees": check.agrees,
            "difference": {k: d.to_json() for k, d in (check.comparison.difference or {}).items()}}


def _suggestion_text(found: Suggestion, check: Check, output: Path, source: str) -> str:
    lines = [f"wrote {output}: the options of {counted(len(found.changes), 'menu')} of {source} "
             f"reordered, keys {found.keys}"]
    for c in found.changes:
        moved = f" (renumbered {', '.join(f'{a}→{b}' for a, b in c.renumbered.items())})" \
            if c.renumbered else ""
        lines.append(f"  {c.node}: {' '.join(c.before)} → {' '.join(c.after)}{moved}, "
                     f"{c.saving_s:+.2f} s a call")
    if not found.changes:
        lines.append("  every menu is already in the best order")
    m, p = check.measured, check.with_patience
    lines.append(f"predicted saving: {found.predicted_saving_s:.2f} s a call")
    lines.append(f"simulated saving: {m.value:.2f} s a call (95 % interval {m.low:.2f} to "
                 f"{m.high:.2f}), same callers, unlimited patience: "
                 f"{'agrees' if check.agrees else 'DOES NOT agree'}")
    lines.append(f"with the mix's patience: {p.value:.2f} s a routed call ({p.low:.2f} to "
                 f"{p.high:.2f}); the callers who hang up are not counted")
    return "\n".join(lines)
