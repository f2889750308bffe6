"""The result of a run: records, timeline, scaling activations and a summary."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dpcsim.engine.records import LOCATIONS, OUTCOMES, RunCodes, StateLog
from dpcsim.engine.scaling import Bill

__all__ = ["RunCodes", "SimResult", "elt_finish_times", "percentiles", "summarize"]


class SimResult:
    """What :func:`~dpcsim.engine.simulate` returns.

    Attributes
    ----------
    queries
        One row per arrived query: ``query_id, task_id, queue`` (final),
        ``first_queue, statement_type, arrival_s, queue_s, start_s, end_s,
        exec_s`` [s from ``start_at``], ``ran_on`` (main | cs | sqa),
        ``attempts, hops, outcome`` (completed | aborted | canceled | failed),
        ``sqa_evicted, qmr_actions`` (``rule:action;...``), ``cache_hit``.
    timeline
        One row per state change of a queue (or ``sqa``): ``t_s, queue,
        queued, running`` (main + scaling), ``running_cs, cs_clusters``
        (active scaling clusters, cluster-wide, after the change). Built on
        first access when the result was made from a :class:`StateLog`.
    state_log
        The same timeline as code arrays (:class:`StateLog`), or None when
        the result was given a timeline frame.
    scaling
        One row per scaling-cluster activation: ``cluster, start_s, end_s,
        busy_s, billed_s``.
    summary
        JSON-serialisable totals (see :func:`summarize`).
    start_at
        UTC instant of ``t_s == 0``.
    codes
        The engine's per-query code arrays the ``queue``, ``outcome`` and
        ``ran_on`` strings of ``queries`` were built from (:class:`RunCodes`),
        or None.
    """

    __slots__ = (
        "_timeline",
        "codes",
        "queries",
        "scaling",
        "start_at",
        "state_log",
        "summary",
    )

    def __init__(
        self,
        queries: pd.DataFrame,
        timeline: pd.DataFrame | StateLog,
        scaling: pd.DataFrame,
        summary: dict[str, Any],
        start_at: pd.Timestamp,
        codes: RunCodes | None = None,
    ) -> None:
        self.queries = queries
        self.codes = codes
        self.scaling = scaling
        self.summary = summary
        self.start_at = start_at
        self.state_log: StateLog | None = None
        self._timeline: pd.DataFrame | None = None
        if isinstance(timeline, StateLog):
            self.state_log = timeline
        else:
            self._timeline = timeline

    @property
    def timeline(self) -> pd.DataFrame:
        """The timeline frame (see the class docstring)."""
        if self._timeline is None:
            assert self.state_log is not None
            self._timeline = self.state_log.frame()
        return self._timeline

    def __repr__(self) -> str:
        return (
            f"SimResult(queries={len(self.queries)} rows, "
            f"scaling={len(self.scaling)} rows, start_at={self.start_at!r})"
        )


def summarize(
    codes: RunCodes, scaling: pd.DataFrame, bill: Bill, sqa_max_s: float | None
) -> dict[str, Any]:
    """Return the run's summary.

    Keys: ``arrived`` and one count per outcome (``arrived`` equals their sum),
    ``wait_s`` and ``by_queue`` (per final queue with queries: arrived,
    outcomes, ``wait_s`` percentiles p50/p90/p99/max/mean of ``queue_s`` [s]),
    ``ran_on`` counts, ``cache_hits``, ``hops``, ``restarts``, ``qmr_actions``
    (queries with any), ``sqa`` (runs incl. evicted ones, evictions, max_s) and
    ``scaling`` (activations, busy_s, billed_s, free_credit_used_s, paid_s,
    cost_usd).
    """
    out_n = np.bincount(codes.outcome, minlength=len(OUTCOMES))
    wait_s = percentiles(codes.queue_s)
    by_queue: dict[str, Any] = {}
    present = np.flatnonzero(np.bincount(codes.queue, minlength=len(codes.names)))
    for qi in present:
        mask = codes.queue == qi
        arrived = int(mask.sum())
        q_n = np.bincount(codes.outcome[mask], minlength=len(OUTCOMES))
        by_queue[codes.names[int(qi)]] = {
            "arrived": arrived,
            **{o: int(q_n[k]) for k, o in enumerate(OUTCOMES)},
            # One queue holding every query has the run's percentiles.
            "wait_s": dict(wait_s)
            if arrived == mask.size
            else percentiles(codes.queue_s[mask]),
        }
    ran_n = np.bincount(codes.ran_on, minlength=len(LOCATIONS))
    evictions = int(codes.sqa_evicted.sum())
    return {
        "arrived": int(codes.queue.size),
        **{o: int(out_n[k]) for k, o in enumerate(OUTCOMES)},
        "wait_s": wait_s,
        "by_queue": dict(sorted(by_queue.items())),
        "ran_on": {o: int(ran_n[k]) for k, o in enumerate(LOCATIONS)},
        "cache_hits": int(codes.cache_hit.sum()),
        "hops": int(codes.hops.sum()),
        "restarts": int((codes.attempts - 1).sum()),
        "qmr_actions": codes.qmr_queries,
        "sqa": {
            "runs": int(ran_n[LOCATIONS.index("sqa")]) + evictions,
            "evictions": evictions,
            "max_s": None if sqa_max_s is None else float(sqa_max_s),
        },
        "scaling": {
            "activations": len(scaling),
            "busy_s": float(scaling["busy_s"].sum()),
            "billed_s": float(scaling["billed_s"].sum()),
            "free_credit_used_s": float(bill.free_used_s),
            "paid_s": float(bill.paid_s),
            "cost_usd": float(bill.cost_usd),
        },
    }


def percentiles(x: np.ndarray) -> dict[str, float | None]:
    """p50/p90/p99/max/mean of ``x`` [s]; None for an empty array."""
    if x.size == 0:
        return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    p = np.percentile(x, [50, 90, 99])
    return {
        "p50": float(p[0]),
        "p90": float(p[1]),
        "p99": float(p[2]),
        "max": float(x.max()),
        "mean": float(x.mean()),
    }


def elt_finish_times(
    queries: pd.DataFrame,
    start_at: pd.Timestamp,
    *,
    queue: str | None,
    query_group: str | None,
    workload: pd.DataFrame | None = None,
    timezone: str = "UTC",
    window_start: str = "00:00",
) -> pd.DataFrame:
    """Finish time of each nightly ELT run in a run's records.

    Parameters
    ----------
    queries
        :attr:`SimResult.queries` (``query_id, first_queue, arrival_s, end_s``).
    start_at
        :attr:`SimResult.start_at` (UTC instant of t = 0).
    queue, query_group
        The ELT contract: queue the ELT is routed to and the ``query_group`` it
        sets; None = not a condition. ``query_group`` needs ``workload``.
    workload
        The canonical query frame (``query_id, query_group``) the run replayed.
    timezone, window_start
        IANA zone and local ``"HH:MM"`` at which a nightly window opens: a
        query belongs to the night of the local date of its arrival minus
        ``window_start``.

    Returns
    -------
    pandas.DataFrame
        One row per night with ELT queries: ``night`` (local date of the window
        opening, str), ``first_arrival_at`` and ``finish_at`` (UTC, the last
        end), ``queries`` and ``completed`` (queries ended ``completed``).

    Raises
    ------
    ValueError
        When ``query_group`` is given without ``workload``, or ``window_start``
        is not ``HH:MM``.
    """
    sel = np.ones(len(queries), bool)
    if queue is not None:
        sel &= (queries["first_queue"] == queue).to_numpy()
    if query_group is not None:
        if workload is None:
            raise ValueError(
                "query_group needs the workload frame (query_id, query_group)"
            )
        groups = workload.set_index("query_id")["query_group"]
        qg = groups.reindex(queries["query_id"].to_numpy()).to_numpy()
        sel &= qg == query_group
    try:
        hh, mm = (int(x) for x in window_start.split(":"))
    except ValueError:
        raise ValueError(f"window_start={window_start!r}; expected HH:MM") from None
    elt = queries.loc[sel]
    cols = ["night", "first_arrival_at", "finish_at", "queries", "completed"]
    if elt.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    arrival = start_at + pd.to_timedelta(elt["arrival_s"].to_numpy(), unit="s")
    end = start_at + pd.to_timedelta(elt["end_s"].to_numpy(), unit="s")
    local = arrival.tz_convert(timezone) - pd.Timedelta(hours=hh, minutes=mm)
    frame = pd.DataFrame(
        {
            "night": local.strftime("%Y-%m-%d"),
            "arrival": arrival,
            "end": end,
            "done": (elt["outcome"] == "completed").to_numpy(),
        }
    )
    out = frame.groupby("night", sort=True).agg(
        first_arrival_at=("arrival", "min"),
        finish_at=("end", "max"),
        queries=("done", "size"),
        completed=("done", "sum"),
    )
    out = out.reset_index()
    out["queries"] = out["queries"].astype(np.int64)
    out["completed"] = out["completed"].astype(np.int64)
    return out[cols]
