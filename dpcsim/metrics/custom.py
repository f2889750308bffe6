"""Custom metrics of the design in the ``Custom/DPC`` namespace, and who publishes them.

AWS/Redshift has no metric for ELT freshness, query failures or COPY errors (the
design's ``WLMRejectedQueries``/``WLMAttemptedQueries`` do not exist), so these
are published by the platform. dpcsim produces exactly the datapoints the
publishers below would send; timestamps are the start of the minute.

Publisher contract
------------------
``ELTExecutionDelay`` — unit ``None`` (value in minutes; CloudWatch has no
minute unit), dimensions ``Environment=prod`` and
``Definition=StepFunctionsCompletion|MartTableUpdate``. One datapoint per
definition per minute, from a Lambda on an EventBridge ``rate(1 minute)``
schedule (see :mod:`dpcsim.metrics.elt` for both definitions). The value is
how many minutes the data is *overdue*: the age of the last success minus the
ELT's cadence (``elt_cadence_min``, 1440 for the nightly run), floored at 0.
The design's literal "minutes since the last success" grows to a day between
two nightly runs, so its ``> 90`` alarm would sit in ALARM about 22 hours a
day; measured against the cadence, ``> 90`` means "today's data is 90 minutes
later than yesterday's". ``elt_cadence_min=0`` publishes the literal age.

* ``StepFunctionsCompletion``: ``states:ListExecutions`` on the ELT state
  machine with ``statusFilter=SUCCEEDED``; delay = now − newest ``stopDate``.
* ``MartTableUpdate``: Redshift Data API ``ExecuteStatement`` of
  ``select t.table_name, max(h.end_time) from sys_query_history h join
  sys_query_detail ... where h.status = 'success' and target schema = 'mart'
  group by 1`` (equivalently ``max(endtime)`` per table from ``stl_insert`` /
  ``stl_delete`` joined to ``svv_table_info where schema = 'mart'``); delay =
  now − the oldest of the per-table maxima.

Nothing is published before the first success is known (the alarm's
TreatMissingData decides).

``WLMFailedQueries`` and ``WLMAttemptedQueries`` — unit ``Count``, dimension
``ClusterIdentifier``. One datapoint each per minute (zeros included), from the
same Lambda: over the queries that *finished* in the minute and went through WLM
(result-cache hits excluded), from ``sys_query_history`` (``status`` in
``success``, ``failed``, ``canceled``; ``result_cache_hit = false``) or
``stl_wlm_query`` (``final_state``):

* attempted = every query that finished;
* failed = aborted + canceled + timed out (WLM timeout or QMR abort, an
  ``aborted`` row) + failed (error).

``WLMCausedFailedQueries`` — unit ``Count``, dimension ``ClusterIdentifier``,
one datapoint per minute (zeros included), same Lambda and same queries as
``WLMFailedQueries`` (finished in the minute, result-cache hits excluded): only
the queries the cluster stopped, not the user's own cancels or SQL errors.

* QMR aborts (the ``aborted`` outcome): ``select count(distinct query) from
  stl_wlm_rule_action where trim(action) = 'abort'``, by the query's end time;
* timeout cancels (the ``canceled`` outcome): WLM timeout cancels (INSERT,
  UPDATE, DELETE, UNLOAD), hops that find no matching queue (a QMR ``hop``
  row in ``stl_wlm_rule_action`` for the last attempt of a query that
  aborted), and ``statement_timeout`` cancels. ``STL_WLM_QUERY.final_state``
  is documented as reserved, so count the ``stl_wlm_query`` rows whose trimmed
  ``final_state`` is neither ``Completed`` nor ``Evicted`` and whose
  ``total_exec_time`` [µs] reached the queue's ``max_execution_time`` [ms] in
  ``stv_wlm_service_class_config``, plus the ``sys_query_history`` rows with
  ``status = 'canceled'`` whose ``elapsed_time`` [µs] reached the session's
  ``statement_timeout`` [ms] (its message, "canceled on user's request", is
  the same as a user's cancel, so the elapsed time is what tells them apart).

Queries whose log shows an error or a user cancel are replayed as ``failed``
and are counted by ``WLMFailedQueries`` only. ``WLMCausedFailedQueries /
WLMAttemptedQueries`` is the failure ratio that WLM settings can change.

A run rebuilt from a log (:func:`dpcsim.metrics.records.records_from_workload`)
takes each abort's outcome from the workload's ``stop_cause``, which ingest
fills from the same tables (:mod:`dpcsim.logs.stop_causes`): ``qmr_abort`` ->
``aborted``; ``qmr_hop``, ``wlm_timeout``, ``statement_timeout`` ->
``canceled``; ``user_or_error`` -> ``failed``. An abort the exports give no
WLM evidence for (no STL_WLM_RULE_ACTION export, no recorded WLM
configuration or ``statement_timeout`` given to ingest, SVL_QLOG alone, a
Redset log) is ``user_or_error``, so the observed ``WLMCausedFailedQueries`` is
a lower bound of what the publisher would count; ``WLMFailedQueries`` counts
every abort either way.

Provisioned WLM never rejects a query: a full queue makes queries wait, not fail
(``Rejected`` is an internal ``STV_WLM_QUERY_STATE`` state only), so the
design's "rejected" ratio becomes failed / attempted with metric math
``SUM(failed) / SUM(attempted)`` over the hour.

``CopyErrorCount`` — unit ``Count``, no dimensions. A Lambda after each COPY
step writes one log line per new ``STL_LOAD_ERRORS`` row (``select * from
stl_load_errors where starttime > :last_seen``) to the log group
``/aws/redshift/cluster/<cluster>``, each containing ``ERROR``; a metric filter
on ``"ERROR" "stl_load_errors"`` counts them (``metricValue = 1``). As a metric
filter does, it publishes only in minutes with matches unless the filter sets a
``defaultValue`` (``copy_error_default``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

import numpy as np
import pandas as pd

from dpcsim.metrics.elt import mart_update_delay_min, step_functions_delay_min
from dpcsim.metrics.points import concat_points, points
from dpcsim.metrics.records import RunRecords
from dpcsim.metrics.selection import SeriesSelection
from dpcsim.metrics.series import bin_counts
from dpcsim.schema import FAILED_OUTCOMES

__all__ = [
    "CUSTOM_METRICS",
    "CUSTOM_NAMESPACE",
    "ELT_DEFINITIONS",
    "FAILED_OUTCOMES",
    "WLM_CAUSED_OUTCOMES",
    "custom_datapoints",
]

#: Outcomes ``WLMCausedFailedQueries`` counts: the queries the cluster stopped
#: (QMR abort; WLM timeout, no-queue hop or ``statement_timeout`` cancel).
WLM_CAUSED_OUTCOMES: Final = ("aborted", "canceled")

#: Namespace of every metric of this module.
CUSTOM_NAMESPACE: Final = "Custom/DPC"
#: Values of the ``Definition`` dimension of ``ELTExecutionDelay``.
ELT_DEFINITIONS: Final = ("StepFunctionsCompletion", "MartTableUpdate")

#: Metric name -> (dimension names, unit): the contract other modules rely on.
CUSTOM_METRICS: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "ELTExecutionDelay": (("Definition", "Environment"), "None"),
    "WLMFailedQueries": (("ClusterIdentifier",), "Count"),
    "WLMCausedFailedQueries": (("ClusterIdentifier",), "Count"),
    "WLMAttemptedQueries": (("ClusterIdentifier",), "Count"),
    "CopyErrorCount": ((), "Count"),
}


def custom_datapoints(
    records: RunRecords,
    stamps: pd.DatetimeIndex,
    grid_s: np.ndarray,
    *,
    cluster_id: str,
    environment: str,
    copy_error_default: float | None = None,
    elt_cadence_min: float = 1440.0,
    only: SeriesSelection | None = None,
) -> pd.DataFrame:
    """All ``Custom/DPC`` datapoints of a run, one per minute of the grid.

    Parameters
    ----------
    records
        The run (simulated or observed).
    stamps, grid_s
        Minute starts as UTC timestamps and as [s] from ``records.start_at``.
    cluster_id
        ``ClusterIdentifier`` dimension value.
    environment
        ``Environment`` dimension value of ``ELTExecutionDelay``.
    copy_error_default
        The metric filter's ``defaultValue``; None publishes only minutes with
        errors.
    elt_cadence_min
        The ELT's schedule interval [min]; ``ELTExecutionDelay`` is the age of
        the last success minus this, floored at 0 (0 gives the plain age).
    only
        Build only these series (None: all).

    Returns
    -------
    pandas.DataFrame
        Tidy datapoints (see :mod:`dpcsim.metrics.datapoints`).
    """

    def wanted(metric: str, dims: Mapping[str, str] | None) -> bool:
        return only is None or only.series(CUSTOM_NAMESPACE, metric, dims)

    frames = [
        _elt_delay(records, stamps, grid_s, environment, elt_cadence_min, wanted),
        *_failure_counts(records, stamps, grid_s, cluster_id, wanted),
    ]
    if wanted("CopyErrorCount", None):
        frames.append(_copy_errors(records, stamps, grid_s, copy_error_default))
    # The parts are this function's own: given up as the result is built.
    return concat_points(frames, consume=True)


#: ``wanted(metric, dimensions)``: whether to build that series.
_Wanted = Callable[[str, Mapping[str, str] | None], bool]


def _elt_delay(
    records: RunRecords,
    stamps: pd.DatetimeIndex,
    grid_s: np.ndarray,
    environment: str,
    cadence_min: float,
    wanted: _Wanted,
) -> pd.DataFrame:
    """``ELTExecutionDelay`` under both definitions (NaN minutes left out)."""

    def of(definition: str) -> bool:
        dims = {"Environment": environment, "Definition": definition}
        return wanted("ELTExecutionDelay", dims)

    ages = {}
    if of("StepFunctionsCompletion"):
        ages["StepFunctionsCompletion"] = step_functions_delay_min(
            records.elt_runs, grid_s
        )
    if of("MartTableUpdate"):
        ages["MartTableUpdate"] = mart_update_delay_min(records.queries, grid_s)
    return concat_points(elt_delay_points(stamps, ages, environment, cadence_min))


def elt_delay_points(
    stamps: pd.DatetimeIndex,
    ages: Mapping[str, np.ndarray],
    environment: str,
    cadence_min: float,
) -> list[pd.DataFrame]:
    """``ELTExecutionDelay`` frames, one per definition, from the ages [min] of
    the last success at each stamp (NaN minutes left out)."""
    frames = []
    for definition, age in ages.items():
        # NaN (no success known yet) must stay NaN: np.maximum propagates it.
        minutes = np.maximum(age - cadence_min, 0.0)
        ok = np.isfinite(minutes)
        frames.append(
            points(
                stamps[ok],
                minutes[ok],
                namespace=CUSTOM_NAMESPACE,
                metric_name="ELTExecutionDelay",
                dimensions={"Environment": environment, "Definition": definition},
                unit="None",
            )
        )
    return frames


def _failure_counts(
    records: RunRecords,
    stamps: pd.DatetimeIndex,
    grid_s: np.ndarray,
    cluster_id: str,
    wanted: _Wanted,
) -> list[pd.DataFrame]:
    """``WLMFailedQueries``, ``WLMCausedFailedQueries`` and ``WLMAttemptedQueries``
    per minute of finish."""
    dims = {"ClusterIdentifier": cluster_id}
    chosen = [
        (name, outcomes)
        for name, outcomes in (
            ("WLMFailedQueries", FAILED_OUTCOMES),
            ("WLMCausedFailedQueries", WLM_CAUSED_OUTCOMES),
            ("WLMAttemptedQueries", None),  # every finish
        )
        if wanted(name, dims)
    ]
    if not chosen:
        return []
    queries = records.queries
    # Column arrays of the non-hits only: no copy of the whole frame.
    kept = ~queries["cache_hit"].to_numpy(bool)
    end_s = queries["end_s"].to_numpy(dtype="float64")[kept]
    outcome = queries["outcome"]
    frames = []
    for name, outcomes in chosen:
        t = end_s
        if outcomes is not None:
            t = end_s[outcome.isin(outcomes).to_numpy(bool)[kept]]
        frames.append(
            points(
                stamps,
                bin_counts(t, grid_s),
                namespace=CUSTOM_NAMESPACE,
                metric_name=name,
                dimensions=dims,
                unit="Count",
            )
        )
    return frames


def _copy_errors(
    records: RunRecords,
    stamps: pd.DatetimeIndex,
    grid_s: np.ndarray,
    default: float | None,
) -> pd.DataFrame:
    """``CopyErrorCount``: STL_LOAD_ERRORS rows per minute, as a metric filter."""
    counts = bin_counts(records.load_errors["error_s"].to_numpy(), grid_s)
    keep = counts > 0
    values = counts
    if default is not None:
        keep = np.ones(counts.size, dtype=bool)
        values = np.where(counts > 0, counts, float(default))
    return points(
        stamps[keep],
        values[keep],
        namespace=CUSTOM_NAMESPACE,
        metric_name="CopyErrorCount",
        dimensions=None,
        unit="Count",
    )
