"""Query monitoring rules: when a running query's first rule fires.

Redshift evaluates QMR every 10 s of a query's life (facts 2.3). Rather than
ticking every running query every 10 s, the engine computes, when a query
starts running, the first 10-s check at which some rule's predicates all hold,
and schedules one event for it. Check ``k`` (k = 1, 2, ...) happens when the
query has executed ``10 k`` seconds in its current attempt. At check ``k`` each
metric is ``a + b k``:

* ``query_execution_time`` [s]: ``a = 0, b = 10`` (execution only);
* ``query_queue_time`` [s]: the query's queue time so far, constant;
* the metrics SVL_QUERY_METRICS_SUMMARY reports as totals of the query
  (:data:`ACCRUED`: ``query_cpu_time`` [s], ``query_blocks_read`` and
  ``query_temp_blocks_to_disk`` [1 MB blocks], ``scan_row_count``,
  ``join_row_count``, ``nested_loop_join_row_count``, ``return_row_count``
  [rows]) are accrued linearly over the execution from the workload's totals,
  ``b = 10 * total / execution time`` (an approximation: Redshift's metrics
  grow step by step). Under the spill model the spill is the simulated one
  (:mod:`dpcsim.engine.memory`);
* ``query_priority`` (auto WLM): the current priority, compared with ``=``;
* every other metric (``query_cpu_usage_percent``, ``cpu_skew``, ``io_skew``,
  ``segment_execution_time``, Spectrum metrics), and an accrued metric the
  workload does not carry, is unknown: a predicate on it never holds, and the
  rule is listed as *never evaluated* in the run summary
  (:func:`never_evaluated`) rather than silently never firing.

Each predicate then holds on an interval of checks, a rule on the intersection
of its predicates' intervals. When several rules hold at the same check the
most severe action wins: abort > hop > change_query_priority > log (the place
of ``change_query_priority`` is UNCONFIRMED by AWS), ties broken alphabetically
by rule name. Rules whose action is ``hop`` and that test ``query_queue_time``
are ignored, as AWS ignores them; so are hop rules under auto WLM, where hop is
unavailable. What the action does is the engine's job
(:mod:`dpcsim.engine.cluster`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from dpcsim.wlm import QMRRule

__all__ = [
    "ACCRUED",
    "CHECK_INTERVAL_S",
    "SEVERITY",
    "CompiledRule",
    "compile_rules",
    "first_firing",
    "never_evaluated",
]

#: Seconds between two QMR evaluations of a running query.
CHECK_INTERVAL_S: Final = 10.0

#: Action -> severity (higher wins).
SEVERITY: Final[dict[str, int]] = {
    "log": 0,
    "change_query_priority": 1,
    "hop": 2,
    "abort": 3,
}

M_EXEC, M_QUEUE, M_SPILL, M_SCAN, M_PRIO, M_UNKNOWN = range(6)
M_CPU, M_SCAN_ROWS, M_JOIN_ROWS, M_NL_ROWS, M_RETURN_ROWS = range(6, 11)

#: Metrics accrued over the execution from a per-query total -> metric code.
ACCRUED: Final[dict[str, int]] = {
    "query_cpu_time": M_CPU,
    "query_blocks_read": M_SCAN,
    "query_temp_blocks_to_disk": M_SPILL,
    "scan_row_count": M_SCAN_ROWS,
    "join_row_count": M_JOIN_ROWS,
    "nested_loop_join_row_count": M_NL_ROWS,
    "return_row_count": M_RETURN_ROWS,
}
_METRIC: Final = {
    "query_execution_time": M_EXEC,
    "query_queue_time": M_QUEUE,
    "query_priority": M_PRIO,
    **ACCRUED,
}
_INF: Final = math.inf


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule in the form the engine evaluates.

    Attributes
    ----------
    name, action, value
        As in :class:`~dpcsim.wlm.QMRRule`.
    severity
        From :data:`SEVERITY`.
    predicates
        ``(metric code, operator, threshold)`` triples.
    """

    name: str
    action: str
    value: str | None
    severity: int
    predicates: tuple[tuple[int, str, float | str], ...]


def compile_rules(rules: Sequence[QMRRule], *, auto: bool) -> tuple[CompiledRule, ...]:
    """Compile a queue's rules, dropping the ones AWS ignores."""
    out = []
    for rule in rules:
        preds = tuple(
            (_METRIC.get(p.metric_name, M_UNKNOWN), p.operator, p.value)
            for p in rule.predicate
        )
        if rule.action == "hop" and (auto or any(m == M_QUEUE for m, _, _ in preds)):
            continue
        out.append(
            CompiledRule(
                rule.rule_name, rule.action, rule.value, SEVERITY[rule.action], preds
            )
        )
    return tuple(out)


def first_firing(
    rules: Sequence[CompiledRule],
    *,
    k_min: int,
    queue_s: float,
    per_check: Mapping[int, float],
    priority: str,
    done: Collection[int] = (),
    stoppable: bool = True,
) -> tuple[int, int] | None:
    """Return ``(check k, winning rule index)`` of the first firing, or None.

    Parameters
    ----------
    rules
        The queue's compiled rules.
    k_min
        First check to consider (>= 1).
    queue_s
        The query's queue time so far [s].
    per_check
        Metric code of an accrued metric (:data:`ACCRUED`) -> its growth per
        check; missing or NaN = unknown.
    priority
        The query's current priority name.
    done
        Indices of rules that already acted on this query (log-like actions
        fire at most once).
    stoppable
        False for COPY and maintenance: only log and change_query_priority.
    """
    best_k = _INF
    spans: list[tuple[int, float, float]] = []
    for r, rule in enumerate(rules):
        if r in done or (not stoppable and rule.severity >= SEVERITY["hop"]):
            continue
        lo, hi = float(k_min), _INF
        for metric, op, value in rule.predicates:
            a, b = _line(metric, queue_s, per_check)
            plo, phi = _span(a, b, op, value, priority, metric)
            lo, hi = max(lo, plo), min(hi, phi)
        if lo <= hi:
            spans.append((r, lo, hi))
            best_k = min(best_k, lo)
    if best_k == _INF:
        return None
    firing = [r for r, lo, hi in spans if lo <= best_k <= hi]
    win = max(firing, key=lambda r: (rules[r].severity, _neg(rules[r].name)))
    return int(best_k), win


def _neg(name: str) -> tuple[int, ...]:
    """Sort key that makes the alphabetically first name the largest."""
    return (*(-ord(c) for c in name), 1)


def _line(
    metric: int, queue_s: float, per_check: Mapping[int, float]
) -> tuple[float, float]:
    """Return ``(a, b)`` with the metric at check k equal to ``a + b k``."""
    if metric == M_EXEC:
        return 0.0, CHECK_INTERVAL_S
    if metric == M_QUEUE:
        return queue_s, 0.0
    if metric in per_check:
        return 0.0, per_check[metric]
    return math.nan, 0.0


def never_evaluated(
    queues: Sequence[tuple[str, Sequence[QMRRule]]], carried: Collection[str]
) -> list[dict[str, object]]:
    """Rules with a predicate on a metric the run cannot evaluate.

    Parameters
    ----------
    queues
        ``(queue name, rules)`` per queue.
    carried
        Accrued metrics (:data:`ACCRUED` names) the workload carries for at
        least one query.

    Returns
    -------
    list of dict
        ``{"queue", "rule", "metrics"}`` per rule, ``metrics`` the names it
        tests that are unknown to the model or missing from the workload.
    """
    out: list[dict[str, object]] = []
    for queue, rules in queues:
        for rule in rules:
            missing = sorted(
                {
                    p.metric_name
                    for p in rule.predicate
                    if p.metric_name not in _METRIC
                    or (p.metric_name in ACCRUED and p.metric_name not in carried)
                }
            )
            if missing:
                out.append({"queue": queue, "rule": rule.rule_name, "metrics": missing})
    return out


def _span(
    a: float, b: float, op: str, value: float | str, priority: str, metric: int
) -> tuple[float, float]:
    """Return the interval of checks ``[lo, hi]`` where the predicate holds."""
    never = (_INF, -_INF)
    if metric == M_PRIO:
        return (1.0, _INF) if op == "=" and value == priority else never
    if isinstance(value, str) or math.isnan(a) or math.isnan(b):
        return never
    v = float(value)
    if b == 0.0:
        hold = a > v if op == ">" else a < v if op == "<" else a == v
        return (1.0, _INF) if hold else never
    x = (v - a) / b
    if op == ">":
        return float(math.floor(x) + 1), _INF
    if op == "<":
        return 1.0, float(math.ceil(x) - 1)
    return (x, x) if x == math.floor(x) and x >= 1 else never
