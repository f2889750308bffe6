"""The tidy datapoint frame: the one format every CloudWatch series in dpcsim uses.

A *datapoints frame* has one row per published datapoint, exactly as a publisher
sends it to ``PutMetricData`` (raw values; statistics per period are computed
from these, see :mod:`dpcsim.metrics.statistics`), or one row per period
statistic when the values came from ``GetMetricData``.

Columns
-------
timestamp : datetime64[us, UTC]
    When the datapoint was published: the start of its minute for per-minute
    metrics, or its exact publish time. For period statistics (``stat`` set), the
    start of the period, as ``GetMetricData`` labels its results.
namespace : category
    ``AWS/Redshift``, ``Custom/DPC``, ...
metric_name : category
    ``WLMQueueLength``, ``ELTExecutionDelay``, ...
dimensions : category
    ``Name=Value;Name=Value`` sorted by ``Name``; ``""`` for no dimensions. Names
    may not contain ``=`` or ``;`` and values may not contain ``;``.
value : float64
    The value, in ``unit``.
unit : category, optional
    A CloudWatch ``StandardUnit`` (``Count``, ``Percent``, ``Milliseconds``, ...).
period_s : Int64, optional
    Only for period statistics: the period the value summarises [s]; ``<NA>``
    for raw datapoints.
stat : string, optional
    Only for period statistics: the statistic (``Average``, ``p99``, ...);
    ``<NA>`` for raw datapoints.

The text columns are categoricals of strings (categories sorted): a run of
90 days holds millions of datapoints but a few dozen distinct names, so a
datapoint costs a byte of code per text column instead of a copy of its text.
Files hold them as plain strings (:func:`dpcsim.canonical.write_parquet`).
The tidy CSV holds the same columns (``timestamp`` in ISO 8601, UTC when the
offset is omitted).
"""

from __future__ import annotations

import functools
import gzip
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim.errors import InputError

__all__ = [
    "DATAPOINT_COLUMNS",
    "DATAPOINT_DTYPES",
    "OPTIONAL_DATAPOINT_DTYPES",
    "concat_datapoints",
    "dimensions_key",
    "empty_datapoints",
    "make_datapoints",
    "parse_dimensions",
    "read_datapoints_csv",
    "read_get_metric_data",
    "validate_datapoints",
]

#: Required columns, in order, and their dtypes.
DATAPOINT_DTYPES: Final[dict[str, str]] = {
    "timestamp": "datetime64[us, UTC]",
    "namespace": "category",
    "metric_name": "category",
    "dimensions": "category",
    "value": "float64",
}
#: Optional columns and their dtypes.
OPTIONAL_DATAPOINT_DTYPES: Final[dict[str, str]] = {
    "unit": "category",
    "period_s": "Int64",
    "stat": "string",
}
DATAPOINT_COLUMNS: Final[tuple[str, ...]] = tuple(DATAPOINT_DTYPES)


def dimensions_key(dimensions: Mapping[str, str] | None) -> str:
    """Return the canonical ``Name=Value;Name=Value`` string (sorted by name).

    Raises
    ------
    InputError
        If a name is empty or contains ``=``/``;``, or a value contains ``;``.
    """
    if not dimensions:
        return ""
    parts = []
    for name in sorted(dimensions):
        value = str(dimensions[name])
        if not name or "=" in name or ";" in name:
            raise InputError(
                f"dimension name {name!r} must be non-empty without '=' or ';'",
                location="dimensions",
            )
        if ";" in value:
            raise InputError(
                f"dimension {name}={value!r}: values may not contain ';'",
                location="dimensions",
            )
        parts.append(f"{name}={value}")
    return ";".join(parts)


def parse_dimensions(text: str, *, source: str = "<dimensions>") -> dict[str, str]:
    """Parse ``Name=Value;Name=Value`` (``""`` -> ``{}``) into a dict."""
    out: dict[str, str] = {}
    if not text:
        return out
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if not sep or not name:
            raise InputError(
                f"bad dimensions {text!r}: expected 'Name=Value;Name=Value'",
                source=source,
            )
        if name in out:
            raise InputError(f"dimension {name!r} repeated in {text!r}", source=source)
        out[name] = value
    return out


def empty_datapoints() -> pd.DataFrame:
    """Return an empty datapoints frame with the required columns."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in DATAPOINT_DTYPES.items()})


def make_datapoints(
    timestamps: Any,
    values: Any,
    *,
    namespace: str,
    metric_name: str,
    dimensions: Mapping[str, str] | str | None = None,
    unit: str | None = None,
) -> pd.DataFrame:
    """Build a datapoints frame for one metric.

    Parameters
    ----------
    timestamps
        Anything ``pd.to_datetime`` takes; naive values are read as UTC.
    values
        One value per timestamp, in ``unit``.
    namespace, metric_name
        The metric.
    dimensions
        A dict, or an already canonical ``Name=Value;...`` string.
    unit
        Optional CloudWatch unit.
    """
    ts = pd.to_datetime(pd.Series(timestamps), utc=True).astype("datetime64[us, UTC]")
    vals = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(vals) != len(ts):
        raise InputError(
            f"{metric_name}: {len(ts)} timestamps but {len(vals)} values",
            location="values",
        )
    dims = dimensions if isinstance(dimensions, str) else dimensions_key(dimensions)
    frame = pd.DataFrame(
        {
            "timestamp": ts.to_numpy(),
            "namespace": repeat_category(namespace, len(ts)),
            "metric_name": repeat_category(metric_name, len(ts)),
            "dimensions": repeat_category(dims, len(ts)),
            "value": vals,
        }
    )
    if unit is not None:
        frame["unit"] = repeat_category(unit, len(ts))
    return frame


def repeat_category(text: str, n: int) -> pd.Categorical:
    """``n`` copies of ``text`` as a one-category categorical (no list of n)."""
    codes = np.zeros(n, dtype=np.int8)
    out: pd.Categorical = pd.Categorical.from_codes(
        codes, dtype=_one_category(text), validate=False
    )
    return out


@functools.lru_cache(maxsize=4096)
def _one_category(text: str) -> pd.CategoricalDtype:
    """The dtype of a categorical holding only ``text`` (a run builds hundreds)."""
    return pd.CategoricalDtype(pd.Index([text], dtype="str"))


def text_category(values: Any) -> pd.Categorical:
    """Strings (or a categorical of them) as a categorical, categories sorted."""
    cat = pd.Categorical(values)
    categories = pd.Index(cat.categories.astype(str), dtype="str")
    if not categories.is_monotonic_increasing:
        return pd.Categorical(cat, categories=categories.sort_values())
    return cat.rename_categories(categories)


def concat_datapoints(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate datapoints frames, keeping optional columns where present."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_datapoints()
    return validate_datapoints(pd.concat(frames, ignore_index=True))


def validate_datapoints(
    frame: pd.DataFrame, *, source: str = "<datapoints>"
) -> pd.DataFrame:
    """Check columns and coerce dtypes; return a new frame.

    Raises
    ------
    InputError
        Naming the source, the first bad row and column when a required column is
        missing, a timestamp does not parse or a value is not a number.
    """
    missing = [c for c in DATAPOINT_DTYPES if c not in frame.columns]
    if missing:
        raise InputError(
            f"missing column(s) {missing}; expected {list(DATAPOINT_COLUMNS)}",
            source=source,
        )
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    out["timestamp"] = _coerce_timestamps(frame["timestamp"], source)
    for col in ("namespace", "metric_name"):
        s = frame[col].astype("string")
        _fail_on(s.isna() | (s == ""), frame[col], col, "a non-empty name", source)
        out[col] = text_category(s)
    dims = frame["dimensions"].astype("string").fillna("")
    for text in dims.unique():
        parse_dimensions(str(text), source=source)
    out["dimensions"] = text_category(dims)
    out["value"] = _coerce_values(frame["value"], source)
    for col, dtype in OPTIONAL_DATAPOINT_DTYPES.items():
        if col in frame.columns:
            if dtype == "category":
                out[col] = text_category(frame[col].astype("string"))
            else:
                out[col] = frame[col].astype(dtype).to_numpy()  # type: ignore[call-overload]
    return out


def _fail_on(
    bad: pd.Series, raw: pd.Series, col: str, expected: str, source: str
) -> None:
    """Raise an InputError naming the first row where ``bad`` holds."""
    mask = bad.fillna(True).to_numpy(dtype=bool)
    if mask.any():
        row = int(np.flatnonzero(mask)[0])
        raise InputError(
            f"column {col!r}: bad value {raw.iloc[row]!r}, expected {expected}",
            source=source,
            location=f"row {row + 1}",
        )


def _coerce_timestamps(raw: pd.Series, source: str) -> np.ndarray:
    """Parse timestamps (naive -> UTC) into datetime64[us, UTC] values."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        parsed = raw.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(raw.dtype):
        parsed = raw.dt.tz_localize("UTC")
    else:
        parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
    _fail_on(parsed.isna(), raw, "timestamp", "an ISO 8601 timestamp", source)
    return np.asarray(parsed.astype("datetime64[us, UTC]"))


def _coerce_values(raw: pd.Series, source: str) -> np.ndarray:
    """Parse values into float64; blanks and text are errors."""
    parsed = pd.to_numeric(raw, errors="coerce")
    _fail_on(pd.Series(parsed).isna(), raw, "value", "a number", source)
    return np.asarray(parsed, dtype=np.float64)


def read_datapoints_csv(path: str | Path) -> pd.DataFrame:
    """Read a tidy CSV (``timestamp, namespace, metric_name, dimensions, value``).

    Blank ``dimensions`` cells mean no dimensions. Optional columns ``unit``,
    ``period_s`` and ``stat`` are kept.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise InputError(
            "empty file; expected a tidy datapoints CSV", source=str(path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"undecodable byte {exc.object[exc.start : exc.start + 1]!r}; "
            "expected a UTF-8 tidy datapoints CSV",
            source=str(path),
        ) from None
    except (pd.errors.ParserError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(
            f"unreadable CSV ({' '.join(str(exc).split())}); expected a tidy "
            "datapoints CSV (gzip allowed)",
            source=str(path),
        ) from None
    for col in ("period_s", "stat", "unit"):
        if col in raw.columns:
            raw[col] = raw[col].replace("", None)
    if "period_s" in raw.columns:
        period = pd.to_numeric(raw["period_s"], errors="coerce")
        bad = period.isna() & raw["period_s"].notna()
        _fail_on(bad, raw["period_s"], "period_s", "an integer period [s]", str(path))
        raw["period_s"] = period.astype("Int64")
    return validate_datapoints(raw, source=str(path))


def read_get_metric_data(path: str | Path) -> pd.DataFrame:
    """Read GetMetricData output together with the queries that produced it.

    The file holds ``{"MetricDataQueries": [...], "MetricDataResults": [...]}``
    (the request's queries next to the CLI's response). Each result ``Id`` is
    mapped back to its query's ``MetricStat`` for namespace, metric name,
    dimensions, ``Period`` (-> ``period_s``) and ``Stat`` (-> ``stat``): these
    values are already period statistics and the alarm evaluator uses them as
    they are. Results of ``Expression`` queries are kept with an empty
    namespace, ``metric_name`` = the query Id and ``stat`` = ``"Expression"``.
    """
    path = Path(path)
    src = str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc}", source=src) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("MetricDataResults"), list):
        raise InputError(
            "expected an object with a 'MetricDataResults' list", source=src
        )
    queries = doc.get("MetricDataQueries")
    if not isinstance(queries, list):
        raise InputError(
            "missing 'MetricDataQueries': add the queries that produced the results",
            source=src,
        )
    by_id = {q.get("Id"): q for q in queries if isinstance(q, dict)}
    frames = []
    for i, result in enumerate(doc["MetricDataResults"]):
        where = f"MetricDataResults[{i}]"
        if not isinstance(result, dict) or result.get("Id") not in by_id:
            got = result.get("Id") if isinstance(result, dict) else result
            raise InputError(
                f"result Id {got!r} matches no MetricDataQueries Id",
                source=src,
                location=where,
            )
        frames.append(_result_frame(result, by_id[result["Id"]], src, where))
    return concat_datapoints(frames)


def _result_frame(
    result: dict[str, Any], query: dict[str, Any], src: str, where: str
) -> pd.DataFrame:
    """Turn one MetricDataResult into datapoints with period_s and stat."""
    stamps, values = result.get("Timestamps", []), result.get("Values", [])
    if (
        not isinstance(stamps, list)
        or not isinstance(values, list)
        or len(stamps) != len(values)
    ):
        raise InputError(
            "Timestamps and Values must be lists of equal length",
            source=src,
            location=where,
        )
    stat_query = query.get("MetricStat")
    if isinstance(stat_query, dict):
        metric = stat_query.get("Metric") or {}
        dims = _dimension_list(metric.get("Dimensions", []), src, where)
        namespace, name = metric.get("Namespace"), metric.get("MetricName")
        period, stat = stat_query.get("Period"), stat_query.get("Stat")
    else:
        namespace, name, dims = "", query.get("Id"), {}
        period, stat = query.get("Period"), "Expression"
    if not name or (isinstance(stat_query, dict) and not namespace):
        raise InputError(
            "query has no MetricStat.Metric Namespace/MetricName",
            source=src,
            location=where,
        )
    frame = pd.DataFrame(
        {
            "timestamp": pd.Series(stamps, dtype=object),
            "namespace": namespace,
            "metric_name": name,
            "dimensions": dimensions_key(dims),
            "value": pd.Series(values, dtype=object),
        }
    )
    frame = validate_datapoints(frame, source=f"{src}: {where}")
    frame["period_s"] = pd.array([period] * len(frame), dtype="Int64")
    frame["stat"] = pd.array([stat] * len(frame), dtype="string")
    return frame


def _dimension_list(dims: Sequence[Any], src: str, where: str) -> dict[str, str]:
    """Read ``[{"Name":..., "Value":...}]`` into a dict."""
    out: dict[str, str] = {}
    for d in dims:
        if not isinstance(d, dict) or "Name" not in d or "Value" not in d:
            raise InputError(
                f"bad dimension {d!r}: expected {{'Name': ..., 'Value': ...}}",
                source=src,
                location=where,
            )
        out[str(d["Name"])] = str(d["Value"])
    return out
