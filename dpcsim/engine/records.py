"""Columnar recorders: per-query outcome arrays and the state-change log.

The engine writes each query's fields into preallocated arrays (no Python
object per query survives the run) and appends every change of a queue's state
to two flat buffers, a time and a code ``queue * 16 + kind``. After the run the
log becomes the timeline with a few numpy operations: per-queue cumulative sums
of the queued / running / running-on-scaling deltas of each kind, then one row
per (time, queue) keeping the state after the last change at that instant.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "CS",
    "LOCATIONS",
    "MAIN",
    "OUTCOMES",
    "OUT_ABORTED",
    "OUT_CANCELED",
    "OUT_COMPLETED",
    "OUT_FAILED",
    "SQA",
    "Recorder",
    "RunCodes",
    "StateLog",
]

MAIN, CS, SQA = 0, 1, 2
#: Location code -> ``ran_on`` value.
LOCATIONS: Final = ("main", "cs", "sqa")

OUT_COMPLETED, OUT_ABORTED, OUT_CANCELED, OUT_FAILED = 0, 1, 2, 3
#: Outcome code -> ``outcome`` value.
OUTCOMES: Final = ("completed", "aborted", "canceled", "failed")

# Log kinds: (d queued, d running, d running on scaling, d active clusters).
K_Q_IN, K_Q_OUT, K_RUN, K_DEQ_RUN, K_END = 0, 1, 2, 3, 4
K_CS_RUN, K_DEQ_CS, K_CS_END, K_CL_UP, K_CL_DOWN, K_CL_SAME = 5, 6, 7, 8, 9, 10
_DELTAS: Final = np.array(
    [
        (1, 0, 0, 0),
        (-1, 0, 0, 0),
        (0, 1, 0, 0),
        (-1, 1, 0, 0),
        (0, -1, 0, 0),
        (0, 1, 1, 0),
        (-1, 1, 1, 0),
        (0, -1, -1, 0),
        (0, 0, 0, 1),
        (0, 0, 0, -1),
        (0, 0, 0, 0),
    ]
    + [(0, 0, 0, 0)] * 5,
    dtype=np.int64,
)
_DELTAS32_T: Final = np.ascontiguousarray(_DELTAS.astype(np.int32).T)


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


class Recorder:
    """Per-query output arrays and the state-change log of one run.

    Parameters
    ----------
    n
        Number of queries.
    queue
        Routed engine queue index per query.
    n_queues
        Number of engine queues (configured, superuser, SQA).
    """

    def __init__(self, n: int, queue: np.ndarray, n_queues: int) -> None:
        self.n_queues = n_queues
        nan = np.full(n, np.nan).tobytes()
        self.start = array("d", nan)
        self.end = array("d", nan)
        #: Accumulated queue time; holds ``-t`` while waiting since ``t``.
        self.acc_q = array("d", bytes(8 * n))
        self.cur_q = array("b", queue.astype(np.int8).tobytes())
        self.ran = array("b", bytes(n))
        self.attempts = array("h", np.ones(n, np.int16).tobytes())
        self.hops = array("h", bytes(2 * n))
        self.outcome = array("b", bytes(n))
        self.sqa_evicted = array("b", bytes(n))
        self.qmr: dict[int, list[str]] = {}
        self.log_t = array("d")
        self.log_c = array("i")
        #: Called with (query, time) whenever a query ends (session replay).
        self.after: Callable[[int, float], None] | None = None

    def cache_hit(self, i: int, now: float) -> None:
        """Record a result-cache hit: done at arrival, no queue, no execution."""
        self.acc_q[i] = 0.0
        self.start[i] = now
        self.end[i] = now
        if self.after is not None:
            self.after(i, now)

    def finish(self, i: int, now: float, outcome: int) -> None:
        """Record the end of query ``i`` with ``outcome`` (slots already freed)."""
        self.end[i] = now
        self.outcome[i] = outcome
        if self.after is not None:
            self.after(i, now)

    def fail_where_completed(self, mask: np.ndarray) -> None:
        """Turn ``completed`` into ``failed`` for the queries where ``mask`` holds."""
        outcome = np.frombuffer(self.outcome, np.int8)
        hit = mask & (outcome == OUTCOMES.index("completed"))
        for i in np.flatnonzero(hit):
            self.outcome[int(i)] = OUTCOMES.index("failed")

    def cluster_change(self, now: float, delta: int, scaling: tuple[bool, ...]) -> None:
        """Log a change of active clusters on every scaling queue's row."""
        kind = K_CL_UP if delta > 0 else K_CL_DOWN
        for q, on in enumerate(scaling):
            if on:
                self.log_t.append(now)
                self.log_c.append(q * 16 + kind)
                kind = K_CL_SAME

    def queries_frame(
        self,
        *,
        arrival_s: np.ndarray,
        first_queue: np.ndarray,
        names: tuple[str, ...],
        extra: dict[str, Any],
    ) -> pd.DataFrame:
        """Build the per-query frame (columns in the SimResult order)."""
        end = np.frombuffer(self.end, np.float64)
        queue_s = np.frombuffer(self.acc_q, np.float64).copy()
        cur = np.frombuffer(self.cur_q, np.int8)
        texts = sorted({";".join(acts) for acts in self.qmr.values()})
        text_code = {t: k for k, t in enumerate(texts, start=1)}
        qmr = np.zeros(arrival_s.size, np.int32)
        for i, acts in self.qmr.items():
            qmr[i] = text_code[";".join(acts)]
        return pd.DataFrame(
            {
                # Copies: the frame must not share a prepared run's arrays.
                "query_id": extra["query_id"].copy(),
                "task_id": extra["task_id"].copy(),
                "queue": strings(names, cur),
                "first_queue": strings(names, first_queue),
                "statement_type": extra["statement_type"],
                "arrival_s": arrival_s,
                "queue_s": queue_s,
                "start_s": np.frombuffer(self.start, np.float64).copy(),
                "end_s": end.copy(),
                "exec_s": end - arrival_s - queue_s,
                "ran_on": strings(LOCATIONS, np.frombuffer(self.ran, np.int8)),
                "attempts": np.frombuffer(self.attempts, np.int16).astype(np.int64),
                "hops": np.frombuffer(self.hops, np.int16).astype(np.int64),
                "outcome": strings(OUTCOMES, np.frombuffer(self.outcome, np.int8)),
                "sqa_evicted": np.frombuffer(self.sqa_evicted, np.int8).astype(bool),
                "qmr_actions": strings(["", *texts], qmr),
                "cache_hit": extra["cache_hit"].astype(bool),
            },
            # Each column is a new array: one block each, not copied again
            # into consolidated blocks.
            copy=False,
        )

    def codes(self, names: tuple[str, ...], cache_hit: np.ndarray) -> RunCodes:
        """Return the per-query code arrays the summary is computed from."""
        return RunCodes(
            names=names,
            queue=np.frombuffer(self.cur_q, np.int8),
            outcome=np.frombuffer(self.outcome, np.int8),
            ran_on=np.frombuffer(self.ran, np.int8),
            queue_s=np.frombuffer(self.acc_q, np.float64),
            cache_hit=cache_hit,
            sqa_evicted=np.frombuffer(self.sqa_evicted, np.int8),
            hops=np.frombuffer(self.hops, np.int16),
            attempts=np.frombuffer(self.attempts, np.int16).astype(np.int64),
            qmr_queries=len(self.qmr),
        )

    def timeline_frame(self, names: tuple[str, ...]) -> pd.DataFrame:
        """Build the timeline: one row per (time, queue) state change."""
        return self.state_log(names).frame()

    def state_log(self, names: tuple[str, ...]) -> StateLog:
        """The timeline as code arrays (no strings; see :class:`StateLog`)."""
        t = np.asarray(self.log_t, dtype=np.float64)
        code = np.asarray(self.log_c, dtype=np.int32)
        q, kind = code >> 4, code & 15
        # Per state (queued, running, cs, clusters) a take from its row of the
        # 16-entry table: contiguous arrays whose cumulative sums run along
        # memory (a 2-D gather and an axis-1 cumsum took twice as long).
        deltas = [_DELTAS32_T[k].take(kind) for k in range(4)]
        clusters = np.cumsum(deltas[3], dtype=np.int32)
        keep = np.empty(t.size, bool)
        # The queues present (a count per index: no sort of the whole log).
        queues = np.flatnonzero(np.bincount(q, minlength=self.n_queues))
        if queues.size <= 1:
            state = [np.cumsum(d, dtype=np.int32) for d in deltas[:3]]
            keep[:-1] = t[1:] != t[:-1]
            keep[-1:] = True
        else:
            state = [np.empty(t.size, np.int32) for _ in range(3)]
            for qq in queues:
                sel = np.flatnonzero(q == qq)
                for k in range(3):
                    state[k][sel] = np.cumsum(deltas[k][sel], dtype=np.int32)
                tq = t[sel]
                # Keep the state after the last change of this queue at each
                # instant.
                keep[sel] = np.r_[tq[1:] != tq[:-1], True]
        return StateLog(
            names=tuple(names),
            t_s=t[keep],
            queue=q[keep].astype(np.int64),
            queued=state[0][keep],
            running=state[1][keep],
            running_cs=state[2][keep],
            cs_clusters=clusters[keep].astype(np.int16),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StateLog:
    """The engine's state-change log as arrays: the timeline before any strings.

    One entry per (time, queue) change, in time order; the values hold after
    the change. :meth:`frame` is the ``timeline`` frame of a
    :class:`~dpcsim.engine.SimResult`; metrics read the arrays directly, so a
    run that does not write its timeline never builds the string column.

    Attributes
    ----------
    names
        Queue name by engine queue index.
    t_s
        Change times [s from the run's start].
    queue
        Engine queue index per change.
    queued, running, running_cs
        Queries queued, running (main + scaling) and running on scaling in
        the queue after the change [count].
    cs_clusters
        Active scaling clusters, cluster-wide, after the change [count].
    """

    names: tuple[str, ...]
    t_s: np.ndarray
    queue: np.ndarray
    queued: np.ndarray
    running: np.ndarray
    running_cs: np.ndarray
    cs_clusters: np.ndarray

    def frame(self) -> pd.DataFrame:
        """The timeline frame (columns as :attr:`SimResult.timeline`)."""
        return pd.DataFrame(
            {
                "t_s": self.t_s,
                "queue": strings(self.names, self.queue),
                "queued": self.queued,
                "running": self.running,
                "running_cs": self.running_cs,
                "cs_clusters": self.cs_clusters,
            }
        )


def strings(names: tuple[str, ...] | list[str], codes: np.ndarray) -> pd.Series:
    """Return ``names[codes]`` as a pandas ``string`` array (fast, via Arrow)."""
    taken = pa.array(list(names), type=pa.large_string()).take(pa.array(codes))
    return pd.Series(pd.array(taken, dtype="string"))
