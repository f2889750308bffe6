"""Canonical rows survive SVL_QLOG/STL_WLM_QUERY writers and readers (µs precision)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dpcsim.logs import (
    ingest,
    read_export,
    read_workload,
    write_exports,
    write_stl_wlm_query,
    write_svl_qlog,
    write_workload,
)
from dpcsim.schema import Workload, validate_workload

TEXTS = {
    "select": "select * from mart.fct_learning where course_id = 17",
    "insert": "insert into mart.fct_x select * from stage.x",
    "copy": "copy stage.events from 's3://dpc/e/' iam_role default",
    "ctas": "create table mart.fct_y as select 1",
    "delete": "delete from stage.tmp where d < '2024-01-01'",
}
QUEUES = {6: "batch", 7: "admin", 8: "adhoc", 14: "Short query queue"}
START_US = 1_709_251_200_000_000  # 2024-03-01 UTC [µs]

row = st.fixed_dictionaries(
    {
        "arrival_us": st.integers(0, 7 * 86_400 * 10**6),
        "exec_us": st.integers(0, 4 * 3600 * 10**6),
        "queue_us": st.integers(0, 600 * 10**6),
        "stype": st.sampled_from(sorted(TEXTS)),
        "sc": st.sampled_from([None, 6, 7, 8, 14]),
        "user": st.integers(100, 105),
        "label": st.sampled_from(["default", "elt", "superuser"]),
        "aborted": st.booleans(),
        "cache": st.booleans(),
        "cs": st.booleans(),
        "slots": st.integers(1, 3),
    }
)


def _workload(rows):
    n = len(rows)
    sc = [r["sc"] for r in rows]
    return validate_workload(
        pd.DataFrame(
            {
                "query_id": np.arange(10_000, 10_000 + n),
                "arrival_at": pd.to_datetime(
                    [START_US + r["arrival_us"] for r in rows], unit="us", utc=True
                ),
                "user_id": [r["user"] for r in rows],
                "user_name": [f"learner{r['user']}" for r in rows],
                "query_group": [r["label"] for r in rows],
                "statement_type": [r["stype"] for r in rows],
                "exec_s": [r["exec_us"] / 1e6 for r in rows],
                # no WLM row -> never queued (leader node / cache), by the writer's rule
                "queue_s": [r["queue_us"] / 1e6 if r["sc"] else 0.0 for r in rows],
                "service_class": pd.array(sc, dtype="Int64"),
                "queue": pd.array(
                    [QUEUES.get(s) if s else None for s in sc], dtype="string"
                ),
                "slot_count": [r["slots"] if r["sc"] else 1 for r in rows],
                "aborted": [r["aborted"] for r in rows],
                "cache_hit": [r["cache"] for r in rows],
                "ran_on_cs": [r["cs"] for r in rows],
                "query_text": [TEXTS[r["stype"]] for r in rows],
            }
        )
    )


KEPT = [
    "query_id", "task_id", "arrival_at", "user_id", "query_group", "statement_type",
    "service_class", "queue", "slot_count", "aborted", "cache_hit", "ran_on_cs",
    "query_text",
]  # fmt: skip


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(row, min_size=1, max_size=30))
def test_roundtrip_svl_qlog_and_stl_wlm_query(tmp_path, rows):
    original = _workload(rows)
    # An STL_WLM_QUERY export with no rows is read as no WLM table at all.
    assume(original["service_class"].notna().any())
    write_svl_qlog(original, tmp_path / "q.csv.gz")
    write_stl_wlm_query(original, tmp_path / "w.csv")
    result = ingest([tmp_path / "q.csv.gz", tmp_path / "w.csv"])
    back = result.workload.queries
    # No WLM row and no cache hit: a leader-node statement, not replayed but counted.
    replayed = (original["service_class"].notna() | original["cache_hit"]).to_numpy()
    leader = int((~replayed).sum())
    assert (
        result.summary.not_replayed.get(
            "no STL_WLM_QUERY row (a leader-node statement)", 0
        )
        == leader
    )
    original = original.loc[replayed].reset_index(drop=True)
    pd.testing.assert_frame_equal(back[KEPT], original[KEPT])
    has_wlm = original["service_class"].notna().to_numpy()
    # exact to the microsecond: both sides are whole µs divided by 1e6
    np.testing.assert_array_equal(back["queue_s"], original["queue_s"])
    expected_exec = np.where(
        has_wlm, original["exec_s"], original["exec_s"] + original["queue_s"]
    )
    np.testing.assert_array_equal(back["exec_s"], expected_exec)
    assert not back["exec_is_upper_bound"].any()


def test_writer_layout_is_aws(tmp_path):
    q = _workload(
        [
            {"arrival_us": 123_456, "exec_us": 2_000_000, "queue_us": 500_000,
             "stype": "ctas", "sc": 6, "user": 100, "label": "elt", "aborted": False,
             "cache": False, "cs": True, "slots": 1},
        ]
    )  # fmt: skip
    write_svl_qlog(q, tmp_path / "q.csv")
    write_stl_wlm_query(q, tmp_path / "w.csv")
    qlog = (tmp_path / "q.csv").read_text().splitlines()
    assert qlog[0] == (
        "userid,query,xid,pid,starttime,endtime,elapsed,aborted,label,substring,"
        "source_query,concurrency_scaling_status_txt,from_sp_call"
    )
    assert "2024-03-01 00:00:00.123456,2024-03-01 00:00:02.623456,2500000,0" in qlog[1]
    # psql --csv quotes only values with a comma, quote, CR or LF.
    assert ",create table mart.fct_y as select 1" + " " * 25 + ",," in qlog[1]
    assert "Ran on a Concurrency Scaling cluster" in qlog[1]
    wlm = (tmp_path / "w.csv").read_text().splitlines()
    assert wlm[0].startswith("userid,xid,task,query,service_class,slot_count,")
    assert (
        ",500000,2024-03-01 00:00:00.623456,2024-03-01 00:00:02.623456,2000000,"
        in wlm[1]
    )
    assert "," + "Completed".ljust(16) + "," in wlm[1]
    assert wlm[1].endswith("," + "batch".ljust(64))


def test_write_exports_and_workload_store(tmp_path):
    q = _workload(
        [
            {"arrival_us": i * 10**6, "exec_us": 1000 * i, "queue_us": 0,
             "stype": "select", "sc": 8, "user": 100 + i % 2, "label": "default",
             "aborted": False, "cache": False, "cs": False, "slots": 1}
            for i in range(5)
        ]
    )  # fmt: skip
    q["user_groups"] = pd.Series(["dpc_learners,dpc_x"] * 5, dtype="string")
    runs = pd.DataFrame(
        {
            "run_id": pd.Series(["r1"], dtype="string"),
            "status": pd.Series(["SUCCEEDED"], dtype="string"),
            "start_at": pd.to_datetime(["2024-03-01 03:00:00.5"], utc=True).astype(
                "datetime64[us, UTC]"
            ),
            "stop_at": pd.to_datetime(["2024-03-01 04:00:00"], utc=True).astype(
                "datetime64[us, UTC]"
            ),
            "source_file": pd.Series(["generated"], dtype="string"),
        }
    )
    w = Workload(queries=q, elt_runs=runs)
    paths = write_exports(w, tmp_path / "exports")
    assert sorted(p.name for p in paths.values()) == [
        "stepfunctions_executions.json", "stl_load_errors.csv", "stl_wlm_query.csv.gz",
        "svl_qlog.csv.gz", "users.csv",
    ]  # fmt: skip
    doc = json.loads(paths["stepfunctions_executions"].read_text())
    assert doc["executions"][0]["startDate"] == "2024-03-01T03:00:00.500000+00:00"
    assert read_export(paths["stl_load_errors"]).rows_read == 0
    back = ingest(list(paths.values()))
    assert back.workload.queries["user_groups"].tolist() == ["dpc_learners,dpc_x"] * 5
    assert back.workload.elt_runs["start_at"].tolist() == runs["start_at"].tolist()
    write_workload(back.workload, tmp_path / "store")
    again = read_workload(tmp_path / "store")
    pd.testing.assert_frame_equal(again.queries, back.workload.queries)
    pd.testing.assert_frame_equal(again.elt_runs, back.workload.elt_runs)
    assert str(again.queries["arrival_at"].dtype) == "datetime64[us, UTC]"
    assert str(again.queries["service_class"].dtype) == "Int64"
    assert len(again.load_errors) == 0


def test_read_workload_missing(tmp_path):
    with pytest.raises(ValueError, match=r"no workload\.parquet"):
        read_workload(tmp_path)
