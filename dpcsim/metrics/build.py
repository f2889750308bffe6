"""One entry point: every CloudWatch datapoint of a simulated or an observed run.

:func:`build_metrics` turns its source into :class:`RunRecords` (the only
intermediate) and concatenates the ``AWS/Redshift`` series
(:mod:`dpcsim.metrics.redshift`), the storage model's
``PercentageDiskSpaceUsed`` and the ``Custom/DPC`` series
(:mod:`dpcsim.metrics.custom`). The result is a tidy datapoints frame
(:mod:`dpcsim.metrics.datapoints`); writing it is the caller's job (the CLI
writes ``metrics.parquet``). Period statistics come from
:mod:`dpcsim.metrics.statistics`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dpcsim.designs import Design, ELTContract, default_design
from dpcsim.errors import InputError
from dpcsim.metrics.custom import CUSTOM_NAMESPACE, custom_datapoints
from dpcsim.metrics.points import concat_points, sort_points
from dpcsim.metrics.records import (
    MetricInputs,
    RunRecords,
    records_from_sim,
    records_from_workload,
)
from dpcsim.metrics.redshift import (
    DISK_METRICS,
    PERIOD_S,
    QUEUE_GAUGE_METRICS,
    QUEUE_PERIOD_METRICS,
    REDSHIFT_NAMESPACE,
    SCALING_METRICS,
    disk_datapoints,
    queue_gauge_datapoints,
    queue_period_datapoints,
    scaling_datapoints,
)
from dpcsim.metrics.selection import SeriesSelection
from dpcsim.metrics.series import SAMPLINGS, Sampling, minute_grid
from dpcsim.metrics.storage import StorageSettings, storage_from_table
from dpcsim.schema import Workload

__all__ = ["AlarmInputs", "alarm_datapoints", "build_metrics", "to_records"]

_SIM_ATTRS = ("queries", "timeline", "scaling", "start_at")


@dataclass(frozen=True, slots=True)
class AlarmInputs:
    """The datapoints a set of alarms reads, and the span of the whole run's.

    Attributes
    ----------
    datapoints
        The wanted series of the queue-gauge and ``Custom/DPC`` builders
        (those two build only what is wanted), and every series of the other
        builders that publish a wanted metric (an alarm reads only its own
        keys), in the builders' order, one time-ordered run per series, not
        sorted across series.
    span_us
        First and last timestamp [µs since the epoch, UTC] of the datapoints
        :func:`build_metrics` would return: the alarms' evaluation window.
    """

    datapoints: pd.DataFrame
    span_us: tuple[int, int]


def to_records(
    source: Any,
    workload: Workload | None = None,
    *,
    elt: ELTContract | None = None,
    inputs: MetricInputs | None = None,
) -> RunRecords:
    """Turn a SimResult, an observed Workload or RunRecords into RunRecords.

    Parameters
    ----------
    source
        A :class:`dpcsim.engine.SimResult`, a :class:`dpcsim.schema.Workload`
        (an observed log) or :class:`RunRecords`.
    workload
        For a SimResult: the workload that was simulated (query groups, query
        text, ELT runs, load errors). Ignored otherwise.
    elt
        For a SimResult: the ELT contract (queue and query group of the ELT);
        default the default design's.
    inputs
        For a SimResult: the workload's :class:`MetricInputs`, computed once
        for many runs; None computes them.

    Raises
    ------
    InputError
        When ``source`` is none of the accepted types.
    """
    if isinstance(source, RunRecords):
        return source
    if isinstance(source, Workload):
        return records_from_workload(source)
    if all(_has(source, a) for a in _SIM_ATTRS):
        return records_from_sim(source, workload, elt=elt, inputs=inputs)
    raise InputError(
        f"metrics source of type {type(source).__name__}; expected a SimResult, "
        "a Workload or RunRecords",
        location="source",
    )


def _has(source: Any, name: str) -> bool:
    """Whether ``source`` has attribute ``name``, without computing a property.

    (A SimResult builds its timeline frame on first access; testing for it
    must not build it.)
    """
    return isinstance(getattr(type(source), name, None), property) or hasattr(
        source, name
    )


def build_metrics(
    source: Any,
    *,
    workload: Workload | None = None,
    design: Design | None = None,
    cluster_id: str | None = None,
    storage: StorageSettings | Mapping[str, Any] | None = None,
    sampling: Sampling = "instant",
    environment: str | None = None,
    queues: Iterable[str] = (),
    service_classes: Mapping[str, int] | None = None,
    copy_error_default: float | None = None,
    end_at: pd.Timestamp | None = None,
    elt_cadence_min: float | None = None,
    inputs: MetricInputs | None = None,
) -> pd.DataFrame:
    """All datapoints of a run, one code path for simulated and observed runs.

    Parameters
    ----------
    source
        A SimResult, an observed Workload or RunRecords (see :func:`to_records`).
    workload
        For a SimResult, the simulated workload (needed for the custom metrics).
    design
        The cluster's design: supplies the defaults of ``cluster_id``,
        ``environment``, ``elt_cadence_min`` and the ELT's queue and query
        group; None is the default design (:func:`dpcsim.designs.load_design`).
    cluster_id
        ``ClusterIdentifier`` dimension value (default: the design's).
    storage
        :class:`StorageSettings` (the model, run as given), or the raw
        ``[storage]`` settings table (``ClusterSettings.storage``: the model
        runs only with storage inputs or ``model = "on"``, see
        :func:`dpcsim.metrics.storage.storage_from_table`); None: no storage
        data, so no ``PercentageDiskSpaceUsed``.
    sampling
        How per-minute gauges are sampled: ``instant`` (default), ``max`` or
        ``mean`` (see :mod:`dpcsim.metrics.series`).
    environment
        ``Environment`` dimension value of ``ELTExecutionDelay`` (default: the
        design's).
    queues
        Queue names to publish even if unused (e.g. every queue of the config).
    service_classes
        Queue name -> service class id, to also publish the ``service class`` /
        ``wlmid`` dimension variants.
    copy_error_default
        ``defaultValue`` of the ``CopyErrorCount`` metric filter (None: publish
        only minutes with errors).
    end_at
        Last instant to cover [UTC]; default the run's last activity.
    elt_cadence_min
        The ELT's schedule interval [min]: ``ELTExecutionDelay`` is how late
        the data is against it (see :mod:`dpcsim.metrics.custom`); default
        the design's ``elt.cadence_min``.
    inputs
        For a SimResult: the workload's :class:`MetricInputs` (computed once
        for the runs of a sweep); None computes them.

    Returns
    -------
    pandas.DataFrame
        Tidy datapoints with a ``unit`` column, sorted by namespace, metric,
        dimensions and timestamp.
    """
    frame, _ = _datapoints(
        source, workload=workload, design=design, cluster_id=cluster_id,
        storage=storage, sampling=sampling, environment=environment,
        queues=queues, service_classes=service_classes,
        copy_error_default=copy_error_default, end_at=end_at,
        elt_cadence_min=elt_cadence_min, inputs=inputs, only=None,
    )  # fmt: skip
    return sort_points(frame, consume=True)


def alarm_datapoints(
    source: Any,
    metrics: Collection[tuple[str, ...]],
    **options: Any,
) -> AlarmInputs:
    """The datapoints of ``metrics`` only, for an alarm evaluation of a run.

    The series are the ones :func:`build_metrics` returns (same values),
    without the builders no wanted metric comes from and without the sort:
    :class:`dpcsim.alarms.grid.MetricTable` groups them by key itself. A
    sweep's run evaluates its alarms on these and keeps only outcomes.

    Parameters
    ----------
    source
        As in :func:`build_metrics`.
    metrics
        What the alarms read (:func:`dpcsim.alarms.cluster.alarm_metrics`):
        ``(namespace, metric name, dimensions)`` triples, each one series
        (``dimensions`` canonical, as in the datapoints), or ``(namespace,
        metric name)`` pairs, every series of that metric
        (:class:`~dpcsim.metrics.selection.SeriesSelection`).
    **options
        The keyword arguments of :func:`build_metrics`.
    """
    frame, span_us = _datapoints(source, only=SeriesSelection(metrics), **options)
    return AlarmInputs(datapoints=frame, span_us=span_us)


def _datapoints(
    source: Any,
    *,
    workload: Workload | None = None,
    design: Design | None = None,
    cluster_id: str | None = None,
    storage: StorageSettings | Mapping[str, Any] | None = None,
    sampling: Sampling = "instant",
    environment: str | None = None,
    queues: Iterable[str] = (),
    service_classes: Mapping[str, int] | None = None,
    copy_error_default: float | None = None,
    end_at: pd.Timestamp | None = None,
    elt_cadence_min: float | None = None,
    inputs: MetricInputs | None = None,
    only: SeriesSelection | None,
) -> tuple[pd.DataFrame, tuple[int, int]]:
    """The unsorted datapoints (of the builders ``only`` needs; None: all) and
    the span [µs] of the full set."""
    if sampling not in SAMPLINGS:
        raise InputError(
            f"sampling={sampling!r}; expected one of {list(SAMPLINGS)}",
            location="sampling",
        )
    d = default_design() if design is None else design
    cluster_id = d.cluster_id if cluster_id is None else cluster_id
    environment = d.environment if environment is None else environment
    if elt_cadence_min is None:
        elt_cadence_min = d.elt.cadence_min
    records = to_records(source, workload, elt=d.elt, inputs=inputs)
    settings = _storage_settings(storage)
    stamps, grid_s = minute_grid(records.start_at, records.horizon_s, end_at)
    queue_names = tuple(queues)

    def wants(namespace: str, names: frozenset[str] | None = None) -> bool:
        return only is None or only.any_of(namespace, names)

    frames = []
    if wants(REDSHIFT_NAMESPACE, QUEUE_GAUGE_METRICS):
        frames.append(queue_gauge_datapoints(
            records, stamps, grid_s, cluster_id=cluster_id, sampling=sampling,
            queues=queue_names, service_classes=service_classes, only=only,
        ))  # fmt: skip
    if wants(REDSHIFT_NAMESPACE, QUEUE_PERIOD_METRICS):
        frames.append(queue_period_datapoints(
            records, stamps, cluster_id=cluster_id, queues=queue_names,
            service_classes=service_classes,
        ))  # fmt: skip
    if wants(REDSHIFT_NAMESPACE, SCALING_METRICS):
        frames.append(scaling_datapoints(
            records, stamps, grid_s, cluster_id=cluster_id, sampling=sampling
        ))  # fmt: skip
    if settings is not None and wants(REDSHIFT_NAMESPACE, DISK_METRICS):
        frames.append(disk_datapoints(
            records, stamps, grid_s, cluster_id=cluster_id, storage=settings
        ))  # fmt: skip
    if wants(CUSTOM_NAMESPACE):
        frames.append(custom_datapoints(
            records, stamps, grid_s, cluster_id=cluster_id, environment=environment,
            copy_error_default=copy_error_default, elt_cadence_min=elt_cadence_min,
            only=only,
        ))  # fmt: skip
    # The parts are the builders' new frames: given up column by column, and
    # ``unsorted`` is given up the same way to the sort (build_metrics), so
    # the datapoints are held about once, not twice.
    unsorted = concat_points(frames, consume=True)
    del frames
    return unsorted, _span_us(stamps, _has_periods(records, queue_names))


def _has_periods(records: RunRecords, queues: tuple[str, ...]) -> bool:
    """Whether :func:`queue_period_datapoints` publishes any queue's series."""
    if queues:
        return True
    q = records.queries
    computed = ~q["cache_hit"].to_numpy(dtype=bool)
    return bool(q["queue"].notna().to_numpy(dtype=bool)[computed].any())


def _span_us(stamps: pd.DatetimeIndex, has_periods: bool) -> tuple[int, int]:
    """First and last timestamp [µs] of the full datapoints of a minute grid.

    The cluster's ``WLMQueueLength`` covers every minute of the grid; with a
    queue, each queue's ``WLMQueriesCompletedPerSecond`` (never NaN) covers
    every 5-minute period from the one holding the first minute, which may
    start before it; no series reaches past the last minute.
    """
    first_s = int(stamps[0].timestamp())
    if has_periods:
        first_s = first_s // PERIOD_S * PERIOD_S
    return first_s * 1_000_000, int(stamps[-1].timestamp()) * 1_000_000


def _storage_settings(
    storage: StorageSettings | Mapping[str, Any] | None,
) -> StorageSettings | None:
    """The storage model to run, or None: no storage data, no disk metric."""
    if storage is None or isinstance(storage, StorageSettings):
        return storage
    return storage_from_table(storage)
