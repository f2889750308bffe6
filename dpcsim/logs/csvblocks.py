"""Read a CSV export in blocks cut only at record boundaries, keeping line numbers.

``psql --csv`` and ``UNLOAD ... FORMAT CSV`` quote a value holding a comma, a
quote, CR or LF (RFC 4180), so one record can span many lines (SQL text nearly
always does). pyarrow's parallel chunker assumes one record per line unless told
otherwise, and fails on files larger than its block size ("CSV parser got out of
sync with chunker"). This module splits the decompressed byte stream itself:

* a newline ends a record exactly when the number of quote characters before it
  is even (a doubled ``""`` inside a quoted value counts twice, so parity holds),
  found with vectorised numpy over each block;
* a field separator counts when the same parity is even, so each record's field
  count is known before parsing: a record with too few or too many fields is
  taken out of the block (and reported with its line and raw text) instead of
  failing the file;
* an undecodable byte is located with Python's UTF-8 decoder and rejects only the
  record that holds it;
* each clean block is parsed by :func:`pyarrow.csv.read_csv` with
  ``newlines_in_values=True`` and explicit column types.

Every accepted row keeps the line its record starts on and its byte span, so a
rejected row can be shown exactly as it stands in the file. Turning text into
typed columns when a value does not convert is left to :mod:`dpcsim.logs.source`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from dpcsim.errors import InputError

__all__ = [
    "BLOCK_BYTES",
    "BadRecord",
    "Block",
    "fetch_records",
    "iter_blocks",
    "parse_block",
    "split_fields",
]

#: Bytes read per block [B]: large enough that pyarrow's per-call overhead is
#: negligible, small enough that one block's scan arrays stay a few tens of MB.
BLOCK_BYTES: Final = 32 << 20
_QUOTE: Final = ord('"')
_NEWLINE: Final = ord("\n")
_CR: Final = ord("\r")


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record taken out before parsing.

    Attributes
    ----------
    line
        Line [1-based] the record starts on.
    ordinal
        Data record number [1-based, header excluded].
    raw
        The record as it stands in the file (undecodable bytes shown as U+FFFD).
    column
        The column at fault (``""`` when the whole row is).
    reason
        Why it was rejected.
    expected
        What was expected instead.
    """

    line: int
    ordinal: int
    raw: str
    column: str
    reason: str
    expected: str


@dataclass(slots=True)
class Block:
    """One parsed block of whole records.

    Attributes
    ----------
    data
        The block's bytes (whole records, clean ones only).
    lines
        Start line of each record in ``data`` [1-based].
    ordinals
        Data record number of each record [1-based].
    offsets
        Byte offset of each record in the decompressed file [B].
    lengths
        Byte length of each record, without its line end [B].
    bad
        Records taken out of this block.
    """

    data: bytes
    lines: np.ndarray
    ordinals: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    bad: list[BadRecord] = field(default_factory=list)


def _open(path: Path, gzip_: bool) -> Any:
    """A pyarrow input stream, decompressing gzip in C++."""
    return pa.input_stream(str(path), compression="gzip" if gzip_ else None)


def _read(stream: Any, path: Path, size: int) -> bytes:
    """Read up to ``size`` bytes, turning IO errors into InputError."""
    try:
        data: bytes = stream.read(size)
    except OSError as exc:  # e.g. a truncated gzip stream
        raise InputError(
            f"unreadable gzip data ({exc}); expected a complete gzip CSV export",
            source=str(path),
        ) from None
    return data


def iter_blocks(
    path: Path,
    *,
    gzip_: bool,
    width: int,
    names: list[str],
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[Block]:
    """Yield blocks of whole data records after the header.

    Parameters
    ----------
    path
        The CSV export.
    gzip_
        Decompress gzip.
    width
        Fields per record (the header's).
    names
        Header column names (for naming the column of an undecodable value).
    block_bytes
        Bytes read at a time [B].

    Raises
    ------
    InputError
        A quoted value that is never closed (the file is not CSV past that line).
    """
    with _open(path, gzip_) as stream:
        carry = b""
        base_offset = 0  # file offset of carry[0]
        base_line = 1  # line of carry[0]
        ordinal = 0  # data records seen so far (header = 0)
        header_left = True
        eof = False
        while not eof:
            chunk = _read(stream, path, block_bytes)
            eof = not chunk
            data = carry + chunk if carry else chunk
            if not data:
                break
            starts, ends, end_lines, cut = _records(data, eof, base_line)
            if cut < 0:  # no complete record yet: read more
                if eof:
                    break
                carry = data
                continue
            keep = (ends > starts) & ~((ends - starts == 1) & _byte_at(data, starts, _CR))
            if header_left:
                if not keep.any():
                    if eof:
                        break
                    carry = data
                    continue
                # Drop everything up to the header's line end, then rescan.
                header_end = int(ends[int(np.flatnonzero(keep)[0])]) + 1
                base_line += data.count(b"\n", 0, header_end)
                base_offset += header_end
                carry = data[header_end:]
                header_left = False
                if eof and not carry:
                    break
                data = carry
                starts, ends, end_lines, cut = _records(data, eof, base_line)
                if cut < 0:
                    continue
                keep = (ends > starts) & ~(
                    (ends - starts == 1) & _byte_at(data, starts, _CR)
                )
            lines = np.empty(starts.size, dtype=np.int64)
            lines[0:1] = base_line
            lines[1:] = base_line + end_lines[:-1] + 1
            ordinals = np.zeros(starts.size, dtype=np.int64)
            ordinals[keep] = ordinal + np.arange(1, int(keep.sum()) + 1)
            ordinal += int(keep.sum())
            yield _clean_block(
                data[:cut],
                starts[keep],
                ends[keep],
                lines[keep],
                ordinals[keep],
                base_offset,
                width,
                names,
            )
            consumed = data[:cut]
            base_line += consumed.count(b"\n")
            base_offset += cut
            carry = data[cut:]
        if carry and not eof:  # pragma: no cover - loop only ends at eof
            raise AssertionError("unread bytes")


def _byte_at(data: bytes, positions: np.ndarray, value: int) -> np.ndarray:
    """Whether ``data[p] == value`` at each position (positions < len)."""
    if not positions.size:
        return np.zeros(0, dtype=bool)
    arr = np.frombuffer(data, dtype=np.uint8)
    safe = np.minimum(positions, max(len(data) - 1, 0))
    out: np.ndarray = (arr[safe] == value) & (positions < len(data))
    return out


def _records(
    data: bytes, eof: bool, base_line: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Record spans in ``data`` (which starts at a record start).

    Returns
    -------
    (starts, ends, end_lines, cut)
        Record start and end offsets (end excludes the newline), the number of
        newlines before each record's end (relative to ``data``), and the length
        of ``data`` the records cover (-1 when no record is complete).
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(arr == _NEWLINE)
    quotes = np.flatnonzero(arr == _QUOTE)
    even = (np.searchsorted(quotes, newlines) & 1) == 0
    bounds_idx = np.flatnonzero(even)
    bounds = newlines[bounds_idx]
    if eof:
        tail_open = quotes.size % 2 == 1
        if tail_open:
            last = int(bounds[-1]) + 1 if bounds.size else 0
            line = int(bounds_idx[-1]) + 1 if bounds.size else 0
            raise _unclosed(base_line + line, data[last : last + 200])
        if not bounds.size or int(bounds[-1]) != len(data) - 1:
            ends = np.r_[bounds, len(data)].astype(np.int64)
            end_lines = np.r_[bounds_idx, newlines.size].astype(np.int64)
        else:
            ends, end_lines = bounds.astype(np.int64), bounds_idx.astype(np.int64)
        cut = len(data)
    else:
        if not bounds.size:
            return bounds, bounds, bounds, -1
        ends, end_lines = bounds.astype(np.int64), bounds_idx.astype(np.int64)
        cut = int(bounds[-1]) + 1
    starts = np.r_[0, ends[:-1] + 1].astype(np.int64)
    return starts, ends, end_lines, cut


class _Unclosed(InputError):
    """Raised with the line only; the caller adds the file."""


def _unclosed(line: int, head: bytes) -> InputError:
    """Error for a quote opened and never closed."""
    text = head.decode("utf-8", "replace").splitlines()[0] if head else ""
    return _Unclosed(
        f"a quoted value is never closed (record starting {text[:80]!r}); expected "
        "CSV as psql --csv or UNLOAD ... FORMAT CSV writes it, with every "
        "opening quote closed",
        location=f"line {line}",
    )


def _clean_block(
    data: bytes,
    starts: np.ndarray,
    ends: np.ndarray,
    lines: np.ndarray,
    ordinals: np.ndarray,
    base_offset: int,
    width: int,
    names: list[str],
) -> Block:
    """Take records with a wrong field count or bad UTF-8 out of a block."""
    arr = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(arr == _QUOTE)
    commas = np.flatnonzero(arr == ord(","))
    outside = commas[(np.searchsorted(quotes, commas) & 1) == 0]
    fields = np.searchsorted(outside, ends) - np.searchsorted(outside, starts) + 1
    bad: list[BadRecord] = []
    wrong = np.flatnonzero(fields != width)
    for i in wrong:
        raw = data[starts[i] : ends[i]].decode("utf-8", "replace").rstrip("\r")
        got = int(fields[i])
        what = "too few" if got < width else "too many"
        bad.append(
            BadRecord(
                int(lines[i]),
                int(ordinals[i]),
                raw,
                "",
                f"{what} fields ({got})",
                f"{width} fields like the header",
            )
        )
    drop = np.zeros(starts.size, dtype=bool)
    drop[wrong] = True
    for i, pos in _undecodable(data, starts):
        if drop[i]:
            continue
        drop[i] = True
        col = int(np.searchsorted(outside, pos) - np.searchsorted(outside, starts[i]))
        name = names[col] if 0 <= col < len(names) else ""
        raw = data[starts[i] : ends[i]].decode("utf-8", "replace").rstrip("\r")
        bad.append(
            BadRecord(
                int(lines[i]),
                int(ordinals[i]),
                raw,
                name,
                f"undecodable byte {data[pos : pos + 1]!r} in {name or 'a value'} "
                "(a multi-byte character cut short?)",
                "UTF-8 text",
            )
        )
    if drop.any():
        keep = ~drop
        pieces = [data[s : e + 1] for s, e in zip(starts[keep], ends[keep], strict=True)]
        data = b"".join(p if p.endswith(b"\n") else p + b"\n" for p in pieces)
        starts, ends = starts[keep], ends[keep]
        lines, ordinals = lines[keep], ordinals[keep]
        bad.sort(key=lambda b: b.line)
    return Block(
        data=data,
        lines=lines,
        ordinals=ordinals,
        offsets=starts + base_offset,
        lengths=ends - starts,
        bad=bad,
    )


def _undecodable(data: bytes, starts: np.ndarray) -> Iterator[tuple[int, int]]:
    """(record index, byte offset) of each record holding invalid UTF-8."""
    pos = 0
    while True:
        try:
            data[pos:].decode("utf-8")
            return
        except UnicodeDecodeError as exc:
            at = pos + exc.start
            i = int(np.searchsorted(starts, at, side="right") - 1)
            yield i, at
            nxt = data.find(b"\n", at)
            # Resume after the record; a quoted newline only costs another check.
            pos = len(data) if nxt < 0 else nxt + 1
            later = starts[starts > at]
            if later.size:
                pos = max(pos, int(later[0]))
            if pos >= len(data):
                return


def parse_block(
    block: Block, names: list[str], options: pacsv.ConvertOptions
) -> pa.Table:
    """Parse one clean block with pyarrow (``newlines_in_values``, explicit types)."""
    return pacsv.read_csv(
        pa.py_buffer(block.data),
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=options,
    )


def fetch_records(
    path: Path, *, gzip_: bool, offsets: np.ndarray, lengths: np.ndarray
) -> list[str]:
    """The raw text of records at the given file offsets, in the order given."""
    if not offsets.size:
        return []
    order = np.argsort(offsets, kind="stable")
    out: list[str] = [""] * offsets.size
    with _open(path, gzip_) as stream:
        pos = 0
        for i in order:
            start, size = int(offsets[i]), int(lengths[i])
            if start > pos:
                skip = start - pos
                while skip:
                    got = len(_read(stream, path, min(skip, BLOCK_BYTES)))
                    if not got:
                        break
                    skip -= got
                pos = start
            if start < pos:  # overlapping request: cannot happen for distinct rows
                continue
            raw = _read(stream, path, size)
            pos += len(raw)
            out[i] = raw.decode("utf-8", "replace").rstrip("\r")
    return out


def split_fields(raw: str) -> list[str]:
    """The fields of one raw CSV record."""
    return next(csv.reader(io.StringIO(raw)), [])
