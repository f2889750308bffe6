"""Read ``recommend/recommendation.json`` and the ``--current`` file.

The recommendation's shape (the recommender's contract)::

    {"verdict": {"holds": bool, "text": str},
     "baseline_config_id": str, "recommended_config_id": str,
     "recommended": {"wlm_json": [...], "max_concurrency_scaling_clusters": int,
                     "auto_wlm_json": [...]?,      # when auto WLM was evaluated
                     "schedule": {...}?,           # see dpcsim.emit.schedule
                     "alarms": [PutMetricAlarm, ...]?},  # e.g. a guarded ratio
     "recommendations": [...]}

``--current`` is a ``wlm.json`` (the array) or the output of ``aws redshift
describe-cluster-parameters``; from the latter the other parameters' values are
read too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpcsim.emit.jsonfile import read_json_file
from dpcsim.emit.schedule import Schedule, parse_schedule
from dpcsim.errors import InputError
from dpcsim.wlm import WLMConfig, read_wlm_config

__all__ = ["Recommendation", "read_current", "read_recommendation"]


@dataclass(frozen=True, kw_only=True)
class Recommendation:
    """What emit takes from a recommendation."""

    wlm: WLMConfig
    max_concurrency_scaling_clusters: int | None
    auto_wlm: WLMConfig | None
    schedule: Schedule | None
    alarms: tuple[dict[str, Any], ...]
    verdict: str


def read_recommendation(path: str | Path) -> Recommendation:
    """Read and validate ``recommendation.json``.

    Raises
    ------
    InputError
        Naming the file and the key that is missing or invalid.
    """
    source = str(path)
    data = read_json_file(path)
    rec = data.get("recommended") if isinstance(data, dict) else None
    if not isinstance(rec, dict) or "wlm_json" not in rec:
        raise InputError(
            'expected an object with "recommended": {"wlm_json": [...], ...}',
            source=source,
        )
    wlm = WLMConfig.from_json(rec["wlm_json"], source=f"{source} recommended.wlm_json")
    max_cs = rec.get("max_concurrency_scaling_clusters")
    if max_cs is not None and (isinstance(max_cs, bool) or not isinstance(max_cs, int)):
        raise InputError(
            f"recommended.max_concurrency_scaling_clusters {max_cs!r}: expected an "
            "integer",
            source=source,
        )
    auto = rec.get("auto_wlm_json")
    auto_wlm = (
        None
        if auto is None
        else WLMConfig.from_json(auto, source=f"{source} recommended.auto_wlm_json")
    )
    sched = rec.get("schedule")
    schedule = (
        None
        if sched is None
        else parse_schedule(sched, source=f"{source} recommended.schedule")
    )
    alarms = rec.get("alarms", [])
    if not isinstance(alarms, list) or not all(isinstance(a, dict) for a in alarms):
        raise InputError(
            "recommended.alarms: expected a list of PutMetricAlarm objects",
            source=source,
        )
    verdict = data.get("verdict", {})
    text = verdict.get("text", "") if isinstance(verdict, dict) else ""
    return Recommendation(
        wlm=wlm,
        max_concurrency_scaling_clusters=max_cs,
        auto_wlm=auto_wlm,
        schedule=schedule,
        alarms=tuple(alarms),
        verdict=str(text),
    )


def read_current(path: str | Path) -> tuple[WLMConfig, dict[str, str] | None]:
    """The current WLM configuration and, from describe output, other values."""
    path = Path(path)
    config = read_wlm_config(path)
    data = read_json_file(path)
    if not isinstance(data, dict):
        return config, None
    values = {
        str(p["ParameterName"]): str(p["ParameterValue"])
        for p in data.get("Parameters", [])
        if isinstance(p, dict) and "ParameterName" in p and "ParameterValue" in p
    }
    return config, values
