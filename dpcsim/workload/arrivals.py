"""Learners' arrival process: a JST daily profile, an MMPP and session clusters.

Learners do not submit independent queries: they open a session (a notebook or
SQL editor), run a handful of queries a few seconds apart, and leave. Session
starts follow a non-homogeneous Poisson process whose rate is the product of a
JST hour-of-day profile, a day factor (course deadlines) and a two-state
Markov-modulated multiplier (assignment rushes: an MMPP). A session can set
off classmates' sessions (a shared exercise link, a forum answer): session
starts form a Hawkes cascade (:func:`cascade`). The queries of one session form
a cluster behind its start, so the whole process is a Hawkes / Neyman-Scott
cluster process: far burstier than Poisson at the minute scale (inter-arrival
CV and per-minute dispersion well above 1).
This module only makes times; what the queries are is :mod:`dpcsim.workload.adhoc`.
"""

from __future__ import annotations

from typing import Final

import numpy as np

__all__ = [
    "JST_HOURLY_PROFILE",
    "cascade",
    "mean_session_queries",
    "mmpp_multiplier",
    "session_queries",
    "session_starts",
]

#: Relative learner activity per JST hour 0..23 (mean 1): night trough, a lunch
#: bump, and the evening peak when working learners study.
_HOURLY_WEIGHTS: Final = np.array(
    [
        0.6, 0.42, 0.2, 0.08, 0.04, 0.04, 0.1, 0.3, 0.55, 0.85, 1.0, 1.05,
        1.25, 1.15, 0.95, 0.95, 1.0, 1.05, 1.15, 1.55, 2.05, 2.3, 2.1, 1.25,
    ]
)  # fmt: skip
JST_HOURLY_PROFILE: Final = _HOURLY_WEIGHTS / _HOURLY_WEIGHTS.mean()

#: MMPP: mean sojourn in the normal / burst state [min] and the burst's rate
#: multiplier relative to the normal state.
NORMAL_SOJOURN_MIN: Final = 120.0
BURST_SOJOURN_MIN: Final = 3.0
BURST_MULTIPLIER: Final = 10.0
#: Share of sessions that are notebook "run all"s, their length relative to an
#: interactive session, and their gap between queries [s].
RUN_ALL_SHARE: Final = 0.1
RUN_ALL_QUERIES: Final = 3.0
RUN_ALL_THINK_S: Final = 0.4


def mmpp_multiplier(n_minutes: int, rng: np.random.Generator) -> np.ndarray:
    """Per-minute rate multiplier of a two-state MMPP, normalised to mean 1.

    Parameters
    ----------
    n_minutes
        Length of the horizon [min].
    rng
        Random generator (already normalised by the caller).

    Returns
    -------
    numpy.ndarray
        float64 array of ``n_minutes`` multipliers (1 or the burst level, scaled
        so that their stationary mean is 1).
    """
    mult = np.ones(n_minutes)
    t = 0.0
    burst = rng.random() < BURST_SOJOURN_MIN / (NORMAL_SOJOURN_MIN + BURST_SOJOURN_MIN)
    while t < n_minutes:
        stay = rng.exponential(BURST_SOJOURN_MIN if burst else NORMAL_SOJOURN_MIN)
        if burst:
            mult[int(t) : int(t + stay) + 1] = BURST_MULTIPLIER
        t += stay
        burst = not burst
    stationary = (NORMAL_SOJOURN_MIN + BURST_SOJOURN_MIN * BURST_MULTIPLIER) / (
        NORMAL_SOJOURN_MIN + BURST_SOJOURN_MIN
    )
    return mult / stationary


def session_starts(rate_per_min: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Session start times from a piecewise-constant per-minute rate.

    Parameters
    ----------
    rate_per_min
        Expected session starts in each minute of the horizon [1/min].
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        Sorted start times [s] from the horizon start.
    """
    counts = rng.poisson(rate_per_min)
    minute = np.repeat(np.arange(rate_per_min.size, dtype=np.float64), counts)
    return np.sort((minute + rng.random(minute.size)) * 60.0)


def cascade(
    immigrants_s: np.ndarray,
    rng: np.random.Generator | int | None,
    *,
    branching: float,
    kernel_s: float,
    max_size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hawkes cascade of session starts, built from its cluster representation.

    Every start (an immigrant, or a start it triggered) triggers
    ``Poisson(branching)`` further starts, each after an exponential delay of
    mean ``kernel_s``: a Hawkes process with an exponential kernel. Its expected
    volume is ``immigrants / (1 - branching)``, and its cluster sizes follow the
    Borel law, heavy-tailed up to about ``1 / (branching - 1 - ln branching)``
    starts, which is what makes per-minute counts overdispersed far beyond an
    MMPP of the same mean. A cluster stops growing at ``max_size`` starts (a
    cohort cannot recruit more learners than it has).

    Parameters
    ----------
    immigrants_s
        Start times of the cluster roots [s].
    rng
        Seed or random generator.
    branching
        Mean number of starts one start triggers (0 <= branching < 1).
    kernel_s
        Mean delay between a start and the starts it triggers [s].
    max_size
        Largest cluster [starts].

    Returns
    -------
    t_s : numpy.ndarray
        Start times [s], sorted.
    cluster : numpy.ndarray
        Index of the root (into ``immigrants_s``) of each start.
    generation : numpy.ndarray
        0 for a root, 1 for a start it triggered, ...
    """
    if not 0.0 <= branching < 1.0:
        raise ValueError(f"branching={branching}; expected 0 <= branching < 1")
    rng = np.random.default_rng(rng)
    times = [np.asarray(immigrants_s, dtype=np.float64)]
    roots = [np.arange(times[0].size)]
    size = np.ones(times[0].size, dtype=np.int64)
    while times[-1].size:
        kids = rng.poisson(branching, times[-1].size)
        parent = np.repeat(np.arange(times[-1].size), kids)
        root = roots[-1][parent]
        # Children beyond a cluster's cap are not born (first come, first kept).
        rank = _rank_within(root) + size[root]
        keep = rank < max_size
        parent, root = parent[keep], root[keep]
        np.add.at(size, root, 1)
        times.append(times[-1][parent] + rng.exponential(kernel_s, parent.size))
        roots.append(root)
    t_s = np.concatenate(times)
    cluster = np.concatenate(roots)
    generation = np.repeat(np.arange(len(times)), [t.size for t in times])
    order = np.argsort(t_s, kind="stable")
    return t_s[order], cluster[order], generation[order]


def _rank_within(labels: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal ``labels`` (in order of appearance)."""
    if not labels.size:
        return labels
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    start = np.r_[True, sorted_labels[1:] != sorted_labels[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(labels.size), 0))
    rank = np.empty(labels.size, dtype=np.int64)
    rank[order] = np.arange(labels.size) - first
    return rank


def session_queries(
    starts_s: np.ndarray,
    rng: np.random.Generator,
    *,
    median_queries: float | np.ndarray = 6.0,
    think_median_s: float = 14.0,
    think_sigma: float = 1.1,
    run_all_share: float | np.ndarray = RUN_ALL_SHARE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand session starts into query arrival times.

    A session runs ``1 + floor(LogNormal(median, 0.8))`` queries separated by
    lognormal think times. A share of sessions are notebook "run all" sessions:
    :data:`RUN_ALL_QUERIES` times more queries, a fraction of a second apart.

    Parameters
    ----------
    starts_s
        Session start times [s].
    rng
        Random generator.
    median_queries
        Median extra queries after the first in an interactive session.
    think_median_s
        Median gap between an interactive session's consecutive queries [s].
    think_sigma
        Log-space standard deviation of the think time.
    run_all_share
        Probability that a session is a notebook "run all" (one for all
        sessions, or one per session).

    Returns
    -------
    session : numpy.ndarray
        Session index (into ``starts_s``) of every query.
    t_s : numpy.ndarray
        Arrival time of every query [s].
    position : numpy.ndarray
        0 for a session's first query, 1 for the second, ...
    """
    run_all = rng.random(starts_s.size) < run_all_share
    median = np.where(run_all, median_queries * RUN_ALL_QUERIES, median_queries)
    n = (1 + np.floor(median * rng.lognormal(0.0, 0.8, starts_s.size))).astype(np.int64)
    session = np.repeat(np.arange(starts_s.size), n)
    first = np.cumsum(n) - n
    position = np.arange(session.size) - np.repeat(first, n)
    think = np.where(run_all, RUN_ALL_THINK_S, think_median_s)[session]
    gaps = think * rng.lognormal(0.0, think_sigma, session.size)
    gaps[position == 0] = 0.0
    cum = np.cumsum(gaps)
    offset = cum - np.repeat(cum[first], n)
    return session, starts_s[session] + offset, position


def mean_session_queries(
    median_queries: float, run_all_share: float = RUN_ALL_SHARE
) -> float:
    """Expected queries per session of :func:`session_queries`."""
    mean_extra = median_queries * np.exp(0.8**2 / 2)
    mix = (1 - run_all_share) + run_all_share * RUN_ALL_QUERIES
    return float(0.5 + mean_extra * mix)
