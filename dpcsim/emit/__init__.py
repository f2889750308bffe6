"""Deployable outputs: WLM JSON, parameter group change, alarms, dashboard,
schedule, CloudFormation, CHANGES.md, and a safe deploy.

Pure functions build dicts (:mod:`~dpcsim.emit.wlm_json`,
:mod:`~dpcsim.emit.parameter_group`, :mod:`~dpcsim.emit.alarms`,
:mod:`~dpcsim.emit.dashboard`, :mod:`~dpcsim.emit.schedule`,
:mod:`~dpcsim.emit.cloudformation`, :mod:`~dpcsim.emit.changes`), each with
its offline check; :mod:`~dpcsim.emit.write` is the one canonical JSON writer
and file writer; :mod:`~dpcsim.emit.bundle` puts them together
(:func:`build_bundle`, :func:`emit`); :mod:`~dpcsim.emit.deploy` applies a
written folder with boto3. The design's pieces are read in one place,
:mod:`~dpcsim.emit.source`.
"""

from __future__ import annotations

from dpcsim.emit.alarms import TuningRow, read_tuning
from dpcsim.emit.bundle import Bundle, EmitInputs, build_bundle, emit
from dpcsim.emit.source import DesignPieces, design_pieces
from dpcsim.emit.wlm_json import QueueLimit, log_rules, parse_limit
from dpcsim.emit.write import canonical_json, write_files

__all__ = [
    "Bundle",
    "DesignPieces",
    "EmitInputs",
    "QueueLimit",
    "TuningRow",
    "build_bundle",
    "canonical_json",
    "design_pieces",
    "emit",
    "log_rules",
    "parse_limit",
    "read_tuning",
    "write_files",
]
