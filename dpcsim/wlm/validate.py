"""Validation of the WLM model against the AWS limits.

Each check raises :class:`~dpcsim.wlm.limits.WLMConfigError` naming the key, the
bad value and the AWS limit it violates. The dataclasses in
:mod:`dpcsim.wlm.config` call these checks from ``__post_init__``; the JSON codec
(:mod:`dpcsim.wlm.codec`) re-labels the errors with the file and the position in
the JSON array. The limits themselves live in :mod:`dpcsim.wlm.limits`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from dpcsim.wlm.limits import (
    MAX_MEMORY_PERCENT,
    MAX_PREDICATES_PER_RULE,
    MAX_QUERY_CONCURRENCY,
    MAX_QUEUE_NAME_CHARS,
    MAX_RULE_NAME_CHARS,
    MAX_RULES_PER_QUEUE,
    MAX_RULES_TOTAL,
    MAX_TOTAL_SLOTS,
    MAX_USER_QUEUES,
    MIN_QUERY_CONCURRENCY,
    OPERATORS,
    PRIORITIES,
    QMR_ACTIONS,
    QMR_METRICS,
    QMR_VALUE_RANGES,
    RECOMMENDED_MAX_SLOTS,
    RESERVED_QUEUE_NAMES,
    SQA_MAX_EXECUTION_TIME_MS,
    WLMConfigError,
)

if TYPE_CHECKING:
    from dpcsim.wlm.config import QMRPredicate, QMRRule, QueueConfig, WLMConfig

__all__ = [
    "check_config",
    "check_predicate",
    "check_queue",
    "check_rule",
    "check_sqa_max_execution_time",
    "config_warnings",
]

_RULE_NAME: Final = re.compile(r"[A-Za-z0-9_]+")
_QUEUE_NAME: Final = re.compile(r"[A-Za-z0-9_ ]+")


def check_predicate(p: QMRPredicate) -> None:
    """Check one QMR predicate on its own (metric, operator, value type)."""
    if p.metric_name not in QMR_METRICS:
        raise WLMConfigError(
            f"unknown QMR metric {p.metric_name!r}; expected one of "
            f"{sorted(QMR_METRICS)}",
            key="metric_name",
        )
    if p.operator not in OPERATORS:
        raise WLMConfigError(
            f"operator {p.operator!r} is not allowed; QMR supports only "
            f"{list(OPERATORS)} (there is no '>=')",
            key="operator",
        )
    if p.metric_name == "query_priority":
        if p.operator != "=" or p.value not in PRIORITIES:
            raise WLMConfigError(
                f"query_priority predicate {p.operator} {p.value!r}: expected "
                f"operator '=' and a value in {list(PRIORITIES)}",
                key="value" if p.operator == "=" else "operator",
            )
        return
    value = p.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WLMConfigError(
            f"value {value!r} for {p.metric_name}: expected a number "
            f"[{QMR_METRICS[p.metric_name]}]",
            key="value",
        )
    if not value >= 0 or value == float("inf"):
        raise WLMConfigError(
            f"value {value!r} for {p.metric_name}: expected a finite number >= 0",
            key="value",
        )
    if p.metric_name in QMR_VALUE_RANGES:
        lo, hi = QMR_VALUE_RANGES[p.metric_name]
        if not lo <= value <= hi:
            raise WLMConfigError(
                f"value {value!r} for {p.metric_name} is outside the AWS range "
                f"{lo:g}-{hi:g} [{QMR_METRICS[p.metric_name]}]",
                key="value",
            )


def config_warnings(c: WLMConfig) -> list[str]:
    """Advice that is not an error: more than AWS's recommended 15 slots.

    Returns
    -------
    list of str
        One sentence per piece of advice; empty when there is none.
    """
    if c.is_auto:
        return []
    total = sum(q.query_concurrency for q in c.queues)
    if total <= RECOMMENDED_MAX_SLOTS:
        return []
    return [
        f"the queues have {total} slots in total; AWS recommends at most "
        f"{RECOMMENDED_MAX_SLOTS} across all user-defined queues (the limit is 50)"
    ]


def check_rule(r: QMRRule) -> None:
    """Check one QMR rule on its own (name, predicate count, action, value)."""
    name = r.rule_name
    if not isinstance(name, str) or not _RULE_NAME.fullmatch(name):
        raise WLMConfigError(
            f"rule_name {name!r}: expected alphanumerics and '_' only",
            key="rule_name",
        )
    if len(name) > MAX_RULE_NAME_CHARS:
        raise WLMConfigError(
            f"rule_name {name!r} has {len(name)} characters; the AWS limit is "
            f"{MAX_RULE_NAME_CHARS}",
            key="rule_name",
        )
    if not 1 <= len(r.predicate) <= MAX_PREDICATES_PER_RULE:
        raise WLMConfigError(
            f"rule {name!r} has {len(r.predicate)} predicates; AWS allows 1 to "
            f"{MAX_PREDICATES_PER_RULE} per rule",
            key="predicate",
        )
    if r.action not in QMR_ACTIONS:
        raise WLMConfigError(
            f"action {r.action!r}: expected one of {list(QMR_ACTIONS)}", key="action"
        )
    if r.action == "change_query_priority":
        if r.value not in PRIORITIES:
            raise WLMConfigError(
                f"change_query_priority needs a rule-level value in "
                f"{list(PRIORITIES)}; got {r.value!r}",
                key="value",
            )
    elif r.value is not None:
        raise WLMConfigError(
            f"value {r.value!r} is only allowed with action change_query_priority",
            key="value",
        )


def check_queue(q: QueueConfig) -> None:
    """Check one queue on its own: name, type, slots, memory, timeout, rules."""
    _check_name(q.name)
    if q.queue_type not in ("manual", "auto"):
        raise WLMConfigError(
            f"queue_type {q.queue_type!r}: expected 'manual' or 'auto'",
            key="queue_type",
        )
    if q.concurrency_scaling not in ("auto", "off"):
        raise WLMConfigError(
            f"concurrency_scaling {q.concurrency_scaling!r}: expected 'auto' or 'off'",
            key="concurrency_scaling",
        )
    if q.priority not in PRIORITIES:
        raise WLMConfigError(
            f"priority {q.priority!r}: expected one of {list(PRIORITIES)}",
            key="priority",
        )
    _check_groups(q)
    if q.queue_type == "manual":
        _check_manual(q)
    else:
        _check_auto(q)
    if len(q.rules) > MAX_RULES_PER_QUEUE:
        raise WLMConfigError(
            f"{len(q.rules)} QMR rules; the AWS limit is {MAX_RULES_PER_QUEUE} per "
            "queue",
            key="rules",
        )
    for j, rule in enumerate(q.rules):
        _check_rule_in_queue(rule, j, q.queue_type)


def check_sqa_max_execution_time(value: int) -> None:
    """Check the SQA maximum runtime [ms]: 0 (dynamic) or 1000..20000."""
    lo, hi = SQA_MAX_EXECUTION_TIME_MS
    if isinstance(value, bool) or not isinstance(value, int):
        raise WLMConfigError(
            f"max_execution_time {value!r}: expected an integer [ms]",
            key="max_execution_time",
        )
    if value != 0 and not lo <= value <= hi:
        raise WLMConfigError(
            f"SQA max_execution_time={value} ms; AWS allows 0 (dynamic) or "
            f"{lo}-{hi} ms (1-20 s)",
            key="max_execution_time",
        )


def check_config(c: WLMConfig) -> None:
    """Check the limits that span queues (count, slots, memory, names, rules)."""
    n = len(c.queues)
    if not 1 <= n <= MAX_USER_QUEUES:
        raise WLMConfigError(
            f"{n} queues; AWS allows 1 to {MAX_USER_QUEUES} user-defined queues "
            "(the superuser queue is not counted)"
        )
    types = {q.queue_type for q in c.queues}
    if len(types) > 1:
        first_auto = next(i for i, q in enumerate(c.queues) if q.queue_type == "auto")
        raise WLMConfigError(
            "manual and auto queues are mixed; dpcsim requires one queue_type for "
            "all queues (whether AWS accepts a mix is unconfirmed, and every AWS "
            "example uses one)",
            queue=first_auto,
            key="queue_type",
        )
    _check_default_queue(c)
    _check_unique_names(c)
    if types == {"manual"}:
        _check_slots(c)
        _check_memory(c)
    _check_rule_totals(c)


def _check_name(name: str) -> None:
    """Queue names: 1-64 characters of alphanumerics, '_' and space."""
    if not isinstance(name, str) or not _QUEUE_NAME.fullmatch(name):
        raise WLMConfigError(
            f"name {name!r}: expected alphanumerics, '_' and spaces only", key="name"
        )
    if len(name) > MAX_QUEUE_NAME_CHARS:
        raise WLMConfigError(
            f"name {name!r} has {len(name)} characters; the AWS limit is "
            f"{MAX_QUEUE_NAME_CHARS}",
            key="name",
        )
    if name.strip().casefold() in RESERVED_QUEUE_NAMES:
        raise WLMConfigError(
            f"name {name!r} is reserved: dpcsim reports the superuser queue as "
            "'superuser' and short query acceleration as 'sqa'",
            key="name",
        )


def _check_groups(q: QueueConfig) -> None:
    """User groups, roles and query groups are non-empty strings."""
    for key in ("user_group", "user_role", "query_group"):
        for k, item in enumerate(getattr(q, key)):
            if not isinstance(item, str) or not item.strip():
                raise WLMConfigError(
                    f"{item!r}: expected a non-empty group name", key=f"{key}[{k}]"
                )


def _check_manual(q: QueueConfig) -> None:
    """Manual-only keys: slots 1..50, memory 1..100 %, timeout >= 0 [ms]; no
    priority."""
    qc = q.query_concurrency
    if (
        isinstance(qc, bool)
        or not isinstance(qc, int)
        or not (MIN_QUERY_CONCURRENCY <= qc <= MAX_QUERY_CONCURRENCY)
    ):
        raise WLMConfigError(
            f"query_concurrency={qc!r}; AWS allows an integer from "
            f"{MIN_QUERY_CONCURRENCY} to {MAX_QUERY_CONCURRENCY} slots per queue",
            key="query_concurrency",
        )
    mem = q.memory_percent_to_use
    if mem is not None and (
        isinstance(mem, bool) or not isinstance(mem, int) or not 1 <= mem <= 100
    ):
        raise WLMConfigError(
            f"memory_percent_to_use={mem!r}; expected an integer percentage from "
            f"1 to {MAX_MEMORY_PERCENT}",
            key="memory_percent_to_use",
        )
    if q.priority != "normal":
        raise WLMConfigError(
            f"priority {q.priority!r} on a manual queue; queue priorities exist in "
            "auto WLM only",
            key="priority",
        )
    t = q.max_execution_time
    if isinstance(t, bool) or not isinstance(t, int) or t < 0:
        raise WLMConfigError(
            f"max_execution_time={t!r}; expected an integer >= 0 [ms] (0 = no "
            "WLM timeout)",
            key="max_execution_time",
        )


def _check_auto(q: QueueConfig) -> None:
    """Auto WLM sets slots and memory itself and ignores the WLM timeout."""
    if q.query_concurrency != 5 or q.memory_percent_to_use is not None:
        raise WLMConfigError(
            "query_concurrency and memory_percent_to_use apply to manual queues "
            "only; auto WLM sets concurrency and memory itself",
            key="query_concurrency"
            if q.query_concurrency != 5
            else "memory_percent_to_use",
        )
    if q.max_execution_time != 0:
        raise WLMConfigError(
            f"max_execution_time={q.max_execution_time!r} ms is ignored under auto "
            "WLM; use a QMR rule on query_execution_time instead",
            key="max_execution_time",
        )


def _check_rule_in_queue(rule: QMRRule, j: int, queue_type: str) -> None:
    """Rules whose validity depends on the queue type (hop, priority)."""
    if rule.action == "hop" and queue_type != "manual":
        raise WLMConfigError(
            f"rule {rule.rule_name!r}: action 'hop' is available in manual WLM only",
            key=f"rules[{j}].action",
        )
    if rule.action == "change_query_priority" and queue_type != "auto":
        raise WLMConfigError(
            f"rule {rule.rule_name!r}: action 'change_query_priority' is available "
            "in auto WLM only",
            key=f"rules[{j}].action",
        )
    for k, p in enumerate(rule.predicate):
        if p.metric_name == "query_priority" and queue_type != "auto":
            raise WLMConfigError(
                f"rule {rule.rule_name!r}: metric query_priority is available in "
                "auto WLM only",
                key=f"rules[{j}].predicate[{k}].metric_name",
            )


def _check_default_queue(c: WLMConfig) -> None:
    """The default (last) queue cannot list user groups, roles or query groups."""
    last = len(c.queues) - 1
    q = c.queues[last]
    for key in ("user_group", "user_role", "query_group"):
        if getattr(q, key):
            raise WLMConfigError(
                f"the default queue (the last one, {q.name!r}) cannot have "
                f"{key}s; got {list(getattr(q, key))}",
                queue=last,
                key=key,
            )


def _check_unique_names(c: WLMConfig) -> None:
    """Queue names are unique (they become the QueueName CloudWatch dimension)."""
    seen: dict[str, int] = {}
    for i, q in enumerate(c.queues):
        if q.name in seen:
            raise WLMConfigError(
                f"name {q.name!r} repeats queue {seen[q.name]}; queue names must be "
                "unique",
                queue=i,
                key="name",
            )
        seen[q.name] = i


def _check_slots(c: WLMConfig) -> None:
    """At most 50 slots over all user queues (default included)."""
    total = sum(q.query_concurrency for q in c.queues)
    if total > MAX_TOTAL_SLOTS:
        raise WLMConfigError(
            f"the queues have {total} slots in total "
            f"({[q.query_concurrency for q in c.queues]}); AWS allows at most "
            f"{MAX_TOTAL_SLOTS} across all user-defined queues",
            queue=len(c.queues) - 1,
            key="query_concurrency",
        )


def _check_memory(c: WLMConfig) -> None:
    """memory_percent_to_use: all queues or none, summing to at most 100 %."""
    given = [q.memory_percent_to_use for q in c.queues]
    if all(m is None for m in given):
        return
    missing = [i for i, m in enumerate(given) if m is None]
    if missing:
        raise WLMConfigError(
            "memory_percent_to_use is set on some queues but not this one; AWS "
            "requires it on every queue once one queue sets it",
            queue=missing[0],
            key="memory_percent_to_use",
        )
    total = sum(m for m in given if m is not None)
    if total > MAX_MEMORY_PERCENT:
        raise WLMConfigError(
            f"memory_percent_to_use sums to {total} % ({given}); the AWS limit is "
            f"{MAX_MEMORY_PERCENT} %",
            queue=len(c.queues) - 1,
            key="memory_percent_to_use",
        )


def _check_rule_totals(c: WLMConfig) -> None:
    """At most 25 QMR rules in total, with names unique across the config."""
    seen: dict[str, int] = {}
    count = 0
    for i, q in enumerate(c.queues):
        for j, rule in enumerate(q.rules):
            count += 1
            if count > MAX_RULES_TOTAL:
                raise WLMConfigError(
                    f"more than {MAX_RULES_TOTAL} QMR rules in total; the AWS limit "
                    f"is {MAX_RULES_TOTAL} across all queues",
                    queue=i,
                    key=f"rules[{j}]",
                )
            if rule.rule_name in seen:
                raise WLMConfigError(
                    f"rule_name {rule.rule_name!r} repeats (queue "
                    f"{seen[rule.rule_name]}); QMR rule names must be unique",
                    queue=i,
                    key=f"rules[{j}].rule_name",
                )
            seen[rule.rule_name] = i
