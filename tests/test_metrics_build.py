"""One code path: a log that the simulation reproduces gives the same metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fixtures.metrics.builders import (
    START,
    FakeSimResult,
    scaling,
    sim_queries,
    workload,
)
from fixtures.metrics.builders import timeline as make_timeline

from dpcsim.engine import simulate
from dpcsim.metrics import (
    DATAPOINT_COLUMNS,
    build_metrics,
    to_records,
    validate_datapoints,
)
from dpcsim.schema import Workload, validate_workload
from dpcsim.wlm.config import QueueConfig, WLMConfig

CONFIG = WLMConfig(
    queues=(
        QueueConfig(name="batch", query_concurrency=2, query_group=("elt",)),
        QueueConfig(name="adhoc", query_concurrency=1),
    ),
    sqa=None,
)


def _workload(seed: int) -> Workload:
    rng = np.random.default_rng(seed)
    rows = [
        {
            "arrival_s": float(rng.uniform(0, 1800)),
            "exec_s": float(rng.exponential(45.0)),
            "statement_type": "copy" if i % 7 == 0 else "select",
            "query_group": "elt" if i % 2 else "default",
            "user_groups": "learners",
        }
        for i in range(60)
    ]
    return workload(rows)


def _log_of(result, simulated: Workload) -> Workload:
    """The log a cluster would have written had it run exactly as simulated."""
    q = result.queries
    frame = pd.DataFrame(
        {
            "query_id": q["query_id"].to_numpy(),
            "arrival_at": result.start_at + pd.to_timedelta(q["arrival_s"], unit="s"),
            "queue_s": (q["start_s"] - q["arrival_s"]).to_numpy(),
            "exec_s": (q["end_s"] - q["start_s"]).to_numpy(),
            "statement_type": q["statement_type"].to_numpy(),
            "queue": q["queue"].to_numpy(),
            "aborted": (q["outcome"] != "completed").to_numpy(bool),
            "ran_on_cs": (q["ran_on"] == "cs").to_numpy(bool),
            "cache_hit": q["cache_hit"].to_numpy(bool),
        }
    )
    return Workload(queries=validate_workload(frame))


@pytest.mark.parametrize("sampling", ["instant", "max", "mean"])
def test_observed_and_simulated_paths_agree(sampling):
    simulated = _workload(7)
    result = simulate(simulated, CONFIG, rng=1)
    assert (result.queries["queue_s"] > 0).sum() > 5  # the run does queue
    log = _log_of(result, simulated)
    storage = {"copy_gb": 10.0}
    from_sim = build_metrics(result, workload=simulated, sampling=sampling,
                             storage=storage)  # fmt: skip
    from_log = build_metrics(log, sampling=sampling, storage=storage)
    pd.testing.assert_frame_equal(
        from_sim[list(DATAPOINT_COLUMNS)], from_log[list(DATAPOINT_COLUMNS)],
        check_exact=False, rtol=1e-6,
    )  # fmt: skip
    names = set(from_log["metric_name"])
    assert {"WLMQueueLength", "WLMQueueWaitTime", "WLMAttemptedQueries"} <= names


def test_engine_timeline_matches_rebuilt_timeline():
    result = simulate(_workload(11), CONFIG, rng=1)
    engine = to_records(result)
    grid = np.arange(0.0, 2400.0, 60.0)
    from dpcsim.metrics.records import timeline_from_queries
    from dpcsim.metrics.series import sample_step, step_function

    rebuilt = timeline_from_queries(engine.queries)
    for name in ("batch", "adhoc"):
        for col in ("queued", "running"):
            a = engine.timeline[engine.timeline["queue"] == name]
            b = rebuilt[rebuilt["queue"] == name]
            sa = sample_step(*step_function(a["t_s"].to_numpy(), a[col].to_numpy()),
                             grid, sampling="max")  # fmt: skip
            sb = sample_step(*step_function(b["t_s"].to_numpy(), b[col].to_numpy()),
                             grid, sampling="max")  # fmt: skip
            np.testing.assert_array_equal(sa, sb)


def test_same_inputs_same_datapoints():
    simulated = _workload(5)
    a = build_metrics(simulate(simulated, CONFIG, rng=3), workload=simulated)
    b = build_metrics(simulate(simulated, CONFIG, rng=3), workload=simulated)
    pd.testing.assert_frame_equal(a, b)


def test_output_meets_the_datapoints_contract():
    simulated = _workload(5)
    points = build_metrics(simulate(simulated, CONFIG, rng=3), workload=simulated)
    checked = validate_datapoints(points)
    pd.testing.assert_frame_equal(checked, points, check_dtype=False)
    assert str(points["timestamp"].dtype) == "datetime64[us, UTC]"
    assert points["unit"].notna().all()


def test_scaling_metrics_count_processing_not_idle_or_billed_time():
    sim = sim_queries([{"query_id": 1, "queue": "batch", "arrival_s": 30.0,
                        "start_s": 30.0, "end_s": 150.0, "ran_on": "cs"}])  # fmt: skip
    result = FakeSimResult(
        queries=sim,
        timeline=make_timeline(
            [
                (30.0, "batch", 0, 1, 1, 1),
                (150.0, "batch", 0, 0, 0, 1),
                (200.0, "batch", 0, 0, 0, 0),
            ]
        ),
        # the engine keeps the cluster until 200 s and bills 120 s of it
        scaling=scaling([(30.0, 200.0, 120.0), (250.0, 250.0, 60.0)]),
    )
    points = build_metrics(result, end_at=START + pd.Timedelta(seconds=299))
    cs = "ClusterIdentifier=dpc-learning"
    seconds = points[(points["metric_name"] == "ConcurrencyScalingSeconds")
                     & (points["dimensions"] == cs)]["value"]  # fmt: skip
    # The query runs on the scaling cluster from 30 s to 150 s: those seconds,
    # not the idle time until the stop at 200 s nor the billed minimums.
    assert seconds.tolist() == pytest.approx([30.0, 60.0, 30.0, 0.0, 0.0])
    active = points[points["metric_name"] == "ConcurrencyScalingActiveClusters"]
    # instant samples at 0, 60, 120, 180, 240 s: at 180 s the cluster is up
    # but processes nothing, so it is not an active cluster
    assert active["value"].tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]
