"""``AWS/Redshift`` metrics of a run, with their real names, dimensions and units.

Computed from :class:`dpcsim.metrics.records.RunRecords` only (metric, unit,
cadence: value):

* ``WLMQueueLength``, Count, 1 min: queued queries, sampled (see
  :mod:`dpcsim.metrics.series`);
* ``WLMRunningQueries``, Count, 1 min: running queries (main + CS), sampled;
* ``WLMQueueWaitTime``, Milliseconds, 5 min: mean wait of the queries that
  *started* in the period;
* ``WLMQueryDuration``, Microseconds, 5 min: mean execution time of the
  queries that *completed* in the period;
* ``WLMQueriesCompletedPerSecond``, Count/Second, 5 min: completed in the
  period / 300 s;
* ``ConcurrencyScalingActiveClusters``, Count, 1 min: scaling clusters
  *processing queries*, sampled (AWS: "the number of concurrency scaling
  clusters that are actively processing queries"; a cluster that is up but
  idle, waiting to stop, is not counted; see :func:`processing_clusters`);
* ``ConcurrencyScalingSeconds``, Count, 1 min: seconds of active query
  processing on scaling clusters in the minute (AWS: "the number of seconds
  used by concurrency scaling clusters that have active query processing
  activity", unit Count; facts 7.5). Billed seconds (one-minute minimum per
  activation) are a cost figure of the run summary, not this metric;
* ``PercentageDiskSpaceUsed``, Percent, 1 min: the storage model
  (:mod:`dpcsim.metrics.storage`) at the minute start.

Per-queue metrics carry ``ClusterIdentifier`` + ``QueueName``;
``WLMQueueLength`` also has the cluster-wide ``{ClusterIdentifier}`` series (all
queues, SQA included). With ``service_classes`` the per-queue series are repeated
under ``{ClusterIdentifier, service class}`` (``WLMQueueLength``) or
``{ClusterIdentifier, wlmid}`` (the others). 5-minute averages are published only
for periods with at least one qualifying query (an average of nothing is
undefined); counts and gauges are published every minute, zeros included.
Result-cache hits never enter WLM and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from dpcsim.metrics.points import concat_points, points
from dpcsim.metrics.records import RunRecords
from dpcsim.metrics.series import (
    MINUTE_S,
    Sampling,
    _integral,
    _value_at,
    period_index,
    sample_step,
    step_function,
)
from dpcsim.metrics.storage import StorageSettings, storage_used_gb

__all__ = [
    "REDSHIFT_NAMESPACE",
    "disk_datapoints",
    "queue_gauge_datapoints",
    "queue_period_datapoints",
    "scaling_datapoints",
]

REDSHIFT_NAMESPACE = "AWS/Redshift"
_PERIOD_S = 300


def queue_gauge_datapoints(
    records: RunRecords,
    stamps: pd.DatetimeIndex,
    grid_s: np.ndarray,
    *,
    cluster_id: str,
    sampling: Sampling = "instant",
    queues: Iterable[str] = (),
    service_classes: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """``WLMQueueLength`` and ``WLMRunningQueries`` per queue and minute.

    Parameters
    ----------
    records
        The run.
    stamps, grid_s
        Minute starts (UTC, and [s] from ``records.start_at``).
    cluster_id
        ``ClusterIdentifier`` value.
    sampling
        How a minute's value is taken (:mod:`dpcsim.metrics.series`).
    queues
        Extra queue names to publish (zeros) even when the run never used them.
    service_classes
        Queue name -> service class id for the ``service class``/``wlmid``
        variants; None publishes only ``QueueName`` series.
    """
    tl = records.timeline
    names = sorted(set(tl["queue"].dropna().unique()) | set(queues))
    frames = []
    for column, metric in (
        ("queued", "WLMQueueLength"),
        ("running", "WLMRunningQueries"),
    ):
        for name in names:
            rows = tl.loc[(tl["queue"] == name).to_numpy(bool)]
            steps = step_function(rows["t_s"].to_numpy(), rows[column].to_numpy())
            values = sample_step(*steps, grid_s, sampling=sampling)
            for dims in _queue_dims(metric, name, cluster_id, service_classes):
                frames.append(_points(stamps, values, metric, dims, "Count"))
    total = _total_step(tl, "queued")
    frames.append(
        _points(
            stamps,
            sample_step(*total, grid_s, sampling=sampling),
            "WLMQueueLength",
            {"ClusterIdentifier": cluster_id},
            "Count",
        )
    )
    return concat_points(frames)


def queue_period_datapoints(
    records: RunRecords,
    stamps: pd.DatetimeIndex,
    *,
    cluster_id: str,
    queues: Iterable[str] = (),
    service_classes: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """The 5-minute per-queue metrics: wait time, duration, completion rate.

    Periods are epoch-aligned 300 s windows from the one holding ``stamps[0]``
    to the one holding ``stamps[-1]``.
    """
    q = records.queries.loc[~records.queries["cache_hit"].to_numpy(bool)]
    start_s = q["start_s"].to_numpy(dtype="float64")
    end_s = q["end_s"].to_numpy(dtype="float64")
    started = np.isfinite(start_s)
    done = q["outcome"].eq("completed").to_numpy(bool) & started
    first, last = (int(s.timestamp()) // _PERIOD_S * _PERIOD_S for s in stamps[[0, -1]])
    periods = np.arange(first, last + 1, _PERIOD_S, dtype="float64")
    period_at = pd.to_datetime(periods, unit="s", utc=True)
    frames = []
    names = sorted(set(q["queue"].dropna().unique()) | set(queues))
    for name in names:
        mine = (q["queue"] == name).to_numpy(bool)
        waits = _period_mean(
            period_index(start_s[mine & started], records.start_at, _PERIOD_S),
            (start_s - q["arrival_s"].to_numpy())[mine & started] * 1e3,
            periods,
        )
        dur = _period_mean(
            period_index(end_s[mine & done], records.start_at, _PERIOD_S),
            (end_s - start_s)[mine & done] * 1e6,
            periods,
        )
        rate = _period_count(
            period_index(end_s[mine & done], records.start_at, _PERIOD_S), periods
        ) / float(_PERIOD_S)
        for metric, values, unit in (
            ("WLMQueueWaitTime", waits, "Milliseconds"),
            ("WLMQueryDuration", dur, "Microseconds"),
            ("WLMQueriesCompletedPerSecond", rate, "Count/Second"),
        ):
            ok = np.isfinite(values)
            for dims in _queue_dims(metric, name, cluster_id, service_classes):
                frames.append(_points(period_at[ok], values[ok], metric, dims, unit))
    return concat_points(frames)


def scaling_datapoints(
    records: RunRecords,
    stamps: pd.DatetimeIndex,
    grid_s: np.ndarray,
    *,
    cluster_id: str,
    sampling: Sampling = "instant",
) -> pd.DataFrame:
    """``ConcurrencyScalingActiveClusters`` (sampled) and ``...Seconds`` (billed)."""
    t, busy = processing_clusters(records.timeline)
    active = sample_step(t, busy, grid_s, sampling=sampling)
    grid = np.asarray(grid_s, dtype="float64")
    if t.size:
        seconds = _integral(t, busy, grid + MINUTE_S) - _integral(t, busy, grid)
    else:
        seconds = np.zeros(grid.size)  # an empty timeline: nothing processed
    dims = {"ClusterIdentifier": cluster_id}
    return concat_points(
        [
            _points(stamps, active, "ConcurrencyScalingActiveClusters", dims, "Count"),
            _points(stamps, seconds, "ConcurrencyScalingSeconds", dims, "Count"),
        ]
    )


def processing_clusters(timeline: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Step function of the scaling clusters processing queries (cluster-wide).

    ``min(active clusters, queries running on scaling)``: exact with one
    scaling cluster (AWS's default ``max_concurrency_scaling_clusters``); with
    several it assumes the queries are spread over the active clusters, an
    upper bound (the timeline does not say which cluster runs which query).
    """
    if not len(timeline):
        return np.zeros(0), np.zeros(0)
    t_run, running = _total_step(timeline, "running_cs")
    t_up, up = step_function(
        timeline["t_s"].to_numpy(), timeline["cs_clusters"].to_numpy()
    )
    t = np.union1d(t_run, t_up)
    both = np.minimum(_value_at(t_run, running, t), _value_at(t_up, up, t))
    return t, both


def disk_datapoints(
    records: RunRecords,
    stamps: pd.DatetimeIndex,
    grid_s: np.ndarray,
    *,
    cluster_id: str,
    storage: StorageSettings,
) -> pd.DataFrame:
    """``PercentageDiskSpaceUsed`` [Percent] per minute from the storage model."""
    used_gb = storage_used_gb(records.queries, records.start_at, grid_s, storage)
    return _points(
        stamps,
        100.0 * used_gb / storage.capacity_gb,
        "PercentageDiskSpaceUsed",
        {"ClusterIdentifier": cluster_id},
        "Percent",
    )


def _period_count(period_of: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Number of events in each period (events outside are ignored)."""
    idx = np.searchsorted(periods, period_of)
    inside = (idx < periods.size) & (
        periods[np.clip(idx, 0, periods.size - 1)] == period_of
    )
    return np.bincount(idx[inside], minlength=periods.size).astype("float64")


def _period_mean(
    period_of: np.ndarray, values: np.ndarray, periods: np.ndarray
) -> np.ndarray:
    """Mean of ``values`` per period; NaN for a period with none."""
    idx = np.searchsorted(periods, period_of)
    inside = (idx < periods.size) & (
        periods[np.clip(idx, 0, periods.size - 1)] == period_of
    )
    sums = np.bincount(idx[inside], weights=values[inside], minlength=periods.size)
    counts = np.bincount(idx[inside], minlength=periods.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _total_step(timeline: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Cluster-wide step function: the sum over queues of ``column``."""
    diffs = timeline.groupby("queue", sort=False, observed=True)[column].diff()
    deltas = diffs.where(diffs.notna(), timeline[column]).to_numpy(dtype="float64")
    return step_function(timeline["t_s"].to_numpy(), np.cumsum(deltas))


def _queue_dims(
    metric: str,
    queue: str,
    cluster_id: str,
    service_classes: Mapping[str, int] | None,
) -> list[dict[str, str]]:
    """The dimension sets a per-queue metric is published under."""
    out = [{"ClusterIdentifier": cluster_id, "QueueName": queue}]
    if service_classes is not None and queue in service_classes:
        name = "service class" if metric == "WLMQueueLength" else "wlmid"
        out.append({"ClusterIdentifier": cluster_id, name: str(service_classes[queue])})
    return out


def _points(
    stamps: pd.DatetimeIndex,
    values: np.ndarray,
    metric: str,
    dims: Mapping[str, str],
    unit: str,
) -> pd.DataFrame:
    """Datapoints of one AWS/Redshift series."""
    return points(
        stamps,
        values,
        namespace=REDSHIFT_NAMESPACE,
        metric_name=metric,
        dimensions=dims,
        unit=unit,
    )
