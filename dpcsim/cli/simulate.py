"""Replay a workload through a WLM configuration with the discrete-event engine.

Inputs
  --workload W [W ...]  a canonical workload (``workload.parquet`` or a directory
                        holding one, as written by ``dpcsim generate``) or raw AWS
                        exports (SVL_QLOG / STL_WLM_QUERY CSVs, users.csv, ...: one
                        or more files or directories, read with ``dpcsim ingest``'s
                        readers).
  --wlm FILE|design     a ``wlm_json_configuration`` (the JSON array, a JSON string
                        of it, or ``aws redshift describe-cluster-parameters``
                        output); ``design`` is the seed's 50/30/20 design.
  --settings TOML       cluster settings (node type, Concurrency Scaling, SQA,
                        memory model); AWS defaults when omitted.
                        dpcsim/data/cluster_defaults.toml lists every key with
                        its unit and default.
  --seed S              seed of the engine's random numbers (SQA prediction noise).
  --alarms FILE|design|none
                        alarm definitions to back-test on the run's metrics
                        (PutMetricAlarm JSON or CloudFormation; default: the
                        design's five alarms).

Outputs (in --out DIR; a non-empty DIR is refused unless --force)
  queries.parquet   one row per query: query_id, queue, arrival_s, queue_s [s],
                    start_s, end_s, exec_s [s], ran_on (main|cs|sqa), attempts,
                    hops, outcome, ...; times in seconds from the workload start.
  timeline.parquet  one row per state change: t_s [s], queue, queued, running,
                    running_cs, cs_clusters.
  scaling.parquet   one row per Concurrency Scaling activation: start_s, end_s,
                    busy_s, billed_s [s].
  summary.json      counts by outcome and queue (arrived = completed + aborted +
                    canceled + failed), wait percentiles per queue [s], scaling
                    seconds and cost [USD].
  metrics.parquet   the CloudWatch datapoints the run would have published, one
                    row per datapoint: timestamp (UTC), namespace, metric_name,
                    dimensions (Name=Value;...), value, unit (AWS/Redshift
                    WLM metrics and the Custom/DPC metrics; see dpcsim.metrics).
  alarm_history.csv, alarm_summary.csv
                    with --alarms: every minute's alarm state and, per alarm,
                    transitions to ALARM, time in ALARM [s] and first alarm time.

The same inputs and seed give byte-identical files. Prints, per queue, the
outcomes, queue-wait percentiles [s] and where queries ran, then the alarm
summary.

Examples
  dpcsim simulate --workload ingested/ --wlm design --out run/
  dpcsim simulate --workload gen/workload.parquet --wlm wlm.json \\
      --settings cluster.toml --alarms none --out run/
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dpcsim.cli._files import prepare_out_dir
from dpcsim.cli._progress import show_progress, steps_bar
from dpcsim.cli._tables import PERCENTILES, format_alarm_summary, format_table
from dpcsim.errors import InputError
from dpcsim.schema import Workload

NAME = "simulate"
HELP = "replay a workload through a WLM configuration"

#: Outcomes every summary lists (zero when absent), in the order the table prints.
OUTCOMES = ("completed", "aborted", "canceled", "failed")
#: Files written into --out.
OUTPUT_FILES = (
    "queries.parquet",
    "timeline.parquet",
    "scaling.parquet",
    "summary.json",
    "metrics.parquet",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``simulate`` options."""
    parser.add_argument(
        "--workload",
        nargs="+",
        required=True,
        metavar="W",
        help="workload.parquet, a directory with one, or raw exports",
    )
    parser.add_argument(
        "--wlm",
        required=True,
        metavar="FILE|design",
        help="wlm_json_configuration JSON, or 'design'",
    )
    parser.add_argument("--settings", metavar="TOML", help="cluster settings TOML")
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="random seed (default 0)"
    )
    parser.add_argument(
        "--alarms",
        default="design",
        metavar="FILE|design|none",
        help="alarms to evaluate on the run: a file, 'design' (default) or 'none'",
    )
    parser.add_argument(
        "--account",
        default="123456789012",
        metavar="ID",
        help="account id of the design's SNS topic",
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="replay a workload.parquet too big for memory in batches; writes "
        "queries/timeline/scaling parquet and the engine summary, no metrics",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--force", action="store_true",
                        help="overwrite a non-empty --out")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Load, simulate, measure, write the outputs and print the per-queue table."""
    quiet = bool(getattr(args, "quiet", False))
    # Every input is checked before --out is touched or a bar is drawn, so a
    # typo costs nothing and the error is the only line on stderr.
    config = _load_config(str(args.wlm))
    settings = _load_settings(args.settings)
    alarms = load_alarm_set(str(args.alarms), args.account)
    if args.stream:
        return _run_streaming(args, config, settings)
    out_dir = prepare_out_dir(Path(args.out), force=bool(args.force))
    with steps_bar(3, "simulate", enabled=show_progress(args)) as steps:
        paths = [Path(p) for p in args.workload]
        workload, routing = _load_workload(paths, config, quiet=quiet)
        require_queries(workload.queries, ", ".join(map(str, paths)))
        steps.update()
        outputs = simulate_run(
            workload, config, settings, seed=args.seed, routing=routing, alarms=alarms
        )
        steps.update()
        write_run(out_dir, outputs)
        steps.update()
    if not quiet:
        print(format_run(outputs))
        _print_replay_notes(workload, config, routing)
        names = sorted(p.name for p in out_dir.iterdir())
        print(f"\nwrote {len(names)} files to {out_dir}: {', '.join(names)}")
    return 0


def _run_streaming(args: argparse.Namespace, config: Any, settings: Any) -> int:
    """``--stream``: batch-wise replay of one canonical workload.parquet."""
    from dpcsim.cli._stream import stream_parquet_run

    paths = [Path(p) for p in args.workload]
    path = paths[0] / "workload.parquet" if paths[0].is_dir() else paths[0]
    if len(paths) != 1 or path.suffix != ".parquet" or not path.is_file():
        raise InputError(
            "--stream replays one canonical workload.parquet (run dpcsim ingest first)",
            source=" ".join(str(p) for p in paths),
        )
    out_dir = prepare_out_dir(Path(args.out), force=bool(args.force))
    summary = stream_parquet_run(path, config, settings, out_dir, seed=args.seed)
    text = json.dumps(_jsonable(summary), indent=2, sort_keys=True) + "\n"
    (out_dir / "summary.json").write_text(text, encoding="utf-8")
    if not getattr(args, "quiet", False):
        counts = {k: summary.get(k) for k in ("arrived", *OUTCOMES)}
        print("streamed: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        print(f"wrote queries, timeline, scaling parquet and summary.json to {out_dir}")
    return 0


@dataclass(frozen=True, slots=True)
class RunOutputs:
    """What one simulated run produces: records, summary, metrics and alarms."""

    result: Any
    summary: dict[str, Any]
    metrics: pd.DataFrame
    alarm_run: Any | None


def simulate_run(
    workload: Workload,
    config: Any,
    settings: Any,
    *,
    seed: int,
    routing: Any = None,
    alarms: list[Any] | None = None,
) -> RunOutputs:
    """Simulate, build the run's CloudWatch datapoints, and evaluate ``alarms``."""
    from dpcsim.alarms import evaluate_alarms
    from dpcsim.engine import simulate
    from dpcsim.metrics import build_metrics

    result = simulate(workload, config, settings, rng=seed, routing=routing)
    metrics = build_metrics(
        result,
        workload=workload,
        queues=config.queue_names,
        storage=settings.storage,
    )
    alarm_run = evaluate_alarms(alarms, metrics) if alarms else None
    return RunOutputs(
        result=result,
        summary=build_summary(result, seed=seed),
        metrics=metrics,
        alarm_run=alarm_run,
    )


def write_run(out_dir: Path, outputs: RunOutputs) -> None:
    """Write the run's parquet tables, summary.json and the alarm CSVs."""
    from dpcsim.alarms import write_alarm_run

    _write_outputs(out_dir, outputs.result, outputs.summary)
    _write_parquet(outputs.metrics, out_dir / "metrics.parquet")
    if outputs.alarm_run is not None:
        write_alarm_run(outputs.alarm_run, out_dir, force=True)


def format_run(outputs: RunOutputs) -> str:
    """The per-queue table, then the alarm summary when alarms were evaluated."""
    text = format_table(outputs.summary)
    if outputs.alarm_run is None:
        return text
    return text + "\n\n" + format_alarm_summary(outputs.alarm_run.summary)


def load_alarm_set(value: str, account: str = "123456789012") -> list[Any] | None:
    """Alarm definitions from a file, the design's (``design``), or None (``none``)."""
    if value == "none":
        return None
    from dpcsim.cli.alarms import load_alarms

    return load_alarms(value, account)


def build_summary(result: Any, *, seed: int) -> dict[str, Any]:
    """Return the JSON summary of a run: counts, waits [s], scaling [s] and cost.

    Parameters
    ----------
    result
        A :class:`dpcsim.engine.SimResult`.
    seed
        The seed the run used (recorded for reproduction).
    """
    queries: pd.DataFrame = result.queries
    by_queue = {
        str(name): _queue_summary(rows)
        for name, rows in queries.groupby("queue", sort=True, observed=True)
    }
    scaling: pd.DataFrame = result.scaling
    summary = {
        "seed": int(seed),
        "start_at": pd.Timestamp(result.start_at).isoformat(),
        "queries": _outcome_counts(queries),
        "all_queues": _queue_summary(queries),
        "by_queue": by_queue,
        "scaling": {
            "activations": len(scaling),
            "busy_s": float(scaling["busy_s"].sum()),
            "billed_s": float(scaling["billed_s"].sum()),
            **_cost_fields(result.summary),
        },
        "engine": result.summary,
    }
    clean: dict[str, Any] = _jsonable(summary)
    return clean


def _load_config(value: str) -> Any:
    """The WLM configuration: the seed design or a JSON file."""
    if value == "design":
        from dpcsim.wlm.design import dpc_design_config

        return dpc_design_config()
    from dpcsim.wlm.io import read_wlm_config

    return read_wlm_config(value)


def _load_settings(value: str | None) -> Any:
    """Cluster settings from TOML, or the defaults."""
    from dpcsim.engine.settings import ClusterSettings, read_cluster_settings

    if value is None:
        return ClusterSettings()
    try:
        return read_cluster_settings(value)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"undecodable byte {exc.object[exc.start : exc.start + 1]!r} at byte "
            f"{exc.start}; expected a UTF-8 TOML file",
            source=value,
        ) from None


def _load_workload(
    paths: list[Path], config: Any, *, quiet: bool
) -> tuple[Workload, Any]:
    """Read a canonical workload, or ingest raw exports; return it and its routing.

    The routing is None for a canonical workload (the engine routes it) and, for
    exports, the routing that honours the superusers named in the users export.
    """
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(2, "No such file or directory", str(path))
    from dpcsim import logs
    from dpcsim.wlm import route_workload

    first = paths[0]
    canonical = first.suffix == ".parquet" or (first / "workload.parquet").is_file()
    if len(paths) == 1 and canonical:
        workload: Workload = logs.read_workload(first)
        return workload, None
    files = [f for p in paths for f in _export_files(p)]
    if not files:
        raise InputError("no export files found; expected log files", source=str(first))
    ingested = logs.ingest(files, wlm=config)
    rejected = len(ingested.rejects)
    if rejected and not quiet:
        print(
            f"ingest: {rejected} row(s) rejected (see dpcsim ingest)", file=sys.stderr
        )
    result: Workload = ingested.workload
    routing = route_workload(config, result.queries, superusers=ingested.superusers)
    return result, routing


def require_queries(queries: pd.DataFrame, source: str) -> None:
    """An empty workload is bad input (exit 2), never a run evaluated in 1970."""
    from dpcsim.logs.replay_notes import require_queries as check

    check(queries, source)


def _print_replay_notes(workload: Workload, config: Any, routing: Any) -> None:
    """Routing paths (stdout) and the workload's caveats (stderr), on every run."""
    from dpcsim.logs.replay_notes import replay_warnings, routing_report

    lines, warnings = routing_report(config, workload.queries, routing=routing)
    for line in lines:
        print(f"\n{line}")
    for warning in [*replay_warnings(workload.queries), *warnings]:
        print(f"warning: {warning}", file=sys.stderr)


def _export_files(path: Path) -> list[Path]:
    """A file itself, or the visible files directly inside a directory, sorted."""
    if not path.is_dir():
        return [path]
    return sorted(
        p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
    )


def _outcome_counts(queries: pd.DataFrame) -> dict[str, int]:
    """Arrived plus one count per outcome (the four standard ones always present)."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for name, count in queries["outcome"].value_counts(sort=False).items():
        counts[str(name)] = int(count)
    return {"arrived": len(queries), **dict(sorted(counts.items()))}


def _queue_summary(rows: pd.DataFrame) -> dict[str, Any]:
    """Counts, where queries ran, and wait statistics of one queue."""
    wait_s = rows["queue_s"].to_numpy(dtype=np.float64)
    wait_s = wait_s[np.isfinite(wait_s)]
    stats: dict[str, float | None] = {"mean": None, "max": None}
    stats |= {f"p{p}": None for p in PERCENTILES}
    if wait_s.size:
        stats["mean"] = float(wait_s.mean())
        stats["max"] = float(wait_s.max())
        for p, value in zip(
            PERCENTILES, np.percentile(wait_s, PERCENTILES), strict=True
        ):
            stats[f"p{p}"] = float(value)
    ran_on = {"main": 0, "cs": 0, "sqa": 0}
    for name, count in rows["ran_on"].value_counts(sort=False).items():
        ran_on[str(name)] = int(count)
    return {**_outcome_counts(rows), "ran_on": ran_on, "wait_s": stats}


def _cost_fields(engine_summary: dict[str, Any]) -> dict[str, Any]:
    """Scaling cost figures [USD] and free-credit seconds from the engine summary."""
    found: dict[str, Any] = {}
    sources = [engine_summary, engine_summary.get("scaling", {})]
    for source in sources:
        if not isinstance(source, dict):
            continue
        for key, value in source.items():
            if ("cost" in key or "credit" in key) and isinstance(value, int | float):
                found[key] = value
    return found


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars unwrapped, NaN and infinities to None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _write_outputs(out_dir: Path, result: Any, summary: dict[str, Any]) -> None:
    """Write the three parquet tables and summary.json deterministically."""
    for name in ("queries", "timeline", "scaling"):
        _write_parquet(getattr(result, name), out_dir / f"{name}.parquet")
    text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    (out_dir / "summary.json").write_text(text, encoding="utf-8")


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` with a fixed codec and no per-write metadata (same bytes)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, compression="zstd", compression_level=3,
                   use_dictionary=True)  # fmt: skip
