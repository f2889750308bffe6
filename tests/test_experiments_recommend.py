"""Alarm tuning and the recommendation on a small synthetic sweep."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _experiments_fixtures import SPEC, context, small_workload

from dpcsim.alarms import dpc_design_alarms
from dpcsim.alarms.history import AlarmStates
from dpcsim.cli import main
from dpcsim.designs import DPC_ELT
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine import ClusterSettings
from dpcsim.experiments import run_sweep, space_from_dict
from dpcsim.experiments.recommend import HEADROOM_COLUMNS, recommend
from dpcsim.experiments.replicate import RegenerateWeeks
from dpcsim.experiments.tuning import (
    NEVER_BREACHED,
    TUNING_COLUMNS,
    TuningGrid,
    nearest_to_breach,
    tune_alarms,
)
from dpcsim.report.operations import _uncaught
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
    # Headroom is told for the recommended and the design's configuration,
    # each by its words and key.
    head = next(r for r in doc["recommendations"] if r["id"] == "HEADROOM")
    for key in {doc["recommended_config_id"], doc["baseline_config_id"]}:
        assert f"{doc['config_names'][key]}, key {key})" in head["observation"]
    ok = rec.headroom.dropna()
    assert (ok["ci_low"] <= ok["growth_at_failure"] + 1e-9).all()


def test_the_texts_name_configurations_and_admit_when_none_qualifies(
    swept: tuple,  # type: ignore[type-arg]
) -> None:
    space, ctx, results = swept
    # No run waits less than nothing at p95: no configuration can qualify.
    strict = replace(space, objectives=replace(space.objectives, adhoc_p95_wait_s=-1.0))
    rec = recommend(strict, ctx, results, replications=2, headroom_steps=1)
    doc = rec.document
    assert doc["recommended_config_id"] == doc["baseline_config_id"]
    text = doc["verdict"]["text"]
    assert "no configuration tried meets every objective, so none replaces it" in text
    assert "it is also the recommendation" not in text
    # The headroom record names the configuration in words, its key in brackets.
    base = doc["baseline_config_id"]
    record = next(r for r in doc["recommendations"] if r["id"] == "HEADROOM")
    words = doc["config_names"][base]
    observation = record["observation"]
    assert f"for the design's configuration ({words}, key {base}) at" in observation
    assert "recommended configuration" not in observation
    assert f"growth {base}" not in observation


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
        RegenerateWeeks(SPEC, 3),
        dpc_design_config(),
        ClusterSettings(),
        contract=DPC_ELT,
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
    # A setting that caught every incident records no missed-incident value.
    caught = table.loc[(table["incidents"] > 0) & (table["missed"] == 0)]
    assert caught["incident_value"].isna().all()
    assert (caught["miss_reason"] == "").all()
    # A setting that missed one says why: never breached, or breached for
    # fewer periods than its rule needs, which its value decides.
    missed = table.loc[table["missed"] > 0]
    assert len(missed) > 0
    for r in missed.itertuples():
        if r.miss_reason == NEVER_BREACHED:
            assert not r.incident_value >= r.threshold
        else:
            assert r.miss_reason.startswith("breached, but never in ")
            assert r.incident_value >= r.threshold


def test_the_value_nearest_to_breaching_is_taken_inside_the_horizon() -> None:
    t0 = pd.Timestamp("2025-06-02T00:00:00Z")
    us = int(t0.value // 1000) + np.arange(-2, 6, dtype=np.int64) * 60_000_000
    values = np.array([50.0, 9.0, 1.0, np.nan, 4.0, 2.0, 30.0, 0.5])
    states = AlarmStates("a", us, np.zeros(8, np.int8), 60, values)
    # From t0 (index 2) for 3 minutes: 1, NaN, 4, 2.
    assert nearest_to_breach(states, "GreaterThanThreshold", t0, 3 / 60) == 4.0
    assert nearest_to_breach(states, "LessThanThreshold", t0, 3 / 60) == 1.0
    assert nearest_to_breach(states, "GreaterThanThreshold", t0, 10) == 30.0
    quiet = AlarmStates("b", us, np.zeros(8, np.int8), 60, np.full(8, np.nan))
    assert np.isnan(nearest_to_breach(quiet, "GreaterThanThreshold", t0, 1))


def test_the_report_names_alarms_no_setting_lets_catch_their_incidents() -> None:
    too_short = "breached, but never in 10 of 10 consecutive periods"
    rows = [
        # Queue alarm: at 5 the spike breached but too briefly; at 50 never.
        ("Alert-WLM-Queue", 5.0, 1, 1, 44.0, too_short),
        ("Alert-WLM-Queue", 50.0, 1, 1, 44.0, NEVER_BREACHED),
        ("Alert-COPY-Error", 1.0, 0, 1, np.nan, ""),  # caught
        ("Alert-Storage-High", 80.0, 0, 0, np.nan, ""),  # nothing injected
    ]
    tuning = pd.DataFrame(
        rows,
        columns=[
            "alarm", "threshold", "missed", "incidents", "incident_value", "miss_reason"
        ],
    )  # fmt: skip
    note = _uncaught(tuning)
    assert note is not None
    assert "Alert-WLM-Queue misses an incident at every setting tried" in note
    assert "thresholds 5.00, 50.00" in note
    assert "closest to or past the threshold was 44.00" in note
    assert too_short in note
    assert NEVER_BREACHED in note
    assert "COPY" not in note
    assert "Storage" not in note
    assert _uncaught(tuning.loc[tuning["alarm"] != "Alert-WLM-Queue"]) is None


def test_the_tuning_record_says_when_the_selected_setting_misses() -> None:
    from dpcsim.experiments.recommend import _record_tuning

    def row(alarm: str, threshold: float, missed: int, incidents: int, sel: bool):  # type: ignore[no-untyped-def]
        return {
            "alarm": alarm, "threshold": threshold, "period_s": 60,
            "evaluation_periods": 10, "datapoints_to_alarm": 10,
            "treat_missing_data": "missing", "variant": "design",
            "false_alarms_per_week": 0.0, "fa_ci_low": 0.0, "fa_ci_high": 0.0,
            "detection_delay_min": np.nan, "missed": missed, "incidents": incidents,
            "selected": sel, "not_injected": "", "incident_value": 3.0,
            "miss_reason": NEVER_BREACHED if missed else "",
        }  # fmt: skip

    rows = [
        row("Alert-WLM-Queue", 5.0, 1, 1, True),
        row("Alert-WLM-Queue", 2.0, 1, 1, False),
        row("Alert-COPY-Error", 1.0, 0, 1, True),
    ]
    record = _record_tuning(pd.DataFrame(rows, columns=TUNING_COLUMNS))
    text = record["observation"]
    assert "No setting tried catches every injected incident of Alert-WLM-Queue" in text
    assert "Alert-COPY-Error: design" in text
    assert "of Alert-COPY-Error" not in text
    assert record["evidence"]["uncaught"] == ["Alert-WLM-Queue"]
    assert any("Alert-WLM-Queue" in a for a in record["recommended_actions"])
    # Every incident caught at the selected settings: no such sentence.
    caught = _record_tuning(pd.DataFrame(rows[2:], columns=TUNING_COLUMNS))
    assert "No setting tried" not in caught["observation"]
    assert caught["recommended_actions"] == ["Deploy the selected alarm settings."]


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
    # Run again into the same folder: refused before any work without --force,
    # every file left as it was.
    (rec / "pareto.csv").write_text("edited by hand\n", encoding="utf-8")
    (rec / "my-notes.txt").write_text("mine\n", encoding="utf-8")
    again = ["recommend", "--sweep", str(out), "--out", str(rec), "--replications", "2"]
    assert main(again) == 2
    assert "not empty; pass --force" in capsys.readouterr().err
    assert (rec / "pareto.csv").read_text(encoding="utf-8") == "edited by hand\n"
    # --force replaces what recommend wrote and keeps the user's own file.
    assert main([*again, "--force"]) == 0
    assert (rec / "pareto.csv").read_text(encoding="utf-8").startswith("config_id")
    assert (rec / "my-notes.txt").read_text(encoding="utf-8") == "mine\n"


# ------------------------------------------------------- headroom under assumptions

#: One adhoc slot on the two-day workload: with every statement's work 8 times
#: what the log shows, the adhoc p95 wait passes 5 s at today's load; at the
#: base (the log's work) it stays under 2 s up to growth 4.
ROBUST_SPACE = {
    "sweep": {"seed": 5, "replications": 2},
    "decisions": {"slots.adhoc": [1]},
    "scenarios": {"growth": [1.0]},
    "assumptions": {"work_scale": [1.0, 8.0]},
    "objectives": {"adhoc_p95_wait_s": 5.0},
}


def test_headroom_is_the_minimum_over_the_assumptions_tried(tmp_path: Path) -> None:
    path = small_workload(tmp_path / "w")
    ctx = context(path, alarms=dpc_design_alarms())
    space = space_from_dict(ROBUST_SPACE)
    results = run_sweep(space, ctx, tmp_path / "sweep", workers=1).results
    rec = recommend(space, ctx, results, replications=2, headroom_steps=1)
    head = rec.headroom
    assert list(head.columns) == HEADROOM_COLUMNS
    # work_scale 1 is the base setting, so only one other point is evaluated.
    assert set(head["assumption_points"]) == {2}
    assert (head["growth_at_failure"] <= head["base_growth_at_failure"]).all()
    wait = head.set_index("target").loc["adhoc_p95_wait_s"]
    assert wait["growth_at_failure"] < wait["base_growth_at_failure"]
    assert wait["deciding_assumption"] == "work_scale=8"
    same = head["growth_at_failure"] == head["base_growth_at_failure"]
    assert (head.loc[same, "deciding_assumption"] == "none").all()
    record = next(r for r in rec.document["recommendations"] if r["id"] == "HEADROOM")
    by_point = pd.DataFrame(record["evidence"]["by_assumption"])
    assert set(by_point["assumption"]) == {"base", "work_scale=8"}
    assert len(by_point) == 2 * len(head)
    text = rec.document["verdict"]["text"]
    assert "under work_scale=8, the least favourable" in text


def test_robust_headroom_takes_the_smallest_point_and_its_bracket() -> None:
    from dpcsim.experiments.recommend import HEADROOM_POINT_COLUMNS, robust_headroom

    inf = float("inf")
    rows = [
        # config, point id, label, target, kind, growth, low, high
        ("c1", "base", "base", "wait", "objective", 2.0, 1.8, 2.3),
        ("c1", "a1", "sigma=0.04", "wait", "objective", 1.5, 1.4, 1.7),
        ("c1", "a2", "slots=3", "wait", "objective", inf, 4.0, inf),
        ("c1", "base", "base", "elt", "objective", 1.25, 1.0, 1.5),
        ("c1", "a1", "sigma=0.04", "elt", "objective", 1.25, 1.1, 1.4),
        ("c1", "a2", "slots=3", "elt", "objective", 3.0, 2.5, 4.0),
        ("c1", "base", "base", "q", "alarm", inf, 4.0, inf),
        ("c1", "a1", "sigma=0.04", "q", "alarm", inf, 4.0, inf),
        ("c1", "a2", "slots=3", "q", "alarm", inf, 4.0, inf),
    ]
    out = robust_headroom(pd.DataFrame(rows, columns=HEADROOM_POINT_COLUMNS))
    got = out.set_index("target")
    assert list(out.columns) == HEADROOM_COLUMNS
    wait = got.loc["wait"]
    assert (wait["growth_at_failure"], wait["ci_low"], wait["ci_high"]) == (
        1.5,
        1.4,
        1.7,
    )
    assert wait["deciding_assumption"] == "sigma=0.04"
    assert wait["base_growth_at_failure"] == 2.0
    # A tie with the base: the base assumptions are as bad, no other decides;
    # the bracket still takes the smaller ends of both intervals.
    elt = got.loc["elt"]
    assert elt["deciding_assumption"] == "none"
    assert (elt["ci_low"], elt["ci_high"]) == (1.0, 1.4)
    assert got.loc["q", "growth_at_failure"] == inf
    assert got.loc["q", "deciding_assumption"] == "none"
    assert set(out["assumption_points"]) == {3}


def test_headroom_points_fall_back_to_each_axis_worst_value() -> None:
    from dpcsim.experiments.recommend import headroom_points

    space = space_from_dict(
        {
            "decisions": {"slots.adhoc": [5]},
            "assumptions": {
                "contention_kappa": [0.0044, 0.01, 0.03],
                "sqa_slots": [3, 5, 8],
            },
        }
    )
    ctx = context(Path("unused.parquet"))
    rows = []
    for i, a in enumerate(space.assumptions):
        late = a["contention_kappa"] == 0.03  # the ELT misses its window
        slow = a["sqa_slots"] == 3  # adhoc waits grow
        for r in range(2):
            rows.append(
                {
                    "config_id": "c1",
                    "assumption_id": f"a{i}",
                    "replication": r,
                    "assumption.contention_kappa": a["contention_kappa"],
                    "assumption.sqa_slots": a["sqa_slots"],
                    "metric.elt_on_time": 0.0 if late else 1.0,
                    "metric.elt_lateness_min": 30.0 if late else 0.0,
                    "metric.wait_p95_s.adhoc": 90.0 if slow else 1.0 + r,
                }
            )
    results = pd.DataFrame(rows)
    # Every point but the base (kappa 0.0044, 5 SQA slots): 8 > 4.
    few = headroom_points(space, ctx, results, ["c1"], limit=4)
    assert few.points == ({}, {"contention_kappa": 0.03}, {"sqa_slots": 3})
    assert few.labels == ("base", "contention_kappa=0.03", "sqa_slots=3")
    assert "worst value" in few.selection
    assert "8 points" in few.selection
    every = headroom_points(space, ctx, results, ["c1"], limit=8)
    assert len(every.points) == 9
    assert every.points[0] == {}
    assert every.selection == "every assumption point tried in the sweep"


def test_pareto_marks_only_configurations_the_paired_test_cannot_tell_apart() -> None:
    """A twin of the best (paired noise around zero) is indistinguishable; a
    configuration 10 s worse on adhoc p95 wait in every replication is not.

    Eight replications; the twin's paired differences are +-0.01 s around 0,
    the worse one's 10 +- 0.01 s, so the Bonferroni-corrected t test cannot
    mistake one for the other.
    """
    from dpcsim.experiments.recommend import _pareto

    rng = np.random.default_rng(11)
    reps = 8
    base_wait = rng.uniform(1.0, 3.0, size=reps)
    rows = []
    for config_id, shift, noise in (
        ("best", 0.0, 0.0),
        ("twin", 0.0, 0.01),
        ("worse", 10.0, 0.01),
    ):
        wait = base_wait + shift + noise * rng.standard_normal(reps)
        for r in range(reps):
            rows.append(
                {
                    "status": "ok",
                    "config_id": config_id,
                    "scenario_id": "normal",
                    "assumption_id": "base",
                    "replication": r,
                    "metric.cost_usd": 0.0,
                    "metric.elt_lateness_min": 0.0,
                    "metric.wait_p95_s.adhoc": float(wait[r]),
                }
            )
    normal = pd.DataFrame(rows)
    means = normal.groupby("config_id")[
        ["metric.cost_usd", "metric.elt_lateness_min", "metric.wait_p95_s.adhoc"]
    ].mean()
    frame = _pareto(normal, means, ["best", "twin", "worse"], 0.95).set_index(
        "config_id"
    )
    best = str(means["metric.wait_p95_s.adhoc"].idxmin())
    assert frame.loc[best, "indistinguishable_from_best"]
    assert frame.loc[["best", "twin"], "indistinguishable_from_best"].all()
    assert not frame.loc["worse", "indistinguishable_from_best"]
