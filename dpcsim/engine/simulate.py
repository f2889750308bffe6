"""``simulate``: run a workload through a WLM configuration on a cluster.

:func:`simulate` is :func:`prepare_inputs` (validate, route and turn the
workload into the engine's arrays) followed by :func:`simulate_arrays` (the
event loop and its records). A sweep prepares once per workload and
configuration and replays the same arrays under many settings and seeds; the
arrays are never modified by a run.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from dpcsim.engine.autoswitching import AutoScheduledEngine
from dpcsim.engine.autowlm import AutoEngine
from dpcsim.engine.cluster import Engine
from dpcsim.engine.contention import observed_to_solo
from dpcsim.engine.inputs import QueryArrays, prepare
from dpcsim.engine.memory import memory_from_spill
from dpcsim.engine.qmr import never_evaluated
from dpcsim.engine.queues import SQA_ELIGIBLE, QueueTables
from dpcsim.engine.records import strings
from dpcsim.engine.result import SimResult, summarize
from dpcsim.engine.scaling import bill
from dpcsim.engine.schedule import WLMSchedule, check_schedule
from dpcsim.engine.sessions import REPLAY_MODES, Replay, session_chain
from dpcsim.engine.settings import ClusterSettings
from dpcsim.engine.sqa import SQAModel, dynamic_max_s, noise_key
from dpcsim.engine.switching import ScheduledEngine, Switching
from dpcsim.errors import InputError
from dpcsim.schema import STATEMENT_TYPES, Workload
from dpcsim.wlm import RoutingResult, WLMConfig

__all__ = [
    "EngineRun",
    "carried_metrics",
    "chained_end_s",
    "demand_arrays",
    "in_memory_demand_s",
    "is_observed",
    "kept_sqa_work",
    "logged_end_s",
    "logged_executions",
    "memory_demand_arrays",
    "observed_demand_s",
    "prepare_inputs",
    "qmr_never_evaluated",
    "run_engine",
    "scaled_work",
    "simulate",
    "simulate_arrays",
    "solo_demand_s",
    "solo_parts_s",
    "sqa_max_eligible",
]


def carried_metrics(arrays: QueryArrays, spill_model: bool) -> set[str]:
    """Accrued QMR metrics some query of ``arrays`` has a value for.

    ``query_temp_blocks_to_disk`` also counts when the spill model simulates
    the spill (``spill_model``).
    """
    carried = {m for m, v in arrays.qmr_metrics.items() if bool(np.isfinite(v).any())}
    if spill_model:
        carried.add("query_temp_blocks_to_disk")
    return carried


def qmr_never_evaluated(
    config: WLMConfig, carried: set[str]
) -> list[dict[str, object]]:
    """QMR rules on metrics this run cannot evaluate (see :mod:`~dpcsim.engine.qmr`)."""
    return never_evaluated([(q.name, q.rules) for q in config.queues], carried)


def simulate(
    workload: Workload | pd.DataFrame,
    config: WLMConfig,
    settings: ClusterSettings | None = None,
    *,
    rng: np.random.Generator | int | None = None,
    routing: RoutingResult | None = None,
    replay: Replay = "session",
    recorded: WLMConfig | None = None,
    schedule: WLMSchedule | None = None,
) -> SimResult:
    """Simulate ``workload`` under the WLM ``config`` on a cluster.

    Parameters
    ----------
    workload
        Canonical workload (:mod:`dpcsim.schema`) or its query frame. Each
        query's ``exec_s`` [s] is its service demand: as is with
        ``contention_model = "none"``; with ``"usl"``, solo work, or (``demand =
        "observed"``) turned into solo work by :func:`solo_demand_s`.
    config
        WLM configuration (manual queues, or auto WLM when ``config.is_auto``).
    settings
        Cluster settings; None = :class:`ClusterSettings` defaults.
    rng
        Seed or generator (only the ``noisy`` SQA predictor draws from it).
    routing
        Precomputed :func:`~dpcsim.wlm.route_workload` result for the rows of
        ``workload`` as given; None routes here.
    replay
        ``session`` (default): statements of a known session (``session_id``)
        arrive after the previous one ends plus the logged think time
        (:mod:`dpcsim.engine.sessions`); ``open``: every statement at its
        logged arrival.
    recorded
        The WLM configuration the log was recorded under (None: ``config``).
        With observed demands and the spill model, a logged execution time
        includes the spill at the memory the query held then; it is divided
        out at the recorded queue's slot memory (:func:`in_memory_demand_s`),
        so a what-if memory split changes the spill and the recording one
        reproduces the log.
    schedule
        A time-of-day WLM schedule (:mod:`dpcsim.engine.schedule`): its
        configurations' dynamic properties switch in every simulated day, with
        the transition AWS documents (:mod:`dpcsim.engine.switching`);
        ``config`` gives the static part (queues, routing) and must agree with
        every entry on it. None: ``config`` all the time.

    Returns
    -------
    SimResult
        A query whose log row is ``aborted`` runs for its logged ``exec_s`` and
        ends ``failed`` unless WLM stopped it first. Every arrived query ends
        exactly once (``summary["arrived"]`` equals the
        sum of the outcome counts). Same inputs and seed give identical output.

    Raises
    ------
    InputError
        On a malformed workload or routing.
    """
    arrays = prepare_inputs(workload, config, routing=routing)
    recorded_queue = (
        None if recorded is None else prepare_inputs(workload, recorded).queue
    )
    return simulate_arrays(
        arrays,
        config,
        settings,
        rng=rng,
        replay=replay,
        recorded=recorded,
        recorded_queue=recorded_queue,
        schedule=schedule,
    )


def prepare_inputs(
    workload: Workload | pd.DataFrame,
    config: WLMConfig,
    *,
    routing: RoutingResult | None = None,
) -> QueryArrays:
    """Validate and route ``workload`` into the engine's input arrays.

    The arrays depend on the workload and ``config`` only (not on settings or
    the seed), so one preparation serves every replay of a sweep.
    """
    return prepare(workload, config, routing)


def simulate_arrays(
    arrays: QueryArrays,
    config: WLMConfig,
    settings: ClusterSettings | None = None,
    *,
    rng: np.random.Generator | int | None = None,
    phase: Callable[[str], AbstractContextManager[None]] | None = None,
    replay: Replay = "session",
    recorded: WLMConfig | None = None,
    recorded_queue: np.ndarray | None = None,
    schedule: WLMSchedule | None = None,
) -> SimResult:
    """Replay prepared arrays (:func:`prepare_inputs` of the same ``config``).

    Same result as :func:`simulate` on the workload the arrays came from; the
    arrays are only read. The timeline is kept as a
    :class:`~dpcsim.engine.records.StateLog` and built into a frame on first
    access of :attr:`SimResult.timeline`. ``phase(name)``, when given, is
    entered around the solo demands from the logged times (``demand``), the
    event loop (``engine``) and the building of the records (``records``),
    for a caller's phase timings. ``replay`` and
    ``recorded`` are :func:`simulate`'s; ``recorded_queue`` is each query's
    queue under ``recorded`` (``prepare_inputs(workload, recorded).queue``).
    ``schedule`` is :func:`simulate`'s.
    """
    ran = run_engine(
        arrays,
        config,
        settings,
        rng=rng,
        phase=phase,
        replay=replay,
        recorded=recorded,
        recorded_queue=recorded_queue,
        schedule=schedule,
    )
    with (phase or _untimed)("records"):
        return ran.result()


def run_engine(
    arrays: QueryArrays,
    config: WLMConfig,
    settings: ClusterSettings | None = None,
    *,
    rng: np.random.Generator | int | None = None,
    phase: Callable[[str], AbstractContextManager[None]] | None = None,
    replay: Replay = "session",
    recorded: WLMConfig | None = None,
    recorded_queue: np.ndarray | None = None,
    schedule: WLMSchedule | None = None,
) -> EngineRun:
    """The first half of :func:`simulate_arrays`: run the engine's loop.

    Parameters as there (``phase`` times ``demand`` and ``engine``).
    :meth:`EngineRun.result` builds the records; between the two a caller
    can let go of ``arrays``, which the records do not need whole.
    """
    timed = phase if phase is not None else _untimed
    settings = settings or ClusterSettings()
    if replay not in REPLAY_MODES:
        raise InputError(
            f"replay={replay!r}; expected one of {list(REPLAY_MODES)}",
            location="replay",
        )
    gen = np.random.default_rng(rng)
    tables = QueueTables.from_config(config, settings)
    if schedule is not None:
        check_schedule(schedule, config)
    arrays = memory_demand_arrays(arrays, recorded or config, recorded_queue, settings)
    with timed("demand") if is_observed(settings) else nullcontext():
        demand = demand_arrays(
            arrays, config, tables, settings, recorded, recorded_queue
        )
    # SQA predicts (and its dynamic maximum is set from) the solo run times, so
    # a recording run on solo demands and the replay of its log decide alike.
    sqa = None
    entries = [config] if schedule is None else list(schedule.configs)
    sqa_max_s = [_sqa_max_s(c, arrays, demand) for c in entries]
    on = [m for m in sqa_max_s if m is not None]
    if on:
        sqa = SQAModel(
            max_s=on[0],
            predictor=settings.sqa_predictor,
            exec_s=demand.exec_s,
            fingerprint=arrays.fingerprint,
            noise_sigma=settings.sqa_noise_sigma,
            prior_s=settings.sqa_prior_s,
            noise_key=noise_key(gen) if settings.sqa_predictor == "noisy" else 0,
        )
    cls = AutoEngine if config.is_auto else Engine
    with timed("engine"):
        if schedule is None:
            eng = cls(demand, tables, settings, sqa)
        else:
            each = [QueueTables.from_config(c, settings) for c in entries]
            switched = AutoScheduledEngine if config.is_auto else ScheduledEngine
            eng = switched(demand, each, settings, sqa, sqa_max_s, schedule)
        if replay == "session":
            succ, think = session_chain(
                arrays.arrival_s, chained_end_s(arrays), arrays.session
            )
            eng.set_sessions(succ, think)
        eng.run()
        arrival_s = np.frombuffer(eng.arr, np.float64).copy()
        eng.drop_inputs()
    return EngineRun(
        engine=eng,
        arrival_s=arrival_s,
        query_id=arrays.query_id,
        task_id=arrays.task_id,
        stmt=arrays.stmt,
        first_queue=arrays.queue,
        cache_hit=arrays.cache_hit,
        logged_abort=arrays.logged_abort,
        start_at=arrays.start_at,
        never_evaluated=qmr_never_evaluated(
            config, carried_metrics(arrays, eng.mem_on)
        ),
        tables=tables,
        settings=settings,
        sqa_max_s=None if sqa is None else sqa.max_s,
    )


def _sqa_max_s(
    config: WLMConfig, arrays: QueryArrays, demand: QueryArrays
) -> float | None:
    """SQA maximum runtime of ``config`` [s] (dynamic: from demands); None if off."""
    if config.sqa is None or not config.sqa.enabled:
        return None
    fixed_ms = config.sqa.max_execution_time
    if fixed_ms:
        return fixed_ms / 1000.0
    return dynamic_max_s(demand.exec_s[sqa_max_eligible(arrays, config)])


def sqa_max_eligible(arrays: QueryArrays, config: WLMConfig) -> np.ndarray:
    """Queries whose demands set the dynamic SQA maximum (eligible, not cached,
    in a user queue)."""
    eligible: np.ndarray = (
        np.asarray(SQA_ELIGIBLE)[arrays.stmt]
        & ~arrays.cache_hit
        & (arrays.queue < len(config.queues))
    )
    return eligible


def _untimed(name: str) -> AbstractContextManager[None]:
    """No timing (the default ``phase``)."""
    return nullcontext()


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineRun:
    """An engine whose loop has run (:func:`run_engine`), and what its records
    take from the input arrays.

    Only the arrays the records read are held (ids, statement types, first
    queues, cache hits, logged aborts: 6 of the 20 per-query arrays), so a
    caller that lets go of the input arrays before :meth:`result` frees the
    rest first.
    """

    engine: Engine | AutoEngine
    #: Arrival of each query [s], session successors at their replayed instant.
    arrival_s: np.ndarray
    query_id: np.ndarray
    task_id: np.ndarray
    stmt: np.ndarray
    first_queue: np.ndarray
    cache_hit: np.ndarray
    logged_abort: np.ndarray
    start_at: pd.Timestamp
    #: The QMR rules this run cannot evaluate (:func:`qmr_never_evaluated`).
    never_evaluated: list[dict[str, object]]
    tables: QueueTables
    settings: ClusterSettings
    #: SQA's maximum runtime [s]; None with SQA off.
    sqa_max_s: float | None

    def result(self) -> SimResult:
        """The run's records, scaling bill and summary."""
        eng, tables, settings = self.engine, self.tables, self.settings
        # An error or a user cancel belongs to the statement, not to WLM: a
        # query the log shows aborted fails again when the replay lets it run
        # to its logged end.
        eng.rec.fail_where_completed(self.logged_abort)
        queries = eng.rec.queries_frame(
            arrival_s=self.arrival_s,
            first_queue=self.first_queue,
            names=tables.names,
            extra={
                "query_id": self.query_id,
                "task_id": self.task_id,
                "statement_type": strings(STATEMENT_TYPES, self.stmt),
                "cache_hit": self.cache_hit,
            },
        )
        rows = eng.cs_pool.rows
        money = bill(
            rows,
            min_billed_s=settings.cs_min_billed_s,
            credit_start_s=settings.cs_free_credit_start_s,
            credit_cap_s=settings.cs_free_credit_cap_s,
            price_per_s=settings.price_usd_per_cluster_s,
        )
        scaling = pd.DataFrame(
            {
                "cluster": np.array([r[0] for r in rows], dtype=np.int64),
                "start_s": np.array([r[1] for r in rows], dtype=np.float64),
                "end_s": np.array([r[2] for r in rows], dtype=np.float64),
                "busy_s": np.array([r[3] for r in rows], dtype=np.float64),
                "billed_s": money.billed_s,
            }
        )
        codes = eng.rec.codes(tables.names, self.cache_hit)
        summary = summarize(codes, scaling, money, self.sqa_max_s)
        summary["qmr_never_evaluated"] = self.never_evaluated
        if isinstance(eng, Switching):
            summary["wlm_switches"] = eng.applied
        return SimResult(
            queries=queries,
            timeline=eng.rec.state_log(tables.names),
            scaling=scaling,
            summary=summary,
            start_at=self.start_at,
            codes=codes,
        )


def memory_demand_arrays(
    arrays: QueryArrays,
    recorded: WLMConfig,
    recorded_queue: np.ndarray | None,
    settings: ClusterSettings,
) -> QueryArrays:
    """``arrays`` with a memory demand for queries whose log gives only spill.

    :func:`~dpcsim.engine.memory.memory_from_spill` at the memory each query
    held under ``recorded`` (its slot memory times its slots; routing
    ``recorded_queue``, None = ``arrays.queue``). Queries the log shows on SQA
    and logs recorded under auto WLM get none. ``arrays`` itself when no query
    needs the estimate (no copy, same results as before).
    """
    todo = np.isnan(arrays.mem_mb) & np.isfinite(arrays.spilled_mb)
    todo &= ~arrays.logged_on_sqa
    if recorded.is_auto or not bool(todo.any()):
        return arrays
    queue = np.asarray(
        arrays.queue if recorded_queue is None else recorded_queue, np.int64
    )
    slot_mem = np.asarray(
        QueueTables.from_config(recorded, settings).slot_mem_mb, np.float64
    )
    user = todo & (queue < len(recorded.queues))
    held = np.full(arrays.n, np.nan)
    held[user] = slot_mem[queue[user]] * arrays.slots[user].astype(np.float64)
    mem_mb = memory_from_spill(
        arrays.mem_mb, arrays.spilled_mb, held, settings.unspilled_memory_share
    )
    return replace(arrays, mem_mb=mem_mb)


def in_memory_demand_s(
    demand_s: np.ndarray,
    arrays: QueryArrays,
    recorded: WLMConfig | None,
    recorded_queue: np.ndarray | None,
    tables: QueueTables,
    settings: ClusterSettings,
) -> np.ndarray:
    """Logged demands [s] with the recorded spill divided out.

    A query held ``slot_mem_mb`` of its recorded queue times its slots; short
    of its ``mem_mb`` it ran :func:`~dpcsim.engine.memory.spill_factor` times
    longer. ``recorded`` None means the log was recorded under the
    configuration being replayed (its routing is ``arrays.queue`` and its
    slot memory ``tables``).
    """
    if not bool((arrays.mem_mb > 0.0).any()):
        return demand_s
    if recorded is None or recorded_queue is None:
        queue, slot_mem = arrays.queue, tables.slot_mem_mb
    else:
        queue = recorded_queue
        slot_mem = QueueTables.from_config(recorded, settings).slot_mem_mb
    out = demand_s.copy()
    penalty = settings.spill_penalty
    # SQA runs a query without the spill model (its slots' memory is not the
    # queue's), so a query the log shows on SQA (service class 14) ran in memory.
    on_sqa = arrays.logged_on_sqa
    # spill_factor on arrays: the same IEEE operations in the same order.
    queue = np.asarray(queue, np.int64)
    slot_mem_arr = np.asarray(slot_mem, np.float64)
    idx = np.flatnonzero((arrays.mem_mb > 0.0) & ~on_sqa & (queue < len(slot_mem)))
    held = slot_mem_arr[queue[idx]] * arrays.slots[idx].astype(np.float64)
    mem_mb = arrays.mem_mb[idx]
    out[idx] /= 1.0 + penalty * np.maximum(0.0, 1.0 - held / mem_mb)
    return out


def logged_end_s(arrays: QueryArrays) -> np.ndarray:
    """Logged end of each query [s]: arrival + queue_s (0 if unknown) + exec_s.

    Plus the execution of an SQA attempt the query was evicted from.
    """
    queue_s = np.nan_to_num(arrays.logged_queue_s, nan=0.0)
    sqa_s = np.nan_to_num(arrays.logged_sqa_exec_s, nan=0.0)
    out: np.ndarray = arrays.arrival_s + queue_s + sqa_s + arrays.exec_s
    return out


def chained_end_s(arrays: QueryArrays) -> np.ndarray:
    """Logged end [s] of each query as the session chain measures think time from.

    :func:`logged_end_s`, except that a result-cache hit ends at its logged
    start: the replay serves it without running it (no slot, no capacity, no
    time), so its logged time counts as think time and the next statement of
    its session arrives at its logged instant under the recording
    configuration.
    """
    busy_s = np.where(arrays.cache_hit, 0.0, arrays.exec_s)
    out: np.ndarray = logged_end_s(arrays) - arrays.exec_s + busy_s
    return out


def is_observed(settings: ClusterSettings) -> bool:
    """Whether logged times are turned into solo work (``demand = "observed"``)."""
    return (
        settings.contention_model == "usl" and settings.contention_demand == "observed"
    )


def demand_arrays(
    arrays: QueryArrays,
    config: WLMConfig,
    tables: QueueTables,
    settings: ClusterSettings,
    recorded: WLMConfig | None = None,
    recorded_queue: np.ndarray | None = None,
    convert: SoloConverter | None = None,
) -> QueryArrays:
    """The engine's input: ``arrays`` with each query's demand.

    Under ``demand = "observed"`` the solo work of its logged execution
    (:func:`observed_demand_s`, ``convert`` as there), else its ``exec_s``;
    then times ``work_scale`` (:func:`scaled_work`).
    """
    demand = arrays
    if is_observed(settings):
        solo = observed_demand_s(
            arrays, config, tables, settings, recorded, recorded_queue, convert
        )
        demand = replace(arrays, exec_s=solo)
    return scaled_work(demand, settings)


def scaled_work(demand: QueryArrays, settings: ClusterSettings) -> QueryArrays:
    """``demand`` with its solo work and memory times ``settings.work_scale``.

    ``demand`` itself at 1 (no copy, the same bits as without the setting).
    """
    f = settings.work_scale
    if f == 1.0:
        return demand
    return replace(demand, exec_s=demand.exec_s * f, mem_mb=demand.mem_mb * f)


#: Solo work [s] of logged executions ``(start_s, end_s, cluster)``:
#: :func:`~dpcsim.engine.contention.observed_to_solo` or its windowed form.
SoloConverter = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def observed_demand_s(
    arrays: QueryArrays,
    config: WLMConfig,
    tables: QueueTables,
    settings: ClusterSettings,
    recorded: WLMConfig | None = None,
    recorded_queue: np.ndarray | None = None,
    convert: SoloConverter | None = None,
) -> np.ndarray:
    """The engine's demand [s] of each query under ``demand = "observed"``.

    The solo work of its logged execution (:func:`solo_parts_s`), with the
    recorded spill divided out under the spill model (only the work in a
    queue ran under it, not SQA's) and, under manual WLM, the work of an
    evicted SQA attempt the engine continues (:func:`kept_sqa_work`).
    ``convert`` turns logged executions into solo work (default the whole-log
    :func:`~dpcsim.engine.contention.observed_to_solo`; a streamed run passes
    :meth:`dpcsim.engine.solowindows.WindowedSolo.work`).
    """
    sqa_s, solo = solo_parts_s(arrays, settings, convert)
    if settings.memory_model == "spill":
        solo = in_memory_demand_s(
            solo, arrays, recorded, recorded_queue, tables, settings
        )
    if not config.is_auto:
        solo = solo + np.where(kept_sqa_work(arrays, settings), sqa_s, 0.0)
    return solo


def solo_demand_s(arrays: QueryArrays, settings: ClusterSettings) -> np.ndarray:
    """Solo work [s] of each query from its logged execution (demand = observed).

    The sum of :func:`solo_parts_s` for a query the engine reassigns from SQA
    with its work (:func:`kept_sqa_work`), its final attempt's part otherwise.
    """
    sqa_s, main_s = solo_parts_s(arrays, settings)
    out: np.ndarray = main_s + np.where(kept_sqa_work(arrays, settings), sqa_s, 0.0)
    return out


def kept_sqa_work(arrays: QueryArrays, settings: ClusterSettings) -> np.ndarray:
    """Whether each query's evicted SQA attempt's work counts toward its demand.

    With ``sqa_eviction = "hop"`` an evicted query continues with its work when
    its queue has a slot free at once (:mod:`dpcsim.engine.sqa`): the log
    shows no queue time after the SQA attempt (within the log's 1 µs
    resolution). Otherwise it restarted and the SQA attempt's work was wasted.
    """
    if settings.sqa_eviction != "hop":
        return np.zeros(arrays.n, bool)
    after_s = arrays.logged_queue_s - arrays.logged_sqa_queue_s
    kept: np.ndarray = np.isfinite(arrays.logged_sqa_exec_s) & (after_s < 1e-6)
    return kept


def logged_executions(
    arrays: QueryArrays,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every logged execution: ``(start_s, end_s, cluster, query)``.

    Each query's final one first (in query order), then the evicted SQA
    attempts (see :func:`solo_parts_s`); ``query`` is the index of the query
    each belongs to.
    """
    evicted = np.isfinite(arrays.logged_sqa_exec_s)
    sqa_exec_s = np.where(evicted, arrays.logged_sqa_exec_s, 0.0)
    start = (
        arrays.arrival_s + np.nan_to_num(arrays.logged_queue_s, nan=0.0) + sqa_exec_s
    )
    # A result-cache hit does no work on the cluster, whatever its logged time.
    busy_s = np.where(arrays.cache_hit, 0.0, arrays.exec_s)
    idx = np.flatnonzero(evicted)
    sqa_start = arrays.arrival_s[idx] + np.nan_to_num(
        arrays.logged_sqa_queue_s[idx], nan=0.0
    )
    return (
        np.concatenate([start, sqa_start]),
        np.concatenate([start + busy_s, sqa_start + sqa_exec_s[idx]]),
        np.concatenate(
            [arrays.logged_on_cs.astype(np.int64), np.zeros(idx.size, np.int64)]
        ),
        np.concatenate([np.arange(arrays.n, dtype=np.int64), idx]),
    )


def solo_parts_s(
    arrays: QueryArrays,
    settings: ClusterSettings,
    convert: SoloConverter | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Solo work [s] of each query's evicted SQA attempt and of its logged one.

    The logged execution runs for ``exec_s`` from arrival + ``queue_s`` (0 if
    unknown) + the execution of an SQA attempt it was evicted from (the log's
    ``sqa_queue_s`` / ``sqa_exec_s``), which itself ran on the main cluster
    from arrival + ``sqa_queue_s``. Queries the log shows on a scaling cluster
    share one capacity (the log does not say which scaling cluster: exact
    when at most one ran), the others the main cluster's
    (:func:`~dpcsim.engine.contention.observed_to_solo`); result-cache hits
    take no capacity.

    Returns
    -------
    tuple of numpy.ndarray
        ``(sqa_s, main_s)``: 0 in ``sqa_s`` for a query never evicted.
    """
    start, end, cluster, query = logged_executions(arrays)
    if convert is None:
        solo = observed_to_solo(
            start, end, cluster, settings.contention_sigma, settings.contention_kappa
        )
    else:
        solo = convert(start, end, cluster)
    n = arrays.n
    sqa_s = np.zeros(n, np.float64)
    sqa_s[query[n:]] = solo[n:]
    main_s: np.ndarray = solo[:n]
    return sqa_s, main_s
