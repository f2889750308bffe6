# ruff: noqa: E501  (a table of statements as tools send them, one per line)
"""Statement types of real-world SQL shapes (dbt, Airflow, BI tools, psql, procedures).

Each row is a statement as a tool sends it (comments, quoting and case as
written there), with the type an operator would give it. Keywords inside string
literals, quoted identifiers, ``$$`` bodies and comments must not decide.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from dpcsim.logs.sql_type import classify_statements, partial_evidence

DBT = '/* {"app": "dbt", "dbt_version": "1.8.0", "profile_name": "dpc", "target_name": "prod", "node_id": "model.dpc.fct_progress"} */\n'

SHAPES = [
    # dbt
    (
        DBT
        + 'create  table\n    "dev"."mart"."fct_progress__dbt_tmp"\n  as (\n    select 1\n  );',
        "ctas",
    ),
    (
        DBT
        + 'insert into "dev"."mart"."fct_progress" ("id", "n")\n    (select "id", "n" from "fct_progress__dbt_tmp")',
        "insert",
    ),
    (
        DBT
        + 'delete from "dev"."mart"."fct_progress"\n    where (id) in (select (id) from "fct_progress__dbt_tmp");',
        "delete",
    ),
    (
        DBT
        + 'alter table "dev"."mart"."fct_progress__dbt_tmp" rename to "fct_progress"',
        "ddl",
    ),
    (
        DBT
        + 'create view "dev"."mart"."v_x__dbt_tmp" as (\n  select \'create table as select\' as s\n);',
        "ddl",
    ),
    (
        DBT
        + "select count(*) as failures from (select id from mart.fct where id is null) dbt_internal_test",
        "select",
    ),
    (DBT + "begin;", "utility"),
    # cut at SVL_QLOG's 60 characters: nothing left to decide from
    (DBT[:60], "other"),
    # cut, but the comment names the node before the cut: the node type decides
    ('/* {"app": "dbt", "node_id": "model.dpc.fct_progress", "dbt_v', "ctas"),
    ('/* {"app": "dbt", "node_id": "test.dpc.not_null_fct_id"} */ select 1', "select"),
    # Airflow / ELT
    (
        "COPY stage.events FROM 's3://dpc/events/2024/03/01/' IAM_ROLE default FORMAT AS JSON 'auto';",
        "copy",
    ),
    (
        "UNLOAD ('select * from mart.fct where note = ''insert''') TO 's3://dpc/out/' IAM_ROLE default FORMAT CSV HEADER",
        "unload",
    ),
    (
        "-- airflow task: load_events\nINSERT INTO stage.events SELECT * FROM stage.events_tmp",
        "insert",
    ),
    (
        "MERGE INTO mart.dim_learner USING stage.learner s ON dim_learner.id = s.id WHEN MATCHED THEN UPDATE SET name = s.name",
        "insert",
    ),
    ("UPDATE mart.dim_course SET title = 'delete me' WHERE id = 3", "update"),
    ("DELETE FROM stage.tmp WHERE note = 'select'", "delete"),
    ("TRUNCATE stage.events_tmp", "ddl"),
    ("VACUUM DELETE ONLY stage.events TO 75 PERCENT", "vacuum"),
    ("ANALYZE stage.events PREDICATE COLUMNS", "analyze"),
    ("ANALYZE COMPRESSION stage.events", "analyze"),
    ("padb_fetch_sample: select count(*) from stage.events", "analyze"),
    # temp tables
    (
        "CREATE TEMP TABLE t_batch AS SELECT * FROM stage.events WHERE d = '2024-03-01'",
        "ctas",
    ),
    ("create temporary table t (id int, note varchar(20) default 'known as x')", "ddl"),
    ("CREATE TABLE t (s VARCHAR(20) DEFAULT 'known as x')", "ddl"),
    ("create table t (d date default cast('2024-01-01' as date))", "ddl"),
    ("SELECT id, name INTO TEMP TABLE t_learners FROM mart.dim_learner", "ctas"),
    ('create table "select" as select 1', "ctas"),
    # BI tools
    ("SELECT 'insert into audit' AS label", "select"),
    ('SELECT "delete", "update" FROM mart."insert"', "select"),
    (
        "WITH recent AS (SELECT * FROM log WHERE action = 'delete') SELECT count(*) FROM recent",
        "select",
    ),
    ("WITH src AS (SELECT 1 AS id) INSERT INTO mart.t SELECT id FROM src", "insert"),
    ("/* Tableau */ (SELECT 1)", "select"),
    ("select * from t where c = 'it''s -- not a comment' and d = 1", "select"),
    ("SELECT $$insert into x$$ AS body", "select"),
    ("values (1), (2)", "select"),
    # psql and sessions
    ("SET query_group TO 'elt'", "utility"),
    ("RESET query_group", "utility"),
    ("SHOW search_path", "utility"),
    ("BEGIN", "utility"),
    ("COMMIT", "utility"),
    ("ROLLBACK", "utility"),
    ("EXPLAIN SELECT * FROM mart.fct", "utility"),
    ("LOCK mart.fct", "utility"),
    # cursors
    ("DECLARE c1 CURSOR FOR SELECT * FROM mart.fct", "utility"),
    ("FETCH FORWARD 1000 FROM c1", "utility"),
    ("CLOSE c1", "utility"),
    # stored procedures
    ("CALL mart.sp_refresh('insert')", "utility"),
    (
        "CREATE OR REPLACE PROCEDURE sp_x() AS $$ BEGIN INSERT INTO t SELECT 1; END; $$ LANGUAGE plpgsql",
        "ddl",
    ),
    ("GRANT SELECT ON mart.fct TO GROUP dpc_learners", "ddl"),
    ("DROP TABLE IF EXISTS stage.tmp", "ddl"),
    ("", "other"),
]


def test_table_is_large_enough():
    assert len(SHAPES) >= 40


@pytest.mark.parametrize(("sql", "expected"), SHAPES)
def test_statement_shape(sql, expected):
    assert classify_statements(pd.Series([sql])).iloc[0] == expected


def test_whole_column_matches_one_by_one():
    texts = pd.Series([s for s, _ in SHAPES] * 3)
    assert classify_statements(texts).tolist() == [e for _, e in SHAPES] * 3


def test_partial_evidence_counts_cut_dbt_comments():
    texts = pa.array([DBT[:60], DBT[:60], DBT + "select 1", "select 1", None])
    assert partial_evidence(texts) == 2
