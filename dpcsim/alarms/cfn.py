"""``AWS::CloudWatch::Alarm`` resources of a CloudFormation template.

The Properties of an ``AWS::CloudWatch::Alarm`` use the PutMetricAlarm member
names, so each resource becomes one PutMetricAlarm request (``AlarmName``
defaults to the logical id, as CloudFormation would generate a name from it).

Intrinsic functions are resolved only where they reduce to plain strings:

- ``Ref`` to a template parameter (its ``Default``, or a value passed in
  ``parameters``) or to a pseudo parameter (``AWS::AccountId``, ``AWS::Region``,
  ``AWS::Partition``, ``AWS::StackName``, ``AWS::URLSuffix``);
- ``Fn::Sub`` of a string (or ``[string, {variables}]`` with plain-string
  variables) whose ``${Name}`` references are parameters or pseudo parameters;
- ``Ref`` to another resource of the template, only inside the action lists
  (the evaluator does not use them): it resolves to the logical id, since the
  physical ARN exists only after deployment.

Anything else (``Fn::GetAtt``, ``Fn::Join``, ``Fn::If``, ``Fn::ImportValue``,
``${Resource.Attribute}``, ...) raises an InputError naming the resource, the
property path and the function.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from dpcsim.errors import InputError

__all__ = ["PSEUDO_PARAMETERS", "alarm_requests_from_template", "is_template"]

#: Values used for pseudo parameters unless overridden.
PSEUDO_PARAMETERS: Final[dict[str, str]] = {
    "AWS::AccountId": "123456789012",
    "AWS::Region": "ap-northeast-1",
    "AWS::Partition": "aws",
    "AWS::StackName": "dpc-stack",
    "AWS::URLSuffix": "amazonaws.com",
}
_ACTION_KEYS: Final = ("AlarmActions", "OKActions", "InsufficientDataActions")
_SUB_VAR: Final = re.compile(r"\$\{([^}!][^}]*)\}")


def is_template(document: Any) -> bool:
    """True when a parsed document is a CloudFormation template."""
    return isinstance(document, Mapping) and isinstance(
        document.get("Resources"), Mapping
    )


class _Resolver:
    def __init__(
        self, template: Mapping[str, Any], source: str, parameters: Mapping[str, str]
    ) -> None:
        self.source = source
        self.resources = set(template["Resources"])
        self.values = dict(PSEUDO_PARAMETERS)
        declared = template.get("Parameters") or {}
        for name, spec in declared.items():
            if isinstance(spec, Mapping) and "Default" in spec:
                self.values[name] = str(spec["Default"])
        self.values.update({k: str(v) for k, v in parameters.items()})
        self.declared = set(declared)

    def fail(self, path: str, message: str) -> InputError:
        return InputError(message, source=self.source, location=path)

    def resolve(self, value: Any, path: str, in_actions: bool = False) -> Any:
        if isinstance(value, list):
            return [
                self.resolve(v, f"{path}[{i}]", in_actions) for i, v in enumerate(value)
            ]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg, path, in_actions)
            if key == "Fn::Sub":
                return self.sub(arg, path)
            if key.startswith("Fn::") or key == "Condition":
                raise self.fail(
                    path,
                    f"unsupported intrinsic function {key}: dpcsim resolves only "
                    "Ref and Fn::Sub that reduce to plain strings",
                )
        return {
            k: self.resolve(v, f"{path}.{k}", in_actions or k in _ACTION_KEYS)
            for k, v in value.items()
        }

    def ref(self, name: Any, path: str, in_actions: bool) -> str:
        if isinstance(name, str) and name in self.values:
            return self.values[name]
        if isinstance(name, str) and name in self.resources and in_actions:
            return name
        if isinstance(name, str) and name in self.declared:
            raise self.fail(
                path, f"Ref {name!r}: parameter has no Default; pass a value"
            )
        raise self.fail(
            path, f"unsupported Ref {name!r}: expected a parameter or pseudo parameter"
        )

    def sub(self, arg: Any, path: str) -> str:
        variables: dict[str, str] = {}
        if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], Mapping):
            for k, v in arg[1].items():
                if not isinstance(v, str):
                    raise self.fail(path, f"Fn::Sub variable {k!r}: only plain strings")
                variables[k] = v
            arg = arg[0]
        if not isinstance(arg, str):
            raise self.fail(path, f"Fn::Sub {arg!r}: expected a string")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return variables[name]
            if name in self.values:
                return self.values[name]
            raise self.fail(path, f"Fn::Sub ${{{name}}}: unsupported (not a parameter)")

        return _SUB_VAR.sub(replace, arg).replace("${!", "${")


def alarm_requests_from_template(
    template: Mapping[str, Any],
    *,
    source: str = "<template>",
    parameters: Mapping[str, str] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """PutMetricAlarm requests of every ``AWS::CloudWatch::Alarm`` in a template.

    Returns
    -------
    list of (where, request)
        ``where`` is ``Resources.<LogicalId>`` for error messages.

    Raises
    ------
    InputError
        If the template has no alarm resource, or an unsupported intrinsic.
    """
    resolver = _Resolver(template, source, parameters or {})
    out = []
    for logical_id, resource in template["Resources"].items():
        if not isinstance(resource, Mapping):
            raise InputError(
                "expected a resource object", source=source, location=logical_id
            )
        if resource.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        where = f"Resources.{logical_id}"
        props = resource.get("Properties")
        if not isinstance(props, Mapping):
            raise InputError("missing Properties", source=source, location=where)
        request = resolver.resolve(props, f"{where}.Properties")
        request.setdefault("AlarmName", logical_id)
        out.append((where, request))
    if not out:
        raise InputError(
            "the template has no AWS::CloudWatch::Alarm resource", source=source
        )
    return out
