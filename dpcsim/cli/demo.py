"""``dpcsim demo``: ``dpcsim plan`` on the bundled sample (what ``make demo`` runs).

The same options and outputs as ``dpcsim plan`` (see ``dpcsim plan --help``);
without ``--workload`` both run on the bundled one-week sample (data/sample).

Example
  dpcsim demo --out reports/demo --force
"""

from __future__ import annotations

import argparse

from dpcsim.cli import plan as _plan

NAME = "demo"
HELP = "alias of dpcsim plan (on the bundled sample unless --workload is given)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``plan`` options."""
    _plan.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``dpcsim plan``."""
    return _plan.run(args)
