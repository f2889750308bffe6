"""Write SVL_QUERY_METRICS_SUMMARY and SVL_QUERY_SUMMARY rows from a workload.

The inverse of :mod:`dpcsim.logs.query_metrics` for the generator and round-trip
tests: a query with a known ``mem_mb`` gets one SVL_QUERY_SUMMARY row, a hash
step (``stm`` 0) whose ``bytes`` are the memory it wants and whose
``is_diskbased`` is ``t`` when it spilled (``workmem`` then the memory it kept,
``bytes`` minus the spill); a query with any QMR metric gets one
SVL_QUERY_METRICS_SUMMARY row (bigint columns rounded to integers, as Redshift
writes them). Only queries with a WLM service class are written, as Redshift
records metrics only for queries in user queues.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from dpcsim.logs.detect import spec_named

__all__ = ["write_svl_query_metrics_summary", "write_svl_query_summary"]

_MIB: Final = float(2**20)


def _csv(table: pa.Table, name: str, path: Path) -> Path:
    from dpcsim.logs.writers import _write_csv

    header = ",".join(spec_named(name).columns)
    return _write_csv(table, header, path)


def _int(values: pd.Series) -> pa.Array:
    """Float metric -> nullable integer column (NaN -> empty)."""
    v = values.to_numpy(dtype="float64", na_value=np.nan)
    mask = np.isnan(v)
    return pa.array(np.rint(np.nan_to_num(v)).astype("int64"), mask=mask)


def _known(q: pd.DataFrame, cols: tuple[str, ...]) -> np.ndarray:
    """Rows in a user queue with at least one of ``cols`` known."""
    has = np.zeros(len(q), dtype=bool)
    for c in cols:
        if c in q:
            has |= q[c].notna().to_numpy()
    sc = q["service_class"] if "service_class" in q else pd.Series(pd.NA, index=q.index)
    out: np.ndarray = has & sc.notna().to_numpy() & ~q["cache_hit"].to_numpy(dtype=bool)
    return out


def write_svl_query_metrics_summary(queries: pd.DataFrame, path: Path | str) -> Path:
    """Write one metrics row per query with a known metric; return the path."""
    cols = ("cpu_s", "scanned_mb", "spilled_mb", "scan_rows", "join_rows",
            "nested_loop_rows", "return_rows")  # fmt: skip
    q = queries.loc[_known(queries, cols)]
    names = list(spec_named("svl_query_metrics_summary").columns)
    empty = pa.nulls(len(q), pa.int64())
    values = {
        "userid": pa.array(q["user_id"].to_numpy(dtype="int64")),
        "query": pa.array(q["query_id"].to_numpy(dtype="int64")),
        "service_class": pa.array(q["service_class"].to_numpy(dtype="int64")),
        "query_execution_time": _int(q["exec_s"]),
        "query_cpu_time": _int(q.get("cpu_s", pd.Series(np.nan, index=q.index))),
        "query_blocks_read": _int(q["scanned_mb"]),
        "query_temp_blocks_to_disk": _int(q["spilled_mb"]),
        "scan_row_count": _int(q.get("scan_rows", pd.Series(np.nan, index=q.index))),
        "join_row_count": _int(q.get("join_rows", pd.Series(np.nan, index=q.index))),
        "nested_loop_join_row_count": _int(
            q.get("nested_loop_rows", pd.Series(np.nan, index=q.index))
        ),
        "return_row_count": _int(
            q.get("return_rows", pd.Series(np.nan, index=q.index))
        ),
        "query_queue_time": _int(q["queue_s"]),
    }
    table = pa.table({c: values.get(c, empty) for c in names})
    return _csv(table, "svl_query_metrics_summary", Path(path))


def write_svl_query_summary(queries: pd.DataFrame, path: Path | str) -> Path:
    """Write one hash-step row per query with a known ``mem_mb``; return the path."""
    q = queries.loc[_known(queries, ("mem_mb",)) & queries["mem_mb"].notna().to_numpy()]
    n = len(q)
    want = np.rint(q["mem_mb"].to_numpy(dtype="float64") * _MIB)
    spill = np.nan_to_num(q["spilled_mb"].to_numpy(dtype="float64", na_value=0.0))
    disk = spill > 0.0
    kept = np.where(disk, np.maximum(want - np.rint(spill * _MIB), 0.0), want)
    zeros = pa.array(np.zeros(n, dtype="int64"))
    exec_us = np.rint(q["exec_s"].to_numpy(dtype="float64") * 1e6).astype("int64")
    names = list(spec_named("svl_query_summary").columns)
    values = {
        "userid": pa.array(q["user_id"].to_numpy(dtype="int64")),
        "query": pa.array(q["query_id"].to_numpy(dtype="int64")),
        "stm": zeros,
        "seg": zeros,
        "step": zeros,
        "maxtime": pa.array(exec_us),
        "avgtime": pa.array(exec_us),
        "bytes": pa.array(want.astype("int64")),
        "label": pa.array(["hash   tbl=0"] * n, pa.string()),
        "is_diskbased": pa.array(np.where(disk, "t", "f"), pa.string()),
        "workmem": pa.array(kept.astype("int64")),
        "is_rrscan": pa.array(["f"] * n, pa.string()),
        "is_delayed_scan": pa.array(["f"] * n, pa.string()),
    }
    empty = pa.nulls(n, pa.int64())
    table = pa.table({c: values.get(c, empty) for c in names})
    return _csv(table, "svl_query_summary", Path(path))
