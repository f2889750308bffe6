"""``dpcsim generate`` in-process: files, spec.json, refusal, faults, errors."""

from __future__ import annotations

import json

import pandas as pd

from dpcsim.cli import main
from dpcsim.logs import ingest, read_workload


def test_generate_writes_exports_that_the_readers_accept(tmp_path):
    out = tmp_path / "gen"
    args = [
        "generate",
        "--days",
        "1",
        "--learners",
        "40",
        "--seed",
        "3",
        "--out",
        str(out),
    ]
    assert main(["--quiet", *args]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"svl_qlog.csv.gz", "stl_wlm_query.csv.gz", "users.csv", "spec.json",
            "stepfunctions_executions.json", "stl_load_errors.csv",
            "workload.parquet"} <= names  # fmt: skip
    meta = json.loads((out / "spec.json").read_text())
    assert meta["seed"] == 3
    assert meta["spec"]["days"] == 1
    assert meta["spec"]["learners"] == 40
    w = read_workload(out)
    result = ingest([out / "svl_qlog.csv.gz", out / "stl_wlm_query.csv.gz"],
                    users=out / "users.csv")  # fmt: skip
    assert not result.summary.rejected_by_reason
    assert len(result.workload.queries) == len(w.queries)
    got = result.workload.queries.set_index("query_id").sort_index()
    want = w.queries.set_index("query_id").sort_index()
    assert (got.index == want.index).all()
    assert (got["statement_type"] == want["statement_type"]).all()
    # Queue time and service class come from the design WLM simulation.
    assert want["service_class"].notna().all()
    assert set(want["queue"].dropna()) <= {"batch", "admin", "adhoc"}


def test_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        args = ["--quiet", "generate", "--days", "1", "--learners", "20", "--out",
                str(tmp_path / name)]  # fmt: skip
        assert main(args) == 0
    for f in ("svl_qlog.csv.gz", "stl_wlm_query.csv.gz", "spec.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_refuses_non_empty_dir_without_force(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    args = ["--quiet", "generate", "--days", "1", "--learners", "10", "--no-wlm",
            "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


def test_faults_and_spec_file(tmp_path, capsys):
    out = tmp_path / "f"
    args = ["--quiet", "generate", "--days", "2", "--learners", "10", "--no-wlm",
            "--fault", "copy_error:1", "--fault", "failed_run:0:20",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    runs = json.loads((out / "stepfunctions_executions.json").read_text())
    assert sorted(e["status"] for e in runs["executions"]) == [
        "FAILED",
        "SUCCEEDED",
        "SUCCEEDED",
    ]
    errors = pd.read_csv(out / "stl_load_errors.csv")
    assert len(errors) >= 1
    # --spec re-reads spec.json (faults included); options override it.
    again = tmp_path / "g"
    assert main(["--quiet", "generate", "--spec", str(out / "spec.json"), "--days", "1",
                 "--no-wlm", "--out", str(again)]) == 0  # fmt: skip
    meta = json.loads((again / "spec.json").read_text())
    assert meta["spec"]["days"] == 1
    assert meta["spec"]["faults"]["copy_errors"] == [1]
    bad = ["--quiet", "generate", "--fault", "meteor:1", "--out", str(tmp_path / "h")]
    assert main(bad) == 2
    assert "meteor" in capsys.readouterr().err
