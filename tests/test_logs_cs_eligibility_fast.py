"""Concurrency Scaling classification over distinct texts equals the row-by-row one.

The classifier runs each regex once per distinct SQL text; the reference in
tests/_cs_eligibility_reference.py runs it on every row. Both read the same
``psql --csv`` SYS_QUERY_HISTORY export (quoting only where needed, multi-line
SQL, NULL text as an empty field) through :func:`dpcsim.logs.ingest`, and a
seeded shuffle of the same statements over sessions and transactions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _cs_eligibility_reference import cs_eligibility as reference_eligibility

from dpcsim import logs
from dpcsim.logs.cs_eligibility import cs_eligibility

HEADER = (
    "user_id,user_name,query_id,transaction_id,session_id,database_name,start_time,"
    "end_time,elapsed_time,status,result_cache_hit,queue_time,execution_time,"
    "query_text,query_label,query_type,error_message,returned_rows,returned_bytes,"
    "redshift_version\n"
)

# (query_type, text): temp tables created and used in one session, MERGE,
# system tables, interleaved sort keys, Python and Lambda UDFs, DISTSTYLE ALL,
# identity columns, COPY formats, mixed case, and text that only looks alike.
STATEMENTS = [
    ("CTAS", 'create temp table "m__dbt_tmp"\nas select * from stage.a'),
    ("INSERT", 'insert into mart.m\nselect * from "m__dbt_tmp"'),
    ("SELECT", "select * from m__dbt_tmp_x"),
    ("CTAS", "CREATE TEMPORARY TABLE #stage_b AS SELECT * FROM stage.b"),
    ("SELECT", "select count(*) from #stage_b"),
    ("SELECT", "select * into temp t_into from stage.c"),
    ("SELECT", "select * from t_into where a > 1"),
    (
        "INSERT",
        "MERGE INTO mart.m USING stage.a ON m.id = a.id\nWHEN MATCHED THEN "
        "UPDATE SET v = a.v",
    ),
    ("SELECT", "select count(*) from stv_blocklist"),
    ("SELECT", 'select * from pg_catalog."pg_class" join svv_table_info using (oid)'),
    ("SELECT", "select * from mart.stl_like_name"),
    ("DDL", "create table mart.il (a int)\ninterleaved sortkey (a)"),
    ("SELECT", "select count(*) from mart.il where a = 1"),
    ("SELECT", "select count(*) from mart.ilx"),
    (
        "DDL",
        "create or replace function f_py (a int) returns int stable\n"
        "as $$ return a $$ language plpythonu",
    ),
    ("SELECT", "select f_py(x) from mart.m"),
    ("SELECT", "select f_py from mart.m"),
    (
        "DDL",
        "create external function f_lambda (int) returns int "
        "lambda 'f' iam_role default",
    ),
    ("SELECT", "select f_lambda (x) from mart.m"),
    ("DDL", "create table mart.d (a int) diststyle all"),
    ("INSERT", "insert into mart.d values (1)"),
    ("DDL", "create table mart.idn (id bigint identity(1, 1), v int)"),
    ("INSERT", "insert into mart.idn (v) values (2)"),
    ("COPY", "copy stage.a from 's3://b/p/' iam_role default format as parquet"),
    ("COPY", "copy stage.a from 's3://b/p/' iam_role default csv gzip"),
    ("COPY", "copy stage.a from 'emr://j-1/part-*' iam_role default"),
    ("DDL", "alter table mart.m add column c int"),
    ("INSERT", "insert into mart.m values (1, 2)"),
    ("UTILITY", "vacuum mart.m"),
    ("SELECT", "select 'a, b' as quoted, \"Mixed\" from mart.m"),
    ("SELECT", ""),
]


def _csv_field(text: str) -> str:
    if text and not any(c in text for c in ',"\n'):
        return text
    return '"' + text.replace('"', '""') + '"' if text else ""


def _export(path, rows: list[tuple[int, int, str, str]]) -> None:
    lines = [HEADER]
    for i, (session, xid, qtype, text) in enumerate(rows):
        second = i % 60
        minute = i // 60
        lines.append(
            f"100,IAMR:dpc-dbt,{i + 1},{xid},{session},dpc,"
            f"2024-03-01 12:{minute:02d}:{second:02d}.000000,"
            f"2024-03-01 12:{minute:02d}:{second:02d}.500000,500000,success,f,0,"
            f"500000,{_csv_field(text)},elt,{qtype},,0,0,1.0.62312\n"
        )
    path.write_text("".join(lines))


def _shuffled(seed: int, n: int) -> list[tuple[int, int, str, str]]:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(STATEMENTS), n)
    sessions = 1_073_741_824 + rng.integers(0, 4, n)
    xids = 9000 + rng.integers(0, 12, n)
    return [
        (int(s), int(x), *STATEMENTS[p])
        for s, x, p in zip(sessions, xids, picks, strict=True)
    ]


def _assert_same(frame: pd.DataFrame) -> None:
    ok, why = cs_eligibility(frame)
    ref_ok, ref_why = reference_eligibility(frame)
    assert ok.tolist() == ref_ok.tolist()
    pd.testing.assert_series_equal(why, ref_why)


def test_ingested_export_classifies_as_the_reference(tmp_path):
    rows = [(1_073_741_900, 9000 + i, *s) for i, s in enumerate(STATEMENTS)]
    path = tmp_path / "sys_query_history.csv"
    _export(path, rows)
    queries = logs.ingest([path]).workload.queries
    _, why = cs_eligibility(queries)
    # The fixture exercises every SQL rule, not only the eligible path.
    assert {
        "temporary table",
        "merge or unsupported dml",
        "system table",
        "interleaved sort key",
        "python or lambda udf",
        "identity column or diststyle all",
        "copy format or source",
    } <= set(why.dropna())
    _assert_same(queries)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shuffled_sessions_classify_as_the_reference(tmp_path, seed):
    path = tmp_path / "sys_query_history.csv"
    rows = _shuffled(seed, 600)
    _export(path, rows)
    queries = logs.ingest([path]).workload.queries
    _assert_same(queries)
    # The write-after-DDL rule reads the transaction of each row.
    with_xid = queries.copy()
    with_xid["transaction_id"] = [rows[int(q) - 1][1] for q in queries["query_id"]]
    _assert_same(with_xid)
    assert "write after ddl in transaction" in set(cs_eligibility(with_xid)[1])
    # Rows whose transaction the log does not give are never writes after DDL.
    some_xid = with_xid.copy()
    some_xid.loc[some_xid.index[::5], "transaction_id"] = pd.NA
    _assert_same(some_xid)
    # Unknown sessions may share any session's temporary table.
    unknown = queries.copy()
    unknown.loc[unknown.index[::7], "session_id"] = pd.NA
    _assert_same(unknown)
    no_session = queries.drop(columns=["session_id"])
    _assert_same(no_session)


def test_frame_without_text_classifies_as_the_reference():
    frame = pd.DataFrame({"statement_type": ["select", "ddl", "insert"]})
    _assert_same(frame)
