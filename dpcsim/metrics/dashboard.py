"""A validator of CloudWatch dashboard bodies against the PutDashboard rules.

The DPC design's dashboard is built in :mod:`dpcsim.designs.dpc_dashboard`
(re-exported here as :func:`dpc_design_dashboard`; the module docstring there
says how it departs from the design's JSON, and why).

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

from dpcsim.designs.dpc_dashboard import DASHBOARD_NAME, dpc_design_dashboard
from dpcsim.errors import InputError

__all__ = [
    "DASHBOARD_NAME",
    "dpc_design_dashboard",
    "validate_dashboard",
    "validate_dashboard_name",
]

_WIDGET_TYPES: Final = ("metric", "text", "log", "alarm", "explorer")
_VIEWS: Final = ("timeSeries", "singleValue", "gauge", "bar", "pie", "table")
_STAT: Final = re.compile(
    r"^(SampleCount|Average|Sum|Minimum|Maximum|IQM|p\d{1,2}(\.\d+)?|p100"
    r"|(tm|tc|ts|wm)\d{1,2}(\.\d+)?|(PR|TM|TC|TS|WM)\(.*\))$"
)
_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_LEGEND: Final = ("right", "bottom", "hidden")
_TZ: Final = re.compile(r"^[+-](0\d|1[0-4])[0-5]\d$")


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
