"""STL_DDLTEXT: the DDL statements the query logs leave out.

AWS: STL_QUERY (and SVL_QLOG, built on it) "only contain information about
queries, not other utility and DDL commands" (r_STL_QUERYTEXT.html); the DDL
(CREATE, DROP, ALTER of schemas, tables and views) is in STL_DDLTEXT
(r_STL_DDLTEXT.html): ``userid``, ``xid``, ``pid``, ``label``, ``starttime``,
``endtime``, ``sequence``, ``text`` (``char(200)``: a longer statement is
logged in 200-character pieces, ``sequence`` 0, 1, ...; a blank that ends a
piece other than the last is text, not padding). The only use dpcsim
has for it is the Concurrency Scaling rule on writes that follow DDL in the
same transaction (:mod:`dpcsim.logs.cs_eligibility`), so the reader keeps one
row per statement: ``transaction_id`` (``xid``), ``session_id`` (``pid``),
``start_at``, ``text`` (the pieces joined in order), ``is_ddl``.

STL_UTILITYTEXT has the same columns and is detected as this table; its
statements (BEGIN, COMMIT, GRANT, TRUNCATE, ...) are classified from their text
and only those that classify as DDL count (``is_ddl``).
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from dpcsim.logs.rejects import Checks
from dpcsim.logs.source import Parsed
from dpcsim.logs.sql_type import classify_statements

__all__ = ["DDL_DTYPES", "ddl_starts", "read_ddl_text"]

DDL_DTYPES: Final[dict[str, str]] = {
    "transaction_id": "Int64",
    "session_id": "Int64",
    "start_at": "datetime64[us, UTC]",
    "text": "string",
    "is_ddl": "bool",
}
_KEY: Final = ["xid", "pid", "starttime"]
#: Characters per ``text`` piece (``char(200)``).
_PIECE: Final = 200


def read_ddl_text(
    parsed: Parsed, *, strict: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per logged statement (:data:`DDL_DTYPES`), and the rejected rows.

    A row without ``xid``, ``starttime`` or ``sequence`` is rejected; the pieces
    of one statement (same ``xid``, ``pid`` and ``starttime``) are joined by
    ``sequence``.
    """
    f = parsed.frame
    checks = Checks(parsed, strict)
    checks.require(("xid", "starttime", "sequence"))
    ok, rejects = checks.finish()
    good = f.loc[ok].reset_index(drop=True)
    if not len(good):
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in DDL_DTYPES.items()}), (
            rejects
        )
    pieces = pd.DataFrame(
        {
            "xid": good["xid"].astype("Int64"),
            "pid": good["pid"].astype("Int64")
            if "pid" in good
            else pd.Series(pd.NA, index=good.index, dtype="Int64"),
            "starttime": good["starttime"],
            "sequence": good["sequence"].astype("int64"),
            "text": good["text"].astype("string").fillna("") if "text" in good else "",
        }
    ).sort_values([*_KEY, "sequence"], kind="stable")
    # char(200): every piece but a statement's last is exactly 200 characters,
    # so blanks trimmed off its end (as padding) were text: put them back.
    last = ~pieces.duplicated(_KEY, keep="last").to_numpy()
    full = pieces["text"].str.pad(_PIECE, side="right")
    pieces["text"] = pieces["text"].where(last, full)
    grouped = pieces.groupby(_KEY, sort=True, dropna=False)
    text = grouped["text"].agg("".join).str.strip()
    keys = text.index.to_frame(index=False)
    statements = pd.Series(text.to_numpy(), dtype="string")
    out = pd.DataFrame(
        {
            "transaction_id": keys["xid"].astype("Int64"),
            "session_id": keys["pid"].astype("Int64"),
            "start_at": keys["starttime"],
            "text": statements,
            "is_ddl": (classify_statements(statements) == "ddl").to_numpy(
                dtype=bool, na_value=False
            ),
        }
    )
    return out.astype(DDL_DTYPES), rejects


def ddl_starts(ddl: list[pd.DataFrame]) -> pd.Series:
    """First DDL start per transaction id, over every STL_DDLTEXT file read."""
    frames = [d.loc[d["is_ddl"].to_numpy(dtype=bool)] for d in ddl if len(d)]
    if not frames:
        return pd.Series(dtype="datetime64[us, UTC]")
    rows = pd.concat(frames, ignore_index=True)
    first: pd.Series = rows.groupby("transaction_id", sort=True)["start_at"].min()
    return first
