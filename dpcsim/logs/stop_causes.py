"""Why each aborted query stopped, from what the exports carry (``stop_cause``).

The causes (:data:`dpcsim.schema.STOP_CAUSES`), the first that applies:

1. ``qmr_abort``: STL_WLM_RULE_ACTION has an ``abort`` row for one of the
   task's attempts (its ``query`` is an attempt id; STL_WLM_QUERY maps it to
   the task), or SYS_QUERY_HISTORY's ``error_message`` says the query was
   canceled "by WLM abort action of Query Monitoring Rule" (the message
   Redshift reports; AWS's pages do not print it, so it is matched as text).
2. ``qmr_hop``: a ``hop`` row for the task's final attempt: a hop that found
   no queue cancels the query (wlm-queue-hopping).
3. ``wlm_timeout``: the final attempt's execution time reached its queue's
   ``max_execution_time`` [ms] in the configuration the log was recorded under
   (``recorded``; manual WLM only: auto WLM queues carry none), the attempt's
   trimmed ``final_state`` (when logged) is neither ``Completed`` nor
   ``Evicted``, and the statement is subject to the timeout (not COPY, VACUUM
   or ANALYZE). The queue is the one of the logged ``service_class`` (6 + i),
   else the one named by the logged queue name.
4. ``statement_timeout``: ``statement_timeout_ms`` is known (> 0), the
   query's elapsed time reached it (SYS_QUERY_HISTORY ``elapsed_time``; else
   queue + execution time, which is at most the elapsed time) and, where the
   log has a status, it is ``canceled`` (the message is "canceled on user's
   request", the same as a user's cancel: the elapsed time tells them apart).
5. ``user_or_error``: every other abort. The exports cannot tell a user's
   cancel from an SQL error or a disconnect, and an abort without evidence of
   a WLM cause lands here, so the WLM-caused count is a lower bound.

The query-log readers hand the evidence over in the private columns below;
:func:`dpcsim.schema.validate_workload` drops them.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from dpcsim.schema import NO_WLM_EVIDENCE, STOP_CAUSES

if TYPE_CHECKING:
    from dpcsim.wlm.config import WLMConfig

__all__ = [
    "ELAPSED_S",
    "ERROR_MESSAGE",
    "FINAL_QUERY_ID",
    "FINAL_STATE",
    "LOGGED_STATUS",
    "cause_counts",
    "stop_causes",
]

#: The final attempt's query id (STL_WLM_QUERY tasks).
FINAL_QUERY_ID: Final = "_final_query_id"
#: The final attempt's trimmed ``final_state`` (STL_WLM_QUERY tasks).
FINAL_STATE: Final = "_final_state"
#: SYS_QUERY_HISTORY ``status``, trimmed and lower case.
LOGGED_STATUS: Final = "_status"
#: SYS_QUERY_HISTORY ``elapsed_time`` [s].
ELAPSED_S: Final = "_elapsed_s"
#: SYS_QUERY_HISTORY ``error_message``.
ERROR_MESSAGE: Final = "_error_message"

#: Text of the error a QMR abort reports ("Query (N) cancelled by WLM abort
#: action of Query Monitoring Rule "name"."), matched case-insensitively.
QMR_ABORT_MESSAGE: Final = "abort action of query monitoring rule"
#: Final states of an attempt the cluster did not stop.
_NOT_STOPPED: Final = ("completed", "evicted")
#: Statements a WLM timeout never stops (wlm-queue-hopping).
_NO_TIMEOUT: Final = ("copy", "vacuum", "analyze")
_CANCELED: Final = ("canceled", "cancelled")


def stop_causes(
    queries: pd.DataFrame,
    *,
    rule_actions: pd.DataFrame | None = None,
    attempts: pd.DataFrame | None = None,
    recorded: WLMConfig | None = None,
    statement_timeout_ms: int = 0,
) -> tuple[pd.Series, list[str]]:
    """The ``stop_cause`` of every row of ``queries`` and warnings.

    Parameters
    ----------
    queries
        Canonical query rows (not yet validated), with the private evidence
        columns the readers add.
    rule_actions
        STL_WLM_RULE_ACTION rows
        (:data:`dpcsim.logs.stl_wlm_rule_action.RULE_ACTION_DTYPES`).
    attempts
        STL_WLM_QUERY attempts: map an attempt's query id to its task.
    recorded
        The WLM configuration the log was recorded under; None: no WLM
        timeout can be told.
    statement_timeout_ms
        The recorded ``statement_timeout`` [ms]; 0: unknown or off.

    Returns
    -------
    (causes, warnings)
        A ``string`` Series aligned with ``queries`` (``<NA>`` where the query
        was not aborted) and the warnings about actions that match no query.
    """
    n = len(queries)
    aborted = queries["aborted"].fillna(False).to_numpy(dtype=bool)
    warnings: list[str] = []
    query_id = queries["query_id"].to_numpy(dtype="int64")
    task = _ints(queries, "task_id", query_id)
    final = _ints(queries, FINAL_QUERY_ID, query_id)
    abort_mask = hop_mask = np.zeros(n, dtype=bool)
    if rule_actions is not None and len(rule_actions):
        abort_mask, hop_mask, more = _rule_evidence(
            rule_actions, attempts, task, final, aborted
        )
        warnings += more
    # The text and timing evidence is read for the aborted rows only.
    rows = np.flatnonzero(aborted)
    sub = queries.iloc[rows]
    cause = np.full(rows.size, None, dtype=object)
    undecided = np.ones(rows.size, dtype=bool)

    def assign(mask: np.ndarray, value: str) -> None:
        free = mask & undecided
        cause[free] = value
        undecided[free] = False

    message = _strings(sub, ERROR_MESSAGE).str.lower()
    assign(abort_mask[rows] | _holds(message, QMR_ABORT_MESSAGE), "qmr_abort")
    assign(hop_mask[rows], "qmr_hop")
    if recorded is not None:
        assign(_wlm_timeouts(sub, recorded), "wlm_timeout")
    if statement_timeout_ms > 0:
        assign(_statement_timeouts(sub, statement_timeout_ms), "statement_timeout")
    assign(undecided, NO_WLM_EVIDENCE)
    out = pd.Series(pd.NA, index=queries.index, dtype="string")
    if rows.size:
        out.iloc[rows] = cause
    return out, warnings


def cause_counts(causes: pd.Series) -> dict[str, int]:
    """Aborts per cause in :data:`STOP_CAUSES` order (causes with none left out)."""
    counts = Counter(causes.dropna().astype(str))
    return {c: counts[c] for c in STOP_CAUSES if counts[c]}


def _rule_evidence(
    actions: pd.DataFrame,
    attempts: pd.DataFrame | None,
    task: np.ndarray,
    final: np.ndarray,
    aborted: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rows a QMR ``abort`` stopped, rows a final-attempt ``hop`` stopped, warnings."""
    ids = actions["query_id"].to_numpy(dtype="int64")
    action = actions["action"].astype("string")
    task_of = ids
    if attempts is not None and len(attempts):
        pairs = attempts.drop_duplicates("query_id")
        index = pd.Index(pairs["query_id"].to_numpy(dtype="int64"))
        found = index.get_indexer(ids)
        tasks = pairs["task_id"].to_numpy(dtype="int64")
        # Task ids are their own number space: an attempt STL_WLM_QUERY does
        # not have belongs to no task (-1) rather than to a same-numbered one.
        task_of = np.where(found >= 0, tasks[np.clip(found, 0, None)], -1)
    is_abort = action.eq("abort").to_numpy(dtype=bool, na_value=False)
    is_hop = action.str.startswith("hop").to_numpy(dtype=bool, na_value=False)
    abort_mask = np.isin(task, task_of[is_abort])
    hop_mask = np.isin(final, ids[is_hop])
    warnings: list[str] = []
    unmatched = int((is_abort & ~np.isin(task_of, task)).sum())
    if unmatched:
        warnings.append(
            f"{unmatched} STL_WLM_RULE_ACTION abort rows name a query that is not in "
            "the query logs: not counted (export the same time range of both)"
        )
    completed = int((abort_mask & ~aborted).sum())
    if completed:
        warnings.append(
            f"{completed} queries have a QMR abort action but the log shows them "
            "completed: kept completed"
        )
    return abort_mask, hop_mask, warnings


def _wlm_timeouts(queries: pd.DataFrame, recorded: WLMConfig) -> np.ndarray:
    """Rows whose final attempt reached its recorded queue's WLM timeout."""
    limit_ms = np.zeros(len(queries), dtype="float64")
    by_class = {
        recorded.service_class(i): float(q.max_execution_time)
        for i, q in enumerate(recorded.queues)
    }
    by_name = {q.name: float(q.max_execution_time) for q in recorded.queues}
    if "service_class" in queries:
        sc = queries["service_class"].astype("Int64")
        limit_ms = sc.map(by_class).to_numpy(dtype="float64", na_value=0.0)
    if "queue" in queries:
        named = _strings(queries, "queue").map(by_name)
        from_name = named.to_numpy(dtype="float64", na_value=0.0)
        has_class = (
            pd.Series(queries["service_class"]).notna().to_numpy()
            if "service_class" in queries
            else np.zeros(len(queries), dtype=bool)
        )
        limit_ms = np.where(has_class, limit_ms, from_name)
    exec_us = np.round(queries["exec_s"].to_numpy(dtype="float64") * 1e6)
    reached = (limit_ms > 0) & (exec_us >= limit_ms * 1000.0)
    state = _strings(queries, FINAL_STATE).str.strip().str.lower()
    stopped = ~state.isin(_NOT_STOPPED).to_numpy(dtype=bool, na_value=False)
    subject = ~_strings(queries, "statement_type").isin(_NO_TIMEOUT).to_numpy(
        dtype=bool, na_value=False
    )
    out: np.ndarray = reached & stopped & subject
    return out


def _statement_timeouts(queries: pd.DataFrame, limit_ms: int) -> np.ndarray:
    """Rows whose elapsed time reached ``statement_timeout`` (and were canceled)."""

    def seconds(col: str) -> np.ndarray:
        if col not in queries:
            return np.zeros(len(queries))
        values = queries[col].to_numpy(dtype="float64", na_value=np.nan)
        out: np.ndarray = np.nan_to_num(values, nan=0.0)
        return out

    spent = seconds("queue_s") + seconds("exec_s") + seconds("sqa_exec_s")
    if ELAPSED_S in queries:
        logged = queries[ELAPSED_S].to_numpy(dtype="float64", na_value=np.nan)
        spent = np.where(np.isfinite(logged), logged, spent)
    reached = np.round(spent * 1e6) >= limit_ms * 1000.0
    status = _strings(queries, LOGGED_STATUS)
    canceled = status.isna().to_numpy() | status.isin(_CANCELED).to_numpy(
        dtype=bool, na_value=False
    )
    out: np.ndarray = reached & canceled
    return out


def _ints(queries: pd.DataFrame, col: str, default: np.ndarray) -> np.ndarray:
    """An integer column with missing values (or the column) from ``default``."""
    if col not in queries:
        return default
    values = queries[col].to_numpy(dtype="float64", na_value=np.nan)
    out: np.ndarray = np.where(np.isnan(values), default, values)
    return out.astype("int64")


def _strings(queries: pd.DataFrame, col: str) -> pd.Series:
    """A text column, or all-missing when absent."""
    if col in queries:
        return queries[col].astype("string")
    return pd.Series(pd.NA, index=queries.index, dtype="string")


def _holds(text: pd.Series, needle: str) -> np.ndarray:
    """Rows whose (lower-cased) text contains ``needle``."""
    found: np.ndarray = text.str.contains(needle, regex=False).to_numpy(
        dtype=bool, na_value=False
    )
    return found
