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

import pyarrow.dataset  # noqa: F401  (pyarrow.parquet.read_table's reader)

from dpcsim.alarms.aws_model import put_metric_alarm_members
from dpcsim.experiments.execute import iter_task
from dpcsim.workerserver import freeze_loaded

__all__ = ["dask_setup", "iter_task"]

put_metric_alarm_members()


def dask_setup(worker: object) -> None:
    """Dask's hook for a preload module: freeze what the worker loaded
    (:func:`dpcsim.workerserver.freeze_loaded`)."""
    freeze_loaded()
