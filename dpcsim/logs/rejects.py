"""Rejected rows: collect vectorised row checks, build the rejects frame, or raise.

A reader runs its checks as boolean masks over a file's rows (:class:`Checks`);
each rejected row keeps the reason of the first check it failed, in the order the
checks were added. ``strict=True`` instead raises :class:`InputError` for the
first bad row, naming the file, row number, column, value and expectation. The
table readers decide which checks apply.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

from dpcsim.errors import InputError
from dpcsim.logs.csvblocks import split_fields
from dpcsim.logs.source import Issue, Parsed

__all__ = ["REJECT_COLUMNS", "Checks", "empty_rejects", "rejects_frame"]

#: Columns of the rejects frame / ``rejects.csv``.
REJECT_COLUMNS: Final = ("source_file", "source_row", "line", "column", "reason", "raw")
_REJECT_DTYPES: Final = {
    "source_file": "string",
    "source_row": "int64",
    "line": "int64",
    "column": "string",
    "reason": "string",
    "raw": "string",
}


def empty_rejects() -> pd.DataFrame:
    """A rejects frame with no rows.

    Columns: ``source_file``, ``source_row`` (data record number, 1-based),
    ``line`` (line the record starts on in the file), ``column`` (``""`` when the
    whole row is at fault), ``reason``, ``raw`` (the record as it stands in the
    file).
    """
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _REJECT_DTYPES.items()})


def rejects_frame(**columns: object) -> pd.DataFrame:
    """A rejects frame from per-row values; a scalar fills its whole column."""
    sizes = [len(v) for v in columns.values() if isinstance(v, list | np.ndarray)]
    n = sizes[0] if sizes else 0
    data: dict[str, pd.Series] = {}
    for col, dtype in _REJECT_DTYPES.items():
        value = columns.get(col, 0 if dtype == "int64" else "")
        values = value if isinstance(value, list | np.ndarray) else [value] * n
        data[col] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data)


@dataclass
class Checks:
    """Row checks over one parsed file.

    Parameters
    ----------
    parsed
        The parsed file (its ``frame`` rows are checked; ``raw`` rows, when kept,
        are what the rejects file shows).
    strict
        Raise at the first bad row instead of rejecting.
    """

    parsed: Parsed
    strict: bool = False
    _issues: list[Issue] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._issues.extend(self.parsed.issues)

    def add(
        self, mask: np.ndarray | pd.Series, column: str, reason: str, expected: str
    ) -> None:
        """Record that rows where ``mask`` holds fail ``reason`` on ``column``."""
        arr = np.asarray(mask, dtype=bool)
        if arr.any():
            self._issues.append(Issue(arr, column, reason, expected))

    def unique(self, column: str, expected: str) -> None:
        """Reject every repeat of a non-missing ``column`` value (the first stays)."""
        ids = self.parsed.frame[column]
        repeat = ids.duplicated(keep="first").to_numpy() & ids.notna().to_numpy()
        self.add(repeat, column, "duplicate query id", expected)

    def require(self, columns: tuple[str, ...]) -> None:
        """Reject rows whose required values are missing."""
        frame = self.parsed.frame
        for col in columns:
            if col in frame.columns:
                missing = frame[col].isna().to_numpy()
                # Values that failed to convert are already reported.
                for issue in self._issues:
                    if issue.column == col:
                        missing = missing & ~issue.mask
                self.add(missing, col, "missing value", "a value (column is required)")

    def bad_mask(self) -> np.ndarray:
        """Rows failing any check."""
        bad = np.zeros(len(self.parsed.frame), dtype=bool)
        for issue in self._issues:
            bad |= issue.mask
        return bad

    def finish(self) -> tuple[np.ndarray, pd.DataFrame]:
        """Return (accepted-row mask, rejects frame); raise first bad row if strict.

        Records taken out before parsing (:attr:`Parsed.bad`) are rejects too.
        """
        bad = self.bad_mask()
        taken = self.parsed.bad
        if self.strict:
            first_row = int(np.flatnonzero(bad)[0]) if bad.any() else -1
            row_line = (
                int(self.parsed.describe(np.array([first_row]))[0][0])
                if first_row >= 0
                else None
            )
            if taken and (row_line is None or taken[0].line < row_line):
                b = taken[0]
                raise InputError(
                    f"{b.reason}: {b.raw[:200]!r}; expected {b.expected}",
                    source=self.parsed.source,
                    location=f"line {b.line}"
                    + (f", column {b.column!r}" if b.column else ""),
                )
            if first_row >= 0:
                self._raise(first_row)
        if not bad.any() and not taken:
            return ~bad, empty_rejects()
        reason = np.full(len(bad), None, dtype=object)
        column = np.full(len(bad), None, dtype=object)
        for issue in reversed(self._issues):
            reason[issue.mask] = issue.reason
            column[issue.mask] = issue.column
        rows = np.flatnonzero(bad)
        lines, raws = self.parsed.describe(rows)
        found = rejects_frame(
            source_file=self.parsed.source,
            source_row=self.parsed.source_rows()[rows],
            line=lines,
            column=column[rows],
            reason=reason[rows],
            raw=raws if raws is not None else _raw_lines(self._display(), rows),
        )
        early = rejects_frame(
            source_file=self.parsed.source,
            source_row=[b.ordinal for b in taken],
            line=[b.line for b in taken],
            column=[b.column for b in taken],
            reason=[b.reason for b in taken],
            raw=[b.raw for b in taken],
        )
        out = pd.concat([f for f in (early, found) if len(f)], ignore_index=True)
        out = out.sort_values("line", kind="stable").reset_index(drop=True)
        return ~bad, out

    def _display(self) -> pd.DataFrame:
        """The rows as read (text when the typed parse failed)."""
        return self.parsed.raw if self.parsed.raw is not None else self.parsed.frame

    def _raise(self, row: int) -> None:
        """Raise InputError for ``row`` (0-based) with its first failed check."""
        issue = next(i for i in self._issues if i.mask[row])
        value: object = self._display()[issue.column].iloc[row]
        lines, raws = self.parsed.describe(np.array([row]))
        if raws is not None:
            fields = split_fields(raws[0])
            names = self.parsed.header
            if issue.column in names and len(fields) == len(names):
                value = fields[names.index(issue.column)].strip()
        raise InputError(
            f"{issue.reason}: {issue.column}={_show(value)}; expected {issue.expected}",
            source=self.parsed.source,
            location=f"line {int(lines[0])}, column {issue.column!r}",
        )


def _show(value: object) -> str:
    """Render a cell for messages (missing -> empty)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return "''"
    return repr(str(value))


def _raw_lines(frame: pd.DataFrame, rows: np.ndarray) -> list[str]:
    """CSV text of the given rows (only rejected rows, so a loop is fine)."""
    out: list[str] = []
    subset = frame.iloc[rows].astype(object).where(frame.iloc[rows].notna(), "")
    for values in subset.itertuples(index=False, name=None):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow([str(v) for v in values])
        out.append(buf.getvalue())
    return out
