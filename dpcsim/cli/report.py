"""Build the report of a run folder (``dpcsim plan --out DIR``) without rerunning.

Inputs
  RUN_DIR    a run folder: run.json, baseline/, calibration/, sweep/,
             recommend/, deploy/ (any part may be missing; the report says which
             command produces it).
Outputs (in RUN_DIR)
  report.html  one self-contained page: figures embedded as data: PNGs, no
               request to any other resource (Content-Security-Policy
               default-src 'none').
  report.md    the same sections in Markdown (figures named by caption).

Example
  dpcsim report reports/plan
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "report"
HELP = "build report.html and report.md from a run folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``report`` arguments."""
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run folder")


def run(args: argparse.Namespace) -> int:
    """Write the two report files and print where they are."""
    from dpcsim.report import write_report

    html_path, md_path = write_report(args.run_dir)
    if not getattr(args, "quiet", False):
        print(f"wrote {html_path} and {md_path}")
    return 0
