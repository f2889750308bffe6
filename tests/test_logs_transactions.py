"""Transaction ids from the query logs, and the write-after-DDL scaling rule.

AWS (concurrency-scaling.html): DDL is not supported on scaling clusters, and
when such a statement (``CREATE`` without ``TABLE AS``, ``ALTER``, ...) comes
before supported writes in an explicit transaction, those writes stay on the
main cluster too. The transaction is ``transaction_id`` in SYS_QUERY_HISTORY
and ``xid`` in SVL_QLOG / STL_QUERY; autocommit statements each get their own.
Fixtures are ``psql --csv`` output: multi-line SQL quoted, ``char(n)`` columns
blank-padded, NULL as an empty field.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from fixtures.psql import char, write_psql_csv

from dpcsim import logs
from dpcsim.logs.writers import write_svl_qlog

T0 = dt.datetime(2024, 3, 1, 2, 0, 0)

SQH = [
    "user_id",
    "user_name",
    "query_id",
    "transaction_id",
    "session_id",
    "database_name",
    "start_time",
    "end_time",
    "elapsed_time",
    "status",
    "result_cache_hit",
    "queue_time",
    "execution_time",
    "query_text",
    "query_label",
    "query_type",
    "error_message",
    "returned_rows",
    "returned_bytes",
    "redshift_version",
]

#: (query_id, transaction_id, second, query_type, SQL).
STATEMENTS = (
    (11, 700, 0, "DDL", "create table mart.m_new (\n  id int,\n  v int\n)"),
    (12, 700, 2, "INSERT", "insert into mart.m_new\nselect id, v\nfrom stage.a"),
    (13, 700, 4, "SELECT", "select count(*)\nfrom mart.m_new"),
    (14, 701, 6, "INSERT", "insert into mart.m\nselect * from stage.b"),
    (15, 702, 8, "INSERT", "insert into mart.n\nselect * from stage.c"),
    (16, 702, 10, "DDL", "alter table mart.n\nadd column w int"),
    (17, None, 12, "DELETE", "delete from mart.o\nwhere id < 0"),
)


def _history(tmp_path: Path) -> Path:
    rows = []
    for qid, xid, second, qtype, sql in STATEMENTS:
        start = T0 + dt.timedelta(seconds=second)
        rows.append(
            (
                100,
                char("IAMR:dpc-dbt", 128),
                qid,
                xid,
                1073,
                char("dpc", 128),
                start,
                start + dt.timedelta(seconds=1),
                1_000_000,
                char("success", 10),
                False,
                0,
                1_000_000,
                sql,
                char("elt", 320),
                char(qtype, 32),
                None,
                0,
                0,
                char("1.0.62312", 128),
            )
        )
    return write_psql_csv(tmp_path / "sys_query_history.csv", SQH, rows)


def test_sys_query_history_keeps_transaction_ids(tmp_path: Path) -> None:
    q = logs.ingest([_history(tmp_path)]).workload.queries.set_index("query_id")
    assert q["transaction_id"].dtype == "Int64"
    expected = {qid: xid for qid, xid, *_ in STATEMENTS}
    got = q["transaction_id"].to_dict()
    assert {k: (None if pd.isna(v) else int(v)) for k, v in got.items()} == expected


def test_write_after_ddl_in_its_transaction_stays_on_main(tmp_path: Path) -> None:
    result = logs.ingest([_history(tmp_path)])
    q = result.workload.queries.set_index("query_id")
    assert q["cs_eligible"].to_dict() == {
        11: False,  # DDL itself
        12: False,  # a write after it in transaction 700
        13: True,  # a read after it: the rule is about writes
        14: True,  # another transaction
        15: True,  # a write before the DDL of its transaction
        16: False,  # DDL itself
        17: True,  # no transaction id: no evidence
    }
    by_reason = result.summary.cs_ineligible_by_reason
    assert by_reason["write after ddl in transaction"] == 1
    assert by_reason["ddl, utility or maintenance"] == 2
    line = next(x for x in result.summary.lines() if "not scaling-eligible" in x)
    assert "write after ddl in transaction 1" in line


def test_svl_qlog_xid_round_trips(tmp_path: Path) -> None:
    history = logs.ingest([_history(tmp_path)]).workload.queries
    # Written as SVL_QLOG, the transaction id is the xid; where it is unknown
    # the writer gives each statement its own.
    path = write_svl_qlog(history, tmp_path / "svl_qlog.csv")
    back = logs.ingest([path]).workload.queries.set_index("query_id")
    ids = history.set_index("query_id")["transaction_id"]
    got = back["transaction_id"].reindex(ids.index)
    known = ids.notna().to_numpy()
    assert got[known].tolist() == ids[known].tolist()
    assert got[~known].notna().all()
    assert not got[~known].isin(ids[known].tolist()).any()
    # The rule reads the same from SVL_QLOG: the 60-character text still
    # shows the insert after the DDL of transaction 700.
    assert back.loc[12, "cs_eligible"] == False  # noqa: E712


STL_QUERY = [
    "userid",
    "query",
    "label",
    "xid",
    "pid",
    "database",
    "querytxt",
    "starttime",
    "endtime",
    "aborted",
    "insert_pristine",
    "concurrency_scaling_status",
]
DDL_TEXT = ["userid", "xid", "pid", "label", "starttime", "endtime", "sequence", "text"]
#: A DDL statement longer than one 200-character piece of STL_DDLTEXT.
CREATE = (
    "create table mart.fct_new (\n"
    + ",\n".join(f"  metric_{i:02d} decimal(18, 4) encode az64" for i in range(8))
    + "\n) diststyle key distkey (metric_00)"
)


def _stl_exports(tmp_path: Path) -> list[Path]:
    def at(second: int) -> dt.datetime:
        return T0 + dt.timedelta(seconds=second)

    queries = [
        # (query, xid, second, SQL)
        (2000, 5001, 0, "insert into mart.audit\nselect getdate(), 'start'"),
        (2001, 5001, 5, "insert into mart.fct_new\nselect *\nfrom stage.fct"),
        (2002, 5002, 9, "insert into mart.fct_b\nselect * from stage.b"),
        (2003, 5001, 12, "select count(*)\nfrom mart.fct_new"),
    ]
    stl_query = write_psql_csv(
        tmp_path / "stl_query.csv",
        STL_QUERY,
        [
            (
                100,
                qid,
                char("elt", 320),
                xid,
                30100,
                char("dpc", 32),
                char(sql, 4000),
                at(s),
                at(s + 2),
                0,
                0,
                0,
            )
            for qid, xid, s, sql in queries
        ],
    )
    pieces = [CREATE[i : i + 200] for i in range(0, len(CREATE), 200)]
    assert len(pieces) == 2
    ddl = write_psql_csv(
        tmp_path / "stl_ddltext.csv.gz",
        DDL_TEXT,
        [
            (100, 5001, 30100, char("elt", 320), at(2), at(3), k, char(piece, 200))
            for k, piece in enumerate(pieces)
        ],
    )
    # STL_UTILITYTEXT has STL_DDLTEXT's columns: its BEGIN and COMMIT are no DDL.
    utility = write_psql_csv(
        tmp_path / "stl_utilitytext.csv",
        DDL_TEXT,
        [
            (100, 5002, 30100, char("elt", 320), at(8), at(8), 0, char("begin;", 200)),
            (
                100,
                5002,
                30100,
                char("elt", 320),
                at(11),
                at(11),
                0,
                char("commit;", 200),
            ),
        ],
    )
    return [stl_query, ddl, utility]


def test_stl_ddltext_gives_the_ddl_stl_query_leaves_out(tmp_path: Path) -> None:
    files = _stl_exports(tmp_path)
    result = logs.ingest(files)
    q = result.workload.queries.set_index("query_id")
    assert q["transaction_id"].tolist() == [5001, 5001, 5002, 5001]
    assert q["cs_eligible"].to_dict() == {
        2000: True,  # before the CREATE of its transaction
        2001: False,  # after it
        2002: True,  # another transaction (its BEGIN/COMMIT are no DDL)
        2003: True,  # a read
    }
    assert result.summary.cs_ineligible_by_reason == {
        "write after ddl in transaction": 1
    }
    s = result.summary
    assert s.per_file[str(files[1])] == ("stl_ddltext", 2, 0)
    assert s.per_file[str(files[2])] == ("stl_ddltext", 2, 0)
    assert s.rows_read == s.accepted + sum(s.rejected_by_reason.values())
    # Without STL_DDLTEXT the query log alone shows no DDL: the insert stays eligible.
    alone = logs.ingest([files[0]]).workload.queries.set_index("query_id")
    assert bool(alone.loc[2001, "cs_eligible"])


def test_stl_ddltext_joins_pieces_and_rejects_rows_without_xid(
    tmp_path: Path,
) -> None:
    from dpcsim.logs.reader import read_export

    path = _stl_exports(tmp_path)[1]
    read = read_export(path)
    assert read.kind == "ddl"
    assert read.rows["text"].tolist() == [CREATE]
    assert read.rows["is_ddl"].tolist() == [True]
    bad = write_psql_csv(
        tmp_path / "bad_ddltext.csv",
        DDL_TEXT,
        [(100, None, 30100, char("", 320), T0, T0, 0, char("drop table t", 200))],
    )
    rejected = read_export(bad)
    assert len(rejected.rows) == 0
    assert rejected.rejects["reason"].tolist() == ["missing value"]
    assert rejected.rejects["source_row"].tolist() == [1]
