"""Alarm definitions: PutMetricAlarm validation, CloudFormation, metric math."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dpcsim.alarms import (
    DESIGN_ALARM_NAMES,
    alarms_from_document,
    dpc_design_alarms,
    parse_alarm,
    read_alarms,
)
from dpcsim.alarms.mathexpr import evaluate, parse_expression
from dpcsim.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "alarms"
BASE: dict[str, Any] = {
    "AlarmName": "a1",
    "Namespace": "AWS/Redshift",
    "MetricName": "WLMQueueLength",
    "Dimensions": [{"Name": "QueueName", "Value": "batch"}],
    "Statistic": "Average",
    "Period": 60,
    "EvaluationPeriods": 3,
    "Threshold": 10,
    "ComparisonOperator": "GreaterThanThreshold",
}
MATH: dict[str, Any] = {
    "AlarmName": "m1",
    "EvaluationPeriods": 1,
    "Threshold": 0.05,
    "ComparisonOperator": "GreaterThanThreshold",
    "Metrics": [
        {
            "Id": "f",
            "MetricStat": {
                "Metric": {"Namespace": "C", "MetricName": "F"},
                "Period": 300,
                "Stat": "Sum",
            },
            "ReturnData": False,
        },
        {
            "Id": "a",
            "MetricStat": {
                "Metric": {"Namespace": "C", "MetricName": "A"},
                "Period": 300,
                "Stat": "Sum",
            },
            "ReturnData": False,
        },
        {"Id": "r", "Expression": "f / a", "ReturnData": True},
    ],
}


def test_valid_single_metric_defaults() -> None:
    alarm = parse_alarm(BASE)
    assert alarm.datapoints_to_alarm == 3  # defaults to EvaluationPeriods
    assert alarm.treat_missing_data == "missing"
    assert alarm.metric is not None
    assert alarm.metric.dimensions == "QueueName=batch"


BAD = [
    ({"AlarmName": ""}, "AlarmName", "1-255"),
    ({"AlarmName": "x" * 256}, "AlarmName", "1-255"),
    ({"Period": 45}, "Period", "multiple of 60"),
    ({"Period": 0}, "Period", ">= 1"),
    ({"EvaluationPeriods": 0}, "EvaluationPeriods", ">= 1"),
    ({"DatapointsToAlarm": 4}, "DatapointsToAlarm", "M <= N"),
    ({"DatapointsToAlarm": 0}, "DatapointsToAlarm", ">= 1"),
    ({"Period": 60, "EvaluationPeriods": 1441}, "EvaluationPeriods", "86400"),
    ({"Period": 3600, "EvaluationPeriods": 169}, "EvaluationPeriods", "604800"),
    ({"ExtendedStatistic": "p99"}, "Statistic", "exactly one"),
    ({"Statistic": "Median"}, "Statistic", "expected one of"),
    (
        {"ComparisonOperator": "GreaterThanUpperThreshold"},
        "ComparisonOperator",
        "anomaly",
    ),
    ({"ComparisonOperator": "Bigger"}, "ComparisonOperator", "expected"),
    ({"TreatMissingData": "zero"}, "TreatMissingData", "expected"),
    ({"AlarmActions": ["arn:x"] * 6}, "AlarmActions", "at most 5"),
    (
        {"Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)]},
        "Dimensions",
        "at most 30",
    ),
    ({"Metrics": MATH["Metrics"]}, "MetricName/Metrics", "exactly one"),
    ({"Threshold": "high"}, "Threshold", "number"),
    ({"Colour": "red"}, "Colour", "unknown"),
]


@pytest.mark.parametrize(
    ("change", "field", "rule"), BAD, ids=[b[1] + b[2] for b in BAD]
)
def test_invalid_definitions_name_file_alarm_field_rule(
    change: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(InputError) as err:
        parse_alarm({**BASE, **change}, source="alarms.json", where="[0]")
    text = str(err.value)
    assert "alarms.json" in text
    assert field in text
    assert rule in text


def test_metric_name_and_metrics_both_missing() -> None:
    req = {k: v for k, v in BASE.items() if k != "MetricName"}
    with pytest.raises(InputError, match="exactly one of MetricName or Metrics"):
        parse_alarm(req)


def test_valid_math_alarm() -> None:
    alarm = parse_alarm(MATH)
    assert alarm.is_math
    assert alarm.period_s == 300


def _math(mutate: Any) -> dict[str, Any]:
    req = copy.deepcopy(MATH)
    mutate(req["Metrics"])
    return req


MATH_BAD = [
    (lambda m: m[0].update(Id="F1"), "a-z"),
    (lambda m: m[1].update(Id="f"), "unique"),
    (lambda m: m[2].update(ReturnData=False), "exactly one ReturnData"),
    (lambda m: m[0].update(ReturnData=True), "exactly one ReturnData"),
    (lambda m: m[2].pop("ReturnData"), "explicitly"),
    (lambda m: m[1]["MetricStat"].update(Period=60), "same period"),
    (lambda m: m[2].update(Expression="f / (a"), "expected"),
    (lambda m: m[2].update(Expression="f / zz"), "unknown Id"),
    (lambda m: m[2].update(Expression="SQRT(f)"), "not supported"),
    (lambda m: m[2].update(Expression="f" + " + f" * 700), "2048"),
    (
        lambda m: m.extend([copy.deepcopy(m[0]) | {"Id": f"x{i}"} for i in range(9)]),
        "at most 10 MetricStat",
    ),
]


@pytest.mark.parametrize(("mutate", "rule"), MATH_BAD, ids=[b[1] for b in MATH_BAD])
def test_invalid_math_alarms(mutate: Any, rule: str) -> None:
    with pytest.raises(InputError, match=rule):
        parse_alarm(_math(mutate), source="m.json")


@pytest.mark.parametrize("key", ["Period", "Namespace", "Statistic", "Dimensions"])
def test_metrics_not_combined_with_single_metric_members(key: str) -> None:
    with pytest.raises(InputError, match=f"cannot be combined with.*{key}"):
        parse_alarm({**MATH, key: BASE[key]}, source="m.json")


def test_expression_cycle_rejected() -> None:
    req = _math(
        lambda m: m.append({"Id": "z", "Expression": "r + 1", "ReturnData": False})
    )
    req["Metrics"][2]["Expression"] = "z * 2"
    with pytest.raises(InputError, match="cycle"):
        parse_alarm(req)


def test_math_precedence_and_missing() -> None:
    env = {"a": np.array([1.0, 2.0, np.nan, 4.0]), "b": np.array([2.0, 0.0, 1.0, 2.0])}
    assert evaluate(parse_expression("-2^2 + 3 * (a - 1)"), env, 4)[0] == -4.0
    got = evaluate(parse_expression("a / b"), env, 4)
    assert got[0] == 0.5
    assert np.isnan(got[1])  # division by zero: the point is dropped
    # "Missing values in a time series are treated as 0" (using-metric-math).
    assert got[2] == 0.0
    assert got[3] == 2.0
    filled = evaluate(parse_expression("FILL(a, 0) + ABS(-b)"), env, 4)
    assert filled.tolist() == [3.0, 2.0, 1.0, 6.0]
    assert evaluate(parse_expression("1.5e1 - .5"), env, 4).tolist() == [14.5] * 4


def test_list_and_object_documents(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps(BASE))
    many = tmp_path / "many.json"
    many.write_text(json.dumps([BASE, {**BASE, "AlarmName": "a2"}]))
    assert [a.name for a in read_alarms(one)] == ["a1"]
    assert [a.name for a in read_alarms(many)] == ["a1", "a2"]
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps([BASE, BASE]))
    with pytest.raises(InputError, match="unique"):
        read_alarms(dup)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match=r"bad\.json"):
        read_alarms(bad)


def test_cloudformation_yaml_template() -> None:
    alarms = read_alarms(FIXTURES / "template.yaml")
    by_name = {a.name: a for a in alarms}
    assert set(by_name) == {"dpc-learning-queue", "RatioAlarm"}
    queue = by_name["dpc-learning-queue"]
    assert queue.metric is not None
    assert queue.metric.dimensions == "ClusterIdentifier=dpc-learning;QueueName=batch"
    assert queue.request["AlarmActions"] == [
        "AlertTopic",
        "arn:aws:sns:ap-northeast-1:123456789012:dpc-alerts",
    ]
    assert by_name["RatioAlarm"].is_math
    assert by_name["RatioAlarm"].evaluation_periods == 1


def test_cloudformation_json_and_unsupported_intrinsics() -> None:
    template = {
        "Parameters": {"Q": {"Type": "String", "Default": "batch"}},
        "Resources": {
            "A": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    **{k: v for k, v in BASE.items() if k != "AlarmName"},
                    "Dimensions": [{"Name": "QueueName", "Value": {"Ref": "Q"}}],
                },
            }
        },
    }
    (alarm,) = alarms_from_document(template, source="t.json")
    assert alarm.name == "A"
    assert alarm.metric is not None
    assert alarm.metric.dimensions == "QueueName=batch"
    bad = copy.deepcopy(template)
    bad["Resources"]["A"]["Properties"]["Threshold"] = {"Fn::GetAtt": ["X", "Y"]}
    with pytest.raises(InputError, match=r"Fn::GetAtt.*") as err:
        alarms_from_document(bad, source="t.json")
    assert "Resources.A.Properties.Threshold" in str(err.value)
    bad["Resources"]["A"]["Properties"]["Threshold"] = {"Fn::Sub": "${Other.Arn}"}
    with pytest.raises(InputError, match="unsupported"):
        alarms_from_document(bad, source="t.json")
    no_alarm = {"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}
    with pytest.raises(InputError, match="no AWS::CloudWatch::Alarm"):
        alarms_from_document(no_alarm, source="t.json")


def test_design_alarms_valid_and_packaged() -> None:
    requests = dpc_design_alarms("210987654321")
    alarms = alarms_from_document(requests)
    assert tuple(a.name for a in alarms) == DESIGN_ALARM_NAMES
    for req in requests:
        assert req["AlarmActions"] == [
            "arn:aws:sns:ap-northeast-1:210987654321:dpc-alerts"
        ]
    by_name = {a.name: a for a in alarms}
    wlm = by_name["Alert-WLM-Queue"]
    assert (wlm.period_s, wlm.evaluation_periods, wlm.datapoints_to_alarm) == (
        60,
        10,
        10,
    )
    assert wlm.metric is not None
    assert wlm.metric.dimensions == "ClusterIdentifier=dpc-learning;QueueName=batch"
    elt = by_name["Alert-ELT-Delay"]
    assert (elt.evaluation_periods, elt.datapoints_to_alarm, elt.threshold) == (
        2,
        2,
        90.0,
    )
    assert by_name["Alert-COPY-Error"].comparison == "GreaterThanOrEqualToThreshold"
    assert by_name["Alert-Query-Failure"].is_math
    packaged = Path(__file__).parents[1] / "dpcsim" / "data" / "dpc_design_alarms.json"
    assert json.loads(packaged.read_text()) == dpc_design_alarms()
    with pytest.raises(InputError, match="12 digits"):
        dpc_design_alarms("12")


def test_design_metric_names_match_metrics_contract() -> None:
    from dpcsim.metrics.custom import CUSTOM_METRICS, CUSTOM_NAMESPACE

    for alarm in alarms_from_document(dpc_design_alarms()):
        stats = (
            [alarm.metric] if alarm.metric else [q.metric_stat for q in alarm.queries]
        )
        for stat in stats:
            if stat is None or stat.namespace != CUSTOM_NAMESPACE:
                continue
            dims = tuple(
                sorted(p.split("=")[0] for p in stat.dimensions.split(";") if p)
            )
            assert dims == tuple(sorted(CUSTOM_METRICS[stat.metric_name][0]))
