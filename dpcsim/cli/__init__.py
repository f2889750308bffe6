"""The ``dpcsim`` command line: one module per subcommand.

Each subcommand module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. :func:`main` parses, dispatches and turns
:class:`dpcsim.errors.InputError` and failed file operations (a missing file, a
folder where a file was expected, no permission) into a one-line message on
stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Final, NoReturn

from dpcsim import __version__
from dpcsim.errors import InputError

__all__ = ["entry", "main"]

#: Subcommand modules under ``dpcsim.cli``, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "plan",
    "demo",
    "generate",
    "ingest",
    "wlm",
    "simulate",
    "calibrate",
    "sweep",
    "recommend",
    "alarms",
    "emit",
    "deploy",
    "report",
)

#: One-line help of subcommands, so that ``dpcsim --help`` and a run of one
#: subcommand import only that subcommand's module (each imports most of the
#: library). A command missing here is imported to read its ``HELP``; a test
#: checks these equal the modules' own.
SUMMARIES: dict[str, str] = {
    "plan": "the main job: ingest, calibrate, sweep, recommend, emit, report",
    "demo": "alias of dpcsim plan (on the bundled sample unless --workload is given)",
    "generate": "generate a synthetic DPC workload as AWS export files",
    "ingest": (
        "read Redshift exports (SVL_QLOG, STL_WLM_QUERY, ...) into workload.parquet"
    ),
    "wlm": "check a wlm_json_configuration, or write the DPC design's",
    "simulate": "replay a workload through a WLM configuration",
    "calibrate": "fit contention from a log and measure replay fidelity",
    "sweep": "sweep WLM decisions x scenarios x assumptions with replications",
    "recommend": "recommend a WLM configuration and alarm settings from a sweep",
    "alarms": "evaluate CloudWatch alarms on metric data (back-test)",
    "emit": "write the checked deployable files (WLM JSON, alarms, dashboard, CFN)",
    "deploy": "dry-run or --apply an emitted folder with boto3",
    "report": "build report.html and report.md from a run folder",
}


#: The end of ``dpcsim --help``: the usual chain of commands.
EPILOG = """\
examples:
  dpcsim plan --out reports/plan           the whole job on the bundled sample
  dpcsim plan --workload exports/ --wlm current.json --out plan
                                           the whole job on your own exports
  dpcsim generate --days 2 --seed 1 --out gen
  dpcsim wlm design --out wlm.json
  dpcsim ingest gen/*.csv.gz gen/users.csv gen/stepfunctions_executions.json \\
      gen/stl_load_errors.csv --wlm wlm.json --out ingested
  dpcsim simulate --workload ingested --wlm wlm.json --out run
  dpcsim calibrate --workload ingested --wlm wlm.json --out calib
  dpcsim alarms --alarms design --metrics run --out backtest
  dpcsim report plan-run                   rebuild report.html/.md of a run folder

Each command's --help lists its inputs, outputs and units. Bad input ends with
one line on stderr and exit code 2.
"""


def _load(name: str) -> ModuleType:
    """Import one subcommand module."""
    return importlib.import_module(f"dpcsim.cli.{name}")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered.

    With ``argv``, only the subcommand it names is imported and given its
    options; the others are listed by their :data:`SUMMARIES` line (a
    subcommand without one is imported). Without ``argv`` every subcommand
    is imported.
    """
    selected = _selected_command(argv)
    parser = argparse.ArgumentParser(
        prog="dpcsim",
        description=(
            "Simulate and plan the capacity of Amazon Redshift WLM: ingest query\n"
            "logs, generate synthetic workloads, replay them through a WLM model,\n"
            "and evaluate CloudWatch alarms."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress bars or tables"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        if argv is not None and name != selected and name in SUMMARIES:
            sub.add_parser(name, help=SUMMARIES[name])
            continue
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


#: Commands that keep numpy's huge pages: ``ingest``, whose peak memory rises
#: without them (figures in dpcsim.hugepages).
HUGEPAGES_KEPT: Final = frozenset({"ingest"})


def _selected_command(argv: Sequence[str] | None) -> str | None:
    """The subcommand ``argv`` names: its first argument that is not an option."""
    for arg in argv or ():
        if not arg.startswith("-"):
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code (0 ok, 1 failure, 2 bad input)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if _selected_command(argv) not in HUGEPAGES_KEPT:
        # Before anything imports numpy (see dpcsim.hugepages): the command's
        # large arrays are faulted in 4 KiB pages, not 2 MiB huge pages.
        from dpcsim.hugepages import numpy_hugepages_off

        numpy_hugepages_off()
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    # This process is dpcsim's: its Arrow buffers go back to the system once
    # freed (see dpcsim.arrowpool), which lowers the peak of every read.
    from dpcsim.arrowpool import use_dpcsim_pool

    use_dpcsim_pool()
    try:
        with warnings.catch_warnings():
            # A library warning (e.g. a missing optional extra) is one line too.
            warnings.showwarning = _warning_printer(args.command)
            code: int = args._run(args)
    except InputError as exc:
        return _fail(args.command, str(exc), 2)
    except BrokenPipeError:
        # The reader of stdout went away (``dpcsim simulate ... | head``): the
        # output files are written; stop quietly, and keep Python's final flush
        # of the closed pipe from printing a traceback.
        _silence_stdout()
        return 0
    except OSError as exc:
        message, code = _os_error_message(exc)
        return _fail(args.command, message, code)
    return code


def entry() -> NoReturn:
    """The ``dpcsim`` program: :func:`main`, then exit with its code.

    Every file is closed by then, so the interpreter's final garbage
    collection has nothing left to do but walk millions of objects (a
    million-query run's, numba's): ``gc.freeze`` skips it (0.1-0.4 s).
    """
    code = main()
    gc.freeze()
    sys.exit(code)


def _warning_printer(command: str) -> Callable[..., None]:
    """A ``warnings.showwarning`` printing ``dpcsim COMMAND: warning: ...``."""

    def show(message: Warning | str, *_args: object, **_kwargs: object) -> None:
        text = " ".join(str(message).split())
        print(f"dpcsim {command}: warning: {text}", file=sys.stderr)

    return show


def _silence_stdout() -> None:
    """Point stdout at /dev/null (after its reader closed the pipe)."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _fail(command: str, message: str, code: int) -> int:
    """Print the one-line error for ``command`` on stderr; return ``code``."""
    # One line whatever the cause: a multi-line detail (e.g. a parser's excerpt)
    # would make the message hard to grep in a job log.
    text = " ".join(message.split())
    print(f"dpcsim {command}: error: {text}", file=sys.stderr)
    return code


def _os_error_message(exc: OSError) -> tuple[str, int]:
    """A one-line message and exit code for a failed file operation.

    A path the user named that is missing, a folder, not a folder or not
    readable is bad input (exit 2); anything else (a full disk, an I/O error)
    is a failure (exit 1).
    """
    name = exc.filename if exc.filename is not None else "<unknown file>"
    if isinstance(exc, FileNotFoundError):
        return f"{name}: no such file or directory; expected an existing path", 2
    if isinstance(exc, IsADirectoryError):
        return f"{name}: is a directory; expected a file", 2
    if isinstance(exc, NotADirectoryError):
        return f"{name}: a path component is not a directory; expected a folder", 2
    if isinstance(exc, PermissionError):
        return f"{name}: permission denied; expected a file you can read or write", 2
    if isinstance(exc, FileExistsError):
        return f"{name}: already exists; pass --force to overwrite it", 2
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{name}: {reason}", 1
