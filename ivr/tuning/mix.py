"""The traffic mix of ``ivr tune``: why people call, in which language, and how they
behave. Read from YAML (``ivr/data/mix.yaml`` is the example for the shipped tree), or
learnt from call records (``ivr.tuning.learn``)::

    calls_per_day: 20000
    languages: {zh-CN: 0.85, en-US: 0.15}      # shares, summing to 1
    reasons:                                   # per language: the node callers need
      zh-CN: {topup_status: 0.3, payment_prepare: 0.2, ...}
    behaviour:
      barge_in: 0.1      # know the key of the tree they call and press at once
      returning: 0.2     # press at once the key they used before, on the live tree
      wrong_key: 0.02    # chance of a wrong key at each menu
      registered: 0.7    # caller ID registered to their account (else they type it)
      patience_s: {distribution: lognormal, median: 120, p90: 300}
      speakers: {zh-CN: 0.4, en-US: 0.3}   # say what they need at a menu taking speech

A reason is a node of the tree: a queue node, a self-service node, or a node whose
``next`` chain ends at a queue (a ``prepare`` naming the problem), reachable from the main
menu by its options. Patience (seconds in the IVR before hanging up) is ``lognormal``
(median, p90), ``exponential`` (mean) or ``fixed`` (value). ``speakers`` is the share of
each language's callers who speak at a menu taking speech (``ivr.tuning.simulate``), one
share for every language or one per language (a language left out: none speak; the
default: none at all). ``parse`` checks everything against the tree and reports every
problem with its file and line at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

from ivr.errors import MenuError, Problem, close_match
from ivr.menu.source import line_of, load_yaml
from ivr.tuning.routes import Routes, is_target

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "mix.yaml"
_TOP = ("calls_per_day", "languages", "reasons", "behaviour")
_BEHAVIOUR = ("barge_in", "returning", "wrong_key", "registered", "patience_s", "speakers")
_DISTRIBUTIONS = {"lognormal": ("median", "p90"), "exponential": ("mean",), "fixed": ("value",)}
_PATIENCE_KEYS = ("distribution", *(p for names in _DISTRIBUTIONS.values() for p in names))
#: shares may be rounded as written: 0.33 + 0.33 + 0.33 is 1
SHARE_TOLERANCE = 0.011
Z90 = 1.2815515655446004  # the 90th percentile of the standard normal


@dataclass(frozen=True, slots=True)
class Patience:
    """How long callers stay in the IVR before hanging up, in seconds."""

    distribution: str
    params: tuple[float, ...]

    def draw(self, u: float) -> float:
        """The patience at quantile ``u`` (0 < u < 1)."""
        if self.distribution == "fixed":
            return self.params[0]
        if self.distribution == "exponential":
            return -self.params[0] * math.log(1.0 - u)
        median, p90 = self.params
        sigma = math.log(p90 / median) / Z90 if p90 > median else 0.0
        return median * math.exp(sigma * _STANDARD.inv_cdf(min(max(u, 1e-12), 1 - 1e-12)))

    def to_json(self) -> dict[str, Any]:
        names = _DISTRIBUTIONS[self.distribution]
        return {"distribution": self.distribution, **dict(zip(names, self.params, strict=True))}


DEFAULT_PATIENCE = Patience("lognormal", (120.0, 300.0))
#: made once: ``draw`` runs for every simulated caller
_STANDARD = NormalDist()


@dataclass(frozen=True, slots=True)
class Mix:
    """A checked traffic mix (see the module docstring)."""

    calls_per_day: float
    languages: tuple[tuple[str, float], ...]
    reasons: dict[str, tuple[tuple[str, float], ...]]
    barge_in: float = 0.1
    returning: float = 0.2
    wrong_key: float = 0.02
    registered: float = 0.7
    patience: Patience = field(default_factory=lambda: DEFAULT_PATIENCE)
    source: str = "mix"
    #: per language, the share of its callers who speak at speech menus (absent: none)
    speakers: tuple[tuple[str, float], ...] = ()

    @property
    def listening(self) -> float:
        """The share of callers who listen to a menu before pressing."""
        return max(0.0, 1.0 - self.barge_in - self.returning)

    def speaks(self, lang: str) -> float:
        """The share of ``lang``'s callers who speak at speech menus."""
        return next((share for name, share in self.speakers if name == lang), 0.0)

    @property
    def speaking(self) -> bool:
        """Whether any caller of the mix speaks."""
        return any(share > 0 for _, share in self.speakers)

    def classes(self) -> list[tuple[str, str, float]]:
        """(language, target, share of all calls) for every kind of caller."""
        return [(lang, target, share * part) for lang, share in self.languages
                for target, part in self.reasons.get(lang, ())]

    def to_json(self) -> dict[str, Any]:
        return {"calls_per_day": self.calls_per_day, "languages": dict(self.languages),
                "reasons": {lang: dict(r) for lang, r in self.reasons.items()},
                "behaviour": {"barge_in": self.barge_in, "returning": self.returning,
                              "wrong_key": self.wrong_key, "registered": self.registered,
                              "patience_s": self.patience.to_json(),
                              "speakers": dict(self.speakers)}}


#: no callers, only ``Mix``'s default behaviour (what a mix file may leave out)
DEFAULT_BEHAVIOUR = Mix(1.0, (), {})


def draw(pairs: tuple[tuple[str, float], ...], u: float) -> str:
    """The item of a share table at quantile ``u``."""
    total = 0.0
    for item, share in pairs:
        total += share
        if u < total:
            return item
    return pairs[-1][0]


class _Check:
    """Collects problems, each at its file and line, so ops see all of them at once."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def error(self, line: int, where: str, message: str) -> None:
        self.problems.append(Problem(f"{self.source}:{line} {where}" if line else
                                     f"{self.source} {where}", message))

    def mapping(self, value: Any, line: int, where: str, keys: tuple[str, ...] | None = None
                ) -> dict[Any, Any]:
        if not isinstance(value, dict):
            self.error(line, where, "must be a mapping")
            return {}
        for key, at in getattr(value, "duplicates", []):
            self.error(at, f"{where}.{key}", "given twice (the first would be lost)")
        for key in value:
            if keys is not None and key not in keys:
                meant = close_match(str(key), keys)
                hint = f"; did you mean '{meant}'?" if meant else f"; one of {', '.join(keys)}"
                self.error(line_of(value, str(key), line), f"{where}.{key}", f"unknown key{hint}")
        return value

    def number(self, value: Any, line: int, where: str, low: float = 0.0, high: float = math.inf,
               strict: bool = False) -> float | None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and \
            math.isfinite(value) and (value > low if strict else value >= low) and value <= high
        if not ok:
            bound = f"> {low:g}" if strict else f">= {low:g}"
            if high < math.inf:
                bound = f"between {low:g} and {high:g}"
            self.error(line, where, f"must be a number {bound}, not {value!r}")
            return None
        return float(value)

    def shares(self, value: Any, line: int, where: str) -> list[tuple[str, float, int]]:
        table = self.mapping(value, line, where)
        found = []
        for key, share in table.items():
            at = line_of(table, str(key), line)
            number = self.number(share, at, f"{where}.{key}", high=1.0)
            if number is not None:
                found.append((str(key), number, at))
        total = sum(s for _, s, _ in found)
        if table and len(found) == len(table) and abs(total - 1.0) > SHARE_TOLERANCE:
            self.error(line, where, f"shares sum to {total:.3g}, not 1")
        return found


def parse(data: Any, source: str, routes: Routes, languages: tuple[str, ...]) -> Mix:
    """Check a mix against the tree (``routes``) and the prompt languages; raise
    ``MenuError`` listing every problem."""
    check = _Check(source)
    top = check.mapping(data, 1, "(top)", _TOP)
    for key in _TOP[:3]:
        if top and key not in top:
            check.error(getattr(top, "line", 1), key, "missing")
    calls = check.number(top.get("calls_per_day", 1), line_of(top, "calls_per_day", 1),
                         "calls_per_day", strict=True)
    langs = check.shares(top.get("languages", {}), line_of(top, "languages", 1), "languages")
    for lang, _, at in langs:
        if lang not in languages:
            meant = close_match(lang, languages, 0.6)
            hint = f"; did you mean '{meant}'?" if meant else f" ({', '.join(languages)})"
            check.error(at, f"languages.{lang}", f"no prompt file for this language{hint}")
    raw_reasons = check.mapping(top.get("reasons", {}), line_of(top, "reasons", 1), "reasons")
    reasons: dict[str, tuple[tuple[str, float], ...]] = {}
    for lang, _, at in langs:
        if lang not in raw_reasons:
            check.error(at, f"languages.{lang}", "has no reasons (reasons." + lang + ")")
    named = {lang for lang, _, _ in langs}
    for lang, table in raw_reasons.items():
        where, at = f"reasons.{lang}", line_of(raw_reasons, str(lang), 1)
        if lang not in named:
            check.error(at, where, "a language not in languages")
        found = check.shares(table, at, where)
        for target, _, line in found:
            _check_target(check, routes, target, line, f"{where}.{target}")
        reasons[str(lang)] = tuple((t, s) for t, s, _ in found)
    raw = top.get("behaviour", {})
    behaviour = check.mapping(raw, line_of(top, "behaviour", 1), "behaviour", _BEHAVIOUR) \
        if raw is not None else {}
    values: dict[str, float] = {}
    for key in _BEHAVIOUR[:4]:  # the shares; patience_s below
        default = getattr(DEFAULT_BEHAVIOUR, key)
        number = check.number(behaviour.get(key, default), line_of(behaviour, key, 1),
                              f"behaviour.{key}", high=1.0)
        values[key] = default if number is None else number
    if values["barge_in"] + values["returning"] > 1.0 + 1e-9:
        check.error(line_of(behaviour, "returning", 1), "behaviour",
                    "barge_in and returning are shares of the same callers: together at most 1")
    patience = _patience(check, behaviour.get("patience_s", DEFAULT_PATIENCE.to_json()),
                         line_of(behaviour, "patience_s", 1))
    speakers = _speakers(check, behaviour.get("speakers"), line_of(behaviour, "speakers", 1),
                         [lang for lang, _, _ in langs])
    if check.problems:
        raise MenuError(check.problems, source)
    assert calls is not None and patience is not None
    return Mix(calls, tuple((k, s) for k, s, _ in langs), reasons, patience=patience,
               source=source, speakers=speakers, **values)


def _check_target(check: _Check, routes: Routes, target: str, line: int, where: str) -> None:
    menu = routes.menu
    if target not in menu.nodes:
        meant = close_match(target, [n for n in menu.nodes if is_target(menu, n)], 0.6)
        hint = f"; did you mean '{meant}'?" if meant else ""
        check.error(line, where, f"'{target}' is not a node of {menu.source}{hint}")
    elif not is_target(menu, target):
        check.error(line, where, f"'{target}' is a {menu.nodes[target].kind.value} node: a "
                                 "reason is a queue or self-service node, or one leading to a "
                                 "queue by next")
    elif not routes.reaches(target):
        check.error(line, where, f"'{target}' cannot be reached from the main menu by its "
                                 "options")


def _patience(check: _Check, value: Any, line: int) -> Patience | None:
    spec = check.mapping(value, line, "behaviour.patience_s", _PATIENCE_KEYS)
    kind = spec.get("distribution")
    if kind not in _DISTRIBUTIONS:
        if spec:
            check.error(line_of(spec, "distribution", line), "behaviour.patience_s.distribution",
                        f"must be one of {', '.join(_DISTRIBUTIONS)}, not {kind!r}")
        return None
    names = _DISTRIBUTIONS[kind]
    for extra in set(spec) - {"distribution", *names}:
        check.error(line_of(spec, str(extra), line), f"behaviour.patience_s.{extra}",
                    f"not a parameter of {kind} (it takes {', '.join(names)})")
    numbers = [check.number(spec.get(n), line_of(spec, n, line), f"behaviour.patience_s.{n}",
                            strict=True) for n in names]
    params = tuple(p for p in numbers if p is not None)
    if len(params) < len(names):
        return None
    if kind == "lognormal" and params[1] < params[0]:
        check.error(line_of(spec, "p90", line), "behaviour.patience_s.p90",
                    "must be at least the median")
        return None
    return Patience(str(kind), params)


def _speakers(check: _Check, value: Any, line: int, langs: list[str]
              ) -> tuple[tuple[str, float], ...]:
    """``behaviour.speakers``: one share for every language of the mix, or a share per
    language (each one of the mix's ``languages``)."""
    where = "behaviour.speakers"
    if value is None:
        return ()
    if not isinstance(value, dict):
        if not isinstance(value, int | float) or isinstance(value, bool):
            check.error(line, where, "must be a share between 0 and 1 for every language, or "
                                     f"a mapping of languages to shares, not {value!r}")
            return ()
        share = check.number(value, line, where, high=1.0)
        return tuple((lang, share) for lang in langs) if share is not None else ()
    table = check.mapping(value, line, where)
    found = []
    for lang, share in table.items():
        at = line_of(table, str(lang), line)
        if lang not in langs:
            meant = close_match(str(lang), langs, 0.6)
            hint = f"; did you mean '{meant}'?" if meant else \
                f" ({', '.join(langs)})" if langs else ""
            check.error(at, f"{where}.{lang}", f"a language not in languages{hint}")
        number = check.number(share, at, f"{where}.{lang}", high=1.0)
        if number is not None:
            found.append((str(lang), number))
    return tuple(found)


def load(path: Path | str | None, routes: Routes, languages: tuple[str, ...]) -> Mix:
    """Read and check a mix file (the shipped example when ``path`` is None)."""
    where = Path(path) if path is not None else DEFAULT_PATH
    data, problem = load_yaml(where, str(where))
    if problem is not None:
        raise MenuError([problem], str(where))
    return parse(data, str(where), routes, languages)
