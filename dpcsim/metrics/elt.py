"""ELT freshness under both candidate definitions of ``ELTExecutionDelay``.

The design leaves open how ``ELTExecutionDelay`` [min] is computed. Both
definitions are implemented and published side by side (see
:mod:`dpcsim.metrics.custom` for the publisher contract):

``StepFunctionsCompletion``
    Minutes since the ``stopDate`` of the last Step Functions execution with
    status ``SUCCEEDED``. Failed, timed-out, aborted and running executions are
    not successes.
``MartTableUpdate``
    Minutes since the stalest mart table was last written successfully: for
    every ``mart.<table>`` that has had at least one completed write, take its
    last completed write's end time; the delay is measured from the oldest of
    those. A dbt model that fails while Step Functions reports success keeps
    this one growing while the first definition resets.

A write to the mart is a completed query whose text targets ``mart.<table>``
(``create table``, ``insert into``, ``update``, ``delete from``, ``truncate``,
``copy``, ``alter table``, materialized views; an optional database qualifier
and dbt's ``__dbt_tmp``/``__dbt_backup`` suffixes are understood).

For a simulation the executions' stop times are moved by how much later (or
earlier) the simulation finished the run's ELT queries than the log did; see
:func:`shift_elt_runs`.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import pandas as pd

__all__ = [
    "MART_WRITE_PATTERN",
    "mart_table_writes",
    "mart_tables",
    "mart_update_delay_min",
    "shift_elt_runs",
    "step_functions_delay_min",
]

#: Regex whose group 1 is the mart table a statement writes.
MART_WRITE_PATTERN: Final = re.compile(
    r"^\s*(?:create\s+(?:temp(?:orary)?\s+)?table\s+(?:if\s+not\s+exists\s+)?"
    r"|create\s+materialized\s+view\s+|refresh\s+materialized\s+view\s+"
    r"|insert\s+into\s+|update\s+|delete\s+from\s+|delete\s+"
    r"|truncate\s+(?:table\s+)?|copy\s+|alter\s+table\s+)"
    r'(?:"?\w+"?\.)?"?mart"?\."?(\w+?)(?:__dbt_tmp|__dbt_backup)?"?(?:\s|\(|;|$)',
    re.IGNORECASE,
)


def shift_elt_runs(
    elt_runs: pd.DataFrame,
    logged: pd.DataFrame,
    sim_queries: pd.DataFrame,
    *,
    elt_queue: str,
    elt_query_group: str | None,
) -> pd.DataFrame:
    """Move each run's ``stop_s`` by the simulated minus logged ELT finish [s].

    The run's ELT queries are those with ``query_group == elt_query_group``
    (or, in the simulation, final queue ``elt_queue``; the design's
    :class:`~dpcsim.designs.ELTContract`) whose logged arrival falls in the run's
    ``[start_s, stop_s]`` window. The shift is the latest simulated end minus
    the latest logged end of those queries; a run with none keeps its time.

    Parameters
    ----------
    elt_runs
        ``run_id``, ``status``, ``start_s``, ``stop_s`` [s].
    logged
        Logged queries: ``query_id``, ``query_group``, ``arrival_s``, ``end_s``.
    sim_queries
        Simulated records: ``query_id``, ``queue``, ``end_s``.
    elt_queue, elt_query_group
        Queue and query group of the ELT (DPC: ``batch`` and ``elt``).

    Returns
    -------
    pandas.DataFrame
        A copy of ``elt_runs`` with shifted ``stop_s``.
    """
    if not len(elt_runs):
        # No runs to move: the copy only normalises the stop times' dtype.
        out = elt_runs.copy()
        out["stop_s"] = elt_runs["stop_s"].to_numpy(dtype="float64").copy()
        return out
    ids = logged["query_id"].to_numpy()
    sim_ids = sim_queries["query_id"].to_numpy()
    if ids.shape == sim_ids.shape and np.array_equal(ids, sim_ids):
        # The records of a run are the workload's rows in order (every sweep
        # run): the inner merge would pair row i with row i when the ids are
        # unique, so the columns are taken as they are.
        aligned = pd.Index(ids).is_unique
    else:
        aligned = False
    if aligned:
        both = logged
        sim_s = sim_queries["end_s"].to_numpy(dtype="float64")
        queue = sim_queries["queue"]
    else:
        both = logged.merge(
            sim_queries[["query_id", "queue", "end_s"]].rename(
                columns={"end_s": "sim_s"}
            ),
            on="query_id",
            how="inner",
        )
        sim_s = both["sim_s"].to_numpy(dtype="float64")
        queue = both["queue"]
    is_elt = queue.eq(elt_queue).fillna(False).to_numpy(bool)
    if elt_query_group is not None:
        is_elt |= both["query_group"].eq(elt_query_group).fillna(False).to_numpy(bool)
    arrival = both["arrival_s"].to_numpy()[is_elt]
    logged_end = both["end_s"].to_numpy(dtype="float64")[is_elt]
    sim_end = sim_s[is_elt]
    stop = elt_runs["stop_s"].to_numpy(dtype="float64").copy()
    for i, (start_s, stop_s) in enumerate(
        zip(elt_runs["start_s"].to_numpy(), stop, strict=True)
    ):
        upper = stop_s if np.isfinite(stop_s) else np.inf
        inside = (arrival >= start_s) & (arrival <= upper)
        if inside.any() and np.isfinite(stop_s):
            last = np.nanmax(sim_end[inside])
            stop[i] = stop_s + last - np.nanmax(logged_end[inside])
    out = elt_runs.copy()
    out["stop_s"] = stop
    return out


def step_functions_delay_min(elt_runs: pd.DataFrame, grid_s: np.ndarray) -> np.ndarray:
    """Minutes since the last successful execution at each grid instant.

    NaN before the first success (the publisher then has nothing to publish).
    """
    ok = elt_runs["status"].eq("SUCCEEDED").fillna(False).to_numpy(bool)
    stops = np.sort(elt_runs["stop_s"].to_numpy(dtype="float64")[ok])
    return _since_last(stops[np.isfinite(stops)], grid_s)


def mart_table_writes(queries: pd.DataFrame) -> pd.DataFrame:
    """Completed writes to ``mart.*``: ``table`` and ``end_s`` [s], by time.

    The table comes from ``query_text`` (:func:`mart_tables`), or from a
    precomputed ``mart_table`` column when the records carry one.
    """
    if "mart_table" in queries.columns:
        table = queries["mart_table"].astype("string")
    else:
        table = mart_tables(queries["query_text"])
    done = queries["outcome"].eq("completed").to_numpy(bool)
    end_s = queries["end_s"].to_numpy(dtype="float64")
    keep = done & table.notna().to_numpy(bool) & np.isfinite(end_s)
    out = pd.DataFrame(
        {"table": table.str.lower().to_numpy()[keep], "end_s": end_s[keep]}
    )
    return out.sort_values(["end_s", "table"], kind="stable").reset_index(drop=True)


def mart_tables(text: pd.Series) -> pd.Series:
    """The ``mart`` table each statement writes (``<NA>`` when none), as written.

    The pattern runs once per distinct text (a log repeats a few thousand
    statement shapes millions of times), and the result is taken back by
    position; the same values as ``str.extract`` over every row.
    """
    codes, uniques = pd.factorize(text.astype("string").fillna(""), sort=False)
    distinct = pd.Series(np.asarray(uniques, dtype=object), dtype="string")
    found = distinct.str.extract(MART_WRITE_PATTERN, expand=False).astype("string")
    taken = found.array.take(codes, allow_fill=True)
    return pd.Series(taken, index=text.index, dtype="string")


def mart_update_delay_min(queries: pd.DataFrame, grid_s: np.ndarray) -> np.ndarray:
    """Minutes since the stalest known mart table's last write, per grid instant.

    NaN before the first completed mart write.
    """
    writes = mart_table_writes(queries)
    grid = np.asarray(grid_s, dtype="float64")
    oldest = np.full(grid.size, np.inf)
    for _, group in writes.groupby("table", sort=True):
        ends = group["end_s"].to_numpy()
        idx = np.searchsorted(ends, grid, side="right") - 1
        last = np.where(idx >= 0, ends[np.clip(idx, 0, None)], np.inf)
        oldest = np.minimum(oldest, last)
    delay = (grid - oldest) / 60.0
    return np.where(np.isfinite(oldest), delay, np.nan)


def _since_last(events_s: np.ndarray, grid_s: np.ndarray) -> np.ndarray:
    """Minutes since the last event at or before each grid instant (NaN if none)."""
    grid = np.asarray(grid_s, dtype="float64")
    idx = np.searchsorted(events_s, grid, side="right") - 1
    if events_s.size == 0:
        return np.full(grid.size, np.nan)
    last = events_s[np.clip(idx, 0, None)]
    return np.where(idx >= 0, (grid - last) / 60.0, np.nan)
