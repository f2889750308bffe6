"""The plain path: a run in which no query can be interrupted or diverted.

When every queue is plain (no WLM timeout, no QMR rule, no
``statement_timeout``), SQA and Concurrency Scaling are off, the memory model
is off and WLM is manual, a query's life is fixed at its start: it runs
``exec_s`` on the slots of its queue. The engine then runs this loop instead of
the general one. It schedules exactly the same completions in the same order
(a heap ordered by time, then scheduling order, as SimPy's event queue is;
events before an arrival at the same instant) and writes the same records, so
both paths give identical results (tests compare them); it just skips SimPy's
event objects, which is what makes the FIFO benchmark fast.
"""

from __future__ import annotations

from array import array
from collections import deque
from heapq import heappop, heappush
from typing import TYPE_CHECKING

import numpy as np

from dpcsim.engine.records import K_DEQ_RUN, K_END, K_Q_IN, K_RUN, OUT_FAILED

if TYPE_CHECKING:
    from dpcsim.engine.cluster import Engine

__all__ = ["is_plain", "run_plain"]


def is_plain(eng: Engine) -> bool:
    """Whether ``eng``'s run can take the plain path."""
    return (
        not eng._auto
        and eng.sqa is None
        and not eng.scaling_on
        and not eng.mem_on
        and eng.st_s == 0.0
        and all(eng.t.plain[: eng.nq + 1])
    )


def run_plain(eng: Engine) -> None:
    """Run every query of ``eng`` on the plain path (see the module docstring)."""
    inp = eng.inp
    n = eng.n
    # Plain lists index faster than arrays in the loop below.
    arr, rem = inp.arrival_s.tolist(), inp.exec_s.tolist()
    q0, sc = inp.queue.tolist(), inp.slots.tolist()
    start, end, acc_q = eng.start, eng.end, eng.acc_q
    free, slots = list(eng.free), eng.t.slots
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
                eng.rec.cache_hit(i, a)
            else:
                acc_q[i] = 0.0
                eng.rec.finish(i, a, OUT_FAILED)
        elif not waitq[q] and free[q] >= s:
            free[q] -= s
            start[i] = a
            acc_q[i] = 0.0
            seq += 1
            heappush(heap, (a + rem[i], seq, i))
        else:
            waitq[q].append(i)
    _log_from_records(eng)


def _log_from_records(eng: Engine) -> None:
    """Rebuild the state-change log from the records, vectorized.

    On the plain path a query that ran changes its queue's state at arrival
    (queued, or running at once), at start (queued -> running) and at its end.
    The timeline keeps the state after the last change at each instant, so the
    order of changes within one instant does not matter.
    """
    arrival = eng.inp.arrival_s
    start = np.frombuffer(eng.start, np.float64)
    end = np.frombuffer(eng.end, np.float64)
    queue = eng.inp.queue * 16
    ran = ~np.isnan(start) & ~eng.inp.cache_hit
    waited = ran & (start > arrival)
    direct = ran & ~waited
    times = np.concatenate([arrival[waited], arrival[direct], start[waited], end[ran]])
    codes = np.concatenate(
        [queue[waited] + K_Q_IN, queue[direct] + K_RUN,
         queue[waited] + K_DEQ_RUN, queue[ran] + K_END]
    )  # fmt: skip
    order = np.argsort(times, kind="stable")
    eng.rec.log_t = array("d", times[order].tobytes())
    eng.rec.log_c = array("i", codes[order].astype(np.int32).tobytes())
