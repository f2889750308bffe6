"""Observed-to-solo conversion window by window, to the same bits as the whole log.

:func:`~dpcsim.engine.contention.observed_to_solo` integrates ``X(n)/n`` over
each logged execution with one cumulative sum over the whole log's start and
end events. A streamed replay sees the log a window at a time.
:class:`WindowedSolo` continues that cumulative sum across windows instead of
restarting it, so every query's solo work comes out bit for bit as in the
whole-log conversion (``numpy.cumsum`` adds left to right, so carrying the
running value and the running count continues the same sequence of
additions).

At a cut at arrival instant ``at`` it keeps, per cluster, the last event time
``t_c <= at`` of the window with the cumulative value there, and the logged
executions of the emitted queries that still have an event after ``t_c``
(those running at ``t_c`` count in the next window's starting concurrency;
those that start later bring their start event). Every event at or before
``t_c`` is in the window that computed it: a query arriving after the window
starts no earlier than its arrival, after ``at``. Equal-time events may come
in another order than in the whole log; between them the segments are 0 s
long, so the cumulative value and the next segment's concurrency are the
same.
"""

from __future__ import annotations

import numpy as np

from dpcsim.engine.contention import segment_speed

__all__ = ["WindowedSolo", "settled"]

_EMPTY_F = np.zeros(0, np.float64)
_EMPTY_I = np.zeros(0, np.int64)


def settled(logged_end_s: np.ndarray, last_arrival_s: float) -> np.ndarray:
    """Whether query ``i`` and every one before it ended, in the log, by
    ``last_arrival_s`` [s] (the buffer's last arrival).

    A query read later arrives no earlier, so its logged execution overlaps
    none of theirs: their conversion has seen every execution it needs.
    ``logged_end_s`` bounds each query's logged executions
    (:func:`~dpcsim.engine.simulate.logged_end_s`).
    """
    ok: np.ndarray = np.maximum.accumulate(logged_end_s) <= last_arrival_s
    return ok


class WindowedSolo:
    """Solo work of logged executions, window by window (see the module docstring).

    Parameters
    ----------
    sigma, kappa
        USL parameters.
    """

    def __init__(self, sigma: float, kappa: float) -> None:
        self.sigma, self.kappa = sigma, kappa
        #: Per cluster: (time [s], cumulative value) the next window starts from.
        self.origin: dict[int, tuple[float, float]] = {}
        #: Emitted executions with an event after their cluster's origin.
        self.tail = (_EMPTY_F, _EMPTY_F, _EMPTY_I)
        #: Per cluster, of the last window: sorted event times and cumulative
        #: values (the origin first).
        self._sorted: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def work(
        self, start_s: np.ndarray, end_s: np.ndarray, cluster: np.ndarray
    ) -> np.ndarray:
        """Solo work [s] of this window's executions (after the carried ones)."""
        t0s, t1s, c0s = self.tail
        out = np.zeros(start_s.size, np.float64)
        self._sorted = {}
        clusters = np.unique(np.concatenate([c0s, cluster]))
        for c in clusters.tolist():
            mine = np.flatnonzero(cluster == c)
            carried = c0s == c
            out[mine] = self._one(int(c), t0s[carried], t1s[carried],
                                  start_s[mine], end_s[mine])  # fmt: skip
        return out

    def _one(
        self,
        c: int,
        carried_start: np.ndarray,
        carried_end: np.ndarray,
        start_s: np.ndarray,
        end_s: np.ndarray,
    ) -> np.ndarray:
        """:meth:`work` for cluster ``c``."""
        if c in self.origin:
            t0, c0 = self.origin[c]
        else:
            first = np.concatenate([carried_start, start_s])
            t0, c0 = (float(first.min()) if first.size else 0.0), 0.0
        running = carried_start <= t0
        n0 = int(running.sum())
        later = carried_start[~running]
        n_new = start_s.size
        t = np.concatenate([later, start_s, carried_end, end_s])
        step = np.concatenate(
            [
                np.ones(later.size + n_new, np.int64),
                -np.ones(carried_end.size + n_new, np.int64),
            ]
        )
        order = np.argsort(t, kind="stable")
        t_sorted = np.concatenate([[t0], t[order]])
        n_after = np.cumsum(np.concatenate([[n0], step[order]]))
        speed = segment_speed(n_after[:-1], self.sigma, self.kappa)
        cum = np.cumsum(np.concatenate([[c0], speed * np.diff(t_sorted)]))
        self._sorted[c] = (t_sorted, cum)
        # Each event's own place in the sorted order (after the origin).
        position = np.empty(order.size, np.int64)
        position[order] = np.arange(1, order.size + 1)
        at_start = position[later.size : later.size + n_new]
        at_end = position[later.size + n_new + carried_end.size :]
        work: np.ndarray = np.maximum(cum[at_end] - cum[at_start], 0.0)
        return work

    def cut(
        self,
        at_s: float,
        start_s: np.ndarray,
        end_s: np.ndarray,
        cluster: np.ndarray,
    ) -> None:
        """Carry past a cut at ``at_s`` [s]; the arrays are the emitted executions."""
        t0s, t1s, c0s = self.tail
        s_all = np.concatenate([t0s, start_s])
        e_all = np.concatenate([t1s, end_s])
        c_all = np.concatenate([c0s, cluster])
        keep = np.zeros(s_all.size, bool)
        for c, (t_sorted, cum) in self._sorted.items():
            k = int(np.searchsorted(t_sorted, at_s, side="right")) - 1
            t_c = float(t_sorted[max(k, 0)])
            self.origin[c] = (t_c, float(cum[max(k, 0)]))
            keep |= (c_all == c) & (e_all > t_c)
        self.tail = (s_all[keep], e_all[keep], c_all[keep])
