"""dbt run of the nightly ELT: the DAG scheduled on dbt threads, model chains.

``dbt run`` (``IAMR:dpc-dbt``, query group ``elt``) builds
:data:`~dpcsim.workload.catalog.DBT_MODELS` with ``threads`` workers. A
``table`` model is drop + CTAS + grant; a ``microbatch`` model is one delete +
insert pair per hourly batch, with dbt's per-batch overhead between batches;
each model ends with an audit insert into ``admin.dbt_model_runs``.

A statement's arrival is its predecessor's arrival plus the predecessor's
*no-contention* execution time plus a client gap, and a model starts only after
its parents' no-contention end. The engine replays these arrival times as
given, so if WLM queueing delays a parent in a simulation the child still
arrives on schedule: dependency order holds against this estimate, not against
simulated finishes.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from dpcsim.workload import elt_sql as sql
from dpcsim.workload.arrivals import JST_HOURLY_PROFILE
from dpcsim.workload.catalog import DBT_MODELS, DBT_USER, ELT_QUERY_GROUP, DbtModel
from dpcsim.workload.rows import Rows
from dpcsim.workload.service import lognormal
from dpcsim.workload.spec import DPCWorkloadSpec

__all__ = ["BATCH_OVERHEAD_S", "CLIENT_GAP_S", "dbt_run", "model_chain"]

#: Client gap between a chain's consecutive statements (driver round trip) [s].
CLIENT_GAP_S: Final = 0.05
#: dbt's per-microbatch overhead (compile, catalog introspection, a new
#: transaction; catalog queries are slow on Redshift) [s].
BATCH_OVERHEAD_S: Final = 20.0
#: Share of a microbatch's time that does not depend on its hour's volume.
FIXED_SHARE: Final = 0.9
#: Batch median above which a model counts as heavy (narrow spread) [s].
_HEAVY_S: Final = 10.0


def dbt_run(
    spec: DPCWorkloadSpec,
    start: float,
    date: str,
    rows: Rows,
    rng: np.random.Generator,
    *,
    fail_model: str | None = None,
    abort_index: int | None = None,
) -> tuple[float, bool]:
    """List-schedule the DAG on ``dbt_threads``; return (end [s], aborted?).

    ``fail_model`` fails that model (its downstream models are skipped, the run
    goes on); ``abort_index`` fails the model at that catalogue index and stops
    the whole run there (a failed Step Functions execution).

    Greedy earliest start: repeatedly run the model that can start soonest
    (all parents finished and a thread free), ties in catalogue order, which is
    how dbt's graph queue hands ready nodes to free threads.
    """
    threads = np.full(spec.dbt_threads, start)
    # Each dbt thread is one database session for the whole run.
    first_session = rows.new_sessions(spec.dbt_threads)
    finish: dict[str, float] = {}
    skipped: set[str] = set()
    pending = list(range(len(DBT_MODELS)))
    end = start
    while pending:
        slot = int(np.argmin(threads))
        best = None
        for idx in pending:
            model = DBT_MODELS[idx]
            if any(p in skipped for p in model.parents):
                best = (-1.0, idx)
                break
            if all(p in finish for p in model.parents):
                t0 = max(
                    [finish[p] + CLIENT_GAP_S for p in model.parents]
                    + [float(threads[slot])]
                )
                if best is None or t0 < best[0]:
                    best = (t0, idx)
        if best is None:
            raise RuntimeError("dbt DAG has a cycle or an unknown parent")
        t0, idx = best
        pending.remove(idx)
        model = DBT_MODELS[idx]
        if t0 < 0:
            skipped.add(model.name)
            continue
        fail = model.name == fail_model or idx == abort_index
        t_end = model_chain(
            spec, model, t0, date, rows, rng, fail=fail, session=first_session + slot
        )
        threads[slot] = t_end
        end = max(end, t_end)
        if idx == abort_index:
            return t_end, True
        if fail:
            skipped.add(model.name)
        else:
            finish[model.name] = t_end
    return end, False


def model_chain(
    spec: DPCWorkloadSpec,
    model: DbtModel,
    t0: float,
    date: str,
    rows: Rows,
    rng: np.random.Generator,
    *,
    fail: bool,
    session: int = -1,
) -> float:
    """Add one model's statement chain from ``t0``; return its no-contention end [s].

    ``session`` is the dbt thread's session id.
    """
    if model.materialized == "table":
        types, exec_s, texts, fps, gaps = _table_chain(model, spec.data_growth, rng)
    else:
        n = spec.lookback_batches
        types, exec_s, texts, fps, gaps = _microbatch_chain(
            model, spec.data_growth, date, n, rng
        )
    if fail:
        # The model's main statement (the CTAS, or the first insert) is aborted
        # part-way; nothing after it is issued.
        exec_s = exec_s[:2].copy()
        exec_s[1] *= rng.uniform(0.1, 0.5)
        types, texts, fps, gaps = types[:2], texts[:2], fps[:2], gaps[:2]
    t = t0 + np.concatenate([[0.0], np.cumsum(exec_s[:-1] + gaps[1:])])
    aborted = np.zeros(t.size, dtype=bool)
    aborted[-1] = fail
    # dbt-redshift's incremental strategies (microbatch, delete+insert) stage
    # each batch in a temporary table ("<model>__dbt_tmp") that the delete and
    # the insert read: such statements stay on the main cluster (no Concurrency
    # Scaling on temporary tables). The generated SQL leaves the staging out.
    rows.add(t_s=t, exec_s=exec_s, statement_type=types, user_name=DBT_USER,
             query_text=texts, fingerprint=fps, query_group=ELT_QUERY_GROUP,
             aborted=aborted, mem_scale_mb=400.0, session=session,
             cs_eligible=model.materialized == "table")  # fmt: skip
    end = float(t[-1] + exec_s[-1])
    if fail:
        return end
    audit = lognormal(0.012, 0.4, 1, rng)[0]
    t_audit = end + CLIENT_GAP_S
    rows.add(t_s=t_audit, exec_s=audit, statement_type="insert", user_name=DBT_USER,
             query_text=sql.audit_insert(model, date),
             fingerprint=sql.FINGERPRINT_AUDIT, query_group=ELT_QUERY_GROUP,
             mem_scale_mb=20.0, session=session)  # fmt: skip
    return float(t_audit + audit)


def _hourly_volume(n: int) -> np.ndarray:
    """Relative data volume of the ``n`` hourly batches before midnight (mean 1).

    An hour's events follow the learners' JST activity, so an evening batch
    holds several times a night batch's rows; a batch's time also has a fixed
    part (:data:`FIXED_SHARE`: scans of the joined dimensions, commit).
    """
    hour = (np.arange(n) - n) % 24
    volume = JST_HOURLY_PROFILE[hour] / JST_HOURLY_PROFILE[hour].mean()
    return np.asarray(FIXED_SHARE + (1.0 - FIXED_SHARE) * volume)


_Chain = tuple[list[str], np.ndarray, list[str], list[str], np.ndarray]


def _table_chain(model: DbtModel, growth: float, rng: np.random.Generator) -> _Chain:
    """Drop + CTAS + grant: types, exec times [s], texts, fingerprints, gaps [s]."""
    exec_s = np.array(
        [
            lognormal(0.01, 0.5, 1, rng)[0],
            lognormal(model.median_s * growth, 0.3, 1, rng)[0],
            lognormal(0.01, 0.5, 1, rng)[0],
        ]
    )
    texts, fps = sql.table_model(model)
    gaps = rng.lognormal(np.log(CLIENT_GAP_S), 0.5, 3)
    return ["ddl", "ctas", "ddl"], exec_s, texts, fps, gaps


def _microbatch_chain(
    model: DbtModel, growth: float, date: str, n: int, rng: np.random.Generator
) -> _Chain:
    """``n`` hourly delete + insert pairs, dbt's batch overhead between pairs."""
    sigma = 0.1 if model.median_s >= _HEAVY_S else 0.7
    ins = lognormal(model.median_s * growth * _hourly_volume(n), sigma, n, rng)
    dele = lognormal(0.04 * max(1.0, model.median_s) ** 0.5 * growth, 0.6, n, rng)
    exec_s = np.column_stack([dele, ins]).ravel()
    texts, fps = sql.microbatch_model(model, date, n)
    gaps = rng.lognormal(np.log(CLIENT_GAP_S), 0.5, 2 * n)
    gaps[2::2] += rng.lognormal(np.log(BATCH_OVERHEAD_S), 0.4, n - 1)
    return ["delete", "insert"] * n, exec_s, texts, fps, gaps
