"""Alarm tuning and the recommendation on a small synthetic sweep."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _experiments_fixtures import SPEC, context, small_workload

from dpcsim.alarms import dpc_design_alarms
from dpcsim.cli import main
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine import ClusterSettings
from dpcsim.experiments import run_sweep, space_from_dict
from dpcsim.experiments.recommend import HEADROOM_COLUMNS, recommend
from dpcsim.experiments.tuning import TUNING_COLUMNS, TuningGrid, tune_alarms
from dpcsim.wlm import WLMConfig

SPACE = {
    "sweep": {"seed": 5, "replications": 2},
    "decisions": {"slots.adhoc": [2, 5], "max_concurrency_scaling_clusters": [1]},
    "scenarios": {"growth": [1.0, 2.0]},
    "assumptions": {"cs_start_delay_s": [10.0, 120.0]},
    "objectives": {"adhoc_p95_wait_s": 30.0},
}


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object, object]:
    path = small_workload(tmp_path_factory.mktemp("w"))
    ctx = context(path, alarms=dpc_design_alarms())
    space = space_from_dict(SPACE)
    report = run_sweep(space, ctx, tmp_path_factory.mktemp("sweep"), workers=1)
    return space, ctx, report.results


def test_recommendation_shapes_and_properties(swept: tuple) -> None:  # type: ignore[type-arg]
    space, ctx, results = swept
    rec = recommend(space, ctx, results, replications=2, headroom_steps=1)
    doc = rec.document
    assert set(doc) >= {
        "verdict",
        "baseline_config_id",
        "recommended_config_id",
        "recommended",
        "recommendations",
    }
    # The emitted WLM configuration is a valid wlm_json_configuration.
    config = WLMConfig.from_json(json.dumps(doc["recommended"]["wlm_json"]))
    assert config.queue_names == dpc_design_config().queue_names
    assert isinstance(doc["verdict"]["holds"], bool)
    ids = {r["id"] for r in doc["recommendations"]}
    assert {
        "WLM-CONFIG",
        "DESIGN-HOLDS",
        "PARETO",
        "HEADROOM",
        "SCHEDULE",
        "ADVISOR-WLM",
    } <= ids
    for r in doc["recommendations"]:
        assert r["impact_ranking"] in ("HIGH", "MEDIUM", "LOW")
    p = rec.pareto
    values = p[["cost_usd", "elt_lateness_min", "adhoc_p95_wait_s"]].to_numpy()
    for i, on in enumerate(p["on_front"]):
        dominated = np.any(
            np.all(values <= values[i], axis=1) & np.any(values < values[i], axis=1)
        )
        assert on == (not dominated)
    assert p["indistinguishable_from_best"].any()
    assert list(rec.headroom.columns) == HEADROOM_COLUMNS
    assert set(rec.headroom["kind"]) == {"objective", "alarm"}
    ok = rec.headroom.dropna()
    assert (ok["ci_low"] <= ok["growth_at_failure"] + 1e-9).all()


def test_alarm_tuning_table(tmp_path: Path) -> None:
    grid = TuningGrid(
        thresholds={"Alert-Query-Failure": (0.05,)},
        periods_s={},
        rules={},
        treat_missing=("notBreaching",),
        min_volumes=(20,),
    )
    table = tune_alarms(
        dpc_design_alarms(),
        SPEC,
        dpc_design_config(),
        ClusterSettings(),
        root=3,
        replications=2,
        grid=grid,
    )
    assert list(table.columns) == TUNING_COLUMNS
    assert (table.groupby("alarm")["selected"].sum() == 1).all()
    copy_row = table.loc[table["alarm"] == "Alert-COPY-Error"].iloc[0]
    # One COPY error, caught within the alarm's 5-minute period.
    assert (copy_row["missed"], copy_row["incidents"]) == (0, 1)
    assert copy_row["detection_delay_min"] <= 6.0
    variants = set(table.loc[table["alarm"] == "Alert-Query-Failure", "variant"])
    assert variants == {"design", "min_volume_20", "wlm_caused"}


def test_cli_bad_space_is_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = tmp_path / "space.toml"
    space.write_text("[decisions.slots]\ntotal = 'sixteen'\n", encoding="utf-8")
    path = small_workload(tmp_path / "w")
    code = main(
        [
            "sweep",
            "--workload",
            str(path),
            "--space",
            str(space),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "decisions.slots.total" in err
    assert "'sixteen'" in err


def test_cli_sweep_then_recommend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = small_workload(tmp_path / "w")
    space = tmp_path / "space.toml"
    space.write_text(
        "[sweep]\nreplications = 2\n[decisions]\nslots.adhoc = [4, 5]\n",
        encoding="utf-8",
    )
    out = tmp_path / "sweep"
    assert (
        main(
            [
                "-q",
                "sweep",
                "--workload",
                str(path),
                "--space",
                str(space),
                "--out",
                str(out),
                "--workers",
                "1",
                "--alarms",
                "none",
            ]
        )
        == 0
    )
    results = pd.read_parquet(out / "results.parquet")
    assert len(results) == 4
    stats = pd.read_csv(out / "stats.csv")
    assert list(stats.columns) == [
        "config_id",
        "scenario_id",
        "assumption_id",
        "metric",
        "n",
        "mean",
        "ci_low",
        "ci_high",
        "level",
    ]
    assert (
        main(
            [
                "sweep",
                "--workload",
                str(path),
                "--space",
                str(space),
                "--out",
                str(out),
                "--workers",
                "1",
                "--alarms",
                "none",
            ]
        )
        == 0
    )
    assert "0 done now, 4 already done" in capsys.readouterr().out
    rec = tmp_path / "rec"
    assert (
        main(
            ["recommend", "--sweep", str(out), "--out", str(rec), "--replications", "2"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "50/30/20" in printed
    for name in ("recommendation.json", "pareto.csv", "headroom.csv"):
        assert (rec / name).is_file()
