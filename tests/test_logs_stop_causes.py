"""Why aborted queries stopped: STL_WLM_RULE_ACTION, WLM and statement timeouts.

Fixtures are written as ``psql --csv`` writes them (blank-padded ``char(n)``,
``t``/``f``, NULL as an empty field, multi-line SQL quoted), then ingested and
turned into run records and ``Custom/DPC`` failure counts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.psql import char, write_psql_csv

from dpcsim.cli import main
from dpcsim.errors import InputError
from dpcsim.logs import ingest, read_export, write_exports
from dpcsim.metrics.custom import custom_datapoints
from dpcsim.metrics.records import records_from_workload
from dpcsim.schema import COLUMNS, Workload, validate_workload
from dpcsim.wlm.config import WLMConfig

T0 = dt.datetime(2024, 3, 1, 12, 0, 0)
US = 1_000_000


def _names(text: str) -> list[str]:
    """Column names of a header line."""
    return text.split(",")


QLOG_HEADER = _names(
    "userid,query,xid,pid,starttime,endtime,elapsed,aborted,label,substring,"
    "source_query,concurrency_scaling_status_txt,from_sp_call"
)
WLM_HEADER = _names(
    "userid,xid,task,query,service_class,slot_count,service_class_start_time,"
    "queue_start_time,queue_end_time,total_queue_time,exec_start_time,"
    "exec_end_time,total_exec_time,service_class_end_time,final_state,"
    "est_peak_mem,query_priority,service_class_name"
)
RULE_HEADER = _names(
    "userid,query,service_class,rule,action,recordtime,action_value,service_class_name"
)
SYS_HEADER = _names(
    "user_id,user_name,query_id,transaction_id,session_id,database_name,"
    "start_time,end_time,elapsed_time,status,result_cache_hit,queue_time,"
    "execution_time,query_text,query_label,query_type,error_message,"
    "returned_rows,returned_bytes,redshift_version"
)

#: The configuration the log was recorded under: a 30 s WLM timeout on batch.
RECORDED = WLMConfig.from_json(
    [
        {"name": "batch", "query_group": ["elt"], "query_concurrency": 3,
         "max_execution_time": 30000},
        {"name": "adhoc", "query_concurrency": 5},
    ]
)  # fmt: skip
QUEUE_OF = {6: "batch", 7: "adhoc"}

# (query, task, service class, start [s after T0], queue [s], exec [s],
#  final_state, qlog aborted, SQL)
ATTEMPTS = [
    # A QMR abort.
    (2001, 2001, 7, 0, 0.0, 5.0, "Aborted", 1, "select * from big_a"),
    # A QMR hop(restart) to adhoc, then a QMR abort of the new attempt.
    (2002, 2002, 6, 2, 0.0, 8.0, "Evicted", 1, "select * from big_b"),
    (2003, 2002, 7, 10, 1.0, 4.0, "Aborted", 1, "select * from big_b"),
    # A QMR hop of the final attempt that found no queue: canceled.
    (2004, 2004, 7, 4, 0.0, 6.0, "Aborted", 1, "select * from big_c"),
    # An insert that ran its queue's 30 s WLM timeout.
    (
        2005,
        2005,
        6,
        6,
        0.5,
        30.0,
        "Aborted",
        1,
        "insert into mart.fct_a\nselect *\n  from stage.a",
    ),
    # An insert the user canceled after 12 s.
    (2006, 2006, 6, 8, 0.0, 12.0, "Aborted", 1, "insert into mart.fct_b select 1"),
    # A COPY past 30 s: COPY never times out, so it is the statement's own error.
    (
        2007,
        2007,
        6,
        9,
        0.0,
        45.0,
        "Aborted",
        1,
        "copy stage.a from 's3://bucket/a' iam_role default",
    ),
    # A completed query with a QMR log action.
    (2008, 2008, 7, 12, 0.0, 2.0, "Completed", 0, "select count(*) from mart.fct_a"),
    # 20 s queued + 40 s running = the recorded statement_timeout.
    (2009, 2009, 7, 14, 20.0, 40.0, "Aborted", 1, "select * from big_d"),
    # Ran past the timeout while returning rows, then the client went away:
    # aborted in SVL_QLOG, Completed in WLM, so no WLM timeout.
    (2011, 2011, 6, 16, 0.0, 31.0, "Completed", 1, "select * from mart.fct_a"),
]
RULES = [
    (2001, 7, "abort_big_scan", "abort"),
    (2002, 6, "hop_long", "hop(restart)"),
    (2003, 7, "abort_big_scan", "abort"),
    (2004, 7, "hop_long_adhoc", "hop(restart)"),
    (2008, 7, "log_nested_loop", "log"),
]
EXPECTED = {
    2001: "qmr_abort",
    2002: "qmr_abort",
    2004: "qmr_hop",
    2005: "wlm_timeout",
    2006: "user_or_error",
    2007: "user_or_error",
    2008: None,
    2009: "statement_timeout",
    2011: "user_or_error",
}


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _write_stl(folder: Path, rules=RULES) -> list[Path]:
    qlog, wlm = [], []
    for query, task, sc, start, queue_s, exec_s, state, aborted, sql in ATTEMPTS:
        end = start + queue_s + exec_s
        qlog.append([
            101, query, 4000 + task, 30000 + task, _at(start), _at(end),
            int((end - start) * US), aborted, char("default", 320), char(sql, 60),
            None, "Ran on the main cluster", None,
        ])  # fmt: skip
        wlm.append([
            101, 4000 + task, task, query, sc, 1, _at(start), _at(start),
            _at(start + queue_s), int(queue_s * US), _at(start + queue_s), _at(end),
            int(exec_s * US), _at(end), char(state, 16), 0, char("n/a", 20),
            char(QUEUE_OF[sc], 64),
        ])  # fmt: skip
    rule_rows = [
        [101, query, sc, char(rule, 256), char(action, 256), _at(30 + i),
         char("", 256), char(QUEUE_OF[sc], 64)]
        for i, (query, sc, rule, action) in enumerate(rules)
    ]  # fmt: skip
    return [
        write_psql_csv(folder / "svl_qlog.csv", QLOG_HEADER, qlog),
        write_psql_csv(folder / "stl_wlm_query.csv", WLM_HEADER, wlm),
        write_psql_csv(folder / "stl_wlm_rule_action.csv", RULE_HEADER, rule_rows),
    ]


@pytest.fixture
def stl_files(tmp_path):
    return _write_stl(tmp_path)


def _causes(result) -> dict[int, object]:
    q = result.workload.queries.set_index("query_id")["stop_cause"]
    return {int(k): (None if pd.isna(v) else v) for k, v in q.items()}


def test_each_cause_from_the_stl_exports(stl_files):
    result = ingest(stl_files, recorded=RECORDED, statement_timeout_ms=60000)
    assert _causes(result) == EXPECTED
    # The readers' evidence columns stay out of the canonical workload.
    assert tuple(result.workload.queries.columns) == COLUMNS
    assert result.summary.stop_causes == {
        "qmr_abort": 2, "qmr_hop": 1, "wlm_timeout": 1, "statement_timeout": 1,
        "user_or_error": 3,
    }  # fmt: skip
    assert any("by stop cause: qmr_abort 2" in line for line in result.summary.lines())
    # Every row is accounted for, the rule actions included.
    assert result.summary.rows_read == 2 * len(ATTEMPTS) + len(RULES)
    assert result.summary.accepted == result.summary.rows_read


def test_without_recorded_settings_timeouts_are_not_guessed(stl_files):
    # Lower bound: with no recorded WLM and no statement_timeout, the timeouts
    # have no evidence and count as the user's or the statement's.
    causes = _causes(ingest(stl_files))
    assert causes[2005] == causes[2009] == "user_or_error"
    assert causes[2001] == causes[2002] == "qmr_abort"
    # Routing under another configuration does not make it the recorded one.
    assert _causes(ingest(stl_files, wlm=RECORDED))[2005] == "user_or_error"


def _points(workload):
    records = records_from_workload(workload)
    minutes = 3
    stamps = pd.DatetimeIndex(
        [records.start_at + pd.Timedelta(minutes=m) for m in range(minutes)]
    )
    grid_s = 60.0 * np.arange(minutes)
    points = custom_datapoints(
        records, stamps, grid_s, cluster_id="dpc-learning", environment="prod"
    )
    return records, points


def _total(points, metric) -> float:
    return float(points.loc[points["metric_name"] == metric, "value"].sum())


def test_round_trip_counts_only_what_the_cluster_stopped(stl_files):
    result = ingest(stl_files, recorded=RECORDED, statement_timeout_ms=60000)
    records, points = _points(result.workload)
    outcome = records.queries.set_index("query_id")["outcome"].to_dict()
    assert outcome == {
        2001: "aborted", 2002: "aborted", 2004: "canceled", 2005: "canceled",
        2006: "failed", 2007: "failed", 2008: "completed", 2009: "canceled",
        2011: "failed",
    }  # fmt: skip
    # 8 aborts in the log, 5 of them the cluster's (was 8 when every logged
    # abort counted as WLM-caused).
    assert _total(points, "WLMFailedQueries") == 8.0
    assert _total(points, "WLMCausedFailedQueries") == 5.0
    assert _total(points, "WLMAttemptedQueries") == 9.0
    # By minute of the end: the 30 s timeout ends at 36.5 s, the statement
    # timeout at 74 s, the restarted QMR abort at 15 s.
    caused = points[points["metric_name"] == "WLMCausedFailedQueries"]
    assert caused.sort_values("timestamp")["value"].tolist() == [4.0, 1.0, 0.0]


def test_old_workload_without_causes_counts_no_abort_as_wlm_caused(stl_files):
    # A workload written before stop_cause existed: every abort lacks evidence.
    queries = ingest(stl_files, recorded=RECORDED).workload.queries
    old = validate_workload(queries.drop(columns="stop_cause"))
    assert set(old.loc[old["aborted"], "stop_cause"]) == {"user_or_error"}
    assert old.loc[~old["aborted"], "stop_cause"].isna().all()
    _, points = _points(Workload(queries=old))
    assert _total(points, "WLMFailedQueries") == 8.0
    assert _total(points, "WLMCausedFailedQueries") == 0.0


def test_unmatched_and_completed_abort_actions_are_warned(tmp_path):
    rules = [
        *RULES,
        (9999, 7, "abort_big_scan", "abort"),
        (2008, 7, "abort_x", "abort"),
    ]
    result = ingest(_write_stl(tmp_path, rules), recorded=RECORDED)
    warnings = " | ".join(result.summary.warnings)
    assert "1 STL_WLM_RULE_ACTION abort rows name a query that is not in" in warnings
    assert "1 queries have a QMR abort action but the log shows them completed" in (
        warnings
    )
    assert _causes(result)[2008] is None


def test_rule_action_reader_trims_and_lowercases(stl_files):
    res = read_export(stl_files[2])
    assert res.table == "stl_wlm_rule_action"
    assert res.kind == "rule_actions"
    assert res.rows["action"].tolist() == [r[3] for r in RULES]
    assert res.rows["rule"].iloc[0] == "abort_big_scan"
    assert res.rows["recorded_at"].iloc[0] == pd.Timestamp("2024-03-01 12:00:30Z")
    assert res.rows["service_class"].tolist() == [7, 6, 7, 7, 7]


BAD_RULES = (
    "userid,query,service_class,rule,action,recordtime\n"
    f"101,2001,7,{char('abort_big_scan', 256)},{char('abort', 256)},"
    "2024-03-01 12:00:30\n"
    f"101,2001,7,{char('abort_big_scan', 256)},{char('abort', 256)},"
    "2024-03-01 12:00:30\n"
    f"101,2002,7,{char('x', 256)},{char('cancel', 256)},2024-03-01 12:00:31\n"
    f"101,2003,7,{char('x', 256)},,2024-03-01 12:00:32\n"
    f"101,-4,7,{char('x', 256)},{char('log', 256)},2024-03-01 12:00:33\n"
    f"101,2005,7,{char('x', 256)},{char('log', 256)},2024-03-01 25:00:00\n"
    f"101,,7,{char('x', 256)},{char('log', 256)},2024-03-01 12:00:34\n"
)


def test_malformed_rule_actions_are_rejected_with_reasons(tmp_path):
    path = tmp_path / "rule_action.csv"
    path.write_text(BAD_RULES)
    res = read_export(path)
    assert res.rows["query_id"].tolist() == [2001]
    reasons = dict(zip(res.rejects["line"], res.rejects["reason"], strict=True))
    assert reasons == {
        3: "duplicate rule action",
        4: "unknown rule action",
        5: "missing value",
        6: "negative query id",
        7: "unparseable time",
        8: "missing value",
    }
    assert res.rows_read == 7
    columns = dict(zip(res.rejects["line"], res.rejects["column"], strict=True))
    assert columns[4] == "action"
    assert columns[7] == "recordtime"


def test_strict_names_the_bad_rule_action(tmp_path):
    path = tmp_path / "rule_action.csv"
    path.write_text(BAD_RULES)
    with pytest.raises(InputError) as err:
        read_export(path, strict=True)
    text = str(err.value)
    assert "rule_action.csv" in text
    assert "line 3" in text
    assert "duplicate rule action" in text


def _write_sys(path: Path) -> Path:
    # (query_id, status, elapsed [s], exec [s], error_message)
    rows = [
        (5001, "success", 3.0, 2.5, None),
        (5002, "canceled", 60.0, 59.0, "Query (5002) canceled on user's request"),
        (5003, "canceled", 12.0, 11.0, "Query (5003) canceled on user's request"),
        (5004, "failed", 8.0, 7.5,
         'Query (5004) cancelled by WLM abort action of Query Monitoring Rule '
         '"abort_big_scan".'),
        (5005, "failed", 1.0, 0.9, 'relation "mart.nope" does not exist'),
    ]  # fmt: skip
    body = [
        [101, "learner01", qid, 9000 + qid, 1074, "dpc", _at(i), _at(i + elapsed),
         int(elapsed * US), char(status, 10), False, int((elapsed - ex) * US),
         int(ex * US), f"select *\n  from t{qid}\n where x = 'a, b'", None,
         char("SELECT", 32), message, 0, 0, "1.0.62312"]
        for i, (qid, status, elapsed, ex, message) in enumerate(rows)
    ]  # fmt: skip
    return write_psql_csv(path, SYS_HEADER, body)


def test_each_cause_from_sys_query_history(tmp_path):
    path = _write_sys(tmp_path / "sys_query_history.csv")
    result = ingest([path], statement_timeout_ms=60000)
    assert _causes(result) == {
        5001: None, 5002: "statement_timeout", 5003: "user_or_error",
        5004: "qmr_abort", 5005: "user_or_error",
    }  # fmt: skip
    assert result.workload.queries["query_text"].iloc[0].count("\n") == 2
    _, points = _points(result.workload)
    assert _total(points, "WLMFailedQueries") == 4.0
    assert _total(points, "WLMCausedFailedQueries") == 2.0
    # Without the recorded statement_timeout, the cancel at 60 s is a user's.
    assert _causes(ingest([path]))[5002] == "user_or_error"


def test_sys_query_history_with_rule_actions_is_refused(tmp_path, stl_files):
    path = _write_sys(tmp_path / "sys_query_history.csv")
    with pytest.raises(InputError, match="STL_WLM_RULE_ACTION"):
        ingest([path, stl_files[2]])


def test_bad_statement_timeout_is_an_input_error(stl_files):
    with pytest.raises(InputError, match="statement_timeout_ms=-5"):
        ingest(stl_files, statement_timeout_ms=-5)


def test_cli_ingest_takes_the_recorded_timeouts(tmp_path, stl_files, capsys):
    wlm = tmp_path / "wlm.json"
    wlm.write_text(RECORDED.parameter_value())
    out = tmp_path / "out"
    code = main(
        ["ingest", *map(str, stl_files), "--wlm", str(wlm),
         "--statement-timeout-ms", "60000", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert (
        "aborted, by stop cause: qmr_abort 2, qmr_hop 1, wlm_timeout 1, "
        "statement_timeout 1, user_or_error 3"
    ) in text
    written = pd.read_parquet(out / "workload.parquet").set_index("query_id")
    assert written.loc[2005, "stop_cause"] == "wlm_timeout"


def test_writers_keep_the_causes_through_a_round_trip(tmp_path, stl_files):
    first = ingest(stl_files, recorded=RECORDED, statement_timeout_ms=60000)
    # The writer logs every abort's final attempt as Aborted, so 2011's
    # "Completed in WLM, aborted by the client" is not written (module docs).
    queries = first.workload.queries
    kept = queries.loc[queries["query_id"] != 2011].reset_index(drop=True)
    files = write_exports(Workload(queries=kept), tmp_path / "again")
    rules = files["stl_wlm_rule_action"].read_text().splitlines()
    assert rules[0] == ",".join(RULE_HEADER)
    # One row per QMR stop, char(256) rule and action padded as AWS writes them.
    assert len(rules) == 1 + 3
    assert ("," + "abort".ljust(256) + ",") in rules[1]
    back = ingest(
        [files["svl_qlog"], files["stl_wlm_query"], files["stl_wlm_rule_action"]],
        recorded=RECORDED,
        statement_timeout_ms=60000,
    )
    assert _causes(back) == {k: v for k, v in EXPECTED.items() if k != 2011}


def test_no_rule_action_file_without_qmr_stops(tmp_path, stl_files):
    queries = ingest(stl_files).workload.queries
    plain = queries.loc[~queries["stop_cause"].isin(["qmr_abort", "qmr_hop"])]
    assert "stl_wlm_rule_action" not in write_exports(
        Workload(queries=plain.reset_index(drop=True)), tmp_path / "plain"
    )
