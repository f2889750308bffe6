"""Per-query memory, spill and QMR metrics from the exports that carry them.

Three exports, each turned into one row per query id with canonical columns
(:data:`METRIC_COLUMNS`), joined onto the queries by :func:`attach_metrics`:

* ``SVL_QUERY_METRICS_SUMMARY`` (r_SVL_QUERY_METRICS_SUMMARY.html): the maximum
  of each QMR metric of a completed query in a user queue. ``query_cpu_time``
  [s] -> ``cpu_s``; ``query_blocks_read`` [1 MB blocks] -> ``scanned_mb``;
  ``query_temp_blocks_to_disk`` [MB: "disk space used to write intermediate
  results"] -> ``spilled_mb``; ``scan_row_count``, ``join_row_count``,
  ``nested_loop_join_row_count``, ``return_row_count`` [rows] -> ``scan_rows``,
  ``join_rows``, ``nested_loop_rows``, ``return_rows``.
* ``SVL_QUERY_SUMMARY`` (r_SVL_QUERY_SUMMARY.html): one row per step,
  aggregated over all nodes; ``bytes`` [bytes] the data of the step, ``workmem``
  [bytes] the working memory assigned to it, ``is_diskbased`` (``t``/``f``)
  whether it ran on disk; only hash, sort and aggregate steps (and window,
  unique) can. The memory a query wants, ``mem_mb`` [MB], is estimated as the
  largest, over its streams (``stm``: steps of a stream run at the same time),
  of the sum over its memory steps of ``bytes`` (``max(bytes, workmem)`` for a
  disk-based step, which wanted more than it was given), divided by 2^20. An
  estimate, not an AWS figure: a hash table needs about the bytes it holds.
* ``SYS_QUERY_DETAIL`` (SYS_QUERY_DETAIL.html): one row per step;
  ``spilled_block_local_disk + spilled_block_remote_disk`` [1 MB blocks] summed
  over steps -> ``spilled_mb``; ``blocks_read`` [1 MB blocks] -> ``scanned_mb``.

Redset's ``mbytes_spilled`` / ``mbytes_scanned`` are read with the rest of a
Redset row (:mod:`dpcsim.logs.redset`).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from dpcsim.logs.rejects import Checks
from dpcsim.logs.source import Parsed, as_int64

__all__ = [
    "METRIC_COLUMNS",
    "METRIC_TABLES",
    "attach_metrics",
    "read_query_metrics",
]

#: Canonical columns the metric exports fill (besides ``query_id``).
METRIC_COLUMNS: Final = (
    "mem_mb",
    "spilled_mb",
    "scanned_mb",
    "cpu_s",
    "scan_rows",
    "join_rows",
    "nested_loop_rows",
    "return_rows",
)
#: Detected table names this module reads.
METRIC_TABLES: Final = (
    "svl_query_metrics_summary",
    "svl_query_summary",
    "sys_query_detail",
)
_MIB: Final = float(2**20)
_MEMORY_STEPS: Final = ("hash", "sort", "aggr", "window", "unique")
_QMR: Final = {
    "query_cpu_time": "cpu_s",
    "query_blocks_read": "scanned_mb",
    "query_temp_blocks_to_disk": "spilled_mb",
    "scan_row_count": "scan_rows",
    "join_row_count": "join_rows",
    "nested_loop_join_row_count": "nested_loop_rows",
    "return_row_count": "return_rows",
}


def read_query_metrics(
    parsed: Parsed, *, strict: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-query metric rows (``query_id`` + some of :data:`METRIC_COLUMNS`).

    Rows are rejected for a missing query id or a negative metric; accepted
    step rows are aggregated per query.
    """
    table = parsed.spec.name
    f = parsed.frame
    key = "query_id" if table == "sys_query_detail" else "query"
    checks = Checks(parsed, strict)
    checks.require((key,))
    numeric = [c for c, k in parsed.spec.columns.items() if k in ("int", "float")]
    for col in numeric:
        if col in f and col not in ("segment_id", "step_id", "stream_id", "table_id"):
            checks.add(
                f[col].to_numpy(dtype="float64", na_value=np.nan) < 0,
                col,
                "negative value",
                f"{col} >= 0",
            )
    ok, rejects = checks.finish()
    good = f.loc[ok].reset_index(drop=True)
    if table == "svl_query_metrics_summary":
        out = _metrics_summary(good)
    elif table == "svl_query_summary":
        out = _query_summary(good)
    else:
        out = _query_detail(good)
    return out, rejects


def _num(f: pd.DataFrame, col: str) -> pd.Series:
    """A numeric column as float64 (NaN when absent or null)."""
    if col not in f:
        return pd.Series(np.nan, index=f.index, dtype="float64")
    return pd.Series(f[col].to_numpy(dtype="float64", na_value=np.nan), index=f.index)


def _metrics_summary(f: pd.DataFrame) -> pd.DataFrame:
    """One row per query: the maximum of each metric (a query may have several)."""
    frame = pd.DataFrame({"query_id": as_int64(f["query"])})
    for metric, col in _QMR.items():
        frame[col] = _num(f, metric).to_numpy()
    return frame.groupby("query_id", sort=True).max().reset_index()


def _query_summary(f: pd.DataFrame) -> pd.DataFrame:
    """Memory wanted per query from its steps (see the module docstring)."""
    label = f["label"].astype("string").str.strip().str.lower().fillna("")
    memory_step = label.str.startswith(_MEMORY_STEPS).to_numpy()
    disk = f["is_diskbased"].fillna(False).to_numpy(dtype=bool)
    size = np.where(
        disk, np.fmax(_num(f, "bytes"), _num(f, "workmem")), _num(f, "bytes")
    )
    steps = pd.DataFrame(
        {
            "query_id": as_int64(f["query"]),
            "stm": _num(f, "stm").fillna(0).to_numpy(),
            "need": np.where(memory_step, np.nan_to_num(size), 0.0),
        }
    )
    per_stream = steps.groupby(["query_id", "stm"], sort=True)["need"].sum()
    mem = per_stream.groupby(level=0).max() / _MIB
    return pd.DataFrame({"query_id": mem.index.to_numpy(), "mem_mb": mem.to_numpy()})


def _query_detail(f: pd.DataFrame) -> pd.DataFrame:
    """Spill and blocks read per query, summed over its steps [1 MB blocks]."""
    local = _num(f, "spilled_block_local_disk")
    remote = _num(f, "spilled_block_remote_disk")
    frame = pd.DataFrame(
        {
            "query_id": as_int64(f["query_id"]),
            "spilled_mb": local.fillna(0) + remote.fillna(0),
            "scanned_mb": _num(f, "blocks_read"),
        }
    )
    grouped = frame.groupby("query_id", sort=True)
    out = grouped.sum(min_count=1)
    return out.reset_index()


def attach_metrics(queries: pd.DataFrame, parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Fill the metric columns of ``queries`` from metric rows, by ``query_id``.

    A value already in ``queries`` (Redset) is kept; among the exports, the
    first one given that has a value wins.
    """
    if not parts or not len(queries):
        return queries
    out = queries.copy(deep=False)
    ids = pd.Index(out["query_id"].to_numpy())
    for col in METRIC_COLUMNS:
        current = (
            out[col].to_numpy(dtype="float64", na_value=np.nan)
            if col in out
            else np.full(len(out), np.nan)
        )
        for part in parts:
            if col not in part:
                continue
            values = part.drop_duplicates("query_id").set_index("query_id")[col]
            mapped = values.reindex(ids).to_numpy(dtype="float64", na_value=np.nan)
            current = np.where(np.isnan(current), mapped, current)
        out[col] = current
    return out
