"""Canonical rows survive SVL_QLOG/STL_WLM_QUERY writers and readers (µs precision)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from fixtures.psql import char, write_psql_csv
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
from dpcsim.logs.writers import STL_WLM_QUERY_HEADER, SVL_QLOG_HEADER
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


WLM_HEADER = STL_WLM_QUERY_HEADER.split(",")
QLOG_HEADER = SVL_QLOG_HEADER.split(",")


def _attempt(task, sc, start, queue_us, exec_us, state, name, user=100):
    """One STL_WLM_QUERY row as psql --csv prints it (char(n) blank-padded)."""
    queue_end = start + dt.timedelta(microseconds=queue_us)
    exec_end = queue_end + dt.timedelta(microseconds=exec_us)
    return [
        user, 10_000_000 + task, task, task, sc, 1, start, start, queue_end,
        queue_us, queue_end, exec_end, exec_us, exec_end, char(state, 16), 0,
        char("n/a", 20), char(name, 64),
    ]  # fmt: skip


def test_sqa_eviction_read_from_psql_export_fills_sqa_columns(tmp_path):
    t0 = dt.datetime(2024, 3, 1, 12, 0, 0, 250_000)
    evicted_at = t0 + dt.timedelta(seconds=5.75)
    t1 = dt.datetime(2024, 3, 1, 12, 1)
    write_psql_csv(
        tmp_path / "stl_wlm_query.csv",
        WLM_HEADER,
        [
            # Waited 0.75 s for SQA, ran its 5 s maximum, was evicted to batch,
            # waited 2.5 s there and ran 40 s.
            _attempt(2001, 14, t0, 750_000, 5_000_000, "Evicted", "Short query queue"),
            _attempt(2001, 6, evicted_at, 2_500_000, 40_000_000, "Completed", "batch"),
            _attempt(2002, 14, t1, 0, 300_000, "Completed", "Short query queue"),
        ],
    )
    end = evicted_at + dt.timedelta(seconds=42.5)
    write_psql_csv(
        tmp_path / "svl_qlog.csv",
        QLOG_HEADER,
        [
            [100, 2001, 10_002_001, 1_073_741_924, t0, end,
             int((end - t0).total_seconds() * 1e6), 0, char("default", 320),
             char("select c.id,\n  count(*) from mart.fct c", 60), None,
             "Ran on the main cluster", None],
            [100, 2002, 10_002_002, 1_073_741_924, t1,
             t1 + dt.timedelta(seconds=0.3), 300_000, 0, char("default", 320),
             char("select 1", 60), None, "Ran on the main cluster", None],
        ],
    )  # fmt: skip
    back = ingest([tmp_path / "svl_qlog.csv", tmp_path / "stl_wlm_query.csv"])
    q = back.workload.queries.set_index("query_id")
    evicted = q.loc[2001]
    assert evicted["queue_s"] == 3.25  # both attempts' waits
    assert evicted["exec_s"] == 40.0  # the final attempt's
    assert (evicted["sqa_queue_s"], evicted["sqa_exec_s"]) == (0.75, 5.0)
    assert (evicted["service_class"], evicted["queue"]) == (6, "batch")
    assert evicted["arrival_at"] == pd.Timestamp(t0, tz="UTC")
    # Completed on SQA: one attempt, nothing to fold.
    assert q.loc[2002, "service_class"] == 14
    assert q.loc[[2002], ["sqa_queue_s", "sqa_exec_s"]].isna().all(axis=None)


def test_writer_logs_an_sqa_eviction_as_two_attempts(tmp_path):
    q = _workload(
        [
            {"arrival_us": 250_000, "exec_us": 40_000_000, "queue_us": 3_250_000,
             "stype": "select", "sc": 6, "user": 100, "label": "default",
             "aborted": False, "cache": False, "cs": False, "slots": 2},
        ]
    )  # fmt: skip
    q["sqa_queue_s"] = 0.75
    q["sqa_exec_s"] = 5.0
    write_stl_wlm_query(q, tmp_path / "w.csv")
    write_svl_qlog(q, tmp_path / "q.csv")
    sqa, batch = (tmp_path / "w.csv").read_text().splitlines()[1:]
    assert sqa.startswith("100,10010000,10000,10000,14,1,2024-03-01 00:00:00.25,")
    assert (
        ",750000,2024-03-01 00:00:01,2024-03-01 00:00:06,5000000,2024-03-01 00:00:06,"
        + "Evicted".ljust(16)
        in sqa
    )
    assert sqa.endswith("," + "Short query queue".ljust(64))
    assert batch.startswith("100,10010000,10000,10000,6,2,2024-03-01 00:00:06,")
    assert ",2500000,2024-03-01 00:00:08.5,2024-03-01 00:00:48.5,40000000," in batch
    assert batch.endswith("," + "batch".ljust(64))
    # SVL_QLOG's elapsed spans both attempts: waits, the evicted run and the final.
    qlog = (tmp_path / "q.csv").read_text().splitlines()[1]
    assert ",2024-03-01 00:00:00.25,2024-03-01 00:00:48.5,48250000," in qlog
    back = ingest([tmp_path / "q.csv", tmp_path / "w.csv"]).workload.queries
    cols = ["queue_s", "exec_s", "sqa_queue_s", "sqa_exec_s", "slot_count"]
    assert back[cols].iloc[0].tolist() == [3.25, 40.0, 0.75, 5.0, 2]
