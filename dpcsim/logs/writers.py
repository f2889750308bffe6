"""Write a canonical workload as the AWS exports a real cluster would give.

Layouts are AWS's, verbatim (header = lowercase column names, facts file 3.8):
durations in µs, timestamps UTC with 6 decimals, ``char(n)`` columns blank-padded
where AWS pads them (``substring`` char(60), ``final_state`` char(16),
``query_priority`` char(20), ``service_class_name`` char(64) and the
STL_LOAD_ERRORS text columns). ``label`` (char(320)) is written unpadded to keep
files small; readers trim either way.

One canonical row (one task) becomes one SVL_QLOG row (``starttime`` = arrival,
``endtime`` = arrival + queue + exec + any SQA attempt's exec, ``elapsed`` in
µs) and one STL_WLM_QUERY
attempt (two when it was evicted from SQA: ``sqa_queue_s`` / ``sqa_exec_s``). Rows
with no service class get no STL_WLM_QUERY row, like leader-node
statements; they read back with ``queue_s = 0``. ``xid`` is the row's
``transaction_id`` where known, else derived from its task id (one transaction
per statement); ``pid`` is derived from the user id.
An aborted row's attempt has ``final_state = 'Aborted'``; rows a QMR rule
stopped (``stop_cause`` ``qmr_abort`` / ``qmr_hop``) also get their
STL_WLM_RULE_ACTION row, and timeouts read back from the recorded limits, so
the causes survive a round trip, except an abort whose WLM attempt completed
(a client gone while rows were returned): it is written Aborted too.
Reading is :mod:`dpcsim.logs.reader`'s job.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dpcsim.schema import Workload
from dpcsim.wlm.limits import SQA_SERVICE_CLASS

__all__ = [
    "write_exports",
    "write_stepfunctions_executions",
    "write_stl_load_errors",
    "write_stl_wlm_query",
    "write_stl_wlm_rule_action",
    "write_svl_qlog",
    "write_users",
]

SVL_QLOG_HEADER: Final = (
    "userid,query,xid,pid,starttime,endtime,elapsed,aborted,label,substring,"
    "source_query,concurrency_scaling_status_txt,from_sp_call"
)
STL_WLM_QUERY_HEADER: Final = (
    "userid,xid,task,query,service_class,slot_count,service_class_start_time,"
    "queue_start_time,queue_end_time,total_queue_time,exec_start_time,exec_end_time,"
    "total_exec_time,service_class_end_time,final_state,est_peak_mem,query_priority,"
    "service_class_name"
)
STL_LOAD_ERRORS_HEADER: Final = (
    "userid,slice,tbl,starttime,session,query,filename,line_number,colname,type,"
    "col_length,position,raw_line,raw_field_value,err_code,err_reason"
)
STL_WLM_RULE_ACTION_HEADER: Final = (
    "userid,query,service_class,rule,action,recordtime,action_value,service_class_name"
)
#: The QMR action a stop cause leaves in STL_WLM_RULE_ACTION (the other causes
#: leave none: they are read back from the timeouts).
RULE_ACTION_OF_CAUSE: Final = {"qmr_abort": "abort", "qmr_hop": "hop(restart)"}
USERS_HEADER: Final = "usesysid,usename,usesuper,groname"
DEFAULT_STATE_MACHINE_ARN: Final = (
    "arn:aws:states:ap-northeast-1:123456789012:stateMachine:dpc-elt"
)
#: gzip level for the big tables: blank padding compresses well even at level 1,
#: which is several times faster than zlib's default 6 on million-row exports.
GZIP_LEVEL: Final = 1
_XID_BASE: Final = 10_000_000
_PID_BASE: Final = 1_073_741_824
#: ``service_class_name`` of the SQA service class (14).
SQA_QUEUE_NAME: Final = "Short query queue"
_CS_TEXT: Final = ("Ran on the main cluster", "Ran on a Concurrency Scaling cluster")


def write_svl_qlog(queries: pd.DataFrame, path: Path | str) -> Path:
    """Write SVL_QLOG rows (gzip when ``path`` ends in ``.gz``) and return the path."""
    q = queries
    start = _ts(q["arrival_at"])
    # An SQA eviction's wasted run is part of the statement's elapsed time.
    total_us = _us(q["queue_s"]) + _us(q["exec_s"])
    total_us += _us(pd.Series(np.nan_to_num(_optional(q, "sqa_exec_s"))))
    query = q["query_id"].to_numpy(dtype="int64")
    cache = q["cache_hit"].to_numpy(dtype=bool)
    table = pa.table(
        {
            "userid": q["user_id"].to_numpy(dtype="int64"),
            "query": query,
            "xid": _xid(q),
            "pid": _PID_BASE + q["user_id"].to_numpy(dtype="int64") % 100_000,
            "starttime": start,
            "endtime": _plus(start, total_us),
            "elapsed": total_us,
            "aborted": q["aborted"].to_numpy(dtype="int64"),
            "label": _text(q["query_group"]),
            "substring": _pad(_text(q["query_text"]), 60),
            "source_query": pa.array(_cache_source(q), mask=~cache),
            "concurrency_scaling_status_txt": pa.array(
                np.asarray(_CS_TEXT, dtype=object)[
                    q["ran_on_cs"].to_numpy(dtype="int64")
                ],
                pa.string(),
            ),
            "from_sp_call": pa.nulls(len(q), pa.int64()),
        }
    )
    return _write_csv(table, SVL_QLOG_HEADER, Path(path))


def write_stl_wlm_query(queries: pd.DataFrame, path: Path | str) -> Path:
    """Write the STL_WLM_QUERY attempts of rows with a service class; return the path.

    A row with ``sqa_exec_s`` (evicted from Short Query Acceleration) is two
    attempts of one query id, as a cluster logs it: service class 14 with its
    own ``sqa_queue_s`` / ``sqa_exec_s`` and ``final_state = 'Evicted'``, then
    the queue attempt starting at the eviction with the rest of ``queue_s`` and
    ``exec_s``. Any other row is one attempt.
    """
    q = queries.loc[queries["service_class"].notna().to_numpy()]
    n = len(q)
    sqa_queue_s = _optional(q, "sqa_queue_s")
    sqa_exec_s = _optional(q, "sqa_exec_s")
    evicted = np.isfinite(sqa_exec_s)
    # Attempt rows: every row's final attempt, plus an SQA attempt before each
    # evicted one (same query id, earlier start).
    row = np.r_[np.flatnonzero(evicted), np.arange(n)]
    is_sqa = np.r_[np.ones(int(evicted.sum()), bool), np.zeros(n, bool)]
    order = np.lexsort((~is_sqa, row))
    row, is_sqa = row[order], is_sqa[order]
    a = q.take(row)
    arrival = _ts(a["arrival_at"])
    sqa_queue_us = _us(pd.Series(np.where(evicted, sqa_queue_s, 0.0)[row]))
    sqa_exec_us = _us(pd.Series(np.where(evicted, sqa_exec_s, 0.0)[row]))
    queue_us = np.where(is_sqa, sqa_queue_us, _us(a["queue_s"]) - sqa_queue_us)
    exec_us = np.where(is_sqa, sqa_exec_us, _us(a["exec_s"]))
    start = _plus(arrival, np.where(is_sqa, 0, sqa_queue_us + sqa_exec_us))
    queue_end = _plus(start, queue_us)
    exec_end = _plus(queue_end, exec_us)
    sc = np.where(is_sqa, SQA_SERVICE_CLASS, a["service_class"].to_numpy("int64"))
    state = np.where(
        is_sqa,
        "Evicted",
        np.where(a["aborted"].to_numpy(dtype=bool), "Aborted", "Completed"),
    )
    priority = np.where(sc >= 100, "Normal", "n/a")
    mem = np.rint(a["mem_mb"].to_numpy(dtype="float64", na_value=0.0) * 1_048_576)
    name = a["queue"].astype("string").mask(is_sqa, SQA_QUEUE_NAME)
    table = pa.table(
        {
            "userid": a["user_id"].to_numpy(dtype="int64"),
            "xid": _xid(a),
            "task": a["task_id"].to_numpy(dtype="int64"),
            "query": a["query_id"].to_numpy(dtype="int64"),
            "service_class": sc,
            "slot_count": np.where(is_sqa, 1, a["slot_count"].to_numpy("int64")),
            "service_class_start_time": start,
            "queue_start_time": start,
            "queue_end_time": queue_end,
            "total_queue_time": queue_us,
            "exec_start_time": queue_end,
            "exec_end_time": exec_end,
            "total_exec_time": exec_us,
            "service_class_end_time": exec_end,
            "final_state": _pad(pa.array(state, pa.string()), 16),
            "est_peak_mem": np.nan_to_num(mem).astype("int64"),
            "query_priority": _pad(pa.array(priority, pa.string()), 20),
            "service_class_name": _pad(_text(name), 64),
        }
    )
    return _write_csv(table, STL_WLM_QUERY_HEADER, Path(path))


def write_stl_wlm_rule_action(queries: pd.DataFrame, path: Path | str) -> Path:
    """Write the QMR ``abort`` / ``hop`` rows of the QMR-stopped queries; return it.

    One row per query whose ``stop_cause`` is ``qmr_abort`` (action ``abort``)
    or ``qmr_hop`` (``hop(restart)``), recorded at the query's end, named after
    its cause (the canonical workload does not keep rule names).
    """
    cause = queries["stop_cause"].astype("string")
    q = queries.loc[cause.isin(list(RULE_ACTION_OF_CAUSE)).to_numpy(bool)]
    kind = q["stop_cause"].astype("string")
    spent = (
        _us(q["queue_s"])
        + _us(q["exec_s"])
        + _us(pd.Series(_optional(q, "sqa_exec_s")))
    )
    action = kind.map(RULE_ACTION_OF_CAUSE).astype("string")
    table = pa.table(
        {
            "userid": q["user_id"].to_numpy(dtype="int64"),
            "query": q["query_id"].to_numpy(dtype="int64"),
            "service_class": pa.Array.from_pandas(q["service_class"].astype("Int64")),
            "rule": _pad(_text(kind), 256),
            "action": _pad(_text(action), 256),
            "recordtime": _plus(_ts(q["arrival_at"]), spent),
            "action_value": _pad(pa.array([""] * len(q), pa.string()), 256),
            "service_class_name": _pad(_text(q["queue"]), 64),
        }
    )
    return _write_csv(table, STL_WLM_RULE_ACTION_HEADER, Path(path))


def _xid(q: pd.DataFrame) -> np.ndarray:
    """``transaction_id`` where known, else one transaction per task."""
    derived = _XID_BASE + q["task_id"].to_numpy(dtype="int64")
    if "transaction_id" not in q:
        return derived
    known = q["transaction_id"].astype("Int64")
    out: np.ndarray = np.where(
        known.notna().to_numpy(), known.fillna(0).to_numpy(dtype="int64"), derived
    )
    return out


def _optional(q: pd.DataFrame, col: str) -> np.ndarray:
    """A float column that may be absent (NaN then)."""
    if col not in q:
        return np.full(len(q), np.nan)
    return np.asarray(q[col].to_numpy(dtype="float64", na_value=np.nan))


def write_users(
    queries: pd.DataFrame, path: Path | str, *, superusers: tuple[str, ...] = ()
) -> Path:
    """Write the ``pg_user``/``pg_group`` join (``usesysid,usename,usesuper,groname``).

    One row per user and group (an empty ``groname`` for users in no group), for
    every named user in ``queries``.
    """
    cols = ["user_id", "user_name", "user_groups"]
    users = queries.loc[queries["user_name"].notna(), cols].drop_duplicates("user_name")
    rows: list[tuple[int, str, str, str]] = []
    for uid, name, groups in users.sort_values("user_id").itertuples(index=False):
        flag = "t" if name in superusers else "f"  # psql prints booleans as t/f
        names = [] if groups is pd.NA or not groups else str(groups).split(",")
        rows.extend((int(uid), str(name), flag, g.strip()) for g in names or [""])
    frame = pd.DataFrame(rows, columns=USERS_HEADER.split(","))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return _write_csv(table, USERS_HEADER, Path(path))


def write_stepfunctions_executions(
    elt_runs: pd.DataFrame,
    path: Path | str,
    *,
    state_machine_arn: str = DEFAULT_STATE_MACHINE_ARN,
) -> Path:
    """Write ``aws stepfunctions list-executions`` JSON (dates ISO-8601, UTC offset)."""
    execs: list[dict[str, Any]] = []
    for run in elt_runs.sort_values("start_at", ascending=False).itertuples():
        item: dict[str, Any] = {
            "executionArn": state_machine_arn.replace(":stateMachine:", ":execution:")
            + f":{run.run_id}",
            "stateMachineArn": state_machine_arn,
            "name": str(run.run_id),
            "status": str(run.status),
            "startDate": pd.Timestamp(run.start_at).isoformat(),  # type: ignore[arg-type]
        }
        if not pd.isna(run.stop_at):  # type: ignore[arg-type]
            item["stopDate"] = pd.Timestamp(run.stop_at).isoformat()  # type: ignore[arg-type]
        execs.append(item)
    out = Path(path)
    out.write_text(json.dumps({"executions": execs}, indent=4) + "\n", encoding="utf-8")
    return out


def write_stl_load_errors(load_errors: pd.DataFrame, path: Path | str) -> Path:
    """Write STL_LOAD_ERRORS rows with AWS's blank-padded char columns."""
    e = load_errors
    n = len(e)
    zeros = np.zeros(n, dtype="int64")
    blank = pa.array([""] * n, pa.string())
    table = pa.table(
        {
            "userid": zeros + 100,
            "slice": zeros,
            "tbl": zeros,
            "starttime": _ts(e["error_at"]),
            "session": zeros,
            "query": e["query_id"].to_numpy(dtype="int64"),
            "filename": _pad(_text(e["filename"]), 256),
            "line_number": e["line_number"].to_numpy(dtype="int64"),
            "colname": _pad(_text(e["colname"]), 127),
            "type": _pad(blank, 10),
            "col_length": _pad(blank, 10),
            "position": zeros,
            "raw_line": _pad(blank, 1024),
            "raw_field_value": _pad(blank, 1024),
            "err_code": e["err_code"].to_numpy(dtype="int64"),
            "err_reason": _pad(_text(e["err_reason"]), 100),
        }
    )
    return _write_csv(table, STL_LOAD_ERRORS_HEADER, Path(path))


def write_exports(
    workload: Workload, out_dir: Path | str, *, superusers: tuple[str, ...] = ()
) -> dict[str, Path]:
    """Write every export of ``workload`` into ``out_dir``.

    Returns
    -------
    dict
        ``svl_qlog`` -> svl_qlog.csv.gz, ``stl_wlm_query`` -> stl_wlm_query.csv.gz,
        ``users`` -> users.csv, ``stepfunctions_executions`` ->
        stepfunctions_executions.json, ``stl_load_errors`` -> stl_load_errors.csv,
        and, when the workload has memory or spill figures, ``svl_query_summary``
        and ``svl_query_metrics_summary`` (``.csv.gz``), and, when QMR stopped
        any query, ``stl_wlm_rule_action`` -> stl_wlm_rule_action.csv.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    q = workload.queries
    return {
        "svl_qlog": write_svl_qlog(q, out / "svl_qlog.csv.gz"),
        "stl_wlm_query": write_stl_wlm_query(q, out / "stl_wlm_query.csv.gz"),
        "users": write_users(q, out / "users.csv", superusers=superusers),
        "stepfunctions_executions": write_stepfunctions_executions(
            workload.elt_runs, out / "stepfunctions_executions.json"
        ),
        "stl_load_errors": write_stl_load_errors(
            workload.load_errors, out / "stl_load_errors.csv"
        ),
        **_metric_exports(q, out),
        **_rule_action_exports(q, out),
    }


def _rule_action_exports(q: pd.DataFrame, out: Path) -> dict[str, Path]:
    """STL_WLM_RULE_ACTION when a query was stopped by QMR (else no file)."""
    if not q["stop_cause"].isin(list(RULE_ACTION_OF_CAUSE)).any():
        return {}
    return {
        "stl_wlm_rule_action": write_stl_wlm_rule_action(
            q, out / "stl_wlm_rule_action.csv"
        )
    }


def _metric_exports(q: pd.DataFrame, out: Path) -> dict[str, Path]:
    """SVL_QUERY_SUMMARY / SVL_QUERY_METRICS_SUMMARY when the workload has figures."""
    from dpcsim.logs.metric_writers import (
        write_svl_query_metrics_summary,
        write_svl_query_summary,
    )

    files: dict[str, Path] = {}
    if q["mem_mb"].notna().any():
        files["svl_query_summary"] = write_svl_query_summary(
            q, out / "svl_query_summary.csv.gz"
        )
    if q[["spilled_mb", "scanned_mb"]].notna().any(axis=None):
        files["svl_query_metrics_summary"] = write_svl_query_metrics_summary(
            q, out / "svl_query_metrics_summary.csv.gz"
        )
    return files


def _write_csv(table: pa.Table, header: str, path: Path) -> Path:
    """Write a header line and rows as ``psql --csv`` does (gzip for ``.gz``).

    psql quotes a value only when it holds a comma, a quote, CR or LF (a quote
    inside is doubled), writes NULL as an empty field, booleans as ``t``/``f``
    and timestamps as PostgreSQL prints them (trailing zero microseconds
    dropped, no fraction when zero).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    body = b""
    if table.num_rows:
        fields = [_psql_field(col) for col in table.columns]
        lines = pc.binary_join_element_wise(*fields, ",")
        # Each line plus its newline; the values buffer is then the file body.
        ended = pc.binary_join_element_wise(lines, "", "\n").cast(pa.large_string())
        offsets = np.frombuffer(ended.buffers()[1], dtype=np.int64)
        first, last = offsets[ended.offset], offsets[ended.offset + len(ended)]
        body = ended.buffers()[2].to_pybytes()[first:last]
    data = (header + "\n").encode() + body
    if path.suffix == ".gz":
        # mtime=0 keeps the bytes reproducible for the same workload.
        data = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    path.write_bytes(data)
    return path


_NEEDS_QUOTES: Final = r'[,"\r\n]'


def _psql_field(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One column as psql --csv text (empty for NULL)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_large_string(col.type):
        col = col.cast(pa.string())
    kind = col.type
    if pa.types.is_boolean(kind):
        text = pc.if_else(col, "t", "f")
    elif pa.types.is_timestamp(kind):
        text = pc.strftime(col.cast(pa.timestamp("us")), format="%Y-%m-%d %H:%M:%S")
        # strftime's %S carries the fraction; PostgreSQL drops trailing zeros.
        text = pc.replace_substring_regex(text, r"(\.\d*?)0+$", r"\1")
        text = pc.replace_substring_regex(text, r"\.$", "")
    elif pa.types.is_string(kind):
        quoted = pc.binary_join_element_wise(
            '"', pc.replace_substring(col, '"', '""'), '"', ""
        )
        text = pc.if_else(pc.match_substring_regex(col, _NEEDS_QUOTES), quoted, col)
    else:
        text = col.cast(pa.string())
    return pc.fill_null(text.cast(pa.string()), "")


def _ts(values: pd.Series) -> pa.Array:
    """tz-aware UTC times -> naive µs timestamps (written with 6 decimals)."""
    utc = pd.Series(values).astype("datetime64[us, UTC]").dt.tz_convert(None)
    return pa.array(utc.to_numpy().astype("datetime64[us]"), pa.timestamp("us"))


def _us(seconds: pd.Series) -> np.ndarray:
    """Seconds -> whole µs (NaN -> 0)."""
    s = seconds.to_numpy(dtype="float64", na_value=np.nan)
    out: np.ndarray = np.rint(np.nan_to_num(s, nan=0.0) * 1e6).astype("int64")
    return out


def _plus(start: pa.Array, micros: np.ndarray) -> pa.Array:
    """Timestamp + µs."""
    base = start.to_numpy(zero_copy_only=False).astype("datetime64[us]")
    return pa.array(base + micros.astype("timedelta64[us]"), pa.timestamp("us"))


def _text(values: pd.Series) -> pa.Array:
    """Text column -> pyarrow strings (missing -> empty)."""
    return pa.array(values.astype("string").fillna("").array, pa.string())


def _pad(values: pa.Array, width: int) -> pa.Array:
    """Truncate to ``width`` characters and blank-pad like ``char(width)``."""
    return pc.utf8_rpad(
        pc.utf8_slice_codeunits(values, 0, width), width=width, padding=" "
    )


def _cache_source(q: pd.DataFrame) -> np.ndarray:
    """Source query id of cache hits: the first query with the same fingerprint."""
    key = q["fingerprint"].astype("string").fillna(q["query_id"].astype("string"))
    first = q["query_id"].groupby(key.to_numpy()).transform("min")
    return np.asarray(first.to_numpy(dtype="int64"))
