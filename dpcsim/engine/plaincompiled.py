"""The plain path's two loops compiled to machine code with numba.

:mod:`dpcsim.engine.plain` runs its loops in Python at about 1.5 µs per query.
These are the same loops over numpy arrays, compiled by numba (the ``fast``
extra) and cached on disk, at about 0.06 µs per query. They make the same
floating-point operations in the same order (numba compiles without
``fastmath``, so no reassociation or fused multiply-adds), pop the same heap
(``heapq`` on the same tuples) and so give bit-identical records; the tests
compare them with the Python loops. Waiting queries are kept in one linked
list per queue (``head``/``tail``/``nxt``) instead of a deque each.

Loading numba and the cached machine code costs about 0.6 s once per process
(a first compile about 2 s, once per installation), so :func:`use_compiled`
takes the compiled loops only for runs long enough to win it back, or once
they are loaded anyway. ``DPCSIM_COMPILED`` overrides the choice: ``auto``
(the default), ``always`` or ``never``. :func:`preload` starts the loading in
a thread, so that it overlaps a run's reading and routing (which release the
GIL for most of their time).

The loops skip the queries :func:`~dpcsim.engine.plain.run_plain` handles
apart (result-cache hits and queries wider than their queue): those never
touch a queue's slots.
"""

from __future__ import annotations

import contextlib
import heapq
import importlib.util
import os
import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from dpcsim.errors import InputError

__all__ = [
    "COMPILED_MIN_QUERIES",
    "Loops",
    "compiled_loops",
    "loops_for",
    "plain_loop",
    "plain_shared_loop",
    "preload",
    "use_compiled",
]

#: Queries from which a run takes the compiled loops when numba is not loaded
#: yet: at 1.5 µs per query saved, 0.6 s of loading pays back at about 400,000.
COMPILED_MIN_QUERIES = 400_000
_MODES = ("auto", "always", "never")
#: ``(plain_loop, plain_shared_loop)`` compiled.
Loops = tuple[Callable[..., None], Callable[..., None]]
_loaded: dict[str, Callable[..., None]] = {}
#: Held while the loops load (by :func:`preload`'s thread or the run itself).
_loading = threading.Lock()
#: Why loading failed (auto mode then keeps to the Python loops).
_failed: list[str] = []


def use_compiled(n: int) -> bool:
    """Whether a plain run of ``n`` queries takes the compiled loops.

    ``DPCSIM_COMPILED`` (``auto``, ``always``, ``never``) decides; ``auto``
    takes them when numba is installed and loads, and either the loops are
    loaded already or ``n`` is at least :data:`COMPILED_MIN_QUERIES`.
    """
    mode = _mode()
    if mode == "never":
        return False
    available = importlib.util.find_spec("numba") is not None
    if mode == "always":
        if not available:
            raise InputError(
                "DPCSIM_COMPILED=always, but numba is not installed; "
                "install dpcsim[fast] or set DPCSIM_COMPILED=auto",
                location="DPCSIM_COMPILED",
            )
        return True
    if not available or _failed:
        return False
    return bool(_loaded) or n >= COMPILED_MIN_QUERIES


def loops_for(n: int, compiled: bool | None = None) -> Loops | None:
    """The compiled loops a plain run of ``n`` queries takes; None: Python's.

    ``compiled`` True or False forces the choice; None follows
    :func:`use_compiled`, and there a failure of numba to load warns and
    returns None (with ``always`` it raises).
    """
    if compiled is False:
        return None
    if compiled or _mode() == "always":
        return compiled_loops()
    if not use_compiled(n):
        return None
    try:
        return compiled_loops()
    except Exception as exc:  # any failure of numba's: fall back
        warnings.warn(
            f"the compiled plain loops failed to load ({type(exc).__name__}: "
            f"{exc}); running the Python loops (DPCSIM_COMPILED=never hides this)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None


def _mode() -> str:
    """``DPCSIM_COMPILED``, checked (default ``auto``)."""
    mode = os.environ.get("DPCSIM_COMPILED", "auto").strip().lower() or "auto"
    if mode not in _MODES:
        raise InputError(
            f"DPCSIM_COMPILED={mode!r}; expected one of {list(_MODES)}",
            location="DPCSIM_COMPILED",
        )
    return mode


def preload(n: int) -> None:
    """Start loading the compiled loops in a thread if a run of ``n`` queries
    would take them (:func:`use_compiled`); :func:`compiled_loops` waits for it.
    """
    if _loaded or _failed or not use_compiled(n):
        return
    threading.Thread(target=_load_quietly, name="dpcsim-numba", daemon=True).start()


def _load_quietly() -> None:
    """:func:`compiled_loops` for :func:`preload`'s thread (errors kept)."""
    # The run's own call of compiled_loops reports a failure.
    with contextlib.suppress(Exception):
        compiled_loops()


def compiled_loops() -> Loops:
    """``(plain_loop, plain_shared_loop)`` compiled (cached on disk by numba).

    Each is called once on empty arrays of the run's types, so the machine
    code is loaded (or compiled) here, not in the run's first call.
    """
    with _loading:
        if not _loaded:
            try:
                _load()
            except Exception as exc:
                _failed.append(f"{type(exc).__name__}: {exc}")
                raise
    return _loaded["plain"], _loaded["shared"]


def _load() -> None:
    """Compile (or load from numba's cache) both loops into :data:`_loaded`."""
    import numba

    if getattr(numba.config, "DISABLE_JIT", False):
        # njit would hand back the Python functions: numpy scalars in a Python
        # loop, several times slower than the plain path's own Python loop.
        raise RuntimeError("NUMBA_DISABLE_JIT is set")
    plain = numba.njit(cache=True, nogil=True)(plain_loop)
    shared = numba.njit(cache=True, nogil=True)(plain_shared_loop)
    f, i = np.zeros(0), np.zeros(0, np.int64)
    args = (f, f, i, i, np.zeros(0, bool), np.ones(1, np.int64), f, f, f)
    plain(*args)
    shared(*args, np.ones(2))
    _loaded.update(plain=plain, shared=shared)


def plain_loop(
    arr: Any, rem: Any, q0: Any, sc: Any, skip: Any, slots: Any,
    start: Any, end: Any, acc_q: Any,
) -> None:  # fmt: skip
    """The loop of :func:`~dpcsim.engine.plain.run_plain` over arrays.

    ``arr``/``rem`` arrival and execution [s] (float64), ``q0``/``sc`` queue
    and slots per query (int64), ``skip`` the queries handled apart (bool),
    ``slots`` per queue (int64); writes ``start``, ``end``, ``acc_q`` [s].
    """
    n = arr.shape[0]
    nq = slots.shape[0]
    free = slots.copy()
    head = np.full(nq, -1, np.int64)
    tail = np.full(nq, -1, np.int64)
    nxt = np.full(max(n, 1), -1, np.int64)
    heap = [(0.0, 0, 0)]
    heap.pop()
    seq = 0
    for i in range(n + 1):
        a = arr[i] if i < n else np.inf
        while len(heap) > 0 and heap[0][0] <= a:
            t, _, j = heapq.heappop(heap)
            end[j] = t
            q = q0[j]
            f = free[q] + sc[j]
            k = head[q]
            while k >= 0 and sc[k] <= f:
                head[q] = nxt[k]
                f -= sc[k]
                start[k] = t
                acc_q[k] = t - arr[k]
                seq += 1
                heapq.heappush(heap, (t + rem[k], seq, k))
                k = head[q]
            if k < 0:
                tail[q] = -1
            free[q] = f
        if i == n:
            break
        if skip[i]:
            continue
        q = q0[i]
        s = sc[i]
        if head[q] < 0 and free[q] >= s:
            free[q] -= s
            start[i] = a
            acc_q[i] = 0.0
            seq += 1
            heapq.heappush(heap, (a + rem[i], seq, i))
        elif head[q] < 0:
            head[q] = i
            tail[q] = i
        else:
            nxt[tail[q]] = i
            tail[q] = i


def plain_shared_loop(
    arr: Any, rem: Any, q0: Any, sc: Any, skip: Any, slots: Any,
    start: Any, end: Any, acc_q: Any, speed: Any,
) -> None:  # fmt: skip
    """The loop of :func:`~dpcsim.engine.plain.run_plain_shared` over arrays.

    Arguments as :func:`plain_loop`, plus ``speed``: ``X(n) / n`` for every
    reachable ``n`` (float64, at least ``slots.sum() + 1`` long; every query
    takes at least one slot, so at most ``slots.sum()`` run at once).
    """
    n = arr.shape[0]
    nq = slots.shape[0]
    free = slots.copy()
    head = np.full(nq, -1, np.int64)
    tail = np.full(nq, -1, np.int64)
    nxt = np.full(max(n, 1), -1, np.int64)
    ended = np.empty(slots.sum() + 1, np.int64)
    heap = [(0.0, 0)]
    heap.pop()
    inf = np.inf
    v = 0.0  # virtual time at real time tv
    tv = 0.0
    running = 0
    r = 0.0  # dV/dt
    t_next = inf
    for i in range(n + 1):
        a = arr[i] if i < n else inf
        while running > 0 and t_next <= a:
            t = t_next
            f, j = heapq.heappop(heap)
            v = f
            tv = t
            ended[0] = j
            m = 1
            tol = 1e-12 * (1.0 if f < 1.0 else f)
            while len(heap) > 0 and heap[0][0] <= f + tol:
                ended[m] = heapq.heappop(heap)[1]
                m += 1
            running -= m
            for e in range(m):
                j = ended[e]
                end[j] = t
                q = q0[j]
                f2 = free[q] + sc[j]
                k = head[q]
                while k >= 0 and sc[k] <= f2:
                    head[q] = nxt[k]
                    f2 -= sc[k]
                    start[k] = t
                    acc_q[k] = t - arr[k]
                    heapq.heappush(heap, (v + rem[k], k))
                    running += 1
                    k = head[q]
                if k < 0:
                    tail[q] = -1
                free[q] = f2
            if running > 0:
                r = speed[running]
                t_next = t + (heap[0][0] - v) / r
            else:
                v = 0.0
                r = 0.0
                t_next = inf
        if i == n:
            break
        if skip[i]:
            continue
        q = q0[i]
        s = sc[i]
        if head[q] < 0 and free[q] >= s:
            free[q] -= s
            start[i] = a
            acc_q[i] = 0.0
            v += r * (a - tv)
            tv = a
            heapq.heappush(heap, (v + rem[i], i))
            running += 1
            r = speed[running]
            t_next = a + (heap[0][0] - v) / r
        elif head[q] < 0:
            head[q] = i
            tail[q] = i
        else:
            nxt[tail[q]] = i
            tail[q] = i
