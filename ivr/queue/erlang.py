"""Queueing maths for the hotline: Erlang C (M/M/n) and Erlang A (M/M/n+M).

Pure functions of rates and counts; no I/O, no clock, no config. Times are seconds and
rates carry their unit in the name (``calls_per_hour``, ``aht_s``, ``patience_s``).

Everything is computed relative to the probability of "all agents busy, nobody waiting"
with rescaled recurrences, never with factorials, so 10,000 Erlangs on 10,500 agents is
as cheap as a small queue (one pass of ``agents`` steps plus the waiting states that
matter).

Erlang A is the one callers hear: Erlang C has no answer once the load reaches the
agents (the lunch peak), while callers who hang up keep a real queue finite.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

log = logging.getLogger(__name__)

_RESCALE = 1e200
_LOG_RESCALE = math.log(_RESCALE)
# A waiting-state term this much smaller than the running total no longer moves a result.
_NEGLIGIBLE = 1e-20
_MAX_TERMS = 50_000_000


@dataclass(frozen=True, slots=True)
class Metrics:
    """Steady-state figures for one queue in one interval.

    ``asa_s`` is the mean wait of answered callers; ``mean_wait_s`` averages over every
    caller, including the time abandoners held; ``held_wait_s`` is what a caller who
    holds on until answered waits on average, the number to tell a caller. In Erlang C
    the three coincide. ``math.inf`` marks a wait that never ends (overload, no agents).
    """

    p_wait: float
    asa_s: float
    service_level: float
    occupancy: float
    p_abandon: float = 0.0
    mean_wait_s: float = 0.0
    held_wait_s: float = 0.0


def _check(calls_per_hour: float, aht_s: float, agents: int, patience_s: float | None) -> None:
    if not calls_per_hour >= 0 or math.isinf(calls_per_hour):
        raise ValueError(f"calls_per_hour must be a finite number >= 0, not {calls_per_hour}")
    if not aht_s > 0 or math.isinf(aht_s):
        raise ValueError(f"aht_s must be a finite number > 0, not {aht_s}")
    if agents < 0 or int(agents) != agents:
        raise ValueError(f"agents must be a whole number >= 0, not {agents}")
    if patience_s is not None and not patience_s > 0:
        raise ValueError(f"patience_s must be > 0, not {patience_s}")


def _log_idle_ratio(traffic_erlangs: float, agents: int) -> float:
    """log of P(fewer than n in system) / P(exactly n), i.e. log(1/ErlangB - 1).

    The recurrence D(m) = m/a * (1 + D(m-1)) is the Erlang B recurrence turned around;
    it only adds positive terms, and rescaling keeps it finite when n is far above a.
    """
    d = 0.0
    offset = 0.0
    one = 1.0  # 1 expressed in the current scale, e^-offset
    for m in range(1, agents + 1):
        d = (m / traffic_erlangs) * (one + d)
        if d > _RESCALE:
            d /= _RESCALE
            offset += _LOG_RESCALE
            one = math.exp(-offset)
    return math.log(d) + offset if d > 0 else -math.inf


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    hi, lo = (a, b) if a > b else (b, a)
    return hi + math.log1p(math.exp(lo - hi))


def _logistic(x: float) -> float:
    """1 / (1 + e^x) without overflow."""
    if x > 0:
        e = math.exp(-x)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(x))


def erlang_b(traffic_erlangs: float, agents: int) -> float:
    """Probability that an arrival finds every one of ``agents`` busy, with no queue."""
    if traffic_erlangs <= 0:
        return 0.0 if agents > 0 else 1.0
    return _logistic(_log_idle_ratio(traffic_erlangs, agents))


def erlang_c(traffic_erlangs: float, agents: int) -> float:
    """Probability that a caller has to wait (M/M/n, infinitely patient callers)."""
    if traffic_erlangs <= 0:
        return 0.0
    if agents <= traffic_erlangs:
        return 1.0
    log_1_minus_rho = math.log1p(-traffic_erlangs / agents)
    return _logistic(_log_idle_ratio(traffic_erlangs, agents) + log_1_minus_rho)


def _erlang_c_from_log_d(a: float, n: int, log_d: float, aht_s: float, target_s: float) -> Metrics:
    p_wait = _logistic(log_d + math.log1p(-a / n))
    asa_s = p_wait * aht_s / (n - a)
    service_level = max(0.0, 1.0 - p_wait * math.exp(-(n - a) * target_s / aht_s))
    return Metrics(p_wait, asa_s, service_level, a / n, 0.0, asa_s, asa_s)


_IDLE = Metrics(p_wait=0.0, asa_s=0.0, service_level=1.0, occupancy=0.0)


def erlang_c_metrics(
    calls_per_hour: float, aht_s: float, agents: int, target_s: float = 20.0
) -> Metrics:
    """Erlang C figures; a load at or above ``agents`` never clears, so waits are infinite."""
    _check(calls_per_hour, aht_s, agents, None)
    a = calls_per_hour * aht_s / 3600.0
    if a == 0:
        return _IDLE
    if agents <= a:
        return Metrics(1.0, math.inf, 0.0, 1.0, 0.0, math.inf, math.inf)
    return _erlang_c_from_log_d(a, agents, _log_idle_ratio(a, agents), aht_s, target_s)


def erlang_a_metrics(
    calls_per_hour: float,
    aht_s: float,
    agents: int,
    patience_s: float,
    target_s: float = 20.0,
) -> Metrics:
    """Erlang A (M/M/n+M) figures: callers hang up after an exponential patience.

    ``service_level`` is the share of all callers answered within ``target_s``;
    abandoners count against it.
    """
    _check(calls_per_hour, aht_s, agents, patience_s)
    if math.isinf(patience_s):
        return erlang_c_metrics(calls_per_hour, aht_s, agents, target_s)
    a = calls_per_hour * aht_s / 3600.0
    if a == 0:
        return _IDLE
    theta = 1.0 / patience_s
    if agents == 0:
        # Nobody is ever answered: everyone holds until their patience runs out.
        return Metrics(1.0, math.inf, 0.0, 0.0, 1.0, patience_s, math.inf)
    return _erlang_a(a, agents, aht_s, theta, target_s)


def _erlang_a(a: float, n: int, aht_s: float, theta: float, target_s: float) -> Metrics:
    """Sum over the waiting states n+k of the birth-death chain, relative to state n.

    With s = n*mu/theta and x = lambda/theta, state n+k has weight t_k = x^k / ((s+1)...(s+k)).
    A caller arriving with k ahead (and holding on) moves up at rate theta*(s+j) with j
    ahead; if they may hang up too, at rate theta*(s+j+1), is answered with probability
    s/(s+k+1), and their time to answer is -ln(U)/theta with U ~ Beta(s+1, k+1), whose
    distribution function is a negative binomial sum (``nb`` below).
    """
    mu = 1.0 / aht_s
    lam = a * mu
    s = n * mu / theta
    x = lam / theta
    mode = max(0, math.floor(x - s))

    # Service-level pieces: nb_j = P(NegBin(s+1, 1-z) = j), z = e^(-theta*T).
    # a target so small that 1 - z underflows to 0 is the same as no target at all
    timed = target_s > 0 and -math.expm1(-theta * target_s) > 0
    if timed:
        log_1mz = math.log(-math.expm1(-theta * target_s))
        log_nb = -(s + 1.0) * theta * target_s
    else:
        log_1mz = -math.inf
        log_nb = 0.0
    cdf_nb = 0.0  # running F_k, computed in absolute terms (it is a probability)

    t = 1.0  # t_k in the current scale
    offset = 0.0
    h_k = 0.0  # held wait with k ahead
    s_k = 0.0  # wait of someone who may hang up, given answered
    sum_t = sum_ab = sum_served_wait = sum_held = sum_queue = sum_sl = 0.0
    k = 0
    while True:
        h_k += 1.0 / (theta * (s + k))
        s_k += 1.0 / (theta * (s + k + 1))
        if k > 0:
            # With no target (T = 0) nb_0 = 1 holds all the mass and F_k stays at 1.
            log_nb = log_nb + math.log((s + k) / k) + log_1mz if timed else -math.inf
        cdf_nb = min(1.0, cdf_nb + (math.exp(log_nb) if log_nb > -745 else 0.0))
        p_served = s / (s + k + 1)
        sum_t += t
        sum_ab += t * (1.0 - p_served)
        sum_served_wait += t * p_served * s_k
        sum_held += t * h_k
        sum_queue += t * k
        sum_sl += t * p_served * (1.0 - cdf_nb)
        if k > mode and t < _NEGLIGIBLE * sum_t:
            break
        k += 1
        if k > _MAX_TERMS:
            raise ValueError("Erlang A sum did not converge; patience_s is unreasonably long")
        t *= x / (s + k)
        if t > _RESCALE:
            t /= _RESCALE
            offset += _LOG_RESCALE
            sum_t /= _RESCALE
            sum_ab /= _RESCALE
            sum_served_wait /= _RESCALE
            sum_held /= _RESCALE
            sum_queue /= _RESCALE
            sum_sl /= _RESCALE

    log_d = _log_idle_ratio(a, n)
    log_norm = _logaddexp(log_d, offset + math.log(sum_t))
    scale = math.exp(offset - log_norm)  # turns a scaled tail sum into a probability
    p_idle = math.exp(log_d - log_norm) if log_d > -math.inf else 0.0
    p_wait = min(1.0, sum_t * scale)
    p_abandon = min(1.0, sum_ab * scale)
    p_answered = 1.0 - p_abandon
    asa_s = sum_served_wait * scale / p_answered if p_answered > 0 else math.inf
    service_level = min(1.0, p_idle + sum_sl * scale)
    mean_wait_s = sum_queue * scale / lam
    held_wait_s = sum_held * scale
    occupancy = min(1.0, a * p_answered / n)
    return Metrics(p_wait, asa_s, service_level, occupancy, p_abandon, mean_wait_s, held_wait_s)


def metrics(
    calls_per_hour: float,
    aht_s: float,
    agents: int,
    target_s: float = 20.0,
    patience_s: float | None = None,
) -> Metrics:
    """Erlang A when a patience is given, Erlang C otherwise."""
    if patience_s is None:
        return erlang_c_metrics(calls_per_hour, aht_s, agents, target_s)
    return erlang_a_metrics(calls_per_hour, aht_s, agents, patience_s, target_s)


def agents_for(
    calls_per_hour: float,
    aht_s: float,
    target_level: float,
    target_s: float = 20.0,
    patience_s: float | None = None,
) -> int:
    """Fewest agents answering ``target_level`` of callers within ``target_s``."""
    if not 0 < target_level < 1:
        raise ValueError(f"target_level must be between 0 and 1, not {target_level}")
    if not target_s >= 0:
        raise ValueError(f"target_s must be >= 0, not {target_s}")
    _check(calls_per_hour, aht_s, 0, patience_s)
    a = calls_per_hour * aht_s / 3600.0
    if a == 0:
        return 0
    if patience_s is None or math.isinf(patience_s):
        return _agents_for_c(a, aht_s, target_level, target_s)
    return _agents_for_a(calls_per_hour, aht_s, target_level, target_s, patience_s)


def _agents_for_c(a: float, aht_s: float, target_level: float, target_s: float) -> int:
    """One pass of the idle-ratio recurrence, testing each n above the load as it goes.

    Staffing runs for every hour of every queue, so the loop is kept tight: the target
    ``1 - C(n) e^(-(n-a)T/AHT) >= level`` is tested as
    ``e^(-(n-a)T/AHT) <= (1 - level)(1 + D(n)(1 - a/n))`` with D = 1/ErlangB - 1.
    """
    miss = 1.0 - target_level
    rate = target_s / aht_s
    d = 0.0
    m = 0
    below = int(a)  # no count at or below the load can meet a target
    while m < below:
        m += 1
        d = m / a * (1.0 + d)
    while True:
        m += 1
        d = m / a * (1.0 + d)
        # d cannot overflow first: once it passes ~1e17/(1 - a/n) the test below holds
        # for any level a float can tell from 1.
        if math.exp(-(m - a) * rate) <= miss * (1.0 + d * (1.0 - a / m)):
            return m


def _agents_for_a(
    calls_per_hour: float, aht_s: float, target_level: float, target_s: float, patience_s: float
) -> int:
    def level(n: int) -> float:
        return erlang_a_metrics(calls_per_hour, aht_s, n, patience_s, target_s).service_level

    lo = 0  # never enough: nobody is answered
    hi = max(1, math.ceil(calls_per_hour * aht_s / 3600.0))
    while level(hi) < target_level:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # service level only grows with agents
        mid = (lo + hi) // 2
        if level(mid) >= target_level:
            hi = mid
        else:
            lo = mid
    return hi


def live_wait_s(
    callers_ahead: int, agents: int, aht_s: float, patience_s: float | None = None
) -> float:
    """Expected wait of a caller who holds on, with ``callers_ahead`` queued and all agents busy.

    Each step forward comes from an agent freeing up (rate n/AHT) or one of the j callers
    still ahead hanging up (rate j/patience), so the wait is the sum of 1/(n*mu + j*theta)
    for j = k..0, shorter than the naive (k+1)*AHT/n.
    """
    if callers_ahead < 0:
        raise ValueError(f"callers_ahead must be >= 0, not {callers_ahead}")
    _check(0.0, aht_s, agents, patience_s)
    if agents == 0:
        return math.inf
    rate_served = agents / aht_s
    if patience_s is None or math.isinf(patience_s):
        return (callers_ahead + 1) / rate_served
    theta = 1.0 / patience_s
    return math.fsum(1.0 / (rate_served + j * theta) for j in range(callers_ahead + 1))
