"""Show, or with --apply make, the changes of an emitted folder (boto3).

dpcsim deploy DIR --parameter-group NAME [--apply] [--region R] [--endpoint-url URL]

DIR is a ``dpcsim emit`` folder. Every file is checked offline again; a folder
for another parameter group than NAME is refused. Without --apply nothing is
changed: the current parameter values, alarms and dashboard are read and the
differences listed. With --apply the parameter group change, each alarm and the
dashboard are applied in that order, each read back and compared; the first
error stops the deployment and the report says what was and was not applied.
Needs boto3 (``pip install 'dpcsim[aws]'``) and AWS credentials.

Exit codes: 0 applied (or dry run) with no difference, 1 an error or a
difference read back, 2 bad input.

Examples
  dpcsim deploy plan/deploy --parameter-group dpc-learning-wlm
  dpcsim deploy plan/deploy --parameter-group dpc-learning-wlm --apply
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "deploy"
HELP = "dry-run or --apply an emitted folder with boto3"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``dpcsim deploy``."""
    parser.add_argument("folder", type=Path, metavar="DIR", help="a dpcsim emit folder")
    parser.add_argument(
        "--parameter-group",
        required=True,
        metavar="NAME",
        help="the only parameter group that may be modified",
    )
    parser.add_argument(
        "--apply", action="store_true", help="apply the changes (default: dry run)"
    )
    parser.add_argument("--region", metavar="R", help="AWS region")
    parser.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="endpoint of the AWS APIs (e.g. a local test server)",
    )


def run(args: argparse.Namespace) -> int:
    """Load, check, dry-run or apply; print the report."""
    from dpcsim.emit.deploy import deploy, load_plan, make_clients

    plan = load_plan(args.folder, parameter_group=args.parameter_group)
    redshift, cloudwatch = make_clients(
        region=args.region, endpoint_url=args.endpoint_url
    )
    report = deploy(plan, redshift, cloudwatch, apply=bool(args.apply))
    mode = "applied" if args.apply else "dry run (nothing applied; pass --apply)"
    print(f"dpcsim deploy {args.folder}: {mode}")
    for line in report.lines():
        print(f"  {line}")
    return 0 if report.ok else 1
