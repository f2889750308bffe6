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
  across midnight stays with the day it arrived in).
- A synthetic workload is replicated by **regenerating** it with the
  generator seed of replication ``r``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final, Protocol

import numpy as np
import pandas as pd

from dpcsim.engine.settings import ClusterSettings
from dpcsim.schema import Workload, validate_workload
from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload
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
SOURCES: Final[dict[str, int]] = {"days": 0, "engine": 1, "growth": 2, "generator": 3}


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
    """

    kind = "bootstrap"

    def __init__(self, workload: Workload, root: int, timezone: str = "Asia/Tokyo"):
        self.workload = workload
        self.root = int(root)
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

    def days(self, replication: int) -> np.ndarray:
        """The source day of each target day in replication ``replication``."""
        gen = np.random.default_rng(stream(self.root, replication, "days"))
        return gen.integers(self.n_days, size=self.n_days)

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
    workload: Workload, scenario: dict[str, object], root: int, replication: int
) -> Workload:
    """The workload under one scenario (growth, ELT shift), with common numbers.

    ``growth`` multiplies the arrival rate of every statement but the ELT's
    (:func:`~dpcsim.workload.whatif.scale_arrivals`, thinning below 1,
    superposed resampled days above); ``elt_shift_min`` moves the ELT.
    """
    out = workload
    shift = float(scenario.get("elt_shift_min", 0.0))  # type: ignore[arg-type]
    if shift:
        out = shift_elt(out, shift)
    growth = float(scenario.get("growth", 1.0))  # type: ignore[arg-type]
    if growth != 1.0:
        # The nightly ELT runs once a night whatever the load: growth scales the
        # other arrivals (learners, maintenance, admin), not the ELT's statements.
        gen = np.random.default_rng(stream(root, replication, "growth"))
        out = scale_arrivals(out, growth, gen, where=~elt_mask(out.queries))
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
