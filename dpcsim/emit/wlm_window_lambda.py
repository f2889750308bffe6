"""Lambda function that switches a cluster parameter group to one WLM window.

Deployed from ``schedule/`` (this file and ``windows.json`` beside it) and
invoked by an EventBridge Scheduler schedule per window with the input
``{"window": "<name>"}``. It sends the window's whole ``wlm_json_configuration``
to the one parameter group named in ``windows.json`` with ``ApplyType
dynamic`` (every property that differs between windows is dynamic; dpcsim
checks that before emitting), and refuses an event naming another group.
Standard library plus boto3 (present in the Lambda Python runtime).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WINDOWS_FILE = Path(__file__).with_name("windows.json")


def load_windows(path: Path = WINDOWS_FILE) -> dict[str, Any]:
    """Read ``windows.json``: ``parameter_group`` and ``windows`` (name -> value)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def handler(
    event: dict[str, Any],
    context: Any = None,
    *,
    client: Any = None,
    windows: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply the window named in ``event["window"]``; return what was sent."""
    spec = windows if windows is not None else load_windows()
    group = spec["parameter_group"]
    asked = event.get("parameter_group", group)
    if asked != group:
        raise ValueError(
            f"event names parameter group {asked!r}; this function only modifies "
            f"{group!r}"
        )
    name = event.get("window")
    if name not in spec["windows"]:
        raise ValueError(
            f"unknown window {name!r}; expected one of {sorted(spec['windows'])}"
        )
    if client is None:
        import boto3

        client = boto3.client("redshift")
    client.modify_cluster_parameter_group(
        ParameterGroupName=group,
        Parameters=[
            {
                "ParameterName": "wlm_json_configuration",
                "ParameterValue": spec["windows"][name],
                "ApplyType": "dynamic",
            }
        ],
    )
    return {"parameter_group": group, "window": name}
