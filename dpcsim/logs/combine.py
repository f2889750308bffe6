"""Join SVL_QLOG/STL_QUERY rows with STL_WLM_QUERY tasks into canonical queries.

The join key is the query id: each WLM task's first attempt (lowest ``query``)
gives the SQL text, user, label and arrival (``starttime``); its final attempt
gives ``aborted`` and ``ran_on_cs`` from the query log and the execution time,
service class and queue from STL_WLM_QUERY (see :mod:`dpcsim.logs.stl_wlm_query`
for the per-task rule). Query-log rows of later attempts are folded into their
task. Query-log rows with no WLM row at all (leader-node statements, result-cache
hits) keep ``exec_s = elapsed`` with ``queue_s = 0``, as they never queued; WLM
tasks with no query-log row keep their WLM figures with statement type ``other``.
Each of these cases is counted in a warning.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from dpcsim.logs.sql_type import analyze_text
from dpcsim.logs.sql_type import arrow_to_strings as _strings
from dpcsim.logs.stl_wlm_query import restart_summary, tasks_from_attempts
from dpcsim.logs.svl_qlog import qlog_to_queries

__all__ = ["combine_logs"]


def combine_logs(
    qlog: pd.DataFrame | None, attempts: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[str]]:
    """Return canonical query rows (not yet validated) and warnings.

    Parameters
    ----------
    qlog
        Normalised SVL_QLOG/STL_QUERY rows (:data:`dpcsim.logs.svl_qlog.QLOG_DTYPES`)
        or ``None``.
    attempts
        Normalised STL_WLM_QUERY attempts
        (:data:`dpcsim.logs.stl_wlm_query.ATTEMPT_DTYPES`) or ``None``.
    """
    if attempts is None:
        if qlog is None:
            return pd.DataFrame(), []
        return qlog_to_queries(qlog)
    tasks = tasks_from_attempts(attempts)
    warnings = restart_summary(tasks)
    if qlog is None:
        qlog = pd.DataFrame(columns=["query_id"]).astype({"query_id": "int64"})
    index = pd.Index(qlog["query_id"])
    pos_first = index.get_indexer(tasks["query_id"])
    pos_final = index.get_indexer(tasks["final_query_id"])
    pos_info = np.where(pos_first >= 0, pos_first, pos_final)
    covered = np.zeros(len(qlog), dtype=bool)
    hit = index.get_indexer(attempts["query_id"])
    covered[hit[hit >= 0]] = True
    parts = [_task_rows(tasks, qlog, pos_info, pos_final)]
    no_text = int((pos_info < 0).sum())
    if no_text:
        warnings.append(
            f"{no_text} STL_WLM_QUERY tasks have no SVL_QLOG/STL_QUERY row: no SQL "
            "text, so statement_type 'other' and query_group 'default'"
        )
    if not covered.all():
        alone, _ = qlog_to_queries(qlog.loc[~covered].reset_index(drop=True))
        alone["exec_is_upper_bound"] = False
        alone["queue_s"] = 0.0
        parts.append(alone)
        warnings.append(
            f"{int((~covered).sum())} query-log rows have no STL_WLM_QUERY row "
            "(leader-node statements or result-cache hits): queue_s = 0, exec_s = "
            "elapsed"
        )
    return pd.concat(parts, ignore_index=True), warnings


def _task_rows(
    tasks: pd.DataFrame, qlog: pd.DataFrame, pos_info: np.ndarray, pos_final: np.ndarray
) -> pd.DataFrame:
    """Canonical rows for WLM tasks, enriched from the query log where matched."""
    has = pos_info >= 0
    fin = pos_final >= 0

    def pick(
        col: str, pos: np.ndarray, ok: np.ndarray, default: pd.Series
    ) -> pd.Series:
        """Query-log column at ``pos`` where ``ok``, else ``default``."""
        if not ok.any():
            return default
        taken = qlog[col].iloc[np.where(ok, pos, 0)].reset_index(drop=True)
        return taken.where(pd.Series(ok), default)

    n = len(tasks)
    text = pick("text", pos_info, has, pd.Series(pd.NA, index=range(n), dtype="string"))
    types, prints = analyze_text(_arrow_text(text))
    return pd.DataFrame(
        {
            "query_id": tasks["query_id"],
            "task_id": tasks["task_id"],
            "arrival_at": pick("start_at", pos_info, has, tasks["arrival_at"]),
            "user_id": pick("user_id", pos_info, has, tasks["user_id"]),
            "query_group": pick(
                "label",
                pos_info,
                has,
                pd.Series("default", index=range(n), dtype="string"),
            ),
            "statement_type": _strings(types),
            "exec_s": tasks["exec_s"],
            "exec_is_upper_bound": False,
            "queue_s": tasks["queue_s"],
            "service_class": tasks["service_class"],
            "queue": tasks["queue"],
            "slot_count": tasks["slot_count"],
            "aborted": pick("aborted", pos_final, fin, tasks["aborted"]),
            "cache_hit": pick(
                "cache_hit", pos_info, has, pd.Series(False, index=range(n))
            ),
            "ran_on_cs": pick(
                "ran_on_cs", pos_final, fin, pd.Series(False, index=range(n))
            ),
            "fingerprint": _strings(prints),
            "query_text": text,
            "source_file": pick("source_file", pos_info, has, tasks["source_file"]),
            "source_row": pick("source_row", pos_info, has, tasks["source_row"]),
        }
    )


def _arrow_text(text: pd.Series) -> pa.Array:
    """Text Series -> pyarrow string array."""
    return pa.array(text.astype("string").array, type=pa.string())
