"""What never ran in a user queue, and the routing facts the canonical workload keeps.

Inputs are psql-shaped exports (:mod:`fixtures.psql`): ``char(n)`` padding,
NULL as an empty field, t/f booleans, PostgreSQL timestamps.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from fixtures.psql import char, write_psql_csv

from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.errors import InputError
from dpcsim.logs import ingest, read_workload, write_workload
from dpcsim.logs.replay_notes import replay_warnings, routing_report
from dpcsim.logs.writers import STL_WLM_QUERY_HEADER, SVL_QLOG_HEADER
from dpcsim.wlm import route_workload

T0 = dt.datetime(2024, 3, 1, 12, 0, 0)
QLOG = SVL_QLOG_HEADER.split(",")
WLM = STL_WLM_QUERY_HEADER.split(",")


def _qlog(query, text, *, user=100, pid=30100, sp=None, cache=None, label="default"):
    start = T0 + dt.timedelta(seconds=query)
    return [user, query, 5000 + query, pid, start, start + dt.timedelta(seconds=1),
            1_000_000, 0, char(label, 30), char(text, 60), cache,
            "Ran on the main cluster", sp]  # fmt: skip


def _wlm(query, sc, name, *, user=100):
    start = T0 + dt.timedelta(seconds=query)
    end = start + dt.timedelta(seconds=1)
    return [user, 5000 + query, query, query, sc, 1, start, start, start, 0, start,
            end, 1_000_000, end, char("Completed", 16), 0, char("Normal", 20),
            char(name, 64)]  # fmt: skip


@pytest.fixture
def exports(tmp_path):
    qlog = [
        _qlog(1, "select 1 from mart.t"),
        _qlog(2, "vacuum stage.events", user=1),
        _qlog(3, "analyze stage.x", user=1),
        _qlog(4, "select * from pg_catalog.pg_tables"),  # leader node: no WLM row
        _qlog(5, "select * from mart.t", cache=1),  # result cache hit
        _qlog(6, "call mart.sp_load()"),  # the procedure ...
        _qlog(7, "insert into mart.t select 1", sp=6),  # ... and its child
        _qlog(8, "select 1", user=1, label="superuser"),
    ]
    wlm = [
        _wlm(1, 8, "adhoc"),
        _wlm(2, 15, ""),
        _wlm(3, 3, ""),
        _wlm(6, 6, "batch"),
        _wlm(7, 6, "batch"),
        _wlm(8, 5, ""),
    ]
    return (
        write_psql_csv(tmp_path / "svl_qlog.csv", QLOG, qlog),
        write_psql_csv(tmp_path / "stl_wlm_query.csv.gz", WLM, wlm),
    )


def test_only_user_queue_work_is_replayed(exports):
    result = ingest(list(exports))
    q = result.workload.queries.set_index("query_id")
    assert sorted(q.index) == [1, 5, 7, 8]
    assert q.loc[8, "queue"] == "superuser"
    assert bool(q.loc[5, "cache_hit"])
    assert q.loc[1, "session_id"] == 30100
    skipped = result.summary.not_replayed
    assert skipped == {
        "system service class (1-4)": 1,
        "maintenance service class 15 (auto vacuum/analyze)": 1,
        "no STL_WLM_QUERY row (a leader-node statement)": 1,
        "stored procedure CALL (its child statements hold the slots)": 1,
    }
    assert result.summary.rejected_by_reason == {}
    text = "\n".join(result.summary.lines())
    assert "not replayed (takes no user-queue slot)" in text


def test_sys_query_history_unfinished_rows_rejected(tmp_path):
    header = ["user_id", "query_id", "start_time", "end_time", "status",
              "queue_time", "execution_time", "query_type", "query_text"]  # fmt: skip
    rows = [
        [100, i, T0 + dt.timedelta(seconds=i), None, status, 0, 5, "SELECT", "select 1"]
        for i, status in enumerate(
            ["success", "running", "queued", "planning", "returning", "failed"]
        )
    ]
    result = ingest([write_psql_csv(tmp_path / "sqh.csv", header, rows)])
    assert sorted(result.workload.queries["query_id"]) == [0, 5]
    reasons = result.rejects.set_index("line")["reason"].to_dict()
    assert reasons[3] == "query still running: execution_time is not final"
    assert reasons[4].startswith("query still queued")


def test_sys_query_history_with_svl_qlog_is_refused(tmp_path, exports):
    header = ["user_id", "query_id", "start_time", "queue_time", "execution_time",
              "query_type", "status"]  # fmt: skip
    sqh = write_psql_csv(
        tmp_path / "sqh.csv", header, [[100, 1, T0, 0, 5, "SELECT", "success"]]
    )
    with pytest.raises(InputError, match="another id space"):
        ingest([exports[0], sqh])


@pytest.mark.parametrize("stl_first", [True, False])
def test_svl_qlog_and_stl_query_keep_the_longer_text(tmp_path, stl_first):
    long_sql = "select learner_id, count(*)\n  from mart.fct_progress\n group by 1"
    header = ["userid", "query", "label", "xid", "pid", "database", "querytxt",
              "starttime", "endtime", "aborted"]  # fmt: skip
    stl = write_psql_csv(
        tmp_path / "stl_query.csv",
        header,
        [
            [
                100,
                1,
                "default",
                5001,
                30100,
                "dev",
                char(long_sql, 4000),
                T0,
                T0 + dt.timedelta(seconds=1),
                0,
            ]
        ],
    )
    svl = write_psql_csv(tmp_path / "svl_qlog.csv", QLOG, [_qlog(1, long_sql)])
    files = [stl, svl] if stl_first else [svl, stl]
    result = ingest(files)
    (text,) = result.workload.queries["query_text"]
    assert text == long_sql
    assert result.rejects.empty
    assert any("both SVL_QLOG and STL_QUERY" in w for w in result.summary.warnings)


def test_superuser_and_roles_survive_the_canonical_workload(tmp_path, exports):
    users = write_psql_csv(
        tmp_path / "users.csv",
        ["usesysid", "usename", "usesuper", "groname"],
        [[1, "rdsdb_admin", True, None], [100, "learner_1", False, "dpc_learners"]],
    )
    grants = write_psql_csv(
        tmp_path / "svv_user_grants.csv",
        ["user_id", "user_name", "role_id", "role_name", "admin_option"],
        [[100, "learner_1", 7, "analyst", False]],
    )
    nested = write_psql_csv(
        tmp_path / "svv_role_grants.csv",
        ["role_id", "role_name", "granted_role_id", "granted_role_name"],
        [[7, "analyst", 8, "reader"]],
    )
    config = dpc_design_config()
    raw = ingest([*exports, users, grants, nested], wlm=config)
    q = raw.workload.queries.set_index("query_id")
    assert bool(q.loc[8, "is_superuser"])
    assert not bool(q.loc[1, "is_superuser"])
    assert q.loc[1, "user_roles"] == "analyst,reader"
    write_workload(raw.workload, tmp_path / "w")
    back = read_workload(tmp_path / "w").queries
    from_raw = route_workload(config, raw.workload.queries, superusers=raw.superusers)
    from_parquet = route_workload(config, back)
    assert from_parquet.queue.tolist() == from_raw.queue.tolist()
    assert (
        dict(zip(back["query_id"], from_parquet.queue, strict=True))[8] == "superuser"
    )


def test_replay_notes_count_upper_bounds_and_unmatched_groups(exports):
    alone = ingest([exports[0]]).workload.queries
    (warning,) = replay_warnings(alone)
    assert warning.startswith(f"{len(alone)} of {len(alone)} queries")
    lines, warnings = routing_report(dpc_design_config(), alone)
    assert lines[0].startswith("routing paths: ")
    (unmatched,) = warnings
    assert "match none of the workload's users" in unmatched
    assert (
        f"{len(alone)} of {len(alone)} queries fell to the default queue" in unmatched
    )


def test_no_caveats_for_a_split_workload(exports):
    split = ingest(list(exports)).workload.queries
    assert replay_warnings(split) == []
    assert isinstance(split, pd.DataFrame)
