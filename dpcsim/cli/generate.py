"""Generate a synthetic DPC workload and write it as a real cluster's exports.

Models the seed's platform: the nightly ELT (Step Functions at 02:00 JST, COPY
bursts into stage.*, dbt models in dependency order, ANALYZE, DQ checks),
weekly VACUUM and monthly ANALYZE COMPRESSION in admin, and learners' adhoc
queries (JST daily profile, bursts, repetition, result-cache hits). The same
--seed and options give identical files.

Inputs
  --days N              horizon [days] from --start-date 00:00 JST (default 7)
  --start-date D        first day, YYYY-MM-DD (JST)
  --seed S              random seed (default 0)
  --learners K          registered learners (default 400)
  --learner-growth X    learners x X (and so adhoc arrivals)
  --data-growth X       data volume x X: COPY / dbt / UNLOAD / VACUUM times
  --fault KIND:DAY[:ARG]  repeatable; DAY is the 0-based day index:
                        copy_error:DAY, dbt_failure:DAY[:MODEL],
                        late_start:DAY[:MINUTES], failed_run:DAY[:RERUN_MINUTES],
                        stuck_query:DAY[:HOURS]
  --spec FILE           start from a spec.json (options above override it)
  --no-wlm              do not simulate the design WLM for the observed columns

Outputs (in --out DIR; a non-empty DIR is refused unless --force)
  svl_qlog.csv.gz, stl_wlm_query.csv.gz   the AWS layouts (µs durations, UTC
                        timestamps); STL_WLM_QUERY's queue time and service class
                        come from a simulation of the workload under the seed's
                        50/30/20 design (dpcsim.engine), unless --no-wlm
  users.csv             usename,groname of every user
  stepfunctions_executions.json   the nightly Step Functions executions
  stl_load_errors.csv   COPY load errors (header only when none)
  workload.parquet (+ elt_runs.parquet, load_errors.parquet)   the canonical
                        workload with exact execution times [s]
  spec.json             {"seed": S, "observed_wlm": ..., "spec": {...}}
and prints the row counts and headline figures.

Examples
  dpcsim generate --days 2 --seed 1 --out gen/
  dpcsim generate --learner-growth 5 --fault copy_error:1 --out what-if/
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from dpcsim.canonical import write_json
from dpcsim.cli._files import announce_kept_files
from dpcsim.cli._progress import show_progress, steps_bar
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine.settings import ClusterSettings, read_cluster_settings
from dpcsim.errors import InputError
from dpcsim.observe import observed_wlm_columns
from dpcsim.outputs import output_folder
from dpcsim.schema import Workload
from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload, observe_wlm
from dpcsim.workload.faults import Faults, parse_fault
from dpcsim.workload.spec import read_workload_spec

NAME = "generate"
HELP = "generate a synthetic DPC workload as AWS export files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the generate options."""
    parser.add_argument("--days", type=int, default=None, metavar="N",
                        help="horizon [days] (default 7)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="random seed (default 0)")  # fmt: skip
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder")  # fmt: skip
    parser.add_argument("--learners", type=int, default=None, metavar="K",
                        help="registered learners (default 400)")  # fmt: skip
    parser.add_argument("--learner-growth", type=float, default=None, metavar="X",
                        help="learners x X (default 1)")  # fmt: skip
    parser.add_argument("--data-growth", type=float, default=None, metavar="X",
                        help="data volume x X (default 1)")  # fmt: skip
    parser.add_argument("--start-date", default=None, metavar="YYYY-MM-DD",
                        help="first day (JST)")  # fmt: skip
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND:DAY[:ARG]",
        help="inject a fault (repeatable)",
    )
    parser.add_argument("--spec", default=None, metavar="FILE",
                        help="spec.json to start from")  # fmt: skip
    parser.add_argument(
        "--settings",
        default=None,
        metavar="TOML",
        help="cluster settings of the recording cluster (its "
        "[contention] shapes the logged execution times)",
    )
    parser.add_argument("--no-wlm", action="store_true",
                        help="leave queue time / service class unobserved")  # fmt: skip
    parser.add_argument("--force", action="store_true",
                        help="overwrite a non-empty --out")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Generate, observe under the design WLM, write the exports; exit code."""
    from dpcsim.logs import write_exports, write_workload

    quiet = bool(getattr(args, "quiet", False))
    spec = build_spec(args)
    out_dir = Path(args.out)
    announce_kept_files(out_dir, force=bool(args.force), quiet=quiet)
    # Written beside --out and moved in whole (see dpcsim.outputs).
    with (
        output_folder(out_dir, force=bool(args.force)) as staging,
        steps_bar(3, "generate", enabled=show_progress(args)) as steps,
    ):
        workload = generate_dpc_workload(spec, args.seed)
        steps.update()
        observed = "none"
        if not args.no_wlm:
            settings = _settings(getattr(args, "settings", None))
            workload = observe_wlm(
                workload,
                lambda w: observed_wlm_columns(
                    w, dpc_design_config(), settings, rng=args.seed
                ),
            )
            observed = (
                "dpcsim.engine.simulate under the DPC design's WLM "
                "(dpcsim.designs.dpc_wlm.dpc_design_config()), "
                f"contention {settings.contention_model} (sigma "
                f"{settings.contention_sigma}, kappa {settings.contention_kappa})"
            )
        steps.update()
        write_exports(workload, staging)
        write_workload(workload, staging, side_tables="always")
        meta = {"seed": args.seed, "observed_wlm": observed, "spec": spec.to_dict()}
        write_json(meta, staging / "spec.json")
        steps.update()
    if not quiet:
        _print_summary(workload, out_dir)
    return 0


def build_spec(args: argparse.Namespace) -> DPCWorkloadSpec:
    """The spec from --spec (if any) overridden by the command-line options."""
    data: dict[str, Any] = {}
    if args.spec:
        data = read_workload_spec(args.spec).to_dict()
    for key, value in (
        ("days", args.days),
        ("learners", args.learners),
        ("learner_growth", args.learner_growth),
        ("data_growth", args.data_growth),
        ("start_date", args.start_date),
    ):
        if value is not None:
            data[key] = value
    spec = DPCWorkloadSpec.from_dict(data, source="command line")
    faults = spec.faults
    for text in args.fault:
        faults = parse_fault(text, faults)
    spec = DPCWorkloadSpec.from_dict({**spec.to_dict(), "faults": faults.to_dict()},
                                     source="--fault")  # fmt: skip
    given = Faults()
    for text in args.fault:
        given = parse_fault(text, given)
    _check_fault_days(given, spec.days)
    return spec


def _check_fault_days(f: Faults, horizon_days: int) -> None:
    """Refuse a --fault on a day past the horizon (it would silently not happen).

    Faults a --spec file brings are kept as they are: shortening its horizon
    with --days is a way to drop them.
    """
    days = [("copy_errors", day) for day in f.copy_errors]
    for name, pairs in (
        ("dbt_failures", f.dbt_failures),
        ("late_starts", f.late_starts),
        ("failed_runs", f.failed_runs),
        ("stuck_queries", f.stuck_queries),
    ):
        days += [(name, pair[0]) for pair in pairs]
    for name, day in days:
        if day >= horizon_days:
            raise InputError(
                f"day {day} is past the {horizon_days}-day horizon; expected a "
                f"0-based day index 0..{horizon_days - 1} (or a larger --days)",
                source="--fault",
                location=f"faults.{name}",
            )


def _settings(path: str | None) -> ClusterSettings:
    """The recording cluster's settings: the TOML file, or the defaults."""
    return ClusterSettings() if path is None else read_cluster_settings(path)


def _print_summary(workload: Workload, out_dir: Path) -> None:
    """Row counts and headline figures of the generated workload."""
    q = workload.queries
    e = q["exec_s"].to_numpy()
    print("generated workload")
    print(f"  queries            {len(q):>9,}")
    print(f"  Step Functions runs{len(workload.elt_runs):>9,}")
    print(f"  load errors        {len(workload.load_errors):>9,}")
    if len(q):
        print(f"  exec median [ms]   {np.median(e) * 1000:>9.1f}")
        print(f"  exec mean [s]      {e.mean():>9.2f}")
        print(f"  cache hits [%]     {q['cache_hit'].mean() * 100:>9.1f}")
        by_type = q["statement_type"].value_counts()
        print(
            "  by type            " + ", ".join(f"{k} {v}" for k, v in by_type.items())
        )
    names = sorted(p.name for p in out_dir.iterdir())
    print(f"\nwrote {len(names)} files to {out_dir}: {', '.join(names)}")
