"""Turn a canonical workload and its routing into the arrays the engine walks.

Done once before the event loop, with pandas and numpy; the loop itself only
indexes plain arrays. Rows are ordered by arrival then ``query_id`` (stable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dpcsim.errors import InputError
from dpcsim.schema import (
    COLUMNS,
    NO_WLM_EVIDENCE,
    REQUIRED_COLUMNS,
    STATEMENT_TYPES,
    Workload,
)
from dpcsim.schema import validate_workload as _validate
from dpcsim.wlm import RoutingResult, WLMConfig, next_matching_queue, route_workload
from dpcsim.wlm.limits import SQA_SERVICE_CLASS
from dpcsim.wlm.routing import split_groups

__all__ = ["QMR_COLUMNS", "QueryArrays", "arrival_us", "prepare"]

#: QMR metric accrued over a query's execution -> the workload column carrying
#: its total (SVL_QUERY_METRICS_SUMMARY; units as the metric: s, 1 MB blocks
#: = MB, rows).
QMR_COLUMNS: Final[dict[str, str]] = {
    "query_cpu_time": "cpu_s",
    "query_blocks_read": "scanned_mb",
    "query_temp_blocks_to_disk": "spilled_mb",
    "scan_row_count": "scan_rows",
    "join_row_count": "join_rows",
    "nested_loop_join_row_count": "nested_loop_rows",
    "return_row_count": "return_rows",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryArrays:
    """Per-query input arrays in arrival order (index = engine query index).

    Attributes
    ----------
    arrival_s, exec_s
        Arrival [s from ``start_at``] and execution time [s].
    queue
        Engine queue index (configured queues, then the superuser queue).
    stmt
        Statement code (:func:`~dpcsim.engine.queues.statement_code`).
    slots
        ``slot_count``.
    mem_mb, spilled_mb, scanned_mb
        Memory wanted, spilled and scanned [MB]; NaN when unknown.
    cache_hit
        Answered from the result cache.
    cs_eligible
        The workload's ``cs_eligible`` flag (True when the column is absent).
    qmr_metrics
        QMR metric name -> per-query total over the execution (NaN unknown),
        for the metrics the workload carries (:data:`QMR_COLUMNS`).
    logged_abort
        The log shows the query aborted for a cause of its own (an error or a
        user cancel: ``stop_cause`` ``user_or_error``, or no cause logged). An
        abort the cluster caused (a QMR abort or hop, a WLM timeout,
        ``statement_timeout``) is left to the engine: the configuration and
        settings under test decide whether it happens again. Its logged
        execution time is the work done up to the abort, a lower bound.
    fingerprint
        Fingerprint id (-1 = none).
    query_id, task_id
        Carried to the records.
    logged_queue_s
        Logged queue time [s] (NaN when unknown): with ``arrival_s`` and
        ``exec_s``, the logged execution interval.
    logged_on_cs
        The log shows the query ran on a Concurrency Scaling cluster.
    logged_on_sqa
        The log shows the query ran on SQA (``service_class`` 14).
    logged_sqa_queue_s, logged_sqa_exec_s
        Queue and execution time [s] of the SQA attempt the log shows the
        query evicted from before its logged one (NaN: none).
    session
        Session code (-1 = unknown), dense in order of first appearance.
    next_queue
        ``next_queue(i, q)``: the hop target of query ``i`` after queue ``q``,
        or None (cancel).
    start_at
        UTC instant of t = 0.
    fingerprint_keys
        The ``fingerprint`` value of each fingerprint id.
    """

    arrival_s: np.ndarray
    exec_s: np.ndarray
    queue: np.ndarray
    stmt: np.ndarray
    slots: np.ndarray
    mem_mb: np.ndarray
    spilled_mb: np.ndarray
    scanned_mb: np.ndarray
    cache_hit: np.ndarray
    cs_eligible: np.ndarray
    qmr_metrics: dict[str, np.ndarray]
    logged_abort: np.ndarray
    fingerprint: np.ndarray
    query_id: np.ndarray
    task_id: np.ndarray
    logged_queue_s: np.ndarray
    logged_on_cs: np.ndarray
    logged_on_sqa: np.ndarray
    logged_sqa_queue_s: np.ndarray
    logged_sqa_exec_s: np.ndarray
    session: np.ndarray
    next_queue: Callable[[int, int], int | None]
    start_at: pd.Timestamp
    fingerprint_keys: np.ndarray

    @property
    def n(self) -> int:
        """Number of queries."""
        return int(self.arrival_s.size)


def prepare(
    workload: Workload | pd.DataFrame,
    config: WLMConfig,
    routing: RoutingResult | None,
    *,
    origin_us: int | None = None,
) -> QueryArrays:
    """Return the engine's input arrays for ``workload`` under ``config``.

    ``origin_us`` sets t = 0 [µs since the epoch, UTC]; None = the first
    arrival floored to the minute.

    Raises
    ------
    InputError
        When a required column is missing, values break the schema, or
        ``routing`` does not have one entry per workload row.
    """
    frame = workload.queries if isinstance(workload, Workload) else workload
    if any(c not in frame.columns for c in COLUMNS):
        if routing is not None:
            missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
            if missing:
                raise InputError(
                    f"workload lacks column(s) {missing}", source="<workload>"
                )
        else:
            try:
                frame = _validate(frame)
            except ValueError as err:
                raise InputError(str(err), source="<workload>") from None
    if routing is None:
        routing = route_workload(config, frame)
    qidx = np.asarray(routing.queue_index, dtype=np.int64)
    if qidx.size != len(frame):
        raise InputError(
            f"routing has {qidx.size} rows; expected one per workload row "
            f"({len(frame)})",
            source="<routing>",
        )
    arrival_us_ = arrival_us(frame["arrival_at"])
    if origin_us is None:
        first_us = int(arrival_us_.min()) if arrival_us_.size else 0
        origin_us = first_us - first_us % 60_000_000  # floored to the minute
    start_us = origin_us
    start_at = pd.Timestamp(start_us, unit="us", tz="UTC")
    arr_s = (arrival_us_ - start_us) / 1e6
    qid = frame["query_id"].to_numpy(np.int64)
    order = arrival_order(arr_s, qid)
    qidx = np.where(qidx < 0, len(config.queues), qidx)[order]
    return _build(frame, order, arr_s[order], qidx, config, start_at)


def arrival_order(arr_s: np.ndarray, qid: np.ndarray) -> np.ndarray:
    """Row order by arrival, then query id: ``np.lexsort((qid, arr_s))``.

    A log is usually in that order already; two linear checks then give the
    identity without a sort.
    """
    step = np.diff(arr_s)
    if bool((step >= 0).all()):
        ties = np.flatnonzero(step == 0)
        if bool((qid[ties + 1] >= qid[ties]).all()):
            return np.arange(arr_s.size)
    return np.lexsort((qid, arr_s))


def arrival_us(arrival: pd.Series) -> np.ndarray:
    """Arrival instants as int64 microseconds since the epoch (UTC)."""
    if not isinstance(arrival.dtype, pd.DatetimeTZDtype):
        arrival = pd.to_datetime(arrival, utc=True)
    values = arrival.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    out: np.ndarray = values.astype("datetime64[us]").view(np.int64)
    return out


def _statement_codes(raw: pd.Series) -> np.ndarray:
    """Index of each ``statement_type`` in :data:`STATEMENT_TYPES` (int8; -1 for
    a missing or unknown value), as ``pd.Categorical(...).codes`` gives it.

    Text is looked up in Arrow (``index_in``): 0.01 s on 1M rows, where the
    categorical built a Python string per row (0.16 s).
    """
    try:
        values = pa.array(raw, from_pandas=True)
        text = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # objects of mixed types
        text = False
    if not text:
        # Categories, objects of other types: their text (5 -> "5", unknown).
        values = pa.array(raw.astype("string"), from_pandas=True)
    found = pc.index_in(values, value_set=pa.array(STATEMENT_TYPES, pa.string()))
    return np.asarray(pc.fill_null(found, -1)).astype(np.int8)


def _build(
    frame: pd.DataFrame,
    order: np.ndarray,
    arr_s: np.ndarray,
    qidx: np.ndarray,
    config: WLMConfig,
    start_at: pd.Timestamp,
) -> QueryArrays:
    """Assemble the arrays (rows already put in ``order``)."""
    in_order = bool(np.array_equal(order, np.arange(order.size)))

    def col(name: str, default: object, dtype: str) -> np.ndarray:
        if name not in frame.columns:
            return np.full(len(frame), default, dtype=dtype)
        out = np.asarray(frame[name].to_numpy(dtype=dtype, na_value=default))  # type: ignore[call-overload]
        # In order, the column as is (no take, no copy): the engine only reads
        # its inputs, and a copy-on-write frame hands out read-only views.
        result: np.ndarray = out if in_order else out[order]
        return result

    raw = frame["statement_type"]
    codes = _statement_codes(raw)
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise InputError(
            f"row {i + 1}: statement_type={raw.iloc[i]!r}; expected one of "
            f"{list(STATEMENT_TYPES)}",
            source="<workload>",
        )
    exec_s = col("exec_s", np.nan, "float64")
    if not (exec_s >= 0).all():
        raise InputError(
            "exec_s has NaN or negative values; expected seconds >= 0",
            source="<workload>",
        )
    if "fingerprint" in frame.columns:
        fp_codes, uniques = pd.factorize(frame["fingerprint"], use_na_sentinel=True)
        fp_id, fp_keys = fp_codes[order], np.asarray(uniques, dtype=object)
    else:
        fp_id = np.full(len(frame), -1, dtype=np.int64)
        fp_keys = np.zeros(0, dtype=object)
    qid = frame["query_id"].to_numpy(np.int64)[order]
    if "session_id" in frame.columns:
        sess_codes, _ = pd.factorize(frame["session_id"], use_na_sentinel=True)
        session = np.asarray(sess_codes, dtype=np.int64)[order]
    else:
        session = np.full(len(frame), -1, dtype=np.int64)
    return QueryArrays(
        arrival_s=arr_s,
        exec_s=exec_s,
        queue=qidx,
        stmt=codes[order].astype(np.int64),
        slots=col("slot_count", 1, "int64"),
        mem_mb=col("mem_mb", np.nan, "float64"),
        spilled_mb=col("spilled_mb", np.nan, "float64"),
        scanned_mb=col("scanned_mb", np.nan, "float64"),
        cache_hit=col("cache_hit", False, "bool"),
        cs_eligible=col("cs_eligible", True, "bool"),
        qmr_metrics={
            m: col(c, np.nan, "float64")
            for m, c in QMR_COLUMNS.items()
            if c in frame.columns
        },
        logged_abort=col("aborted", False, "bool") & _own_cause(frame, order, in_order),
        fingerprint=np.asarray(fp_id, dtype=np.int64),
        query_id=qid,
        task_id=col("task_id", 0, "int64") if "task_id" in frame.columns else qid,
        logged_queue_s=col("queue_s", np.nan, "float64"),
        logged_on_cs=col("ran_on_cs", False, "bool"),
        logged_on_sqa=col("service_class", -1, "int64") == SQA_SERVICE_CLASS,
        logged_sqa_queue_s=col("sqa_queue_s", np.nan, "float64"),
        logged_sqa_exec_s=col("sqa_exec_s", np.nan, "float64"),
        session=session,
        next_queue=_hop_targets(frame, order, config),
        start_at=start_at,
        fingerprint_keys=fp_keys,
    )


def _hop_targets(
    frame: pd.DataFrame, order: np.ndarray, config: WLMConfig
) -> Callable[[int, int], int | None]:
    """Return a cached ``(query, queue) -> next matching queue`` lookup.

    Uses the same columns as :func:`~dpcsim.wlm.route_workload`: ``user_groups``,
    ``query_group`` and, when the frame has it, ``user_roles``.
    """
    cols = [
        frame[c] if c in frame.columns else None
        for c in ("user_groups", "query_group", "user_roles")
    ]

    @lru_cache(maxsize=4096)
    def lookup(
        user_groups: str | None, query_group: str | None, roles: str | None, q: int
    ) -> int | None:
        if q >= len(config.queues):
            return None
        return next_matching_queue(
            config,
            q,
            user_groups=split_groups(user_groups),
            query_group=query_group,
            user_roles=split_groups(roles),
        )

    def value(c: pd.Series | None, row: int) -> str | None:
        return None if c is None or pd.isna(c.iloc[row]) else str(c.iloc[row])

    def next_queue(i: int, q: int) -> int | None:
        row = int(order[i])
        g, lab, roles = (value(c, row) for c in cols)
        return lookup(g, lab, roles, q)

    return next_queue


def _own_cause(frame: pd.DataFrame, order: np.ndarray, in_order: bool) -> np.ndarray:
    """True where ``stop_cause`` is absent or ``user_or_error`` (in run order)."""
    if "stop_cause" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    cause = frame["stop_cause"].astype("string")
    own = np.asarray((cause.isna() | (cause == NO_WLM_EVIDENCE)).to_numpy(bool))
    result: np.ndarray = own if in_order else own[order]
    return result
