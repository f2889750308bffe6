"""The WLM configuration: model, AWS limits, JSON form and routing, for any design.

:mod:`~dpcsim.wlm.config` holds the frozen dataclasses, :mod:`~dpcsim.wlm.limits`
the AWS limits, :mod:`~dpcsim.wlm.validate` the checks the dataclasses run,
:mod:`~dpcsim.wlm.codec` the ``wlm_json_configuration``
array form, :mod:`~dpcsim.wlm.routing` queue assignment, :mod:`~dpcsim.wlm.io`
reading and writing the JSON files. No customer's design lives here: the DPC
design's WLM is :mod:`dpcsim.designs.dpc_wlm`.
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
    "next_matching_queue",
    "read_wlm_config",
    "route",
    "route_workload",
    "write_wlm_json",
]
