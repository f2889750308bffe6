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
from dpcsim.logs.csvblocks import (
    BLOCK_BYTES,
    BadRecord,
    RecordIndex,
    iter_raw_blocks,
    read_block,
)
from dpcsim.logs.detect import Kind, TableSpec, detect_table
from dpcsim.logs.shapes import shape_hint

__all__ = [
    "Issue",
    "Parsed",
    "as_int64",
    "constant_strings",
    "parse_file",
    "read_json",
    "sniff",
]

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
        The same rows as text (parquet only, when the typed read failed).
    issues
        Values that failed to convert.
    bad
        Records taken out before parsing (wrong field count, undecodable bytes).
    index
        Rows -> records of the file (CSV; ``None`` for parquet).
    header
        The header's column names (CSV).
    """

    source: str
    spec: TableSpec
    frame: pd.DataFrame
    raw: pd.DataFrame | None = None
    issues: list[Issue] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    index: RecordIndex | None = None
    header: list[str] = field(default_factory=list)
    _ordinals: np.ndarray | None = None

    def source_rows(self) -> np.ndarray:
        """Data record number of each row [1-based]."""
        if self._ordinals is None:
            self._ordinals = (
                self.index.ordinals()
                if self.index is not None
                else np.arange(1, len(self.frame) + 1, dtype=np.int64)
            )
        return self._ordinals

    def describe(self, rows: np.ndarray) -> tuple[np.ndarray, list[str] | None]:
        """(start line, raw record text) of ``rows``; text ``None`` for parquet."""
        if self.index is not None:
            return self.index.describe(rows)
        return np.asarray(rows, dtype=np.int64) + 2, None

    @property
    def rows_read(self) -> int:
        """Data records in the file, including those taken out before parsing."""
        return len(self.frame) + len(self.bad)


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


def parse_file(
    path: Path, fmt: str | None = None, *, block_bytes: int = BLOCK_BYTES
) -> Parsed:
    """Detect the table of a CSV/gzip/parquet export and parse it with typed columns.

    CSV is read in blocks cut at record boundaries (:mod:`dpcsim.logs.csvblocks`),
    so quoted multi-line values work at any size; a record with the wrong number
    of fields or an undecodable byte becomes a :class:`BadRecord` and the rest of
    the file is read.

    Parameters
    ----------
    path
        The export file.
    fmt
        Format from :func:`sniff`, if already known.
    block_bytes
        Bytes per parsed block [B] (tests use small blocks to cross boundaries).

    Raises
    ------
    InputError
        Empty file, no header, a wrong export shape (psql aligned or unaligned
        output, UNLOAD pipe text, no header row), unknown table, a missing
        required column, or a quoted value never closed.
    """
    fmt = fmt or sniff(path)
    if fmt == "parquet":
        return _parse_parquet(path)
    gzip_ = fmt == "gzip"
    header, second = _head_lines(path, gzip_=gzip_)
    header_fields = next(csv.reader(io.StringIO(header)))
    try:
        spec = detect_table(header_fields, source=str(path))
    except InputError as exc:
        hint = shape_hint(header, second)
        if hint is None:
            raise
        raise InputError(hint, source=str(path), location="line 1") from exc
    names = [h.strip().lower() for h in header_fields]
    wanted = [c for c in spec.columns if c in names]
    typed = {c: _ARROW_TYPES[spec.columns[c]] for c in wanted}
    text = dict.fromkeys(wanted, pa.string())
    schema = pa.schema([(c, typed[c]) for c in wanted])
    tables: list[pa.Table] = []
    issues: list[tuple[np.ndarray, Issue]] = []
    index = RecordIndex(path, gzip_, names)
    rows = 0
    ordinal = 0
    typed_options = _convert_options(typed)
    try:
        for raw_block in iter_raw_blocks(path, gzip_=gzip_, block_bytes=block_bytes):
            try:
                table, scanned = read_block(
                    raw_block, names=names, options=typed_options, ordinal=ordinal
                )
            except pa.ArrowInvalid:
                text_table, scanned = read_block(
                    raw_block,
                    names=names,
                    options=_convert_options(text),
                    ordinal=ordinal,
                )
                frame, found = _coerce(_to_pandas(_trim(text_table)), spec)
                table = _from_coerced(frame, schema)
                issues += [(np.flatnonzero(i.mask) + rows, i) for i in found]
            taken = scanned.bad if scanned is not None else []
            index.add(raw_block, table.num_rows, ordinal, scanned)
            # Trim char(n) padding per block: a padded column is never held whole.
            tables.append(_trim(table))
            rows += table.num_rows
            ordinal += table.num_rows + len(taken)
    except InputError as exc:
        if exc.source is None:
            raise InputError(
                str(exc).split(": ", 1)[-1], source=str(path), location=exc.location
            ) from None
        raise
    except pa.ArrowInvalid as exc:
        raise InputError(
            f"unreadable CSV ({exc}); expected CSV as psql --csv writes it",
            source=str(path),
        ) from None
    bad = index.bad_records()
    whole = pa.concat_tables(tables) if tables else schema.empty_table()
    # The blocks share their buffers with ``whole``: drop the list and the last
    # block's table, so that ``whole`` alone holds them while it is converted.
    tables.clear()
    table = whole
    frame = _to_pandas(whole)
    del whole, table
    first = {j.column: j for _, j in issues}
    merged = [
        Issue(
            _mask(rows, np.concatenate([r for r, j in issues if j.column == c])),
            c,
            i.reason,
            i.expected,
        )
        for c, i in first.items()
    ]
    return Parsed(
        str(path),
        spec,
        frame,
        None,
        merged,
        bad=bad,
        index=index,
        header=names,
    )


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate int64 arrays (empty -> empty)."""
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _mask(n: int, rows: np.ndarray) -> np.ndarray:
    """Boolean mask of length ``n`` true at ``rows``."""
    out = np.zeros(n, dtype=bool)
    out[rows] = True
    return out


def _convert_options(types: dict[str, pa.DataType]) -> pacsv.ConvertOptions:
    """psql's conventions: NULL as an empty field, t/f booleans."""
    return pacsv.ConvertOptions(
        column_types=types,
        include_columns=list(types),
        null_values=["", "NULL", "\\N"],
        strings_can_be_null=False,
        true_values=_TRUE,
        false_values=_FALSE,
    )


def _from_coerced(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A coerced pandas block back to the typed Arrow schema (failed values null)."""
    cols = []
    for f in schema:
        col = frame[f.name]
        if pa.types.is_timestamp(f.type):
            arr = pa.array(
                col.dt.tz_convert(None).to_numpy(dtype="datetime64[us]"),
                pa.timestamp("us"),
            )
        else:
            arr = pa.array(col, from_pandas=True).cast(f.type)
        cols.append(arr)
    return pa.Table.from_arrays(cols, schema=schema)


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
        name: _trim_column(col) if pa.types.is_string(col.type) else col
        for name, col in zip(table.column_names, table.columns, strict=True)
    }
    return pa.table(cols)


#: Values looked at to decide whether a column repeats few distinct values.
_SAMPLE: Final = 4096


def _trim_column(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trim whitespace; columns of few distinct values trim each distinct once."""
    chunks = []
    for chunk in col.chunks:
        if not _may_be_padded(chunk):
            chunks.append(chunk)  # trimming would copy the same values
            continue
        sample = chunk.slice(0, _SAMPLE)
        few = len(chunk) > 2 * _SAMPLE and 8 * pc.count_distinct(sample).as_py() < len(
            sample
        )
        if few:
            coded = chunk.dictionary_encode()
            chunk = pc.take(pc.utf8_trim_whitespace(coded.dictionary), coded.indices)
        else:
            chunk = pc.utf8_trim_whitespace(chunk)
        chunks.append(chunk)
    return pa.chunked_array(chunks, type=pa.string())


def _may_be_padded(chunk: pa.Array) -> bool:
    """Whether a value of ``chunk`` may start or end with whitespace.

    Looks only at each value's first and last byte: a value whose first and
    last bytes are printable ASCII (0x21-0x7F) cannot start or end with any
    whitespace ``utf8_trim_whitespace`` removes, ASCII or Unicode (a multi-byte
    character's bytes are all 0x80 or above). Conservative: a byte outside that
    range, in a value or under a null, says "maybe".
    """
    if not len(chunk):
        return False
    _, offsets_buf, data_buf = chunk.buffers()
    if data_buf is None or offsets_buf is None:
        return False
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)
    offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    full = ends > starts
    edges = np.concatenate([data[starts[full]], data[ends[full] - 1]])
    return bool(((edges <= 0x20) | (edges >= 0x80)).any())


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with canonical dtypes (tz-aware UTC times, ``string``).

    One pandas block per column (no consolidation copy), converted with
    ``self_destruct`` so that a column's buffers can go once it is converted.
    """
    utc = pa.timestamp("us", tz="UTC")
    cols = [
        col.cast(utc) if pa.types.is_timestamp(col.type) else col
        for col in table.columns
    ]
    whole = pa.Table.from_arrays(cols, names=table.column_names)
    del cols
    mapper = {pa.string(): pd.StringDtype(), pa.bool_(): pd.BooleanDtype()}.get
    frame: pd.DataFrame = whole.to_pandas(
        types_mapper=mapper, split_blocks=True, self_destruct=True
    )
    return frame


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


def constant_strings(value: str, n: int) -> pd.Series:
    """A ``string`` Series of ``n`` copies of ``value``, built in Arrow (no list)."""
    arr = pa.repeat(pa.scalar(value, pa.string()), n)
    out = arr.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    return pd.Series(out.array, dtype="string")


def as_int64(values: pd.Series) -> np.ndarray:
    """Integer column as int64 with missing -> 0 (readers reject those rows)."""
    if values.dtype == np.dtype("int64"):
        return np.asarray(values.to_numpy())
    floats = np.asarray(values.to_numpy(dtype="float64", na_value=np.nan))
    out: np.ndarray = np.nan_to_num(floats, nan=0.0).astype("int64")
    return out


def _head_lines(path: Path, *, gzip_: bool) -> tuple[str, str]:
    """The header line and the line after it (empty when absent)."""
    opener: Any = gzip.open if gzip_ else open
    try:
        with opener(path, "rb") as fh:
            first = fh.readline(1 << 20)
            try:
                second = fh.readline(1 << 20)
            except (OSError, EOFError):  # only used for hints; the read reports it
                second = b""
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
    return line.rstrip("\r\n"), second.decode("utf-8", "replace").rstrip("\r\n")


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
