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
from dpcsim.logs.source import Issue, Parsed

__all__ = ["REJECT_COLUMNS", "Checks", "empty_rejects"]

#: Columns of the rejects frame / ``rejects.csv``.
REJECT_COLUMNS: Final = ("source_file", "source_row", "reason", "raw")


def empty_rejects() -> pd.DataFrame:
    """A rejects frame with no rows."""
    return pd.DataFrame(
        {
            "source_file": pd.Series(dtype="string"),
            "source_row": pd.Series(dtype="int64"),
            "reason": pd.Series(dtype="string"),
            "raw": pd.Series(dtype="string"),
        }
    )


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
        """Return (accepted-row mask, rejects frame); raise first bad row if strict."""
        bad = self.bad_mask()
        if not bad.any():
            return ~bad, empty_rejects()
        reason = np.full(len(bad), None, dtype=object)
        for issue in reversed(self._issues):
            reason[issue.mask] = issue.reason
        rows = np.flatnonzero(bad)
        if self.strict:
            self._raise(int(rows[0]))
        rejects = pd.DataFrame(
            {
                "source_file": pd.Series(
                    [self.parsed.source] * rows.size, dtype="string"
                ),
                "source_row": pd.Series(rows + 1, dtype="int64"),
                "reason": pd.Series(reason[rows], dtype="string"),
                "raw": pd.Series(_raw_lines(self._display(), rows), dtype="string"),
            }
        )
        return ~bad, rejects

    def _display(self) -> pd.DataFrame:
        """The rows as read (text when the typed parse failed)."""
        return self.parsed.raw if self.parsed.raw is not None else self.parsed.frame

    def _raise(self, row: int) -> None:
        """Raise InputError for ``row`` (0-based) with its first failed check."""
        issue = next(i for i in self._issues if i.mask[row])
        value = self._display()[issue.column].iloc[row]
        raise InputError(
            f"{issue.reason}: {issue.column}={_show(value)}; expected {issue.expected}",
            source=self.parsed.source,
            location=f"row {row + 1}, column {issue.column!r}",
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
