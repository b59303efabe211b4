"""The library behind ``ivr tune``: trees and a mix in, numbers out (plain data).

``compare_trees`` runs the same simulated callers through the live tree and, when given,
a second one; ``notice_effect`` runs them through the live tree without and with an
incident notice that answers a share of its hearers (the IVR minutes and queue calls it
saves); when the mix has speakers, it runs the live tree's callers once more with
nobody speaking, to show what speech saves. ``check_suggestion`` re-measures a candidate
from ``ivr.tuning.suggest`` against the live tree. The analytic model ignores patience
(it prices what listeners hear, not who hangs up), and dropped callers are not counted in
a time to route, so the re-measurement that checks it runs the same callers with
unlimited patience; the saving with the mix's patience is given beside it. No Flask, no
Twilio; files only through the loaders the command calls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ivr.flow.notices import Notice
from ivr.flow.prompts import Catalog
from ivr.menu.model import Menu
from ivr.tuning import simulate, stats
from ivr.tuning.clock import AUTO_SPEECH_END_S
from ivr.tuning.mix import Mix, Patience
from ivr.tuning.routes import Routes

#: a predicted saving agrees with the measured one inside its 95 % interval, or this close
TOLERANCE_S = 0.1
TOLERANCE_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class Setting:
    """What every run needs besides the trees: the catalog, the clock's sources, the size."""

    catalog: Catalog
    audio_dir: str | None
    voices: Mapping[str, Mapping[str, Any]]
    calls: int
    seed: int = 0
    workers: int = 1
    #: the pause ending a spoken answer (``ivr.tuning.clock.speech_end_s``)
    speech_end_s: float = AUTO_SPEECH_END_S


@dataclass(frozen=True, slots=True)
class Comparison:
    """The live tree, and optionally a second one, under the same callers."""

    a: stats.Summary
    b: stats.Summary | None
    difference: dict[str, stats.Difference] | None
    #: with a mix that has speakers: the live tree with nobody speaking, and the
    #: difference speech makes over the same callers (with − without)
    silent: stats.Summary | None = None
    speech: dict[str, stats.Difference] | None = None


def _specs(setting: Setting, routes: Routes, mix: Mix, *menus: Menu) -> tuple[simulate.Spec, ...]:
    memory = simulate.remembered(routes, mix)  # the keys of the live tree
    return tuple(simulate.Spec(m, setting.catalog, setting.audio_dir, setting.voices, memory,
                               speech_end_s=setting.speech_end_s)
                 for m in menus)


def compare_trees(setting: Setting, routes: Routes, mix: Mix, against: Menu | None = None,
                  speech: bool = True) -> Comparison:
    """Simulate the live tree (``routes.menu``) and ``against`` with the same callers;
    with ``speech`` and a mix that has speakers, the live tree without them too."""
    menus = (routes.menu,) if against is None else (routes.menu, against)
    results = simulate.run(_specs(setting, routes, mix, *menus), mix, setting.calls,
                           setting.seed, setting.workers)
    a = stats.summarise(results[0], mix.calls_per_day)
    silent = effect = None
    if speech and mix.speaking:
        nobody = replace(mix, speakers=())
        without = simulate.run(_specs(setting, routes, nobody, routes.menu), nobody,
                               setting.calls, setting.seed, setting.workers)[0]
        silent = stats.summarise(without, mix.calls_per_day)
        effect = stats.compare(without, results[0], mix.calls_per_day)
    if against is None:
        return Comparison(a, None, None, silent, effect)
    return Comparison(a, stats.summarise(results[1], mix.calls_per_day),
                      stats.compare(results[0], results[1], mix.calls_per_day), silent, effect)


@dataclass(frozen=True, slots=True)
class Check:
    """A candidate re-measured: the saving (A − B, seconds per routed call) with
    unlimited patience (what the model predicts) and with the mix's."""

    predicted_s: float
    measured: stats.Difference
    with_patience: stats.Difference
    comparison: Comparison

    @property
    def agrees(self) -> bool:
        m = self.measured
        close = TOLERANCE_S + TOLERANCE_SHARE * abs(self.predicted_s)
        return m.low <= self.predicted_s <= m.high or abs(self.predicted_s - m.value) <= close


def _saving(diff: stats.Difference) -> stats.Difference:
    return stats.Difference(-diff.value, -diff.high, -diff.low)


def check_suggestion(setting: Setting, routes: Routes, mix: Mix, candidate: Menu,
                     predicted_s: float) -> Check:
    """Simulate the candidate against the live tree and set the saving beside the model's."""
    patient = replace(mix, patience=Patience("fixed", (math.inf,)))
    unlimited = compare_trees(setting, routes, patient, candidate, speech=False)
    real = compare_trees(setting, routes, mix, candidate, speech=False)
    assert unlimited.difference is not None and real.difference is not None
    return Check(predicted_s, _saving(unlimited.difference["route_mean_s"]),
                 _saving(real.difference["route_mean_s"]), real)


@dataclass(frozen=True, slots=True)
class NoticeEffect:
    """The live tree without and with an incident notice, under the same callers: the
    notice answers ``answers`` of those who hear it (they hang up once it is said), and
    costs the others the time it takes to say."""

    notice: Notice
    answers: float
    without: stats.Summary
    with_notice: stats.Summary
    #: with − without, over the same callers
    difference: dict[str, stats.Difference]
    #: per queue, its calls a day without and with the notice
    queues: dict[str, tuple[float, float]]


def notice_effect(setting: Setting, routes: Routes, mix: Mix, notice: Notice,
                  answers: float) -> NoticeEffect:
    """Simulate the live tree with nobody hearing ``notice`` and with it active all day
    (whatever its own times), ``answers`` (0 to 1) of its hearers settled by it."""
    (plain,) = _specs(setting, routes, mix, routes.menu)
    told = replace(plain, notices=(notice,), answers=answers)
    without, with_notice = simulate.run((plain, told), mix, setting.calls, setting.seed,
                                        setting.workers)
    per_day = mix.calls_per_day
    before, after = stats.queue_calls(without, per_day), stats.queue_calls(with_notice, per_day)
    queues = {q: (before.get(q, 0.0), after.get(q, 0.0)) for q in sorted(before.keys() | after)}
    return NoticeEffect(notice, answers, stats.summarise(without, per_day),
                        stats.summarise(with_notice, per_day),
                        stats.compare(without, with_notice, per_day), queues)


@dataclass(frozen=True, slots=True)
class ReturningEffect:
    """The live tree without and with the known caller's shortcut, under the same callers:
    ``repeat`` of those whose need names an issue called about it lately and are offered
    the way back to it after the language."""

    repeat: float
    #: the callers offered the way back (of ``without.calls``)
    known: int
    without: stats.Summary
    with_shortcut: stats.Summary
    #: with − without, over all the callers
    difference: dict[str, stats.Difference]
    #: the known callers' own time in the IVR, mean: without, with, and the paired change
    known_ivr_s: tuple[float, float, stats.Difference]


def returning_effect(setting: Setting, routes: Routes, mix: Mix,
                     repeat: float) -> ReturningEffect:
    """Simulate the live tree with nobody known and with ``repeat`` (0 to 1) of the callers
    known by their number, offered their last need and taking it."""
    (plain,) = _specs(setting, routes, mix, routes.menu)
    known_spec = replace(plain, repeat=repeat)
    without, with_shortcut = simulate.run((plain, known_spec), mix, setting.calls,
                                          setting.seed, setting.workers)
    tree = known_spec.tree()
    known = [tree.is_known(simulate.caller(mix, simulate.stream(setting.seed, i), i,
                                           setting.seed)) for i in range(setting.calls)]
    before = [r[2] for r, k in zip(without, known, strict=True) if k]
    after = [r[2] for r, k in zip(with_shortcut, known, strict=True) if k]
    per_day = mix.calls_per_day
    return ReturningEffect(
        repeat, len(before), stats.summarise(without, per_day),
        stats.summarise(with_shortcut, per_day), stats.compare(without, with_shortcut, per_day),
        (_mean(before), _mean(after), stats.paired(before, after)))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan
