"""Output folders a user can trust: ``--force`` replaces dpcsim's own files only,
nothing stale is read back, and a failing command leaves no half-written folder.

The failing input is a real one: an SVL_QLOG export as ``psql --csv`` writes it
when the query returned no rows (the header line only).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dpcsim import logs
from dpcsim.cli import main
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.outputs import MANIFEST, written_files
from tests.test_cli_cluster_id import _busy_adhoc

SVL_QLOG_HEADER = (
    "userid,query,xid,pid,starttime,endtime,elapsed,aborted,label,substring,"
    "source_query,concurrency_scaling_status_txt,from_sp_call\n"
)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    logs.write_workload(_busy_adhoc(n=200), root / "workload")
    (root / "wlm.json").write_text(json.dumps(dpc_design_config().to_json()))
    (root / "empty").mkdir()
    (root / "empty" / "svl_qlog.csv").write_text(SVL_QLOG_HEADER)
    return root


def _simulate(inputs, out, *extra, workload="workload"):
    wlm = str(inputs / "wlm.json")
    return main(["--quiet", "simulate", "--workload", str(inputs / workload),
                 "--wlm", wlm, "--out", str(out), *extra])  # fmt: skip


def _siblings(out):
    """Everything in the parent folder but the target: staging folders left over."""
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name)


def test_force_removes_files_of_an_earlier_run_this_run_does_not_write(
    inputs, tmp_path
):
    out = tmp_path / "run"
    assert _simulate(inputs, out) == 0  # the design's alarms: two alarm CSVs
    assert (out / "alarm_summary.csv").is_file()
    assert "alarm_summary.csv" in written_files(out)
    (out / "my_notes.md").write_text("the user's own file\n")
    assert _simulate(inputs, out, "--alarms", "none", "--force") == 0
    names = {p.name for p in out.iterdir()}
    assert "alarm_summary.csv" not in names
    assert "alarm_history.csv" not in names
    assert (out / "my_notes.md").read_text() == "the user's own file\n"
    assert set(written_files(out)) == names - {"my_notes.md", MANIFEST}
    assert _siblings(out) == []


def test_without_force_a_non_empty_folder_is_refused_untouched(inputs, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert _simulate(inputs, out) == 2
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_failure_leaves_no_folder(inputs, tmp_path, capsys):
    out = tmp_path / "run"
    assert _simulate(inputs, out, workload="empty") == 2
    assert "no queries to replay" in capsys.readouterr().err
    assert not out.exists()
    assert _siblings(out) == []


def test_failure_with_force_leaves_the_earlier_run_as_it_was(inputs, tmp_path):
    out = tmp_path / "run"
    assert _simulate(inputs, out) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert _simulate(inputs, out, "--alarms", "none", "--force", workload="empty") == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _siblings(out) == []


def test_force_without_manifest_keeps_unknown_files_and_says_so(
    inputs, tmp_path, capsys
):
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text('{"from": "an older tool"}\n')
    (out / "alarm_summary.csv").write_text("alarm_name,final_state\nold,ALARM\n")
    (out / "README.txt").write_text("mine\n")
    code = main(["simulate", "--workload", str(inputs / "workload"),
                 "--wlm", str(inputs / "wlm.json"), "--alarms", "none",
                 "--out", str(out), "--force"])  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "--force keeps 3 file(s)" in err
    assert f"has no {MANIFEST}" in err
    assert "README.txt" in err
    assert "alarm_summary.csv" in err
    # Same name: replaced by this run; other names: never deleted.
    assert json.loads((out / "summary.json").read_text())["queries"]["arrived"] == 200
    assert (out / "README.txt").read_text() == "mine\n"
    assert (out / "alarm_summary.csv").read_text().startswith("alarm_name,final")
    # The next --force knows what dpcsim wrote and still keeps the rest.
    assert "summary.json" in written_files(out)
    assert "alarm_summary.csv" not in written_files(out)


def test_emit_force_replaces_its_own_files_only(tmp_path):
    out = tmp_path / "deploy"
    base = ["--quiet", "emit", "--wlm", "design", "--parameter-group", "pg",
            "--out", str(out)]  # fmt: skip
    assert main(base) == 0
    written = set(written_files(out))
    assert "wlm.json" in written
    stale = out / "alarms" / "Old-Alarm.json"
    stale.write_text("{}\n")
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"].append("alarms/Old-Alarm.json")
    (out / MANIFEST).write_text(json.dumps(manifest))
    (out / "ticket.md").write_text("change ticket\n")
    assert main([*base, "--force"]) == 0
    assert not stale.exists()
    assert (out / "ticket.md").is_file()
    assert set(written_files(out)) == written


def test_generate_writes_whole_or_nothing(tmp_path):
    out = tmp_path / "gen"
    args = ["--quiet", "generate", "--days", "1", "--learners", "20", "--no-wlm",
            "--seed", "1", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    files = set(written_files(out))
    assert {"workload.parquet", "spec.json"} <= files
    spec = json.loads((out / "spec.json").read_text())
    assert spec["seed"] == 1
    assert pd.read_parquet(out / "workload.parquet").shape[0] > 0
    assert _siblings(out) == []
