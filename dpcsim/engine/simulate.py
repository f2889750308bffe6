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

import numpy as np
import pandas as pd

from dpcsim.engine.autowlm import AutoEngine
from dpcsim.engine.cluster import Engine
from dpcsim.engine.inputs import QueryArrays, prepare
from dpcsim.engine.queues import SQA_ELIGIBLE, QueueTables
from dpcsim.engine.records import strings
from dpcsim.engine.result import SimResult, summarize
from dpcsim.engine.scaling import bill
from dpcsim.engine.settings import ClusterSettings
from dpcsim.engine.sqa import SQAModel, dynamic_max_s, noise_key
from dpcsim.schema import STATEMENT_TYPES, Workload
from dpcsim.wlm import RoutingResult, WLMConfig

__all__ = ["prepare_inputs", "simulate", "simulate_arrays"]


def simulate(
    workload: Workload | pd.DataFrame,
    config: WLMConfig,
    settings: ClusterSettings | None = None,
    *,
    rng: np.random.Generator | int | None = None,
    routing: RoutingResult | None = None,
) -> SimResult:
    """Simulate ``workload`` under the WLM ``config`` on a cluster.

    Parameters
    ----------
    workload
        Canonical workload (:mod:`dpcsim.schema`) or its query frame. Each
        query's ``exec_s`` [s] is its service demand on the main cluster.
    config
        WLM configuration (manual queues, or auto WLM when ``config.is_auto``).
    settings
        Cluster settings; None = :class:`ClusterSettings` defaults.
    rng
        Seed or generator (only the ``noisy`` SQA predictor draws from it).
    routing
        Precomputed :func:`~dpcsim.wlm.route_workload` result for the rows of
        ``workload`` as given; None routes here.

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
    return simulate_arrays(arrays, config, settings, rng=rng)


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
) -> SimResult:
    """Replay prepared arrays (:func:`prepare_inputs` of the same ``config``).

    Same result as :func:`simulate` on the workload the arrays came from; the
    arrays are only read. The timeline is kept as a
    :class:`~dpcsim.engine.records.StateLog` and built into a frame on first
    access of :attr:`SimResult.timeline`. ``phase(name)``, when given, is
    entered around the event loop (``engine``) and the building of the
    records (``records``), for a caller's phase timings.
    """
    timed = phase if phase is not None else _untimed
    settings = settings or ClusterSettings()
    gen = np.random.default_rng(rng)
    tables = QueueTables.from_config(config, settings)
    sqa = None
    if config.sqa is not None and config.sqa.enabled:
        eligible = (
            np.asarray(SQA_ELIGIBLE)[arrays.stmt]
            & ~arrays.cache_hit
            & (arrays.queue < len(config.queues))
        )
        fixed_ms = config.sqa.max_execution_time
        max_s = (
            fixed_ms / 1000.0 if fixed_ms else dynamic_max_s(arrays.exec_s[eligible])
        )
        sqa = SQAModel(
            max_s=max_s,
            predictor=settings.sqa_predictor,
            exec_s=arrays.exec_s,
            fingerprint=arrays.fingerprint,
            noise_sigma=settings.sqa_noise_sigma,
            prior_s=settings.sqa_prior_s,
            noise_key=noise_key(gen) if settings.sqa_predictor == "noisy" else 0,
        )
    cls = AutoEngine if config.is_auto else Engine
    with timed("engine"):
        eng = cls(arrays, tables, settings, sqa)
        eng.run()
        eng.drop_inputs()
    with timed("records"):
        return _result(eng, arrays, tables, settings, sqa)


def _untimed(name: str) -> AbstractContextManager[None]:
    """No timing (the default ``phase``)."""
    return nullcontext()


def _result(
    eng: Engine | AutoEngine,
    arrays: QueryArrays,
    tables: QueueTables,
    settings: ClusterSettings,
    sqa: SQAModel | None,
) -> SimResult:
    """The run's records, scaling bill and summary."""
    # An error or a user cancel belongs to the statement, not to WLM: a query the
    # log shows aborted fails again when the replay lets it run to its logged end.
    eng.rec.fail_where_completed(arrays.logged_abort)
    queries = eng.rec.queries_frame(
        arrival_s=arrays.arrival_s,
        first_queue=arrays.queue,
        names=tables.names,
        extra={
            "query_id": arrays.query_id,
            "task_id": arrays.task_id,
            "statement_type": strings(STATEMENT_TYPES, arrays.stmt),
            "cache_hit": arrays.cache_hit,
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
    codes = eng.rec.codes(tables.names, arrays.cache_hit)
    summary = summarize(codes, scaling, money, None if sqa is None else sqa.max_s)
    return SimResult(
        queries=queries,
        timeline=eng.rec.state_log(tables.names),
        scaling=scaling,
        summary=summary,
        start_at=arrays.start_at,
    )
