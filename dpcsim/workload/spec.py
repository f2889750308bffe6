"""The specification of a synthetic DPC workload (frozen, validated, JSON-ready).

The spec says what to generate (horizon, learners, growth, faults, ELT timing);
:func:`dpcsim.workload.generate.generate_dpc_workload` turns it plus a seed into
queries. Defaults describe the seed's platform today and reproduce the
calibration figures of ``workload-calibration.md``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

import pandas as pd

from dpcsim.constraints import Bound, Constraint, check
from dpcsim.errors import InputError
from dpcsim.workload.catalog import DBT_MODELS
from dpcsim.workload.faults import Faults

__all__ = ["JST", "DPCWorkloadSpec", "read_workload_spec"]

#: Japan Standard Time (no daylight saving): the platform's business clock.
JST = dt.timezone(dt.timedelta(hours=9), "JST")


#: The ranges of every scalar field of :class:`DPCWorkloadSpec`.
SPEC_CONSTRAINTS: Final[tuple[Constraint, ...]] = (
    Bound("days", 1, 366, integer=True),
    Bound("learners", 1, integer=True),
    Bound("learner_growth", 0, 1000, lo_open=True),
    Bound("data_growth", 0, 1000, lo_open=True),
    Bound("queries_per_learner_day", 0, 1000, lo_open=True),
    Bound("elt_start_min", 0, 1440, hi_open=True),
    Bound("elt_jitter_s", 0),
    Bound("dbt_threads", 1, 32, integer=True),
    Bound("lookback_batches", 1, 24 * 14, integer=True),
    Bound("deadline_weekday", 0, 6, integer=True),
    Bound("vacuum_budget_s", 0, lo_open=True),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DPCWorkloadSpec:
    """What to generate.

    Attributes
    ----------
    days
        Length of the horizon [days], from ``start_date`` 00:00 JST.
    start_date
        First day, ``YYYY-MM-DD`` in JST. The default is a Monday whose week ends
        on the first Sunday of June, so that one week holds the weekly VACUUM and
        the monthly ANALYZE COMPRESSION.
    learners
        Registered learners at growth 1.
    learner_growth
        Multiplier on learners (and so on adhoc arrivals).
    data_growth
        Multiplier on data volume: scales COPY, dbt, UNLOAD, ANALYZE and VACUUM
        execution times (and the storage the metrics model derives).
    queries_per_learner_day
        Mean adhoc queries per learner per ordinary day.
    elt_start_min
        Step Functions schedule [min after 00:00 JST]; 120 = 02:00 JST.
    elt_jitter_s
        Standard deviation of the scheduler's start jitter [s].
    dbt_threads
        dbt ``threads``: models that run at once.
    lookback_batches
        Hourly microbatches each incremental model reprocesses per night.
    deadline_weekday
        Weekday of course deadlines (0 Monday .. 6 Sunday): learners rush that
        day (x1.6) and the day before (x1.25).
    vacuum_budget_s
        The VACUUM Lambda runs REINDEX on a table only if its estimated time is
        within this budget, else VACUUM DELETE ONLY [s].
    faults
        Injected faults (:class:`~dpcsim.workload.faults.Faults`).
    """

    days: int = 7
    start_date: str = "2025-05-26"
    learners: int = 400
    learner_growth: float = 1.0
    data_growth: float = 1.0
    queries_per_learner_day: float = 2.5
    elt_start_min: float = 120.0
    elt_jitter_s: float = 120.0
    dbt_threads: int = 2
    lookback_batches: int = 96
    deadline_weekday: int = 6
    vacuum_budget_s: float = 1800.0
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        check(self, SPEC_CONSTRAINTS)
        try:
            dt.date.fromisoformat(self.start_date)
        except (TypeError, ValueError):
            _require(False, "start_date", self.start_date, "a date YYYY-MM-DD")
        names = {m.name for m in DBT_MODELS}
        for _, model in self.faults.dbt_failures:
            _require(
                model in names, "faults.dbt_failures", model, f"one of {sorted(names)}"
            )

    @property
    def start_at(self) -> pd.Timestamp:
        """Horizon start: ``start_date`` 00:00 JST as a UTC timestamp."""
        local = pd.Timestamp(self.start_date).tz_localize(JST)
        return local.tz_convert("UTC").as_unit("us")

    @property
    def horizon_s(self) -> float:
        """Horizon length [s]."""
        return self.days * 86_400.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; ``from_dict(to_dict(x)) == x``."""
        data = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "faults"
        }
        data["faults"] = self.faults.to_dict()
        return data

    @classmethod
    def from_dict(cls, value: Any, *, source: str = "<spec>") -> DPCWorkloadSpec:
        """Build from a dict (e.g. ``spec.json``); InputError names a bad key."""
        if not isinstance(value, dict):
            raise InputError(f"spec={value!r}; expected an object", source=source)
        kinds = {f.name: f.type for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, item in value.items():
            if key not in kinds:
                raise InputError(
                    f"unknown key {key!r}; expected one of {sorted(kinds)}",
                    source=source,
                    location=key,
                )
            kwargs[key] = _coerce(key, item, source)
        try:
            return cls(**kwargs)
        except InputError as exc:
            raise InputError(str(exc), source=source) from exc


_INT_KEYS = ("days", "learners", "dbt_threads", "lookback_batches", "deadline_weekday")


def _coerce(key: str, item: Any, source: str) -> Any:
    """Convert one JSON value to the field's type or raise InputError."""
    if key == "faults":
        return Faults.from_dict(item, source=source)
    if key == "start_date":
        if not isinstance(item, str):
            raise InputError(
                f"{item!r}; expected a date string", source=source, location=key
            )
        return item
    ok = isinstance(item, int | float) and not isinstance(item, bool)
    if key in _INT_KEYS:
        ok = ok and float(item).is_integer()
    if not ok:
        want = "an integer" if key in _INT_KEYS else "a number"
        raise InputError(f"{item!r}; expected {want}", source=source, location=key)
    return int(item) if key in _INT_KEYS else float(item)


def _require(ok: bool, key: str, value: Any, expected: str) -> None:
    """Raise InputError naming ``key`` and ``value`` unless ``ok``."""
    if not ok:
        raise InputError(f"{key}={value!r}; expected {expected}", location=key)


def read_workload_spec(path: str | Path) -> DPCWorkloadSpec:
    """Read a spec: a ``spec.json`` written by ``dpcsim generate``, or its ``spec``.

    Raises
    ------
    InputError
        When the file is not UTF-8 JSON or the spec is invalid (naming the key).
    """
    path = Path(path)
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not JSON ({exc.msg}); expected a spec.json written by dpcsim generate",
            source=str(path),
            location=f"line {exc.lineno}, column {exc.colno}",
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"undecodable byte {exc.object[exc.start : exc.start + 1]!r}; "
            "expected UTF-8 JSON",
            source=str(path),
        ) from None
    data = loaded.get("spec", loaded) if isinstance(loaded, dict) else loaded
    return DPCWorkloadSpec.from_dict(data, source=str(path))
