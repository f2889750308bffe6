"""The engine against queueing theory: M/M/c waits versus Erlang C.

Poisson arrivals (rate lam = rho * c, mu = 1/s) and exponential execution times go
into ONE manual queue of c slots (no SQA, no Concurrency Scaling, no rules), which
is exactly M/M/c under FIFO. For each (c, rho) cell we run R >= 20 independent
replications (independent streams from ``SeedSequence.spawn``), drop a warm-up of
the first queries of each (the queue starts empty, which biases waits low), and
compare the mean of the replication means with Wq = C(c, a) / (c*mu - lam):

    |mean - Wq| <= 3 * SE + tol,    SE = sd(replication means) / sqrt(R)

3 SE is a ~99.7% normal interval (99.3% for Student-t with 19 d.o.f.) per cell.
``tol`` = 1% of Wq + 1e-4 s is the systematic error we allow the engine: after a
warm-up of at least 6 relaxation times the residual start-empty bias is below
0.3% of Wq, arrival times rounded to 1 µs shift waits by < 1e-6 s, and 1e-4 s
keeps the light-load cells (Wq of a few ms) from failing on float round-off.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import dpcsim.engine as engine
import dpcsim.wlm as wlm
from dpcsim import theory
from dpcsim.schema import Workload, validate_workload

#: These tests check the fixed-demand engine: [contention] model = "none".
pytestmark = pytest.mark.usefixtures("fixed_demands")

BASE_AT = pd.Timestamp("2024-01-01 00:00:00", tz="UTC")
REPLICATIONS = 20
GRID = [(c, rho) for c in (1, 5, 10, 15) for rho in (0.5, 0.8, 0.9)]


def _workload(arrival_s: np.ndarray, exec_s: np.ndarray) -> Workload:
    """A canonical workload of selects with the given arrivals and durations."""
    arrival_us = np.round(arrival_s * 1e6).astype(np.int64)
    frame = pd.DataFrame(
        {
            "query_id": np.arange(1, len(arrival_s) + 1, dtype=np.int64),
            "arrival_at": BASE_AT + pd.to_timedelta(arrival_us, unit="us"),
            "statement_type": "select",
            "exec_s": exec_s,
            "user_name": "analyst",
            "user_groups": "analysts",
        }
    )
    return Workload(queries=validate_workload(frame))


def _config(slots: int) -> object:
    """One manual queue of ``slots`` slots: no SQA, no scaling, no rules."""
    queue = wlm.QueueConfig(name="only", query_concurrency=slots)
    return wlm.WLMConfig(queues=(queue,), sqa=None)


def _replicate(slots, lam, n, seed):
    """Run one M/M/c replication; return the per-query frame sorted by query id."""
    rng = np.random.default_rng(seed)
    arrival_s = np.cumsum(rng.exponential(1.0 / lam, n))
    exec_s = rng.exponential(1.0, n)
    result = engine.simulate(_workload(arrival_s, exec_s), _config(slots), rng=rng)
    return result.queries.sort_values("query_id").reset_index(drop=True)


def _warmup(slots: int, rho: float) -> int:
    """Queries to drop: >= 6 relaxation times 1/(mu (1 - sqrt(rho))^2) of arrivals."""
    relaxation_s = 1.0 / (1.0 - math.sqrt(rho)) ** 2 / slots
    return max(500, int(6 * relaxation_s * rho * slots))


def _check_cell(slots, rho, n, seed):
    """Assert the Erlang C criterion for one cell; return its figures."""
    lam = rho * slots
    warmup = _warmup(slots, rho)
    children = np.random.SeedSequence([seed, slots, round(rho * 100)]).spawn(
        REPLICATIONS
    )
    means, waited = [], []
    for child in children:
        frame = _replicate(slots, lam, n + warmup, child)
        assert (frame["outcome"] == "completed").all()
        assert (frame["ran_on"] == "main").all()
        wait_s = frame["queue_s"].to_numpy()[warmup:]
        means.append(wait_s.mean())
        waited.append((wait_s > 0).mean())
    wq = theory.mmc_mean_wait_s(slots, lam, 1.0)
    mean, se = np.mean(means), np.std(means, ddof=1) / math.sqrt(REPLICATIONS)
    tol = 0.01 * wq + 1e-4
    assert abs(mean - wq) <= 3 * se + tol, (slots, rho, mean, se, wq)
    c_value = theory.erlang_c(slots, lam)
    p_mean, p_se = np.mean(waited), np.std(waited, ddof=1) / math.sqrt(REPLICATIONS)
    assert abs(p_mean - c_value) <= 3 * p_se + 0.01 * c_value + 1e-4
    return mean, se, wq


@pytest.mark.parametrize(("slots", "rho"), GRID)
def test_mmc_mean_wait_matches_erlang_c(slots, rho):
    # 20 replications x 10,000 measured queries per cell (plus warm-up). The c = 1
    # cells are M/M/1: Wq = rho / (mu - lam) and P(wait) = rho. Much shorter
    # replications have right-skewed means whose sample SE understates the spread.
    _check_cell(slots, rho, n=10_000, seed=11)


@pytest.mark.slow
@pytest.mark.parametrize(("slots", "rho"), GRID)
def test_mmc_mean_wait_matches_erlang_c_long(slots, rho):
    # 20 replications x 100,000 measured queries per cell: SE about 3x smaller.
    mean, se, wq = _check_cell(slots, rho, n=100_000, seed=12)
    print(f"c={slots} rho={rho}: mean={mean:.6f} se={se:.6f} Wq={wq:.6f}")


def test_many_slots_behave_as_mm_infinity():
    # 50 slots (the manual maximum) at a = 4 Erlang: P(wait) = C(50, 4) < 1e-25,
    # so nobody waits and the number in system is Poisson(a): M/M/inf.
    lam, n = 4.0, 10_000
    children = np.random.SeedSequence(14).spawn(REPLICATIONS)
    numbers = []
    for child in children:
        frame = _replicate(50, lam, n, child)
        assert (frame["queue_s"] == 0.0).all()
        np.testing.assert_allclose(frame["exec_s"], frame["end_s"] - frame["start_s"])
        horizon_s = frame["end_s"].max()
        numbers.append((frame["end_s"] - frame["arrival_s"]).sum() / horizon_s)
    expected = theory.mminf_mean_number(lam, 1.0)
    mean, se = np.mean(numbers), np.std(numbers, ddof=1) / math.sqrt(REPLICATIONS)
    # tol 1%: the horizon includes the empty start and the drain after the last
    # arrival (about 1/mu of n/lam seconds, i.e. 0.02%).
    assert abs(mean - expected) <= 3 * se + 0.01 * expected
