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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim.alarms import AlarmRun, AlarmSpec, alarms_from_document, evaluate_alarms
from dpcsim.alarms.cluster import resolve_cluster_id
from dpcsim.alarms.history import write_alarm_run
from dpcsim.canonical import jsonable, write_json, write_parquet
from dpcsim.designs import Design, default_design
from dpcsim.engine import ClusterSettings, SimResult, simulate
from dpcsim.engine.sessions import Replay
from dpcsim.metrics import build_metrics
from dpcsim.schema import OUTCOMES, RAN_ON, Workload
from dpcsim.wlm import WLMConfig

__all__ = [
    "PERCENTILES",
    "RUN_FILES",
    "QueueSummary",
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
        wait_s = rows["queue_s"].to_numpy(dtype=np.float64)
        wait_s = wait_s[np.isfinite(wait_s)]
        stats: dict[str, float | None] = {"mean": None, "max": None}
        stats |= {f"p{p}": None for p in PERCENTILES}
        if wait_s.size:
            stats["mean"] = float(wait_s.mean())
            stats["max"] = float(wait_s.max())
            values = np.percentile(wait_s, PERCENTILES)
            for p, value in zip(PERCENTILES, values, strict=True):
                stats[f"p{p}"] = float(value)
        ran_on = dict.fromkeys(RAN_ON, 0)
        for name, count in rows["ran_on"].value_counts(sort=False).items():
            ran_on[str(name)] = int(count)
        return cls(counts=_outcome_counts(rows), ran_on=ran_on, wait_s=stats)

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
    def from_result(cls, result: SimResult, *, seed: int) -> RunSummary:
        """Summarize a simulation result run with ``seed``."""
        queries = result.queries
        by_queue = {
            str(name): QueueSummary.from_queries(rows)
            for name, rows in queries.groupby("queue", sort=True, observed=True)
        }
        engine_scaling = result.summary["scaling"]
        scaling = result.scaling
        return cls(
            seed=int(seed),
            start_at=pd.Timestamp(result.start_at),
            queries=_outcome_counts(queries),
            all_queues=QueueSummary.from_queries(queries),
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
    ) -> Run:
        """Simulate ``workload`` under ``config``, measure it and evaluate alarms.

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
        """
        seed = _seed(rng)
        settings = ClusterSettings() if settings is None else settings
        result = simulate(
            workload,
            config,
            settings,
            rng=seed,
            routing=routing,
            replay=replay,
            recorded=recorded,
        )
        if alarms is None and design is not None:
            requests = design.alarm_requests(account_id)
            alarms = alarms_from_document(requests, source=f"design {design.name}")
        # The user's cluster: their alarms name it (see dpcsim.alarms.cluster).
        default_id = (design or default_design()).cluster_id
        cluster_id = resolve_cluster_id(cluster_id, alarms, default_id)
        datapoints = build_metrics(
            result,
            workload=workload,
            design=design,
            cluster_id=cluster_id,
            queues=config.queue_names,
            storage=settings.storage,
            end_at=end_at,
        )
        alarm_run = evaluate_alarms(alarms, datapoints) if alarms else None
        return cls(
            records=result,
            datapoints=datapoints,
            alarm_run=alarm_run,
            summary=RunSummary.from_result(result, seed=seed),
            seed=seed,
            settings=settings,
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
        queue_of = queries["queue"].astype(str).to_numpy()
        out = []
        for name, queue in rows.items():
            mine = waited if name == "(all)" else waited[queue_of == name]
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

    def write(self, out_dir: str | Path) -> None:
        """Write the files ``dpcsim simulate`` writes into ``out_dir`` (created).

        ``queries``, ``timeline``, ``scaling`` and ``metrics`` parquet,
        ``summary.json`` and, with alarms, ``alarm_history.csv`` and
        ``alarm_summary.csv``; existing files are overwritten. The same run
        gives the same bytes.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("queries", "timeline", "scaling"):
            write_parquet(getattr(self.records, name), out / f"{name}.parquet")
        write_json(self.summary.to_dict(), out / "summary.json")
        write_parquet(self.datapoints, out / "metrics.parquet")
        if self.alarm_run is not None:
            write_alarm_run(self.alarm_run, out, force=True)


def _outcome_counts(queries: pd.DataFrame) -> dict[str, int]:
    """Arrived plus one count per outcome (the four standard ones always present)."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for name, count in queries["outcome"].value_counts(sort=False).items():
        counts[str(name)] = int(count)
    return {"arrived": len(queries), **dict(sorted(counts.items()))}


def _seed(rng: np.random.Generator | int | None) -> int:
    """The engine seed: an int as is, one drawn from a Generator, 0 for None."""
    if rng is None:
        return 0
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**63))
    return int(rng)
