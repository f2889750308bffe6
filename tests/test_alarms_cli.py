"""``dpcsim alarms``: metric sources, outputs, the design set, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dpcsim.alarms import evaluate_alarms, parse_alarm, read_metrics
from dpcsim.cli import main
from dpcsim.metrics.datapoints import make_datapoints

ALARM = {
    "AlarmName": "queue",
    "Namespace": "AWS/Redshift",
    "MetricName": "WLMQueueLength",
    "Dimensions": [{"Name": "QueueName", "Value": "batch"}],
    "Statistic": "Maximum",
    "Period": 60,
    "EvaluationPeriods": 3,
    "DatapointsToAlarm": 2,
    "Threshold": 10,
    "ComparisonOperator": "GreaterThanThreshold",
}
# Two breaching minutes (3, 4), calm, two more (8, 9), calm.
VALUES = [0, 0, 0, 12, 15, 0, 0, 0, 11, 13, 0, 0, 0, 0]


def _frame() -> pd.DataFrame:
    stamps = pd.date_range("2024-02-01", periods=len(VALUES), freq="min", tz="UTC")
    return make_datapoints(
        stamps,
        VALUES,
        namespace="AWS/Redshift",
        metric_name="WLMQueueLength",
        dimensions={"QueueName": "batch"},
    )


def test_history_and_summary_values() -> None:
    run = evaluate_alarms([parse_alarm(ALARM)], _frame())
    states = run.history["state"].astype(str).tolist()
    # Instant i (minute i+1) sees minutes i-2..i: ALARM when two of them breach.
    assert states[:3] == ["OK", "OK", "OK"]
    assert states[3:7] == ["OK", "ALARM", "ALARM", "OK"]
    row = run.summary.iloc[0]
    assert row["transitions_to_alarm"] == 2
    assert row["time_in_alarm_s"] == 4 * 60.0
    assert row["first_alarm_at"] == pd.Timestamp("2024-02-01T00:05:00Z")
    assert row["final_state"] == "OK"
    assert len(states) == len(VALUES)  # one per minute to the end of the last period


def test_cli_csv_and_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alarms = tmp_path / "alarms.json"
    alarms.write_text(json.dumps([ALARM]))
    csv = tmp_path / "metrics.csv"
    frame = _frame()
    frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
        csv, index=False
    )
    out = tmp_path / "out"
    args = ["alarms", "--alarms", str(alarms), "--metrics", str(csv), "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "queue" in printed
    history = pd.read_csv(out / "alarm_history.csv")
    assert list(history.columns) == ["alarm_name", "evaluated_at", "state"]
    assert history["evaluated_at"].iloc[0] == "2024-02-01T00:01:00Z"
    summary = pd.read_csv(out / "alarm_summary.csv")
    assert summary["transitions_to_alarm"].tolist() == [2]
    assert main(args) == 2  # refuses to overwrite
    assert "--force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


def test_cli_design_on_run_directory(tmp_path: Path) -> None:
    stamps = pd.date_range("2024-02-01", periods=30, freq="min", tz="UTC")
    frame = make_datapoints(
        stamps,
        np.full(30, 20.0),
        namespace="AWS/Redshift",
        metric_name="WLMQueueLength",
        dimensions={"ClusterIdentifier": "dpc-learning", "QueueName": "batch"},
    )
    frame.to_parquet(tmp_path / "metrics.parquet")
    args = ["-q", "alarms", "--alarms", "design", "--metrics", str(tmp_path)]
    assert main([*args, "--out", str(tmp_path)]) == 0
    summary = pd.read_csv(tmp_path / "alarm_summary.csv").set_index("alarm_name")
    assert summary.loc["Alert-WLM-Queue", "first_alarm_at"] == "2024-02-01T00:10:00Z"
    assert summary.loc["Alert-ELT-Delay", "final_state"] == "INSUFFICIENT_DATA"
    assert summary.loc["Alert-COPY-Error", "final_state"] == "OK"  # notBreaching


def test_get_metric_data_source(tmp_path: Path) -> None:
    doc = {
        "MetricDataQueries": [
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Redshift",
                        "MetricName": "WLMQueueLength",
                        "Dimensions": [{"Name": "QueueName", "Value": "batch"}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
                "ReturnData": True,
            }
        ],
        "MetricDataResults": [
            {
                "Id": "q",
                "Label": "WLMQueueLength",
                "Timestamps": [
                    f"2024-02-01T00:{m:02d}:00+00:00" for m in range(len(VALUES))
                ],
                "Values": VALUES,
                "StatusCode": "Complete",
            }
        ],
    }
    path = tmp_path / "gmd.json"
    path.write_text(json.dumps(doc))
    data = read_metrics(path)
    assert data["stat"].tolist() == ["Maximum"] * len(VALUES)
    from_raw = evaluate_alarms([parse_alarm(ALARM)], _frame())
    from_gmd = evaluate_alarms([parse_alarm(ALARM)], data)
    assert from_gmd.history["state"].tolist() == from_raw.history["state"].tolist()
    # An alarm on Average cannot use Maximum period statistics.
    with pytest.raises(ValueError, match="only period statistics"):
        evaluate_alarms([parse_alarm({**ALARM, "Statistic": "Average"})], data)
    doc["MetricDataResults"][0]["Id"] = "zz"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="zz"):
        read_metrics(path)


def test_bad_metric_csv_names_row(tmp_path: Path) -> None:
    csv = tmp_path / "m.csv"
    csv.write_text(
        "timestamp,namespace,metric_name,dimensions,value\n"
        "2024-01-01T00:00:00Z,N,m,,1\n"
        "2024-01-01T00:01:00Z,N,m,,lots\n"
    )
    with pytest.raises(ValueError, match=r"m\.csv.*row 2.*'lots'"):
        read_metrics(csv)
    csv.write_text(
        "timestamp,namespace,metric_name,dimensions,value\nnot a time,N,m,,1\n"
    )
    with pytest.raises(ValueError, match="timestamp"):
        read_metrics(csv)
    csv.write_text(
        "timestamp,namespace,metric_name,dimensions,value\n2024-01-01,N,m,A,1\n"
    )
    with pytest.raises(ValueError, match="Name=Value"):
        read_metrics(csv)
