"""STL_WLM_QUERY: one row per WLM attempt, folded into one canonical row per task.

A task (``task``) is one submitted statement; each attempt has its own ``query``
id: a WLM restart (timeout or QMR hop) gets a new query id in the same task, and a
Short Query Acceleration eviction shows as a service class 14 row with
``final_state = 'Evicted'`` followed by the user-queue row of the same query.

Rule for one task:

* ``query_id`` is the task's lowest query id (the first attempt) and
  ``arrival_at`` the earliest ``service_class_start_time``;
* ``exec_s`` is the **final** attempt's ``total_exec_time``: the attempt that ran
  to the end is the service demand; earlier attempts' execution was wasted work;
* ``queue_s`` is the sum of ``total_queue_time`` over all attempts;
* ``service_class``, ``queue`` (``service_class_name``) and ``slot_count`` come
  from the final attempt; ``aborted`` from its ``final_state`` (aborted,
  canceled, failed, rejected);
* an SQA attempt evicted before a later attempt (service class 14, ``final_state``
  Evicted) gives ``sqa_queue_s`` / ``sqa_exec_s``, its own ``total_queue_time``
  and ``total_exec_time`` (NaN for a task with none); it sorts before the
  queue attempt of the same query id when both start at the same time.

Units: ``total_queue_time`` / ``total_exec_time`` [µs]; times UTC with µs.
Joining with SVL_QLOG / STL_QUERY is left to :mod:`dpcsim.logs.combine`.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from dpcsim.logs.rejects import Checks
from dpcsim.logs.source import Parsed, as_int64, constant_strings
from dpcsim.wlm.limits import SQA_SERVICE_CLASS

__all__ = [
    "ATTEMPT_DTYPES",
    "SQA_SERVICE_CLASS",
    "read_stl_wlm_query",
    "restart_summary",
    "tasks_from_attempts",
]

ATTEMPT_DTYPES: Final[dict[str, str]] = {
    "query_id": "int64",
    "task_id": "int64",
    "user_id": "int64",
    "service_class": "Int64",
    "slot_count": "int64",
    "start_at": "datetime64[us, UTC]",
    "queue_s": "float64",
    "exec_s": "float64",
    "final_state": "string",
    "service_class_name": "string",
    "source_file": "string",
    "source_row": "int64",
}

_US: Final = 1e6
_ABORT_STATES: Final = r"abort|cancel|fail|reject"


def read_stl_wlm_query(
    parsed: Parsed, *, strict: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise a parsed STL_WLM_QUERY export into attempts (:data:`ATTEMPT_DTYPES`).

    Returns
    -------
    (attempts, rejects)
    """
    f = parsed.frame
    checks = Checks(parsed, strict)
    checks.require(
        (
            "task",
            "query",
            "service_class_start_time",
            "total_queue_time",
            "total_exec_time",
        )
    )
    for col in ("total_queue_time", "total_exec_time"):
        checks.add(
            f[col].to_numpy(dtype="float64", na_value=np.nan) < 0,
            col,
            "negative duration",
            f"{col} >= 0 [µs]",
        )
    for begin, end in (
        ("exec_start_time", "exec_end_time"),
        ("queue_start_time", "queue_end_time"),
        ("service_class_start_time", "service_class_end_time"),
    ):
        if begin in f and end in f:
            checks.add(
                (f[end] < f[begin]).to_numpy(dtype=bool, na_value=False),
                end,
                "end before start",
                f"{end} >= {begin}",
            )
    checks.add(_duplicates(f), "query", "duplicate query id", _DUP_EXPECT)
    ok, rejects = checks.finish()
    return _normalise(parsed).loc[ok].reset_index(drop=True), rejects


_DUP_EXPECT: Final = "one row per (query, service_class), each query in one task"


def _duplicates(f: pd.DataFrame) -> np.ndarray:
    """Rows repeating a (query, service_class) or putting a query in a second task."""
    query = f["query"]
    if not query.hasnans:
        ids = query.to_numpy(dtype="int64")
        # Each query on one row (the usual export: attempts get new query
        # ids) repeats nothing; an increasing column shows it without hashing.
        if bool((ids[1:] > ids[:-1]).all()) or query.is_unique:
            return np.zeros(len(f), dtype=bool)
    key = f[["query", "service_class"]]
    dup = key.duplicated(keep="first").to_numpy()
    first_task = f.groupby("query", sort=False)["task"].transform("first")
    other_task = (f["task"] != first_task).to_numpy(dtype=bool, na_value=False)
    return (dup | other_task) & f["query"].notna().to_numpy()


def _normalise(parsed: Parsed) -> pd.DataFrame:
    """Build the attempts frame from typed columns (bad rows still present)."""
    f = parsed.frame
    n = len(f)

    def text(col: str) -> pd.Series:
        if col in f:
            return f[col].astype("string")
        return pd.Series(pd.NA, index=f.index, dtype="string")

    return pd.DataFrame(
        {
            "query_id": as_int64(f["query"]),
            "task_id": as_int64(f["task"]),
            "user_id": as_int64(f["userid"]) if "userid" in f else np.zeros(n, "int64"),
            "service_class": f["service_class"].astype("Float64").astype("Int64"),
            "slot_count": np.maximum(as_int64(f["slot_count"]), 1)
            if "slot_count" in f
            else np.ones(n, "int64"),
            "start_at": f["service_class_start_time"],
            "queue_s": f["total_queue_time"].to_numpy(dtype="float64", na_value=0)
            / _US,
            "exec_s": f["total_exec_time"].to_numpy(dtype="float64", na_value=0) / _US,
            "final_state": text("final_state"),
            "service_class_name": text("service_class_name").replace("", pd.NA),
            "source_file": constant_strings(parsed.source, n),
            "source_row": parsed.source_rows(),
        },
        copy=False,
    ).astype(ATTEMPT_DTYPES)


def tasks_from_attempts(attempts: pd.DataFrame) -> pd.DataFrame:
    """Fold attempts into one row per task (rule in the module docstring).

    Returns
    -------
    pandas.DataFrame
        Columns ``task_id``, ``query_id`` (first attempt), ``final_query_id``,
        ``user_id``, ``arrival_at``, ``exec_s``, ``queue_s``, ``service_class``,
        ``queue``, ``slot_count``, ``aborted``, ``final_state`` (the final
        attempt's, trimmed), ``attempts``, ``sqa_evicted``,
        ``sqa_queue_s``, ``sqa_exec_s`` [s], ``source_file``, ``source_row``
        (of the first attempt).
    """
    not_sqa = (attempts["service_class"] != SQA_SERVICE_CLASS).to_numpy(
        dtype=bool, na_value=True
    )
    keys = ["task_id", "start_at", "query_id"]
    if _in_key_order([*(attempts[k] for k in keys), pd.Series(not_sqa)]):
        # Exports come in this order; a stable sort would return them as they are.
        a = attempts.reset_index(drop=True)
    else:
        a = attempts.assign(_not_sqa=not_sqa).sort_values(
            [*keys, "_not_sqa"], kind="stable"
        )
        a = a.drop(columns="_not_sqa").reset_index(drop=True)
    task = a["task_id"].to_numpy()
    n = task.size
    if n == 0:
        starts = np.zeros(0, dtype="int64")
    else:
        starts = np.flatnonzero(np.r_[True, task[1:] != task[:-1]])
    ends = np.r_[starts[1:], n] - 1 if n else starts
    query = a["query_id"].to_numpy()
    state = a["final_state"].str.lower()
    evicted = (a["service_class"] == SQA_SERVICE_CLASS).to_numpy(
        dtype=bool, na_value=False
    ) & state.str.startswith("evict").to_numpy(dtype=bool, na_value=False)
    # Only an eviction some later attempt followed is a folded SQA attempt.
    folded = evicted.copy()
    folded[ends] = False
    final_state = state.iloc[ends]
    return pd.DataFrame(
        {
            "task_id": task[starts],
            "query_id": np.minimum.reduceat(query, starts) if n else query,
            "final_query_id": query[ends],
            "user_id": a["user_id"].to_numpy()[starts],
            "arrival_at": _take(a["start_at"], starts),
            "exec_s": a["exec_s"].to_numpy()[ends],
            "queue_s": np.add.reduceat(a["queue_s"].to_numpy(), starts) if n else [],
            "service_class": _take(a["service_class"], ends),
            "queue": _take(a["service_class_name"], ends),
            "slot_count": a["slot_count"].to_numpy()[ends],
            "aborted": final_state.str.contains(_ABORT_STATES).to_numpy(
                dtype=bool, na_value=False
            ),
            "final_state": _take(a["final_state"], ends),
            "attempts": ends - starts + 1,
            "sqa_evicted": np.maximum.reduceat(evicted, starts) if n else evicted,
            "sqa_queue_s": _evicted_sum(a["queue_s"], folded, starts),
            "sqa_exec_s": _evicted_sum(a["exec_s"], folded, starts),
            "source_file": _take(a["source_file"], starts),
            "source_row": a["source_row"].to_numpy()[starts],
        },
        copy=False,
    ).astype(
        {
            "arrival_at": "datetime64[us, UTC]",
            "service_class": "Int64",
            "queue": "string",
            "final_state": "string",
            "source_file": "string",
            "sqa_evicted": "bool",
        }
    )


def _in_key_order(keys: list[pd.Series]) -> bool:
    """Whether rows are already sorted by ``keys`` (lexicographically, no nulls).

    False when a key holds a null: :meth:`pandas.DataFrame.sort_values` then
    decides where it goes.
    """
    if len(keys[0]) < 2:
        return True
    tied = np.ones(len(keys[0]) - 1, dtype=bool)  # rows equal on every key so far
    for key in keys:
        if bool(key.isna().any()):
            return False
        # Times as their integer ticks: a tz-aware column's numpy form is objects.
        tz_aware = isinstance(key.dtype, pd.DatetimeTZDtype)
        values = key.array.asi8 if tz_aware else key.to_numpy()
        before, after = values[:-1], values[1:]
        if bool((tied & (before > after)).any()):
            return False
        tied &= before == after
        if not tied.any():
            return True
    return True


def _evicted_sum(
    seconds: pd.Series, evicted: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """Per task, the sum of ``seconds`` over its evicted SQA attempts (NaN if none)."""
    if not starts.size:
        return np.zeros(0, dtype="float64")
    total = np.add.reduceat(np.where(evicted, seconds.to_numpy(), 0.0), starts)
    out: np.ndarray = np.where(np.maximum.reduceat(evicted, starts), total, np.nan)
    return out


def _take(values: pd.Series, positions: np.ndarray) -> pd.Series:
    """Rows at ``positions`` with a fresh 0..n-1 index (keeps the dtype)."""
    return values.iloc[positions].reset_index(drop=True)


def restart_summary(tasks: pd.DataFrame) -> list[str]:
    """Warnings describing how restarts and SQA evictions were folded."""
    extra = int((tasks["attempts"] - 1).sum())
    evicted = int(tasks["sqa_evicted"].sum())
    if not extra:
        return []
    multi = int((tasks["attempts"] > 1).sum())
    return [
        f"{multi} tasks had {extra} extra WLM attempts (restarts/hops, {evicted} SQA "
        "evictions): one row per task with the first attempt's query id and arrival, "
        "the final attempt's exec time and service class, queue time summed"
    ]
