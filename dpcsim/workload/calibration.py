"""Calibration statistics of a workload, against the published fleet targets.

One definition of each statistic a workload is calibrated on (execution-time
quantiles, the > 60 s tail and its share of busy time, the statement mix,
cache hits, aborts, the hour-of-day shape, burstiness), used by the
calibration tests (with their own statistically argued tolerances) and the
sample notebook (with the accepted bands of :data:`CALIBRATION_TARGETS`).
Targets and sources: ``shared/reference/workload-calibration.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

__all__ = [
    "CALIBRATION_TARGETS",
    "CalibrationTarget",
    "calibration_statistics",
    "calibration_table",
]

#: Execution time above which a query is in the long tail [s].
LONG_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class CalibrationTarget:
    """A statistic's published target and the band a sample is accepted in."""

    key: str
    label: str
    target: str
    low: float
    high: float


#: Targets and accepted bands (wider than the published range: one week of one
#: cluster need not hit the fleet's range).
CALIBRATION_TARGETS: Final = (
    CalibrationTarget("median_exec_ms", "median execution time [ms]", "37-40", 25, 60),
    CalibrationTarget("mean_exec_s", "mean execution time [s]", "2.8-3", 2, 4),
    CalibrationTarget("p99_exec_s", "p99 execution time [s]", "minutes", 60, np.inf),
    CalibrationTarget("long_pct", "queries longer than 60 s [%]", "about 3", 2, 4),
    CalibrationTarget(
        "long_busy_pct", "their share of busy time [%]", "90-95", 85, 100
    ),
    CalibrationTarget("cache_hit_pct", "result-cache hits [%]", "about 10", 8, 12),
    CalibrationTarget("select_pct", "reads (SELECT) [%]", "about 31", 26, 36),
    CalibrationTarget("copy_unload_pct", "COPY + UNLOAD [%]", "about 4", 3, 5),
    CalibrationTarget("aborted_pct", "aborted [%]", "about 0.5", 0.3, 0.8),
    CalibrationTarget(
        "hour_peak_ratio", "hour-of-day peak / mean hour", "median 1.91", 1.17, 6.1
    ),
    CalibrationTarget(
        "hour_trough_ratio",
        "hour-of-day trough / mean hour",
        "median 0.59",
        0.01,
        0.90,
    ),
    CalibrationTarget("hourly_cv", "CV of hourly counts", "median 0.81", 0.26, 2.48),
    CalibrationTarget(
        "interarrival_cv", "inter-arrival CV", "6.2 (one trace)", 3, np.inf
    ),
    CalibrationTarget(
        "per_minute_dispersion",
        "per-minute index of dispersion",
        "about 150 (one trace)",
        10,
        np.inf,
    ),
)


def calibration_statistics(
    queries: pd.DataFrame,
    *,
    tz: str,
    start_at: pd.Timestamp | None = None,
    days: int | None = None,
) -> dict[str, float]:
    """Every statistic of :data:`CALIBRATION_TARGETS` for canonical queries.

    Parameters
    ----------
    queries
        Canonical queries (``exec_s``, ``arrival_at``, ``statement_type``,
        ``cache_hit``, ``aborted``).
    tz
        IANA time zone of the hour-of-day shape.
    start_at
        Time 0 of the per-minute and per-hour counts; default the first arrival.
    days
        Length of the window [days], so empty trailing minutes and hours count;
        default up to the last arrival.

    Returns
    -------
    dict
        Statistic key -> value (percentages in [%], times in [ms] or [s] as
        the key says).
    """
    e = queries["exec_s"].to_numpy(dtype=np.float64)
    long = e > LONG_S
    at = queries["arrival_at"]
    origin = at.min() if start_at is None else start_at
    t_s = np.sort((at - origin).dt.total_seconds().to_numpy())
    gaps_s = np.diff(t_s)
    per_min = np.bincount((t_s // 60).astype(np.int64), minlength=(days or 0) * 1440)
    per_hour = np.bincount((t_s // 3600).astype(np.int64), minlength=(days or 0) * 24)
    hod = np.bincount(at.dt.tz_convert(tz).dt.hour, minlength=24)
    st = queries["statement_type"]
    return {
        "median_exec_ms": 1e3 * float(np.median(e)),
        "mean_exec_s": float(e.mean()),
        "p99_exec_s": float(np.quantile(e, 0.99)),
        "long_pct": 100 * float(long.mean()),
        "long_busy_pct": 100 * float(e[long].sum() / e.sum()),
        "cache_hit_pct": 100 * float(queries["cache_hit"].mean()),
        "select_pct": 100 * float((st == "select").mean()),
        "copy_unload_pct": 100 * float(st.isin(["copy", "unload"]).mean()),
        "aborted_pct": 100 * float(queries["aborted"].mean()),
        "hour_peak_ratio": float(hod.max() / hod.mean()),
        "hour_trough_ratio": float(hod.min() / hod.mean()),
        "hourly_cv": float(per_hour.std() / per_hour.mean()),
        "interarrival_cv": float(gaps_s.std() / gaps_s.mean()),
        "per_minute_dispersion": float(per_min.var() / per_min.mean()),
    }


def calibration_table(
    queries: pd.DataFrame,
    *,
    tz: str,
    start_at: pd.Timestamp | None = None,
    days: int | None = None,
) -> pd.DataFrame:
    """The statistics beside their targets and accepted bands.

    Returns one row per statistic, indexed by its label: ``sample``,
    ``target``, ``low``, ``high`` and ``in_band``. Arguments as
    :func:`calibration_statistics`.
    """
    values = calibration_statistics(queries, tz=tz, start_at=start_at, days=days)
    table = pd.DataFrame(
        [
            {"statistic": t.label, "sample": values[t.key], "target": t.target,
             "low": t.low, "high": t.high}
            for t in CALIBRATION_TARGETS
        ]
    )  # fmt: skip
    table["in_band"] = table["sample"].between(table["low"], table["high"])
    return table.set_index("statistic")
