"""CloudWatch alarms: PutMetricAlarm/CloudFormation definitions and their evaluation.

:func:`read_alarms` validates alarm definitions, :func:`evaluate_alarms`
reproduces CloudWatch's evaluation over tidy datapoints
(:mod:`dpcsim.metrics.datapoints`) and returns the per-evaluation history and
per-alarm summary; :func:`dpc_design_alarms` is the design's alarm set.
"""

from __future__ import annotations

from dpcsim.alarms.design import DESIGN_ALARM_NAMES, dpc_design_alarms, sns_topic_arn
from dpcsim.alarms.evaluate import (
    EvaluationOptions,
    decide,
    evaluate_alarm,
    evaluate_alarms,
)
from dpcsim.alarms.history import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    STATE_NAMES,
    AlarmRun,
    AlarmStates,
    alarm_episodes,
    write_alarm_run,
)
from dpcsim.alarms.io import alarms_from_document, read_alarms, read_metrics
from dpcsim.alarms.spec import (
    AlarmSpec,
    MetricQuery,
    MetricStatSpec,
    parse_alarm,
    request_metric_names,
)

__all__ = [
    "ALARM",
    "DESIGN_ALARM_NAMES",
    "INSUFFICIENT_DATA",
    "OK",
    "STATE_NAMES",
    "AlarmRun",
    "AlarmSpec",
    "AlarmStates",
    "EvaluationOptions",
    "MetricQuery",
    "MetricStatSpec",
    "alarm_episodes",
    "alarms_from_document",
    "decide",
    "design_alarm_specs",
    "dpc_design_alarms",
    "evaluate_alarm",
    "evaluate_alarms",
    "parse_alarm",
    "read_alarms",
    "read_metrics",
    "request_metric_names",
    "sns_topic_arn",
    "write_alarm_run",
]


def design_alarm_specs(account_id: str = "123456789012") -> list[AlarmSpec]:
    """The design's five alarms, validated (see :mod:`dpcsim.alarms.design`)."""
    return alarms_from_document(
        dpc_design_alarms(account_id), source="dpcsim.alarms.design"
    )
