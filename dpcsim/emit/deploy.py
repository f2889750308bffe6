"""Apply an emitted folder with boto3: dry run by default, stop at the first error.

:func:`load_plan` reads a folder written by ``dpcsim emit`` and checks every
file offline again (the same checks as when it was written).
:func:`deploy` then, in order, modifies the parameter group, puts each alarm
and puts the dashboard; after each call it reads the object back
(``describe_cluster_parameters``, ``describe_alarms``, ``get_dashboard``) and
records any difference. It refuses a folder whose parameter group is not the
one named by the operator, applies nothing unless ``apply=True``, and stops at
the first error, reporting what was and was not applied. The dry run reads the
current state (read-only calls) and lists what would change.

boto3 is the ``aws`` extra and imported only here, lazily, with a clear message
when it is missing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from dpcsim.emit.alarms import check_alarm_request
from dpcsim.emit.dashboard import check_dashboard
from dpcsim.emit.parameter_group import check_modify_request
from dpcsim.errors import InputError

__all__ = ["DeployPlan", "DeployReport", "Step", "deploy", "load_plan", "make_clients"]

_ALARM_FIELDS: Final = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "Namespace",
    "MetricName",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)


@dataclass(frozen=True, kw_only=True)
class Step:
    """One call of the deployment: what it sets, from which file."""

    kind: str  # parameter_group | alarm | dashboard
    name: str
    file: str
    request: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class DeployPlan:
    """The checked steps of a folder, in the order they are applied."""

    parameter_group: str
    steps: tuple[Step, ...]


@dataclass(kw_only=True)
class DeployReport:
    """What happened: applied, not applied, differences read back, the error."""

    applied: list[str] = field(default_factory=list)
    not_applied: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    would_change: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing read back differently."""
        return self.error is None and not self.differences

    def lines(self) -> list[str]:
        """Human-readable report lines."""
        out = [f"would change: {w}" for w in self.would_change]
        out += [f"applied: {a}" for a in self.applied]
        out += [f"DIFFERENCE: {d}" for d in self.differences]
        if self.error:
            out.append(f"ERROR: {self.error}")
        out += [f"not applied: {n}" for n in self.not_applied]
        return out


def load_plan(folder: str | Path, *, parameter_group: str) -> DeployPlan:
    """Read and re-check an emitted folder.

    Parameters
    ----------
    folder
        The ``dpcsim emit --out`` folder.
    parameter_group
        The parameter group the operator names; the folder must be for it.

    Raises
    ------
    InputError
        A missing or invalid file, or a folder for another parameter group.
    """
    root = Path(folder)
    pg_file = root / "modify-cluster-parameter-group.json"
    request = _read_json(pg_file)
    check_modify_request(request, source=str(pg_file))
    if request["ParameterGroupName"] != parameter_group:
        raise InputError(
            f"the folder modifies parameter group {request['ParameterGroupName']!r}, "
            f"not {parameter_group!r}; refusing to touch any other group",
            source=str(pg_file),
        )
    steps = [
        Step(
            kind="parameter_group",
            name=parameter_group,
            file=str(pg_file),
            request=request,
        )
    ]
    for path in sorted((root / "alarms").glob("*.json")):
        alarm = _read_json(path)
        check_alarm_request(alarm, source=str(path))
        steps.append(
            Step(
                kind="alarm",
                name=str(alarm["AlarmName"]),
                file=str(path),
                request=alarm,
            )
        )
    dash_file = root / "dashboard.json"
    dash = _read_json(dash_file)
    check_dashboard(dash, source=str(dash_file))
    steps.append(
        Step(
            kind="dashboard",
            name=str(dash["DashboardName"]),
            file=str(dash_file),
            request=dash,
        )
    )
    return DeployPlan(parameter_group=parameter_group, steps=tuple(steps))


def make_clients(
    *, region: str | None = None, endpoint_url: str | None = None
) -> tuple[Any, Any]:
    """boto3 clients for Redshift and CloudWatch.

    Raises
    ------
    InputError
        When boto3 is not installed (``pip install 'dpcsim[aws]'``).
    """
    try:
        import boto3
    except ImportError:
        raise InputError(
            "dpcsim deploy needs boto3: pip install 'dpcsim[aws]'"
        ) from None
    session = boto3.session.Session(region_name=region)
    kwargs = {"endpoint_url": endpoint_url} if endpoint_url else {}
    return session.client("redshift", **kwargs), session.client("cloudwatch", **kwargs)


def deploy(
    plan: DeployPlan, redshift: Any, cloudwatch: Any, *, apply: bool = False
) -> DeployReport:
    """Dry-run or apply the plan; read back after each applied step.

    Returns
    -------
    DeployReport
        ``error`` set (and the remaining steps under ``not_applied``) when a
        call failed; nothing is retried.
    """
    report = DeployReport()
    for i, step in enumerate(plan.steps):
        label = f"{step.kind} {step.name}"
        try:
            current = _read(step, redshift, cloudwatch)
            diffs = _compare(step, current)
            if not apply:
                report.would_change.extend(f"{label}: {d}" for d in diffs)
                report.not_applied.append(f"{label} (dry run)")
                continue
            _APPLY[step.kind](step, redshift, cloudwatch)
            report.applied.append(label)
            after = _read(step, redshift, cloudwatch)
            report.differences.extend(f"{label}: {d}" for d in _compare(step, after))
        except Exception as exc:
            report.error = f"{label}: {type(exc).__name__}: {exc}"
            report.not_applied.extend(f"{s.kind} {s.name}" for s in plan.steps[i:])
            break
    return report


def _read_json(path: Path) -> dict[str, Any]:
    """Parse a JSON object file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", source=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", source=str(path))
    return data


def _put_parameters(step: Step, redshift: Any, _cw: Any) -> None:
    redshift.modify_cluster_parameter_group(**step.request)


def _put_alarm(step: Step, _rs: Any, cloudwatch: Any) -> None:
    cloudwatch.put_metric_alarm(**step.request)


def _put_dashboard(step: Step, _rs: Any, cloudwatch: Any) -> None:
    cloudwatch.put_dashboard(**step.request)


_APPLY: Final[dict[str, Callable[[Step, Any, Any], None]]] = {
    "parameter_group": _put_parameters,
    "alarm": _put_alarm,
    "dashboard": _put_dashboard,
}


def _read(step: Step, redshift: Any, cloudwatch: Any) -> Any:
    """The deployed object of a step (None when it does not exist yet)."""
    if step.kind == "parameter_group":
        values: dict[str, str] = {}
        pages = redshift.get_paginator("describe_cluster_parameters").paginate(
            ParameterGroupName=step.name
        )
        for page in pages:
            for p in page.get("Parameters", []):
                if "ParameterValue" in p:
                    values[p["ParameterName"]] = p["ParameterValue"]
        return values
    if step.kind == "alarm":
        found = cloudwatch.describe_alarms(AlarmNames=[step.name])
        alarms = found.get("MetricAlarms", [])
        return alarms[0] if alarms else None
    try:
        return cloudwatch.get_dashboard(DashboardName=step.name)
    except cloudwatch.exceptions.ResourceNotFound:
        return None


def _compare(step: Step, current: Any) -> list[str]:
    """Differences between the step's request and the deployed object."""
    if step.kind == "parameter_group":
        out = []
        for p in step.request["Parameters"]:
            have = current.get(p["ParameterName"])
            want = p["ParameterValue"]
            if p["ParameterName"] == "wlm_json_configuration" and have is not None:
                same = _json_equal(have, want)
            else:
                same = have == want
            if not same:
                out.append(f"{p['ParameterName']}: {_short(have)} -> {_short(want)}")
        return out
    if current is None:
        return ["does not exist yet"]
    if step.kind == "alarm":
        out = []
        for key in _ALARM_FIELDS:
            want, have = step.request.get(key), current.get(key)
            if want is None:
                continue
            if key == "Threshold":
                same = float(want) == float(have or "nan")
            else:
                same = want == have
            if not same:
                out.append(f"{key}: {_short(have)} -> {_short(want)}")
        for key in ("Dimensions", "Metrics"):
            if key in step.request and not _json_equal(
                current.get(key, []), step.request[key]
            ):
                out.append(f"{key} differ")
        return out
    if not _json_equal(
        current.get("DashboardBody", "{}"), step.request["DashboardBody"]
    ):
        return ["DashboardBody differs"]
    return []


def _json_equal(a: Any, b: Any) -> bool:
    """Equal as JSON (strings are decoded, key order ignored)."""

    def norm(v: Any) -> Any:
        if isinstance(v, str):
            try:
                return json.loads(v)
            except json.JSONDecodeError:
                return v
        return v

    return bool(norm(a) == norm(b))


def _short(value: Any, limit: int = 60) -> str:
    """A value cut for a report line."""
    text = "absent" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
