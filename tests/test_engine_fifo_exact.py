"""Trace-driven exactness: one FIFO queue with fixed slots equals the recursion.

For a single FIFO queue with c slots and one slot per query, the start time of
each query is given by the Kiefer–Wolfowitz recursion over a heap of slot-free
times: start_i = max(a_i, min(free)), then the slot frees at start_i + s_i. The
engine replays the same arrivals and durations, so its waits must match the
recursion query by query (not just on average), to 1e-9 s.
"""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd
import pytest

import dpcsim.engine as engine
import dpcsim.wlm as wlm
from dpcsim.schema import Workload, validate_workload

#: These tests check the fixed-demand engine: [contention] model = "none".
pytestmark = pytest.mark.usefixtures("fixed_demands")

BASE_AT = pd.Timestamp("2024-03-01 00:00:00", tz="UTC")


def _recursion(arrival_s, exec_s, slots):
    """FIFO waits from the Kiefer–Wolfowitz recursion (independent oracle)."""
    free = [0.0] * slots
    waits = np.empty(len(arrival_s))
    for i, (a, s) in enumerate(zip(arrival_s, exec_s, strict=True)):
        start = max(a, free[0])
        waits[i] = start - a
        heapq.heapreplace(free, start + s)
    return waits


def _run(arrival_us, exec_s, slots):
    """Simulate the trace on one queue; return (engine frame, arrival_s)."""
    arrival_us = np.asarray(arrival_us, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "query_id": np.arange(1, len(arrival_us) + 1, dtype=np.int64),
            "arrival_at": BASE_AT + pd.to_timedelta(arrival_us, unit="us"),
            "statement_type": "select",
            "exec_s": np.asarray(exec_s, dtype=np.float64),
            "user_name": "analyst",
            "user_groups": "analysts",
        }
    )
    workload = Workload(queries=validate_workload(frame))
    queue = wlm.QueueConfig(name="fifo", query_concurrency=slots)
    config = wlm.WLMConfig(queues=(queue,), sqa=None)
    result = engine.simulate(workload, config, rng=0)
    out = result.queries.sort_values("query_id").reset_index(drop=True)
    # The clock's zero is the first arrival floored to the minute: BASE_AT here.
    assert arrival_us.min() < 60_000_000
    return out, arrival_us / 1e6


def _assert_exact(arrival_us, exec_s, slots):
    out, arrival_s = _run(arrival_us, exec_s, slots)
    assert len(out) == len(arrival_s)
    np.testing.assert_allclose(out["arrival_s"], arrival_s, rtol=0, atol=1e-9)
    expected = _recursion(arrival_s, np.asarray(exec_s, dtype=np.float64), slots)
    np.testing.assert_allclose(out["queue_s"], expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        out["start_s"], out["arrival_s"] + expected, rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(out["end_s"] - out["start_s"], exec_s, rtol=0, atol=1e-9)
    assert (out["outcome"] == "completed").all()


@pytest.mark.parametrize("slots", [1, 2, 5, 10, 50])
@pytest.mark.parametrize("rho", [0.7, 0.95, 1.3])
def test_random_traces_match_recursion(slots, rho):
    # rho = 1.3 is overloaded: the queue grows without bound, waits get long.
    rng = np.random.default_rng([slots, round(rho * 100)])
    n = 3_000
    arrival_us = np.cumsum(rng.exponential(1e6 / (rho * slots), n)).astype(np.int64)
    exec_s = rng.lognormal(0.0, 1.2, n) / np.exp(0.72)  # mean 1 s, heavy tail
    _assert_exact(arrival_us, exec_s, slots)


@pytest.mark.parametrize("slots", [1, 3, 10])
def test_ties_in_arrival(slots):
    # Bursts of up to 20 queries at the same microsecond, served in query-id order.
    rng = np.random.default_rng(slots)
    arrival_us = np.sort(rng.integers(0, 50, 2_000)) * 1_000_000
    exec_s = rng.exponential(0.3, 2_000)
    _assert_exact(arrival_us, exec_s, slots)


@pytest.mark.parametrize("slots", [1, 4])
def test_zero_service_times(slots):
    # Zero-length queries still pass through the queue in FIFO order.
    rng = np.random.default_rng(7 + slots)
    n = 1_500
    arrival_us = np.sort(rng.integers(0, 400_000_000, n))
    exec_s = np.where(rng.random(n) < 0.4, 0.0, rng.exponential(1.0, n))
    _assert_exact(arrival_us, exec_s, slots)


def test_adversarial_traces():
    # Everything at once, departures exactly at arrival instants, long gaps,
    # a day-long query, sub-microsecond and whole-second durations.
    slots = 3
    arrival_us = [0] * 7 + [1_000_000] * 3 + [2_000_000, 5_000_000, 86_400_000_000]
    arrival_us += [86_400_000_000 + k for k in range(6)]
    exec_s = [1.0, 1.0, 1.0, 0.0, 2.0, 1e-7, 86_400.0, 0.0, 1.0, 3.0]
    exec_s += [0.5, 0.25, 1.0, 1.0, 1.0, 0.0, 1e-3, 2.0, 0.0]
    _assert_exact(arrival_us, exec_s, slots)


def test_late_start_far_from_the_clock_zero():
    # A week into the clock, float times are ~6e5 s: still exact to 1e-9 s.
    rng = np.random.default_rng(99)
    n = 2_000
    arrival_us = 7 * 86_400_000_000 + np.cumsum(rng.integers(0, 300_000, n))
    arrival_us[0] = 0
    exec_s = rng.exponential(0.8, n)
    _assert_exact(arrival_us, exec_s, 4)
