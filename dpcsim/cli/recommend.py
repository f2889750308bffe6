"""Recommend a WLM configuration and alarm settings from a finished sweep.

Reads the sweep folder, checks every configuration against the space file's
objectives (robust over the assumption axes), builds the Pareto front,
measures headroom by bisection over growth, evaluates a time-of-day schedule
and Redshift Advisor's WLM rule on the baseline, tunes the alarms, and prints
a short verdict.

Inputs
  --sweep DIR         a folder written by dpcsim sweep
  --replications N    replications of the headroom and tuning runs (default 3)
  --no-tuning         skip alarm tuning
Outputs (in --out DIR; a non-empty DIR is refused unless --force)
  recommendation.json  verdict {holds, text}, baseline_config_id,
                       recommended_config_id, recommended {wlm_json,
                       max_concurrency_scaling_clusters}, recommendations
                       [{id, title, observation, impact_ranking,
                       recommended_actions, evidence}]
  pareto.csv           config_id, cost_usd, elt_lateness_min, adhoc_p95_wait_s
                       (+ _ci_low, _ci_high), on_front, indistinguishable_from_best
  headroom.csv         config_id, target, kind (objective|alarm),
                       growth_at_failure, ci_low, ci_high (the minimum over
                       the assumption points tried), deciding_assumption,
                       base_growth_at_failure, base_ci_low, base_ci_high,
                       assumption_points
  alarm_tuning.csv     alarm, threshold, period_s, evaluation_periods,
                       datapoints_to_alarm, treat_missing_data, variant,
                       false_alarms_per_week, fa_ci_low, fa_ci_high,
                       detection_delay_min, missed, incidents, selected

Example
  dpcsim recommend --sweep sweep --out recommend
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from dpcsim.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from dpcsim.experiments import SweepContext

NAME = "recommend"
HELP = "recommend a WLM configuration and alarm settings from a sweep"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``recommend`` options."""
    parser.add_argument("--sweep", required=True, metavar="DIR", help="sweep folder")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--replications",
        type=int,
        default=3,
        metavar="N",
        help="replications of headroom and tuning runs",
    )
    parser.add_argument("--no-tuning", action="store_true", help="skip alarm tuning")
    parser.add_argument(
        "--force", action="store_true", help="overwrite a non-empty --out"
    )


def run(args: argparse.Namespace) -> int:
    """Load the sweep, recommend, write the files, print the verdict."""
    from dpcsim.cli._files import announce_kept_files
    from dpcsim.experiments.recommend import load_sweep, recommend
    from dpcsim.experiments.store import write_recommendation
    from dpcsim.outputs import output_folder

    if args.replications < 2:
        raise InputError(f"--replications {args.replications}: expected >= 2")
    out = Path(args.out)
    quiet = bool(getattr(args, "quiet", False))
    space, ctx, results = load_sweep(args.sweep)
    announce_kept_files(out, force=bool(args.force), quiet=quiet)
    # Refused before the work if --out holds files and --force is not given;
    # written beside --out and moved in whole (see dpcsim.outputs).
    with output_folder(out, force=bool(args.force)) as staging:
        tuning = None
        if not args.no_tuning and ctx.alarms:
            tuning = _tune(ctx, args.replications)
        rec = recommend(
            space, ctx, results, replications=args.replications, tuning=tuning
        )
        paths = write_recommendation(rec, staging)
    if not quiet:
        print(rec.document["verdict"]["text"])
        for item in rec.document["recommendations"]:
            print(
                f"- [{item['impact_ranking']}] {item['title']}: {item['observation']}"
            )
        print(f"wrote {', '.join(p.name for p in paths)} to {args.out}")
    return 0


def _tune(ctx: SweepContext, replications: int) -> pd.DataFrame:
    from dpcsim.experiments.tuning import tune_sweep_alarms

    return tune_sweep_alarms(ctx, replications)
