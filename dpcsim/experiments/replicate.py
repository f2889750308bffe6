"""Replications and common random numbers.

Every random stream of a sweep is rebuilt from its key, in any order and on any
worker: ``numpy.random.SeedSequence(root, spawn_key=(replication, source))``
with ``source`` one of :data:`SOURCES`. Replication ``r`` of every decision and
scenario therefore sees the same resampled days, the same growth draws and the
same engine stream (common random numbers), so paired differences against the
baseline are much tighter than independent runs would give.

- A real log (one week of exports) is replicated by a **block bootstrap of
  whole days**: replication ``r`` draws as many days as the log has, with
  replacement, and lays them end to end; each day carries its queries, its ELT
  executions and its load errors, so a night's ELT stays intact. Day
  boundaries are local midnights in the design's time zone (a query running
  across midnight stays with the day it arrived in). Each target day's
  sessions are its own (ids offset per day), so a day drawn twice is not one
  long session under session replay.
- A synthetic workload is replicated by **regenerating** it with the
  generator seed of replication ``r``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Final, Protocol

import numpy as np
import pandas as pd

from dpcsim.designs import ELTContract
from dpcsim.engine.settings import ClusterSettings
from dpcsim.schema import Workload, validate_workload
from dpcsim.workload import DPCWorkloadSpec, Faults, generate_dpc_workload, parse_faults
from dpcsim.workload.faults import NO_FAULTS
from dpcsim.workload.inject import inject_faults
from dpcsim.workload.whatif import elt_mask, scale_arrivals, shift_elt

__all__ = [
    "SOURCES",
    "BootstrapDays",
    "RegenerateWeeks",
    "Replicator",
    "apply_scenario",
    "engine_seed",
    "scenario_settings",
    "stream",
]

#: Named random streams of one replication (the second spawn-key element).
SOURCES: Final[dict[str, int]] = {
    "days": 0,
    "engine": 1,
    "growth": 2,
    "generator": 3,
    "faults": 4,
}


def stream(root: int, replication: int, source: str) -> np.random.SeedSequence:
    """The seed sequence of one (replication, source) stream."""
    return np.random.SeedSequence(root, spawn_key=(int(replication), SOURCES[source]))


def engine_seed(root: int, replication: int) -> int:
    """The engine seed of replication ``replication`` (the same for every config)."""
    return int(stream(root, replication, "engine").generate_state(1, np.uint64)[0])


class Replicator(Protocol):
    """Gives the workload of one replication."""

    kind: str

    def week(self, replication: int) -> Workload:
        """The workload of replication ``replication``."""
        ...


class BootstrapDays:
    """Block bootstrap of whole local days of a logged workload.

    Parameters
    ----------
    workload
        The log (canonical workload with its side tables).
    root
        Root seed of the sweep.
    timezone
        IANA time zone whose midnights cut the days.
    pool
        The source days drawn from (0-based local days; default every day).
    """

    kind = "bootstrap"

    def __init__(
        self,
        workload: Workload,
        root: int,
        timezone: str = "Asia/Tokyo",
        *,
        pool: Sequence[int] | None = None,
    ):
        self.workload = workload
        self.root = int(root)
        self.timezone = timezone
        q = workload.queries
        local = q["arrival_at"].dt.tz_convert(timezone)
        self._first = local.min().normalize()
        self._day = _day_index(q["arrival_at"], self._first)
        self.n_days = int(self._day.max()) + 1 if len(q) else 0
        self._run_day = _day_index(workload.elt_runs["start_at"], self._first)
        self._error_day = _day_index(workload.load_errors["error_at"], self._first)
        span = [q["query_id"], q["task_id"], workload.load_errors["query_id"]]
        low = min(int(s.min()) for s in span if len(s))
        high = max(int(s.max()) for s in span if len(s))
        self._stride = high - low + 1
        sessions = q["session_id"].dropna()
        # Sessions of two copies of one day are two sessions, not one chain.
        self._session_stride = (
            int(sessions.max()) - int(sessions.min()) + 1 if len(sessions) else 0
        )
        self.pool = (
            np.arange(self.n_days) if pool is None else np.asarray(pool, dtype=np.int64)
        )
        if not self.pool.size or not set(self.pool) <= set(range(self.n_days)):
            raise ValueError(
                f"pool={list(self.pool)}; expected days of 0-{self.n_days - 1}"
            )

    def days(self, replication: int) -> np.ndarray:
        """The source day of each target day in replication ``replication``."""
        gen = np.random.default_rng(stream(self.root, replication, "days"))
        picks: np.ndarray = self.pool[gen.integers(self.pool.size, size=self.n_days)]
        return picks

    def quiet_days(self, exclude: Sequence[int] = ()) -> np.ndarray:
        """Days without an incident the log shows (a COPY load error, an ELT
        execution that did not succeed) and not in ``exclude``."""
        busy = {int(d) for d in exclude}
        busy |= {int(d) for d in self._error_day}
        failed = ~self.workload.elt_runs["status"].eq("SUCCEEDED").fillna(False)
        busy |= {int(d) for d in self._run_day[failed.to_numpy(dtype=bool)]}
        return np.array([d for d in range(self.n_days) if d not in busy], np.int64)

    def week(self, replication: int) -> Workload:
        """The resampled workload: target day k is a copy of source day ``days[k]``."""
        picks = self.days(replication)
        w = self.workload
        parts, runs, errors = [], [], []
        for target, source in enumerate(picks):
            shift = pd.Timedelta(days=int(target - source))
            offset = target * self._stride
            rows = w.queries.loc[self._day == source].copy()
            rows["arrival_at"] = rows["arrival_at"] + shift
            rows["query_id"] = rows["query_id"] + offset
            rows["task_id"] = rows["task_id"] + offset
            rows["session_id"] = rows["session_id"] + target * self._session_stride
            parts.append(rows)
            run = w.elt_runs.loc[self._run_day == source].copy()
            run["start_at"] = run["start_at"] + shift
            run["stop_at"] = run["stop_at"] + shift
            run["run_id"] = run["run_id"].astype("string") + f"-d{target}"
            runs.append(run)
            err = w.load_errors.loc[self._error_day == source].copy()
            err["error_at"] = err["error_at"] + shift
            err["query_id"] = err["query_id"] + offset
            errors.append(err)
        queries = pd.concat(parts, ignore_index=True).sort_values(
            ["arrival_at", "query_id"], kind="stable"
        )
        return Workload(
            queries=validate_workload(queries.reset_index(drop=True)),
            elt_runs=_concat(runs, w.elt_runs),
            load_errors=_concat(errors, w.load_errors),
        )


class RegenerateWeeks:
    """Regenerated synthetic weeks: replication r uses the generator stream r."""

    kind = "regenerate"

    def __init__(self, spec: DPCWorkloadSpec, root: int):
        self.spec = spec
        self.root = int(root)

    def week(self, replication: int) -> Workload:
        """The workload generated with replication ``replication``'s stream."""
        gen = np.random.default_rng(stream(self.root, replication, "generator"))
        return generate_dpc_workload(self.spec, gen)


def apply_scenario(
    workload: Workload,
    scenario: dict[str, object],
    root: int,
    replication: int,
    contract: ELTContract,
) -> Workload:
    """The workload under one scenario (faults, ELT shift, growth), with common
    numbers.

    ``faults`` (``KIND:DAY[:ARG]`` items, :func:`~dpcsim.workload.parse_faults`)
    are injected first (:func:`~dpcsim.workload.inject.inject_faults`), on the
    days of the replicated week; ``elt_shift_min`` then moves the ELT;
    ``growth`` multiplies the arrival rate of every statement but the ELT's
    (:func:`~dpcsim.workload.whatif.scale_arrivals`, thinning below 1,
    superposed resampled days above). ``contract`` says which statements are
    the ELT's and whose calendar days count.
    """
    out = workload
    faults = parse_faults(str(scenario.get("faults", NO_FAULTS)))
    if faults != Faults():
        gen = np.random.default_rng(stream(root, replication, "faults"))
        out = inject_faults(out, faults, contract, gen).workload
    shift = float(scenario.get("elt_shift_min", 0.0))  # type: ignore[arg-type]
    if shift:
        out = shift_elt(out, shift, contract)
    growth = float(scenario.get("growth", 1.0))  # type: ignore[arg-type]
    if growth != 1.0:
        # The nightly ELT runs once a night whatever the load: growth scales the
        # other arrivals (learners, maintenance, admin), not the ELT's statements.
        gen = np.random.default_rng(stream(root, replication, "growth"))
        out = scale_arrivals(
            out,
            growth,
            gen,
            where=~elt_mask(out.queries, contract),
            timezone=contract.timezone,
        )
    return out


def scenario_settings(
    settings: ClusterSettings, scenario: dict[str, object]
) -> ClusterSettings:
    """The cluster settings under one scenario: ``data_growth`` scales the work.

    Data volume changes what each statement does, not when it arrives, so it
    is applied to the engine's demands (:attr:`ClusterSettings.work_scale`,
    multiplied onto any assumed one) rather than to the workload.
    """
    if "data_growth" not in scenario:
        return settings
    factor = float(scenario["data_growth"])  # type: ignore[arg-type]
    return replace(settings, work_scale=settings.work_scale * factor)


def with_days(spec: DPCWorkloadSpec, days: int) -> DPCWorkloadSpec:
    """``spec`` with another horizon (a shorter week for quick sweeps)."""
    return replace(spec, days=days)


def _day_index(at: pd.Series, first: pd.Timestamp) -> np.ndarray:
    if not len(at):
        return np.zeros(0, dtype=np.int64)
    local = at.dt.tz_convert(first.tz)
    days: np.ndarray = ((local - first) // pd.Timedelta(days=1)).to_numpy(
        dtype=np.int64
    )
    return days


def _concat(parts: list[pd.DataFrame], like: pd.DataFrame) -> pd.DataFrame:
    if not parts:
        return like.iloc[0:0].copy()
    out = pd.concat(parts, ignore_index=True)
    return out.astype(like.dtypes.to_dict())
