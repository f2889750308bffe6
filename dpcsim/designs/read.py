"""Read a design from a TOML file or a Python module (``--design FILE``).

TOML format (paths are relative to the TOML file)::

    name = "acme"                       # short name
    cluster_id = "acme-dw"              # ClusterIdentifier
    region = "us-east-1"                # AWS Region
    environment = "prod"                # Environment dimension of ELTExecutionDelay
    sns_topic = "acme-alerts"           # topic name the alarms notify
    wlm = "wlm.json"                    # wlm_json_configuration (see dpcsim wlm check)
    alarms = "alarms.json"              # optional: PutMetricAlarm requests (JSON
                                        # list); "${AccountId}" in a string is
                                        # replaced by the account id (--account)
    dashboard = "dashboard.json"        # optional: the DashboardBody

    [role_groups]                       # IAM role -> database groups
    acme-etl = ["etl"]

    [elt]                               # the ELT contract
    queue = "etl"                       # a queue of the WLM configuration
    query_group = "etl"                 # optional
    window_start = "01:00"              # local HH:MM
    window_end = "05:00"                # local HH:MM, earlier = next day
    timezone = "America/New_York"       # IANA
    cadence_min = 1440                  # optional, default 1440
    users = ["etl-dq"]                  # optional: users whose statements are
                                        # ELT whatever their query group

    [redset]                            # optional: mapping of a Redset trace
    elt_write_share = 0.5
    elt_group = "etl"
    maintenance_group = "ops"
    other_group = "analysts"

A Python module instead defines ``DESIGN`` (a :class:`Design`) or a function
``design()`` returning one. ``dpcsim/designs/example.toml`` is a complete
example.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import tomllib
from pathlib import Path
from typing import Any, Final

from dpcsim.designs.design import Design, ELTContract, RedsetRule
from dpcsim.designs.dpc import dpc_design
from dpcsim.errors import InputError
from dpcsim.wlm.io import read_wlm_config

__all__ = ["load_design"]

_REQUIRED: Final = ("name", "cluster_id", "region", "environment", "sns_topic", "wlm")
_OPTIONAL: Final = ("alarms", "dashboard", "role_groups", "elt", "redset")
_ACCOUNT: Final = "${AccountId}"


def load_design(source: str | Path | None = None) -> Design:
    """Return a design: the DPC design, or one read from a file.

    Parameters
    ----------
    source
        None or ``"dpc"``: the DPC design (:func:`dpcsim.designs.dpc.dpc_design`);
        a ``.toml`` file (format in :mod:`dpcsim.designs.read`); a ``.py``
        module defining ``DESIGN`` or ``design()``.

    Raises
    ------
    InputError
        Naming the file and key of anything missing or malformed.

    Examples
    --------
    >>> load_design().name
    'dpc'
    """
    if source is None or str(source) == "dpc":
        return dpc_design()
    path = Path(source)
    if not path.is_file():
        raise InputError(
            "no such design file; expected a .toml or .py design, or 'dpc'",
            source=str(path),
        )
    if path.suffix == ".py":
        return _from_module(path)
    if path.suffix == ".toml":
        return _from_toml(path)
    raise InputError(
        f"suffix {path.suffix!r}; expected a .toml or .py design", source=str(path)
    )


def _from_module(path: Path) -> Design:
    """``DESIGN`` or ``design()`` of a Python module."""
    spec = importlib.util.spec_from_file_location(f"_dpcsim_design_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise InputError("not an importable Python module", source=str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = getattr(module, "DESIGN", None)
    if found is None and callable(getattr(module, "design", None)):
        found = module.design()
    if not isinstance(found, Design):
        raise InputError(
            "defines no Design; expected DESIGN = Design(...) or def design()",
            source=str(path),
        )
    return found


def _from_toml(path: Path) -> Design:
    """A design from the TOML format of the module docstring."""
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"not TOML ({exc}); expected a design file", source=where
        ) from None
    except UnicodeDecodeError:
        raise InputError(
            "not UTF-8 text; expected a TOML design", source=where
        ) from None
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise InputError(
            f"unknown key(s) {unknown}; expected {list(_REQUIRED + _OPTIONAL)}",
            source=where,
            location=unknown[0],
        )
    for key in _REQUIRED:
        if not isinstance(data.get(key), str) or not data[key]:
            raise InputError(
                f"{data.get(key)!r}; expected a non-empty string", source=where,
                location=key,
            )  # fmt: skip
    base = path.parent
    alarms = _json(base, data, "alarms", where, [])
    if not isinstance(alarms, list):
        raise InputError("expected a JSON list of PutMetricAlarm requests",
                         source=where, location="alarms")  # fmt: skip
    try:
        return Design(
            name=data["name"],
            cluster_id=data["cluster_id"],
            region=data["region"],
            environment=data["environment"],
            sns_topic=data["sns_topic"],
            wlm=read_wlm_config(base / data["wlm"]),
            role_groups=_role_groups(data.get("role_groups", {}), where),
            elt=ELTContract(**_table(data, "elt", where, ELTContract)),
            alarms=_AlarmTemplate(alarms),
            dashboard=_json(base, data, "dashboard", where, {"widgets": []}),
            redset=(
                RedsetRule(**_table(data, "redset", where, RedsetRule))
                if "redset" in data
                else None
            ),
        )
    except TypeError as exc:
        raise InputError(f"{exc}; see dpcsim.designs.read for the keys",
                         source=where) from None  # fmt: skip
    except InputError as exc:
        if exc.source is not None:
            raise
        raise InputError(str(exc), source=where) from None


class _AlarmTemplate:
    """PutMetricAlarm requests with ``${AccountId}`` filled in per account."""

    def __init__(self, requests: list[Any]) -> None:
        self.text = json.dumps(requests)

    def __call__(self, account_id: str) -> list[dict[str, Any]]:
        filled: list[dict[str, Any]] = json.loads(
            self.text.replace(_ACCOUNT, account_id)
        )
        return filled


def _table(data: dict[str, Any], key: str, where: str, cls: type) -> dict[str, Any]:
    """A TOML table whose keys are the fields of dataclass ``cls``."""
    value = data.get(key)
    if not isinstance(value, dict):
        raise InputError(
            f"{value!r}; expected a [{key}] table", source=where, location=key
        )
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise InputError(
            f"unknown key(s) {unknown}; expected {names}",
            source=where,
            location=f"{key}.{unknown[0]}",
        )
    return value


def _role_groups(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    """``[role_groups]``: role -> list of group names."""
    out: dict[str, tuple[str, ...]] = {}
    for role, groups in dict(value).items():
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise InputError(f"{groups!r}; expected a list of group names",
                             source=where, location=f"role_groups.{role}")  # fmt: skip
        out[str(role)] = tuple(groups)
    return out


def _json(base: Path, data: dict[str, Any], key: str, where: str, default: Any) -> Any:
    """The JSON file a key names, or ``default`` when the key is absent."""
    if key not in data:
        return default
    path = base / str(data[key])
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{str(path)!r} does not exist; expected a JSON file",
                         source=where, location=key) from None  # fmt: skip
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON ({exc.msg})", source=str(path),
                         location=f"line {exc.lineno}") from None  # fmt: skip
