"""Logged concurrency: who ran when, on which cluster, and averages over each run.

A query's logged execution interval is ``[start, end]`` with
``start = arrival + queue wait`` and ``end = start + exec_s``, on the main
cluster or, when the log says ``ran_on_cs``, on Concurrency Scaling. Every
query executing on a cluster shares its capacity (every queue and SQA on the
main cluster), so the logged concurrency ``n(t)`` of a cluster is the count of
its queries executing at ``t``. It is a step function, computed once by a sweep
over the sorted start and end events (:func:`build_profile`); averages of any
function of ``n(t)`` over every query's interval then cost one prefix sum
(:meth:`ConcurrencyProfile.run_average`).

Result-cache hits do no WLM work and are left out of ``n(t)``. A query whose
queue wait is unknown (NaN) is taken to start at its arrival. Times are
rounded to the microsecond, the logs' resolution. STL_WLM_QUERY
does not say which scaling cluster ran a query, so all Concurrency Scaling
queries form one timeline: exact while at most one scaling cluster runs (the
AWS default ``max_concurrency_scaling_clusters = 1``), otherwise an upper bound
of each scaling cluster's concurrency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from dpcsim.calibration.usl import usl_slowdown

__all__ = [
    "CLUSTERS",
    "ConcurrencyProfile",
    "ExecutionIntervals",
    "build_profile",
    "execution_intervals",
    "max_overlap",
    "solo_work_s",
]

#: Cluster codes of :attr:`ExecutionIntervals.cluster`.
CLUSTERS: Final = ("main", "cs")

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ExecutionIntervals:
    """Logged execution intervals of a workload's rows (in the frame's order).

    Attributes
    ----------
    start_s, end_s
        Execution start and end [s from the first arrival].
    cluster
        Index into :data:`CLUSTERS` per row.
    counted
        True for rows that take part in the cluster's concurrency (not a
        result-cache hit, finite times).
    start_is_arrival
        True where the queue wait is unknown and the start was taken at arrival.
    """

    start_s: FloatArray
    end_s: FloatArray
    cluster: NDArray[np.int64]
    counted: NDArray[np.bool_]
    start_is_arrival: NDArray[np.bool_]


def execution_intervals(queries: pd.DataFrame) -> ExecutionIntervals:
    """Return the logged execution interval of every row of a canonical frame."""
    arrival_us = queries["arrival_at"].to_numpy(dtype="datetime64[us]").astype(np.int64)
    origin_us = int(arrival_us.min()) if arrival_us.size else 0
    arrival_s = (arrival_us - origin_us) / 1e6
    queue_s = queries["queue_s"].to_numpy(dtype=np.float64, na_value=np.nan)
    unknown_wait = ~np.isfinite(queue_s)
    # Logs count in microseconds: rounding to them makes a start logged at
    # another query's end tie with it exactly instead of overlapping by an ulp.
    start_raw = arrival_s + np.where(unknown_wait, 0.0, queue_s)
    if "sqa_exec_s" in queries.columns:
        # The logged attempt of a query evicted from SQA starts after its SQA one.
        sqa_s = queries["sqa_exec_s"].to_numpy(dtype=np.float64, na_value=np.nan)
        start_raw = start_raw + np.nan_to_num(sqa_s, nan=0.0)
    start_s = np.round(start_raw, 6)
    end_s = np.round(start_raw + queries["exec_s"].to_numpy(dtype=np.float64), 6)
    cluster = queries["ran_on_cs"].to_numpy(dtype=bool).astype(np.int64)
    counted = ~queries["cache_hit"].to_numpy(dtype=bool) & np.isfinite(end_s)
    return ExecutionIntervals(
        start_s=start_s,
        end_s=end_s,
        cluster=cluster,
        counted=counted,
        start_is_arrival=unknown_wait,
    )


@dataclass(frozen=True, slots=True)
class ConcurrencyProfile:
    """The step functions ``n(t)`` of every cluster, and each row's place on them.

    All clusters' event times sit in one array, cluster after cluster; a
    segment ``j`` is ``[times_s[j], times_s[j + 1])`` with ``running[j]``
    queries executing, and the segment joining two clusters has zero length.

    Attributes
    ----------
    times_s
        Distinct event times per cluster, concatenated [s].
    running
        Queries executing on each segment (``len(times_s) - 1`` values).
    start_index, end_index
        Per row of the frame: index into ``times_s`` of its start and end
        (-1 for rows not counted).
    """

    times_s: FloatArray
    running: NDArray[np.int64]
    start_index: NDArray[np.int64]
    end_index: NDArray[np.int64]

    @property
    def segment_s(self) -> FloatArray:
        """Length of each segment [s] (zero where two clusters join)."""
        dt: FloatArray = np.diff(self.times_s)
        return np.maximum(dt, 0.0)

    def run_average(
        self, values: Callable[[FloatArray], FloatArray], rows: NDArray[np.int64]
    ) -> FloatArray:
        """Time averages of ``values(n)`` over the logged runs of ``rows``.

        Parameters
        ----------
        values
            Maps running counts (float array, each >= 1) to one array of the
            same shape, or to a ``(k, segments)`` stack of ``k`` functions.
        rows
            Row positions (counted, with a positive duration).

        Returns
        -------
        ndarray
            ``(len(rows),)`` or ``(k, len(rows))`` averages.
        """
        n = np.maximum(self.running, 1).astype(np.float64)
        dt = self.segment_s
        raw = np.asarray(values(n), dtype=np.float64)
        weighted = np.atleast_2d(raw) * dt
        prefix = np.zeros((weighted.shape[0], weighted.shape[1] + 1))
        np.cumsum(weighted, axis=1, out=prefix[:, 1:])
        s, e = self.start_index[rows], self.end_index[rows]
        duration = self.times_s[e] - self.times_s[s]
        out: FloatArray = (prefix[:, e] - prefix[:, s]) / duration
        return out[0] if raw.ndim == 1 else out

    def level_times(self, rows: NDArray[np.int64]) -> tuple[FloatArray, FloatArray]:
        """Time each of ``rows`` ran at each concurrency level.

        Returns
        -------
        (levels, times)
            The levels met (>= 1, ascending) and a ``(len(rows), len(levels))``
            matrix of seconds; a row's times sum to its run's length.
        """
        s, e = self.start_index[rows], self.end_index[rows]
        dt = self.segment_s
        level = np.maximum(self.running, 1)
        # Only the levels of segments inside some run matter.
        inside = np.zeros(level.size + 1, dtype=np.int64)
        np.add.at(inside, s, 1)
        np.add.at(inside, e, -1)
        covered = np.cumsum(inside)[:-1] > 0
        levels = np.unique(level[covered & (dt > 0)])
        times = np.zeros((rows.size, levels.size))
        prefix = np.zeros(dt.size + 1)
        for k, n in enumerate(levels.tolist()):
            np.cumsum(np.where(level == n, dt, 0.0), out=prefix[1:])
            times[:, k] = prefix[e] - prefix[s]
        return levels.astype(np.float64), np.maximum(times, 0.0)


def build_profile(intervals: ExecutionIntervals) -> ConcurrencyProfile:
    """Sweep each cluster's start and end events into its concurrency ``n(t)``."""
    n_rows = intervals.start_s.size
    start_index = np.full(n_rows, -1, dtype=np.int64)
    end_index = np.full(n_rows, -1, dtype=np.int64)
    times: list[FloatArray] = []
    running: list[NDArray[np.int64]] = []
    offset = 0
    for code in range(len(CLUSTERS)):
        rows = np.flatnonzero(intervals.counted & (intervals.cluster == code))
        if rows.size == 0:
            continue
        events = np.concatenate([intervals.start_s[rows], intervals.end_s[rows]])
        uniq, inverse = np.unique(events, return_inverse=True)
        delta = np.concatenate([np.ones(rows.size), -np.ones(rows.size)])
        net = np.bincount(inverse, weights=delta, minlength=uniq.size)
        # n after each event; the last event leaves the cluster idle.
        level = np.rint(np.cumsum(net)).astype(np.int64)
        if times:
            running.append(np.zeros(1, dtype=np.int64))  # the join segment
        times.append(uniq)
        running.append(level[:-1])
        start_index[rows] = offset + inverse[: rows.size]
        end_index[rows] = offset + inverse[rows.size :]
        offset += uniq.size
    if not times:
        return ConcurrencyProfile(
            times_s=np.zeros(1),
            running=np.zeros(0, dtype=np.int64),
            start_index=start_index,
            end_index=end_index,
        )
    return ConcurrencyProfile(
        times_s=np.concatenate(times),
        running=np.concatenate(running),
        start_index=start_index,
        end_index=end_index,
    )


def solo_work_s(
    intervals: ExecutionIntervals,
    profile: ConcurrencyProfile,
    sigma: float,
    kappa: float,
) -> FloatArray:
    """Solo work of every row [s]: the integral of ``X(n(t)) / n(t)`` over its run.

    Rows not counted (cache hits) keep their logged ``exec_s``; a zero-length
    run has zero work.
    """
    work = intervals.end_s - intervals.start_s
    rows = np.flatnonzero(intervals.counted & (work > 0))
    rate = profile.run_average(lambda n: 1.0 / usl_slowdown(n, sigma, kappa), rows)
    out = work.copy()
    out[rows] = work[rows] * rate
    return out


def max_overlap(
    start_s: FloatArray,
    end_s: FloatArray,
    weight: NDArray[np.int64],
    *,
    tolerance_s: float = 1e-5,
) -> int:
    """Largest total ``weight`` of intervals ``[start, end)`` open at one instant.

    An interval that ends at the instant another starts does not overlap it,
    nor does one ending up to ``tolerance_s`` after it (logged times carry
    microsecond rounding: a slot handed over at one instant can show a 1 µs
    overlap). Zero-length intervals count (a query that ran took its slot).
    """
    if start_s.size == 0:
        return 0
    short = end_s - tolerance_s <= start_s
    end_key = np.where(short, start_s, end_s - tolerance_s)
    times = np.concatenate([start_s, end_key])
    delta = np.concatenate([weight, -weight]).astype(np.int64)
    # At one instant: ends of runs that had a length first, then starts, then
    # the ends of (nearly) zero-length runs, so they count on top of the others.
    kind = np.concatenate([np.ones(start_s.size), np.where(short, 2.0, 0.0)])
    order = np.lexsort((kind, times))
    return int(np.cumsum(delta[order]).max(initial=0))
