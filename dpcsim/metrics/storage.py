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

At equal instants loads come first, then the Spectrum move, then VACUUM.

The model is a model: it runs only when the user gives storage inputs or asks
for it (:func:`storage_from_table`): a starting usage and a capacity
(``initial_used_gb`` and ``capacity_gb``, e.g. read from an export of
``svv_table_info`` or ``stv_partitions`` by :mod:`dpcsim.logs.storage_exports`),
or ``model = "on"`` (the defaults below, DPC's assumed 1 TB of 2 TB). Without
them no ``PercentageDiskSpaceUsed`` is published and a storage alarm is "not
evaluated: no storage data". Used space beyond the capacity is not a full
cluster but inputs that contradict each other (a cluster cannot store more
than it holds): :func:`storage_used_gb` raises an InputError naming the instant
and the inputs. Parameters come from the ``[storage]`` table of the cluster
settings TOML (``ClusterSettings.storage``) via :meth:`StorageSettings.from_dict`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Final, NoReturn

import numpy as np
import pandas as pd

from dpcsim.errors import InputError
from dpcsim.metrics.series import sample_step, step_function

__all__ = [
    "STORAGE_MODEL_CHOICES",
    "StorageSettings",
    "spectrum_times_s",
    "storage_from_table",
    "storage_used_gb",
]

#: One day [s].
DAY_S: Final = 86400.0
#: Values of ``[storage] model``: ``auto`` runs the model only with storage
#: inputs (``initial_used_gb`` and ``capacity_gb``), ``on`` always, ``off`` never.
STORAGE_MODEL_CHOICES: Final = ("auto", "on", "off")
#: The inputs that, given together, switch the model on under ``model = "auto"``.
_STORAGE_INPUTS: Final = ("initial_used_gb", "capacity_gb")


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageSettings:
    """Parameters of the storage model (the ``[storage]`` settings table).

    Attributes
    ----------
    model
        ``auto``, ``on`` or ``off`` (see :func:`storage_from_table`); an
        instance built directly is a model the caller asked for.
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

    model: str = "on"
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
        if self.model not in STORAGE_MODEL_CHOICES:
            _fail("model", self.model, f"one of {list(STORAGE_MODEL_CHOICES)}")
        if not isinstance(self.copy_volume_from_log, bool):
            _fail("copy_volume_from_log", self.copy_volume_from_log, "true or false")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _NOT_NUMBERS:
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
            if f.name not in _NOT_NUMBERS and getattr(self, f.name) < 0:
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


#: Fields of :class:`StorageSettings` that are not numbers.
_NOT_NUMBERS: Final = frozenset({"model", "copy_volume_from_log"})


def storage_from_table(
    table: Mapping[str, Any], *, source: str = "[storage]"
) -> StorageSettings | None:
    """The storage model the ``[storage]`` table asks for, or None for none.

    ``model = "on"`` runs it (missing keys at their defaults); ``"off"`` never;
    ``"auto"`` (the default) only when the table gives a starting usage and a
    capacity (``initial_used_gb`` and ``capacity_gb``): other keys alone do
    not make storage data.

    Raises
    ------
    InputError
        Unknown keys or bad values (:meth:`StorageSettings.from_dict`), or
        ``model = "auto"`` with only one of the two inputs.
    """
    settings = StorageSettings.from_dict(
        {"model": "auto", **dict(table)}, source=source
    )
    if settings.model == "off":
        return None
    if settings.model == "on":
        return settings
    given = [key for key in _STORAGE_INPUTS if key in table]
    if len(given) == 1:
        missing = next(k for k in _STORAGE_INPUTS if k not in table)
        raise InputError(
            f"{given[0]} given without {missing}; expected both (a starting usage "
            'and a capacity [GB]), or model = "on" for the model\'s defaults',
            source=source,
            location=missing,
        )
    return settings if given else None


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
    used_gb = (
        settings.initial_used_gb + base + settings.growth_fault_gb_per_day * fault_days
    )
    _check_capacity(used_gb, start_at, np.asarray(grid_s, dtype="float64"), settings)
    return used_gb


def _check_capacity(
    used_gb: np.ndarray,
    start_at: pd.Timestamp,
    grid_s: np.ndarray,
    settings: StorageSettings,
) -> None:
    """Raise when the model stores more than the capacity (inconsistent inputs)."""
    over = np.flatnonzero(used_gb > settings.capacity_gb)
    if not over.size:
        return
    first = int(over[0])
    at = pd.Timestamp(start_at) + pd.Timedelta(seconds=float(grid_s[first]))
    pct = 100.0 * float(used_gb[first]) / settings.capacity_gb
    raise InputError(
        f"the storage model's inputs are inconsistent: PercentageDiskSpaceUsed "
        f"reaches {pct:.1f} % at {at.isoformat()} ({float(used_gb[first]):.1f} GB "
        f"used of capacity_gb {settings.capacity_gb:g}; initial_used_gb "
        f"{settings.initial_used_gb:g}, copy_gb {settings.copy_gb:g}, "
        f"data_growth_factor {settings.data_growth_factor:g}, "
        f"growth_fault_gb_per_day {settings.growth_fault_gb_per_day:g}); expected "
        "used space within the capacity: raise capacity_gb or lower the growth",
        source="[storage]",
        location="capacity_gb",
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
