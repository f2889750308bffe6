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
from concurrent.futures import ThreadPoolExecutor
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
    "RawBlock",
    "RecordIndex",
    "iter_raw_blocks",
    "parse_block",
    "read_block",
    "scan_block",
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


def _read_buffer(stream: Any, path: Path, size: int) -> pa.Buffer:
    """Read up to ``size`` bytes, turning IO errors into InputError.

    An Arrow buffer, not ``bytes``: :func:`iter_raw_blocks` hands views of it
    to the parser, so a block's bytes are never copied (``read`` would copy
    them into ``bytes`` first).
    """
    try:
        data: pa.Buffer = stream.read_buffer(size)
    except OSError as exc:  # e.g. a truncated gzip stream
        raise InputError(
            f"unreadable gzip CSV ({exc}); expected a complete gzip CSV export",
            source=str(path),
        ) from None
    return data


def _read(stream: Any, path: Path, size: int) -> bytes:
    """Read up to ``size`` bytes as ``bytes`` (see :func:`_read_buffer`)."""
    data: bytes = _read_buffer(stream, path, size).to_pybytes()
    return data


@dataclass(frozen=True, slots=True)
class RawBlock:
    """Whole records of the file, as bytes, cut by a cheap quote count.

    Attributes
    ----------
    data
        The bytes (starting at a record start, ending after a record's newline or
        at the end of the file).
    offset
        Offset of ``data[0]`` in the decompressed file [B].
    line
        Line of ``data[0]`` [1-based; 0 when not yet known].
    quotes
        Quote characters in ``data`` (-1 when not counted).
    """

    data: bytes | memoryview
    offset: int
    line: int
    quotes: int = -1


def iter_raw_blocks(
    path: Path, *, gzip_: bool, block_bytes: int = BLOCK_BYTES
) -> Iterator[RawBlock]:
    """Yield the data records after the header in blocks cut at record boundaries.

    Each read of ``block_bytes`` gives up to two blocks, neither copied from
    the decompressed buffer except where it joins the previous read: a short
    *seam* block (the previous read's unfinished record, joined to the bytes
    that end it) and a view of the buffer from there to its last record
    boundary, the last newline with an even number of quotes before it. Both
    are found from the ends of the buffer with ``bytes.find``/``rfind`` on
    short copies, and quotes are counted with numpy over the view (no per-byte
    arrays the size of the block). A record longer than a read is carried on.
    The next buffer is read (and decompressed) in a thread while the caller
    parses this one. Blocks carry ``line = 0``: line numbers are only needed for
    rejected rows, and :meth:`RecordIndex.base_lines` finds them then.

    Raises
    ------
    InputError
        A quoted value that is never closed (the file is not CSV past that line).
    """
    with _open(path, gzip_) as stream, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_read_buffer, stream, path, block_bytes)
        carry = b""  # an unfinished record (the header, until it ends)
        carry_quotes = 0
        offset = 0
        header_left = True
        while True:
            chunk = pending.result()
            if not chunk.size:
                break
            pending = pool.submit(_read_buffer, stream, path, block_bytes)
            view = memoryview(chunk)
            if carry or header_left:
                end = _first_boundary(view, carry_quotes)
                if end < 0:
                    carry += bytes(view)
                    carry_quotes += _count_quotes(view)
                    continue
                seam = carry + bytes(view[: end + 1])
                if not header_left:
                    yield RawBlock(seam, offset, 0, _count_quotes(seam))
                offset += len(seam)
                header_left = False
                view = view[end + 1 :]
                carry, carry_quotes = b"", 0
            if not len(view):
                continue
            quotes = _count_quotes(view)
            cut = _last_boundary(view, quotes) + 1
            if cut <= 0:
                carry, carry_quotes = bytes(view), quotes
                continue
            carry = bytes(view[cut:])
            carry_quotes = _count_quotes(carry)
            yield RawBlock(view[:cut], offset, 0, quotes - carry_quotes)
            offset += cut
        if carry and not header_left:  # the last record, without a line end
            if carry_quotes % 2:
                line = _count_lines(path, gzip_, offset)
                _records(carry, True, line)  # raises, naming the line
            yield RawBlock(carry, offset, 0, carry_quotes)


#: Bytes counted per numpy call in :func:`_count_quotes` [B]: a comparison's
#: temporary stays small and is reused, not faulted in at the block's size.
_COUNT_SLICE: Final = 1 << 20
#: First look at a buffer's head or tail for a record boundary [B].
_EDGE_BYTES: Final = 1 << 16


def _count_quotes(data: bytes | memoryview) -> int:
    """Quote characters in ``data``."""
    if isinstance(data, bytes):
        return data.count(b'"')
    arr = np.frombuffer(data, dtype=np.uint8)
    return sum(
        int(np.count_nonzero(arr[i : i + _COUNT_SLICE] == _QUOTE))
        for i in range(0, arr.size, _COUNT_SLICE)
    )


def _count_lines(path: Path, gzip_: bool, offset: int) -> int:
    """Line [1-based] that byte ``offset`` of the decompressed file is on."""
    lines = 1
    with _open(path, gzip_) as stream:
        pos = 0
        while pos < offset:
            chunk = _read(stream, path, min(BLOCK_BYTES, offset - pos))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            pos += len(chunk)
    return lines


def _first_boundary(data: bytes | memoryview, quotes_before: int) -> int:
    """Offset of the first record-ending newline in ``data`` (-1 when none).

    ``quotes_before`` quotes precede ``data`` in its record; a newline ends the
    record when the quotes before it, those included, are even. Looks at a
    growing head of ``data``, copied as bytes.
    """
    size = _EDGE_BYTES
    while True:
        head = bytes(data[:size])
        quotes, prev = quotes_before, 0
        pos = head.find(b"\n")
        while pos >= 0:
            quotes += head.count(b'"', prev, pos)
            if quotes % 2 == 0:
                return pos
            prev = pos
            pos = head.find(b"\n", pos + 1)
        if len(head) == len(data):
            return -1
        size *= 4


def _last_boundary(data: bytes | memoryview, quotes: int) -> int:
    """Offset of the last newline with an even quote count before it (-1: none).

    ``quotes`` is the number of quotes in ``data``. Looks at a growing tail of
    ``data``, copied as bytes.
    """
    size = _EDGE_BYTES
    while True:
        lo = max(len(data) - size, 0)
        tail = bytes(data[lo:])
        pos = len(tail)
        after = 0
        while True:
            nxt = tail.rfind(b"\n", 0, pos)
            if nxt < 0:
                break
            after += tail.count(b'"', nxt, pos)
            pos = nxt
            if (quotes - after) % 2 == 0:
                return lo + pos
        if lo == 0:
            return -1
        size *= 4


def scan_block(raw: RawBlock, *, width: int, names: list[str], ordinal: int) -> Block:
    """Find every record of a raw block; take out wrong field counts and bad UTF-8.

    Parameters
    ----------
    raw
        The block.
    width
        Fields per record (the header's).
    names
        Header column names (for naming the column of an undecodable value).
    ordinal
        Data records before this block.
    """
    data = bytes(raw.data)
    starts, ends, end_lines, _ = _records(data, True, raw.line)
    keep = (ends > starts) & ~((ends - starts == 1) & _byte_at(data, starts, _CR))
    lines = np.empty(starts.size, dtype=np.int64)
    lines[0:1] = raw.line
    lines[1:] = raw.line + end_lines[:-1] + 1
    ordinals = ordinal + np.cumsum(keep)
    return _clean_block(
        data,
        starts[keep],
        ends[keep],
        lines[keep],
        ordinals[keep],
        raw.offset,
        width,
        names,
    )


def read_block(
    raw: RawBlock,
    *,
    names: list[str],
    options: pacsv.ConvertOptions,
    ordinal: int,
) -> tuple[pa.Table, Block | None]:
    """Parse a raw block; scan it record by record only when a record is bad.

    Returns
    -------
    (table, scanned)
        The parsed rows and, when the block needed a scan (a record with the
        wrong field count or undecodable bytes), the scanned :class:`Block` whose
        ``bad`` lists the records taken out. ``None`` means every record parsed.

    Raises
    ------
    pyarrow.ArrowInvalid
        A value that does not convert to its column type (callers re-read the
        block as text).
    """
    invalid: list[object] = []

    def skip(row: object) -> str:
        invalid.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(raw.data),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 22),
            # A block without a quote cannot hold a quoted newline: pyarrow may
            # then split it into chunks at any newline and parse them in parallel.
            parse_options=pacsv.ParseOptions(
                newlines_in_values=raw.quotes != 0, invalid_row_handler=skip
            ),
            convert_options=options,
        )
        if not invalid:
            return table, None
    except pa.ArrowInvalid as exc:
        if "utf8" not in str(exc).lower():
            raise
    block = scan_block(raw, width=len(names), names=names, ordinal=ordinal)
    if not block.lines.size:  # every record of the block was taken out
        types = options.column_types
        empty = {c: pa.array([], types[c]) for c in options.include_columns}
        return pa.table(empty), block
    return parse_block(block, names, options), block


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


class _UnclosedError(InputError):
    """Raised with the line only; the caller adds the file."""


def _unclosed(line: int, head: bytes) -> InputError:
    """Error for a quote opened and never closed."""
    text = head.decode("utf-8", "replace").splitlines()[0] if head else ""
    return _UnclosedError(
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
    for k, pos in _undecodable(data, starts):
        if drop[k]:
            continue
        drop[k] = True
        col = int(np.searchsorted(outside, pos) - np.searchsorted(outside, starts[k]))
        name = names[col] if 0 <= col < len(names) else ""
        raw = data[starts[k] : ends[k]].decode("utf-8", "replace").rstrip("\r")
        bad.append(
            BadRecord(
                int(lines[k]),
                int(ordinals[k]),
                raw,
                name,
                f"undecodable byte {data[pos : pos + 1]!r} in {name or 'a value'} "
                "(a multi-byte character cut short?)",
                "UTF-8 text",
            )
        )
    if drop.any():
        keep = ~drop
        pieces = [
            data[s : e + 1] for s, e in zip(starts[keep], ends[keep], strict=True)
        ]
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


@dataclass(slots=True)
class _Span:
    """Where one parsed block's rows came from."""

    row_start: int
    rows: int
    offset: int
    length: int
    line: int
    ordinal: int
    scanned: Block | None
    raw: bytes | None


@dataclass(slots=True)
class RecordIndex:
    """Maps parsed rows back to their records: line numbers and raw text.

    Clean blocks keep only their span (offset, length, first line); a row's line
    and text are found on demand by re-reading and scanning its block, which only
    happens for rejected rows.
    """

    path: Path
    gzip_: bool
    names: list[str]
    _spans: list[_Span] = field(default_factory=list)
    _rows: int = 0
    _base: list[int] | None = None

    def add(
        self, raw: RawBlock, rows: int, ordinal: int, scanned: Block | None
    ) -> None:
        """Record a parsed block of ``rows`` rows after ``ordinal`` data records."""
        self._spans.append(
            _Span(
                self._rows,
                rows,
                raw.offset,
                len(raw.data),
                raw.line,
                ordinal,
                scanned,
                bytes(raw.data) if scanned is not None else None,
            )
        )
        self._rows += rows

    def base_lines(self) -> list[int]:
        """Line [1-based] each block starts on (one pass over the file, cached)."""
        if self._base is None:
            base: list[int] = []
            lines = 1
            with _open(self.path, self.gzip_) as stream:
                pos = 0
                for span in self._spans:
                    while pos < span.offset:
                        want = min(BLOCK_BYTES, span.offset - pos)
                        chunk = _read(stream, self.path, want)
                        if not chunk:
                            break
                        lines += chunk.count(b"\n")
                        pos += len(chunk)
                    base.append(lines)
            self._base = base
        return self._base

    def bad_records(self) -> list[BadRecord]:
        """Records taken out of scanned blocks, with their lines in the file."""
        spans = [(i, s) for i, s in enumerate(self._spans) if s.scanned is not None]
        found = [(i, b) for i, s in spans for b in s.scanned.bad]  # type: ignore[union-attr]
        if not found:
            return []
        base = self.base_lines()
        return [
            BadRecord(
                b.line + base[i], b.ordinal, b.raw, b.column, b.reason, b.expected
            )
            for i, b in found
        ]

    def ordinals(self) -> np.ndarray:
        """Data record number of every row [1-based]."""
        parts = [
            s.scanned.ordinals
            if s.scanned is not None
            else s.ordinal + np.arange(1, s.rows + 1, dtype=np.int64)
            for s in self._spans
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def describe(self, positions: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(start line, raw record text) of the rows at ``positions``."""
        positions = np.asarray(positions, dtype=np.int64)
        lines = np.zeros(positions.size, dtype=np.int64)
        texts = [""] * positions.size
        if not positions.size:
            return lines, texts
        starts = np.array([s.row_start for s in self._spans], dtype=np.int64)
        which = np.searchsorted(starts, positions, side="right") - 1
        needed = sorted({int(w) for w in which})
        reread = self._reread([i for i in needed if self._spans[i].raw is None])
        base = self.base_lines()
        for i in needed:
            span = self._spans[i]
            data = span.raw if span.raw is not None else reread[i]
            block = span.scanned or scan_block(
                RawBlock(data, span.offset, span.line),
                width=len(self.names),
                names=self.names,
                ordinal=span.ordinal,
            )
            for k in np.flatnonzero(which == i):
                local = int(positions[k]) - span.row_start
                lines[k] = int(block.lines[local]) + base[i]
                rel = int(block.offsets[local]) - span.offset
                piece = data[rel : rel + int(block.lengths[local])]
                texts[k] = piece.decode("utf-8", "replace").rstrip("\r")
        return lines, texts

    def _reread(self, indexes: list[int]) -> dict[int, bytes]:
        """The bytes of the given spans, read again in one pass over the file."""
        out: dict[int, bytes] = {}
        if not indexes:
            return out
        with _open(self.path, self.gzip_) as stream:
            pos = 0
            for i in indexes:
                span = self._spans[i]
                while pos < span.offset:
                    got = len(
                        _read(stream, self.path, min(span.offset - pos, BLOCK_BYTES))
                    )
                    if not got:
                        break
                    pos += got
                out[i] = _read(stream, self.path, span.length)
                pos += len(out[i])
        return out


def split_fields(raw: str) -> list[str]:
    """The fields of one raw CSV record."""
    return next(csv.reader(io.StringIO(raw)), [])
