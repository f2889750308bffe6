"""What a sweep worker process loads before its first task.

A local pool's fork server and a Dask worker import this module when they
start (:data:`dpcsim.workerserver.SWEEP_MODULE`,
:data:`~dpcsim.experiments.execute.DASK_WORKER_CONFIG`): the sweep itself,
Arrow's dataset layer that reading ``workload.parquet`` needs, and the
botocore model that every PutMetricAlarm request of the sweep's alarms is
checked against. Loaded once in the fork server, all three are inherited by
every worker it forks; otherwise each worker would load them again in its
first task (about 0.08 s, measured on the sample).
"""

from __future__ import annotations

import pyarrow.dataset  # noqa: F401  (pyarrow.parquet.read_table's reader)

from dpcsim.alarms.aws_model import put_metric_alarm_members
from dpcsim.experiments.execute import iter_task

__all__ = ["iter_task"]

put_metric_alarm_members()
