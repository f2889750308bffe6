"""The main job: from a cluster's exports (or the bundled sample) to a run folder.

One function per stage, each reading what the previous ones produced and
writing its part of the run folder (the contract in :mod:`dpcsim.report.folder`):

1. :func:`stage_ingest` -> ``ingest/`` (the canonical workload, rejects);
2. :func:`stage_calibrate` -> ``calibration/`` (contention fit, replay fidelity);
3. :func:`stage_baseline` -> ``baseline/`` (the design as written, ``Run.write``);
4. :func:`stage_sweep` -> ``sweep/`` (the default space of :func:`default_space`
   or the user's, with intervals);
5. :func:`stage_tune` -> the alarm tuning table (the sweep's normal weeks,
   incidents injected);
6. :func:`stage_recommend` -> ``recommend/``;
7. :func:`stage_elt_delay` -> ``recommend/elt_delay.csv`` (open question 1);
8. :func:`stage_emit` -> ``deploy/`` (the recommendation's deployable files);
9. :func:`write_run_json` -> ``run.json``; then the report (``report.html``,
   ``report.md``) and ``timings.json``.

:func:`plan` runs them in order and calls ``progress(stage, seconds)`` after
each. Every file but ``timings.json`` depends only on the inputs and the seed:
two runs with the same inputs and seed write the same bytes.

Sizes (:data:`QUICK` and :data:`FULL`) were set by timing the bundled one-week
sample on 2 cores shared with other work (README.md, "Timings"): the full plan
sweeps 6 decisions (5 single configurations and one time-of-day schedule) x 4
scenarios (3 growth factors and a failed ELT run at growth 1) x 3 assumption
points x 2 replications (144 runs), the quick one 2 x 2 x 1 x 2 (8 runs).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim import __version__
from dpcsim.calibration import calibrate
from dpcsim.calibration.calibrate import Calibration
from dpcsim.designs import Design, load_design
from dpcsim.engine import ClusterSettings
from dpcsim.errors import InputError
from dpcsim.logs import IngestResult, ingest, read_workload, write_workload
from dpcsim.run import Run
from dpcsim.wlm import WLMConfig, read_wlm_config, route_workload

__all__ = [
    "ELT_FAULTS",
    "EXPORT_PATTERNS",
    "FULL",
    "QUICK",
    "PlanOptions",
    "PlanResult",
    "PlanSizes",
    "default_space",
    "export_files",
    "plan",
    "sample_dir",
    "space_toml",
    "stage_baseline",
    "stage_calibrate",
    "stage_elt_delay",
    "stage_emit",
    "stage_ingest",
    "stage_recommend",
    "stage_sweep",
    "stage_tune",
    "verdict_lines",
    "write_run_json",
]

#: Export files of a folder, as a cluster's export job names them (psql or UNLOAD).
EXPORT_PATTERNS: Final = (
    "svl_qlog*",
    "stl_wlm_query*",
    "stl_wlm_rule_action*",
    "stl_query*",
    "stl_ddltext*",
    "sys_query_history*",
    "svl_query_summary*",
    "svl_query_metrics_summary*",
    "users*",
    "groups*",
    "roles*",
    "role_grants*",
    "pg_user*",
    "pg_group*",
    "stepfunctions*",
    "stl_load_errors*",
)
#: The metric names as the seed design document writes them (report section 7).
DPC_WRITTEN_METRIC_NAMES: Final = (
    "ELTExecutionDelay",
    "CopyErrorCount",
    "WLMRejectedQueries",
    "WLMAttemptedQueries",
    "WLMQueueLength",
    "table_skew_percent",
    "RedshiftStorageCapacity",
    "PercentageDiskSpaceUsed",
)
#: The priorities the seed design asks for (manual WLM has none).
DPC_QUEUE_PRIORITIES: Final = {"batch": "high", "adhoc": "medium", "admin": "highest"}
#: Fault name in elt_delay.csv -> the seed runbook's step it exercises.
DPC_RUNBOOK_STEPS: Final = {
    "late_start": "Step Functions history, then re-run Step Functions",
    "dbt_failure": "dbt failure: fix the SQL, dbt run --select <model>, re-run",
    "copy_error": "COPY error: STL_LOAD_ERRORS, fix the S3 file, re-run the load",
}
#: Faults of open question 1: name -> how it is injected (``--fault`` syntax).
ELT_FAULTS: Final = {
    "late_start": "late Step Functions start (150 min)",
    "dbt_failure": "dbt model fails while Step Functions reports SUCCEEDED",
    "copy_error": "partial load: one COPY fails, the run still succeeds",
}
#: Minutes a late start is late in the ELT fault week [min].
LATE_START_MIN: Final = 150.0
#: How long after a fault an alarm still counts as detecting it [h].
DETECTION_HORIZON_H: Final = 12.0
#: The 0-based day of the ELT fault week the fault is injected on.
FAULT_DAY: Final = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSizes:
    """How much work a plan does (replications and space sizes).

    Attributes
    ----------
    replications
        Sweep replications per point (bootstrap days of the log).
    max_replications
        Cap of the sweep's sequential rule.
    splits
        How many slot splits the default space tries (the design's first).
    scaling_axis, sqa_axis
        Whether the default space varies Concurrency Scaling of the queues
        that have it off, and SQA on/off.
    schedule_axis
        Whether it adds a time-of-day schedule candidate: the split with the
        ELT queue's most slots in the ELT window, the one with its fewest by
        day, simulated with its daily switches.
    growth
        Arrival-rate multipliers (scenarios).
    incidents
        Injected incidents (``--fault`` items) swept as extra scenarios at
        growth 1: how the configurations ride out, say, a failed ELT run
        whose re-run lands in the day.
    sqa_slots
        SQA slot counts tried as an assumption (AWS does not document it).
    sigma_points
        Contention sigma values tried from the calibration interval: 1 keeps
        the fit, 2 adds the interval's upper (pessimistic) end, 3 both ends.
    recommend_replications, tuning_replications, elt_replications
        Replications of headroom, alarm tuning and the ELT normal weeks.
    bootstrap
        Calibration bootstrap refits.
    """

    replications: int
    max_replications: int
    splits: int
    scaling_axis: bool
    sqa_axis: bool
    schedule_axis: bool
    growth: tuple[float, ...]
    incidents: tuple[str, ...]
    sqa_slots: tuple[int, ...]
    sigma_points: int
    recommend_replications: int
    tuning_replications: int
    elt_replications: int
    bootstrap: int


#: ``--quick``: a first look within a minute.
QUICK: Final = PlanSizes(
    replications=2,
    max_replications=2,
    splits=2,
    scaling_axis=False,
    sqa_axis=False,
    schedule_axis=False,
    growth=(1.0, 1.5),
    incidents=(),
    sqa_slots=(5,),
    sigma_points=1,
    recommend_replications=2,
    tuning_replications=2,
    elt_replications=1,
    bootstrap=10,
)
#: The default plan: within 5 minutes on 2 cores on the sample.
FULL: Final = PlanSizes(
    replications=2,
    max_replications=2,
    splits=2,
    scaling_axis=True,
    sqa_axis=True,
    schedule_axis=True,
    growth=(1.0, 1.5, 2.0),
    incidents=("failed_run:1:60",),
    sqa_slots=(5, 3),
    sigma_points=2,
    recommend_replications=2,
    tuning_replications=2,
    elt_replications=2,
    bootstrap=30,
)

#: progress(stage, seconds): called once per finished stage.
Progress = Callable[[str, float], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanOptions:
    """The inputs of :func:`plan`.

    Attributes
    ----------
    workload
        Export files or folders of them; empty: the bundled sample.
    wlm
        The configuration the log was recorded under (the deployed
        wlm_json_configuration); None: the design's.
    design
        ``load_design`` source (None: the DPC design).
    space
        A space TOML; None: :func:`default_space`.
    seed
        Root seed of every random stream.
    quick
        Use :data:`QUICK` sizes instead of :data:`FULL`.
    workers, scheduler
        Local sweep processes, or a Dask scheduler address.
    progress_bars
        Show tqdm bars (only on a terminal).
    """

    workload: tuple[Path, ...] = ()
    wlm: Path | None = None
    design: str | Path | None = None
    space: Path | None = None
    seed: int = 0
    quick: bool = False
    workers: int | None = None
    scheduler: str | None = None
    progress_bars: bool = False

    @property
    def sizes(self) -> PlanSizes:
        """The sizes this plan uses."""
        return QUICK if self.quick else FULL


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanResult:
    """What :func:`plan` produced (paths inside ``out``)."""

    out: Path
    report_html: Path
    report_md: Path
    recommendation: dict[str, Any]
    elt_delay: pd.DataFrame
    timings_s: dict[str, float] = field(default_factory=dict)


def sample_dir() -> Path:
    """The bundled one-week sample (package data; :func:`dpcsim.bundled.sample_dir`)."""
    from dpcsim.bundled import sample_dir as bundled

    return bundled()


def export_files(paths: Sequence[Path]) -> list[Path]:
    """The export files of ``paths``: files as given, folders by export name."""
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise InputError("no such file or folder", source=str(path))
        if path.is_dir():
            found = [p for pat in EXPORT_PATTERNS for p in sorted(path.glob(pat))]
            if not found:
                raise InputError(
                    f"no export files; expected files named {list(EXPORT_PATTERNS)}",
                    source=str(path),
                )
            files += [p for p in found if p not in files]
        elif path not in files:
            files.append(path)
    return files


# ----------------------------------------------------------------------- stages


def stage_ingest(
    files: Sequence[Path], design: Design, recording: WLMConfig, out: Path
) -> IngestResult:
    """Ingest the exports into ``out/ingest`` (workload parquet, rejects.csv).

    A generator ``spec.json`` next to the exports is copied along: the days
    it lists as faulty are then left out of the normal weeks of the alarm
    tuning and the ELT faults.
    """
    result = ingest(
        list(files),
        wlm=recording,
        recorded=recording,
        role_groups=dict(design.role_groups),
    )
    folder = out / "ingest"
    write_workload(result.workload, folder)
    result.rejects.to_csv(folder / "rejects.csv", index=False)
    for parent in dict.fromkeys(p.parent for p in files):
        spec = parent / "spec.json"
        if spec.is_file():
            shutil.copyfile(spec, folder / "spec.json")
            break
    return result


def stage_calibrate(
    ingested: IngestResult,
    recording: WLMConfig,
    *,
    seed: int,
    n_boot: int,
    out: Path,
    source: str,
) -> Calibration:
    """Fit contention and measure replay fidelity into ``out/calibration``."""
    routing = route_workload(
        recording, ingested.workload.queries, superusers=ingested.superusers
    )
    result = calibrate(
        ingested.workload,
        config=recording,
        routing=routing,
        seed=seed,
        n_boot=n_boot,
        source=source,
    )
    folder = out / "calibration"
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "settings.toml", result.fit.settings_toml())
    _write(folder / "fit.json", result.fit_json())
    _write(folder / "fidelity.csv", result.fidelity.to_csv())
    return result


def fitted_settings(fit: Any) -> ClusterSettings:
    """Default cluster settings with the calibrated ``[contention]``."""
    return replace(
        ClusterSettings(),
        contention_model="usl",
        contention_sigma=float(fit.sigma),
        contention_kappa=float(fit.kappa),
        contention_demand="observed",
    )


def stage_baseline(
    ingested: IngestResult,
    design: Design,
    settings: ClusterSettings,
    *,
    seed: int,
    out: Path,
) -> Run:
    """Simulate the design as written into ``out/baseline`` (``Run.write``)."""
    from dpcsim.alarms import alarms_from_document

    run = Run.simulate(
        ingested.workload,
        design.wlm,
        settings,
        rng=seed,
        alarms=alarms_from_document(design.alarm_requests(), source="design"),
        design=design,
    )
    run.write(out / "baseline")
    return run


def default_space(
    design: Design, fit: Any, sizes: PlanSizes, *, seed: int
) -> dict[str, Any]:
    """The default sweep space of a design (a TOML-shaped dict).

    Decisions: the design's slot split and up to ``sizes.splits - 1`` others
    that take slots from the ELT queue (down to the largest other queue's
    count, so that the total meets AWS's recommended 15) or move one of its
    slots to another queue; Concurrency Scaling on/off for the queues the
    design leaves off; SQA on/off. Scenarios: ``sizes.growth``, then
    ``sizes.incidents`` at growth 1. Assumptions:
    SQA slots and contention sigma within the calibration's interval.
    """
    base = design.wlm
    names = list(base.queue_names)
    slots = {q.name: int(q.query_concurrency) for q in base.queues}
    elt = design.elt.queue
    splits = [dict(slots)]
    others = [n for n in names if n != elt]
    floor = max([slots[n] for n in others] or [1])
    for target in range(slots[elt] - 1, floor - 1, -1):
        splits.append({**slots, elt: target})
    for other in others:
        if slots[elt] > 1:
            splits.append({**slots, elt: slots[elt] - 1, other: slots[other] + 1})
    unique: list[dict[str, int]] = []
    for s in splits:
        if s not in unique:
            unique.append(s)
    # The design, its lowest ELT split (the "memory reading"), then the rest.
    order = [unique[0]]
    lowest = [s for s in unique if s[elt] == floor and s != unique[0]]
    order += lowest + [s for s in unique[1:] if s not in lowest]
    chosen = order[: max(1, sizes.splits)]
    scaling_off = [q.name for q in base.queues if q.concurrency_scaling == "off"]
    sqa_on = base.sqa is not None and base.sqa.enabled
    points: list[dict[str, Any]] = []
    for k, split in enumerate(chosen):
        for cs in ("off", "auto") if sizes.scaling_axis and scaling_off else ("off",):
            # SQA on/off is tried on the design's split only: its effect is on
            # short queries, which the split does not change.
            both = sizes.sqa_axis and k == 0 and cs == "off"
            for sqa in (sqa_on, not sqa_on) if both else (sqa_on,):
                point: dict[str, Any] = {f"slots.{n}": split[n] for n in names}
                for q in scaling_off:
                    point[f"concurrency_scaling.{q}"] = cs
                point["sqa"] = sqa
                points.append(point)
    assumptions = default_assumptions(fit, sizes)
    decisions: dict[str, Any] = {"method": "list", "points": points}
    night = max(chosen, key=lambda split: split[elt])
    day = min(chosen, key=lambda split: split[elt])
    if sizes.schedule_axis and night != day:
        # The time-of-day candidate: the ELT queue's most slots during the ELT
        # window, its fewest by day (slots are dynamic: no reboot).
        decisions["schedule"] = {
            "candidates": [{"elt": {"slots": night}, "day": {"slots": day}}]
        }
    return {
        "sweep": {
            "seed": int(seed),
            "replications": sizes.replications,
            "max_replications": sizes.max_replications,
            "target_rel_half_width": 0.2,
            "level": 0.95,
        },
        "decisions": decisions,
        "scenarios": _scenarios(sizes),
        "assumptions": {"method": "list", "points": assumptions},
        "objectives": {
            "max_alarm_transitions": 0,
            "alarms": ["Alert-WLM-Queue"],
            "elt_on_time_probability": 0.9,
            "elt_window": [design.elt.window_start, design.elt.window_end],
            "timezone": design.elt.timezone,
            "adhoc_p95_wait_s": 60.0,
            "robust_share": 1.0,
        },
    }


def _scenarios(sizes: PlanSizes) -> dict[str, Any]:
    """The growth factors, then each incident at growth 1 (not crossed)."""
    if not sizes.incidents:
        return {"growth": list(sizes.growth), "elt_shift_min": [0]}
    points: list[dict[str, Any]] = [{"growth": g} for g in sizes.growth]
    points += [{"growth": 1.0, "faults": f} for f in sizes.incidents]
    return {"method": "list", "points": points}


def default_assumptions(fit: Any, sizes: PlanSizes) -> list[dict[str, Any]]:
    """Assumption points: the fit, then sigma at the ends of its interval, then
    the other SQA slot counts (one axis at a time, the rest at the fit)."""
    sigma = float(fit.sigma)
    first = sizes.sqa_slots[0]
    points: list[dict[str, Any]] = [{"sqa_slots": first, "contention_sigma": sigma}]
    curve = getattr(fit, "curve", None)
    if curve is not None:
        # The upper end (more contention) first: it is the pessimistic one.
        ends = [float(curve.sigma_ci[1]), max(float(curve.sigma_ci[0]), 0.0)]
        for value in ends[: max(sizes.sigma_points - 1, 0)]:
            point = {"sqa_slots": first, "contention_sigma": value}
            if point not in points:
                points.append(point)
    for slots in sizes.sqa_slots[1:]:
        points.append({"sqa_slots": slots, "contention_sigma": sigma})
    return points


def space_toml(space: Mapping[str, Any]) -> str:
    """The TOML text of a space dict (tables of scalars, lists and a points list)."""
    lines = [
        "# The default space of dpcsim plan for this design (see dpcsim/plan.py).",
    ]
    for table in ("sweep", "decisions", "scenarios", "assumptions", "objectives"):
        body = space.get(table, {})
        lines.append("")
        lines.append(f"[{table}]")
        for key, value in body.items():
            if key == "points":
                continue
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        if "points" in body:
            lines.append("points = [")
            for p in body["points"]:  # one inline table per point
                inner = ", ".join(
                    f"{_toml_key(k)} = {_toml_value(v)}" for k, v in p.items()
                )
                lines.append(f"  {{ {inner} }},")
            lines.append("]")
    return "\n".join(lines) + "\n"


def stage_sweep(
    space_text: str,
    design: Design,
    settings: ClusterSettings,
    *,
    workload_dir: Path,
    seed: int,
    out: Path,
    workers: int | None,
    scheduler: str | None,
    progress_bars: bool,
    source: str = "space.toml",
) -> tuple[Any, Any, Any]:
    """Run the sweep into ``out/sweep``; return (space, context, report)."""
    from dpcsim.experiments import SweepContext, run_sweep, space_from_dict
    from dpcsim.experiments.execute import contract_dict
    from dpcsim.experiments.outcomes import EltWindow

    try:
        data = tomllib.loads(space_text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", source=source) from None
    space = space_from_dict(
        data,
        source=source,
        text=space_text,
        base=design.wlm,
        settings=settings,
        elt=design.elt,
        alarms=design.alarm_requests(),
    )
    obj = space.objectives
    requests = design.alarm_requests()
    ctx = SweepContext(
        workload_path=str(workload_dir.resolve()),
        replicate="bootstrap",
        root=space.seed,
        base_wlm=design.wlm.to_json(),
        base_settings=settings.to_dict(),
        alarms=[dict(r) for r in requests],
        window=EltWindow(
            start=obj.elt_window[0], end=obj.elt_window[1], timezone=obj.timezone
        ),
        elt=contract_dict(design.elt),
    )
    folder = out / "sweep"
    folder.mkdir(parents=True, exist_ok=True)
    context = _context_dict(ctx)
    _write(folder / "sweep.json", json.dumps(context, indent=2, sort_keys=True) + "\n")
    report = run_sweep(
        space,
        ctx,
        folder,
        workers=workers,
        scheduler=scheduler,
        progress=progress_bars,
    )
    # The per-run store is how an interrupted sweep resumes; results.parquet
    # holds every row, and the run times there are wall-clock figures.
    return space, ctx, report


def stage_tune(ctx: Any, replications: int) -> pd.DataFrame:
    """Tune the sweep's alarms on its own normal weeks, incidents injected
    (``alarm_tuning.csv`` rows; :func:`dpcsim.experiments.tuning.tune_sweep_alarms`)."""
    from dpcsim.experiments.tuning import tune_sweep_alarms

    return tune_sweep_alarms(ctx, replications)


def stage_recommend(
    space: Any,
    ctx: Any,
    results: pd.DataFrame,
    tuning: pd.DataFrame | None,
    *,
    replications: int,
    out: Path,
) -> Any:
    """Recommend from the sweep into ``out/recommend``."""
    from dpcsim.experiments.recommend import recommend
    from dpcsim.experiments.store import write_recommendation

    rec = recommend(space, ctx, results, replications=replications, tuning=tuning)
    write_recommendation(rec, out / "recommend")
    return rec


def stage_elt_delay(
    design: Design,
    settings: ClusterSettings,
    *,
    ctx: Any,
    seed: int,
    replications: int,
) -> pd.DataFrame:
    """Both ``ELTExecutionDelay`` definitions under the design's delay alarm.

    Normal weeks are the sweep's own (:func:`dpcsim.experiments.tuning.tuning_weeks`:
    whole quiet days of the log, or regenerated weeks without faults). For each
    fault of :data:`ELT_FAULTS` one more normal week carries the fault on
    :data:`FAULT_DAY` (:func:`dpcsim.workload.inject.inject_faults`); the
    alarm (the design's ``ELTExecutionDelay`` rule, with the ``Definition``
    dimension set to each definition) detects it when it goes to ALARM within
    :data:`DETECTION_HORIZON_H` of the fault's start, else the incident is
    missed. False alarms per week are transitions to ALARM on ``replications``
    normal weeks. ``recovery_min`` is the minutes from the fault to the first
    datapoint, after it, at which the mart-update delay is back to 0 (fresh
    data again). A fault the log cannot take (no COPY, no statement writing
    the model) has ``incidents`` 0 and says why in ``not_injected``.
    """
    from dpcsim.alarms import alarms_from_document, evaluate_alarms
    from dpcsim.experiments.tuning import (
        INCIDENT_FAULTS,
        calendar_days,
        first_alarm_after,
        transitions,
        tuning_weeks,
    )
    from dpcsim.metrics.custom import ELT_DEFINITIONS
    from dpcsim.workload import parse_faults
    from dpcsim.workload.inject import inject_faults

    request = _elt_alarm(design)
    specs = []
    for definition in ELT_DEFINITIONS:
        req = json.loads(json.dumps(request))
        req["AlarmName"] = f"{request['AlarmName']}#{definition}"
        _set_definition(req, definition)
        specs.append(req)
    alarms = alarms_from_document(specs, source="ELTExecutionDelay definitions")
    weeks = tuning_weeks(ctx)
    config = design.wlm

    def week_run(week: Any, r: int) -> Any:
        engine_seed = int(_stream(seed, r, 1).generate_state(1, np.uint64)[0])
        return Run.simulate(week, config, settings, rng=engine_seed, design=design)

    fa = np.zeros((len(ELT_DEFINITIONS), replications))
    for r in range(replications):
        week = weeks.week(r)
        states = evaluate_alarms(list(alarms), week_run(week, r).datapoints).states
        days = calendar_days(week, design.elt.timezone)
        for i, s in enumerate(states):
            fa[i, r] = transitions(s.states) * 7.0 / days
    rows = []
    injections = {
        "late_start": f"late_start:{FAULT_DAY}:{LATE_START_MIN:g}",
        "dbt_failure": INCIDENT_FAULTS["dbt_failure"],
        "copy_error": f"copy_error:{FAULT_DAY}",
    }
    for k, fault in enumerate(ELT_FAULTS):
        base = weeks.week(1000 + k)
        gen = np.random.default_rng(_stream(seed, 1000 + k, 3))
        try:
            injected = inject_faults(
                base, parse_faults(injections[fault]), design.elt, gen
            )
        except InputError as exc:
            for i, definition in enumerate(ELT_DEFINITIONS):
                row = _elt_row(definition, fault, fa[i], None, float("nan"))
                rows.append(
                    row | {"incidents": 0, "missed": 0, "not_injected": str(exc)}
                )
            continue
        start = pd.Timestamp(injected.incidents["start_at"].min())
        run = week_run(injected.workload, 0)
        states = evaluate_alarms(list(alarms), run.datapoints).states
        recovery = _recovery_min(run.datapoints, start)
        for i, definition in enumerate(ELT_DEFINITIONS):
            delay = first_alarm_after(states[i], start)
            rows.append(_elt_row(definition, fault, fa[i], delay, recovery))
    return pd.DataFrame(rows)


def _elt_row(
    definition: str,
    fault: str,
    fa: np.ndarray,
    delay: float | None,
    recovery: float,
) -> dict[str, Any]:
    """One elt_delay.csv row of an injected fault (``delay`` None: missed)."""
    return {
        "definition": definition,
        "fault": fault,
        "incidents": 1,
        "missed": int(delay is None),
        "detection_delay_min": np.nan if delay is None else delay,
        "false_alarms_per_week": float(np.mean(fa)),
        "recovery_min": recovery,
        "not_injected": "",
    }


def _stream(seed: int, replication: int, source: int) -> np.random.SeedSequence:
    """The ELT comparison's own random streams (apart from the sweep's)."""
    return np.random.SeedSequence(seed, spawn_key=(replication, 7000 + source))


def _elt_alarm(design: Design) -> dict[str, Any]:
    """The design's alarm on ``ELTExecutionDelay``."""
    for req in design.alarm_requests():
        if req.get(
            "MetricName"
        ) == "ELTExecutionDelay" or "ELTExecutionDelay" in json.dumps(
            req.get("Metrics", [])
        ):
            return dict(req)
    raise InputError(
        "the design has no alarm on ELTExecutionDelay; expected one for open "
        "question 1",
        location="design.alarms",
    )


def _set_definition(req: dict[str, Any], definition: str) -> None:
    """Set the ``Definition`` dimension of the alarm's metric."""

    def fix(dims: list[dict[str, str]]) -> list[dict[str, str]]:
        kept = [d for d in dims if d.get("Name") != "Definition"]
        return sorted(
            [*kept, {"Name": "Definition", "Value": definition}],
            key=lambda d: d["Name"],
        )

    if "Dimensions" in req or "MetricName" in req:
        req["Dimensions"] = fix(list(req.get("Dimensions", [])))
    for q in req.get("Metrics", []):
        stat = q.get("MetricStat")
        if stat and stat["Metric"].get("MetricName") == "ELTExecutionDelay":
            stat["Metric"]["Dimensions"] = fix(
                list(stat["Metric"].get("Dimensions", []))
            )


def _recovery_min(datapoints: pd.DataFrame, start: pd.Timestamp) -> float:
    """Minutes from ``start`` until the mart-update delay is 0 again (NaN: never)."""
    rows = datapoints[
        (datapoints["metric_name"] == "ELTExecutionDelay")
        & datapoints["dimensions"]
        .astype(str)
        .str.contains("Definition=MartTableUpdate")
    ]
    at = pd.DatetimeIndex(rows["timestamp"])
    values = rows["value"].to_numpy(dtype=np.float64)
    after = at >= start
    late = np.flatnonzero(after & (values > 0))
    if late.size == 0:
        return 0.0
    fresh = np.flatnonzero(after & (values <= 0) & (np.arange(len(values)) > late[0]))
    if fresh.size == 0:
        return float("nan")
    return round(float((at[fresh[0]] - start).total_seconds() / 60.0), 1)


def stage_emit(
    design: Design,
    out: Path,
    *,
    queries: pd.DataFrame | None,
    datapoints: pd.DataFrame | None,
) -> Any:
    """Write ``out/deploy`` from the recommendation and the tuned alarms."""
    from dpcsim.emit import EmitInputs, design_pieces, emit, read_tuning
    from dpcsim.emit.recommendation import read_recommendation

    rec = read_recommendation(out / "recommend" / "recommendation.json")
    pieces = design_pieces()
    extra: dict[str, str | int] = {}
    if rec.max_concurrency_scaling_clusters is not None:
        extra["max_concurrency_scaling_clusters"] = rec.max_concurrency_scaling_clusters
    alarms = [dict(a) for a in design.alarm_requests()]
    names = {str(a.get("AlarmName")) for a in rec.alarms}
    alarms = [a for a in alarms if str(a.get("AlarmName")) not in names] + list(
        rec.alarms
    )
    tuning_csv = out / "recommend" / "alarm_tuning.csv"
    limits = tuple(lim for lim in pieces.limits if lim.queue in rec.wlm.queue_names)
    inputs = EmitInputs(
        wlm=rec.wlm,
        alarms=alarms,
        dashboard_body=design.dashboard or pieces.dashboard_body,
        dashboard_name=pieces.dashboard_name,
        parameter_group=f"{design.cluster_id}-wlm",
        sns_topic_arn=design.sns_topic_arn("123456789012"),
        topic_name=design.sns_topic or pieces.sns_topic,
        cluster_id=design.cluster_id,
        region=design.region,
        limits=limits,
        tuning=read_tuning(tuning_csv) if tuning_csv.is_file() else (),
        queries=queries,
        current=design.wlm,
        extra_parameters=extra,
        auto_wlm=rec.auto_wlm,
        schedule=rec.schedule,
        datapoints=datapoints,
    )
    folder = out / "deploy"
    if folder.exists():
        shutil.rmtree(folder)
    return emit(inputs, folder)


def write_run_json(
    out: Path,
    *,
    options: PlanOptions,
    design: Design,
    settings: ClusterSettings,
    files: Sequence[Path],
    space: Any,
    calibration: Calibration,
) -> dict[str, Any]:
    """``run.json``: version, seed, settings, assumptions, input hashes, design."""
    sizes = options.sizes
    fit = calibration.fit
    body: dict[str, Any] = {
        "version": __version__,
        "seed": int(options.seed),
        "quick": bool(options.quick),
        "settings": settings.to_dict(),
        "sizes": {k: _plain(getattr(sizes, k)) for k in PlanSizes.__slots__},
        "assumptions": _assumptions(settings, space, fit),
        "method": {
            "contention": "calibration/fit.json"
            if fit.identifiable
            else "defaults (the log does not identify the curve)",
            "replication": "bootstrap over whole days of the log",
            "incident_weeks": "whole quiet days of the log, incidents injected "
            "(dpcsim.workload.inject)"
            + (
                "; the fault days of ingest/spec.json left out"
                if (out / "ingest" / "spec.json").is_file()
                else ""
            ),
            "cluster_defaults": "dpcsim/data/cluster_defaults.toml",
        },
        "inputs": [_display(p) for p in files],
        "input_hashes": {_display(p): _sha256(p) for p in files},
        "design": {
            "name": design.name,
            "cluster_id": design.cluster_id,
            "wlm_json": design.wlm.to_json(),
            "elt": {
                "queue": design.elt.queue,
                "window_start": design.elt.window_start,
                "window_end": design.elt.window_end,
                "timezone": design.elt.timezone,
            },
            "alarms": _alarm_thresholds(design),
        },
    }
    if options.wlm is not None:
        body["input_hashes"][_display(options.wlm)] = _sha256(options.wlm)
    if options.space is not None:
        body["input_hashes"][_display(options.space)] = _sha256(options.space)
    if design.cluster_id == "dpc-learning":
        body["design"].update(
            written_metric_names=list(DPC_WRITTEN_METRIC_NAMES),
            queue_priorities=dict(DPC_QUEUE_PRIORITIES),
            runbook_steps=dict(DPC_RUNBOOK_STEPS),
        )
    _write(out / "run.json", json.dumps(_finite(body), indent=2, sort_keys=True) + "\n")
    return body


def _alarm_thresholds(design: Design) -> list[dict[str, Any]]:
    """The design's alarms as written (name, metric, threshold): the report
    draws the design's threshold, not only the tuned one of ``deploy/``."""
    out = []
    for req in design.alarm_requests():
        if "Threshold" not in req:  # an anomaly band has no fixed threshold
            continue
        metric = req.get("MetricName")
        for query in req.get("Metrics", []) if metric is None else []:
            stat = query.get("MetricStat")
            if stat:
                metric = stat["Metric"].get("MetricName")
                break
        out.append(
            {
                "alarm_name": str(req.get("AlarmName")),
                "metric_name": None if metric is None else str(metric),
                "threshold": float(req["Threshold"]),
                "comparison": str(req.get("ComparisonOperator", "")),
            }
        )
    return out


def _assumptions(settings: ClusterSettings, space: Any, fit: Any) -> dict[str, Any]:
    """Assumption (a ClusterSettings field) -> the value the baseline used, and
    the values the sweep tried: the report's "assumptions" table."""
    names = sorted({n for p in space.assumptions for n in p} | {"contention_kappa"})
    out: dict[str, Any] = {}
    for name in names:
        used = _plain(getattr(settings, name))
        tried = sorted({_plain(p[name]) for p in space.assumptions if name in p})
        text = f"{used:.4g}" if isinstance(used, float) else str(used)
        if name.startswith("contention_"):
            text += " (fitted)" if fit.identifiable else " (default)"
        if len(tried) > 1:
            shown = ", ".join(
                f"{v:.4g}" if isinstance(v, float) else str(v) for v in tried
            )
            text += f"; swept {shown}"
        out[name] = text
    return out


# ------------------------------------------------------------------------- plan


def plan(
    options: PlanOptions, out: Path, *, progress: Progress | None = None
) -> PlanResult:
    """Run every stage into ``out`` (an existing, empty folder); see module doc."""
    from dpcsim.report import write_report

    say: Progress = progress or (lambda _stage, _s: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def done(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now
        say(stage, timings[stage])

    sizes = options.sizes
    _clear(out)
    design = load_design(options.design)
    recording = design.wlm if options.wlm is None else read_wlm_config(options.wlm)
    files = export_files(list(options.workload) or [sample_dir()])
    space_text_in: str | None = None
    if options.space is not None:
        space_text_in = options.space.read_text(encoding="utf-8")

    ingested = stage_ingest(files, design, recording, out)
    done("ingest")
    calibration = stage_calibrate(
        ingested,
        recording,
        seed=options.seed,
        n_boot=sizes.bootstrap,
        out=out,
        source=_display(files[0]),
    )
    settings = fitted_settings(calibration.fit)
    done("calibrate")
    baseline = stage_baseline(ingested, design, settings, seed=options.seed, out=out)
    done("baseline")
    workload_dir = out / "ingest"
    if space_text_in is None:
        space_text = space_toml(
            default_space(design, calibration.fit, sizes, seed=options.seed)
        )
        source = "space.toml"
    else:
        space_text, source = space_text_in, str(options.space)
    space, ctx, sweep = stage_sweep(
        space_text,
        design,
        settings,
        workload_dir=workload_dir,
        seed=options.seed,
        out=out,
        workers=options.workers,
        scheduler=options.scheduler,
        progress_bars=options.progress_bars,
        source=source,
    )
    done("sweep")
    tuning = stage_tune(ctx, sizes.tuning_replications) if ctx.alarms else None
    done("tune alarms")
    rec = stage_recommend(
        space,
        ctx,
        sweep.results,
        tuning,
        replications=sizes.recommend_replications,
        out=out,
    )
    done("recommend")
    elt = stage_elt_delay(
        design,
        settings,
        ctx=ctx,
        seed=options.seed,
        replications=sizes.elt_replications,
    )
    elt.to_csv(out / "recommend" / "elt_delay.csv", index=False, lineterminator="\n")
    done("ELT delay definitions")
    recommended = read_workload(workload_dir)
    rec_config = WLMConfig.from_json(
        json.dumps(rec.document["recommended"]["wlm_json"])
    )
    rec_run = Run.simulate(
        recommended, rec_config, settings, rng=options.seed, design=design
    )
    stage_emit(
        design, out, queries=rec_run.records.queries, datapoints=baseline.datapoints
    )
    done("emit")
    write_run_json(
        out,
        options=options,
        design=design,
        settings=settings,
        files=files,
        space=space,
        calibration=calibration,
    )
    html, md = write_report(out)
    done("report")
    _write(
        out / "timings.json",
        json.dumps(
            {"stages_s": timings, "total_s": round(sum(timings.values()), 3)}, indent=2
        )
        + "\n",
    )
    return PlanResult(
        out=out,
        report_html=html,
        report_md=md,
        recommendation=rec.document,
        elt_delay=elt,
        timings_s=timings,
    )


def verdict_lines(result: PlanResult) -> list[str]:
    """The verdict in plain words (what the terminal ends with)."""
    doc = result.recommendation
    out = result.out
    lines: list[str] = []
    holds = bool(doc["verdict"]["holds"])
    base_id = str(doc["baseline_config_id"])
    rec_id = str(doc["recommended_config_id"])
    lines.append(
        "Does the design's WLM split hold under the logged load? "
        + ("Yes. " if holds else "No. ")
        + str(doc["verdict"]["text"])
    )
    lines += _evidence_lines(out, base_id, rec_id)
    decision = dict(doc["recommended"].get("decision", {}))
    changes = _decision_changes(out, base_id, decision)
    names = dict(doc.get("config_names", {}))
    if rec_id == base_id or not changes:
        lines.append("Deploy: the design's WLM configuration as written.")
    else:
        name = str(names.get(rec_id, rec_id))
        lines.append(
            f"Deploy instead ({name}; key {rec_id}): " + "; ".join(changes) + "."
        )
    best, why = _best_definition(result.elt_delay)
    lines.append(f"ELTExecutionDelay: publish Definition={best} ({why}).")
    lines += _uncaught_lines(out / "recommend" / "alarm_tuning.csv")
    lines.append(f"Deployable files: {out / 'deploy'} (apply as CHANGES.md says).")
    lines.append(f"Report: {result.report_html} and {result.report_md.name}.")
    return lines


def _uncaught_lines(tuning_csv: Path) -> list[str]:
    """A line per alarm no tuned setting lets catch every incident."""
    from dpcsim.experiments.tuning import uncaught_alarms

    if not tuning_csv.is_file():
        return []
    lines = []
    for u in uncaught_alarms(pd.read_csv(tuning_csv)):
        tried = ", ".join(f"{t:g}" for t in u.thresholds)
        seen = ""
        if u.nearest is not None:
            low, high = u.nearest
            span = f"{high:.3g}" if low == high else f"{low:.3g} to {high:.3g}"
            seen = (
                "; in those it missed, its value closest to or past the "
                f"threshold: {span}"
            )
        why = f" ({'; '.join(u.reasons)})" if u.reasons else ""
        lines.append(
            f"{u.alarm}: no setting tried (thresholds {tried}) catches every "
            f"incident injected for it{seen}{why}."
        )
    return lines


def _decision_changes(
    out: Path, base_id: str, decision: Mapping[str, Any]
) -> list[str]:
    """``name: design value -> recommended value`` for every decision that differs."""
    path = out / "sweep" / "results.parquet"
    if not path.is_file():
        return [f"{k} = {v}" for k, v in sorted(decision.items())]
    results = pd.read_parquet(path)
    base = results[results["config_id"] == base_id]
    changes = []
    for name, value in sorted(decision.items()):
        column = f"decision.{name}"
        if base.empty or column not in base:
            changes.append(f"{name} = {value}")
            continue
        before = _as_written(base[column].iloc[0])
        if before != _as_written(value):
            changes.append(f"{name}: {before} -> {_as_written(value)}")
    return changes


def _as_written(value: Any) -> Any:
    """A decision value as written: whole floats as ints (a results column that
    also holds NaN, e.g. for schedule points, reads back as float)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _evidence_lines(out: Path, base_id: str, rec_id: str) -> list[str]:
    """Adhoc p95 wait, ELT on-time share and cost at growth 1, design against
    recommended: the mean over assumption points and the widest 95 % interval."""
    from dpcsim.experiments.recommend import normal_scenario_ids

    stats_path = out / "sweep" / "stats.csv"
    results_path = out / "sweep" / "results.parquet"
    if not stats_path.is_file() or not results_path.is_file():
        return []
    stats = pd.read_csv(stats_path)
    results = pd.read_parquet(results_path)
    normal = normal_scenario_ids(results)
    stats = stats[stats["scenario_id"].isin(normal)]
    lines = []
    for metric, label, unit in (
        ("wait_p95_s.adhoc", "adhoc p95 queue wait", " s"),
        ("elt_on_time", "share of nights the ELT ends in its window", ""),
        ("cost_usd", "Concurrency Scaling cost per week", " USD"),
    ):
        parts = []
        for cid, name in dict.fromkeys([(base_id, "design"), (rec_id, "recommended")]):
            rows = stats[(stats["config_id"] == cid) & (stats["metric"] == metric)]
            if rows.empty:
                continue
            # A t interval of a wait, share or cost may reach below 0; none can.
            lo, hi = max(rows["ci_low"].min(), 0.0), rows["ci_high"].max()
            parts.append(
                f"{name} {rows['mean'].mean():.3g}{unit} (95 % CI {lo:.3g} to {hi:.3g})"
            )
        if parts:
            lines.append(f"  {label}: " + "; ".join(parts))
    return lines


def _best_definition(elt: pd.DataFrame) -> tuple[str, str]:
    """Fewest missed, then shortest mean detection delay, then fewest false alarms."""
    by = elt.groupby("definition").agg(
        missed=("missed", "sum"),
        delay=("detection_delay_min", "mean"),
        fa=("false_alarms_per_week", "mean"),
        incidents=("incidents", "sum"),
    )
    by = by.sort_values(["missed", "delay", "fa"])
    parts = [
        f"{name}: {int(r.missed)} of {int(r.incidents)} incidents missed, "
        f"mean delay {r.delay:.0f} min, {r.fa:.2f} false alarms/week"
        for name, r in by.iterrows()
    ]
    return str(by.index[0]), "; ".join(parts)


# ---------------------------------------------------------------------- helpers


#: What a plan writes into its folder (replaced by a new plan into it).
PLAN_PARTS: Final = (
    "ingest",
    "calibration",
    "baseline",
    "sweep",
    "recommend",
    "deploy",
    "run.json",
    "report.html",
    "report.md",
    "timings.json",
)


def _clear(out: Path) -> None:
    """Remove a previous plan's parts (a stale sweep would otherwise be resumed)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in PLAN_PARTS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _context_dict(ctx: Any) -> dict[str, Any]:
    from dataclasses import asdict

    out: dict[str, Any] = asdict(ctx)
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _display(path: Path) -> str:
    """A path as run.json names it: relative to the working folder when inside it."""
    p = Path(path).resolve()
    try:
        return p.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        sample = sample_dir().resolve()
        try:
            return "sample/" + p.relative_to(sample).as_posix()
        except ValueError:
            return p.as_posix()


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").isalnum() else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(
            f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()
        )
        return "{ " + inner + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
