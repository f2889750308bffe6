"""AWS/Redshift and failure/copy metrics of a tiny hand-built log, exact per minute."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fixtures.metrics.builders import START, at, workload

from dpcsim.errors import InputError
from dpcsim.metrics import build_metrics

CI = "ClusterIdentifier=dpc-learning"


def _log():
    rows = [
        # batch: q1 runs 0-150; q2 waits 10-90, runs 90-120; q3 waits 20-120,
        # runs 120-130 and is aborted.
        {"arrival_s": 0.0, "queue_s": 0.0, "exec_s": 150.0, "queue": "batch"},
        {"arrival_s": 10.0, "queue_s": 80.0, "exec_s": 30.0, "queue": "batch"},
        {"arrival_s": 20.0, "queue_s": 100.0, "exec_s": 10.0, "queue": "batch",
         "aborted": True},
        # adhoc: q4 runs 65-70 on a scaling cluster; q5 is a result-cache hit.
        {"arrival_s": 65.0, "queue_s": 0.0, "exec_s": 5.0, "queue": "adhoc",
         "ran_on_cs": True},
        {"arrival_s": 30.0, "queue_s": 0.0, "exec_s": 0.0, "queue": "adhoc",
         "cache_hit": True},
    ]  # fmt: skip
    for r in rows:
        r["statement_type"] = "select"
    errors = [
        {"query_id": 9, "error_at": at(90), "filename": "s3://b/x", "line_number": 1,
         "colname": "c", "err_code": 1204, "err_reason": "bad", "source_file": "t"},
        {"query_id": 9, "error_at": at(105), "filename": "s3://b/x", "line_number": 2,
         "colname": "c", "err_code": 1204, "err_reason": "bad", "source_file": "t"},
    ]  # fmt: skip
    return workload(rows, load_errors=errors)


def _series(points: pd.DataFrame, metric: str, dims: str) -> list[float]:
    mine = points[(points["metric_name"] == metric) & (points["dimensions"] == dims)]
    return mine.sort_values("timestamp")["value"].tolist()


@pytest.mark.parametrize(
    ("sampling", "batch_len", "batch_run", "adhoc_run", "total_len", "cs"),
    [
        ("instant", [0, 2, 0], [1, 1, 2], [0, 0, 0], [0, 2, 0], [0, 0, 0]),
        ("max", [2, 2, 0], [1, 2, 2], [0, 1, 0], [2, 2, 0], [0, 1, 0]),
        ("mean", [90 / 60, 1.5, 0], [1, 1.5, 40 / 60], [0, 5 / 60, 0],
         [90 / 60, 1.5, 0], [0, 5 / 60, 0]),
    ],
)  # fmt: skip
def test_gauges_per_sampling(sampling, batch_len, batch_run, adhoc_run, total_len, cs):
    points = build_metrics(_log(), sampling=sampling)
    batch = f"{CI};QueueName=batch"
    adhoc = f"{CI};QueueName=adhoc"
    assert _series(points, "WLMQueueLength", batch) == pytest.approx(batch_len)
    assert _series(points, "WLMRunningQueries", batch) == pytest.approx(batch_run)
    assert _series(points, "WLMRunningQueries", adhoc) == pytest.approx(adhoc_run)
    assert _series(points, "WLMQueueLength", CI) == pytest.approx(total_len)
    assert _series(points, "ConcurrencyScalingActiveClusters", CI) == pytest.approx(cs)


def test_minute_timestamps_and_units():
    # The storage model asked for: PercentageDiskSpaceUsed is published.
    points = build_metrics(_log(), storage={"model": "on"})
    mine = points[points["metric_name"] == "WLMQueueLength"]
    stamps = sorted(set(mine["timestamp"]))
    assert stamps == [START, at(60), at(120)]
    units = dict(zip(points["metric_name"], points["unit"], strict=True))
    assert units["WLMQueueWaitTime"] == "Milliseconds"
    assert units["WLMQueryDuration"] == "Microseconds"
    assert units["WLMQueriesCompletedPerSecond"] == "Count/Second"
    # AWS lists ConcurrencyScalingSeconds in Count (seconds of active processing).
    assert units["ConcurrencyScalingSeconds"] == "Count"
    assert units["PercentageDiskSpaceUsed"] == "Percent"
    assert str(points["timestamp"].dtype) == "datetime64[us, UTC]"


def test_five_minute_metrics():
    points = build_metrics(_log())
    batch = f"{CI};QueueName=batch"
    adhoc = f"{CI};QueueName=adhoc"
    # batch waits 0, 80 and 100 s (the aborted q3 started too); adhoc 0 (cache hit out)
    assert _series(points, "WLMQueueWaitTime", batch) == [60_000.0]
    assert _series(points, "WLMQueueWaitTime", adhoc) == [0.0]
    # completed only: q1 150 s and q2 30 s
    assert _series(points, "WLMQueryDuration", batch) == [90e6]
    assert _series(points, "WLMQueryDuration", adhoc) == [5e6]
    assert _series(points, "WLMQueriesCompletedPerSecond", batch) == [2 / 300]
    assert _series(points, "WLMQueriesCompletedPerSecond", adhoc) == [1 / 300]


def test_scaling_seconds_count_active_processing_not_billing():
    points = build_metrics(_log())
    # one 5 s activation in minute 1: 5 s of processing, although 60 s are billed
    assert _series(points, "ConcurrencyScalingSeconds", CI) == [0.0, 5.0, 0.0]


def test_failure_ratio_pieces_and_copy_errors():
    points = build_metrics(_log())
    assert _series(points, "WLMAttemptedQueries", CI) == [0.0, 1.0, 3.0]
    assert _series(points, "WLMFailedQueries", CI) == [0.0, 0.0, 1.0]
    copy = points[points["metric_name"] == "CopyErrorCount"]
    assert copy["timestamp"].tolist() == [at(60)]
    assert copy["value"].tolist() == [2.0]
    assert copy["dimensions"].tolist() == [""]
    filled = build_metrics(_log(), copy_error_default=0.0)
    assert _series(filled, "CopyErrorCount", "") == [0.0, 2.0, 0.0]


def test_service_class_variants_and_unused_queue():
    points = build_metrics(
        _log(), queues=["admin"], service_classes={"batch": 6, "adhoc": 7, "admin": 8}
    )
    assert _series(points, "WLMQueueLength", f"{CI};service class=6") == [0, 2, 0]
    assert _series(points, "WLMRunningQueries", f"{CI};wlmid=6") == [1, 1, 2]
    assert _series(points, "WLMQueueLength", f"{CI};QueueName=admin") == [0, 0, 0]


def test_bad_sampling_is_input_error():
    with pytest.raises(InputError, match="sampling='median'"):
        build_metrics(_log(), sampling="median")  # type: ignore[arg-type]


def test_bad_source_is_input_error():
    with pytest.raises(InputError, match="expected a SimResult"):
        build_metrics(pd.DataFrame())


def test_build_is_deterministic():
    first = build_metrics(_log(), sampling="max")
    second = build_metrics(_log(), sampling="max")
    pd.testing.assert_frame_equal(first, second)
    assert not first.duplicated(["timestamp", "metric_name", "dimensions"]).any()
    assert np.isfinite(first["value"]).all()
