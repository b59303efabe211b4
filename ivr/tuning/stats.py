"""Numbers from simulated calls: one tree's summary, and two trees' paired differences.

Plain data in, plain data out (rendered by ``ivr.cli.tune``). The time to route
is counted over the calls that reached their target; the shares over all calls. Two trees
run the same callers (``ivr.tuning.simulate``), so a difference is the mean of per-caller
differences, with a 95 % interval from their spread (normal approximation over thousands
of callers; the time to route over the callers routed in both trees). No I/O.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ivr.tuning.simulate import CALLBACK, DEFLECTED, DROPPED, MISROUTED, ROUTED, Result

Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Summary:
    """One tree under the mix."""

    calls: int
    route_mean_s: float
    route_p50_s: float
    route_p90_s: float
    routed: float
    misrouted: float
    dropped: float
    contained: float
    ivr_s_per_call: float
    ivr_minutes_per_day: float
    #: the share of callers who spoke at a menu taking speech
    spoke: float = 0.0
    #: with incident notices: the share who heard one, who hung up once it was said (it
    #: answered them), and who took a callback where a switch turned their queue off
    heard_notice: float = 0.0
    deflected: float = 0.0
    callback: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class Difference:
    """B − A of one measure, with its 95 % interval."""

    value: float
    low: float
    high: float

    def to_json(self) -> dict[str, Any]:
        return {"value": _plain(self.value), "ci95": [_plain(self.low), _plain(self.high)]}


def _plain(value: float | int) -> float | int | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return round(value, 6) if isinstance(value, float) else value


def _arrays(results: list[Result]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rows = [(o, math.nan if r is None else r, s, c, spoke) for o, r, s, c, spoke, *_ in results]
    table = np.array(rows, dtype=float).reshape(-1, 5)
    return (table[:, 0].astype(int), table[:, 1], table[:, 2], table[:, 3] > 0,
            table[:, 4] > 0)


def summarise(results: list[Result], calls_per_day: float) -> Summary:
    """A tree's time to route, shares and IVR minutes per day at the mix's volume."""
    outcome, route, ivr, contained, spoke = _arrays(results)
    routed = route[outcome == ROUTED]

    def mean(values: np.ndarray) -> float:  # nan, not numpy's warning, for no calls
        return float(values.mean()) if values.size else math.nan

    def quantile(q: float) -> float:
        return float(np.quantile(routed, q)) if routed.size else math.nan

    per_call = mean(ivr)
    heard = np.array([r[6] for r in results], dtype=bool)
    return Summary(len(results), mean(routed), quantile(0.5), quantile(0.9),
                   mean(outcome == ROUTED), mean(outcome == MISROUTED), mean(outcome == DROPPED),
                   mean(contained), per_call, per_call * calls_per_day / 60, mean(spoke),
                   mean(heard), mean(outcome == DEFLECTED), mean(outcome == CALLBACK))


def queue_calls(results: list[Result], calls_per_day: float) -> dict[str, float]:
    """The calls a day each queue takes (the callers enqueued there, misrouted or not), at
    the mix's volume: the queues' load, which a notice or a switch may take off."""
    taken: dict[str, int] = {}
    for result in results:
        if result[5] is not None:
            taken[result[5]] = taken.get(result[5], 0) + 1
    return {q: n * calls_per_day / len(results) for q, n in sorted(taken.items())}


def paired(a: list[float], b: list[float]) -> Difference:
    """b − a over the same callers, mean and 95 % interval."""
    return _paired(np.array(a, dtype=float), np.array(b, dtype=float))


def _paired(a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> Difference:
    d = (b - a) * scale
    if d.size == 0:
        return Difference(math.nan, math.nan, math.nan)
    mean = float(d.mean())
    half = Z95 * float(d.std(ddof=1)) / math.sqrt(d.size) if d.size > 1 else math.nan
    return Difference(mean, mean - half, mean + half)


def compare(a: list[Result], b: list[Result], calls_per_day: float) -> dict[str, Difference]:
    """B − A over the same callers: time to route (callers routed in both), the shares
    misrouted and dropped, seconds in the IVR per call and IVR minutes per day."""
    oa, ra, ia, _, _ = _arrays(a)
    ob, rb, ib, _, _ = _arrays(b)
    both = (oa == ROUTED) & (ob == ROUTED)
    return {
        "route_mean_s": _paired(ra[both], rb[both]),
        "misrouted": _paired((oa == MISROUTED).astype(float), (ob == MISROUTED).astype(float)),
        "dropped": _paired((oa == DROPPED).astype(float), (ob == DROPPED).astype(float)),
        "ivr_s_per_call": _paired(ia, ib),
        "ivr_minutes_per_day": _paired(ia, ib, calls_per_day / 60),
    }
