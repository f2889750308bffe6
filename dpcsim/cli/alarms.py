"""Back-test CloudWatch alarms on metric data, evaluated as CloudWatch does.

Inputs
  --alarms FILE|design  alarm definitions: PutMetricAlarm JSON (one object or a
                        list, as ``aws cloudwatch put-metric-alarm
                        --cli-input-json`` takes it) or a CloudFormation template
                        (JSON or YAML) with ``AWS::CloudWatch::Alarm`` resources;
                        ``design`` is the --design's alarms (DPC: its five
                        alarms, ``dpcsim/data/dpc_design_alarms.json``).
  --design FILE|dpc     the cluster's design (default dpc; see dpcsim.designs.read).
  --account ID          12-digit account of the SNS topic of ``design``.
  --metrics SOURCE      a simulation output directory (``metrics.parquet``), a
                        tidy CSV (``timestamp, namespace, metric_name, dimensions,
                        value``; dimensions ``Name=Value;Name=Value``, timestamps
                        ISO 8601 UTC), a tidy parquet file, or GetMetricData
                        output JSON together with its ``MetricDataQueries``.
  --range-extra K       periods fetched beyond EvaluationPeriods (the evaluation
                        range is N + K; AWS's documented example uses 2).

Evaluation: every minute (every 10 s for 10/20/30-s periods) from the first
datapoint to the end of the last period in the data, over the sliding window of
Period x EvaluationPeriods, with M of N, TreatMissingData, the evaluation range
and the premature-alarm rule; alarms start in INSUFFICIENT_DATA.

Outputs (in --out DIR, default the current directory; existing files are refused
unless --force)
  alarm_history.csv  alarm_name, evaluated_at (ISO 8601 UTC), state (OK, ALARM,
                     INSUFFICIENT_DATA): one row per evaluation.
  alarm_summary.csv  per alarm: transitions_to_alarm, time_in_alarm_s [s],
                     first_alarm_at, final_state, evaluations, first/last
                     evaluated_at.
The summary is also printed (hours in ALARM, first ALARM time in UTC).

Examples
  dpcsim alarms --alarms design --metrics run/ --out backtest/
  dpcsim alarms --alarms my-alarms.yaml --metrics datapoints.csv --out backtest/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dpcsim.alarms import (
    EvaluationOptions,
    alarms_from_document,
    evaluate_alarms,
    read_alarms,
    read_metrics,
    write_alarm_run,
)
from dpcsim.alarms.io import unmatched_alarms
from dpcsim.alarms.spec import AlarmSpec
from dpcsim.cli._design import add_design_argument
from dpcsim.cli._progress import show_progress
from dpcsim.designs import Design, load_design

NAME = "alarms"
HELP = "evaluate CloudWatch alarms on metric data (back-test)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``dpcsim alarms``."""
    parser.add_argument(
        "--alarms", required=True, metavar="FILE|design", help="alarm file, or 'design'"
    )
    add_design_argument(parser)
    parser.add_argument(
        "--account",
        default="123456789012",
        metavar="ID",
        help="account id of the design's SNS topic",
    )
    parser.add_argument(
        "--metrics",
        required=True,
        type=Path,
        metavar="SOURCE",
        help="run folder, datapoints CSV/parquet, GetMetricData JSON",
    )
    parser.add_argument(
        "--queries",
        type=Path,
        metavar="QUERIES.json",
        help="the GetMetricData request's MetricDataQueries, when --metrics is "
        "the AWS CLI's output (which does not carry them)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="output folder (default: current folder)",
    )
    parser.add_argument(
        "--range-extra",
        type=_non_negative_int,
        default=2,
        metavar="K",
        help="periods beyond N (default 2)",
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite the two CSVs in --out"
    )


def _non_negative_int(text: str) -> int:
    """Parse ``--range-extra``: an integer >= 0 [periods]."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}; expected an integer >= 0")
    return value


def load_alarms(
    spec: str, account: str = "123456789012", design: Design | None = None
) -> list[AlarmSpec]:
    """Alarms from a file, or the design's set for ``"design"`` (default DPC's)."""
    if spec == "design":
        chosen = load_design(None) if design is None else design
        return alarms_from_document(chosen.alarm_requests(account), source="design")
    return read_alarms(spec)


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the history and summary, print the summary."""
    quiet = getattr(args, "quiet", False)
    alarms = load_alarms(args.alarms, args.account, load_design(args.design))
    datapoints = read_metrics(args.metrics, queries=args.queries)
    unmatched = unmatched_alarms(alarms, datapoints)
    options = EvaluationOptions(range_extra=args.range_extra)
    progress = show_progress(args)
    result = evaluate_alarms(alarms, datapoints, options=options, progress=progress)
    paths = write_alarm_run(result, args.out, force=args.force)
    if not quiet:
        from dpcsim.cli._tables import format_alarm_summary

        print(format_alarm_summary(result.summary))
        # Said beside the summary: an alarm with no data would otherwise show
        # only as INSUFFICIENT_DATA.
        for message in unmatched:
            print(f"note: {message}")
        print(f"\nwrote {paths['history']} and {paths['summary']}")
    return 0
