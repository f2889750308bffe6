"""Faults to inject into the synthetic workload, so that the alarms have work.

Each fault names the day(s) it hits (0-based index from the spec's start date,
in JST) and its size. What a fault does to the queries is implemented where the
affected queries are made (:mod:`dpcsim.workload.elt` for the ELT faults,
:mod:`dpcsim.workload.adhoc` for the stuck query); this module holds the
description, its validation and the ``--fault`` command-line syntax.

- ``copy_errors``: one COPY of the night is aborted and leaves
  ``STL_LOAD_ERRORS`` rows; the Step Functions Map state tolerates the failed
  file, so the execution still succeeds (the ``CopyErrorCount`` alarm's case).
- ``dbt_failures``: the named model's statement is aborted, its downstream
  models are skipped, and Step Functions still reports SUCCEEDED (dbt's exit code
  is not checked), so the mart stays stale.
- ``late_starts``: the execution starts N minutes late.
- ``failed_runs``: the execution fails part-way through dbt; the runbook's re-run
  starts N minutes after the failure and runs the whole pipeline again.
- ``stuck_queries``: one learner query at 14:00 JST runs for N hours.
- ``load_spikes``: the night's ELT statements arrive ``factor`` times
  (copies), a burst on the ELT's queue.

:mod:`dpcsim.workload.inject` applies the same faults to any workload (a
user's own log), for the alarm tuning and a sweep's ``faults`` scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from dpcsim.constraints import Bound, check_value
from dpcsim.errors import InputError

__all__ = ["FAULT_KINDS", "NO_FAULTS", "Faults", "parse_fault", "parse_faults"]

#: ``--fault`` kinds and their argument after the day.
FAULT_KINDS: Final[dict[str, str]] = {
    "copy_error": "DAY",
    "dbt_failure": "DAY[:MODEL]",
    "late_start": "DAY[:MINUTES]",
    "failed_run": "DAY[:RERUN_AFTER_MINUTES]",
    "stuck_query": "DAY[:HOURS]",
    "load_spike": "DAY[:FACTOR]",
}
DEFAULT_DBT_FAILURE_MODEL: Final = "fct_learning_activity"
#: Default ``load_spike`` factor: the night's ELT four times over.
DEFAULT_LOAD_SPIKE: Final = 4.0
#: A fault's day: a 0-based day index of the horizon.
_DAY: Final = Bound("day", 0, integer=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    """Faults per day (0-based JST day index from the spec's start date).

    Attributes
    ----------
    copy_errors
        Days on which one COPY fails with load errors.
    dbt_failures
        ``(day, model)``: the dbt model that fails that night.
    late_starts
        ``(day, minutes)``: Step Functions start delay [min].
    failed_runs
        ``(day, rerun_after_min)``: the run fails; the re-run starts that many
        minutes after the failure [min].
    stuck_queries
        ``(day, hours)``: a learner query that runs that long [h].
    load_spikes
        ``(day, factor)``: the night's ELT statements arrive ``factor`` times
        (a rate multiplier > 1).
    """

    copy_errors: tuple[int, ...] = ()
    dbt_failures: tuple[tuple[int, str], ...] = ()
    late_starts: tuple[tuple[int, float], ...] = ()
    failed_runs: tuple[tuple[int, float], ...] = ()
    stuck_queries: tuple[tuple[int, float], ...] = ()
    load_spikes: tuple[tuple[int, float], ...] = ()

    def __post_init__(self) -> None:
        for day in self.copy_errors:
            _check_day(day, "copy_errors")
        for day, model in self.dbt_failures:
            _check_day(day, "dbt_failures")
            if not isinstance(model, str) or not model:
                raise InputError(
                    f"model={model!r}; expected a dbt model name",
                    location="faults.dbt_failures",
                )
        for key, pairs, top in (
            ("late_starts", self.late_starts, 24 * 60.0),
            ("failed_runs", self.failed_runs, 24 * 60.0),
            ("stuck_queries", self.stuck_queries, 48.0),
        ):
            for day, size in pairs:
                _check_day(day, key)
                check_value(
                    Bound("size", 0, top, lo_open=True), size, location=f"faults.{key}"
                )
        for day, factor in self.load_spikes:
            _check_day(day, "load_spikes")
            check_value(
                Bound("factor", 1, 100, lo_open=True),
                factor,
                location="faults.load_spikes",
            )

    def days(self) -> set[int]:
        """Every day index any fault refers to."""
        pairs = self.dbt_failures + self.late_starts + self.failed_runs
        return (
            set(self.copy_errors)
            | {int(p[0]) for p in pairs}
            | {int(p[0]) for p in self.stuck_queries + self.load_spikes}
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (lists instead of tuples)."""
        return {
            "copy_errors": list(self.copy_errors),
            "dbt_failures": [list(p) for p in self.dbt_failures],
            "late_starts": [list(p) for p in self.late_starts],
            "failed_runs": [list(p) for p in self.failed_runs],
            "stuck_queries": [list(p) for p in self.stuck_queries],
            "load_spikes": [list(p) for p in self.load_spikes],
        }

    @classmethod
    def from_dict(cls, value: Any, *, source: str = "<faults>") -> Faults:
        """Build from :meth:`to_dict` output; InputError names the bad key."""
        if not isinstance(value, dict):
            raise InputError(f"faults={value!r}; expected an object", source=source)
        known = tuple(cls().to_dict())
        for key in value:
            if key not in known:
                raise InputError(
                    f"unknown key {key!r}; expected one of {list(known)}",
                    source=source,
                    location=f"faults.{key}",
                )
        try:
            return cls(
                copy_errors=tuple(int(d) for d in value.get("copy_errors", ())),
                dbt_failures=tuple(
                    (int(d), str(m)) for d, m in value.get("dbt_failures", ())
                ),
                late_starts=_pairs(value.get("late_starts", ())),
                failed_runs=_pairs(value.get("failed_runs", ())),
                stuck_queries=_pairs(value.get("stuck_queries", ())),
                load_spikes=_pairs(value.get("load_spikes", ())),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(
                f"{exc}; expected lists of [day, value] pairs", source=source
            ) from exc


def parse_fault(text: str, faults: Faults) -> Faults:
    """Add one ``KIND:DAY[:ARG]`` command-line fault to ``faults``.

    Examples
    --------
    >>> parse_fault("late_start:2:120", Faults()).late_starts
    ((2, 120.0),)
    """
    kind, _, rest = text.partition(":")
    if kind not in FAULT_KINDS or not rest:
        forms = ", ".join(f"{k}:{v}" for k, v in FAULT_KINDS.items())
        raise InputError(f"--fault {text!r}; expected one of {forms}")
    day_text, _, arg = rest.partition(":")
    try:
        day = int(day_text)
        size = float(arg) if arg and kind != "dbt_failure" else None
    except ValueError as exc:
        raise InputError(
            f"--fault {text!r}; expected {kind}:{FAULT_KINDS[kind]} with numbers"
        ) from exc
    if kind == "copy_error":
        return replace(faults, copy_errors=(*faults.copy_errors, day))
    if kind == "dbt_failure":
        pair = (day, arg or DEFAULT_DBT_FAILURE_MODEL)
        return replace(faults, dbt_failures=(*faults.dbt_failures, pair))
    defaults = {
        "late_start": 120.0,
        "failed_run": 30.0,
        "stuck_query": 6.0,
        "load_spike": DEFAULT_LOAD_SPIKE,
    }
    key = {
        "late_start": "late_starts",
        "failed_run": "failed_runs",
        "load_spike": "load_spikes",
    }.get(kind, "stuck_queries")
    pairs = (*getattr(faults, key), (day, size or defaults[kind]))
    return replace(faults, **{key: pairs})


#: The ``faults`` scenario value of a run without faults.
NO_FAULTS: Final = "none"


def parse_faults(text: str) -> Faults:
    """Faults from a comma-separated list of ``KIND:DAY[:ARG]`` (or ``none``).

    Examples
    --------
    >>> f = parse_faults("late_start:1:150, copy_error:3")
    >>> f.late_starts, f.copy_errors
    (((1, 150.0),), (3,))
    >>> parse_faults("none") == Faults()
    True
    """
    faults = Faults()
    if text.strip() == NO_FAULTS:
        return faults
    for part in text.split(","):
        faults = parse_fault(part.strip(), faults)
    return faults


def _pairs(items: Any) -> tuple[tuple[int, float], ...]:
    """Convert ``[[day, value], ...]`` to a tuple of ``(int, float)`` pairs."""
    return tuple((int(d), float(v)) for d, v in items)


def _check_day(day: Any, key: str) -> None:
    """Raise InputError unless ``day`` is a non-negative day index."""
    check_value(_DAY, day, location=f"faults.{key}")
