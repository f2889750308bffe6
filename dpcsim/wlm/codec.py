"""Convert :class:`~dpcsim.wlm.config.WLMConfig` to and from the AWS JSON array.

``config_from_json`` reads the ``wlm_json_configuration`` array as AWS writes it:
wildcard flags as 0/1 or booleans, ``user_group`` / ``query_group`` as arrays
or comma-separated strings, ``auto_wlm`` on any queue object turning the whole
configuration to auto WLM, default names ("Queue 1", ..., "Default queue"), and
an SQA object anywhere in the array. Every error names the source and the key
path in the array (``[2].rules[0].predicate[1].operator``). ``config_to_json``
writes the canonical form back (default queue last, SQA object appended).
Reading files is left to :mod:`dpcsim.wlm.io`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from functools import partial
from typing import Any, Final, TypeVar

from dpcsim.wlm.config import QMRPredicate, QMRRule, QueueConfig, SQAConfig, WLMConfig
from dpcsim.wlm.limits import WLMConfigError

__all__ = [
    "QUEUE_KEYS",
    "RULE_KEYS",
    "SQA_KEYS",
    "config_from_dict",
    "config_from_json",
    "config_to_dict",
    "config_to_json",
]

#: Keys a queue object may carry (``user_role`` names are unconfirmed in AWS).
QUEUE_KEYS: Final = (
    "auto_wlm",
    "concurrency_scaling",
    "max_execution_time",
    "memory_percent_to_use",
    "name",
    "priority",
    "query_concurrency",
    "query_group",
    "query_group_wild_card",
    "queue_type",
    "rules",
    "user_group",
    "user_group_wild_card",
    "user_role",
    "user_role_wild_card",
)
SQA_KEYS: Final = ("max_execution_time", "short_query_queue")
RULE_KEYS: Final = ("action", "predicate", "rule_name", "value")
PREDICATE_KEYS: Final = ("metric_name", "operator", "value")
_GROUP_KEYS: Final = ("user_group", "user_role", "query_group")
T = TypeVar("T")


def config_from_json(value: str | list[Any], *, source: str = "<wlm>") -> WLMConfig:
    """Parse the AWS array (or its JSON string) into a validated WLMConfig.

    Raises
    ------
    WLMConfigError
        Naming ``source``, the key path and the expected form or AWS limit.
    """
    items = _load_array(value, source)
    queue_pos = [i for i, it in enumerate(items) if "short_query_queue" not in it]
    auto = any(items[i].get("auto_wlm") is True for i in queue_pos)
    sqa: SQAConfig | None = None
    queues: list[QueueConfig] = []
    for i, item in enumerate(items):
        if "short_query_queue" in item:
            if sqa is not None:
                raise WLMConfigError(
                    "a second SQA object; the array may hold only one "
                    '{"short_query_queue": ...} object',
                    queue=i,
                    source=source,
                )
            sqa = _guard(partial(_parse_sqa, item), source, i)
        else:
            last = i == queue_pos[-1] if queue_pos else False
            default = "Default queue" if last else f"Queue {len(queues) + 1}"
            queues.append(_guard(partial(_parse_queue, item, default, auto), source, i))
    if not queues:
        raise WLMConfigError(
            "no queue objects; expected at least one (the default queue)",
            source=source,
        )
    try:
        return WLMConfig(queues=tuple(queues), sqa=sqa)
    except WLMConfigError as exc:
        where = None if exc.queue is None else queue_pos[exc.queue]
        raise exc.relocate(source=source, queue=where) from None


def config_to_json(config: WLMConfig) -> list[dict[str, Any]]:
    """Return the AWS array: queues in order (default last), then the SQA object."""
    out = [_queue_to_json(q) for q in config.queues]
    if config.is_auto:
        out[-1]["auto_wlm"] = True
    if config.sqa is not None:
        out.append(
            {
                "short_query_queue": config.sqa.enabled,
                "max_execution_time": config.sqa.max_execution_time,
            }
        )
    return out


def config_to_dict(config: WLMConfig) -> dict[str, Any]:
    """Return the dataclass fields as plain JSON-serialisable values."""
    return {
        "queues": [_plain(q) for q in config.queues],
        "sqa": None if config.sqa is None else _plain(config.sqa),
    }


def config_from_dict(value: dict[str, Any], *, source: str = "<wlm>") -> WLMConfig:
    """Invert :func:`config_to_dict`, validating every field."""
    if not isinstance(value, dict):
        raise WLMConfigError(f"expected an object, got {type(value).__name__}")
    _known(value, ("queues", "sqa"), None, source)
    queues_in = value.get("queues")
    if not isinstance(queues_in, list):
        raise WLMConfigError(
            f"queues {queues_in!r}: expected a list", key="queues", source=source
        )
    queues = [
        _guard(partial(_queue_from_dict, q), source, i) for i, q in enumerate(queues_in)
    ]
    sqa_in = value.get("sqa")
    sqa = None
    if sqa_in is not None:
        if not isinstance(sqa_in, dict):
            raise WLMConfigError(
                f"sqa {sqa_in!r}: expected an object or null", key="sqa", source=source
            )
        _known(sqa_in, ("enabled", "max_execution_time"), None, source)
        sqa = _guard(partial(SQAConfig, **sqa_in), source, None, "sqa.")
    try:
        return WLMConfig(queues=tuple(queues), sqa=sqa)
    except WLMConfigError as exc:
        raise exc.relocate(source=source) from None


def _load_array(value: str | list[Any], source: str) -> list[dict[str, Any]]:
    """Decode the (possibly doubly encoded) JSON array and check its items."""
    data: Any = value
    for _ in range(2):  # AWS passes the array as a string; accept one more level
        if not isinstance(data, str):
            break
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise WLMConfigError(
                f"not valid JSON ({exc.msg} at line {exc.lineno} column "
                f"{exc.colno}); expected the wlm_json_configuration array",
                source=source,
            ) from None
    if not isinstance(data, list):
        raise WLMConfigError(
            f"expected a JSON array of queue objects, got {type(data).__name__}",
            source=source,
        )
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise WLMConfigError(
                f"{item!r}: expected a queue or SQA object", queue=i, source=source
            )
    return data


def _guard(
    build: Callable[[], T], source: str, queue: int | None, prefix: str = ""
) -> T:
    """Run ``build`` and place any WLMConfigError at ``[queue].prefix...``."""
    try:
        return build()
    except WLMConfigError as exc:
        raise exc.relocate(source=source, queue=queue, prefix=prefix) from None


def _known(
    obj: dict[str, Any], known: tuple[str, ...], key: str | None, source: str | None
) -> None:
    """Reject keys outside ``known``, listing the known ones."""
    unknown = sorted(set(obj) - set(known))
    if unknown:
        where = f"{key}." if key else ""
        raise WLMConfigError(
            f"unknown key(s) {unknown}; known keys are {sorted(known)}",
            key=f"{where}{unknown[0]}",
            source=source,
        )


def _parse_sqa(item: dict[str, Any]) -> SQAConfig:
    """Parse the ``{"short_query_queue": ..., "max_execution_time": ...}`` object."""
    _known(item, SQA_KEYS, None, None)
    return SQAConfig(
        enabled=_flag(item["short_query_queue"], "short_query_queue"),
        max_execution_time=_int(
            item.get("max_execution_time", 0), "max_execution_time"
        ),
    )


def _parse_queue(item: dict[str, Any], default_name: str, auto: bool) -> QueueConfig:
    """Parse one queue object (keys checked, types coerced, defaults applied)."""
    _known(item, QUEUE_KEYS, None, None)
    queue_type = _queue_type(item, auto)
    kwargs: dict[str, Any] = {
        "name": item.get("name", default_name),
        "queue_type": queue_type,
    }
    for key in ("query_concurrency", "memory_percent_to_use", "max_execution_time"):
        if item.get(key) is not None:
            kwargs[key] = _int(item[key], key)
    for key in _GROUP_KEYS:
        kwargs[key] = _names(item.get(key), key)
        flag = f"{key}_wild_card"
        kwargs[flag] = _flag(item.get(flag, False), flag)
    for key in ("concurrency_scaling", "priority"):
        if key in item:
            kwargs[key] = _str(item[key], key)
    rules = item.get("rules", [])
    if not isinstance(rules, list):
        raise WLMConfigError(
            f"rules {rules!r}: expected an array of rule objects", key="rules"
        )
    kwargs["rules"] = tuple(
        _guard(partial(_parse_rule, r), "", None, f"rules[{j}].")
        for j, r in enumerate(rules)
    )
    return QueueConfig(**kwargs)


def _queue_type(item: dict[str, Any], auto: bool) -> str:
    """Resolve ``queue_type`` from the key, ``auto_wlm`` and the config mode."""
    flag = item.get("auto_wlm")
    if flag is not None and not isinstance(flag, bool):
        raise WLMConfigError(
            f"auto_wlm {flag!r}: expected true or false", key="auto_wlm"
        )
    if "queue_type" not in item:
        return "auto" if auto else "manual"
    queue_type = _str(item["queue_type"], "queue_type")
    if queue_type not in ("manual", "auto"):
        raise WLMConfigError(
            f"queue_type {queue_type!r}: expected 'manual' or 'auto'", key="queue_type"
        )
    if (flag is True and queue_type == "manual") or (
        flag is False and queue_type == "auto"
    ):
        raise WLMConfigError(
            f"auto_wlm={flag} contradicts queue_type={queue_type!r}", key="queue_type"
        )
    return queue_type


def _parse_rule(rule: Any) -> QMRRule:
    """Parse one QMR rule object; ``predicate`` must be an array of objects."""
    if not isinstance(rule, dict):
        raise WLMConfigError(f"{rule!r}: expected a QMR rule object")
    _known(rule, RULE_KEYS, None, None)
    for key in ("rule_name", "predicate", "action"):
        if key not in rule:
            raise WLMConfigError(f"missing required key {key!r} of a QMR rule", key=key)
    preds = rule["predicate"]
    if isinstance(preds, str):
        raise WLMConfigError(
            f"predicate {preds!r} is a string; AWS expects an array of objects like "
            '[{"metric_name": "query_execution_time", "operator": ">", "value": 120}]',
            key="predicate",
        )
    if not isinstance(preds, list):
        raise WLMConfigError(
            f"predicate {preds!r}: expected an array of objects", key="predicate"
        )
    predicate = tuple(
        _guard(partial(_parse_predicate, p), "", None, f"predicate[{k}].")
        for k, p in enumerate(preds)
    )
    return QMRRule(
        rule_name=_str(rule["rule_name"], "rule_name"),
        predicate=predicate,
        action=_str(rule["action"], "action"),  # type: ignore[arg-type]
        value=rule.get("value"),
    )


def _parse_predicate(pred: Any) -> QMRPredicate:
    """Parse one predicate object ``{metric_name, operator, value}``."""
    if not isinstance(pred, dict):
        raise WLMConfigError(f"{pred!r}: expected a predicate object")
    _known(pred, PREDICATE_KEYS, None, None)
    for key in PREDICATE_KEYS:
        if key not in pred:
            raise WLMConfigError(
                f"missing required key {key!r} of a predicate", key=key
            )
    return QMRPredicate(
        metric_name=_str(pred["metric_name"], "metric_name"),
        operator=_str(pred["operator"], "operator"),  # type: ignore[arg-type]
        value=pred["value"],
    )


def _queue_to_json(q: QueueConfig) -> dict[str, Any]:
    """One queue object in AWS form (manual-only keys only on manual queues)."""
    out: dict[str, Any] = {"name": q.name, "queue_type": q.queue_type}
    if q.queue_type == "manual":
        out["query_concurrency"] = q.query_concurrency
        if q.memory_percent_to_use is not None:
            out["memory_percent_to_use"] = q.memory_percent_to_use
        if q.max_execution_time:
            out["max_execution_time"] = q.max_execution_time
    else:
        out["priority"] = q.priority
    out["user_group"] = list(q.user_group)
    out["user_group_wild_card"] = int(q.user_group_wild_card)
    # The JSON keys for roles are unconfirmed in AWS: write them only when used.
    if q.user_role or q.user_role_wild_card:
        out["user_role"] = list(q.user_role)
        out["user_role_wild_card"] = int(q.user_role_wild_card)
    out["query_group"] = list(q.query_group)
    out["query_group_wild_card"] = int(q.query_group_wild_card)
    out["concurrency_scaling"] = q.concurrency_scaling
    if q.rules:
        out["rules"] = [_rule_to_json(r) for r in q.rules]
    return out


def _rule_to_json(r: QMRRule) -> dict[str, Any]:
    """One QMR rule object in AWS form."""
    out: dict[str, Any] = {
        "rule_name": r.rule_name,
        "predicate": [
            {"metric_name": p.metric_name, "operator": p.operator, "value": p.value}
            for p in r.predicate
        ],
        "action": r.action,
    }
    if r.value is not None:
        out["value"] = r.value
    return out


def _queue_from_dict(q: Any) -> QueueConfig:
    """Build a QueueConfig from :func:`config_to_dict` fields."""
    if not isinstance(q, dict):
        raise WLMConfigError(f"{q!r}: expected a queue object")
    names = tuple(f.name for f in dataclasses.fields(QueueConfig))
    _known(q, names, None, None)
    if "name" not in q:
        raise WLMConfigError("missing required key 'name' of a queue", key="name")
    kwargs = dict(q)
    rules = kwargs.get("rules", [])
    if not isinstance(rules, list):
        raise WLMConfigError(f"rules {rules!r}: expected a list", key="rules")
    kwargs["rules"] = tuple(
        _guard(partial(_parse_rule, r), "", None, f"rules[{j}].")
        for j, r in enumerate(rules)
    )
    for key in _GROUP_KEYS:
        kwargs[key] = _names(kwargs.get(key), key)
    return QueueConfig(**kwargs)


def _plain(obj: Any) -> Any:
    """Dataclass -> dict with lists instead of tuples (recursively)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [_plain(x) for x in obj]
    return obj


def _int(value: Any, key: str) -> int:
    """An integer (booleans and fractions are rejected)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise WLMConfigError(f"{key} {value!r}: expected an integer", key=key)
    return value


def _flag(value: Any, key: str) -> bool:
    """A wildcard or on/off flag given as 0/1 or a boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise WLMConfigError(f"{key} {value!r}: expected 0, 1, true or false", key=key)


def _str(value: Any, key: str) -> str:
    """A string value."""
    if not isinstance(value, str):
        raise WLMConfigError(f"{key} {value!r}: expected a string", key=key)
    return value


def _names(value: Any, key: str) -> tuple[str, ...]:
    """Group names from an array, a comma-separated string or null."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(s.strip() for s in value.split(",") if s.strip())
    if isinstance(value, list | tuple):
        for k, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise WLMConfigError(
                    f"{item!r}: expected a non-empty name string", key=f"{key}[{k}]"
                )
        return tuple(value)  # verbatim, so that to_json/from_json round-trips
    raise WLMConfigError(
        f"{key} {value!r}: expected an array of names or a comma-separated string",
        key=key,
    )
