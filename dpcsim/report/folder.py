"""Read a run folder (``dpcsim plan --out DIR``) for the report.

Each part of the folder is optional: a part that is missing reads as ``None``
and the report names the command that produces it (:data:`PRODUCERS`). A part
that is present but malformed (a missing column, bad JSON) raises
:class:`dpcsim.errors.InputError` naming the file and what was expected.

Layout (the shared run-folder contract):

``run.json``
    ``version``, ``seed``, ``settings``, ``assumptions``, ``input_hashes``;
    optionally ``design``: ``name``, ``wlm_json`` (the design's
    wlm_json_configuration, the "current" column of the first page),
    ``written_metric_names`` (the metric names as the design document writes
    them), ``queue_priorities`` (queue -> the priority the design asks for),
    ``runbook_steps`` (fault keyword -> the runbook step it exercises).
``baseline/``
    ``Run.write()`` of the design as written: ``queries.parquet``,
    ``timeline.parquet`` (if written), ``scaling.parquet``, ``summary.json``,
    ``metrics.parquet``, ``alarm_history.csv``, ``alarm_summary.csv``.
``calibration/``
    ``settings.toml``, ``fit.json`` (``sigma``, ``kappa``, ``sigma_ci``,
    ``kappa_ci``, ``n_queries_used``; optionally ``identified``, ``message``,
    ``points``, ``defaults``), ``fidelity.csv`` (one row per queue).
``sweep/``
    ``results.parquet``, ``stats.csv``, ``space.toml``. The value of each
    assumption an ``assumption_id`` stands for is read from results.parquet's
    ``assumption.<name>`` columns, or from ids written ``name=value``.
``recommend/``
    ``recommendation.json``, ``pareto.csv``, ``headroom.csv``,
    ``alarm_tuning.csv``, ``elt_delay.csv``. ``elt_delay.csv`` has one row per
    ELT definition and injected fault: ``definition, fault, incidents, missed,
    detection_delay_min, false_alarms_per_week`` (optionally ``recovery_min``,
    the minutes from the fault to the next on-time mart update).
``deploy/``
    ``wlm.json``, ``modify-cluster-parameter-group.json``, ``alarms/*.json``,
    ``dashboard.json``, ``template.yaml``, ``schedule/``, ``CHANGES.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dpcsim.errors import InputError
from dpcsim.experiments.recommend import HEADROOM_COLUMNS
from dpcsim.experiments.stats import STATS_COLUMNS
from dpcsim.experiments.tuning import TUNING_REQUIRED_COLUMNS

__all__ = [
    "PRODUCERS",
    "Baseline",
    "Calibration",
    "Deploy",
    "Recommend",
    "RunFolder",
    "Sweep",
    "read_run_folder",
]

#: The command that writes each part of a run folder.
PRODUCERS: Mapping[str, str] = {
    "run.json": "dpcsim plan --out DIR",
    "baseline": "dpcsim simulate --workload LOGS --wlm design --out DIR/baseline",
    "calibration": "dpcsim calibrate --workload LOGS --out DIR/calibration",
    "sweep": "dpcsim sweep --workload LOGS --space SPACE.toml --out DIR/sweep",
    "recommend": "dpcsim recommend --sweep DIR/sweep --out DIR/recommend",
    "deploy": "dpcsim emit --recommendation DIR/recommend --out DIR/deploy",
}

_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "queries.parquet": ("query_id", "queue", "queue_s", "outcome", "ran_on"),
    "timeline.parquet": ("t_s", "queue", "queued"),
    "scaling.parquet": ("start_s", "end_s", "busy_s", "billed_s"),
    "metrics.parquet": ("timestamp", "namespace", "metric_name", "dimensions", "value"),
    "alarm_history.csv": ("alarm_name", "evaluated_at", "state"),
    "alarm_summary.csv": ("alarm_name", "transitions_to_alarm", "time_in_alarm_s"),
    "fidelity.csv": ("queue",),
    "results.parquet": ("run_key", "config_id", "status"),
    "stats.csv": tuple(STATS_COLUMNS),
    "pareto.csv": (
        "config_id",
        "cost_usd",
        "elt_lateness_min",
        "adhoc_p95_wait_s",
        "on_front",
        "indistinguishable_from_best",
    ),
    "headroom.csv": tuple(HEADROOM_COLUMNS),
    "alarm_tuning.csv": tuple(TUNING_REQUIRED_COLUMNS),
    "elt_delay.csv": (
        "definition",
        "fault",
        "incidents",
        "missed",
        "detection_delay_min",
        "false_alarms_per_week",
    ),
}
_FIT_KEYS = ("sigma", "kappa", "sigma_ci", "kappa_ci", "n_queries_used")
_RECOMMENDATION_KEYS = (
    "verdict",
    "baseline_config_id",
    "recommended_config_id",
    "recommended",
    "recommendations",
)


@dataclass(frozen=True, slots=True)
class Baseline:
    """The design as written, simulated (``baseline/``)."""

    queries: pd.DataFrame
    timeline: pd.DataFrame | None
    scaling: pd.DataFrame
    summary: dict[str, Any]
    metrics: pd.DataFrame
    alarm_history: pd.DataFrame | None
    alarm_summary: pd.DataFrame | None


@dataclass(frozen=True, slots=True)
class Calibration:
    """The contention fit and the replay fidelity (``calibration/``)."""

    fit: dict[str, Any]
    fidelity: pd.DataFrame
    settings_toml: str


@dataclass(frozen=True, slots=True)
class Sweep:
    """The sweep's runs and statistics (``sweep/``)."""

    results: pd.DataFrame
    stats: pd.DataFrame
    space_toml: str


@dataclass(frozen=True, slots=True)
class Recommend:
    """The recommendation and its tables (``recommend/``)."""

    recommendation: dict[str, Any]
    pareto: pd.DataFrame
    headroom: pd.DataFrame
    alarm_tuning: pd.DataFrame
    elt_delay: pd.DataFrame | None


@dataclass(frozen=True, slots=True)
class Deploy:
    """The deployable files (``deploy/``): relative path -> SHA-256 and JSON."""

    files: dict[str, str]
    wlm_json: list[dict[str, Any]] | None
    alarms: list[dict[str, Any]]
    changes_md: str


@dataclass(frozen=True, slots=True)
class RunFolder:
    """Every part of a run folder; ``None`` where a part is missing."""

    path: Path
    run: dict[str, Any] | None
    baseline: Baseline | None
    calibration: Calibration | None
    sweep: Sweep | None
    recommend: Recommend | None
    deploy: Deploy | None


def read_run_folder(path: str | Path) -> RunFolder:
    """Read every part of the run folder at ``path``.

    Raises
    ------
    InputError
        When ``path`` is not a folder, or a present file is malformed.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(
            "not a run folder; expected a folder from dpcsim plan", source=str(root)
        )
    run_file = root / "run.json"
    return RunFolder(
        path=root,
        run=_json(run_file) if run_file.is_file() else None,
        baseline=_baseline(root / "baseline"),
        calibration=_calibration(root / "calibration"),
        sweep=_sweep(root / "sweep"),
        recommend=_recommend(root / "recommend"),
        deploy=_deploy(root / "deploy"),
    )


def _baseline(folder: Path) -> Baseline | None:
    if not (folder / "summary.json").is_file():
        return None
    return Baseline(
        queries=_table(folder / "queries.parquet"),
        timeline=_optional(folder / "timeline.parquet"),
        scaling=_table(folder / "scaling.parquet"),
        summary=_json(folder / "summary.json"),
        metrics=_table(folder / "metrics.parquet"),
        alarm_history=_optional(folder / "alarm_history.csv"),
        alarm_summary=_optional(folder / "alarm_summary.csv"),
    )


def _calibration(folder: Path) -> Calibration | None:
    if not (folder / "fit.json").is_file():
        return None
    fit = _json(folder / "fit.json")
    _require_keys(fit, _FIT_KEYS, folder / "fit.json")
    settings = folder / "settings.toml"
    return Calibration(
        fit=fit,
        fidelity=_table(folder / "fidelity.csv"),
        settings_toml=settings.read_text(encoding="utf-8")
        if settings.is_file()
        else "",
    )


def _sweep(folder: Path) -> Sweep | None:
    if not (folder / "stats.csv").is_file():
        return None
    space = folder / "space.toml"
    return Sweep(
        results=_table(folder / "results.parquet"),
        stats=_table(folder / "stats.csv"),
        space_toml=space.read_text(encoding="utf-8") if space.is_file() else "",
    )


def _recommend(folder: Path) -> Recommend | None:
    if not (folder / "recommendation.json").is_file():
        return None
    recommendation = _json(folder / "recommendation.json")
    _require_keys(recommendation, _RECOMMENDATION_KEYS, folder / "recommendation.json")
    return Recommend(
        recommendation=recommendation,
        pareto=_table(folder / "pareto.csv"),
        headroom=_table(folder / "headroom.csv"),
        alarm_tuning=_table(folder / "alarm_tuning.csv"),
        elt_delay=_optional(folder / "elt_delay.csv"),
    )


def _deploy(folder: Path) -> Deploy | None:
    if not folder.is_dir():
        return None
    files = {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    wlm = folder / "wlm.json"
    alarms = [_json(p) for p in sorted((folder / "alarms").glob("*.json"))]
    changes = folder / "CHANGES.md"
    return Deploy(
        files=files,
        wlm_json=_json(wlm) if wlm.is_file() else None,
        alarms=alarms,
        changes_md=changes.read_text(encoding="utf-8") if changes.is_file() else "",
    )


def _optional(path: Path) -> pd.DataFrame | None:
    return _table(path) if path.is_file() else None


def _table(path: Path) -> pd.DataFrame:
    """Read a CSV or parquet table and check its required columns."""
    if not path.is_file():
        raise InputError("missing file of the run folder", source=str(path))
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, keep_default_na=True)
    except (ValueError, OSError) as exc:
        raise InputError(f"unreadable table ({exc})", source=str(path)) from None
    missing = [c for c in _COLUMNS.get(path.name, ()) if c not in frame.columns]
    if missing:
        raise InputError(
            f"missing columns {missing}; has {list(frame.columns)}", source=str(path)
        )
    return frame


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON: {exc.msg}", source=str(path), location=f"line {exc.lineno}"
        ) from None


def _require_keys(document: Any, keys: tuple[str, ...], path: Path) -> None:
    if not isinstance(document, dict):
        raise InputError("expected a JSON object", source=str(path))
    missing = [k for k in keys if k not in document]
    if missing:
        raise InputError(
            f"missing keys {missing}; has {sorted(document)}", source=str(path)
        )
