"""Each injected fault appears in the generated workload as specified."""

from __future__ import annotations

import pytest

from dpcsim.workload import DPCWorkloadSpec, Faults, generate_dpc_workload
from dpcsim.workload.catalog import DBT_MODELS

FAULTS = Faults(
    copy_errors=(1,),
    dbt_failures=((2, "fct_learning_activity"),),
    late_starts=((3, 120.0),),
    failed_runs=((4, 30.0),),
    stuck_queries=((5, 6.0),),
)


@pytest.fixture(scope="module")
def pair():
    clean = generate_dpc_workload(DPCWorkloadSpec(), 21)
    faulty = generate_dpc_workload(DPCWorkloadSpec(faults=FAULTS), 21)
    return clean, faulty


def _run(w, date):
    runs = w.elt_runs
    return runs[runs["run_id"].str.contains(date)].sort_values("start_at")


def _jst_day(series):
    return series.dt.tz_convert("Asia/Tokyo").dt.strftime("%Y-%m-%d")


def test_copy_error_aborts_one_copy_and_logs_load_errors(pair):
    clean, faulty = pair
    assert clean.load_errors.empty
    q = faulty.queries
    bad = q[q["aborted"] & (q["statement_type"] == "copy")]
    assert len(bad) == 1
    assert _jst_day(bad["arrival_at"]).iloc[0] == "2025-05-27"
    errors = faulty.load_errors
    assert len(errors) >= 1
    assert (errors["query_id"] == bad["query_id"].iloc[0]).all()
    assert (errors["error_at"] == bad["arrival_at"].iloc[0]).all()
    assert errors["err_code"].between(1200, 1299).all()
    assert bad["query_text"].iloc[0].endswith("timeformat 'auto'")
    assert errors["filename"].iloc[0] in bad["query_text"].iloc[0]
    # The Map state tolerates the failed file: the execution still succeeds.
    assert (_run(faulty, "2025-05-27")["status"] == "SUCCEEDED").all()


def test_failed_dbt_model_leaves_the_mart_stale(pair):
    _, faulty = pair
    q = faulty.queries
    day = _jst_day(q["arrival_at"]) == "2025-05-28"
    fct = q["query_text"].str.startswith("insert into mart.fct_learning_activity ")
    assert (q.loc[day & fct, "aborted"]).tolist() == [True]
    downstream = [
        m.relation for m in DBT_MODELS if "fct_learning_activity" in m.parents
    ]
    for rel in downstream:
        assert not (day & q["query_text"].str.startswith(f"create table {rel} ")).any()
    # Other marts were still built that night, and Step Functions says SUCCEEDED.
    assert (day & q["query_text"].str.startswith("create table mart.dim_course ")).any()
    assert _run(faulty, "2025-05-28")["status"].tolist() == ["SUCCEEDED"]


def test_late_start(pair):
    clean, faulty = pair
    late = _run(faulty, "2025-05-29")["start_at"].iloc[0]
    on_time = _run(clean, "2025-05-29")["start_at"].iloc[0]
    # Jitter is |N(0, 120 s)|: the difference is 120 min up to a few minutes.
    delay_min = (late - on_time).total_seconds() / 60
    assert 120 - 10 <= delay_min <= 120 + 10
    local = late.tz_convert("Asia/Tokyo")
    assert local.hour == 4


def test_failed_run_and_rerun(pair):
    _, faulty = pair
    runs = _run(faulty, "2025-05-30")
    assert runs["status"].tolist() == ["FAILED", "SUCCEEDED"]
    first, rerun = runs.iloc[0], runs.iloc[1]
    gap_min = (rerun["start_at"] - first["stop_at"]).total_seconds() / 60
    assert gap_min == pytest.approx(30.0, abs=1e-3)
    q = faulty.queries
    inside = (q["arrival_at"] >= first["start_at"]) & (
        q["arrival_at"] <= first["stop_at"]
    )
    failed = q[inside & (q["user_name"] == "IAMR:dpc-dbt")]
    assert failed["aborted"].iloc[-1]
    assert not (inside & (q["user_name"] == "IAMR:dpc-dq-lambda")).any()
    again = (q["arrival_at"] >= rerun["start_at"]) & (
        q["arrival_at"] <= rerun["stop_at"]
    )
    assert (again & (q["statement_type"] == "copy")).sum() > 100
    assert (again & (q["user_name"] == "IAMR:dpc-dq-lambda")).any()


def test_stuck_query(pair):
    clean, faulty = pair
    q = faulty.queries
    stuck = q[q["exec_s"] >= 6 * 3600]
    assert len(stuck) == 1
    assert stuck["exec_s"].iloc[0] == pytest.approx(6 * 3600)
    assert stuck["user_name"].iloc[0].startswith("learner_")
    local = stuck["arrival_at"].dt.tz_convert("Asia/Tokyo").iloc[0]
    assert str(local.date()) == "2025-05-31"
    assert local.hour == 14
    assert clean.queries["exec_s"].max() < 3600


def test_no_fault_outside_its_day(pair):
    clean, faulty = pair
    for date in ("2025-05-26", "2025-06-01"):
        a, b = _run(clean, date), _run(faulty, date)
        assert a["status"].tolist() == b["status"].tolist() == ["SUCCEEDED"]
    q = faulty.queries
    elt = q["user_name"].str.startswith("IAMR:")
    aborted_days = set(_jst_day(q.loc[elt & q["aborted"], "arrival_at"]))
    # COPY error on day 1, dbt failure day 2, failed run day 4 (in JST, the
    # ELT runs after midnight of its own date).
    assert aborted_days == {"2025-05-27", "2025-05-28", "2025-05-30"}
    assert not clean.queries.loc[clean.queries["user_name"].str.startswith("IAMR:"),
                                 "aborted"].any()  # fmt: skip
