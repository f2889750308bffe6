"""PutMetricAlarm requests checked against botocore's CloudWatch service model.

botocore ships the CloudWatch API as JSON (``cloudwatch/<version>/service-2``);
:func:`check_request_shape` walks a request against the ``PutMetricAlarmInput``
shape: every member must exist at its level (``Metrics[].MetricStat.Metric
.Dimensions[]`` included), structures must be objects and lists lists, lists
stay within their ``max`` and required members are present. Scalar types are
left to :mod:`dpcsim.alarms.spec`, which also accepts the strings
CloudFormation writes for numbers and adds the rules the model lacks (periods,
M of N, metric math limits) and refuses real members dpcsim does not evaluate.

botocore comes with the ``aws`` extra (``pip install 'dpcsim[aws]'``). Without
it, the member names fall back to the list in :mod:`dpcsim.alarms.spec` and a
warning says the check is partial. The model file is read straight from
botocore's data folder when that is the file botocore's own loader would pick
(importing ``botocore.loaders`` costs every command about 0.1 s).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import warnings
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from dpcsim.alarms.queries import Ctx

__all__ = ["MODEL_SERVICE", "check_request_shape", "put_metric_alarm_members"]

#: botocore service name of CloudWatch.
MODEL_SERVICE: Final = "cloudwatch"


@lru_cache(maxsize=1)
def _shapes() -> tuple[dict[str, Any], str] | None:
    """The model's shapes and the input shape name, or None without botocore."""
    if importlib.util.find_spec("botocore.loaders") is None:
        warnings.warn(
            "botocore is not installed: PutMetricAlarm members are checked "
            "against dpcsim's own list, not CloudWatch's service model; "
            "pip install 'dpcsim[aws]' for the full check",
            stacklevel=3,
        )
        return None
    model = _bundled_model()
    if model is None:
        from botocore.loaders import Loader

        model = Loader().load_service_model(MODEL_SERVICE, "service-2")
    shape = model["operations"]["PutMetricAlarm"]["input"]["shape"]
    return dict(model["shapes"]), str(shape)


def _bundled_model() -> dict[str, Any] | None:
    """botocore's own CloudWatch model file, read as ``Loader`` reads it.

    ``Loader().load_service_model`` takes the latest API version found in
    ``~/.aws/models`` or botocore's ``data`` folder, the first of the two
    that has it, plus any ``service-2.sdk-extras`` file. None (let the loader
    decide) when a user model folder for the service exists or an extras file
    does; otherwise the latest version's ``service-2.json`` (or ``.json.gz``).
    """
    if (Path.home() / ".aws" / "models" / MODEL_SERVICE).exists():
        return None
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "data" / MODEL_SERVICE
    versions = sorted(
        d.name
        for d in (root.iterdir() if root.is_dir() else ())
        if (d / "service-2.json").is_file() or (d / "service-2.json.gz").is_file()
    )
    if not versions:
        return None
    folder = root / versions[-1]
    if any(folder.glob("service-2.sdk-extras.json*")):
        return None
    plain = folder / "service-2.json"
    raw = (
        plain.read_bytes()
        if plain.is_file()
        else gzip.decompress((folder / "service-2.json.gz").read_bytes())
    )
    model: dict[str, Any] = json.loads(raw.decode("utf-8"))
    return model


def put_metric_alarm_members() -> frozenset[str] | None:
    """Member names of ``PutMetricAlarmInput``; None without botocore."""
    found = _shapes()
    if found is None:
        return None
    shapes, name = found
    return frozenset(shapes[name]["members"])


def check_request_shape(request: Mapping[str, Any], ctx: Ctx) -> bool:
    """Check ``request``'s members and nesting against the model.

    Returns False (having checked nothing) without botocore.

    Raises
    ------
    InputError
        Naming the member path, e.g. ``Metrics[1].MetricStat.Metric.Colour``.
    """
    found = _shapes()
    if found is None:
        return False
    shapes, name = found
    _walk(request, shapes[name], shapes, "", ctx)
    return True


def _walk(
    value: Any, shape: Mapping[str, Any], shapes: Mapping[str, Any], path: str, ctx: Ctx
) -> None:
    """Check one value against one shape (structures and lists recursively)."""
    kind = shape.get("type")
    if kind == "structure":
        if not isinstance(value, Mapping):
            raise ctx.fail(
                path or "request", f"bad value {value!r}: expected an object"
            )
        members = shape.get("members", {})
        unknown = sorted(set(value) - set(members))
        if unknown:
            level = f" in {path}" if path else ""
            raise ctx.fail(
                f"{path}.{unknown[0]}" if path else str(unknown),
                f"unknown PutMetricAlarm member(s) {unknown}{level}; CloudWatch's "
                f"model has {sorted(members)}",
            )
        for key in shape.get("required", ()):
            if key not in value:
                raise ctx.fail(f"{path}.{key}" if path else key, "required member")
        for key, item in value.items():
            sub = shapes[members[key]["shape"]]
            _walk(item, sub, shapes, f"{path}.{key}" if path else key, ctx)
    elif kind == "list":
        if not isinstance(value, list):
            raise ctx.fail(path, f"bad value {value!r}: expected a list")
        top = shape.get("max")
        if top is not None and len(value) > int(top):
            raise ctx.fail(path, f"{len(value)} items: at most {top} are allowed")
        member = shapes[shape["member"]["shape"]]
        for i, item in enumerate(value):
            _walk(item, member, shapes, f"{path}[{i}]", ctx)
