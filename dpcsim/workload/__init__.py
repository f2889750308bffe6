"""The synthetic DPC workload: generator, faults and what-ifs.

:func:`generate_dpc_workload` turns a :class:`DPCWorkloadSpec` and a seed into a
canonical :class:`dpcsim.schema.Workload` modelling the seed's platform (nightly
ELT, maintenance, learners). The what-ifs in :mod:`dpcsim.workload.whatif`
transform any workload, generated or ingested.
"""

from __future__ import annotations

from dpcsim.workload.faults import Faults, parse_fault, parse_faults
from dpcsim.workload.generate import (
    FIRST_QUERY_ID,
    Observer,
    generate_dpc_workload,
    observe_wlm,
)
from dpcsim.workload.spec import JST, DPCWorkloadSpec

__all__ = [
    "FIRST_QUERY_ID",
    "JST",
    "DPCWorkloadSpec",
    "Faults",
    "Observer",
    "generate_dpc_workload",
    "observe_wlm",
    "parse_fault",
    "parse_faults",
]
