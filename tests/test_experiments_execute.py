"""Sweep execution: in-process, process pool and Dask agree; kills resume cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _experiments_fixtures import context, small_workload

from dpcsim.errors import InputError
from dpcsim.experiments import SweepContext, run_sweep, space_from_dict
from dpcsim.experiments.execute import Task, _died_row, iter_task, plan_tasks
from dpcsim.experiments.pool import (
    MAX_START_FAILURES,
    MAX_WORKER_DEATHS,
    WorkerPool,
    describe_exit,
)
from dpcsim.experiments.space import run_key
from dpcsim.experiments.store import ResultStore

SPACE = {
    "sweep": {"seed": 3, "replications": 2},
    "decisions": {"slots.adhoc": [3, 5], "max_concurrency_scaling_clusters": [1, 2]},
    "scenarios": {"growth": [1.0, 1.3]},
}
# Timings differ between runs; everything else must be identical.
VOLATILE = ["run_s"]
#: The scheduler's HTTP routes (health, metrics) on a free loopback port: with
#: ``dashboard_address=None`` alone, distributed still binds them to 8787 and
#: warns (an error here) when another cluster on the machine holds it.
LOOPBACK_HTTP = {"dashboard_address": "127.0.0.1:0"}


def _two_worker_cluster(distributed: Any) -> Any:
    """A LocalCluster of two worker processes on the loopback interface."""
    return distributed.LocalCluster(
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs=LOOPBACK_HTTP,
        n_workers=2,
        processes=True,
        threads_per_worker=1,
    )


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
    pd.testing.assert_frame_equal(
        _frame(report.results), _frame(local), check_exact=True
    )


def test_dask_local_cluster_gives_identical_results(
    local: pd.DataFrame, workload_path: Path, tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    with _two_worker_cluster(distributed) as cluster:
        report = run_sweep(
            space_from_dict(SPACE),
            context(workload_path),
            tmp_path,
            scheduler=cluster.scheduler_address,
            per_task=2,
        )
    pd.testing.assert_frame_equal(
        _frame(report.results), _frame(local), check_exact=True
    )


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
    pd.testing.assert_frame_equal(
        _frame(report.results), _frame(local), check_exact=True
    )
    assert not list(runs.glob(".tmp-*"))


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(
    workload_path: Path, tmp_path: Path
) -> None:
    # A space file with 60 slots is refused when read; a Space built in Python
    # may still hold such a point: its run fails, the others go on.
    with pytest.raises(InputError, match=r"decisions\.slots\.adhoc"):
        space_from_dict({"decisions": {"slots.adhoc": [5, 60]}})
    space = space_from_dict(
        {"sweep": {"replications": 1}, "decisions": {"slots.adhoc": [5]}}
    )
    space = replace(space, decisions=(*space.decisions, {"slots.adhoc": 60}))
    report = run_sweep(space, context(workload_path), tmp_path, workers=1)
    bad = report.results.loc[report.results["decision.slots.adhoc"] == 60]
    assert bad["status"].tolist() == ["failed"]
    assert "query_concurrency" in bad["error"].iloc[0]
    assert bad["seed"].iloc[0] != ""
    good = report.results.loc[report.results["decision.slots.adhoc"] == 5]
    assert good["status"].tolist() == ["ok"]


def _pool_workers() -> set[int]:
    """Pids of the pool workers this process started: its ``spawn`` children,
    or the children of its fork server."""
    me = os.getpid()
    parents: dict[int, int] = {}
    cmdlines: dict[int, bytes] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # exited meanwhile
            continue
        pid = int(entry.name)
        parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        cmdlines[pid] = cmdline
    servers = {
        pid
        for pid, ppid in parents.items()
        if ppid == me and b"multiprocessing.forkserver" in cmdlines[pid]
    }
    return {
        pid
        for pid, ppid in parents.items()
        if (ppid == me and b"spawn_main" in cmdlines[pid]) or ppid in servers
    }


def test_a_killed_local_worker_does_not_stop_the_sweep(
    local: pd.DataFrame, workload_path: Path, tmp_path: Path
) -> None:
    """SIGKILL two pool workers part-way: every run once, results unchanged."""
    before = _pool_workers()
    killed: list[int] = []
    seen: list[str] = []

    def kill_a_worker(row: dict[str, Any]) -> None:
        seen.append(str(row["run_key"]))
        if len(seen) in (3, 9):  # both times the pool is mid-chunk
            pid = min(_pool_workers() - before - set(killed))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    report = run_sweep(
        space_from_dict(SPACE),
        context(workload_path),
        tmp_path,
        workers=2,
        on_row=kill_a_worker,
    )
    assert len(killed) == 2
    assert report.worker_deaths == 2
    # Every planned run published exactly once: no redo, no duplicate.
    assert sorted(seen) == sorted(_planned_keys())
    assert report.runs_done == 16
    assert (report.results["status"] == "ok").all()
    pd.testing.assert_frame_equal(
        _frame(report.results), _frame(local), check_exact=True
    )
    for pid in killed:  # dead and reaped, not left as zombies
        assert not Path(f"/proc/{pid}").exists()


POISON = 4  # slots.adhoc of the decision whose run kills its worker


def rows_or_die(task: Task, ctx: SweepContext) -> Iterator[dict[str, Any]]:
    """The sweep's rows, except that a POISON decision kills its process."""
    for decision in task.decisions:
        if decision.get("slots.adhoc") == POISON:
            os.kill(os.getpid(), signal.SIGKILL)
        yield from iter_task(replace(task, decisions=(decision,)), ctx)


def test_a_run_that_keeps_killing_its_worker_is_recorded_failed(
    workload_path: Path,
) -> None:
    space = space_from_dict(
        {
            "sweep": {"seed": 3, "replications": 2},
            "decisions": {"slots.adhoc": [3, POISON, 5]},
        }
    )
    ctx = context(workload_path)
    tasks = plan_tasks(space, range(2), set())
    pool = WorkerPool(
        2, rows_or_die, ctx, failed_row=partial(_died_row, ctx), per_task=25
    )
    try:
        rows = list(pool.run(tasks))
    finally:
        pool.close()
    keys = [r["run_key"] for r in rows]
    assert sorted(keys) == sorted(
        run_key(d, s, a, r) for d, s, a in space.points() for r in range(2)
    )
    poisoned = [r for r in rows if r["decision.slots.adhoc"] == POISON]
    assert len(poisoned) == 2  # one per replication
    assert pool.deaths == MAX_WORKER_DEATHS * len(poisoned)
    for row in poisoned:
        assert row["status"] == "failed"
        assert "killed by signal SIGKILL" in row["error"]
        assert f"died {MAX_WORKER_DEATHS} times" in row["error"]
        assert f"run_key {row['run_key']}" in row["error"]
        assert f"engine seed {row['seed']}" in row["error"]
        assert f"replication {row['replication']}" in row["error"]
    # The runs that shared a chunk with the poison ran once, as in-process.
    expected = {
        r["run_key"]: r
        for t in tasks
        for r in iter_task(t, ctx)
        if r["decision.slots.adhoc"] != POISON
    }
    healthy = [r for r in rows if r["decision.slots.adhoc"] != POISON]
    assert len(healthy) == len(expected) == 4
    for row in healthy:
        want = expected[row["run_key"]]
        assert row["status"] == "ok"
        assert {k: v for k, v in row.items() if k != "run_s"} == {
            k: v for k, v in want.items() if k != "run_s"
        }


def rows_with_pid(task: Task, ctx: object) -> Iterator[dict[str, Any]]:
    """A row per decision naming the process and replication, without a run."""
    for i, _ in enumerate(task.decisions):
        time.sleep(0.01)
        yield {"pid": os.getpid(), "replication": task.replication, "i": i}


def rows_with_frozen(task: Task, ctx: object) -> Iterator[dict[str, Any]]:
    """A row per decision with the worker's count of frozen objects."""
    import gc

    for i, _ in enumerate(task.decisions):
        yield {"frozen": gc.get_freeze_count(), "i": i}


def test_a_pool_worker_freezes_what_it_loaded_before_its_first_task() -> None:
    task = Task(replication=0, scenario={}, assumption={}, decisions=({},) * 2)
    pool = WorkerPool(
        1, rows_with_frozen, None, failed_row=lambda t, d, e: {}, per_task=2
    )
    try:
        rows = list(pool.run([task]))
    finally:
        pool.close()
    # The worker's modules and functions: tens of thousands of objects.
    assert [r["frozen"] > 10_000 for r in rows] == [True, True]


def test_workers_start_on_different_replications() -> None:
    """Each of two workers is first given a replication the other is not
    building, so neither prepares both before it has to."""
    decisions = tuple({"slots.adhoc": n} for n in range(12))
    tasks = [
        Task(replication=r, scenario={}, assumption={}, decisions=decisions)
        for r in (0, 1)
    ]
    pool = WorkerPool(
        2, rows_with_pid, None, failed_row=lambda t, d, e: {}, per_task=25
    )
    try:
        rows = list(pool.run(tasks))
    finally:
        pool.close()
    assert len(rows) == 24
    first: dict[int, int] = {}
    for row in rows:
        first.setdefault(row["pid"], row["replication"])
    assert sorted(first.values()) == [0, 1]
    # The first chunk (guided: half the 24 runs per worker, 6) kept each
    # worker on its own replication for its first 6 rows.
    for pid, rep in first.items():
        assert [r["replication"] for r in rows if r["pid"] == pid][:6] == [rep] * 6


def test_exit_descriptions() -> None:
    assert describe_exit(-signal.SIGKILL) == "killed by signal SIGKILL"
    assert describe_exit(-signal.SIGSEGV) == "killed by signal SIGSEGV"
    assert describe_exit(3) == "exit code 3"


def test_a_killed_dask_worker_is_retried_with_identical_results(
    local: pd.DataFrame, workload_path: Path, tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        _two_worker_cluster(distributed) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = sorted(client.run(os.getpid).values())
        seen: list[str] = []

        def kill_a_worker(row: dict[str, Any]) -> None:
            seen.append(str(row["run_key"]))
            if len(seen) == 3:
                os.kill(pids[0], signal.SIGKILL)

        report = run_sweep(
            space_from_dict(SPACE),
            context(workload_path),
            tmp_path,
            scheduler=cluster.scheduler_address,
            per_task=1,
            on_row=kill_a_worker,
        )
        assert not Path(f"/proc/{pids[0]}").exists()
    assert sorted(seen) == sorted(_planned_keys())
    pd.testing.assert_frame_equal(
        _frame(report.results), _frame(local), check_exact=True
    )


def test_a_task_dask_gives_up_on_is_recorded_failed(
    local: pd.DataFrame, workload_path: Path, tmp_path: Path
) -> None:
    """With no retries allowed, the runs of a killed worker's task fail alone."""
    distributed = pytest.importorskip("distributed")
    import dask

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        _two_worker_cluster(distributed) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = sorted(client.run(os.getpid).values())
        seen: list[str] = []

        def kill_a_worker(row: dict[str, Any]) -> None:
            seen.append(str(row["run_key"]))
            if len(seen) == 3:
                os.kill(pids[0], signal.SIGKILL)

        report = run_sweep(
            space_from_dict(SPACE),
            context(workload_path),
            tmp_path,
            scheduler=cluster.scheduler_address,
            per_task=1,
            on_row=kill_a_worker,
        )
    assert sorted(seen) == sorted(_planned_keys())
    results = report.results
    failed = results.loc[results["status"] == "failed"]
    assert 1 <= len(failed) <= 2  # the task(s) processing on the killed worker
    assert failed["error"].str.contains("WorkerDied").all()
    assert failed["error"].str.contains("KilledWorker").all()
    for _, row in failed.iterrows():
        assert f"run_key {row['run_key']}" in row["error"]
    ok = results.loc[results["status"] == "ok"]
    want = local.loc[local["run_key"].isin(ok["run_key"])]
    pd.testing.assert_frame_equal(_frame(ok).dropna(axis=1, how="all"), _frame(want))


def test_the_store_loads_what_it_published_as_a_fresh_reader_does(
    local: pd.DataFrame, tmp_path: Path
) -> None:
    """Kept tables and files read back give one frame; failed rows align."""
    rows = local.to_dict("records")
    failed = {
        **{k: v for k, v in rows[0].items() if not k.startswith("metric.")},
        "run_key": "f" * 16,
        "status": "failed",
        "error": "WorkerDied: killed by signal SIGKILL",
    }
    writer = ResultStore(tmp_path)
    for row in [*rows[:5], failed, *rows[5:]]:
        writer.publish(row)
    writer.publish(rows[0])  # already there: not written again
    ours, fresh = writer.load(), ResultStore(tmp_path).load()
    pd.testing.assert_frame_equal(ours, fresh)
    assert len(fresh) == len(rows) + 1
    assert fresh["run_key"].is_monotonic_increasing
    bad = fresh.loc[fresh["status"] == "failed"]
    assert bad["run_key"].tolist() == ["f" * 16]
    assert bad.filter(like="metric.").isna().all(axis=None)
    good = fresh.loc[fresh["status"] == "ok"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        good, local.sort_values("run_key").reset_index(drop=True)
    )


class _ExitsWhenUnpickled:
    """A context whose unpickling (in the spawned worker) exits with code 3."""

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        return (os._exit, (3,))


def test_workers_that_cannot_start_stop_the_pool_with_their_exit(
    workload_path: Path,
) -> None:
    ctx = context(workload_path)
    tasks = plan_tasks(space_from_dict(SPACE), range(1), set())
    pool = WorkerPool(
        2,
        iter_task,
        _ExitsWhenUnpickled(),
        failed_row=partial(_died_row, ctx),
        per_task=25,
    )
    with pytest.raises(RuntimeError, match=r"die while starting .*exit code 3"):
        list(pool.run(tasks))
    assert pool.deaths == MAX_START_FAILURES


#: A user's script running a sweep on 2 local workers, the sweep at import
#: (``{body}`` at top level) or under the main guard.
SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from dpcsim.experiments import run_sweep, space_from_dict
from _experiments_fixtures import context

SPACE = {{
    "sweep": {{"seed": 3, "replications": 1}},
    "decisions": {{"slots.adhoc": [3, 5]}},
}}

def main():
    ctx = context({workload!r})
    report = run_sweep(space_from_dict(SPACE), ctx, {out!r}, workers=2)
    print("runs", report.runs_done)

{body}
"""


@pytest.mark.parametrize("guarded", [False, True])
def test_a_script_starting_a_sweep_at_import_is_told_to_guard_it(
    workload_path: Path, tmp_path: Path, guarded: bool
) -> None:
    tests = str(Path(__file__).resolve().parent)
    body = 'if __name__ == "__main__":\n    main()' if guarded else "main()"
    script = tmp_path / "my_sweep.py"
    script.write_text(
        SCRIPT.format(
            tests=tests,
            workload=str(workload_path),
            out=str(tmp_path / "out"),
            body=body,
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    if guarded:
        assert done.returncode == 0, done.stderr
        assert "runs 2" in done.stdout
    else:
        assert done.returncode != 0
        last = done.stderr.strip().splitlines()[-1]
        assert "die while starting" in last
        assert f"imports the main script {script} again" in last
        assert 'under `if __name__ == "__main__":`' in last


def test_the_recommended_dask_worker_environment_gives_the_config() -> None:
    import dask

    from dpcsim.experiments.execute import DASK_WORKER_CONFIG, DASK_WORKER_ENV

    # Dask's own reading of the environment, as a `dask worker` process does.
    config = dask.config.collect(paths=[], env=dict(DASK_WORKER_ENV))
    malloc = "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_"
    for key, value in DASK_WORKER_CONFIG.items():
        if key == malloc:  # a process variable, inherited as it is
            assert DASK_WORKER_ENV["MALLOC_MMAP_THRESHOLD_"] == value
        else:
            assert dask.config.get(key, config=config) == value


def _worker_settings(
    dask_worker: Any,
) -> tuple[str | None, Any, tuple[str, ...], bool]:
    import gc
    import os

    import dask

    return (
        os.environ.get("MALLOC_MMAP_THRESHOLD_"),
        dask.config.get("distributed.admin.tick.interval"),
        # The modules the worker imported when it started.
        tuple(p.name for p in dask_worker.preloads),
        # The preload's dask_setup froze what the worker had loaded.
        gc.get_freeze_count() > 10_000,
    )


def test_a_local_cluster_under_the_recommended_config_has_it_in_its_workers() -> None:
    distributed = pytest.importorskip("distributed")
    import dask

    from dpcsim.experiments.execute import DASK_WORKER_CONFIG

    with (
        dask.config.set(DASK_WORKER_CONFIG),
        _two_worker_cluster(distributed) as cluster,
        distributed.Client(cluster) as client,
    ):
        found = client.run(_worker_settings)
    assert len(found) == 2
    assert set(found.values()) == {
        ("33554432", "2s", ("dpcsim.experiments.preload",), True)
    }
