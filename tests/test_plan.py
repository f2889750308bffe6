"""``dpcsim plan --quick`` on the bundled sample, end to end and in process.

One quick plan (module fixture) is checked against the run-folder contract of
:mod:`dpcsim.report.folder`, its run.json keys, its report (built, and opened in
headless Chromium with the browser test's assertions) and its verdict; a second
quick plan into another folder must write the same bytes in every JSON and CSV
file except ``timings.json`` (stage times) and ``sweep/sweep.json`` (it names
the folder's own workload path, compared with the folder name replaced).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dpcsim.cli import main
from dpcsim.plan import PlanOptions, _uncaught_lines, plan, verdict_lines
from dpcsim.report.context import SECTION_TITLES
from dpcsim.report.folder import read_run_folder

#: Every file of the run-folder contract a plan writes.
CONTRACT = (
    "run.json",
    "baseline/queries.parquet",
    "baseline/timeline.parquet",
    "baseline/scaling.parquet",
    "baseline/summary.json",
    "baseline/metrics.parquet",
    "baseline/alarm_history.csv",
    "baseline/alarm_summary.csv",
    "calibration/settings.toml",
    "calibration/fit.json",
    "calibration/fidelity.csv",
    "sweep/results.parquet",
    "sweep/stats.csv",
    "sweep/space.toml",
    "recommend/recommendation.json",
    "recommend/pareto.csv",
    "recommend/headroom.csv",
    "recommend/alarm_tuning.csv",
    "recommend/elt_delay.csv",
    "deploy/wlm.json",
    "deploy/modify-cluster-parameter-group.json",
    "deploy/dashboard.json",
    "deploy/template.yaml",
    "deploy/CHANGES.md",
    "report.html",
    "report.md",
)
#: Files that carry wall-clock times or the folder's own path.
NOT_COMPARED = {"timings.json", "sweep/sweep.json"}


def _quick(out: Path) -> object:
    out.mkdir(parents=True, exist_ok=True)
    # One worker runs the sweep in this process (no pool to spawn under pytest).
    return plan(PlanOptions(quick=True, workers=1), out)


@pytest.fixture(scope="module")
def quick_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan") / "a"
    return _quick(out)


def test_every_file_of_the_contract_exists(quick_plan):
    out = quick_plan.out
    missing = [name for name in CONTRACT if not (out / name).is_file()]
    assert missing == []
    assert list((out / "deploy" / "alarms").glob("*.json"))


def test_run_json_has_the_keys_the_report_reads(quick_plan):
    run = json.loads((quick_plan.out / "run.json").read_text())
    for key in ("version", "seed", "settings", "assumptions", "input_hashes"):
        assert key in run, key
    # Hashes are of the files ingested: the sample's query log among them.
    assert any("svl_qlog" in name for name in run["input_hashes"])
    assert all(len(h) == 64 for h in run["input_hashes"].values())
    design = run["design"]
    assert design["name"]
    assert [q["name"] for q in design["wlm_json"] if "name" in q] == [
        "batch",
        "admin",
        "adhoc",
    ]
    assert "RedshiftStorageCapacity" in design["written_metric_names"]
    assert design["queue_priorities"]["admin"] == "highest"
    assert set(design["runbook_steps"]) == {"late_start", "dbt_failure", "copy_error"}


def test_run_json_keeps_the_designs_alarm_thresholds(quick_plan):
    run = json.loads((quick_plan.out / "run.json").read_text())
    by_metric = {a["metric_name"]: a for a in run["design"]["alarms"]}
    # The design's ELT alarm as written (90 min), whatever deploy/ tunes it to.
    assert by_metric["ELTExecutionDelay"]["alarm_name"] == "Alert-ELT-Delay"
    assert by_metric["ELTExecutionDelay"]["threshold"] == 90.0
    assert by_metric["WLMQueueLength"]["alarm_name"] == "Alert-WLM-Queue"


def test_headroom_and_names_carry_through_the_plan(quick_plan):
    from dpcsim.experiments.recommend import HEADROOM_COLUMNS

    head = pd.read_csv(quick_plan.out / "recommend" / "headroom.csv")
    assert list(head.columns) == HEADROOM_COLUMNS
    assert (head["growth_at_failure"] <= head["base_growth_at_failure"]).all()
    # --quick tries one assumption point, the fitted base: nothing else decides.
    assert set(head["assumption_points"]) == {1}
    assert set(head["deciding_assumption"]) == {"none"}
    doc = quick_plan.recommendation
    base = doc["config_names"][doc["baseline_config_id"]]
    assert base.startswith("batch/admin/adhoc 8/3/5, SQA on")
    md = quick_plan.report_md.read_text(encoding="utf-8")
    finding = next(line for line in md.splitlines() if "**finding:**" in line)
    assert "batch/admin/adhoc 8/3/5" in finding


def test_the_report_reads_every_part(quick_plan):
    folder = read_run_folder(quick_plan.out)
    for part in ("baseline", "calibration", "sweep", "recommend", "deploy"):
        assert getattr(folder, part) is not None, part
    assert folder.recommend.elt_delay is not None
    html = quick_plan.report_html.read_text(encoding="utf-8")
    for k, title in enumerate(SECTION_TITLES, start=1):
        assert f"{k}. {title}" in html


def test_the_sensitivity_table_holds_the_sweeps_own_intervals(quick_plan):
    # Read from the stats.csv the sweep wrote (its metric names as it names
    # them): one row per metric and assumption point of the recommendation.
    folder = read_run_folder(quick_plan.out)
    stats = folder.sweep.stats
    recommended = json.loads(
        (quick_plan.out / "recommend" / "recommendation.json").read_text()
    )
    md = quick_plan.report_md.read_text(encoding="utf-8")
    section = md.split("### Sensitivity of the recommendation")[1].split("\n## ")[0]
    rows = [
        line for line in section.splitlines() if line.startswith("| adhoc p95 wait |")
    ]
    expected = stats[
        (stats["config_id"].astype(str) == recommended["recommended_config_id"])
        & (stats["metric"] == "wait_p95_s.adhoc")
    ]
    assert len(rows) == len(expected) > 0


def test_elt_delay_compares_both_definitions_under_three_faults(quick_plan):
    elt = pd.read_csv(quick_plan.out / "recommend" / "elt_delay.csv")
    assert set(elt["definition"]) == {"StepFunctionsCompletion", "MartTableUpdate"}
    assert set(elt["fault"]) == {"late_start", "dbt_failure", "copy_error"}
    by = elt.set_index(["definition", "fault"])
    # Step Functions reports SUCCEEDED when a dbt model fails: its definition
    # cannot see the stale mart, the mart-update one must.
    assert by.loc[("StepFunctionsCompletion", "dbt_failure"), "missed"] == 1
    assert by.loc[("MartTableUpdate", "dbt_failure"), "missed"] == 0
    # A 150-minute late start is past the 90-minute threshold under both.
    assert (by.xs("late_start", level="fault")["missed"] == 0).all()


def test_the_verdict_is_in_plain_words(quick_plan):
    lines = verdict_lines(quick_plan)
    text = "\n".join(lines)
    assert "hold" in lines[0]
    assert "ELTExecutionDelay: publish Definition=" in text
    assert str(quick_plan.out / "deploy") in text
    assert str(quick_plan.report_html) in text
    # Every alarm the tuning could not make catch its incidents is named.
    tuning = pd.read_csv(quick_plan.out / "recommend" / "alarm_tuning.csv")
    missing = {
        str(a)
        for a, g in tuning.groupby("alarm")
        if (g["incidents"] > 0).any() and (g["missed"] > 0).all()
    }
    named = {line.split(":")[0] for line in lines if "no setting tried" in line}
    assert named == missing


def test_an_alarm_no_setting_lets_catch_its_incident_is_a_verdict_line(
    tmp_path: Path,
) -> None:
    too_short = "breached, but never in 10 of 10 consecutive periods"
    rows = [
        ("Alert-WLM-Queue", 5.0, 1, 1, 44.0, too_short),
        ("Alert-WLM-Queue", 20.0, 1, 1, 9.6, too_short),
        ("Alert-COPY-Error", 1.0, 0, 1, np.nan, ""),
    ]
    csv = tmp_path / "alarm_tuning.csv"
    pd.DataFrame(
        rows,
        columns=[
            "alarm", "threshold", "missed", "incidents", "incident_value", "miss_reason"
        ],
    ).to_csv(csv, index=False)  # fmt: skip
    assert _uncaught_lines(csv) == [
        "Alert-WLM-Queue: no setting tried (thresholds 5, 20) catches every "
        "incident injected for it; in those it missed, its value closest to or "
        f"past the threshold: 9.6 to 44 ({too_short})."
    ]
    assert _uncaught_lines(tmp_path / "absent.csv") == []


def test_two_quick_plans_write_the_same_bytes(quick_plan, tmp_path):
    other = _quick(tmp_path / "b")
    first, second = quick_plan.out, other.out
    names = sorted(
        p.relative_to(first).as_posix()
        for p in first.rglob("*")
        if p.suffix in (".json", ".csv") and "runs" not in p.parts
    )
    assert len(names) > 15
    differ = []
    for name in names:
        if name in NOT_COMPARED:
            continue
        if (first / name).read_bytes() != (second / name).read_bytes():
            differ.append(name)
    assert differ == []
    a = (first / "sweep/sweep.json").read_text().replace(str(first), "DIR")
    b = (second / "sweep/sweep.json").read_text().replace(str(second), "DIR")
    assert a == b


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--workers", "0"], "--workers 0"),
        (["--workload", "/nonexistent/exports"], "/nonexistent/exports"),
        (["--space", "/nonexistent/space.toml"], "space.toml"),
        (["--seed", "-1"], "--seed -1"),
    ],
)
def test_bad_arguments_give_one_line(tmp_path, capsys, argv, says):
    code = main(["plan", *argv, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in err
    assert says in err


def test_a_non_empty_out_is_refused_without_force(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    assert main(["plan", "--quick", "--out", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err


def test_the_plans_report_passes_the_browser_check(quick_plan, tmp_path):
    from test_report_browser import CHROMIUM, SCREENSHOT_DIR, inspect_report

    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium: `make test` as root")
    sync_api = pytest.importorskip("playwright.sync_api")
    shot = tmp_path / "plan-report.png"
    seen = inspect_report(sync_api, quick_plan.report_html, shot)
    assert seen.blocked == []
    assert seen.errors == []
    assert len(seen.images) >= 8
    assert [alt for done, width, alt in seen.images if not (done and width > 0)] == []
    assert seen.headings == [
        f"{k}. {title}" for k, title in enumerate(SECTION_TITLES, start=1)
    ]
    assert shot.stat().st_size > 50_000
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    (SCREENSHOT_DIR / "plan-report-screenshot.png").write_bytes(shot.read_bytes())


def test_the_full_default_space_carries_a_schedule_that_round_trips() -> None:
    """The full plan's space has one schedule candidate: the ELT queue's most
    slots in the ELT window, its fewest by day; space.toml reads back to the
    same decision points."""
    import tomllib
    from types import SimpleNamespace

    from dpcsim.designs import default_design
    from dpcsim.experiments import space_from_dict
    from dpcsim.plan import FULL, QUICK, default_space, space_toml

    design = default_design()
    fit = SimpleNamespace(sigma=0.02, curve=None)
    space = default_space(design, fit, FULL, seed=3)
    elt = design.elt.queue
    (candidate,) = space["decisions"]["schedule"]["candidates"]
    night, day = candidate["elt"]["slots"][elt], candidate["day"]["slots"][elt]
    points = space["decisions"]["points"]
    assert night == max(p[f"slots.{elt}"] for p in points)
    assert day == min(p[f"slots.{elt}"] for p in points)
    assert night > day
    direct = space_from_dict(space)
    read = space_from_dict(tomllib.loads(space_toml(space)))
    assert read.decisions == direct.decisions
    schedules = [p for p in read.decisions if "schedule.elt_at" in p]
    assert len(schedules) == 1
    assert schedules[0]["schedule.elt_at"] == design.elt.window_start
    assert "schedule" not in default_space(design, fit, QUICK, seed=3)["decisions"]


def test_deploy_changes_list_only_decisions_that_differ(tmp_path: Path) -> None:
    """A slot count read back as float (its column holds NaN for schedule
    points) is the same decision as the int: only real changes are listed."""
    from dpcsim.plan import _decision_changes

    (tmp_path / "sweep").mkdir()
    pd.DataFrame(
        {
            "config_id": ["base", "sched"],
            "decision.slots.batch": [8.0, float("nan")],
            "decision.concurrency_scaling.adhoc": ["off", None],
            "decision.sqa": [True, None],
        }
    ).to_parquet(tmp_path / "sweep" / "results.parquet")
    decision = {"slots.batch": 8, "concurrency_scaling.adhoc": "auto", "sqa": True}
    assert _decision_changes(tmp_path, "base", decision) == [
        "concurrency_scaling.adhoc: off -> auto"
    ]
    assert _decision_changes(tmp_path, "base", {"slots.batch": 5}) == [
        "slots.batch: 8 -> 5"
    ]
