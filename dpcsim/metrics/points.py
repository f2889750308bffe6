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

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from dpcsim.metrics.datapoints import DATAPOINT_DTYPES, dimensions_key

__all__ = ["concat_points", "points"]

_COLUMNS = (*DATAPOINT_DTYPES, "unit")


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
    ts = pd.DatetimeIndex(stamps).tz_convert("UTC").as_unit("us")
    return pd.DataFrame(
        {
            "timestamp": ts.array,
            "namespace": pd.array([namespace] * n, dtype="string"),
            "metric_name": pd.array([metric_name] * n, dtype="string"),
            "dimensions": pd.array([dimensions_key(dimensions)] * n, dtype="string"),
            "value": np.asarray(values, dtype="float64").reshape(-1),
            "unit": pd.array([unit] * n, dtype="string"),
        }
    )


def concat_points(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames made by :func:`points` (empty input -> empty frame)."""
    parts = [f for f in frames if len(f)]
    if not parts:
        empty = {c: pd.Series(dtype=t) for c, t in DATAPOINT_DTYPES.items()}
        return pd.DataFrame({**empty, "unit": pd.Series(dtype="string")})
    out = pd.concat(parts, ignore_index=True)
    return out.loc[:, list(_COLUMNS)]
