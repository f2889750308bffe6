"""Fit the cluster's contention curve from its own log, and say how far to trust
a replay of it.

The Universal Scalability Law X(n) = n / (1 + sigma (n-1) + kappa n (n-1)) is
fitted to the logged execution times: each query's execution interval on its
cluster (main or Concurrency Scaling), the logged concurrency during it, and the
same query shape (fingerprint) logged at different concurrencies. When the log
cannot identify the curve (no repeated shapes, no spread of concurrency) the
defaults are kept and the reason is written. The log is then replayed under its
recording configuration and settings, and the simulated waits are compared with
the logged ones.

Inputs
  --workload W [W ...]  a canonical workload (workload.parquet or a directory
                        holding one) or raw AWS exports (SVL_QLOG /
                        STL_WLM_QUERY CSVs, users.csv, ...), as dpcsim simulate
                        reads them.
  --wlm FILE|design     the configuration the log was recorded under
                        (wlm_json_configuration JSON, or 'design' for the
                        seed's 50/30/20 design). Without it the configuration is
                        rebuilt from STL_WLM_QUERY's service classes (one queue
                        per class, slots = most slots held at once, scaling on
                        where queries ran on it, SQA when class 14 appears) and
                        queries are routed by their logged class.
  --settings TOML       cluster settings the log was recorded under (default:
                        the defaults). The fidelity replay runs under them, its
                        [contention] included, not under the fitted curve: SQA's
                        dynamic maximum and learned predictions are taken on
                        solo work, which moves with the curve.
  --seed S              seed of the bootstrap and the engine (default 0).
  --bootstrap B         bootstrap refits over query shapes for the standard
                        errors and the bootstrap intervals reported beside the
                        profile-likelihood ones (default 100).

Outputs (in --out DIR; a non-empty DIR is refused unless --force)
  settings.toml         [contention] model = "usl", sigma, kappa,
                        demand = "observed": fitted, or the defaults when the
                        log does not identify the curve; ready for --settings.
  fit.json              sigma, kappa, sigma_ci, kappa_ci (95 %, robust profile
                        likelihood; *_ci_bootstrap: percentile bootstrap over
                        shapes), n_queries_used, n_shapes_used,
                        r2_log_exec, r2_within_shape, residual_scale_log,
                        identifiable, reason, exclusions, and the replay's
                        verdict.
  fidelity.csv          per queue and for all: observed vs simulated wait
                        p50/p95/p99/max [s], mean and largest absolute error
                        per query [s], share within 1 s [%].
  wlm_reconstructed.json  the rebuilt configuration (without --wlm only).

Prints the fit in one line and the fidelity verdict in one line. The same
inputs and seed give byte-identical files.

Examples
  dpcsim calibrate --workload data/sample --wlm design --out calib/
  dpcsim calibrate --workload exports/ --out calib/
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dpcsim.cli._design import add_design_argument
from dpcsim.cli._files import announce_kept_files
from dpcsim.cli.simulate import _load_config, _load_settings, _load_workload
from dpcsim.designs import load_design
from dpcsim.errors import InputError
from dpcsim.outputs import output_folder

NAME = "calibrate"
HELP = "fit contention from a log and measure replay fidelity"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``calibrate`` options."""
    parser.add_argument(
        "--workload",
        nargs="+",
        required=True,
        metavar="W",
        help="workload.parquet, a directory with one, or raw exports",
    )
    parser.add_argument(
        "--wlm",
        metavar="FILE|design",
        help="the recording wlm_json_configuration; default: rebuilt from the log",
    )
    parser.add_argument(
        "--settings", metavar="TOML", help="the recording cluster settings TOML"
    )
    add_design_argument(parser)
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="random seed (default 0)"
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=100,
        metavar="B",
        help="bootstrap refits for the standard errors (default 100)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--force", action="store_true",
                        help="overwrite a non-empty --out")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Load, fit, replay, write the three files and print the two lines."""
    from dpcsim.calibration import calibrate
    from dpcsim.wlm.io import canonical_json

    quiet = bool(getattr(args, "quiet", False))
    if args.bootstrap < 10:
        raise InputError(
            f"--bootstrap {args.bootstrap}: expected at least 10 refits",
            location="--bootstrap",
        )
    design = load_design(args.design)
    config = None if args.wlm is None else _load_config(str(args.wlm), design)
    settings = _load_settings(args.settings)
    paths = [Path(p) for p in args.workload]
    workload, routing = _load_workload(paths, config, quiet=quiet)
    out_dir = Path(args.out)
    announce_kept_files(out_dir, force=bool(args.force), quiet=quiet)
    # Written beside --out and moved in whole (see dpcsim.outputs).
    with output_folder(out_dir, force=bool(args.force)) as staging:
        result = calibrate(
            workload,
            config=config,
            settings=settings,
            routing=routing,
            seed=int(args.seed),
            n_boot=int(args.bootstrap),
            source=str(paths[0]),
        )
        _write(staging / "settings.toml", result.fit.settings_toml())
        _write(staging / "fit.json", result.fit_json())
        _write(staging / "fidelity.csv", result.fidelity.to_csv())
        if result.reconstruction is not None:
            text = canonical_json(result.config.to_json())
            _write(staging / "wlm_reconstructed.json", text.rstrip("\n") + "\n")
    if not quiet:
        print(_fit_line(result.fit))
        print(result.fidelity.verdict)
    return 0


def _fit_line(fit: Any) -> str:
    """One line: the fitted curve with its intervals, or why the defaults stay."""
    if fit.curve is None:
        return (
            f"contention: defaults kept (sigma={fit.sigma:.4g}, kappa={fit.kappa:.4g}) "
            f"- the log does not identify the curve: {fit.reason}"
        )
    c = fit.curve
    return (
        f"contention: sigma={fit.sigma:.4g} "
        f"[{c.sigma_ci[0]:.4g}, {c.sigma_ci[1]:.4g}], "
        f"kappa={fit.kappa:.4g} [{c.kappa_ci[0]:.4g}, {c.kappa_ci[1]:.4g}] (95 %), "
        f"from {fit.n_queries_used:,} queries in {fit.n_shapes_used:,} shapes, "
        f"R2 within shapes {c.r2_within_shape:.3f}"
    )


def _write(path: Path, text: str) -> None:
    """Write UTF-8 text with LF line ends."""
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
