"""Alarm evaluation and validation checked against CloudWatch's documented text.

Each test quotes the documentation sentence it relies on. Sources:

- CloudWatch User Guide, "Using metric math", section "Basic arithmetic
  functions" (awsdocs/amazon-cloudwatch-user-guide doc_source/using-metric-math.md);
- PutMetricAlarm / MetricDataQuery API reference (botocore cloudwatch model);
- CloudWatch User Guide, "Alarm evaluation window" (sliding window example) and
  AlarmThatSendsEmail ("How alarm state is evaluated when data is missing").
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dpcsim.alarms import STATE_NAMES, parse_alarm
from dpcsim.alarms.evaluate import evaluate_alarm
from dpcsim.alarms.mathexpr import evaluate, parse_expression
from dpcsim.alarms.reference import reference_evaluate
from dpcsim.errors import InputError
from dpcsim.metrics.datapoints import make_datapoints

NAN = np.nan


def _metric_query(qid: str, name: str, period: int = 300) -> dict[str, Any]:
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {"Namespace": "C", "MetricName": name},
            "Period": period,
            "Stat": "Sum",
        },
        "ReturnData": False,
    }


def _math_alarm(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "AlarmName": "math",
        "EvaluationPeriods": 1,
        "Threshold": 0.05,
        "ComparisonOperator": "GreaterThanThreshold",
        "Metrics": metrics,
    }


# "Missing values in a time series are treated as 0. If the value of a data point
# causes a function to attempt to divide by zero, the data point is dropped."
# (using-metric-math, "Basic arithmetic functions")
def test_math_missing_point_of_one_series_is_zero() -> None:
    env = {
        "a": np.array([1.0, NAN, NAN, 4.0, 3.0]),
        "b": np.array([2.0, 5.0, NAN, NAN, 0.0]),
    }
    plus = evaluate(parse_expression("a + b"), env, 5)
    # A timestamp present in one series only: the other counts as 0; a timestamp
    # present in neither has no datapoint.
    np.testing.assert_array_equal(plus, [3.0, 5.0, NAN, 4.0, 3.0])
    ratio = evaluate(parse_expression("a / b"), env, 5)
    # 0 / 5 = 0; 4 / 0 and 3 / 0 divide by zero: dropped.
    np.testing.assert_array_equal(ratio, [0.5, 0.0, NAN, NAN, NAN])
    minus = evaluate(parse_expression("a - b"), env, 5)
    np.testing.assert_array_equal(minus, [-1.0, -5.0, NAN, 4.0, 3.0])


def test_math_scalar_does_not_create_points() -> None:
    """A series with a scalar keeps the series' timestamps (no value to fill)."""
    env = {"a": np.array([1.0, NAN, 4.0])}
    np.testing.assert_array_equal(
        evaluate(parse_expression("100 * a"), env, 3), [100.0, NAN, 400.0]
    )
    np.testing.assert_array_equal(
        evaluate(parse_expression("a / 0"), env, 3), [NAN, NAN, NAN]
    )


def test_math_dropped_point_is_missing_for_the_next_operator() -> None:
    """A point dropped by a division by zero is missing, hence 0, further up."""
    env = {
        "a": np.array([1.0, 2.0]),
        "b": np.array([0.0, 1.0]),
        "c": np.array([7.0, 7.0]),
    }
    np.testing.assert_array_equal(
        evaluate(parse_expression("a / b + c"), env, 2), [7.0, 9.0]
    )


def _ratio_data() -> pd.DataFrame:
    """Failures only in the first 5 minutes; attempts every minute of 20."""
    base = pd.Timestamp("2024-05-01T00:00:00Z")
    stamps = [base + pd.Timedelta(minutes=i) for i in range(20)]
    attempted = make_datapoints(stamps, [10.0] * 20, namespace="C", metric_name="A")
    failed = make_datapoints(stamps[:5], [5.0] * 5, namespace="C", metric_name="F")
    return pd.concat([attempted, failed], ignore_index=True)


def test_math_alarm_sparse_numerator_reads_as_zero_ratio() -> None:
    """``failed / attempted`` with no failure datapoint is 0, not missing.

    With ``TreatMissingData = breaching`` the difference shows: a missing ratio
    would breach, a zero ratio does not.
    """
    req = _math_alarm(
        [
            _metric_query("f", "F", 60),
            _metric_query("a", "A", 60),
            {"Id": "r", "Expression": "f / a", "ReturnData": True},
        ]
    )
    req["TreatMissingData"] = "breaching"
    alarm = parse_alarm(req)
    data = _ratio_data()
    states = evaluate_alarm(alarm, data)
    names = [STATE_NAMES[s] for s in states.states]
    # Minutes 1-5 breach (5/10 > 0.05); minutes 6-20 have a ratio of 0 -> OK.
    assert names[:5] == ["ALARM"] * 5
    assert set(names[5:]) == {"OK"}
    ref = reference_evaluate(alarm, data)
    assert [s for _, s in ref] == names


# "A single PutMetricAlarm call can include up to 20 MetricDataQuery structures in
# the array. The 20 structures can include as many as 10 structures that contain a
# MetricStat parameter to retrieve a metric, and as many as 10 structures that
# contain the Expression parameter" (MetricDataQuery, API reference)
def test_ten_metrics_plus_expressions_is_valid() -> None:
    metrics = [_metric_query(f"m{i}", f"M{i}") for i in range(10)]
    total = " + ".join(f"m{i}" for i in range(10))
    metrics += [
        {"Id": "s", "Expression": total, "ReturnData": False},
        {"Id": "r", "Expression": "s / 10", "ReturnData": True},
    ]
    alarm = parse_alarm(_math_alarm(metrics))
    assert len(alarm.queries) == 12


def test_eleven_metric_stats_rejected() -> None:
    metrics = [_metric_query(f"m{i}", f"M{i}") for i in range(11)]
    metrics.append({"Id": "r", "Expression": "m0", "ReturnData": True})
    with pytest.raises(InputError, match="at most 10 MetricStat"):
        parse_alarm(_math_alarm(metrics))


def test_eleven_expressions_rejected() -> None:
    metrics = [_metric_query("m0", "M0")]
    metrics += [
        {"Id": f"e{i}", "Expression": f"m0 + {i}", "ReturnData": False}
        for i in range(10)
    ]
    metrics.append({"Id": "r", "Expression": "e0", "ReturnData": True})
    with pytest.raises(InputError, match="at most 10 Expression"):
        parse_alarm(_math_alarm(metrics))


# "an alarm with a period of 1 hour and 1 evaluation period might evaluate the time
# range 13:07-14:07 in one evaluation, and 13:08-14:08 in the next" (Alarm
# evaluation window, "Sliding window"): the window ends at the evaluation instant,
# not at an epoch-aligned hour.
def test_hourly_window_slides_with_the_minute() -> None:
    base = pd.Timestamp("2024-05-01T13:00:00Z")
    stamps = [base + pd.Timedelta(minutes=i) for i in range(130)]
    values = [0.0] * 130
    values[67] = 50.0  # 14:07 only
    data = make_datapoints(stamps, values, namespace="C", metric_name="X")
    alarm = parse_alarm(
        {
            "AlarmName": "hourly",
            "Namespace": "C",
            "MetricName": "X",
            "Statistic": "Maximum",
            "Period": 3600,
            "EvaluationPeriods": 1,
            "Threshold": 10,
            "ComparisonOperator": "GreaterThanThreshold",
        }
    )
    result = evaluate_alarm(alarm, data)
    at = pd.to_datetime(result.instants_us, unit="us", utc=True)
    states = pd.Series([STATE_NAMES[s] for s in result.states], index=at)
    # The 14:07 minute ends at 14:08: the window [13:08, 14:08) holds it; the
    # window [14:07, 15:07) at 15:07 still holds it; [14:08, 15:08) does not.
    assert states[pd.Timestamp("2024-05-01T14:07:00Z")] == "OK"
    assert states[pd.Timestamp("2024-05-01T14:08:00Z")] == "ALARM"
    assert states[pd.Timestamp("2024-05-01T15:07:00Z")] == "ALARM"
    assert states[pd.Timestamp("2024-05-01T15:08:00Z")] == "OK"


def test_doc_examples_fixture_rows_are_the_documented_rows() -> None:
    """The fixture holds every row of both tables of the last archived revision.

    Transcribed here independently from doc_source/AlarmThatSendsEmail.md
    (table 1: M = N = 3; table 2: M = 2, N = 3; evaluation range 5).
    """
    doc = json.loads(
        (Path(__file__).parent / "fixtures/alarms/doc_examples.json").read_text()
    )
    rows = {
        (v["m"], v["points"]): v for v in doc["vectors"] if "current" in v["source"]
    }
    table = [
        (3, "0 - X - X", "OK", "OK", "OK", "OK"),
        (3, "0 - - - -", "OK", "OK", "OK", "OK"),
        (3, "- - - - -", "INSUFFICIENT_DATA", "RETAIN", "ALARM", "OK"),
        (3, "0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
        (3, "- - X - -", "ALARM", "RETAIN", "ALARM", "OK"),
        (2, "0 - X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
        (2, "0 0 X 0 X", "ALARM", "ALARM", "ALARM", "ALARM"),
        (2, "0 - X - -", "OK", "OK", "ALARM", "OK"),
        (2, "- - - - 0", "OK", "OK", "ALARM", "OK"),
        (2, "- - - X -", "ALARM", "RETAIN", "ALARM", "OK"),
    ]
    assert len(rows) == len(table)
    for m, points, *expected in table:
        v = copy.deepcopy(rows[(m, points)])
        got = [v["missing"], v["ignore"], v["breaching"], v["notBreaching"]]
        assert got == expected, points
        assert v["n"] == 3
