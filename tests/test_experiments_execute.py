"""Sweep execution: in-process, process pool and Dask agree; kills resume cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from _experiments_fixtures import context, small_workload

from dpcsim.experiments import run_sweep, space_from_dict
from dpcsim.experiments.space import run_key

SPACE = {
    "sweep": {"seed": 3, "replications": 2},
    "decisions": {"slots.adhoc": [3, 5], "max_concurrency_scaling_clusters": [1, 2]},
    "scenarios": {"growth": [1.0, 1.3]},
}
# Timings differ between runs; everything else must be identical.
VOLATILE = ["run_s"]


@pytest.fixture(scope="module")
def workload_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_workload(tmp_path_factory.mktemp("w"))


def _frame(results: pd.DataFrame) -> pd.DataFrame:
    return results.drop(columns=VOLATILE).sort_values("run_key").reset_index(drop=True)


def _planned_keys() -> set[str]:
    space = space_from_dict(SPACE)
    return {
        run_key(d, s, a, r)
        for d, s, a in space.points()
        for r in range(space.replications)
    }


@pytest.fixture(scope="module")
def local(
    workload_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("local")
    report = run_sweep(space_from_dict(SPACE), context(workload_path), out, workers=1)
    assert report.failures == 0
    return report.results


def test_every_planned_run_once(local: pd.DataFrame) -> None:
    assert set(local["run_key"]) == _planned_keys()
    assert local["run_key"].is_unique
    # 4 decisions (baseline adhoc 5 / 1 cluster is among them) x 2 scenarios x 2.
    assert len(local) == 16
    assert (local["status"] == "ok").all()


def test_common_random_numbers_across_decisions(local: pd.DataFrame) -> None:
    """Replication r of every decision replays the same resampled week."""
    arrived = local.groupby(["scenario_id", "replication"])["metric.failure_ratio"]
    # Same week -> the logged failures are the same queries under every decision.
    assert (arrived.nunique() == 1).all()
    seeds = local.groupby("replication")["seed"].nunique()
    assert (seeds == 1).all()


def test_process_pool_gives_identical_results(
    local: pd.DataFrame, workload_path: Path, tmp_path: Path
) -> None:
    report = run_sweep(
        space_from_dict(SPACE), context(workload_path), tmp_path, workers=2, per_task=2
    )
    pd.testing.assert_frame_equal(_frame(report.results), _frame(local))


def test_dask_local_cluster_gives_identical_results(
    local: pd.DataFrame, workload_path: Path, tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        host="127.0.0.1",
        dashboard_address=None,
        n_workers=2,
        processes=True,
        threads_per_worker=1,
    ) as cluster:
        report = run_sweep(
            space_from_dict(SPACE),
            context(workload_path),
            tmp_path,
            scheduler=cluster.scheduler_address,
            per_task=2,
        )
    pd.testing.assert_frame_equal(_frame(report.results), _frame(local))


DRIVER = """
import sys
sys.path.insert(0, sys.argv[3])
from dpcsim.experiments import run_sweep, space_from_dict
from _experiments_fixtures import context
from test_experiments_execute import SPACE
run_sweep(space_from_dict(SPACE), context(sys.argv[1]), sys.argv[2], workers=1,
          per_task=1)
"""


def test_sigkill_of_the_driver_resumes_without_loss_or_duplicates(
    local: pd.DataFrame, workload_path: Path, tmp_path: Path
) -> None:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            DRIVER,
            str(workload_path),
            str(tmp_path),
            str(root / "tests"),
        ],
        cwd=root,
    )
    runs = tmp_path / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if runs.is_dir() and len(list(runs.glob("*.parquet"))) >= 5:
            break
        assert proc.poll() is None, "the sweep ended before it could be killed"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.stem for p in runs.glob("*.parquet")}
    assert 5 <= len(before) < 16
    report = run_sweep(
        space_from_dict(SPACE), context(workload_path), tmp_path, workers=1
    )
    assert report.runs_skipped == len(before)
    assert report.runs_done == 16 - len(before)
    assert report.results["run_key"].is_unique
    pd.testing.assert_frame_equal(_frame(report.results), _frame(local))
    assert not list(runs.glob(".tmp-*"))


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(
    workload_path: Path, tmp_path: Path
) -> None:
    space = space_from_dict(
        {"sweep": {"replications": 1}, "decisions": {"slots.adhoc": [5, 60]}}
    )
    report = run_sweep(space, context(workload_path), tmp_path, workers=1)
    bad = report.results.loc[report.results["decision.slots.adhoc"] == 60]
    assert bad["status"].tolist() == ["failed"]
    assert "query_concurrency" in bad["error"].iloc[0]
    assert bad["seed"].iloc[0] != ""
    good = report.results.loc[report.results["decision.slots.adhoc"] == 5]
    assert good["status"].tolist() == ["ok"]
