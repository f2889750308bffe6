"""The fast alarm evaluator: CloudWatch's documented algorithm, vectorised.

At every evaluation instant (see :mod:`dpcsim.alarms.grid`) CloudWatch fetches
the *evaluation range*: ``R = N + range_extra`` periods, newest first. The
documented example fetches 5 periods for N = 3; AWS does not publish the rule
for other N ("depends on the period and resolution"), so dpcsim keeps the
example's N + 2 as the default and makes it a parameter. Then, with ``r`` real
(non-missing) datapoints in the range (AlarmThatSendsEmail, "How alarm state is
evaluated when data is missing"):

1. ``r >= N``: the newest N *real* datapoints decide: ALARM when at least M of
   them breach, else OK. TreatMissingData is not used.
2. ``r < N``: ``N - r`` missing points are filled (as few as possible) and all
   ``r`` real points are evaluated along with them:

   - ``breaching``: filled points breach; ALARM when ``b + N - r >= M``;
   - ``notBreaching``: filled points do not; ALARM when ``b >= M``;
   - ``missing``: no real point -> INSUFFICIENT_DATA; ``b >= M`` -> ALARM; every
     real point breaching -> the premature-alarm rule: ALARM when the oldest
     breaching point is at least M periods old (``- - X - -`` alarms for
     M = N = 3), else INSUFFICIENT_DATA (``- - - - X``, ``- - - X -`` wait for
     the next point); otherwise OK;
   - ``ignore``: as ``missing``, except that every outcome that is not decided
     by real data (all missing, the premature rule, too young) keeps the
     current state.

   A non-breaching real point anywhere in the range turns the premature rule
   off: the documented 2-of-3 row ``0 - X - -`` stays OK although its breaching
   point is old enough.

``b`` is the number of breaching real points. The alarm starts in
INSUFFICIENT_DATA. A percentile alarm with ``EvaluateLowSampleCountPercentile =
ignore`` keeps its state when the newest period has fewer samples than the
percentile needs. A metric-math alarm evaluates its expression period by period
(a missing input makes the result missing unless ``FILL`` is used).

The documented tables are reproduced in ``tests/fixtures/alarms/doc_examples.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dpcsim.alarms.coverage import not_evaluated
from dpcsim.alarms.grid import (
    EvalGrid,
    MetricTable,
    make_grid,
    period_values,
    slot_matrix,
)
from dpcsim.alarms.history import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    RETAIN,
    STATE_NAMES,
    AlarmRun,
    AlarmStates,
    build_run,
)
from dpcsim.alarms.mathexpr import evaluate as eval_expression
from dpcsim.alarms.spec import AlarmSpec, evaluation_order
from dpcsim.errors import InputError
from dpcsim.metrics.statistics import low_sample_threshold, parse_percentile

__all__ = [
    "ALARM",
    "INSUFFICIENT_DATA",
    "OK",
    "RETAIN",
    "STATE_NAMES",
    "AlarmStates",
    "EvaluationOptions",
    "breaches",
    "decide",
    "evaluate_alarm",
    "evaluate_alarms",
    "resolve_retain",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationOptions:
    """Knobs of the evaluation that AWS does not document.

    Parameters
    ----------
    range_extra
        Periods fetched beyond N (evaluation range = N + range_extra); the
        documented example uses 2 (5 periods for N = 3).
    """

    range_extra: int = 2

    def __post_init__(self) -> None:
        if self.range_extra < 0:
            raise InputError(f"range_extra {self.range_extra}: expected >= 0")


def breaches(values: np.ndarray, comparison: str, threshold: float) -> np.ndarray:
    """Breach flags; NaN (missing) never breaches. The value is the left operand."""
    with np.errstate(invalid="ignore"):
        if comparison == "GreaterThanThreshold":
            return np.asarray(values > threshold)
        if comparison == "GreaterThanOrEqualToThreshold":
            return np.asarray(values >= threshold)
        if comparison == "LessThanThreshold":
            return np.asarray(values < threshold)
        return np.asarray(values <= threshold)


def decide(
    real: np.ndarray, breach: np.ndarray, *, m: int, n: int, treat: str
) -> np.ndarray:
    """Decide each evaluation from its range (rows; column 0 = newest period).

    Parameters
    ----------
    real
        (evaluations x R) bool: the period has a datapoint.
    breach
        (evaluations x R) bool: the datapoint breaches (False where missing).
    m, n
        DatapointsToAlarm and EvaluationPeriods.
    treat
        TreatMissingData.

    Returns
    -------
    numpy.ndarray
        int8 per row: OK, ALARM, INSUFFICIENT_DATA or RETAIN (keep the state).
    """
    real = np.asarray(real, dtype=bool)
    breach = np.asarray(breach, dtype=bool) & real
    r = real.sum(axis=1)
    # The count of real periods up to each column, in int16 (a quarter of the
    # default int64 matrix) unless the range is too long for it.
    width = np.int16 if real.shape[1] < np.iinfo(np.int16).max else np.int64
    newest_n = real & np.less_equal(np.cumsum(real, axis=1, dtype=width), n)
    full = np.where((breach & newest_n).sum(axis=1) >= m, ALARM, OK)
    b = breach.sum(axis=1)
    if treat == "breaching":
        partial = np.where(b + (n - r) >= m, ALARM, OK)
    elif treat == "notBreaching":
        partial = np.where(b >= m, ALARM, OK)
    else:
        oldest = real.shape[1] - 1 - np.argmax(real[:, ::-1], axis=1)
        premature = oldest + 1 >= m
        undecided = RETAIN if treat == "ignore" else INSUFFICIENT_DATA
        if_premature = RETAIN if treat == "ignore" else ALARM
        partial = np.select(
            [r == 0, b >= m, (b == r) & premature, b == r],
            [undecided, ALARM, if_premature, undecided],
            default=OK,
        )
    return np.where(r >= n, full, partial).astype(np.int8)


def resolve_retain(decided: np.ndarray, initial: int = INSUFFICIENT_DATA) -> np.ndarray:
    """Replace RETAIN by the state before it (``initial`` before any decision)."""
    decided = np.asarray(decided, dtype=np.int8)
    idx = np.where(decided != RETAIN, np.arange(len(decided)), -1)
    last = np.maximum.accumulate(idx) if len(idx) else idx
    out = np.where(last >= 0, decided[np.maximum(last, 0)], initial)
    return out.astype(np.int8)


def _alarm_values(
    alarm: AlarmSpec, table: MetricTable, grid: EvalGrid
) -> tuple[np.ndarray, np.ndarray | None]:
    """Period values on the grid (NaN = missing) and, for one metric, the counts."""
    if alarm.metric is not None:
        values, counts = period_values(table, alarm.metric, grid)
        return values, counts
    env: dict[str, np.ndarray] = {}
    result = np.full(grid.n_ends, np.nan)
    for query, node in evaluation_order(alarm.queries):
        if query.metric_stat is not None:
            env[query.id], _ = period_values(table, query.metric_stat, grid)
        else:
            assert node is not None
            env[query.id] = eval_expression(node, env, grid.n_ends)
        if query.return_data:
            result = env[query.id]
    return result, None


def evaluate_alarm(
    alarm: AlarmSpec,
    table: MetricTable | pd.DataFrame,
    *,
    options: EvaluationOptions | None = None,
    span_us: tuple[int, int] | None = None,
) -> AlarmStates:
    """Evaluate one alarm at every instant of the data span.

    Parameters
    ----------
    alarm
        A validated alarm.
    table
        The datapoints (a tidy frame, or a :class:`MetricTable` built once).
    options
        Evaluation knobs.
    span_us
        First and last datapoint time [µs]; defaults to the span of ``table``.
    """
    options = options or EvaluationOptions()
    table = table if isinstance(table, MetricTable) else MetricTable(table)
    first, last = span_us or table.span_us
    r_periods = alarm.evaluation_periods + options.range_extra
    grid = make_grid(alarm.period_s, r_periods, first, last)
    values, counts = _alarm_values(alarm, table, grid)
    slots = slot_matrix(values, grid)
    real = ~np.isnan(slots)
    breach = breaches(slots, alarm.comparison, alarm.threshold)
    decided = decide(
        real,
        breach,
        m=alarm.datapoints_to_alarm,
        n=alarm.evaluation_periods,
        treat=alarm.treat_missing_data,
    )
    percent = parse_percentile(alarm.metric.stat) if alarm.metric else None
    if (
        percent is not None
        and counts is not None
        and not alarm.evaluate_low_sample_percentile
    ):
        newest = counts[grid.offset :]
        decided[(newest > 0) & (newest < low_sample_threshold(percent))] = RETAIN
    return AlarmStates(
        name=alarm.name,
        instants_us=grid.instants_us(),
        states=resolve_retain(decided),
        tick_s=grid.tick_us // 1_000_000,
        values=np.array(slots[:, 0]),
    )


def evaluate_alarms(
    alarms: Sequence[AlarmSpec],
    datapoints: pd.DataFrame,
    *,
    options: EvaluationOptions | None = None,
    progress: bool = False,
    span_us: tuple[int, int] | None = None,
) -> AlarmRun:
    """Evaluate every alarm over the datapoints; return the history and summary.

    Parameters
    ----------
    alarms
        Validated alarms (see :func:`dpcsim.alarms.read_alarms`).
    datapoints
        A tidy datapoints frame (:mod:`dpcsim.metrics.datapoints`).
    options
        Evaluation knobs.
    progress
        Show a tqdm bar over the alarms.
    span_us
        First and last timestamp [µs] the evaluation covers; None: those of
        ``datapoints``. Given when ``datapoints`` holds only the alarms'
        series of a larger set (:func:`dpcsim.metrics.build.alarm_datapoints`).
    """
    names = [a.name for a in alarms]
    if len(set(names)) != len(names):
        raise InputError(f"alarm names must be unique per Region, got {names}")
    table = MetricTable(datapoints)
    span = table.span_us if span_us is None else span_us
    if progress:
        from tqdm import tqdm  # only for a bar: a quiet run does not import it

        with tqdm(alarms, desc="alarms", unit="alarm", leave=False) as bar:
            results = [
                evaluate_alarm(a, table, options=options, span_us=span) for a in bar
            ]
    else:
        results = [
            evaluate_alarm(a, table, options=options, span_us=span) for a in alarms
        ]
    # An alarm on a metric the data never holds says so beside its state.
    notes = not_evaluated(alarms, datapoints, {k[:2] for k in table.groups})
    return build_run(results, notes)
