"""``dpcsim demo``: the main job on the bundled sample, end to end."""

from __future__ import annotations

import json

import pandas as pd

from dpcsim.cli import main

EXPECTED = {
    "workload.parquet",
    "elt_runs.parquet",
    "load_errors.parquet",
    "rejects.csv",
    "queries.parquet",
    "timeline.parquet",
    "scaling.parquet",
    "summary.json",
    "metrics.parquet",
    "alarm_history.csv",
    "alarm_summary.csv",
    "deploy",
}


def test_demo_runs_the_pipeline_on_the_sample(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == EXPECTED
    out = capsys.readouterr().out
    steps = ("1/5 ingest", "2/5 replay", "3/5 the design's alarms", "4/5", "5/5")
    for step in steps:
        assert step in out
    deploy = tmp_path / "deploy"
    for name in (
        "wlm.json",
        "modify-cluster-parameter-group.json",
        "dashboard.json",
        "template.yaml",
        "CHANGES.md",
        "alarms/Alert-WLM-Queue.json",
    ):
        assert (deploy / name).is_file(), name
    summary = json.loads((tmp_path / "summary.json").read_text())
    counts = summary["queries"]
    assert counts["arrived"] == sum(
        counts[k] for k in ("completed", "aborted", "canceled", "failed")
    )
    alarms = pd.read_csv(tmp_path / "alarm_summary.csv").set_index("alarm_name")
    # The sample injects a COPY error on day 2: the COPY alarm must fire.
    assert alarms.loc["Alert-COPY-Error", "transitions_to_alarm"] >= 1


def test_demo_refuses_a_non_empty_out_without_force(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "mine.txt").read_text() == "keep"


def test_demo_names_a_folder_without_exports(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["demo", "--sample", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "no export files" in capsys.readouterr().err
