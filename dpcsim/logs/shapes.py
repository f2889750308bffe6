"""Recognise export shapes that are not CSV and say how to re-export.

A header that matches no known table is often the right table in the wrong shape:
psql's default aligned output (`` userid | query`` over a ``-----+-----`` rule),
unaligned output with a pipe (``psql -A -F'|'``), tuples only (``psql -t``, no
header row), or UNLOAD's default pipe-delimited text (no header, ``|`` between
values). :func:`shape_hint` names the shape it sees from the first two lines and
the command that writes CSV instead; it returns ``None`` when the lines look like
CSV, so the caller's own message (unknown table) stands.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["shape_hint"]

_RULE: Final = re.compile(r"^-+(\+-+)+$|^-{3,}$")
_REEXPORT: Final = (
    "re-export with `psql --csv -c 'select ...' > file.csv` or "
    "`UNLOAD ('select ...') TO 's3://...' FORMAT CSV HEADER`"
)
_DATA_START: Final = re.compile(r"^\s*-?\d+\s*[|,]")


def shape_hint(header: str, second: str) -> str | None:
    """Describe a non-CSV export shape from its first two lines, or ``None``.

    Parameters
    ----------
    header
        The first line (without its line end).
    second
        The second line (``""`` when absent).

    Examples
    --------
    >>> shape_hint(" userid | query ", "--------+-------").split(";")[0]
    'psql aligned output (columns separated by | over a ----+---- rule)'
    """
    stripped = second.strip()
    if "|" in header and _RULE.match(stripped):
        return (
            "psql aligned output (columns separated by | over a ----+---- rule); "
            "expected CSV: " + _REEXPORT
        )
    if _DATA_START.match(header):
        sep = "|" if "|" in header else ","
        what = (
            "UNLOAD's default pipe-delimited text or psql -t -A (values without a "
            "header row)"
            if sep == "|"
            else "psql -t output (values without a header row)"
        )
        return f"{what}; expected CSV with a header row: " + _REEXPORT
    if "|" in header and "," not in header:
        return (
            "pipe-delimited output with a header (psql -A -F'|'); expected "
            "comma-separated CSV: " + _REEXPORT
        )
    return None
