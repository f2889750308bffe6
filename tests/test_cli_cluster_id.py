"""A user's own alarms fire on a replay of their own cluster (``--cluster-id``).

The alarm file is what ``aws cloudwatch describe-alarms`` / ``put-metric-alarm
--cli-input-json`` hold: PutMetricAlarm objects naming the user's cluster.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dpcsim import logs
from dpcsim.cli import main
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.schema import Workload, validate_workload

BASE_AT = pd.Timestamp("2025-05-26 00:00:00", tz="UTC")


def _busy_adhoc(n=600, seed=11):
    """Learners in adhoc arriving faster than its slots drain: the queue builds."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "query_id": np.arange(1, n + 1, dtype=np.int64),
            "arrival_at": BASE_AT
            + pd.to_timedelta(np.sort(rng.integers(0, 1_800_000_000, n)), unit="us"),
            "statement_type": "select",
            "exec_s": rng.lognormal(3.5, 0.5, n),
            "user_id": 200,
            "user_name": "learner1",
            "user_groups": "dpc_learners",
            "query_group": "default",
        }
    )
    return Workload(queries=validate_workload(frame))


def _queue_alarm(name, cluster):
    return {
        "AlarmName": name,
        "ActionsEnabled": True,
        "AlarmActions": ["arn:aws:sns:eu-west-1:111122223333:ops"],
        "Namespace": "AWS/Redshift",
        "MetricName": "WLMQueueLength",
        "Dimensions": [
            {"Name": "QueueName", "Value": "adhoc"},
            {"Name": "ClusterIdentifier", "Value": cluster},
        ],
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 3,
        "Threshold": 2.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "missing",
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster-id")
    logs.write_workload(_busy_adhoc(), root / "workload")
    (root / "wlm.json").write_text(json.dumps(dpc_design_config().to_json()))
    own = [_queue_alarm("prod-adhoc-queue", "analytics-prod")]
    (root / "own.json").write_text(json.dumps(own, indent=2))
    two = [*own, _queue_alarm("staging-adhoc-queue", "analytics-staging")]
    (root / "two.json").write_text(json.dumps(two, indent=2))
    return root


def _simulate(inputs, out, alarms, *extra):
    return main(["--quiet", "simulate", "--workload", str(inputs / "workload"),
                 "--wlm", str(inputs / "wlm.json"), "--alarms", str(inputs / alarms),
                 "--out", str(out), *extra])  # fmt: skip


def _summary(out):
    return pd.read_csv(out / "alarm_summary.csv").set_index("alarm_name")


def _cluster_ids(out):
    dims = pd.read_parquet(out / "metrics.parquet")["dimensions"].astype(str)
    return set(dims.str.extract(r"ClusterIdentifier=([^;]+)")[0].dropna())


def test_own_alarms_fire_without_cluster_id(inputs, tmp_path):
    out = tmp_path / "run"
    assert _simulate(inputs, out, "own.json") == 0
    assert _cluster_ids(out) == {"analytics-prod"}
    row = _summary(out).loc["prod-adhoc-queue"]
    assert row["transitions_to_alarm"] >= 1
    assert row["time_in_alarm_s"] > 0


def test_explicit_cluster_id_wins(inputs, tmp_path):
    out = tmp_path / "run"
    assert _simulate(inputs, out, "own.json", "--cluster-id", "other-cluster") == 0
    assert _cluster_ids(out) == {"other-cluster"}
    # The alarms now watch a cluster the run does not publish: they never fire.
    row = _summary(out).loc["prod-adhoc-queue"]
    assert row["transitions_to_alarm"] == 0
    assert row["final_state"] == "INSUFFICIENT_DATA"


def test_design_alarms_keep_the_design_cluster(inputs, tmp_path):
    out = tmp_path / "run"
    assert _simulate(inputs, out, "own.json", "--alarms", "none") == 0
    assert _cluster_ids(out) == {"dpc-learning"}


def test_two_clusters_in_the_alarms_is_one_line_error(inputs, tmp_path, capsys):
    out = tmp_path / "run"
    assert _simulate(inputs, out, "two.json") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "analytics-prod" in err
    assert "analytics-staging" in err
    assert "--cluster-id" in err
    assert not out.exists()
    # Naming the cluster resolves it.
    assert _simulate(inputs, out, "two.json", "--cluster-id", "analytics-prod") == 0
    summary = _summary(out)
    assert summary.loc["prod-adhoc-queue", "transitions_to_alarm"] >= 1
    assert summary.loc["staging-adhoc-queue", "transitions_to_alarm"] == 0
