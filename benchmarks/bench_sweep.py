"""Sweep speed: runs per second, machinery overhead and parallel efficiency.

Target (issue 11): 200 decisions x 5 replications of the one-week sample within
2 minutes on 2 cores; the sweep machinery (scheduling, store, statistics) adds
at most 30 % over the runs themselves (wall x workers / (runs x one in-process
run)); 2 local workers at least 1.8x one worker, a 2-worker Dask LocalCluster
at least 1.7x.

The default size is scaled down (20 decisions x 2 replications; ``--quick``:
6 x 2) so ``make bench`` stays short; ``DPCSIM_BENCH_SWEEP=200x5`` runs the
full size. On a shared machine the figures measure the machine as much as the
code: the load average is printed with them.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from dpcsim.alarms import dpc_design_alarms
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine import ClusterSettings
from dpcsim.experiments import SweepContext, run_sweep, space_from_dict
from dpcsim.experiments.execute import Task, clear_caches, run_task

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "workload.parquet"


def _size(quick: bool) -> tuple[int, int]:
    raw = os.environ.get("DPCSIM_BENCH_SWEEP")
    if raw:
        decisions, reps = raw.lower().split("x")
        return int(decisions), int(reps)
    return (6, 2) if quick else (20, 2)


def _space(decisions: int, reps: int) -> object:
    return space_from_dict(
        {
            "sweep": {"seed": 1, "replications": reps},
            "decisions": {
                "method": "random",
                "samples": decisions - 1,
                "slots": {"total": 16, "constraints": ["adhoc <= 5"]},
                "max_concurrency_scaling_clusters": [1, 2],
            },
        }
    )


def run(quick: bool = False) -> Iterator[str]:
    """Yield the benchmark's figures."""
    decisions, reps = _size(quick)
    ctx = SweepContext(
        workload_path=str(SAMPLE),
        replicate="bootstrap",
        root=1,
        base_wlm=dpc_design_config().to_json(),
        base_settings=ClusterSettings().to_dict(),
        alarms=dpc_design_alarms(),
    )
    space = _space(decisions, reps)
    runs = len(space.decisions) * reps
    yield f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    task = Task(replication=0, scenario={}, assumption={}, decisions=(space.baseline,))
    run_task(task, ctx)  # warm the caches: the log, the replication, the routing
    times = []
    for _ in range(3):
        started = time.perf_counter()
        run_task(task, ctx)
        times.append(time.perf_counter() - started)
    one = statistics.median(times)
    yield f"one in-process run: {one:.3f} s (median of 3, design alarms on)"
    walls = {}
    for label, kwargs in (("1 worker", {"workers": 1}), ("2 workers", {"workers": 2})):
        # Every sweep starts cold: the pool's workers read the log themselves.
        clear_caches()
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            run_sweep(space, ctx, out, **kwargs)  # type: ignore[arg-type]
            walls[label] = time.perf_counter() - started
    try:
        from distributed import LocalCluster

        cluster = LocalCluster(
            host="127.0.0.1",
            dashboard_address=None,
            n_workers=2,
            processes=True,
            threads_per_worker=1,
        )
        with cluster, tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            run_sweep(space, ctx, out, scheduler=cluster.scheduler_address)  # type: ignore[arg-type]
            walls["dask 2 workers"] = time.perf_counter() - started
    except ImportError:
        yield "dask.distributed not installed: Dask figures skipped"
    for label, wall in walls.items():
        workers = 1 if label == "1 worker" else 2
        overhead = wall * workers / (runs * one) - 1.0
        yield (
            f"{len(space.decisions)} decisions x {reps} replications, {label}: "
            f"{wall:.1f} s wall, machinery overhead {overhead:+.0%}"
        )
    base = walls["1 worker"]
    for label in ("2 workers", "dask 2 workers"):
        if label in walls:
            yield f"speed-up {label} vs 1 worker: {base / walls[label]:.2f}x"
    full = 200 * 5 * one / 2
    yield f"projected 200 x 5 on 2 cores at this run time: {full:.0f} s of runs"
