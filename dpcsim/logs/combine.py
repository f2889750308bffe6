"""Join SVL_QLOG/STL_QUERY rows with STL_WLM_QUERY tasks into canonical queries.

The join key is the query id: each WLM task's first attempt (lowest ``query``)
gives the SQL text, user, label and arrival (``starttime``); its final attempt
gives ``aborted`` and ``ran_on_cs`` from the query log and the execution time,
service class and queue from STL_WLM_QUERY (see :mod:`dpcsim.logs.stl_wlm_query`
for the per-task rule), and its query id and ``final_state`` in the private
columns :mod:`dpcsim.logs.stop_causes` reads. Query-log rows of later attempts
are folded into their task. Result-cache hits with no WLM row keep
``exec_s = elapsed`` with ``queue_s = 0`` and replay as cache hits (no slot);
WLM tasks with no query-log row keep their WLM figures with statement type
``other``. Rows that take no user-queue slot are left out of the replay and
returned with their reason (:func:`combine_with_exclusions`). Each of these
cases is counted in a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from dpcsim.logs.rejects import empty_rejects, rejects_frame
from dpcsim.logs.sql_type import analyze_text
from dpcsim.logs.sql_type import arrow_to_strings as _strings
from dpcsim.logs.stl_wlm_query import restart_summary, tasks_from_attempts
from dpcsim.logs.stop_causes import FINAL_QUERY_ID, FINAL_STATE
from dpcsim.logs.svl_qlog import QLOG_DTYPES, qlog_to_queries

__all__ = ["NOT_REPLAYED", "combine_logs", "combine_with_exclusions"]


#: Service classes that never hold a user-queue slot: system (1-4) and
#: maintenance (15: auto vacuum, auto analyze, ``rdsdb`` work).
SYSTEM_SERVICE_CLASSES: Final = frozenset({1, 2, 3, 4})
MAINTENANCE_SERVICE_CLASS: Final = 15
#: The superuser queue: replayed as its own queue.
SUPERUSER_SERVICE_CLASS: Final = 5
SUPERUSER_QUEUE: Final = "superuser"
#: Prefix of reasons for rows read correctly but left out of the replay.
NOT_REPLAYED: Final = "not replayed: "


def combine_logs(
    qlog: pd.DataFrame | None, attempts: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[str]]:
    """Return canonical query rows (not yet validated) and warnings.

    Rows left out of the replay (see :func:`combine_with_exclusions`) are dropped
    here; use that function to get them.
    """
    queries, warnings, _ = combine_with_exclusions(qlog, attempts)
    return queries, warnings


def combine_with_exclusions(
    qlog: pd.DataFrame | None, attempts: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """Canonical query rows, warnings, and the rows that take no user-queue slot.

    Left out of the replay (returned as the third frame, a rejects frame whose
    reasons start with :data:`NOT_REPLAYED`):

    * WLM tasks of system service classes (1-4) and maintenance (15);
    * with a WLM file, query-log rows that have no STL_WLM_QUERY row and are not
      result-cache hits (leader-node statements: catalog queries, SET, SHOW ...);
    * a stored procedure's own row (``CALL``) when its child statements, linked
      by ``from_sp_call``, are in the log: the children hold the slots.

    Superuser-queue tasks (service class 5) keep their own queue, ``superuser``.

    Parameters
    ----------
    qlog
        Normalised SVL_QLOG/STL_QUERY rows (:data:`dpcsim.logs.svl_qlog.QLOG_DTYPES`)
        or ``None``.
    attempts
        Normalised STL_WLM_QUERY attempts
        (:data:`dpcsim.logs.stl_wlm_query.ATTEMPT_DTYPES`) or ``None``.
    """
    excluded: list[pd.DataFrame] = []
    warnings: list[str] = []
    parents = _sp_parents(qlog)
    if qlog is not None and parents.size:
        is_call = qlog["query_id"].isin(parents).to_numpy()
        if is_call.any():
            excluded.append(
                _excluded(
                    qlog.loc[is_call],
                    "stored procedure CALL (its child statements hold the slots)",
                )
            )
            warnings.append(
                f"{int(is_call.sum())} stored-procedure CALL rows not replayed: "
                "their child statements (from_sp_call) hold the WLM slots"
            )
            qlog = qlog.loc[~is_call].reset_index(drop=True)
    if attempts is not None and not len(attempts) and qlog is not None:
        # An STL_WLM_QUERY export with no rows says nothing about these queries.
        attempts = None
    if attempts is None:
        if qlog is None:
            return pd.DataFrame(), warnings, _concat(excluded)
        queries, more = qlog_to_queries(qlog)
        return queries, warnings + more, _concat(excluded)
    if parents.size:
        attempts = attempts.loc[~attempts["query_id"].isin(parents).to_numpy()]
    tasks = tasks_from_attempts(attempts)
    warnings += restart_summary(tasks)
    if qlog is None:
        qlog = pd.DataFrame(columns=list(QLOG_DTYPES)).astype(QLOG_DTYPES)
    index = pd.Index(qlog["query_id"])
    covered = np.zeros(len(qlog), dtype=bool)
    hit = index.get_indexer(attempts["query_id"])
    covered[hit[hit >= 0]] = True
    sc = tasks["service_class"].to_numpy(dtype="float64", na_value=np.nan)
    system = np.isin(sc, list(SYSTEM_SERVICE_CLASSES))
    maintenance = sc == MAINTENANCE_SERVICE_CLASS
    for mask, what in (
        (system, "system service class (1-4)"),
        (maintenance, "maintenance service class 15 (auto vacuum/analyze)"),
    ):
        if mask.any():
            excluded.append(_excluded(tasks.loc[mask], what))
            warnings.append(
                f"{int(mask.sum())} STL_WLM_QUERY tasks of the {what} not replayed: "
                "they take no user-queue slot"
            )
    tasks = tasks.loc[~(system | maintenance)].reset_index(drop=True)
    superuser = (tasks["service_class"] == SUPERUSER_SERVICE_CLASS).to_numpy(
        dtype=bool, na_value=False
    )
    if superuser.any():
        tasks["queue"] = tasks["queue"].where(~superuser, SUPERUSER_QUEUE)
    pos_first = index.get_indexer(tasks["query_id"])
    pos_final = index.get_indexer(tasks["final_query_id"])
    pos_info = np.where(pos_first >= 0, pos_first, pos_final)
    parts = [_task_rows(tasks, qlog, pos_info, pos_final)]
    no_text = int((pos_info < 0).sum())
    if no_text:
        warnings.append(
            f"{no_text} STL_WLM_QUERY tasks have no SVL_QLOG/STL_QUERY row: no SQL "
            "text, so statement_type 'other' and query_group 'default'"
        )
    cached = qlog["cache_hit"].to_numpy(dtype=bool)
    leader = ~covered & ~cached
    if leader.any():
        excluded.append(
            _excluded(
                qlog.loc[leader],
                "no STL_WLM_QUERY row (a leader-node statement)",
            )
        )
        warnings.append(
            f"{int(leader.sum())} query-log rows have no STL_WLM_QUERY row and are "
            "not result-cache hits (leader-node statements): not replayed, they "
            "take no WLM slot"
        )
    alone_mask = ~covered & cached
    if alone_mask.any():
        alone, _ = qlog_to_queries(qlog.loc[alone_mask].reset_index(drop=True))
        alone["exec_is_upper_bound"] = False
        alone["queue_s"] = 0.0
        parts.append(alone)
        warnings.append(
            f"{int(alone_mask.sum())} result-cache hits have no STL_WLM_QUERY row: "
            "replayed as cache hits (no slot, queue_s = 0)"
        )
    return pd.concat(parts, ignore_index=True), warnings, _concat(excluded)


def _sp_parents(qlog: pd.DataFrame | None) -> np.ndarray:
    """Query ids of stored-procedure CALLs that children point to."""
    if qlog is None or "from_sp_call" not in qlog:
        return np.zeros(0, dtype=np.int64)
    ids = qlog["from_sp_call"].dropna().unique()
    return np.asarray(ids, dtype=np.int64)


def _excluded(rows: pd.DataFrame, why: str) -> pd.DataFrame:
    """Rejects-shaped rows for queries left out of the replay."""
    text = (
        rows["text"].astype("string").fillna("")
        if "text" in rows
        else pd.Series("", index=rows.index, dtype="string")
    )
    raw = "query " + rows["query_id"].astype("string") + ": " + text.str.slice(0, 60)
    return rejects_frame(
        source_file=rows["source_file"].astype("string").to_numpy(),
        source_row=rows["source_row"].to_numpy(dtype="int64"),
        column="query",
        reason=NOT_REPLAYED + why,
        raw=raw.to_numpy(dtype=object),
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate rejects frames (empty -> an empty rejects frame)."""
    return pd.concat(frames, ignore_index=True) if frames else empty_rejects()


@dataclass(frozen=True, slots=True)
class _Match:
    """Where each task's row is in the query log (-1: not there)."""

    pos: np.ndarray
    ok: np.ndarray
    #: Every task matched.
    every: bool
    #: Row i of the log is task i's (the usual one-to-one export): a column is
    #: then taken as it is, with no copy of its values.
    in_order: bool

    @classmethod
    def of(cls, pos: np.ndarray, n_log: int) -> _Match:
        ok = pos >= 0
        every = bool(ok.all())
        in_order = every and pos.size == n_log and bool((pos == np.arange(n_log)).all())
        return cls(pos, ok, every, in_order)


def _task_rows(
    tasks: pd.DataFrame, qlog: pd.DataFrame, pos_info: np.ndarray, pos_final: np.ndarray
) -> pd.DataFrame:
    """Canonical rows for WLM tasks, enriched from the query log where matched."""
    info, final = _Match.of(pos_info, len(qlog)), _Match.of(pos_final, len(qlog))

    def pick(
        col: str, match: _Match, default: pd.Series | Callable[[], pd.Series]
    ) -> pd.Series:
        """Query-log column at the matched rows, else ``default``.

        A callable ``default`` is built only when some row needs it (a matched
        log, the usual case, fills every row).
        """
        if match.every:
            if match.in_order:
                return qlog[col].reset_index(drop=True)
            return qlog[col].iloc[match.pos].reset_index(drop=True)
        fallback = default() if callable(default) else default
        if not match.ok.any():
            return fallback
        taken = qlog[col].iloc[np.where(match.ok, match.pos, 0)]
        return taken.reset_index(drop=True).where(pd.Series(match.ok), fallback)

    n = len(tasks)

    def missing(dtype: str) -> Callable[[], pd.Series]:
        return lambda: pd.Series(pd.NA, index=range(n), dtype=dtype)

    def constant(value: Any, dtype: str | None = None) -> Callable[[], pd.Series]:
        return lambda: pd.Series(value, index=range(n), dtype=dtype)

    text = pick("text", info, missing("string"))
    types, prints = analyze_text(_arrow_text(text))
    return pd.DataFrame(
        {
            "query_id": tasks["query_id"],
            "task_id": tasks["task_id"],
            "arrival_at": pick("start_at", info, tasks["arrival_at"]),
            "user_id": pick("user_id", info, tasks["user_id"]),
            "query_group": pick("label", info, constant("default", "string")),
            "session_id": pick("session_id", info, missing("Int64")),
            "transaction_id": pick("transaction_id", info, missing("Int64")),
            "statement_type": _strings(types),
            "exec_s": tasks["exec_s"],
            "exec_is_upper_bound": False,
            "queue_s": tasks["queue_s"],
            "sqa_queue_s": tasks["sqa_queue_s"],
            "sqa_exec_s": tasks["sqa_exec_s"],
            "service_class": tasks["service_class"],
            "queue": tasks["queue"],
            "slot_count": tasks["slot_count"],
            "aborted": pick("aborted", final, tasks["aborted"]),
            "cache_hit": pick("cache_hit", info, constant(False)),
            "ran_on_cs": pick("ran_on_cs", final, constant(False)),
            "fingerprint": _strings(prints),
            "query_text": text,
            "source_file": pick("source_file", info, tasks["source_file"]),
            "source_row": pick("source_row", info, tasks["source_row"]),
            # Evidence for the stop cause (dpcsim.logs.stop_causes).
            FINAL_QUERY_ID: tasks["final_query_id"],
            FINAL_STATE: tasks["final_state"],
        },
        copy=False,
    )


def _arrow_text(text: pd.Series) -> pa.Array:
    """Text Series -> pyarrow string array."""
    return pa.array(text.astype("string").array, type=pa.string())
