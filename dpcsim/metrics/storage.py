"""The storage model behind ``PercentageDiskSpaceUsed``.

Redshift reports ``PercentageDiskSpaceUsed`` [Percent] per minute. On RA3 the
data lives in Redshift Managed Storage; the percentage is taken here against a
configured capacity ``capacity_gb`` (set it to the cluster's
``RedshiftManagedStorageTotalCapacity``, or to the storage budget the design's
80 % threshold refers to). The model tracks used space [GB] as

``used = initial_used_gb + loaded - reclaimed + fault``

driven by the run's records:

* **loads**: every completed COPY adds its volume × ``data_growth_factor``; the
  volume is the COPY's logged input ``scanned_mb`` × ``compression_ratio``
  (columnar compression of the loaded files) when ``copy_volume_from_log`` and
  the log has it, else ``copy_gb``;
  ``delete_fraction`` of it replaces older rows at once (the ELT's
  delete-and-reload), which leaves that much as deleted-but-unreclaimed space;
* **moving old data to Spectrum**: on a weekly schedule (``spectrum_weekday``,
  ``spectrum_hour_utc``), live data loaded more than ``spectrum_after_days``
  days earlier is UNLOADed to S3 and DELETEd; a DELETE only marks rows, so the
  space is freed by the next VACUUM (the runbook's "move to Spectrum, then
  VACUUM"); the initial data is the retained base and is never moved;
* **VACUUM**: each completed VACUUM query of the workload (the weekly maintenance
  schedule) reclaims ``vacuum_reclaim_fraction`` of the deleted space;
* **storage growth fault**: from ``growth_fault_start_day`` days after the start,
  ``growth_fault_gb_per_day`` more is used, linearly in time, and nothing
  reclaims it.

At equal instants loads come first, then the Spectrum move, then VACUUM. The
percentage is not capped at 100 (a full cluster is a failure the alarm is meant
to prevent). Parameters come from the ``[storage]`` table of the cluster
settings TOML (``ClusterSettings.storage``) via :meth:`StorageSettings.from_dict`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Final, NoReturn

import numpy as np
import pandas as pd

from dpcsim.errors import InputError
from dpcsim.metrics.series import sample_step, step_function

__all__ = ["StorageSettings", "spectrum_times_s", "storage_used_gb"]

#: One day [s].
DAY_S: Final = 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageSettings:
    """Parameters of the storage model (the ``[storage]`` settings table).

    Attributes
    ----------
    capacity_gb
        Capacity the percentage is taken against [GB] (> 0).
    initial_used_gb
        Used space at the start of the run [GB] (>= 0).
    copy_gb
        Data written by one completed COPY whose volume is not logged, before
        growth [GB] (>= 0).
    copy_volume_from_log
        Take a COPY's volume from its ``scanned_mb`` when known.
    compression_ratio
        Stored size / input size of loaded data (>= 0).
    data_growth_factor
        Multiplier on ``copy_gb`` (data volume × k what-if) (>= 0).
    delete_fraction
        Share of each load that deletes older rows at the same time (0..1).
    vacuum_reclaim_fraction
        Share of deleted space a completed VACUUM reclaims (0..1).
    spectrum_after_days
        Move data older than this many days to Spectrum [d]; 0 = never.
    spectrum_weekday
        Day of the weekly move, 0 = Monday .. 6 = Sunday (UTC).
    spectrum_hour_utc
        Hour of the weekly move [h UTC] (0 <= h < 24).
    growth_fault_gb_per_day
        Extra unreclaimable growth of the storage fault [GB/d] (>= 0).
    growth_fault_start_day
        When the fault starts [d after the run start] (>= 0).
    """

    capacity_gb: float = 2048.0
    initial_used_gb: float = 1024.0
    copy_gb: float = 0.05
    copy_volume_from_log: bool = True
    compression_ratio: float = 0.25
    data_growth_factor: float = 1.0
    delete_fraction: float = 0.9
    vacuum_reclaim_fraction: float = 1.0
    spectrum_after_days: float = 0.0
    spectrum_weekday: int = 5
    spectrum_hour_utc: float = 18.0
    growth_fault_gb_per_day: float = 0.0
    growth_fault_start_day: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.copy_volume_from_log, bool):
            _fail("copy_volume_from_log", self.copy_volume_from_log, "true or false")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "copy_volume_from_log":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                _fail(f.name, value, "a number")
            if not math.isfinite(value):
                _fail(f.name, value, "a finite number")
        if self.capacity_gb <= 0:
            _fail("capacity_gb", self.capacity_gb, "a capacity > 0 GB")
        for name in ("delete_fraction", "vacuum_reclaim_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                _fail(name, getattr(self, name), "a fraction in 0..1")
        if not isinstance(self.spectrum_weekday, int) or not (
            0 <= self.spectrum_weekday <= 6
        ):
            _fail("spectrum_weekday", self.spectrum_weekday, "an integer 0..6")
        if not 0.0 <= self.spectrum_hour_utc < 24.0:
            _fail("spectrum_hour_utc", self.spectrum_hour_utc, "an hour in [0, 24)")
        for f in fields(self):
            if f.name != "copy_volume_from_log" and getattr(self, f.name) < 0:
                _fail(f.name, getattr(self, f.name), "a value >= 0")

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a flat dict (:meth:`from_dict` inverts it)."""
        return asdict(self)

    @classmethod
    def from_dict(
        cls, table: dict[str, Any], *, source: str = "[storage]"
    ) -> StorageSettings:
        """Build settings from the raw ``[storage]`` table.

        Raises
        ------
        InputError
            Naming ``source``, the key, the bad value and what was expected,
            for unknown keys and out-of-range values.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise InputError(
                f"unknown key(s) {unknown}; expected some of {sorted(known)}",
                source=source,
                location=unknown[0],
            )
        try:
            return cls(**table)
        except InputError as exc:
            raise InputError(str(exc), source=source) from exc


def storage_used_gb(
    queries: pd.DataFrame,
    start_at: pd.Timestamp,
    grid_s: np.ndarray,
    settings: StorageSettings,
) -> np.ndarray:
    """Used storage at each grid instant [GB] (see the module docstring).

    Parameters
    ----------
    queries
        Run records with ``statement_type``, ``outcome``, ``end_s`` and
        ``scanned_mb`` (NaN when unknown).
    start_at
        Clock zero [UTC] (places the weekly Spectrum move).
    grid_s
        Sample instants [s from ``start_at``].
    settings
        The model's parameters.
    """
    done = queries["outcome"].eq("completed").to_numpy(bool)
    kind = queries["statement_type"].to_numpy(dtype=object)
    end_s = queries["end_s"].to_numpy(dtype="float64")
    is_load = done & (kind == "copy")
    order = np.argsort(end_s[is_load], kind="stable")
    loads = end_s[is_load][order]
    sizes = _load_gb(queries["scanned_mb"].to_numpy(dtype="float64"), settings)
    vacuums = np.sort(end_s[done & (kind == "vacuum")])
    horizon = float(grid_s[-1]) if len(grid_s) else 0.0
    moves = spectrum_times_s(start_at, horizon, settings)
    t, used = _event_steps(loads, sizes[is_load][order], moves, vacuums, settings)
    base = sample_step(*step_function(t, used), np.asarray(grid_s, dtype="float64"))
    fault_days = np.clip(np.asarray(grid_s) / DAY_S - settings.growth_fault_start_day,
                         0.0, None)  # fmt: skip
    return (
        settings.initial_used_gb + base + settings.growth_fault_gb_per_day * fault_days
    )


def spectrum_times_s(
    start_at: pd.Timestamp, horizon_s: float, settings: StorageSettings
) -> np.ndarray:
    """Instants of the weekly Spectrum move in ``[0, horizon_s]`` [s]."""
    if settings.spectrum_after_days <= 0:
        return np.empty(0)
    days = pd.date_range(
        start_at.floor("D"),
        start_at + pd.Timedelta(seconds=horizon_s),
        freq="D",
    )
    days = days[days.day_of_week == settings.spectrum_weekday]
    when = days + pd.Timedelta(hours=settings.spectrum_hour_utc)
    t = (when - start_at).total_seconds().to_numpy(dtype="float64")
    return t[(t >= 0) & (t <= horizon_s)]


def _load_gb(scanned_mb: np.ndarray, s: StorageSettings) -> np.ndarray:
    """Stored size of each query's load [GB], growth included."""
    logged = scanned_mb / 1024.0 * s.compression_ratio
    known = np.isfinite(scanned_mb) & s.copy_volume_from_log
    return np.where(known, logged, s.copy_gb) * s.data_growth_factor


def _event_steps(
    loads: np.ndarray,
    sizes: np.ndarray,
    moves: np.ndarray,
    vacuums: np.ndarray,
    s: StorageSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Walk loads, moves and VACUUMs in time order; return (t, used above base)."""
    events = sorted(
        [(t, 0, float(g)) for t, g in zip(loads, sizes, strict=True)]
        + [(t, 1, 0.0) for t in moves]
        + [(t, 2, 0.0) for t in vacuums]
    )
    batch_at: list[float] = []
    batch_live: list[float] = []
    added = deleted = 0.0
    times, used = [], []
    for t, kind, size in events:
        if kind == 0:
            added += size
            deleted += size * s.delete_fraction
            batch_at.append(t)
            batch_live.append(size * (1.0 - s.delete_fraction))
        elif kind == 1:
            cutoff = t - s.spectrum_after_days * DAY_S
            for i, at in enumerate(batch_at):
                if at <= cutoff:
                    deleted += batch_live[i]
                    batch_live[i] = 0.0
        else:
            reclaimed = deleted * s.vacuum_reclaim_fraction
            added -= reclaimed
            deleted -= reclaimed
        times.append(t)
        used.append(added)
    return np.asarray(times, dtype="float64"), np.asarray(used, dtype="float64")


def _fail(key: str, value: object, expected: str) -> NoReturn:
    """Raise the InputError for one bad storage setting."""
    raise InputError(f"{key}={value!r}; expected {expected}", location=key)
