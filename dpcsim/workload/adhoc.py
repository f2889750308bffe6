"""Learners' adhoc SELECTs: who, when, what shape, cache hits and cancels.

Arrival times come from :mod:`dpcsim.workload.arrivals` (JST profile, deadline
days, MMPP, session cascades) and :mod:`dpcsim.workload.classes` (live-lab
prompts). Within a session a learner mostly re-runs the shape they just ran
(tweaking a literal, or re-running it verbatim: the verbatim re-runs are the
result-cache hits); otherwise they pick an exercise shape shared across the
course (a Zipf choice among :data:`POPULAR_SHAPES`) or write a new one. Sessions
of a cascade or a lab prompt open on, and mostly stay with, the week's lab
exercises, which is why ten shapes cover about a third of the queries. A shape's
execution-time component is fixed per shape, so a heavy shape stays heavy when
repeated. The stuck-query fault is added here too.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from dpcsim.workload.arrivals import (
    JST_HOURLY_PROFILE,
    RUN_ALL_SHARE,
    cascade,
    mean_session_queries,
    mmpp_multiplier,
    session_queries,
    session_starts,
)
from dpcsim.workload.catalog import learner_name
from dpcsim.workload.classes import (
    CLASS_PROMPTS,
    PROMPT_RESPONSE_SHARE,
    class_days,
    prompt_sessions,
)
from dpcsim.workload.rows import Rows
from dpcsim.workload.service import MIXTURES
from dpcsim.workload.spec import DPCWorkloadSpec

__all__ = ["learner_queries", "shape_text"]

#: Exercise shapes shared by the courses (chosen with Zipf weights).
POPULAR_SHAPES: Final = 400
ZIPF_EXPONENT: Final = 2.2
#: Probability that a non-first query of a session repeats the previous shape.
P_REPEAT: Final = 0.5
#: Probability that a repeat is verbatim (same literals: a result-cache hit).
P_VERBATIM: Final = 0.75
#: Probability that a fresh pick is a brand-new shape rather than an exercise.
P_NOVEL: Final = 0.85
#: Probability that a learner cancels a query that missed the cache.
P_CANCEL: Final = 0.028
MEDIAN_SESSION_QUERIES: Final = 6.0
#: Session cascades (a live-class prompt, a shared exercise link, a forum post
#: "try this query"): sessions one session triggers in classmates, their mean
#: delay [s] and the largest cascade (a cohort) [sessions].
CASCADE_BRANCHING: Final = 0.3
CASCADE_KERNEL_S: Final = 15.0
CASCADE_MAX_SESSIONS: Final = 40
#: Relative use of a course week's lab exercises by prompts and cascades.
WEEKLY_EXERCISE_WEIGHTS: Final = (0.5, 0.3, 0.2)
#: Probability that a later fresh pick in a cascade or class session is one
#: of the week's exercises.
P_ON_TASK: Final = 0.45
#: Probability that a triggered session is a notebook "run all" (the prompt
#: says "open the lab notebook and run it").
PROMPTED_RUN_ALL: Final = 0.5
#: Class days' evenings (from this hour [h JST]) give up the class's volume,
#: down to this share of their organic rate.
EVENING_H: Final = 19.0
EVENING_FLOOR: Final = 0.3
#: Median extra queries of a class-prompt session (a "run all" multiplies it).
PROMPT_MEDIAN_QUERIES: Final = 2.0
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
    t_s, session, position, cluster = _arrivals(spec, n_learners, rng)
    n = t_s.size
    first_session = rows.new_sessions(int(session.max()) + 1 if n else 0)
    learner = rng.choice(
        n_learners, size=session.max() + 1 if n else 0, p=_activity(n_learners, rng)
    )[session]
    repeat = (position > 0) & (rng.random(n) < P_REPEAT)
    verbatim = repeat & (rng.random(n) < P_VERBATIM)
    # A cascade's or a class's sessions open on the exercise that set it off,
    # and mostly stay on that week's exercises.
    sessions_in = np.bincount(cluster)[cluster] if n else cluster
    opening = (position == 0) & (sessions_in > 1)
    on_task = ~repeat & (sessions_in > 1) & (opening | (rng.random(n) < P_ON_TASK))
    novel = ~repeat & ~on_task & (rng.random(n) < P_NOVEL)
    popular = _exercise(n, rng)
    week_pick = _weekly_exercise(np.arange(n), t_s, rng)
    exercise = np.where(
        opening, _weekly_exercise(cluster, t_s, rng)[cluster], week_pick
    )
    popular = np.where(on_task, exercise, popular)
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
        session=first_session + session,
    )
    _stuck_queries(spec, n_learners, rows, rng)


def _exercise(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` Zipf-weighted picks among the course exercise shapes."""
    pick = rng.zipf(ZIPF_EXPONENT, n) - 1
    return np.where(pick < POPULAR_SHAPES, pick, rng.integers(0, POPULAR_SHAPES, n))


def _weekly_exercise(
    cluster: np.ndarray, t_s: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Exercise shape of each cluster: one of its course week's lab exercises.

    A prompt or a cascade is about the exercise the cohort works on that week
    (:data:`WEEKLY_EXERCISE_WEIGHTS`), which is why a few shapes cover a large
    share of a learning platform's queries.
    """
    n_clusters = int(cluster.max()) + 1 if cluster.size else 0
    first_s = np.full(n_clusters, np.inf)
    np.minimum.at(first_s, cluster, t_s)
    week = np.floor(np.nan_to_num(first_s, posinf=0.0) / (7 * 86_400.0))
    w = np.asarray(WEEKLY_EXERCISE_WEIGHTS)
    pick = rng.choice(w.size, size=n_clusters, p=w / w.sum())
    return np.asarray((week.astype(np.int64) * w.size + pick) % POPULAR_SHAPES)


def _arrivals(
    spec: DPCWorkloadSpec, n_learners: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Query times [s], session index, position in the session, session cluster.

    Two sources of sessions: the learners' own (cascades whose roots arrive at
    ``1 - CASCADE_BRANCHING`` of the session rate, so roots plus triggered
    sessions keep the rate) and the live-class prompts. The organic rate is
    lowered by the classes' expected volume in the evenings of class days
    (learners who attend the lab do not also study alone then), so that the
    spec's queries per learner per day hold for the two together. A cluster
    is a cascade or a prompt: its sessions open on the same exercise.
    """
    first_weekday = _first_weekday(spec.start_date)
    organic_q = _organic_queries_per_min(spec, n_learners, first_weekday)
    lab = class_days(spec.days, first_weekday)
    per_class_q = (
        CLASS_PROMPTS
        * n_learners
        * PROMPT_RESPONSE_SHARE
        * mean_session_queries(PROMPT_MEDIAN_QUERIES, 1.0)
    )
    organic_q = _displace(organic_q, lab, per_class_q)
    mean_len = (1.0 - CASCADE_BRANCHING) * mean_session_queries(
        MEDIAN_SESSION_QUERIES
    ) + CASCADE_BRANCHING * mean_session_queries(
        MEDIAN_SESSION_QUERIES, PROMPTED_RUN_ALL
    )
    rate = organic_q * (1.0 - CASCADE_BRANCHING) / mean_len
    rate = rate * mmpp_multiplier(rate.size, rng)
    starts, cluster, generation = cascade(
        session_starts(rate, rng),
        rng,
        branching=CASCADE_BRANCHING,
        kernel_s=CASCADE_KERNEL_S,
        max_size=min(CASCADE_MAX_SESSIONS, n_learners),
    )
    p_starts, prompt = prompt_sessions(spec.days, first_weekday, n_learners, rng)
    is_prompt = np.r_[np.zeros(starts.size, bool), np.ones(p_starts.size, bool)]
    cluster = np.r_[cluster, int(cluster.max(initial=-1)) + 1 + prompt]
    run_all = np.r_[np.where(generation > 0, PROMPTED_RUN_ALL, RUN_ALL_SHARE),
                    np.ones(p_starts.size)]  # fmt: skip
    session, t_s, position = session_queries(
        np.r_[starts, p_starts],
        rng,
        median_queries=np.where(
            is_prompt, PROMPT_MEDIAN_QUERIES, MEDIAN_SESSION_QUERIES
        ),
        run_all_share=run_all,
    )
    # Keep each session's queries contiguous: shapes follow the previous query.
    keep = t_s < spec.horizon_s
    return t_s[keep], session[keep], position[keep], cluster[session[keep]]


def _displace(
    organic_q: np.ndarray, lab_days: np.ndarray, per_class_q: float
) -> np.ndarray:
    """Remove each class's expected queries from that day's organic rate.

    The evening (:data:`EVENING_H` JST to midnight) of a class day gives up
    ``per_class_q`` queries but keeps at least :data:`EVENING_FLOOR` of its
    rate; the rest of that day gives up what the evening cannot (keeping at
    least a fifth), so a class day has the volume of any other day.
    """
    out = organic_q.copy()
    for day in lab_days.tolist():
        cut = int(EVENING_H * 60)
        evening = slice(day * 1440 + cut, (day + 1) * 1440)
        daytime = slice(day * 1440, day * 1440 + cut)
        total = float(out[evening].sum())
        keep = max(EVENING_FLOOR, 1.0 - per_class_q / total) if total > 0 else 1.0
        rest_q = per_class_q - total * (1.0 - keep)
        out[evening] *= keep
        day_total = float(out[daytime].sum())
        if day_total > 0:
            out[daytime] *= max(0.2, 1.0 - rest_q / day_total)
    return out


def _first_weekday(start_date: str) -> int:
    """Weekday (0 Monday .. 6 Sunday) of ``start_date``."""
    days = np.datetime64(start_date, "D").astype("datetime64[D]").view("int64")
    return int(days + 3) % 7


def _organic_queries_per_min(
    spec: DPCWorkloadSpec, n_learners: int, first_weekday: int
) -> np.ndarray:
    """Expected learner queries per minute of the horizon (JST profile, deadlines)."""
    minute = np.arange(spec.days * 1440)
    hour = (minute // 60) % 24
    weekday = (first_weekday + minute // 1440) % 7
    factor = np.where(weekday == spec.deadline_weekday, 1.6, 1.0)
    factor = np.where(weekday == (spec.deadline_weekday - 1) % 7, 1.25, factor)
    per_day = n_learners * spec.queries_per_learner_day
    return np.asarray(per_day / 1440.0 * JST_HOURLY_PROFILE[hour] * factor)


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
