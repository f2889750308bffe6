"""Streamed metrics equal the in-memory run's, byte for byte, in small windows.

The streamed run (:func:`dpcsim.run_stream.stream_parquet_run` with
:class:`~dpcsim.metrics.stream.StreamMetrics`) cuts the run into slices at
regeneration points; every per-minute gauge, 5-minute mean, count, integral,
ELT delay, storage level and alarm state must come out as
:func:`dpcsim.metrics.build_metrics` and :func:`dpcsim.alarms.evaluate_alarms`
give them for the whole run. Windows of a few hundred arrivals make hundreds of
cuts, many inside a minute or a 5-minute period.
"""

from __future__ import annotations

import filecmp
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dpcsim.bundled import sample_dir
from dpcsim.designs import default_design
from dpcsim.engine import ClusterSettings
from dpcsim.logs import read_workload, write_workload
from dpcsim.metrics.series import _integral, sample_step, step_function
from dpcsim.metrics.stream import StreamMetrics, _Grid, _Integral, _Step
from dpcsim.run import Run
from dpcsim.run_stream import StreamMeasure, stream_parquet_run
from dpcsim.schema import Workload, validate_workload

#: Records identical in both runs: solo demands (the stream converts observed
#: times per window, see dpcsim.engine.stream), the storage model on.
SETTINGS = replace(ClusterSettings(), contention_demand="solo", storage={"model": "on"})
FILES = (
    "queries.parquet",
    "scaling.parquet",
    "metrics.parquet",
    "alarm_history.csv",
    "alarm_summary.csv",
)


def _in_memory(workload: Workload, out, settings=SETTINGS):
    design = default_design()
    run = Run.simulate(
        workload, design.wlm, settings, rng=0, design=design, replay="open"
    )
    run.write(out, timeline=False)
    return run


def _streamed(path, out, *, window, settings=SETTINGS):
    design = default_design()
    alarms = tuple(_in_memory_alarms(design))
    out.mkdir()
    stats: dict[str, int] = {}
    stream_parquet_run(
        path,
        design.wlm,
        settings,
        out,
        seed=0,
        window=window,
        measure=StreamMeasure(design=design, alarms=alarms),
        timeline=False,
        stats=stats,
    )
    return stats


def _in_memory_alarms(design):
    from dpcsim.alarms import alarms_from_document

    requests = design.alarm_requests("123456789012")
    return alarms_from_document(requests, source=f"design {design.name}")


@pytest.mark.parametrize("window", [397, 4096])
def test_sample_week_metrics_and_alarms_are_byte_identical(tmp_path, window):
    folder = tmp_path / "sample"
    shutil.copytree(sample_dir(), folder)
    workload = read_workload(folder)
    run = _in_memory(workload, tmp_path / "mem")
    stats = _streamed(folder / "workload.parquet", tmp_path / "st", window=window)
    assert stats["windows"] > 5  # the run was really cut into slices
    for name in FILES:
        assert filecmp.cmp(
            tmp_path / "mem" / name, tmp_path / "st" / name, shallow=False
        ), name
    # The comparison is not vacuous: the week has scaling, ELT and storage data.
    points = run.datapoints.groupby("metric_name")["value"].sum()
    assert points["ConcurrencyScalingSeconds"] > 0
    assert points["PercentageDiskSpaceUsed"] > 0
    assert points["ELTExecutionDelay"] > 0
    assert points["WLMQueueLength"] > 0


def _bursts(n=3000, seed=11):
    """Bursts that queue across minute and period boundaries, with ties."""
    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2025-03-03 23:58:00", tz="UTC")
    gaps = rng.choice([0.0, 0.0, 0.5, 2.0, 90.0], size=n, p=[0.2, 0.2, 0.3, 0.25, 0.05])
    arrival = base + pd.to_timedelta(np.cumsum(gaps), unit="s")
    elt = rng.random(n) < 0.3
    frame = pd.DataFrame(
        {
            "query_id": np.arange(1, n + 1, dtype=np.int64),
            "arrival_at": arrival,
            "statement_type": np.where(elt, "insert", "select"),
            "exec_s": np.round(rng.lognormal(1.0, 1.2, n), 3),
            "user_name": np.where(elt, "IAMR:dpc-elt-stepfunctions", "learner1"),
            "user_groups": np.where(elt, "dpc_elt", "dpc_learners"),
            "query_group": np.where(elt, "elt", "default"),
            "query_text": np.where(
                elt, "insert into mart.daily_sales select 1", "select 1"
            ),
        }
    )
    return Workload(queries=validate_workload(frame))


def test_bursty_workload_with_ties_is_byte_identical(tmp_path):
    workload = _bursts()
    write_workload(workload, tmp_path / "w")
    plain = replace(ClusterSettings(), contention_model="none")
    _in_memory(workload, tmp_path / "mem", settings=plain)
    stats = _streamed(
        tmp_path / "w" / "workload.parquet", tmp_path / "st", window=64, settings=plain
    )
    assert stats["windows"] > 20
    for name in FILES:
        assert filecmp.cmp(
            tmp_path / "mem" / name, tmp_path / "st" / name, shallow=False
        ), name


def _random_steps(rng, n):
    """A step function with repeated instants, as an engine timeline has."""
    t = np.sort(np.round(rng.uniform(0.0, 900.0, n), 1))
    v = rng.integers(0, 4, n).astype("float64")
    return t, v


@pytest.mark.parametrize("seed", range(5))
def test_sliced_samplers_equal_the_whole_series(seed):
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-01-01 00:00:00", tz="UTC")
    grid = _Grid(start)
    t, v = _random_steps(rng, 400)
    n = grid.count_upto(960.0)
    g = grid.points(0, n)
    want_inst = sample_step(*step_function(t, v), g)
    ts, vs = step_function(t, v)
    want_sec = _integral(ts, vs, g + 60.0) - _integral(ts, vs, g)
    step, lo, hi = _Step(), _Integral(0.0), _Integral(60.0)
    # A slice never splits one instant (the stream cuts between events).
    between = np.flatnonzero(t[1:] != t[:-1]) + 1
    cuts = np.sort(rng.choice(between, size=12, replace=False))
    for part in np.split(np.arange(t.size), cuts):
        bound = float(t[part[-1]])
        pt, pv = t[part], v[part]
        step.advance(grid, grid.count_upto(bound), pt, pv)
        lo.advance(grid, grid.count_upto(bound), pt, pv)
        hi.advance(grid, grid.count_upto(bound - 61.0), pt, pv)
    got_sec = hi.values(grid, n) - lo.values(grid, n)
    assert np.array_equal(step.values(grid, n), want_inst)
    assert np.array_equal(got_sec, want_sec)


def test_grid_counts_the_minute_starts_at_or_before_an_instant():
    grid = _Grid(pd.Timestamp("2025-01-01 00:00:00", tz="UTC"))
    assert [grid.count_upto(x) for x in (-1.0, 0.0, 59.9, 60.0, 61.0)] == [
        0,
        1,
        1,
        2,
        2,
    ]


def test_finish_without_a_slice_is_an_error():
    design = default_design()
    acc = StreamMetrics(
        elt=design.elt,
        cluster_id="c",
        environment="prod",
        elt_runs=pd.DataFrame(),
        load_errors=pd.DataFrame(),
    )
    with pytest.raises(ValueError, match="no slice"):
        acc.finish()
