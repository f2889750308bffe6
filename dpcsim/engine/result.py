"""The result of a run: records, timeline, scaling activations and a summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dpcsim.engine.records import LOCATIONS, OUTCOMES, StateLog
from dpcsim.engine.scaling import Bill

__all__ = ["RunCodes", "SimResult", "summarize"]


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
    """

    __slots__ = ("_timeline", "queries", "scaling", "start_at", "state_log", "summary")

    def __init__(
        self,
        queries: pd.DataFrame,
        timeline: pd.DataFrame | StateLog,
        scaling: pd.DataFrame,
        summary: dict[str, Any],
        start_at: pd.Timestamp,
    ) -> None:
        self.queries = queries
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


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCodes:
    """Per-query code arrays of a run, the summary's input (faster than strings).

    Attributes
    ----------
    names
        Queue names by engine queue index.
    queue, outcome, ran_on
        Final queue index, outcome code and location code per query.
    queue_s
        Queue time per query [s].
    cache_hit, sqa_evicted
        Flags per query.
    hops, attempts
        Counts per query.
    qmr_queries
        Number of queries with at least one QMR action.
    """

    names: tuple[str, ...]
    queue: np.ndarray
    outcome: np.ndarray
    ran_on: np.ndarray
    queue_s: np.ndarray
    cache_hit: np.ndarray
    sqa_evicted: np.ndarray
    hops: np.ndarray
    attempts: np.ndarray
    qmr_queries: int


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
    by_queue: dict[str, Any] = {}
    for qi in np.unique(codes.queue):
        mask = codes.queue == qi
        q_n = np.bincount(codes.outcome[mask], minlength=len(OUTCOMES))
        by_queue[codes.names[int(qi)]] = {
            "arrived": int(mask.sum()),
            **{o: int(q_n[k]) for k, o in enumerate(OUTCOMES)},
            "wait_s": _percentiles(codes.queue_s[mask]),
        }
    ran_n = np.bincount(codes.ran_on, minlength=len(LOCATIONS))
    evictions = int(codes.sqa_evicted.sum())
    return {
        "arrived": int(codes.queue.size),
        **{o: int(out_n[k]) for k, o in enumerate(OUTCOMES)},
        "wait_s": _percentiles(codes.queue_s),
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


def _percentiles(x: np.ndarray) -> dict[str, float | None]:
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
