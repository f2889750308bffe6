"""The main job on the bundled one-week sample (what ``make demo`` runs).

  1. ingest the sample's AWS exports (SVL_QLOG, STL_WLM_QUERY, users,
     Step Functions executions, STL_LOAD_ERRORS) and print the workload summary;
  2. replay it under the design's 50/30/20 WLM configuration (batch / admin /
     adhoc, SQA, Concurrency Scaling on batch and admin) and print the waits;
  3. build the CloudWatch metrics the run would publish and back-test the
     design's five alarms on them;
  4. print the ELT delay under both candidate definitions (open question 1);
  5. emit the deployable files of the design (``dpcsim emit``) into DIR/deploy,
     with QMR log rules at the replay's p99 and the alarms round-tripped
     through the evaluator on the replay's metrics.

Inputs
  --sample DIR   the exports to ingest (default: the bundled sample,
                 dpcsim.sample_dir())
  --seed S       engine seed (default 0)
  --design FILE  the cluster's design (default dpc; see dpcsim.designs.read)
Outputs (in --out DIR; a non-empty DIR is refused unless --force)
  workload.parquet, elt_runs.parquet, load_errors.parquet, rejects.csv
                 the ingested workload (see data/README.md)
  queries.parquet, timeline.parquet, scaling.parquet, summary.json,
  metrics.parquet, alarm_history.csv, alarm_summary.csv
                 the simulated run (see ``dpcsim simulate --help``)
  deploy/        wlm.json, modify-cluster-parameter-group.json, alarms/*.json,
                 dashboard.json, template.yaml, CHANGES.md (``dpcsim emit --help``)
and prints what each step found.

Example
  dpcsim demo --out reports/demo
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dpcsim.bundled import sample_dir
from dpcsim.cli._design import add_design_argument
from dpcsim.cli._files import prepare_out_dir
from dpcsim.cli._progress import show_progress
from dpcsim.cli.ingest import write_ingest
from dpcsim.cli.simulate import format_run, load_alarm_set
from dpcsim.designs import load_design
from dpcsim.engine import ClusterSettings
from dpcsim.errors import InputError
from dpcsim.logs import ingest
from dpcsim.run import Run
from dpcsim.wlm import describe

NAME = "demo"
HELP = "ingest, simulate and back-test the alarms on the bundled sample"

#: The bundled sample: package data, found in a wheel as in a checkout.
SAMPLE_DIR = sample_dir()
#: Export files of a sample folder, as a cluster's export job names them.
EXPORT_PATTERNS = ("svl_qlog*", "stl_wlm_query*", "users*", "stepfunctions*",
                   "stl_load_errors*")  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``demo`` options."""
    parser.add_argument("--sample", type=Path, default=SAMPLE_DIR, metavar="DIR",
                        help="exports (default: the bundled sample)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="engine seed (default 0)")  # fmt: skip
    add_design_argument(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="output folder")  # fmt: skip
    parser.add_argument("--force", action="store_true",
                        help="overwrite a non-empty --out")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Run the four steps and print what each found."""
    quiet = bool(getattr(args, "quiet", False))
    files = export_files(args.sample)
    design = load_design(args.design)
    out = prepare_out_dir(args.out, force=bool(args.force))
    config = design.wlm
    say = _printer(quiet)

    say(f"== 1/5 ingest {len(files)} export files from {args.sample}")
    ingested = ingest(files, wlm=config, progress=show_progress(args))
    write_ingest(out, ingested)
    for line in ingested.summary.lines():
        say(f"   {line}")

    say("\n== 2/5 replay under the design's WLM configuration")
    for line in describe(config):
        say(f"   {line}")
    say("")
    outputs = Run.simulate(
        ingested.workload,
        config,
        ClusterSettings(),
        rng=args.seed,
        alarms=load_alarm_set("design", design=design),
        design=design,
    )
    outputs.write(out)
    text = format_run(outputs).split("\n\n")
    say("\n".join(f"   {line}" for line in text[0].splitlines()))
    say("\n== 3/5 the design's alarms, evaluated every minute as CloudWatch does")
    say("\n".join(f"   {line}" for line in text[1].splitlines()))
    say("\n== 4/5 ELTExecutionDelay under both definitions (open question 1)")
    for line in elt_delay_lines(outputs):
        say(f"   {line}")
    say("\n== 5/5 deployable files of the design, checked offline")
    bundle = emit_design(outputs, out / "deploy")
    say(f"   wrote {len(bundle.files)} files to {out / 'deploy'} (see CHANGES.md)")
    say(f"\nwrote {len(list(out.iterdir()))} files to {out}")
    return 0


def emit_design(outputs: Run, folder: Path) -> Any:
    """``dpcsim emit`` of the design with the replay's p99 log rules."""
    from dpcsim.alarms.design import sns_topic_arn
    from dpcsim.emit import EmitInputs, design_pieces, emit

    p = design_pieces()
    inputs = EmitInputs(
        wlm=p.wlm,
        alarms=p.alarms,
        dashboard_body=p.dashboard_body,
        dashboard_name=p.dashboard_name,
        parameter_group=f"{p.cluster_id}-wlm",
        sns_topic_arn=sns_topic_arn("123456789012", p.region),
        topic_name=p.sns_topic,
        cluster_id=p.cluster_id,
        region=p.region,
        limits=p.limits,
        queries=outputs.records.queries,
        datapoints=outputs.datapoints,
    )
    return emit(inputs, folder)


def export_files(folder: Path) -> list[Path]:
    """The export files of a sample folder, in a fixed order."""
    if not folder.is_dir():
        raise InputError("not a folder of exports", source=str(folder))
    files = [p for pattern in EXPORT_PATTERNS for p in sorted(folder.glob(pattern))]
    if not files:
        raise InputError(
            f"no export files; expected files named {list(EXPORT_PATTERNS)}",
            source=str(folder),
        )
    return files


def elt_delay_lines(outputs: Run) -> list[str]:
    """Worst delay and minutes above 90 under each ``Definition`` [min]."""
    points = outputs.datapoints
    delay = points[points["metric_name"] == "ELTExecutionDelay"]
    lines = []
    for dims, rows in delay.groupby("dimensions", sort=True):
        values = rows["value"].to_numpy(dtype=np.float64)
        late = rows.loc[values > 90, "timestamp"]
        first = (
            "-" if late.empty else pd.Timestamp(late.iloc[0]).strftime("%m-%d %H:%M")
        )
        lines.append(
            f"{dims}: worst {values.max():.0f} min overdue, {int((values > 90).sum())}"
            f" minutes above 90 (first {first} UTC)"
        )
    return lines


def _printer(quiet: bool) -> Callable[[str], None]:
    """``print`` unless quiet."""
    return _silent if quiet else print


def _silent(_text: str) -> None:
    """Print nothing."""
