"""Alarm tuning: false alarms under normal load against detection of incidents.

For each alarm, every setting of a grid (threshold, period, evaluation periods
N with datapoints-to-alarm M, TreatMissingData, and for the failure-ratio
alarm a definition ``variant``) is evaluated on the same simulated weeks:

- **normal load**: the sweep's replications (whole days of the user's log
  resampled, or regenerated weeks without the spec's faults), giving false
  alarms per week (transitions to ALARM, scaled to 7 days) with a t interval;
- **incidents**: one more normal week per incident kind with its fault
  (:data:`INCIDENT_FAULTS`) injected by
  :func:`dpcsim.workload.inject.inject_faults`, the same on a log as on a
  generated week, for every alarm watching a metric meant to catch it
  (:data:`INCIDENT_METRICS`); each gives the detection delay (incident start
  to the first transition to ALARM within :data:`DETECTION_HORIZON_H`) or a
  miss. An incident the workload cannot take (no COPY in the log, no
  statement writing the dbt model) is listed in ``not_injected`` with why.
  For the incidents a setting misses, ``incident_value`` is the alarm's
  value closest to or past its threshold within the horizon
  (:func:`nearest_to_breach`) and ``miss_reason`` says whether no datapoint
  breached (:data:`NEVER_BREACHED`) or the breach was too short for M of N.

The selected setting per alarm catches every one of its incidents with the
fewest false alarms per week (ties: shorter mean delay, then the design's
setting); when none catches all, the one that misses fewest.

Failure-ratio variants (an alarm whose metric math divides ``failed`` by
``attempted``, the design's ``Alert-Query-Failure``):

- ``design``: ``failed / attempted`` (every aborted, canceled or failed query);
- ``min_volume_<V>``: ``IF(attempted >= V, failed / attempted, 0)``, metric
  math's guard against quiet hours where a couple of user errors exceed 5 %;
- ``wlm_caused``: only the queries the cluster stopped (QMR aborts and
  timeout cancels) over attempted: ``Custom/DPC WLMCausedFailedQueries``, the
  published metric of :mod:`dpcsim.metrics.custom`, so the tuned alarm and the
  deployed one read the same series.

Storage growth is an incident of the storage model, not of the workload: from
local midnight of the incident day, unreclaimable growth fills
:data:`STORAGE_GROWTH_SHARE` of the free space by the week's last arrival
(``growth_fault_*`` of :mod:`dpcsim.metrics.storage`), and an alarm on
``PercentageDiskSpaceUsed`` detects it if it fires before then. It needs the
storage model on (``[storage]`` inputs); without it the incident is listed as
not injected.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim.alarms.history import transitions_to_alarm as transitions
from dpcsim.alarms.spec import request_metric_names
from dpcsim.designs import ELTContract
from dpcsim.engine import ClusterSettings
from dpcsim.errors import InputError
from dpcsim.experiments.execute import SweepContext, replicator, workload_spec
from dpcsim.experiments.outcomes import simulate_run
from dpcsim.experiments.replicate import (
    BootstrapDays,
    RegenerateWeeks,
    Replicator,
    stream,
)
from dpcsim.experiments.stats import mean_ci
from dpcsim.schema import Workload
from dpcsim.wlm import WLMConfig
from dpcsim.workload import Faults, parse_faults
from dpcsim.workload.inject import inject_faults

__all__ = [
    "INCIDENT_FAULTS",
    "INCIDENT_METRICS",
    "NEVER_BREACHED",
    "TUNING_COLUMNS",
    "TUNING_REQUIRED_COLUMNS",
    "TuningGrid",
    "Uncaught",
    "alarm_variants",
    "calendar_days",
    "first_alarm_after",
    "nearest_to_breach",
    "normal_weeks",
    "transitions",
    "tune_alarms",
    "tune_sweep_alarms",
    "tuning_weeks",
    "uncaught_alarms",
]

#: Incident kind -> the metrics whose alarms exist to catch it (the design's
#: intent): an alarm is tuned against an incident when it watches one of them.
INCIDENT_METRICS: Final[dict[str, tuple[str, ...]]] = {
    "copy_error": ("CopyErrorCount",),
    "late_start": ("ELTExecutionDelay",),
    "failed_run": ("ELTExecutionDelay",),
    "dbt_failure": ("ELTExecutionDelay",),
    "stuck_query": ("WLMFailedQueries", "WLMCausedFailedQueries"),
    "load_spike": ("WLMQueueLength", "WLMQueueWaitTime"),
    "storage_growth": ("PercentageDiskSpaceUsed",),
}
#: How long after an incident starts a transition still counts as detection [h].
DETECTION_HORIZON_H: Final = 12.0
#: The day (0-based) incidents are injected on.
INCIDENT_DAY: Final = 1
#: Incident kind -> the fault injected (``--fault`` syntax) on a normal week.
#: The dbt model is the DPC design's; on another log pass ``incidents`` with a
#: model its SQL writes (an incident that cannot be injected is reported in
#: the ``not_injected`` column, not dropped).
INCIDENT_FAULTS: Final[dict[str, str]] = {
    "copy_error": f"copy_error:{INCIDENT_DAY}",
    "late_start": f"late_start:{INCIDENT_DAY}:150",
    "failed_run": f"failed_run:{INCIDENT_DAY}:60",
    "dbt_failure": f"dbt_failure:{INCIDENT_DAY}:fct_learning_activity",
    "stuck_query": f"stuck_query:{INCIDENT_DAY}:3",
    "load_spike": f"load_spike:{INCIDENT_DAY}:4",
    "storage_growth": f"storage_growth:{INCIDENT_DAY}",
}
#: A storage-growth incident's unreclaimable growth: this share of the free
#: space by the week's last arrival (a runaway that would fill the disk).
STORAGE_GROWTH_SHARE: Final = 0.9
#: First replication number of the incident weeks (apart from the normal ones).
INCIDENT_REPLICATION: Final = 10_000
TUNING_COLUMNS: Final = [
    "alarm",
    "threshold",
    "period_s",
    "evaluation_periods",
    "datapoints_to_alarm",
    "treat_missing_data",
    "variant",
    "false_alarms_per_week",
    "fa_ci_low",
    "fa_ci_high",
    "detection_delay_min",
    "missed",
    "incidents",
    "selected",
    "not_injected",
    "incident_value",
    "miss_reason",
]
#: Optional columns of alarm_tuning.csv: a table without ``not_injected``
#: reads as "every incident injected", one without ``incident_value`` and
#: ``miss_reason`` as "not recorded".
_OPTIONAL_COLUMNS: Final = ("not_injected", "incident_value", "miss_reason")
#: ``miss_reason`` of a missed incident in which no datapoint breached.
NEVER_BREACHED: Final = "no datapoint breached the threshold"
#: The columns a reader of alarm_tuning.csv needs.
TUNING_REQUIRED_COLUMNS: Final = [
    c for c in TUNING_COLUMNS if c not in _OPTIONAL_COLUMNS
]


@dataclass(frozen=True, slots=True, kw_only=True)
class TuningGrid:
    """Settings to try per alarm; empty tuples keep the alarm's own value.

    Attributes
    ----------
    thresholds
        Alarm name -> thresholds.
    periods_s
        Alarm name -> periods [s].
    rules
        Alarm name -> (evaluation_periods, datapoints_to_alarm) pairs.
    treat_missing
        TreatMissingData values tried for every alarm.
    min_volumes
        Minimum attempted queries of the failure-ratio guard.
    """

    thresholds: Mapping[str, tuple[float, ...]] = field(
        default_factory=lambda: {
            "Alert-WLM-Queue": (5.0, 10.0, 20.0),
            "Alert-Query-Failure": (0.05, 0.10),
            "Alert-ELT-Delay": (30.0, 90.0),
            "Alert-COPY-Error": (1.0,),
        }
    )
    periods_s: Mapping[str, tuple[int, ...]] = field(
        default_factory=lambda: {
            "Alert-WLM-Queue": (60, 300),
            "Alert-Query-Failure": (3600,),
        }
    )
    rules: Mapping[str, tuple[tuple[int, int], ...]] = field(
        default_factory=lambda: {
            "Alert-WLM-Queue": ((10, 10), (5, 3)),
            "Alert-ELT-Delay": ((2, 2), (1, 1)),
            "Alert-Query-Failure": ((1, 1), (3, 2)),
        }
    )
    treat_missing: tuple[str, ...] = ("missing", "notBreaching")
    min_volumes: tuple[int, ...] = (20, 50)


def alarm_variants(
    request: Mapping[str, Any], grid: TuningGrid
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every grid setting of one alarm: (row fields, PutMetricAlarm request)."""
    name = str(request["AlarmName"])
    period0 = _period(request)
    thresholds = grid.thresholds.get(name) or (float(request["Threshold"]),)
    periods = grid.periods_s.get(name) or (period0,)
    rules = grid.rules.get(name) or (
        (
            int(request["EvaluationPeriods"]),
            int(request.get("DatapointsToAlarm", request["EvaluationPeriods"])),
        ),
    )
    variants = ["design"]
    if _is_failure_ratio(request):
        variants += [f"min_volume_{v}" for v in grid.min_volumes] + ["wlm_caused"]
    out = []
    for threshold, period, (n, m), missing, variant in itertools.product(
        thresholds, periods, rules, grid.treat_missing, variants
    ):
        req = copy.deepcopy(dict(request))
        req.update(
            Threshold=float(threshold),
            EvaluationPeriods=int(n),
            DatapointsToAlarm=int(m),
            TreatMissingData=missing,
        )
        _set_period(req, int(period))
        _set_variant(req, variant)
        row = {
            "alarm": name,
            "threshold": float(threshold),
            "period_s": int(period),
            "evaluation_periods": int(n),
            "datapoints_to_alarm": int(m),
            "treat_missing_data": missing,
            "variant": variant,
        }
        out.append((row, req))
    return out


def tune_alarms(
    requests: Sequence[Mapping[str, Any]],
    weeks: Replicator,
    config: WLMConfig,
    settings: ClusterSettings,
    *,
    contract: ELTContract,
    root: int,
    replications: int = 3,
    grid: TuningGrid | None = None,
    level: float = 0.95,
    incidents: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The alarm_tuning.csv table (see :data:`TUNING_COLUMNS`).

    Parameters
    ----------
    requests
        PutMetricAlarm requests of the alarms to tune.
    weeks
        Normal weeks: the sweep's replicator (whole days of the user's log, or
        regenerated weeks; :func:`normal_weeks` takes the spec's faults out).
        A log's own incidents stay in it and count as alarms under normal load.
    config, settings
        The WLM configuration and cluster settings simulated.
    contract
        The design's ELT contract (where the incidents are injected).
    root
        Root seed (streams as in :mod:`dpcsim.experiments.replicate`).
    replications
        Normal weeks simulated.
    grid
        Settings tried per alarm.
    level
        Confidence level of the false-alarm intervals.
    incidents
        Incident kind -> the fault injected for it (default
        :data:`INCIDENT_FAULTS`).
    """
    from dpcsim.alarms import alarms_from_document, evaluate_alarms

    grid = grid or TuningGrid()
    faults = dict(INCIDENT_FAULTS if incidents is None else incidents)
    rows: list[dict[str, Any]] = []
    reqs: list[dict[str, Any]] = []
    watched: list[set[str]] = []
    for request in requests:
        for row, req in alarm_variants(request, grid):
            req["AlarmName"] = f"{row['alarm']}#{len(rows)}"
            rows.append(row)
            reqs.append(req)
            watched.append(set(request_metric_names(request)))
    specs = alarms_from_document(reqs, source="alarm tuning grid")
    fa = np.zeros((len(rows), replications))
    for r in range(replications):
        week = weeks.week(r)
        days = calendar_days(week, contract.timezone)
        states = _evaluate(week, config, settings, r, root, specs, evaluate_alarms)
        for i, s in enumerate(states):
            fa[i, r] = transitions(s.states) * 7.0 / days
    delays: dict[int, list[float]] = {i: [] for i in range(len(rows))}
    missed = np.zeros(len(rows), dtype=np.int64)
    injected = np.zeros(len(rows), dtype=np.int64)
    not_injected: dict[int, list[str]] = {i: [] for i in range(len(rows))}
    # Of the incidents a setting missed: the value nearest to breaching, why.
    nearest: dict[int, list[float]] = {i: [] for i in range(len(rows))}
    reasons: dict[int, set[str]] = {i: set() for i in range(len(rows))}
    for k, (kind, fault) in enumerate(faults.items()):
        targets = set(INCIDENT_METRICS.get(kind, ()))
        idx = [i for i in range(len(rows)) if watched[i] & targets]
        if not idx:
            continue
        replication = INCIDENT_REPLICATION + k
        horizon_h = DETECTION_HORIZON_H
        run_settings = settings
        try:
            if kind == "storage_growth":
                week, run_settings, start_at, horizon_h = _storage_incident(
                    weeks.week(replication), fault, settings, contract
                )
            else:
                week, start_at = _incident_week(
                    weeks, replication, fault, contract, root
                )
            states = _evaluate(
                week,
                config,
                run_settings,
                replication,
                root,
                [specs[i] for i in idx],
                evaluate_alarms,
            )
        except InputError as exc:
            for i in idx:
                not_injected[i].append(f"{kind}: {exc}")
            continue
        for i, s in zip(idx, states, strict=True):
            injected[i] += 1
            delay = first_alarm_after(s, start_at, horizon_h)
            if delay is None:
                missed[i] += 1
                spec = specs[i]
                value = nearest_to_breach(s, spec.comparison, start_at, horizon_h)
                nearest[i].append(value)
                reasons[i].add(_miss_reason(value, spec))
            else:
                delays[i].append(delay)
    table = []
    for i, row in enumerate(rows):
        _, mean, low, high = mean_ci(fa[i], level)
        d = delays[i]
        table.append(
            {
                **row,
                "false_alarms_per_week": mean,
                "fa_ci_low": max(low, 0.0) if np.isfinite(low) else low,
                "fa_ci_high": high,
                "detection_delay_min": float(np.mean(d)) if d else float("nan"),
                "missed": int(missed[i]),
                "incidents": int(injected[i]),
                "selected": False,
                "not_injected": "; ".join(not_injected[i]),
                "incident_value": _most_breaching(nearest[i], specs[i].comparison),
                "miss_reason": "; ".join(sorted(reasons[i])),
            }
        )
    frame = pd.DataFrame(table, columns=TUNING_COLUMNS)
    for _, group in frame.groupby("alarm", sort=False):
        best = group.assign(
            _delay=group["detection_delay_min"].fillna(np.inf),
            _design=~(group["variant"] == "design"),
        ).sort_values(
            ["missed", "false_alarms_per_week", "_delay", "_design"], kind="stable"
        )
        frame.loc[best.index[0], "selected"] = True
    return frame


def normal_weeks(weeks: Replicator, *, fault_days: Sequence[int] = ()) -> Replicator:
    """``weeks`` without known incidents, for the false alarms of normal load.

    Regenerated weeks lose the spec's faults. A log's bootstrap draws only
    from its quiet days (:meth:`BootstrapDays.quiet_days`: no load error, no
    failed execution, not in ``fault_days``, e.g. the days a generated log's
    spec.json lists); when no day is quiet it keeps every day.
    """
    if isinstance(weeks, RegenerateWeeks) and weeks.spec.faults != Faults():
        return RegenerateWeeks(replace(weeks.spec, faults=Faults()), weeks.root)
    if isinstance(weeks, BootstrapDays):
        quiet = weeks.quiet_days(fault_days)
        if quiet.size and quiet.size < weeks.n_days:
            return BootstrapDays(
                weeks.workload, weeks.root, weeks.timezone, pool=quiet.tolist()
            )
    return weeks


def tune_sweep_alarms(ctx: SweepContext, replications: int) -> pd.DataFrame:
    """Tune a sweep's alarms under its base configuration and settings, on its
    normal weeks (:func:`tuning_weeks`) with its design's ELT contract."""
    return tune_alarms(
        ctx.alarms,
        tuning_weeks(ctx),
        WLMConfig.from_json(json.dumps(ctx.base_wlm)),
        ClusterSettings.from_dict(dict(ctx.base_settings)),
        contract=ctx.contract(),
        root=ctx.root,
        replications=replications,
    )


def tuning_weeks(ctx: SweepContext) -> Replicator:
    """The normal weeks of a sweep's alarm tuning: its own replication method
    (whole days of the user's log, or regenerated weeks) without the incidents
    known to be in it (:func:`normal_weeks`; a generated log's spec.json lists
    its fault days)."""
    spec = workload_spec(ctx)
    fault_days = sorted(spec.faults.days()) if spec is not None else []
    return normal_weeks(replicator(ctx), fault_days=fault_days)


def _evaluate(
    week: Any,
    config: WLMConfig,
    settings: ClusterSettings,
    r: int,
    root: int,
    specs: Sequence[Any],
    evaluate_alarms: Any,
) -> list[Any]:
    seed = int(stream(root, r, "engine").generate_state(1, np.uint64)[0])
    run = simulate_run(week, config, settings, seed=seed)
    result = evaluate_alarms(list(specs), run.datapoints)
    return list(result.states)


def _incident_week(
    weeks: Replicator, replication: int, fault: str, contract: ELTContract, root: int
) -> tuple[Workload, pd.Timestamp]:
    """A normal week with ``fault`` injected, and the incident's start (UTC)."""
    gen = np.random.default_rng(stream(root, replication, "faults"))
    injected = inject_faults(
        weeks.week(replication), parse_faults(fault), contract, gen
    )
    return injected.workload, pd.Timestamp(injected.incidents["start_at"].min())


def _storage_incident(
    week: Workload, fault: str, settings: ClusterSettings, contract: ELTContract
) -> tuple[Workload, ClusterSettings, pd.Timestamp, float]:
    """A normal week whose storage grows without reclaim from local midnight of
    day ``D`` (``storage_growth:D``) by :data:`STORAGE_GROWTH_SHARE` of the
    free space up to the week's last arrival: the settings that model it, the
    incident's start and its detection horizon [h] (the disk is about full at
    the end, so an alarm counts until then)."""
    from dpcsim.metrics.storage import storage_from_table

    kind, _, day_text = fault.partition(":")
    if kind != "storage_growth" or not day_text.isdigit():
        raise InputError(
            f"{fault!r}; expected storage_growth:DAY", location="storage_growth"
        )
    model = storage_from_table(settings.storage, source="settings [storage]")
    if model is None:
        raise InputError(
            "the storage model is off (no [storage] inputs); expected "
            'initial_used_gb and capacity_gb, or model = "on"',
            location="storage",
        )
    start = week.start_at
    local = start.tz_convert(contract.timezone).floor("D").tz_localize(None)
    at = (local + pd.Timedelta(days=int(day_text))).tz_localize(contract.timezone)
    end = pd.Timestamp(week.queries["arrival_at"].max())
    days_left = (end - at) / pd.Timedelta(days=1)
    if not days_left > 0:
        raise InputError(
            f"day {day_text}: the week ends before it; expected a day of the week",
            location="storage_growth",
        )
    free_gb = model.capacity_gb - model.initial_used_gb
    storage = {
        **settings.storage,
        "growth_fault_start_day": (at - start) / pd.Timedelta(days=1),
        "growth_fault_gb_per_day": STORAGE_GROWTH_SHARE * free_gb / days_left,
    }
    horizon_h = days_left * 24.0
    return week, replace(settings, storage=storage), at.tz_convert("UTC"), horizon_h


def calendar_days(week: Workload, timezone: str) -> int:
    """Calendar days ``week`` spans in ``timezone`` (at least 1)."""
    at = week.queries["arrival_at"].dt.tz_convert(timezone)
    if not len(at):
        return 1
    return int((at.max().floor("D") - at.min().floor("D")).days) + 1


def _is_failure_ratio(request: Mapping[str, Any]) -> bool:
    """A metric-math ratio of queries ``failed`` over ``attempted`` (the design's
    failure alarm), which the definition variants rewrite."""
    ids = {q.get("Id") for q in request.get("Metrics", [])}
    return {"failed", "attempted"} <= ids


def first_alarm_after(
    s: Any, start_at: pd.Timestamp, horizon_h: float = DETECTION_HORIZON_H
) -> float | None:
    """Minutes from ``start_at`` to the first transition to ALARM within
    ``horizon_h`` hours [min]; None when there is none."""
    from dpcsim.alarms import ALARM

    start_us, end_us = _horizon_us(start_at, horizon_h)
    in_alarm = s.states == ALARM
    previous = np.concatenate(([False], in_alarm[:-1]))
    rising = in_alarm & (~previous | (s.instants_us <= start_us))
    hits = np.flatnonzero(
        rising & (s.instants_us >= start_us) & (s.instants_us <= end_us)
    )
    if hits.size == 0:
        return None
    return float((s.instants_us[hits[0]] - start_us) / 60e6)


@dataclass(frozen=True, slots=True)
class Uncaught:
    """An alarm that misses an incident at every setting of the tuning grid.

    Attributes
    ----------
    alarm
        The alarm's name.
    thresholds
        The thresholds tried, ascending.
    nearest
        The lowest and highest of the rows' ``incident_value`` (the value
        nearest to breaching during the incidents each setting missed); None
        when not recorded.
    reasons
        The rows' distinct ``miss_reason`` parts.
    """

    alarm: str
    thresholds: tuple[float, ...]
    nearest: tuple[float, float] | None
    reasons: tuple[str, ...] = ()


def uncaught_alarms(tuning: pd.DataFrame) -> list[Uncaught]:
    """The alarms of an alarm_tuning.csv table no setting lets catch every
    incident injected for them, by name."""
    out = []
    for alarm, group in tuning.groupby("alarm", sort=True):
        incidents = group["incidents"].astype(int)
        if not (incidents > 0).any() or not (group["missed"].astype(int) > 0).all():
            continue
        nearest = None
        if "incident_value" in group:
            values = pd.to_numeric(group["incident_value"], errors="coerce").dropna()
            if not values.empty:
                nearest = (float(values.min()), float(values.max()))
        thresholds = tuple(sorted({float(t) for t in group["threshold"]}))
        reasons: set[str] = set()
        if "miss_reason" in group:
            for text in group["miss_reason"].astype("string").fillna(""):
                reasons |= {r for r in str(text).split("; ") if r}
        out.append(Uncaught(str(alarm), thresholds, nearest, tuple(sorted(reasons))))
    return out


def nearest_to_breach(
    s: Any, comparison: str, start_at: pd.Timestamp, horizon_h: float
) -> float:
    """The alarm's value nearest to breaching from ``start_at`` over
    ``horizon_h`` hours: the largest for a greater-than alarm, the smallest for
    a less-than one (NaN when no evaluation there had a datapoint)."""
    if s.values is None:
        return float("nan")
    start_us, end_us = _horizon_us(start_at, horizon_h)
    inside = (s.instants_us >= start_us) & (s.instants_us <= end_us)
    return _most_breaching(s.values[inside].tolist(), comparison)


def _horizon_us(start_at: pd.Timestamp, horizon_h: float) -> tuple[int, int]:
    """An incident's detection window [µs since the epoch], ends included."""
    start_us = int(start_at.value // 1000)
    return start_us, start_us + int(horizon_h * 3600e6)


def _miss_reason(value: float, spec: Any) -> str:
    """Why a missed incident was missed: never breached, or not for long enough."""
    from dpcsim.alarms.evaluate import breaches

    if (
        not np.isfinite(value)
        or not breaches(np.array([value]), spec.comparison, spec.threshold)[0]
    ):
        return NEVER_BREACHED
    return (
        f"breached, but never in {spec.datapoints_to_alarm} of "
        f"{spec.evaluation_periods} consecutive periods"
    )


def _most_breaching(values: Sequence[float], comparison: str) -> float:
    """The largest (greater-than alarms) or smallest of ``values``; NaN ignored."""
    seen = [v for v in values if np.isfinite(v)]
    if not seen:
        return float("nan")
    return max(seen) if comparison.startswith("Greater") else min(seen)


def _period(request: Mapping[str, Any]) -> int:
    if "Period" in request:
        return int(request["Period"])
    for q in request.get("Metrics", []):
        if "MetricStat" in q:
            return int(q["MetricStat"]["Period"])
    return 60


def _set_period(req: dict[str, Any], period: int) -> None:
    if "Period" in req:
        req["Period"] = period
    for q in req.get("Metrics", []):
        if "MetricStat" in q:
            q["MetricStat"]["Period"] = period


def _set_variant(req: dict[str, Any], variant: str) -> None:
    if variant == "design":
        return
    metrics = req["Metrics"]
    ret = next(q for q in metrics if q.get("ReturnData"))
    if variant.startswith("min_volume_"):
        volume = int(variant.removeprefix("min_volume_"))
        ret["Expression"] = f"IF(attempted >= {volume}, failed / attempted, 0)"
    else:
        failed = next(q for q in metrics if q.get("Id") == "failed")
        failed["MetricStat"]["Metric"]["MetricName"] = "WLMCausedFailedQueries"
