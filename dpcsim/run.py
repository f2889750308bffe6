"""One simulated run: simulate -> CloudWatch metrics -> alarms -> one summary.

:class:`Run` is the unit the CLI, the notebooks, sweeps and the report call:
:meth:`Run.simulate` replays a workload through a WLM configuration
(:func:`dpcsim.engine.simulate`), builds the datapoints the cluster would have
published (:func:`dpcsim.metrics.build_metrics`), evaluates the alarms as
CloudWatch does (:func:`dpcsim.alarms.evaluate_alarms`) and summarizes the run
once (:class:`RunSummary`). The tables return DataFrames; :meth:`Run.write`
writes the files of ``dpcsim simulate``. Reading inputs and printing are left
to the callers (:mod:`dpcsim.cli.simulate`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from dpcsim.alarms import AlarmRun, AlarmSpec, alarms_from_document, evaluate_alarms
from dpcsim.alarms.cluster import alarm_metrics, resolve_cluster_id
from dpcsim.alarms.history import write_alarm_run
from dpcsim.canonical import jsonable, write_json, write_parquet
from dpcsim.designs import Design, default_design
from dpcsim.engine import ClusterSettings, SimResult
from dpcsim.engine.inputs import QueryArrays
from dpcsim.engine.plain import preload_for
from dpcsim.engine.records import LOCATIONS, RunCodes
from dpcsim.engine.records import OUTCOMES as ENGINE_OUTCOMES
from dpcsim.engine.schedule import WLMSchedule
from dpcsim.engine.sessions import Replay
from dpcsim.engine.simulate import prepare_inputs, run_engine
from dpcsim.metrics import MetricInputs, build_metrics
from dpcsim.metrics.build import alarm_datapoints
from dpcsim.metrics.datapoints import empty_datapoints
from dpcsim.schema import COLUMNS as ENGINE_COLUMNS
from dpcsim.schema import OUTCOMES, RAN_ON, Workload
from dpcsim.wlm import WLMConfig, route_workload

__all__ = [
    "PERCENTILES",
    "RECORD_TABLES",
    "RUN_FILES",
    "SIMULATE_FILES",
    "PhaseTimer",
    "PreparedRun",
    "QueueSummary",
    "RecordWriter",
    "Run",
    "RunSummary",
    "ScalingSummary",
]

#: Queue-wait percentiles every summary reports [%].
PERCENTILES: Final = (50, 90, 99)
#: Files :meth:`Run.write` always writes (plus the two alarm CSVs with alarms).
RUN_FILES: Final = (
    "queries.parquet",
    "timeline.parquet",
    "scaling.parquet",
    "summary.json",
    "metrics.parquet",
)
#: Files ``dpcsim simulate`` writes by default (the timeline only with --timeline).
SIMULATE_FILES: Final = tuple(f for f in RUN_FILES if f != "timeline.parquet")


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSummary:
    """Counts, placement and waits of one queue (or of all queues).

    Parameters
    ----------
    counts
        ``arrived`` plus one count per outcome (the four of
        :data:`dpcsim.schema.OUTCOMES` always present).
    ran_on
        Queries per location: ``main``, ``cs`` (Concurrency Scaling), ``sqa``.
    wait_s
        ``mean``, ``max`` and ``p50``/``p90``/``p99`` of the queue wait [s];
        None when no query waited or ran.
    """

    counts: Mapping[str, int]
    ran_on: Mapping[str, int]
    wait_s: Mapping[str, float | None]

    @classmethod
    def from_queries(cls, rows: pd.DataFrame) -> QueueSummary:
        """Summarize simulated query records (``queue_s``, ``ran_on``, ``outcome``)."""
        return cls.from_codes(
            rows["queue_s"].to_numpy(dtype=np.float64),
            _Codes.of(rows["outcome"]),
            _Codes.of(rows["ran_on"]),
        )

    @classmethod
    def from_codes(
        cls,
        wait_s: np.ndarray,
        outcome: _Codes,
        ran_on: _Codes,
        rows: np.ndarray | None = None,
    ) -> QueueSummary:
        """Summarize the queries at ``rows`` (a boolean mask; None: all).

        ``outcome`` and ``ran_on`` are the factorized columns of the whole
        run, so a run's queues share one factorization.
        """
        if rows is not None:
            wait_s = wait_s[rows]
        wait_s = wait_s[np.isfinite(wait_s)]
        stats: dict[str, float | None] = {"mean": None, "max": None}
        stats |= {f"p{p}": None for p in PERCENTILES}
        if wait_s.size:
            stats["mean"] = float(wait_s.mean())
            stats["max"] = float(wait_s.max())
            values = np.percentile(wait_s, PERCENTILES)
            for p, value in zip(PERCENTILES, values, strict=True):
                stats[f"p{p}"] = float(value)
        placed = dict.fromkeys(RAN_ON, 0)
        placed |= ran_on.counts(rows)
        counts = outcome.counts(rows)
        n = _size(outcome, rows)
        return cls(counts=_counts(n, counts), ran_on=placed, wait_s=stats)

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` form: counts, ``ran_on`` and ``wait_s``."""
        return {**self.counts, "ran_on": dict(self.ran_on), "wait_s": dict(self.wait_s)}


@dataclass(frozen=True, slots=True, kw_only=True)
class ScalingSummary:
    """Concurrency Scaling use and cost of a run.

    Parameters
    ----------
    activations
        Scaling cluster activations [count].
    busy_s, billed_s
        Seconds the scaling clusters ran queries, and seconds billed [s].
    free_credit_used_s, paid_s
        Billed seconds paid by free credits and by money [s].
    cost_usd
        What the paid seconds cost [USD].
    """

    activations: int
    busy_s: float
    billed_s: float
    free_credit_used_s: float
    paid_s: float
    cost_usd: float

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` form."""
        return {
            "activations": self.activations,
            "busy_s": self.busy_s,
            "billed_s": self.billed_s,
            "free_credit_used_s": self.free_credit_used_s,
            "paid_s": self.paid_s,
            "cost_usd": self.cost_usd,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """The one summary of a run (``summary.json``).

    Parameters
    ----------
    seed
        Seed of the engine's random numbers (rerun with ``rng=seed``).
    start_at
        UTC start of the workload (the simulation's time 0).
    queries
        ``arrived`` plus one count per outcome over all queues.
    all_queues, by_queue
        :class:`QueueSummary` over all queues and per final queue (sorted).
    scaling
        :class:`ScalingSummary`.
    engine
        The engine's own summary (:attr:`dpcsim.engine.SimResult.summary`).
    """

    seed: int
    start_at: pd.Timestamp
    queries: Mapping[str, int]
    all_queues: QueueSummary
    by_queue: Mapping[str, QueueSummary]
    scaling: ScalingSummary
    engine: Mapping[str, Any]

    @classmethod
    def from_result(
        cls, result: SimResult, *, seed: int, codes: RunCodes | None = None
    ) -> RunSummary:
        """Summarize a simulation result run with ``seed``.

        ``codes``: the engine's codes of ``result.queries`` (its
        :attr:`~dpcsim.engine.SimResult.codes`, for a result not changed
        since), read instead of factorizing the string columns again.
        """
        queries = result.queries
        wait_s = queries["queue_s"].to_numpy(dtype=np.float64)
        if codes is None:
            outcome = _Codes.of(queries["outcome"])
            ran_on = _Codes.of(queries["ran_on"])
            queue = _Codes.of(queries["queue"])
        else:
            outcome = _Codes.present(codes.outcome, ENGINE_OUTCOMES)
            ran_on = _Codes.present(codes.ran_on, LOCATIONS)
            queue = _Codes.present(codes.queue, codes.names)
        all_queues = QueueSummary.from_codes(wait_s, outcome, ran_on)
        by_queue = {
            # A run of one queue: its summary is the all-queues one.
            name: all_queues
            if len(queue.names) == 1 and bool((queue.codes == k).all())
            else QueueSummary.from_codes(wait_s, outcome, ran_on, queue.codes == k)
            for k, name in sorted(enumerate(queue.names), key=lambda kv: kv[1])
        }
        engine_scaling = result.summary["scaling"]
        scaling = result.scaling
        return cls(
            seed=int(seed),
            start_at=pd.Timestamp(result.start_at),
            queries=_counts(len(queries), outcome.counts(None)),
            all_queues=all_queues,
            by_queue=by_queue,
            scaling=ScalingSummary(
                activations=len(scaling),
                busy_s=float(scaling["busy_s"].sum()),
                billed_s=float(scaling["billed_s"].sum()),
                free_credit_used_s=float(engine_scaling["free_credit_used_s"]),
                paid_s=float(engine_scaling["paid_s"]),
                cost_usd=float(engine_scaling["cost_usd"]),
            ),
            engine=result.summary,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (NaN as None), as ``summary.json`` holds them."""
        out: dict[str, Any] = jsonable(
            {
                "seed": self.seed,
                "start_at": self.start_at.isoformat(),
                "queries": dict(self.queries),
                "all_queues": self.all_queues.to_dict(),
                "by_queue": {k: v.to_dict() for k, v in self.by_queue.items()},
                "scaling": self.scaling.to_dict(),
                "engine": dict(self.engine),
            }
        )
        return out


@dataclass(frozen=True, kw_only=True)
class Run:
    """A simulated run with its metrics, alarm evaluation and summary.

    Build with :meth:`simulate`. ``datapoints`` are the CloudWatch datapoints
    (the ``metrics.parquet`` rows); ``alarm_run`` is None when no alarms were
    evaluated.
    """

    records: SimResult
    datapoints: pd.DataFrame
    alarm_run: AlarmRun | None
    summary: RunSummary
    seed: int
    settings: ClusterSettings
    #: False for a bare replay (``metrics=False``): no datapoints were built.
    measured: bool = True

    @classmethod
    def simulate(
        cls,
        workload: Workload,
        config: WLMConfig,
        settings: ClusterSettings | None = None,
        *,
        rng: np.random.Generator | int | None = None,
        alarms: Sequence[AlarmSpec] | None = None,
        design: Design | None = None,
        cluster_id: str | None = None,
        routing: Any = None,
        account_id: str = "123456789012",
        end_at: pd.Timestamp | None = None,
        replay: Replay = "session",
        recorded: WLMConfig | None = None,
        metrics: bool = True,
        timer: PhaseTimer | None = None,
        schedule: WLMSchedule | None = None,
        on_records: Callable[[SimResult], None] | None = None,
    ) -> Run:
        """Simulate ``workload`` under ``config``, measure it and evaluate alarms.

        The same as :meth:`prepare` then :meth:`simulate_prepared`.

        Parameters
        ----------
        workload
            The canonical workload to replay.
        config
            The WLM configuration.
        settings
            Cluster settings; None is AWS's defaults (:class:`ClusterSettings`).
        rng
            Seed of the engine's random numbers. An int is used as is; a
            Generator draws one; None is seed 0. The seed used is recorded.
        alarms
            Alarms to evaluate on the datapoints. None: the design's alarms
            when ``design`` is given, else none; ``()`` evaluates none.
        design
            The cluster's design (cluster id, environment, ELT contract);
            None is the default design.
        cluster_id
            ``ClusterIdentifier`` of the datapoints; default the one the alarms
            name, else the design's (:func:`dpcsim.alarms.cluster.resolve_cluster_id`;
            alarms naming two is an InputError).
        routing
            A precomputed routing (:func:`dpcsim.wlm.route_workload`) for
            ingested logs; None lets the engine route.
        account_id
            Account of the design's SNS topic (only with ``design`` and no
            ``alarms``).
        end_at
            Last instant the datapoints cover [UTC]; default the run's last
            activity (see :func:`dpcsim.metrics.build_metrics`).
        replay
            ``"session"``: a statement of a known session arrives at its
            predecessor's end plus the logged think time; ``"open"``: every
            statement at its logged instant (see :mod:`dpcsim.engine.sessions`).
        recorded
            The configuration the log was recorded under (None: ``config``); the
            engine divides the logged spill out at its memory (see
            :func:`dpcsim.engine.simulate`).
        metrics
            False skips the datapoints and alarms (a bare replay: empty
            ``datapoints``, no ``alarm_run``, no ``metrics.parquet``).
        timer
            A :class:`PhaseTimer` that records the seconds of each phase.
        schedule
            A time-of-day WLM schedule (:class:`dpcsim.engine.schedule.WLMSchedule`):
            its configurations' dynamic properties (slots, memory, WLM timeout,
            SQA, scaling mode) switch in every simulated day, with the
            transition AWS documents; ``config`` is the static part (queues and
            routing) every entry must share. None: ``config`` all the time.
        on_records
            Called with the engine's records as soon as they exist, before the
            metrics are computed (:class:`RecordWriter` writes them meanwhile).
        """
        prepared = cls.prepare(
            workload,
            config,
            settings,
            design,
            routing=routing,
            alarms=alarms,
            replay=replay,
            recorded=recorded,
            cluster_id=cluster_id,
            account_id=account_id,
            end_at=end_at,
            metrics=metrics,
            timer=timer,
        )
        # A caller that handed over its only reference frees the frame once
        # the prepared run lets it go.
        del workload, routing
        return cls.simulate_prepared(
            prepared,
            rng=rng,
            metrics=metrics,
            timer=timer,
            schedule=schedule,
            on_records=on_records,
            release=True,
        )

    @classmethod
    def prepare(
        cls,
        workload: Workload,
        config: WLMConfig,
        settings: ClusterSettings | None = None,
        design: Design | None = None,
        *,
        routing: Any = None,
        alarms: Sequence[AlarmSpec] | None = None,
        cluster_id: str | None = None,
        account_id: str = "123456789012",
        end_at: pd.Timestamp | None = None,
        metrics: bool = True,
        timer: PhaseTimer | None = None,
        replay: Replay = "session",
        recorded: WLMConfig | None = None,
    ) -> PreparedRun:
        """Route the workload and compute what every run of it shares, once.

        A sweep calls this once per workload and configuration, then
        :meth:`simulate_prepared` per setting and seed: the workload is not
        routed, its engine arrays not rebuilt and the metrics' per-workload
        inputs (texts, mart tables, logged ends, side tables) not recomputed.
        Parameters as in :meth:`simulate`; ``settings`` is the default of
        :meth:`simulate_prepared`; ``metrics=False`` skips the metric inputs.
        """
        clock = PhaseTimer() if timer is None else timer
        settings = ClusterSettings() if settings is None else settings
        frame = workload.queries
        # A long plain run loads its compiled loop meanwhile (about 0.6 s).
        mem = frame["mem_mb"] if "mem_mb" in frame.columns else None
        preload_for(
            len(frame),
            config,
            settings,
            memory_known=mem is not None and bool((mem > 0.0).any()),
        )
        if routing is None and all(c in frame.columns for c in ENGINE_COLUMNS):
            with clock.phase("route"):
                routing = route_workload(config, frame)
        with clock.phase("prepare"):
            arrays = prepare_inputs(workload, config, routing=routing)
            recorded_queue = (
                None if recorded is None else prepare_inputs(workload, recorded).queue
            )
            inputs = MetricInputs.of(workload, arrays.start_at) if metrics else None
        if alarms is None and design is not None:
            requests = design.alarm_requests(account_id)
            alarms = alarms_from_document(requests, source=f"design {design.name}")
        # The user's cluster: their alarms name it (see dpcsim.alarms.cluster).
        default_id = (design or default_design()).cluster_id
        cluster_id = resolve_cluster_id(cluster_id, alarms, default_id)
        return PreparedRun(
            workload=workload,
            config=config,
            settings=settings,
            design=design,
            arrays=arrays,
            metric_inputs=inputs,
            alarms=tuple(alarms) if alarms else (),
            cluster_id=cluster_id,
            end_at=end_at,
            replay=replay,
            recorded=recorded,
            recorded_queue=recorded_queue,
        )

    @classmethod
    def simulate_prepared(
        cls,
        prepared: PreparedRun,
        settings: ClusterSettings | None = None,
        *,
        rng: np.random.Generator | int | None = None,
        metrics: bool = True,
        timer: PhaseTimer | None = None,
        schedule: WLMSchedule | None = None,
        keep: Literal["all", "alarms"] = "all",
        on_records: Callable[[SimResult], None] | None = None,
        release: bool = False,
    ) -> Run:
        """Replay a :class:`PreparedRun`; the same run :meth:`simulate` returns.

        Parameters
        ----------
        prepared
            From :meth:`prepare`; only read (unless ``release``), so one
            serves many runs.
        settings
            Cluster settings of this run; None is the prepared ones.
        rng, metrics, timer, schedule, on_records
            As in :meth:`simulate`.
        keep
            ``"all"``: every datapoint; ``"alarms"`` (a sweep's runs, which
            keep only outcomes): only the series the prepared alarms read are
            built and kept in :attr:`datapoints`, unsorted; the alarm
            evaluation is the same.
        release
            ``prepared`` serves this run only (:meth:`simulate`, ``dpcsim
            simulate``): :meth:`PreparedRun.release` is called before the
            engine runs, and the engine arrays are let go once it has, so that
            a long run holds neither its workload frame nor its engine inputs
            through the records, metrics and writes. Memory is freed only
            where the caller holds no other reference. A released run cannot
            be replayed.

        Raises
        ------
        ValueError
            When ``prepared`` was released by an earlier run.
        """
        clock = PhaseTimer() if timer is None else timer
        seed = _seed(rng)
        settings = prepared.settings if settings is None else settings
        config = prepared.config
        arrays = prepared.arrays
        if arrays is None:
            raise ValueError(
                "this PreparedRun was released by a run with release=True; "
                "prepare the workload again (Run.prepare) to replay it"
            )
        inputs = prepared.metric_inputs
        if metrics and inputs is None:
            # (release() drops the workload and the arrays together.)
            assert prepared.workload is not None
            inputs = MetricInputs.of(prepared.workload, arrays.start_at)
        if release:
            prepared.release()
        ran = run_engine(
            arrays,
            config,
            settings,
            rng=seed,
            phase=clock.phase,
            replay=prepared.replay,
            recorded=prepared.recorded,
            recorded_queue=prepared.recorded_queue,
            schedule=schedule,
        )
        # The engine's inputs pin the workload's numeric columns: a released
        # run frees them here, before its records and metrics are built.
        del arrays
        with clock.phase("records"):
            result = ran.result()
        del ran
        if on_records is not None:
            on_records(result)
        with clock.phase("records"):
            # The result is fresh from the engine: its codes match its frame.
            summary = RunSummary.from_result(result, seed=seed, codes=result.codes)
        alarm_run = None
        measured = metrics
        if not metrics:
            datapoints = empty_datapoints()
        else:
            options: dict[str, Any] = {
                # The metrics read the workload's texts and side tables from
                # its inputs, computed once for every run of the workload.
                "workload": None,
                "design": prepared.design,
                "cluster_id": prepared.cluster_id,
                "queues": config.queue_names,
                "storage": settings.storage,
                "end_at": prepared.end_at,
                "inputs": inputs,
            }
            alarms = prepared.alarms
            span_us = None
            with clock.phase("metrics"):
                if keep == "alarms" and alarms:
                    # Each alarm reads one series per metric: its dimensions.
                    wanted = {
                        (m.namespace, m.metric_name, m.dimensions)
                        for alarm in alarms
                        for m in alarm_metrics(alarm)
                    }
                    found = alarm_datapoints(result, wanted, **options)
                    datapoints, span_us = found.datapoints, found.span_us
                else:
                    datapoints = build_metrics(result, **options)
            with clock.phase("alarms"):
                alarm_run = (
                    evaluate_alarms(alarms, datapoints, span_us=span_us)
                    if alarms
                    else None
                )
        return cls(
            records=result,
            datapoints=datapoints,
            alarm_run=alarm_run,
            summary=summary,
            seed=seed,
            settings=settings,
            measured=measured,
        )

    def queue_table(self) -> pd.DataFrame:
        """One row per final queue, then ``(all)``: counts, waits [s], placement.

        Columns: ``queue``, ``arrived``, one per outcome, ``waited_pct`` (share
        of queries with a queue wait above 0 [%]), ``wait_mean_s``,
        ``wait_p50_s``, ``wait_p90_s``, ``wait_p99_s``, ``wait_max_s`` (NaN
        when empty), ``on_main``, ``on_cs``, ``on_sqa``.
        """
        rows = dict(self.summary.by_queue)
        rows["(all)"] = self.summary.all_queues
        queries = self.records.queries
        waited = queries["queue_s"].to_numpy(dtype=np.float64) > 0
        # Codes, not a Python string per query.
        queue_of = _Codes.of(queries["queue"])
        code_of = {name: k for k, name in enumerate(queue_of.names)}
        out = []
        for name, queue in rows.items():
            if name == "(all)":
                mine = waited
            else:
                mine = waited[queue_of.codes == code_of.get(name, -2)]
            row: dict[str, Any] = {"queue": name, **queue.counts}
            row["waited_pct"] = 100 * float(mine.mean()) if mine.size else np.nan
            for key in ("mean", *(f"p{p}" for p in PERCENTILES), "max"):
                value = queue.wait_s.get(key)
                row[f"wait_{key}_s"] = np.nan if value is None else value
            row |= {f"on_{where}": n for where, n in queue.ran_on.items()}
            out.append(row)
        return pd.DataFrame(out)

    def timestamps(self, t_s: Any, tz: str = "UTC") -> pd.Series:
        """Simulation times [s from the workload start] as timestamps in ``tz``."""
        offsets = pd.to_timedelta(np.asarray(t_s, dtype=np.float64), unit="s")
        stamps = pd.Series(pd.Timestamp(self.records.start_at) + offsets)
        return stamps.dt.tz_convert(tz)

    def scaling_totals(self) -> pd.Series:
        """Scaling and SQA figures of the run, one value each.

        ``activations``, ``busy_s``, ``billed_s``, ``free_credit_used_s``,
        ``paid_s`` [s], ``cost_usd`` and ``list_price_usd`` (billed seconds at
        the scaling price, before free credits) [USD], ``sqa_runs``,
        ``sqa_evictions`` and ``sqa_max_s`` [s].
        """
        scaling = self.summary.scaling
        sqa = self.summary.engine["sqa"]
        price = self.settings.price_usd_per_cluster_s
        return pd.Series(
            {
                **scaling.to_dict(),
                "list_price_usd": scaling.billed_s * price,
                "sqa_runs": sqa["runs"],
                "sqa_evictions": sqa["evictions"],
                "sqa_max_s": np.nan if sqa["max_s"] is None else sqa["max_s"],
            },
            dtype="float64",
        )

    def scaling_table(self) -> pd.DataFrame:
        """Concurrency Scaling activations with UTC times.

        The engine's ``scaling`` rows (``start_s``, ``end_s``, ``busy_s``,
        ``billed_s`` [s]) plus ``start_at`` and ``end_at`` [UTC].
        """
        frame = self.records.scaling.copy()
        start = pd.Timestamp(self.records.start_at)
        for col in ("start", "end"):
            offsets = pd.to_timedelta(frame[f"{col}_s"].to_numpy(float), unit="s")
            frame[f"{col}_at"] = start + offsets
        return frame

    def alarm_table(self) -> pd.DataFrame:
        """One row per alarm (``alarm_summary.csv``); empty without alarms."""
        if self.alarm_run is None:
            return pd.DataFrame(
                columns=[
                    "alarm_name",
                    "transitions_to_alarm",
                    "time_in_alarm_s",
                    "first_alarm_at",
                    "final_state",
                ]
            )
        return self.alarm_run.summary.copy()

    def write(
        self,
        out_dir: str | Path,
        *,
        timeline: bool = True,
        timer: PhaseTimer | None = None,
        written: RecordWriter | None = None,
    ) -> None:
        """Write the files ``dpcsim simulate`` writes into ``out_dir`` (created).

        ``queries``, ``timeline`` (unless ``timeline=False``), ``scaling`` and
        ``metrics`` parquet (not for a bare replay), ``summary.json`` and,
        with alarms, ``alarm_history.csv`` and ``alarm_summary.csv``; existing
        files are overwritten. The same run gives the same bytes. ``written``:
        the :class:`RecordWriter` that took the record tables into ``out_dir``
        already (waited for here).
        """
        clock = PhaseTimer() if timer is None else timer
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with clock.phase("write"):
            names = record_tables(timeline)
            done = written.wait() if written is not None else ()
            for name in names:
                if name not in done:
                    path = out / f"{name}.parquet"
                    write_parquet(getattr(self.records, name), path)
            write_json(self.summary.to_dict(), out / "summary.json")
            if self.measured:
                write_parquet(self.datapoints, out / "metrics.parquet")
            if self.alarm_run is not None:
                write_alarm_run(self.alarm_run, out, force=True)


#: The record tables a run writes, in order (the timeline only on request).
RECORD_TABLES: Final = ("queries", "timeline", "scaling")


def record_tables(timeline: bool) -> tuple[str, ...]:
    """The record tables written, with or without the timeline."""
    return tuple(t for t in RECORD_TABLES if timeline or t != "timeline")


class RecordWriter:
    """Write a run's record tables from a thread while its metrics are built.

    Pass it as ``on_records`` to :meth:`Run.simulate` and as ``written`` to
    :meth:`Run.write`, inside ``with`` (which waits for the thread whatever
    happens). pyarrow encodes and compresses without holding the GIL,
    so the largest file, ``queries.parquet``, is written on the second core
    while the metrics are computed; each file is written by the same call as
    inline, so the bytes are the same.

    Parameters
    ----------
    out_dir
        Existing directory the tables go to.
    timeline
        Also write ``timeline.parquet``.
    """

    def __init__(self, out_dir: str | Path, *, timeline: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.names = record_tables(timeline)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def __call__(self, records: SimResult) -> None:
        """Start writing ``records``' tables."""
        tables = {name: getattr(records, name) for name in self.names}

        def write() -> None:
            try:
                for name, frame in tables.items():
                    write_parquet(frame, self.out_dir / f"{name}.parquet")
            except BaseException as exc:  # re-raised by wait()
                self._error = exc

        self._thread = threading.Thread(target=write, name="dpcsim-records")
        self._thread.start()

    def wait(self) -> tuple[str, ...]:
        """Wait for the writes; return the tables written (re-raising an error)."""
        if self._thread is None:
            return ()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.names

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        """Never leave the thread writing: wait for it (errors are wait()'s)."""
        if self._thread is not None:
            self._thread.join()


@dataclass(kw_only=True, eq=False)
class PreparedRun:
    """A workload routed and prepared for many runs (:meth:`Run.prepare`).

    Runs only read it (a sweep shares one between many runs, each with its own
    ``dataclasses.replace`` of config and settings); :meth:`release` is for the
    single run of a long workload.

    Attributes
    ----------
    workload, config, design
        What was prepared (``workload`` None once released).
    settings
        Default cluster settings of :meth:`Run.simulate_prepared`.
    arrays
        The engine's input arrays (:func:`dpcsim.engine.simulate.prepare_inputs`);
        None once released.
    metric_inputs
        The metrics' per-workload inputs (:class:`dpcsim.metrics.MetricInputs`);
        None when prepared with ``metrics=False``.
    alarms
        Alarm specs evaluated on every run's datapoints (may be empty).
    cluster_id, end_at, replay, recorded
        As in :meth:`Run.simulate`.
    recorded_queue
        Each query's queue under ``recorded`` (None without one).
    """

    workload: Workload | None
    config: WLMConfig
    settings: ClusterSettings
    design: Design | None
    arrays: QueryArrays | None
    metric_inputs: MetricInputs | None
    alarms: tuple[AlarmSpec, ...]
    cluster_id: str | None
    end_at: pd.Timestamp | None
    replay: Replay = "session"
    recorded: WLMConfig | None = None
    recorded_queue: np.ndarray | None = None

    def release(self) -> None:
        """Let go of the workload and the engine arrays (:meth:`Run.simulate_prepared`
        with ``release=True`` calls it); the run cannot be replayed after."""
        self.workload = None
        self.arrays = None


class PhaseTimer:
    """Wall seconds per phase of a run (``read``, ``route``, ``prepare``, ...).

    Examples
    --------
    >>> timer = PhaseTimer()
    >>> with timer.phase("read"):
    ...     pass
    >>> list(timer.seconds)
    ['read']
    """

    def __init__(self) -> None:
        #: Phase name -> accumulated wall time [s], in first-entered order.
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Add the wall time of the ``with`` body to phase ``name``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed

    def line(self) -> str:
        """One line: ``phases [s]: read 0.41, route 0.05, ... total 2.10``."""
        parts = [f"{k} {v:.3f}" for k, v in self.seconds.items()]
        total = sum(self.seconds.values())
        return "phases [s]: " + ", ".join([*parts, f"total {total:.3f}"])


def _counts(arrived: int, found: Mapping[str, int]) -> dict[str, int]:
    """Arrived plus one count per outcome (the four standard ones always present)."""
    counts = dict.fromkeys(OUTCOMES, 0) | dict(found)
    return {"arrived": arrived, **dict(sorted(counts.items()))}


def _size(codes: _Codes, rows: np.ndarray | None) -> int:
    """Number of queries at ``rows`` (None: all)."""
    return int(codes.codes.size if rows is None else np.count_nonzero(rows))


@dataclass(frozen=True, slots=True)
class _Codes:
    """A string column factorized once: codes (-1 for missing) and names."""

    codes: np.ndarray
    names: tuple[str, ...]

    @classmethod
    def of(cls, column: pd.Series) -> _Codes:
        codes, uniques = pd.factorize(column, sort=False)
        return cls(np.asarray(codes), tuple(str(u) for u in uniques))

    @classmethod
    def present(cls, codes: np.ndarray, names: Sequence[str]) -> _Codes:
        """Engine codes into ``names``, renumbered in order of first appearance.

        The same codes and names :meth:`of` gives for the column
        ``names[codes]``, without reading its strings.
        """
        codes = np.asarray(codes, dtype=np.int64)
        if not codes.size:
            return cls(np.zeros(0, np.int64), ())
        found = np.flatnonzero(np.bincount(codes, minlength=len(names)))
        first = [int(np.argmax(codes == k)) for k in found.tolist()]
        order = found[np.argsort(first, kind="stable")]
        renumber = np.full(len(names), -1, np.int64)
        renumber[order] = np.arange(order.size)
        return cls(renumber[codes], tuple(str(names[int(k)]) for k in order))

    def counts(self, rows: np.ndarray | None) -> dict[str, int]:
        """Count per name at ``rows``, in order of first appearance, none zero."""
        codes = self.codes if rows is None else self.codes[rows]
        if not codes.size:
            return {}
        # A count per name (codes are small): no sort of the column.
        tally = np.bincount(codes + 1, minlength=len(self.names) + 1)[1:]
        found = np.flatnonzero(tally)
        if rows is None or found.size <= 1:
            # factorize numbers names in order of first appearance.
            order = found
        else:
            first = [int(np.argmax(codes == k)) for k in found.tolist()]
            order = found[np.argsort(first, kind="stable")]
        return {self.names[int(k)]: int(tally[k]) for k in order.tolist()}


def _seed(rng: np.random.Generator | int | None) -> int:
    """The engine seed: an int as is, one drawn from a Generator, 0 for None."""
    if rng is None:
        return 0
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**63))
    return int(rng)
