"""Write the deployable files of a recommendation or of explicit inputs, checked.

Inputs (one of)
  --recommendation FILE   recommend/recommendation.json (recommended.wlm_json,
                          max_concurrency_scaling_clusters, optional
                          auto_wlm_json, schedule and alarms)
  --wlm FILE|design       a wlm_json_configuration (or describe-cluster-parameters
                          output); ``design`` is the DPC design's
and
  --alarms design|FILE    the alarms: the design's five, or PutMetricAlarm JSON /
                          a CloudFormation template (default design); alarms of a
                          recommendation replace the same-named ones
  --dashboard FILE        a DashboardBody JSON (default: the design's)
  --tuning FILE           recommend/alarm_tuning.csv: the selected row per alarm
                          sets Threshold, Period, EvaluationPeriods,
                          DatapointsToAlarm, TreatMissingData and the evidence
  --queries FILE          a run's queries.parquet of the proposed configuration:
                          QMR log rules at each queue's p99 (exec and queue time)
  --metrics SOURCE        simulated metrics (a run folder or metrics.parquet) for
                          the alarm round trip through dpcsim's evaluator
  --current FILE          the deployed wlm.json or describe-cluster-parameters
                          JSON, for CHANGES.md (dynamic vs reboot, renames)
  --parameter-group NAME  the custom parameter group (required)
  --sns-topic-arn ARN     topic every alarm notifies (default: the design's)
  --qmr-abort Q:METRIC:S  a time limit as a QMR abort rule (repeatable; default:
                          the design's adhoc 30 min execution, batch 2 h queue)
  --max-cs-clusters N     max_concurrency_scaling_clusters (0-10)

Outputs (in --out DIR; a non-empty DIR is refused unless --force)
  wlm.json, [wlm-auto.json], modify-cluster-parameter-group.json,
  alarms/<AlarmName>.json, dashboard.json, template.yaml, [schedule/], CHANGES.md

Every file is checked before anything is written: AWS's WLM limits, botocore's
own parameter validation of each request (when botocore is installed), the
rules botocore lacks, the dashboard grid, cfn-lint-clean CloudFormation.

Examples
  dpcsim emit --wlm design --parameter-group dpc-learning-wlm --out deploy
  dpcsim emit --recommendation plan/recommend/recommendation.json \\
      --tuning plan/recommend/alarm_tuning.csv --current current.json \\
      --parameter-group dpc-learning-wlm --out plan/deploy
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

NAME = "emit"
HELP = "write the checked deployable files (WLM JSON, alarms, dashboard, CFN)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``dpcsim emit``."""
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--recommendation",
        type=Path,
        metavar="FILE",
        help="recommend/recommendation.json",
    )
    src.add_argument(
        "--wlm", metavar="FILE|design", help="wlm_json_configuration file, or 'design'"
    )
    parser.add_argument(
        "--alarms",
        default="design",
        metavar="design|FILE",
        help="alarms (default design)",
    )
    parser.add_argument(
        "--dashboard",
        type=Path,
        metavar="FILE",
        help="DashboardBody JSON (default: the design's)",
    )
    parser.add_argument(
        "--tuning", type=Path, metavar="FILE", help="recommend/alarm_tuning.csv"
    )
    parser.add_argument(
        "--queries", type=Path, metavar="FILE", help="queries.parquet for p99 log rules"
    )
    parser.add_argument(
        "--metrics",
        type=Path,
        metavar="SOURCE",
        help="metrics for the alarm round trip",
    )
    parser.add_argument(
        "--current",
        type=Path,
        metavar="FILE",
        help="deployed wlm.json or describe-cluster-parameters",
    )
    parser.add_argument(
        "--parameter-group",
        required=True,
        metavar="NAME",
        help="custom cluster parameter group",
    )
    parser.add_argument(
        "--sns-topic-arn",
        metavar="ARN",
        help="SNS topic of the alarms (default: the design's)",
    )
    parser.add_argument(
        "--account",
        default="123456789012",
        metavar="ID",
        help="account of the design's topic (default 123456789012)",
    )
    parser.add_argument(
        "--qmr-abort",
        action="append",
        metavar="Q:METRIC:S",
        help="time limit as a QMR abort rule (repeatable)",
    )
    parser.add_argument(
        "--max-cs-clusters",
        type=int,
        metavar="N",
        help="max_concurrency_scaling_clusters",
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="output folder"
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite a non-empty --out"
    )


def run(args: argparse.Namespace) -> int:
    """Build, check and write the files; print what was written."""
    from dpcsim.cli._files import announce_kept_files
    from dpcsim.emit import emit
    from dpcsim.outputs import output_folder

    inputs = build_inputs(args)
    out = Path(args.out)
    quiet = bool(getattr(args, "quiet", False))
    announce_kept_files(out, force=bool(args.force), quiet=quiet)
    # Written beside --out and moved in whole (see dpcsim.outputs).
    with output_folder(out, force=bool(args.force)) as staging:
        bundle = emit(inputs, staging)
    if not getattr(args, "quiet", False):
        for warning in bundle.warnings:
            print(f"warning: {warning}")
        reboot = "reboot needed" if bundle.changes.needs_reboot else "no reboot"
        print(f"wrote {len(bundle.files)} files to {out} ({reboot}; see CHANGES.md)")
    return 0


def build_inputs(args: argparse.Namespace) -> Any:
    """The :class:`dpcsim.emit.EmitInputs` of the command line."""
    from dpcsim.alarms.design import sns_topic_arn
    from dpcsim.emit import EmitInputs, design_pieces, parse_limit, read_tuning
    from dpcsim.emit.recommendation import read_current, read_recommendation
    from dpcsim.wlm import read_wlm_config

    pieces = design_pieces(args.account)
    extra: dict[str, str | int] = {}
    auto = schedule = None
    rec_alarms: tuple[dict[str, Any], ...] = ()
    if args.recommendation is not None:
        rec = read_recommendation(args.recommendation)
        wlm, auto, schedule, rec_alarms = (
            rec.wlm,
            rec.auto_wlm,
            rec.schedule,
            rec.alarms,
        )
        if rec.max_concurrency_scaling_clusters is not None:
            extra["max_concurrency_scaling_clusters"] = (
                rec.max_concurrency_scaling_clusters
            )
    elif args.wlm == "design":
        wlm = pieces.wlm
    else:
        wlm = read_wlm_config(args.wlm)
    if args.max_cs_clusters is not None:
        extra["max_concurrency_scaling_clusters"] = args.max_cs_clusters
    alarms = _alarm_requests(args.alarms, pieces.alarms)
    names = {str(a.get("AlarmName")) for a in rec_alarms}
    alarms = [a for a in alarms if str(a.get("AlarmName")) not in names]
    alarms += list(rec_alarms)
    current = current_params = None
    if args.current is not None:
        current, current_params = read_current(args.current)
    limits = (
        tuple(parse_limit(t) for t in args.qmr_abort)
        if args.qmr_abort
        else pieces.limits
    )
    limits = tuple(lim for lim in limits if lim.queue in wlm.queue_names)
    return EmitInputs(
        wlm=wlm,
        alarms=alarms,
        dashboard_body=_dashboard(args.dashboard, pieces.dashboard_body),
        dashboard_name=pieces.dashboard_name,
        parameter_group=args.parameter_group,
        sns_topic_arn=args.sns_topic_arn or sns_topic_arn(args.account, pieces.region),
        topic_name=(args.sns_topic_arn or pieces.sns_topic).rsplit(":", 1)[-1],
        cluster_id=pieces.cluster_id,
        region=pieces.region,
        limits=limits,
        tuning=read_tuning(args.tuning) if args.tuning else (),
        queries=_queries(args.queries),
        current=current,
        current_parameters=current_params,
        extra_parameters=extra,
        auto_wlm=auto,
        schedule=schedule,
        datapoints=_metrics(args.metrics),
    )


def _alarm_requests(value: str, design: Any) -> list[dict[str, Any]]:
    """PutMetricAlarm requests: the design's or those of a file."""
    if value == "design":
        return [dict(a) for a in design]
    from dpcsim.alarms import read_alarms

    return [dict(spec.request) for spec in read_alarms(value)]


def _dashboard(path: Path | None, design: dict[str, Any]) -> dict[str, Any]:
    """A DashboardBody file (or a PutDashboard input), or the design's."""
    if path is None:
        return design
    from dpcsim.errors import InputError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", source=str(path)) from None
    if isinstance(data, dict) and isinstance(data.get("DashboardBody"), str):
        data = json.loads(data["DashboardBody"])
    if not isinstance(data, dict):
        raise InputError("expected a DashboardBody object", source=str(path))
    return data


def _queries(path: Path | None) -> Any:
    """A run's queries.parquet, or None."""
    if path is None:
        return None
    import pandas as pd

    return pd.read_parquet(path)


def _metrics(path: Path | None) -> Any:
    """Datapoints for the round trip, or None."""
    if path is None:
        return None
    from dpcsim.alarms import read_metrics

    return read_metrics(path)
