"""Shared cluster capacity: the Universal Scalability Law and processor sharing.

Every query running on one cluster (the main cluster: all queues and SQA; or
one Concurrency Scaling cluster) shares that cluster's capacity. With ``n``
queries running the cluster does

    X(n) = n / (1 + sigma (n - 1) + kappa n (n - 1))

queries' worth of solo work per second (Gunther's Universal Scalability Law;
``sigma`` is contention, ``kappa`` coherency), and each running query of
weight ``w`` progresses at ``X(n) w / W`` (``W`` the sum of the weights of the
running queries; all weights are 1 under manual WLM, so each progresses at
``X(n) / n``: egalitarian processor sharing).

:class:`VirtualClock` keeps that cheap: one virtual time per cluster with
``dV/dt = X(n) / W``; a query that starts with ``work`` seconds of solo work at
virtual time ``V0`` finishes when ``V`` reaches ``V0 + work / w``. A start or an
end costs O(log n) (a heap of finish values in V); the engine schedules one
real-time event per cluster, at the next finish.

:func:`observed_to_solo` turns logged execution times, measured under the
logged concurrency, into solo work: the integral of ``X(n(t)) / n(t)`` over each
query's logged execution, ``n(t)`` the logged number of queries running on its
cluster. Replaying a log under the configuration that recorded it then
reproduces its execution times.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappop, heappush

import numpy as np

__all__ = [
    "VirtualClock",
    "observed_to_solo",
    "rate_table",
    "segment_speed",
    "usl_throughput",
]


def usl_throughput(
    n: float | np.ndarray, sigma: float, kappa: float
) -> float | np.ndarray:
    """Throughput ``X(n)`` [queries' solo work per s] with ``n`` queries running.

    >>> usl_throughput(1, 0.1, 0.01)
    1.0
    >>> round(float(usl_throughput(10, 1.0, 0.0)), 12)
    1.0
    """
    if isinstance(n, np.ndarray):
        x = n.astype(np.float64)
        out: np.ndarray = np.where(
            x > 0, x / (1.0 + sigma * (x - 1.0) + kappa * x * (x - 1.0)), 0.0
        )
        return out
    if n <= 0:
        return 0.0
    return float(n) / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


def rate_table(n_max: int, sigma: float, kappa: float) -> list[float]:
    """``X(n) / n`` for ``n = 0..n_max`` (0 at ``n = 0``): each query's speed."""
    out = [0.0]
    for n in range(1, n_max + 1):
        out.append(1.0 / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)))
    return out


def observed_to_solo(
    start_s: np.ndarray,
    end_s: np.ndarray,
    cluster: np.ndarray,
    sigma: float,
    kappa: float,
) -> np.ndarray:
    """Solo work [s] of queries logged running from ``start_s`` to ``end_s``.

    Parameters
    ----------
    start_s, end_s
        Logged start and end of each query's execution [s]; ``end_s >= start_s``.
    cluster
        Cluster each query ran on (any integer labels; queries of one label
        share a capacity).
    sigma, kappa
        USL parameters.

    Returns
    -------
    numpy.ndarray
        ``integral of X(n(t)) / n(t) dt`` over ``[start_s, end_s]`` per query,
        ``n(t)`` counting the logged queries of its cluster running at ``t``.
        Zero-length executions give 0.

    >>> observed_to_solo(np.array([0.0, 0.0]), np.array([2.0, 2.0]),
    ...                  np.array([0, 0]), 1.0, 0.0).tolist()
    [1.0, 1.0]
    """
    start_s = np.asarray(start_s, np.float64)
    end_s = np.asarray(end_s, np.float64)
    cluster = np.asarray(cluster)
    if not cluster.size or bool((cluster == cluster[0]).all()):
        return _solo_one_cluster(start_s, end_s, sigma, kappa)
    work = np.zeros(start_s.size, np.float64)
    for c in np.unique(cluster):
        sel = np.flatnonzero(cluster == c)
        work[sel] = _solo_one_cluster(start_s[sel], end_s[sel], sigma, kappa)
    return work


def segment_speed(n_seg: np.ndarray, sigma: float, kappa: float) -> np.ndarray:
    """``X(n) / n`` per segment with ``n_seg`` queries running (0 when idle).

    One expression for the whole-log conversion and its windowed form
    (:mod:`dpcsim.engine.solowindows`), so both give the same bits.
    """
    speed: np.ndarray = np.where(
        n_seg > 0,
        1.0 / (1.0 + sigma * (n_seg - 1.0) + kappa * n_seg * (n_seg - 1.0)),
        0.0,
    )
    return speed


def _solo_one_cluster(
    start_s: np.ndarray, end_s: np.ndarray, sigma: float, kappa: float
) -> np.ndarray:
    """:func:`observed_to_solo` for the queries of one cluster."""
    t = np.concatenate([start_s, end_s])
    step = np.concatenate(
        [np.ones(start_s.size, np.int64), -np.ones(end_s.size, np.int64)]
    )
    order = np.argsort(t, kind="stable")
    t, step = t[order], step[order]
    n_after = np.cumsum(step)  # running count just after each change
    seg = np.diff(t)
    speed = segment_speed(n_after[:-1], sigma, kappa)
    # C(t): cumulative per-query progress; equal instants share one value
    # (a zero-length step adds exactly 0.0), so each instant's own place in
    # the sorted order reads the same C as the first of its equals would.
    cum = np.concatenate([[0.0], np.cumsum(speed * seg)])
    # Each instant's own sorted position: equal instants are 0 s apart, so
    # they share one C value and any of their positions reads it.
    position = np.empty(order.size, np.int64)
    position[order] = np.arange(order.size)
    at_start, at_end = position[: start_s.size], position[start_s.size :]
    out: np.ndarray = np.maximum(cum[at_end] - cum[at_start], 0.0)
    return out


class VirtualClock:
    """The processor-sharing clock of one cluster (see the module docstring).

    Parameters
    ----------
    speed
        ``X(n) / n`` by ``n`` (:func:`rate_table`), long enough for every
        concurrency the run can reach (it is extended on demand).
    sigma, kappa
        USL parameters (to extend ``speed``).
    """

    __slots__ = ("heap", "kappa", "n", "r", "sigma", "speed", "stamp", "t", "v", "w")

    def __init__(self, speed: list[float], sigma: float, kappa: float) -> None:
        self.speed = speed
        self.sigma, self.kappa = sigma, kappa
        #: Virtual time, real time it was last brought up to [s].
        self.v, self.t = 0.0, 0.0
        #: Running queries, the sum of their weights and dV/dt.
        self.n, self.w, self.r = 0, 0.0, 0.0
        #: (finish value in V, stamp, query): lazy deletion through ``stamp``.
        self.heap: list[tuple[float, int, int]] = []
        self.stamp = 0

    def rate(self) -> float:
        """Current ``dV/dt`` (0 when idle)."""
        return self.r

    def _set_rate(self) -> None:
        """Recompute dV/dt after the running set changed."""
        n = self.n
        if n == 0:
            self.r = 0.0
            return
        if n >= len(self.speed):
            self.speed.extend(
                rate_table(2 * n, self.sigma, self.kappa)[len(self.speed) :]
            )
        self.r = self.speed[n] * n / self.w

    def advance(self, now: float) -> None:
        """Bring the virtual time up to real time ``now``."""
        self.v += self.r * (now - self.t)
        self.t = now

    def add(self, i: int, work: float, weight: float, now: float) -> tuple[float, int]:
        """Start query ``i`` with ``work`` [s solo]; return (finish value, stamp)."""
        self.v += self.r * (now - self.t)
        self.t = now
        self.stamp += 1
        f = self.v + work / weight
        heappush(self.heap, (f, self.stamp, i))
        self.n += 1
        self.w += weight
        self._set_rate()
        return f, self.stamp

    def remove(self, finish_v: float, weight: float, now: float) -> float:
        """Take a running query out early; return its remaining work [s solo]."""
        self.advance(now)
        left = max(finish_v - self.v, 0.0) * weight
        self._drop(weight)
        return left

    def _drop(self, weight: float) -> None:
        """One query fewer; reset V when idle (keeps the float precision)."""
        self.n -= 1
        self.w -= weight
        if self.n == 0:
            self.v, self.w, self.r = 0.0, 0.0, 0.0
            self.heap.clear()
        else:
            self._set_rate()

    def next_finish(self, live: Sequence[int]) -> float:
        """Real time of the next finish (``inf`` when idle); drops stale heads.

        ``live[i]`` is the stamp of running query ``i``'s current entry (0
        when it runs on no clock; stamps start at 1).
        """
        heap = self.heap
        while heap and live[heap[0][2]] != heap[0][1]:
            heappop(heap)
        if not heap:
            return float("inf")
        return self.t + (heap[0][0] - self.v) / self.r

    def pop_finished(
        self, now: float, live: Sequence[int], exact: bool = True
    ) -> list[int]:
        """Queries finishing at ``now`` (the head, then any equal in V).

        ``exact``: ``now`` was computed as the head's finish for the current
        state, so the head finishes now whatever the float rounding (V is
        pinned to it). Otherwise only heads already reached finish.
        """
        heap = self.heap
        self.advance(now)
        out: list[int] = []
        while heap and live[heap[0][2]] != heap[0][1]:
            heappop(heap)
        if not heap:
            return out
        f0 = heap[0][0]
        tol = 1e-12 * max(1.0, abs(self.v))
        if exact:
            self.v = max(self.v, f0)
        elif f0 > self.v + tol:
            return out
        while heap and heap[0][0] <= self.v + tol:
            _, stamp, i = heappop(heap)
            if live[i] == stamp:
                out.append(i)
        return out

    def finish(self, weight: float) -> None:
        """Account for a query that finished (after :meth:`pop_finished`)."""
        self._drop(weight)
