"""Streaming replay: the engine over windows of arrivals, in bounded memory.

:func:`simulate_stream` gives, slice by slice, exactly the records, timeline and
scaling rows :func:`~dpcsim.engine.simulate` returns for the concatenated
input, while holding only a window of queries at a time.

Why it is exact (regeneration points). When, just before an arrival ``j``,
every query that arrived before ``j`` has ended *strictly before* ``j``'s
arrival instant and every scaling cluster requested before that instant has
stopped before it, the system is empty: nothing queued or running in any queue,
SQA or scaling cluster, no cluster active or starting. The only events still
scheduled are stale queue timeouts that do nothing. From there the run depends
on its past only through the state carried explicitly below, so a fresh engine
started at ``j`` continues it event for event (SimPy orders events by time and
then by scheduling order, which a fresh environment preserves; scaling clusters
are picked lowest index first, all off on both sides). The engine is causal, so
the records of a window run are those of the full run up to that point, and the
test above, evaluated on the window run, holds iff it holds in the full run
(a query or cluster still busy at the cut ends at or after the cut in both).

Carried state:

* the clock origin: the first arrival of the stream floored to the minute (as
  :func:`~dpcsim.engine.inputs.prepare` does), ``arrival_s`` relative to it;
* the ``learned`` SQA predictor's per-fingerprint sums and counts, replayed in
  the order the window observed them before the cut (later observations, of
  queries the next window replays, are dropped);
* the ``noisy`` predictor's draws: keyed by the query's index in arrival order
  over the whole stream (:func:`~dpcsim.engine.sqa.noise_factors`);
* the dynamic SQA maximum, which depends on the whole workload: pass it as
  ``sqa_max_s`` (:func:`dynamic_sqa_max_s` computes it in a first pass);
* Concurrency Scaling billing: free credits accrue over the whole span, so the
  activations are billed once at the end (a few tuples per activation);
* with shared capacity and ``demand = "observed"``, the observed-to-solo
  conversion's running integral and the logged executions of emitted queries
  with an event after it (:class:`~dpcsim.engine.solowindows.WindowedSolo`),
  so each window's solo work is the whole-log conversion's to the bit. A cut
  then also needs every query before it to have ended in the log by the
  window's last arrival (no query after the window overlaps it there), so
  the conversion of every emitted query saw every logged execution it
  overlaps.

The streaming replay is open loop (``replay = "open"``): a session's chain can
cross a cut, where the system is not empty.

The driver runs the engine on a window of ``window`` arrivals, cuts at the last
regeneration point in it, hands the slice before the cut to ``sink``, and
restarts at the cut; with no regeneration point in the window the window
doubles. Memory therefore scales with the longest busy period (queries in
flight between two empty instants), not with the run length. Beyond that the
exact summary keeps ``queue_s`` [8 B] and the final queue [1 B] per query for
its percentiles and means (``keep_waits=False`` drops them and reports None).

Input: chunks of the canonical workload (frames or :class:`Workload`), each in
any order, but every row of a chunk at or after every row of the previous
chunks in (``arrival_at``, ``query_id``) order; ``query_id`` uniqueness is only
checked within a chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import simpy

from dpcsim.engine.autowlm import AutoEngine
from dpcsim.engine.cluster import Engine
from dpcsim.engine.inputs import QueryArrays, arrival_us, prepare
from dpcsim.engine.queues import QueueTables
from dpcsim.engine.records import StateLog, strings
from dpcsim.engine.result import SimResult
from dpcsim.engine.scaling import Bill, bill
from dpcsim.engine.settings import ClusterSettings
from dpcsim.engine.simulate import (
    carried_metrics,
    demand_arrays,
    is_observed,
    logged_end_s,
    logged_executions,
    memory_demand_arrays,
    qmr_never_evaluated,
)
from dpcsim.engine.solowindows import WindowedSolo, settled
from dpcsim.engine.sqa import SQAModel, noise_key
from dpcsim.engine.streamparts import Chunk, ChunkSource, Totals, dynamic_sqa_max_s
from dpcsim.schema import STATEMENT_TYPES
from dpcsim.wlm import WLMConfig

__all__ = ["dynamic_sqa_max_s", "simulate_stream"]

Row = tuple[int, float, float, float]


def simulate_stream(
    chunks: Iterable[Chunk],
    config: WLMConfig,
    settings: ClusterSettings | None = None,
    *,
    sink: Callable[[SimResult], None],
    rng: np.random.Generator | int | None = None,
    sqa_max_s: float | None = None,
    window: int = 65_536,
    keep_waits: bool = True,
    stats: dict[str, int] | None = None,
    quantiles: str = "exact",
    rows: bool = False,
) -> dict[str, Any]:
    """Simulate a workload given in chunks, handing results to ``sink`` in slices.

    Parameters
    ----------
    chunks
        Canonical workload chunks in arrival order (see the module docstring).
    config, settings, rng
        As for :func:`~dpcsim.engine.simulate`.
    sink
        Called with each final slice, in order: a :class:`SimResult` whose
        ``queries``, ``timeline`` and ``scaling`` are consecutive rows of what
        ``simulate()`` returns (same index values), ``summary`` holds
        ``first`` and ``count`` (query rows), ``start_at`` the stream's origin.
    sqa_max_s
        SQA maximum [s]; required when SQA is on with a dynamic maximum.
    window
        Arrivals simulated at once (doubled while no regeneration point).
    keep_waits
        Keep ``queue_s`` per query for exact wait statistics (9 B/query).
    stats
        If given, filled with ``windows``, ``reruns`` and ``max_held`` (the
        most queries held by one window run).
    quantiles
        ``exact`` (keep the waits, the summary equals ``simulate()``'s) or
        ``histogram``: fixed memory whatever the run length, percentiles
        within 0.1 % (:class:`dpcsim.engine.quantiles.LogHistogram`).
    rows
        Also give each slice the workload rows it replayed (canonical, in
        the slice's query order) as ``summary["rows"]``, for per-slice
        metrics (:class:`dpcsim.metrics.stream.StreamMetrics`).

    Returns
    -------
    dict
        The summary ``simulate()`` gives for the whole input (wait statistics
        None when ``keep_waits`` is False).

    Raises
    ------
    InputError
        On a malformed chunk or chunks out of order.
    ValueError
        When the dynamic SQA maximum is needed and ``sqa_max_s`` is None.
    """
    settings = settings or ClusterSettings()
    gen = np.random.default_rng(rng)
    run = _Run(config, settings, gen, sqa_max_s)
    src = ChunkSource(chunks)
    if quantiles not in ("exact", "histogram"):
        raise ValueError(f"quantiles={quantiles!r}; expected 'exact' or 'histogram'")
    totals = Totals(keep_waits, histogram=quantiles == "histogram")
    counters = {"windows": 0, "reruns": 0, "max_held": 0}
    carried: set[str] = set()
    size = window
    while True:
        frame = src.take(size)
        if not len(frame):
            break
        final = src.done and len(frame) == src.n_pending
        counters["max_held"] = max(counters["max_held"], len(frame))
        eng, arrays = run.window(frame)
        carried |= carried_metrics(arrays, eng.mem_on)
        if final:
            cut = arrays.n
        else:
            logged = logged_end_s(arrays) if run.observed else None
            cut = _last_cut(eng, arrays, logged)
        if cut == 0:
            counters["reruns"] += 1
            size *= 2
            _release(eng)
            continue
        counters["windows"] += 1
        sink(run.emit(eng, arrays, cut, totals, frame if rows else None))
        _release(eng)
        src.drop(cut)
        size = window
    if stats is not None:
        stats.update(counters)
    scaling, money = run.bill_all()
    summary = totals.summary(run.tables.names, run.max_s, scaling, money)
    summary["qmr_never_evaluated"] = qmr_never_evaluated(config, carried)
    return summary


class _Run:
    """Settings of a streamed run and the state carried across windows."""

    def __init__(
        self,
        config: WLMConfig,
        settings: ClusterSettings,
        gen: np.random.Generator,
        sqa_max_s: float | None,
    ) -> None:
        self.config, self.settings = config, settings
        self.tables = QueueTables.from_config(config, settings)
        self.sqa_on = config.sqa is not None and config.sqa.enabled
        self.max_s: float | None = None
        self.key = 0
        if config.sqa is not None and config.sqa.enabled:
            fixed_ms = config.sqa.max_execution_time
            if not fixed_ms and sqa_max_s is None:
                raise ValueError(
                    "SQA uses the dynamic maximum, which depends on the whole "
                    "workload: pass sqa_max_s (see dynamic_sqa_max_s)"
                )
            self.max_s = fixed_ms / 1000.0 if fixed_ms else sqa_max_s
            if settings.sqa_predictor == "noisy":
                self.key = noise_key(gen)
        self.origin_us: int | None = None
        self.start_at = pd.Timestamp(0, unit="us", tz="UTC")
        self.base = 0
        self.tl_base = 0
        self.learned: dict[object, tuple[float, int]] = {}
        self.rows: list[Row] = []
        #: The observed-to-solo conversion, continued across cuts.
        self.observed = is_observed(settings)
        self.solo = WindowedSolo(settings.contention_sigma, settings.contention_kappa)

    def window(self, frame: pd.DataFrame) -> tuple[Engine, QueryArrays]:
        """Run a fresh engine on ``frame`` (pending rows, in order)."""
        if self.origin_us is None:
            first = int(arrival_us(frame["arrival_at"].iloc[:1])[0])
            self.origin_us = first - first % 60_000_000
            self.start_at = pd.Timestamp(self.origin_us, unit="us", tz="UTC")
        arrays = prepare(frame, self.config, None, origin_us=self.origin_us)
        arrays = memory_demand_arrays(arrays, self.config, None, self.settings)
        demand = demand_arrays(
            arrays, self.config, self.tables, self.settings, convert=self.solo.work
        )
        sqa = None
        if self.max_s is not None:
            st = self.settings
            sqa = SQAModel(
                max_s=self.max_s,
                predictor=st.sqa_predictor,
                exec_s=demand.exec_s,
                fingerprint=arrays.fingerprint,
                noise_sigma=st.sqa_noise_sigma,
                prior_s=st.sqa_prior_s,
                noise_key=self.key,
                first=self.base,
                track=st.sqa_predictor == "learned",
            )
            for f, key in enumerate(arrays.fingerprint_keys):
                sqa.sum_s[f], sqa.count[f] = self.learned.get(key, (0.0, 0))
        cls = AutoEngine if self.config.is_auto else Engine
        eng = cls(demand, self.tables, self.settings, sqa)
        eng.run()
        eng.drop_inputs()
        return eng, arrays

    def carry_tail(self, arrays: QueryArrays, cut: int) -> None:
        """Carry the conversion past the cut before query ``cut``."""
        if not self.observed:
            return
        at = arrays.arrival_s[cut] if cut < arrays.n else np.inf
        start, end, cluster, query = logged_executions(arrays)
        emitted = query < cut
        self.solo.cut(at, start[emitted], end[emitted], cluster[emitted])

    def emit(
        self,
        eng: Engine,
        arrays: QueryArrays,
        cut: int,
        totals: Totals,
        frame: pd.DataFrame | None = None,
    ) -> SimResult:
        """Return the slice of queries ``[0, cut)``; carry the state past it."""
        sqa = eng.sqa
        if sqa is not None and sqa.observed is not None:
            keys = arrays.fingerprint_keys
            for i, x in sqa.observed:
                if i >= cut:
                    break
                key = keys[sqa.fp[i]]
                s, c = self.learned.get(key, (0.0, 0))
                self.learned[key] = (s + x, c + 1)
        rec, names = eng.rec, self.tables.names
        rec.fail_where_completed(arrays.logged_abort)
        queries = rec.queries_frame(
            arrival_s=arrays.arrival_s,
            first_queue=arrays.queue,
            names=names,
            extra={
                "query_id": arrays.query_id,
                "task_id": arrays.task_id,
                "statement_type": strings(STATEMENT_TYPES, arrays.stmt),
                "cache_hit": arrays.cache_hit,
            },
        ).iloc[:cut]
        queries = queries.set_axis(pd.RangeIndex(self.base, self.base + cut))
        at = arrays.arrival_s[cut] if cut < arrays.n else np.inf
        n_log = int(np.searchsorted(np.frombuffer(rec.log_t, np.float64), at, "left"))
        rec.log_t, rec.log_c = rec.log_t[:n_log], rec.log_c[:n_log]
        # The log's arrays, not its frame: the strings are built only if a
        # sink reads ``timeline`` (a run that does not write it never does).
        log = rec.state_log(names)
        rows = [r for r in eng.cs_pool.rows if r[2] < at]
        scaling = self._scaling_frame(rows, len(self.rows))
        totals.add(rec, arrays, cut, names)
        self.carry_tail(arrays, cut)
        self.rows += rows
        first = self.base
        self.base += cut
        part: dict[str, Any] = {"first": first, "count": cut}
        if frame is not None:
            part["rows"] = frame.iloc[:cut]
        result = _Slice(queries, log, scaling, part, self.start_at, self.tl_base)
        self.tl_base += int(log.t_s.size)
        return result

    def bill_all(self) -> tuple[pd.DataFrame, Bill]:
        """Bill every activation of the run against the run's free credits."""
        st = self.settings
        money = bill(
            self.rows,
            min_billed_s=st.cs_min_billed_s,
            credit_start_s=st.cs_free_credit_start_s,
            credit_cap_s=st.cs_free_credit_cap_s,
            price_per_s=st.price_usd_per_cluster_s,
        )
        return self._scaling_frame(self.rows, 0), money

    def _scaling_frame(self, rows: list[Row], first: int) -> pd.DataFrame:
        """Scaling rows as ``simulate()`` frames them (index from ``first``)."""
        st = self.settings
        billed = bill(
            rows,
            min_billed_s=st.cs_min_billed_s,
            credit_start_s=0.0,
            credit_cap_s=0.0,
            price_per_s=0.0,
        ).billed_s
        return pd.DataFrame(
            {
                "cluster": np.array([r[0] for r in rows], dtype=np.int64),
                "start_s": np.array([r[1] for r in rows], dtype=np.float64),
                "end_s": np.array([r[2] for r in rows], dtype=np.float64),
                "busy_s": np.array([r[3] for r in rows], dtype=np.float64),
                "billed_s": billed,
            },
            index=pd.RangeIndex(first, first + len(rows)),
        )


def _release(eng: Engine) -> None:
    """Drop a finished window's engine state now.

    The engine keeps bound methods of itself (its event handlers), and its
    SimPy environment's queue of stale timeouts refers back to them: reference
    cycles. Without this the arrays and the queue of every window wait for a
    full garbage collection, so the peak memory grew with the number of
    windows.
    """
    env = getattr(eng, "env", None)
    if isinstance(env, simpy.Environment):
        vars(env).clear()
    vars(eng).clear()


class _Slice(SimResult):
    """A slice of a streamed run: its timeline frame numbered from the run's row."""

    __slots__ = ("timeline_first",)

    def __init__(
        self,
        queries: pd.DataFrame,
        log: StateLog,
        scaling: pd.DataFrame,
        summary: dict[str, Any],
        start_at: pd.Timestamp,
        timeline_first: int,
    ) -> None:
        super().__init__(queries, log, scaling, summary, start_at)
        self.timeline_first = timeline_first

    @property
    def timeline(self) -> pd.DataFrame:
        """The slice's timeline rows, indexed as in ``simulate()``'s timeline."""
        if self._timeline is None:
            assert self.state_log is not None
            frame = self.state_log.frame()
            first = self.timeline_first
            self._timeline = frame.set_axis(pd.RangeIndex(first, first + len(frame)))
        return self._timeline


def _last_cut(
    eng: Engine, arrays: QueryArrays, logged_end: np.ndarray | None = None
) -> int:
    """Return the last regeneration point ``j`` in ``[1, n)`` of a window, or 0.

    With ``logged_end`` (each query's logged end [s], :func:`logged_end_s`, for
    the observed-to-solo conversion) a cut also needs every query before it
    to have ended in the log by the window's last arrival: a query after the
    window starts no earlier, so none of its logged execution overlaps theirs,
    and their solo work is the whole log's.
    """
    arr = arrays.arrival_s
    n = arr.size
    if n < 2:
        return 0
    end = np.frombuffer(eng.rec.end, np.float64)
    ok = np.zeros(n, dtype=bool)
    # NaN (never ended) propagates through the running max and blocks the cut.
    ok[1:] = np.maximum.accumulate(end[:-1]) < arr[1:]
    if logged_end is not None:
        ok[1:] &= settled(logged_end, arr[-1])[:-1]
    pool = eng.cs_pool
    for (_, _, stop, _), req in zip(pool.rows, pool.requested, strict=True):
        lo = int(np.searchsorted(arr, req, "right"))
        hi = int(np.searchsorted(arr, stop, "right"))
        ok[lo:hi] = False
    hits = np.flatnonzero(ok)
    return int(hits[-1]) if hits.size else 0
