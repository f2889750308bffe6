"""Read alarm definitions from a file, and metric data for the evaluator.

Alarm files (:func:`read_alarms`): JSON (or YAML, when PyYAML is installed) holding

- one PutMetricAlarm request object, as ``--cli-input-json`` takes it;
- a list of such objects;
- a CloudFormation template whose ``AWS::CloudWatch::Alarm`` resources are
  read (see :mod:`dpcsim.alarms.cfn`; YAML short forms ``!Ref``/``!Sub`` are
  understood).

Metric sources (:func:`read_metrics`): a simulation output directory holding
``metrics.parquet``, a tidy CSV, a parquet file, or GetMetricData JSON with its
queries (see :mod:`dpcsim.metrics.datapoints`).

Like ``dpcsim.wlm.io``, this is a config/data reader and the one place in
:mod:`dpcsim.alarms` that touches files besides
:func:`dpcsim.alarms.history.write_alarm_run`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from dpcsim.alarms.cfn import alarm_requests_from_template, is_template
from dpcsim.alarms.spec import AlarmSpec, parse_alarm
from dpcsim.errors import InputError
from dpcsim.metrics.datapoints import (
    _result_frame,
    concat_datapoints,
    read_datapoints_csv,
    read_get_metric_data,
    validate_datapoints,
)

__all__ = [
    "alarms_from_document",
    "canonical_dimensions",
    "read_alarms",
    "read_metrics",
    "unmatched_alarms",
]

METRICS_FILE = "metrics.parquet"


def _load_yaml(text: str, source: str) -> Any:
    """Parse YAML, turning CloudFormation short forms (``!Ref x``) into objects."""
    import yaml  # here: JSON alarm files and the design's alarms need no YAML

    loader_cls: Any = type("_CfnLoader", (yaml.SafeLoader,), {})

    def intrinsic(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
        name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    loader_cls.add_multi_constructor("!", intrinsic)
    try:
        return yaml.load(text, Loader=loader_cls)
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", source=source) from exc


def alarms_from_document(
    document: Any,
    *,
    source: str = "<alarms>",
    parameters: Mapping[str, str] | None = None,
) -> list[AlarmSpec]:
    """Validate the alarms of a parsed document (object, list or template)."""
    if is_template(document):
        pairs = alarm_requests_from_template(
            document, source=source, parameters=parameters
        )
    elif isinstance(document, list):
        pairs = [(f"[{i}]", item) for i, item in enumerate(document)]
    elif isinstance(document, Mapping):
        pairs = [("alarm", dict(document))]
    else:
        raise InputError(
            "expected a PutMetricAlarm object, a list of them or a "
            "CloudFormation template",
            source=source,
        )
    if not pairs:
        raise InputError("no alarm definitions", source=source)
    alarms = [parse_alarm(req, source=source, where=where) for where, req in pairs]
    names = [a.name for a in alarms]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"AlarmName must be unique, repeated: {dupes}", source=source)
    return alarms


def read_alarms(
    path: str | Path, *, parameters: Mapping[str, str] | None = None
) -> list[AlarmSpec]:
    """Read and validate alarm definitions from a JSON or YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"undecodable byte {exc.object[exc.start : exc.start + 1]!r} at byte "
            f"{exc.start}; expected UTF-8 JSON or YAML",
            source=str(path),
        ) from None
    if path.suffix.lower() in (".yaml", ".yml"):
        document = _load_yaml(text, str(path))
    else:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            if path.suffix.lower() == ".json":
                raise InputError(f"not valid JSON: {exc}", source=str(path)) from exc
            document = _load_yaml(text, str(path))
    return alarms_from_document(document, source=str(path), parameters=parameters)


def canonical_dimensions(cells: pd.Series) -> pd.Series:
    """``dimensions`` cells as sets: names sorted, blanks around names/values dropped.

    CloudWatch identifies a metric by its dimension *set*, so
    ``QueueName=batch;ClusterIdentifier=x`` and ``ClusterIdentifier=x; QueueName=batch``
    are the same metric.

    Examples
    --------
    >>> cells = pd.Series(["QueueName=batch; ClusterIdentifier=x"])
    >>> canonical_dimensions(cells).tolist()
    ['ClusterIdentifier=x;QueueName=batch']
    """
    codes, uniques = pd.factorize(cells.fillna(""))
    canon = [_canonical_cell(str(v)) for v in uniques]
    return pd.Series(
        pd.array(canon, dtype="string")[codes] if len(canon) else [],
        index=cells.index,
        dtype="string",
    )


def _canonical_cell(cell: str) -> str:
    """One ``Name=Value;...`` cell in canonical order (:func:`canonical_dimensions`)."""
    pairs = []
    for part in cell.split(";"):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        pairs.append((name.strip(), value.strip()))
    return ";".join(f"{n}={v}" for n, v in sorted(pairs))


def unmatched_alarms(alarms: list[AlarmSpec], datapoints: pd.DataFrame) -> list[str]:
    """One message per alarm whose metric (or a math input) matches no datapoint.

    Without this an alarm on a metric the data does not hold would show only as
    INSUFFICIENT_DATA, with nothing saying the names or dimensions did not match.
    """
    have = set(
        zip(
            datapoints["namespace"].astype(str),
            datapoints["metric_name"].astype(str),
            datapoints["dimensions"].fillna("").astype(str),
            strict=True,
        )
    )
    out: list[str] = []
    for alarm in alarms:
        metrics = [alarm.metric] if alarm.metric is not None else []
        metrics += [q.metric_stat for q in alarm.queries if q.metric_stat is not None]
        for m in metrics:
            key = (m.namespace, m.metric_name, m.dimensions)
            if key not in have:
                near = sorted(d for ns, name, d in have if (ns, name) == key[:2])[:3]
                hint = f"; the data has it with {near}" if near else ""
                out.append(
                    f"alarm {alarm.name!r}: {m.namespace}/{m.metric_name} "
                    f"{{{m.dimensions}}} matches no datapoint{hint}"
                )
    return out


def read_metrics(
    path: str | Path, *, queries: str | Path | None = None
) -> pd.DataFrame:
    """Read metric data: a run directory, tidy CSV/parquet, or GetMetricData JSON.

    ``queries`` is the GetMetricData request that produced ``path`` (the AWS
    CLI's output does not carry it): a list of MetricDataQueries, as
    ``--metric-data-queries file://...`` takes it, or an object holding
    ``MetricDataQueries`` (``--cli-input-json``). ``dimensions`` cells are put in
    canonical order (:func:`canonical_dimensions`).
    """
    if queries is not None:
        frame = _get_metric_data_with_queries(Path(path), Path(queries))
    else:
        frame = _read_metrics(Path(path))
    frame["dimensions"] = canonical_dimensions(frame["dimensions"])
    return frame


def _json_file(path: Path) -> Any:
    """Parse a JSON file, with errors naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(2, "No such file", str(path)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON ({exc})", source=str(path)) from None


def _get_metric_data_with_queries(results: Path, queries: Path) -> pd.DataFrame:
    """GetMetricData output joined with the request's queries by ``Id``."""
    request = _json_file(queries)
    listed = request.get("MetricDataQueries") if isinstance(request, dict) else request
    if not isinstance(listed, list):
        raise InputError(
            "expected a list of MetricDataQueries or an object holding "
            "'MetricDataQueries' (the GetMetricData request)",
            source=str(queries),
        )
    response = _json_file(results)
    if not isinstance(response, dict) or not isinstance(
        response.get("MetricDataResults"), list
    ):
        raise InputError(
            "expected GetMetricData output with a 'MetricDataResults' list",
            source=str(results),
        )
    by_id = {q.get("Id"): q for q in listed if isinstance(q, dict)}
    frames = []
    for i, result in enumerate(response["MetricDataResults"]):
        where = f"MetricDataResults[{i}]"
        got = result.get("Id") if isinstance(result, dict) else result
        if got not in by_id:
            raise InputError(
                f"result Id {got!r} matches no query Id in {queries}; expected the "
                f"request's Ids {sorted(map(str, by_id))}",
                source=str(results),
                location=where,
            )
        frames.append(_result_frame(result, by_id[got], str(results), where))
    return concat_datapoints(frames)


def _read_metrics(path: Path) -> pd.DataFrame:
    """Read metric data without canonicalising the dimensions."""
    if path.is_dir():
        target = path / METRICS_FILE
        if not target.exists():
            raise InputError(
                f"no {METRICS_FILE} in the directory; expected a simulation "
                "output directory",
                source=str(path),
            )
        return validate_datapoints(_read_parquet(target), source=str(target))
    if not path.exists():
        raise FileNotFoundError(2, "No such file", str(path))
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return validate_datapoints(_read_parquet(path), source=str(path))
    if suffix == ".json":
        return read_get_metric_data(path)
    if suffix in (".csv", ".gz"):
        return read_datapoints_csv(path)
    raise InputError(
        f"unknown metric file type {suffix!r}: expected a directory with "
        f"{METRICS_FILE}, .csv, .parquet or GetMetricData .json",
        source=str(path),
    )


def _read_parquet(path: Path) -> pd.DataFrame:
    """Read a datapoints parquet file; a corrupt one raises InputError."""
    try:
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(
            f"unreadable parquet ({exc}); expected a tidy datapoints parquet file",
            source=str(path),
        ) from None
