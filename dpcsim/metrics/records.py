"""The one intermediate every metric is built from: run records plus a timeline.

A simulated run (:class:`dpcsim.engine.SimResult`) and an observed log (a
canonical :class:`dpcsim.schema.Workload`) are both turned into
:class:`RunRecords`; every series in :mod:`dpcsim.metrics` is computed from that
object only, so simulated and observed metrics share one code path.

Times in the records are float seconds from ``start_at`` (the simulation clock).
The observed path reconstructs what the engine records directly:

* a query arrives at ``arrival_at`` (queued), starts at ``arrival_at + queue_s``
  (running) and ends ``exec_s`` later; a missing ``queue_s`` counts as 0;
* an ``aborted`` row's outcome follows its ``stop_cause``
  (:data:`dpcsim.schema.STOP_CAUSE_OUTCOMES`): a QMR abort is ``aborted``, a
  WLM timeout, ``statement_timeout`` or a QMR hop with no queue is
  ``canceled``, a user's cancel or an SQL error (``user_or_error``, also
  any abort without a cause) is ``failed``, as the engine replays it; all
  other rows are ``completed``;
* result-cache hits do no WLM work, so they enter no queue counts;
* Concurrency Scaling: the cluster has one active scaling cluster while any
  query logged ``ran_on_cs`` is running (the AWS default
  ``max_concurrency_scaling_clusters`` is 1), each activation billed for at least
  60 s.

This module knows nothing about CloudWatch; :mod:`dpcsim.metrics.series` and the
metric modules turn the records into datapoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim.designs import ELTContract, default_design
from dpcsim.metrics.elt import mart_tables, shift_elt_runs
from dpcsim.schema import NO_WLM_EVIDENCE, STOP_CAUSE_OUTCOMES, Workload

__all__ = [
    "QUERY_COLUMNS",
    "TIMELINE_COLUMNS",
    "MetricInputs",
    "RunRecords",
    "logged_outcomes",
    "records_from_sim",
    "records_from_workload",
    "timeline_from_queries",
]

#: Columns of :attr:`RunRecords.queries` (times [s] from ``start_at``).
QUERY_COLUMNS: Final = (
    "query_id",
    "queue",
    "statement_type",
    "query_group",
    "query_text",
    "arrival_s",
    "start_s",
    "end_s",
    "outcome",
    "ran_on",
    "cache_hit",
    "scanned_mb",
)

#: Columns of :attr:`RunRecords.timeline` (one row per state change).
TIMELINE_COLUMNS: Final = (
    "t_s",
    "queue",
    "queued",
    "running",
    "running_cs",
    "cs_clusters",
)

#: Minimum billed time of one Concurrency Scaling activation [s].
CS_MIN_BILLED_S: Final = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecords:
    """Query records, per-queue state timeline and side tables of one run.

    Attributes
    ----------
    queries
        One row per query task, columns :data:`QUERY_COLUMNS`; ``start_s`` is NaN
        for a query that never started (canceled while queued).
    timeline
        One row per state change, columns :data:`TIMELINE_COLUMNS`; values hold
        after the change; ``cs_clusters`` is cluster-wide.
    scaling
        One row per scaling-cluster activation: ``start_s``, ``end_s``,
        ``billed_s`` [s].
    elt_runs
        Step Functions executions: ``run_id``, ``status``, ``start_s``,
        ``stop_s`` [s] (for a simulation, the stop already shifted, see
        :mod:`dpcsim.metrics.elt`).
    load_errors
        ``STL_LOAD_ERRORS`` rows: ``query_id``, ``error_s`` [s].
    start_at
        UTC instant of ``t_s == 0``.
    """

    queries: pd.DataFrame
    timeline: pd.DataFrame
    scaling: pd.DataFrame
    elt_runs: pd.DataFrame
    load_errors: pd.DataFrame
    start_at: pd.Timestamp

    @property
    def horizon_s(self) -> float:
        """Last instant anything happens in the run [s] (0 for an empty run)."""
        candidates = [0.0]
        for frame, cols in (
            (self.queries, ("arrival_s", "end_s")),
            (self.timeline, ("t_s",)),
            (self.scaling, ("end_s",)),
            (self.elt_runs, ("stop_s",)),
            (self.load_errors, ("error_s",)),
        ):
            for col in cols:
                values = frame[col].to_numpy(dtype="float64")
                if values.size and np.isfinite(values).any():
                    candidates.append(float(np.nanmax(values)))
        return max(candidates)


def records_from_workload(workload: Workload) -> RunRecords:
    """Reconstruct run records from an observed log (see the module docstring).

    Parameters
    ----------
    workload
        Canonical workload with ``arrival_at``, ``queue_s``, ``exec_s``,
        ``queue``, ``aborted``, ``stop_cause``, ``ran_on_cs`` and ``cache_hit``.

    Returns
    -------
    RunRecords
        Records whose timeline is rebuilt from the logged queue and execution
        times.
    """
    q = workload.queries
    start_at = _start_at(workload)
    arrival_s = _seconds(q["arrival_at"], start_at)
    queue_s = np.nan_to_num(q["queue_s"].to_numpy(dtype="float64"), nan=0.0)
    start_s = arrival_s + queue_s
    queries = pd.DataFrame(
        {
            "query_id": q["query_id"].to_numpy(dtype="int64"),
            "queue": q["queue"].astype("string").fillna("unknown"),
            "statement_type": q["statement_type"].astype("string"),
            "query_group": q["query_group"].astype("string"),
            "query_text": q["query_text"].astype("string"),
            "arrival_s": arrival_s,
            "start_s": start_s,
            "end_s": start_s + q["exec_s"].to_numpy(dtype="float64"),
            "outcome": logged_outcomes(q),
            "ran_on": np.where(q["ran_on_cs"].to_numpy(bool), "cs", "main"),
            "cache_hit": q["cache_hit"].to_numpy(bool),
            "scanned_mb": q["scanned_mb"].to_numpy(dtype="float64"),
        }
    )
    queries["outcome"] = queries["outcome"].astype("string")
    queries["ran_on"] = queries["ran_on"].astype("string")
    timeline = timeline_from_queries(queries)
    return RunRecords(
        queries=queries,
        timeline=timeline,
        scaling=_scaling_from_timeline(timeline),
        elt_runs=_elt_runs(workload, start_at),
        load_errors=_load_errors(workload, start_at),
        start_at=start_at,
    )


def logged_outcomes(queries: pd.DataFrame) -> np.ndarray:
    """Each logged query's outcome: ``completed``, or its stop cause's outcome.

    An aborted row without a ``stop_cause`` (a frame that skipped
    :func:`dpcsim.schema.validate_workload`) is ``failed``: no WLM evidence.
    """
    aborted = queries["aborted"].to_numpy(bool)
    out = np.full(aborted.size, "completed", dtype=object)
    if not aborted.any():
        return out
    cause = (
        queries["stop_cause"].astype("string")
        if "stop_cause" in queries
        else pd.Series(pd.NA, index=queries.index, dtype="string")
    )
    outcome = cause.map(STOP_CAUSE_OUTCOMES).fillna(
        STOP_CAUSE_OUTCOMES[NO_WLM_EVIDENCE]
    )
    out[aborted] = outcome.to_numpy(dtype=object)[aborted]
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricInputs:
    """What the metrics of a simulated run take from its workload, computed once.

    Every run of a sweep over one workload needs the same logged texts, query
    groups, mart tables, logged ends, ELT runs and load errors; building them
    once (:meth:`of`) and passing them to :func:`records_from_sim` (or
    :func:`dpcsim.metrics.build_metrics`) leaves only the per-run takes.

    Attributes
    ----------
    start_at
        Clock zero the side tables' times are measured from [UTC].
    query_id
        Logged query id per workload row.
    query_group, query_text, mart_table
        ``string`` arrays per workload row (the mart table each statement
        writes, see :func:`dpcsim.metrics.elt.mart_tables`).
    scanned_mb
        Logged scan per workload row [MB].
    logged_end
        Logged ``query_id``, ``query_group``, ``arrival_s``, ``end_s`` [s].
    elt_runs, load_errors
        Side tables with times [s] from ``start_at`` (ELT stops unshifted).
    """

    start_at: pd.Timestamp
    query_id: np.ndarray
    query_group: Any
    query_text: Any
    mart_table: Any
    scanned_mb: np.ndarray
    logged_end: pd.DataFrame
    elt_runs: pd.DataFrame
    load_errors: pd.DataFrame

    @classmethod
    def of(cls, workload: Workload, start_at: pd.Timestamp) -> MetricInputs:
        """Compute the inputs of ``workload`` with clock zero ``start_at``."""
        q = workload.queries
        start_at = pd.Timestamp(start_at)
        return cls(
            start_at=start_at,
            query_id=q["query_id"].to_numpy(dtype="int64"),
            query_group=q["query_group"].astype("string").array,
            query_text=q["query_text"].astype("string").array,
            mart_table=mart_tables(q["query_text"]).array,
            scanned_mb=q["scanned_mb"].to_numpy(dtype="float64", na_value=np.nan),
            logged_end=_logged_end(workload, start_at),
            elt_runs=_elt_runs(workload, start_at),
            load_errors=_load_errors(workload, start_at),
        )


def records_from_sim(
    result: Any,
    workload: Workload | None = None,
    *,
    elt: ELTContract | None = None,
    inputs: MetricInputs | None = None,
) -> RunRecords:
    """Take run records from a simulation result.

    Parameters
    ----------
    result
        A :class:`dpcsim.engine.SimResult` (``queries``, ``timeline``,
        ``scaling``, ``start_at``).
    workload
        The workload that was simulated; supplies ``query_group``,
        ``query_text`` and the side tables. Not needed with ``inputs``;
        without either, the texts are missing and the ELT runs and load
        errors are empty.
    elt
        Which queue and query group carry the ELT; default the default
        design's (:func:`dpcsim.designs.default_design`).
    inputs
        :class:`MetricInputs` of ``workload`` computed earlier (a sweep's
        runs share them); None computes them here. Ignored when their
        ``start_at`` is not the run's (recomputed from ``workload`` if given).

    Returns
    -------
    RunRecords
        The engine's own timeline and scaling activations; ELT stop times are
        shifted by :func:`dpcsim.metrics.elt.shift_elt_runs`. (A query the log
        shows ``aborted`` already ends ``failed`` in the engine, so a failed dbt
        model stays failed.)
    """
    sim = result.queries
    start_at = pd.Timestamp(result.start_at)
    if inputs is not None and inputs.start_at != start_at:
        inputs = None  # of another clock zero: recomputed below, or not used
    if workload is not None and inputs is None:
        inputs = MetricInputs.of(workload, start_at)
    sim = sim.reset_index(drop=True)
    query_id = sim["query_id"].astype("int64")
    text = _workload_text(inputs, query_id)
    # Built in final column order from the run's own columns: no copy, as
    # this frame lives through the metrics (copy-on-write keeps the run's
    # frame as it is if a column here is ever written). The texts stay Arrow
    # strings (a to_numpy would make a Python object per query).
    columns: dict[str, Any] = {
        "query_id": query_id,
        "queue": sim["queue"].astype("string"),
        "statement_type": sim["statement_type"].astype("string"),
        "query_group": text["query_group"].array,
        "query_text": text["query_text"].array,
        "arrival_s": sim["arrival_s"].astype("float64"),
        "start_s": sim["start_s"].astype("float64"),
        "end_s": sim["end_s"].astype("float64"),
        "outcome": sim["outcome"].astype("string"),
        "ran_on": sim["ran_on"].astype("string"),
        "cache_hit": sim["cache_hit"].astype(bool),
        "scanned_mb": text["scanned_mb"].astype("float64"),
    }
    if inputs is not None:
        columns["mart_table"] = text["mart_table"].array
    queries = pd.DataFrame(columns)
    log = getattr(result, "state_log", None)
    timeline = (
        _normalise_timeline(result.timeline) if log is None else _log_timeline(log)
    )
    scaling = pd.DataFrame(
        {c: result.scaling[c].to_numpy(dtype="float64") for c in _SCALING_COLS}
    )
    elt_runs = _empty_elt() if inputs is None else inputs.elt_runs
    if inputs is not None:
        contract = default_design().elt if elt is None else elt
        elt_runs = shift_elt_runs(
            elt_runs,
            inputs.logged_end,
            queries,
            elt_queue=contract.queue,
            elt_query_group=contract.query_group,
        )
    return RunRecords(
        queries=queries,
        timeline=timeline,
        scaling=scaling,
        elt_runs=elt_runs,
        load_errors=_empty_errors() if inputs is None else inputs.load_errors,
        start_at=start_at,
    )


def timeline_from_queries(queries: pd.DataFrame) -> pd.DataFrame:
    """Rebuild the per-queue state-change timeline from query records.

    Parameters
    ----------
    queries
        Records with ``queue``, ``arrival_s``, ``start_s`` (NaN: never started),
        ``end_s``, ``ran_on`` and ``cache_hit``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TIMELINE_COLUMNS`, one row per change, sorted by time;
        ``cs_clusters`` is 1 while any query runs on a scaling cluster.
    """
    q = queries.loc[~queries["cache_hit"].to_numpy(bool)]
    started = np.isfinite(q["start_s"].to_numpy(dtype="float64"))
    on_cs = (q["ran_on"] == "cs").to_numpy(bool) & started
    leave_queue = np.where(started, q["start_s"], q["end_s"])
    parts = [
        (q["arrival_s"], q["queue"], 1, 0, 0),
        (leave_queue, q["queue"], -1, 0, 0),
        (q["start_s"][started], q["queue"][started], 0, 1, 0),
        (q["end_s"][started], q["queue"][started], 0, -1, 0),
        (q["start_s"][on_cs], q["queue"][on_cs], 0, 0, 1),
        (q["end_s"][on_cs], q["queue"][on_cs], 0, 0, -1),
    ]
    events = pd.concat(
        [
            pd.DataFrame(
                {
                    "t_s": np.asarray(t, dtype="float64"),
                    "queue": np.asarray(name, dtype=object),
                    "d_queued": dq,
                    "d_running": dr,
                    "d_cs": dc,
                }
            )
            for t, name, dq, dr, dc in parts
        ],
        ignore_index=True,
    )
    events = events.sort_values("t_s", kind="stable").reset_index(drop=True)
    by_queue = events.groupby("queue", sort=False)
    out = pd.DataFrame(
        {
            "t_s": events["t_s"].to_numpy(),
            "queue": events["queue"].astype("string"),
            "queued": by_queue["d_queued"].cumsum().to_numpy(dtype="int32"),
            "running": by_queue["d_running"].cumsum().to_numpy(dtype="int32"),
            "running_cs": by_queue["d_cs"].cumsum().to_numpy(dtype="int32"),
        }
    )
    # Cluster-wide count after each event; changes at one instant net out.
    running_cs = events["d_cs"].cumsum()
    total_cs = running_cs.groupby(events["t_s"]).transform("last")
    out["cs_clusters"] = (total_cs.to_numpy() > 0).astype("int16")
    return out


_SCALING_COLS: Final = ("start_s", "end_s", "billed_s")


def _scaling_from_timeline(timeline: pd.DataFrame) -> pd.DataFrame:
    """Activations = maximal intervals with ``cs_clusters > 0``; 60 s minimum bill."""
    t = timeline["t_s"].to_numpy(dtype="float64")
    active = timeline["cs_clusters"].to_numpy() > 0
    if not active.any():
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in _SCALING_COLS})
    prev = np.concatenate([[False], active[:-1]])
    starts = t[active & ~prev]
    ends = t[~active & prev]
    duration = ends - starts
    return pd.DataFrame(
        {
            "start_s": starts,
            "end_s": ends,
            "billed_s": np.maximum(duration, CS_MIN_BILLED_S),
        }
    )


def _normalise_timeline(timeline: pd.DataFrame) -> pd.DataFrame:
    """Engine timeline in canonical column order and dtypes, sorted by time."""
    out = pd.DataFrame(
        {
            "t_s": timeline["t_s"].to_numpy(dtype="float64"),
            "queue": timeline["queue"].astype("string"),
            "queued": timeline["queued"].to_numpy(dtype="int32"),
            "running": timeline["running"].to_numpy(dtype="int32"),
            "running_cs": timeline["running_cs"].to_numpy(dtype="int32"),
            "cs_clusters": timeline["cs_clusters"].to_numpy(dtype="int16"),
        }
    )
    return out.sort_values("t_s", kind="stable").reset_index(drop=True)


def _log_timeline(log: Any) -> pd.DataFrame:
    """Timeline frame straight from the engine's :class:`StateLog` arrays.

    The queue column is categorical (codes into the engine's queue names)
    instead of strings: the gauges select rows by queue and never need the
    text per row. The log is in time order already; it is sorted (stably)
    only when it is not.
    """
    t = _read_only(np.asarray(log.t_s, dtype="float64"))
    codes: np.ndarray[Any, np.dtype[np.int64]] = np.asarray(log.queue, dtype=np.int64)
    queue = pd.Categorical.from_codes(codes, categories=pd.Index(list(log.names)))
    # The log's own arrays, read-only, not copies (this frame lives through
    # the metrics): a write to the frame raises instead of changing the log.
    out = pd.DataFrame(
        {
            "t_s": t,
            "queue": queue,
            "queued": _read_only(np.asarray(log.queued, dtype="int32")),
            "running": _read_only(np.asarray(log.running, dtype="int32")),
            "running_cs": _read_only(np.asarray(log.running_cs, dtype="int32")),
            "cs_clusters": _read_only(np.asarray(log.cs_clusters, dtype="int16")),
        },
        copy=False,
    )
    if t.size > 1 and not bool((t[1:] >= t[:-1]).all()):
        out = out.sort_values("t_s", kind="stable").reset_index(drop=True)
    return out


def _read_only(values: np.ndarray) -> np.ndarray:
    """A read-only view of ``values``."""
    view = values.view()
    view.flags.writeable = False
    return view


def _start_at(workload: Workload) -> pd.Timestamp:
    """Clock zero: the workload's start, or the first side-table event if empty."""
    if len(workload.queries):
        return workload.start_at
    stamps = [
        workload.elt_runs["start_at"].min(),
        workload.load_errors["error_at"].min(),
    ]
    valid = [pd.Timestamp(s) for s in stamps if not pd.isna(s)]
    if not valid:
        return pd.Timestamp(0, unit="s", tz="UTC")
    return min(valid).floor("min")


def _seconds(stamps: pd.Series, start_at: pd.Timestamp) -> np.ndarray:
    """UTC timestamps -> float seconds from ``start_at`` (NaT -> NaN)."""
    delta = pd.to_datetime(stamps, utc=True) - start_at
    return delta.dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)


def _logged_end(workload: Workload, start_at: pd.Timestamp) -> pd.DataFrame:
    """Logged query ends [s]: arrival + queue (NaN -> 0) + exec, with groups."""
    q = workload.queries
    queue_s = np.nan_to_num(q["queue_s"].to_numpy(dtype="float64"), nan=0.0)
    arrival_s = _seconds(q["arrival_at"], start_at)
    return pd.DataFrame(
        {
            "query_id": q["query_id"].to_numpy(dtype="int64"),
            "query_group": q["query_group"].astype("string"),
            "arrival_s": arrival_s,
            "end_s": arrival_s + queue_s + q["exec_s"].to_numpy(dtype="float64"),
        }
    )


def _workload_text(inputs: MetricInputs | None, query_id: pd.Series) -> pd.DataFrame:
    """Logged ``query_group``, ``query_text``, ``scanned_mb`` and ``mart_table`` by id.

    Positional takes (the engine keeps the log's row order when it is sorted
    by arrival, as every reader writes it); the first row of a repeated query
    id wins, as a ``drop_duplicates`` lookup keeps it.
    """
    if inputs is None:
        na = pd.array([pd.NA] * len(query_id), dtype="string")
        nan = np.full(len(query_id), np.nan)
        return pd.DataFrame({"query_group": na, "query_text": na, "scanned_mb": nan})
    wanted = query_id.to_numpy(dtype="int64")
    logged = inputs.query_id
    rows: np.ndarray | None
    if np.array_equal(wanted, logged) and _unique_sorted_or_distinct(logged):
        rows = None
    else:
        index = pd.Index(logged)
        if not index.is_unique:
            first = ~index.duplicated(keep="first")
            index = index[first]
            positions = np.flatnonzero(first)
        else:
            positions = np.arange(len(index))
        found = index.get_indexer(wanted)
        rows = np.where(found >= 0, positions[np.clip(found, 0, None)], -1)
    return pd.DataFrame(
        {
            "query_group": _take(inputs.query_group, rows),
            "query_text": _take(inputs.query_text, rows),
            "scanned_mb": _take_float(inputs.scanned_mb, rows),
            "mart_table": _take(inputs.mart_table, rows),
        }
    )


def _unique_sorted_or_distinct(ids: np.ndarray) -> bool:
    """True when ``ids`` has no repeats (cheap when sorted, as logs are)."""
    if ids.size < 2:
        return True
    steps = np.diff(ids)
    if (steps > 0).all():
        return True
    return bool(np.unique(ids).size == ids.size)


def _take(values: Any, rows: np.ndarray | None) -> Any:
    """A ``string`` array at ``rows`` (-1: missing); None: all of it."""
    if rows is None:
        return values
    return values.take(rows, allow_fill=True)


def _take_float(values: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """float64 ``values`` at ``rows`` (-1: NaN); None: all."""
    if rows is None:
        return values
    out = values[np.clip(rows, 0, None)] if values.size else np.full(rows.size, np.nan)
    return np.where(rows >= 0, out, np.nan)


def _elt_runs(workload: Workload, start_at: pd.Timestamp) -> pd.DataFrame:
    """Step Functions executions with times in [s] from ``start_at``."""
    runs = workload.elt_runs
    return pd.DataFrame(
        {
            "run_id": runs["run_id"].astype("string").to_numpy(),
            "status": runs["status"].astype("string").to_numpy(),
            "start_s": _seconds(runs["start_at"], start_at),
            "stop_s": _seconds(runs["stop_at"], start_at),
        }
    )


def _empty_elt() -> pd.DataFrame:
    """An ELT-run frame with no rows."""
    return pd.DataFrame(
        {
            "run_id": pd.Series(dtype="string"),
            "status": pd.Series(dtype="string"),
            "start_s": pd.Series(dtype="float64"),
            "stop_s": pd.Series(dtype="float64"),
        }
    )


def _load_errors(workload: Workload, start_at: pd.Timestamp) -> pd.DataFrame:
    """Load-error rows with their time in [s] from ``start_at``."""
    errors = workload.load_errors
    return pd.DataFrame(
        {
            "query_id": errors["query_id"].to_numpy(dtype="int64"),
            "error_s": _seconds(errors["error_at"], start_at),
        }
    )


def _empty_errors() -> pd.DataFrame:
    """A load-error frame with no rows."""
    return pd.DataFrame(
        {"query_id": pd.Series(dtype="int64"), "error_s": pd.Series(dtype="float64")}
    )
