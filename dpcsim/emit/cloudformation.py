"""``template.yaml``: the parameter group, the alarms, the dashboard and the SNS topic.

One CloudFormation stack for what ``dpcsim emit`` produces, for operators who
deploy with CloudFormation instead of the CLI files. The alarms are the same
PutMetricAlarm requests (``AWS::CloudWatch::Alarm`` uses the PutMetricAlarm
member names) with every action list pointing at the stack's topic
(``Ref AlertTopic``); the dashboard body is the same JSON string; the
parameter group carries the same ``wlm_json_configuration`` and other
parameters. Intrinsics are written in their long form (``{"Ref": ...}``), which
every YAML reader (and :func:`dpcsim.alarms.read_alarms`) understands. The
template passes ``cfn-lint`` with no errors (tested).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import yaml

__all__ = ["cloudformation_template", "template_yaml"]

_ACTION_KEYS: Final = ("AlarmActions", "OKActions", "InsufficientDataActions")
TOPIC_ID: Final = "AlertTopic"
PARAMETER_GROUP_ID: Final = "WlmParameterGroup"
DASHBOARD_ID: Final = "Dashboard"


def cloudformation_template(
    *,
    modify_request: Mapping[str, Any],
    alarms: Sequence[Mapping[str, Any]],
    dashboard: Mapping[str, Any],
    topic_name: str,
    description: str,
    family: str = "redshift-1.0",
) -> dict[str, Any]:
    """Build the template as a dict.

    Parameters
    ----------
    modify_request
        The ModifyClusterParameterGroup request (its name and parameters).
    alarms
        PutMetricAlarm requests.
    dashboard
        The PutDashboard input.
    topic_name
        SNS topic name (``dpc-alerts``).
    description
        The stack description.
    family
        Parameter group family (``redshift-1.0``, the only Redshift family).
    """
    resources: dict[str, Any] = {
        TOPIC_ID: {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": topic_name}},
        PARAMETER_GROUP_ID: {
            "Type": "AWS::Redshift::ClusterParameterGroup",
            "Properties": {
                "ParameterGroupName": {"Ref": "ParameterGroupName"},
                "Description": f"WLM and cluster parameters emitted by dpcsim for "
                f"{modify_request['ParameterGroupName']}",
                "ParameterGroupFamily": family,
                "Parameters": [
                    {
                        "ParameterName": p["ParameterName"],
                        "ParameterValue": p["ParameterValue"],
                    }
                    for p in modify_request["Parameters"]
                ],
            },
        },
        DASHBOARD_ID: {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": dashboard["DashboardName"],
                "DashboardBody": dashboard["DashboardBody"],
            },
        },
    }
    used: set[str] = set(resources)
    for request in alarms:
        logical = _logical_id("Alarm" + str(request["AlarmName"]), used)
        props = dict(request)
        for key in _ACTION_KEYS:
            if props.get(key):
                props[key] = [{"Ref": TOPIC_ID}]
        resources[logical] = {"Type": "AWS::CloudWatch::Alarm", "Properties": props}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description,
        "Parameters": {
            "ParameterGroupName": {
                "Type": "String",
                "Default": str(modify_request["ParameterGroupName"]),
                "Description": "Name of the cluster parameter group to create",
            }
        },
        "Resources": resources,
        "Outputs": {
            "AlertTopicArn": {"Value": {"Ref": TOPIC_ID}},
            "ParameterGroupName": {"Value": {"Ref": PARAMETER_GROUP_ID}},
        },
    }


def template_yaml(template: Mapping[str, Any]) -> str:
    """The template as block YAML (keys in the order built, stable)."""
    text: str = yaml.dump(
        dict(template),
        Dumper=_NoAliasDumper,
        sort_keys=False,
        allow_unicode=True,
        width=88,
    )
    return text


class _NoAliasDumper(yaml.SafeDumper):
    """A safe dumper that repeats shared values: CloudFormation rejects aliases."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _logical_id(name: str, used: set[str]) -> str:
    """An alphanumeric logical id, unique in the template."""
    base = re.sub(r"[^A-Za-z0-9]", "", name)[:240] or "Alarm"
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}{n}", n + 1
    used.add(candidate)
    return candidate
