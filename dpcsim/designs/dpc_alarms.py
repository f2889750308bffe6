"""The DPC design's five alarms as PutMetricAlarm requests on metrics that exist.

All five notify the SNS topic ``arn:aws:sns:ap-northeast-1:<account>:dpc-alerts``
(Slack/PagerDuty/OpsGenie/e-mail are subscriptions of that topic, outside
CloudWatch). Decisions where the design is ambiguous or impossible as written:

``Alert-ELT-Delay`` — ``ELTExecutionDelay > 90`` for 2 consecutive datapoints.
    Custom metric ``Custom/DPC ELTExecutionDelay`` with dimensions
    ``Environment=prod`` and ``Definition`` (the metric is published under both
    candidate definitions of the open question, see
    :mod:`dpcsim.metrics.custom`; ``elt_definition`` picks one, default
    ``StepFunctionsCompletion``, the design's wording "minutes since the last
    successful run"). Period 300 s with ``Maximum``, as the design's dashboard
    widget shows it; N = M = 2 ("2 consecutive datapoints"). Missing data is
    ``missing``: nothing is published before the first success, and a dead
    publisher must show as INSUFFICIENT_DATA (the topic is also an
    InsufficientDataAction) rather than as OK. The design's ELT runs daily,
    so the literal "minutes since the last success" exceeds 90 about 90
    minutes after every successful run and stays there until the next one (the
    alarm would be in ALARM about 22 hours a day). The publisher therefore
    sends the minutes *overdue* against the nightly cadence (age minus 1440,
    floored at 0; see :mod:`dpcsim.metrics.custom`), so ``> 90`` means "the
    data is 90 minutes later than a day after the last success".
``Alert-COPY-Error`` — ``CopyErrorCount >= 1``.
    ``Custom/DPC CopyErrorCount`` (no dimensions) from the metric filter, which
    publishes only in minutes with errors: missing data is ``notBreaching``.
    ``Sum`` over Period 300 s, N = M = 1: the alarm fires within a minute of an
    error and clears 5 minutes after the last one.
``Alert-Storage-High`` — ``PercentageDiskSpaceUsed > 80%`` 3 times in a row.
    ``RedshiftStorageCapacity`` does not exist; the real metric is
    ``AWS/Redshift PercentageDiskSpaceUsed`` (Percent, ``ClusterIdentifier``).
    The design gives no period; Period 3600 s ``Average`` as on its dashboard,
    N = M = 3 (three hours above 80 %; storage moves slowly). Missing: ``missing``.
``Alert-WLM-Queue`` — ``WLMQueueLength (batch) > 10`` for 10 minutes.
    ``AWS/Redshift WLMQueueLength`` with ``ClusterIdentifier`` and
    ``QueueName=batch``; Period 60 s, N = M = 10. Statistic ``Average``:
    "for 10 minutes" means sustained, and with one sample per minute (how
    Redshift publishes it) Average, Minimum and Maximum coincide; with several
    samples a minute Average does not fire on a single spike per minute as
    Maximum would. The dashboard's ``Sum`` over 300 s adds five samples of a
    gauge and is not a queue length, so it is not used. Missing: ``missing``.
``Alert-Query-Failure`` — ``WLMRejectedQueries / WLMAttemptedQueries > 0.05``.
    Neither metric exists, and provisioned WLM never rejects (queries wait). The
    ratio becomes metric math over ``Custom/DPC WLMFailedQueries`` (aborted +
    canceled + timed out + failed) and ``WLMAttemptedQueries`` with
    ``ClusterIdentifier``: ``failed / attempted`` of the ``Sum`` over Period
    3600 s, evaluated every minute ("over the last hour"), N = M = 1. An hour
    with no finished query has no ratio (division by zero is no datapoint):
    ``notBreaching``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from dpcsim.errors import InputError

__all__ = [
    "CLUSTER_ID",
    "DESIGN_ALARM_NAMES",
    "ENVIRONMENT",
    "REGION",
    "SNS_TOPIC",
    "dpc_design_alarms",
    "sns_topic_arn",
]

#: ``ClusterIdentifier`` of the DPC learning platform's cluster.
CLUSTER_ID: Final = "dpc-learning"
#: Region the cluster, its alarms and its dashboard live in (Tokyo).
REGION: Final = "ap-northeast-1"
#: ``Environment`` dimension of the custom ELT metric.
ENVIRONMENT: Final = "prod"
#: SNS topic every alarm notifies (Slack, PagerDuty, OpsGenie subscribe to it).
SNS_TOPIC: Final = "dpc-alerts"

DESIGN_ALARM_NAMES = (
    "Alert-ELT-Delay",
    "Alert-COPY-Error",
    "Alert-Storage-High",
    "Alert-WLM-Queue",
    "Alert-Query-Failure",
)


def sns_topic_arn(account_id: str, region: str = REGION, topic: str = SNS_TOPIC) -> str:
    """The ARN of SNS topic ``topic`` (default the design's ``dpc-alerts``).

    Examples
    --------
    >>> sns_topic_arn("123456789012")
    'arn:aws:sns:ap-northeast-1:123456789012:dpc-alerts'
    """
    if not re.fullmatch(r"\d{12}", account_id):
        raise InputError(f"account id {account_id!r}: expected 12 digits")
    return f"arn:aws:sns:{region}:{account_id}:{topic}"


def _dims(**pairs: str) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in sorted(pairs.items())]


def dpc_design_alarms(
    account_id: str = "123456789012",
    *,
    cluster_id: str = CLUSTER_ID,
    environment: str = ENVIRONMENT,
    region: str = REGION,
    topic: str = SNS_TOPIC,
    elt_definition: str = "StepFunctionsCompletion",
    elt_threshold_min: float = 90.0,
) -> list[dict[str, Any]]:
    """The five alarms of the design as PutMetricAlarm request objects.

    Parameters
    ----------
    account_id
        AWS account of the SNS topic (12 digits).
    cluster_id
        ``ClusterIdentifier`` dimension value.
    environment
        ``Environment`` dimension value of ``ELTExecutionDelay``.
    region, topic
        Region and name of the SNS topic every alarm notifies.
    elt_definition
        ``Definition`` dimension of ``ELTExecutionDelay``:
        ``StepFunctionsCompletion`` or ``MartTableUpdate``.
    elt_threshold_min
        ELT delay threshold [min] (the design's 90).
    """
    if elt_definition not in ("StepFunctionsCompletion", "MartTableUpdate"):
        raise InputError(
            f"elt_definition {elt_definition!r}: expected StepFunctionsCompletion or "
            "MartTableUpdate"
        )
    topic_arns = [sns_topic_arn(account_id, region, topic)]
    common = {"ActionsEnabled": True, "AlarmActions": topic_arns}
    cluster = _dims(ClusterIdentifier=cluster_id)
    failed, attempted = (
        {
            "Id": qid,
            "MetricStat": {
                "Metric": {
                    "Namespace": "Custom/DPC",
                    "MetricName": name,
                    "Dimensions": cluster,
                },
                "Period": 3600,
                "Stat": "Sum",
            },
            "ReturnData": False,
        }
        for qid, name in (
            ("failed", "WLMFailedQueries"),
            ("attempted", "WLMAttemptedQueries"),
        )
    )
    return [
        {
            "AlarmName": "Alert-ELT-Delay",
            "AlarmDescription": "ELT freshness: re-run Step Functions "
            "(Slack #dpc-alerts, PagerDuty).",
            **common,
            "InsufficientDataActions": topic_arns,
            "Namespace": "Custom/DPC",
            "MetricName": "ELTExecutionDelay",
            "Dimensions": _dims(Environment=environment, Definition=elt_definition),
            "Statistic": "Maximum",
            "Period": 300,
            "EvaluationPeriods": 2,
            "DatapointsToAlarm": 2,
            "Threshold": float(elt_threshold_min),
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "missing",
        },
        {
            "AlarmName": "Alert-COPY-Error",
            "AlarmDescription": "COPY wrote rows to STL_LOAD_ERRORS: fail the "
            "batch, page the owner (Slack, OpsGenie).",
            **common,
            "Namespace": "Custom/DPC",
            "MetricName": "CopyErrorCount",
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
        },
        {
            "AlarmName": "Alert-Storage-High",
            "AlarmDescription": "Disk above 80 %: VACUUM, move cold data to Spectrum "
            "(Slack, e-mail).",
            **common,
            "Namespace": "AWS/Redshift",
            "MetricName": "PercentageDiskSpaceUsed",
            "Dimensions": cluster,
            "Statistic": "Average",
            "Period": 3600,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 3,
            "Threshold": 80.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "missing",
        },
        {
            "AlarmName": "Alert-WLM-Queue",
            "AlarmDescription": "More than 10 queries queued in batch for 10 minutes: "
            "pause adhoc, favour batch (Slack).",
            **common,
            "Namespace": "AWS/Redshift",
            "MetricName": "WLMQueueLength",
            "Dimensions": _dims(ClusterIdentifier=cluster_id, QueueName="batch"),
            "Statistic": "Average",
            "Period": 60,
            "EvaluationPeriods": 10,
            "DatapointsToAlarm": 10,
            "Threshold": 10.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "missing",
        },
        {
            "AlarmName": "Alert-Query-Failure",
            "AlarmDescription": "More than 5 % of the queries that finished in "
            "the last hour failed (aborted, canceled, timed out, error): re-tune "
            "WLM (Slack).",
            **common,
            "Metrics": [
                failed,
                attempted,
                {
                    "Id": "ratio",
                    "Expression": "failed / attempted",
                    "Label": "failed / attempted queries",
                    "ReturnData": True,
                },
            ],
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": 0.05,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        },
    ]
