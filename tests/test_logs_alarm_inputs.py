"""Metric CSVs from real tools: dimensions in any order; alarms matching nothing."""

from __future__ import annotations

import pandas as pd

from dpcsim.alarms.io import canonical_dimensions, read_metrics, unmatched_alarms
from dpcsim.alarms.spec import parse_alarm

ALARM = {
    "AlarmName": "Alert-WLM-Queue",
    "Namespace": "AWS/Redshift",
    "MetricName": "WLMQueueLength",
    "Dimensions": [
        {"Name": "ClusterIdentifier", "Value": "x"},
        {"Name": "QueueName", "Value": "batch"},
    ],
    "Statistic": "Maximum",
    "Period": 300,
    "EvaluationPeriods": 1,
    "Threshold": 5,
    "ComparisonOperator": "GreaterThanThreshold",
}


def _csv(tmp_path, cell):
    path = tmp_path / "m.csv"
    rows = [
        f'2024-03-01T00:0{i}:00Z,AWS/Redshift,WLMQueueLength,"{cell}",{i}'
        for i in range(3)
    ]
    path.write_text(
        "timestamp,namespace,metric_name,dimensions,value\n" + "\n".join(rows) + "\n"
    )
    return path


def test_dimension_cells_are_sets(tmp_path):
    a = read_metrics(_csv(tmp_path, "QueueName=batch;ClusterIdentifier=x"))
    b = read_metrics(_csv(tmp_path, " ClusterIdentifier=x; QueueName=batch "))
    assert a["dimensions"].tolist() == b["dimensions"].tolist()
    assert a["dimensions"].iloc[0] == "ClusterIdentifier=x;QueueName=batch"
    assert unmatched_alarms([parse_alarm(ALARM)], a) == []


def test_alarm_matching_no_datapoint_is_named(tmp_path):
    data = read_metrics(
        _csv(tmp_path, "ClusterIdentifier=dpc-learning;QueueName=batch")
    )
    (msg,) = unmatched_alarms([parse_alarm(ALARM)], data)
    assert "Alert-WLM-Queue" in msg
    assert "matches no datapoint" in msg
    assert "ClusterIdentifier=dpc-learning;QueueName=batch" in msg


def test_canonical_keeps_empty():
    assert canonical_dimensions(pd.Series(["", None])).tolist() == ["", ""]
