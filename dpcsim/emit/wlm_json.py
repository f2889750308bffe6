"""The ``wlm_json_configuration`` to deploy: intent rules, log rules, the document.

Three steps turn a configuration (the design's or a recommended one) into the
file an operator applies:

1. :func:`apply_limits` writes the design's time limits as QMR ``abort`` rules
   (:class:`QueueLimit`): for the DPC design the adhoc 30-minute limit on
   ``query_execution_time`` and the batch 2-hour *queue* timeout on
   ``query_queue_time`` (a QMR rule is what AWS recommends over the deprecated
   WLM timeout; ``hop`` is ignored with ``query_queue_time``, so abort it is).
   A limit replaces the queue's rule of the same name.
2. :func:`log_rules` adds ``log`` rules at thresholds taken from the simulated
   percentiles of the proposed configuration (a run's ``queries.parquet``), the
   way AWS's ``wlm_qmr_rule_candidates.sql`` proposes thresholds from p99 of
   ``SVL_QUERY_METRICS_SUMMARY``: a query beyond the p99 of its queue is logged
   in ``STL_WLM_RULE_ACTION`` without being stopped.
3. :func:`wlm_document` returns the JSON array (queues in array order, which is
   routing and priority order, the default queue last, the SQA object last),
   checked against every AWS limit including the 8,000-character parameter
   value. :func:`parse_wlm_document` reads it back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim.errors import InputError
from dpcsim.wlm import QMRPredicate, QMRRule, WLMConfig
from dpcsim.wlm.limits import MAX_RULE_NAME_CHARS, QMR_VALUE_RANGES, WLMConfigError
from dpcsim.wlm.validate import config_warnings

__all__ = [
    "LOG_METRICS",
    "QueueLimit",
    "add_rules",
    "apply_limits",
    "log_rules",
    "parse_limit",
    "parse_wlm_document",
    "wlm_document",
    "wlm_warnings",
]

#: QMR metric -> (queries.parquet column [s], short name for rule names).
LOG_METRICS: Final[dict[str, tuple[str, str]]] = {
    "query_execution_time": ("exec_s", "exec"),
    "query_queue_time": ("queue_s", "queue"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueLimit:
    """A time limit of one queue, written as a one-predicate QMR rule.

    Attributes
    ----------
    queue
        Queue name.
    metric_name
        ``query_execution_time`` or ``query_queue_time`` [s].
    seconds
        The rule fires when the metric exceeds this [s].
    rule_name
        Name of the rule (replaces a rule of this name in the queue).
    action
        ``abort`` (default) or ``log``.
    """

    queue: str
    metric_name: str
    seconds: int
    rule_name: str
    action: str = "abort"

    def rule(self) -> QMRRule:
        """The QMR rule (validated against the AWS limits)."""
        pred = QMRPredicate(
            metric_name=self.metric_name, operator=">", value=self.seconds
        )
        return QMRRule(
            rule_name=self.rule_name,
            predicate=(pred,),
            action=self.action,  # type: ignore[arg-type]
        )


def parse_limit(text: str) -> QueueLimit:
    """Parse ``QUEUE:METRIC:SECONDS[:RULE_NAME]`` (the CLI's ``--qmr-abort``)."""
    parts = text.split(":")
    if len(parts) not in (3, 4) or parts[1] not in LOG_METRICS:
        raise InputError(
            f"--qmr-abort {text!r}: expected QUEUE:METRIC:SECONDS[:RULE_NAME] with "
            f"METRIC one of {sorted(LOG_METRICS)}"
        )
    try:
        seconds = int(parts[2])
    except ValueError:
        raise InputError(
            f"--qmr-abort {text!r}: SECONDS {parts[2]!r} is not an integer"
        ) from None
    name = (
        parts[3]
        if len(parts) == 4
        else _rule_name(parts[0], "abort", LOG_METRICS[parts[1]][1], f"{seconds}s")
    )
    return QueueLimit(
        queue=parts[0], metric_name=parts[1], seconds=seconds, rule_name=name
    )


def apply_limits(config: WLMConfig, limits: Iterable[QueueLimit]) -> WLMConfig:
    """Return ``config`` with each limit's rule in its queue.

    Raises
    ------
    WLMConfigError
        When a limit names a queue the configuration does not have, or the
        resulting configuration breaks an AWS limit (e.g. more than 25 rules).
    """
    by_queue: dict[str, list[QMRRule]] = {}
    for limit in limits:
        if limit.queue not in config.queue_names:
            raise WLMConfigError(
                f"a time limit names queue {limit.queue!r}; the configuration's "
                f"queues are {list(config.queue_names)}"
            )
        by_queue.setdefault(limit.queue, []).append(limit.rule())
    return _with_rules(config, by_queue, replace_same_name=True)


def add_rules(config: WLMConfig, rules: Mapping[str, Sequence[QMRRule]]) -> WLMConfig:
    """Return ``config`` with ``rules`` appended to the named queues."""
    for queue in rules:
        if queue not in config.queue_names:
            raise WLMConfigError(
                f"rules for queue {queue!r}; the configuration's queues are "
                f"{list(config.queue_names)}"
            )
    return _with_rules(config, rules, replace_same_name=False)


def log_rules(
    queries: pd.DataFrame,
    config: WLMConfig,
    *,
    percentile: float = 99.0,
    min_queries: int = 100,
    source: str = "queries",
) -> dict[str, tuple[QMRRule, ...]]:
    """``log`` rules at the simulated percentile of each queue's times.

    Parameters
    ----------
    queries
        A run's ``queries.parquet`` rows: ``queue``, ``exec_s``, ``queue_s`` [s]
        (the run must be of ``config``, the proposed configuration).
    config
        The configuration the rules go into.
    percentile
        Which percentile becomes the threshold [%] (AWS's script uses p99).
    min_queries
        Queues with fewer finished queries get no rule: a p99 of a handful of
        queries is noise.
    source
        Name of the query table, for errors.

    Returns
    -------
    dict
        Queue name -> rules (``<queue>_log_<exec|queue>_p99``), thresholds
        rounded up to whole seconds, at least 1 s, and only where the threshold
        is below the queue's abort rule on the same metric (a log rule above
        the abort would never fire).
    """
    missing = sorted({"queue", *(c for c, _ in LOG_METRICS.values())} - set(queries))
    if missing:
        raise InputError(
            f"missing column(s) {missing}; expected a run's queries.parquet",
            source=source,
        )
    if not 0 < percentile < 100:
        raise InputError(f"percentile {percentile}: expected 0 < p < 100")
    out: dict[str, tuple[QMRRule, ...]] = {}
    tag = f"p{percentile:g}".replace(".", "_")
    for q in config.queues:
        rows = queries[queries["queue"] == q.name]
        rules = []
        for metric, (column, short) in LOG_METRICS.items():
            values = rows[column].to_numpy(dtype=np.float64)
            values = values[np.isfinite(values)]
            if len(values) < min_queries:
                continue
            threshold = max(1, math.ceil(float(np.percentile(values, percentile))))
            threshold = min(threshold, int(QMR_VALUE_RANGES[metric][1]))
            if threshold >= _abort_threshold(q.rules, metric):
                continue
            pred = QMRPredicate(metric_name=metric, operator=">", value=threshold)
            rules.append(
                QMRRule(
                    rule_name=_rule_name(q.name, "log", short, tag),
                    predicate=(pred,),
                    action="log",
                )
            )
        if rules:
            out[q.name] = tuple(rules)
    return out


def wlm_document(config: WLMConfig) -> list[dict[str, Any]]:
    """The ``wlm_json_configuration`` array, checked against the parameter limit.

    Raises
    ------
    WLMConfigError
        When the compact value exceeds 8,000 characters.
    """
    config.parameter_value()  # raises past the 8,000-character limit
    return config.to_json()


def parse_wlm_document(value: str | list[Any], *, source: str) -> WLMConfig:
    """Read a ``wlm.json`` (the array or its JSON string) back into a config."""
    return WLMConfig.from_json(value, source=source)


def wlm_warnings(config: WLMConfig) -> list[str]:
    """Advice that does not block emitting: more than 15 slots, and ``hop``
    rules on ``query_queue_time``, which AWS ignores (a queued query cannot
    hop)."""
    out = config_warnings(config)
    for q in config.queues:
        for r in q.rules:
            if r.action == "hop" and any(
                p.metric_name == "query_queue_time" for p in r.predicate
            ):
                out.append(
                    f"queue {q.name!r} rule {r.rule_name!r}: AWS ignores the hop "
                    "action with a query_queue_time predicate; use abort or log"
                )
    return out


def _with_rules(
    config: WLMConfig,
    rules: Mapping[str, Sequence[QMRRule]],
    *,
    replace_same_name: bool,
) -> WLMConfig:
    """Rebuild the configuration with extra rules per queue."""
    queues = []
    for q in config.queues:
        extra = tuple(rules.get(q.name, ()))
        names = {r.rule_name for r in extra} if replace_same_name else set()
        kept = tuple(r for r in q.rules if r.rule_name not in names)
        queues.append(replace(q, rules=kept + extra))
    return WLMConfig(queues=tuple(queues), sqa=config.sqa)


def _abort_threshold(rules: Sequence[QMRRule], metric: str) -> float:
    """The lowest one-predicate abort threshold on ``metric`` [s] (inf if none)."""
    values = [
        float(r.predicate[0].value)
        for r in rules
        if r.action == "abort"
        and len(r.predicate) == 1
        and r.predicate[0].metric_name == metric
        and r.predicate[0].operator == ">"
        and not isinstance(r.predicate[0].value, str)
    ]
    return min(values, default=math.inf)


def _rule_name(queue: str, action: str, metric: str, tag: str) -> str:
    """``<queue>_<action>_<metric>_<tag>``, cut to AWS's 32 characters."""
    suffix = f"_{action}_{metric}_{tag}"
    stem = re.sub(r"[^A-Za-z0-9_]", "_", queue)[: MAX_RULE_NAME_CHARS - len(suffix)]
    return f"{stem}{suffix}"[:MAX_RULE_NAME_CHARS]
