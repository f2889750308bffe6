"""Build the whole set of deployable files from one set of inputs, checked.

:func:`build_bundle` turns :class:`EmitInputs` into ``{relative path: text}``
(:class:`Bundle`); :func:`emit` also writes them. Nothing is returned or
written unless every file passed its offline checks:

* ``wlm.json`` (and ``wlm-auto.json`` for an evaluated auto-WLM variant): every
  AWS limit (:mod:`dpcsim.wlm.validate`), the 8,000-character value, and
  parsing the emitted text gives back the same configuration;
* ``modify-cluster-parameter-group.json``: :mod:`dpcsim.emit.parameter_group`;
* ``alarms/<AlarmName>.json``: :mod:`dpcsim.emit.alarms`, plus the round trip
  on the run's datapoints when they are given;
* ``dashboard.json``: :mod:`dpcsim.emit.dashboard`;
* ``schedule/`` when a schedule is given: :mod:`dpcsim.emit.schedule`;
* ``template.yaml``: :mod:`dpcsim.emit.cloudformation`, read back through
  dpcsim's own alarm reader (the same alarms as the JSON files);
* ``CHANGES.md``: :mod:`dpcsim.emit.changes`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from dpcsim.alarms import AlarmSpec, alarms_from_document, evaluate_alarms, parse_alarm
from dpcsim.emit import alarms as alarm_emit
from dpcsim.emit.botocheck import botocore_available
from dpcsim.emit.catalog import publisher_contract
from dpcsim.emit.changes import ChangeSet, changes_markdown, diff_parameters, diff_wlm
from dpcsim.emit.cloudformation import cloudformation_template, template_yaml
from dpcsim.emit.dashboard import check_dashboard, dashboard_request, with_wait_widget
from dpcsim.emit.parameter_group import check_modify_request, modify_request
from dpcsim.emit.schedule import (
    Schedule,
    lambda_windows,
    schedule_document,
    scheduler_requests,
)
from dpcsim.emit.wlm_json import (
    QueueLimit,
    add_rules,
    apply_limits,
    log_rules,
    parse_wlm_document,
    wlm_document,
    wlm_warnings,
)
from dpcsim.emit.write import canonical_json, write_files
from dpcsim.errors import InputError
from dpcsim.wlm import WLMConfig

__all__ = ["Bundle", "EmitInputs", "build_bundle", "emit"]

_LAMBDA_SOURCE = Path(__file__).with_name("wlm_window_lambda.py")


@dataclass(frozen=True, kw_only=True)
class EmitInputs:
    """Everything one emit needs.

    Attributes
    ----------
    wlm
        The configuration to deploy (before the limits and log rules).
    alarms
        Source PutMetricAlarm requests (the design's or given ones).
    dashboard_body, dashboard_name
        The dashboard to deploy.
    parameter_group
        The custom cluster parameter group to modify.
    sns_topic_arn
        ARN every alarm notifies; its account and region place the schedule's
        function.
    topic_name
        SNS topic name in ``template.yaml``.
    cluster_id, region
        ``ClusterIdentifier`` and region of the widgets added.
    limits
        Time limits written as QMR rules (:class:`QueueLimit`).
    tuning
        ``alarm_tuning.csv`` rows; the selected one per alarm is applied.
    queries
        A run of the proposed configuration (``queries.parquet``), for the log
        rules at p99; None adds none.
    current, current_parameters
        The deployed configuration and other parameter values, for CHANGES.md.
    extra_parameters
        Other parameters (``max_concurrency_scaling_clusters``, ...).
    auto_wlm
        The auto-WLM variant, when it was evaluated (``wlm-auto.json``).
    schedule
        A time-of-day schedule, when one is recommended.
    datapoints
        Simulated metrics for the alarm round trip; None skips it.
    wait_queues
        Queues of the added wait widget (default: every queue).
    """

    wlm: WLMConfig
    alarms: Sequence[Mapping[str, Any]]
    dashboard_body: Mapping[str, Any]
    dashboard_name: str
    parameter_group: str
    sns_topic_arn: str
    topic_name: str
    cluster_id: str
    region: str
    limits: Sequence[QueueLimit] = ()
    tuning: Sequence[alarm_emit.TuningRow] = ()
    queries: pd.DataFrame | None = None
    current: WLMConfig | None = None
    current_parameters: Mapping[str, str] | None = None
    extra_parameters: Mapping[str, str | int] = field(default_factory=dict)
    auto_wlm: WLMConfig | None = None
    schedule: Schedule | None = None
    datapoints: pd.DataFrame | None = None
    wait_queues: Sequence[str] | None = None


@dataclass(frozen=True, kw_only=True)
class Bundle:
    """The emitted files and what was found on the way.

    Attributes
    ----------
    files
        Relative path -> text, in the order written.
    config
        The WLM configuration emitted (limits and log rules included).
    changes
        The classified changes against the current configuration.
    warnings
        Advice that did not block emitting.
    """

    files: dict[str, str]
    config: WLMConfig
    changes: ChangeSet
    warnings: tuple[str, ...]


def build_bundle(inputs: EmitInputs) -> Bundle:
    """Build and check every file (see the module docstring).

    Raises
    ------
    InputError
        The first file that fails a check, naming it and the rule.
    """
    config = apply_limits(inputs.wlm, inputs.limits)
    if inputs.queries is not None:
        config = add_rules(config, log_rules(inputs.queries, config))
    files: dict[str, str] = {}
    files["wlm.json"] = _wlm_file(config, "wlm.json")
    if inputs.auto_wlm is not None:
        files["wlm-auto.json"] = _wlm_file(inputs.auto_wlm, "wlm-auto.json")
    changes = diff_wlm(inputs.current, config)
    request = modify_request(
        inputs.parameter_group,
        config,
        wlm_dynamic=changes.wlm_dynamic,
        extra=inputs.extra_parameters,
    )
    changes = diff_parameters(inputs.current_parameters, request["Parameters"], changes)
    files["modify-cluster-parameter-group.json"] = canonical_json(request)
    reread = check_modify_request(
        json.loads(files["modify-cluster-parameter-group.json"])
    )
    if reread != config:
        raise InputError(
            "the emitted ParameterValue does not parse back to the configuration",
            source="modify-cluster-parameter-group.json",
        )
    alarm_requests, problems = _alarms(inputs)
    for rel, req in alarm_requests.items():
        files[rel] = canonical_json(req)
    dash = dashboard_request(
        inputs.dashboard_name,
        with_wait_widget(
            inputs.dashboard_body,
            queues=list(inputs.wait_queues or config.queue_names),
            cluster_id=inputs.cluster_id,
            region=inputs.region,
        ),
    )
    check_dashboard(dash, source="dashboard.json")
    files["dashboard.json"] = canonical_json(dash)
    if inputs.schedule is not None:
        files.update(_schedule_files(inputs, inputs.schedule))
    template = cloudformation_template(
        modify_request=request,
        alarms=list(alarm_requests.values()),
        dashboard=dash,
        topic_name=inputs.topic_name,
        description=f"dpcsim: WLM, alarms and dashboard for {inputs.cluster_id}",
    )
    files["template.yaml"] = template_yaml(template)
    _check_template(files["template.yaml"], alarm_requests)
    warnings = tuple(wlm_warnings(config)) + changes.warnings + tuple(problems)
    if not botocore_available():
        warnings += (
            "botocore is not installed (pip install 'dpcsim[aws]'): the checks "
            "against botocore's models were skipped; dpcsim's own checks ran",
        )
    notes = _notes(warnings, inputs)
    listed = [*files, "CHANGES.md"]
    files["CHANGES.md"] = changes_markdown(
        changes,
        parameter_group=inputs.parameter_group,
        files=listed,
        notes=notes,
        broken_references=_references(changes, files),
    )
    return Bundle(files=files, config=config, changes=changes, warnings=warnings)


def emit(inputs: EmitInputs, out_dir: str | Path) -> Bundle:
    """Build the bundle and write it under ``out_dir``."""
    bundle = build_bundle(inputs)
    write_files(out_dir, bundle.files)
    return bundle


def _wlm_file(config: WLMConfig, name: str) -> str:
    """The canonical text of a wlm.json, checked to parse back to ``config``."""
    text = canonical_json(wlm_document(config))
    if parse_wlm_document(json.loads(text), source=name) != config:
        raise InputError(
            "the emitted file does not parse back to the configuration", source=name
        )
    return text


def _alarms(inputs: EmitInputs) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Tuned, checked requests by file name, and the round-trip problems."""
    tuned = alarm_emit.selected_tuning(inputs.tuning)
    names = {str(r.get("AlarmName")) for r in inputs.alarms}
    unknown = sorted(set(tuned) - names)
    if unknown:
        raise InputError(
            f"alarm tuning for {unknown}, which are not among the alarms "
            f"{sorted(names)}",
            source="alarm_tuning.csv",
        )
    out: dict[str, dict[str, Any]] = {}
    source_reqs = []
    for req in inputs.alarms:
        row = tuned.get(str(req.get("AlarmName")))
        source_reqs.append(
            (alarm_emit.tune_alarm(req, row) if row is not None else dict(req), row)
        )
    sources = [parse_alarm(r, source="source alarms") for r, _ in source_reqs]
    replay = (
        _replay_evidence(sources, inputs.datapoints)
        if inputs.datapoints is not None
        else {}
    )
    emitted = []
    for (source_req, row), spec in zip(source_reqs, sources, strict=True):
        final = alarm_emit.with_evidence(
            alarm_emit.with_topic(source_req, inputs.sns_topic_arn),
            row,
            extra=replay.get(spec.name, ""),
        )
        rel = alarm_emit.alarm_file_name(str(final["AlarmName"]))
        if rel in out:
            raise InputError(f"two alarms write {rel}", source="alarms")
        emitted.append(
            alarm_emit.check_alarm_request(
                json.loads(canonical_json(final)), source=rel
            )
        )
        out[rel] = final
    problems: list[str] = []
    if inputs.datapoints is not None:
        problems = alarm_emit.round_trip(sources, emitted, inputs.datapoints)
        if problems:
            raise InputError("; ".join(problems), source="alarm round trip")
    return out, problems


def _replay_evidence(
    alarms: Sequence[AlarmSpec], datapoints: pd.DataFrame
) -> dict[str, str]:
    """One sentence per alarm: how often it fired on the simulated metrics."""
    if datapoints.empty:
        return {}
    summary = evaluate_alarms(alarms, datapoints).summary.set_index("alarm_name")
    stamps = pd.to_datetime(datapoints["timestamp"], utc=True)
    days = max((stamps.max() - stamps.min()).total_seconds() / 86_400, 1 / 1440)
    out = {}
    for name, row in summary.iterrows():
        n = int(row["transitions_to_alarm"])
        out[str(name)] = (
            f"Simulated replay ({days:.1f} days): {n} transition(s) to ALARM "
            f"({n / days * 7:.2f}/week), {float(row['time_in_alarm_s']) / 3600:.1f} h "
            "in ALARM."
        )
    return out


def _schedule_files(inputs: EmitInputs, schedule: Schedule) -> dict[str, str]:
    """``schedule/``: the windows, the function, its data, one schedule each."""
    match = re.fullmatch(
        r"arn:(aws[a-z-]*):sns:([a-z0-9-]+):(\d{12}):.*", inputs.sns_topic_arn
    )
    if match is None:
        raise InputError(
            f"SNS topic ARN {inputs.sns_topic_arn!r}: cannot place the "
            "schedule's function"
        )
    partition, region, account = match.groups()
    pg = inputs.parameter_group
    function = f"arn:{partition}:lambda:{region}:{account}:function:{pg}-wlm-window"
    role = f"arn:{partition}:iam::{account}:role/{pg}-wlm-scheduler"
    files = {
        "schedule/schedule.json": canonical_json(schedule_document(schedule, pg)),
        "schedule/windows.json": canonical_json(lambda_windows(schedule, pg)),
        "schedule/apply_wlm_window.py": _LAMBDA_SOURCE.read_text(encoding="utf-8"),
    }
    for req in scheduler_requests(
        schedule, parameter_group=pg, function_arn=function, role_arn=role
    ):
        files[f"schedule/scheduler/{req['Name']}.json"] = canonical_json(req)
    return files


def _check_template(text: str, alarms: Mapping[str, Mapping[str, Any]]) -> None:
    """The template's alarms read back (dpcsim's reader) equal the JSON files."""
    document = yaml.safe_load(text)
    specs = alarms_from_document(document, source="template.yaml")
    by_name = {s.name: s for s in specs}
    for req in alarms.values():
        spec = by_name.get(str(req["AlarmName"]))
        if spec is None:
            raise InputError(
                f"alarm {req['AlarmName']!r} missing", source="template.yaml"
            )
        direct = parse_alarm(req, source="alarms")
        if (spec.metric, spec.queries, spec.threshold, spec.period_s) != (
            direct.metric,
            direct.queries,
            direct.threshold,
            direct.period_s,
        ):
            raise InputError(
                f"alarm {spec.name!r} differs from alarms/*.json",
                source="template.yaml",
            )


def _notes(warnings: Sequence[str], inputs: EmitInputs) -> list[str]:
    """Paragraphs of CHANGES.md after the tables."""
    notes = []
    advice = [w for w in warnings if w not in set(_changes_warnings(inputs))]
    if advice:
        notes.append("## Advice\n\n" + "\n".join(f"- {w}" for w in advice))
    if any("Custom/" in json.dumps(a) for a in inputs.alarms):
        notes.append(
            "## Custom metrics to publish\n\nThe alarms on `Custom/DPC` watch "
            "metrics that AWS does not publish. Without a publisher they stay in "
            "INSUFFICIENT_DATA.\n\n" + publisher_contract()
        )
    notes.append(
        "## How to apply\n\n"
        "```\n"
        "aws redshift modify-cluster-parameter-group --cli-input-json "
        "file://modify-cluster-parameter-group.json\n"
        "for f in alarms/*.json; do aws cloudwatch put-metric-alarm "
        "--cli-input-json file://$f; done\n"
        "aws cloudwatch put-dashboard --cli-input-json file://dashboard.json\n"
        "```\n\nor `dpcsim deploy . --parameter-group "
        f"{inputs.parameter_group}` (a dry run; `--apply` applies), or the "
        "CloudFormation stack in `template.yaml`."
    )
    return notes


def _changes_warnings(inputs: EmitInputs) -> tuple[str, ...]:
    """The warnings CHANGES.md lists under its own heading."""
    config = apply_limits(inputs.wlm, inputs.limits)
    return diff_wlm(inputs.current, config).warnings


def _references(changes: ChangeSet, files: Mapping[str, str]) -> dict[str, list[str]]:
    """Emitted files that still name a renamed queue's old QueueName."""
    out: dict[str, list[str]] = {}
    for old, _new in changes.renamed:
        needle = [f'"Value": "{old}"', f'\\"QueueName\\",\\"{old}\\"']
        out[old] = [
            rel
            for rel, text in files.items()
            if rel.endswith(".json") and any(n in text for n in needle)
        ]
    return out
