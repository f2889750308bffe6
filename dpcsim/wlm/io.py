"""Read and write ``wlm_json_configuration`` files.

:func:`read_wlm_config` accepts the three shapes the configuration is found in:
the bare JSON array, a JSON string holding the array (how AWS passes the
parameter value), and the output of ``aws redshift describe-cluster-parameters``
(``{"Parameters": [{"ParameterName": "wlm_json_configuration",
"ParameterValue": "[...]"}, ...]}``). :func:`write_wlm_json` writes the array
with the canonical JSON writer. Validation is the config model's job.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dpcsim.canonical import canonical_json as _canonical_json
from dpcsim.wlm.config import WLMConfig
from dpcsim.wlm.limits import WLMConfigError

__all__ = ["WLM_PARAMETER", "canonical_json", "read_wlm_config", "write_wlm_json"]

#: Name of the cluster parameter that holds the WLM configuration.
WLM_PARAMETER = "wlm_json_configuration"


def read_wlm_config(path: str | Path) -> WLMConfig:
    """Read and validate a WLM configuration file.

    Parameters
    ----------
    path
        A JSON file: the array, a JSON string of it, or describe-cluster-parameters
        output.

    Raises
    ------
    dpcsim.errors.InputError
        Undecodable or invalid JSON, a missing ``wlm_json_configuration``
        parameter, or a configuration that breaks an AWS limit; the message names
        the file and the key path.
    FileNotFoundError
        When ``path`` does not exist.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WLMConfigError(
            f"byte {exc.start} is not UTF-8; expected a UTF-8 JSON file",
            source=source,
        ) from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WLMConfigError(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "expected the wlm_json_configuration array or describe-cluster-parameters "
            "output",
            source=source,
        ) from None
    if isinstance(data, dict):
        value, where = _parameter_value(data, source)
        return WLMConfig.from_json(value, source=f"{source} ({where})")
    return WLMConfig.from_json(data, source=source)


def write_wlm_json(config: WLMConfig, path: str | Path) -> Path:
    """Write ``config.to_json()`` with the canonical writer; return the path."""
    path = Path(path)
    path.write_text(canonical_json(config.to_json()), encoding="utf-8")
    return path


def canonical_json(obj: Any) -> str:
    """The canonical JSON text (:func:`dpcsim.canonical.canonical_json`).

    Sorted object keys; the array keeps its order, the default queue last.
    """
    return _canonical_json(obj)


def _parameter_value(data: dict[str, Any], source: str) -> tuple[str | list[Any], str]:
    """Find ``wlm_json_configuration`` in describe-cluster-parameters output."""
    params = data.get("Parameters")
    if not isinstance(params, list):
        raise WLMConfigError(
            f"a JSON object with keys {sorted(data)[:10]}; expected the "
            "wlm_json_configuration array or describe-cluster-parameters output "
            'with a "Parameters" array',
            source=source,
        )
    for k, param in enumerate(params):
        if isinstance(param, dict) and param.get("ParameterName") == WLM_PARAMETER:
            value = param.get("ParameterValue")
            where = f"Parameters[{k}].ParameterValue"
            if not isinstance(value, str | list):
                raise WLMConfigError(
                    f"ParameterValue {value!r}: expected the configuration as a "
                    "JSON string",
                    source=source,
                    key=where,
                )
            return value, where
    raise WLMConfigError(
        f"no {WLM_PARAMETER!r} among the {len(params)} parameters; expected "
        "describe-cluster-parameters output of the cluster's parameter group",
        source=source,
        key="Parameters",
    )
