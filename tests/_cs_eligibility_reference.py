"""Row-by-row Concurrency Scaling classification, kept as the reference for tests.

The classification as first written (one regex pass over every row, Python lists
of texts): tests/test_logs_cs_eligibility_fast.py checks that
:func:`dpcsim.logs.cs_eligibility.cs_eligibility` gives the same result.

Original module docstring follows.

Which queries may run on a Concurrency Scaling cluster, from their SQL and the log.

AWS's rules (concurrency-scaling.html, "Limitations", and
concurrency-scaling-candidates.html; facts 2.5 and 7.3): a query stays on the
main cluster when it

* is DDL, a utility or maintenance command (VACUUM on scaling clusters is
  unverified and kept on main), or MERGE and other unsupported DML;
* uses a temporary table (dbt's incremental strategies stage batches in one);
* reads or writes a table with an interleaved sort key;
* calls a Python or Lambda UDF;
* touches system or catalog tables;
* writes to a table with an identity column or ``DISTSTYLE ALL``;
* is a COPY of Parquet/ORC or from EMR, DynamoDB or SSH;
* is a write after DDL in the same explicit transaction.

Eligible writes on RA3 (COPY, INSERT, DELETE, UPDATE, CTAS) and the RA3-only
rule are applied by the engine from the statement and node types
(:mod:`dpcsim.engine.queues`); this module flags what the SQL and the log show.

Cross-statement rules use the log itself: a table or function name counts from
the statement that created it onwards (``CREATE TEMP TABLE``, ``... INTERLEAVED
SORTKEY``, ``CREATE FUNCTION ... LANGUAGE plpythonu``); temporary names only
within the creating session when the workload has a ``session_id`` column. The
transaction rule needs a ``transaction_id`` column. A query without SQL text
stays eligible (no evidence) and is counted as such. SVL_QLOG keeps only 60
characters of text, so a reference past them is missed: join STL_QUERY
(4000 characters) for a better classification.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["REASONS", "cs_eligibility", "reason_counts"]

#: Reasons, in the order they are tested (a query gets the first that applies).
REASONS: Final = (
    "ddl, utility or maintenance",
    "merge or unsupported dml",
    "temporary table",
    "interleaved sort key",
    "python or lambda udf",
    "system table",
    "identity column or diststyle all",
    "copy format or source",
    "write after ddl in transaction",
)
_NOT_SCALED: Final = ("ddl", "utility", "vacuum", "analyze", "other")
_WRITES: Final = ("insert", "update", "delete", "copy", "ctas")
_NAME: Final = r'([#\w."]+)'
_CREATE_TEMP: Final = (
    r"create\s+(?:local\s+)?(?:temp|temporary)\s+table\s+(?:if\s+not\s+exists\s+)?"
    + _NAME
)
_INTO_TEMP: Final = r"\binto\s+(?:temp|temporary)\s+(?:table\s+)?" + _NAME
_CREATE_TABLE: Final = r"create\s+table\s+(?:if\s+not\s+exists\s+)?" + _NAME
_PY_FUNC: Final = r"create\s+(?:or\s+replace\s+)?function\s+" + _NAME
_LAMBDA_FUNC: Final = r"create\s+(?:or\s+replace\s+)?external\s+function\s+" + _NAME
_PATTERNS: Final[dict[str, str]] = {
    "merge or unsupported dml": r"^\s*merge\s",
    "temporary table": (
        r"(create\s+(local\s+)?(temp|temporary)\s+table|\binto\s+(temp|temporary)\s"
        r"|(^|[\s,(])#\w)"
    ),
    "interleaved sort key": r"\binterleaved\s+sortkey\b",
    "python or lambda udf": r"\blanguage\s+plpythonu\b|\bexternal\s+function\b",
    "system table": (
        r"\b(from|join)\s+(pg_catalog\.)?\"?(stl|stv|svl|svv|svcs|sys|pg)_\w+"
    ),
    "copy format or source": (
        r"^\s*copy\s.*(format\s+(as\s+)?(parquet|orc)\b|\bfrom\s+'(emr|dynamodb)://"
        r"|\bssh\b)"
    ),
}


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


def reason_counts(reason: pd.Series, text: pd.Series | None = None) -> dict[str, int]:
    """Ineligible queries per reason, plus ``no sql text`` (eligible, no evidence)."""
    counts = {str(k): int(v) for k, v in reason.value_counts().items()}
    out: dict[str, int] = {r: counts[r] for r in REASONS if r in counts}
    if text is not None:
        missing = int((text.isna() & reason.isna()).sum())
        if missing:
            out["no sql text (kept eligible)"] = missing
    return out


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


def _bare(name: str) -> str:
    """A created name without quotes and without a leading schema for temp names."""
    return name.replace('"', "")


def _after_ddl(frame: pd.DataFrame, types: np.ndarray) -> np.ndarray:
    """Writes that follow a DDL statement in the same transaction."""
    if "transaction_id" not in frame:
        return np.zeros(len(frame), dtype=bool)
    xid = frame["transaction_id"].to_numpy()
    known = pd.notna(xid)
    ddl = pd.Series((types == "ddl") & known).groupby(xid, dropna=False).cummax()
    seen = ddl.to_numpy(dtype=bool) & ~(types == "ddl")
    out: np.ndarray = seen & np.isin(types, _WRITES) & known
    return out
