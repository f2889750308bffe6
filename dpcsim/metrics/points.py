"""Fast construction of tidy datapoint frames for the series this package builds.

The frames follow the contract of :mod:`dpcsim.metrics.datapoints` exactly
(columns, dtypes, canonical ``dimensions`` from
:func:`~dpcsim.metrics.datapoints.dimensions_key`, a ``unit`` column). The
generic :func:`~dpcsim.metrics.datapoints.make_datapoints` and
:func:`~dpcsim.metrics.datapoints.concat_datapoints` parse and validate
arbitrary user input, which converts every timestamp to a Python object; for
the ~1.5 million datapoints of 90 days that costs seconds. The series here are
built from already typed minute grids, so they skip that parsing; a test checks
that ``validate_datapoints`` leaves the result unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dpcsim.metrics.datapoints import (
    DATAPOINT_DTYPES,
    dimensions_key,
    empty_datapoints,
    repeat_category,
)

__all__ = ["concat_points", "points", "run_keys", "run_starts", "sort_points"]

_COLUMNS = (*DATAPOINT_DTYPES, "unit")
_KEY_COLUMNS = ("namespace", "metric_name", "dimensions")
_UTC_US = pd.DatetimeTZDtype("us", "UTC")


def points(
    stamps: pd.DatetimeIndex,
    values: np.ndarray,
    *,
    namespace: str,
    metric_name: str,
    dimensions: Mapping[str, str] | None,
    unit: str,
) -> pd.DataFrame:
    """Datapoints of one metric from UTC minute stamps and float values.

    Parameters
    ----------
    stamps
        Tz-aware UTC timestamps, one per value.
    values
        Values in ``unit``.
    namespace, metric_name, dimensions, unit
        The metric's identity; ``dimensions`` None means none.
    """
    n = len(stamps)
    ts = _utc_us(stamps)
    return pd.DataFrame(
        {
            "timestamp": ts.array,
            "namespace": repeat_category(namespace, n),
            "metric_name": repeat_category(metric_name, n),
            "dimensions": repeat_category(dimensions_key(dimensions), n),
            "value": np.asarray(values, dtype="float64").reshape(-1),
            "unit": repeat_category(unit, n),
        }
    )


#: The last stamps converted and their UTC-microsecond form: the series of one
#: run share one minute grid, so most calls convert the same (immutable) index.
_LAST_STAMPS: list[tuple[pd.DatetimeIndex, pd.DatetimeIndex]] = []


def _utc_us(stamps: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """``stamps`` in UTC at microsecond resolution (the last result reused)."""
    if _LAST_STAMPS and _LAST_STAMPS[0][0] is stamps:
        return _LAST_STAMPS[0][1]
    ts = pd.DatetimeIndex(stamps).tz_convert("UTC").as_unit("us")
    if isinstance(stamps, pd.DatetimeIndex):
        _LAST_STAMPS[:] = [(stamps, ts)]
    return ts


def sort_points(frame: pd.DataFrame, *, consume: bool = False) -> pd.DataFrame:
    """Sort datapoints by namespace, metric, dimensions, timestamp (stable).

    The same order as a stable ``sort_values`` on the four columns, without
    comparing strings per row: the frames are concatenations of single-metric
    runs, so runs are ordered by their key and only a key's rows are sorted
    by time, when they are not in order already. ``consume``: ``frame`` is the
    caller's to give up; its columns are dropped one by one as the sorted
    ones are taken, so the datapoints are never held twice (a long run holds
    tens of millions).
    """
    n = len(frame)
    if n == 0:
        return frame.reset_index(drop=True)
    texts = [pa.chunked_array([pa.array(frame[col])]) for col in _KEY_COLUMNS]
    starts = run_starts(texts)
    ends = np.append(starts[1:], n)
    keys = [tuple(str(v) for v in key) for key in run_keys(texts, starts)]
    del texts
    groups: dict[tuple[str, ...], list[int]] = {}
    for run, key in enumerate(keys):
        groups.setdefault(key, []).append(run)
    stamps = pd.DatetimeIndex(frame["timestamp"]).asi8
    ordered = sorted(groups)
    # One run per key, already in key order and each in time order (the
    # common case): nothing moves.
    if ordered == keys and all(
        _in_order(stamps[starts[r] : ends[r]]) for r in range(len(keys))
    ):
        return frame.reset_index(drop=True)
    # Filled key by key in place: the order is held once, not also in parts.
    order = np.empty(n, dtype=np.int64)
    at = 0
    for key in ordered:
        runs = groups[key]
        picked = np.concatenate([np.arange(starts[r], ends[r]) for r in runs])
        t = stamps[picked]
        if not _in_order(t):
            picked = picked[np.argsort(t, kind="stable")]
        order[at : at + picked.size] = picked
        at += picked.size
    # Taken from the columns' arrays: a Series' take would also build a
    # reordered index per column (8 B per row) only to drop it.
    columns: dict[str, Any] = {}
    for col in list(frame.columns):
        columns[col] = frame[col].array.take(order)
        if consume:
            del frame[col]
    return pd.DataFrame(columns, copy=False)


def _in_order(t: np.ndarray) -> bool:
    """Whether ``t`` is non-decreasing."""
    return t.size < 2 or bool((t[1:] >= t[:-1]).all())


def run_starts(columns: Sequence[pa.ChunkedArray]) -> np.ndarray:
    """First row of each run of equal keys over ``columns`` (all of one length).

    A run ends where any column's value differs from the row before; nulls
    equal each other only. Compared column by column in Arrow, so a million
    rows of series one after another cost no hash table and no Python object
    per row.
    """
    n = len(columns[0]) if columns else 0
    change = np.zeros(n, dtype=bool)
    if n:
        change[0] = True
        for col in columns:
            change[1:] |= _changes(col)
    return np.flatnonzero(change)


def run_keys(
    columns: Sequence[pa.ChunkedArray], starts: np.ndarray
) -> list[tuple[Any, ...]]:
    """The key of each run: the columns' values at ``starts``, as Python objects."""
    taken = pa.array(starts, type=pa.int64())
    values = [col.take(taken).to_pylist() for col in columns]
    return list(zip(*values, strict=True))


def _changes(column: pa.ChunkedArray) -> np.ndarray:
    """``column[i + 1] != column[i]`` for each i, nulls equal to each other only.

    Compared in Arrow, column against column shifted by one: no per-row Python
    object and no hash table, unlike a factorize.
    """
    n = len(column)
    if pa.types.is_dictionary(column.type):
        # A categorical: one dictionary, so equal values have equal indices.
        merged = column.unify_dictionaries().combine_chunks()
        column = pa.chunked_array([merged.indices])
    after, before = column.slice(1), column.slice(0, n - 1)
    differ = pc.fill_null(pc.not_equal(after, before), False)
    out = np.asarray(differ.to_numpy(zero_copy_only=False), dtype=bool)
    if column.null_count:
        null_after = pc.is_null(after).to_numpy(zero_copy_only=False)
        null_before = pc.is_null(before).to_numpy(zero_copy_only=False)
        out |= np.asarray(null_after != null_before, dtype=bool)
    return out


def concat_points(
    frames: Iterable[pd.DataFrame], *, consume: bool = False
) -> pd.DataFrame:
    """Concatenate frames made by :func:`points` (empty input -> empty frame).

    Built column by column from the parts' arrays: the text columns' categories
    are merged (sorted) and each part's codes mapped onto them, so the result
    keeps them categorical (``pd.concat`` of categoricals with different
    categories would fall back to one Python string per row), and a run's
    hundred small frames cost no per-frame ``astype`` or ``concat``.
    ``consume``: the frames (a list, emptied) are the caller's to give up; each
    part's column is let go once the merged column is built, so the parts and
    the result are not both held whole.
    """
    parts = [f for f in frames if len(f)]
    if consume and isinstance(frames, list):
        frames.clear()
    if not parts:
        return empty_datapoints().assign(unit=repeat_category("", 0))
    if len(parts) == 1:
        return parts[0].loc[:, list(_COLUMNS)].reset_index(drop=True)
    # Each part as its columns (a dict entry is dropped far faster than a
    # frame's column): given up one column at a time when consumed.
    held = [{col: part[col] for col in _COLUMNS} for part in parts]
    del parts
    columns: dict[str, Any] = {}
    for col in _COLUMNS:
        series = (
            [cols.pop(col) for cols in held]
            if consume
            else [cols[col] for cols in held]
        )
        if col == "timestamp" and all(s.dtype == _UTC_US for s in series):
            # One new array of UTC instants (a naive concatenation localized
            # after would be a second one).
            columns[col] = pd.concat(series, ignore_index=True).array
        elif col == "timestamp":
            stamps = np.concatenate(
                [s.to_numpy(dtype="datetime64[us]") for s in series]
            )
            # UTC instants as they are (no localizing copy), as an array: a
            # frame copies an index it is given as a column.
            columns[col] = pd.DatetimeIndex(stamps, dtype=_UTC_US, copy=False).array
        elif isinstance(series[0].dtype, pd.CategoricalDtype):
            columns[col] = _merged_categorical(series)
        else:
            columns[col] = np.concatenate([s.to_numpy() for s in series])
        del series
    # The columns are new arrays: the frame takes them as they are.
    return pd.DataFrame(columns, copy=False)


def _merged_categorical(series: list[pd.Series]) -> Any:
    """Categorical series as one, on their categories' sorted union."""
    arrays = [s.array for s in series]
    own = [list(a.categories) for a in arrays]
    merged = sorted({str(v) for cats in own for v in cats})
    position = {v: k for k, v in enumerate(merged)}
    width = np.int8 if len(merged) < 127 else np.int32
    codes = []
    for array, cats in zip(arrays, own, strict=True):
        part = np.asarray(array.codes)
        if cats == merged:
            codes.append(part)
            continue
        where = np.array([position[str(v)] for v in cats] + [-1], dtype=width)
        codes.append(where[part])  # code -1 (missing) takes the appended -1
    return pd.Categorical.from_codes(
        np.concatenate(codes).astype(width, copy=False),
        dtype=pd.CategoricalDtype(pd.Index(merged, dtype="str")),
        validate=False,
    )
