"""The WLM configuration: model, AWS limits, JSON form, routing and the seed design.

:mod:`~dpcsim.wlm.config` holds the frozen dataclasses, :mod:`~dpcsim.wlm.limits`
the AWS limits, :mod:`~dpcsim.wlm.validate` the checks the dataclasses run,
:mod:`~dpcsim.wlm.codec` the ``wlm_json_configuration``
array form, :mod:`~dpcsim.wlm.routing` queue assignment, :mod:`~dpcsim.wlm.io`
reading and writing the JSON files and :mod:`~dpcsim.wlm.design` the DPC design.
"""

from __future__ import annotations

from dpcsim.wlm.config import (
    SUPERUSER_QUEUE,
    QMRPredicate,
    QMRRule,
    QueueConfig,
    SQAConfig,
    WLMConfig,
)
from dpcsim.wlm.describe import describe
from dpcsim.wlm.design import (
    DPC_ROLE_GROUPS,
    dpc_design_config,
    dpc_design_json,
    groups_for_user,
)
from dpcsim.wlm.io import read_wlm_config, write_wlm_json
from dpcsim.wlm.limits import WLMConfigError
from dpcsim.wlm.routing import (
    PATHS,
    RoutingResult,
    next_matching_queue,
    route,
    route_workload,
)

__all__ = [
    "DPC_ROLE_GROUPS",
    "PATHS",
    "SUPERUSER_QUEUE",
    "QMRPredicate",
    "QMRRule",
    "QueueConfig",
    "RoutingResult",
    "SQAConfig",
    "WLMConfig",
    "WLMConfigError",
    "describe",
    "dpc_design_config",
    "dpc_design_json",
    "groups_for_user",
    "next_matching_queue",
    "read_wlm_config",
    "route",
    "route_workload",
    "write_wlm_json",
]
