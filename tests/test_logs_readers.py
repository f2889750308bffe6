"""Readers on fixtures in AWS layout (padded chars, µs, gzip, parquet)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from dpcsim.logs import ingest, read_export

FIX = Path(__file__).parent / "fixtures" / "logs"


@pytest.fixture
def joined():
    return ingest([FIX / "svl_qlog.csv", FIX / "stl_wlm_query.csv"])


def _row(result, query_id):
    q = result.workload.queries
    return q.loc[q["query_id"] == query_id].iloc[0]


def test_join_restart_keeps_first_query_and_final_exec(joined):
    row = _row(joined, 1003)
    assert row["task_id"] == 1003
    assert row["exec_s"] == pytest.approx(4.0)  # final attempt (query 1004)
    assert row["queue_s"] == pytest.approx(1.5)  # 1.0 + 0.5 over both attempts
    assert row["service_class"] == 8
    assert row["queue"] == "admin"
    assert row["slot_count"] == 2
    assert not row["aborted"]  # qlog aborted=1 only on the restarted attempt
    assert row["arrival_at"] == pd.Timestamp("2024-03-01 12:01:00.000001", tz="UTC")
    assert 1004 not in set(joined.workload.queries["query_id"])


def test_join_sqa_eviction_uses_queue_attempt(joined):
    row = _row(joined, 1002)
    assert row["exec_s"] == pytest.approx(3.0)
    assert row["queue_s"] == pytest.approx(0.2)
    assert row["service_class"] == 7
    assert row["queue"] == "adhoc"
    assert any("SQA evictions" in w for w in joined.summary.warnings)
    # The service class 14 attempt: no wait, evicted after 1.5 s.
    assert (row["sqa_queue_s"], row["sqa_exec_s"]) == (0.0, 1.5)
    # A WLM timeout restart (Evicted in a user queue) is no SQA attempt.
    restarted = _row(joined, 1003)
    assert restarted[["sqa_queue_s", "sqa_exec_s"]].isna().all()


def test_join_padded_chars_trimmed_and_statement_types(joined):
    q = joined.workload.queries.set_index("query_id")
    assert q.loc[1001, "query_group"] == "elt"
    assert (
        q.loc[1001, "query_text"] == "create table mart.fct_a as select * from stage.a"
    )
    assert q.loc[1001, "queue"] == "batch"
    types = q["statement_type"].to_dict()
    assert types == {
        1001: "ctas", 1006: "select", 1002: "select", 1003: "select",
        1007: "copy", 1008: "delete",
    }  # fmt: skip
    assert q.loc[1003, "fingerprint"] == "select * from mart.fct_b where id = ?"


def test_join_flags_and_microseconds(joined):
    q = joined.workload.queries.set_index("query_id")
    assert q.loc[1001, "arrival_at"] == pd.Timestamp("2024-03-01 12:00:00.123456Z")
    assert q.loc[1001, "exec_s"] == 2.0
    assert q.loc[1001, "queue_s"] == 0.5
    assert bool(q.loc[1007, "ran_on_cs"])
    assert bool(q.loc[1008, "aborted"])
    # result-cache hit: no WLM row, so it never queued and elapsed is its time
    assert bool(q.loc[1006, "cache_hit"])
    assert q.loc[1006, "queue_s"] == 0.0
    assert q.loc[1006, "exec_s"] == pytest.approx(0.0012)
    assert pd.isna(q.loc[1006, "service_class"])
    assert not q["exec_is_upper_bound"].any()


def test_out_of_order_rows_sorted_and_counted(joined):
    arrivals = joined.workload.queries["arrival_at"]
    assert arrivals.is_monotonic_increasing
    assert any("out of arrival order" in w for w in joined.summary.warnings)
    s = joined.summary
    assert s.rows_read == 14 == s.accepted + sum(s.rejected_by_reason.values())
    assert s.queries == 6


def test_qlog_alone_is_upper_bound_with_warning():
    result = ingest([FIX / "svl_qlog.csv"])
    q = result.workload.queries
    assert q["exec_is_upper_bound"].all()
    assert q["queue_s"].isna().all()
    assert q.set_index("query_id").loc[1001, "exec_s"] == pytest.approx(2.5)
    assert any("7 queries" in w and "upper bound" in w for w in result.summary.warnings)


def test_stl_query_reads_querytxt_and_cs_status():
    res = read_export(FIX / "stl_query.csv")
    assert res.table == "stl_query"
    assert res.rows_read == 7
    q = res.queries().set_index("query_id")
    assert q.loc[1003, "statement_type"] == "select"
    assert q.loc[1003, "exec_s"] == pytest.approx(11.0)  # end - start
    assert bool(q.loc[1007, "ran_on_cs"])
    assert not bool(q.loc[1001, "ran_on_cs"])


def test_wlm_alone_has_split_but_no_text():
    result = ingest([FIX / "stl_wlm_query.csv"])
    q = result.workload.queries.set_index("query_id")
    assert len(q) == 5
    assert q.loc[1002, "exec_s"] == pytest.approx(3.0)
    assert (q["statement_type"] == "other").all()
    assert any("no SVL_QLOG" in w for w in result.summary.warnings)


def test_sys_query_history():
    q = read_export(FIX / "sys_query_history.csv").queries().set_index("query_id")
    assert q.loc[5001, "exec_s"] == 2.5
    assert q.loc[5001, "queue_s"] == 1.0
    assert q.loc[5001, "statement_type"] == "insert"
    assert q.loc[5001, "query_group"] == "elt"
    assert bool(q.loc[5002, "cache_hit"])
    assert bool(q.loc[5003, "aborted"])
    assert bool(q.loc[5004, "aborted"])
    assert not bool(q.loc[5005, "aborted"])
    # COMMAND / UTILITY fall back to the text (with a leading comment line)
    assert q.loc[5004, "statement_type"] == "vacuum"
    assert q.loc[5005, "statement_type"] == "analyze"


def test_redset_csv_and_parquet_agree(tmp_path):
    csv_q = read_export(FIX / "redset.csv").queries()
    pq.write_table(pacsv.read_csv(FIX / "redset.csv"), tmp_path / "redset.parquet")
    pq_res = read_export(tmp_path / "redset.parquet")
    assert pq_res.table == "redset"
    pd.testing.assert_frame_equal(
        csv_q.drop(columns="source_file"), pq_res.queries().drop(columns="source_file")
    )
    q = csv_q.set_index("query_id")
    assert q.loc[2, "exec_s"] == pytest.approx(2.5)
    assert q.loc[2, "queue_s"] == 0.1
    # rule: mostly-write user 11 -> elt (its select too); vacuum -> admin group
    assert q.loc[3, ["query_group", "user_groups"]].tolist() == ["elt", "dpc_elt"]
    assert q.loc[4, ["query_group", "user_groups"]].tolist() == [
        "default",
        "dpc_learners",
    ]
    assert q.loc[6, "user_groups"] == "dpc_admin"
    assert bool(q.loc[4, "cache_hit"])
    assert bool(q.loc[5, "aborted"])


def test_redset_rejects_several_clusters(tmp_path):
    text = (FIX / "redset.csv").read_text().replace("\n7,", "\n8,", 1)
    (tmp_path / "r.csv").write_text(text)
    with pytest.raises(ValueError, match="2 clusters"):
        read_export(tmp_path / "r.csv")


def test_gzip_detected_by_magic_not_name(tmp_path):
    target = tmp_path / "export_without_gz_suffix.csv"
    target.write_bytes(gzip.compress((FIX / "svl_qlog.csv").read_bytes()))
    res = read_export(target)
    assert res.table == "svl_qlog"
    assert res.rows_read == 7


def test_parquet_export_of_wlm_table(tmp_path):
    table = pacsv.read_csv(FIX / "stl_wlm_query.csv")
    pq.write_table(table, tmp_path / "wlm.parquet")
    res = read_export(tmp_path / "wlm.parquet")
    assert res.table == "stl_wlm_query"
    assert res.rows["final_state"].tolist()[1] == "Evicted"  # trimmed char(16)


def test_load_errors_and_stepfunctions():
    le = read_export(FIX / "stl_load_errors.csv").rows
    assert le.loc[0, "filename"] == "s3://dpc/events/2024-03-01/part-0001.csv"
    assert le.loc[0, "err_code"] == 1206
    assert le.loc[0, "colname"] == "event_time"
    runs = read_export(FIX / "stepfunctions_executions.json").rows
    assert runs["run_id"].tolist() == ["run-2024-03-01", "run-2024-03-02"]
    assert runs.loc[0, "start_at"] == pd.Timestamp("2024-02-29 18:00:00.123Z")
    assert pd.isna(runs.loc[1, "stop_at"])


def test_ingest_side_tables(tmp_path):
    shutil.copy(FIX / "stepfunctions_executions.json", tmp_path / "sfn.json")
    result = ingest(
        [FIX / "svl_qlog.csv", tmp_path / "sfn.json", FIX / "stl_load_errors.csv"]
    )
    assert len(result.workload.elt_runs) == 2
    assert len(result.workload.load_errors) == 1
    assert result.summary.rows_read == 7 + 2 + 1
