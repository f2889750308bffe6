"""Save and load a canonical :class:`~dpcsim.schema.Workload` as parquet.

``workload.parquet`` holds the queries; ``elt_runs.parquet`` and
``load_errors.parquet`` the side tables (written when non-empty). Dtypes survive
the round trip, including ``datetime64[us, UTC]``, ``string`` and ``Int64``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dpcsim.canonical import write_parquet
from dpcsim.errors import InputError
from dpcsim.schema import (
    ELT_RUN_DTYPES,
    LOAD_ERROR_DTYPES,
    Workload,
    empty_frame,
    validate_workload,
)

__all__ = ["read_side_tables", "read_workload", "write_workload"]

QUERIES_FILE: Final = "workload.parquet"
ELT_RUNS_FILE: Final = "elt_runs.parquet"
LOAD_ERRORS_FILE: Final = "load_errors.parquet"


def write_workload(
    workload: Workload, out_dir: Path | str, *, side_tables: str = "nonempty"
) -> dict[str, Path]:
    """Write ``workload`` as parquet files in ``out_dir``.

    Parameters
    ----------
    workload
        The workload to save.
    out_dir
        Directory (created if needed).
    side_tables
        ``"nonempty"`` writes elt_runs/load_errors only when they have rows;
        ``"always"`` writes them regardless.

    Returns
    -------
    dict
        ``queries`` / ``elt_runs`` / ``load_errors`` -> the files written.
    """
    if side_tables not in ("nonempty", "always"):
        raise ValueError(
            f"side_tables={side_tables!r}; expected 'nonempty' or 'always'"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {"queries": _write(workload.queries, out / QUERIES_FILE)}
    for key, frame, name in (
        ("elt_runs", workload.elt_runs, ELT_RUNS_FILE),
        ("load_errors", workload.load_errors, LOAD_ERRORS_FILE),
    ):
        if len(frame) or side_tables == "always":
            written[key] = _write(frame, out / name)
    return written


def read_workload(path: Path | str) -> Workload:
    """Load a workload written by :func:`write_workload`.

    Parameters
    ----------
    path
        The directory, or its ``workload.parquet`` (side tables are looked up next
        to it).

    Raises
    ------
    InputError
        When the file is missing, unreadable or not a canonical workload.
    """
    p = Path(path)
    queries_path = p / QUERIES_FILE if p.is_dir() else p
    if not queries_path.exists():
        raise InputError(
            f"no {QUERIES_FILE}; expected a directory written by 'dpcsim ingest' "
            "or write_workload",
            source=str(p),
        )
    frame = _read(queries_path)  # names the file itself when unreadable
    try:
        queries = validate_workload(frame)
    except ValueError as exc:
        raise InputError(
            f"not a canonical workload: {exc}", source=str(queries_path)
        ) from None
    folder = queries_path.parent
    return Workload(
        queries=queries,
        elt_runs=_side(folder / ELT_RUNS_FILE, ELT_RUN_DTYPES),
        load_errors=_side(folder / LOAD_ERRORS_FILE, LOAD_ERROR_DTYPES),
    )


def read_side_tables(path: Path | str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ELT runs and load errors beside a ``workload.parquet`` (or in its folder).

    Empty typed frames when a file is absent (as :func:`read_workload` gives);
    the queries are not read.
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    return (
        _side(folder / ELT_RUNS_FILE, ELT_RUN_DTYPES),
        _side(folder / LOAD_ERRORS_FILE, LOAD_ERROR_DTYPES),
    )


def _write(frame: pd.DataFrame, path: Path) -> Path:
    """Write one frame with the one parquet writer (pandas metadata keeps dtypes)."""
    return write_parquet(frame.reset_index(drop=True), path)


def _read(path: Path) -> pd.DataFrame:
    """Read parquet back with nullable ``string`` columns."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(
            f"unreadable parquet ({exc}); expected a parquet file written by "
            "'dpcsim ingest' or 'dpcsim generate'",
            source=str(path),
        ) from None
    # self_destruct frees each Arrow column once converted: the table and the
    # frame are not both held whole.
    frame: pd.DataFrame = table.to_pandas(
        types_mapper={pa.string(): pd.StringDtype()}.get,
        self_destruct=True,
        split_blocks=True,
    )
    del table
    return frame


def _side(path: Path, dtypes: dict[str, str]) -> pd.DataFrame:
    """A side table, or an empty typed frame when its file is absent."""
    if not path.exists():
        return empty_frame(dtypes)
    frame = _read(path)
    missing = [c for c in dtypes if c not in frame.columns]
    if missing:
        raise InputError(
            f"lacks column(s) {missing}; expected {list(dtypes)}", source=str(path)
        )
    return frame[list(dtypes)].astype(dtypes)
