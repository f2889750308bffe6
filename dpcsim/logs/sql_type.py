"""Statement type and query fingerprint from SQL text or a logged ``query_type``.

The classifier works on whole columns: it dictionary-encodes the text (logs repeat
the same statements), cleans each distinct value with vectorised RE2 expressions
from :mod:`pyarrow.compute` (comments, leading blanks and parentheses, case) and
maps the leading keyword(s) to one of :data:`dpcsim.schema.STATEMENT_TYPES`.

Rules, in order (first match wins):

* ``create [temp|temporary|local temp] table ... as`` and ``select ... into``
  -> ``ctas``;
* ``padb_fetch_sample:`` (the statement Redshift runs for ANALYZE) -> ``analyze``;
* ``with ...`` -> the main statement after the CTEs (``insert``, ``update``,
  ``delete``, else ``select``);
* the first keyword: ``select``/``values``/``explain``... see :data:`KEYWORDS`;
* anything else (including empty text) -> ``other``.

The fingerprint is the cleaned text with string literals and numbers replaced by
``?`` and runs of blanks collapsed, so repeated shapes compare equal. Reading
files and choosing which column holds the text is left to the table readers.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "KEYWORDS",
    "QUERY_TYPES",
    "analyze_text",
    "arrow_to_strings",
    "classify_statements",
    "fingerprints",
    "partial_evidence",
    "statement_types_from_query_type",
]

#: Leading keyword -> statement type (applied after comments are stripped).
KEYWORDS: Final[dict[str, str]] = {
    "select": "select",
    "values": "select",
    "fetch": "utility",
    "insert": "insert",
    "merge": "insert",
    "update": "update",
    "delete": "delete",
    "copy": "copy",
    "unload": "unload",
    "vacuum": "vacuum",
    "analyze": "analyze",
    "analyse": "analyze",
    "create": "ddl",
    "alter": "ddl",
    "drop": "ddl",
    "truncate": "ddl",
    "grant": "ddl",
    "revoke": "ddl",
    "comment": "ddl",
    "set": "utility",
    "reset": "utility",
    "show": "utility",
    "begin": "utility",
    "start": "utility",
    "commit": "utility",
    "end": "utility",
    "rollback": "utility",
    "abort": "utility",
    "lock": "utility",
    "declare": "utility",
    "close": "utility",
    "prepare": "utility",
    "execute": "utility",
    "deallocate": "utility",
    "explain": "utility",
    "call": "utility",
    "cancel": "utility",
    "refresh": "other",
}

#: ``query_type`` values (SYS_QUERY_HISTORY upper case, Redset lower case) -> type.
#: ``None`` means the logged type is too coarse and the SQL text decides.
QUERY_TYPES: Final[dict[str, str | None]] = {
    "select": "select",
    "insert": "insert",
    "update": "update",
    "delete": "delete",
    "copy": "copy",
    "load": "copy",
    "unload": "unload",
    "ctas": "ctas",
    "vacuum": "vacuum",
    "analyze": "analyze",
    "ddl": "ddl",
    "utility": None,
    "command": None,
    "other": None,
}

_COMMENT_BLOCK: Final = r"/\*(?s:.*?)\*/"
_COMMENT_LINE: Final = r"--[^\n]*"
#: One left-to-right pass over the tokens that must not decide the type: string
#: literals ('...' with '' escapes, E'..' included), quoted identifiers ("..."),
#: dollar-quoted bodies ($$...$$), block and line comments. An unterminated one
#: (SVL_QLOG cuts text at 60 characters) runs to the end of the text.
_OPAQUE: Final = (
    r"'(?:[^']|'')*(?:'|$)"
    r'|"(?:[^"]|"")*(?:"|$)'
    r"|\$\$(?s:.*?)(?:\$\$|$)"
    r"|/\*(?s:.*?)(?:\*/|$)"
    r"|--[^\n]*"
)
_CTAS: Final = (
    r"^(create\s+((local\s+)?(temp|temporary)\s+)?table\b(?s:.*?)"
    r"\bas\s*(?:\(\s*)*(?:select|with|values)\b"
    r"|select\b(?s:.*?)\binto\s+(?:(temp|temporary|table)\s+)*[a-z_#])"
)
_WITH_MAIN: Final = r"^with\b(?s:.*?)\b(?P<main>insert|update|delete)\b"
#: dbt node type (``"node_id": "model.project.name"``) -> statement type, for
#: text cut before its dbt comment ended. dbt runs a ``model`` as CREATE TABLE AS
#: (table and first incremental runs) or INSERT/MERGE; ``ctas`` is the most
#: frequent in dbt-redshift logs. ``test`` nodes are SELECTs, ``seed`` INSERTs,
#: ``snapshot`` MERGE-like INSERT/UPDATE. A documented heuristic, counted.
DBT_NODE_TYPES: Final[dict[str, str]] = {
    "model": "ctas",
    "test": "select",
    "seed": "insert",
    "snapshot": "insert",
    "analysis": "select",
}
_DBT_NODE: Final = r'"node_id"\s*:\s*"(?P<kind>[a-z_]+)\.'


def _clean(text: pa.Array) -> pa.Array:
    """Strip comments and leading blanks/parentheses; lower-case [pyarrow]."""
    out = pc.utf8_lower(pc.fill_null(text, ""))
    out = pc.replace_substring_regex(out, _COMMENT_BLOCK, " ")
    out = pc.replace_substring_regex(out, _COMMENT_LINE, " ")
    return pc.replace_substring_regex(out, r"^[\s(;]+", "")


def _tokens(text: pa.Array) -> pa.Array:
    """Lower-cased text with literals, quoted names and comments blanked [pyarrow]."""
    out = pc.utf8_lower(pc.fill_null(text, ""))
    out = pc.replace_substring_regex(out, _OPAQUE, " ")
    return pc.replace_substring_regex(out, r"^[\s(;]+", "")


_KEYS: Final = pa.array(list(KEYWORDS), pa.string())
_VALUES: Final = pa.array([*KEYWORDS.values(), "other"], pa.string())
_DBT_KEYS: Final = pa.array(list(DBT_NODE_TYPES), pa.string())
_DBT_VALUES: Final = pa.array([*DBT_NODE_TYPES.values(), "other"], pa.string())


def _classify_distinct(raw: pa.Array) -> pa.Array:
    """Statement types of distinct texts, all in pyarrow (no per-row Python)."""
    cleaned = _tokens(raw)
    first = pc.struct_field(pc.extract_regex(cleaned, r"^(?P<w>[a-z_]*)"), [0])
    # Unknown words index the trailing "other" entry of _VALUES.
    pos = pc.fill_null(pc.index_in(first, value_set=_KEYS), len(KEYWORDS))
    out = _VALUES.take(pos)
    with_main = pc.extract_regex(cleaned, _WITH_MAIN)
    is_with = pc.equal(first, "with")
    out = pc.if_else(
        is_with,
        pc.fill_null(pc.struct_field(with_main, [0]), "select"),
        out,
    )
    out = pc.if_else(pc.match_substring_regex(cleaned, _CTAS), "ctas", out)
    out = pc.if_else(pc.starts_with(cleaned, "padb_fetch_sample"), "analyze", out)
    partial = _partial(raw, cleaned)
    dbt = pc.struct_field(
        pc.extract_regex(pc.utf8_lower(pc.fill_null(raw, "")), _DBT_NODE), [0]
    )
    dbt_type = _DBT_VALUES.take(
        pc.fill_null(pc.index_in(dbt, value_set=_DBT_KEYS), len(DBT_NODE_TYPES))
    )
    return pc.if_else(pc.and_(partial, pc.is_valid(dbt)), dbt_type, out)


def _partial(raw: pa.Array, cleaned: pa.Array) -> pa.Array:
    """Texts left with no statement once an unterminated comment is removed."""
    lowered = pc.utf8_lower(pc.fill_null(raw, ""))
    opens = pc.match_substring_regex(lowered, r"^[\s(;]*/\*")
    unterminated = pc.invert(pc.match_substring_regex(lowered, r"\*/"))
    return pc.and_(pc.and_(opens, unterminated), pc.equal(cleaned, ""))


def partial_evidence(text: pa.Array | pa.ChunkedArray) -> int:
    """How many texts were cut inside a leading comment (classified from partial
    evidence: the dbt node type when the comment names it, else ``other``)."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks() if text.num_chunks else pa.array([], pa.string())
    encoded = pc.dictionary_encode(text.cast(pa.string()))
    flags = _partial(encoded.dictionary, _tokens(encoded.dictionary))
    return int(pc.sum(flags.take(encoded.indices)).as_py() or 0)


def analyze_text(text: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """Return (statement type, fingerprint) arrays for SQL text [pyarrow].

    Each distinct text is analysed once: logs repeat statements, so this is far
    cheaper than per-row work. Missing text gives ``other`` and a null fingerprint.
    """
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks() if text.num_chunks else pa.array([], pa.string())
    encoded = pc.dictionary_encode(text.cast(pa.string()))
    cleaned = _clean(encoded.dictionary)
    types = _classify_distinct(encoded.dictionary).take(encoded.indices)
    prints = _fingerprint_distinct(cleaned).take(encoded.indices)
    return pc.fill_null(types, "other"), prints


def classify_statements(text: pd.Series) -> pd.Series:
    """Return the statement type of each SQL text.

    Parameters
    ----------
    text
        SQL text (``substring``, ``querytxt``, ``query_text``); missing -> ``other``.

    Returns
    -------
    pandas.Series
        ``string`` dtype, values in :data:`dpcsim.schema.STATEMENT_TYPES`, same index.

    Examples
    --------
    >>> text = pd.Series(["/* x */ (SELECT 1)", "CREATE TABLE a AS SELECT 1"])
    >>> classify_statements(text).tolist()
    ['select', 'ctas']
    """
    return _series(analyze_text(_arrow(text))[0], text.index)


def fingerprints(text: pd.Series) -> pd.Series:
    """Return a literal-free fingerprint of each SQL text (``<NA>`` when missing).

    String literals become ``'?'``, numbers ``?``, blanks collapse to one space.

    Examples
    --------
    >>> fingerprints(pd.Series(["select *  from t where id = 42 and s = 'x'"])).tolist()
    ["select * from t where id = ? and s = '?'"]
    """
    return _series(analyze_text(_arrow(text))[1], text.index)


def statement_types_from_query_type(
    query_type: pd.Series, text: pd.Series | None
) -> pd.Series:
    """Map a logged ``query_type`` to a statement type, falling back to the text.

    Types that say too little (``COMMAND``, ``UTILITY``, ``OTHER``, unknown) are
    classified from ``text`` when it is given; otherwise ``UTILITY`` -> utility and
    the rest -> other.
    """
    key = query_type.astype("string").str.strip().str.lower()
    mapped = key.map(QUERY_TYPES)
    out = pd.Series(mapped.to_numpy(dtype=object), index=query_type.index)
    out[out.isna()] = None
    coarse = out.isna().to_numpy()
    if coarse.any():
        if text is not None:
            out[coarse] = classify_statements(text[coarse]).to_numpy(dtype=object)
        else:
            out[coarse] = np.where(
                key[coarse].to_numpy() == "utility", "utility", "other"
            )
    return out.astype("string")


def _fingerprint_distinct(cleaned: pa.Array) -> pa.Array:
    """Fingerprints of cleaned distinct texts [pyarrow]."""
    out = pc.replace_substring_regex(cleaned, r"'(?:[^']|'')*'", "'?'")
    out = pc.replace_substring_regex(out, r"\b\d+(?:\.\d+)?\b", "?")
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(out, r"\s+", " "))


def _arrow(series: pd.Series) -> pa.Array:
    """Series of text -> pyarrow string array (zero-copy for arrow-backed str)."""
    return pa.array(series.astype("string").array, type=pa.string())


def arrow_to_strings(values: pa.Array, index: pd.Index | None = None) -> pd.Series:
    """pyarrow strings -> ``string`` Series (with ``index``, default 0..n-1)."""
    out = values.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    return pd.Series(out.array, index=index, dtype="string")


def _series(values: pa.Array, index: pd.Index) -> pd.Series:
    """pyarrow strings -> ``string`` Series with ``index``."""
    return arrow_to_strings(values, index)
