"""Check a WLM configuration against AWS's limits, or write the DPC design's.

dpcsim wlm check wlm.json
    Parses a real ``wlm_json_configuration`` (the JSON array, a JSON string of it,
    or ``aws redshift describe-cluster-parameters`` output), validates it against
    AWS's limits and prints one line per queue: service class, slots, memory [%],
    WLM timeout [s], Concurrency Scaling, the groups that route to it and its QMR
    rules. Exit 2 with the violated limit when it is invalid.

dpcsim wlm design [--slot-reading slots|memory] [--timeouts qmr|wlm|both]
                  [--mode manual|auto] [--out FILE]
    Prints (or writes to FILE) the DPC design as the JSON array that goes into the
    parameter group's ``wlm_json_configuration``.

Examples
  dpcsim wlm design --out wlm.json
  dpcsim wlm check wlm.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.errors import InputError
from dpcsim.wlm import read_wlm_config
from dpcsim.wlm.describe import describe
from dpcsim.wlm.io import canonical_json

NAME = "wlm"
HELP = "check a wlm_json_configuration, or write the DPC design's"

#: ``dpcsim wlm check --help``.
CHECK_DESCRIPTION = """\
Validate a wlm_json_configuration against AWS's limits and show its queues.

Input: the JSON array, a JSON string of it, or the output of
``aws redshift describe-cluster-parameters``. Prints one line per queue in
routing (array) order: service class, slots, memory [%], WLM timeout [s],
Concurrency Scaling, the user groups (ug:) and query groups (qg:) that route
to it, and its QMR rules; then SQA. Exit 2 with the violated limit when it
is invalid.

Example
  dpcsim wlm check wlm.json
"""

#: ``dpcsim wlm design --help``.
DESIGN_DESCRIPTION = """\
Write the DPC design (batch / admin / adhoc, 50/30/20, SQA, Concurrency
Scaling) as the JSON array for the parameter group's wlm_json_configuration.

Output: the JSON on stdout, or in --out FILE (an existing FILE is refused
unless --force). dpcsim/designs/dpc_wlm.py gives the reasons for each choice.

Example
  dpcsim wlm design --out wlm.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``check`` and ``design``."""
    sub = parser.add_subparsers(dest="wlm_command", metavar="ACTION", required=True)
    raw = argparse.RawDescriptionHelpFormatter
    check = sub.add_parser(
        "check",
        help="validate a WLM JSON file and show its queues",
        description=CHECK_DESCRIPTION,
        formatter_class=raw,
    )
    check.add_argument(
        "path",
        type=Path,
        metavar="FILE",
        help="wlm.json or describe-cluster-parameters",
    )
    design = sub.add_parser(
        "design",
        help="the DPC design's wlm_json_configuration",
        description=DESIGN_DESCRIPTION,
        formatter_class=raw,
    )
    design.add_argument(
        "--slot-reading",
        choices=("slots", "memory"),
        default="slots",
        help="50/30/20 as slots and memory (8/3/5 slots), or memory only "
        "(5/3/5 slots) (default slots)",
    )
    design.add_argument(
        "--timeouts",
        choices=("qmr", "wlm", "both"),
        default="qmr",
        help="timeouts as QMR abort rules, WLM timeouts, or both (default qmr)",
    )
    design.add_argument(
        "--mode",
        choices=("manual", "auto"),
        default="manual",
        help="manual WLM, or auto WLM with queue priorities (default manual)",
    )
    design.add_argument(
        "--out", type=Path, metavar="FILE", help="write here instead of stdout"
    )
    design.add_argument("--force", action="store_true", help="overwrite --out")
    for action in (check, design):
        # Accept ``-q`` after the action too; SUPPRESS keeps an earlier -q.
        action.add_argument(
            "--quiet",
            "-q",
            action="store_true",
            default=argparse.SUPPRESS,
            help="no table or 'wrote' line (check: the exit code only)",
        )


def run(args: argparse.Namespace) -> int:
    """Run ``dpcsim wlm``."""
    quiet = bool(getattr(args, "quiet", False))
    if args.wlm_command == "check":
        config = read_wlm_config(args.path)
        if quiet:
            return 0
        print(
            f"{args.path}: valid ({len(config.parameter_value())} of 8000 characters)"
        )
        for line in describe(config):
            print(line)
        return 0
    config = dpc_design_config(
        slot_reading=args.slot_reading, timeouts=args.timeouts, mode=args.mode
    )
    text = canonical_json(config.to_json())
    if args.out is None:
        sys.stdout.write(text)
        return 0
    if args.out.exists() and not args.force:
        raise InputError("exists; pass --force to overwrite it", source=str(args.out))
    args.out.write_text(text, encoding="utf-8")
    if not quiet:
        print(f"wrote {args.out}")
    return 0
