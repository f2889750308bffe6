"""What a sweep worker process loads before its first task.

A local pool's fork server and a Dask worker import this module when they
start (:data:`dpcsim.workerserver.SWEEP_MODULE`,
:data:`~dpcsim.experiments.execute.DASK_WORKER_CONFIG`): the sweep itself,
Arrow's dataset layer that reading ``workload.parquet`` needs, and the
botocore model that every PutMetricAlarm request of the sweep's alarms is
checked against. Loaded once in the fork server, all three are inherited by
every worker it forks; otherwise each worker would load them again in its
first task (about 0.08 s, measured on the sample).

A Dask worker then calls :func:`dask_setup`, which freezes what the worker has
loaded, as a local pool's worker does before its first task
(:mod:`dpcsim.experiments.pool`).
"""

from __future__ import annotations

import gc

import pyarrow.dataset  # noqa: F401  (pyarrow.parquet.read_table's reader)

from dpcsim.alarms.aws_model import put_metric_alarm_members
from dpcsim.experiments.execute import iter_task

__all__ = ["dask_setup", "freeze_loaded", "iter_task"]

put_metric_alarm_members()


def freeze_loaded() -> None:
    """Collect once, then move every object alive into the collector's
    permanent generation (``gc.freeze``).

    A sweep worker's modules, functions and caches (about 70,000 objects)
    live as long as it does; frozen, the cyclic collector, which the engine's
    event tuples set off often, does not walk them at each collection (about
    8 % of a run of the sample). Frozen objects are still freed when their
    last reference goes.
    """
    gc.collect()
    gc.freeze()


def dask_setup(worker: object) -> None:
    """Dask's hook for a preload module: :func:`freeze_loaded` in the worker."""
    freeze_loaded()
