"""The nightly ELT: Step Functions, COPY bursts, the dbt DAG, ANALYZE, DQ checks.

One Step Functions execution per night (02:00 JST by default, with jitter):

1. a Map state loads every ``stage.*`` table in parallel: ``delete`` of the
   night's partition, then one COPY per S3 prefix, back to back;
2. in parallel with dbt, an archive branch UNLOADs old fact partitions to S3
   (Spectrum);
3. ``dbt run`` (``IAMR:dpc-dbt``) builds the DAG of :data:`~dpcsim.workload.
   catalog.DBT_MODELS` with ``threads`` workers: a ``table`` model is drop +
   CTAS + grant, a ``microbatch`` model is one delete + insert pair per hourly
   batch; each model ends with an audit insert;
4. ``analyze stage.<table>`` for every stage table;
5. the DQ Lambda's checks (``select`` + result ``insert``) in ``admin``.

Limitation: the engine replays arrival times, so each statement's arrival is
scheduled from this module's own *no-contention* estimate (its predecessor's
arrival plus its execution time plus a client gap). If WLM queueing delays a
parent in a simulation, the child still arrives on schedule; dependency order
holds against the generator's estimate, not against simulated finishes.

Faults (:mod:`dpcsim.workload.faults`) are applied here, except the stuck query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

from dpcsim.schema import ELT_RUN_DTYPES, LOAD_ERROR_DTYPES
from dpcsim.workload import elt_sql as sql
from dpcsim.workload.catalog import (
    DBT_MODELS,
    DQ_CHECKS,
    DQ_USER,
    ELT_QUERY_GROUP,
    SFN_USER,
    STAGE_TABLES,
)
from dpcsim.workload.dbt import CLIENT_GAP_S, dbt_run
from dpcsim.workload.rows import Rows, offset
from dpcsim.workload.service import MIXTURES, lognormal
from dpcsim.workload.spec import DPCWorkloadSpec

__all__ = ["EltOutput", "nightly_elt"]

#: Archive UNLOADs per night (old fact partitions moved to Spectrum).
UNLOADS_PER_NIGHT: Final = 20
#: Step Functions Map state MaxConcurrency over the night's COPY files.
MAP_CONCURRENCY: Final = 40
#: Load errors per failed COPY (rows written to STL_LOAD_ERRORS).
LOAD_ERROR_ROWS: Final = 3


@dataclass(slots=True)
class EltOutput:
    """What the ELT generator produced (rows live in the shared :class:`Rows`).

    Attributes
    ----------
    runs
        Step Functions executions (:data:`dpcsim.schema.ELT_RUN_DTYPES`).
    load_errors
        ``STL_LOAD_ERRORS`` rows with a ``row`` column pointing into the rows
        accumulator instead of ``query_id`` (assigned later).
    """

    runs: list[dict[str, object]] = field(default_factory=list)
    load_errors: list[dict[str, object]] = field(default_factory=list)

    def runs_frame(self, start_at: pd.Timestamp) -> pd.DataFrame:
        """Step Functions executions as an :data:`ELT_RUN_DTYPES` frame."""
        frame = pd.DataFrame(
            self.runs, columns=["run_id", "status", "start_s", "stop_s"]
        )
        out = pd.DataFrame(
            {
                "run_id": frame["run_id"].astype("string"),
                "status": frame["status"].astype("string"),
                "start_at": start_at + offset(frame["start_s"]),
                "stop_at": start_at + offset(frame["stop_s"]),
                "source_file": pd.Series(["generated"] * len(frame), dtype="string"),
            }
        )
        return out.astype(ELT_RUN_DTYPES)


@dataclass(slots=True)
class _Run:
    """Fault switches for one execution."""

    day: int
    copy_error: bool = False
    dbt_failure: str | None = None
    fail_at_model: int | None = None


def nightly_elt(
    spec: DPCWorkloadSpec, rows: Rows, rng: np.random.Generator
) -> EltOutput:
    """Add every night's ELT statements to ``rows``.

    Parameters
    ----------
    spec
        The workload spec (days, ELT timing, data growth, faults).
    rows
        Accumulator the statements are appended to.
    rng
        Random generator.

    Returns
    -------
    EltOutput
        Step Functions executions, load errors and model spans.
    """
    out = EltOutput()
    faults = spec.faults
    late = dict(faults.late_starts)
    failed = dict(faults.failed_runs)
    dbt_fail = dict(faults.dbt_failures)
    for day in range(spec.days):
        start = day * 86_400.0 + spec.elt_start_min * 60.0
        start += abs(rng.normal(0.0, spec.elt_jitter_s)) + late.get(day, 0.0) * 60.0
        run = _Run(
            day=day,
            copy_error=day in faults.copy_errors,
            dbt_failure=dbt_fail.get(day),
        )
        run_id = f"dpc-nightly-elt-{_date(spec, day)}"
        if day in failed:
            run.fail_at_model = int(rng.integers(len(DBT_MODELS) // 2, len(DBT_MODELS)))
            stop = _execution(spec, run, start, rows, out, rng)
            out.runs.append(
                {"run_id": run_id, "status": "FAILED", "start_s": start, "stop_s": stop}
            )
            start = stop + failed[day] * 60.0
            run = _Run(day=day, dbt_failure=run.dbt_failure)
            run_id = f"{run_id}-rerun"
        stop = _execution(spec, run, start, rows, out, rng)
        out.runs.append(
            {"run_id": run_id, "status": "SUCCEEDED", "start_s": start, "stop_s": stop}
        )
    return out


def load_errors_frame(
    out: EltOutput, query_ids: np.ndarray, start_at: pd.Timestamp
) -> pd.DataFrame:
    """STL_LOAD_ERRORS rows with query ids resolved through ``query_ids[row]``."""
    frame = pd.DataFrame(
        out.load_errors,
        columns=[
            "row",
            "t_s",
            "filename",
            "line_number",
            "colname",
            "err_code",
            "err_reason",
        ],
    )
    result = pd.DataFrame(
        {
            "query_id": query_ids[frame["row"].to_numpy(dtype=np.int64)],
            "error_at": start_at + offset(frame["t_s"]),
            "filename": frame["filename"],
            "line_number": frame["line_number"],
            "colname": frame["colname"],
            "err_code": frame["err_code"],
            "err_reason": frame["err_reason"],
            "source_file": "generated",
        }
    )
    return result.astype(LOAD_ERROR_DTYPES)


def _execution(
    spec: DPCWorkloadSpec,
    run: _Run,
    start: float,
    rows: Rows,
    out: EltOutput,
    rng: np.random.Generator,
) -> float:
    """One Step Functions execution; return its stop time [s]."""
    date = _date(spec, run.day)
    copy_end = _copy_burst(spec, run, start, date, rows, out, rng)
    _archive(spec, copy_end, date, rows, rng)
    dbt_end, failed = dbt_run(
        spec,
        copy_end + 2.0,
        date,
        rows,
        rng,
        fail_model=run.dbt_failure,
        abort_index=run.fail_at_model,
    )
    if failed:
        return dbt_end + 1.0
    t = dbt_end + 1.0
    # The closing ANALYZEs run one after another in one session.
    analyze_session = rows.new_sessions()
    for table in STAGE_TABLES:
        e = float(MIXTURES["analyze"].sample(1, rng)[0]) * spec.data_growth
        rows.add(
            t_s=t,
            exec_s=e,
            statement_type="analyze",
            user_name=SFN_USER,
            query_text=f"analyze stage.{table.name}",
            fingerprint=f"analyze stage.{table.name}",
            query_group=ELT_QUERY_GROUP,
            mem_scale_mb=300.0,
            session=analyze_session,
        )
        t += e + CLIENT_GAP_S
    return _dq_checks(date, t + 5.0, rows, rng) + 2.0


def _copy_burst(
    spec: DPCWorkloadSpec,
    run: _Run,
    start: float,
    date: str,
    rows: Rows,
    out: EltOutput,
    rng: np.random.Generator,
) -> float:
    """Deletes of the night's partitions, then every COPY through a Map state.

    The Map state iterates over all files with ``MaxConcurrency`` =
    :data:`MAP_CONCURRENCY`: the first COPYs arrive together (a burst), each
    later one when an earlier one ends. Return when the last COPY ends [s].
    """
    n_tables = len(STAGE_TABLES)
    dele = lognormal(0.05, 0.5, n_tables, rng)
    t_del = start + rng.uniform(0.0, 2.0, n_tables)
    rows.add(
        t_s=t_del,
        exec_s=dele,
        statement_type="delete",
        user_name=SFN_USER,
        query_text=[sql.delete_stage(t.name, date) for t in STAGE_TABLES],
        fingerprint=[sql.fingerprint_delete_stage(t.name) for t in STAGE_TABLES],
        query_group=ELT_QUERY_GROUP,
        mem_scale_mb=50.0,
    )
    items = [(i, k) for i, table in enumerate(STAGE_TABLES) for k in range(table.files)]
    median = np.array([STAGE_TABLES[i].copy_median_s for i, _ in items])
    exec_s = lognormal(median * spec.data_growth, 0.6, len(items), rng)
    aborted = np.zeros(len(items), dtype=bool)
    bad = int(rng.integers(len(items))) if run.copy_error else -1
    if bad >= 0:
        aborted[bad] = True
        exec_s[bad] *= rng.uniform(0.05, 0.3)
    t, worker = _map_schedule(float(np.max(t_del + dele)) + 0.5, exec_s, rng)
    # Each Map worker issues its COPYs one after another: one session each.
    sessions = rows.new_sessions(MAP_CONCURRENCY) + worker
    block = rows.add(
        t_s=t,
        exec_s=exec_s,
        statement_type="copy",
        user_name=SFN_USER,
        query_text=[sql.copy(STAGE_TABLES[i], date, k) for i, k in items],
        fingerprint=[sql.fingerprint_copy(STAGE_TABLES[i]) for i, _ in items],
        query_group=ELT_QUERY_GROUP,
        aborted=aborted,
        mem_scale_mb=250.0,
        session=sessions,
    )
    if bad >= 0:
        i, k = items[bad]
        out.load_errors += sql.load_errors(
            STAGE_TABLES[i],
            date,
            k,
            int(block[bad]),
            float(t[bad]),
            LOAD_ERROR_ROWS,
            rng,
        )
    return float(np.max(t + exec_s))


def _map_schedule(
    start: float, exec_s: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Arrivals [s] and worker of Map iterations (:data:`MAP_CONCURRENCY` workers)."""
    workers = np.full(MAP_CONCURRENCY, start)
    t = np.empty(exec_s.size)
    worker = np.empty(exec_s.size, np.int64)
    for j in range(exec_s.size):
        w = int(np.argmin(workers))
        t[j] = workers[w] + rng.uniform(0.05, 0.5)
        workers[w] = t[j] + exec_s[j]
        worker[j] = w
    return t, worker


def _archive(
    spec: DPCWorkloadSpec, start: float, date: str, rows: Rows, rng: np.random.Generator
) -> None:
    """Sequential archive UNLOADs of old fact partitions (parallel branch)."""
    n = UNLOADS_PER_NIGHT
    exec_s = MIXTURES["unload"].sample(n, rng) * spec.data_growth
    t = start + 1.0 + np.concatenate([[0.0], np.cumsum(exec_s[:-1] + 0.5)])
    texts = [sql.unload(date, k) for k in range(n)]
    rows.add(
        t_s=t,
        exec_s=exec_s,
        statement_type="unload",
        user_name=SFN_USER,
        query_text=texts,
        fingerprint=sql.FINGERPRINT_UNLOAD,
        query_group=ELT_QUERY_GROUP,
        mem_scale_mb=200.0,
        session=rows.new_sessions(),  # the archive branch: sequential UNLOADs
    )


def _dq_checks(date: str, start: float, rows: Rows, rng: np.random.Generator) -> float:
    """The DQ Lambda's checks, one after another; return their end [s]."""
    n = len(DQ_CHECKS)
    sel = MIXTURES["dq_select"].sample(n, rng)
    ins = MIXTURES["small_insert"].sample(n, rng)
    exec_s = np.column_stack([sel, ins]).ravel()
    gaps = rng.lognormal(np.log(0.2), 0.5, 2 * n)
    t = start + np.concatenate([[0.0], np.cumsum(exec_s[:-1] + gaps[1:])])
    texts, fps = sql.dq_statements(date)
    rows.add(
        t_s=t,
        exec_s=exec_s,
        statement_type=["select", "insert"] * n,
        user_name=DQ_USER,
        query_text=texts,
        fingerprint=fps,
        query_group="dq",
        mem_scale_mb=150.0,
        session=rows.new_sessions(),  # the DQ Lambda's one connection
    )
    return float(t[-1] + exec_s[-1])


def _date(spec: DPCWorkloadSpec, day: int) -> str:
    """ISO date (JST) of day ``day`` of the horizon."""
    return str((pd.Timestamp(spec.start_date) + pd.Timedelta(days=day)).date())
