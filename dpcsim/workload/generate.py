"""Assemble the synthetic DPC workload: ELT, maintenance and learners -> Workload.

:func:`generate_dpc_workload` draws every component from one generator in a
fixed order (same spec + seed -> identical frames), sorts the statements by
arrival, numbers them like Redshift does (ascending query ids) and returns a
canonical :class:`dpcsim.schema.Workload`. It does no I/O: writing the AWS
export files is :func:`dpcsim.logs.write_exports`' job.

A generated workload has no observed WLM figures (``queue_s``,
``service_class``, ``queue`` and ``ran_on_cs`` are missing), since they depend
on the WLM configuration. :func:`observe_wlm` fills them from a caller-supplied
function, for example a simulation under the design configuration, so that the
exported ``STL_WLM_QUERY`` looks like a real cluster's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
import pandas as pd

from dpcsim.logs.cs_eligibility import cs_eligibility
from dpcsim.schema import NO_WLM_EVIDENCE, Workload, validate_workload
from dpcsim.workload.adhoc import learner_queries
from dpcsim.workload.catalog import (
    LEARNER_FIRST_USER_ID,
    LEARNER_GROUP,
    ROLE_GROUPS,
    ROLE_USER_IDS,
)
from dpcsim.workload.elt import load_errors_frame, nightly_elt
from dpcsim.workload.faults import Faults
from dpcsim.workload.maintenance import maintenance
from dpcsim.workload.rows import Rows, offset
from dpcsim.workload.service import resources
from dpcsim.workload.spec import DPCWorkloadSpec

__all__ = ["FIRST_QUERY_ID", "Observer", "generate_dpc_workload", "observe_wlm"]

#: Query id of the first generated statement (Redshift ids grow monotonically).
FIRST_QUERY_ID: Final = 1_000_001

#: A function from a workload to observed WLM columns: a frame with ``query_id``
#: and any of ``queue_s`` [s], ``service_class``, ``queue``, ``ran_on_cs``.
Observer = Callable[[Workload], pd.DataFrame]

_OBSERVED: Final = (
    "queue_s",
    "exec_s",
    "service_class",
    "queue",
    "ran_on_cs",
    "sqa_queue_s",
    "sqa_exec_s",
)


def generate_dpc_workload(
    spec: DPCWorkloadSpec,
    rng: np.random.Generator | int | None = None,
    *,
    observe: Observer | None = None,
) -> Workload:
    """Generate the DPC platform's workload for ``spec``.

    Parameters
    ----------
    spec
        What to generate (horizon, learners, growth, faults).
    rng
        Seed or generator; the same spec and seed give identical frames.
    observe
        Optional function giving observed WLM columns (see :func:`observe_wlm`).

    Returns
    -------
    Workload
        ``queries`` (canonical, validated), ``elt_runs`` (Step Functions
        executions) and ``load_errors`` (``STL_LOAD_ERRORS`` of failed COPYs).

    Examples
    --------
    >>> w = generate_dpc_workload(DPCWorkloadSpec(days=1, learners=20), 1)
    >>> sorted(w.elt_runs["status"])
    ['SUCCEEDED']
    """
    gen = np.random.default_rng(rng)
    rows = Rows()
    elt = nightly_elt(spec, rows, gen)
    maintenance(spec, rows, gen)
    learner_queries(spec, rows, gen)
    frame = rows.frame()
    order = np.argsort(frame["t_s"].to_numpy(), kind="stable")
    ids_by_row = np.empty(len(frame), dtype=np.int64)
    ids_by_row[order] = FIRST_QUERY_ID + np.arange(len(frame), dtype=np.int64)
    queries = _canonical(frame, ids_by_row, spec, gen)
    workload = Workload(
        queries=queries,
        elt_runs=elt.runs_frame(spec.start_at),
        load_errors=load_errors_frame(elt, ids_by_row, spec.start_at),
    )
    spikes = tuple(p for p in spec.faults.load_spikes if p[0] < spec.days)
    if spikes:
        # A burst is copies of statements the night already has: the same
        # injection as on any log, after the night is built.
        from dpcsim.designs import DPC_ELT
        from dpcsim.workload.inject import inject_faults

        injected = inject_faults(workload, Faults(load_spikes=spikes), DPC_ELT, gen)
        workload = injected.workload
    return observe_wlm(workload, observe) if observe is not None else workload


def observe_wlm(workload: Workload, observe: Observer) -> Workload:
    """Fill the observed WLM columns from ``observe(workload)``.

    Parameters
    ----------
    workload
        A workload whose ``queue_s``, ``exec_s`` (an execution time measured
        under contention), ``service_class``, ``queue``, ``ran_on_cs`` and
        ``sqa_queue_s`` / ``sqa_exec_s`` (an evicted SQA attempt) are to be
        replaced.
    observe
        Returns a frame with ``query_id`` and any of those columns; queries it
        does not list keep their values.

    Returns
    -------
    Workload
        A new workload; the side tables are shared.
    """
    observed = observe(workload)
    if "query_id" not in observed.columns:
        raise ValueError("observer frame lacks column 'query_id'")
    queries = workload.queries.copy()
    pos = pd.Index(observed["query_id"]).get_indexer(queries["query_id"])
    hit = pos >= 0
    for col in _OBSERVED:
        if col in observed.columns:
            values = observed[col].to_numpy()[pos[hit]]
            column = queries[col].copy()
            column.iloc[np.flatnonzero(hit)] = values
            queries[col] = column
    return Workload(
        queries=validate_workload(queries),
        elt_runs=workload.elt_runs,
        load_errors=workload.load_errors,
    )


def _canonical(
    frame: pd.DataFrame,
    ids: np.ndarray,
    spec: DPCWorkloadSpec,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Turn the accumulator frame into the canonical query frame."""
    users = frame["user_name"].astype(str)
    is_role = users.isin(list(ROLE_GROUPS)).to_numpy()
    learner_ids = (
        pd.to_numeric(users.str.slice(8), errors="coerce").fillna(1).astype(np.int64)
    )
    user_id = np.where(
        is_role,
        users.map(ROLE_USER_IDS).fillna(0).astype(np.int64),
        LEARNER_FIRST_USER_ID + learner_ids - 1,
    )
    groups = np.where(is_role, users.map(ROLE_GROUPS).fillna(""), LEARNER_GROUP)
    exec_s = frame["exec_s"].to_numpy()
    mem, scanned, spilled = resources(
        exec_s, rng, mem_scale_mb=frame["mem_scale_mb"].to_numpy()
    )
    cached = frame["cache_hit"].to_numpy()
    arrival = spec.start_at + offset(frame["t_s"])
    out = pd.DataFrame(
        {
            "query_id": ids,
            "task_id": ids,
            "arrival_at": arrival,
            "user_id": user_id,
            "user_name": users,
            "user_groups": groups,
            "query_group": frame["query_group"],
            # Session ids from 1; <NA> for statements outside any session.
            "session_id": (frame["session"] + 1)
            .astype("Int64")
            .where(frame["session"] >= 0),
            "statement_type": frame["statement_type"],
            "exec_s": exec_s,
            "slot_count": frame["slot_count"],
            "aborted": frame["aborted"],
            # Generated aborts are learners' own cancels, failed dbt models and
            # COPYs with load errors: none is the cluster's doing.
            "stop_cause": pd.Series(
                NO_WLM_EVIDENCE, index=frame.index, dtype="string"
            ).where(frame["aborted"].to_numpy(dtype=bool)),
            "cache_hit": cached,
            "fingerprint": frame["fingerprint"],
            "query_text": frame["query_text"],
            "cs_eligible": frame["cs_eligible"].to_numpy(dtype=bool)
            & cs_eligibility(frame)[0],
            "mem_mb": np.where(cached, 1.0, mem),
            "scanned_mb": np.where(cached, 0.0, scanned),
            "spilled_mb": np.where(cached, 0.0, spilled),
            "source_file": "generated",
        }
    )
    out = validate_workload(out)
    out["source_row"] = np.arange(1, len(out) + 1, dtype=np.int64)
    return out
