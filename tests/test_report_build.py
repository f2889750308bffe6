"""The report built from a run folder: sections, numbers, escaping, missing parts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from report_fixtures import RECOMMENDED_ID, build_report_run

from dpcsim.cli import main
from dpcsim.errors import InputError
from dpcsim.report import build_report
from dpcsim.report.build import build_document
from dpcsim.report.context import SECTION_TITLES
from dpcsim.report.document import (
    CSP,
    Document,
    Figure,
    Paragraph,
    Section,
    Table,
    to_html,
    to_markdown,
)
from dpcsim.report.folder import read_run_folder
from dpcsim.report.formatting import as_flag


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    return build_report_run(tmp_path_factory.mktemp("report"))


@pytest.fixture
def run_dir(shared_run, tmp_path):
    """A private copy (the baseline stays a link to the shared real run)."""
    copy = tmp_path / "run"
    shutil.copytree(shared_run, copy, symlinks=True)
    return copy


def _md(run_dir) -> str:
    """The Markdown report (the same blocks as the HTML, without drawing figures)."""
    return to_markdown(build_document(read_run_folder(run_dir)))


def _plain(md: str) -> str:
    """Markdown without escapes and table bars, for searching."""
    return re.sub(r"\\(.)", r"\1", md).replace("|", " ")


def test_every_section_in_order_in_both_files_and_html_self_contained(run_dir):
    html, md = build_report(run_dir)
    headings = re.findall(r"<h2>(.*?)</h2>", html)
    assert headings == [f"{k}. {t}" for k, t in enumerate(SECTION_TITLES, start=1)]
    md_headings = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert md_headings == headings
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html
    refs = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert refs
    assert all(r.startswith(("data:image/png;base64,", "#")) for r in refs)
    assert "<script" not in html
    assert "<link" not in html


def test_evidence_window_is_computed_from_the_baseline(run_dir):
    html = _plain(_md(run_dir))
    queries = pd.read_parquet(run_dir / "baseline" / "queries.parquet")
    days = queries["end_s"].max() / 86400
    assert f"{days:.1f} days" in html
    assert f"{len(queries):,} queries" in html


def test_recommended_elt_definition_follows_the_misses(run_dir):
    path = run_dir / "recommend" / "elt_delay.csv"
    assert "Recommended definition: MartTableUpdate" in _plain(_md(run_dir))
    elt = pd.read_csv(path)
    # Swap the definitions' results: the recommendation must swap with them.
    elt["definition"] = elt["definition"].map(
        {
            "MartTableUpdate": "StepFunctionsCompletion",
            "StepFunctionsCompletion": "MartTableUpdate",
        }
    )
    elt.to_csv(path, index=False)
    assert "Recommended definition: StepFunctionsCompletion" in _plain(_md(run_dir))


def test_sensitivity_compares_assumptions_within_one_scenario(run_dir):
    # A second scenario (growth x3) with waits ten times the first: across the
    # two, every assumption value's rows span both, so only a comparison
    # within each scenario sees sqa_slots separate the waits.
    stats_path = run_dir / "sweep" / "stats.csv"
    stats = pd.read_csv(stats_path)
    grown = stats.copy()
    grown["scenario_id"] = "growth=3.0"
    for col in ("mean", "ci_low", "ci_high"):
        grown[col] = grown[col] * 10.0
    pd.concat([stats, grown]).to_csv(stats_path, index=False)
    assert "The verdict is sensitive to: sqa_slots (adhoc p95 wait)" in _plain(
        _md(run_dir)
    )


def test_the_sensitivity_table_names_points_by_their_values(run_dir):
    # As `dpcsim sweep` writes them: hashed ids, values in their own columns.
    results_path = run_dir / "sweep" / "results.parquet"
    stats_path = run_dir / "sweep" / "stats.csv"
    hashed = {"a0": "a1f0c2d3e4b", "a1": "a9e8d7c6b5a", "a2": "a0b1c2d3e4f"}
    results = pd.read_parquet(results_path)
    results["assumption_id"] = results["assumption_id"].map(hashed)
    results["scenario_id"] = "s5d4c3b2a10"
    results["scenario.growth"] = 1.0  # the same in every run: says nothing
    results.to_parquet(results_path)
    stats = pd.read_csv(stats_path)
    stats["assumption_id"] = stats["assumption_id"].map(hashed)
    stats["scenario_id"] = "s5d4c3b2a10"
    stats.to_csv(stats_path, index=False)
    md = _md(run_dir)
    section = md.split("### Sensitivity of the recommendation")[1].split("\n## ")[0]
    rows = [r for r in _plain(section).splitlines() if "  adhoc p95 wait  " in r]
    assert len(rows) == 3
    # In order of their values, each with its key for stats.csv.
    for row, label in zip(
        rows,
        [
            "sqa_slots=1 (a1f0c2d3e4b)",
            "sqa_slots=2 (a9e8d7c6b5a)",
            "sqa_slots=4 (a0b1c2d3e4f)",
        ],
        strict=True,
    ):
        assert label in row
    assert all("base (s5d4c3b2a10)" in r for r in rows)


def test_sensitive_assumption_is_named(run_dir):
    html = _plain(_md(run_dir))
    # sqa_slots=1 and =4 give adhoc waits whose intervals do not overlap.
    assert "The verdict is sensitive to: sqa_slots (adhoc p95 wait)" in html
    # The same with ids that carry their value and no assumption.* columns.
    results_path = run_dir / "sweep" / "results.parquet"
    stats_path = run_dir / "sweep" / "stats.csv"
    named = {"a0": "sqa_slots=1", "a1": "sqa_slots=2", "a2": "sqa_slots=4"}
    results = pd.read_parquet(results_path).drop(columns=["assumption.sqa_slots"])
    results["assumption_id"] = results["assumption_id"].map(named)
    results.to_parquet(results_path)
    stats = pd.read_csv(stats_path)
    stats["assumption_id"] = stats["assumption_id"].map(named)
    stats.to_csv(stats_path, index=False)
    assert "sensitive to: sqa_slots (adhoc p95 wait)" in _plain(_md(run_dir))
    stats["ci_low"], stats["ci_high"] = 0.0, 1e6
    stats.to_csv(stats_path, index=False)
    assert "No assumption tried moves a metric" in _plain(_md(run_dir))


def test_first_page_shows_what_changes(run_dir):
    md = _plain(_md(run_dir))
    assert "5 → 7" in md  # adhoc slots
    assert "off → auto" in md  # adhoc scaling
    assert "3 settings change" in md
    assert RECOMMENDED_ID in md


def test_corrections_computed_from_design_and_runs(run_dir):
    run = json.loads((run_dir / "run.json").read_text())
    run["design"]["wlm_json"][0]["max_execution_time"] = 7_200_000
    (run_dir / "run.json").write_text(json.dumps(run))
    text = _plain(_md(run_dir))
    section = text[text.index("7. Corrections") : text.index("8. The deployable")]
    for name in ("WLMRejectedQueries", "RedshiftStorageCapacity", "table_skew_percent"):
        assert re.search(rf"{name}\s+yes\s+\(not deployed\)\s+does not exist", section)
    assert re.search(
        r"WLMQueueLength\s+yes\s+AWS/Redshift\s+real AWS/Redshift", section
    )
    assert "7200000 ms (deprecated)" in section
    assert "batch_abort_2h: query_execution_time > 7200 s -> abort" in section
    assert "3 queues are manual WLM" in section
    assert "Still on the deprecated timeout: batch" in section
    queries = pd.read_parquet(run_dir / "baseline" / "queries.parquet")
    longest = queries.groupby("queue")["queue_s"].max()
    worst = longest.drop("sqa", errors="ignore").idxmax()
    scaling = {q["name"]: q["concurrency_scaling"] for q in run["design"]["wlm_json"]
               if "name" in q}  # fmt: skip
    flagged = f"The queue with the longest wait ({worst}, {longest[worst]:.1f} s)"
    assert (flagged in section) == (scaling[worst] == "off")
    summary = pd.read_csv(run_dir / "baseline" / "alarm_summary.csv")
    fires = int(
        summary.set_index("alarm_name").loc[
            "Alert-Query-Failure", "transitions_to_alarm"
        ]
    )
    assert re.search(rf"Alert-Query-Failure\s+{fires}\s", section)


def test_text_is_escaped_in_both_renderings():
    evil = "<script>alert(1)</script> | *bold* #"
    doc = Document(
        title=evil,
        subtitle="s",
        footer="f",
        sections=[Section(1, "T", [Paragraph(evil), Table(["a|b"], [[evil]])])],
    )
    html, md = to_html(doc), to_markdown(doc)
    assert "<script>" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 4  # title x2, p, td
    assert "| a\\|b |" in md
    assert "\\<script\\>alert(1)\\</script\\> \\| \\*bold\\* \\#" in md


def test_text_from_the_folder_is_escaped(run_dir):
    path = run_dir / "recommend" / "recommendation.json"
    doc = json.loads(path.read_text())
    doc["verdict"]["text"] = "<img src=x onerror=alert(1)>"
    path.write_text(json.dumps(doc))
    assert "\\<img src=x onerror=alert(1)\\>" in _md(run_dir)


@pytest.mark.parametrize(
    ("part", "command"),
    [
        ("recommend", "dpcsim recommend --sweep"),
        ("calibration", "dpcsim calibrate"),
        ("sweep", "dpcsim sweep"),
        ("deploy", "dpcsim emit"),
    ],
)
def test_missing_part_names_its_command(run_dir, part, command):
    shutil.rmtree(run_dir / part)
    md = _plain(_md(run_dir))
    assert f"{part}/ is missing from this run folder" in md
    assert command in md
    assert len(re.findall(r"^## ", md, flags=re.MULTILINE)) == len(SECTION_TITLES)


def test_empty_folder_still_gives_every_section(tmp_path):
    html, _ = build_report(tmp_path)
    assert len(re.findall(r"<h2>", html)) == len(SECTION_TITLES)
    assert "baseline/ is missing" in html


def test_malformed_table_names_file_and_columns(run_dir):
    path = run_dir / "recommend" / "pareto.csv"
    pd.read_csv(path).drop(columns=["on_front"]).to_csv(path, index=False)
    with pytest.raises(
        InputError, match=r"pareto\.csv.*missing columns \['on_front'\]"
    ):
        build_report(run_dir)


def test_bad_json_names_file_and_line(run_dir):
    (run_dir / "calibration" / "fit.json").write_text('{"sigma": 0.1,\n oops}')
    with pytest.raises(InputError, match=r"fit\.json, line 2"):
        build_report(run_dir)


def test_cli_writes_both_files(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.html").stat().st_size > 100_000
    assert (run_dir / "report.md").read_text().startswith("# WLM capacity report")
    assert "report.html" in capsys.readouterr().out


def test_cli_missing_folder_is_one_line_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "nope" in err


def test_core_and_report_package_import_without_matplotlib():
    code = (
        "import sys, dpcsim, dpcsim.report, dpcsim.cli.report;"
        "sys.exit('matplotlib' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_queue_plots_fall_back_to_the_metrics_without_a_timeline(run_dir):
    real = (run_dir / "baseline").resolve()
    (run_dir / "baseline").unlink()
    shutil.copytree(real, run_dir / "baseline")
    (run_dir / "baseline" / "timeline.parquet").unlink()
    doc = build_document(read_run_folder(run_dir))
    blocks = [b for sec in doc.sections for b in sec.blocks if isinstance(b, Figure)]
    queue_figures = [b for b in blocks if b.caption.startswith(("Queued", "Zoom"))]
    assert [b.caption.endswith("(from metrics.parquet).") for b in queue_figures] == [
        True,
        False,
    ]
    assert all(b.render()[:4] == b"\x89PNG" for b in queue_figures)


@pytest.mark.parametrize(
    ("cell", "flag"),
    [("True", True), ("false", False), ("t", True), ("f", False), ("0", False),
     (1, True), (0, False), (float("nan"), False), (True, True)],
)  # fmt: skip
def test_csv_flags_are_read_as_written(cell, flag):
    assert as_flag(cell) is flag


def test_cards_name_configurations_by_their_decisions(run_dir):
    from report_fixtures import BASELINE_ID, CONFIG_NAMES

    md = _plain(_md(run_dir))
    finding = next(line for line in md.splitlines() if "**finding:**" in line)
    assert "8/2/5" in finding  # the design's split, in words
    assert CONFIG_NAMES[BASELINE_ID] in finding
    assert f"[key {BASELINE_ID}]" in finding
    recommended = next(line for line in md.splitlines() if "**recommended:**" in line)
    assert "**recommended:** batch/admin/adhoc 8/2/7" in recommended
    assert f"[key {RECOMMENDED_ID}]" in recommended
    html = build_report(run_dir)[0]
    assert f'<div class="key">key {RECOMMENDED_ID}</div>' in html


def test_elt_delay_is_judged_by_the_designs_threshold(run_dir):
    from report_fixtures import DESIGN_ELT_THRESHOLD_MIN, TUNED_ELT_THRESHOLD_MIN

    md = _plain(_md(run_dir))
    design, tuned = DESIGN_ELT_THRESHOLD_MIN, TUNED_ELT_THRESHOLD_MIN
    assert f"datapoints above {design:g} min" in md
    assert f"the design's alarm threshold ({design:g} min)" in md
    assert f"the tuned threshold of deploy/ ({tuned:g} min)" in md
    # Without the design's alarms in run.json the deployable threshold is used.
    run = json.loads((run_dir / "run.json").read_text())
    del run["design"]["alarms"]
    (run_dir / "run.json").write_text(json.dumps(run))
    md = _plain(_md(run_dir))
    assert f"datapoints above {tuned:g} min" in md
    assert "the tuned threshold of deploy/" not in md


def test_headroom_names_the_deciding_assumption(run_dir):
    md = _plain(_md(run_dir))
    # The fixture's recommendation first fails on adhoc wait under sqa_slots=1.
    risk = next(line for line in md.splitlines() if "**risk:**" in line)
    assert "adhoc p95 wait <= 60 s first fails at 1.49" in risk
    assert "x load under sqa_slots=1; 1.79x under the base assumptions" in risk


def test_pareto_without_cost_says_so(run_dir):
    assert "cost does not separate them" not in _plain(_md(run_dir))
    path = run_dir / "recommend" / "pareto.csv"
    pareto = pd.read_csv(path)
    for column in ("cost_usd", "cost_usd_ci_low", "cost_usd_ci_high"):
        pareto[column] = 0.0
    pareto.to_csv(path, index=False)
    md = _plain(_md(run_dir))
    assert "ELT lateness against adhoc p95 wait" in md
    assert "The scaling cost is 0 USD for every configuration" in md


def test_incidents_the_log_could_not_take_are_reported(run_dir):
    path = run_dir / "recommend" / "elt_delay.csv"
    elt = pd.read_csv(path)
    assert "Not injected" not in _plain(_md(run_dir))
    fault = str(elt["fault"].iloc[0])
    dbt = elt["fault"] == fault
    elt.loc[dbt, ["incidents", "missed"]] = 0
    elt["not_injected"] = ""
    elt.loc[dbt, "not_injected"] = "faults.dbt_failures: day 1: no statement writes"
    elt.to_csv(path, index=False)
    text = _plain(_md(run_dir))
    assert (
        f"Not injected (the log or the settings cannot take them): {fault}: faults."
        in text
    )
    # A table written before the column existed still reads.
    elt.drop(columns="not_injected").to_csv(path, index=False)
    assert "Not injected" not in _plain(_md(run_dir))


def test_the_incident_record_is_a_table_of_what_fired(run_dir):
    path = run_dir / "recommend" / "recommendation.json"
    doc = json.loads(path.read_text())
    assert "Under an incident" not in _plain(_md(run_dir))
    base = doc["baseline_config_id"]
    doc["recommendations"].append(
        {
            "id": "INCIDENTS",
            "title": "What an incident does",
            "observation": "Under 1 injected incident scenario(s), ...",
            "impact_ranking": "LOW",
            "recommended_actions": [],
            "evidence": {
                "scenarios": [
                    {
                        "scenario_id": "s1",
                        "faults": "failed_run:1:60",
                        "config_id": base,
                        "runs": 2,
                        "elt_on_time": 0.5,
                        "adhoc_p95_wait_s": 12.25,
                        "service_objectives_met": False,
                        "alarm_transitions": {"Alert-ELT-Delay": 1.5},
                    }
                ]
            },
        }
    )
    path.write_text(json.dumps(doc))
    text = _plain(_md(run_dir))
    assert "Under an incident" in text
    row = next(line for line in text.splitlines() if "failed_run:1:60" in line)
    assert "0.50" in row
    assert "12.2" in row or "12.3" in row
    assert " no " in row
    assert "Alert-ELT-Delay (1.5)" in row
    assert "(design)" in row


def test_the_elt_definition_reason_counts_incidents_in_words() -> None:
    from dpcsim.report.questions import _best_definition

    elt = pd.DataFrame(
        {
            "definition": ["MartTableUpdate"] * 2 + ["StepFunctionsCompletion"] * 2,
            "missed": [1, 0, 1, 1],
            "detection_delay_min": [np.nan, 10.0, np.nan, np.nan],
            "false_alarms_per_week": [0.0, 0.0, 0.5, 0.5],
        }
    )
    best, reason = _best_definition(elt)
    assert best == "MartTableUpdate"
    assert reason.startswith("1 incident missed, mean detection delay 10.0 min")
    two = elt.assign(missed=[1, 1, 1, 1])
    assert _best_definition(two)[1].startswith("2 incidents missed")
