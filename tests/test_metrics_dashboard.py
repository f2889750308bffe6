"""The design's dashboard body and the PutDashboard validator."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from dpcsim.errors import InputError
from dpcsim.metrics import dpc_design_dashboard, validate_dashboard
from dpcsim.metrics.dashboard import validate_dashboard_name


def test_design_dashboard_is_valid_and_packaged():
    body = dpc_design_dashboard()
    validate_dashboard(body)
    packaged = resources.files("dpcsim").joinpath("data/dpc_design_dashboard.json")
    text = packaged.read_text(encoding="utf-8")
    assert text == json.dumps(body, indent=2, sort_keys=True) + "\n"


def test_design_dashboard_content():
    widgets = dpc_design_dashboard()["widgets"]
    assert [w["type"] for w in widgets] == ["metric"] * 4 + ["log"]
    queue = widgets[0]["properties"]
    stats = {row[-1]["stat"] for row in queue["metrics"]}
    assert stats == {"Maximum", "Average"}  # never Sum of a gauge
    assert {row[5] for row in queue["metrics"]} == {"batch", "adhoc"}
    assert all(
        row[2:4] == ["ClusterIdentifier", "dpc-learning"] for row in queue["metrics"]
    )
    storage = widgets[2]["properties"]
    assert (storage["period"], storage["stat"]) == (3600, "Average")
    assert storage["metrics"][0][1] == "PercentageDiskSpaceUsed"
    delay = widgets[3]["properties"]
    assert (delay["period"], delay["stat"]) == (300, "Maximum")
    assert {row[3] for row in delay["metrics"]} == {
        "StepFunctionsCompletion",
        "MartTableUpdate",
    }
    assert all(row[0] == "Custom/DPC" and row[5] == "prod" for row in delay["metrics"])
    log = widgets[4]["properties"]
    assert log["region"] == "ap-northeast-1"
    assert "SOURCE '/aws/redshift/cluster/dpc-learning'" in log["query"]
    assert log["query"].endswith("limit 20")
    assert all(w["properties"]["region"] == "ap-northeast-1" for w in widgets)


def _broken(path, value):
    body = copy.deepcopy(dpc_design_dashboard())
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "where", "expected"),
    [
        (["widgets", 1, "x"], 24, "widgets[1].x", "an integer 0..23"),
        (["widgets", 0, "width"], 0, "widgets[0].width", "an integer 1..24"),
        (["widgets", 0, "width"], 25, "widgets[0].width", "an integer 1..24"),
        (["widgets", 2, "height"], 1001, "widgets[2].height", "1..1000"),
        (["widgets", 3, "y"], _DELETE, "widgets[3].y", "present when the other"),
        (["widgets", 2, "properties", "region"], _DELETE,
         "widgets[2].properties.region", "an AWS region"),
        (["widgets", 4, "properties", "region"], _DELETE,
         "widgets[4].properties.region", "an AWS region"),
        (["widgets", 0, "properties", "period"], 90,
         "widgets[0].properties.period", "multiple of 60"),
        (["widgets", 0, "properties", "metrics", 1, 6, "period"], 30,
         "widgets[0].properties.metrics[1].period", "multiple of 60"),
        (["widgets", 1, "properties", "stat"], "Median",
         "widgets[1].properties.stat", "a CloudWatch statistic"),
        (["widgets", 1, "properties", "metrics", 0], ["AWS/Redshift"],
         "widgets[1].properties.metrics[0]", "[Namespace, MetricName"),
        (["widgets", 0, "type"], "graph", "widgets[0].type", "one of"),
        (["widgets", 4, "properties", "query"], "", "widgets[4].properties.query",
         "a Logs Insights query"),
        (["widgets"], {}, "widgets", "a list of 0..500 widgets"),
    ],
)  # fmt: skip
def test_validator_names_widget_and_field(path, value, where, expected):
    with pytest.raises(InputError) as info:
        validate_dashboard(_broken(path, value), source="dash.json")
    message = str(info.value)
    assert message.startswith(f"dash.json, {where}: {where}=")
    assert expected in message


def test_validator_accepts_edge_values_and_other_widgets():
    body = {
        "widgets": [
            {"type": "text", "x": 23, "y": 0, "width": 1, "height": 1000,
             "properties": {"markdown": "# DPC"}},
            {"type": "metric", "properties": {"region": "us-east-1", "period": 60,
             "metrics": [[{"expression": "m1/m2", "id": "e1"}]], "stat": "p99"}},
            {"type": "alarm", "properties": {"alarms": ["arn:aws:cloudwatch:x"]}},
        ],
        "periodOverride": "inherit",
    }  # fmt: skip
    validate_dashboard(body)
    validate_dashboard({"widgets": []})


def test_dashboard_name():
    validate_dashboard_name("dpc-learning_observability")
    with pytest.raises(InputError, match="DashboardName"):
        validate_dashboard_name("dpc learning")
