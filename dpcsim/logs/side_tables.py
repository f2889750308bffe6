"""The side tables: STL_LOAD_ERRORS rows and Step Functions executions.

``aws stepfunctions list-executions`` JSON (``{"executions": [{"executionArn",
"stateMachineArn", "name", "status", "startDate", "stopDate"}]}``; dates ISO-8601
with an offset, or epoch seconds as the v1 CLI prints them) becomes
:data:`dpcsim.schema.ELT_RUN_DTYPES`; STL_LOAD_ERRORS (``starttime`` UTC,
``char(n)`` columns trimmed) becomes :data:`dpcsim.schema.LOAD_ERROR_DTYPES`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim.errors import InputError
from dpcsim.logs.detect import TableSpec
from dpcsim.logs.rejects import Checks, empty_rejects
from dpcsim.logs.source import Parsed, as_int64, constant_strings
from dpcsim.schema import ELT_RUN_DTYPES, LOAD_ERROR_DTYPES

__all__ = ["read_load_errors", "read_stepfunctions"]

_SPEC: Final = TableSpec(
    name="stepfunctions_executions",
    columns={"run_id": "str", "status": "str", "start_at": "ts", "stop_at": "ts"},
    signature=frozenset({"run_id"}),
    required=("run_id",),
)
_STATUSES: Final = (
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "ABORTED",
    "PENDING_REDRIVE",
)


def read_load_errors(
    parsed: Parsed, *, strict: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise a parsed STL_LOAD_ERRORS export (:data:`LOAD_ERROR_DTYPES`)."""
    f = parsed.frame
    checks = Checks(parsed, strict)
    checks.require(("query", "starttime", "line_number", "err_code"))
    checks.add(
        f["line_number"].to_numpy(dtype="float64", na_value=np.nan) < 0,
        "line_number",
        "negative line number",
        "line_number >= 0",
    )
    ok, rejects = checks.finish()
    n = len(f)
    out = pd.DataFrame(
        {
            "query_id": as_int64(f["query"]),
            "error_at": f["starttime"],
            "filename": f["filename"].astype("string"),
            "line_number": as_int64(f["line_number"]),
            "colname": f["colname"].astype("string")
            if "colname" in f
            else pd.Series(pd.NA, index=f.index, dtype="string"),
            "err_code": as_int64(f["err_code"]),
            "err_reason": f["err_reason"].astype("string"),
            "source_file": constant_strings(parsed.source, n),
        }
    ).astype(LOAD_ERROR_DTYPES)
    return out.loc[ok].reset_index(drop=True), rejects


def read_stepfunctions(
    document: Any, path: Path, *, strict: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn ``list-executions`` JSON into ELT runs (:data:`ELT_RUN_DTYPES`).

    Raises
    ------
    InputError
        When the document is not ``{"executions": [...]}`` of objects, or (strict)
        an execution lacks a key or has an unparseable date.
    """
    source = str(path)
    items = document.get("executions") if isinstance(document, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InputError(
            "not a Step Functions execution list; expected "
            '{"executions": [{"executionArn", "stateMachineArn", "name", "status", '
            '"startDate", "stopDate"}, ...]} from aws stepfunctions list-executions',
            source=source,
            location="key 'executions'",
        )
    raw = pd.DataFrame(
        {
            k: [i.get(k) for i in items]
            for k in ("name", "status", "startDate", "stopDate")
        }
    )
    frame = pd.DataFrame(
        {
            "run_id": raw["name"].astype("string"),
            "status": raw["status"].astype("string").str.upper(),
            "start_at": _dates(raw["startDate"]),
            "stop_at": _dates(raw["stopDate"]),
        }
    )
    shown = raw.astype("string").set_axis(list(_SPEC.columns), axis=1)
    parsed = Parsed(source, _SPEC, frame, shown)
    checks = Checks(parsed, strict)
    checks.require(("run_id", "status"))
    _date_checks(checks, raw, frame)
    checks.add(
        ~frame["status"].isin(_STATUSES).to_numpy(dtype=bool, na_value=True)
        & frame["status"].notna().to_numpy(),
        "status",
        "unknown status",
        f"one of {list(_STATUSES)}",
    )
    ok, rejects = checks.finish()
    frame["source_file"] = pd.Series([source] * len(frame), dtype="string")
    out = frame.astype(ELT_RUN_DTYPES)
    out = out.loc[ok].sort_values("start_at", kind="stable").reset_index(drop=True)
    return out, rejects if len(rejects) else empty_rejects()


def _date_checks(checks: Checks, raw: pd.DataFrame, frame: pd.DataFrame) -> None:
    """Reject missing/unparseable dates and stops before starts."""
    for key, col in (("startDate", "start_at"), ("stopDate", "stop_at")):
        given = raw[key].notna().to_numpy()
        bad = given & frame[col].isna().to_numpy()
        checks.add(bad, col, "unparseable time", "ISO-8601 with offset or epoch [s]")
    checks.add(
        ~raw["startDate"].notna().to_numpy(), "start_at", "missing value", "startDate"
    )
    checks.add(
        (frame["stop_at"] < frame["start_at"]).to_numpy(dtype=bool, na_value=False),
        "stop_at",
        "end before start",
        "stopDate >= startDate",
    )


def _dates(values: pd.Series) -> pd.Series:
    """ISO-8601 strings with offsets or epoch seconds -> UTC (failures NaT)."""
    numeric = pd.to_numeric(values.where(values.map(_is_number)), errors="coerce")
    text = values.where(values.map(lambda v: isinstance(v, str)))
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    epoch = pd.to_datetime(numeric, unit="s", utc=True, errors="coerce")
    return parsed.fillna(epoch).astype("datetime64[us, UTC]")


def _is_number(value: object) -> bool:
    """True for int/float JSON values (not bools)."""
    return isinstance(value, int | float) and not isinstance(value, bool)
