"""Row-by-row Concurrency Scaling classification, kept as the reference for tests.

The classification as first written (one regex pass over every row, Python lists
of texts). The rules themselves (reasons, patterns, the write-after-DDL and name
helpers) are the module's own, imported from :mod:`dpcsim.logs.cs_eligibility`:
tests/test_logs_cs_eligibility_fast.py checks that the two algorithms agree.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dpcsim.logs.cs_eligibility import (
    _CREATE_TABLE,
    _CREATE_TEMP,
    _INTO_TEMP,
    _LAMBDA_FUNC,
    _NOT_SCALED,
    _PATTERNS,
    _PY_FUNC,
    _WRITES,
    REASONS,
    _bare,
)

__all__ = ["cs_eligibility"]


def cs_eligibility(frame: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
    """Classify each query of a canonical frame.

    Parameters
    ----------
    frame
        Canonical query rows (``statement_type``, ``query_text`` and, when
        present, ``session_id``, ``transaction_id``), in arrival order.

    Returns
    -------
    (eligible, reason)
        ``eligible`` per row; ``reason`` the first rule of :data:`REASONS` that
        keeps the row on the main cluster (``<NA>`` when eligible).
    """
    n = len(frame)
    types = frame["statement_type"].astype("string").fillna("other").to_numpy()
    text = (
        frame["query_text"].astype("string")
        if "query_text" in frame
        else pd.Series(pd.NA, index=frame.index, dtype="string")
    )
    lower = pa.array(text.str.lower().array, type=pa.string())
    reason = np.full(n, None, dtype=object)

    def mark(mask: np.ndarray, why: str) -> None:
        reason[(reason == None) & mask] = why  # noqa: E711 (elementwise)

    mark(np.isin(types, _NOT_SCALED), REASONS[0])
    for why, pattern in _PATTERNS.items():
        if why == "temporary table":
            mark(_match(lower, pattern), why)
            mark(_references(frame, lower, [_CREATE_TEMP, _INTO_TEMP], True), why)
        elif why == "interleaved sort key":
            mark(_match(lower, pattern), why)
            made = _match(lower, pattern)
            mark(_references(frame, lower, [_CREATE_TABLE], False, made), why)
        elif why == "python or lambda udf":
            mark(_match(lower, pattern), why)
            py = _match(lower, r"\blanguage\s+plpythonu\b")
            mark(_references(frame, lower, [_PY_FUNC], False, py, call=True), why)
            mark(_references(frame, lower, [_LAMBDA_FUNC], False, call=True), why)
        else:
            mark(_match(lower, pattern), why)
    special = _match(lower, r"\bidentity\s*\(|\bdiststyle\s+all\b")
    writes = np.isin(types, _WRITES)
    mark(
        writes & _references(frame, lower, [_CREATE_TABLE], False, special), REASONS[6]
    )
    mark(_after_ddl(frame, types), REASONS[8])
    out = pd.Series(reason, index=frame.index, dtype="string")
    return out.isna().to_numpy(), out


def _match(lower: pa.Array, pattern: str) -> np.ndarray:
    """Rows whose lower-cased text matches ``pattern`` (missing text: False)."""
    hit = pc.match_substring_regex(lower, pattern)
    return np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False))


def _references(
    frame: pd.DataFrame,
    lower: pa.Array,
    creators: list[str],
    per_session: bool,
    only: np.ndarray | None = None,
    *,
    call: bool = False,
) -> np.ndarray:
    """Rows that name an object created earlier by a statement matching ``creators``.

    ``only`` restricts the creating statements; ``call`` requires ``name(``.
    """
    n = len(frame)
    out = np.zeros(n, dtype=bool)
    texts = lower.to_pylist()
    session = None
    if per_session and "session_id" in frame:
        ids = frame["session_id"]
        # A row whose session the log does not give may be in any session.
        known = ids.notna().to_numpy(dtype=bool)
        session = np.where(known, ids.fillna(-1).to_numpy(dtype=np.int64), -1)
    made: dict[str, list[int]] = {}
    for pattern in creators:
        hits = _match(lower, pattern) & (only if only is not None else True)
        for row in np.flatnonzero(hits):
            found = re.search(pattern, texts[row], flags=re.DOTALL)
            if found:
                made.setdefault(_bare(found.group(1)), []).append(int(row))
    for name, rows in made.items():
        tail = r"\s*\(" if call else r"([^\w]|$)"
        ref = _match(lower, r"(^|[^\w.])\"?" + re.escape(name) + r"\"?" + tail)
        first = min(rows)
        ref[: first + 1] = False
        if session is not None:
            same = np.isin(session, session[rows]) | (session < 0)
            if (session[rows] < 0).any():
                same[:] = True
            ref &= same
        out |= ref
    return out


def _after_ddl(frame: pd.DataFrame, types: np.ndarray) -> np.ndarray:
    """Writes that follow a DDL row of the same transaction (object arrays)."""
    if "transaction_id" not in frame:
        return np.zeros(len(frame), dtype=bool)
    xid = frame["transaction_id"].to_numpy()
    known = pd.notna(xid)
    ddl = pd.Series((types == "ddl") & known).groupby(xid, dropna=False).cummax()
    seen = ddl.to_numpy(dtype=bool) & ~(types == "ddl")
    out: np.ndarray = seen & np.isin(types, _WRITES) & known
    return out
