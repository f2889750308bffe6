"""Run a sweep: plan the runs, execute them locally or on Dask, publish each one.

:func:`run_sweep` plans every (decision, scenario, assumption, replication)
run of a :class:`~dpcsim.experiments.space.Space`, skips the keys already in
the store, and executes the rest in **tasks**: one task is one replication of
one scenario and assumption for a batch of decisions, so a worker builds that
replication's workload once (bootstrap or regeneration, then the scenario) and
routes and prepares it once per distinct routing (queue list and routing
rules; slots and memory do not change routing), then replays it under each
decision.

Executors: ``workers=1`` runs in this process; ``workers>1`` a
:class:`~dpcsim.experiments.pool.WorkerPool` of that many spawned processes
(default one per core), which survives the death of a worker;
``scheduler="HOST:PORT"`` a Dask distributed cluster (``dask scheduler`` /
``dask worker``), where every worker must be able to read the workload path.
Each run is published to the store as soon as it comes back; a run that
raises, or whose worker keeps dying, is recorded ``failed`` with its error and
seed and does not stop the sweep. The sequential rule then adds
replications to the groups whose intervals are still wider than the target,
up to ``max_replications``.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim.designs import DPC_ELT, ELTContract
from dpcsim.engine import ClusterSettings
from dpcsim.errors import InputError
from dpcsim.experiments.outcomes import EltWindow, outcome_metrics
from dpcsim.experiments.pool import WorkerPool, chunk_size
from dpcsim.experiments.replicate import (
    BootstrapDays,
    RegenerateWeeks,
    Replicator,
    apply_scenario,
    engine_seed,
    scenario_settings,
)
from dpcsim.experiments.space import (
    Space,
    apply_assumption,
    apply_decision,
    axis_id,
    run_key,
    schedule_of,
)
from dpcsim.experiments.store import ResultStore
from dpcsim.run import PreparedRun, Run
from dpcsim.schema import Workload
from dpcsim.wlm import WLMConfig, route_workload
from dpcsim.workerserver import SWEEP_MODULE
from dpcsim.workload import DPCWorkloadSpec
from dpcsim.workload.whatif import elt_mask

__all__ = [
    "DASK_WORKER_CONFIG",
    "DASK_WORKER_ENV",
    "SweepContext",
    "SweepReport",
    "Task",
    "clear_caches",
    "contract_dict",
    "iter_task",
    "plan_tasks",
    "run_sweep",
    "run_task",
]

#: Decisions per task: enough to amortise building a replication's workload,
#: few enough to spread a sweep over the workers.
DECISIONS_PER_TASK = 25

#: Dask configuration recommended for the workers (and scheduler) of a sweep.
#: A run is CPU-bound Python; on a machine with few cores the workers' own
#: monitoring (the event-loop tick every 20 ms, the system monitor every
#: 500 ms, the statistical profiler every 10 ms) runs beside it and slowed a
#: 2-worker ``LocalCluster`` on 2 cores from 1.70x to 1.47-1.61x one worker
#: (measured on the sample, 40 decisions x 2 replications). These values only
#: coarsen monitoring: an unresponsive event loop is reported after 2 s
#: instead of 20 ms, the dashboard's CPU and memory plots update every 5 s,
#: and the dashboard has no profile.
#:
#: The nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, and glibc
#: then stops adapting its mmap threshold: every array above 128 KiB is a
#: fresh ``mmap`` whose pages fault in again, and a sweep run took 13 % longer
#: (0.19 s against 0.17 s, in-process on the sample). ``MALLOC_MMAP_THRESHOLD_``
#: at glibc's own ceiling for that adaptation (32 MiB on 64-bit) keeps Dask's
#: trimming and gives the run its speed back.
#:
#: A worker preloads the sweep when it starts (about 0.5 s of imports and the
#: botocore alarm model, :mod:`dpcsim.experiments.preload`), as a local pool's
#: fork server does, instead of in the first task of each sweep.
#: Set these with ``dask.config.set`` or, for ``dask worker``, as the
#: environment variables :data:`DASK_WORKER_ENV`.
DASK_WORKER_CONFIG: Final[dict[str, Any]] = {
    "distributed.admin.tick.interval": "2s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": "33554432",
    "distributed.worker.preload": [SWEEP_MODULE],
}
#: :data:`DASK_WORKER_CONFIG` as the environment of ``dask worker``: Dask's
#: variables, and the malloc one as itself (a worker process inherits it).
DASK_WORKER_ENV: Final[dict[str, str]] = {
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "2s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "5s",
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "DASK_DISTRIBUTED__WORKER__PRELOAD": f'["{SWEEP_MODULE}"]',
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepContext:
    """What every worker needs to rebuild any run from its key (picklable).

    Attributes
    ----------
    workload_path
        The canonical workload (``workload.parquet`` or its folder).
    replicate
        ``bootstrap`` (whole days of the log) or ``regenerate`` (generator
        spec from ``spec.json`` next to the workload).
    root
        Root seed.
    base_wlm
        The base ``wlm_json_configuration`` (list), decisions apply to it.
    base_settings
        The base cluster settings (``ClusterSettings.to_dict()``).
    alarms
        PutMetricAlarm requests to evaluate on every run.
    window
        The ELT window.
    days
        Days per regenerated week (None: the spec's).
    elt
        The design's ELT contract (:class:`~dpcsim.designs.ELTContract`
        fields): which statements are the ELT's, for growth, shifts, faults
        and ELT lateness. Default the DPC design's.
    """

    workload_path: str
    replicate: str
    root: int
    base_wlm: list[dict[str, Any]]
    base_settings: dict[str, Any]
    alarms: list[dict[str, Any]] = field(default_factory=list)
    window: EltWindow = field(default_factory=EltWindow)
    days: int | None = None
    elt: dict[str, Any] = field(default_factory=lambda: contract_dict(DPC_ELT))

    def contract(self) -> ELTContract:
        """The ELT contract :attr:`elt` describes."""
        return ELTContract(**self.elt)


def contract_dict(contract: ELTContract) -> dict[str, Any]:
    """An ELT contract as plain JSON-ready values (for :attr:`SweepContext.elt`)."""
    out = asdict(contract)
    out["users"] = list(contract.users)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One replication of one scenario and assumption, for a batch of decisions."""

    replication: int
    scenario: dict[str, Any]
    assumption: dict[str, Any]
    decisions: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepReport:
    """What :func:`run_sweep` did."""

    results: pd.DataFrame
    stats: pd.DataFrame
    runs_done: int
    runs_skipped: int
    failures: int
    wall_s: float
    run_s: float  # sum of the runs' own times [s]
    replications: dict[str, int]
    #: Local worker processes that died and were replaced (0 in-process/Dask).
    worker_deaths: int = 0


def plan_tasks(
    space: Space,
    replications: Sequence[int],
    done: set[str],
    *,
    only: set[tuple[str, str, str]] | None = None,
    per_task: int = DECISIONS_PER_TASK,
) -> list[Task]:
    """Tasks for the runs of ``replications`` not in ``done``, by replication."""
    tasks = []
    for r in replications:
        for scenario in space.scenarios:
            for assumption in space.assumptions:
                todo = [
                    d
                    for d in space.decisions
                    if run_key(d, scenario, assumption, r) not in done
                    and (
                        only is None
                        or (
                            axis_id("c", d),
                            axis_id("s", scenario),
                            axis_id("a", assumption),
                        )
                        in only
                    )
                ]
                for i in range(0, len(todo), per_task):
                    tasks.append(
                        Task(
                            replication=r,
                            scenario=scenario,
                            assumption=assumption,
                            decisions=tuple(todo[i : i + per_task]),
                        )
                    )
    return tasks


# Per-process caches: a worker keeps the log, recent replications and routings.
_BASE: dict[str, Workload] = {}
_WEEKS: OrderedDict[tuple[Any, ...], tuple[Workload, np.ndarray]] = OrderedDict()
_PREPARED: OrderedDict[tuple[Any, ...], PreparedRun] = OrderedDict()
_ALARMS: dict[str, list[Any]] = {}
_CACHE_SIZE = 4


def clear_caches() -> None:
    """Forget this process's cached log, replications and routings."""
    for cache in (_BASE, _WEEKS, _PREPARED, _ALARMS, _REPLICATORS):
        cache.clear()


def run_task(task: Task, ctx: SweepContext) -> list[dict[str, Any]]:
    """Run every decision of ``task``; one result row per run (never raises)."""
    return list(iter_task(task, ctx))


def iter_task(task: Task, ctx: SweepContext) -> Iterator[dict[str, Any]]:
    """Yield the result row of each decision of ``task`` as it finishes.

    The replication's workload is built, routed and prepared once per routing
    (:meth:`dpcsim.run.Run.prepare`) and cached in this process; each decision
    is then a :meth:`~dpcsim.run.Run.simulate_prepared` under its own
    configuration and settings, the same run
    :func:`~dpcsim.experiments.outcomes.simulate_outcomes` makes.
    """
    try:
        workload, elt_ids = _scenario_week(ctx, task.replication, task.scenario)
        base_config = WLMConfig.from_json(json.dumps(ctx.base_wlm))
        base_settings = ClusterSettings.from_dict(dict(ctx.base_settings))
        alarms = _alarm_specs(ctx.alarms)
        settings0 = scenario_settings(
            apply_assumption(base_settings, task.assumption), task.scenario
        )
        setup_error = None
    except Exception as exc:  # a replication that cannot be built fails its runs
        setup_error = _error_text(exc)
    seed = engine_seed(ctx.root, task.replication)
    for decision in task.decisions:
        row = _row_head(decision, task, seed)
        started = time.perf_counter()
        if setup_error is not None:
            row.update(status="failed", error=setup_error)
        else:
            try:
                config, settings = apply_decision(base_config, settings0, decision)
                schedule = schedule_of(base_config, settings0, decision)
                prepared = _prepared(
                    ctx, task, workload, config, alarms=alarms, recorded=base_config
                )
                # Same routing => same arrays and metric inputs: only the
                # configuration and settings of this decision change.
                run = Run.simulate_prepared(
                    replace(prepared, config=config, settings=settings),
                    rng=seed,
                    schedule=schedule,
                    keep="alarms",
                )
                metrics = outcome_metrics(run, config.queue_names, ctx.window, elt_ids)
                row.update({f"metric.{k}": v for k, v in sorted(metrics.items())})
            except Exception as exc:  # recorded, the sweep goes on
                row.update(status="failed", error=_error_text(exc))
        row["run_s"] = time.perf_counter() - started
        yield row


def run_sweep(
    space: Space,
    ctx: SweepContext,
    out_dir: str | Path,
    *,
    replications: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    per_task: int = DECISIONS_PER_TASK,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> SweepReport:
    """Run (or resume) a sweep into ``out_dir``; return results and statistics.

    Parameters
    ----------
    space
        What to sweep.
    ctx
        How to rebuild any run (workload, replication method, base config).
    out_dir
        The sweep folder (see :mod:`dpcsim.experiments.store`).
    replications
        Replications per point (default ``space.replications``); the
        sequential rule may add more, up to ``space.max_replications``.
    workers
        Local processes (default: one per core; 1 runs in this process).
    scheduler
        A Dask scheduler address; overrides ``workers``.
    progress
        Show a progress bar (runs done, ETA, failures).
    """
    store = ResultStore(out_dir)
    if space.source:
        store.write_text("space.toml", space.source)
    n0 = replications or space.replications
    cap = max(space.max_replications, n0)
    done = store.done_keys()
    skipped = len(done)
    started = time.perf_counter()
    tasks = plan_tasks(space, range(n0), done, per_task=per_task)
    count, run_s, failures = 0, 0.0, 0
    executor = _Executor(workers, scheduler, ctx, per_task)
    with executor as submit, _Bar(progress) as bar:
        # Here, not at the top: the statistics (scipy) are the driver's, and a
        # worker process importing this module should not pay for them; and
        # once the pool's fork server is starting, to overlap its imports.
        from dpcsim.experiments.stats import groups_needing_more, summarize

        reps = n0
        while True:
            bar.total = (bar.total or 0) + sum(len(t.decisions) for t in tasks)
            bar.refresh()
            for row in submit(tasks):
                store.publish(row)
                count += 1
                run_s += float(row.get("run_s", 0.0))
                if row["status"] != "ok":
                    failures += 1
                    bar.set_postfix(failures=failures, refresh=False)
                if on_row is not None:
                    on_row(row)
                bar.update(1)
            if reps >= cap:
                break
            results = store.load()
            metrics = _reported_metrics(results)
            wide = set(
                groups_needing_more(
                    results,
                    target_rel_half_width=space.target_rel_half_width,
                    level=space.level,
                    metrics=metrics,
                )
            )
            if not wide:
                break
            tasks = plan_tasks(
                space, [reps], store.done_keys(), only=wide, per_task=per_task
            )
            reps += 1
    results = store.load()
    store.write_results(results)
    table = summarize(results, space.level)
    store.write_text("stats.csv", table.to_csv(index=False))
    per_group = results.groupby("config_id")["replication"].nunique()
    return SweepReport(
        results=results,
        stats=table,
        runs_done=count,
        runs_skipped=skipped,
        failures=int((results["status"] != "ok").sum()) if len(results) else 0,
        wall_s=time.perf_counter() - started,
        run_s=run_s,
        replications={str(k): int(v) for k, v in per_group.items()},
        worker_deaths=executor.deaths(),
    )


def _reported_metrics(results: pd.DataFrame) -> list[str]:
    """The metrics the sequential rule watches: the objectives' and cost."""
    names = []
    for col in results.columns:
        m = col.removeprefix("metric.")
        if m.startswith(("wait_p95_s.", "elt_finish_min", "cost_usd")):
            names.append(m)
    return names


Submit = Callable[[list[Task]], Iterator[dict[str, Any]]]


class _Executor:
    """Context manager giving a function that runs tasks and yields their rows.

    ``workers<=1`` runs in this process; more, a :class:`WorkerPool` of
    spawned processes (each sent ``ctx`` once); ``scheduler``, a Dask cluster.
    """

    def __init__(
        self,
        workers: int | None,
        scheduler: str | None,
        ctx: SweepContext,
        per_task: int,
    ):
        self.workers = workers or os.cpu_count() or 1
        self.scheduler = scheduler
        self.ctx = ctx
        self.per_task = per_task
        self._close: Callable[[], None] = lambda: None
        self.deaths: Callable[[], int] = lambda: 0

    def __enter__(self) -> Submit:
        if self.scheduler:
            return self._dask()
        ctx = self.ctx
        if self.workers <= 1:
            return lambda tasks: (row for t in tasks for row in iter_task(t, ctx))
        pool = WorkerPool(
            self.workers,
            iter_task,
            ctx,
            failed_row=partial(_died_row, ctx),
            per_task=self.per_task,
            preload=SWEEP_MODULE,
        )
        self._close = pool.close
        self.deaths = lambda: pool.deaths
        return pool.run

    def _dask(self) -> Submit:
        try:
            from distributed import Client, as_completed
            from distributed.scheduler import KilledWorker
        except ImportError:
            raise InputError(
                "--scheduler needs dask.distributed: pip install 'dpcsim[distributed]'"
            ) from None
        client = Client(self.scheduler, set_as_default=False)  # type: ignore[no-untyped-call,unused-ignore]
        self._close = client.close
        ctx, shared_ctx = self.ctx, None

        def run(tasks: list[Task]) -> Iterator[dict[str, Any]]:
            nonlocal shared_ctx
            if not tasks:
                return
            if shared_ctx is None:  # sent to every worker once
                shared_ctx = client.scatter(ctx, broadcast=True)  # type: ignore[no-untyped-call,unused-ignore]
            workers = max(1, len(client.scheduler_info().get("workers", {})))  # type: ignore[no-untyped-call,unused-ignore]
            chunks = _rechunk(tasks, workers, self.per_task)
            futures = {
                client.submit(run_task, t, shared_ctx, pure=False): t  # type: ignore[no-untyped-call,unused-ignore]
                for t in chunks
            }
            done = as_completed(list(futures), loop=client.loop)  # type: ignore[no-untyped-call,unused-ignore]
            for fut in done:
                try:
                    rows = fut.result()
                except KilledWorker as exc:  # Dask gave up retrying it
                    task = futures[fut]
                    error = (
                        "WorkerDied: Dask stopped retrying this run's task: "
                        f"{type(exc).__name__}: {exc}"
                    )
                    rows = [_died_row(ctx, task, d, error) for d in task.decisions]
                yield from rows
                futures.pop(fut)

        return run

    def __exit__(self, *exc: object) -> None:
        self._close()


def _rechunk(tasks: list[Task], workers: int, per_task: int) -> list[Task]:
    """Cut tasks into chunks that shrink towards the end of the list.

    Dask runs tasks roughly in submission order, so big chunks first and
    single runs last keep every worker busy to the end (guided scheduling,
    the chunk sizes of :class:`~dpcsim.experiments.pool.WorkerPool`).
    """
    left = sum(len(t.decisions) for t in tasks)
    out = []
    for t in tasks:
        i = 0
        while i < len(t.decisions):
            size = chunk_size(left, workers, per_task)
            out.append(replace(t, decisions=t.decisions[i : i + size]))
            i += size
            left -= len(out[-1].decisions)
    return out


def _died_row(
    ctx: SweepContext, task: Task, decision: dict[str, Any], error: str
) -> dict[str, Any]:
    """The failed row of a run whose worker died; the error names its seed key."""
    row = _row_head(decision, task, engine_seed(ctx.root, task.replication))
    key = (
        f"run_key {row['run_key']}, root seed {ctx.root}, replication "
        f"{task.replication}, engine seed {row['seed']}"
    )
    row.update(status="failed", error=f"{error}; {key}", run_s=0.0)
    return row


class _Bar:
    """A tqdm bar, or a silent stand-in."""

    def __init__(self, enabled: bool):
        from tqdm import tqdm

        self.tqdm = tqdm(total=0, unit="run", desc="sweep", disable=not enabled)

    def __enter__(self) -> Any:
        return self.tqdm

    def __exit__(self, *exc: object) -> None:
        self.tqdm.close()


def _row_head(decision: dict[str, Any], task: Task, seed: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_key": run_key(decision, task.scenario, task.assumption, task.replication),
        "config_id": axis_id("c", decision),
        "scenario_id": axis_id("s", task.scenario),
        "assumption_id": axis_id("a", task.assumption),
        "replication": int(task.replication),
        "status": "ok",
        "error": "",
        "seed": str(seed),
    }
    for prefix, point in (
        ("decision", decision),
        ("scenario", task.scenario),
        ("assumption", task.assumption),
    ):
        for name, value in sorted(point.items()):
            row[f"{prefix}.{name}"] = value
    return row


def _error_text(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {Path(last[0].filename).name}:{last[0].lineno}" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _base_workload(ctx: SweepContext) -> Workload:
    if ctx.workload_path not in _BASE:
        from dpcsim import logs

        _BASE.clear()
        _BASE[ctx.workload_path] = logs.read_workload(ctx.workload_path)
    return _BASE[ctx.workload_path]


def replicator(ctx: SweepContext) -> Replicator:
    """The replication method of a sweep."""
    if ctx.replicate == "regenerate":
        from dpcsim.experiments.replicate import with_days

        spec = workload_spec(ctx)
        if spec is None:
            raise InputError(
                "replicate 'regenerate' needs the generator's spec.json next to "
                "the workload; expected a workload written by dpcsim generate",
                source=ctx.workload_path,
            )
        if ctx.days is not None:
            spec = with_days(spec, ctx.days)
        return RegenerateWeeks(spec, ctx.root)
    if ctx.replicate != "bootstrap":
        raise InputError(
            f"replicate {ctx.replicate!r}: expected bootstrap or regenerate"
        )
    return BootstrapDays(_base_workload(ctx), ctx.root, ctx.window.timezone)


def workload_spec(ctx: SweepContext) -> DPCWorkloadSpec | None:
    """The generator spec (``spec.json``) next to a generated workload, or None."""
    path = Path(ctx.workload_path)
    spec_file = (path if path.is_dir() else path.parent) / "spec.json"
    if not spec_file.is_file():
        return None
    raw = json.loads(spec_file.read_text(encoding="utf-8"))
    return DPCWorkloadSpec.from_dict(raw.get("spec", raw), source=str(spec_file))


_REPLICATORS: dict[tuple[Any, ...], Replicator] = {}


def _scenario_workload(ctx: SweepContext, r: int, scenario: dict[str, Any]) -> Workload:
    """Replication ``r``'s workload under ``scenario`` (cached in this process)."""
    return _scenario_week(ctx, r, scenario)[0]


def _scenario_week(
    ctx: SweepContext, r: int, scenario: dict[str, Any]
) -> tuple[Workload, np.ndarray]:
    """Replication ``r``'s workload under ``scenario``, with its ELT query ids."""
    key = (
        ctx.workload_path,
        ctx.replicate,
        ctx.root,
        ctx.days,
        r,
        json.dumps(scenario, sort_keys=True),
        json.dumps(ctx.elt, sort_keys=True),
    )
    if key in _WEEKS:
        _WEEKS.move_to_end(key)
        return _WEEKS[key]
    rkey = key[:4]
    if rkey not in _REPLICATORS:
        _REPLICATORS.clear()
        _REPLICATORS[rkey] = replicator(ctx)
    week = _REPLICATORS[rkey].week(r)
    contract = ctx.contract()
    workload = apply_scenario(week, scenario, ctx.root, r, contract)
    mask = elt_mask(workload.queries, contract)
    elt_ids = workload.queries["query_id"].to_numpy()[mask]
    _WEEKS[key] = (workload, elt_ids)
    while len(_WEEKS) > _CACHE_SIZE:
        _WEEKS.popitem(last=False)
    return workload, elt_ids


def _prepared(
    ctx: SweepContext,
    task: Task,
    workload: Workload,
    config: WLMConfig,
    *,
    alarms: list[Any],
    recorded: WLMConfig,
) -> PreparedRun:
    """Route and prepare once per replication, scenario and routing.

    The engine arrays depend on the configuration only through its routing
    (the queue list and each queue's user/role/query-group rules); slots,
    memory, scaling and SQA change nothing there, so decisions sharing a
    routing share one :class:`~dpcsim.run.PreparedRun`.
    """
    signature = tuple(
        (
            q.name,
            q.user_group,
            q.user_group_wild_card,
            q.user_role,
            q.user_role_wild_card,
            q.query_group,
            q.query_group_wild_card,
        )
        for q in config.queues
    )
    key = (
        ctx.workload_path,
        ctx.replicate,
        ctx.root,
        ctx.days,
        task.replication,
        json.dumps(task.scenario, sort_keys=True),
        json.dumps(ctx.base_wlm, sort_keys=True),
        json.dumps(ctx.alarms, sort_keys=True, default=str),
        signature,
    )
    if key in _PREPARED:
        _PREPARED.move_to_end(key)
        return _PREPARED[key]
    prepared = Run.prepare(
        workload,
        config,
        routing=route_workload(config, workload.queries),
        alarms=alarms,
        recorded=recorded,
    )
    _PREPARED[key] = prepared
    while len(_PREPARED) > _CACHE_SIZE:
        _PREPARED.popitem(last=False)
    return prepared


def _alarm_specs(requests: list[dict[str, Any]]) -> list[Any]:
    if not requests:
        return []
    key = json.dumps(requests, sort_keys=True, default=str)
    if key not in _ALARMS:
        from dpcsim.alarms import alarms_from_document

        _ALARMS.clear()
        _ALARMS[key] = alarms_from_document(requests, source="sweep alarms")
    return list(_ALARMS[key])
