"""The PutDashboard input: the design's widgets plus the ones the run showed to matter.

:func:`with_wait_widget` adds a widget of ``WLMQueueWaitTime`` per queue
(``Maximum`` and ``Average`` over 300 s, the metric's 5-minute cadence; the
unit is milliseconds) below the existing widgets: the simulation ranks the
adhoc wait as the first thing to degrade under load, and the design's
dashboard does not show any wait. :func:`dashboard_request` wraps a body as
``{"DashboardName": ..., "DashboardBody": "<JSON string>"}`` for ``aws
cloudwatch put-dashboard --cli-input-json``.

:func:`check_dashboard` runs dpcsim's dashboard checks
(:func:`dpcsim.metrics.dashboard.validate_dashboard`), the grid rules that
check does not cover (24 columns: ``x + width <= 24``; no two widgets overlap)
and the metric catalogue on every metric row (``"."`` repeats the previous
row's value, as CloudWatch reads it).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from dpcsim.emit.botocheck import validate_input
from dpcsim.emit.catalog import REDSHIFT_NAMESPACE, check_metric
from dpcsim.errors import InputError
from dpcsim.metrics.dashboard import validate_dashboard, validate_dashboard_name

__all__ = [
    "GRID_COLUMNS",
    "check_dashboard",
    "dashboard_request",
    "with_wait_widget",
]

GRID_COLUMNS: Final = 24
_DEFAULT_SIZE: Final = 6


def with_wait_widget(
    body: Mapping[str, Any],
    *,
    queues: Sequence[str],
    cluster_id: str,
    region: str,
    title: str = "WLM queue wait time [ms]",
) -> dict[str, Any]:
    """Return ``body`` with a ``WLMQueueWaitTime`` widget per ``queues`` added.

    The widget spans the full width under the lowest existing widget. A body
    that already plots ``WLMQueueWaitTime`` is returned unchanged.
    """
    out = copy.deepcopy(dict(body))
    widgets = out.setdefault("widgets", [])
    if any("WLMQueueWaitTime" in json.dumps(w) for w in widgets):
        return out
    bottom = max(
        (int(w.get("y", 0)) + int(w.get("height", _DEFAULT_SIZE)) for w in widgets),
        default=0,
    )
    metrics: list[list[Any]] = [
        [
            REDSHIFT_NAMESPACE,
            "WLMQueueWaitTime",
            "ClusterIdentifier",
            cluster_id,
            "QueueName",
            name,
            {"stat": stat, "label": f"{name} {stat.lower()}"},
        ]
        for name in queues
        for stat in ("Maximum", "Average")
    ]
    widgets.append(
        {
            "type": "metric",
            "x": 0,
            "y": bottom,
            "width": GRID_COLUMNS,
            "height": _DEFAULT_SIZE,
            "properties": {
                "title": title,
                "metrics": metrics,
                "period": 300,
                "stat": "Maximum",
                "region": region,
                "view": "timeSeries",
            },
        }
    )
    return out


def dashboard_request(name: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The PutDashboard input; ``DashboardBody`` is the body as a JSON string."""
    validate_dashboard_name(name)
    return {
        "DashboardName": name,
        "DashboardBody": json.dumps(body, sort_keys=True, separators=(",", ":")),
    }


def check_dashboard(request: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    """Check a PutDashboard input offline; return the decoded body.

    Raises
    ------
    InputError
        botocore's report, a body that is not a JSON object string, a widget
        that breaks the PutDashboard rules, leaves the 24-column grid or
        overlaps another, or a metric that is not published.
    """
    validate_input("cloudwatch", "PutDashboard", request, source=source)
    validate_dashboard_name(str(request.get("DashboardName")))
    text = request.get("DashboardBody")
    if not isinstance(text, str):
        raise InputError(
            f"DashboardBody {type(text).__name__}: expected the body as a JSON string",
            source=source,
        )
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"DashboardBody is not JSON: {exc}", source=source) from None
    validate_dashboard(body, source=source)
    _check_grid(body["widgets"], source)
    for i, widget in enumerate(body["widgets"]):
        if widget.get("type") == "metric":
            _check_widget_metrics(widget, f"{source} widgets[{i}]")
    return dict(body)


def _check_grid(widgets: Sequence[Mapping[str, Any]], source: str) -> None:
    """Every placed widget fits in 24 columns and no two overlap."""
    boxes: list[tuple[int, tuple[int, int, int, int]]] = []
    for i, w in enumerate(widgets):
        if "x" not in w:
            continue  # CloudWatch places widgets without x/y itself
        x, y = int(w["x"]), int(w["y"])
        width = int(w.get("width", _DEFAULT_SIZE))
        height = int(w.get("height", _DEFAULT_SIZE))
        if x + width > GRID_COLUMNS:
            raise InputError(
                f"widgets[{i}] x={x} + width={width} = {x + width}; the grid has "
                f"{GRID_COLUMNS} columns",
                source=source,
            )
        for j, (bx, by, bw, bh) in boxes:
            if x < bx + bw and bx < x + width and y < by + bh and by < y + height:
                raise InputError(
                    f"widgets[{i}] at x={x}, y={y} ({width}x{height}) overlaps "
                    f"widgets[{j}] at x={bx}, y={by} ({bw}x{bh})",
                    source=source,
                )
        boxes.append((i, (x, y, width, height)))


def _check_widget_metrics(widget: Mapping[str, Any], where: str) -> None:
    """Every metric row names a published metric and dimension set."""
    previous: list[Any] = []
    for j, row in enumerate(widget.get("properties", {}).get("metrics", [])):
        names = [v for v in row if not isinstance(v, Mapping)]
        if not names:
            continue  # an expression row
        resolved = [
            previous[k] if v == "." and k < len(previous) else v
            for k, v in enumerate(names)
        ]
        previous = resolved
        dims = resolved[2::2]
        check_metric(
            str(resolved[0]),
            str(resolved[1]),
            [str(d) for d in dims],
            where=f"{where}.metrics[{j}]",
        )
