"""The ``dpcsim`` command line: one module per subcommand.

Each subcommand module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. :func:`main` parses, dispatches and turns
:class:`dpcsim.errors.InputError` (and missing files) into a one-line message on
stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from dpcsim import __version__
from dpcsim.errors import InputError

__all__ = ["main"]

#: Subcommand modules under ``dpcsim.cli``, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = ("demo", "generate", "ingest", "wlm", "simulate", "alarms")


def _load(name: str) -> ModuleType:
    """Import one subcommand module."""
    return importlib.import_module(f"dpcsim.cli.{name}")


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="dpcsim",
        description=(
            "Simulate and plan the capacity of Amazon Redshift WLM: ingest query "
            "logs, generate synthetic workloads, replay them through a WLM model, "
            "and evaluate CloudWatch alarms."
        ),
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress bars or tables"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = _load(name)
        p = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        # SUPPRESS keeps a top-level --quiet from being reset by the subparser.
        p.add_argument(
            "--quiet",
            "-q",
            action="store_true",
            default=argparse.SUPPRESS,
            help="no progress bars or tables",
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code (0 ok, 1 failure, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args._run(args)
    except InputError as exc:
        print(f"dpcsim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(
            f"dpcsim {args.command}: error: no such file: {exc.filename}",
            file=sys.stderr,
        )
        return 2
    return code
