"""Metrics and dashboard checked against the AWS documentation they reproduce.

Sources: the Redshift metrics listing (metrics-listing.md, dimension sets
cross-checked with the aws-cdk-lib canned metrics) and the CloudWatch
"Dashboard body structure and syntax" API reference (PutDashboard).
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pandas as pd
import pytest
from fixtures.metrics.builders import workload

from dpcsim.alarms import dpc_design_alarms
from dpcsim.errors import InputError
from dpcsim.metrics import build_metrics
from dpcsim.metrics.dashboard import dpc_design_dashboard, validate_dashboard

# The documented dimension sets of each AWS/Redshift metric dpcsim publishes
# ("CI" = ClusterIdentifier; WLMQueueLength's "service class" has a space).
DOCUMENTED_DIMENSIONS: dict[str, set[frozenset[str]]] = {
    "WLMQueueLength": {
        frozenset({"ClusterIdentifier"}),
        frozenset({"ClusterIdentifier", "QueueName"}),
        frozenset({"ClusterIdentifier", "service class"}),
    },
    "WLMRunningQueries": {
        frozenset({"ClusterIdentifier", "wlmid"}),
        frozenset({"ClusterIdentifier", "QueueName"}),
    },
    "WLMQueueWaitTime": {
        frozenset({"ClusterIdentifier", "wlmid"}),
        frozenset({"ClusterIdentifier", "QueueName"}),
        frozenset({"ClusterIdentifier", "QueryPriority"}),
    },
    "WLMQueriesCompletedPerSecond": {
        frozenset({"ClusterIdentifier", "wlmid"}),
        frozenset({"ClusterIdentifier", "QueueName"}),
        frozenset({"ClusterIdentifier", "wlmid", "NodeID"}),
    },
    "WLMQueryDuration": {
        frozenset({"ClusterIdentifier", "wlmid"}),
        frozenset({"ClusterIdentifier", "QueueName"}),
        frozenset({"ClusterIdentifier", "wlmid", "NodeID"}),
    },
    "ConcurrencyScalingActiveClusters": {frozenset({"ClusterIdentifier"})},
    "ConcurrencyScalingSeconds": {frozenset({"ClusterIdentifier"})},
    "PercentageDiskSpaceUsed": {frozenset({"ClusterIdentifier"})},
}
FIVE_MINUTE = {"WLMQueueWaitTime", "WLMQueriesCompletedPerSecond", "WLMQueryDuration"}


def _points() -> pd.DataFrame:
    rows = [
        {"arrival_s": 0.0, "queue_s": 0.0, "exec_s": 400.0, "queue": "batch"},
        {"arrival_s": 10.0, "queue_s": 390.0, "exec_s": 30.0, "queue": "batch"},
        {"arrival_s": 65.0, "queue_s": 0.0, "exec_s": 5.0, "queue": "adhoc"},
    ]
    for r in rows:
        r["statement_type"] = "select"
    return build_metrics(
        workload(rows),
        service_classes={"batch": 6, "adhoc": 7},
        storage={"model": "on"},  # the storage model too (off without inputs)
    )


def test_redshift_metrics_use_only_documented_dimension_sets() -> None:
    points = _points()
    mine = points[points["namespace"] == "AWS/Redshift"]
    assert set(mine["metric_name"]) == set(DOCUMENTED_DIMENSIONS)
    for (metric, dims), _ in mine.groupby(["metric_name", "dimensions"]):
        names = frozenset(p.split("=", 1)[0] for p in str(dims).split(";"))
        assert names in DOCUMENTED_DIMENSIONS[str(metric)], (metric, dims)
    stamps = mine["timestamp"].astype("int64") // 10**6
    five = mine["metric_name"].isin(FIVE_MINUTE).to_numpy()
    # 5-minute metrics on 5-minute boundaries; the others on minute boundaries.
    assert (stamps[five] % 300 == 0).all()
    assert (stamps[~five] % 60 == 0).all()


def test_wait_time_ms_duration_us() -> None:
    points = _points()
    batch = points[
        points["dimensions"] == "ClusterIdentifier=dpc-learning;QueueName=batch"
    ]
    wait = batch[batch["metric_name"] == "WLMQueueWaitTime"]
    duration = batch[batch["metric_name"] == "WLMQueryDuration"]
    # The batch queries start at 0 s (no wait) and 400 s (390 s wait) [ms].
    assert wait["value"].tolist() == [0.0, 390_000.0]
    assert set(wait["unit"]) == {"Milliseconds"}
    # Completed at 400 s (400 s run) and 430 s (30 s run): one period [µs].
    assert duration["value"].tolist() == [215e6]
    assert set(duration["unit"]) == {"Microseconds"}


def _body() -> dict[str, Any]:
    return copy.deepcopy(dpc_design_dashboard())


def _metric_widget(**props: Any) -> dict[str, Any]:
    base = {
        "metrics": [["AWS/Redshift", "WLMQueueLength", "ClusterIdentifier", "c"]],
        "region": "ap-northeast-1",
    }
    return {"type": "metric", "x": 0, "y": 0, "properties": {**base, **props}}


# "gauge ... requires that you set min and max on the left side of the Y axis"
# (facts 5.3: view gauge needs yAxis.left min and max).
def test_gauge_needs_left_axis_min_and_max() -> None:
    bad = {"widgets": [_metric_widget(view="gauge")]}
    with pytest.raises(InputError, match=r"yAxis\.left"):
        validate_dashboard(bad)
    ok = _metric_widget(view="gauge", yAxis={"left": {"min": 0, "max": 100}})
    validate_dashboard({"widgets": [ok]})


def test_alarm_annotation_is_one_arn_without_metrics() -> None:
    arn = "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:a"
    ok: dict[str, Any] = {
        "type": "metric",
        "properties": {"region": "ap-northeast-1", "annotations": {"alarms": [arn]}},
    }
    validate_dashboard({"widgets": [ok]})
    two = copy.deepcopy(ok)
    two["properties"]["annotations"]["alarms"] = [arn, arn]
    with pytest.raises(InputError, match=r"annotations\.alarms"):
        validate_dashboard({"widgets": [two]})


@pytest.mark.parametrize(
    ("props", "where"),
    [
        ({"legend": {"position": "left"}}, r"legend\.position"),
        ({"timezone": "UTC"}, "timezone"),
    ],
)
def test_metric_widget_enums(props: dict[str, Any], where: str) -> None:
    with pytest.raises(InputError, match=where):
        validate_dashboard({"widgets": [_metric_widget(**props)]})
    good = {"legend": {"position": "bottom"}, "timezone": "+0900"}
    validate_dashboard({"widgets": [_metric_widget(**good)]})


def test_text_widget_background() -> None:
    text: dict[str, Any] = {
        "type": "text",
        "properties": {"markdown": "# x", "background": "red"},
    }
    with pytest.raises(InputError, match="background"):
        validate_dashboard({"widgets": [text]})
    text["properties"]["background"] = "transparent"
    validate_dashboard({"widgets": [text]})


def test_packaged_design_files_equal_their_functions() -> None:
    data = resources.files("dpcsim") / "data"
    dash = json.loads((data / "dpc_design_dashboard.json").read_text())
    assert dash == json.loads(json.dumps(_body()))
    alarms = json.loads((data / "dpc_design_alarms.json").read_text())
    assert alarms == json.loads(json.dumps(dpc_design_alarms()))
