"""A sweep's run builds only the series its alarms read: the same alarm run.

``Run.simulate_prepared(..., keep="alarms")`` skips the series no alarm reads
and the sort; the alarm evaluation must not change: same history, same
summary, same evaluation window, for the design's alarms (single-metric and
metric math) and for alarms on metrics the run may not publish.
"""

from __future__ import annotations

import pandas as pd
import pytest

from dpcsim.alarms import alarms_from_document, dpc_design_alarms
from dpcsim.designs import load_design
from dpcsim.engine import ClusterSettings
from dpcsim.metrics.build import alarm_datapoints, build_metrics
from dpcsim.metrics.redshift import (
    DISK_METRICS,
    QUEUE_GAUGE_METRICS,
    QUEUE_PERIOD_METRICS,
    SCALING_METRICS,
)
from dpcsim.run import Run
from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload


@pytest.fixture(scope="module")
def days():
    return generate_dpc_workload(DPCWorkloadSpec(days=2), rng=20250601)


@pytest.fixture(scope="module")
def design():
    return load_design("dpc")


def _extra_alarm(metric: str, stat: str = "Maximum") -> dict:
    return {
        "AlarmName": f"extra-{metric}",
        "Namespace": "AWS/Redshift",
        "MetricName": metric,
        "Dimensions": [{"Name": "ClusterIdentifier", "Value": "dpc-learning"}],
        "Statistic": stat,
        "Period": 300,
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 1,
        "Threshold": 0.5,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "breaching",
    }


SETTINGS = [
    ClusterSettings(),
    ClusterSettings(max_concurrency_scaling_clusters=0),
    ClusterSettings(storage={"model": "on"}),
]


@pytest.mark.parametrize("settings", SETTINGS, ids=["default", "no-cs", "storage"])
def test_alarm_runs_are_the_same_from_the_alarms_series_alone(days, design, settings):
    document = [
        *dpc_design_alarms(),
        # Scaling clusters: a series the design's alarms never read.
        _extra_alarm("ConcurrencyScalingActiveClusters"),
        # Missing data treated as breaching: the window's edges decide.
        _extra_alarm("WLMQueueLength", "Average"),
    ]
    alarms = alarms_from_document(document)
    prepared = Run.prepare(days, design.wlm, settings, design, alarms=alarms)
    full = Run.simulate_prepared(prepared, rng=3)
    lean = Run.simulate_prepared(prepared, rng=3, keep="alarms")
    assert full.alarm_run is not None
    assert lean.alarm_run is not None
    pd.testing.assert_frame_equal(lean.alarm_run.summary, full.alarm_run.summary)
    pd.testing.assert_frame_equal(lean.alarm_run.history, full.alarm_run.history)
    # Fewer series were built, and those built are the full run's.
    assert 0 < len(lean.datapoints) < len(full.datapoints)
    pairs = zip(
        lean.datapoints["namespace"], lean.datapoints["metric_name"], strict=True
    )
    kept = set(pairs)
    # No alarm reads a 5-minute queue series: that builder did not run.
    assert ("AWS/Redshift", "WLMQueueWaitTime") not in kept
    assert ("AWS/Redshift", "ConcurrencyScalingActiveClusters") in kept
    # Of the queue gauges and Custom/DPC, only the series an alarm reads: the
    # design's alarm on batch's queue length and the cluster total of the
    # extra alarm, not the other queues, WLMRunningQueries or MartTableUpdate.
    series = set(
        zip(
            lean.datapoints["metric_name"],
            lean.datapoints["dimensions"],
            strict=True,
        )
    )
    cluster = "ClusterIdentifier=dpc-learning"
    assert {d for m, d in series if m == "WLMQueueLength"} == {
        cluster,
        f"{cluster};QueueName=batch",
    }
    assert not {d for m, d in series if m == "WLMRunningQueries"}
    assert {d for m, d in series if m == "ELTExecutionDelay"} == {
        "Definition=StepFunctionsCompletion;Environment=prod"
    }
    assert {m for m, _ in series if m.startswith("WLM") and "Failed" in m} == {
        "WLMFailedQueries"
    }
    keys = ["namespace", "metric_name", "dimensions", "timestamp"]
    # The lean frame's categories are the subset it holds: compare the text.
    texts = dict.fromkeys(("namespace", "metric_name", "dimensions", "unit"), "string")
    lean_points = lean.datapoints.astype(texts)
    mine = full.datapoints.astype(texts).merge(
        lean_points[keys].drop_duplicates(), on=keys, how="inner"
    )
    pd.testing.assert_frame_equal(
        lean_points.sort_values(keys, kind="stable").reset_index(drop=True),
        mine.sort_values(keys, kind="stable").reset_index(drop=True),
    )


@pytest.mark.parametrize("queues", [("batch", "adhoc", "admin"), ()])
def test_the_span_is_the_one_of_every_series(days, design, queues):
    result = Run.simulate(days, design.wlm, rng=1, design=design).records
    everything = build_metrics(result, workload=days, design=design, queues=queues)
    found = alarm_datapoints(
        result, {("Custom/DPC", "CopyErrorCount")}, workload=days, design=design,
        queues=queues,
    )  # fmt: skip
    ts = everything["timestamp"].to_numpy(dtype="datetime64[us]").astype("int64")
    assert found.span_us == (int(ts.min()), int(ts.max()))
    # The 5-minute series start before the first minute on this run, so the
    # span is not just the minute grid's.
    first_minute = result.start_at.floor("min").value // 1000
    assert found.span_us[0] < first_minute


def test_every_published_redshift_metric_belongs_to_its_builders_set(days, design):
    """A metric missing from the sets would silently vanish from a sweep's alarms."""
    settings = ClusterSettings(storage={"model": "on"})
    result = Run.simulate(days, design.wlm, settings, rng=1, design=design).records
    frame = build_metrics(
        result, workload=days, design=design, storage=settings.storage
    )
    published = set(frame.loc[frame["namespace"] == "AWS/Redshift", "metric_name"])
    known = QUEUE_GAUGE_METRICS | QUEUE_PERIOD_METRICS | SCALING_METRICS | DISK_METRICS
    assert published == known


def test_a_selection_is_pairs_or_triples():
    from dpcsim.metrics.selection import SeriesSelection

    chosen = SeriesSelection(
        {("AWS/Redshift", "WLMQueueLength", "ClusterIdentifier=c;QueueName=q"),
         ("Custom/DPC", "CopyErrorCount")}
    )  # fmt: skip
    assert chosen.series("AWS/Redshift", "WLMQueueLength",
                         {"QueueName": "q", "ClusterIdentifier": "c"})  # fmt: skip
    assert not chosen.series(
        "AWS/Redshift", "WLMQueueLength", {"ClusterIdentifier": "c"}
    )
    assert chosen.series("Custom/DPC", "CopyErrorCount", {"Any": "thing"})
    assert chosen.any_of("AWS/Redshift", frozenset({"WLMQueueLength"}))
    assert not chosen.any_of("AWS/Redshift", frozenset({"WLMRunningQueries"}))
    assert not chosen.metric("Custom/DPC", "WLMFailedQueries")
    with pytest.raises(ValueError, match="expected"):
        SeriesSelection({("AWS/Redshift",)})
