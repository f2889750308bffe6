"""The reference processor-sharing simulator against hand-worked cases and M/G/1-PS.

It is the oracle of the calibration's recovery tests (and later of the
engine's contention model), so it is checked on its own first.
"""

from __future__ import annotations

import numpy as np
import pytest
from reference_ps import simulate_ps

from dpcsim.calibration import usl_throughput


def test_a_query_alone_runs_for_its_solo_work() -> None:
    run = simulate_ps(np.array([3.0]), np.array([7.5]), sigma=0.3, kappa=0.01)
    assert run.start_s[0] == 3.0
    assert run.end_s[0] == pytest.approx(10.5, abs=1e-12)


@pytest.mark.parametrize(("sigma", "expected_end_s"), [(0.0, 2.0), (1.0, 4.0)])
def test_two_equal_queries_share_the_throughput(
    sigma: float, expected_end_s: float
) -> None:
    # sigma = 0: X(2) = 2, each runs at full speed; sigma = 1: X(2) = 1, half speed.
    run = simulate_ps(np.zeros(2), np.full(2, 2.0), sigma=sigma, kappa=0.0)
    np.testing.assert_allclose(run.end_s, [expected_end_s] * 2, rtol=1e-12)


def test_staggered_queries_by_hand() -> None:
    # A (work 4) alone on [0, 1] does 1; with B (work 2) from t = 1 each runs
    # at X(2)/2 = 1/1.5: B needs 3 s (ends at 4) while A does 2 more; A's last
    # unit alone ends at 5.
    run = simulate_ps(np.array([0.0, 1.0]), np.array([4.0, 2.0]), sigma=0.5, kappa=0.0)
    np.testing.assert_allclose(run.end_s, [5.0, 4.0], rtol=1e-12)
    np.testing.assert_allclose(run.start_s, [0.0, 1.0])


def test_coherency_slows_three_queries_by_the_usl_factor() -> None:
    sigma, kappa = 0.1, 0.05
    run = simulate_ps(np.zeros(3), np.ones(3), sigma=sigma, kappa=kappa)
    slowdown = 3.0 / float(usl_throughput(3, sigma, kappa))
    np.testing.assert_allclose(run.end_s, [slowdown] * 3, rtol=1e-12)


def test_one_slot_is_a_fifo_single_server() -> None:
    arrival = np.array([0.0, 0.5, 0.6, 10.0])
    work = np.array([2.0, 1.0, 3.0, 1.0])
    run = simulate_ps(arrival, work, sigma=0.5, kappa=0.5, slots=1)
    np.testing.assert_allclose(run.start_s, [0.0, 2.0, 3.0, 10.0])
    np.testing.assert_allclose(run.end_s, [2.0, 3.0, 6.0, 11.0])


def test_mg1_processor_sharing_mean_response() -> None:
    """sigma = 1, kappa = 0: X(n) = 1, an M/G/1-PS queue; E[T] = E[S] / (1 - rho).

    Lognormal service (log-sd 1, heavy enough to tell PS from FIFO, whose mean
    response depends on E[S^2]). 20 independent replications of 4,000 jobs at
    rho = 0.5 (the first 500 of each dropped as warm-up); the mean of
    sum(T) / sum(S) must lie within 3 standard errors of 1 / (1 - rho) = 2.
    """
    rho, ratios = 0.5, []
    for rep in range(20):
        rng = np.random.default_rng([2026, rep])
        work = rng.lognormal(-0.5, 1.0, 4000)  # mean exp(0) = 1 s
        arrival = np.cumsum(rng.exponential(1.0 / rho, 4000))
        run = simulate_ps(arrival, work, sigma=1.0, kappa=0.0)
        response = run.end_s - arrival
        ratios.append(response[500:].sum() / work[500:].sum())
    mean = float(np.mean(ratios))
    se = float(np.std(ratios, ddof=1) / np.sqrt(len(ratios)))
    assert abs(mean - 1.0 / (1.0 - rho)) < 3 * se, (mean, se)
