"""Where the design's pieces come from: the one place :mod:`dpcsim.emit` reads a design.

Everything emitted for "the design" (WLM configuration, alarms, dashboard,
cluster, region, SNS topic, time limits) is taken here, through the current
functions (:func:`dpcsim.designs.dpc_wlm.dpc_design_config`,
:func:`dpcsim.alarms.design.dpc_design_alarms`,
:func:`dpcsim.metrics.dashboard.dpc_design_dashboard`), so moving to a
``Design`` object is an edit of this module only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dpcsim.emit.wlm_json import QueueLimit
from dpcsim.wlm import WLMConfig

__all__ = ["DesignPieces", "design_pieces"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DesignPieces:
    """What emit needs from a design.

    Attributes
    ----------
    wlm
        The design's WLM configuration.
    alarms
        PutMetricAlarm requests.
    dashboard_body, dashboard_name
        The ``DashboardBody`` (a dict) and the name it is deployed under.
    cluster_id, region
        ``ClusterIdentifier`` and AWS region.
    sns_topic
        SNS topic name of the alarms.
    limits
        The design's time limits as QMR rules.
    timezone
        The design's local time zone (IANA).
    """

    wlm: WLMConfig
    alarms: tuple[dict[str, Any], ...]
    dashboard_body: dict[str, Any]
    dashboard_name: str
    cluster_id: str
    region: str
    sns_topic: str
    limits: tuple[QueueLimit, ...]
    timezone: str


def design_pieces(account_id: str = "123456789012") -> DesignPieces:
    """The DPC design's pieces (seed ``README.md``, the WLM table and alarms).

    The limits are the seed's: adhoc "timeout 30 minutes" (execution time) and
    batch "query queue timeout 2 hours" (time in the queue).
    """
    from dpcsim.alarms.design import dpc_design_alarms
    from dpcsim.designs.dpc_wlm import dpc_design_config
    from dpcsim.metrics.dashboard import DASHBOARD_NAME, dpc_design_dashboard

    return DesignPieces(
        wlm=dpc_design_config(),
        alarms=tuple(dpc_design_alarms(account_id)),
        dashboard_body=dpc_design_dashboard(),
        dashboard_name=DASHBOARD_NAME,
        cluster_id="dpc-learning",
        region="ap-northeast-1",
        sns_topic="dpc-alerts",
        limits=(
            QueueLimit(
                queue="adhoc",
                metric_name="query_execution_time",
                seconds=30 * 60,
                rule_name="adhoc_abort_30min",
            ),
            QueueLimit(
                queue="batch",
                metric_name="query_queue_time",
                seconds=2 * 3600,
                rule_name="batch_abort_2h",
            ),
        ),
        timezone="Asia/Tokyo",
    )
