"""Shared small inputs of the experiments tests: a two-day synthetic workload."""

from __future__ import annotations

from pathlib import Path

from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine import ClusterSettings
from dpcsim.experiments import SweepContext
from dpcsim.logs import write_workload
from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload

SPEC = DPCWorkloadSpec(days=2, learners=60)


def small_workload(folder: Path) -> Path:
    """Write a two-day, 60-learner week to ``folder``; return its parquet path."""
    workload = generate_dpc_workload(SPEC, 7)
    write_workload(workload, folder)
    return folder / "workload.parquet"


def context(path: Path, alarms: list[dict[str, object]] | None = None) -> SweepContext:
    """A bootstrap sweep context on ``path`` under the design."""
    return SweepContext(
        workload_path=str(path),
        replicate="bootstrap",
        root=11,
        base_wlm=dpc_design_config().to_json(),
        base_settings=ClusterSettings().to_dict(),
        alarms=alarms or [],
    )
