"""Storage inputs from a cluster's own exports: ``svv_table_info`` / ``stv_partitions``.

Either export (``psql --csv``: a header, quoting only where needed, NULL as an
empty field; gzip accepted) gives the starting usage and the capacity the
storage model (:mod:`dpcsim.metrics.storage`) needs, as the ``[storage]`` keys
``initial_used_gb`` and ``capacity_gb``:

* ``stv_partitions``: ``used`` and ``capacity`` are 1 MB disk blocks per node
  and logical disk (AWS Database Developer Guide, STV_PARTITIONS). Rows with
  ``part_begin`` > 0 are the mirror halves of a device and are left out, as in
  AWS's disk-usage queries. ``capacity`` is the raw disk space, which includes
  space Redshift reserves: the percentage against it is lower than the
  console's nominal PercentageDiskSpaceUsed (AWS says so in the same page).
* ``svv_table_info``: ``size`` is each table's size in 1 MB blocks and
  ``pct_used`` the share of the available space it uses [%]; their sum is the
  used space and ``size / pct_used`` (on the largest table, the most precise)
  the capacity. With every ``pct_used`` 0 or NULL only the usage is known.

Example::

    psql --csv -c "select * from stv_partitions" > stv_partitions.csv
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from dpcsim.errors import InputError

__all__ = ["read_storage_export"]

#: Columns that identify each export (a subset of its header).
_KINDS: Final[Mapping[str, tuple[str, ...]]] = {
    "stv_partitions": ("part_begin", "used", "capacity"),
    "svv_table_info": ("table", "size", "pct_used"),
}
_MB_PER_GB: Final = 1024.0


def read_storage_export(path: str | Path) -> dict[str, float]:
    """The ``[storage]`` keys an export gives: used and capacity [GB].

    ``capacity_gb`` is missing when an ``svv_table_info`` export has no
    ``pct_used`` (set it in the settings' ``[storage]`` table then).

    Raises
    ------
    InputError
        Naming the file (and the line and column) when the header is neither
        export's, a value is not a number, or there are no rows.
    """
    source = str(path)
    rows, header = _read_csv(Path(path))
    kind = next((k for k, cols in _KINDS.items() if set(cols) <= set(header)), None)
    if kind is None:
        raise InputError(
            f"header {header[:6]}...; expected an export of stv_partitions "
            f"(columns {list(_KINDS['stv_partitions'])}) or svv_table_info "
            f"(columns {list(_KINDS['svv_table_info'])}), psql --csv",
            source=source,
        )
    if not rows:
        raise InputError("no rows; expected one row per disk or table", source=source)
    if kind == "stv_partitions":
        return _from_partitions(rows, source)
    return _from_table_info(rows, source)


def _read_csv(path: Path) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """(line number, row) pairs and the lower-cased header of a CSV (gzip or not)."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(
            f"{exc}; expected a UTF-8 CSV file", source=str(path)
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    rows = []
    for record in reader:
        line = reader.line_num
        if not record:
            continue
        if len(record) != len(header):
            raise InputError(
                f"{len(record)} fields; expected {len(header)} (the header's)",
                source=str(path),
                location=f"line {line}",
            )
        rows.append((line, dict(zip(header, record, strict=True))))
    return rows, header


def _number(row: tuple[int, dict[str, str]], column: str, source: str) -> float | None:
    """A numeric cell; None for NULL (an empty field)."""
    line, values = row
    cell = values[column].strip()
    if not cell:
        return None
    try:
        return float(cell)
    except ValueError:
        raise InputError(
            f"{column}={cell!r}; expected a number",
            source=source,
            location=f"line {line}, column {column}",
        ) from None


def _from_partitions(
    rows: list[tuple[int, dict[str, str]]], source: str
) -> dict[str, float]:
    used_mb = capacity_mb = 0.0
    for row in rows:
        if (_number(row, "part_begin", source) or 0.0) > 0:
            continue  # the mirror half of a device
        used_mb += _number(row, "used", source) or 0.0
        capacity_mb += _number(row, "capacity", source) or 0.0
    if capacity_mb <= 0:
        raise InputError(
            "capacity sums to 0 over the part_begin = 0 rows; expected the disks' "
            "capacity in 1 MB blocks",
            source=source,
            location="capacity",
        )
    return {
        "initial_used_gb": used_mb / _MB_PER_GB,
        "capacity_gb": capacity_mb / _MB_PER_GB,
    }


def _from_table_info(
    rows: list[tuple[int, dict[str, str]]], source: str
) -> dict[str, float]:
    used_mb = 0.0
    largest = (0.0, 0.0)  # (size [MB], pct_used [%]) of the largest table with both
    for row in rows:
        size = _number(row, "size", source) or 0.0
        pct = _number(row, "pct_used", source) or 0.0
        used_mb += size
        if pct > 0 and size > largest[0]:
            largest = (size, pct)
    out = {"initial_used_gb": used_mb / _MB_PER_GB}
    if largest[1] > 0:
        out["capacity_gb"] = largest[0] * 100.0 / largest[1] / _MB_PER_GB
    return out
