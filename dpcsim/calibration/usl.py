"""The Universal Scalability Law (Gunther): a cluster's throughput against concurrency.

With ``n`` queries running, the cluster completes

    X(n) = n / (1 + sigma (n - 1) + kappa n (n - 1))

queries' worth of solo work per second: ``sigma`` is contention (the serial
share), ``kappa`` coherency (the pairwise cost that makes throughput fall past
``sqrt((1 - sigma) / kappa)`` queries). Under egalitarian processor sharing each
running query progresses at ``X(n) / n`` solo-seconds per second, so a query is
slowed down by ``n / X(n) = 1 + sigma (n - 1) + kappa n (n - 1)``.

:func:`usl_throughput` is the engine's (:mod:`dpcsim.engine.contention`), so
the fit and the replay use one curve; this module adds the array form the fit
needs and the slowdown.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dpcsim.engine import contention

__all__ = ["usl_slowdown", "usl_throughput"]


def usl_throughput(n: ArrayLike, sigma: float, kappa: float) -> NDArray[np.float64]:
    """Throughput ``X(n)`` [solo-seconds of work per second] with ``n`` running.

    Parameters
    ----------
    n
        Queries running (scalar or array, >= 0); ``X(0) = 0``.
    sigma, kappa
        Contention and coherency coefficients, >= 0.
    """
    n_arr = np.asarray(n, dtype=np.float64)
    out: NDArray[np.float64] = np.asarray(
        contention.usl_throughput(n_arr, sigma, kappa), dtype=np.float64
    )
    return out


def usl_slowdown(n: ArrayLike, sigma: float, kappa: float) -> NDArray[np.float64]:
    """Slowdown ``n / X(n) = 1 + sigma (n - 1) + kappa n (n - 1)`` of one of ``n``
    queries sharing the cluster equally (1 when it runs alone)."""
    n_arr = np.asarray(n, dtype=np.float64)
    out: NDArray[np.float64] = (
        1.0 + sigma * (n_arr - 1.0) + kappa * n_arr * (n_arr - 1.0)
    )
    return out
