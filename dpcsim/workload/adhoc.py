"""Learners' adhoc SELECTs: who, when, what shape, cache hits and cancels.

Arrival times come from :mod:`dpcsim.workload.arrivals` (JST profile, deadline
days, MMPP, session clusters). Within a session a learner mostly re-runs the
shape they just ran (tweaking a literal, or re-running it verbatim: the verbatim
re-runs are the result-cache hits); otherwise they pick an exercise shape
shared across the course (a Zipf choice among :data:`POPULAR_SHAPES`) or write a
new one. A shape's execution-time component is fixed per shape, so a heavy
shape stays heavy when repeated. The stuck-query fault is added here too.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from dpcsim.workload.arrivals import (
    JST_HOURLY_PROFILE,
    mean_session_queries,
    mmpp_multiplier,
    session_queries,
    session_starts,
)
from dpcsim.workload.catalog import learner_name
from dpcsim.workload.rows import Rows
from dpcsim.workload.service import MIXTURES
from dpcsim.workload.spec import DPCWorkloadSpec

__all__ = ["learner_queries", "shape_text"]

#: Exercise shapes shared by the courses (chosen with Zipf weights).
POPULAR_SHAPES: Final = 400
ZIPF_EXPONENT: Final = 1.8
#: Probability that a non-first query of a session repeats the previous shape.
P_REPEAT: Final = 0.62
#: Probability that a repeat is verbatim (same literals: a result-cache hit).
P_VERBATIM: Final = 0.6
#: Probability that a fresh pick is a brand-new shape rather than an exercise.
P_NOVEL: Final = 0.55
#: Probability that a learner cancels a query that missed the cache.
P_CANCEL: Final = 0.028
MEDIAN_SESSION_QUERIES: Final = 6.0
#: Exercise shapes draw their component from this lower part of the mixture.
EXERCISE_QUANTILE: Final = 0.8

_TABLES: Final = (
    "mart.fct_learning_activity", "mart.fct_quiz_results", "mart.fct_forum_engagement",
    "mart.agg_course_progress", "mart.agg_learner_daily", "mart.dim_learner",
    "mart.dim_course",
)  # fmt: skip
_SELECTS: Final = (
    "count(*)",
    "course_id, count(*)",
    "learner_id, sum(duration_s)",
    "course_id, avg(score)",
    "date_trunc('week', activity_date), count(distinct learner_id)",
    "lesson_id, count(*) as views",
    "learner_id, max(last_event_at)",
    "cohort, median(score)",
)
_JOINS: Final = (
    "",
    " join mart.dim_course using (course_id)",
    " join mart.dim_learner using (learner_id)",
)
_PREDICATES: Final = (
    "course_id = {v}",
    "learner_id = {v}",
    "score > {v}",
    "duration_s > {v}",
    "lesson_id = {v}",
    "cohort = {v}",
)
_GROUPS: Final = (
    "",
    " group by 1",
    " group by 1 order by 2 desc",
    " group by 1 order by 1",
)
_LIMITS: Final = ("", " limit {n}", " limit 1000")
_DISTINCT: Final = ("select ", "select /* notebook */ ")
_RADIX: Final = tuple(
    len(x)
    for x in (_TABLES, _SELECTS, _JOINS, _PREDICATES, _GROUPS, _LIMITS, _DISTINCT)
)
N_SHAPES: Final = int(np.prod(_RADIX))


def shape_text(combo: int) -> str:
    """SQL template of shape ``combo`` (< N_SHAPES) with ``{v}``/``{n}`` literals."""
    digits = []
    for base in _RADIX:
        digits.append(combo % base)
        combo //= base
    t, s, j, p, g, lim, d = digits
    return (
        f"{_DISTINCT[d]}{_SELECTS[s]} from {_TABLES[t]}{_JOINS[j]} "
        f"where {_PREDICATES[p]}{_GROUPS[g]}{_LIMITS[lim]}"
    )


def learner_queries(
    spec: DPCWorkloadSpec, rows: Rows, rng: np.random.Generator
) -> None:
    """Add the learners' adhoc queries (and stuck-query faults) to ``rows``.

    Parameters
    ----------
    spec
        Learners, growth, queries per learner per day, deadline weekday, faults.
    rows
        Accumulator.
    rng
        Random generator.
    """
    n_learners = max(1, round(spec.learners * spec.learner_growth))
    t_s, session, position = _arrivals(spec, n_learners, rng)
    n = t_s.size
    learner = rng.choice(
        n_learners, size=session.max() + 1 if n else 0, p=_activity(n_learners, rng)
    )[session]
    repeat = (position > 0) & (rng.random(n) < P_REPEAT)
    verbatim = repeat & (rng.random(n) < P_VERBATIM)
    novel = ~repeat & (rng.random(n) < P_NOVEL)
    popular = rng.zipf(ZIPF_EXPONENT, n) - 1
    popular = np.where(
        popular < POPULAR_SHAPES, popular, rng.integers(0, POPULAR_SHAPES, n)
    )
    fresh = np.where(novel, POPULAR_SHAPES + np.cumsum(novel) - 1, popular)
    shape = fresh[_last(~repeat)]
    literal = rng.integers(1, 5000, n)[_last(~verbatim)]
    perm = rng.permutation(N_SHAPES)
    combo = perm[shape % N_SHAPES]
    exec_s, aborted = _exec_times(shape, verbatim, rng)
    names = np.array([learner_name(i) for i in range(n_learners)], dtype=object)
    templates = {int(c): shape_text(int(c)) for c in np.unique(combo)}
    texts = [
        templates[c].format(v=v, n=v % 500 + 10)
        for c, v in zip(combo.tolist(), literal.tolist(), strict=True)
    ]
    fps = [templates[c].format(v="?", n="?") for c in combo.tolist()]
    rows.add(
        t_s=t_s,
        exec_s=exec_s,
        statement_type="select",
        user_name=names[learner],
        query_text=texts,
        fingerprint=fps,
        aborted=aborted,
        cache_hit=verbatim,
        mem_scale_mb=150.0,
    )
    _stuck_queries(spec, n_learners, rows, rng)


def _arrivals(
    spec: DPCWorkloadSpec, n_learners: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Query times [s], session index and position within the session."""
    minutes = spec.days * 1440
    minute = np.arange(minutes)
    hour = (minute // 60) % 24
    day = minute // 1440
    first_weekday = (
        int(
            np.datetime64(spec.start_date, "D").astype("datetime64[D]").view("int64")
            + 3
        )
        % 7
    )
    weekday = (first_weekday + day) % 7
    factor = np.where(weekday == spec.deadline_weekday, 1.6, 1.0)
    factor = np.where(weekday == (spec.deadline_weekday - 1) % 7, 1.25, factor)
    mean_len = mean_session_queries(MEDIAN_SESSION_QUERIES)
    per_day = n_learners * spec.queries_per_learner_day / mean_len
    rate = (
        per_day
        / 1440.0
        * JST_HOURLY_PROFILE[hour]
        * factor
        * mmpp_multiplier(minutes, rng)
    )
    starts = session_starts(rate, rng)
    session, t_s, position = session_queries(
        starts, rng, median_queries=MEDIAN_SESSION_QUERIES
    )
    keep = t_s < spec.horizon_s
    return t_s[keep], session[keep], position[keep]


def _activity(n: int, rng: np.random.Generator) -> np.ndarray:
    """Learners' relative activity (lognormal: a few are very active)."""
    w = rng.lognormal(0.0, 1.0, n)
    return np.asarray(w / w.sum())


def _last(mark: np.ndarray) -> np.ndarray:
    """Index of the latest marked position at or before each position."""
    idx = np.where(mark, np.arange(mark.size), 0)
    return np.maximum.accumulate(idx) if mark.size else idx


def _exec_times(
    shape: np.ndarray, cached: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Execution times [s] (per-shape component) and learner cancels.

    Course exercises (the shared shapes) are written to run quickly, so they
    draw only from the first two components; heavy and runaway shapes are the
    learners' own.
    """
    mix = MIXTURES["adhoc"]
    u = rng.random(int(shape.max()) + 1 if shape.size else 0)
    u[:POPULAR_SHAPES] *= EXERCISE_QUANTILE
    comp = np.searchsorted(np.cumsum(mix.weights), u[shape], side="right")
    comp = np.minimum(comp, len(mix.weights) - 1)
    med = np.asarray(mix.medians_s)[comp]
    sig = np.asarray(mix.sigmas)[comp]
    exec_s = med * np.exp(sig * rng.standard_normal(shape.size))
    exec_s = np.where(cached, MIXTURES["cached"].sample(shape.size, rng), exec_s)
    aborted = ~cached & (rng.random(shape.size) < P_CANCEL)
    exec_s = np.where(aborted, exec_s * rng.uniform(0.05, 0.9, shape.size), exec_s)
    return exec_s, aborted


def _stuck_queries(
    spec: DPCWorkloadSpec, n_learners: int, rows: Rows, rng: np.random.Generator
) -> None:
    """One runaway learner query per stuck-query fault (14:00 JST + up to 1 h)."""
    for day, hours in spec.faults.stuck_queries:
        if day >= spec.days:
            continue
        t = day * 86_400.0 + 14 * 3600.0 + rng.uniform(0.0, 3600.0)
        user = learner_name(int(rng.integers(n_learners)))
        text = (
            "select a.learner_id, b.learner_id, count(*) "
            "from mart.fct_learning_activity a "
            "cross join mart.fct_learning_activity b group by 1, 2"
        )
        rows.add(
            t_s=t,
            exec_s=hours * 3600.0,
            statement_type="select",
            user_name=user,
            query_text=text,
            fingerprint=text,
            mem_scale_mb=150.0,
        )
