"""CloudWatch statistics per period, computed from raw published datapoints.

CloudWatch defines (Statistics-definitions):

- ``SampleCount``: the number of datapoints in the period;
- ``Sum``, ``Minimum``, ``Maximum`` of their values;
- ``Average`` = Sum / SampleCount;
- ``pNN`` (``p99``, ``p99.9``, ...): a percentile of the raw values.

Percentile interpolation: CloudWatch does not publish its interpolation. dpcsim
uses the *nearest-rank* definition, which never invents a value that was not
published: ``pNN`` is the smallest value such that at least NN % of the period's
values are less than or equal to it, i.e. the ``ceil(NN/100 * n)``-th smallest of
``n`` values (``numpy.quantile(..., method="inverted_cdf")``).

Low sample counts: an alarm with ``EvaluateLowSampleCountPercentile = ignore``
does not change state on a period with fewer samples than
:func:`low_sample_threshold` (``10 / (1 - p)`` for p >= 0.5, ``10 / p`` below,
p as a fraction: p99 needs 1000 samples).

Periods are aligned to the Unix epoch, as ``GetMetricStatistics`` aligns them: the
period of a datapoint starts at ``floor(timestamp / period) * period``. (Alarms
instead slide their window every minute; see :mod:`dpcsim.alarms.grid`.)
"""

from __future__ import annotations

import math
import re
from typing import Final

import numpy as np
import pandas as pd

from dpcsim.errors import InputError

__all__ = [
    "BASIC_STATISTICS",
    "grouped_statistic",
    "low_sample_threshold",
    "parse_percentile",
    "period_statistics",
    "statistic_of",
]

#: The ``Statistic`` enum of PutMetricAlarm / GetMetricStatistics.
BASIC_STATISTICS: Final[tuple[str, ...]] = (
    "SampleCount",
    "Sum",
    "Average",
    "Minimum",
    "Maximum",
)
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,10})?|100(?:\.0+)?)$")


def parse_percentile(stat: str) -> float | None:
    """Return NN for ``"pNN"`` (0 < NN <= 100), or None for any other statistic."""
    match = _PERCENTILE.match(stat)
    if match is None:
        return None
    value = float(match.group(1))
    return value if 0.0 < value <= 100.0 else None


def low_sample_threshold(percent: float) -> float:
    """Samples a percentile needs before it is statistically significant.

    Parameters
    ----------
    percent
        The percentile NN of ``pNN`` [%].

    Returns
    -------
    float
        ``10 / (1 - p)`` for p >= 0.5, ``10 / p`` for p < 0.5 (p = NN/100);
        ``inf`` for p100.
    """
    p = percent / 100.0
    if p >= 1.0:
        return math.inf
    return 10.0 / (1.0 - p) if p >= 0.5 else 10.0 / p


def _check_stat(stat: str) -> float | None:
    """Validate a statistic name; return its percentile or None."""
    if stat in BASIC_STATISTICS:
        return None
    percent = parse_percentile(stat)
    if percent is None:
        raise InputError(
            f"statistic {stat!r}: expected one of {list(BASIC_STATISTICS)} or pNN "
            "(e.g. p99, p99.9)",
            location="Statistic",
        )
    return percent


def grouped_statistic(
    codes: np.ndarray, values: np.ndarray, stat: str, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Compute one statistic per group, vectorised.

    Parameters
    ----------
    codes
        Group index in ``[0, n_groups)`` per value (int64).
    values
        The raw values (float64), same length as ``codes``.
    stat
        A basic statistic or ``pNN``.
    n_groups
        Number of groups.

    Returns
    -------
    (result, count)
        ``result`` (float64, NaN where a group is empty) and the sample count per
        group (int64).
    """
    percent = _check_stat(stat)
    codes = np.asarray(codes, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    count = np.bincount(codes, minlength=n_groups).astype(np.int64)
    empty = count == 0
    result: np.ndarray
    if stat == "SampleCount":
        result = count.astype(np.float64)
    elif stat in ("Sum", "Average"):
        total = np.bincount(codes, weights=values, minlength=n_groups)
        result = total if stat == "Sum" else total / np.maximum(count, 1)
    elif stat in ("Minimum", "Maximum"):
        fill, op = (np.inf, np.minimum) if stat == "Minimum" else (-np.inf, np.maximum)
        result = np.full(n_groups, fill)
        op.at(result, codes, values)
    else:
        assert percent is not None
        result = _nearest_rank(codes, values, percent, count)
    result = np.asarray(result, dtype=np.float64)
    result[empty] = np.nan
    return result, count


def _nearest_rank(
    codes: np.ndarray, values: np.ndarray, percent: float, count: np.ndarray
) -> np.ndarray:
    """Nearest-rank percentile per group: the ceil(p*n)-th smallest value."""
    order = np.lexsort((values, codes))
    starts = np.concatenate(([0], np.cumsum(count)[:-1]))
    # A tiny tolerance keeps p*n that is an integer in floating point exact
    # (p50 of 10 values is the 5th, not the 6th).
    rank = np.ceil(percent / 100.0 * count - 1e-9).astype(np.int64)
    rank = np.clip(rank, 1, np.maximum(count, 1))
    picked = np.minimum(starts + rank - 1, max(len(values) - 1, 0))
    if len(values) == 0:
        return np.full(len(count), np.nan)
    return np.asarray(values[order][picked], dtype=np.float64)


def statistic_of(values: np.ndarray, stat: str) -> float:
    """One statistic of one period's raw values (NaN when there are none)."""
    values = np.asarray(values, dtype=np.float64)
    result, _ = grouped_statistic(
        np.zeros(len(values), dtype=np.int64), values, stat, 1
    )
    return float(result[0])


def period_statistics(
    datapoints: pd.DataFrame,
    *,
    period_s: int,
    stats: tuple[str, ...] = BASIC_STATISTICS,
) -> pd.DataFrame:
    """Statistics per epoch-aligned period for every metric in a datapoints frame.

    Parameters
    ----------
    datapoints
        A tidy datapoints frame (:mod:`dpcsim.metrics.datapoints`) of raw values.
    period_s
        The period [s] (> 0).
    stats
        Statistics to compute (basic ones or ``pNN``).

    Returns
    -------
    pandas.DataFrame
        ``namespace, metric_name, dimensions, timestamp`` (period start,
        datetime64[us, UTC]) and one float64 column per statistic; one row per
        metric and period that has at least one datapoint.
    """
    if period_s <= 0:
        raise InputError(f"period {period_s!r}: expected a positive number of seconds")
    for stat in stats:
        _check_stat(stat)
    keys = ["namespace", "metric_name", "dimensions"]
    ts_us = datapoints["timestamp"].to_numpy(dtype="datetime64[us]").astype(np.int64)
    start_us = (ts_us // (period_s * 1_000_000)) * (period_s * 1_000_000)
    frame = datapoints[keys].copy()
    frame["timestamp"] = start_us
    cols = [*keys, "timestamp"]
    groups = frame.groupby(cols, sort=True, dropna=False)
    codes = groups.ngroup().to_numpy(dtype=np.int64)
    out = groups.size().reset_index()[cols]
    stamps = pd.to_datetime(out["timestamp"].to_numpy(), unit="us", utc=True)
    out["timestamp"] = stamps.astype("datetime64[us, UTC]")
    values = datapoints["value"].to_numpy(dtype=np.float64)
    for stat in stats:
        out[stat], _ = grouped_statistic(codes, values, stat, len(out))
    return out.sort_values([*keys, "timestamp"], ignore_index=True)
