"""What-ifs on any workload (generated or ingested): rate, speed, ELT shift.

Pure functions: each returns a new :class:`~dpcsim.schema.Workload` and leaves
its input untouched.

- :func:`scale_arrivals` multiplies the arrival rate. A factor below 1 thins
  (each query kept independently with probability ``factor``); above 1 it
  superposes resampled days: for every day of the horizon a randomly chosen day's
  queries are copied onto it (shifted by whole days, with new query ids), once
  per whole extra unit of rate, the last layer thinned to the fractional rest.
  Resampling whole days keeps each day's bursts and daily shape; the copies
  are new sessions (:func:`new_sessions`).
- :func:`speed_up` replays time faster: arrival offsets from the start and every
  duration are divided by the factor.
- :func:`shift_elt` moves the nightly ELT (its statements, Step Functions
  executions and load errors) by N minutes.

Which statements are the ELT's is the design's
:class:`~dpcsim.designs.ELTContract` (:func:`elt_mask`).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from dpcsim.designs import ELTContract
from dpcsim.schema import Workload, validate_workload

__all__ = ["elt_mask", "new_sessions", "scale_arrivals", "shift_elt", "speed_up"]

_DAY: Final = pd.Timedelta(days=1)


def scale_arrivals(
    workload: Workload,
    factor: float,
    rng: np.random.Generator | int | None = None,
    *,
    where: np.ndarray | pd.Series | None = None,
    timezone: str = "UTC",
) -> Workload:
    """Scale the arrival rate of (some of) the queries by ``factor``.

    Parameters
    ----------
    workload
        Input workload.
    factor
        Rate multiplier (> 0): < 1 thins, > 1 superposes resampled days.
    rng
        Seed or generator.
    where
        Boolean mask of the rows to scale (others are kept as they are);
        default all rows.
    timezone
        IANA zone whose calendar days are resampled (the design's).

    Returns
    -------
    Workload
        The scaled workload (side tables unchanged). Added queries get new,
        unique query ids (and equal task ids) above the input's maximum.
    """
    if not factor > 0:
        raise ValueError(f"factor={factor!r}; expected a rate multiplier > 0")
    gen = np.random.default_rng(rng)
    q = workload.queries
    mask = (
        np.ones(len(q), dtype=bool) if where is None else np.asarray(where, dtype=bool)
    )
    if mask.size != len(q):
        raise ValueError(f"where has {mask.size} values; expected {len(q)}")
    if factor <= 1.0:
        keep = ~mask | (gen.random(len(q)) < factor)
        out = q.loc[keep]
    else:
        out = pd.concat(
            [q, *_extra_layers(q, mask, factor - 1.0, gen, timezone)],
            ignore_index=True,
        )
    return Workload(
        queries=validate_workload(out.reset_index(drop=True)),
        elt_runs=workload.elt_runs,
        load_errors=workload.load_errors,
    )


def speed_up(workload: Workload, factor: float) -> Workload:
    """Compress time by ``factor``: arrival offsets and durations divided.

    Parameters
    ----------
    workload
        Input workload; time zero is :attr:`Workload.start_at`.
    factor
        Speed factor (> 0); 2 replays the workload twice as fast.

    Returns
    -------
    Workload
        ``arrival_at`` offsets, ``exec_s`` [s] and ``queue_s`` [s] divided by
        ``factor`` (µs resolution); Step Functions and load-error times too.
    """
    if not factor > 0:
        raise ValueError(f"factor={factor!r}; expected a speed factor > 0")
    t0 = workload.start_at

    def squeeze(times: pd.Series) -> pd.Series:
        offset_us = (times - t0).to_numpy().astype("timedelta64[us]").astype(np.int64)
        squeezed = pd.to_timedelta(np.round(offset_us / factor), unit="us")
        return pd.Series(t0 + squeezed, index=times.index)

    q = workload.queries.copy()
    q["arrival_at"] = squeeze(q["arrival_at"])
    q["exec_s"] = q["exec_s"] / factor
    q["queue_s"] = q["queue_s"] / factor
    runs = workload.elt_runs.copy()
    for col in ("start_at", "stop_at"):
        runs[col] = squeeze(runs[col]).astype(runs[col].dtype)
    errors = workload.load_errors.copy()
    errors["error_at"] = squeeze(errors["error_at"]).astype(errors["error_at"].dtype)
    return Workload(queries=validate_workload(q), elt_runs=runs, load_errors=errors)


def elt_mask(queries: pd.DataFrame, contract: ELTContract) -> np.ndarray:
    """Boolean mask of the ELT's statements under ``contract``.

    Statements with the contract's query group (case-insensitive) or issued
    by one of its users; a contract with neither takes the statements logged
    in its queue.
    """
    mask = np.zeros(len(queries), dtype=bool)
    if contract.query_group is not None:
        group = queries["query_group"].fillna("").str.lower()
        mask |= (group == contract.query_group.lower()).to_numpy(dtype=bool)
    if contract.users:
        mask |= queries["user_name"].isin(contract.users).to_numpy(dtype=bool)
    if contract.query_group is None and not contract.users:
        mask |= (queries["queue"] == contract.queue).fillna(False).to_numpy(bool)
    return mask


def shift_elt(
    workload: Workload,
    minutes: float,
    contract: ELTContract,
    *,
    where: np.ndarray | pd.Series | None = None,
) -> Workload:
    """Move the ELT by ``minutes`` (negative = earlier).

    Parameters
    ----------
    workload
        Input workload.
    minutes
        Shift [min].
    contract
        The design's ELT contract (which statements are the ELT's).
    where
        Rows to shift; default :func:`elt_mask`.

    Returns
    -------
    Workload
        ELT statements, Step Functions executions and load errors shifted.
    """
    delta = pd.Timedelta(minutes=minutes)
    q = workload.queries.copy()
    mask = elt_mask(q, contract) if where is None else np.asarray(where, dtype=bool)
    arrival = q["arrival_at"].copy()
    arrival.loc[mask] = arrival.loc[mask] + delta
    q["arrival_at"] = arrival
    runs = workload.elt_runs.copy()
    runs["start_at"] = runs["start_at"] + delta
    runs["stop_at"] = runs["stop_at"] + delta
    errors = workload.load_errors.copy()
    errors["error_at"] = errors["error_at"] + delta
    return Workload(queries=validate_workload(q), elt_runs=runs, load_errors=errors)


def new_sessions(rows: pd.DataFrame, first: int) -> tuple[pd.DataFrame, int]:
    """``rows`` with each session renumbered from ``first`` (unknown kept).

    Copies of statements (a superposed day, a re-run, a burst) are new
    sessions: sharing the originals' ids would chain them into the originals'
    sessions under session replay (:mod:`dpcsim.engine.sessions`). Returns
    the renumbered rows and the next free id.
    """
    known = rows["session_id"].notna().to_numpy()
    codes, _ = pd.factorize(rows["session_id"].to_numpy()[known])
    renumbered = pd.Series(pd.NA, index=rows.index, dtype="Int64")
    renumbered.iloc[np.flatnonzero(known)] = first + codes
    out = rows.copy()
    out["session_id"] = renumbered
    return out, first + (int(codes.max()) + 1 if codes.size else 0)


def next_session(queries: pd.DataFrame) -> int:
    """The first session id above every one in ``queries``."""
    top = queries["session_id"].max()
    return 1 if pd.isna(top) else int(top) + 1


def _extra_layers(
    q: pd.DataFrame,
    mask: np.ndarray,
    extra: float,
    rng: np.random.Generator,
    timezone: str,
) -> list[pd.DataFrame]:
    """Copies of resampled days adding ``extra`` units of rate, with new ids."""
    local = q["arrival_at"].dt.tz_convert(timezone)
    first = local.min().floor("D") if len(q) else None
    day = (
        ((local - first) // _DAY).to_numpy(dtype=np.int64)
        if len(q)
        else np.zeros(0, np.int64)
    )
    n_days = int(day.max()) + 1 if len(q) else 0
    layers: list[pd.DataFrame] = []
    next_id = int(q["query_id"].max()) + 1 if len(q) else 1
    session = next_session(q)
    while extra > 1e-12:
        p = min(1.0, extra)
        for target in range(n_days):
            source = int(rng.integers(n_days))
            pick = mask & (day == source) & (rng.random(len(q)) < p)
            copy = q.loc[pick].copy()
            copy["arrival_at"] = copy["arrival_at"] + (target - source) * _DAY
            ids = np.arange(next_id, next_id + len(copy), dtype=np.int64)
            copy["query_id"] = ids
            copy["task_id"] = ids
            next_id += len(copy)
            copy, session = new_sessions(copy, session)
            layers.append(copy)
        extra -= 1.0
    return layers
