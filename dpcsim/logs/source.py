"""Open an export (CSV, gzip CSV, parquet or JSON) and parse it with explicit types.

Compression and format are detected from the first bytes (gzip ``1f 8b``, parquet
``PAR1``, JSON ``{``/``[``), not from the file name. CSV is parsed with
:mod:`pyarrow.csv` using each column's kind from :mod:`dpcsim.logs.detect`, so the
happy path runs in C++. When a value does not convert (an unparseable time, a
non-numeric id), the file is parsed again as text and every column is coerced
separately; the values that fail become :class:`Issue` masks, which the readers
turn into rejected rows. ``char(n)`` blank padding is trimmed here. What a table's
columns mean is left to the table readers.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dpcsim.errors import InputError
from dpcsim.logs.detect import Kind, TableSpec, detect_table

__all__ = ["Issue", "Parsed", "as_int64", "parse_file", "read_json", "sniff"]

_GZIP: Final = b"\x1f\x8b"
_PARQUET: Final = b"PAR1"
_ARROW_TYPES: Final[dict[Kind, pa.DataType]] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "ts": pa.timestamp("us"),
    "str": pa.string(),
    "bool": pa.bool_(),
}
_EXPECT: Final[dict[Kind, str]] = {
    "int": "an integer",
    "float": "a number",
    "ts": "a UTC timestamp like 2024-03-01 12:00:00.123456",
    "str": "text",
    "bool": "a boolean (t/f, true/false, 1/0)",
}
_REASON: Final[dict[Kind, str]] = {
    "int": "non-numeric value",
    "float": "non-numeric value",
    "ts": "unparseable time",
    "str": "undecodable text",
    "bool": "unparseable boolean",
}
_TRUE: Final = ["t", "true", "1", "True", "TRUE", "T", "yes"]
_FALSE: Final = ["f", "false", "0", "False", "FALSE", "F", "no"]


@dataclass(frozen=True, slots=True)
class Issue:
    """Rows where one check failed: a boolean mask over the file's rows."""

    mask: np.ndarray
    column: str
    reason: str
    expected: str


@dataclass(slots=True)
class Parsed:
    """A file parsed into typed columns.

    Attributes
    ----------
    source
        File name as reported in messages and ``source_file``.
    spec
        The detected table.
    frame
        One column per known column present: int64 / float64 (NaN for null) /
        ``datetime64[us, UTC]`` / ``string`` (trimmed) / ``boolean``.
    raw
        The same rows as text, kept only when the typed parse failed (for
        reporting rejected rows); otherwise ``None``.
    issues
        Values that failed to convert.
    """

    source: str
    spec: TableSpec
    frame: pd.DataFrame
    raw: pd.DataFrame | None = None
    issues: list[Issue] = field(default_factory=list)


def sniff(path: Path) -> str:
    """Return ``"gzip"``, ``"parquet"``, ``"json"`` or ``"csv"`` from the first bytes.

    Raises
    ------
    InputError
        When the file is empty.
    """
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not head:
        raise InputError(
            "file is empty; expected a CSV export with a header row, parquet or JSON",
            source=str(path),
        )
    if head.startswith(_GZIP):
        return "gzip"
    if head == _PARQUET:
        return "parquet"
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    return "csv"


def read_json(path: Path) -> Any:
    """Parse a JSON file (optionally gzip), with errors naming the line."""
    text = _text(path, gzip_=sniff_bytes(path) == "gzip")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON ({exc.msg}); expected a JSON document",
            source=str(path),
            location=f"line {exc.lineno}, column {exc.colno}",
        ) from None


def sniff_bytes(path: Path) -> str:
    """Like :func:`sniff` but never raises on empty files (returns ``"csv"``)."""
    with open(path, "rb") as fh:
        head = fh.read(2)
    return "gzip" if head == _GZIP else "csv"


def parse_file(path: Path, fmt: str | None = None) -> Parsed:
    """Detect the table of a CSV/gzip/parquet export and parse it with typed columns.

    Parameters
    ----------
    path
        The export file.
    fmt
        Format from :func:`sniff`, if already known.

    Raises
    ------
    InputError
        Empty file, no header, undecodable bytes, unknown table or a missing
        required column.
    """
    fmt = fmt or sniff(path)
    if fmt == "parquet":
        return _parse_parquet(path)
    header = _header(path, gzip_=fmt == "gzip")
    spec = detect_table(header, source=str(path))
    names = [h.strip().lower() for h in header]
    wanted = [c for c in spec.columns if c in names]
    try:
        table = _read_csv(
            path, fmt, names, {c: _ARROW_TYPES[spec.columns[c]] for c in wanted}
        )
    except pa.ArrowInvalid as exc:
        _raise_structural(exc, path, fmt, len(names))
        try:
            raw = _read_csv(path, fmt, names, dict.fromkeys(wanted, pa.string()))
        except pa.ArrowInvalid as again:
            _raise_structural(again, path, fmt, len(names))
            raise InputError(f"unreadable CSV ({again})", source=str(path)) from None
        raw_frame = _to_pandas(_trim(raw))
        frame, issues = _coerce(raw_frame, spec)
        return Parsed(str(path), spec, frame, raw_frame, issues)
    return Parsed(str(path), spec, _to_pandas(_trim(table)))


def _read_csv(
    path: Path, fmt: str, names: list[str], types: dict[str, pa.DataType]
) -> pa.Table:
    """Parse CSV (gzip by magic) keeping only the ``types`` columns."""
    source: Any = pa.input_stream(
        str(path), compression="gzip" if fmt == "gzip" else None
    )
    try:
        with source as stream:
            return pacsv.read_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
                convert_options=pacsv.ConvertOptions(
                    column_types=types,
                    include_columns=list(types),
                    null_values=["", "NULL", "\\N"],
                    strings_can_be_null=False,
                    true_values=_TRUE,
                    false_values=_FALSE,
                ),
            )
    except OSError as exc:  # pyarrow's IO errors, e.g. a truncated gzip stream
        kind = "gzip CSV" if fmt == "gzip" else "CSV"
        raise InputError(
            f"unreadable {kind} ({exc}); expected a complete {kind} export",
            source=str(path),
        ) from None


def _parse_parquet(path: Path) -> Parsed:
    """Read parquet, casting known columns to their kinds (text coercion on failure)."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(
            f"unreadable parquet ({exc}); expected a parquet file", source=str(path)
        ) from None
    table = table.rename_columns([c.strip().lower() for c in table.column_names])
    spec = detect_table(table.column_names, source=str(path))
    wanted = [c for c in spec.columns if c in table.column_names]
    table = table.select(wanted)
    try:
        cast = pa.table({c: _cast(table.column(c), spec.columns[c]) for c in wanted})
    except pa.ArrowException:
        raw = _to_pandas(
            _trim(pa.table({c: table.column(c).cast(pa.string()) for c in wanted}))
        )
        frame, issues = _coerce(raw, spec)
        return Parsed(str(path), spec, frame, raw, issues)
    return Parsed(str(path), spec, _to_pandas(_trim(cast)))


def _cast(column: pa.ChunkedArray, kind: Kind) -> pa.ChunkedArray:
    """Cast a parquet column to a kind; tz-aware times are converted to UTC."""
    if kind == "ts" and pa.types.is_timestamp(column.type):
        if column.type.tz is not None:
            column = column.cast(pa.timestamp("us", tz="UTC"))
            return column.cast(pa.timestamp("us"))
        return column.cast(pa.timestamp("us"))
    if kind == "bool" and pa.types.is_integer(column.type):
        return pc.not_equal(column, 0)
    return column.cast(_ARROW_TYPES[kind])


def _trim(table: pa.Table) -> pa.Table:
    """Trim blank padding of char(n) string columns."""
    cols = {
        name: pc.utf8_trim_whitespace(col) if pa.types.is_string(col.type) else col
        for name, col in zip(table.column_names, table.columns, strict=True)
    }
    return pa.table(cols)


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with canonical dtypes (tz-aware UTC times, ``string``)."""
    cols: dict[str, Any] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp("us", tz="UTC"))
        mapper = {pa.string(): pd.StringDtype(), pa.bool_(): pd.BooleanDtype()}.get
        cols[name] = col.to_pandas(types_mapper=mapper)
    return pd.DataFrame(cols, index=pd.RangeIndex(table.num_rows))


def _coerce(raw: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, list[Issue]]:
    """Convert text columns one by one; values that fail become issues."""
    out: dict[str, pd.Series] = {}
    issues: list[Issue] = []
    for name in raw.columns:
        kind = spec.columns[name]
        text = raw[name].astype("string")
        present = text.notna() & ~text.isin(["", "NULL", "\\N"])
        value = _convert(text.where(present), kind)
        bad = present & value.isna()
        if bool(bad.any()):
            issues.append(
                Issue(bad.to_numpy(dtype=bool), name, _REASON[kind], _EXPECT[kind])
            )
        out[name] = value
    return pd.DataFrame(out, index=raw.index), issues


def _convert(text: pd.Series, kind: Kind) -> pd.Series:
    """Convert one text column to ``kind`` (failures -> missing)."""
    if kind == "str":
        return text
    if kind == "ts":
        ts = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        return ts.astype("datetime64[us, UTC]")
    if kind == "bool":
        low = text.str.lower()
        return low.map(
            {
                **dict.fromkeys(map(str.lower, _TRUE), True),
                **dict.fromkeys(map(str.lower, _FALSE), False),
            }
        ).astype("boolean")
    num = pd.to_numeric(text, errors="coerce")
    if kind == "int":
        num = num.where(np.isclose(num, np.round(num)) | num.isna())
    return (
        num.astype("float64")
        if kind == "float"
        else num.astype("Float64").astype("float64")
    )


def as_int64(values: pd.Series) -> np.ndarray:
    """Integer column as int64 with missing -> 0 (readers reject those rows)."""
    if values.dtype == np.dtype("int64"):
        return np.asarray(values.to_numpy())
    floats = np.asarray(values.to_numpy(dtype="float64", na_value=np.nan))
    out: np.ndarray = np.nan_to_num(floats, nan=0.0).astype("int64")
    return out


def _header(path: Path, *, gzip_: bool) -> list[str]:
    """Return the header row's column names."""
    opener: Any = gzip.open if gzip_ else open
    try:
        with opener(path, "rb") as fh:
            first = fh.readline(1 << 20)
    except (OSError, EOFError) as exc:
        raise InputError(
            f"unreadable gzip data ({exc}); expected a gzip CSV", source=str(path)
        ) from None
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"header has undecodable byte {first[exc.start : exc.start + 1]!r} at "
            f"offset {exc.start}; expected UTF-8 text",
            source=str(path),
            location="line 1",
        ) from None
    if not line.strip():
        raise InputError(
            "no header row (first line is empty); expected AWS's lowercase "
            "column names",
            source=str(path),
            location="line 1",
        )
    return next(csv.reader(io.StringIO(line)))


def _text(path: Path, *, gzip_: bool) -> str:
    """Whole file as UTF-8 text; undecodable bytes raise InputError with the line."""
    data = path.read_bytes()
    if gzip_:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(
                f"unreadable gzip data ({exc}); expected a complete gzip file",
                source=str(path),
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"undecodable byte {data[exc.start : exc.start + 1]!r}; "
            "expected UTF-8 text",
            source=str(path),
            location=f"line {line}",
        ) from None


def _raise_structural(exc: Exception, path: Path, fmt: str, width: int) -> None:
    """Raise InputError for undecodable bytes or rows with the wrong field count."""
    text = str(exc)
    if "utf8" in text.lower():
        _raise_undecodable(path, gzip_=fmt == "gzip")
    if "CSV parse error" in text:
        detail = text.split("CSV parse error:", 1)[1].strip()
        raise InputError(
            f"malformed CSV row ({detail[:300]}); expected {width} fields per row "
            "like the header (quote values that contain commas)",
            source=str(path),
        )


def _raise_undecodable(path: Path, *, gzip_: bool) -> None:
    """Locate the first non-UTF-8 byte and raise InputError naming its line."""
    _text(path, gzip_=gzip_)
    raise InputError("undecodable text; expected UTF-8", source=str(path))
