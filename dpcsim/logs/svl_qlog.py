"""SVL_QLOG and STL_QUERY: one row per query attempt with start, end and SQL text.

Both tables time a query from submission to end, so ``elapsed`` includes the WLM
queue wait: alone, they give an *upper bound* of the execution time
(``exec_is_upper_bound``), and :func:`qlog_to_queries` says how many queries that
affects. Joined with STL_WLM_QUERY (:mod:`dpcsim.logs.combine`) they give the
queue/execution split. Units: ``elapsed`` [µs], times UTC with µs.

The normalised frame (:data:`QLOG_DTYPES`) is shared by both tables:
``query_id``, ``user_id``, ``session_id`` (``pid``: a session is one backend
process), ``transaction_id`` (``xid``), ``start_at``, ``end_at``, ``elapsed_s`` [s],
``aborted``, ``label``, ``text``, ``cache_hit`` (``source_query`` set),
``ran_on_cs``, ``from_sp_call`` (the CALL a stored-procedure child belongs to),
``source_file``, ``source_row``.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from dpcsim.logs.rejects import Checks
from dpcsim.logs.source import Parsed, as_int64, constant_strings
from dpcsim.logs.sql_type import analyze_text, arrow_to_strings

__all__ = ["QLOG_DTYPES", "qlog_to_queries", "read_qlog"]

QLOG_DTYPES: Final[dict[str, str]] = {
    "query_id": "int64",
    "user_id": "int64",
    "session_id": "Int64",
    "transaction_id": "Int64",
    "start_at": "datetime64[us, UTC]",
    "end_at": "datetime64[us, UTC]",
    "elapsed_s": "float64",
    "aborted": "bool",
    "label": "string",
    "text": "string",
    "cache_hit": "bool",
    "ran_on_cs": "bool",
    "from_sp_call": "Int64",
    "source_file": "string",
    "source_row": "int64",
}

_US: Final = 1e6


def read_qlog(
    parsed: Parsed, *, strict: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise a parsed SVL_QLOG or STL_QUERY export.

    Parameters
    ----------
    parsed
        Output of :func:`dpcsim.logs.source.parse_file` for ``svl_qlog`` or
        ``stl_query``.
    strict
        Raise at the first bad row instead of rejecting it.

    Returns
    -------
    (frame, rejects)
        The accepted rows in :data:`QLOG_DTYPES`, and the rejected rows.
    """
    f = parsed.frame
    checks = Checks(parsed, strict)
    checks.require(("query", "userid", "starttime", "endtime"))
    start = f["starttime"]
    end = f.get("endtime")
    if "elapsed" in f:
        elapsed_us = f["elapsed"].to_numpy(dtype="float64")
    elif end is not None:
        elapsed_us = _span_us(start, end)
    else:
        elapsed_us = np.full(len(f), np.nan)
    checks.require(("elapsed",))
    checks.add(elapsed_us < 0, "elapsed", "negative duration", "elapsed >= 0 [µs]")
    if end is not None:
        checks.add(
            (end < start).to_numpy(dtype=bool, na_value=False),
            "endtime",
            "end before start",
            "endtime >= starttime",
        )
    checks.unique("query", "each query id once")
    ok, rejects = checks.finish()
    frame = _normalise(parsed, elapsed_us)
    return frame.loc[ok].reset_index(drop=True), rejects


def _normalise(parsed: Parsed, elapsed_us: np.ndarray) -> pd.DataFrame:
    """Build the QLOG_DTYPES frame from typed columns (bad rows still present)."""
    f = parsed.frame
    n = len(f)
    text_col = "substring" if "substring" in f else "querytxt"
    end = f["endtime"] if "endtime" in f else f["starttime"]
    if "concurrency_scaling_status" in f:
        cs = f["concurrency_scaling_status"].to_numpy(dtype="float64", na_value=0) == 1
    elif "concurrency_scaling_status_txt" in f:
        txt = f["concurrency_scaling_status_txt"].str.lower()
        cs = txt.str.contains("ran on a concurrency scaling", regex=False).to_numpy(
            dtype=bool, na_value=False
        )
    else:
        cs = np.zeros(n, dtype=bool)
    label = f["label"] if "label" in f else constant_strings("default", n)
    return pd.DataFrame(
        {
            "query_id": as_int64(f["query"]),
            "user_id": as_int64(f["userid"]),
            "session_id": _nullable_int(f, "pid"),
            "transaction_id": _nullable_int(f, "xid"),
            "start_at": f["starttime"],
            "end_at": end,
            "elapsed_s": elapsed_us / _US,
            "aborted": as_int64(f["aborted"]) != 0
            if "aborted" in f
            else np.zeros(n, bool),
            "label": label.astype("string").replace("", "default"),
            "text": f[text_col].astype("string") if text_col in f else pd.NA,
            "cache_hit": f["source_query"].notna().to_numpy()
            if "source_query" in f
            else np.zeros(n, bool),
            "ran_on_cs": cs,
            "from_sp_call": _nullable_int(f, "from_sp_call"),
            "source_file": constant_strings(parsed.source, n),
            "source_row": parsed.source_rows(),
        },
        copy=False,
    ).astype(QLOG_DTYPES)


def qlog_to_queries(qlog: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Turn SVL_QLOG/STL_QUERY rows alone into canonical queries.

    Without a WLM table the elapsed time is the only duration: ``exec_s`` is set
    to it and flagged ``exec_is_upper_bound``; ``queue_s`` is NaN.

    Returns
    -------
    (queries, warnings)
        Canonical columns (not yet validated) and a warning with the count.
    """
    text = pa.array(qlog["text"].astype("string").array, type=pa.string())
    types, prints = analyze_text(text)
    out = pd.DataFrame(
        {
            "query_id": qlog["query_id"],
            "task_id": qlog["query_id"],
            "arrival_at": qlog["start_at"],
            "user_id": qlog["user_id"],
            "query_group": qlog["label"],
            "session_id": qlog["session_id"],
            "transaction_id": qlog["transaction_id"],
            "statement_type": arrow_to_strings(types, qlog.index),
            "exec_s": qlog["elapsed_s"],
            "exec_is_upper_bound": True,
            "queue_s": np.nan,
            "aborted": qlog["aborted"],
            "cache_hit": qlog["cache_hit"],
            "ran_on_cs": qlog["ran_on_cs"],
            "fingerprint": arrow_to_strings(prints, qlog.index),
            "query_text": qlog["text"],
            "source_file": qlog["source_file"],
            "source_row": qlog["source_row"],
        },
        copy=False,
    )
    warnings = []
    if len(out):
        warnings.append(
            f"{len(out)} queries have no STL_WLM_QUERY row: exec_s is their elapsed "
            "time, which includes queueing (an upper bound; exec_is_upper_bound=True)"
        )
    return out, warnings


def _nullable_int(f: pd.DataFrame, col: str) -> pd.Series:
    """An integer column as ``Int64`` (``<NA>`` when missing or absent)."""
    if col not in f:
        return pd.Series(pd.NA, index=f.index, dtype="Int64")
    return f[col].astype("Float64").astype("Int64")


def _span_us(start: pd.Series, end: pd.Series) -> np.ndarray:
    """endtime - starttime [µs] as float (NaN when either is missing)."""
    delta = (end - start).to_numpy()
    out = delta.astype("timedelta64[us]").astype("float64")
    out[np.isnat(delta)] = np.nan
    return out
