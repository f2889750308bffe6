"""The ``--design FILE`` option every command that uses the design takes."""

from __future__ import annotations

import argparse

__all__ = ["add_design_argument"]


def add_design_argument(parser: argparse.ArgumentParser) -> None:
    """Register ``--design FILE|dpc`` (default: the DPC design)."""
    parser.add_argument(
        "--design",
        default="dpc",
        metavar="FILE|dpc",
        help="the cluster's design: a .toml or .py file (see dpcsim.designs.read) "
        "or 'dpc' (default)",
    )
