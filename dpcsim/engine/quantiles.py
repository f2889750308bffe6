"""Streaming quantiles of queue waits in fixed memory: a log-spaced histogram.

A streamed replay of millions of queries cannot keep every wait for exact
percentiles (9 bytes per query, then a concatenation and a sort). The
histogram keeps, per queue, a count of exact zeros (most queries do not wait)
and counts in bins whose edges grow by the factor ``1 + 2 * RELATIVE_ERROR``
from :data:`MIN_S` to :data:`MAX_S`, plus the exact count, sum and maximum.

Error: a percentile is reported as the geometric centre of the bin holding
the order statistic at rank ``p / 100 * (n - 1)`` (the lower of the two
``numpy.percentile`` interpolates between), so it is within
:data:`RELATIVE_ERROR` (0.1 %) of that order statistic, relatively; it can
differ from ``numpy.percentile`` by that plus the gap to the next order
statistic. Zeros are exact; waits below :data:`MIN_S` count in the first bin
and report as that bin (about :data:`MIN_S`). ``max`` and the count are exact; ``mean``
is the exact sum over the count (summed per slice, so its last bits may
differ from ``numpy.mean``).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

__all__ = ["MAX_S", "MIN_S", "RELATIVE_ERROR", "LogHistogram"]

#: Largest relative error of a reported percentile (see the module docstring).
RELATIVE_ERROR: Final = 1e-3
#: Smallest and largest bin edges [s]: 1 µs to 100 days.
MIN_S: Final = 1e-6
MAX_S: Final = 100 * 86_400.0
_RATIO: Final = 1.0 + 2.0 * RELATIVE_ERROR
_LOG_RATIO: Final = math.log(_RATIO)
_BINS: Final = math.ceil(math.log(MAX_S / MIN_S) / _LOG_RATIO) + 1


class LogHistogram:
    """Fixed-memory percentiles of non-negative waits [s] (about 120 KB).

    Examples
    --------
    >>> h = LogHistogram()
    >>> h.add(np.array([0.0, 1.0, 2.0, 3.0]))
    >>> round(h.percentile(50), 2), h.max_s
    (1.0, 3.0)
    """

    def __init__(self) -> None:
        self.counts = np.zeros(_BINS, dtype=np.int64)
        self.zeros = 0
        self.n = 0
        self.sum_s = 0.0
        self.max_s = -math.inf

    def add(self, wait_s: np.ndarray) -> None:
        """Count finite waits [s] (NaN and infinities are left out)."""
        x = np.asarray(wait_s, dtype=np.float64)
        x = x[np.isfinite(x)]
        if not x.size:
            return
        self.n += int(x.size)
        self.sum_s += float(x.sum())
        self.max_s = max(self.max_s, float(x.max()))
        positive = x[x > 0]
        self.zeros += int(x.size - positive.size)
        if positive.size:
            k = np.floor(np.log(np.maximum(positive, MIN_S) / MIN_S) / _LOG_RATIO)
            idx = np.clip(k.astype(np.int64), 0, _BINS - 1)
            self.counts += np.bincount(idx, minlength=_BINS)

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile [s] within :data:`RELATIVE_ERROR` (see above)."""
        if self.n == 0:
            raise ValueError("no values")
        rank = math.floor(p / 100.0 * (self.n - 1))
        if rank < self.zeros:
            return 0.0
        cum = np.cumsum(self.counts)
        k = int(np.searchsorted(cum, rank - self.zeros, side="right"))
        low = MIN_S * _RATIO**k
        centre = low * math.sqrt(_RATIO)
        return float(min(centre, self.max_s))

    def summary(self) -> dict[str, float | None]:
        """p50/p90/p99/max/mean [s], the keys of the engine's summary; None if empty."""
        if self.n == 0:
            return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
        return {
            "p50": self.percentile(50),
            "p90": self.percentile(90),
            "p99": self.percentile(99),
            "max": float(self.max_s),
            "mean": self.sum_s / self.n,
        }
