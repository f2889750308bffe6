"""The canonical workload: one row per query, shared by log readers, the generator
and the engine.

Every reader in :mod:`dpcsim.logs` turns an AWS export into this frame and the
synthetic generator produces it directly; the engine consumes it. Column names
carry their unit (``_s`` seconds, ``_mb`` megabytes, ``_at`` tz-aware UTC
timestamps). ``data/README.md`` documents the same columns for users.

Columns
-------
query_id : int64
    Redshift query id of the first attempt (a WLM restart gets a new id; the
    canonical workload keeps one row per task, see ``task_id``).
task_id : int64
    Stable across WLM restarts (``STL_WLM_QUERY.task``); equals ``query_id`` when
    the log has no task column.
arrival_at : datetime64[us, UTC]
    When the query was submitted (``starttime`` / ``service_class_start_time``).
user_id : int64
    ``userid`` as logged.
user_name : string
    Database user name (``pg_user.usename``), ``<NA>`` when unknown.
user_groups : string
    Comma-separated database groups of the user (``pg_group``), ``<NA>`` when
    unknown (routing then falls back, see :mod:`dpcsim.wlm.routing`).
user_roles : string
    Comma-separated RBAC roles granted to the user (``svv_user_grants``),
    ``<NA>`` when unknown; WLM ``user_role`` routing matches them.
is_superuser : bool
    The user is a superuser (``pg_user.usesuper``): with ``query_group`` set to
    ``superuser`` its queries go to the superuser queue. False when unknown.
query_group : string
    The ``SET query_group`` label; ``default`` when none was set.
session_id : Int64
    Session the statement was issued in (``pid`` of SVL_QLOG/STL_QUERY,
    ``session_id`` of SYS_QUERY_HISTORY, a generated dbt thread, Step Functions
    branch or learner session); ``<NA>`` when unknown. Session replay chains a
    session's statements (:mod:`dpcsim.engine.sessions`).
transaction_id : Int64
    Transaction the statement ran in (``xid`` of SVL_QLOG/STL_QUERY,
    ``transaction_id`` of SYS_QUERY_HISTORY); ``<NA>`` when unknown. A write
    after DDL in the same transaction is not scaling-eligible
    (:mod:`dpcsim.logs.cs_eligibility`).
statement_type : string
    One of :data:`STATEMENT_TYPES`.
exec_s : float64
    Execution time on the main cluster [s]: the service demand the engine replays.
exec_is_upper_bound : bool
    True when ``exec_s`` came from an elapsed time that includes queueing
    (SVL_QLOG / STL_QUERY without a WLM table).
queue_s : float64
    Observed WLM queue wait [s]; NaN when the log does not have it.
service_class : Int64
    Observed WLM service class (5 superuser, 6-13 manual, 14 SQA, 100-107 auto);
    ``<NA>`` when unknown.
queue : string
    Observed or routed queue name; ``<NA>`` when unknown.
slot_count : int64
    Slots the query takes (``wlm_query_slot_count``); 1 by default.
aborted : bool
    The query was aborted or canceled in the log.
cache_hit : bool
    Answered from the result cache (does no WLM work).
ran_on_cs : bool
    Ran on a Concurrency Scaling cluster in the log.
fingerprint : string
    Normalised query shape (literals removed); ``<NA>`` when no text is known.
query_text : string
    SQL text as logged (trimmed; SVL_QLOG keeps only 60 characters).
mem_mb : float64
    Working memory the query wants [MB]; NaN when unknown.
spilled_mb : float64
    Data spilled to disk [MB] (QMR ``query_temp_blocks_to_disk``, 1 MB blocks);
    NaN when unknown.
scanned_mb : float64
    Data scanned [MB] (QMR ``query_blocks_read``); NaN when unknown.
source_file : string
    The file the row was read from (``generated`` for synthetic rows).
source_row : int64
    1-based data row number within ``source_file`` (header excluded).
cpu_s : float64
    CPU time [s] (QMR ``query_cpu_time``, SVL_QUERY_METRICS_SUMMARY); NaN
    when unknown.
scan_rows, join_rows, nested_loop_rows, return_rows : float64
    Row counts (QMR ``scan_row_count``, ``join_row_count``,
    ``nested_loop_join_row_count``, ``return_row_count``); NaN when unknown.
cs_eligible : bool
    The query may run on a Concurrency Scaling cluster as far as its SQL and
    the log tell (no temporary table, interleaved sort key, Python UDF, system
    table, write after DDL in its transaction, MERGE, ...;
    :mod:`dpcsim.logs.cs_eligibility`). The statement type and node type rules
    (writes on RA3 only) are applied by the engine on top. True when unknown.
sqa_queue_s, sqa_exec_s : float64
    Queue and execution time [s] of an SQA attempt the query was evicted from
    before its logged one (STL_WLM_QUERY service class 14 with ``final_state =
    'Evicted'``); NaN when it was not. ``queue_s`` then sums both attempts'
    queue times and ``exec_s`` is the final attempt's, as
    :func:`dpcsim.logs.stl_wlm_query.tasks_from_attempts` folds them; with
    these two the log places both attempts in time.
stop_cause : string
    Why an ``aborted`` query stopped, one of :data:`STOP_CAUSES`; ``<NA>``
    when it completed. ``qmr_abort``: a QMR ``abort`` action
    (STL_WLM_RULE_ACTION); ``qmr_hop``: a QMR ``hop`` that found no queue, so
    the query was canceled; ``wlm_timeout``: the final attempt's execution
    reached its queue's ``max_execution_time`` in the configuration the log
    was recorded under; ``statement_timeout``: a cancel whose elapsed time
    reached ``statement_timeout``; ``user_or_error``: every other abort (a
    user's cancel, an SQL error, a disconnect). An abort the exports give no
    WLM evidence for is ``user_or_error``, so the WLM-caused count built from
    this column is a lower bound. A workload without the column gets
    ``user_or_error`` on its aborted rows (:func:`validate_workload`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

__all__ = [
    "COLUMNS",
    "DTYPES",
    "ELT_RUN_DTYPES",
    "FAILED_OUTCOMES",
    "LOAD_ERROR_DTYPES",
    "NO_WLM_EVIDENCE",
    "OPTIONAL_COLUMNS",
    "OUTCOMES",
    "RAN_ON",
    "REQUIRED_COLUMNS",
    "STATEMENT_TYPES",
    "STOP_CAUSES",
    "STOP_CAUSE_OUTCOMES",
    "Workload",
    "empty_frame",
    "empty_workload",
    "validate_workload",
]

#: Statement types, lower case, as the canonical ``statement_type`` column uses them.
STATEMENT_TYPES: Final = (
    "select",
    "insert",
    "update",
    "delete",
    "copy",
    "unload",
    "ctas",
    "vacuum",
    "analyze",
    "ddl",
    "utility",
    "other",
)

#: How a query ended, in simulated records and in run records built from logs
#: (``completed``; ``aborted`` by QMR or as the log shows; ``canceled`` by a
#: WLM timeout or hop; ``failed`` with an error).
OUTCOMES: Final = ("completed", "aborted", "canceled", "failed")
#: Outcomes ``WLMFailedQueries`` counts: every outcome but ``completed``.
FAILED_OUTCOMES: Final = OUTCOMES[1:]
#: Where a query ran: the main cluster, a Concurrency Scaling cluster, SQA.
RAN_ON: Final = ("main", "cs", "sqa")

#: Why an aborted query stopped (the ``stop_cause`` column), most specific
#: evidence first: a QMR abort, a QMR hop with no queue to go to, a WLM
#: timeout, ``statement_timeout``, and anything the cluster did not cause.
STOP_CAUSES: Final = (
    "qmr_abort",
    "qmr_hop",
    "wlm_timeout",
    "statement_timeout",
    "user_or_error",
)
#: The outcome a logged stop cause replays as in run records built from a log:
#: the cluster's own stops are ``aborted`` (QMR) or ``canceled`` (timeouts, a
#: hop with no queue); a user's cancel or an SQL error is ``failed``, as the
#: engine replays it.
STOP_CAUSE_OUTCOMES: Final[dict[str, str]] = {
    "qmr_abort": "aborted",
    "qmr_hop": "canceled",
    "wlm_timeout": "canceled",
    "statement_timeout": "canceled",
    "user_or_error": "failed",
}
#: The cause of an abort the exports give no WLM evidence for.
NO_WLM_EVIDENCE: Final = "user_or_error"

#: Column name -> pandas dtype, in canonical order.
DTYPES: Final[dict[str, str]] = {
    "query_id": "int64",
    "task_id": "int64",
    "arrival_at": "datetime64[us, UTC]",
    "user_id": "int64",
    "user_name": "string",
    "user_groups": "string",
    "user_roles": "string",
    "is_superuser": "bool",
    "query_group": "string",
    "session_id": "Int64",
    "transaction_id": "Int64",
    "statement_type": "string",
    "exec_s": "float64",
    "exec_is_upper_bound": "bool",
    "queue_s": "float64",
    "service_class": "Int64",
    "queue": "string",
    "slot_count": "int64",
    "aborted": "bool",
    "cache_hit": "bool",
    "ran_on_cs": "bool",
    "fingerprint": "string",
    "query_text": "string",
    "mem_mb": "float64",
    "spilled_mb": "float64",
    "scanned_mb": "float64",
    "source_file": "string",
    "source_row": "int64",
    "cpu_s": "float64",
    "scan_rows": "float64",
    "join_rows": "float64",
    "nested_loop_rows": "float64",
    "return_rows": "float64",
    "cs_eligible": "bool",
    "sqa_queue_s": "float64",
    "sqa_exec_s": "float64",
    "stop_cause": "string",
}

COLUMNS: Final = tuple(DTYPES)

#: Columns a workload must have; the rest are filled with their missing value.
REQUIRED_COLUMNS: Final = ("query_id", "arrival_at", "statement_type", "exec_s")

OPTIONAL_COLUMNS: Final = tuple(c for c in COLUMNS if c not in REQUIRED_COLUMNS)

_FILL: Final[dict[str, object]] = {
    "user_id": 0,
    "query_group": "default",
    "is_superuser": False,
    "exec_is_upper_bound": False,
    "queue_s": np.nan,
    "slot_count": 1,
    "aborted": False,
    "cache_hit": False,
    "ran_on_cs": False,
    "mem_mb": np.nan,
    "spilled_mb": np.nan,
    "scanned_mb": np.nan,
    "source_file": "generated",
    "cpu_s": np.nan,
    "scan_rows": np.nan,
    "join_rows": np.nan,
    "nested_loop_rows": np.nan,
    "return_rows": np.nan,
    "cs_eligible": True,
    "sqa_queue_s": np.nan,
    "sqa_exec_s": np.nan,
}


def empty_workload() -> pd.DataFrame:
    """Return a canonical workload with no rows and every column typed."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in DTYPES.items()})


def validate_workload(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` in canonical column order and dtypes.

    Missing optional columns are added with their missing value (``task_id``
    defaults to ``query_id``, ``source_row`` to the 1-based position). An
    aborted row without a ``stop_cause`` gets :data:`NO_WLM_EVIDENCE`. Rows are
    sorted by ``arrival_at`` then ``query_id`` (stable).

    Raises
    ------
    ValueError
        When a required column is missing, ``exec_s`` is negative or NaN,
        ``statement_type`` is not one of :data:`STATEMENT_TYPES`, ``query_id``
        repeats, or ``stop_cause`` is not one of :data:`STOP_CAUSES` or is set
        on a row that is not ``aborted``.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"workload lacks required column(s) {missing}; expected {list(COLUMNS)}"
        )
    source = frame.reset_index(drop=True)
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for col, dtype in DTYPES.items():
        target: Any = dtype
        if col in source.columns:
            values = source[col]
            if dtype == "bool":
                # astype(bool) would turn a missing flag into True.
                values = values.where(values.notna(), _FILL.get(col, False))
            out[col] = values.astype(target)
        elif col == "task_id":
            out[col] = out["query_id"]
        elif col == "source_row":
            out[col] = np.arange(1, len(frame) + 1, dtype="int64")
        else:
            out[col] = pd.Series(_FILL.get(col), index=out.index, dtype=target)
    out["stop_cause"] = _stop_causes(out)
    _check_values(out)
    if _in_arrival_order(out):
        return out  # the stable sort would not move a row
    return out.sort_values(["arrival_at", "query_id"], kind="stable").reset_index(
        drop=True
    )


def _stop_causes(frame: pd.DataFrame) -> pd.Series:
    """``stop_cause`` with :data:`NO_WLM_EVIDENCE` on aborted rows that lack one."""
    cause = frame["stop_cause"]
    unknown = frame["aborted"].to_numpy(dtype=bool) & cause.isna().to_numpy()
    if not unknown.any():
        return cause
    return cause.mask(pd.Series(unknown, index=cause.index), NO_WLM_EVIDENCE)


def _in_arrival_order(frame: pd.DataFrame) -> bool:
    """Whether rows are sorted by ``arrival_at`` then ``query_id`` (no NaT).

    Logs are written in that order, so the check (two linear passes) usually
    saves the sort.
    """
    arrival = pd.DatetimeIndex(frame["arrival_at"])
    if arrival.hasnans:
        return False
    at = arrival.asi8
    step = np.diff(at)
    if not bool((step >= 0).all()):
        return False
    ties = np.flatnonzero(step == 0)
    query_id = frame["query_id"].to_numpy()
    return bool((query_id[ties + 1] >= query_id[ties]).all())


def _check_values(frame: pd.DataFrame) -> None:
    """Raise ValueError naming the first row that breaks a column's contract."""
    exec_s = frame["exec_s"].to_numpy()
    bad = np.flatnonzero(~(exec_s >= 0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"row {i + 1}: exec_s={float(exec_s[i])!r}; expected a non-negative number "
            "of seconds"
        )
    types = frame["statement_type"]
    unknown = ~types.isin(STATEMENT_TYPES)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise ValueError(
            f"row {i + 1}: statement_type={types.iloc[i]!r}; expected one of "
            f"{list(STATEMENT_TYPES)}"
        )
    ids = frame["query_id"].to_numpy()
    if ids.size > 1 and bool((ids[1:] > ids[:-1]).all()):
        return  # increasing ids (as logs are written) cannot repeat
    dup = frame["query_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise ValueError(
            f"row {i + 1}: query_id={frame['query_id'].iloc[i]} repeats; "
            "expected unique query ids"
        )
    cause = frame["stop_cause"]
    given = cause.notna().to_numpy()
    bad_cause = given & ~cause.isin(STOP_CAUSES).to_numpy(dtype=bool, na_value=False)
    stray = given & ~frame["aborted"].to_numpy(dtype=bool)
    for mask, expected in (
        (bad_cause, f"one of {list(STOP_CAUSES)} or <NA>"),
        (stray, "<NA> on a row that is not aborted"),
    ):
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise ValueError(
                f"row {i + 1}: stop_cause={cause.iloc[i]!r}; expected {expected}"
            )


#: Step Functions executions of the nightly ELT (from ``aws stepfunctions
#: list-executions`` JSON, or generated): one row per execution.
ELT_RUN_DTYPES: Final[dict[str, str]] = {
    "run_id": "string",  # execution name
    "status": "string",  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED | RUNNING
    "start_at": "datetime64[us, UTC]",
    "stop_at": "datetime64[us, UTC]",  # NaT while RUNNING
    "source_file": "string",
}

#: COPY load errors (``STL_LOAD_ERRORS``): one row per rejected input line.
LOAD_ERROR_DTYPES: Final[dict[str, str]] = {
    "query_id": "int64",
    "error_at": "datetime64[us, UTC]",  # starttime of the COPY
    "filename": "string",
    "line_number": "int64",
    "colname": "string",
    "err_code": "int64",
    "err_reason": "string",
    "source_file": "string",
}


def empty_frame(dtypes: dict[str, str]) -> pd.DataFrame:
    """Return a frame with no rows and the given column dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})


@dataclass(frozen=True, slots=True)
class Workload:
    """A canonical workload: the queries plus the ELT and load-error side tables.

    Attributes
    ----------
    queries
        Canonical query frame (see module docstring and :data:`DTYPES`).
    elt_runs
        Step Functions executions (:data:`ELT_RUN_DTYPES`); may be empty.
    load_errors
        ``STL_LOAD_ERRORS`` rows (:data:`LOAD_ERROR_DTYPES`); may be empty.
    """

    queries: pd.DataFrame
    elt_runs: pd.DataFrame = field(default_factory=lambda: empty_frame(ELT_RUN_DTYPES))
    load_errors: pd.DataFrame = field(
        default_factory=lambda: empty_frame(LOAD_ERROR_DTYPES)
    )

    @property
    def start_at(self) -> pd.Timestamp:
        """First arrival [UTC]; the simulation clock's zero is this instant floored
        to the minute."""
        return pd.Timestamp(self.queries["arrival_at"].min()).floor("min")
