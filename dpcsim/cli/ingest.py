"""Ingest Redshift exports into the canonical workload.

Inputs (the table is detected from each file's header, gzip from its magic bytes):
  SVL_QLOG / STL_QUERY (elapsed includes queueing: alone, execution times are upper
  bounds), STL_WLM_QUERY (queue/exec split, service class, restarts, SQA), their
  join on `query`, SYS_QUERY_HISTORY, Redset (per-query parquet or CSV),
  STL_WLM_RULE_ACTION (QMR actions: why a query was stopped), STL_LOAD_ERRORS
  and `aws stepfunctions list-executions` JSON. CSV as written by
  `psql --csv` or `UNLOAD ... FORMAT CSV HEADER` (lowercase column names), gzip CSV
  or parquet. Units as AWS writes them: durations [µs] (Redset [ms]), timestamps
  UTC with µs.
  --users: pg_user/pg_group exports (usename,groname join; pg_user + pg_group with
  grolist) or a user,group CSV. --role-groups: role,group CSV mapping IAM roles to
  groups (users named IAMR:<role> get the role's groups). --wlm: the
  wlm_json_configuration (bare array, JSON string or describe-cluster-parameters
  output) to route every query to its queue; ``design`` is the seed's 50/30/20
  design. It is taken as the configuration the log was recorded under: an abort
  whose final attempt ran its queue's max_execution_time is a WLM timeout.
  --statement-timeout-ms: the recorded statement_timeout; a cancel that ran that
  long is put down to it. Every other abort without a QMR action is a user's
  cancel or an error (stop_cause user_or_error).

Outputs in --out DIR:
  workload.parquet      canonical queries (exec_s / queue_s [s], arrival_at UTC)
  elt_runs.parquet      Step Functions runs (when there are any)
  load_errors.parquet   STL_LOAD_ERRORS rows (when there are any)
  rejects.csv           rejected rows: source_file, source_row, line, column,
                        reason, raw (the record as it stands in the file)
                        (always written; header only when nothing was rejected)
and prints the summary: rows read = accepted + rejected (by reason), warnings,
queries per queue and per routing path. Bad input exits 2 with a one-line message;
--strict stops at the first bad row, naming its line. An existing non-empty --out
is refused unless --force, which replaces the files an earlier ingest wrote there
(listed in .dpcsim-manifest.json) and leaves other files alone; a failing ingest
leaves --out untouched.

Example
  dpcsim wlm design --out wlm.json
  dpcsim ingest gen/*.csv.gz gen/users.csv gen/stepfunctions_executions.json \\
      gen/stl_load_errors.csv --wlm wlm.json --out ingested/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dpcsim.cli._design import add_design_argument
from dpcsim.cli._progress import show_progress
from dpcsim.designs import load_design
from dpcsim.logs.ingest import IngestResult, ingest
from dpcsim.logs.store import write_workload
from dpcsim.outputs import output_folder

NAME = "ingest"
HELP = "read Redshift exports (SVL_QLOG, STL_WLM_QUERY, ...) into workload.parquet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ingest options."""
    parser.add_argument(
        "logs",
        nargs="+",
        type=Path,
        metavar="LOGS",
        help="export files, or folders of them (UNLOAD part files)",
    )
    parser.add_argument(
        "--users",
        type=Path,
        action="append",
        metavar="USERS.csv",
        help="user/group export (repeatable: e.g. pg_user.csv and pg_group.csv)",
    )
    parser.add_argument(
        "--role-groups",
        type=Path,
        metavar="ROLES.csv",
        help="role,group CSV for IAM roles",
    )
    parser.add_argument(
        "--wlm",
        type=Path,
        metavar="FILE|design",
        help="WLM config to route with, or 'design' (the --design's)",
    )
    add_design_argument(parser)
    parser.add_argument(
        "--statement-timeout-ms",
        type=int,
        default=0,
        metavar="MS",
        help="the recorded cluster's statement_timeout [ms] (0: unknown or off)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="stop at the first bad row"
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="output folder"
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite a non-empty --out"
    )


def run(args: argparse.Namespace) -> int:
    """Ingest, write the outputs and print the summary."""
    out = Path(args.out)
    quiet = getattr(args, "quiet", False)
    # Written to a folder beside --out and moved in whole: a failure leaves --out
    # as it was, and --force removes what an earlier ingest wrote there.
    with output_folder(out, force=bool(args.force)) as staging:
        wlm = load_design(args.design).wlm if str(args.wlm) == "design" else args.wlm
        result = ingest(
            args.logs,
            users=args.users,
            role_groups=args.role_groups,
            wlm=wlm,
            recorded=wlm,
            statement_timeout_ms=args.statement_timeout_ms,
            strict=args.strict,
            progress=show_progress(args),
        )
        staged = write_ingest(staging, result)
    written = [out / p.name for p in staged]
    if not quiet:
        for line in result.summary.lines():
            print(line)
        names = ", ".join(p.name for p in written)
        print(f"wrote {len(written)} files to {out}: {names}")
    return 0


def write_ingest(out: Path, result: IngestResult) -> list[Path]:
    """Write the workload parquet files and ``rejects.csv``; return their paths."""
    written = write_workload(result.workload, out)
    rejects_path = out / "rejects.csv"
    result.rejects.to_csv(rejects_path, index=False)
    return [*written.values(), rejects_path]
