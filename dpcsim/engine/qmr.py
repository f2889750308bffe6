"""Query monitoring rules: when a running query's first rule fires.

Redshift evaluates QMR every 10 s of a query's life (facts 2.3). Rather than
ticking every running query every 10 s, the engine computes, when a query
starts running, the first 10-s check at which some rule's predicates all hold,
and schedules one event for it. Check ``k`` (k = 1, 2, ...) happens when the
query has executed ``10 k`` seconds in its current attempt. At check ``k`` each
metric is ``a + b k``:

* ``query_execution_time`` [s]: ``a = 0, b = 10`` (execution only);
* ``query_queue_time`` [s]: the query's queue time so far, constant;
* ``query_temp_blocks_to_disk`` [1 MB blocks] from ``spilled_mb`` and
  ``query_blocks_read`` [1 MB blocks] from ``scanned_mb``: accrued linearly over
  the execution, ``b = 10 * total / execution time``;
* ``query_priority`` (auto WLM): the current priority, compared with ``=``;
* every other metric, and the two above when the workload lacks them, is
  unknown and never holds.

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
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Final

from dpcsim.wlm import QMRRule

__all__ = [
    "CHECK_INTERVAL_S",
    "SEVERITY",
    "CompiledRule",
    "compile_rules",
    "first_firing",
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
_METRIC: Final = {
    "query_execution_time": M_EXEC,
    "query_queue_time": M_QUEUE,
    "query_temp_blocks_to_disk": M_SPILL,
    "query_blocks_read": M_SCAN,
    "query_priority": M_PRIO,
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
    spill_per_check: float,
    scan_per_check: float,
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
    spill_per_check, scan_per_check
        Growth per check of the spill and scan metrics [MB]; NaN if unknown.
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
            a, b = _line(metric, queue_s, spill_per_check, scan_per_check)
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
    metric: int, queue_s: float, spill: float, scan: float
) -> tuple[float, float]:
    """Return ``(a, b)`` with the metric at check k equal to ``a + b k``."""
    if metric == M_EXEC:
        return 0.0, CHECK_INTERVAL_S
    if metric == M_QUEUE:
        return queue_s, 0.0
    if metric == M_SPILL:
        return 0.0, spill
    if metric == M_SCAN:
        return 0.0, scan
    return math.nan, 0.0


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
