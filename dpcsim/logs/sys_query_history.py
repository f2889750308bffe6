"""SYS_QUERY_HISTORY: one row per query with the queue/execution split built in.

Units: ``queue_time``, ``execution_time``, ``elapsed_time`` [µs]; times UTC.
``status`` ``failed``/``canceled`` -> ``aborted``; rows still ``running``,
``queued``, ``planning`` or ``returning`` are rejected with that reason (their
times are not final: replaying them as finished short queries would be wrong);
``result_cache_hit`` ->
``cache_hit``; ``query_label`` -> ``query_group``; ``query_type`` gives the
statement type (coarse types such as ``COMMAND`` fall back to the text);
``compute_type`` ``secondary`` (when exported) -> ``ran_on_cs``;
``service_class_id`` / ``service_class_name`` (when exported) -> ``service_class``
/ ``queue``. ``status``, ``elapsed_time`` and ``error_message`` are handed to
:mod:`dpcsim.logs.stop_causes` in private columns (a QMR abort's message, a
cancel at ``statement_timeout``).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from dpcsim.logs.rejects import Checks
from dpcsim.logs.source import Parsed, as_int64, constant_strings
from dpcsim.logs.sql_type import fingerprints, statement_types_from_query_type
from dpcsim.logs.stop_causes import ELAPSED_S, ERROR_MESSAGE, LOGGED_STATUS

__all__ = ["read_sys_query_history"]

_US: Final = 1e6
_ABORTED: Final = ("failed", "canceled", "cancelled", "aborted")
#: Statuses of a query that has not finished: its times are not final.
_UNFINISHED: Final = ("running", "queued", "planning", "returning")


def read_sys_query_history(
    parsed: Parsed, *, strict: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise a parsed SYS_QUERY_HISTORY export into canonical query rows.

    Returns
    -------
    (queries, rejects)
        Canonical columns (not yet validated) and the rejected rows.
    """
    f = parsed.frame
    checks = Checks(parsed, strict)
    checks.require(
        ("user_id", "query_id", "start_time", "queue_time", "execution_time")
    )
    for col in ("queue_time", "execution_time", "elapsed_time"):
        if col in f:
            checks.add(
                f[col].to_numpy(dtype="float64", na_value=np.nan) < 0,
                col,
                "negative duration",
                f"{col} >= 0 [µs]",
            )
    if "end_time" in f:
        checks.add(
            (f["end_time"] < f["start_time"]).to_numpy(dtype=bool, na_value=False),
            "end_time",
            "end before start",
            "end_time >= start_time",
        )
    if "status" in f:
        status = f["status"].astype("string").str.strip().str.lower()
        for state in _UNFINISHED:
            checks.add(
                (status == state).to_numpy(dtype=bool, na_value=False),
                "status",
                f"query still {state}: execution_time is not final",
                "a finished query (success, failed or canceled)",
            )
    checks.unique("query_id", "each query_id once")
    ok, rejects = checks.finish()
    return _canonical(parsed).loc[ok].reset_index(drop=True), rejects


def _canonical(parsed: Parsed) -> pd.DataFrame:
    """Canonical columns from the typed SYS_QUERY_HISTORY columns."""
    f = parsed.frame
    n = len(f)
    text = _text(f, "query_text")
    status = _text(f, "status").str.strip().str.lower()
    label = _text(f, "query_label").fillna("").replace("", "default")
    out = pd.DataFrame(
        {
            "query_id": as_int64(f["query_id"]),
            "arrival_at": f["start_time"],
            "user_id": as_int64(f["user_id"]),
            "user_name": _text(f, "user_name").replace("", pd.NA),
            "query_group": label,
            "session_id": f["session_id"].astype("Float64").astype("Int64")
            if "session_id" in f
            else pd.Series(pd.NA, index=f.index, dtype="Int64"),
            "transaction_id": f["transaction_id"].astype("Float64").astype("Int64")
            if "transaction_id" in f
            else pd.Series(pd.NA, index=f.index, dtype="Int64"),
            "statement_type": statement_types_from_query_type(f["query_type"], text),
            "exec_s": f["execution_time"].to_numpy(dtype="float64", na_value=0) / _US,
            "queue_s": f["queue_time"].to_numpy(dtype="float64", na_value=0) / _US,
            "aborted": status.isin(_ABORTED).to_numpy(dtype=bool, na_value=False),
            "cache_hit": f["result_cache_hit"].fillna(False).to_numpy(dtype=bool)
            if "result_cache_hit" in f
            else np.zeros(n, bool),
            "ran_on_cs": _text(f, "compute_type")
            .str.lower()
            .isin(("secondary", "cs", "concurrency_scaling"))
            .to_numpy(dtype=bool, na_value=False),
            "fingerprint": fingerprints(text),
            "query_text": text,
            "source_file": constant_strings(parsed.source, n),
            "source_row": parsed.source_rows(),
            # Evidence for the stop cause (dpcsim.logs.stop_causes).
            LOGGED_STATUS: status,
            ELAPSED_S: f["elapsed_time"].to_numpy(dtype="float64", na_value=np.nan)
            / _US
            if "elapsed_time" in f
            else np.full(n, np.nan),
            ERROR_MESSAGE: _text(f, "error_message"),
        },
        copy=False,
    )
    if "service_class_id" in f:
        out["service_class"] = f["service_class_id"].astype("Float64").astype("Int64")
    if "service_class_name" in f:
        out["queue"] = _text(f, "service_class_name").replace("", pd.NA)
    return out


def _text(f: pd.DataFrame, col: str) -> pd.Series:
    """A text column, or all-missing when the export lacks it."""
    if col in f:
        return f[col].astype("string")
    return pd.Series(pd.NA, index=f.index, dtype="string")
