"""Sweep a space of WLM decisions, future scenarios and model assumptions.

Runs every (decision, scenario, assumption) point of a space file for N
replications, with intervals, locally (one process per core) or on a Dask
cluster, and resumes an interrupted sweep where it stopped.

Inputs
  --workload W        a canonical workload (workload.parquet or its folder)
  --space SPACE.toml  the space (see examples/space.toml for every key)
  --replications N    replications per point (default: the space's)
  --workers N         local worker processes (default: one per core)
  --scheduler ADDR    a Dask scheduler (tcp://host:8786); workers must be able
                      to read --workload at the same path
  --replicate KIND    bootstrap (resample whole days of the log, default) or
                      regenerate (new generator seeds; needs spec.json next to
                      the workload)
  --wlm FILE|design   base wlm_json_configuration (default: the design's)
  --settings TOML     base cluster settings
  --alarms FILE|design|none
                      alarms evaluated on every run (default: design)

Outputs (in --out DIR; a folder holding a sweep is resumed)
  runs/<run_key>.parquet  one row per finished run, published atomically
  results.parquet         one row per run: run_key, config_id, scenario_id,
                          assumption_id, replication, status, error, seed,
                          decision.*, scenario.*, assumption.*, metric.*
  stats.csv               config_id, scenario_id, assumption_id, metric, n,
                          mean, ci_low, ci_high, level
  space.toml, sweep.json  the space and how to rebuild any run

Example
  dpcsim sweep --workload data/sample --space examples/space.toml --out sweep
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from dpcsim.cli._design import add_design_argument
from dpcsim.cli._progress import show_progress
from dpcsim.cli._workers import start_local_workers
from dpcsim.errors import InputError

if TYPE_CHECKING:
    from dpcsim.designs import Design

NAME = "sweep"
HELP = "sweep WLM decisions x scenarios x assumptions with replications"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``sweep`` options."""
    parser.add_argument(
        "--workload", required=True, metavar="W", help="workload.parquet or its folder"
    )
    parser.add_argument(
        "--space", required=True, metavar="SPACE.toml", help="the space file"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="sweep folder")
    parser.add_argument(
        "--replications", type=int, metavar="N", help="replications per point"
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local worker processes (default: one per core)",
    )
    parser.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address")
    parser.add_argument(
        "--replicate",
        choices=("bootstrap", "regenerate"),
        default="bootstrap",
        help="replication method",
    )
    parser.add_argument(
        "--days", type=int, metavar="N", help="days per regenerated week"
    )
    parser.add_argument(
        "--wlm", default="design", metavar="FILE|design", help="base WLM configuration"
    )
    parser.add_argument("--settings", metavar="TOML", help="base cluster settings")
    add_design_argument(parser)
    parser.add_argument(
        "--alarms",
        default="design",
        metavar="FILE|design|none",
        help="alarms evaluated on every run",
    )


def run(args: argparse.Namespace) -> int:
    """Read the space, run or resume the sweep, print a summary."""
    import tomllib

    workload = Path(args.workload)
    if not workload.exists():
        raise FileNotFoundError(2, "No such file or directory", str(workload))
    if args.replications is not None and args.replications < 1:
        raise InputError(f"--replications {args.replications}: expected >= 1")
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers {args.workers}: expected >= 1")
    # Before the imports below: the pool's server imports meanwhile.
    start_local_workers(args.workers, args.scheduler)

    from dpcsim.cli.simulate import _load_config, _load_settings
    from dpcsim.designs import load_design
    from dpcsim.experiments import SweepContext, run_sweep, space_from_dict
    from dpcsim.experiments.execute import contract_dict
    from dpcsim.experiments.outcomes import EltWindow

    design = load_design(args.design)
    config = _load_config(str(args.wlm), design)
    settings = _load_settings(args.settings)
    alarm_requests = _alarm_requests(str(args.alarms), design)
    text = Path(args.space).read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", source=str(args.space)) from None
    space = space_from_dict(
        data,
        source=str(args.space),
        text=text,
        base=config,
        settings=settings,
        elt=design.elt,
        alarms=alarm_requests,
    )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a directory", source=str(out))
    if out.is_dir() and any(out.iterdir()) and not (out / "runs").is_dir():
        raise InputError(
            "folder is not empty and holds no sweep; expected a new or a sweep folder",
            source=str(out),
        )
    obj = space.objectives
    ctx = SweepContext(
        workload_path=str(workload.resolve()),
        replicate=args.replicate,
        root=space.seed,
        base_wlm=config.to_json(),
        base_settings=settings.to_dict(),
        alarms=alarm_requests,
        window=EltWindow(
            start=obj.elt_window[0], end=obj.elt_window[1], timezone=obj.timezone
        ),
        days=args.days,
        elt=contract_dict(design.elt),
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(
        json.dumps(context_dict(ctx), indent=2, sort_keys=True) + "\n"
    )
    report = run_sweep(
        space,
        ctx,
        out,
        replications=args.replications,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=show_progress(args),
    )
    if not getattr(args, "quiet", False):
        print(
            f"{len(space.decisions)} decisions x {len(space.scenarios)} scenarios x "
            f"{len(space.assumptions)} assumptions"
        )
        print(
            f"runs: {report.runs_done} done now, {report.runs_skipped} already "
            f"done, {report.failures} failed; {report.wall_s:.1f} s wall, "
            f"{report.run_s:.1f} s in runs"
        )
        print(
            f"wrote results.parquet ({len(report.results)} runs) and stats.csv to {out}"
        )
    return 0


def context_dict(ctx: object) -> dict[str, object]:
    """sweep.json: the context as plain JSON."""
    from dataclasses import asdict

    return asdict(ctx)  # type: ignore[call-overload, no-any-return]


def _alarm_requests(value: str, design: Design) -> list[dict[str, object]]:
    """PutMetricAlarm requests of the alarm set (plain dicts, to ship to workers)."""
    from dpcsim.cli.simulate import load_alarm_set

    specs = load_alarm_set(value, design=design) or []
    return [dict(s.request) for s in specs]
