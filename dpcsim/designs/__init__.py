"""Customers' designs as data: WLM, alarms, dashboard, role map, ELT contract.

Generic code takes a :class:`Design`'s values as arguments and never
hard-codes a customer. :func:`load_design` returns the DPC design
(:mod:`dpcsim.designs.dpc`, the default) or one read from a TOML file or a
Python module; :mod:`dpcsim.designs.read` documents the TOML format and
``example/design.toml`` next to it is a complete example.
"""

from __future__ import annotations

from functools import lru_cache

from dpcsim.designs.design import AlarmRequests, Design, ELTContract, RedsetRule
from dpcsim.designs.dpc import DPC_ELT, DPC_REDSET_RULE, dpc_design
from dpcsim.designs.read import load_design

__all__ = [
    "DPC_ELT",
    "DPC_REDSET_RULE",
    "AlarmRequests",
    "Design",
    "ELTContract",
    "RedsetRule",
    "default_design",
    "dpc_design",
    "load_design",
]


@lru_cache(maxsize=1)
def default_design() -> Design:
    """The design used when none is given: the DPC design (built once)."""
    return dpc_design()
