"""``Custom/DPC WLMCausedFailedQueries``: only the queries the cluster stopped."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from fixtures.metrics.builders import START, workload

from dpcsim.alarms import dpc_design_alarms
from dpcsim.emit.alarms import check_alarm_request
from dpcsim.emit.catalog import check_metric
from dpcsim.experiments.tuning import TuningGrid, alarm_variants
from dpcsim.metrics.custom import custom_datapoints
from dpcsim.metrics.records import records_from_workload

CI = "dpc-learning"


def _records(outcomes: list[str]):
    # One query per outcome, each finishing in minute 1 (60-120 s).
    rows = [
        {"arrival_s": 10.0 * k, "queue_s": 0.0, "exec_s": 70.0, "queue": "batch",
         "statement_type": "select"}
        for k in range(len(outcomes))
    ]  # fmt: skip
    records = records_from_workload(workload(rows))
    queries = records.queries.assign(outcome=pd.array(outcomes, dtype="string"))
    return dataclasses.replace(records, queries=queries)


def _per_minute(points: pd.DataFrame, metric: str) -> list[float]:
    mine = points[points["metric_name"] == metric].sort_values("timestamp")
    return mine["value"].tolist()


def _points(outcomes: list[str]) -> pd.DataFrame:
    stamps = pd.DatetimeIndex([START + pd.Timedelta(minutes=m) for m in range(3)])
    grid_s = np.array([0.0, 60.0, 120.0])
    return custom_datapoints(
        _records(outcomes), stamps, grid_s, cluster_id=CI, environment="prod"
    )


def test_counts_only_queries_the_cluster_stopped():
    # A QMR abort, a user's cancel and an SQL error the log shows (both replayed
    # as ``failed``), and a completed query.
    points = _points(["aborted", "failed", "failed", "completed"])
    assert _per_minute(points, "WLMCausedFailedQueries") == [0.0, 1.0, 0.0]
    assert _per_minute(points, "WLMFailedQueries") == [0.0, 3.0, 0.0]
    assert _per_minute(points, "WLMAttemptedQueries") == [0.0, 4.0, 0.0]


def test_timeout_cancels_count_and_dimensions_match_failed():
    points = _points(["canceled", "aborted", "failed"])
    assert _per_minute(points, "WLMCausedFailedQueries") == [0.0, 2.0, 0.0]
    caused = points[points["metric_name"] == "WLMCausedFailedQueries"]
    failed = points[points["metric_name"] == "WLMFailedQueries"]
    assert set(caused["dimensions"]) == set(failed["dimensions"])
    assert set(caused["unit"]) == {"Count"}


def test_emit_catalog_accepts_it():
    check_metric(
        "Custom/DPC", "WLMCausedFailedQueries", ["ClusterIdentifier"], where="t.json"
    )


def _wlm_caused_variant() -> dict:
    design = next(
        r for r in dpc_design_alarms() if r["AlarmName"] == "Alert-Query-Failure"
    )
    rows = alarm_variants(design, TuningGrid())
    return next(req for row, req in rows if row["variant"] == "wlm_caused")


def test_tuning_variant_reads_the_published_series_and_passes_emit_checks():
    request = _wlm_caused_variant()
    check_alarm_request(request, source="alarms/Alert-Query-Failure.json")
    failed = next(q for q in request["Metrics"] if q.get("Id") == "failed")
    metric = failed["MetricStat"]["Metric"]
    assert metric["MetricName"] == "WLMCausedFailedQueries"
    # The series the tuned alarm selects is the one custom_datapoints publishes,
    # and on a run without cancels it holds the QMR aborts only, as before.
    dims = ";".join(f"{d['Name']}={d['Value']}" for d in metric["Dimensions"])
    points = _points(["aborted", "aborted", "failed"])
    mine = points[
        (points["namespace"] == metric["Namespace"])
        & (points["metric_name"] == metric["MetricName"])
        & (points["dimensions"] == dims)
    ]
    assert mine.sort_values("timestamp")["value"].tolist() == [0.0, 2.0, 0.0]


def _logged(causes: list[str | None]):
    rows = [
        {"arrival_s": 10.0 * k, "queue_s": 0.0, "exec_s": 70.0, "queue": "batch",
         "statement_type": "select", "aborted": c is not None, "stop_cause": c}
        for k, c in enumerate(causes)
    ]  # fmt: skip
    return records_from_workload(workload(rows))


def test_a_log_replays_each_stop_cause_as_its_outcome():
    causes = ["qmr_abort", "qmr_hop", "wlm_timeout", "statement_timeout",
              "user_or_error", None]  # fmt: skip
    records = _logged(causes)
    assert records.queries["outcome"].tolist() == [
        "aborted", "canceled", "canceled", "canceled", "failed", "completed",
    ]  # fmt: skip
    stamps = pd.DatetimeIndex([START + pd.Timedelta(minutes=m) for m in range(3)])
    points = custom_datapoints(
        records, stamps, np.array([0.0, 60.0, 120.0]), cluster_id=CI,
        environment="prod",
    )  # fmt: skip
    # Every abort still fails; only the four the cluster caused are WLM-caused.
    assert _per_minute(points, "WLMFailedQueries") == [0.0, 5.0, 0.0]
    assert _per_minute(points, "WLMCausedFailedQueries") == [0.0, 4.0, 0.0]


def test_aborts_of_an_unvalidated_frame_without_causes_are_failed():
    from dpcsim.metrics.records import logged_outcomes

    frame = pd.DataFrame({"aborted": [True, False]})
    assert logged_outcomes(frame).tolist() == ["failed", "completed"]
