"""Alarm tuning: false alarms under normal load against detection of incidents.

For each alarm, every setting of a grid (threshold, period, evaluation periods
N with datapoints-to-alarm M, TreatMissingData, and for the failure-ratio
alarm a definition ``variant``) is evaluated on the same simulated weeks:

- **normal load**: regenerated weeks without faults (replications), giving
  false alarms per week (transitions to ALARM, scaled to 7 days) with a t
  interval;
- **incidents**: one week per injected fault the alarm exists to catch
  (:data:`INCIDENTS`), each giving the detection delay (incident start to the
  first transition to ALARM within :data:`DETECTION_HORIZON_H`) or a miss.

The selected setting per alarm catches every one of its incidents with the
fewest false alarms per week (ties: shorter mean delay, then the design's
setting); when none catches all, the one that misses fewest.

Failure-ratio variants (``Alert-Query-Failure``):

- ``design``: ``failed / attempted`` (every aborted, canceled or failed query);
- ``min_volume_<V>``: ``IF(attempted >= V, failed / attempted, 0)``, metric
  math's guard against quiet hours where a couple of user errors exceed 5 %;
- ``wlm_caused``: only the queries the cluster stopped (QMR aborts and
  timeout cancels) over attempted: ``Custom/DPC WLMCausedFailedQueries``, the
  published metric of :mod:`dpcsim.metrics.custom`, so the tuned alarm and the
  deployed one read the same series.

Storage growth is not among the incidents: the storage model is a setting of
:mod:`dpcsim.metrics.storage`, not a workload fault.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim.engine import ClusterSettings
from dpcsim.experiments.outcomes import simulate_run
from dpcsim.experiments.replicate import stream
from dpcsim.experiments.stats import mean_ci
from dpcsim.wlm import WLMConfig
from dpcsim.workload import DPCWorkloadSpec, Faults, generate_dpc_workload
from dpcsim.workload.whatif import elt_mask, scale_arrivals

__all__ = [
    "INCIDENTS",
    "TUNING_COLUMNS",
    "TuningGrid",
    "alarm_variants",
    "tune_alarms",
]

#: Incident kind -> alarms that exist to catch it (the design's intent).
INCIDENTS: Final[dict[str, tuple[str, ...]]] = {
    "copy_error": ("Alert-COPY-Error",),
    "late_start": ("Alert-ELT-Delay",),
    "failed_run": ("Alert-ELT-Delay",),
    "dbt_failure": ("Alert-ELT-Delay",),
    "stuck_query": ("Alert-Query-Failure",),
    "load_spike": ("Alert-WLM-Queue",),
}
#: How long after an incident starts a transition still counts as detection [h].
DETECTION_HORIZON_H: Final = 12.0
#: The day (0-based) incidents are injected on.
INCIDENT_DAY: Final = 1
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
    if name == "Alert-Query-Failure" and "Metrics" in request:
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
    spec: DPCWorkloadSpec,
    config: WLMConfig,
    settings: ClusterSettings,
    *,
    root: int,
    replications: int = 3,
    grid: TuningGrid | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """The alarm_tuning.csv table (see :data:`TUNING_COLUMNS`)."""
    from dpcsim.alarms import alarms_from_document, evaluate_alarms

    grid = grid or TuningGrid()
    normal_spec = replace(spec, faults=Faults())
    rows: list[dict[str, Any]] = []
    reqs: list[dict[str, Any]] = []
    for request in requests:
        for row, req in alarm_variants(request, grid):
            req["AlarmName"] = f"{row['alarm']}#{len(rows)}"
            rows.append(row)
            reqs.append(req)
    specs = alarms_from_document(reqs, source="alarm tuning grid")
    days = spec.days
    fa = np.zeros((len(rows), replications))
    for r in range(replications):
        gen = np.random.default_rng(stream(root, r, "generator"))
        week = generate_dpc_workload(normal_spec, gen)
        states = _evaluate(week, config, settings, r, root, specs, evaluate_alarms)
        for i, s in enumerate(states):
            fa[i, r] = _transitions(s.states) * 7.0 / days
    delays: dict[int, list[float]] = {i: [] for i in range(len(rows))}
    missed = np.zeros(len(rows), dtype=np.int64)
    incidents = np.zeros(len(rows), dtype=np.int64)
    for kind, targets in INCIDENTS.items():
        idx = [i for i, row in enumerate(rows) if row["alarm"] in targets]
        if not idx:
            continue
        week, start_at = _incident_week(spec, kind, root)
        states = _evaluate(
            week, config, settings, 0, root, [specs[i] for i in idx], evaluate_alarms
        )
        for i, s in zip(idx, states, strict=True):
            incidents[i] += 1
            delay = _first_alarm_after(s, start_at)
            if delay is None:
                missed[i] += 1
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
                "incidents": int(incidents[i]),
                "selected": False,
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
    spec: DPCWorkloadSpec, kind: str, root: int
) -> tuple[Any, pd.Timestamp]:
    """A week with one incident on :data:`INCIDENT_DAY` and the incident's start."""
    day = INCIDENT_DAY
    faults = {
        "copy_error": Faults(copy_errors=(day,)),
        "late_start": Faults(late_starts=((day, 150.0),)),
        "failed_run": Faults(failed_runs=((day, 60.0),)),
        "dbt_failure": Faults(dbt_failures=((day, "fct_learning_activity"),)),
        "stuck_query": Faults(stuck_queries=((day, 3.0),)),
    }.get(kind, Faults())
    gen = np.random.default_rng(
        stream(root, 10_000 + list(INCIDENTS).index(kind), "generator")
    )
    week = generate_dpc_workload(replace(spec, faults=faults), gen)
    midnight = pd.Timestamp(spec.start_date, tz="Asia/Tokyo") + pd.Timedelta(days=day)
    start = midnight + pd.Timedelta(minutes=spec.elt_start_min)
    if kind == "stuck_query":
        start = midnight + pd.Timedelta(hours=14)
    elif kind == "copy_error" and len(week.load_errors):
        start = pd.Timestamp(week.load_errors["error_at"].min())
    elif kind == "load_spike":
        # Three extra copies of the night's ELT statements arrive with it.
        local = week.queries["arrival_at"].dt.tz_convert("Asia/Tokyo")
        night = (local >= midnight) & (local < midnight + pd.Timedelta(days=1))
        mask = elt_mask(week.queries) & night.to_numpy()
        week = scale_arrivals(week, 4.0, np.random.default_rng(gen), where=mask)
    return week, start.tz_convert("UTC")


def _transitions(states: np.ndarray) -> int:
    from dpcsim.alarms import ALARM

    in_alarm = states == ALARM
    previous = np.concatenate(([False], in_alarm[:-1]))
    return int(np.sum(in_alarm & ~previous))


def _first_alarm_after(s: Any, start_at: pd.Timestamp) -> float | None:
    """Minutes from ``start_at`` to the first transition to ALARM within the horizon."""
    from dpcsim.alarms import ALARM

    start_us = int(start_at.value // 1000)
    end_us = start_us + int(DETECTION_HORIZON_H * 3600e6)
    in_alarm = s.states == ALARM
    previous = np.concatenate(([False], in_alarm[:-1]))
    rising = in_alarm & (~previous | (s.instants_us <= start_us))
    hits = np.flatnonzero(
        rising & (s.instants_us >= start_us) & (s.instants_us <= end_us)
    )
    if hits.size == 0:
        return None
    return float((s.instants_us[hits[0]] - start_us) / 60e6)


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
