"""Statement types and fingerprints from SQL text and logged query types."""

from __future__ import annotations

import pandas as pd
import pytest

from dpcsim.logs.sql_type import (
    classify_statements,
    fingerprints,
    statement_types_from_query_type,
)
from dpcsim.schema import STATEMENT_TYPES

CASES = [
    ("select 1", "select"),
    ("  \n\tSELECT * FROM t", "select"),
    ("-- note\nselect 1", "select"),
    ("/* multi\nline */ (select 1) union (select 2)", "select"),
    ("((SELECT a FROM b))", "select"),
    ("with x as (select 1) select * from x", "select"),
    ("WITH x AS (SELECT 1) INSERT INTO y SELECT * FROM x", "insert"),
    ("insert into mart.fct_x select * from stage.x", "insert"),
    ("Update t set a = 1", "update"),
    ("delete from t where a < 3", "delete"),
    ("copy stage.x from 's3://b/k' iam_role default format parquet", "copy"),
    ("unload ('select * from t') to 's3://b/u'", "unload"),
    ("create table mart.fct_a as select * from stage.a", "ctas"),
    ("CREATE TEMP TABLE t1 AS SELECT 1", "ctas"),
    ("create local temporary table t2 as select 1", "ctas"),
    ("select a, b into temp table t3 from c", "ctas"),
    ("create table t (a int, b varchar(10))", "ddl"),
    ("create view v as select 1", "ddl"),
    ("alter table t add column c int", "ddl"),
    ("drop table if exists t", "ddl"),
    ("truncate stage.x", "ddl"),
    ("grant select on t to group g", "ddl"),
    ("vacuum reindex mart.fct_a", "vacuum"),
    ("VACUUM DELETE ONLY t", "vacuum"),
    ("analyze stage.events", "analyze"),
    ("ANALYZE COMPRESSION mart.fct_a", "analyze"),
    ("padb_fetch_sample: select count(*) from t", "analyze"),
    ("set query_group to 'elt'", "utility"),
    ("show search_path", "utility"),
    ("begin", "utility"),
    ("COMMIT", "utility"),
    ("rollback", "utility"),
    ("explain select 1", "utility"),
    ("call sp_load()", "utility"),
    ("frobnicate", "other"),
    ("", "other"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_classify(text, expected):
    assert classify_statements(pd.Series([text])).tolist() == [expected]


def test_classify_missing_text_and_vocabulary():
    out = classify_statements(pd.Series([None, *[t for t, _ in CASES]], dtype="string"))
    assert out.iloc[0] == "other"
    assert set(out) <= set(STATEMENT_TYPES)
    assert str(out.dtype) == "string"


def test_fingerprint_normalises_literals_and_case():
    texts = pd.Series(
        [
            "SELECT * FROM t WHERE id = 42 AND name = 'O''Brien'",
            "select *  from t where id = 7 and name = 'x'",
            "/* c */ select * from t where id = 3.5 and name = ''",
            None,
        ]
    )
    out = fingerprints(texts)
    assert out.iloc[0] == out.iloc[1] == out.iloc[2]
    assert out.iloc[0] == "select * from t where id = ? and name = '?'"
    assert pd.isna(out.iloc[3])


def test_query_type_mapping_with_text_fallback():
    qt = pd.Series(["SELECT", "CTAS", "COMMAND", "UTILITY", "LOAD", "other", "DDL"])
    text = pd.Series(["x", "x", "vacuum t", "set a to 1", "x", "delete from t", "x"])
    out = statement_types_from_query_type(qt, text).tolist()
    assert out == ["select", "ctas", "vacuum", "utility", "copy", "delete", "ddl"]
    no_text = statement_types_from_query_type(pd.Series(["UTILITY", "COMMAND"]), None)
    assert no_text.tolist() == ["utility", "other"]
