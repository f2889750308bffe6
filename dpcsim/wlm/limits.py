"""AWS limits of ``wlm_json_configuration`` and the error that reports them.

The constants are the documented limits (facts sheet, sections 1.2-1.4);
:mod:`dpcsim.wlm.validate` enforces them and raises :class:`WLMConfigError`,
which names the key path, the bad value and the violated limit.
"""

from __future__ import annotations

from typing import Final

from dpcsim.errors import InputError

__all__ = [
    "AUTO_SERVICE_CLASS_BASE",
    "MANUAL_SERVICE_CLASS_BASE",
    "MAX_MEMORY_PERCENT",
    "MAX_PARAMETER_CHARS",
    "MAX_PREDICATES_PER_RULE",
    "MAX_QUERY_CONCURRENCY",
    "MAX_QUEUE_NAME_CHARS",
    "MAX_RULES_PER_QUEUE",
    "MAX_RULES_TOTAL",
    "MAX_RULE_NAME_CHARS",
    "MAX_TOTAL_SLOTS",
    "MAX_USER_QUEUES",
    "MIN_QUERY_CONCURRENCY",
    "OPERATORS",
    "PRIORITIES",
    "QMR_ACTIONS",
    "QMR_METRICS",
    "QMR_VALUE_RANGES",
    "RECOMMENDED_MAX_SLOTS",
    "RESERVED_QUEUE_NAMES",
    "SQA_MAX_EXECUTION_TIME_MS",
    "SQA_SERVICE_CLASS",
    "SUPERUSER_SERVICE_CLASS",
    "WLMConfigError",
]

#: User-defined queues (manual: service classes 6-13; auto: 100-107).
MAX_USER_QUEUES: Final = 8
#: Slots per manual queue: ``query_concurrency`` in 1..50.
MIN_QUERY_CONCURRENCY: Final = 1
MAX_QUERY_CONCURRENCY: Final = 50
#: Total slots over all user queues, default queue included, superuser excluded.
MAX_TOTAL_SLOTS: Final = 50
#: AWS recommends at most 15 slots in total (SQA and WLM guides); not enforced.
RECOMMENDED_MAX_SLOTS: Final = 15
#: ``memory_percent_to_use`` total over all queues [%].
MAX_MEMORY_PERCENT: Final = 100
#: QMR limits (current docs: 25 per queue and 25 in total; older text said 8).
MAX_RULES_PER_QUEUE: Final = 25
MAX_RULES_TOTAL: Final = 25
MAX_PREDICATES_PER_RULE: Final = 3
MAX_RULE_NAME_CHARS: Final = 32
MAX_QUEUE_NAME_CHARS: Final = 64
#: SQA maximum runtime [ms]: 0 (dynamic) or within this closed range.
SQA_MAX_EXECUTION_TIME_MS: Final = (1000, 20000)
#: ``ParameterValue`` size limit of ``wlm_json_configuration`` [characters].
MAX_PARAMETER_CHARS: Final = 8000
SUPERUSER_SERVICE_CLASS: Final = 5
SQA_SERVICE_CLASS: Final = 14
MANUAL_SERVICE_CLASS_BASE: Final = 6
AUTO_SERVICE_CLASS_BASE: Final = 100
#: Queue priorities of auto WLM, highest first.
PRIORITIES: Final = ("highest", "high", "normal", "low", "lowest")
#: Names dpcsim uses for the superuser queue and the SQA space in its outputs.
RESERVED_QUEUE_NAMES: Final = ("superuser", "sqa")
#: QMR metric name -> unit, for provisioned clusters (facts sheet 1.4).
QMR_METRICS: Final[dict[str, str]] = {
    "query_cpu_time": "s",
    "query_blocks_read": "1 MB blocks",
    "scan_row_count": "rows",
    "query_execution_time": "s",
    "query_queue_time": "s",
    "query_cpu_usage_percent": "%",
    "query_temp_blocks_to_disk": "1 MB blocks",
    "segment_execution_time": "s",
    "cpu_skew": "ratio",
    "io_skew": "ratio",
    "join_row_count": "rows",
    "nested_loop_join_row_count": "rows",
    "return_row_count": "rows",
    "spectrum_scan_row_count": "rows",
    "spectrum_scan_size_mb": "MB",
    "query_priority": "priority",
}
#: Valid predicate values per metric [metric unit], inclusive. AWS documents
#: these ranges for Serverless; dpcsim applies them to provisioned clusters as
#: well (facts sheet 1.4, provisioned ranges UNCONFIRMED). Metrics without an
#: entry only need a finite value >= 0.
QMR_VALUE_RANGES: Final[dict[str, tuple[float, float]]] = {
    "query_cpu_time": (0, 999_999),
    "query_blocks_read": (0, 1_048_575),
    "scan_row_count": (0, 999_999_999_999_999),
    "query_execution_time": (0, 86_399),
    "query_queue_time": (0, 86_399),
    "query_cpu_usage_percent": (0, 6_399),
    "query_temp_blocks_to_disk": (0, 319_815_679),
}
#: QMR predicate operators (there is no ``>=``) and rule actions.
OPERATORS: Final = ("=", "<", ">")
QMR_ACTIONS: Final = ("log", "hop", "abort", "change_query_priority")


class WLMConfigError(InputError):
    """A WLM configuration breaks an AWS limit or is malformed.

    The message reads ``<source>: <location>: <detail>``, where the location is
    a key path such as ``[2].query_concurrency`` or ``[0].rules[1].action``.

    Parameters
    ----------
    detail
        What is wrong: the bad value and the limit or the expected form.
    key
        Key path within the queue object (or the whole array when ``queue`` is
        None).
    queue
        Position of the offending object in the JSON array, if any.
    source
        The file or other origin of the configuration.
    """

    def __init__(
        self,
        detail: str,
        *,
        key: str | None = None,
        queue: int | None = None,
        source: str | None = None,
    ) -> None:
        self.detail = detail
        self.key = key
        self.queue = queue
        location = _location(queue, key)
        super().__init__(detail, source=source, location=location)
        self.args = (": ".join([p for p in (source, location) if p] + [detail]),)

    def relocate(
        self, *, source: str | None, queue: int | None = None, prefix: str = ""
    ) -> WLMConfigError:
        """Return the same error placed at ``[queue].<prefix><key>`` in ``source``."""
        key = f"{prefix}{self.key}" if self.key else prefix.rstrip(".") or None
        where = self.queue if queue is None else queue
        return WLMConfigError(self.detail, key=key, queue=where, source=source)


def _location(queue: int | None, key: str | None) -> str | None:
    """Format ``[queue].key`` with either part optional."""
    if queue is None:
        return key
    return f"[{queue}].{key}" if key else f"[{queue}]"
