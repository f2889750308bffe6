"""Test fixture: a run folder for the report, built from a real baseline run.

``baseline/`` is a real simulation of the bundled sample under the design
(:func:`simulate_baseline`, the one place that calls the pipeline, so moving to
``dpcsim.run.Run`` is one edit). ``calibration/``, ``sweep/``, ``recommend/``
and ``deploy/`` follow the shapes of the shared run-folder contract (see
:mod:`dpcsim.report.folder`) with small, hand-sized contents: these are test
inputs for the report, not results, and their numbers are not claims about the
sample. The baseline configuration's rows take their cost and adhoc wait from
the real baseline so the first page's "design" column matches section 4.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dpcsim.alarms.design import dpc_design_alarms
from dpcsim.designs import load_design
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine import ClusterSettings
from dpcsim.experiments.recommend import HEADROOM_COLUMNS
from dpcsim.experiments.stats import summarize
from dpcsim.experiments.tuning import TUNING_REQUIRED_COLUMNS
from dpcsim.logs import ingest
from dpcsim.plan import export_files, sample_dir
from dpcsim.run import Run

BASELINE_ID = "design-50-30-20"
RECOMMENDED_ID = "b8-a3-h7-cs2"
#: The fixture's configurations named by their decisions (config_names).
CONFIG_NAMES = {
    BASELINE_ID: "batch/admin/adhoc 8/2/5, SQA on, CS on batch+admin",
    RECOMMENDED_ID: "batch/admin/adhoc 8/2/7, SQA on, CS on batch+adhoc",
    "b8-a5-h7-cs2": "batch/admin/adhoc 8/5/7, SQA on, CS on batch+adhoc",
    "b6-a7-h7-cs1": "batch/admin/adhoc 6/7/7, SQA on, CS on batch",
    "auto-wlm": "batch/admin/adhoc auto/auto/auto, SQA on, CS on batch",
}
#: The design's ELTExecutionDelay threshold and the tuned one of deploy/ [min].
DESIGN_ELT_THRESHOLD_MIN = 90.0
TUNED_ELT_THRESHOLD_MIN = 60.0
#: The metric names as the seed design document writes them.
WRITTEN_METRIC_NAMES = [
    "ELTExecutionDelay",
    "CopyErrorCount",
    "WLMRejectedQueries",
    "WLMAttemptedQueries",
    "WLMQueueLength",
    "table_skew_percent",
    "RedshiftStorageCapacity",
]


def build_report_run(root: Path) -> Path:
    """A run folder at ``root/run`` with a real baseline simulated into it."""
    baseline = root / "baseline-run"
    simulate_baseline(baseline)
    return write_run_folder(root / "run", baseline)


def simulate_baseline(out_dir: Path, *, seed: int = 0) -> None:
    """Ingest the bundled sample, replay it under the design, write the run."""
    config = dpc_design_config()
    ingested = ingest(export_files([sample_dir()]), wlm=config)
    run = Run.simulate(
        ingested.workload,
        config,
        ClusterSettings(),
        rng=seed,
        design=load_design("dpc"),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    run.write(out_dir)


def recommended_wlm() -> list[dict[str, Any]]:
    """The design's WLM with adhoc given slots and scaling (the fixture's pick)."""
    wlm = dpc_design_config().to_json()
    for queue in wlm:
        if queue.get("name") == "adhoc":
            queue["query_concurrency"] = 7
            queue["concurrency_scaling"] = "auto"
        if queue.get("name") == "admin":
            queue["concurrency_scaling"] = "off"
    return wlm


def write_run_folder(root: Path, baseline_dir: Path | None) -> Path:
    """Write a complete run folder at ``root``; link ``baseline_dir`` into it."""
    root.mkdir(parents=True, exist_ok=True)
    base_cost = 0.0
    if baseline_dir is not None:
        (root / "baseline").symlink_to(baseline_dir.resolve(), target_is_directory=True)
        summary = json.loads((baseline_dir / "summary.json").read_text())
        base_cost = float(summary["scaling"].get("cost_usd") or 0.0)
    _write_json(root / "run.json", _run_json())
    write_calibration(root / "calibration")
    write_sweep(root / "sweep", base_cost)
    write_recommend(root / "recommend", base_cost)
    write_deploy(root / "deploy")
    return root


def _run_json() -> dict[str, Any]:
    return {
        "version": "0.1.0",
        "seed": 0,
        "settings": {
            "node_type": "ra3.4xlarge",
            "nodes": 2,
            "max_concurrency_scaling_clusters": 1,
        },
        "assumptions": {"sqa_slots": 2, "cs_startup_s": 60, "contention": "fitted"},
        "input_hashes": {
            "data/sample/svl_qlog.csv.gz": "9f2c41d0a7e3",
            "data/sample/stl_wlm_query.csv.gz": "1be07a55c391",
        },
        "design": {
            "name": "dpc-learning",
            "wlm_json": dpc_design_config().to_json(),
            "written_metric_names": WRITTEN_METRIC_NAMES,
            "queue_priorities": {
                "batch": "high",
                "adhoc": "medium",
                "admin": "highest",
            },
            "alarms": [
                {
                    "alarm_name": "Alert-ELT-Delay",
                    "metric_name": "ELTExecutionDelay",
                    "threshold": DESIGN_ELT_THRESHOLD_MIN,
                    "comparison": "GreaterThanThreshold",
                }
            ],
        },
    }


def write_calibration(folder: Path) -> None:
    """fit.json, fidelity.csv and settings.toml of ``dpcsim calibrate``."""
    folder.mkdir(parents=True, exist_ok=True)
    n = np.arange(1, 17)
    measured = n / (1 + 0.08 * (n - 1) + 0.002 * n * (n - 1))
    _write_json(
        folder / "fit.json",
        {
            "sigma": 0.081,
            "kappa": 0.0019,
            "sigma_ci": [0.066, 0.097],
            "kappa_ci": [0.0011, 0.0028],
            "n_queries_used": 18432,
            "identified": True,
            "defaults": {"sigma": 0.05, "kappa": 0.001},
            "points": [
                {"concurrency": int(c), "relative_throughput": round(float(x), 3)}
                for c, x in zip(n, measured * (1 + 0.03 * np.sin(n)), strict=True)
            ],
        },
    )
    pd.DataFrame(
        {
            "queue": ["adhoc", "admin", "batch"],
            "observed_p95_s": [12.0, 0.0, 41.0],
            "simulated_p95_s": [12.0, 0.0, 41.0],
            "mae_s": [0.0, 0.0, 0.0],
            "share_within_1s": [1.0, 1.0, 1.0],
        }
    ).to_csv(folder / "fidelity.csv", index=False)
    (folder / "settings.toml").write_text(
        "[contention]\nsigma = 0.081\nkappa = 0.0019\n"
    )


#: Configurations of the fixture's sweep at today's load and sqa_slots=2:
#: (config_id, scaling cost [USD/week], ELT lateness [min], adhoc p95 wait [s]).
CONFIGS = (
    (BASELINE_ID, 0.0, 8.0, 30.0),
    (RECOMMENDED_ID, 1.1, 2.5, 12.0),
    ("b8-a5-h7-cs2", 0.9, 2.7, 24.0),
    ("b6-a7-h7-cs1", 0.3, 14.0, 15.0),
    ("auto-wlm", 2.4, 3.0, 13.5),
)
#: Effect of the SQA slot assumption on adhoc waits (factor per value).
#: (assumption_id, sqa_slots, factor).
SQA_FACTORS = (("a0", 1, 1.3), ("a1", 2, 1.0), ("a2", 4, 0.8))


def _configs(base_cost: float) -> list[tuple[str, float, float, float]]:
    """CONFIGS with the real baseline's scaling cost added to every cost."""
    return [(c, base_cost + cost, elt, wait) for c, cost, elt, wait in CONFIGS]


def write_sweep(folder: Path, base_cost: float = 0.0) -> None:
    """results.parquet, stats.csv and space.toml of ``dpcsim sweep``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for config_id, cost, elt, wait in _configs(base_cost):
        for assumption, sqa_slots, factor in SQA_FACTORS:
            means = {
                "metric.wait_p95_s.adhoc": wait * factor,
                "metric.elt_lateness_min": elt,
                "metric.cost_usd": cost,
            }
            for rep in range(5):
                rows.append(
                    {
                        "run_key": f"{config_id}/{assumption}/{rep}",
                        "config_id": config_id,
                        "scenario_id": "growth=1.0",
                        "assumption_id": assumption,
                        "assumption.sqa_slots": sqa_slots,
                        "replication": rep,
                        "status": "ok",
                        "error": "",
                        **{m: v * (0.96 + 0.02 * rep) for m, v in means.items()},
                    }
                )
    results = pd.DataFrame(rows)
    results.to_parquet(folder / "results.parquet", index=False)
    # As `dpcsim sweep` writes it: its own intervals over the replications.
    summarize(results).to_csv(folder / "stats.csv", index=False)
    (folder / "space.toml").write_text("[decision]\nadhoc_slots = [5, 7]\n")


def write_recommend(folder: Path, base_cost: float = 0.0) -> None:
    """recommendation.json and the four CSVs of ``dpcsim recommend``."""
    folder.mkdir(parents=True, exist_ok=True)
    pareto = pd.DataFrame(
        _configs(base_cost),
        columns=["config_id", "cost_usd", "elt_lateness_min", "adhoc_p95_wait_s"],
    )
    for column in ("cost_usd", "elt_lateness_min", "adhoc_p95_wait_s"):
        half = 0.06 * pareto[column] + 0.01
        pareto[f"{column}_ci_low"] = (pareto[column] - half).clip(lower=0)
        pareto[f"{column}_ci_high"] = pareto[column] + half
    pareto["on_front"] = [True, True, False, True, False]
    pareto["indistinguishable_from_best"] = [False, True, False, False, True]
    pareto.to_csv(folder / "pareto.csv", index=False)
    # Robust headroom (the least favourable of 3 assumption points) beside the
    # base assumptions'; sqa_slots=1 decides the recommendation's adhoc wait.
    headroom = []
    for c, s in ((BASELINE_ID, 1.0), (RECOMMENDED_ID, 1.35)):
        for t, k, g, deciding in (
            ("ELT on time", "objective", 1.3 * s, "none"),
            ("adhoc p95 wait <= 60 s", "objective", 1.1 * s, "sqa_slots=1"),
            ("Alert-WLM-Queue", "alarm", 1.6 * s, "none"),
        ):
            base = g if deciding == "none" else g + 0.3
            robust = (c, t, k, g, g - 0.08, g + 0.09, deciding)
            headroom.append((*robust, base, base - 0.08, base + 0.09, 3))
    pd.DataFrame(headroom, columns=HEADROOM_COLUMNS).to_csv(
        folder / "headroom.csv", index=False
    )
    _tuning().to_csv(folder / "alarm_tuning.csv", index=False)
    pd.DataFrame(
        [
            ("StepFunctionsCompletion", "late_step_functions", 7, 0, 95.0, 0.0, 96.0),
            ("MartTableUpdate", "late_step_functions", 7, 0, 95.0, 0.0, 96.0),
            (
                "StepFunctionsCompletion",
                "dbt_model_failure",
                7,
                7,
                float("nan"),
                0.0,
                180.0,
            ),
            ("MartTableUpdate", "dbt_model_failure", 7, 0, 97.0, 0.0, 150.0),
            ("StepFunctionsCompletion", "partial_load", 7, 7, float("nan"), 0.0, 140.0),
            ("MartTableUpdate", "partial_load", 7, 1, 101.0, 0.14, 120.0),
        ],
        columns=[
            "definition",
            "fault",
            "incidents",
            "missed",
            "detection_delay_min",
            "false_alarms_per_week",
            "recovery_min",
        ],
    ).to_csv(folder / "elt_delay.csv", index=False)
    _write_json(
        folder / "recommendation.json",
        {
            "verdict": {
                "holds": False,
                "text": "50/30/20 holds at today's load only while "
                "SQA serves adhoc: at 1.1x growth adhoc's p95 wait passes 60 s and "
                "the ELT runs late; give adhoc 7 slots with scaling.",
            },
            "baseline_config_id": BASELINE_ID,
            "recommended_config_id": RECOMMENDED_ID,
            "config_names": CONFIG_NAMES,
            "recommended": {
                "wlm_json": recommended_wlm(),
                "max_concurrency_scaling_clusters": 2,
            },
            "recommendations": [
                {
                    "id": "wlm-schedule",
                    "title": "Time-of-day WLM schedule",
                    "observation": "batch slots idle outside 01:00-05:00 JST",
                    "impact_ranking": "MEDIUM",
                    "recommended_actions": [
                        {"text": "batch 8 slots 01:00-05:00, 4 otherwise"}
                    ],
                    "evidence": {"adhoc_p95_wait_s": [9.0, 7.5, 10.4]},
                }
            ],
        },
    )


def _tuning() -> pd.DataFrame:
    """A threshold grid per alarm around the design's own setting."""
    design = {a["AlarmName"]: a for a in dpc_design_alarms()}
    rows = []
    for alarm, thresholds, design_t in (
        ("Alert-WLM-Queue", (5, 10, 15, 20), 10),
        ("Alert-Query-Failure", (0.05, 0.1, 0.2), 0.05),
        ("Alert-ELT-Delay", (30, 60, 90), 90),
    ):
        spec = design[alarm]
        period_s = spec.get("Period") or spec["Metrics"][0]["MetricStat"]["Period"]
        for k, threshold in enumerate(thresholds):
            fa = 40.0 / (k + 1) ** 2
            selected = k == len(thresholds) - 2
            rows.append(
                [
                    alarm,
                    threshold,
                    period_s,
                    spec["EvaluationPeriods"],
                    spec["DatapointsToAlarm"],
                    spec["TreatMissingData"],
                    "design" if threshold == design_t else f"t{threshold}",
                    fa,
                    fa * 0.7,
                    fa * 1.3,
                    3.0 + 4 * k,
                    int(k == len(thresholds) - 1),
                    6,
                    selected,
                ]
            )
    return pd.DataFrame(rows, columns=TUNING_REQUIRED_COLUMNS)


def write_deploy(folder: Path) -> None:
    """The deployable files of ``dpcsim emit``."""
    (folder / "alarms").mkdir(parents=True, exist_ok=True)
    wlm = recommended_wlm()
    _write_json(folder / "wlm.json", wlm)
    _write_json(
        folder / "modify-cluster-parameter-group.json",
        {
            "ParameterGroupName": "dpc-learning-wlm",
            "Parameters": [
                {
                    "ParameterName": "wlm_json_configuration",
                    "ParameterValue": json.dumps(wlm),
                    "ApplyType": "dynamic",
                }
            ],
        },
    )
    for alarm in dpc_design_alarms():
        if alarm.get("MetricName") == "ELTExecutionDelay":
            alarm = {**alarm, "Threshold": TUNED_ELT_THRESHOLD_MIN}
        _write_json(folder / "alarms" / f"{alarm['AlarmName']}.json", alarm)
    _write_json(folder / "dashboard.json", {"widgets": []})
    (folder / "template.yaml").write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n"
    )
    (folder / "CHANGES.md").write_text("adhoc: 5 -> 7 slots, scaling auto\n")


def _write_json(path: Path, value: Any) -> None:
    path.write_text(
        json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
