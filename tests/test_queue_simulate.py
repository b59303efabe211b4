"""The Erlang formulas against a seeded simulation of the same centre.

The simulation (``ivr.queue.simulate``) plays callers one by one; the formulas must fall
inside its 99% confidence interval for every figure.
"""

from __future__ import annotations

import pytest

from ivr.queue.erlang import metrics
from ivr.queue.simulate import simulate

FIGURES = ("p_wait", "asa_s", "service_level", "p_abandon", "mean_wait_s", "held_wait_s")


@pytest.mark.parametrize(
    ("calls_per_hour", "aht_s", "agents", "patience_s", "target_s", "seed"),
    [
        (200, 180, 14, None, 20, 1),  # Erlang C
        (200, 180, 14, 120, 20, 2),  # Erlang A, comfortable
        (400, 300, 30, 1800, 60, 3),  # Erlang A, the lunch peak: overloaded
    ],
)
def test_simulation_agrees_within_its_confidence_interval(
    calls_per_hour, aht_s, agents, patience_s, target_s, seed
):
    want = metrics(calls_per_hour, aht_s, agents, target_s, patience_s)
    got = simulate(calls_per_hour, aht_s, agents, patience_s, target_s, callers=150_000,
                   seed=seed)
    for name in FIGURES:
        estimate = getattr(got, name)
        assert estimate.covers(getattr(want, name)), (name, estimate, getattr(want, name))


def test_simulation_is_reproducible():
    a = simulate(200, 180, 14, 120, callers=20_000, seed=7)
    assert a == simulate(200, 180, 14, 120, callers=20_000, seed=7)
    assert a != simulate(200, 180, 14, 120, callers=20_000, seed=8)


def test_simulation_rejects_a_centre_without_agents():
    with pytest.raises(ValueError, match="agents"):
        simulate(200, 180, 0)
