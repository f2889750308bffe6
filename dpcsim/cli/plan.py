"""The main job: from exports (or the bundled sample) to the report and the files
to deploy.

Stages (one line each on stderr, with its time): ingest the exports; calibrate
the contention curve on them and measure replay fidelity; simulate the design
as written (baseline); sweep WLM decisions x growth x model assumptions with
intervals; tune the alarms on whole quiet days of the log with incidents
injected; recommend; compare both ELTExecutionDelay definitions under injected
faults; emit the deployable files
of the recommendation; write run.json and the report.

Inputs
  --workload LOGS ...   export files or folders of them (SVL_QLOG, STL_WLM_QUERY,
                        STL_QUERY, SYS_QUERY_HISTORY, SVL_QUERY_SUMMARY,
                        SVL_QUERY_METRICS_SUMMARY, users/groups, Step Functions
                        executions, STL_LOAD_ERRORS); default: the bundled
                        one-week sample (data/sample)
  --wlm CURRENT.json    the wlm_json_configuration the log was recorded under
                        (default: the design's)
  --design DESIGN       the cluster's design (default dpc; see dpcsim.designs)
  --space SPACE.toml    the sweep space (default: a space built from the design,
                        written to DIR/sweep/space.toml; see examples/space.toml)
  --seed S              root seed (default 0)
  --quick               a first look: fewer decisions, replications, refits
  --workers N           local sweep processes (default: one per core)
  --scheduler ADDR      a Dask scheduler (tcp://host:8786) for the sweep

Outputs (in --out DIR; a non-empty DIR is refused unless --force)
  run.json              version, seed, settings, assumptions, input SHA-256
                        hashes, the design's keys the report reads
  ingest/ calibration/ baseline/ sweep/ recommend/ deploy/
                        see dpcsim/report/folder.py for every file
  report.html, report.md  the report (rebuild with dpcsim report DIR)
  timings.json          seconds per stage (the only file that varies between
                        two runs with the same inputs and seed)

Ends with the verdict in plain words: does the design's split hold, what to
deploy instead, which ELTExecutionDelay definition, where the files are.

Examples
  dpcsim plan --out reports/plan
  dpcsim plan --quick --out /tmp/first-look
  dpcsim plan --workload exports/ --wlm current.json --out plan-2026-06 --force
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dpcsim.cli._design import add_design_argument
from dpcsim.errors import InputError

NAME = "plan"
HELP = "the main job: ingest, calibrate, sweep, recommend, emit, report"

#: Stages in the order :func:`dpcsim.plan.plan` reports them.
STAGES = (
    "ingest",
    "calibrate",
    "baseline",
    "sweep",
    "tune alarms",
    "recommend",
    "ELT delay definitions",
    "emit",
    "report",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``plan`` options."""
    parser.add_argument(
        "--workload",
        nargs="+",
        type=Path,
        metavar="LOGS",
        help="export files or folders (default: the bundled sample)",
    )
    parser.add_argument(
        "--wlm",
        type=Path,
        metavar="CURRENT.json",
        help="the configuration the log was recorded under (default: the design's)",
    )
    add_design_argument(parser)
    parser.add_argument("--space", type=Path, metavar="SPACE.toml",
                        help="sweep space (default: from the design)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="root seed (default 0)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="a first look (a minute on the sample)")  # fmt: skip
    parser.add_argument("--workers", type=int, metavar="N",
                        help="local sweep processes (default: per core)")  # fmt: skip
    parser.add_argument("--scheduler", metavar="ADDR",
                        help="Dask scheduler address for the sweep")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="output folder")  # fmt: skip
    parser.add_argument("--force", action="store_true",
                        help="overwrite a non-empty --out")  # fmt: skip


def options_from_args(args: argparse.Namespace) -> object:
    """The :class:`dpcsim.plan.PlanOptions` of the command line (checked)."""
    from dpcsim.plan import PlanOptions

    if args.workers is not None and args.workers < 1:
        raise InputError(
            f"--workers {args.workers}: expected >= 1", location="--workers"
        )
    if args.seed < 0:
        raise InputError(f"--seed {args.seed}: expected >= 0", location="--seed")
    for flag, path in (("--wlm", args.wlm), ("--space", args.space)):
        if path is not None and not Path(path).is_file():
            raise InputError(f"{flag} {path}: no such file", source=str(path))
    quiet = bool(getattr(args, "quiet", False))
    return PlanOptions(
        workload=tuple(args.workload or ()),
        wlm=args.wlm,
        design=args.design,
        space=args.space,
        seed=int(args.seed),
        quick=bool(args.quick),
        workers=args.workers,
        scheduler=args.scheduler,
        progress_bars=not quiet and sys.stderr.isatty(),
    )


def run(args: argparse.Namespace) -> int:
    """Run every stage, one line per stage on stderr, then print the verdict."""
    from dpcsim.cli._workers import start_local_workers

    # First: the sweep pool's server imports while this process does.
    start_local_workers(args.workers, args.scheduler)
    from dpcsim.cli._files import prepare_out_dir
    from dpcsim.designs import load_design
    from dpcsim.plan import PlanOptions, export_files, plan, sample_dir, verdict_lines

    options = options_from_args(args)
    assert isinstance(options, PlanOptions)
    quiet = bool(getattr(args, "quiet", False))
    # Bad inputs fail here, in one line, before anything is written.
    export_files(list(options.workload) or [sample_dir()])
    load_design(options.design)
    out = prepare_out_dir(args.out, force=bool(args.force))
    count = len(STAGES)
    done = [0]

    def progress(stage: str, seconds: float) -> None:
        done[0] += 1
        if not quiet:
            print(
                f"[{done[0]}/{count}] {stage}: {seconds:.1f} s",
                file=sys.stderr,
                flush=True,
            )

    if not quiet:
        what = "quick" if options.quick else "full"
        source = "the bundled sample" if not options.workload else "your exports"
        print(f"dpcsim plan ({what}) on {source} -> {out}", file=sys.stderr)
    result = plan(options, out, progress=progress)
    if not quiet:
        total = sum(result.timings_s.values())
        print(f"done in {total:.0f} s\n", file=sys.stderr)
        print("\n".join(verdict_lines(result)))
    return 0
