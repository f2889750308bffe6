"""PutMetricAlarm definitions: the model and its validation.

:func:`parse_alarm` takes one PutMetricAlarm request object (the JSON that
``aws cloudwatch put-metric-alarm --cli-input-json`` takes, or the Properties of an
``AWS::CloudWatch::Alarm``, which use the same names) and returns an
:class:`AlarmSpec`. Every rule of the CloudWatch API model is checked and a broken
rule raises :class:`~dpcsim.errors.InputError` naming the file, the alarm, the
field and the rule:

- AlarmName 1-255 characters; AlarmDescription <= 1024;
- Period 10, 20, 30 or a multiple of 60; EvaluationPeriods >= 1;
  DatapointsToAlarm in 1..EvaluationPeriods (default EvaluationPeriods);
- Period x EvaluationPeriods <= 86,400 s when Period < 3600 s, else <= 604,800 s;
- exactly one of MetricName / Metrics; Metrics not combined with Namespace,
  MetricName, Dimensions, Period, Unit, Statistic, ExtendedStatistic;
- exactly one of Statistic (enum) / ExtendedStatistic (``pNN``; the trimmed and
  winsorized statistics are not supported by dpcsim and rejected as such);
- ComparisonOperator one of the four static operators (the anomaly-band ones
  are rejected as unsupported); Threshold required;
- TreatMissingData, EvaluateLowSampleCountPercentile enums;
- Metrics: Ids ``^[a-z][a-zA-Z0-9_]*$`` and unique, exactly one ReturnData true,
  set explicitly; at most 10 MetricStat (all with the same period) and 10
  Expression queries; exactly one of MetricStat / Expression; Expression <=
  2048 characters;
- at most 5 ARNs per action list; at most 30 Dimensions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from dpcsim.alarms.aws_model import check_request_shape
from dpcsim.alarms.queries import (
    SINGLE_METRIC_KEYS,
    Ctx,
    MetricQuery,
    MetricStatSpec,
    evaluation_order,
    get_int,
    parse_math_queries,
    parse_single_metric,
)
from dpcsim.errors import InputError

__all__ = [
    "COMPARISON_OPERATORS",
    "TREAT_MISSING_DATA",
    "AlarmSpec",
    "MetricQuery",
    "MetricStatSpec",
    "evaluation_order",
    "parse_alarm",
    "request_metric_names",
]

Comparison = Literal[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
]
TreatMissing = Literal["missing", "ignore", "breaching", "notBreaching"]
COMPARISON_OPERATORS: Final[tuple[str, ...]] = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
_ANOMALY_OPERATORS: Final = (
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
)
TREAT_MISSING_DATA: Final[tuple[str, ...]] = (
    "missing",
    "ignore",
    "breaching",
    "notBreaching",
)
_KNOWN_KEYS: Final = frozenset(
    {
        *SINGLE_METRIC_KEYS,
        "AlarmName",
        "AlarmDescription",
        "ActionsEnabled",
        "OKActions",
        "AlarmActions",
        "InsufficientDataActions",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "EvaluateLowSampleCountPercentile",
        "Metrics",
        "Tags",
        "ThresholdMetricId",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmSpec:
    """A validated alarm: one metric (``metric``) or metric math (``queries``)."""

    name: str
    period_s: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: Comparison
    treat_missing_data: TreatMissing = "missing"
    evaluate_low_sample_percentile: bool = True
    metric: MetricStatSpec | None = None
    queries: tuple[MetricQuery, ...] = ()
    request: Mapping[str, Any] = field(default_factory=dict)  # the PutMetricAlarm input

    def __post_init__(self) -> None:
        if (self.metric is None) == (not self.queries):
            raise InputError(f"alarm {self.name!r}: exactly one of metric / queries")
        if not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise InputError(f"alarm {self.name!r}: need 1 <= M <= N")

    @property
    def is_math(self) -> bool:
        """True for a metric-math alarm."""
        return bool(self.queries)


def _check_name(req: Mapping[str, Any], ctx: Ctx) -> str:
    name = req.get("AlarmName")
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise ctx.fail(
            "AlarmName", f"bad value {name!r}: expected a string of 1-255 chars"
        )
    if not name.isascii():
        raise ctx.fail("AlarmName", f"bad value {name!r}: alarm names must be ASCII")
    desc = req.get("AlarmDescription", "")
    if not isinstance(desc, str) or len(desc) > 1024:
        raise ctx.fail(
            "AlarmDescription", "expected a string of at most 1024 characters"
        )
    return name


def _check_actions(req: Mapping[str, Any], ctx: Ctx) -> None:
    for key in ("OKActions", "AlarmActions", "InsufficientDataActions"):
        actions = req.get(key, [])
        if not isinstance(actions, list) or not all(
            isinstance(a, str) for a in actions
        ):
            raise ctx.fail(
                key, f"bad value {actions!r}: expected a list of ARN strings"
            )
        if len(actions) > 5:
            raise ctx.fail(key, f"{len(actions)} actions: at most 5 are allowed")


def _operator(req: Mapping[str, Any], ctx: Ctx) -> Comparison:
    op = req.get("ComparisonOperator")
    if op in _ANOMALY_OPERATORS:
        raise ctx.fail(
            "ComparisonOperator",
            f"{op!r} needs an anomaly detection band, which dpcsim does not evaluate; "
            f"use one of {COMPARISON_OPERATORS}",
        )
    if op not in COMPARISON_OPERATORS:
        raise ctx.fail(
            "ComparisonOperator", f"bad value {op!r}: expected {COMPARISON_OPERATORS}"
        )
    return cast(Comparison, op)


def parse_alarm(
    request: Mapping[str, Any], *, source: str = "<alarms>", where: str = "alarm"
) -> AlarmSpec:
    """Validate one PutMetricAlarm request and return its :class:`AlarmSpec`.

    Parameters
    ----------
    request
        The request object (keys as PutMetricAlarm names them).
    source
        File name for error messages.
    where
        Position of the alarm in the file, for error messages (the alarm name is
        added as soon as it is known).
    """
    if not isinstance(request, Mapping):
        raise InputError(f"bad value {request!r}: expected an object", source=source)
    ctx = Ctx(source, where)
    name = _check_name(request, ctx)
    ctx = Ctx(source, f"{where} {name!r}")
    checked = check_request_shape(request, ctx)
    unknown = sorted(set(request) - _KNOWN_KEYS)
    if unknown and checked:
        raise ctx.fail(
            str(unknown),
            "PutMetricAlarm member(s) that CloudWatch has but dpcsim does not "
            "evaluate; remove them to back-test the alarm",
        )
    if unknown:
        raise ctx.fail(str(unknown), "unknown PutMetricAlarm member(s)")
    for key in ("ThresholdMetricId", "EvaluationCriteria"):
        if key in request:
            raise ctx.fail(key, "anomaly-detection and PromQL alarms are not supported")
    if ("MetricName" in request) == ("Metrics" in request):
        raise ctx.fail(
            "MetricName/Metrics", "exactly one of MetricName or Metrics is required"
        )
    _check_actions(request, ctx)
    metric: MetricStatSpec | None = None
    queries: tuple[MetricQuery, ...] = ()
    if "Metrics" in request:
        queries, period = parse_math_queries(request, ctx)
    else:
        metric = parse_single_metric(request, ctx)
        period = metric.period_s
    return _assemble(request, ctx, name, period, metric, queries)


def _assemble(
    req: Mapping[str, Any],
    ctx: Ctx,
    name: str,
    period: int,
    metric: MetricStatSpec | None,
    queries: tuple[MetricQuery, ...],
) -> AlarmSpec:
    """Check the evaluation members and build the spec."""
    if "EvaluationPeriods" not in req:
        raise ctx.fail("EvaluationPeriods", "required (an integer >= 1)")
    n = get_int(req, "EvaluationPeriods", ctx)
    m = get_int(req, "DatapointsToAlarm", ctx) if "DatapointsToAlarm" in req else n
    if m > n:
        raise ctx.fail(
            "DatapointsToAlarm", f"{m} > EvaluationPeriods {n}: need 1 <= M <= N"
        )
    limit = 86_400 if period < 3600 else 604_800
    if period * n > limit:
        raise ctx.fail(
            "EvaluationPeriods",
            f"Period {period} x EvaluationPeriods {n} = {period * n} s "
            f"exceeds {limit} s",
        )
    if "Threshold" not in req:
        raise ctx.fail("Threshold", "required for a static-threshold alarm")
    try:
        threshold = float(req["Threshold"])
    except (TypeError, ValueError):
        raise ctx.fail(
            "Threshold", f"bad value {req['Threshold']!r}: expected a number"
        ) from None
    treat = req.get("TreatMissingData", "missing")
    if treat not in TREAT_MISSING_DATA:
        raise ctx.fail(
            "TreatMissingData", f"bad value {treat!r}: expected {TREAT_MISSING_DATA}"
        )
    low = req.get("EvaluateLowSampleCountPercentile", "evaluate")
    if low not in ("evaluate", "ignore"):
        raise ctx.fail("EvaluateLowSampleCountPercentile", f"bad value {low!r}")
    return AlarmSpec(
        name=name,
        period_s=period,
        evaluation_periods=n,
        datapoints_to_alarm=m,
        threshold=threshold,
        comparison=_operator(req, ctx),
        treat_missing_data=treat,
        evaluate_low_sample_percentile=low == "evaluate",
        metric=metric,
        queries=queries,
        request=dict(req),
    )


def request_metric_names(request: Mapping[str, Any]) -> list[str]:
    """The metrics a PutMetricAlarm request reads: its ``MetricName``, or the
    ``MetricStat`` metrics of its metric-math queries."""
    names = [str(request["MetricName"])] if "MetricName" in request else []
    for query in request.get("Metrics", []):
        if "MetricStat" in query:
            names.append(str(query["MetricStat"]["Metric"]["MetricName"]))
    return names
