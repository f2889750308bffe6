"""The WLM engine: a fast SimPy model of Redshift workload management.

:func:`simulate` runs a canonical workload through a
:class:`~dpcsim.wlm.WLMConfig` on a cluster described by
:class:`ClusterSettings` (read from TOML with :func:`read_cluster_settings`) and
returns a :class:`SimResult`; :func:`simulate_stream` gives the same results
slice by slice for a workload read in chunks, in memory bounded by the busy
periods rather than the run length. The semantics follow the facts sheet, section 2;
each module's docstring documents its part of the model.
"""

from __future__ import annotations

from dpcsim.engine.result import SimResult
from dpcsim.engine.settings import ClusterSettings, read_cluster_settings
from dpcsim.engine.simulate import simulate
from dpcsim.engine.stream import dynamic_sqa_max_s, simulate_stream

__all__ = [
    "ClusterSettings",
    "SimResult",
    "dynamic_sqa_max_s",
    "read_cluster_settings",
    "simulate",
    "simulate_stream",
]
