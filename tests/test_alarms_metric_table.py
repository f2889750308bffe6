"""MetricTable groups series found as runs exactly as by factorising the keys.

The run path (:func:`dpcsim.alarms.grid._key_runs`) must give the same keys, in
the same order, with the same rows as the factorised path it short-cuts, on
the datapoints a run builds (sorted and unsorted), on interleaved user data
(where it must hand over) and on GetMetricData-style period statistics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpcsim.alarms import grid
from dpcsim.designs import load_design
from dpcsim.metrics.build import alarm_datapoints, build_metrics
from dpcsim.run import Run
from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload


@pytest.fixture(scope="module")
def frames():
    days = generate_dpc_workload(DPCWorkloadSpec(days=2), rng=20250607)
    design = load_design("dpc")
    run = Run.simulate(days, design.wlm, design=design, rng=3, alarms=())
    options = {"workload": days, "design": design, "queues": design.wlm.queue_names}
    full = build_metrics(run.records, **options)
    wanted = {("AWS/Redshift", "WLMQueueLength"), ("Custom/DPC", "ELTDelayMinutes")}
    lean = alarm_datapoints(run.records, wanted, **options).datapoints
    return full, lean


def _factorised(frame, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(grid, "_key_runs", lambda columns, n: None)
        return grid.MetricTable(frame).groups


def _same(a, b):
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_runs_give_the_factorised_groups(frames, monkeypatch):
    for frame in frames:
        assert grid._key_runs(_key_columns(frame), len(frame)) is not None
        _same(grid.MetricTable(frame).groups, _factorised(frame, monkeypatch))


def test_interleaved_keys_hand_over_to_the_factorised_path(frames, monkeypatch):
    full, _ = frames
    shuffled = full.sample(frac=1.0, random_state=np.random.default_rng(5))
    shuffled = shuffled.reset_index(drop=True)
    assert grid._key_runs(_key_columns(shuffled), len(shuffled)) is None
    _same(grid.MetricTable(shuffled).groups, _factorised(shuffled, monkeypatch))


def test_period_statistics_and_nulls(frames, monkeypatch):
    full, _ = frames
    part = full.iloc[:5000].copy()
    part["stat"] = pd.array(["Average"] * 2500 + [None] * 2500, dtype="string")
    part["period_s"] = pd.array([300] * 1000 + [60] * 1500 + [None] * 2500, "Int64")
    # Filled the way MetricTable fills them: runs of stat and period found.
    assert grid._key_runs(_key_columns(part), len(part)) is not None
    _same(grid.MetricTable(part).groups, _factorised(part, monkeypatch))
    # A null in a key column: the factorised path decides.
    holed = part.copy()
    holed.loc[7, "dimensions"] = None
    assert grid._key_runs(_key_columns(holed), len(holed)) is None


def _key_columns(frame):
    return [
        frame["namespace"],
        frame["metric_name"],
        frame["dimensions"],
        frame["stat"].fillna("") if "stat" in frame.columns else None,
        frame["period_s"].fillna(0) if "period_s" in frame.columns else None,
    ]
