"""Memory, spill and QMR metric exports, and Concurrency Scaling eligibility at ingest.

Fixtures are written the way ``psql --csv`` writes these views: blank-padded
``char(n)`` labels, ``t``/``f`` booleans, NULL as an empty field, quoting only
where a value needs it (multi-line SQL).
"""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from dpcsim import logs
from dpcsim.errors import InputError
from dpcsim.logs.cs_eligibility import cs_eligibility, reason_counts

SQH = (
    "user_id,user_name,query_id,transaction_id,session_id,database_name,start_time,"
    "end_time,elapsed_time,status,result_cache_hit,queue_time,execution_time,"
    "query_text,query_label,query_type,error_message,returned_rows,returned_bytes,"
    "redshift_version\n"
)


def _sqh_row(qid: int, second: int, text: str, qtype: str) -> str:
    quoted = (
        '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text
    )
    return (
        f"100,IAMR:dpc-dbt,{qid},{9000 + qid},77,dpc,"
        f"2024-03-01 12:00:{second:02d}.000000,"
        f"2024-03-01 12:00:{second + 1:02d}.000000,1000000,success,f,0,1000000,"
        f"{quoted},elt,{qtype},,0,0,1.0.62312\n"
    )


@pytest.fixture
def exports(tmp_path):
    history = tmp_path / "sys_query_history.csv"
    history.write_text(
        SQH
        + _sqh_row(
            1, 0, 'create temp table "m__dbt_tmp"\nas select * from stage.a', "CTAS"
        )
        + _sqh_row(2, 2, 'insert into mart.m\nselect * from "m__dbt_tmp"', "INSERT")
        + _sqh_row(3, 4, "select * from mart.m join stage.a using (id)", "SELECT")
        + _sqh_row(
            4,
            6,
            "merge into mart.m using stage.a on m.id = a.id\n"
            "when matched then update set v = a.v",
            "INSERT",
        )
        + _sqh_row(5, 8, "select count(*) from stv_blocklist", "SELECT")
    )
    summary = tmp_path / "svl_query_summary.csv.gz"
    label = "hash   tbl=142".ljust(30)
    scan = "scan   tbl=9".ljust(30)
    rows = [
        # query 3: stream 0 hashes 3 GiB (on disk, 1 GiB of work memory) and
        # sorts 1 GiB; stream 1 aggregates 2 GiB: it wants 4 GiB.
        f"100,3,0,0,2,10,5,1000,{3 * 2**30},1.0,2.0,{label},t,{2**30},f,f,1000",
        f"100,3,0,1,1,10,5,1000,{2**30},1.0,2.0,{'sort'.ljust(30)},f,{2**30},f,f,",
        f"100,3,0,1,0,10,5,1000,{5 * 2**30},1.0,2.0,{scan},f,0,f,f,",
        f"100,3,1,2,0,10,5,1000,{2 * 2**30},1.0,2.0,{'aggr'.ljust(30)},f,{2**31},f,f,",
    ]
    header = (
        "userid,query,stm,seg,step,maxtime,avgtime,rows,bytes,rate_row,rate_byte,"
        "label,is_diskbased,workmem,is_rrscan,is_delayed_scan,rows_pre_filter\n"
    )
    summary.write_bytes(gzip.compress((header + "\n".join(rows) + "\n").encode()))
    metrics = tmp_path / "svl_query_metrics_summary.csv"
    metrics.write_text(
        "userid,query,service_class,query_cpu_time,query_blocks_read,"
        "query_execution_time,query_cpu_usage_percent,query_temp_blocks_to_disk,"
        "segment_execution_time,cpu_skew,io_skew,scan_row_count,join_row_count,"
        "nested_loop_join_row_count,return_row_count,spectrum_scan_row_count,"
        "spectrum_scan_size_mb,query_queue_time\n"
        "100,3,6,42,5120,1,37.50,2048,1,1.20,1.10,900000,50000,,1000,,,0\n"
        "100,2,6,3,10,1,5.00,-1,1,1.00,1.00,10,,,0,,,0\n"
    )
    detail = tmp_path / "sys_query_detail.csv"
    detail.write_text(
        "user_id,query_id,child_query_sequence,stream_id,segment_id,step_id,"
        "step_name,table_id,table_name,is_rrscan,start_time,end_time,duration,alert,"
        "input_bytes,input_rows,output_bytes,output_rows,blocks_read,blocks_write,"
        "local_read_io,remote_read_io,spilled_block_local_disk,"
        "spilled_block_remote_disk\n"
        "100,3,1,0,0,2,hash,,,f,2024-03-01 12:00:04.000000,2024-03-01 12:00:05.000000,"
        "1000000,,0,0,0,0,0,0,0,0,700,300\n"
        "100,1,1,0,0,0,scan,200,stage.a,f,2024-03-01 12:00:00.000000,"
        "2024-03-01 12:00:01.000000,1000000,,0,0,0,0,64,0,64,0,12,\n"
    )
    return [history, summary, metrics, detail]


def test_memory_spill_and_qmr_metrics_join_onto_queries(exports):
    result = logs.ingest(exports)
    q = result.workload.queries.set_index("query_id")
    # SVL_QUERY_SUMMARY: largest stream need, 3 GiB (disk-based) + 1 GiB [MB]
    assert q.loc[3, "mem_mb"] == 4096.0
    # SVL_QUERY_METRICS_SUMMARY wins for the spill; SYS_QUERY_DETAIL fills query 1
    assert (q.loc[3, "spilled_mb"], q.loc[3, "scanned_mb"]) == (2048.0, 5120.0)
    assert (q.loc[1, "spilled_mb"], q.loc[1, "scanned_mb"]) == (12.0, 64.0)
    assert (q.loc[3, "cpu_s"], q.loc[3, "scan_rows"], q.loc[3, "join_rows"]) == (
        42.0,
        900000.0,
        50000.0,
    )
    assert np.isnan(q.loc[3, "nested_loop_rows"])
    assert np.isnan(q.loc[4, "mem_mb"])
    # the metrics row of query 2 has a negative spill: rejected, counted
    assert result.summary.rejected_by_reason == {"negative value": 1}
    s = result.summary
    assert s.rows_read == s.accepted + sum(s.rejected_by_reason.values())
    assert s.per_file[str(exports[1])] == ("svl_query_summary", 4, 0)


def test_scaling_eligibility_reasons_counted_at_ingest(exports):
    result = logs.ingest(exports)
    q = result.workload.queries.set_index("query_id")
    assert q["cs_eligible"].to_dict() == {
        1: False,
        2: False,
        3: True,
        4: False,
        5: False,
    }
    assert result.summary.cs_ineligible_by_reason == {
        "merge or unsupported dml": 1,
        "temporary table": 2,
        "system table": 1,
    }
    assert any("not scaling-eligible" in line for line in result.summary.lines())


def test_strict_metric_reader_names_row_and_value(exports):
    with pytest.raises(InputError, match="query_temp_blocks_to_disk"):
        logs.ingest(exports, strict=True)


def test_classifier_cross_statement_rules():
    texts = [
        ("ddl", "create table mart.il (a int)\ninterleaved sortkey (a)"),
        ("select", "select count(*) from mart.il where a = 1"),
        ("select", "select count(*) from mart.ilx"),
        (
            "ddl",
            "create or replace function f_py (a int) returns int stable\n"
            "as $$ return a $$ language plpythonu",
        ),
        ("select", "select f_py(x) from mart.m"),
        ("copy", "copy stage.a from 's3://b/p/' iam_role default format as parquet"),
        ("copy", "copy stage.a from 's3://b/p/' iam_role default csv gzip"),
        ("ddl", "create table mart.d (a int) diststyle all"),
        ("insert", "insert into mart.d values (1)"),
        ("select", pd.NA),
    ]
    f = pd.DataFrame(texts, columns=["statement_type", "query_text"])
    f["transaction_id"] = [1, 1, 1, 2, 2, 3, 4, 5, 6, 7]
    ok, why = cs_eligibility(f)
    assert why.tolist()[1:7] == [
        "interleaved sort key",
        pd.NA,
        "ddl, utility or maintenance",
        "python or lambda udf",
        "copy format or source",
        pd.NA,
    ]
    assert (why.iloc[8], ok[9]) == ("identity column or diststyle all", True)
    counts = reason_counts(why, f["query_text"].astype("string"))
    assert counts["no sql text (kept eligible)"] == 1


def test_write_after_ddl_in_the_same_transaction():
    f = pd.DataFrame(
        {
            "statement_type": ["ddl", "insert", "insert", "insert"],
            "query_text": [
                "alter table mart.m add column c int",
                "insert into mart.m values (1, 2)",
                "insert into mart.n values (1)",
                "insert into mart.m values (3, 4)",
            ],
            "transaction_id": [10, 10, 11, 10],
        }
    )
    ok, why = cs_eligibility(f)
    assert ok.tolist() == [False, False, True, False]
    assert why.iloc[1] == "write after ddl in transaction"
