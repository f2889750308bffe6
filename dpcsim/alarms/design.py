"""The DPC design's five alarms, now kept with the design (:mod:`dpcsim.designs`).

Re-exports :mod:`dpcsim.designs.dpc_alarms` for callers of ``dpcsim.alarms``.
"""

from __future__ import annotations

from dpcsim.designs.dpc_alarms import (
    DESIGN_ALARM_NAMES,
    dpc_design_alarms,
    sns_topic_arn,
)

__all__ = ["DESIGN_ALARM_NAMES", "dpc_design_alarms", "sns_topic_arn"]
