"""The event core: manual WLM queues, slots, SQA, scaling and interrupts.

One SimPy environment drives the run. Arrivals are not scheduled as events: the
driver walks the arrival array and, before each arrival, processes every
scheduled event due at or before it (an event and an arrival at the same
instant: the event goes first, so a slot freed at t serves a query arriving at
t). A query that starts running schedules exactly one event, at the earliest of
its end, its ``statement_timeout``, its WLM timeout, its first QMR firing and
(on SQA) its eviction; a queue with none of these (the plain path) schedules
just the end, pushed straight onto SimPy's event queue as
``(time, NORMAL, id, query index)`` (SimPy's own entry shape and ordering, with
the index instead of an event object; the driver finishes such a query
itself). So does a *quiet* segment on a main queue with rules: one whose
demand cannot reach the rules' first check, with no timeout to meet
(:meth:`Engine._quiet_work`; the same records, tested). Queues are deques of
entry codes; per-query state lives in arrays indexed by query. What happens at
a timeout, hop or QMR action is in :mod:`dpcsim.engine.actions`; auto WLM
admission in :mod:`dpcsim.engine.autowlm`.

Under shared capacity (``[contention] model = "usl"``) a running query's end
is not fixed at its start: each cluster (main, each scaling cluster) has a
:class:`~dpcsim.engine.contention.VirtualClock`, a start or an end updates it in
O(log n), and the engine keeps one valid tick per cluster on the event queue,
``(cluster, PS_TICK, generation, 0)``, at the cluster's next finish (a start
that slows the head leaves the tick early; it wakes up and looks again; the
starts made by the ends a tick processes push no tick of their own, the one
pushed after them being the valid one). A quiet segment here is ended by its
clock with no interrupt scheduled. Interrupts stay in real time
(:mod:`dpcsim.engine.actions`). Session replay pushes a session's next
arrival, ``(query, ARRIVE, 0, 0)``, when the previous statement ends; only
queries that start a chain are walked from the array.

Timing conventions: ``queue_s`` sums the time spent waiting in WLM queues over
all attempts, ``exec_s`` the time spent running, and
``end_s = arrival_s + queue_s + exec_s`` for every query. ``start_s`` is the
first time the query began running (NaN if it never did).
"""

from __future__ import annotations

import gc
import math
from array import array
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from heapq import heappop, heappush
from typing import Any, ClassVar, Final

import numpy as np
import simpy
from simpy.events import NORMAL

from dpcsim.engine.actions import ARRIVE, PS_TICK, Interrupts
from dpcsim.engine.contention import VirtualClock, rate_table
from dpcsim.engine.inputs import QueryArrays
from dpcsim.engine.memory import spill_factor
from dpcsim.engine.plain import run_plain, run_plain_shared
from dpcsim.engine.qmr import ACCRUED, CHECK_INTERVAL_S
from dpcsim.engine.queues import CS_ALWAYS, CS_RA3_ONLY, SQA_ELIGIBLE, QueueTables
from dpcsim.engine.records import (
    CS,
    K_CS_END,
    K_CS_RUN,
    K_DEQ_CS,
    K_DEQ_RUN,
    K_END,
    K_Q_IN,
    K_Q_OUT,
    K_RUN,
    MAIN,
    OUT_FAILED,
    SQA,
    Recorder,
)
from dpcsim.engine.scaling import ScalingPool
from dpcsim.engine.settings import ClusterSettings
from dpcsim.engine.sqa import SQAModel, SQAWaitList

__all__ = ["Engine", "general_path"]

_NAN: Final = float("nan")
_INF: Final = float("inf")


@contextmanager
def general_path() -> Iterator[None]:
    """Within the block, every run takes the general SimPy path.

    The engine takes the plain path (:mod:`dpcsim.engine.plain`) whenever no
    query can be interrupted or diverted; both paths give identical results.
    This switch exists to measure (or test) the general path on such a run,
    e.g. the FIFO benchmark. Not thread-safe: it sets a class attribute.
    """
    before = Engine.force_general
    Engine.force_general = True
    try:
        yield
    finally:
        Engine.force_general = before


#: Allocations between two young-generation collections during the event loop
#: (Python's default is 700). The loop allocates a few tuples per event, nearly
#: all freed by reference counting, so the collector finds almost nothing: on
#: the DPC design's sample week a run took 0.207-0.224 s instead of 0.219-0.242 s.
LOOP_GC_THRESHOLD: Final = 50_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Within the block, the cyclic collector runs less often (not at all less
    when it is off); the thresholds are restored after. Results do not depend
    on it: nothing in a run has a finalizer."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], LOOP_GC_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


class Engine:
    """One simulation run under manual WLM (base class of the auto-WLM engine).

    Parameters
    ----------
    q
        Input arrays (:func:`~dpcsim.engine.inputs.prepare`).
    tables
        Per-queue constants.
    settings
        Cluster settings.
    sqa
        The SQA model, or None when SQA is off.

    Attributes
    ----------
    force_general
        Class switch: when True, :meth:`run` always takes the general SimPy
        path, even for a run the plain path could take (set it with
        :func:`general_path`, e.g. to time the general path on the FIFO
        benchmark; results are the same either way).
    """

    force_general: ClassVar[bool] = False

    def __init__(
        self,
        q: QueryArrays,
        tables: QueueTables,
        settings: ClusterSettings,
        sqa: SQAModel | None,
    ) -> None:
        self.env = env = simpy.Environment()
        self.inp = q
        self.t = tables
        self.settings = settings
        n = self.n = q.n
        self.arr = array("d", q.arrival_s.tobytes())
        self.exe = array("d", q.exec_s.tobytes())
        self.q0 = array("b", q.queue.astype(np.int8).tobytes())
        self.st = array("b", q.stmt.astype(np.int8).tobytes())
        self.sc = array("q", q.slots.tobytes())
        self.mem = array("d", q.mem_mb.tobytes())
        self.cache = q.cache_hit.tolist() if q.cache_hit.any() else None
        self.rec = rec = Recorder(n, q.queue, len(tables.names))
        # Waiting since arrival: see Recorder.acc_q.
        rec.acc_q = array("d", (-q.arrival_s).tobytes())
        self.log_t, self.log_c = rec.log_t.append, rec.log_c.append
        self.rem = array("d", q.exec_s.tobytes())
        self.ent = array("q", np.full(n, -1, np.int64).tobytes())
        self.nq = len(tables.names) - 2
        self.free = list(tables.slots)
        self.waitq: list[deque[int]] = [deque() for _ in tables.names]
        self.nwait = [0] * len(tables.names)
        self.sqa = sqa
        self.sqa_free = settings.sqa_slots
        # The spill model is on wherever memory demand is known (mem_mb > 0).
        self.mem_on = settings.memory_model == "spill" and bool((q.mem_mb > 0.0).any())
        #: Spill factor of each query in its first queue (spill_factor on arrays:
        #: the same IEEE operations), so a start there looks it up.
        self.fac0 = self._first_queue_spill(q, tables, settings) if self.mem_on else []
        self.st_s = settings.statement_timeout_ms / 1000.0
        ra3 = settings.is_ra3
        self.cs_ok = [
            a or (ra3 and b) for a, b in zip(CS_ALWAYS, CS_RA3_ONLY, strict=True)
        ]
        self.cs_wait: list[deque[int]] = [deque() for _ in tables.names]
        #: Per query: scaling-eligible by statement type and node type, and by
        #: the workload's ``cs_eligible`` flag (temp tables, UDFs, ...).
        self.cs_el = (np.asarray(self.cs_ok)[q.stmt] & q.cs_eligible).tolist()
        self.cs_pool = ScalingPool(
            env,
            max_clusters=settings.max_concurrency_scaling_clusters,
            start_delay_s=settings.cs_start_delay_s,
            idle_stop_s=settings.cs_idle_stop_s,
            capacity=self._cs_capacity(),
            on_active=self._cs_fill,
            on_count=self._cs_count,
        )
        self.scaling_on = (
            settings.max_concurrency_scaling_clusters > 0
            and settings.scaling_supported
            and any(tables.scaling)
        )
        self.cluster = array("b", bytes(n))
        # Hot-loop shortcuts.
        self.acc_q, self.start, self.end = rec.acc_q, rec.start, rec.end
        self.ran, self.cur_q = rec.ran, rec.cur_q
        self.plain = tables.plain
        #: SimPy's event queue; items are events or the engine's own entries.
        self.heap: list[Any] = env._queue
        self.eid = env._eid.__next__
        #: Queues whose queries start on the inlined plain path (no spill model).
        self.fast = [p and not self.mem_on for p in tables.plain]
        self.learned = sqa is not None and sqa.learned
        self.gen = array("i", bytes(4 * n))
        #: Scaling queues, and the number of queries waiting for a cluster.
        self.cs_q = [self.scaling_on and s for s in tables.scaling]
        self.cs_n = 0
        #: Queues where an arriving query that must wait just joins the line.
        self.join = [not c and self.st_s == 0.0 for c in self.cs_q]
        #: Waiting queries SQA may still take when one of its slots frees.
        self.sqa_wait = SQAWaitList(len(tables.names)) if sqa is not None else None
        if sqa is not None:
            self.join = [j and k >= self.nq for k, j in enumerate(self.join)]
        odd = q.cache_hit | (q.slots > np.asarray(tables.slots)[q.queue])
        #: Cache hits and queries wanting more slots than their queue has.
        self.odd = odd.tolist() if odd.any() else None
        #: Shared capacity (contention): one virtual clock per cluster (main,
        #: then each scaling cluster), see dpcsim.engine.contention.
        self.ps = settings.contention_model == "usl"
        if self.ps:
            self.fast = [False] * len(self.fast)
            speed = rate_table(64, settings.contention_sigma, settings.contention_kappa)
            self.clocks = [
                VirtualClock(
                    speed, settings.contention_sigma, settings.contention_kappa
                )
                for _ in range(1 + settings.max_concurrency_scaling_clusters)
            ]
        else:
            self.clocks = []
        #: Per query: stamp of its entry on its clock while it runs there (0:
        #: not on a clock; stamps start at 1), and (finish value, weight,
        #: clock) of that entry. Lists: they index faster than dicts.
        self.live: list[int] = [0] * n if self.ps else []
        self.psv: list[tuple[float, float, int]] = (
            [(0.0, 0.0, 0)] * n if self.ps else []
        )
        self.tick_gen = [0] * len(self.clocks)
        #: Real time of each clock's valid tick, and whether it is exactly its
        #: next finish (else it is early, after starts slowed the head).
        self.tick_at = [_INF] * len(self.clocks)
        self.tick_exact = [True] * len(self.clocks)
        #: Session replay: successor of each query and the think time before it.
        self.succ: list[int] | None = None
        self.think: list[float] = []
        self.open_idx: list[int] = []
        #: Their logged arrivals [s] (the queries that start a chain).
        self.open_at: list[float] = []
        self.irq = Interrupts(self)
        #: Whether main-slot releases go through :meth:`_release_main` rather
        #: than its inlined copies (auto WLM; a WLM schedule's transitions).
        self.own_release = self.auto
        #: Demand [s] below which a segment in each queue can meet no
        #: interrupt, so only its end is scheduled (see _quiet_work).
        self.quiet = self._quiet_work()
        #: Queues where a query starting at arrival takes the inlined start in
        #: _arrive_manual: plain under shared capacity, or quiet segments.
        self.quick = [
            not f and ((p and self.ps) or w > 0.0)
            for f, p, w in zip(self.fast, tables.plain, self.quiet, strict=True)
        ]

    @staticmethod
    def _first_queue_spill(
        q: QueryArrays, tables: QueueTables, settings: ClusterSettings
    ) -> list[float]:
        """:func:`spill_factor` of every query in its first queue (its slots)."""
        held = np.asarray(tables.slot_mem_mb, np.float64)[q.queue] * q.slots.astype(
            np.float64
        )
        mem = q.mem_mb
        known = mem > 0.0  # False for NaN as well
        with np.errstate(divide="ignore", invalid="ignore"):
            short = np.maximum(0.0, 1.0 - held / np.where(known, mem, 1.0))
        fac = np.where(known, 1.0 + settings.spill_penalty * short, 1.0)
        return fac.tolist()  # type: ignore[no-any-return]

    def _quiet_work(self) -> list[float]:
        """Per queue: demand [s] below which a fresh segment meets no interrupt.

        Under manual WLM with no ``statement_timeout``, a segment that starts
        with no execution behind it (a query's first segment in its attempt)
        in a queue without a WLM timeout can only be interrupted by its
        queue's QMR rules (``Interrupts.lower``: the execution before which
        none can fire). With fixed demands that takes a segment longer than
        ``lower``. Under shared capacity the rules are looked at from their
        first recheck, half a check interval before ``lower``; every running
        query holds at least one slot, so at most all slots' worth of queries
        share a cluster and each progresses at least at ``X(n)/n`` for that
        ``n``: solo work below the recheck's execution time times that speed
        (with a margin far above float rounding) has ended by then. Such a
        segment needs nothing scheduled but its end. -1 (never) where this
        does not hold.

        The bound holds for the tables the engine was built with: a run whose
        queue tables change while it runs must recompute it from the tables
        in force (rules, timeouts) and the largest slot total it can reach.
        """
        n_q = len(self.t.names)
        s = self.settings
        never = [-1.0] * n_q
        if self.auto or self.st_s > 0.0:
            return never
        lower = self.irq.lower
        if not self.ps:
            # Demand strictly below nextafter(lower) is demand <= lower, the
            # test Interrupts.schedule makes before it looks at the rules.
            return [
                -1.0 if self.t.timeout_s[q] > 0.0 else math.nextafter(lower[q], _INF)
                for q in range(n_q)
            ]
        if self.n > 0 and int(self.inp.slots.min()) < 1:
            return never
        n_cap = sum(self.t.slots)
        slowest = min(rate_table(n_cap, s.contention_sigma, s.contention_kappa)[1:])
        out = []
        for q in range(n_q):
            lead = lower[q] - 0.5 * CHECK_INTERVAL_S
            if self.t.timeout_s[q] > 0.0 or not lead > 0.0:
                out.append(-1.0)
            else:
                out.append(lead * slowest * (1.0 - 1e-6))
        return out

    # -- driver ---------------------------------------------------------------
    def run(self) -> None:
        """Process every arrival and event; return when the schedule is empty."""
        if not self.force_general and self.is_plain():
            if self.ps:
                run_plain_shared(self.inp, self.rec, self.t.slots, self.clocks[0])
            else:
                run_plain(self.inp, self.rec, self.t.slots)
            return
        with fewer_collections():
            self._run_events()

    def _run_events(self) -> None:
        """The general path's event loop (see the module docstring)."""
        env, arr, n = self.env, self.arr, self.n
        heap, irq = self.heap, self.irq
        arrive = self._arrive if self.auto else self._arrive_manual
        fin, cur_q, sc = self.end, self.cur_q, self.sc
        acc_q, tick_gen = self.acc_q, self.tick_gen
        chain = self._chain if self.succ is not None else None
        tick = self._tick
        walk: Any = enumerate(arr)
        if self.succ is not None:
            walk = zip([*self.open_idx, n], [*self.open_at, _INF], strict=True)
        log_t, log_c, free, waitq = self.log_t, self.log_c, self.free, self.waitq
        manual, release, pull = not self.own_release, self._release_main, self.pull
        learned = self.learned
        arr.append(_INF)  # sentinel: after the last arrival, drain the schedule
        for i, a in walk:
            # Environment.step() inlined (every event here succeeds), with the
            # engine's own entries (see the module docstring) dispatched directly.
            while heap and heap[0][0] <= a:
                now, _, _, ev = heappop(heap)
                env._now = now
                kind = ev.__class__
                if kind is int:
                    # A query on a plain main queue completed: free its slots.
                    fin[ev] = now
                    q = cur_q[ev]
                    log_t(now)
                    log_c(q * 16 + K_END)
                    if manual:
                        free[q] += sc[ev]  # _release_main inlined
                        if waitq[q]:
                            pull(q)
                    else:
                        release(ev, q)
                    if learned:
                        self.sqa.observe(ev, self.exe[ev])  # type: ignore[union-attr]
                    if chain is not None:
                        chain(ev, now)
                elif kind is tuple:
                    k = ev[1]
                    if k == PS_TICK:
                        if ev[2] == tick_gen[ev[0]]:  # else stale: skip the call
                            tick(ev[0], ev[2])
                    elif k == ARRIVE:
                        # A session's next statement arrives.
                        j = ev[0]
                        arr[j] = now
                        acc_q[j] = -now
                        arrive(j, now)
                    else:
                        irq.fire(ev)
                else:
                    callbacks, ev.callbacks = ev.callbacks, None
                    for callback in callbacks:
                        callback(ev)
            if i < n:
                env._now = a
                arrive(i, a)
        arr.pop()

    def is_plain(self) -> bool:
        """Whether the run can take the plain path (:mod:`dpcsim.engine.plain`)."""
        return (
            not self.auto
            and self.sqa is None
            and not self.scaling_on
            and not self.mem_on
            and self.st_s == 0.0
            and self.succ is None
            and all(self.t.plain[: self.nq + 1])
        )

    # -- engine events: shared capacity and session arrivals -------------------
    def set_sessions(self, succ: np.ndarray, think_s: np.ndarray) -> None:
        """Replay sessions: query ``succ[i]`` arrives ``think_s`` after ``i`` ends.

        Queries that are nobody's successor keep their logged arrival.
        """
        if not (succ >= 0).any():
            return
        chained = np.zeros(self.n, bool)
        chained[succ[succ >= 0]] = True
        self.succ = succ.tolist()
        self.think = think_s.tolist()
        first = np.flatnonzero(~chained)
        self.open_idx = first.tolist()
        self.open_at = self.inp.arrival_s[first].tolist()
        self.rec.after = self._chain

    def _chain(self, i: int, now: float) -> None:
        """Query ``i`` ended at ``now``: schedule its session's next statement."""
        assert self.succ is not None
        j = self.succ[i]
        if j >= 0:
            t = now + self.think[j]
            heappush(self.heap, (t, NORMAL, self.eid(), (j, ARRIVE, 0, 0)))

    def weight(self, i: int) -> float:
        """Share weight of query ``i`` in its cluster's capacity (manual: 1)."""
        return 1.0

    def ps_start(self, i: int, where: int, now: float, work: float) -> None:
        """Put running query ``i`` with ``work`` [s solo] on its cluster's clock."""
        # VirtualClock.add and next_finish inlined: this runs once per start.
        c = 1 + self.cluster[i] if where == CS else 0
        w = 1.0 if not self.auto else self.weight(i)
        ck = self.clocks[c]
        v = ck.v + ck.r * (now - ck.t)
        ck.v, ck.t = v, now
        ck.stamp = stamp = ck.stamp + 1
        f = v + work / w
        heap = ck.heap
        heappush(heap, (f, stamp, i))
        ck.n = m = ck.n + 1
        ck.w += w
        speed = ck.speed
        if m < len(speed):
            ck.r = speed[m] * m / ck.w  # VirtualClock._set_rate inlined
        else:
            ck._set_rate()
        live = self.live
        live[i] = stamp
        self.psv[i] = (f, w, c)
        head = heap[0]
        if head[1] != stamp:  # else the new entry is the head, and live
            while live[head[2]] != head[1]:
                heappop(heap)
                head = heap[0]
        t = now + (head[0] - v) / ck.r
        # A start slows the others (their finishes move later: the pending tick
        # is early, and wakes up to look again) unless weights make the rate
        # rise; push a new tick only when the next finish moved earlier.
        at = self.tick_at[c]
        if t < at:
            g = self.tick_gen[c] + 1
            self.tick_gen[c] = g
            self.tick_at[c] = t
            self.tick_exact[c] = True
            heappush(self.heap, (t, NORMAL, self.eid(), (c, PS_TICK, g, 0)))
        else:
            self.tick_exact[c] = t == at

    def ps_stop(self, i: int, now: float) -> float:
        """Take running query ``i`` off its clock; return its work left [s solo]."""
        self.live[i] = 0
        f, w, c = self.psv[i]
        left = self.clocks[c].remove(f, w, now)
        self._reschedule(c, now)
        return left

    def segment_left(self, i: int, ran_s: float, fac: float) -> float:
        """Work left [s solo] of query ``i`` stopped after ``ran_s`` [s] of running."""
        if self.ps:
            return self.ps_stop(i, self.env._now) / fac
        return max(self.rem[i] - ran_s / fac, 0.0)

    def _reschedule(self, c: int, now: float) -> None:
        """Schedule clock ``c``'s next finish (older ticks go stale)."""
        self._push_tick(c, self.clocks[c].next_finish(self.live), now)

    def _push_tick(self, c: int, t: float, now: float) -> None:
        """Make the tick at ``t`` clock ``c``'s only valid one (none if ``inf``)."""
        g = self.tick_gen[c] + 1
        self.tick_gen[c] = g
        self.tick_at[c] = t
        self.tick_exact[c] = True
        if t < _INF:
            heappush(
                self.heap,
                (t if t > now else now, NORMAL, self.eid(), (c, PS_TICK, g, 0)),
            )

    def _tick(self, c: int, g: int) -> None:
        """Clock ``c``'s tick ``g``: end the queries that finish now (or look again).

        The driver calls it only for the tick of the current generation.
        """
        now = self.env._now
        clock, live, psv = self.clocks[c], self.live, self.psv
        heap = clock.heap
        if self.tick_exact[c] and len(heap) == 1:
            # One query running and this is its finish (the usual case):
            # VirtualClock.pop_finished and finish inlined.
            i = heap[0][2]
            heap.clear()
            live[i] = 0
            clock.n, clock.w, clock.r, clock.v, clock.t = 0, 0.0, 0.0, 0.0, now
            self.tick_at[c] = _INF
            self.tick_gen[c] = g + 1
            self._end(i, now)  # a query it starts pushes its own tick
            return
        # VirtualClock.pop_finished inlined (the same operations in order).
        exact = self.tick_exact[c]
        v = clock.v + clock.r * (now - clock.t)
        clock.t = now
        while heap and live[heap[0][2]] != heap[0][1]:
            heappop(heap)
        done: list[int] = []
        if heap:
            f0 = heap[0][0]
            # max(1.0, abs(v)) and max(v, f0): V is never negative.
            tol = 1e-12 * (v if v > 1.0 else 1.0)
            if exact and f0 > v:
                v = f0  # the head finishes now whatever the rounding
            if exact or f0 <= v + tol:
                while heap and heap[0][0] <= v + tol:
                    _, stamp, i = heappop(heap)
                    if live[i] == stamp:
                        done.append(i)
        clock.v = v
        if done:
            speed = clock.speed
            for i in done:
                live[i] = 0
                # VirtualClock.finish (_drop, _set_rate) inlined.
                clock.n = m = clock.n - 1
                clock.w -= psv[i][1]
                if m == 0:
                    clock.v, clock.w, clock.r = 0.0, 0.0, 0.0
                    heap.clear()
                elif m < len(speed):
                    clock.r = speed[m] * m / clock.w
                else:
                    clock._set_rate()
            # Queries the ends below start on this clock push no tick of their
            # own (-inf: none is sooner): the one pushed after them would make
            # it stale at once.
            self.tick_at[c] = -_INF
            for i in done:
                self._end(i, now)
        # else: woke early, a start slowed the head; look again.
        # _reschedule (VirtualClock.next_finish, _push_tick) inlined.
        while heap and live[heap[0][2]] != heap[0][1]:
            heappop(heap)
        g = self.tick_gen[c] + 1
        self.tick_gen[c] = g
        self.tick_exact[c] = True
        if heap:
            t = clock.t + (heap[0][0] - clock.v) / clock.r
            self.tick_at[c] = t
            heappush(
                self.heap,
                (t if t > now else now, NORMAL, self.eid(), (c, PS_TICK, g, 0)),
            )
        else:
            self.tick_at[c] = _INF

    def _end(self, i: int, now: float) -> None:
        """:meth:`Interrupts.end` with :meth:`release` of a main query inlined."""
        irq = self.irq
        seg = irq.seg
        if seg and i in seg:
            del seg[i]
        self.end[i] = now
        if self.ran[i] == MAIN:
            q = self.cur_q[i]
            self.log_t(now)
            self.log_c(q * 16 + K_END)
            if self.own_release:
                self._release_main(i, q)
            else:
                self.free[q] += self.sc[i]  # _release_main inlined
                if self.waitq[q]:
                    self.pull(q)
        else:
            self.release(i)
        xoff, done = irq.xoff, irq.done
        if xoff and i in xoff:
            del xoff[i]
        if done and i in done:
            del done[i]
        if self.learned:
            sqa = self.sqa
            assert sqa is not None
            f = sqa.fp[i]
            if f >= 0 and sqa.observed is None:
                sqa.sum_s[f] += self.exe[i]  # SQAModel.observe inlined
                sqa.count[f] += 1
            elif f >= 0:
                sqa.observe(i, self.exe[i])
        succ = self.succ
        if succ is not None:
            # _chain inlined (set_sessions makes it the recorder's ``after``).
            j = succ[i]
            if j >= 0:
                heappush(
                    self.heap,
                    (now + self.think[j], NORMAL, self.eid(), (j, ARRIVE, 0, 0)),
                )
        elif self.rec.after is not None:
            self.rec.after(i, now)

    def drop_inputs(self) -> None:
        """Free the loop's per-query state once the run is over (lower peak).

        The records (:attr:`rec`), the scaling pool and the SQA model stay.
        The lists go too: a query's clock entry (a tuple and a float), its
        stamp and its session link are Python objects, about 200 B per query
        together, which would otherwise be held while the records are built.
        So do the input arrays (``inp``): the engine is in reference cycles
        (its interrupts, scaling pool and session hook point back at it), so
        it is freed only by the cyclic collector, and would hold them till then.
        """
        del self.inp
        empty_d, empty_b = array("d"), array("b")
        self.arr = self.exe = self.mem = self.rem = empty_d
        self.q0 = self.st = self.cluster = empty_b
        self.sc = self.ent = array("q")
        self.gen = array("i")
        self.live, self.psv, self.think, self.fac0 = [], [], [], []
        self.open_idx, self.open_at, self.cs_el = [], [], []
        self.succ = self.cache = self.odd = None

    def now(self) -> float:
        """The simulation clock [s]."""
        return self.env._now

    # -- arrival and placement ------------------------------------------------
    def _arrive(self, i: int, now: float) -> None:
        """Admit, divert (SQA, scaling) or queue query ``i`` arriving at ``now``."""
        if self.cache is not None and self.cache[i]:
            self.rec.cache_hit(i, now)
            return
        q = self.q0[i]
        if self.sc[i] > self.t.slots[q] and not self.auto:
            self.rec.acc_q[i] += now
            self.rec.finish(i, now, OUT_FAILED)
            return
        if self.admit(i, q):
            self.log_t(now)
            self.log_c(q * 16 + K_RUN)
            self.run_query(i, q, MAIN)
        elif not (self.sqa is not None and q < self.nq and self._try_sqa(i)):
            self.wait(i, q)

    auto = False

    def _arrive_manual(self, i: int, now: float) -> None:
        """:meth:`_arrive` under manual WLM, with the plain cases inlined."""
        if self.odd is not None and self.odd[i]:
            self._arrive(i, now)
            return
        q = self.q0[i]
        free = self.free
        s = self.sc[i]
        if self.nwait[q] == 0 and free[q] >= s:
            free[q] -= s
            self.log_t(now)
            self.log_c(q * 16 + K_RUN)
            if self.fast[q]:
                # First start: ran and cur_q already hold MAIN and q.
                self.acc_q[i] += now
                self.start[i] = now
                heappush(self.heap, (now + self.rem[i], NORMAL, self.eid(), i))
            elif self.quick[q]:
                # run_query inlined for a first start: ran and cur_q hold MAIN
                # and q, and no execution is behind it.
                self.acc_q[i] += now
                self.start[i] = now
                dur = self.rem[i] * self.fac0[i] if self.mem_on else self.rem[i]
                if not (self.plain[q] or dur < self.quiet[q]):
                    self.irq.schedule(i, q, MAIN, now, dur)
                elif not self.ps:
                    self._push_end(i, q, now, dur)
                else:
                    # ps_start inlined (main cluster: clock 0; manual: weight 1).
                    ck = self.clocks[0]
                    v = ck.v + ck.r * (now - ck.t)
                    ck.v, ck.t = v, now
                    ck.stamp = stamp = ck.stamp + 1
                    f = v + dur / 1.0
                    heap = ck.heap
                    heappush(heap, (f, stamp, i))
                    ck.n = m = ck.n + 1
                    ck.w += 1.0
                    speed = ck.speed
                    if m < len(speed):
                        ck.r = speed[m] * m / ck.w
                    else:
                        ck._set_rate()
                    live = self.live
                    live[i] = stamp
                    self.psv[i] = (f, 1.0, 0)
                    head = heap[0]
                    if head[1] != stamp:
                        while live[head[2]] != head[1]:
                            heappop(heap)
                            head = heap[0]
                    t = now + (head[0] - v) / ck.r
                    at = self.tick_at[0]
                    if t < at:
                        g = self.tick_gen[0] + 1
                        self.tick_gen[0] = g
                        self.tick_at[0] = t
                        self.tick_exact[0] = True
                        heappush(self.heap, (t, NORMAL, self.eid(), (0, PS_TICK, g, 0)))
                    else:
                        self.tick_exact[0] = t == at
            else:
                self.run_query(i, q, MAIN)
        elif self.sqa is not None and q < self.nq and self._try_sqa(i):
            return
        elif self.join[q]:
            # First wait (generation 0), no scaling and no statement timeout.
            self.gen[i] = 1
            self.ent[i] = i
            self.waitq[q].append(i)
            self.nwait[q] += 1
            self.log_t(now)
            self.log_c(q * 16 + K_Q_IN)
        else:
            self.wait(i, q)

    def admit(self, i: int, q: int) -> bool:
        """Take main slots for query ``i`` in queue ``q`` if FIFO allows it now."""
        s = self.sc[i]
        if self.nwait[q] == 0 and self.free[q] >= s:
            self.free[q] -= s
            return True
        return False

    def wait(self, i: int, q: int) -> None:
        """Run on a scaling cluster, or join the queue (and ask for a cluster)."""
        scal = self.scaling_on and self.t.scaling[q] and self.cs_el[i]
        if scal:
            c = self.cs_pool.take(self._pool(q), self.sc[i])
            if c >= 0:
                self.log_t(self.env._now)
                self.log_c(q * 16 + K_CS_RUN)
                self._run_cs(i, q, c)
                return
        g = self.gen[i]
        self.gen[i] = g + 1
        e = i + self.n * g
        self.ent[i] = e
        self._enqueue(q, e)
        self.nwait[q] += 1
        self.log_t(self.env._now)
        self.log_c(q * 16 + K_Q_IN)
        if scal:
            self.cs_wait[q].append(e)
            self.cs_n += 1
            self.cs_pool.request()
        if self.st_s > 0.0:
            self.irq.arm_queue_timeout(i, e)
        if self.sqa_wait is not None:
            self._sqa_candidate(i, q, e)

    def _enqueue(self, q: int, e: int) -> None:
        """Append entry ``e`` to queue ``q``'s waiting line."""
        self.waitq[q].append(e)

    def _try_sqa(self, i: int) -> bool:
        """Run query ``i`` on SQA if eligible, predicted short and a slot is free."""
        sqa = self.sqa
        assert sqa is not None
        if not (self.sqa_free and SQA_ELIGIBLE[self.st[i]]):
            return False
        if sqa.predicted_s(i) >= sqa.max_s:
            return False
        self.sqa_free -= 1
        self.log_t(self.env._now)
        self.log_c(self.t.sqa * 16 + K_RUN)
        self.run_query(i, self.t.sqa, SQA)
        return True

    # -- SQA from the waiting line (see dpcsim.engine.sqa) ----------------------
    def _sqa_candidate(self, i: int, q: int, e: int) -> None:
        """Keep waiting entry ``e`` of query ``i`` for SQA if it may go there."""
        sqa = self.sqa
        assert sqa is not None
        assert self.sqa_wait is not None
        if (
            q < self.nq
            and SQA_ELIGIBLE[self.st[i]]
            and not self.rec.sqa_evicted[i]
            and sqa.predicted_s(i) < sqa.max_s
        ):
            self.sqa_wait.add(q, e)

    def _sqa_pull(self) -> None:
        """Move the longest-waiting SQA candidates onto free SQA slots."""
        assert self.sqa_wait is not None
        while self.sqa_free:
            found = self.sqa_wait.pop_oldest(self.ent, self.n, self.arr)
            if found is None:
                return
            e, q = found
            i = e if e < self.n else e % self.n
            self.take_entry(i, q)
            now = self.env._now
            self.log_t(now)
            self.log_c(q * 16 + K_Q_OUT)
            self.sqa_free -= 1
            self.log_t(now)
            self.log_c(self.t.sqa * 16 + K_RUN)
            self.run_query(i, self.t.sqa, SQA)
            if self.waitq[q]:
                self.pull(q)

    # -- running --------------------------------------------------------------
    def run_query(self, i: int, q: int, where: int) -> None:
        """Start (or resume) query ``i`` in queue ``q`` at ``where``."""
        now = self.env._now
        self.acc_q[i] += now
        start = self.start
        if start[i] != start[i]:
            start[i] = now
        self.ran[i] = where
        if where != SQA:
            self.cur_q[i] = q
        dur = self.rem[i]
        if self.mem_on and where != SQA:
            dur *= self.fac0[i] if q == self.q0[i] else self.spill(i, q)
        # A segment nothing can interrupt (see _quiet_work) needs no timer,
        # recheck or segment record: its end is scheduled as on a plain queue.
        if where == MAIN and (
            self.plain[q] or (dur < self.quiet[q] and i not in self.irq.xoff)
        ):
            if self.ps:
                self.ps_start(i, where, now, dur)
            else:
                self._push_end(i, q, now, dur)
        elif where == CS and self.ps and dur < self.quiet[q] and i not in self.irq.xoff:
            self.ps_start(i, where, now, dur)  # the scaling cluster's clock
        else:
            self.irq.schedule(i, q, where, now, dur)

    def _push_end(self, i: int, q: int, now: float, dur: float) -> None:
        """Schedule the end of main query ``i`` at ``now + dur`` (fixed demands).

        The driver ends it itself (an int entry). A quiet segment of a queue
        that is not plain ends at the instant :meth:`Interrupts.schedule`
        would give it, ``now + max(end - now, 0)``, to the last bit.
        """
        t = now + dur
        if not self.plain[q]:
            t = now + max(t - now, 0.0)
        heappush(self.heap, (t, NORMAL, self.eid(), i))

    def _run_cs(self, i: int, q: int, c: int) -> None:
        """Start query ``i`` of queue ``q`` on scaling cluster ``c``."""
        self.cluster[i] = c
        self.run_query(i, q, CS)

    def spill(self, i: int, q: int) -> float:
        """Execution-time multiplier of query ``i`` in queue ``q`` (memory model)."""
        held = self.t.slot_mem_mb[q] * self.sc[i]
        return spill_factor(held, self.mem[i], self.settings.spill_penalty)

    def qmr_growth(self, i: int, q: int, per: float) -> dict[int, float]:
        """Growth per QMR check of query ``i``'s accrued metrics in queue ``q``.

        ``per`` is checks' share of the execution (10 s / execution time).
        Under the spill model the spill is the simulated one: the memory the
        query wants beyond what its slots hold [MB].
        """
        out = {ACCRUED[m]: float(v[i]) * per for m, v in self.inp.qmr_metrics.items()}
        want = self.mem[i]
        if self.mem_on and want > 0.0:
            held = self.t.slot_mem_mb[q] * self.sc[i]
            out[ACCRUED["query_temp_blocks_to_disk"]] = max(want - held, 0.0) * per
        return out

    def release(self, i: int) -> None:
        """Free the slots query ``i`` holds and start whoever can use them."""
        rec = self.rec
        where = rec.ran[i]
        q = rec.cur_q[i]
        self.log_t(self.env._now)
        if where == MAIN:
            self.log_c(q * 16 + K_END)
            self._release_main(i, q)
        elif where == SQA:
            self.log_c(self.t.sqa * 16 + K_END)
            self.sqa_free += 1
            if self.sqa_wait is not None:
                self._sqa_pull()
        else:
            self.log_c(q * 16 + K_CS_END)
            c = self.cluster[i]
            self.cs_pool.give(c, self._pool(q), self.sc[i])
            self._cs_fill(c)
            self.cs_pool.settle(c)

    def _release_main(self, i: int, q: int) -> None:
        """Return query ``i``'s slots to queue ``q`` and start waiting queries."""
        self.free[q] += self.sc[i]
        if self.waitq[q]:
            self.pull(q)

    def pull(self, q: int) -> None:
        """Start queries from the head of queue ``q`` while their slots are free."""
        # Usually one query starts per call: few locals, no per-call setup.
        w, free, n, ent = self.waitq[q], self.free[q], self.n, self.ent
        while w:
            e = w[0]
            i = e if e < n else e % n
            if ent[i] != e:
                w.popleft()
                continue
            s = self.sc[i]
            if s > free:
                break
            w.popleft()
            ent[i] = -1
            free -= s
            self.nwait[q] -= 1
            if self.cs_q[q] and self.cs_el[i]:
                self.cs_n -= 1
            now = self.env._now
            self.log_t(now)
            self.log_c(q * 16 + K_DEQ_RUN)
            if self.fast[q]:
                # _run inlined for a plain main queue. A query that never ran
                # is in its first queue: ran and cur_q hold MAIN and q already.
                self.acc_q[i] += now
                if self.start[i] != self.start[i]:
                    self.start[i] = now
                else:
                    self.ran[i] = MAIN
                    self.cur_q[i] = q
                heappush(self.heap, (now + self.rem[i], NORMAL, self.eid(), i))
            else:
                self.free[q] = free
                self.run_query(i, q, MAIN)
        self.free[q] = free

    def take_entry(self, i: int, q: int) -> None:
        """Remove query ``i`` from queue ``q``'s waiting count (entry goes stale)."""
        self.ent[i] = -1
        self.nwait[q] -= 1
        if self.cs_q[q] and self.cs_el[i]:
            self.cs_n -= 1

    def can_reassign(self, i: int, q: int, target: int) -> bool:
        """Whether running query ``i`` can move from ``q`` to ``target`` now.

        AWS's conditions (facts 2.2): the target has enough free slots for the
        query's ``wlm_query_slot_count`` and gives it at least the memory it
        holds (same slot count, so slot memory at least as large). Queries
        waiting in the target do not block it: free slots with a line mean the
        line's head needs more slots than are free.
        """
        s = self.sc[i]
        t = self.t
        enough_mem = t.slot_mem_mb[target] >= t.slot_mem_mb[q]
        return self.free[target] >= s and enough_mem

    def take_slots(self, i: int, target: int) -> None:
        """Take query ``i``'s slots in ``target`` (after :meth:`can_reassign`)."""
        self.free[target] -= self.sc[i]

    def priority(self, i: int) -> int:
        """Priority rank of query ``i`` (manual WLM: always ``normal``)."""
        return 2

    def set_priority(self, i: int, rank: int) -> None:
        """Change query ``i``'s priority (no effect under manual WLM)."""

    # -- scaling --------------------------------------------------------------
    def _cs_capacity(self) -> list[int]:
        """Slots of one scaling cluster per pool (a pool per queue, manual WLM)."""
        return list(self.t.slots)

    def _pool(self, q: int) -> int:
        """Scaling pool of queue ``q``."""
        return q

    def _cs_fill(self, c: int) -> None:
        """Move the longest-waiting eligible queries onto cluster ``c``."""
        pool, n, ent = self.cs_pool, self.n, self.ent
        while True:
            best, best_q = -1, -1
            for q, w in enumerate(self.cs_wait):
                while w and ent[w[0] if w[0] < n else w[0] % n] != w[0]:
                    w.popleft()
                if w and (best < 0 or self._head_key(w[0]) < self._head_key(best)):
                    best, best_q = w[0], q
            if best < 0:
                break
            i = best if best < n else best % n
            if pool.state[c] != 2 or pool.free[c][self._pool(best_q)] < self.sc[i]:
                break
            pool.take_on(c, self._pool(best_q), self.sc[i])
            self.cs_wait[best_q].popleft()
            self.take_entry(i, best_q)
            self.log_t(self.env._now)
            self.log_c(best_q * 16 + K_DEQ_CS)
            self._run_cs(i, best_q, c)
        if self.cs_n > 0:
            pool.request()

    def _head_key(self, e: int) -> tuple[float, int]:
        """Order of waiting entries across queues: arrival, then index."""
        i = e if e < self.n else e % self.n
        return (self.arr[i], i)

    def _cs_count(self, delta: int) -> None:
        """Log a change in the number of active scaling clusters."""
        self.rec.cluster_change(self.env._now, delta, self.t.scaling)
