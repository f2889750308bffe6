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
from typing import Final

import numpy as np
import pandas as pd

from dpcsim.metrics.points import concat_points, points
from dpcsim.metrics.records import RunRecords
from dpcsim.metrics.selection import SeriesSelection
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
    "DISK_METRICS",
    "PERIOD_S",
    "QUEUE_GAUGE_METRICS",
    "QUEUE_PERIOD_METRICS",
    "REDSHIFT_NAMESPACE",
    "SCALING_METRICS",
    "disk_datapoints",
    "queue_gauge_datapoints",
    "queue_period_datapoints",
    "scaling_datapoints",
]

REDSHIFT_NAMESPACE = "AWS/Redshift"
#: Length of the per-queue period metrics [s].
PERIOD_S: Final = 300

#: The metrics each builder below publishes (a builder is skipped when no
#: alarm reads any of its metrics: :func:`dpcsim.metrics.build.alarm_datapoints`).
QUEUE_GAUGE_METRICS: Final = frozenset({"WLMQueueLength", "WLMRunningQueries"})
QUEUE_PERIOD_METRICS: Final = frozenset(
    {"WLMQueueWaitTime", "WLMQueryDuration", "WLMQueriesCompletedPerSecond"}
)
SCALING_METRICS: Final = frozenset(
    {"ConcurrencyScalingActiveClusters", "ConcurrencyScalingSeconds"}
)
DISK_METRICS: Final = frozenset({"PercentageDiskSpaceUsed"})


def queue_gauge_datapoints(
    records: RunRecords,
    stamps: pd.DatetimeIndex,
    grid_s: np.ndarray,
    *,
    cluster_id: str,
    sampling: Sampling = "instant",
    queues: Iterable[str] = (),
    service_classes: Mapping[str, int] | None = None,
    only: SeriesSelection | None = None,
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
    only
        Build only these series (None: all).
    """

    def wanted(metric: str, dims: Mapping[str, str]) -> bool:
        return only is None or only.series(REDSHIFT_NAMESPACE, metric, dims)

    tl = records.timeline
    names = sorted(set(tl["queue"].dropna().unique()) | set(queues))
    t_s = tl["t_s"].to_numpy(dtype="float64")
    rows_of = _queue_rows(tl["queue"])
    frames = []
    for column, metric in (
        ("queued", "WLMQueueLength"),
        ("running", "WLMRunningQueries"),
    ):
        if only is not None and not only.metric(REDSHIFT_NAMESPACE, metric):
            continue
        state = tl[column].to_numpy()
        for name in names:
            variants = _queue_dims(metric, name, cluster_id, service_classes)
            variants = [dims for dims in variants if wanted(metric, dims)]
            if not variants:
                continue
            rows = rows_of.get(name, _NO_ROWS)
            values = _sampled(t_s[rows], state[rows], grid_s, sampling)
            for dims in variants:
                frames.append(aws_points(stamps, values, metric, dims, "Count"))
    cluster = {"ClusterIdentifier": cluster_id}
    if wanted("WLMQueueLength", cluster):
        total = _cluster_total(tl["queued"].to_numpy(), rows_of)
        frames.append(
            aws_points(
                stamps,
                _sampled(t_s, total, grid_s, sampling),
                "WLMQueueLength",
                cluster,
                "Count",
            )
        )
    # The parts are this function's own: given up as the result is built.
    return concat_points(frames, consume=True)


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
    queries = records.queries
    # Column arrays of the non-hits only: no copy of the whole frame.
    kept = np.flatnonzero(~queries["cache_hit"].to_numpy(bool))
    start_s = queries["start_s"].to_numpy(dtype="float64")[kept]
    end_s = queries["end_s"].to_numpy(dtype="float64")[kept]
    arrival_s = queries["arrival_s"].to_numpy(dtype="float64")[kept]
    queue = queries["queue"].take(kept)
    started = np.isfinite(start_s)
    done = queries["outcome"].take(kept).eq("completed").to_numpy(bool) & started
    first, last = (int(s.timestamp()) // PERIOD_S * PERIOD_S for s in stamps[[0, -1]])
    periods = np.arange(first, last + 1, PERIOD_S, dtype="float64")
    period_at = pd.to_datetime(periods, unit="s", utc=True)
    frames = []
    names = sorted(set(queue.dropna().unique()) | set(queues))
    start_period = period_index(start_s, records.start_at, PERIOD_S)
    end_period = period_index(end_s, records.start_at, PERIOD_S)
    for name in names:
        mine = (queue == name).to_numpy(dtype=bool, na_value=False)
        waited = mine & started
        finished = mine & done
        waits = _period_mean(
            start_period[waited], (start_s - arrival_s)[waited] * 1e3, periods
        )
        dur = _period_mean(
            end_period[finished], (end_s - start_s)[finished] * 1e6, periods
        )
        rate = _period_count(end_period[finished], periods) / float(PERIOD_S)
        for metric, values, unit in (
            ("WLMQueueWaitTime", waits, "Milliseconds"),
            ("WLMQueryDuration", dur, "Microseconds"),
            ("WLMQueriesCompletedPerSecond", rate, "Count/Second"),
        ):
            ok = np.isfinite(values)
            for dims in _queue_dims(metric, name, cluster_id, service_classes):
                frames.append(aws_points(period_at[ok], values[ok], metric, dims, unit))
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
    grid = np.asarray(grid_s, dtype="float64")
    if not bool(busy.any()):
        # Nothing ever ran on a scaling cluster: every sample and integral is 0.
        active, seconds = np.zeros(grid.size), np.zeros(grid.size)
    else:
        active = sample_step(t, busy, grid_s, sampling=sampling)
        seconds = _integral(t, busy, grid + MINUTE_S) - _integral(t, busy, grid)
    dims = {"ClusterIdentifier": cluster_id}
    return concat_points(
        [
            aws_points(
                stamps, active, "ConcurrencyScalingActiveClusters", dims, "Count"
            ),
            aws_points(stamps, seconds, "ConcurrencyScalingSeconds", dims, "Count"),
        ]
    )


def processing_clusters(timeline: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Step function of the scaling clusters processing queries (cluster-wide).

    ``min(active clusters, queries running on scaling)``: exact with one
    scaling cluster (AWS's default ``max_concurrency_scaling_clusters``); with
    several it assumes the queries are spread over the active clusters, an
    upper bound (the timeline does not say which cluster runs which query).
    Both counts change on the timeline's rows, so they share its instants
    (``timeline`` sorted by ``t_s``; the state after the last change of an
    instant holds).
    """
    if not len(timeline):
        return np.zeros(0), np.zeros(0)
    rows_of = _queue_rows(timeline["queue"])
    running = _cluster_total(timeline["running_cs"].to_numpy(), rows_of)
    t, running = step_function(timeline["t_s"].to_numpy(), running)
    _, up = step_function(
        timeline["t_s"].to_numpy(), timeline["cs_clusters"].to_numpy()
    )
    return t, np.minimum(running, up)


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
    return aws_points(
        stamps,
        100.0 * used_gb / storage.capacity_gb,
        "PercentageDiskSpaceUsed",
        {"ClusterIdentifier": cluster_id},
        "Percent",
    )


def _period_count(period_of: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Number of events in each period (events outside are ignored)."""
    idx, inside = _period_slot(period_of, periods)
    return np.bincount(idx[inside], minlength=periods.size).astype("float64")


def _period_mean(
    period_of: np.ndarray, values: np.ndarray, periods: np.ndarray
) -> np.ndarray:
    """Mean of ``values`` per period; NaN for a period with none."""
    idx, inside = _period_slot(period_of, periods)
    sums = np.bincount(idx[inside], weights=values[inside], minlength=periods.size)
    counts = np.bincount(idx[inside], minlength=periods.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _period_slot(
    period_of: np.ndarray, periods: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``periods`` of each period start, and whether it is one of them.

    ``periods`` is ``first + k * 300`` and a period start a multiple of 300
    (both exact in float64), so the index is ``(start - first) / 300``: the
    position a search would find, without one.
    """
    if not periods.size:
        return np.zeros(period_of.size, np.int64), np.zeros(period_of.size, bool)
    with np.errstate(invalid="ignore"):
        slot = (period_of - periods[0]) / PERIOD_S
        inside = (slot >= 0) & (slot < periods.size)
    idx = np.where(inside, slot, 0).astype(np.int64)
    inside &= periods[idx] == period_of
    return idx, inside


#: An empty row selection (a queue with no rows in the timeline).
_NO_ROWS: np.ndarray = np.zeros(0, dtype=np.int64)


def _queue_rows(queue: pd.Series) -> dict[str, np.ndarray]:
    """Row positions of each queue name in a timeline's ``queue`` column.

    Missing queues get no entry; the positions are ascending, so each
    queue's rows stay in time order.
    """
    codes, uniques = pd.factorize(queue, sort=False)
    codes = np.asarray(codes)
    if len(uniques) == 1 and bool((codes == 0).all()):
        return {str(uniques[0]): np.arange(codes.size)}
    return {str(u): np.flatnonzero(codes == k) for k, u in enumerate(uniques)}


def _cluster_total(state: np.ndarray, rows_of: Mapping[str, np.ndarray]) -> np.ndarray:
    """Cluster-wide state after each timeline row: the sum over queues.

    Each row changes only its own queue's state, so the total moves by that
    queue's change since its previous row (a queue's first row: its value).
    Counts are integers, so the sum in int64 is exact and equals a float sum.
    """
    values = np.asarray(state, dtype=np.int64)
    if [rows.size for rows in rows_of.values()] == [values.size]:
        return values.astype("float64")  # one queue: its state is the total
    deltas = values.copy()
    for rows in rows_of.values():
        if rows.size > 1:
            deltas[rows[1:]] = np.diff(values[rows])
    return np.cumsum(deltas).astype("float64")


def _sampled(
    t_s: np.ndarray, state: np.ndarray, grid_s: np.ndarray, sampling: Sampling
) -> np.ndarray:
    """:func:`sample_step` of the change rows ``(t_s, state)`` (sorted by time).

    ``instant`` reads the state after the last row at or before each minute
    start, which is the value :func:`step_function` keeps for that instant,
    so the rows need no collapsing first.
    """
    if sampling == "instant":
        values = np.asarray(state, dtype="float64")
        grid = np.asarray(grid_s, dtype="float64")
        return _value_at(np.asarray(t_s, dtype="float64"), values, grid)
    return sample_step(*step_function(t_s, state), grid_s, sampling=sampling)


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


def aws_points(
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
