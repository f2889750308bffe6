"""Brute-force reference of the alarm evaluation: the documented rules, literally.

One evaluation at a time, one period at a time, in plain Python: at each instant
``t`` it collects the raw datapoints of each period ``[t - (k+1) P, t - k P)``,
computes the statistic from its definition, and applies the rules of
AlarmThatSendsEmail ("How alarm state is evaluated when data is missing",
"Avoiding premature transitions to alarm state") written out as they read. It
shares no code with :mod:`dpcsim.alarms.evaluate` beyond parsing (the alarm
spec and the metric-math parser), and exists so that a property test can check
the fast evaluator against it. It handles raw datapoints only (no
GetMetricData period statistics).
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import pandas as pd

from dpcsim.alarms.mathexpr import evaluate as eval_expression
from dpcsim.alarms.spec import AlarmSpec, MetricStatSpec, evaluation_order
from dpcsim.metrics.statistics import low_sample_threshold, parse_percentile

__all__ = ["reference_decide", "reference_evaluate"]

_US = 1_000_000


def _statistic(values: list[float], stat: str) -> float | None:
    """The statistic of one period by its definition; None when there is no data."""
    if not values:
        return None
    if stat == "SampleCount":
        return float(len(values))
    if stat == "Sum":
        return float(sum(values))
    if stat == "Average":
        return float(sum(values)) / len(values)
    if stat == "Minimum":
        return float(min(values))
    if stat == "Maximum":
        return float(max(values))
    percent = parse_percentile(stat)
    assert percent is not None
    ordered = sorted(values)
    # Nearest rank: the smallest value with at least p % of the values <= it.
    rank = 1
    while rank < len(ordered) and rank / len(ordered) < percent / 100.0 - 1e-12:
        rank += 1
    return ordered[rank - 1]


def _breaches(value: float, comparison: str, threshold: float) -> bool:
    if comparison == "GreaterThanThreshold":
        return value > threshold
    if comparison == "GreaterThanOrEqualToThreshold":
        return value >= threshold
    if comparison == "LessThanThreshold":
        return value < threshold
    return value <= threshold


def reference_decide(
    points: list[bool | None], *, m: int, n: int, treat: str, current: str
) -> str:
    """New state from the evaluation range, newest first (None = missing)."""
    real = [(age, b) for age, b in enumerate(points) if b is not None]
    if len(real) >= n:
        # Enough real points: the newest N real ones decide; TreatMissingData unused.
        breaching = sum(1 for _, b in real[:n] if b)
        return "ALARM" if breaching >= m else "OK"
    filled = n - len(real)
    breaching = sum(1 for _, b in real if b)
    if treat == "breaching":
        return "ALARM" if breaching + filled >= m else "OK"
    if treat == "notBreaching":
        return "ALARM" if breaching >= m else "OK"
    keep = current if treat == "ignore" else None
    if not real:
        return keep or "INSUFFICIENT_DATA"
    if breaching >= m:
        return "ALARM"
    if all(b for _, b in real):
        oldest_age = max(age for age, _ in real)
        if oldest_age + 1 >= m:
            return keep or "ALARM"
        return keep or "INSUFFICIENT_DATA"
    return "OK"


def _series(
    datapoints: pd.DataFrame, metric: MetricStatSpec
) -> tuple[list[int], list[float]]:
    rows = datapoints[
        (datapoints["namespace"] == metric.namespace)
        & (datapoints["metric_name"] == metric.metric_name)
        & (datapoints["dimensions"] == metric.dimensions)
    ]
    ts = rows["timestamp"].to_numpy(dtype="datetime64[us]").astype(np.int64).tolist()
    pairs = sorted(zip(ts, rows["value"].astype(float).tolist(), strict=True))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _period(series: tuple[list[int], list[float]], lo: int, hi: int) -> list[float]:
    ts, values = series
    return values[bisect.bisect_left(ts, lo) : bisect.bisect_left(ts, hi)]


def _slot_value(
    alarm: AlarmSpec, data: dict[str, tuple[list[int], list[float]]], lo: int, hi: int
) -> tuple[float | None, int]:
    """Value of one period (None = missing) and its sample count (single metric)."""
    if alarm.metric is not None:
        raw = _period(data["metric"], lo, hi)
        return _statistic(raw, alarm.metric.stat), len(raw)
    env: dict[str, np.ndarray] = {}
    result = math.nan
    for query, node in evaluation_order(alarm.queries):
        if query.metric_stat is not None:
            value = _statistic(_period(data[query.id], lo, hi), query.metric_stat.stat)
            env[query.id] = np.array([math.nan if value is None else value])
        else:
            assert node is not None
            env[query.id] = eval_expression(node, env, 1)
        if query.return_data:
            result = float(env[query.id][0])
    return (None if math.isnan(result) else result), -1


def reference_evaluate(
    alarm: AlarmSpec, datapoints: pd.DataFrame, *, range_extra: int = 2
) -> list[tuple[int, str]]:
    """Evaluate one alarm literally; return ``(instant [µs], state)`` per evaluation."""
    data = {}
    if alarm.metric is not None:
        data["metric"] = _series(datapoints, alarm.metric)
    for q in alarm.queries:
        if q.metric_stat is not None:
            data[q.id] = _series(datapoints, q.metric_stat)
    stamps = datapoints["timestamp"].to_numpy(dtype="datetime64[us]").astype(np.int64)
    first, last = int(stamps.min()), int(stamps.max())
    period = alarm.period_s * _US
    tick = (60 if alarm.period_s >= 60 else 10) * _US
    t = (first // tick) * tick + tick
    end = (last // period) * period + period
    percent = parse_percentile(alarm.metric.stat) if alarm.metric else None
    state, out = "INSUFFICIENT_DATA", []
    while True:
        points: list[bool | None] = []
        newest_count = 0
        for age in range(alarm.evaluation_periods + range_extra):
            value, count = _slot_value(
                alarm, data, t - (age + 1) * period, t - age * period
            )
            newest_count = count if age == 0 else newest_count
            points.append(
                None
                if value is None
                else _breaches(value, alarm.comparison, alarm.threshold)
            )
        low = (
            percent is not None
            and not alarm.evaluate_low_sample_percentile
            and 0 < newest_count < low_sample_threshold(percent)
        )
        if not low:
            state = reference_decide(
                points,
                m=alarm.datapoints_to_alarm,
                n=alarm.evaluation_periods,
                treat=alarm.treat_missing_data,
                current=state,
            )
        out.append((t, state))
        if t >= end:
            return out
        t += tick
