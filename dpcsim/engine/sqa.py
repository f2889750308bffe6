"""Short Query Acceleration: the maximum run time, the predictor, the waiting line.

SQA (service class 14) runs an eligible query (SELECT or CTAS routed to a user
queue) in its own slots when the query would otherwise wait in its WLM queue
and its *predicted* run time is below the SQA maximum (facts 2.4, 7.1: AWS
routes a query to SQA "when ... the query is waiting in a WLM queue"). The
engine therefore considers a query twice: at arrival, when it cannot start in
its queue and an SQA slot is free; and while it waits, whenever an SQA slot
frees: the longest-waiting predicted-short query of any user queue moves to SQA
(:class:`SQAWaitList`). The prediction is made once, when the query joins the
queue (AWS predicts at planning, before the query runs).

Eviction. AWS: "If a query runs longer than the SQA maximum run time, WLM moves
the query to the first matching WLM queue" (wlm-short-query-acceleration.html;
STL_WLM_QUERY then shows the SQA attempt with ``final_state = 'Evicted'``). AWS
does not say whether the work done on SQA is kept. ``sqa_eviction`` in the
cluster settings chooses: ``hop`` (default) treats the move like a WLM-timeout
hop of a read-only query (wlm-queue-hopping.html): when the queue has a free
slot for the query it is *reassigned* and continues with the work it has done;
otherwise it *restarts* there, waiting in line with all its work to redo.
``restart`` always restarts. An evicted query is never taken by SQA again.

The maximum is ``max_execution_time`` of the SQA object [ms] when set. With 0
(dynamic, AWS's default) AWS learns it from the workload; dpcsim uses AWS's
documented rule of thumb for a fixed value: the 70th percentile of the
execution time of the eligible queries of the whole workload plus 2 s, clamped
to [2, 20] s (:func:`dynamic_max_s`).

The SQA slot count is not documented by AWS: ``sqa_slots`` (default 5) is an
assumption, and results on SQA depend on it.

Predictors (``sqa_predictor`` in the cluster settings):

* ``learned`` (the default; AWS uses a learned model that "improves as SQA
  learns from your query patterns"): the mean execution time of the queries
  with the same ``fingerprint`` that completed earlier in the run (causal: a
  query's own and later executions never count), ``sqa_prior_s`` before the
  first one and for queries without a fingerprint;
* ``perfect``: the true execution time (a what-if: no real predictor is);
* ``noisy``: the true time times ``exp(N(0, sqa_noise_sigma))``. The normal
  deviate of query ``k`` (its index in arrival order over the whole run) is
  drawn by Box-Muller from the two first words of block ``k`` of a Philox
  counter stream keyed once from the run's ``rng`` (:func:`noise_factors`), so
  a query's draw does not depend on how the run is cut into windows
  (:mod:`dpcsim.engine.stream`).
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Sequence
from typing import Final

import numpy as np

__all__ = [
    "DYNAMIC_CLAMP_S",
    "SQAModel",
    "SQAWaitList",
    "dynamic_max_of_p70",
    "dynamic_max_s",
    "noise_factors",
    "noise_key",
]

#: Clamp of the dynamic maximum [s].
DYNAMIC_CLAMP_S: Final = (2.0, 20.0)
#: The quantile of eligible execution times the dynamic maximum starts from.
DYNAMIC_QUANTILE: Final = 0.7


def dynamic_max_s(exec_s: np.ndarray) -> float:
    """Return the dynamic SQA maximum [s]: p70 of ``exec_s`` + 2 s in [2, 20].

    Examples
    --------
    >>> dynamic_max_s(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))  # p70 = 3.8 s
    5.8
    >>> dynamic_max_s(np.array([]))
    2.0
    """
    if exec_s.size == 0:
        return DYNAMIC_CLAMP_S[0]
    return dynamic_max_of_p70(float(np.quantile(exec_s, DYNAMIC_QUANTILE)))


def dynamic_max_of_p70(p70_s: float) -> float:
    """The dynamic SQA maximum [s] from the p70 of eligible execution times [s]."""
    return min(max(p70_s + 2.0, DYNAMIC_CLAMP_S[0]), DYNAMIC_CLAMP_S[1])


def noise_key(rng: np.random.Generator) -> int:
    """Draw the key of the ``noisy`` predictor's Philox stream from ``rng``."""
    return int(rng.integers(0, 2**63 - 1))


def noise_factors(key: int, first: int, count: int, sigma: float) -> np.ndarray:
    """Return the ``noisy`` error factors of queries ``first .. first+count-1``.

    Parameters
    ----------
    key
        Philox key (:func:`noise_key`).
    first, count
        Index of the first query in arrival order over the whole run, and how
        many factors to return.
    sigma
        Log-sd of the error.

    Returns
    -------
    numpy.ndarray
        ``exp(sigma * z)`` with ``z`` standard normal, one per query; the same
        value for a given query whatever ``first`` and ``count`` cover it.
    """
    words = np.random.Philox(key=key, counter=first).random_raw(4 * count)
    words = words.reshape(count, 4)
    # 53-bit uniforms in (0, 1]: the logarithm below never sees 0.
    u1 = ((words[:, 0] >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53
    u2 = (words[:, 1] >> np.uint64(11)).astype(np.float64) * 2.0**-53
    z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    out: np.ndarray = np.exp(sigma * z)
    return out


class SQAModel:
    """The SQA maximum and run-time predictions for one run.

    Parameters
    ----------
    max_s
        SQA maximum run time [s].
    predictor
        ``perfect``, ``noisy`` or ``learned``.
    exec_s
        True execution time per query [s].
    fingerprint
        Fingerprint id per query (-1 = none), used by ``learned``.
    noise_sigma
        Log-sd of the ``noisy`` error.
    prior_s
        ``learned`` prediction before any observation [s].
    noise_key
        Key of the ``noisy`` predictor's stream (:func:`noise_key`).
    first
        Index in arrival order over the whole run of query 0 of this model.
    track
        Also keep the fingerprints and times observed, in order (``learned``),
        so a windowed run can carry the statistics exactly (:attr:`observed`).
    """

    def __init__(
        self,
        *,
        max_s: float,
        predictor: str,
        exec_s: np.ndarray,
        fingerprint: np.ndarray,
        noise_sigma: float,
        prior_s: float,
        noise_key: int = 0,
        first: int = 0,
        track: bool = False,
    ) -> None:
        self.max_s = max_s
        self.learned = predictor == "learned"
        self.prior_s = prior_s
        if predictor == "noisy":
            noise = noise_factors(noise_key, first, exec_s.size, noise_sigma)
            self.pred: array[float] = array(
                "d", (exec_s * noise).astype(np.float64).tobytes()
            )
        else:
            self.pred = array("d", exec_s.astype(np.float64).tobytes())
        self.fp = array("q", fingerprint.astype(np.int64).tobytes())
        n_fp = int(fingerprint.max()) + 1 if fingerprint.size else 0
        self.sum_s = [0.0] * n_fp
        self.count = [0] * n_fp
        #: ``(query, exec_s)`` of every observation in order (when tracking).
        self.observed: list[tuple[int, float]] | None = [] if track else None

    def predicted_s(self, i: int) -> float:
        """Return the predicted execution time of query ``i`` [s]."""
        if not self.learned:
            return self.pred[i]
        f = self.fp[i]
        if f < 0 or self.count[f] == 0:
            return self.prior_s
        return self.sum_s[f] / self.count[f]

    def observe(self, i: int, exec_s: float) -> None:
        """Record that query ``i`` completed after ``exec_s`` of work [s]."""
        f = self.fp[i]
        if f >= 0:
            self.sum_s[f] += exec_s
            self.count[f] += 1
            if self.observed is not None:
                self.observed.append((i, exec_s))


class SQAWaitList:
    """Waiting entries SQA may take, one line per queue, in joining order.

    An entry is ``query + n * generation`` as in the engine's queues; an entry
    whose query left the queue since (it started, was canceled or moved) is
    stale and dropped when met (``ent[query] != entry``).

    Parameters
    ----------
    n_queues
        Number of engine queues.
    """

    def __init__(self, n_queues: int) -> None:
        self.lines: list[deque[int]] = [deque() for _ in range(n_queues)]

    def add(self, q: int, e: int) -> None:
        """Append waiting entry ``e`` of queue ``q``."""
        self.lines[q].append(e)

    def pop_oldest(
        self, ent: Sequence[int], n: int, arrival_s: Sequence[float]
    ) -> tuple[int, int] | None:
        """Remove and return ``(entry, queue)`` of the earliest arrival, or None."""
        best, best_q, best_key = -1, -1, (0.0, 0)
        for q, line in enumerate(self.lines):
            while line and ent[line[0] % n] != line[0]:
                line.popleft()
            if line:
                i = line[0] % n
                key = (arrival_s[i], i)
                if best < 0 or key < best_key:
                    best, best_q, best_key = line[0], q, key
        if best < 0:
            return None
        self.lines[best_q].popleft()
        return best, best_q
