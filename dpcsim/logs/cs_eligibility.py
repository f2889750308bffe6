"""Which queries may run on a Concurrency Scaling cluster, from their SQL and the log.

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
* is a write after DDL in the same explicit transaction ("When non-supported
  write statements, such as CREATE without TABLE AS, are included in an
  explicit transaction" before supported writes, the writes stay on the main
  cluster: concurrency-scaling.html).

Eligible writes on RA3 (COPY, INSERT, DELETE, UPDATE, CTAS) and the RA3-only
rule are applied by the engine from the statement and node types
(:mod:`dpcsim.engine.queues`); this module flags what the SQL and the log show.

Cross-statement rules use the log itself: a table or function name counts from
the statement that created it onwards (``CREATE TEMP TABLE``, ``... INTERLEAVED
SORTKEY``, ``CREATE FUNCTION ... LANGUAGE plpythonu``); temporary names only
within the creating session when the workload has a ``session_id`` column. The
transaction rule needs a ``transaction_id`` column (``xid`` of SVL_QLOG and
STL_QUERY, ``transaction_id`` of SYS_QUERY_HISTORY), and the DDL itself: it is
a row of SYS_QUERY_HISTORY, while SVL_QLOG and STL_QUERY leave DDL out, so for
them it comes from STL_DDLTEXT (``ddl_starts``; :mod:`dpcsim.logs.ddl_text`);
without it no write of those logs is kept off by this rule. A query without SQL text
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


def cs_eligibility(
    frame: pd.DataFrame, *, ddl_starts: pd.Series | None = None
) -> tuple[np.ndarray, pd.Series]:
    """Classify each query of a canonical frame.

    Parameters
    ----------
    frame
        Canonical query rows (``statement_type``, ``query_text`` and, when
        present, ``session_id``, ``transaction_id``, ``arrival_at``), in
        arrival order.
    ddl_starts
        Start of the first DDL statement per transaction id that is not a row
        of ``frame`` (STL_DDLTEXT); a write of that transaction arriving after
        it is a write after DDL.

    Returns
    -------
    (eligible, reason)
        ``eligible`` per row; ``reason`` the first rule of :data:`REASONS` that
        keeps the row on the main cluster (``<NA>`` when eligible).
    """
    n = len(frame)
    type_codes, type_names = pd.factorize(
        frame["statement_type"].astype("string").fillna("other")
    )
    names = np.asarray(type_names, dtype=object)
    texts = _Texts(frame)
    # Index into REASONS per row, -1 while no rule applies: integer marks are
    # far cheaper than comparing a million-object array per rule.
    reason_code = np.full(n, -1, dtype=np.int8)

    def mark(mask: np.ndarray, why: str) -> None:
        reason_code[(reason_code < 0) & mask] = REASONS.index(why)

    not_scaled = np.isin(names, _NOT_SCALED)
    mark(not_scaled[type_codes], REASONS[0])
    for why, pattern in _PATTERNS.items():
        if why == "temporary table":
            mark(texts.match(pattern), why)
            mark(_references(frame, texts, [_CREATE_TEMP, _INTO_TEMP], True), why)
        elif why == "interleaved sort key":
            made = texts.match(pattern)
            mark(made, why)
            mark(_references(frame, texts, [_CREATE_TABLE], False, made), why)
        elif why == "python or lambda udf":
            mark(texts.match(pattern), why)
            py = texts.match(r"\blanguage\s+plpythonu\b")
            mark(_references(frame, texts, [_PY_FUNC], False, py, call=True), why)
            mark(_references(frame, texts, [_LAMBDA_FUNC], False, call=True), why)
        else:
            mark(texts.match(pattern), why)
    special = texts.match(r"\bidentity\s*\(|\bdiststyle\s+all\b")
    writes = np.isin(names, _WRITES)[type_codes]
    mark(
        writes & _references(frame, texts, [_CREATE_TABLE], False, special), REASONS[6]
    )
    is_ddl = (names == "ddl")[type_codes]
    mark(_after_ddl(frame, is_ddl, writes, ddl_starts), REASONS[8])
    labels = pa.array(list(REASONS), type=pa.string())
    indices = pa.array(reason_code, mask=reason_code < 0).cast(pa.int32())
    out = pd.Series(
        pd.arrays.ArrowStringArray(pc.take(labels, indices)),
        index=frame.index,
        dtype="string",
    )
    return reason_code < 0, out


def reason_counts(reason: pd.Series, text: pd.Series | None = None) -> dict[str, int]:
    """Ineligible queries per reason, plus ``no sql text`` (eligible, no evidence)."""
    counts = {str(k): int(v) for k, v in reason.value_counts().items()}
    out: dict[str, int] = {r: counts[r] for r in REASONS if r in counts}
    if text is not None:
        missing = int((text.isna() & reason.isna()).sum())
        if missing:
            out["no sql text (kept eligible)"] = missing
    return out


class _Texts:
    """The lower-cased SQL texts of a frame, matched once per distinct text.

    Logs repeat the same statements (dashboards, ELT templates), so a regex
    runs over the distinct texts and is mapped back to rows by their codes.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        n = len(frame)
        if "query_text" in frame:
            codes, uniques = pd.factorize(frame["query_text"].astype("string"))
            distinct = pd.Series(uniques, dtype="string").str.lower()
        else:
            codes = np.full(n, -1, dtype=np.intp)
            distinct = pd.Series([], dtype="string")
        #: Row -> index into :attr:`distinct`; missing text maps to the
        #: sentinel slot past the end (never matches).
        self.codes = np.where(codes < 0, len(distinct), codes)
        self.distinct = pa.array(distinct.array, type=pa.string())
        self._python: list[str] | None = None

    def match_distinct(self, pattern: str) -> np.ndarray:
        """Distinct texts matching ``pattern``, plus the sentinel (False)."""
        hit = pc.fill_null(pc.match_substring_regex(self.distinct, pattern), False)
        return np.append(np.asarray(hit.to_numpy(zero_copy_only=False)), False)

    def match(self, pattern: str) -> np.ndarray:
        """Rows whose lower-cased text matches ``pattern`` (missing text: False)."""
        out: np.ndarray = self.match_distinct(pattern)[self.codes]
        return out

    def text(self, code: int) -> str:
        """One distinct lower-cased text."""
        if self._python is None:
            self._python = self.distinct.to_pylist()
        return self._python[code]


def _references(
    frame: pd.DataFrame,
    texts: _Texts,
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
    session = None
    if per_session and "session_id" in frame:
        ids = frame["session_id"]
        # A row whose session the log does not give may be in any session.
        known = ids.notna().to_numpy(dtype=bool)
        session = np.where(known, ids.fillna(-1).to_numpy(dtype=np.int64), -1)
    made: dict[str, list[int]] = {}
    for pattern in creators:
        creates = texts.match_distinct(pattern)
        if not creates.any():
            continue
        hits = creates[texts.codes] & (only if only is not None else True)
        rows = np.flatnonzero(hits)
        codes = texts.codes[rows]
        # One re.search per distinct creating text, then every row holding it.
        for code in np.unique(codes):
            found = re.search(pattern, texts.text(int(code)), flags=re.DOTALL)
            if found:
                made.setdefault(_bare(found.group(1)), []).extend(
                    int(r) for r in rows[codes == code]
                )
    for name, rows_of in made.items():
        tail = r"\s*\(" if call else r"([^\w]|$)"
        ref = texts.match(r"(^|[^\w.])\"?" + re.escape(name) + r"\"?" + tail)
        first = min(rows_of)
        ref[: first + 1] = False
        if session is not None:
            same = np.isin(session, session[rows_of]) | (session < 0)
            if (session[rows_of] < 0).any():
                same[:] = True
            ref &= same
        out |= ref
    return out


def _bare(name: str) -> str:
    """A created name without quotes and without a leading schema for temp names."""
    return name.replace('"', "")


def _after_ddl(
    frame: pd.DataFrame,
    is_ddl: np.ndarray,
    is_write: np.ndarray,
    ddl_starts: pd.Series | None = None,
) -> np.ndarray:
    """Writes (``is_write``) that follow a DDL statement in the same transaction.

    The DDL is a row of ``frame`` (``is_ddl``) or, from ``ddl_starts``, a
    statement of the transaction that started before the write arrived.
    """
    if "transaction_id" not in frame:
        return np.zeros(len(frame), dtype=bool)
    # Integer codes (-1: no transaction id) rather than the nullable column's
    # object array: grouping a million ids as objects cost 0.1 s.
    xid, _ = pd.factorize(frame["transaction_id"])
    known = xid >= 0
    ddl = pd.Series(is_ddl & known).groupby(xid).cummax()
    seen = ddl.to_numpy(dtype=bool) & ~is_ddl
    if ddl_starts is not None and len(ddl_starts) and "arrival_at" in frame:
        first = frame["transaction_id"].map(ddl_starts)
        after = (frame["arrival_at"] > first).to_numpy(dtype=bool, na_value=False)
        seen |= after
    out: np.ndarray = seen & is_write & known
    return out
