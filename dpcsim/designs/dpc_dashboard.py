"""The DPC design's CloudWatch dashboard, re-expressed on real metrics.

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

:func:`dpcsim.metrics.dashboard.validate_dashboard` checks the body against the
PutDashboard rules.
"""

from __future__ import annotations

from typing import Any, Final

from dpcsim.designs.dpc_alarms import CLUSTER_ID, ENVIRONMENT, REGION

__all__ = ["DASHBOARD_NAME", "dpc_design_dashboard"]

#: Name the design's dashboard is deployed under.
DASHBOARD_NAME: Final = "dpc-learning-observability"


def dpc_design_dashboard(
    *,
    cluster_id: str = CLUSTER_ID,
    region: str = REGION,
    environment: str = ENVIRONMENT,
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
