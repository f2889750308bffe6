"""Closed forms in dpcsim.theory against published values and a direct CTMC solve."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dpcsim import theory


@pytest.mark.parametrize(
    ("servers", "load", "expected"),
    [
        (1, 1.0, 0.5),
        (2, 1.0, 0.2),
        (2, 2.0, 0.4),
        (3, 2.0, 4 / 19),
        # Published Erlang B table values (blocking 1% / 0.1% columns).
        (10, 4.4612, 0.01),
        (20, 12.031, 0.01),
        (50, 37.901, 0.01),
        (10, 3.0920, 0.001),
    ],
)
def test_erlang_b_table_values(servers, load, expected):
    assert theory.erlang_b(servers, load) == pytest.approx(expected, rel=2e-3)


@pytest.mark.parametrize(
    ("servers", "load", "expected"),
    [
        (1, 0.5, 0.5),  # M/M/1: P(wait) = rho
        (1, 0.9, 0.9),
        (2, 1.0, 1 / 3),
        (2, 1.5, 0.642857142857),  # 9/14
        (3, 2.0, 4 / 9),
        (10, 9.0, 0.668732 * 1.0),  # Wq*(c mu - lam) with c mu - lam = 1
    ],
)
def test_erlang_c_known_values(servers, load, expected):
    assert theory.erlang_c(servers, load) == pytest.approx(expected, rel=1e-6)


def test_mm1_formulas_match_mmc_with_one_slot():
    for lam in (0.1, 0.5, 0.8, 0.9, 0.99):
        wq = theory.mm1_mean_wait_s(lam, 1.0)
        assert wq == pytest.approx(lam / (1.0 - lam), rel=1e-12)
        assert theory.mmc_mean_wait_s(1, lam, 1.0) == pytest.approx(wq, rel=1e-12)
        assert theory.mm1_mean_response_s(lam, 1.0) == pytest.approx(
            theory.mmc_mean_response_s(1, lam, 1.0), rel=1e-12
        )


def test_mm10_reference_value():
    # performance-baselines.md quotes Wq = 0.668732 s for M/M/10 at lambda=9, mu=1.
    assert theory.mmc_mean_wait_s(10, 9.0, 1.0) == pytest.approx(0.668732, abs=5e-7)


@pytest.mark.parametrize("servers", [1, 2, 5, 10, 15, 30, 50])
@pytest.mark.parametrize("rho", [0.1, 0.5, 0.8, 0.9, 0.95, 0.99])
def test_erlang_c_agrees_with_birth_death_solve(servers, rho):
    mu = 0.7
    lam = rho * servers * mu
    solved = theory.mmc_birth_death(servers, lam, mu)
    assert solved.probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    assert theory.erlang_c(servers, lam / mu) == pytest.approx(
        solved.wait_probability, rel=1e-9
    )
    assert theory.mmc_mean_wait_s(servers, lam, mu) == pytest.approx(
        solved.mean_wait_s, rel=1e-9
    )
    assert theory.mmc_mean_queue_length(servers, lam, mu) == pytest.approx(
        solved.mean_queue_length, rel=1e-9
    )
    # Little's law on the stationary distribution: L = lam * (Wq + 1/mu).
    assert solved.mean_in_system == pytest.approx(
        theory.little_mean_number(lam, theory.mmc_mean_response_s(servers, lam, mu)),
        rel=1e-9,
    )


def test_birth_death_matches_dense_generator_solve():
    # Solve pi Q = 0 with the full generator matrix for a small truncated chain.
    servers, lam, mu, k_max = 3, 2.4, 1.0, 40
    q = np.zeros((k_max + 1, k_max + 1))
    for n in range(k_max):
        q[n, n + 1] = lam
        q[n + 1, n] = min(n + 1, servers) * mu
    q -= np.diag(q.sum(axis=1))
    a = np.vstack([q.T, np.ones(k_max + 1)])
    b = np.zeros(k_max + 2)
    b[-1] = 1.0
    pi, *_ = np.linalg.lstsq(a, b, rcond=None)
    solved = theory.mmc_birth_death(servers, lam, mu, k_max=k_max)
    np.testing.assert_allclose(solved.probabilities, pi, atol=1e-12)


def test_wait_tail_probability():
    lam, mu, c = 9.0, 1.0, 10
    assert theory.mmc_wait_exceeds_probability(c, lam, mu, 0.0) == pytest.approx(
        theory.erlang_c(c, 9.0)
    )
    # E[Wq] = integral of P(Wq > t) dt; integrate numerically to 60 s (tail e^-60).
    t = np.linspace(0.0, 60.0, 60_001)
    tail = np.array([theory.mmc_wait_exceeds_probability(c, lam, mu, x) for x in t])
    assert np.all(np.diff(tail) < 0)
    assert np.trapezoid(tail, t) == pytest.approx(
        theory.mmc_mean_wait_s(c, lam, mu), rel=1e-6
    )


def test_large_server_counts_are_stable():
    # a**c / c! overflows long before c = 1000; the Erlang B recursion does not.
    for c in (50, 200, 1000):
        value = theory.erlang_c(c, 0.95 * c)
        assert 0.0 < value < 1.0
        assert math.isfinite(theory.mmc_mean_wait_s(c, 0.95 * c, 1.0))


def test_unstable_and_edge_cases():
    assert theory.erlang_c(3, 3.0) == 1.0
    assert theory.mmc_mean_wait_s(3, 3.0, 1.0) == math.inf
    assert theory.mm1_mean_wait_s(1.0, 1.0) == math.inf
    assert theory.erlang_c(4, 0.0) == 0.0
    assert theory.mmc_mean_wait_s(4, 0.0, 1.0) == 0.0
    assert theory.mminf_mean_number(3.0, 0.5) == 6.0
    assert theory.mminf_mean_response_s(0.25) == 4.0
    assert theory.utilization(10, 9.0, 1.0) == pytest.approx(0.9)
    assert theory.little_mean_time_s(theory.little_mean_number(2.0, 3.0), 2.0) == 3.0


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (theory.erlang_c, (0, 1.0)),
        (theory.erlang_c, (2, -1.0)),
        (theory.erlang_b, (2.5, 1.0)),
        (theory.mmc_mean_wait_s, (2, 1.0, 0.0)),
        (theory.mmc_mean_wait_s, (2, math.nan, 1.0)),
        (theory.mmc_wait_exceeds_probability, (2, 1.0, 1.0, -1.0)),
        (theory.mmc_birth_death, (2, 2.0, 1.0)),
        (theory.little_mean_time_s, (1.0, 0.0)),
    ],
)
def test_bad_arguments_raise_value_error(call, args):
    with pytest.raises(ValueError, match="expected"):
        call(*args)


def test_docstring_examples_run():
    # The Examples sections are part of the documentation: keep them true.
    import doctest

    failures, tried = doctest.testmod(theory, optionflags=doctest.ELLIPSIS)
    assert tried >= 20
    assert failures == 0


@pytest.mark.parametrize("servers", [1, 2, 5, 16])
@pytest.mark.parametrize("p_wait", [0.01, 0.05, 0.5, 0.95])
def test_erlang_c_load_inverts_erlang_c(servers, p_wait):
    from dpcsim.theory import erlang_c, erlang_c_load

    a = erlang_c_load(servers, p_wait)
    assert 0 < a < servers
    assert erlang_c(servers, a) == pytest.approx(p_wait, abs=1e-9)


def test_erlang_c_load_mm1_closed_form():
    # M/M/1: P(wait) = rho, so the load is p_wait itself.
    from dpcsim.theory import erlang_c_load

    assert erlang_c_load(1, 0.3) == pytest.approx(0.3, abs=1e-9)
    with pytest.raises(ValueError, match="p_wait"):
        erlang_c_load(3, 1.0)
