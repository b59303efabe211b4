"""Erlang C / Erlang A against references computed here by other means.

The references solve the birth-death chain directly: the stationary distribution in
60-digit decimal arithmetic (Erlang C in exact fractions), and the tagged caller's
absorbing chain with linear algebra and a matrix exponential (numpy/scipy), or scipy's
special functions for the large centres. None of them share code or formulas with
``ivr.queue.erlang``.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, linalg, special, stats

from ivr.queue import erlang
from ivr.queue.erlang import (
    agents_for,
    erlang_a_metrics,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
    live_wait_s,
)

TOL = 1e-9


def stationary(
    lam: Fraction, mu: Fraction, theta: Fraction, n: int, k_max: int
) -> list[float]:
    """Stationary law of the M/M/n+M chain truncated at n + k_max, in 60-digit decimals."""
    with localcontext() as ctx:
        ctx.prec = 60
        d = lambda f: Decimal(f.numerator) / Decimal(f.denominator)  # noqa: E731
        lam_, mu_, theta_ = d(lam), d(mu), d(theta)
        weights = [Decimal(1)]
        for i in range(1, n + k_max + 1):
            death = min(i, n) * mu_ + max(0, i - n) * theta_
            weights.append(weights[-1] * lam_ / death)
        total = sum(weights)
        return [float(w / total) for w in weights]


def tagged_caller(n: int, mu: float, theta: float, k_max: int, target_s: float):
    """For a caller arriving with k ahead: P(answered), E[wait*answered], E[held wait],
    P(answered within target), from the absorbing chain (states: k ahead, answered, gone)."""
    size = k_max + 1
    q = np.zeros((size, size))
    to_answer = np.zeros(size)
    to_gone = np.zeros(size)
    for j in range(size):
        forward = n * mu + j * theta
        q[j, j] = -(forward + theta)
        if j == 0:
            to_answer[j] = forward
        else:
            q[j, j - 1] = forward
        to_gone[j] = theta
    fundamental = np.linalg.inv(-q)
    p_answer = fundamental @ to_answer
    wait_answered = fundamental @ fundamental @ to_answer
    # A caller who holds on whatever happens: same chain without their own abandonment.
    q_held = q + np.diag(np.full(size, theta))
    held = np.linalg.inv(-q_held) @ np.ones(size)
    full = np.zeros((size + 2, size + 2))
    full[:size, :size] = q
    full[:size, size] = to_answer
    full[:size, size + 1] = to_gone
    within = linalg.expm(full * target_s)[:size, size]
    return p_answer, wait_answered, held, within


def reference_a(calls_per_hour: int, aht_s: int, n: int, patience_s: int, target_s: float,
                k_max: int = 400):
    lam = Fraction(calls_per_hour, 3600)
    mu = Fraction(1, aht_s)
    theta = Fraction(1, patience_s)
    pi = stationary(lam, mu, theta, n, k_max)
    tail = np.array(pi[n:])
    p_answer, wait_answered, held, within = tagged_caller(n, float(mu), float(theta), k_max,
                                                          target_s)
    p_wait = math.fsum(pi[n:])
    mean_queue = math.fsum(k * p for k, p in enumerate(pi[n:]))
    p_abandon = float(theta) * mean_queue / float(lam)  # Little's law on the abandoners
    served = 1.0 - p_abandon
    return {
        "p_wait": p_wait,
        "p_abandon": p_abandon,
        "asa_s": float(tail @ wait_answered) / served,
        "held_wait_s": float(tail @ held),
        "mean_wait_s": mean_queue / float(lam),
        "service_level": (1.0 - p_wait) + float(tail @ within),
        "occupancy": float(lam / mu) * served / n,
    }


def reference_c(calls_per_hour: int, aht_s: int, n: int, target_s: float):
    a = Fraction(calls_per_hour * aht_s, 3600)
    terms = [a**i / math.factorial(i) for i in range(n)]
    top = a**n / math.factorial(n) * n / (n - a)
    p_wait = top / (sum(terms) + top)
    asa = p_wait * aht_s / (n - a)
    sl = 1 - float(p_wait) * math.exp(-float(n - a) * target_s / aht_s)
    return {"p_wait": float(p_wait), "asa_s": float(asa), "service_level": sl,
            "occupancy": float(a / n)}


@pytest.mark.parametrize(
    ("calls_per_hour", "aht_s", "agents", "target_s"),
    [(200, 180, 14, 20), (60, 300, 6, 30), (1, 600, 1, 10), (720, 240, 50, 20),
     (100, 180, 6, 0)],
)
def test_erlang_c_matches_exact_rational(calls_per_hour, aht_s, agents, target_s):
    got = erlang_c_metrics(calls_per_hour, aht_s, agents, target_s)
    for key, want in reference_c(calls_per_hour, aht_s, agents, target_s).items():
        assert getattr(got, key) == pytest.approx(want, rel=TOL, abs=TOL), key
    assert got.p_abandon == 0.0
    assert got.held_wait_s == got.asa_s == got.mean_wait_s


@pytest.mark.parametrize(
    ("calls_per_hour", "aht_s", "agents", "patience_s", "target_s"),
    [
        (200, 180, 14, 120, 20),
        (200, 180, 10, 120, 20),  # overloaded: Erlang C has no answer here
        (400, 300, 12, 1800, 60),  # the lunch peak
        (30, 240, 3, 600, 20),
        (90, 300, 8, 60, 0),
        (50, 120, 1, 30, 15),
    ],
)
def test_erlang_a_matches_birth_death_chain(calls_per_hour, aht_s, agents, patience_s,
                                            target_s):
    got = erlang_a_metrics(calls_per_hour, aht_s, agents, patience_s, target_s)
    want = reference_a(calls_per_hour, aht_s, agents, patience_s, target_s)
    for key, value in want.items():
        assert getattr(got, key) == pytest.approx(value, rel=TOL, abs=TOL), key


def test_erlang_b_against_scipy_poisson():
    for a, n in [(5.0, 3), (50.0, 60), (10_000.0, 10_500), (10_000.0, 9_000), (2.0, 400)]:
        want = stats.poisson.pmf(n, a) / stats.poisson.cdf(n, a)
        assert erlang_b(a, n) == pytest.approx(want, rel=TOL), (a, n)


def test_ten_thousand_erlangs_on_10500_agents():
    a, n = 10_000.0, 10_500
    b = stats.poisson.pmf(n, a) / stats.poisson.cdf(n, a)
    want = b / (1 - (a / n) * (1 - b))
    assert erlang_c(a, n) == pytest.approx(want, rel=TOL)
    got = erlang_c_metrics(a * 20, 180, n, 20)  # 20 calls/h per Erlang at a 180 s AHT
    assert got.p_wait == pytest.approx(want, rel=TOL)
    assert got.occupancy == pytest.approx(a / n, rel=TOL)


def erlang_a_closed_form(calls_per_hour, aht_s, n, patience_s):
    """P(wait) and the held wait from the incomplete-gamma form of the M/M/n+M queue."""
    lam, mu, theta = calls_per_hour / 3600, 1 / aht_s, 1 / patience_s
    a, s, x = lam / mu, n * mu / theta, lam / theta
    log_b = stats.poisson.logpmf(n, a) - stats.poisson.logcdf(n, a)
    # sum_k x^k / ((s+1)...(s+k)) = e^x x^-s Gamma(s+1) P(s, x)
    log_t0 = x - s * math.log(x) + special.gammaln(s + 1) + math.log(special.gammainc(s, x))
    b, t0 = math.exp(log_b), math.exp(log_t0)
    p_wait = b * t0 / (1 - b + b * t0)

    def tail(t):  # P(held wait > t | all busy)
        return special.gammainc(s, x * math.exp(-theta * t)) / special.gammainc(s, x)

    held, _ = integrate.quad(tail, 0, math.inf, epsabs=1e-13, epsrel=1e-12, limit=500)
    return p_wait, p_wait * held


@pytest.mark.parametrize(
    ("calls_per_hour", "aht_s", "agents", "patience_s"),
    [(10_000 * 20, 180, 10_500, 120), (10_500 * 20, 180, 10_000, 120), (300, 240, 15, 900)],
)
def test_erlang_a_large_centres_against_incomplete_gamma(calls_per_hour, aht_s, agents,
                                                         patience_s):
    p_wait, held = erlang_a_closed_form(calls_per_hour, aht_s, agents, patience_s)
    got = erlang_a_metrics(calls_per_hour, aht_s, agents, patience_s)
    assert got.p_wait == pytest.approx(p_wait, rel=TOL)
    assert got.held_wait_s == pytest.approx(held, rel=1e-8)


def test_large_centre_is_fast():
    import time

    start = time.perf_counter()
    erlang_a_metrics(10_000 * 20, 180, 10_500, 120)
    erlang_c_metrics(10_000 * 20, 180, 10_500)
    agents_for(10_000 * 20, 180, 0.8)
    assert time.perf_counter() - start < 0.5


def test_very_patient_callers_turn_erlang_a_into_erlang_c():
    c = erlang_c_metrics(200, 180, 14, 20)
    a = erlang_a_metrics(200, 180, 14, 1e10, 20)
    for key in ("p_wait", "asa_s", "service_level", "occupancy", "held_wait_s"):
        assert getattr(a, key) == pytest.approx(getattr(c, key), rel=1e-6), key
    assert erlang_a_metrics(200, 180, 14, math.inf, 20) == c


def test_edges():
    assert erlang_c_metrics(0, 180, 0).service_level == 1.0
    assert erlang_a_metrics(0, 180, 3, 60).held_wait_s == 0.0
    overloaded = erlang_c_metrics(200, 180, 10)
    assert overloaded.asa_s == math.inf and overloaded.p_wait == 1.0
    nobody = erlang_a_metrics(200, 180, 0, 60)
    assert nobody.p_abandon == 1.0 and nobody.mean_wait_s == 60 and nobody.service_level == 0
    assert erlang_c(0.0, 3) == 0.0 and erlang_c(5.0, 5) == 1.0
    assert erlang_b(0.0, 1) == 0.0 and erlang_b(1.0, 0) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"calls_per_hour": -1, "aht_s": 180, "agents": 3}, "calls_per_hour"),
        ({"calls_per_hour": 10, "aht_s": 0, "agents": 3}, "aht_s"),
        ({"calls_per_hour": 10, "aht_s": 180, "agents": -1}, "agents"),
        ({"calls_per_hour": math.nan, "aht_s": 180, "agents": 1}, "calls_per_hour"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        erlang_c_metrics(**kwargs)
    with pytest.raises(ValueError, match="patience_s"):
        erlang_a_metrics(10, 180, 3, 0)


def test_agents_for_is_the_first_count_meeting_the_target():
    for patience_s in (None, 120.0):
        n = agents_for(200, 180, 0.8, 20, patience_s)
        m = erlang.metrics
        assert m(200, 180, n, 20, patience_s).service_level >= 0.8
        assert m(200, 180, n - 1, 20, patience_s).service_level < 0.8
    assert agents_for(200, 180, 0.8) == 14
    assert agents_for(0, 180, 0.8) == 0
    with pytest.raises(ValueError, match="target_level"):
        agents_for(200, 180, 1.0)


def test_live_wait_counts_callers_ahead_hanging_up():
    # j callers ahead leave at rate n/AHT + j/patience: the exact sum, term by term.
    want = sum(1 / (10 / 300 + j / 600) for j in range(11))
    assert live_wait_s(10, 10, 300, 600) == pytest.approx(want, rel=1e-12)
    assert live_wait_s(10, 10, 300, 600) < 11 * 300 / 10
    assert live_wait_s(10, 10, 300) == pytest.approx(11 * 300 / 10)
    assert live_wait_s(0, 0, 300, 600) == math.inf


def test_held_wait_is_the_live_estimate_averaged_over_arrivals():
    lam, mu, theta, n = Fraction(400, 3600), Fraction(1, 300), Fraction(1, 1800), 12
    pi = stationary(lam, mu, theta, n, 2000)
    want = math.fsum(p * live_wait_s(k, n, 300, 1800) for k, p in enumerate(pi[n:]))
    assert erlang_a_metrics(400, 300, n, 1800).held_wait_s == pytest.approx(want, rel=TOL)


centres = st.tuples(
    st.floats(min_value=1, max_value=3000),  # calls per hour
    st.floats(min_value=30, max_value=900),  # AHT
    st.integers(min_value=0, max_value=120),  # agents
    st.one_of(st.none(), st.floats(min_value=10, max_value=3600)),  # patience
    st.floats(min_value=0, max_value=300),  # target
)


@settings(max_examples=150, deadline=None)
@given(centres)
def test_more_agents_never_make_it_worse(centre):
    calls, aht_s, n, patience_s, target_s = centre
    fewer = erlang.metrics(calls, aht_s, n, target_s, patience_s)
    more = erlang.metrics(calls, aht_s, n + 1, target_s, patience_s)
    slack = 1e-12
    assert more.held_wait_s <= fewer.held_wait_s * (1 + 1e-9) + slack
    assert more.mean_wait_s <= fewer.mean_wait_s * (1 + 1e-9) + slack
    assert more.asa_s <= fewer.asa_s * (1 + 1e-9) + slack
    assert more.service_level >= fewer.service_level - 1e-9
    assert more.p_wait <= fewer.p_wait + 1e-9
    assert more.p_abandon <= fewer.p_abandon + 1e-9


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=0, max_value=200),
    st.integers(min_value=1, max_value=100),
    st.floats(min_value=30, max_value=900),
    st.one_of(st.none(), st.floats(min_value=10, max_value=3600)),
)
def test_live_wait_grows_with_the_queue_and_shrinks_with_agents(ahead, n, aht_s, patience_s):
    base = live_wait_s(ahead, n, aht_s, patience_s)
    assert live_wait_s(ahead + 1, n, aht_s, patience_s) > base
    assert live_wait_s(ahead, n + 1, aht_s, patience_s) < base
    assert base <= (ahead + 1) * aht_s / n * (1 + 1e-12)


def test_a_vanishing_target_is_the_same_as_no_target():
    # hypothesis found 5e-324: 1 - e^(-theta T) underflows to 0 and its log used to fail
    tiny = erlang.metrics(200, 180, 14, 5e-324, 120)
    none = erlang.metrics(200, 180, 14, 0.0, 120)
    assert tiny.service_level == pytest.approx(none.service_level, abs=1e-12)
