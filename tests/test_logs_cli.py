"""`dpcsim ingest` in process: outputs, summary, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from dpcsim.cli import main
from dpcsim.logs import read_workload

FIX = Path(__file__).parent / "fixtures" / "logs"


def test_ingest_writes_outputs_and_summary(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "ingest",
            str(FIX / "svl_qlog_bad_rows.csv"),
            str(FIX / "stl_load_errors.csv"),
            "--users",
            str(FIX / "users_join.csv"),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "rows read: 8 (accepted 3 + rejected 5)" in text
    assert "rejected, unparseable time: 1" in text
    rejects = pd.read_csv(out / "rejects.csv")
    assert list(rejects.columns) == [
        "source_file",
        "source_row",
        "line",
        "column",
        "reason",
        "raw",
    ]
    assert len(rejects) == 5
    w = read_workload(out)
    assert len(w.queries) == 2
    assert len(w.load_errors) == 1
    assert not (out / "elt_runs.parquet").exists()


def test_rejects_header_only_when_clean(tmp_path):
    out = tmp_path / "o"
    assert main(["-q", "ingest", str(FIX / "svl_qlog.csv"), "--out", str(out)]) == 0
    assert (
        out / "rejects.csv"
    ).read_text().strip() == "source_file,source_row,line,column,reason,raw"


def test_bad_input_exits_2_with_one_line(tmp_path, capsys):
    code = main(
        ["-q", "ingest", str(FIX / "unknown_table.csv"), "--out", str(tmp_path / "o")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown_table.csv" in err
    assert "Traceback" not in err


def test_strict_exit_2_names_row(tmp_path, capsys):
    args = [
        "ingest",
        str(FIX / "svl_qlog_bad_rows.csv"),
        "--strict",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(args) == 2
    assert "line 3, column 'starttime'" in capsys.readouterr().err


def test_refuses_non_empty_out_without_force(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    args = ["-q", "ingest", str(FIX / "svl_qlog.csv"), "--out", str(out)]
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


def test_ingest_routes_with_wlm_config(tmp_path, capsys):
    from dpcsim.designs.dpc_wlm import dpc_design_config

    wlm = tmp_path / "wlm.json"
    wlm.write_text(json.dumps(dpc_design_config().to_json()))
    out = tmp_path / "o"
    args = [
        "ingest",
        str(FIX / "sys_query_history.csv"),
        "--users",
        str(FIX / "users_join.csv"),
        "--role-groups",
        str(FIX / "role_groups.csv"),
        "--wlm",
        str(wlm),
        "--out",
        str(out),
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    q = read_workload(out).queries.set_index("query_id")
    assert q.loc[5001, "queue"] == "batch"  # IAM role -> dpc_elt -> batch
    assert q.loc[5004, "queue"] == "admin"  # vacuum lambda role -> dpc_admin
    assert q.loc[5002, "queue"] == "adhoc"  # learner -> default queue
    assert "  per queue: adhoc 2, admin 2, batch 1\n" in text
    # Paths no query took (superuser, user_role, ...) are left out.
    assert (
        "  per routing path: query_group 1, user_group 2, default_no_match 2\n" in text
    )


def test_force_replaces_only_what_ingest_wrote(tmp_path):
    out = tmp_path / "o"
    args = ["-q", "ingest", str(FIX / "svl_qlog.csv"), "--out", str(out)]
    assert main([*args, "--users", str(FIX / "users_join.csv")]) == 0
    (out / "notes.txt").write_text("mine")
    (out / "elt_runs.parquet").write_bytes(b"stale")  # as if an earlier run wrote it
    manifest = json.loads((out / ".dpcsim-manifest.json").read_text())
    manifest["files"].append("elt_runs.parquet")
    (out / ".dpcsim-manifest.json").write_text(json.dumps(manifest))
    assert main([*args, "--force"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "elt_runs.parquet").exists()


def test_failing_ingest_leaves_no_output(tmp_path):
    out = tmp_path / "o"
    bad = ["-q", "ingest", str(FIX / "svl_qlog_bad_rows.csv"), "--strict"]
    assert main([*bad, "--out", str(out)]) == 2
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
