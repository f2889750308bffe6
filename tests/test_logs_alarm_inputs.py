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


def test_get_metric_data_output_with_its_queries(tmp_path):
    import json

    from dpcsim.cli import main

    queries = [
        {
            "Id": "q1",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Redshift",
                    "MetricName": "WLMQueueLength",
                    "Dimensions": ALARM["Dimensions"][::-1],
                },
                "Period": 300,
                "Stat": "Maximum",
            },
        }
    ]
    output = {
        "MetricDataResults": [
            {
                "Id": "q1",
                "Label": "WLMQueueLength",
                "Timestamps": [
                    "2024-03-01T00:05:00+00:00",
                    "2024-03-01T00:00:00+00:00",
                ],
                "Values": [9.0, 1.0],
                "StatusCode": "Complete",
            }
        ],
        "Messages": [],
    }
    (tmp_path / "q.json").write_text(json.dumps(queries))
    (tmp_path / "out.json").write_text(json.dumps(output))
    data = read_metrics(tmp_path / "out.json", queries=tmp_path / "q.json")
    assert data["dimensions"].iloc[0] == "ClusterIdentifier=x;QueueName=batch"
    assert sorted(data["value"]) == [1.0, 9.0]
    assert unmatched_alarms([parse_alarm(ALARM)], data) == []
    (tmp_path / "a.json").write_text(json.dumps(ALARM))
    code = main(["-q", "alarms", "--alarms", str(tmp_path / "a.json"),
                 "--metrics", str(tmp_path / "out.json"),
                 "--queries", str(tmp_path / "q.json"),
                 "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == 0
