"""Property test: the vectorised evaluator agrees with the brute-force reference.

Random raw series (random publish times, so periods are often empty: gaps),
random Period (high-resolution and standard), N, M, operator, threshold,
statistic, TreatMissingData and evaluation range, single-metric and metric-math
alarms. Values and thresholds are multiples of 0.5, so sums and averages are
exact in floating point and equality with the threshold is exercised; the two
implementations must then agree on every evaluation, not approximately.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpcsim.alarms import STATE_NAMES, EvaluationOptions, evaluate_alarm, parse_alarm
from dpcsim.alarms.reference import reference_evaluate
from dpcsim.alarms.spec import COMPARISON_OPERATORS, TREAT_MISSING_DATA
from dpcsim.metrics.datapoints import concat_datapoints, make_datapoints

BASE = pd.Timestamp("2024-03-01T00:00:00Z")
STATS = ("SampleCount", "Sum", "Average", "Minimum", "Maximum", "p50", "p90", "p10")


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], Any, int]:
    period = draw(st.sampled_from([10, 20, 30, 60, 120, 300]))
    n = draw(st.integers(1, 5))
    m = draw(st.integers(1, n))
    span_s = draw(st.integers(1, 40)) * period
    n_points = draw(st.integers(1, 60))
    frames = []
    for metric in ("a", "b"):
        offsets = draw(
            st.lists(st.integers(0, span_s), min_size=n_points, max_size=n_points)
        )
        values = draw(
            st.lists(st.integers(-4, 20), min_size=n_points, max_size=n_points)
        )
        stamps = [BASE + pd.Timedelta(seconds=o) for o in offsets]
        frames.append(
            make_datapoints(
                stamps,
                np.array(values) / 2.0,
                namespace="T",
                metric_name=metric,
                dimensions={"Q": "batch"},
            )
        )
    common = {
        "AlarmName": "prop",
        "EvaluationPeriods": n,
        "DatapointsToAlarm": m,
        "Threshold": draw(st.integers(-2, 10)) / 2.0,
        "ComparisonOperator": draw(st.sampled_from(COMPARISON_OPERATORS)),
        "TreatMissingData": draw(st.sampled_from(TREAT_MISSING_DATA)),
    }
    stat = draw(st.sampled_from(STATS))
    dims = [{"Name": "Q", "Value": "batch"}]
    if draw(st.booleans()):
        request = {**common, "Namespace": "T", "MetricName": "a", "Dimensions": dims}
        request["Period"] = period
        request["ExtendedStatistic" if stat.startswith("p") else "Statistic"] = stat
        if stat.startswith("p") and draw(st.booleans()):
            request["EvaluateLowSampleCountPercentile"] = "ignore"
    else:
        expr = draw(
            st.sampled_from(["a - b * 2", "a / b", "FILL(a, 0) + FILL(b, 1)", "-a"])
        )
        metrics = [
            {
                "Id": mid,
                "MetricStat": {
                    "Metric": {"Namespace": "T", "MetricName": mid, "Dimensions": dims},
                    "Period": period,
                    "Stat": stat,
                },
                "ReturnData": False,
            }
            for mid in ("a", "b")
        ]
        metrics.append({"Id": "e", "Expression": expr, "ReturnData": True})
        request = {**common, "Metrics": metrics}
    return request, concat_datapoints(frames), draw(st.integers(0, 3))


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_fast_matches_reference(scenario: tuple[dict[str, Any], Any, int]) -> None:
    request, data, extra = scenario
    alarm = parse_alarm(request)
    fast = evaluate_alarm(alarm, data, options=EvaluationOptions(range_extra=extra))
    ref = reference_evaluate(alarm, data, range_extra=extra)
    assert [t for t, _ in ref] == fast.instants_us.tolist()
    assert [s for _, s in ref] == [STATE_NAMES[s] for s in fast.states]
