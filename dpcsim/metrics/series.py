"""Time grids and the sampling of step functions (state timelines) per minute.

CloudWatch's per-minute Redshift gauges (``WLMQueueLength``,
``WLMRunningQueries``, ``ConcurrencyScalingActiveClusters``) are polled values of
a state that changes at arbitrary instants. AWS does not document how the
minute's value is taken, so the sampling is a parameter:

``"instant"`` (default)
    The state at the minute boundary that starts the datapoint's minute (the
    state after every change at exactly that instant). This is what a poll of
    ``STV_WLM_SERVICE_CLASS_STATE.num_queued_queries`` once a minute returns,
    which is how the published gauge behaves: a burst that queues and drains
    between two polls is invisible.
``"max"``
    The maximum of the state over the minute ``[T, T + 60 s)``: an upper
    bound, never misses a burst.
``"mean"``
    The time-weighted mean over ``[T, T + 60 s)``.

A datapoint's timestamp is the start ``T`` of its minute. 5-minute metrics use
periods aligned to multiples of 300 s since the Unix epoch, as CloudWatch
aligns periods.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

import numpy as np
import pandas as pd

from dpcsim.errors import InputError

__all__ = [
    "MINUTE_S",
    "SAMPLINGS",
    "Sampling",
    "bin_counts",
    "minute_grid",
    "period_index",
    "sample_step",
    "step_function",
]

Sampling = Literal["instant", "max", "mean"]
#: Allowed values of the ``sampling`` parameter.
SAMPLINGS: Final = get_args(Sampling)
#: One minute [s].
MINUTE_S: Final = 60.0


def minute_grid(
    start_at: pd.Timestamp, horizon_s: float, end_at: pd.Timestamp | None = None
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Minute starts covering the run.

    Parameters
    ----------
    start_at
        Clock zero [UTC].
    horizon_s
        Last instant with activity [s from ``start_at``].
    end_at
        Optional last instant to cover instead of ``horizon_s`` [UTC].

    Returns
    -------
    (pandas.DatetimeIndex, numpy.ndarray)
        The minute starts (UTC, from ``start_at`` floored to the minute through
        the minute containing the end) and the same instants in [s] from
        ``start_at``.
    """
    first = start_at.floor("min")
    last_s = horizon_s if end_at is None else (end_at - start_at).total_seconds()
    last = (start_at + pd.Timedelta(seconds=max(last_s, 0.0))).floor("min")
    stamps = pd.date_range(first, max(first, last), freq="min")
    grid_s = (stamps - start_at).total_seconds().to_numpy(dtype="float64")
    return stamps, grid_s


def step_function(t_s: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Collapse change rows to one (time, value) pair per instant (last wins).

    Parameters
    ----------
    t_s
        Change times [s], sorted ascending (ties allowed).
    values
        The state after each change.
    """
    t = np.asarray(t_s, dtype="float64")
    v = np.asarray(values, dtype="float64")
    if t.size == 0:
        return t, v
    keep = np.ones(t.size, dtype=bool)
    keep[:-1] = t[1:] != t[:-1]
    return t[keep], v[keep]


def sample_step(
    t_s: np.ndarray,
    values: np.ndarray,
    grid_s: np.ndarray,
    *,
    sampling: Sampling = "instant",
) -> np.ndarray:
    """Sample a right-continuous step function (0 before its first change).

    Parameters
    ----------
    t_s, values
        Output of :func:`step_function` (unique sorted times [s]).
    grid_s
        Minute starts [s].
    sampling
        ``"instant"``, ``"max"`` or ``"mean"`` (see the module docstring).

    Returns
    -------
    numpy.ndarray
        One float value per grid minute.

    Examples
    --------
    >>> t, v = np.array([30.0, 90.0]), np.array([2.0, 0.0])
    >>> sample_step(t, v, np.array([0.0, 60.0])).tolist()
    [0.0, 2.0]
    >>> sample_step(t, v, np.array([0.0, 60.0]), sampling="max").tolist()
    [2.0, 2.0]
    >>> sample_step(t, v, np.array([0.0, 60.0]), sampling="mean").tolist()
    [1.0, 1.0]
    """
    if sampling not in SAMPLINGS:
        raise InputError(
            f"sampling={sampling!r}; expected one of {list(SAMPLINGS)}",
            location="sampling",
        )
    grid = np.asarray(grid_s, dtype="float64")
    inst = _value_at(t_s, values, grid)
    if sampling == "instant" or t_s.size == 0:
        return inst
    if sampling == "max":
        return _max_over(t_s, values, grid, inst)
    area = _integral(t_s, values, grid + MINUTE_S) - _integral(t_s, values, grid)
    return np.asarray(area / MINUTE_S, dtype="float64")


def bin_counts(
    t_s: np.ndarray, grid_s: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Sum ``weights`` (default 1) of events into grid minutes ``[T, T + 60)``.

    Events outside the grid are not counted.
    """
    t = np.asarray(t_s, dtype="float64")
    w = np.ones(t.size) if weights is None else np.asarray(weights, dtype="float64")
    out = np.zeros(len(grid_s))
    if t.size == 0 or len(grid_s) == 0:
        return out
    finite = np.isfinite(t)
    k = np.floor((t[finite] - grid_s[0]) / MINUTE_S).astype("int64")
    inside = (k >= 0) & (k < len(grid_s))
    np.add.at(out, k[inside], w[finite][inside])
    return out


def period_index(t_s: np.ndarray, start_at: pd.Timestamp, period_s: int) -> np.ndarray:
    """Epoch-aligned period start [s since the Unix epoch] of each instant."""
    epoch_s = start_at.timestamp() + np.asarray(t_s, dtype="float64")
    return np.floor(epoch_s / period_s) * period_s


def _value_at(t: np.ndarray, v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Step-function value at each ``x`` (0 before the first change)."""
    idx = np.searchsorted(t, x, side="right") - 1
    return np.where(idx >= 0, v[np.clip(idx, 0, None)] if v.size else 0.0, 0.0)


def _max_over(
    t: np.ndarray, v: np.ndarray, grid: np.ndarray, inst: np.ndarray
) -> np.ndarray:
    """Maximum over ``[T, T + 60)``: the value at T or any change inside."""
    a = np.searchsorted(t, grid, side="right")
    b = np.searchsorted(t, grid + MINUTE_S, side="left")
    padded = np.append(v, 0.0)
    bounds = np.empty(2 * grid.size, dtype="int64")
    bounds[0::2], bounds[1::2] = a, b
    # reduceat over [a, b) pairs; empty ranges are masked out below.
    seg = np.maximum.reduceat(padded, np.clip(bounds, 0, v.size))[0::2]
    return np.where(b > a, np.maximum(inst, seg), inst)


def _integral(t: np.ndarray, v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Integral of the step function from ``t[0]`` to each ``x`` [value × s]."""
    cum = np.concatenate([[0.0], np.cumsum(v[:-1] * np.diff(t))])
    idx = np.searchsorted(t, x, side="right") - 1
    safe = np.clip(idx, 0, None)
    return np.where(idx >= 0, cum[safe] + v[safe] * (x - t[safe]), 0.0)
