"""``modify-cluster-parameter-group.json``: the request and its offline checks.

The request is what ``aws redshift modify-cluster-parameter-group
--cli-input-json file://modify-cluster-parameter-group.json`` takes:
``ParameterGroupName`` and ``Parameters``, each with ``ParameterName``,
``ParameterValue`` (always a string: the WLM array is JSON inside a string) and
``ApplyType``.

``ApplyType`` per parameter:

* ``wlm_json_configuration``: ``dynamic`` when every WLM change is a dynamic
  property (see :mod:`dpcsim.emit.changes`), otherwise ``static``. AWS lists
  the parameter as static but applies its dynamic properties without a reboot
  (facts sheet 6; AWS's own test-drive tool sends it as dynamic);
* ``max_concurrency_scaling_clusters`` (0-10), ``statement_timeout`` (0 or
  100-2147483647 [ms]), ``enable_user_activity_logging`` and ``require_ssl``
  (``true``/``false``): static, as the engine-default listing gives them.

:func:`check_modify_request` checks the request with botocore's own
``ParamValidator`` against the ``ModifyClusterParameterGroup`` input shape
(types, required members; botocore has no maxima or enums for it) and then the
rules botocore does not check: at most 20 parameters, each named once and known
to dpcsim, ``ApplyType`` in ``static|dynamic`` and the one that parameter
needs, the value's range or enum, the WLM value under 8,000 characters and a
valid configuration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from dpcsim.emit.botocheck import validate_input
from dpcsim.errors import InputError
from dpcsim.wlm import WLMConfig
from dpcsim.wlm.io import WLM_PARAMETER
from dpcsim.wlm.limits import MAX_PARAMETER_CHARS

__all__ = [
    "MAX_PARAMETERS_PER_REQUEST",
    "PARAMETER_RULES",
    "ParameterRule",
    "check_modify_request",
    "modify_request",
]

#: ModifyClusterParameterGroup takes at most 20 parameters per call.
MAX_PARAMETERS_PER_REQUEST: Final = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterRule:
    """What one cluster parameter accepts.

    Attributes
    ----------
    apply_type
        ``static`` or ``dynamic``; None for the WLM JSON, whose ApplyType
        depends on the change.
    int_range
        Allowed integer ranges (inclusive), when the value is an integer.
    enum
        Allowed string values, when the value is an enum.
    """

    apply_type: str | None
    int_range: tuple[tuple[int, int], ...] = ()
    enum: tuple[str, ...] = ()


#: Parameters dpcsim emits and checks (engine-default listing, facts sheet 6).
PARAMETER_RULES: Final[dict[str, ParameterRule]] = {
    WLM_PARAMETER: ParameterRule(apply_type=None),
    "max_concurrency_scaling_clusters": ParameterRule(
        apply_type="static", int_range=((0, 10),)
    ),
    "statement_timeout": ParameterRule(
        apply_type="static", int_range=((0, 0), (100, 2_147_483_647))
    ),
    "enable_user_activity_logging": ParameterRule(
        apply_type="static", enum=("true", "false")
    ),
    "require_ssl": ParameterRule(apply_type="static", enum=("true", "false")),
}


def modify_request(
    parameter_group: str,
    config: WLMConfig,
    *,
    wlm_dynamic: bool,
    extra: Mapping[str, str | int] | None = None,
) -> dict[str, Any]:
    """The ModifyClusterParameterGroup request for a configuration.

    Parameters
    ----------
    parameter_group
        ``ParameterGroupName`` (a custom group: the default one cannot change).
    config
        The WLM configuration (sent whole, as AWS requires).
    wlm_dynamic
        Whether every WLM change is dynamic (ApplyType of the WLM parameter).
    extra
        Other parameters, e.g. ``{"max_concurrency_scaling_clusters": 2}``.
    """
    params = [
        {
            "ParameterName": WLM_PARAMETER,
            "ParameterValue": config.parameter_value(),
            "ApplyType": "dynamic" if wlm_dynamic else "static",
        }
    ]
    for name, value in sorted((extra or {}).items()):
        rule = PARAMETER_RULES.get(name)
        apply_type = rule.apply_type if rule is not None else None
        params.append(
            {
                "ParameterName": name,
                "ParameterValue": str(value).lower()
                if isinstance(value, bool)
                else str(value),
                "ApplyType": apply_type or "static",
            }
        )
    request = {"ParameterGroupName": parameter_group, "Parameters": params}
    check_modify_request(request)
    return request


def check_modify_request(
    request: Mapping[str, Any], *, source: str = "modify-cluster-parameter-group.json"
) -> WLMConfig | None:
    """Check a request offline: botocore's validator, then dpcsim's rules.

    Returns
    -------
    WLMConfig or None
        The WLM configuration the request sets, if it sets one.

    Raises
    ------
    InputError
        Naming ``source``, the parameter and the violated rule.
    """
    validate_input("redshift", "ModifyClusterParameterGroup", request, source=source)
    name = request.get("ParameterGroupName")
    if not isinstance(name, str) or not name:
        raise InputError("ParameterGroupName: expected a non-empty name", source=source)
    if name.startswith("default."):
        raise InputError(
            f"ParameterGroupName {name!r}: the default parameter groups cannot be "
            "modified; use a custom parameter group",
            source=source,
        )
    params = request.get("Parameters")
    if not isinstance(params, Sequence) or not 1 <= len(params) <= (
        MAX_PARAMETERS_PER_REQUEST
    ):
        count = len(params) if isinstance(params, Sequence) else params
        raise InputError(
            f"Parameters has {count} items; ModifyClusterParameterGroup takes 1 to "
            f"{MAX_PARAMETERS_PER_REQUEST} per call",
            source=source,
        )
    seen: set[str] = set()
    config = None
    for i, item in enumerate(params):
        where = f"Parameters[{i}]"
        pname = item.get("ParameterName")
        if pname in seen:
            raise InputError(f"{where}: {pname!r} given twice", source=source)
        seen.add(str(pname))
        parsed = _check_parameter(item, where, source)
        if parsed is not None:
            config = parsed
    return config


def _check_parameter(
    item: Mapping[str, Any], where: str, source: str
) -> WLMConfig | None:
    """One parameter: known name, string value in range, the right ApplyType."""
    name = item.get("ParameterName")
    rule = PARAMETER_RULES.get(str(name))
    if rule is None:
        raise InputError(
            f"{where}.ParameterName {name!r}: dpcsim emits and checks only "
            f"{sorted(PARAMETER_RULES)}",
            source=source,
        )
    value = item.get("ParameterValue")
    if not isinstance(value, str):
        raise InputError(
            f"{where}.ParameterValue {value!r}: expected a string (the WLM array "
            "goes in as JSON text)",
            source=source,
        )
    apply_type = item.get("ApplyType")
    if apply_type not in ("static", "dynamic"):
        raise InputError(
            f"{where}.ApplyType {apply_type!r}: expected 'static' or 'dynamic'",
            source=source,
        )
    if rule.apply_type is not None and apply_type != rule.apply_type:
        raise InputError(
            f"{where}.ApplyType {apply_type!r}: {name} is a {rule.apply_type} "
            "parameter",
            source=source,
        )
    if name == WLM_PARAMETER:
        if len(value) > MAX_PARAMETER_CHARS:
            raise InputError(
                f"{where}.ParameterValue has {len(value)} characters; the AWS "
                f"parameter limit is {MAX_PARAMETER_CHARS}",
                source=source,
            )
        return WLMConfig.from_json(value, source=f"{source} {where}.ParameterValue")
    if rule.enum and value not in rule.enum:
        raise InputError(
            f"{where}.ParameterValue {value!r} for {name}: expected one of "
            f"{list(rule.enum)}",
            source=source,
        )
    if rule.int_range:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not any(lo <= number <= hi for lo, hi in rule.int_range):
            ranges = " or ".join(
                f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in rule.int_range
            )
            raise InputError(
                f"{where}.ParameterValue {value!r} for {name}: expected an integer "
                f"{ranges}",
                source=source,
            )
    return None
