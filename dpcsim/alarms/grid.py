"""The evaluation grid of an alarm and its period values at every instant.

CloudWatch evaluates an alarm with Period >= 60 s every minute, and one with a
10/20/30-s period every 10 s (the *tick*). At the instant ``t`` the newest
period is ``[t - P, t)``, the one before ``[t - 2P, t - P)`` and so on: the
window slides by one tick, it is not aligned to the epoch (Period 300, N 1
evaluates minutes 1-5, then 2-6, ...).

Evaluation instants run every tick from the end of the first datapoint's tick
(the first instant at which a datapoint is complete) to the end of the
epoch-aligned period that holds the last datapoint.

Vectorisation: every instant ``t_i`` needs the values of the ``R`` periods
ending at ``t_i - k P`` (k = 0 newest .. R - 1, R = the evaluation range). All
of them lie on one grid of period *ends* spaced one tick apart, so each
statistic is computed once per grid end (rolling sums, minima, maxima over
``w = P / tick`` tick buckets) and the (instants x R) slot matrix is a strided
view into that one array.

Values that came from GetMetricData (``stat`` set) are already per period, at
the alignment of the query; at instant ``t`` the newest period is the latest one
that ended at or before ``t``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from dpcsim.alarms.spec import MetricStatSpec
from dpcsim.errors import InputError
from dpcsim.metrics.points import run_keys, run_starts
from dpcsim.metrics.statistics import grouped_statistic, parse_percentile

__all__ = ["EvalGrid", "MetricTable", "make_grid", "period_values", "slot_matrix"]

_US = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalGrid:
    """Evaluation instants of one alarm and the grid of period ends they use."""

    start_us: int  # first evaluation instant [µs since the epoch]
    n: int  # number of evaluations
    tick_us: int  # 60 s, or 10 s for high-resolution periods [µs]
    period_us: int  # [µs]
    range_periods: int  # R: periods fetched per evaluation

    def __post_init__(self) -> None:
        if self.n < 1 or self.range_periods < 1 or self.period_us % self.tick_us:
            raise ValueError(f"inconsistent grid {self}")

    @property
    def w(self) -> int:
        """Ticks per period."""
        return self.period_us // self.tick_us

    @property
    def offset(self) -> int:
        """Grid ends before the first instant that the oldest slot reaches back to."""
        return (self.range_periods - 1) * self.w

    @property
    def n_ends(self) -> int:
        return self.n + self.offset

    def ends_us(self) -> np.ndarray:
        """Period ends of the grid [µs]."""
        j = np.arange(self.n_ends, dtype=np.int64)
        return self.start_us + (j - self.offset) * self.tick_us

    def instants_us(self) -> np.ndarray:
        """Evaluation instants [µs]."""
        return self.start_us + np.arange(self.n, dtype=np.int64) * self.tick_us


def make_grid(
    period_s: int, range_periods: int, first_us: int, last_us: int
) -> EvalGrid:
    """Grid from the first to the last datapoint (timestamps in µs)."""
    tick_us = (60 if period_s >= 60 else 10) * _US
    period_us = period_s * _US
    start = (first_us // tick_us) * tick_us + tick_us
    end = (last_us // period_us) * period_us + period_us
    n = max(1, (end - start) // tick_us + 1)
    return EvalGrid(
        start_us=start,
        n=int(n),
        tick_us=tick_us,
        period_us=period_us,
        range_periods=range_periods,
    )


#: Most runs of equal keys, per row, for which grouping by runs pays.
_RUNS_PER_ROW = 1 / 16


def _key_runs(
    columns: list[pd.Series | None], n: int
) -> dict[tuple[str, str, str, str, int], np.ndarray] | None:
    """The groups of rows per key, found from runs of equal keys; None: not runs.

    Datapoints built by :mod:`dpcsim.metrics` are series one after another,
    so a key changes only a few hundred times in a million rows: comparing
    each key column with itself shifted by one finds the runs without hashing
    a string per row. The groups, their order and their rows (ascending) are
    those the factorised path gives. None when the keys are interleaved or a
    key column holds a null (then the factorised path decides).
    """
    present = [col for col in columns if col is not None]
    if n == 0 or any(bool(col.isna().any()) for col in present):
        return None
    arrow = [pa.chunked_array(pa.array(col)) for col in present]
    starts = run_starts(arrow)
    if len(starts) > max(64, n * _RUNS_PER_ROW):
        return None
    ends = np.append(starts[1:], n)
    found: dict[tuple[Any, ...], list[int]] = {}
    for run, key in enumerate(run_keys(arrow, starts)):
        found.setdefault(key, []).append(run)
    # The factorised path orders groups by each column's first-appearance code.
    code = [
        {v: i for i, v in enumerate(dict.fromkeys(key[c] for key in found))}
        for c in range(len(present))
    ]
    out: dict[tuple[str, str, str, str, int], np.ndarray] = {}
    for key in sorted(found, key=lambda k: [code[c][v] for c, v in enumerate(k)]):
        rows = np.concatenate([np.arange(starts[r], ends[r]) for r in found[key]])
        # An absent column (no stat, no period) keys every run with "".
        values = iter(key)
        ns, name, dims, stat, period = (
            "" if col is None else next(values) for col in columns
        )
        out[(str(ns), str(name), str(dims), str(stat), int(period or 0))] = rows
    return out


class MetricTable:
    """Datapoints split once per metric, so that each alarm's lookup is cheap."""

    def __init__(self, datapoints: pd.DataFrame) -> None:
        # The µs instants as integers: a view, where astype would copy them.
        self.ts_us = (
            datapoints["timestamp"].to_numpy(dtype="datetime64[us]").view(np.int64)
        )
        self.values = datapoints["value"].to_numpy(dtype=np.float64)
        columns = [
            datapoints["namespace"],
            datapoints["metric_name"],
            datapoints["dimensions"],
            datapoints["stat"].fillna("") if "stat" in datapoints.columns else None,
            datapoints["period_s"].fillna(0)
            if "period_s" in datapoints.columns
            else None,
        ]
        self.groups: dict[tuple[str, str, str, str, int], np.ndarray] = {}
        runs = _key_runs(columns, len(datapoints))
        if runs is not None:
            self.groups = runs
            return
        # Factorise each key column and fold the codes into one int64 key: much
        # faster than grouping on several string columns.
        combined = np.zeros(len(datapoints), dtype=np.int64)
        uniques: list[list[Any]] = []
        for col in columns:
            if col is None:
                codes, values = np.zeros(len(datapoints), dtype=np.int64), [""]
            else:
                raw_codes, raw_values = pd.factorize(col)
                codes, values = np.asarray(raw_codes, dtype=np.int64), list(raw_values)
            combined = combined * (len(values) + 1) + codes
            uniques.append(values)
        order = np.argsort(combined, kind="stable")
        keys_sorted = combined[order]
        bounds = np.flatnonzero(np.diff(keys_sorted)) + 1
        for rows in np.split(order, bounds) if len(order) else []:
            key = int(combined[rows[0]])
            parts = []
            for values in reversed(uniques):
                key, code = divmod(key, len(values) + 1)
                parts.append(values[code])
            ns, name, dims, stat, period = reversed(parts)
            self.groups[
                (str(ns), str(name), str(dims), str(stat), int(period or 0))
            ] = rows

    @property
    def span_us(self) -> tuple[int, int]:
        """First and last timestamp [µs]."""
        if len(self.ts_us) == 0:
            raise InputError("no datapoints to evaluate alarms on")
        return int(self.ts_us.min()), int(self.ts_us.max())

    def select(self, metric: MetricStatSpec) -> tuple[np.ndarray, np.ndarray, bool]:
        """Timestamps [µs] and values for a metric; True when they are period stats."""
        base = (metric.namespace, metric.metric_name, metric.dimensions)
        pre = self.groups.get((*base, metric.stat, metric.period_s))
        if pre is not None:
            return self.ts_us[pre], self.values[pre], True
        raw = self.groups.get((*base, "", 0))
        if raw is None:
            other = [k for k in self.groups if k[:3] == base]
            if other:
                have = ", ".join(f"Period={k[4]} Stat={k[3]}" for k in other)
                name = (
                    f"{metric.namespace}/{metric.metric_name} {{{metric.dimensions}}}"
                )
                raise InputError(
                    f"{name} has only period statistics ({have}); the alarm "
                    f"needs Period={metric.period_s} Stat={metric.stat}"
                )
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty.astype(np.float64), False
        return self.ts_us[raw], self.values[raw], False


def period_values(
    table: MetricTable, metric: MetricStatSpec, grid: EvalGrid
) -> tuple[np.ndarray, np.ndarray]:
    """The statistic of the period ending at each grid end, and its sample count.

    Returns
    -------
    (values, counts)
        float64 (NaN = no datapoint: missing) and int64 arrays of ``grid.n_ends``.
        Period statistics from GetMetricData report a count of -1 (unknown).
    """
    ts, vals, precomputed = table.select(metric)
    if precomputed:
        return _precomputed_values(ts, vals, grid)
    w = grid.w
    first_bucket_us = grid.start_us - grid.offset * grid.tick_us - grid.period_us
    n_buckets = grid.n_ends + w - 1
    bucket = (ts - first_bucket_us) // grid.tick_us
    keep = (bucket >= 0) & (bucket < n_buckets)
    bucket, vals = bucket[keep], vals[keep]
    counts_b = np.bincount(bucket, minlength=n_buckets)
    cum = np.concatenate(([0], np.cumsum(counts_b)))
    counts = cum[w : w + grid.n_ends] - cum[: grid.n_ends]
    stat = metric.stat
    if parse_percentile(stat) is not None:
        values = _rolling_percentile(bucket, vals, stat, w, grid.n_ends)
    elif stat == "SampleCount":
        values = counts.astype(np.float64)
    else:
        values = _rolling_basic(bucket, vals, stat, w, n_buckets, counts)
    values[counts == 0] = np.nan
    return values, counts


def _rolling_basic(
    bucket: np.ndarray,
    vals: np.ndarray,
    stat: str,
    w: int,
    n_buckets: int,
    counts: np.ndarray,
) -> np.ndarray:
    """Sum/Average/Minimum/Maximum over w consecutive tick buckets."""
    agg = "Sum" if stat in ("Sum", "Average") else stat
    per_bucket, _ = grouped_statistic(bucket, vals, agg, n_buckets)
    series = pd.Series(per_bucket)
    if agg == "Sum":
        rolled = series.fillna(0.0).rolling(w, min_periods=1).sum()
    elif agg == "Minimum":
        rolled = series.rolling(w, min_periods=1).min()
    else:
        rolled = series.rolling(w, min_periods=1).max()
    out = rolled.to_numpy(dtype=np.float64)[w - 1 :].copy()
    if stat == "Average":
        out = out / np.maximum(counts, 1)
    return out


def _rolling_percentile(
    bucket: np.ndarray, vals: np.ndarray, stat: str, w: int, n_ends: int
) -> np.ndarray:
    """pNN per sliding period: one grouped pass per alignment of the window."""
    out = np.full(n_ends, np.nan)
    for r in range(w):
        # Ends r, r + w, r + 2w, ... have disjoint periods: buckets r + g w .. + w - 1.
        sel = bucket >= r
        group = (bucket[sel] - r) // w
        n_groups = (n_ends - r + w - 1) // w
        ok = group < n_groups
        if n_groups <= 0:
            continue
        result, _ = grouped_statistic(group[ok], vals[sel][ok], stat, n_groups)
        out[r::w] = result[: len(out[r::w])]
    return out


def _precomputed_values(
    ts: np.ndarray, vals: np.ndarray, grid: EvalGrid
) -> tuple[np.ndarray, np.ndarray]:
    """GetMetricData period values: the latest period ended at or before each end."""
    period = grid.period_us
    phase = int(ts.min() % period) if len(ts) else 0
    if len(ts) and np.any((ts - phase) % period):
        raise InputError("GetMetricData timestamps are not spaced by whole periods")
    ends = grid.ends_us()
    aligned = ((ends - phase) // period) * period + phase
    period_ends = ts + period
    order = np.argsort(period_ends, kind="stable")
    period_ends, sorted_vals = period_ends[order], vals[order]
    pos = np.searchsorted(period_ends, aligned)
    hit = (pos < len(period_ends)) & (
        period_ends[np.minimum(pos, len(period_ends) - 1)] == aligned
    )
    values = np.full(len(ends), np.nan)
    if len(period_ends):
        values[hit] = sorted_vals[pos[hit]]
    return values, np.full(len(ends), -1, dtype=np.int64)


def slot_matrix(values: np.ndarray, grid: EvalGrid) -> np.ndarray:
    """(n, R) view: row i holds the periods of instant i, newest (k = 0) first."""
    w, offset = grid.w, grid.offset
    strided = np.lib.stride_tricks.as_strided(
        values[offset:],
        shape=(grid.n, grid.range_periods),
        strides=(values.strides[0], -w * values.strides[0]),
        writeable=False,
    )
    return np.asarray(strided)
