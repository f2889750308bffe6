"""The recommendation: what to deploy, how robustly, with how much headroom.

:func:`recommend` reads a sweep folder (results.parquet, space.toml,
sweep.json) and returns the tables and records ``dpcsim recommend`` writes:

- **objectives** (from the space file, defaults from the design): no
  transition to ALARM of the objective alarms under normal load, every ELT
  night inside its window with at least the stated probability, adhoc p95
  wait at most the stated value. "Normal load" is the scenario with growth 1
  and no ELT shift (else the first scenario).
- **robustness**: a configuration qualifies when it meets every objective
  under at least ``robust_share`` of the assumption points tried; among those
  the lowest mean cost wins (ties: lower adhoc p95 wait). When none
  qualifies, the assumption axis whose value changes the most verdicts is
  named.
- **Pareto front** of cost vs ELT lateness vs adhoc p95 wait (means under
  normal load over every assumption point, t intervals), with the
  configurations whose paired differences against the best on all three are
  not significant (Bonferroni-corrected) marked indistinguishable.
- **headroom** of the recommended and the baseline configuration: the
  growth at which each objective first fails and each alarm starts firing
  daily (at least one transition per simulated day), by bisection over growth
  with replications; the interval is the bracket between the largest growth
  that passes with confidence (the metric's interval entirely on the good
  side) and the smallest that fails with confidence. It is computed under the
  base settings and every other assumption point the sweep tried (or, past
  :data:`MAX_HEADROOM_POINTS`, each axis's worst value: :func:`headroom_points`);
  headroom.csv reports the minimum over them as the robust headroom and names
  the assumption point that decides it (:func:`robust_headroom`).
- a **time-of-day schedule** candidate (one configuration for the ELT window,
  one for the day, differing only in dynamic WLM properties: no reboot). When
  the space has schedule decisions (``[decisions.schedule]``), the engine
  simulated them, switches and transitions included (running queries keep
  their memory, new slots open as it frees, a new timeout applies to later
  starts: :mod:`dpcsim.engine.switching`); the best schedule (by the same
  objectives and robustness, then cost and adhoc wait) is compared with the
  best single configuration, with paired differences, and the record says
  ``transition_simulated: true``. Schedules do not compete for the single
  best configuration, the Pareto front or the robustness table. Without
  schedule decisions the record falls back to figures composed from two
  single configurations' runs (the best for ELT lateness at night, the best
  for adhoc waits by day), labelled ``transition_simulated: false``.
- **Redshift Advisor's WLM rule** (fewer slots where a queue's slots stay
  idle: slots cut to the queue's peak concurrency on the main cluster in the
  baseline run) applied to the baseline, with its simulated effect. AWS does
  not publish the rule's exact thresholds (UNCONFIRMED); this is the reading
  the rule's description gives.
- the **verdict** on "does the design hold": the baseline against every
  objective per growth scenario.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dpcsim.canonical import jsonable
from dpcsim.engine import ClusterSettings
from dpcsim.errors import InputError
from dpcsim.experiments.execute import SweepContext, Task, run_task
from dpcsim.experiments.outcomes import EltWindow
from dpcsim.experiments.space import (
    Objectives,
    Space,
    apply_assumption,
    apply_decision,
    axis_id,
    is_schedule,
    queue_alarms,
    schedule_of,
    space_from_dict,
)
from dpcsim.experiments.stats import mean_ci, paired_differences
from dpcsim.experiments.tuning import uncaught_alarms
from dpcsim.wlm import WLMConfig
from dpcsim.workload.faults import NO_FAULTS

__all__ = [
    "HEADROOM_COLUMNS",
    "HEADROOM_POINT_COLUMNS",
    "PARETO_METRICS",
    "HeadroomPoints",
    "Recommendation",
    "assumption_label",
    "decision_words",
    "headroom_points",
    "load_sweep",
    "normal_scenario_ids",
    "recommend",
    "robust_headroom",
]

#: pareto.csv metric name -> results column.
PARETO_METRICS = {
    "cost_usd": "metric.cost_usd",
    "elt_lateness_min": "metric.elt_lateness_min",
    "adhoc_p95_wait_s": "metric.wait_p95_s.adhoc",
}
#: headroom.csv: one row per configuration and target. ``growth_at_failure``,
#: ``ci_low`` and ``ci_high`` are the robust headroom (the minimum over the
#: assumption points evaluated), ``deciding_assumption`` the point that gives
#: it ("none" when the base assumptions are as low), ``base_*`` the headroom
#: under the base assumptions, ``assumption_points`` how many points (the base
#: included) were evaluated.
HEADROOM_COLUMNS = [
    "config_id",
    "target",
    "kind",
    "growth_at_failure",
    "ci_low",
    "ci_high",
    "deciding_assumption",
    "base_growth_at_failure",
    "base_ci_low",
    "base_ci_high",
    "assumption_points",
]
#: Per-point headroom columns (recommendation.json evidence ``by_assumption``).
HEADROOM_POINT_COLUMNS = [
    "config_id",
    "assumption_id",
    "assumption",
    "target",
    "kind",
    "growth_at_failure",
    "ci_low",
    "ci_high",
]
_POINT_VALUES = ["target", "kind", "growth_at_failure", "ci_low", "ci_high"]
#: Growth range the headroom bisection searches.
GROWTH_RANGE = (1.0, 4.0)
#: Most assumption points (besides the base) headroom is evaluated under. Each
#: point costs a whole bisection per configuration (about (2 + steps x targets)
#: growth values x replications runs); beyond this many, headroom is evaluated
#: under the base and, per assumption axis, its worst value in the sweep.
MAX_HEADROOM_POINTS = 4
#: ``deciding_assumption`` when no assumption point gives less headroom than
#: the base assumptions.
NO_DECIDING_ASSUMPTION = "none"


@dataclass(frozen=True, slots=True)
class Recommendation:
    """What ``dpcsim recommend`` writes."""

    document: dict[str, Any]  # recommendation.json
    pareto: pd.DataFrame
    headroom: pd.DataFrame
    alarm_tuning: pd.DataFrame | None
    verdict_table: pd.DataFrame


def load_sweep(folder: str | Path) -> tuple[Space, SweepContext, pd.DataFrame]:
    """The space, context and results of a sweep folder."""
    import tomllib

    root = Path(folder)
    for name in ("results.parquet", "space.toml", "sweep.json"):
        if not (root / name).is_file():
            raise InputError(
                f"no {name}; expected a folder written by dpcsim sweep",
                source=str(root),
            )
    raw = json.loads((root / "sweep.json").read_text(encoding="utf-8"))
    raw["window"] = EltWindow(**raw["window"])
    ctx = SweepContext(**raw)
    base = WLMConfig.from_json(json.dumps(ctx.base_wlm))
    settings = ClusterSettings.from_dict(dict(ctx.base_settings))
    text = (root / "space.toml").read_text(encoding="utf-8")
    space = space_from_dict(
        tomllib.loads(text),
        source=str(root / "space.toml"),
        text=text,
        base=base,
        settings=settings,
        elt=ctx.contract(),
        alarms=ctx.alarms,
    )
    results = pd.read_parquet(root / "results.parquet")
    return space, ctx, results


def recommend(
    space: Space,
    ctx: SweepContext,
    results: pd.DataFrame,
    *,
    replications: int = 3,
    headroom_steps: int = 4,
    max_headroom_points: int = MAX_HEADROOM_POINTS,
    tuning: pd.DataFrame | None = None,
) -> Recommendation:
    """Build the recommendation from a finished sweep (see module docstring).

    ``replications`` and ``headroom_steps`` size each headroom bisection;
    ``max_headroom_points`` caps the assumption points it runs under
    (:func:`headroom_points`).
    """
    obj = space.objectives
    ok = results.loc[results["status"] == "ok"].copy()
    if ok.empty:
        raise InputError("the sweep has no successful run to recommend from")
    baseline_id = axis_id("c", space.baseline)
    normal_id = _normal_scenario(space)
    schedule_ids = {axis_id("c", d) for d in space.decisions if is_schedule(d)}
    normal_all = ok.loc[ok["scenario_id"] == normal_id]
    # The single configurations; schedules are weighed in their own record.
    normal = normal_all.loc[~normal_all["config_id"].isin(schedule_ids)]
    meets = _meets(normal, obj)
    robust = meets.groupby("config_id")["meets"].mean()
    qualified = robust[robust >= obj.robust_share - 1e-12].index.tolist()
    means = normal.groupby("config_id")[list(PARETO_METRICS.values())].mean()
    pareto = _pareto(normal, means, qualified, space.level)
    if qualified:
        order = means.loc[qualified].sort_values(
            ["metric.cost_usd", "metric.wait_p95_s.adhoc"], kind="stable"
        )
        chosen = str(order.index[0])
    else:
        chosen = baseline_id
    decisions = {axis_id("c", d): d for d in space.decisions}
    base_config = WLMConfig.from_json(json.dumps(ctx.base_wlm))
    base_settings = ClusterSettings.from_dict(dict(ctx.base_settings))
    config, settings = apply_decision(base_config, base_settings, decisions[chosen])
    headroom_ids = list(dict.fromkeys([chosen, baseline_id]))
    points = headroom_points(space, ctx, ok, headroom_ids, limit=max_headroom_points)
    headroom, by_point = _headroom_all(
        ctx, decisions, headroom_ids, points, obj, replications, headroom_steps
    )
    verdict_table = _verdict_table(ok, space, baseline_id)
    holds = bool(
        verdict_table.loc[verdict_table["scenario_id"] == normal_id, "meets_all"].all()
    )
    names = {
        c: decision_words(base_config, base_settings, d)
        for c, d in sorted(decisions.items())
    }
    records = [
        _record_best(
            chosen, baseline_id, qualified, robust, means, meets, space, decisions
        ),
        _record_verdict(holds, verdict_table, headroom, baseline_id),
        _record_pareto(pareto),
        _record_headroom(
            headroom,
            by_point,
            points,
            queue_alarms(ctx.alarms),
            _roles(chosen, baseline_id, bool(qualified), names),
        ),
        _record_schedule(
            normal_all, decisions, means, chosen, schedule_ids, obj, space.level, names
        ),
        _record_advisor(
            ctx, decisions[baseline_id], baseline_id, normal, obj, replications
        ),
    ]
    incidents = _record_incidents(
        ok, space, list(dict.fromkeys([chosen, baseline_id])), names
    )
    if incidents is not None:
        records.append(incidents)
    if tuning is not None:
        records.append(_record_tuning(tuning))
    for rank, rec in enumerate(records, start=1):
        rec["impact_ranking"] = (
            "HIGH" if rank <= 2 else ("MEDIUM" if rank <= 4 else "LOW")
        )
    text = _verdict_text(
        holds, chosen, baseline_id, bool(qualified), headroom, points, names
    )
    failing = _failing_objectives(meets, baseline_id, obj)
    if failing:
        text += " Under normal load the baseline misses: " + "; ".join(failing) + "."
    document = {
        "verdict": {"holds": holds, "text": text},
        "baseline_config_id": baseline_id,
        "recommended_config_id": chosen,
        "config_names": names,
        "recommended": {
            "wlm_json": config.to_json(),
            "max_concurrency_scaling_clusters": int(
                settings.max_concurrency_scaling_clusters
            ),
            "decision": decisions[chosen],
        },
        "objectives": {
            "max_alarm_transitions": obj.max_alarm_transitions,
            "alarms": list(obj.alarms),
            "elt_on_time_probability": obj.elt_on_time_probability,
            "elt_window": list(obj.elt_window),
            "timezone": obj.timezone,
            "adhoc_p95_wait_s": obj.adhoc_p95_wait_s,
            "robust_share": obj.robust_share,
            "level": space.level,
        },
        "recommendations": records,
    }
    return Recommendation(
        document=jsonable(document),
        pareto=pareto,
        headroom=headroom,
        alarm_tuning=tuning,
        verdict_table=verdict_table,
    )


def decision_words(
    base: WLMConfig, settings: ClusterSettings, decision: Mapping[str, Any]
) -> str:
    """A configuration named by its decisions, e.g. "batch/admin/adhoc 8/3/5,
    SQA on, CS on batch" (slots per queue in WLM order; memory, timeouts and the scaling
    cluster cap only when the decision sets them).

    >>> from dpcsim.designs.dpc_wlm import dpc_design_config
    >>> decision_words(dpc_design_config(), ClusterSettings(), {"slots.batch": 6})
    'batch/admin/adhoc 6/3/5, SQA on, CS on batch+admin'

    A schedule point names each of its configurations with its switch time.
    """
    schedule = schedule_of(base, settings, decision)
    if schedule is not None:
        words = []
        for (at, config), part in zip(schedule.switches, ("elt", "day"), strict=True):
            prefix = f"schedule.{part}."
            entry = {
                k.removeprefix(prefix): v
                for k, v in decision.items()
                if k.startswith(prefix)
            }
            words.append(f"{_config_words(config, settings, entry)} from {at}")
        return f"schedule ({schedule.timezone}): " + "; ".join(words)
    config, applied = apply_decision(base, settings, decision)
    return _config_words(config, applied, decision)


def _config_words(
    config: WLMConfig, applied: ClusterSettings, decision: Mapping[str, Any]
) -> str:
    names = "/".join(q.name for q in config.queues)
    slots = "/".join(
        "auto" if q.queue_type == "auto" else str(q.query_concurrency)
        for q in config.queues
    )
    parts = [f"{names} {slots}"]
    if config.is_auto:
        parts.append("priority " + "/".join(q.priority for q in config.queues))
    if any(k.startswith("memory_pct.") for k in decision):
        memory = "/".join(
            "auto" if q.memory_percent_to_use is None else str(q.memory_percent_to_use)
            for q in config.queues
        )
        parts.append(f"memory {memory} %")
    for key, value in sorted(decision.items()):
        if key.startswith("timeout_s."):
            queue = key.removeprefix("timeout_s.")
            parts.append(
                f"{queue} timeout {int(value)} s" if value else f"{queue} no timeout"
            )
        elif key.startswith("qmr."):
            _, _, rule, field = key.split(".")
            parts.append(
                f"QMR {rule} {value}"
                if field == "action"
                else f"QMR {rule} {field} > {value}"
            )
    if config.sqa is None or not config.sqa.enabled:
        parts.append("SQA off")
    elif config.sqa.max_execution_time:
        parts.append(f"SQA on (max {config.sqa.max_execution_time // 1000} s)")
    else:
        parts.append("SQA on")
    scaled = [q.name for q in config.queues if q.concurrency_scaling == "auto"]
    parts.append("CS on " + "+".join(scaled) if scaled else "CS off")
    if "max_concurrency_scaling_clusters" in decision and scaled:
        parts.append(f"up to {applied.max_concurrency_scaling_clusters} CS clusters")
    return ", ".join(parts)


def _normal_scenario(space: Space) -> str:
    for s in space.scenarios:
        if _is_normal(s):
            return axis_id("s", s)
    return axis_id("s", space.scenarios[0])


def normal_scenario_ids(results: pd.DataFrame) -> list[str]:
    """The scenario ids of a results table that are today's load
    (growth 1, data growth 1, no ELT shift, no fault)."""
    cols = [c for c in results.columns if c.startswith("scenario.")]
    out = []
    for sid, group in results.groupby("scenario_id", sort=True):
        first = group[cols].iloc[0]
        values = {
            str(c).removeprefix("scenario."): v for c, v in first.items() if pd.notna(v)
        }
        if _is_normal(values):
            out.append(str(sid))
    return out


def _is_normal(scenario: Mapping[str, Any]) -> bool:
    """Today's load: growth 1, data growth 1, no ELT shift and no fault."""
    return (
        float(scenario.get("growth", 1.0)) == 1.0
        and float(scenario.get("data_growth", 1.0)) == 1.0
        and float(scenario.get("elt_shift_min", 0.0)) == 0.0
        and not _faults(scenario)
    )


def _faults(scenario: Mapping[str, Any]) -> str:
    """The scenario's injected faults, "" when none."""
    value = str(scenario.get("faults", NO_FAULTS)).strip()
    return "" if value == NO_FAULTS else value


def _alarm_columns(frame: pd.DataFrame, obj: Objectives) -> list[str]:
    cols = [c for c in frame.columns if c.startswith("metric.alarm_transitions.")]
    if obj.alarms:
        cols = [
            c for c in cols if c.removeprefix("metric.alarm_transitions.") in obj.alarms
        ]
    return cols


def _meets(frame: pd.DataFrame, obj: Objectives) -> pd.DataFrame:
    """Per config and assumption point: the objectives' means and whether all hold."""
    alarm_cols = _alarm_columns(frame, obj)
    data = frame.assign(_alarms=frame[alarm_cols].sum(axis=1) if alarm_cols else 0.0)
    g = data.groupby(["config_id", "assumption_id"])
    out = pd.DataFrame(
        {
            "alarms": g["_alarms"].mean(),
            "elt_on_time": g["metric.elt_on_time"].mean(),
            "adhoc_p95_wait_s": g["metric.wait_p95_s.adhoc"].mean(),
        }
    )
    out["ok_alarms"] = out["alarms"] <= obj.max_alarm_transitions
    out["ok_elt"] = out["elt_on_time"] >= obj.elt_on_time_probability
    out["ok_wait"] = out["adhoc_p95_wait_s"] <= obj.adhoc_p95_wait_s
    out["meets"] = out[["ok_alarms", "ok_elt", "ok_wait"]].all(axis=1)
    return out.reset_index()


def _pareto(
    normal: pd.DataFrame, means: pd.DataFrame, qualified: list[str], level: float
) -> pd.DataFrame:
    rows = []
    for config_id, group in normal.groupby("config_id", sort=True):
        row: dict[str, Any] = {"config_id": config_id}
        for name, col in PARETO_METRICS.items():
            _, mean, low, high = mean_ci(group[col].to_numpy(dtype=np.float64), level)
            row |= {name: mean, f"{name}_ci_low": low, f"{name}_ci_high": high}
        rows.append(row)
    frame = pd.DataFrame(rows)
    values = frame[list(PARETO_METRICS)].to_numpy(dtype=np.float64)
    front = np.ones(len(frame), dtype=bool)
    for i in range(len(frame)):
        dominated = np.all(values <= values[i], axis=1) & np.any(
            values < values[i], axis=1
        )
        front[i] = not dominated.any()
    frame["on_front"] = front
    pool = [c for c in qualified if c in set(frame["config_id"])] or list(
        frame.loc[front, "config_id"]
    )
    best = str(means.loc[pool].sort_values(list(PARETO_METRICS.values())).index[0])
    # paired_differences takes metric names without the results' "metric." prefix.
    names = [col.removeprefix("metric.") for col in PARETO_METRICS.values()]
    diffs = paired_differences(normal, best, names, level=level)
    significant = diffs.groupby("config_id")["significant"].any()
    frame["indistinguishable_from_best"] = [
        c == best or not bool(significant.get(c, True)) for c in frame["config_id"]
    ]
    return frame


def _evaluate_growth(
    ctx: SweepContext,
    decision: dict[str, Any],
    growth: float,
    reps: int,
    assumption: Mapping[str, Any],
) -> pd.DataFrame:
    rows = []
    for r in range(reps):
        task = Task(
            replication=r,
            scenario={"growth": round(growth, 4)},
            assumption=dict(assumption),
            decisions=(decision,),
        )
        rows.extend(run_task(task, ctx))
    return pd.DataFrame(rows)


@dataclass(frozen=True, slots=True)
class HeadroomPoints:
    """The assumption points headroom is evaluated under, and why those.

    ``points[0]`` is always the base (``{}``: the sweep's base settings);
    ``labels`` name each point by the values it changes from the base.
    """

    points: tuple[dict[str, Any], ...]
    labels: tuple[str, ...]
    selection: str


def headroom_points(
    space: Space,
    ctx: SweepContext,
    results: pd.DataFrame,
    config_ids: Sequence[str],
    *,
    limit: int = MAX_HEADROOM_POINTS,
) -> HeadroomPoints:
    """The base plus every distinct assumption point tried, or, when there are
    more than ``limit`` of them, the base plus each axis's worst value.

    A point whose settings equal the base's is the base (same runs under
    common random numbers) and is not evaluated twice. An axis's worst value
    is the one under which ``config_ids`` meet the objectives least often in
    the sweep (every scenario), ties broken by the higher mean adhoc p95 wait,
    then the higher ELT lateness.
    """
    base = ClusterSettings.from_dict(dict(ctx.base_settings))
    tried: list[dict[str, Any]] = []
    seen = [base]
    for point in space.assumptions:
        settings = apply_assumption(base, point)
        if settings not in seen:
            seen.append(settings)
            tried.append(_changed(base, point))
    if len(tried) <= limit:
        chosen = tried
        selection = (
            "every assumption point tried in the sweep"
            if tried
            else "the base assumptions only (the sweep tried no other point)"
        )
    else:
        chosen = []
        for name in sorted({k for a in space.assumptions for k in a}):
            worst = _worst_value(space, results, config_ids, name)
            if worst is None:
                continue
            point = _changed(base, {name: worst})
            if point and point not in chosen:
                chosen.append(point)
        selection = (
            f"the base and each axis's worst value: the sweep tried {len(tried)} "
            f"points, more than the {limit} a headroom bisection per point and "
            "configuration can afford"
        )
    points = ({}, *chosen)
    return HeadroomPoints(
        points=tuple(points),
        labels=tuple(assumption_label(p) for p in points),
        selection=selection,
    )


def _changed(base: ClusterSettings, point: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``point`` that differ from ``base``."""
    return {k: v for k, v in sorted(point.items()) if getattr(base, k, object()) != v}


def assumption_label(point: Mapping[str, Any]) -> str:
    """``name=value`` of each assumption a point changes, or "base".

    >>> assumption_label({"contention_sigma": 0.04412, "sqa_slots": 3})
    'contention_sigma=0.04412, sqa_slots=3'
    """
    if not point:
        return "base"
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in sorted(point.items())
    )


def _worst_value(
    space: Space, results: pd.DataFrame, config_ids: Sequence[str], name: str
) -> Any:
    column = f"assumption.{name}"
    rows = results.loc[results["config_id"].isin(list(config_ids))]
    if column not in rows or rows.empty:
        return None
    meets = _meets(rows, space.objectives)
    by_id = rows.drop_duplicates("assumption_id").set_index("assumption_id")[column]
    meets["_value"] = meets["assumption_id"].map(by_id)
    lateness = rows.groupby(column)["metric.elt_lateness_min"].mean()
    table = pd.DataFrame(
        {
            "meets": meets.groupby("_value")["meets"].mean(),
            "wait": meets.groupby("_value")["adhoc_p95_wait_s"].mean(),
        }
    )
    table["lateness"] = lateness.reindex(table.index)
    table = table.dropna(subset=["meets"])
    if table.empty:
        return None
    table["_key"] = [str(v) for v in table.index]
    order = table.sort_values(
        ["meets", "wait", "lateness", "_key"],
        ascending=[True, False, False, True],
        kind="stable",
    )
    value = order.index[0]
    return value.item() if isinstance(value, np.generic) else value


def _headroom_all(
    ctx: SweepContext,
    decisions: Mapping[str, dict[str, Any]],
    config_ids: Sequence[str],
    points: HeadroomPoints,
    obj: Objectives,
    reps: int,
    steps: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(headroom.csv rows, per-point rows) of ``config_ids`` under ``points``."""
    per_point = []
    for c in config_ids:
        for point, label in zip(points.points, points.labels, strict=True):
            frame = _headroom(ctx, decisions[c], c, obj, reps, steps, point)
            per_point.append(
                frame.assign(
                    assumption_id=axis_id("a", point) if point else "base",
                    assumption=label,
                )
            )
    by_point = pd.concat(per_point, ignore_index=True)[HEADROOM_POINT_COLUMNS]
    return robust_headroom(by_point), by_point


def robust_headroom(by_point: pd.DataFrame) -> pd.DataFrame:
    """headroom.csv from per-point rows: the minimum over the points.

    The robust growth is the smallest point's; its interval runs from the
    smallest lower end to the smallest upper end (if every point's growth
    lies in its interval, the minimum lies in that one). The deciding
    assumption is the first point, in evaluation order, with the smallest
    growth, or "none" when the base (the first point) is as small.
    """
    rows = []
    for (config_id, target), group in by_point.groupby(
        ["config_id", "target"], sort=False
    ):
        growth = group["growth_at_failure"].to_numpy(dtype=np.float64)
        base = group.iloc[0]
        low = float(np.min(growth))
        at = int(np.argmin(growth))
        deciding = (
            NO_DECIDING_ASSUMPTION
            if growth[0] <= low
            else str(group["assumption"].iloc[at])
        )
        rows.append(
            (
                config_id,
                target,
                str(base["kind"]),
                low,
                float(group["ci_low"].min()),
                float(group["ci_high"].min()),
                deciding,
                float(base["growth_at_failure"]),
                float(base["ci_low"]),
                float(base["ci_high"]),
                len(group),
            )
        )
    return pd.DataFrame(rows, columns=HEADROOM_COLUMNS)


def _headroom(
    ctx: SweepContext,
    decision: dict[str, Any],
    config_id: str,
    obj: Objectives,
    reps: int,
    steps: int,
    assumption: Mapping[str, Any],
) -> pd.DataFrame:
    """Growth at which each objective fails and each alarm fires daily, under
    one assumption point (config_id, target, kind, growth_at_failure, ci_low,
    ci_high)."""
    cache: dict[float, pd.DataFrame] = {}

    def at(g: float) -> pd.DataFrame:
        key = round(g, 4)
        if key not in cache:
            cache[key] = _evaluate_growth(ctx, decision, key, reps, assumption)
        return cache[key]

    first = at(GROWTH_RANGE[0])
    days = _days(ctx)
    targets: list[tuple[str, str, str, float, bool]] = [
        (
            "adhoc_p95_wait_s",
            "objective",
            "metric.wait_p95_s.adhoc",
            obj.adhoc_p95_wait_s,
            True,
        ),
        (
            "elt_on_time",
            "objective",
            "metric.elt_on_time",
            obj.elt_on_time_probability,
            False,
        ),
    ]
    for col in sorted(
        c for c in first.columns if c.startswith("metric.alarm_transitions.")
    ):
        targets.append(
            (
                col.removeprefix("metric.alarm_transitions."),
                "alarm",
                col,
                float(days),
                True,
            )
        )
    rows = []
    for name, kind, col, limit, upper in targets:

        def verdict(
            g: float, col: str = col, limit: float = limit, upper: bool = upper
        ) -> tuple[bool, bool, bool]:
            x = at(g)
            if col not in x or x["status"].ne("ok").all():
                return True, True, False
            _, mean, low, high = mean_ci(x[col].to_numpy(dtype=np.float64), 0.95)
            low = mean if not math.isfinite(low) else low
            high = mean if not math.isfinite(high) else high
            if upper:  # fails when the metric exceeds the limit
                return mean > limit, low > limit, high <= limit
            return mean < limit, high < limit, low >= limit

        lo, hi = GROWTH_RANGE
        fail_lo, _, _ = verdict(lo)
        if fail_lo:
            rows.append((config_id, name, kind, lo, lo, lo))
            continue
        fail_hi, _, _ = verdict(hi)
        if not fail_hi:
            rows.append((config_id, name, kind, math.inf, hi, math.inf))
            continue
        for _ in range(steps):
            mid = (lo + hi) / 2.0
            if verdict(mid)[0]:
                hi = mid
            else:
                lo = mid
        evaluated = sorted(cache)
        sure_pass = [g for g in evaluated if verdict(g)[2]]
        sure_fail = [g for g in evaluated if verdict(g)[1]]
        ci_low = max([g for g in sure_pass if g <= hi], default=GROWTH_RANGE[0])
        ci_high = min([g for g in sure_fail if g >= lo], default=math.inf)
        rows.append((config_id, name, kind, (lo + hi) / 2.0, ci_low, ci_high))
    return pd.DataFrame(rows, columns=HEADROOM_POINT_COLUMNS[:1] + _POINT_VALUES)


def _days(ctx: SweepContext) -> int:
    from dpcsim.experiments.execute import _scenario_workload

    w = _scenario_workload(ctx, 0, {})
    span = w.queries["arrival_at"].max() - w.queries["arrival_at"].min()
    return max(1, round(float(span / pd.Timedelta(days=1))))


def _verdict_table(ok: pd.DataFrame, space: Space, baseline_id: str) -> pd.DataFrame:
    base = ok.loc[ok["config_id"] == baseline_id]
    meets = []
    for s in space.scenarios:
        sid = axis_id("s", s)
        m = _meets(base.loc[base["scenario_id"] == sid], space.objectives)
        faults = _faults(s)
        for row in m.itertuples(index=False):
            # Under an injected incident the alarms are meant to fire: the
            # service objectives (ELT on time, adhoc wait) are what must hold.
            meets_all = (row.ok_elt and row.ok_wait) if faults else row.meets
            meets.append(
                {
                    "scenario_id": sid,
                    "growth": float(s.get("growth", 1.0)),
                    "elt_shift_min": float(s.get("elt_shift_min", 0.0)),
                    "data_growth": float(s.get("data_growth", 1.0)),
                    "faults": faults or NO_FAULTS,
                    "assumption_id": row.assumption_id,
                    "alarm_transitions": row.alarms,
                    "elt_on_time": row.elt_on_time,
                    "adhoc_p95_wait_s": row.adhoc_p95_wait_s,
                    "meets_all": bool(meets_all),
                }
            )
    return pd.DataFrame(meets)


def _record_incidents(
    ok: pd.DataFrame,
    space: Space,
    config_ids: Sequence[str],
    names: Mapping[str, str],
) -> dict[str, Any] | None:
    """How the recommended and the baseline configuration ride out each
    injected incident (the ``faults`` scenarios); None without any."""
    scenarios = [s for s in space.scenarios if _faults(s)]
    if not scenarios:
        return None
    obj = space.objectives
    alarm_cols = [c for c in ok.columns if c.startswith("metric.alarm_transitions.")]
    rows: list[dict[str, Any]] = []
    for s in scenarios:
        sid = axis_id("s", s)
        for config_id in config_ids:
            runs = ok.loc[(ok["scenario_id"] == sid) & (ok["config_id"] == config_id)]
            if runs.empty:
                continue
            fired = {
                c.removeprefix("metric.alarm_transitions."): float(runs[c].mean())
                for c in alarm_cols
                if runs[c].mean() > 0
            }
            elt = float(runs["metric.elt_on_time"].mean())
            wait = float(runs["metric.wait_p95_s.adhoc"].mean())
            rows.append(
                {
                    "scenario_id": sid,
                    "faults": _faults(s),
                    "config_id": config_id,
                    "runs": len(runs),
                    "elt_on_time": elt,
                    "adhoc_p95_wait_s": wait,
                    "service_objectives_met": bool(
                        elt >= obj.elt_on_time_probability
                        and wait <= obj.adhoc_p95_wait_s
                    ),
                    "alarm_transitions": fired,
                }
            )
    chosen = config_ids[0]
    mine = [r for r in rows if r["config_id"] == chosen]
    held = sum(r["service_objectives_met"] for r in mine)
    silent = [r["faults"] for r in mine if not r["alarm_transitions"]]
    obs = (
        f"{chosen} ({names.get(chosen, chosen)}) keeps the ELT on time and the "
        f"adhoc wait within target under {held} of {len(mine)} injected incident "
        "scenario(s)."
    )
    if silent:
        obs += " No alarm fired for: " + "; ".join(silent) + "."
    actions = [
        "Check that every incident the design cares about fires the alarm meant "
        "for it (alarm_tuning.csv gives each alarm's detection delay).",
    ]
    if held < len(mine):
        actions.append(
            "Plan the runbook's re-run or a larger batch share for the incidents "
            "that miss the window."
        )
    return _record(
        "INCIDENTS",
        "What an incident does to the recommended and the baseline configuration",
        obs,
        actions,
        {"scenarios": rows},
    )


def _record(
    id_: str,
    title: str,
    observation: str,
    actions: list[str],
    evidence: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "id": id_,
        "title": title,
        "observation": observation,
        "impact_ranking": "",
        "recommended_actions": actions,
        "evidence": dict(evidence),
    }


def _record_best(
    chosen: str,
    baseline_id: str,
    qualified: list[str],
    robust: pd.Series,
    means: pd.DataFrame,
    meets: pd.DataFrame,
    space: Space,
    decisions: Mapping[str, Any],
) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "qualified_configs": len(qualified),
        "configs": int(robust.size),
        "share_of_assumptions_met": {str(k): float(v) for k, v in robust.items()},
        "means_normal_load": means.loc[chosen].to_dict(),
    }
    if qualified:
        obs = (
            f"{len(qualified)} of {robust.size} configurations meet every objective "
            f"under at least {space.objectives.robust_share:.0%} of the assumption "
            f"points; {chosen} is the cheapest of them."
        )
        actions = [f"Deploy {chosen}: {decisions[chosen]}."]
    else:
        axis = _deciding_assumption(meets, space)
        if axis.startswith("none"):
            failing = sorted(
                {
                    o
                    for c in meets["config_id"].unique()
                    for o in _failing_objectives(meets, c, space.objectives)
                }
            )
            obs = (
                "No configuration meets every objective under any assumption point "
                "tried, so no assumption decides it; missed: "
                + "; ".join(failing)
                + "."
            )
            return _record(
                "WLM-CONFIG",
                "The WLM configuration to deploy",
                obs,
                [
                    "Revisit the objectives or the workload: no WLM decision "
                    "in the space meets them."
                ],
                {**evidence, "deciding_assumption": None},
            )
        obs = (
            "No configuration meets every objective under the required share of "
            f"assumption points; the deciding assumption is {axis}."
        )
        actions = [
            f"Pin down {axis} (measure it on the cluster) before choosing.",
            "Keep the baseline until then.",
        ]
        evidence["deciding_assumption"] = axis
    return _record(
        "WLM-CONFIG", "The WLM configuration to deploy", obs, actions, evidence
    )


def _deciding_assumption(meets: pd.DataFrame, space: Space) -> str:
    ids = {axis_id("a", a): a for a in space.assumptions}
    best, spread_best = "none", 0.0
    names = sorted({k for a in space.assumptions for k in a})
    for name in names:
        rate = meets.assign(_v=[str(ids[a].get(name)) for a in meets["assumption_id"]])
        by_value = rate.groupby("_v")["meets"].mean()
        spread = float(by_value.max() - by_value.min()) if len(by_value) > 1 else 0.0
        if spread > spread_best:
            best, spread_best = name, spread
    return best


def _record_verdict(
    holds: bool, table: pd.DataFrame, headroom: pd.DataFrame, baseline_id: str
) -> dict[str, Any]:
    today = table.loc[
        (table["faults"] == NO_FAULTS)
        & (table["elt_shift_min"] == 0.0)
        & (table["data_growth"] == 1.0)
    ]
    by_growth = today.groupby("growth")["meets_all"].mean()
    obs = (
        "The design's WLM configuration meets every objective under normal load."
        if holds
        else "The design's WLM configuration misses an objective under normal load."
    )
    return _record(
        "DESIGN-HOLDS",
        "Does the design's 50/30/20 hold?",
        obs,
        ["Re-run the sweep with your own logs (dpcsim ingest) before deploying."],
        {
            "share_meeting_all_by_growth": {
                str(k): float(v) for k, v in by_growth.items()
            },
            "table": table.to_dict(orient="records"),
            "headroom": headroom.loc[headroom["config_id"] == baseline_id].to_dict(
                orient="records"
            ),
        },
    )


def _record_pareto(pareto: pd.DataFrame) -> dict[str, Any]:
    front = pareto.loc[pareto["on_front"], "config_id"].tolist()
    tied = pareto.loc[pareto["indistinguishable_from_best"], "config_id"].tolist()
    return _record(
        "PARETO",
        "Cost, ELT lateness and adhoc wait trade-off",
        f"{len(front)} configurations are on the Pareto front; {len(tied)} are "
        "statistically indistinguishable from the best.",
        [
            "Choose among the indistinguishable ones on other grounds (fewer slots, "
            "simpler)."
        ],
        {"front": front, "indistinguishable": tied},
    )


def _growth_text(growth: float) -> str:
    return f"x{growth:.2f}" if math.isfinite(growth) else f"beyond x{GROWTH_RANGE[1]:g}"


def _robust_text(row: Any) -> str:
    """``x1.62 (x2.10 under the base assumptions; decided by sigma=0.04)``."""
    text = _growth_text(float(row.growth_at_failure))
    if str(row.deciding_assumption) != NO_DECIDING_ASSUMPTION:
        text += (
            f" ({_growth_text(float(row.base_growth_at_failure))} under the base "
            f"assumptions; decided by {row.deciding_assumption})"
        )
    return text


def _roles(
    chosen: str, baseline_id: str, any_qualified: bool, names: Mapping[str, str]
) -> dict[str, str]:
    """How the headroom record names each configuration it measured."""
    design = f"({names.get(baseline_id, baseline_id)}, key {baseline_id})"
    if chosen == baseline_id:
        return {
            chosen: f"the recommended configuration, the design's own {design}"
            if any_qualified
            else f"the design's configuration {design}"
        }
    return {
        chosen: f"the recommended configuration ({names.get(chosen, chosen)}, "
        f"key {chosen})",
        baseline_id: f"the design's configuration {design}",
    }


def _record_headroom(
    headroom: pd.DataFrame,
    by_point: pd.DataFrame,
    points: HeadroomPoints,
    queue_names: Sequence[str],
    roles: Mapping[str, str],
) -> dict[str, Any]:
    queue = headroom.loc[headroom["target"].isin(list(queue_names))]
    text = "; ".join(
        f"for {roles.get(str(r.config_id), str(r.config_id))} at growth "
        f"{_robust_text(r)}"
        for r in queue.itertuples()
    )
    alarm = " or ".join(queue_names) or "an alarm on WLMQueueLength"
    return _record(
        "HEADROOM",
        "Growth the configurations absorb",
        f"The design's resize trigger (WLM waiting a daily event: {alarm} "
        f"firing every day) is reached {text or 'beyond the growth range'}; "
        f"each the smallest over {len(points.points)} assumption points "
        f"({points.selection}).",
        ["Plan the resize before the smallest growth at failure."],
        {
            "headroom": headroom.to_dict(orient="records"),
            "by_assumption": by_point.to_dict(orient="records"),
            "assumption_points": [
                {
                    "assumption_id": axis_id("a", p) if p else "base",
                    "assumption": label,
                    "values": dict(p),
                }
                for p, label in zip(points.points, points.labels, strict=True)
            ],
            "selection": points.selection,
        },
    )


def _schedule_title(name: str) -> str:
    """ "Schedule (Asia/Tokyo): ..." for a name that says so, else "Schedule <name>"."""
    if name.startswith("schedule"):
        return "S" + name[1:]
    return f"Schedule {name}"


def _record_schedule(
    normal: pd.DataFrame,
    decisions: Mapping[str, Any],
    means: pd.DataFrame,
    chosen: str,
    schedule_ids: set[str],
    obj: Objectives,
    level: float,
    names: Mapping[str, str],
) -> dict[str, Any]:
    """The schedule candidate: simulated when the sweep has schedule decisions."""
    runs = normal.loc[normal["config_id"].isin(schedule_ids)]
    if runs.empty:
        return _record_composed_schedule(decisions, means, chosen)
    meets = _meets(runs, obj)
    robust = meets.groupby("config_id")["meets"].mean()
    sched_means = runs.groupby("config_id")[list(PARETO_METRICS.values())].mean()
    qualified = robust[robust >= obj.robust_share - 1e-12].index.tolist()
    pool = sched_means.loc[qualified] if qualified else sched_means
    keys = (
        ["metric.cost_usd", "metric.wait_p95_s.adhoc"]
        if qualified
        else ["metric.elt_lateness_min", "metric.wait_p95_s.adhoc"]
    )
    best = str(pool.sort_values(keys, kind="stable").index[0])
    point = decisions[best]
    pair = normal.loc[normal["config_id"].isin([best, chosen])]
    short = [col.removeprefix("metric.") for col in PARETO_METRICS.values()]
    diffs = paired_differences(pair, chosen, short, level=level)
    figures: dict[str, dict[str, Any]] = {}
    for name, col in PARETO_METRICS.items():
        _, s_mean, s_low, s_high = mean_ci(
            runs.loc[runs["config_id"] == best, col].to_numpy(np.float64), level
        )
        _, b_mean, b_low, b_high = mean_ci(
            normal.loc[normal["config_id"] == chosen, col].to_numpy(np.float64), level
        )
        d = diffs.loc[diffs["metric"] == col.removeprefix("metric.")]
        figures[name] = {
            "schedule": {"mean": s_mean, "ci_low": s_low, "ci_high": s_high},
            "best_single": {"mean": b_mean, "ci_low": b_low, "ci_high": b_high},
            "difference": [
                {
                    "assumption_id": a,
                    "mean": m,
                    "ci_low": lo,
                    "ci_high": hi,
                    "significant": bool(sig),
                }
                for a, m, lo, hi, sig in zip(
                    d["assumption_id"],
                    d["mean_diff"],
                    d["ci_low"],
                    d["ci_high"],
                    d["significant"],
                    strict=True,
                )
            ],
        }
    better = [
        name
        for name in ("elt_lateness_min", "adhoc_p95_wait_s")
        if any(x["significant"] and x["mean"] < 0 for x in figures[name]["difference"])
    ]
    worse = [
        name
        for name in PARETO_METRICS
        if any(x["significant"] and x["mean"] > 0 for x in figures[name]["difference"])
    ]
    verdict = (
        f"improves {', '.join(better)}" if better else "does not improve significantly"
    )
    if worse:
        verdict += f" but worsens {', '.join(worse)}"
    elt_at, day_at = point["schedule.elt_at"], point["schedule.day_at"]
    zone = point["schedule.timezone"]
    meets_all = bool(robust.get(best, 0.0) >= obj.robust_share - 1e-12)
    return _record(
        "SCHEDULE",
        "A time-of-day WLM schedule (candidate)",
        f"{_schedule_title(names.get(best, best))} (key {best}) {verdict} against the "
        f"best single configuration {names.get(chosen, chosen)} (key {chosen}); "
        f"it {'meets' if meets_all else 'does not meet'} every objective robustly."
        " Simulated with the switches and their transitions (running "
        "queries keep their memory, new slots open as it frees, a new timeout "
        "applies to later starts); it depends on the assumptions "
        "wlm_apply_delay_s (how long AWS takes to apply a switch) and "
        "wlm_transition_memory (whether a queue waits for other queues' old "
        "queries' memory).",
        [
            f"Switch only dynamic WLM properties at {elt_at} and {day_at} {zone}, "
            "e.g. with a scheduled modify-cluster-parameter-group; the queue list "
            "and routing stay as they are."
        ],
        {
            "schedule_config_id": best,
            "elt_config": _schedule_part(point, "elt"),
            "day_config": _schedule_part(point, "day"),
            "switch_times": {"elt": elt_at, "day": day_at, "timezone": zone},
            "best_single_config_id": chosen,
            "meets_objectives": meets_all,
            "figures": figures,
            "level": level,
            "schedules_tried": sorted(schedule_ids & set(runs["config_id"])),
            "transition_simulated": True,
        },
    )


def _schedule_part(point: Mapping[str, Any], entry: str) -> dict[str, Any]:
    prefix = f"schedule.{entry}."
    return {k.removeprefix(prefix): v for k, v in point.items() if k.startswith(prefix)}


def _record_composed_schedule(
    decisions: Mapping[str, Any], means: pd.DataFrame, chosen: str
) -> dict[str, Any]:
    """Fallback without schedule decisions: two configurations' runs, composed.

    Only configurations in the chosen one's WLM mode are paired: switching
    between manual and auto WLM is static (a reboot), so no schedule does it.
    """
    mode = decisions[chosen].get("wlm_mode")
    same = [c for c in means.index if decisions[str(c)].get("wlm_mode") == mode]
    pool = means.loc[same]
    night = str(pool["metric.elt_lateness_min"].idxmin())
    day = str(pool["metric.wait_p95_s.adhoc"].idxmin())
    lateness = means["metric.elt_lateness_min"].astype(float)
    wait = means["metric.wait_p95_s.adhoc"].astype(float)
    composed = {
        "elt_lateness_min": float(lateness[night]),
        "adhoc_p95_wait_s": float(wait[day]),
    }
    single = {
        "elt_lateness_min": float(lateness[chosen]),
        "adhoc_p95_wait_s": float(wait[chosen]),
    }
    better = (
        composed["elt_lateness_min"] < single["elt_lateness_min"]
        or composed["adhoc_p95_wait_s"] < single["adhoc_p95_wait_s"]
    )
    return _record(
        "SCHEDULE",
        "A time-of-day WLM schedule (candidate, not simulated)",
        f"Night (ELT window) {night}, day {day}: "
        + ("improves on" if better and night != day else "does not improve on")
        + f" the best single configuration {chosen}. Figures are composed from the "
        "two configurations' runs: the transition is not simulated (the sweep "
        "has no schedule decision; add [decisions.schedule] to simulate it).",
        [
            "Change only dynamic properties ("
            + (
                "queue priorities, scaling mode, SQA maximum"
                if mode == "auto"
                else "slots, memory, timeout, SQA, scaling"
            )
            + ") at the window edges, e.g. with a scheduled "
            "modify-cluster-parameter-group."
        ],
        {
            "night_config": decisions[night],
            "day_config": decisions[day],
            "composed": composed,
            "best_single": single,
            "source": "composed from two single configurations' runs",
            "transition_simulated": False,
        },
    )


def _record_advisor(
    ctx: SweepContext,
    decision: dict[str, Any],
    baseline_id: str,
    normal: pd.DataFrame,
    obj: Objectives,
    reps: int,
) -> dict[str, Any]:
    from dpcsim.engine import simulate
    from dpcsim.experiments.execute import _scenario_workload

    base_config = WLMConfig.from_json(json.dumps(ctx.base_wlm))
    settings = ClusterSettings.from_dict(dict(ctx.base_settings))
    config, settings = apply_decision(base_config, settings, decision)
    week = _scenario_workload(ctx, 0, {})
    timeline = simulate(week, config, settings, rng=0).timeline
    main = timeline.assign(main=timeline["running"] - timeline["running_cs"])
    peak = main.groupby("queue")["main"].max()
    advised = dict(decision)
    cuts = {}
    for q in config.queues:
        used = int(peak.get(q.name, 0))
        if q.queue_type == "manual" and used < q.query_concurrency:
            advised[f"slots.{q.name}"] = max(used, 1)
            cuts[q.name] = (q.query_concurrency, max(used, 1))
    effect: dict[str, Any] = {}
    if cuts:
        runs = pd.concat(
            [
                pd.DataFrame(
                    run_task(
                        Task(
                            replication=r,
                            scenario={},
                            assumption={},
                            decisions=(advised,),
                        ),
                        ctx,
                    )
                )
                for r in range(reps)
            ],
            ignore_index=True,
        )
        base = normal.loc[normal["config_id"] == baseline_id]
        for name, col in PARETO_METRICS.items():
            if col in runs:
                effect[name] = {
                    "advisor": float(runs[col].mean()),
                    "baseline": float(base[col].mean()),
                }
    obs = (
        "Advisor's rule (fewer slots where they stay idle) would cut "
        + (", ".join(f"{q} {a}->{b}" for q, (a, b) in cuts.items()) or "nothing")
        + " in the baseline."
    )
    return _record(
        "ADVISOR-WLM",
        "Redshift Advisor's WLM rule on the baseline (reference)",
        obs,
        ["Compare with the recommended configuration before following Advisor."],
        {
            "peak_main_concurrency": {str(k): int(v) for k, v in peak.items()},
            "advised_decision": advised,
            "effect": effect,
        },
    )


def _record_tuning(tuning: pd.DataFrame) -> dict[str, Any]:
    chosen = tuning.loc[tuning["selected"]]
    lines = [
        f"{r.alarm}: {r.variant}, threshold {r.threshold:g}, period "
        f"{r.period_s} s, {r.datapoints_to_alarm}/{r.evaluation_periods}, "
        f"{r.treat_missing_data}: {r.false_alarms_per_week:.1f} false alarms/week, "
        f"{r.missed}/{r.incidents} incidents missed"
        for r in chosen.itertuples()
    ]
    observation = "; ".join(lines)
    actions = ["Deploy the selected alarm settings."]
    uncaught = [u.alarm for u in uncaught_alarms(tuning)]
    if uncaught:
        # The selection then only misses fewest: say so rather than let
        # "fewest false alarms" read as "catches its incidents".
        names = ", ".join(uncaught)
        observation += (
            f". No setting tried catches every injected incident of {names}: "
            "the selected one misses fewest."
        )
        actions.append(
            f"For {names}, widen the grid (thresholds, periods, datapoints to "
            "alarm) or watch those incidents through another metric; "
            "alarm_tuning.csv gives the value nearest to breaching in each."
        )
    return _record(
        "ALARM-TUNING",
        "Alarm settings with the fewest false alarms",
        observation,
        actions,
        {"selected": chosen.to_dict(orient="records"), "uncaught": uncaught},
    )


def _verdict_text(
    holds: bool,
    chosen: str,
    baseline_id: str,
    any_qualified: bool,
    headroom: pd.DataFrame,
    points: HeadroomPoints,
    names: Mapping[str, str],
) -> str:
    base = headroom.loc[
        (headroom["config_id"] == baseline_id) & (headroom["kind"] == "objective")
    ].sort_values("growth_at_failure", kind="stable")
    part = "holds under normal load" if holds else "does not hold under normal load"
    others = len(points.points) - 1
    tried = f"{others} other assumption point{'s' if others != 1 else ''} tried"
    if len(base) and math.isfinite(float(base["growth_at_failure"].iloc[0])):
        row = base.iloc[0]
        at = _growth_text(float(row["growth_at_failure"]))
        if others == 0:
            growth = f"; its first objective fails at growth {at}"
        elif str(row["deciding_assumption"]) == NO_DECIDING_ASSUMPTION:
            growth = (
                f"; its first objective fails at growth {at} under the base "
                f"assumptions and no earlier under the {tried}"
            )
        else:
            growth = (
                f"; its first objective fails at growth {at} under "
                f"{row['deciding_assumption']}, the least favourable of the "
                f"{others + 1} assumption points tried "
                f"({_growth_text(float(row['base_growth_at_failure']))} under the "
                "base assumptions)"
            )
    else:
        growth = f"; no objective fails up to growth x{GROWTH_RANGE[1]:g}" + (
            f" under the base assumptions nor the {tried}" if others else ""
        )
    if not any_qualified:
        # The design is then what the emitted files hold, for want of better.
        rec = "no configuration tried meets every objective, so none replaces it"
    elif chosen == baseline_id:
        rec = "it is also the recommendation"
    else:
        rec = (
            f"the recommended configuration is {names.get(chosen, chosen)} "
            f"(key {chosen})"
        )
    return f"The design's 50/30/20 {part}{growth}; {rec}."


def _failing_objectives(
    meets: pd.DataFrame, config_id: str, obj: Objectives
) -> list[str]:
    """The objectives ``config_id`` misses, with the mean against the target."""
    rows = meets.loc[meets["config_id"] == config_id]
    out = []
    if not rows["ok_alarms"].all():
        out.append(
            f"alarm transitions {rows['alarms'].max():.1f} > "
            f"{obj.max_alarm_transitions:g}"
        )
    if not rows["ok_elt"].all():
        out.append(
            f"ELT nights on time {rows['elt_on_time'].min():.2f} < "
            f"{obj.elt_on_time_probability:g}"
        )
    if not rows["ok_wait"].all():
        out.append(
            f"adhoc p95 wait {rows['adhoc_p95_wait_s'].max():.1f} s > "
            f"{obj.adhoc_p95_wait_s:g} s"
        )
    return out


def with_objectives(space: Space, **changes: Any) -> Space:
    """``space`` with some objectives changed."""
    return replace(space, objectives=replace(space.objectives, **changes))


def objective_alarms(names: Sequence[str]) -> tuple[str, ...]:
    """Alarm names as a tuple (for building objectives in Python)."""
    return tuple(names)
