"""A small, exact reference simulator of a processor-sharing cluster with USL capacity.

Queries arrive, wait in one FIFO queue when all ``slots`` are taken (or never,
with ``slots=None``), and while ``n`` of them execute each progresses at
``X(n) / n`` solo-seconds per second, ``X`` the Universal Scalability Law
``n / (1 + sigma (n - 1) + kappa n (n - 1))``. The simulation is event-driven
on a virtual clock ``V`` with ``dV/dt = X(n) / n``: a query that starts at
virtual time ``V0`` with solo work ``w`` finishes when ``V`` reaches ``V0 + w``,
so the running queries sit in a heap keyed by that value and every arrival or
completion costs O(log n). Nothing is discretised: the only error is floating
point rounding.

It is an oracle for tests (the calibration's recovery, later the engine's
contention model), deliberately written apart from the package, and
:func:`synthetic_log` turns its output into a canonical workload as a cluster
running it would log.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dpcsim.schema import Workload, validate_workload

__all__ = ["PSRun", "diurnal_arrivals", "simulate_ps", "synthetic_log"]


@dataclass(frozen=True)
class PSRun:
    """Per-query start and end [s] of a reference run (in the inputs' order)."""

    start_s: np.ndarray
    end_s: np.ndarray


def _slowdown(n: int, sigma: float, kappa: float) -> float:
    """``n / X(n)``: how much slower than alone each of ``n`` queries runs."""
    return 1.0 + sigma * (n - 1) + kappa * n * (n - 1)


def simulate_ps(
    arrival_s: np.ndarray,
    work_s: np.ndarray,
    *,
    sigma: float,
    kappa: float,
    slots: int | None = None,
) -> PSRun:
    """Run queries through a USL processor-sharing cluster.

    Parameters
    ----------
    arrival_s
        Arrival times [s], any order (ties: input order).
    work_s
        Solo work of each query [s] (its run time alone), >= 0.
    sigma, kappa
        USL coefficients, >= 0.
    slots
        Queries that may execute at once (FIFO queue behind them); None = no limit.
    """
    arrival_s = np.asarray(arrival_s, dtype=np.float64)
    work_s = np.asarray(work_s, dtype=np.float64)
    order = np.argsort(arrival_s, kind="stable")
    start = np.full(arrival_s.size, np.nan)
    end = np.full(arrival_s.size, np.nan)
    running: list[tuple[float, int]] = []  # (virtual finish, query)
    waiting: deque[int] = deque()
    t = 0.0
    v = 0.0
    i = 0
    limit = slots if slots is not None else arrival_s.size + 1

    def begin(q: int, now: float) -> None:
        start[q] = now
        heapq.heappush(running, (v + work_s[q], q))

    while i < order.size or running:
        n = len(running)
        t_arrival = arrival_s[order[i]] if i < order.size else np.inf
        t_finish = t + (running[0][0] - v) * _slowdown(n, sigma, kappa) if n else np.inf
        if t_finish <= t_arrival:
            # A completion first (ties with an arrival: the slot frees first).
            v_done, q = heapq.heappop(running)
            t, v = max(t_finish, t), v_done
            end[q] = t
            if waiting and len(running) < limit:
                begin(waiting.popleft(), t)
        else:
            if n:
                v += (t_arrival - t) / _slowdown(n, sigma, kappa)
            t = t_arrival
            q = int(order[i])
            i += 1
            if len(running) < limit:
                begin(q, t)
            else:
                waiting.append(q)
    return PSRun(start_s=start, end_s=end)


def diurnal_arrivals(
    rng: np.random.Generator,
    *,
    days: float,
    mean_rate_per_s: float,
    amplitude: float = 0.9,
) -> np.ndarray:
    """Poisson arrival times [s] with a daily sinusoidal rate (thinning).

    The rate is ``mean_rate_per_s (1 + amplitude sin(2 pi t / 1 day))``, so
    concurrency sweeps from nearly idle to the daily peak.
    """
    horizon = days * 86400.0
    peak = mean_rate_per_s * (1.0 + amplitude)
    count = rng.poisson(peak * horizon)
    candidate = np.sort(rng.uniform(0.0, horizon, count))
    rate = mean_rate_per_s * (1.0 + amplitude * np.sin(2 * np.pi * candidate / 86400.0))
    keep = rng.uniform(0.0, peak, count) < rate
    return candidate[keep]


def synthetic_log(
    rng: np.random.Generator,
    *,
    sigma: float,
    kappa: float,
    n_shapes: int = 40,
    days: float = 1.0,
    mean_rate_per_s: float = 0.05,
    median_work_s: float = 20.0,
    shape_spread: float = 1.0,
    noise_sd: float = 0.15,
    slots: int | None = None,
    start_at: str = "2025-05-26T00:00:00Z",
) -> tuple[Workload, np.ndarray]:
    """A canonical workload logged by a USL processor-sharing cluster.

    Each shape's typical solo work is lognormal (median ``median_work_s``,
    log-sd ``shape_spread``); each query's solo work is its shape's times a
    lognormal factor (log-sd ``noise_sd``). Arrivals are :func:`diurnal_arrivals`
    and shapes are drawn uniformly. Times are rounded to the microsecond, as
    STL_WLM_QUERY logs them.

    Returns
    -------
    (Workload, ndarray)
        The log (``exec_s`` and ``queue_s`` as measured) and the true solo
        work of each of its rows [s].
    """
    arrival_s = diurnal_arrivals(rng, days=days, mean_rate_per_s=mean_rate_per_s)
    shape_work = median_work_s * np.exp(shape_spread * rng.standard_normal(n_shapes))
    shape = rng.integers(0, n_shapes, arrival_s.size)
    work = shape_work[shape] * np.exp(noise_sd * rng.standard_normal(arrival_s.size))
    arrival_s = np.round(arrival_s, 6)
    run = simulate_ps(arrival_s, work, sigma=sigma, kappa=kappa, slots=slots)
    queue_s = np.round(run.start_s - arrival_s, 6)
    exec_s = np.round(run.end_s - run.start_s, 6)
    arrival_at = pd.Timestamp(start_at) + pd.to_timedelta(
        np.round(arrival_s * 1e6).astype(np.int64), unit="us"
    )
    frame = pd.DataFrame(
        {
            "query_id": np.arange(1, arrival_s.size + 1, dtype=np.int64),
            "arrival_at": arrival_at,
            "statement_type": "select",
            "exec_s": exec_s,
            "queue_s": queue_s,
            "service_class": 6,
            "queue": "Default queue",
            "fingerprint": [f"select * from t{k} where x = ?" for k in shape],
            "query_text": [f"select * from t{k} where x = 1" for k in shape],
        }
    )
    queries = validate_workload(frame)
    # validate_workload sorts by arrival then query id: realign the truth.
    truth = work[queries["query_id"].to_numpy() - 1]
    return Workload(queries=queries), truth
