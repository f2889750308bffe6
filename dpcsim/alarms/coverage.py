"""Alarms the data cannot evaluate, said by name instead of a silent state.

An alarm on a metric the run never published ends in INSUFFICIENT_DATA (or, with
``TreatMissingData = breaching``, in ALARM) for want of data, not because of
anything the cluster did. ``PercentageDiskSpaceUsed`` comes from a model that
runs only with storage inputs (:mod:`dpcsim.metrics.storage`), so an alarm on it
over a run without them is "not evaluated: no storage data":
:func:`not_evaluated` names those alarms and
:func:`dpcsim.alarms.evaluate_alarms` writes the reason into the summary's
``note`` column (empty for every other alarm).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final

import pandas as pd

from dpcsim.alarms.cluster import alarm_metrics
from dpcsim.alarms.spec import AlarmSpec

__all__ = ["NO_STORAGE_DATA", "not_evaluated"]

#: The note of a storage alarm over a run that has no storage data.
NO_STORAGE_DATA: Final = "not evaluated: no storage data"
#: The metric only the storage model publishes.
_STORAGE_METRIC: Final = ("AWS/Redshift", "PercentageDiskSpaceUsed")


def not_evaluated(
    alarms: Sequence[AlarmSpec],
    datapoints: pd.DataFrame,
    published: Collection[tuple[str, str]] | None = None,
) -> dict[str, str]:
    """Alarm name -> why it is not evaluated: storage alarms over no storage data.

    An alarm on ``PercentageDiskSpaceUsed`` when the datapoints hold none at
    all reads :data:`NO_STORAGE_DATA`. Other metrics without data are left to
    CloudWatch's own rules (a ``CopyErrorCount`` filter without a default
    publishes nothing on a clean day, and ``notBreaching`` makes that OK); the
    alarms CLI names them (:func:`dpcsim.alarms.io.unmatched_alarms`).
    ``published``: the ``(namespace, metric name)`` pairs ``datapoints``
    holds, when already known (then the frame is not scanned).
    """
    if published is not None:
        if _STORAGE_METRIC in published:
            return {}
    else:
        # One vectorised comparison: the datapoints run to millions of rows.
        namespace, metric = _STORAGE_METRIC
        rows = (datapoints["metric_name"] == metric) & (
            datapoints["namespace"] == namespace
        )
        if bool(rows.any()):
            return {}
    return {
        alarm.name: NO_STORAGE_DATA
        for alarm in alarms
        if any(
            (m.namespace, m.metric_name) == _STORAGE_METRIC
            for m in alarm_metrics(alarm)
        )
    }
