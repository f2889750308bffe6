"""Replay a workload through a WLM configuration with the discrete-event engine.

Inputs
  --workload W [W ...]  a canonical workload (``workload.parquet`` or a directory
                        holding one, as written by ``dpcsim generate``) or raw AWS
                        exports (SVL_QLOG / STL_WLM_QUERY CSVs, users.csv, ...: one
                        or more files or directories, read with ``dpcsim ingest``'s
                        readers).
  --wlm FILE|design     a ``wlm_json_configuration`` (the JSON array, a JSON string
                        of it, or ``aws redshift describe-cluster-parameters``
                        output); ``design`` is the --design's WLM (DPC: the
                        seed's 50/30/20 design). Required, except with
                        --schedule (default: its first window's).
  --schedule FILE       a time-of-day WLM schedule: ``schedule/schedule.json``
                        as ``dpcsim emit`` writes it ({"timezone", "windows":
                        [{"name", "start": "HH:MM", "wlm_json"}]}). Each
                        window's dynamic properties (slots, memory, timeout,
                        SQA, scaling mode, QMR rules) switch in at its start,
                        every simulated day, with AWS's transition (running
                        queries keep their memory and timeout); --wlm gives the
                        queues and routing every window must share. Not with
                        --stream or auto WLM.
  --design FILE|dpc     the cluster's design: cluster id, ELT contract, alarms
                        (a .toml or .py file, see dpcsim.designs.read; default
                        dpc).
  --settings TOML       cluster settings (node type, Concurrency Scaling, SQA,
                        memory model, [contention]); AWS defaults when omitted.
                        dpcsim/data/cluster_defaults.toml lists every key with
                        its unit and default.
  --seed S              seed of the engine's random numbers (SQA prediction noise).
  --replay session|open session (default): statements of a known session arrive
                        after the previous one ends plus the logged think time;
                        open: at their logged instants (--stream is open loop).
  --alarms FILE|design|none
                        alarm definitions to back-test on the run's metrics
                        (PutMetricAlarm JSON or CloudFormation; default: the
                        design's alarms).
  --storage CSV [CSV ...]
                        psql --csv exports of stv_partitions or svv_table_info:
                        the starting usage and capacity of the storage model
                        behind PercentageDiskSpaceUsed. The model runs only with
                        storage inputs (these, or [storage] initial_used_gb and
                        capacity_gb in --settings) or [storage] model = "on";
                        otherwise a storage alarm is "not evaluated: no storage
                        data".
  --cluster-id ID       ClusterIdentifier of every simulated datapoint; default:
                        the one the alarm definitions name (two different ones
                        are an error), else the design's (DPC: dpc-learning).

Outputs (in --out DIR; a non-empty DIR is refused unless --force, which replaces
the files an earlier dpcsim run wrote there (its .dpcsim-manifest.json) and keeps
every other file; the folder is written beside DIR and moved in whole, so a
failing run leaves DIR as it was)
  queries.parquet   one row per query: query_id, queue, arrival_s, queue_s [s],
                    start_s, end_s, exec_s [s], ran_on (main|cs|sqa), attempts,
                    hops, outcome, ...; times in seconds from the workload start.
  timeline.parquet  only with --timeline: one row per state change: t_s [s],
                    queue, queued, running, running_cs, cs_clusters (the
                    metrics are computed from the engine's state log either
                    way; not written by default since the report and the
                    metrics do not need it).
  scaling.parquet   one row per Concurrency Scaling activation: start_s, end_s,
                    busy_s, billed_s [s].
  summary.json      counts by outcome and queue (arrived = completed + aborted +
                    canceled + failed), wait percentiles per queue [s], scaling
                    seconds (billed, free-credit and paid) and cost [USD]
                    (dpcsim.run.RunSummary).
  metrics.parquet   the CloudWatch datapoints the run would have published
                    (not with --no-metrics), one row per datapoint:
                    timestamp (UTC), namespace, metric_name, dimensions
                    (Name=Value;...), value, unit (AWS/Redshift WLM metrics
                    and the Custom/DPC metrics; see dpcsim.metrics).
  alarm_history.csv, alarm_summary.csv
                    with --alarms: every minute's alarm state and, per alarm,
                    transitions to ALARM, time in ALARM [s] and first alarm time.

The same inputs and seed give byte-identical files. --timings prints the
seconds of each phase (read, route, prepare, demand, engine, records, metrics,
alarms, write) on stderr. Prints, per queue, the
outcomes, queue-wait percentiles [s] and where queries ran, then the alarm
summary.

Examples
  dpcsim simulate --workload ingested/ --wlm design --out run/
  dpcsim simulate --workload gen/workload.parquet --wlm wlm.json \\
      --settings cluster.toml --alarms none --out run/
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from dpcsim import logs
from dpcsim.alarms import AlarmSpec
from dpcsim.alarms.cluster import resolve_cluster_id
from dpcsim.canonical import jsonable, write_json
from dpcsim.cli._design import add_design_argument
from dpcsim.cli._files import announce_kept_files
from dpcsim.cli._progress import show_progress, steps_bar
from dpcsim.cli._tables import format_alarm_summary, format_table
from dpcsim.designs import Design, load_design
from dpcsim.engine import ClusterSettings
from dpcsim.engine.schedule import WLMSchedule, check_schedule
from dpcsim.engine.settings import read_cluster_settings
from dpcsim.errors import InputError
from dpcsim.logs.replay_notes import replay_warnings, require_queries, routing_report
from dpcsim.logs.storage_exports import read_storage_export
from dpcsim.metrics.storage import storage_from_table
from dpcsim.outputs import output_folder
from dpcsim.run import SIMULATE_FILES, PhaseTimer, RecordWriter, Run
from dpcsim.run_stream import StreamMeasure, stream_parquet_run
from dpcsim.schema import OUTCOMES, Workload
from dpcsim.wlm import RoutingResult, WLMConfig, read_wlm_config, route_workload

NAME = "simulate"
HELP = "replay a workload through a WLM configuration"

#: Files written into --out by default (plus the alarm CSVs with --alarms;
#: timeline.parquet with --timeline; no metrics.parquet with --no-metrics).
OUTPUT_FILES = SIMULATE_FILES


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
        default=None,
        metavar="FILE|design",
        help="wlm_json_configuration JSON, or 'design' (required unless --schedule)",
    )
    parser.add_argument(
        "--schedule",
        default=None,
        metavar="FILE",
        help="a time-of-day WLM schedule (schedule/schedule.json as dpcsim emit "
        "writes it): its windows' dynamic properties switch in every day",
    )
    parser.add_argument("--settings", metavar="TOML", help="cluster settings TOML")
    add_design_argument(parser)
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
        "--storage",
        nargs="+",
        default=None,
        metavar="CSV",
        help="psql --csv export(s) of stv_partitions or svv_table_info: the "
        "starting usage and capacity of the storage model",
    )
    parser.add_argument(
        "--cluster-id",
        default=None,
        metavar="ID",
        help="ClusterIdentifier of the simulated datapoints (default: the one the "
        "alarms name, else the design's)",
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
        help="replay a workload.parquet too big for memory in batches (open "
        "loop); writes the same queries/scaling parquet, metrics.parquet and "
        "alarm files as the in-memory run, and the engine summary (wait "
        "percentiles within 0.1 %%, from a fixed-memory histogram)",
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="also write timeline.parquet (one row per queue state change)",
    )
    parser.add_argument(
        "--no-metrics",
        dest="metrics",
        action="store_false",
        help="bare replay: no metrics.parquet and no alarm back-test",
    )
    parser.add_argument(
        "--timings",
        action="store_true",
        help="print the seconds of each phase on stderr (a plain run of 400,000 "
        "queries or more runs its loop compiled where numba is installed; "
        "DPCSIM_COMPILED=never keeps the Python loop)",
    )
    parser.add_argument(
        "--replay",
        choices=("session", "open"),
        default=None,
        help="session (default): a session's statements wait for the previous one "
        "plus the logged think time; open: every statement at its logged arrival "
        "(--stream replays open)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--force", action="store_true",
                        help="overwrite a non-empty --out")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Load, simulate, measure, write the outputs and print the per-queue table."""
    quiet = bool(getattr(args, "quiet", False))
    # Every input is checked before --out is touched or a bar is drawn, so a
    # typo costs nothing and the error is the only line on stderr.
    design = load_design(args.design)
    schedule = _load_schedule(getattr(args, "schedule", None))
    config = _load_config(args.wlm, design, schedule)
    settings = with_storage_exports(
        _load_settings(args.settings), getattr(args, "storage", None)
    )
    alarms = load_alarm_set(str(args.alarms), args.account, design)
    cluster_id = resolve_cluster_id(
        getattr(args, "cluster_id", None), alarms, design.cluster_id
    )
    replay = getattr(args, "replay", None)
    if schedule is not None:
        # The static part and manual WLM are checked before anything is written.
        check_schedule(schedule, config)
    if args.stream:
        if schedule is not None:
            raise InputError(
                "--stream replays one configuration; drop --schedule or --stream",
                location="--schedule",
            )
        if replay == "session":
            raise InputError(
                "--stream replays open loop; drop --replay session or --stream",
                location="--replay",
            )
        wanted = None
        if bool(getattr(args, "metrics", True)):
            wanted = StreamMeasure(
                design=design, cluster_id=cluster_id, alarms=tuple(alarms or ())
            )
        return _run_streaming(args, config, settings, wanted)
    out_dir = Path(args.out)
    timer = PhaseTimer()
    measure = bool(getattr(args, "metrics", True))
    announce_kept_files(out_dir, force=bool(args.force), quiet=quiet)
    # Written beside --out and moved in whole: a failure leaves --out as it was;
    # --force removes what an earlier run wrote there and this one does not.
    with (
        output_folder(out_dir, force=bool(args.force)) as staging,
        steps_bar(3, "simulate", enabled=show_progress(args)) as steps,
    ):
        paths = [Path(p) for p in args.workload]
        with timer.phase("read"):
            workload, routing = _load_workload(paths, config, quiet=quiet)
        require_queries(workload.queries, ", ".join(map(str, paths)))
        steps.update()
        timeline = bool(getattr(args, "timeline", False))
        if routing is None:
            # Routed once: the printed paths and the run use the same result.
            with timer.phase("route"):
                routing = route_workload(config, workload.queries)
        notes = _replay_notes(workload, config, routing)
        prepared = Run.prepare(
            workload,
            config,
            settings,
            design,
            routing=routing,
            alarms=alarms or (),
            cluster_id=cluster_id,
            replay=replay or "session",
            metrics=measure,
            timer=timer,
        )
        # The prepared run holds what the run needs; released by it, the
        # workload frame is freed before the engine runs.
        del workload, routing
        # The record tables are written while the metrics are computed.
        with RecordWriter(staging, timeline=timeline) as records:
            run_ = Run.simulate_prepared(
                prepared,
                rng=args.seed,
                metrics=measure,
                timer=timer,
                schedule=schedule,
                on_records=records,
                release=True,
            )
            steps.update()
            run_.write(staging, timeline=timeline, timer=timer, written=records)
        names = sorted(p.name for p in staging.iterdir())
        steps.update()
    if getattr(args, "timings", False):
        print(f"dpcsim simulate: {timer.line()}", file=sys.stderr)
    if not quiet:
        print(format_run(run_))
        if schedule is not None:
            print("\n" + _schedule_line(schedule, run_))
        _print_replay_notes(*notes)
        print(f"\nwrote {len(names)} files to {out_dir}: {', '.join(names)}")
    return 0


def _run_streaming(
    args: argparse.Namespace,
    config: WLMConfig,
    settings: ClusterSettings,
    measure: StreamMeasure | None,
) -> int:
    """``--stream``: batch-wise replay of one canonical workload.parquet."""
    paths = [Path(p) for p in args.workload]
    path = paths[0] / "workload.parquet" if paths[0].is_dir() else paths[0]
    if len(paths) != 1 or path.suffix != ".parquet" or not path.is_file():
        raise InputError(
            "--stream replays one canonical workload.parquet (run dpcsim ingest first)",
            source=" ".join(str(p) for p in paths),
        )
    out_dir = Path(args.out)
    quiet = bool(getattr(args, "quiet", False))
    announce_kept_files(out_dir, force=bool(args.force), quiet=quiet)
    with output_folder(out_dir, force=bool(args.force)) as staging:
        summary = stream_parquet_run(
            path,
            config,
            settings,
            staging,
            seed=args.seed,
            measure=measure,
            timeline=bool(getattr(args, "timeline", False)),
        )
        write_json(jsonable(summary), staging / "summary.json")
        names = sorted(p.name for p in staging.iterdir())
    if not getattr(args, "quiet", False):
        counts = {k: summary.get(k) for k in ("arrived", *OUTCOMES)}
        print("streamed: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        print(f"\nwrote {len(names)} files to {out_dir}: {', '.join(names)}")
    return 0


def format_run(run_: Run) -> str:
    """The per-queue table, then the alarm summary when alarms were evaluated."""
    text = format_table(run_.queue_table(), run_.summary.scaling)
    if run_.alarm_run is None:
        return text
    return text + "\n\n" + format_alarm_summary(run_.alarm_table())


def load_alarm_set(
    value: str, account: str = "123456789012", design: Design | None = None
) -> list[AlarmSpec] | None:
    """Alarm definitions from a file, the design's (``design``), or None (``none``)."""
    if value == "none":
        return None
    from dpcsim.cli.alarms import load_alarms

    return load_alarms(value, account, design)


def with_storage_exports(
    settings: ClusterSettings, exports: list[str] | None
) -> ClusterSettings:
    """``settings`` with the usage and capacity read from storage exports.

    The exports' values replace the ``[storage]`` table's (later files win);
    the table is checked here, before any output is written.
    """
    table = dict(settings.storage)
    for path in exports or ():
        table |= read_storage_export(path)
    source = ", ".join(exports) if exports else "[storage]"
    if exports and "capacity_gb" not in table:
        raise InputError(
            "the export gives the used space but no capacity (every pct_used is "
            "0 or NULL); expected an stv_partitions export too, or [storage] "
            "capacity_gb in --settings",
            source=source,
        )
    storage_from_table(table, source=source)
    return replace(settings, storage=table)


def _load_config(
    value: str | None, design: Design, schedule: WLMSchedule | None = None
) -> WLMConfig:
    """The WLM configuration: the design's (``design``), a JSON file, or the
    schedule's first window when ``--wlm`` is not given."""
    if value is None:
        if schedule is None:
            raise InputError(
                "missing; expected a wlm_json_configuration file or 'design' "
                "(or a --schedule)",
                location="--wlm",
            )
        return schedule.configs[0]
    if value == "design":
        return design.wlm
    return read_wlm_config(value)


def _schedule_line(schedule: WLMSchedule, run_: Run) -> str:
    """``schedule (Asia/Tokyo): switches at 01:00, 06:00; 14 applied``."""
    times = ", ".join(t for t, _ in schedule.switches)
    applied = run_.records.summary.get("wlm_switches", 0)
    return (
        f"WLM schedule ({schedule.timezone}): switches at {times} local time; "
        f"{applied} applied in the run"
    )


def _load_schedule(value: str | None) -> WLMSchedule | None:
    """``--schedule``: an emitted schedule file in the engine's form."""
    if value is None:
        return None
    # Imported here: a run without a schedule does not load dpcsim.emit.
    from dpcsim.emit.schedule import read_schedule, wlm_schedule

    return wlm_schedule(read_schedule(value))


def _load_settings(value: str | None) -> ClusterSettings:
    """Cluster settings from TOML, or the defaults."""
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
    paths: list[Path], config: WLMConfig | None, *, quiet: bool
) -> tuple[Workload, RoutingResult | None]:
    """:func:`dpcsim.logs.load_logs`, saying how many rows were rejected."""
    workload, routing, rejected = logs.load_logs(paths, config)
    if rejected and not quiet:
        print(
            f"ingest: {rejected} row(s) rejected (see dpcsim ingest)", file=sys.stderr
        )
    return workload, routing


def _replay_notes(
    workload: Workload, config: WLMConfig, routing: RoutingResult | None
) -> tuple[list[str], list[str]]:
    """The routing paths and the workload's caveats, printed after the run."""
    lines, warnings = routing_report(config, workload.queries, routing=routing)
    return lines, [*replay_warnings(workload.queries), *warnings]


def _print_replay_notes(lines: list[str], warnings: list[str]) -> None:
    """Routing paths (stdout) and the workload's caveats (stderr), on every run."""
    for line in lines:
        print(f"\n{line}")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
