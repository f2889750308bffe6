"""STL_WLM_RULE_ACTION: the actions query monitoring rules took, one row each.

Columns as AWS writes them (r_STL_WLM_RULE_ACTION): ``userid``, ``query`` (the
attempt's query id, STL/SVL id space), ``service_class``, ``rule`` and
``action`` (``char(256)``, blank-padded: trimmed), ``recordtime`` (UTC), and
``action_value``, ``service_class_name`` when exported. ``action`` is one of
:data:`RULE_ACTIONS`: ``log``, ``hop`` (``hop(reassign)``, ``hop(restart)``),
``abort``, ``change_query_priority``, or ``none`` (the rule's predicates held
but a more severe action of another rule won).

Rows become :data:`RULE_ACTION_DTYPES` (``action`` lower case); the ``abort``
and ``hop`` rows tell a QMR stop from a user's cancel in
:mod:`dpcsim.logs.stop_causes`. Rejected, with the reason: a missing
``query``, ``rule``, ``action`` or ``recordtime``, an unknown action, a
negative query id, and a row repeating an earlier one's query, rule, action
and time (an overlapping export).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from dpcsim.logs.rejects import Checks
from dpcsim.logs.source import Parsed, as_int64, constant_strings

__all__ = ["RULE_ACTIONS", "RULE_ACTION_DTYPES", "read_stl_wlm_rule_action"]

#: Values of ``action`` (lower case) the table documents.
RULE_ACTIONS: Final = (
    "log",
    "hop",
    "hop(reassign)",
    "hop(restart)",
    "abort",
    "change_query_priority",
    "none",
)

#: Columns of the rule-action rows the reader returns.
RULE_ACTION_DTYPES: Final[dict[str, str]] = {
    "query_id": "int64",
    "service_class": "Int64",
    "rule": "string",
    "action": "string",
    "recorded_at": "datetime64[us, UTC]",
    "source_file": "string",
    "source_row": "int64",
}


def read_stl_wlm_rule_action(
    parsed: Parsed, *, strict: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise a parsed STL_WLM_RULE_ACTION export (:data:`RULE_ACTION_DTYPES`).

    Returns
    -------
    (actions, rejects)
    """
    f = parsed.frame
    checks = Checks(parsed, strict)
    checks.require(("query", "rule", "action", "recordtime"))
    action = f["action"].astype("string").str.strip().str.lower()
    checks.add(
        (~action.isin(RULE_ACTIONS) & action.notna()).to_numpy(
            dtype=bool, na_value=False
        ),
        "action",
        "unknown rule action",
        f"one of {list(RULE_ACTIONS)}",
    )
    checks.add(
        f["query"].to_numpy(dtype="float64", na_value=np.nan) < 0,
        "query",
        "negative query id",
        "a query id >= 0",
    )
    key = pd.DataFrame(
        {
            "query": f["query"],
            "rule": f["rule"].astype("string"),
            "action": action,
            "recordtime": f["recordtime"],
        }
    )
    checks.add(
        key.duplicated(keep="first").to_numpy() & key.notna().all(axis=1).to_numpy(),
        "query",
        "duplicate rule action",
        "each (query, rule, action, recordtime) once",
    )
    ok, rejects = checks.finish()
    n = len(f)
    out = pd.DataFrame(
        {
            "query_id": as_int64(f["query"]),
            "service_class": f["service_class"].astype("Float64").astype("Int64")
            if "service_class" in f
            else pd.Series(pd.NA, index=f.index, dtype="Int64"),
            "rule": f["rule"].astype("string"),
            "action": action,
            "recorded_at": f["recordtime"],
            "source_file": constant_strings(parsed.source, n),
            "source_row": parsed.source_rows(),
        }
    ).astype(RULE_ACTION_DTYPES)
    return out.loc[ok].reset_index(drop=True), rejects
