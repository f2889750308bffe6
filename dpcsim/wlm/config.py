"""The WLM configuration model: queues, QMR rules and SQA as frozen dataclasses.

A :class:`WLMConfig` mirrors one ``wlm_json_configuration`` value: the queues in
array order (the last one is the default queue) and the optional SQA object.
Every object validates itself against the AWS limits in ``__post_init__`` (see
:mod:`dpcsim.wlm.limits`). Converting to and from the AWS JSON array lives in
:mod:`dpcsim.wlm.codec`; routing queries to queues in :mod:`dpcsim.wlm.routing`.

Defaults follow AWS: a queue is manual with 5 slots, no timeout, no groups,
Concurrency Scaling off and priority normal; SQA's maximum runtime is dynamic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from dpcsim.wlm import limits, validate
from dpcsim.wlm.limits import WLMConfigError

__all__ = [
    "SUPERUSER_QUEUE",
    "Action",
    "Operator",
    "Priority",
    "QMRPredicate",
    "QMRRule",
    "QueueConfig",
    "QueueType",
    "SQAConfig",
    "WLMConfig",
]

Priority = Literal["highest", "high", "normal", "low", "lowest"]
Operator = Literal["=", "<", ">"]
Action = Literal["log", "hop", "abort", "change_query_priority"]
QueueType = Literal["manual", "auto"]

#: Name dpcsim uses for the superuser queue (service class 5, one slot).
SUPERUSER_QUEUE = "superuser"


@dataclass(frozen=True, slots=True, kw_only=True)
class QMRPredicate:
    """One condition of a query monitoring rule.

    Attributes
    ----------
    metric_name
        A QMR metric (see :data:`dpcsim.wlm.limits.QMR_METRICS` for units), e.g.
        ``query_execution_time`` [s] or ``query_temp_blocks_to_disk`` [1 MB blocks].
    operator
        ``=``, ``<`` or ``>`` (AWS has no ``>=``).
    value
        Threshold in the metric's unit; a priority name for ``query_priority``.
    """

    metric_name: str
    operator: Operator
    value: float | str

    def __post_init__(self) -> None:
        validate.check_predicate(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class QMRRule:
    """A query monitoring rule: when all predicates hold, take the action.

    Attributes
    ----------
    rule_name
        Unique, at most 32 characters of alphanumerics and ``_``.
    predicate
        One to three predicates, all of which must hold.
    action
        ``log``, ``hop`` (manual WLM), ``abort`` or ``change_query_priority``
        (auto WLM).
    value
        Target priority for ``change_query_priority``; None otherwise.
    """

    rule_name: str
    predicate: tuple[QMRPredicate, ...]
    action: Action
    value: Priority | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "predicate", tuple(self.predicate))
        validate.check_rule(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueConfig:
    """One WLM queue (one object of the JSON array).

    Attributes
    ----------
    name
        Unique queue name, at most 64 characters of alphanumerics, ``_`` and
        space; the ``QueueName`` CloudWatch dimension.
    queue_type
        ``manual`` (AWS default) or ``auto``.
    query_concurrency
        Slots of a manual queue, 1..50 (AWS default 5).
    memory_percent_to_use
        Share of user-queue memory [%] (manual); None splits memory equally.
    max_execution_time
        WLM timeout [ms], 0 = none; manual only and deprecated by AWS in favour
        of a QMR rule on ``query_execution_time``.
    user_group, user_role, query_group
        Names (or wildcard patterns) that route a query to this queue.
    user_group_wild_card, user_role_wild_card, query_group_wild_card
        Whether ``*`` and ``?`` are wildcards in the corresponding list.
    concurrency_scaling
        ``auto`` or ``off`` (AWS default).
    priority
        Auto WLM queue priority (AWS default ``normal``).
    rules
        QMR rules, at most 25 per queue.
    """

    name: str
    queue_type: QueueType = "manual"
    query_concurrency: int = 5
    memory_percent_to_use: int | None = None
    max_execution_time: int = 0
    user_group: tuple[str, ...] = ()
    user_group_wild_card: bool = False
    user_role: tuple[str, ...] = ()
    user_role_wild_card: bool = False
    query_group: tuple[str, ...] = ()
    query_group_wild_card: bool = False
    concurrency_scaling: Literal["auto", "off"] = "off"
    priority: Priority = "normal"
    rules: tuple[QMRRule, ...] = ()

    def __post_init__(self) -> None:
        for key in ("user_group", "user_role", "query_group", "rules"):
            object.__setattr__(self, key, tuple(getattr(self, key)))
        validate.check_queue(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class SQAConfig:
    """The short query acceleration object ``{"short_query_queue": ...}``.

    Attributes
    ----------
    enabled
        ``short_query_queue``: SQA on or off.
    max_execution_time
        SQA maximum runtime [ms]: 0 = dynamic (AWS default and recommendation),
        otherwise 1000..20000.
    """

    enabled: bool = True
    max_execution_time: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise WLMConfigError(
                f"short_query_queue {self.enabled!r}: expected true or false",
                key="short_query_queue",
            )
        validate.check_sqa_max_execution_time(self.max_execution_time)


@dataclass(frozen=True, slots=True, kw_only=True)
class WLMConfig:
    """A whole ``wlm_json_configuration``: queues in array order plus SQA.

    Attributes
    ----------
    queues
        User queues in priority (array) order; the last one is the default
        queue. One to eight queues, all manual or all auto.
    sqa
        The SQA object, or None when the array has none (SQA off).

    Examples
    --------
    >>> cfg = WLMConfig.from_json('[{"query_concurrency": 5}]')
    >>> cfg.queues[0].name, cfg.service_class(0), cfg.memory_percent(0)
    ('Default queue', 6, 100.0)
    """

    queues: tuple[QueueConfig, ...]
    sqa: SQAConfig | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "queues", tuple(self.queues))
        validate.check_config(self)

    @property
    def is_auto(self) -> bool:
        """True when every queue is an auto WLM queue."""
        return all(q.queue_type == "auto" for q in self.queues)

    @property
    def sqa_enabled(self) -> bool:
        """True when the SQA object is present and switched on."""
        return self.sqa is not None and self.sqa.enabled

    @property
    def queue_names(self) -> tuple[str, ...]:
        """Queue names in array order (the default queue last)."""
        return tuple(q.name for q in self.queues)

    @property
    def default_index(self) -> int:
        """Index of the default queue (the last one)."""
        return len(self.queues) - 1

    def service_class(self, index: int) -> int:
        """Return the service class of queue ``index`` (-1 = superuser queue).

        Manual queues are 6, 7, ...; auto queues 100, 101, ...; the superuser
        queue is 5.
        """
        if index == -1:
            return limits.SUPERUSER_SERVICE_CLASS
        if not 0 <= index < len(self.queues):
            raise IndexError(f"queue index {index} outside 0..{len(self.queues) - 1}")
        base = (
            limits.AUTO_SERVICE_CLASS_BASE
            if self.is_auto
            else limits.MANUAL_SERVICE_CLASS_BASE
        )
        return base + index

    def queue_for_service_class(self, service_class: int) -> int | None:
        """Return the queue index a logged service class means, if any.

        5 gives -1 (superuser queue); 6+i (manual) or 100+i (auto) gives i when
        the config has that queue; anything else (14 = SQA, other modes,
        out of range) gives None.
        """
        if service_class == limits.SUPERUSER_SERVICE_CLASS:
            return -1
        base = (
            limits.AUTO_SERVICE_CLASS_BASE
            if self.is_auto
            else limits.MANUAL_SERVICE_CLASS_BASE
        )
        i = service_class - base
        return i if 0 <= i < len(self.queues) else None

    def queue_index(self, name: str) -> int:
        """Return the index of the queue called ``name`` (-1 for ``superuser``)."""
        if name == SUPERUSER_QUEUE:
            return -1
        for i, q in enumerate(self.queues):
            if q.name == name:
                return i
        raise KeyError(f"no queue named {name!r}; queues are {list(self.queue_names)}")

    def memory_percent(self, index: int) -> float:
        """Effective share of user-queue memory of queue ``index`` [%].

        ``memory_percent_to_use`` when set; otherwise memory is split equally
        across user queues (also the model for auto WLM).
        """
        mem = self.queues[index].memory_percent_to_use
        return float(mem) if mem is not None else 100.0 / len(self.queues)

    @classmethod
    def from_json(cls, value: str | list[Any], *, source: str = "<wlm>") -> WLMConfig:
        """Parse a ``wlm_json_configuration`` array (or the JSON string of it).

        Raises
        ------
        dpcsim.wlm.limits.WLMConfigError
            An ``InputError`` naming ``source``, the key path (such as
            ``[2].query_concurrency``) and the violated AWS limit.
        """
        from dpcsim.wlm.codec import config_from_json

        return config_from_json(value, source=source)

    def to_json(self) -> list[dict[str, Any]]:
        """Return the AWS ``wlm_json_configuration`` array (default queue last,
        SQA object appended)."""
        from dpcsim.wlm.codec import config_to_json

        return config_to_json(self)

    def parameter_value(self) -> str:
        """Return the compact JSON string for ``ParameterValue``.

        Raises
        ------
        WLMConfigError
            When the string exceeds the 8000-character parameter limit.
        """
        text = json.dumps(self.to_json(), separators=(",", ":"))
        if len(text) > limits.MAX_PARAMETER_CHARS:
            raise WLMConfigError(
                f"the wlm_json_configuration value has {len(text)} characters; the "
                f"AWS parameter limit is {limits.MAX_PARAMETER_CHARS}"
            )
        return text

    @classmethod
    def from_dict(cls, value: dict[str, Any], *, source: str = "<wlm>") -> WLMConfig:
        """Build from :meth:`to_dict` output (field names, lists for tuples)."""
        from dpcsim.wlm.codec import config_from_dict

        return config_from_dict(value, source=source)

    def to_dict(self) -> dict[str, Any]:
        """Return plain fields (JSON-serialisable); ``from_dict`` inverts it."""
        from dpcsim.wlm.codec import config_to_dict

        return config_to_dict(self)
