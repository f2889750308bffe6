"""The design's CloudWatch dashboard, re-expressed on real metrics, and a validator.

:func:`dpc_design_dashboard` returns the ``DashboardBody`` of the design's five
widgets (a packaged copy is ``dpcsim/data/dpc_design_dashboard.json``). Changes
from the design's JSON, and why:

* **WLM queue length**: the design plots ``WLMQueueLength`` with ``Sum`` over
  300 s. The metric is a per-minute gauge, so that sum adds five samples of a
  length (5 queued for 5 minutes shows as 25): it is not a length. The widget
  plots ``Maximum`` (the peak backlog; a 5-minute maximum above 10 is the
  first sign of ``Alert-WLM-Queue``, which needs ten 1-minute ``Average``
  values above 10) and ``Average`` (the typical backlog) for ``batch`` and
  ``adhoc``, with
  the real dimension set ``ClusterIdentifier`` + ``QueueName`` (a metric is
  found only under its exact dimension set) and the alarm threshold as a line.
* Every metric widget gets ``region`` (required by PutDashboard) and the
  ``ClusterIdentifier`` dimension where the metric has it.
* **ELT delay**: ``Custom/DPC ELTExecutionDelay`` is published under both
  candidate definitions (``Definition`` dimension, see
  :mod:`dpcsim.metrics.custom`); both are plotted, ``Maximum`` over 300 s, with
  the 90-minute threshold.
* **Storage**: ``PercentageDiskSpaceUsed`` ``Average`` over 3600 s as designed,
  with the 80 % threshold (the design's ``RedshiftStorageCapacity`` does not
  exist).
* **Logs Insights**: the 20 newest ``ERROR`` lines of
  ``/aws/redshift/cluster/dpc-learning``, with the ``region`` a log widget needs.

:func:`validate_dashboard` checks any body against the PutDashboard rules
(``widgets`` 0..500; ``type``; ``x`` 0..23 and ``y`` >= 0, each required with
the other; ``width`` 1..24; ``height`` 1..1000; ``region`` on metric and log
widgets; periods multiples of 60; metric arrays well formed; a ``gauge`` view
with ``yAxis.left`` min and max; an alarm annotation of exactly one ARN and no
``metrics``; ``legend.position`` right/bottom/hidden; ``timezone`` ``+HHMM``;
a text widget's ``background`` solid/transparent).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, NoReturn

from dpcsim.errors import InputError

__all__ = [
    "DASHBOARD_NAME",
    "dpc_design_dashboard",
    "validate_dashboard",
    "validate_dashboard_name",
]

#: Name the design's dashboard is deployed under.
DASHBOARD_NAME: Final = "dpc-learning-observability"
_REGION: Final = "ap-northeast-1"
_CLUSTER: Final = "dpc-learning"
_WIDGET_TYPES: Final = ("metric", "text", "log", "alarm", "explorer")
_VIEWS: Final = ("timeSeries", "singleValue", "gauge", "bar", "pie", "table")
_STAT: Final = re.compile(
    r"^(SampleCount|Average|Sum|Minimum|Maximum|IQM|p\d{1,2}(\.\d+)?|p100"
    r"|(tm|tc|ts|wm)\d{1,2}(\.\d+)?|(PR|TM|TC|TS|WM)\(.*\))$"
)
_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_LEGEND: Final = ("right", "bottom", "hidden")
_TZ: Final = re.compile(r"^[+-](0\d|1[0-4])[0-5]\d$")


def dpc_design_dashboard(
    *, cluster_id: str = _CLUSTER, region: str = _REGION, environment: str = "prod"
) -> dict[str, Any]:
    """The design's dashboard body on real metric names (see the module docstring).

    Returns
    -------
    dict
        A ``DashboardBody`` that passes :func:`validate_dashboard`.
    """
    ci = ["ClusterIdentifier", cluster_id]
    queue = [
        ["AWS/Redshift", "WLMQueueLength", *ci, "QueueName", name, {"stat": stat,
         "label": f"{name} {stat.lower()}"}]
        for name in ("batch", "adhoc") for stat in ("Maximum", "Average")
    ]  # fmt: skip
    delay = [
        ["Custom/DPC", "ELTExecutionDelay", "Definition", d, "Environment",
         environment, {"label": d}]
        for d in ("StepFunctionsCompletion", "MartTableUpdate")
    ]  # fmt: skip
    log_query = (
        f"SOURCE '/aws/redshift/cluster/{cluster_id}' | fields @timestamp, @message"
        " | filter @message like 'ERROR' | sort @timestamp desc | limit 20"
    )
    widgets = [
        _metric(0, 0, "Redshift WLM Queue Length", queue, 300, "Maximum", region,
                threshold=("Alert-WLM-Queue (batch)", 10.0)),
        _metric(12, 0, "Concurrency Scaling Usage",
                [["AWS/Redshift", "ConcurrencyScalingActiveClusters", *ci]],
                300, "Average", region),
        _metric(0, 6, "Storage Utilization",
                [["AWS/Redshift", "PercentageDiskSpaceUsed", *ci]], 3600, "Average",
                region, threshold=("Alert-Storage-High", 80.0)),
        _metric(12, 6, "ELT Execution Delay [min]", delay, 300, "Maximum", region,
                threshold=("Alert-ELT-Delay", 90.0)),
        {"type": "log", "x": 0, "y": 12, "width": 24, "height": 6,
         "properties": {"query": log_query, "region": region,
                        "title": "Redshift Error Logs", "view": "table"}},
    ]  # fmt: skip
    return {"widgets": widgets}


def validate_dashboard(body: Mapping[str, Any], *, source: str = "<dashboard>") -> None:
    """Check a ``DashboardBody`` against the PutDashboard rules.

    Raises
    ------
    InputError
        Naming ``source``, the widget index and field (e.g.
        ``widgets[2].properties.region``), the bad value and what is allowed.
    """
    if not isinstance(body, Mapping):
        _fail(source, "body", body, "a JSON object")
    widgets = body.get("widgets")
    if not isinstance(widgets, list) or len(widgets) > 500:
        _fail(source, "widgets", widgets, "a list of 0..500 widgets")
    if "periodOverride" in body and body["periodOverride"] not in ("auto", "inherit"):
        _fail(source, "periodOverride", body["periodOverride"], "'auto' or 'inherit'")
    for i, widget in enumerate(widgets):
        _check_widget(widget, f"widgets[{i}]", source)


def validate_dashboard_name(name: str) -> None:
    """Check a ``DashboardName`` (1..255 of ``A-Za-z0-9-_``)."""
    if not isinstance(name, str) or not _NAME.match(name):
        _fail("<dashboard>", "DashboardName", name, "1..255 characters of A-Za-z0-9-_")


def _metric(
    x: int,
    y: int,
    title: str,
    metrics: list[list[Any]],
    period: int,
    stat: str,
    region: str,
    *,
    threshold: tuple[str, float] | None = None,
) -> dict[str, Any]:
    """One 12×6 metric widget."""
    props: dict[str, Any] = {
        "title": title,
        "metrics": metrics,
        "period": period,
        "stat": stat,
        "region": region,
        "view": "timeSeries",
    }
    if threshold is not None:
        label, value = threshold
        props["annotations"] = {"horizontal": [{"label": label, "value": value}]}
    return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": props}  # fmt: skip


def _check_widget(widget: Any, where: str, source: str) -> None:
    """Check one widget's layout fields and its properties."""
    if not isinstance(widget, Mapping):
        _fail(source, where, widget, "a JSON object")
    kind = widget.get("type")
    if kind not in _WIDGET_TYPES:
        _fail(source, f"{where}.type", kind, f"one of {list(_WIDGET_TYPES)}")
    if ("x" in widget) != ("y" in widget):
        missing = "y" if "x" in widget else "x"
        _fail(source, f"{where}.{missing}", None, "present when the other of x/y is")
    for key, lo, hi in (("x", 0, 23), ("y", 0, None), ("width", 1, 24),
                        ("height", 1, 1000)):  # fmt: skip
        if key in widget:
            _check_int(widget[key], lo, hi, source, f"{where}.{key}")
    props = widget.get("properties", {})
    if not isinstance(props, Mapping):
        _fail(source, f"{where}.properties", props, "a JSON object")
    where = f"{where}.properties"
    if kind == "metric":
        _check_metric_props(props, where, source)
    elif kind == "log":
        _check_region(props, where, source)
        if not isinstance(props.get("query"), str) or not props["query"]:
            _fail(source, f"{where}.query", props.get("query"), "a Logs Insights query")
    elif kind == "text":
        if not isinstance(props.get("markdown"), str):
            _fail(source, f"{where}.markdown", props.get("markdown"), "markdown")
        if props.get("background", "solid") not in ("solid", "transparent"):
            _fail(source, f"{where}.background", props["background"],
                  "'solid' or 'transparent'")  # fmt: skip
    elif kind == "alarm":
        alarms = props.get("alarms")
        if not isinstance(alarms, list) or not 1 <= len(alarms) <= 100:
            _fail(source, f"{where}.alarms", alarms, "a list of 1..100 alarm ARNs")


def _check_metric_props(props: Mapping[str, Any], where: str, source: str) -> None:
    """Check a metric widget's properties."""
    _check_region(props, where, source)
    _check_period(props.get("period"), f"{where}.period", source)
    if "stat" in props and not _is_stat(props["stat"]):
        _fail(source, f"{where}.stat", props["stat"], "a CloudWatch statistic")
    if "view" in props and props["view"] not in _VIEWS:
        _fail(source, f"{where}.view", props["view"], f"one of {list(_VIEWS)}")
    _check_display(props, where, source)
    annotations = props.get("annotations")
    if isinstance(annotations, Mapping) and "alarms" in annotations:
        alarms = annotations["alarms"]
        if not isinstance(alarms, list) or len(alarms) != 1:
            _fail(source, f"{where}.annotations.alarms", alarms, "one alarm ARN")
        if "metrics" in props:
            _fail(source, f"{where}.metrics", "...", "absent with an alarm annotation")
        return
    metrics = props.get("metrics")
    if not isinstance(metrics, list) or len(metrics) > 500:
        _fail(source, f"{where}.metrics", metrics, "a list of 0..500 metric arrays")
    for j, row in enumerate(metrics):
        _check_metric_row(row, f"{where}.metrics[{j}]", source)


def _check_display(props: Mapping[str, Any], where: str, source: str) -> None:
    """``gauge`` needs ``yAxis.left`` min and max; legend and timezone enums."""
    if props.get("view") == "gauge":
        y_axis = props.get("yAxis")
        left = y_axis.get("left") if isinstance(y_axis, Mapping) else None
        if not isinstance(left, Mapping) or not {"min", "max"} <= set(left):
            _fail(source, f"{where}.yAxis.left", left, "min and max for a gauge")
    legend = props.get("legend")
    if legend is not None:
        position = legend.get("position") if isinstance(legend, Mapping) else legend
        if position not in _LEGEND:
            _fail(source, f"{where}.legend.position", position, f"one of {_LEGEND}")
    zone = props.get("timezone")
    if zone is not None and not (isinstance(zone, str) and _TZ.match(zone)):
        _fail(source, f"{where}.timezone", zone, "+HHMM or -HHMM")


def _check_metric_row(row: Any, where: str, source: str) -> None:
    """``[Namespace, MetricName, DimName, DimValue, ..., {options}]`` or expression."""
    if not isinstance(row, list) or not row:
        _fail(source, where, row, "a non-empty array")
    options = row[-1] if isinstance(row[-1], Mapping) else None
    names = row[:-1] if options is not None else row
    if options is not None and "expression" in options and not names:
        return
    if len(names) < 2 or len(names) % 2 or not all(isinstance(s, str) for s in names):
        expected = "[Namespace, MetricName, (DimName, DimValue)*, {options}?]"
        _fail(source, where, row, expected)
    if options is not None:
        if "stat" in options and not _is_stat(options["stat"]):
            _fail(source, f"{where}.stat", options["stat"], "a CloudWatch statistic")
        _check_period(options.get("period"), f"{where}.period", source)


def _check_region(props: Mapping[str, Any], where: str, source: str) -> None:
    """``region`` is required and looks like ``ap-northeast-1``."""
    region = props.get("region")
    if not isinstance(region, str) or not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", region):
        _fail(source, f"{where}.region", region, "an AWS region such as ap-northeast-1")


def _check_period(value: Any, where: str, source: str) -> None:
    """A period, when given, is a positive multiple of 60 [s]."""
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value <= 0
        or value % 60
    ):
        _fail(source, where, value, "a positive multiple of 60 seconds")


def _check_int(value: Any, lo: int, hi: int | None, source: str, where: str) -> None:
    """An integer in ``lo..hi`` (no upper bound when ``hi`` is None)."""
    bad = isinstance(value, bool) or not isinstance(value, int) or value < lo
    if bad or (hi is not None and value > hi):
        _fail(
            source,
            where,
            value,
            f"an integer {lo}..{hi}" if hi is not None else f"an integer >= {lo}",
        )


def _is_stat(value: Any) -> bool:
    """Whether ``value`` is a statistic name CloudWatch accepts."""
    return isinstance(value, str) and bool(_STAT.match(value))


def _fail(source: str, where: str, value: Any, expected: str) -> NoReturn:
    """Raise the InputError for one bad dashboard field."""
    raise InputError(f"{where}={value!r}; expected {expected}", source=source,
                     location=where)  # fmt: skip
