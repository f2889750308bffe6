"""The plain path: a run in which no query can be interrupted or diverted.

When every queue is plain (no WLM timeout, no QMR rule, no
``statement_timeout``), SQA and Concurrency Scaling are off, the memory model
is off and WLM is manual, a query's life is fixed at its start: it runs
``exec_s`` on the slots of its queue. The engine then runs this loop instead of
the general one. It schedules exactly the same completions in the same order
(a heap ordered by time, then scheduling order, as SimPy's event queue is;
events before an arrival at the same instant) and writes the same records, so
both paths give identical results (tests compare them); it just skips SimPy's
event objects, which is what makes the FIFO benchmark fast. The loop takes the
input arrays and the recorder, not the engine. With shared capacity
(:func:`run_plain_shared`) ends come from the main cluster's virtual clock.
Long runs take the same loops compiled (:mod:`dpcsim.engine.plaincompiled`).
"""

from __future__ import annotations

from array import array
from collections import deque
from heapq import heappop, heappush

import numpy as np

from dpcsim.engine.contention import VirtualClock, rate_table
from dpcsim.engine.inputs import QueryArrays
from dpcsim.engine.plaincompiled import Loops, loops_for, preload
from dpcsim.engine.queues import QueueTables
from dpcsim.engine.records import K_DEQ_RUN, K_END, K_Q_IN, K_RUN, OUT_FAILED, Recorder
from dpcsim.engine.settings import ClusterSettings
from dpcsim.wlm import WLMConfig

__all__ = ["plain_possible", "preload_for", "run_plain", "run_plain_shared"]


def plain_possible(
    config: WLMConfig, settings: ClusterSettings, *, memory_known: bool
) -> bool:
    """Whether a run of ``config`` may take the plain path.

    The conditions of :meth:`~dpcsim.engine.cluster.Engine.is_plain` that the
    configuration and settings decide: manual WLM, SQA and Concurrency Scaling
    off, no WLM or statement timeout, no QMR rule, and the memory model off or
    no memory demand known (``memory_known``: some ``mem_mb`` above 0). A
    session replay with chains still takes the general path.
    """
    tables = QueueTables.from_config(config, settings)
    sqa = config.sqa is not None and config.sqa.enabled
    scaling = (
        settings.max_concurrency_scaling_clusters > 0
        and settings.scaling_supported
        and any(tables.scaling)
    )
    memory = settings.memory_model == "spill" and memory_known
    return not (config.is_auto or sqa or scaling or memory) and all(tables.plain)


def preload_for(
    n: int, config: WLMConfig, settings: ClusterSettings, *, memory_known: bool
) -> None:
    """Start loading the compiled loops now if a run of ``n`` queries of
    ``config`` may take them (:func:`plain_possible`, then
    :func:`~dpcsim.engine.plaincompiled.preload`)."""
    if plain_possible(config, settings, memory_known=memory_known):
        preload(n)


def run_plain(
    inp: QueryArrays,
    rec: Recorder,
    slots: tuple[int, ...],
    *,
    compiled: bool | None = None,
) -> None:
    """Run every query of ``inp`` on the plain path, writing into ``rec``.

    ``slots`` are the engine queues' slot counts (see the module docstring).
    ``compiled`` takes the compiled loop (True), the Python one (False) or
    lets :func:`~dpcsim.engine.plaincompiled.use_compiled` choose (None).
    """
    loops = None if rec.after is not None else loops_for(inp.n, compiled)
    if loops is not None:
        _run_compiled(loops, inp, rec, slots, None)
        return
    n = inp.n
    # Plain lists index faster than arrays in the loop below.
    arr, rem = inp.arrival_s.tolist(), inp.exec_s.tolist()
    q0, sc = inp.queue.tolist(), inp.slots.tolist()
    start, end, acc_q = rec.start, rec.end, rec.acc_q
    free = list(slots)
    # Cache hits and queries that need more slots than their queue has.
    special = inp.cache_hit | (inp.slots > np.asarray(slots)[inp.queue])
    odd = special.tolist() if special.any() else None
    cache = inp.cache_hit
    waitq: list[deque[int]] = [deque() for _ in free]
    heap: list[tuple[float, int, int]] = []
    seq = 0
    for i in range(n + 1):
        a = arr[i] if i < n else float("inf")
        while heap and heap[0][0] <= a:
            t, _, j = heappop(heap)
            end[j] = t
            q = q0[j]
            f = free[q] + sc[j]
            w = waitq[q]
            while w and sc[w[0]] <= f:
                k = w.popleft()
                f -= sc[k]
                start[k] = t
                acc_q[k] = t - arr[k]
                seq += 1
                heappush(heap, (t + rem[k], seq, k))
            free[q] = f
        if i == n:
            break
        q = q0[i]
        s = sc[i]
        if odd is not None and odd[i]:
            if cache[i]:
                rec.cache_hit(i, a)
            else:
                acc_q[i] = 0.0
                rec.finish(i, a, OUT_FAILED)
        elif not waitq[q] and free[q] >= s:
            free[q] -= s
            start[i] = a
            acc_q[i] = 0.0
            seq += 1
            heappush(heap, (a + rem[i], seq, i))
        else:
            waitq[q].append(i)
    _log_from_records(inp, rec)


def run_plain_shared(
    inp: QueryArrays,
    rec: Recorder,
    slots: tuple[int, ...],
    clock: VirtualClock,
    *,
    compiled: bool | None = None,
) -> None:
    """:func:`run_plain` with the queries sharing the main cluster's capacity.

    Every running query progresses at ``X(n) / n`` (all weights 1): a query
    starting when the clock reads ``V`` with solo work ``w`` ends when it reads
    ``V + w``. The loop keeps one heap of finish values and the real time of the
    next finish; events before an arrival at the same instant, as above.
    ``compiled`` as in :func:`run_plain`.
    """
    # Speed X(n)/n for every reachable n (at most one query per slot).
    speed = clock.speed
    need = sum(slots) + 1
    if len(speed) <= need:
        speed = rate_table(need, clock.sigma, clock.kappa)
    # The compiled loop sizes its buffers by the slots: every query needs one;
    # with a callback on each end (session replay) the Python loop runs.
    wide = inp.n == 0 or int(inp.slots.min()) >= 1
    loops = loops_for(inp.n, compiled) if wide and rec.after is None else None
    if loops is not None:
        _run_compiled(loops, inp, rec, slots, np.asarray(speed, np.float64))
        return
    n = inp.n
    arr, rem = inp.arrival_s.tolist(), inp.exec_s.tolist()
    q0, sc = inp.queue.tolist(), inp.slots.tolist()
    start, end, acc_q = rec.start, rec.end, rec.acc_q
    free = list(slots)
    special = inp.cache_hit | (inp.slots > np.asarray(slots)[inp.queue])
    odd = special.tolist() if special.any() else None
    cache = inp.cache_hit
    waitq: list[deque[int]] = [deque() for _ in free]
    heap: list[tuple[float, int]] = []
    inf = float("inf")
    v = 0.0  # virtual time at real time tv
    tv = 0.0
    running = 0
    r = 0.0  # dV/dt
    t_next = inf
    for i in range(n + 1):
        a = arr[i] if i < n else inf
        while running and t_next <= a:
            t = t_next
            f, j = heappop(heap)
            v, tv = f, t
            ended = [j]
            tol = 1e-12 * (1.0 if f < 1.0 else f)
            while heap and heap[0][0] <= f + tol:
                ended.append(heappop(heap)[1])
            running -= len(ended)
            for j in ended:
                end[j] = t
                q = q0[j]
                f2 = free[q] + sc[j]
                w = waitq[q]
                while w and sc[w[0]] <= f2:
                    k = w.popleft()
                    f2 -= sc[k]
                    start[k] = t
                    acc_q[k] = t - arr[k]
                    heappush(heap, (v + rem[k], k))
                    running += 1
                free[q] = f2
            if running:
                r = speed[running]
                t_next = t + (heap[0][0] - v) / r
            else:
                v, r, t_next = 0.0, 0.0, inf
        if i == n:
            break
        q = q0[i]
        s = sc[i]
        if odd is not None and odd[i]:
            if cache[i]:
                rec.cache_hit(i, a)
            else:
                acc_q[i] = 0.0
                rec.finish(i, a, OUT_FAILED)
        elif not waitq[q] and free[q] >= s:
            free[q] -= s
            start[i] = a
            acc_q[i] = 0.0
            v += r * (a - tv)
            tv = a
            heappush(heap, (v + rem[i], i))
            running += 1
            r = speed[running]
            t_next = a + (heap[0][0] - v) / r
        else:
            waitq[q].append(i)
    _log_from_records(inp, rec)


def _run_compiled(
    loops: Loops,
    inp: QueryArrays,
    rec: Recorder,
    slots: tuple[int, ...],
    speed: np.ndarray | None,
) -> None:
    """Run the compiled loop (shared capacity when ``speed`` is given)."""
    plain, shared = loops
    slots_a = np.asarray(slots, np.int64)
    # Writable C arrays of the types the loops were compiled for: another
    # layout or a read-only view would compile a new specialization.
    arr = np.require(inp.arrival_s, np.float64, ["C", "W"])
    cache = inp.cache_hit
    too_wide = inp.slots > slots_a[inp.queue]
    special = cache | too_wide
    start = np.frombuffer(rec.start, np.float64)
    end = np.frombuffer(rec.end, np.float64)
    acc_q = np.frombuffer(rec.acc_q, np.float64)
    args = (
        arr,
        np.require(inp.exec_s, np.float64, ["C", "W"]),
        inp.queue.astype(np.int64),
        inp.slots.astype(np.int64),
        special,
        slots_a,
        start,
        end,
        acc_q,
    )
    if speed is None:
        plain(*args)
    else:
        shared(*args, speed)
    # What the Python loop does for these at their arrival: no slot, no queue.
    acc_q[special] = 0.0
    end[special] = arr[special]
    start[cache] = arr[cache]
    failed = too_wide & ~cache
    if failed.any():
        np.frombuffer(rec.outcome, np.int8)[failed] = OUT_FAILED
    _log_from_records(inp, rec)


def _log_from_records(inp: QueryArrays, rec: Recorder) -> None:
    """Rebuild the state-change log from the records, vectorized.

    On the plain path a query that ran changes its queue's state at arrival
    (queued, or running at once), at start (queued -> running) and at its end.
    The timeline keeps the state after the last change at each instant, so the
    order of changes within one instant does not matter.
    """
    arrival = inp.arrival_s
    start = np.frombuffer(rec.start, np.float64)
    end = np.frombuffer(rec.end, np.float64)
    queue = inp.queue * 16
    ran = ~np.isnan(start) & ~inp.cache_hit
    waited = ran & (start > arrival)
    direct = ran & ~waited
    times = np.concatenate([arrival[waited], arrival[direct], start[waited], end[ran]])
    codes = np.concatenate(
        [queue[waited] + K_Q_IN, queue[direct] + K_RUN,
         queue[waited] + K_DEQ_RUN, queue[ran] + K_END]
    )  # fmt: skip
    order = np.argsort(times, kind="stable")
    rec.log_t = array("d", times[order].tobytes())
    rec.log_c = array("i", codes[order].astype(np.int32).tobytes())
