"""Plain-Python reference loops the engine is timed (and checked) against.

Three yardsticks on the SAME arrival times and durations the engine replays:

- :func:`kiefer_wolfowitz_waits`: the FIFO recursion over a heap of slot-free
  times. Exact for one FIFO queue with fixed slots and the fastest interpreted
  formulation (about 2.6x a heapq event loop); it cannot express anything else.
- :func:`heapq_event_loop_waits`: a discrete-event loop with arrivals and
  departures in one heap and a FIFO deque, the interpreted-Python yardstick of
  ``performance-baselines.md``.
- :func:`heapq_multiqueue_waits`: the same loop for several FIFO queues with
  their own slot counts (no SQA, scaling or rules): the reference rate beside
  the full-configuration engine benchmark.

They return waits in queue [s] per query, in input order.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "heapq_event_loop_waits",
    "heapq_multiqueue_waits",
    "kiefer_wolfowitz_waits",
]

FloatArray = npt.NDArray[np.float64]

# Event kinds: a departure sorts before an arrival at the same instant, so a
# slot freed at t serves the arrival at t without a wait (as the recursion does).
_DEPART = 0
_ARRIVE = 1


def kiefer_wolfowitz_waits(
    arrivals_s: Sequence[float] | FloatArray,
    durations_s: Sequence[float] | FloatArray,
    slots: int,
) -> FloatArray:
    """FIFO waits from the Kiefer–Wolfowitz recursion [s].

    Parameters
    ----------
    arrivals_s
        Arrival times [s], non-decreasing (ties served in input order).
    durations_s
        Execution times [s], >= 0.
    slots
        Number of slots of the single FIFO queue.

    Returns
    -------
    numpy.ndarray
        Wait in queue of each query [s].
    """
    free = [0.0] * slots  # a heap of the times at which each slot frees
    arrivals = list(map(float, arrivals_s))
    durations = list(map(float, durations_s))
    waits = [0.0] * len(arrivals)
    replace = heapq.heapreplace
    for i, (a, s) in enumerate(zip(arrivals, durations, strict=True)):
        f = free[0]
        start = f if f > a else a
        waits[i] = start - a
        replace(free, start + s)
    return np.asarray(waits, dtype=np.float64)


def heapq_event_loop_waits(
    arrivals_s: Sequence[float] | FloatArray,
    durations_s: Sequence[float] | FloatArray,
    slots: int,
) -> FloatArray:
    """FIFO waits from an event loop over one heap of arrivals and departures [s].

    Parameters
    ----------
    arrivals_s, durations_s, slots
        As in :func:`kiefer_wolfowitz_waits`.

    Returns
    -------
    numpy.ndarray
        Wait in queue of each query [s].
    """
    n = len(arrivals_s)
    zeros = np.zeros(n, dtype=np.int64)
    return heapq_multiqueue_waits(arrivals_s, durations_s, zeros, [slots])


def heapq_multiqueue_waits(
    arrivals_s: Sequence[float] | FloatArray,
    durations_s: Sequence[float] | FloatArray,
    queue_index: Sequence[int] | npt.NDArray[np.int64],
    slots: Sequence[int],
) -> FloatArray:
    """FIFO waits of several queues sharing one event heap [s].

    Arrivals are pushed one at a time (the heap holds the next arrival plus the
    running queries), as a streaming simulator would.

    Parameters
    ----------
    arrivals_s, durations_s
        As in :func:`kiefer_wolfowitz_waits`.
    queue_index
        Queue of each query, an index into ``slots``.
    slots
        Slot count of each queue.

    Returns
    -------
    numpy.ndarray
        Wait in queue of each query [s].
    """
    arrivals = list(map(float, arrivals_s))
    durations = list(map(float, durations_s))
    queues = list(map(int, queue_index))
    n = len(arrivals)
    waits = [0.0] * n
    free = list(slots)
    waiting: list[deque[int]] = [deque() for _ in slots]
    push, pop = heapq.heappush, heapq.heappop
    heap: list[tuple[float, int, int]] = [(arrivals[0], _ARRIVE, 0)] if n else []
    while heap:
        t, kind, i = pop(heap)
        q = queues[i]
        if kind == _ARRIVE:
            if i + 1 < n:
                push(heap, (arrivals[i + 1], _ARRIVE, i + 1))
            if free[q] and not waiting[q]:
                free[q] -= 1
                push(heap, (t + durations[i], _DEPART, i))
            else:
                waiting[q].append(i)
        elif waiting[q]:
            j = waiting[q].popleft()
            waits[j] = t - arrivals[j]
            push(heap, (t + durations[j], _DEPART, j))
        else:
            free[q] += 1
    return np.asarray(waits, dtype=np.float64)
