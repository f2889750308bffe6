"""Faults injected into any workload: a user's own log or a generated week.

:func:`inject_faults` applies a :class:`~dpcsim.workload.faults.Faults` to a
canonical :class:`~dpcsim.schema.Workload` through the design's
:class:`~dpcsim.designs.ELTContract`, so the alarm tuning and a sweep's
``faults`` scenario work on whatever log the user brings. (The generator
builds the same faults into the statements it makes; this module changes
statements that already exist.)

Days are 0-based local calendar days of the contract's time zone, counted from
the workload's first local day. Night ``d`` is the ELT whose statements
(:func:`~dpcsim.workload.whatif.elt_mask`) arrive from ``window_start`` on
day ``d`` for one ``cadence``; its Step Functions executions are those starting
in the same span.

- ``copy_errors``: one of the night's COPYs (drawn with ``rng``) is aborted
  after 5-30 % of its time and leaves :data:`LOAD_ERROR_ROWS` STL_LOAD_ERRORS
  rows; the execution still succeeds (a Map state tolerating the file).
- ``dbt_failures``: the night's first write (insert, delete, update, CTAS,
  DDL, COPY) whose SQL names the model is aborted the same way; the later
  statements of the night that name it (the model's other batches, the models
  reading it) are skipped; the execution still succeeds.
- ``late_starts``: the night's statements, executions and load errors move
  N minutes later.
- ``failed_runs``: a statement drawn from the second half of the night fails,
  the statements after it are not issued and the execution ends FAILED when
  it does; a re-run of the whole night (new query ids, execution
  ``<run_id>-rerun``, SUCCEEDED) starts N minutes after the failure. It runs
  the night as logged: a COPY that failed that night fails again, with its
  load errors.
- ``stuck_queries``: a copy of one of the day's non-ELT SELECTs (drawn with
  ``rng`` among those arriving outside the ELT window, when the users are on;
  any of the day's when there is none) runs N hours, arriving when it did.
- ``load_spikes``: the night's ELT statements arrive ``factor`` times (copies
  with new ids, the last layer thinned to the fractional rest), a burst on
  the queue the ELT runs in.

Each fault's start (the time the alarm meant to catch it could first know) is
returned in :attr:`Injected.incidents`: the night's first statement for a late
start and a load spike, the aborted statement's arrival for a COPY error and a
dbt failure, the failed execution's end for a failed run, the stuck query's
arrival.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim.designs import ELTContract
from dpcsim.errors import InputError
from dpcsim.schema import (
    ELT_RUN_DTYPES,
    LOAD_ERROR_DTYPES,
    Workload,
    validate_workload,
)
from dpcsim.workload.faults import Faults
from dpcsim.workload.whatif import elt_mask, new_sessions, next_session

__all__ = ["INCIDENT_COLUMNS", "LOAD_ERROR_ROWS", "Injected", "inject_faults"]

#: STL_LOAD_ERRORS rows an injected COPY error leaves (one per rejected line).
LOAD_ERROR_ROWS: Final = 3
#: Columns of :attr:`Injected.incidents`.
INCIDENT_COLUMNS: Final = ("kind", "day", "start_at", "detail")
#: The error AWS logs for a non-numeric value in an integer column.
_LOAD_ERROR: Final = (1207, "Invalid digit, Value 'N', Pos 0, Type: Integer")
#: Share of its logged time an aborted statement ran before it stopped.
_ABORT_SHARE: Final = (0.05, 0.3)
#: Statement types a dbt model's build is made of (a failing one names it).
_WRITES: Final = ("insert", "delete", "update", "ctas", "ddl", "copy")
_S3: Final = re.compile(r"from\s+'(s3://[^']+)'", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Injected:
    """A workload with faults, and where each fault starts.

    Attributes
    ----------
    workload
        The workload with the faults applied.
    incidents
        One row per fault: ``kind`` (a ``--fault`` kind), ``day``,
        ``start_at`` (UTC) and ``detail`` (the statement or run it hit).
    """

    workload: Workload
    incidents: pd.DataFrame


def inject_faults(
    workload: Workload,
    faults: Faults,
    contract: ELTContract,
    rng: np.random.Generator | int | None = None,
) -> Injected:
    """Apply ``faults`` to ``workload`` (see the module docstring).

    Parameters
    ----------
    workload
        Input workload; left untouched.
    faults
        What to inject.
    contract
        Which statements are the ELT, its window and time zone.
    rng
        Seed or generator (which COPY, statement or SELECT a fault hits).

    Raises
    ------
    InputError
        Naming the fault (``faults.<kind>``) when its day is outside the
        workload or has nothing it could hit (no ELT that night, no COPY, no
        statement naming the model, no SELECT that day).
    """
    gen = np.random.default_rng(rng)
    state = _State(workload, contract)
    for day, minutes in faults.late_starts:
        state.late_start(day, minutes)
    for day in faults.copy_errors:
        state.copy_error(day, gen)
    for day, model in faults.dbt_failures:
        state.dbt_failure(day, model, gen)
    for day, after_min in faults.failed_runs:
        state.failed_run(day, after_min, gen)
    for day, hours in faults.stuck_queries:
        state.stuck_query(day, hours, gen)
    for day, factor in faults.load_spikes:
        state.load_spike(day, factor, gen)
    return state.result()


class _State:
    """The workload being changed, one fault at a time."""

    def __init__(self, workload: Workload, contract: ELTContract):
        self.contract = contract
        self.queries = workload.queries.copy()
        self.runs = workload.elt_runs.copy()
        self.errors = workload.load_errors.copy()
        self.incidents: list[dict[str, object]] = []
        q = self.queries
        self.zone = contract.timezone
        self.first = (
            q["arrival_at"].min().tz_convert(self.zone).floor("D")
            if len(q)
            else pd.Timestamp("1970-01-01", tz=self.zone)
        )
        self.days = (
            int((q["arrival_at"].max().tz_convert(self.zone) - self.first).days) + 1
            if len(q)
            else 0
        )
        self.next_id = int(q["query_id"].max()) + 1 if len(q) else 1
        self.next_session = next_session(q)

    # -- the night a fault hits ------------------------------------------------

    def _night(self, day: int, kind: str) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Start and end (UTC) of night ``day``'s span."""
        if not 0 <= day < self.days:
            raise InputError(
                f"day {day}: the workload has days 0-{self.days - 1} "
                f"({self.zone} calendar days from {self.first.date()})",
                location=f"faults.{kind}",
            )
        opens = pd.Timedelta(minutes=_minutes(self.contract.window_start))
        start = (self.first + pd.Timedelta(days=day)).tz_localize(None)
        start = (start + opens).tz_localize(self.zone)
        end = start + pd.Timedelta(minutes=self.contract.cadence_min)
        return start.tz_convert("UTC"), end.tz_convert("UTC")

    def _night_rows(self, day: int, kind: str) -> np.ndarray:
        """Positions of night ``day``'s ELT statements, in arrival order."""
        start, end = self._night(day, kind)
        q = self.queries
        at = q["arrival_at"]
        mask = elt_mask(q, self.contract) & ((at >= start) & (at < end)).to_numpy()
        rows = np.flatnonzero(mask)
        if not rows.size:
            raise InputError(
                f"day {day}: no ELT statement arrives in the night from "
                f"{start.tz_convert(self.zone)} (query group "
                f"{self.contract.query_group!r}, users {list(self.contract.users)}); "
                "expected a night the ELT ran",
                location=f"faults.{kind}",
            )
        order = np.argsort(at.to_numpy()[rows], kind="stable")
        return rows[order]

    def _night_runs(self, day: int, kind: str) -> np.ndarray:
        start, end = self._night(day, kind)
        at = self.runs["start_at"]
        return np.flatnonzero(((at >= start) & (at < end)).to_numpy(dtype=bool))

    def _note(self, kind: str, day: int, at: pd.Timestamp, detail: str) -> None:
        self.incidents.append(
            {
                "kind": kind,
                "day": day,
                "start_at": at.tz_convert("UTC"),
                "detail": detail,
            }
        )

    def _abort(self, pos: int, gen: np.random.Generator) -> float:
        """Abort statement ``pos`` part-way; return its new execution time [s]."""
        q = self.queries
        exec_s = float(q["exec_s"].to_numpy()[pos]) * gen.uniform(*_ABORT_SHARE)
        _set(q, "exec_s", [pos], [exec_s])
        _set(q, "aborted", [pos], [True])
        _set(q, "stop_cause", [pos], ["user_or_error"])
        return exec_s

    def _ids(self, n: int) -> np.ndarray:
        ids = np.arange(self.next_id, self.next_id + n, dtype=np.int64)
        self.next_id += n
        return ids

    def _copies(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``rows`` as new statements: new query ids, new sessions."""
        out, self.next_session = new_sessions(rows, self.next_session)
        ids = self._ids(len(out))
        out["query_id"] = ids
        out["task_id"] = ids
        return out

    # -- the faults --------------------------------------------------------------

    def late_start(self, day: int, minutes: float) -> None:
        rows = self._night_rows(day, "late_starts")
        runs = self._night_runs(day, "late_starts")
        q = self.queries
        first = q["arrival_at"].iloc[rows[0]]
        delta = _us(minutes * 60.0)
        _set(q, "arrival_at", rows, q["arrival_at"].iloc[rows] + delta)
        for col in ("start_at", "stop_at"):
            _set(self.runs, col, runs, self.runs[col].iloc[runs] + delta)
        ids = q["query_id"].to_numpy()[rows]
        hit = np.flatnonzero(self.errors["query_id"].isin(ids).to_numpy())
        _set(self.errors, "error_at", hit, self.errors["error_at"].iloc[hit] + delta)
        self._note(
            "late_start", day, first, f"{len(rows)} statements {minutes:g} min late"
        )

    def copy_error(self, day: int, gen: np.random.Generator) -> None:
        rows = self._night_rows(day, "copy_errors")
        q = self.queries
        copies = rows[(q["statement_type"].to_numpy()[rows] == "copy")]
        copies = copies[~q["aborted"].to_numpy()[copies]]
        if not copies.size:
            raise InputError(
                f"day {day}: the night's ELT has no completed COPY; "
                "expected one to fail",
                location="faults.copy_errors",
            )
        pos = int(copies[gen.integers(copies.size)])
        self._abort(pos, gen)
        at = q["arrival_at"].iloc[pos]
        text = q["query_text"].iloc[pos]
        found = _S3.search(text) if isinstance(text, str) else None
        lines = np.sort(
            gen.choice(np.arange(2, 50_000), LOAD_ERROR_ROWS, replace=False)
        )
        code, reason = _LOAD_ERROR
        rows_ = pd.DataFrame(
            {
                "query_id": int(q["query_id"].iloc[pos]),
                "error_at": at,
                "filename": found.group(1) if found else "<unknown>",
                "line_number": lines,
                "colname": "<unknown>",
                "err_code": code,
                "err_reason": reason,
                "source_file": "injected",
            }
        ).astype(LOAD_ERROR_DTYPES)
        self.errors = _append(self.errors, rows_)
        self._note("copy_error", day, at, f"query {int(q['query_id'].iloc[pos])}")

    def dbt_failure(self, day: int, model: str, gen: np.random.Generator) -> None:
        rows = self._night_rows(day, "dbt_failures")
        q = self.queries
        text = q["query_text"].iloc[rows].fillna("").str.lower()
        pattern = rf"\b{re.escape(model.lower())}\b"
        names = rows[text.str.contains(pattern, regex=True).to_numpy(dtype=bool)]
        writes = names[np.isin(q["statement_type"].to_numpy()[names], _WRITES)]
        if not writes.size:
            raise InputError(
                f"day {day}: no statement of the night's ELT writes {model!r}; "
                f"expected a model its SQL writes ({', '.join(_WRITES)})",
                location="faults.dbt_failures",
            )
        pos = int(writes[0])
        arrival = q["arrival_at"].to_numpy()
        names = names[(names != pos) & (arrival[names] > arrival[pos])]
        self._abort(pos, gen)
        self._drop(names)
        self._note("dbt_failure", day, q["arrival_at"].iloc[pos], model)

    def failed_run(self, day: int, after_min: float, gen: np.random.Generator) -> None:
        rows = self._night_rows(day, "failed_runs")
        runs = self._night_runs(day, "failed_runs")
        q = self.queries
        original = q.iloc[rows].copy()
        k = int(gen.integers(rows.size // 2, rows.size))
        pos = int(rows[k])
        exec_s = self._abort(pos, gen)
        fail_at = q["arrival_at"].iloc[pos] + _us(exec_s)
        self._drop(rows[k + 1 :])
        rerun_at = fail_at + _us(after_min * 60.0)
        shift = rerun_at - original["arrival_at"].iloc[0]
        old_ids = original["query_id"].to_numpy()
        rerun = self._copies(original.assign(arrival_at=original["arrival_at"] + shift))
        ids = rerun["query_id"].to_numpy()
        self.queries = pd.concat([self.queries, rerun], ignore_index=True)
        errors = self.errors.loc[self.errors["query_id"].isin(old_ids)].copy()
        if len(errors):
            errors["query_id"] = errors["query_id"].map(
                dict(zip(old_ids, ids, strict=True))
            )
            errors["error_at"] = errors["error_at"] + shift
            self.errors = _append(self.errors, errors)
        if runs.size:
            first_run = [int(runs[0])]
            run = self.runs.iloc[first_run].copy()
            _set(self.runs, "status", first_run, ["FAILED"])
            _set(self.runs, "stop_at", first_run, [fail_at])
            run["run_id"] = run["run_id"] + "-rerun"
            run["status"] = "SUCCEEDED"
            run["start_at"] = rerun_at
            run["stop_at"] = run["stop_at"] + shift
            self.runs = _append(self.runs, run.astype(ELT_RUN_DTYPES))
        self._note("failed_run", day, fail_at, f"query {int(q['query_id'].iloc[pos])}")

    def stuck_query(self, day: int, hours: float, gen: np.random.Generator) -> None:
        self._night(day, "stuck_queries")  # the day exists
        q = self.queries
        local = q["arrival_at"].dt.tz_convert(self.zone)
        local_day = ((local - self.first) // pd.Timedelta(days=1)).to_numpy()
        pick = (
            (local_day == day)
            & (q["statement_type"] == "select").to_numpy()
            & ~elt_mask(q, self.contract)
            & ~q["cache_hit"].to_numpy(dtype=bool)
        )
        # A user's query, so one the users issue while the ELT is not running
        # (the ELT window's thousands of statements would drown its failure).
        minute = (local.dt.hour * 60 + local.dt.minute).to_numpy()
        start, end = (
            _minutes(t) for t in (self.contract.window_start, self.contract.window_end)
        )
        in_window = (
            (minute >= start) & (minute < end)
            if start < end
            else (minute >= start) | (minute < end)
        )
        rows = np.flatnonzero(pick & ~in_window)
        if not rows.size:
            rows = np.flatnonzero(pick)
        if not rows.size:
            raise InputError(
                f"day {day}: no SELECT outside the ELT that day; expected one to copy",
                location="faults.stuck_queries",
            )
        row = self._copies(q.iloc[[int(rows[gen.integers(rows.size)])]])
        row["exec_s"] = hours * 3600.0
        row["aborted"] = False
        row["stop_cause"] = pd.NA
        row["ran_on_cs"] = False
        self.queries = pd.concat([self.queries, row], ignore_index=True)
        self._note("stuck_query", day, row["arrival_at"].iloc[0], f"{hours:g} h")

    def load_spike(self, day: int, factor: float, gen: np.random.Generator) -> None:
        rows = self._night_rows(day, "load_spikes")
        q = self.queries
        extra = factor - 1.0
        layers = []
        while extra > 1e-12:
            keep = gen.random(rows.size) < min(1.0, extra)
            layer = self._copies(q.iloc[rows[keep]])
            layers.append(layer)
            extra -= 1.0
        self.queries = pd.concat([q, *layers], ignore_index=True)
        self._note("load_spike", day, q["arrival_at"].iloc[rows[0]], f"x{factor:g}")

    def _drop(self, rows: np.ndarray) -> None:
        """Statements that are never issued (and their load errors)."""
        if not rows.size:
            return
        ids = self.queries["query_id"].to_numpy()[rows]
        self.queries = self.queries.drop(self.queries.index[rows]).reset_index(
            drop=True
        )
        self.errors = self.errors.loc[~self.errors["query_id"].isin(ids)]

    def result(self) -> Injected:
        incidents = pd.DataFrame(self.incidents, columns=list(INCIDENT_COLUMNS))
        incidents["start_at"] = pd.to_datetime(incidents["start_at"], utc=True)
        return Injected(
            workload=Workload(
                queries=validate_workload(self.queries),
                elt_runs=self.runs.reset_index(drop=True).astype(ELT_RUN_DTYPES),
                load_errors=self.errors.reset_index(drop=True).astype(
                    LOAD_ERROR_DTYPES
                ),
            ),
            incidents=incidents,
        )


def _minutes(hhmm: str) -> int:
    """Minutes after local midnight of ``"HH:MM"``."""
    h, m = (int(x) for x in hhmm.split(":"))
    return h * 60 + m


def _set(frame: pd.DataFrame, col: str, rows: Any, values: Any) -> None:
    """Set ``frame[col]`` at positions ``rows`` (its dtype kept)."""
    column = frame[col].copy()
    column.iloc[rows] = values
    frame[col] = column


def _us(seconds: float) -> pd.Timedelta:
    """``seconds`` as a Timedelta of whole microseconds (the workload's unit)."""
    return pd.Timedelta(microseconds=round(seconds * 1e6))


def _append(frame: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    if not len(frame):
        return rows.reset_index(drop=True)
    return pd.concat([frame, rows], ignore_index=True)
