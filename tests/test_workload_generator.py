"""The DPC generator: determinism, schema, users, ELT order, maintenance, faults."""

from __future__ import annotations

import pandas as pd
import pytest

from dpcsim.designs.dpc_wlm import DPC_ROLE_GROUPS
from dpcsim.errors import InputError
from dpcsim.schema import ELT_RUN_DTYPES, LOAD_ERROR_DTYPES, validate_workload
from dpcsim.workload import DPCWorkloadSpec, Faults, generate_dpc_workload, observe_wlm
from dpcsim.workload.catalog import DBT_MODELS, STAGE_TABLES, VACUUM_TABLES
from dpcsim.workload.faults import parse_fault
from dpcsim.workload.maintenance import VACUUM_SLOTS, vacuum_plan

SMALL = DPCWorkloadSpec(days=2, learners=60)
#: Statement prefixes by which dbt writes a relation.
VERBS = (
    "create table",
    "insert into",
    "delete from",
    "drop table if exists",
    "grant select on",
)


@pytest.fixture(scope="module")
def week():
    return generate_dpc_workload(DPCWorkloadSpec(), 5)


def test_same_seed_identical_different_seed_differs():
    a = generate_dpc_workload(SMALL, 7)
    b = generate_dpc_workload(SMALL, 7)
    c = generate_dpc_workload(SMALL, 8)
    pd.testing.assert_frame_equal(a.queries, b.queries)
    pd.testing.assert_frame_equal(a.elt_runs, b.elt_runs)
    assert not a.queries["exec_s"].equals(c.queries["exec_s"])


def test_frames_are_canonical(week):
    q = week.queries
    pd.testing.assert_frame_equal(validate_workload(q), q)
    assert q["query_id"].is_monotonic_increasing
    assert q["arrival_at"].is_monotonic_increasing
    assert dict(week.elt_runs.dtypes.astype(str)) == ELT_RUN_DTYPES
    assert dict(week.load_errors.dtypes.astype(str)) == LOAD_ERROR_DTYPES
    start = DPCWorkloadSpec().start_at
    assert q["arrival_at"].min() >= start
    assert q["arrival_at"].max() < start + pd.Timedelta(days=7)


def test_one_week_generates_in_seconds():
    import time

    t0 = time.perf_counter()
    generate_dpc_workload(DPCWorkloadSpec(), 1)
    assert time.perf_counter() - t0 < 5.0


def test_users_and_groups_follow_the_wlm_design(week):
    q = week.queries
    roles = q[q["user_name"].str.startswith("IAMR:")]
    for name, groups in roles.groupby("user_name")["user_groups"]:
        assert set(groups) == {DPC_ROLE_GROUPS[name.removeprefix("IAMR:")]}
    learners = q[~q["user_name"].str.startswith("IAMR:")]
    assert learners["user_name"].str.fullmatch(r"learner_\d{4}").all()
    assert (learners["user_groups"] == "dpc_learners").all()
    assert set(roles["user_name"]) == {f"IAMR:{r}" for r in DPC_ROLE_GROUPS}
    elt = q[q["user_name"].isin(["IAMR:dpc-dbt", "IAMR:dpc-elt-stepfunctions"])]
    assert (elt["query_group"] == "elt").all()
    # One user id per user name.
    assert q.groupby("user_name")["user_id"].nunique().max() == 1


def test_elt_starts_at_two_jst_with_jitter(week):
    runs = week.elt_runs
    assert (runs["status"] == "SUCCEEDED").all()
    assert len(runs) == 7
    local = runs["start_at"].dt.tz_convert("Asia/Tokyo")
    minutes = local.dt.hour * 60 + local.dt.minute
    assert ((minutes >= 120) & (minutes < 135)).all()
    assert (runs["stop_at"] > runs["start_at"]).all()


def _runs_of(workload):
    q = workload.queries
    for run in workload.elt_runs.itertuples():
        inside = (q["arrival_at"] >= run.start_at) & (q["arrival_at"] <= run.stop_at)
        yield run, q[inside]


def test_dbt_children_never_arrive_before_parents_finish(week):
    # Dependency order against the generator's no-contention estimate.
    for _, q in _runs_of(week):
        dbt = q[q["user_name"] == "IAMR:dpc-dbt"]
        end = dbt["arrival_at"] + pd.to_timedelta(dbt["exec_s"], unit="s")
        spans = {}
        for model in DBT_MODELS:
            rel = model.relation
            text = dbt["query_text"]
            mine = text.str.contains(f"values ('{rel}'", regex=False)
            for verb in VERBS:
                mine |= text.str.startswith(f"{verb} {rel} ")
            spans[model.name] = (dbt.loc[mine, "arrival_at"].min(), end[mine].max())
        for model in DBT_MODELS:
            for parent in model.parents:
                assert spans[model.name][0] >= spans[parent][1], (model.name, parent)


def test_elt_phases_in_order(week):
    for _, q in _runs_of(week):
        copy = q[q["statement_type"] == "copy"]
        dbt = q[q["user_name"] == "IAMR:dpc-dbt"]
        analyze = q[q["query_text"].str.startswith("analyze stage.")]
        dq = q[q["user_name"] == "IAMR:dpc-dq-lambda"]
        copy_end = (
            copy["arrival_at"] + pd.to_timedelta(copy["exec_s"], unit="s")
        ).max()
        assert len(copy) == sum(t.files for t in STAGE_TABLES)
        assert dbt["arrival_at"].min() >= copy_end
        assert analyze["arrival_at"].min() >= dbt["arrival_at"].max()
        assert len(analyze) == len(STAGE_TABLES)
        assert dq["arrival_at"].min() >= analyze["arrival_at"].max()
        # COPYs arrive in a burst: the Map state issues many at once.
        assert (copy["arrival_at"] - copy["arrival_at"].min()).dt.total_seconds().lt(
            5
        ).sum() >= 20


def test_marts_are_written_by_ctas_or_insert(week):
    q = week.queries
    marts = [m for m in DBT_MODELS if m.schema == "mart"]
    for m in marts:
        text = q["query_text"]
        written = text.str.startswith(f"create table {m.relation} as select") | (
            text.str.startswith(f"insert into {m.relation} select")
        )
        assert written.sum() >= 7, m.name


def test_weekly_vacuum_and_monthly_analyze_compression(week):
    q = week.queries
    vac = q[q["statement_type"] == "vacuum"]
    local = vac["arrival_at"].dt.tz_convert("Asia/Tokyo")
    assert len(vac) == len(VACUUM_TABLES)
    assert (local.dt.day_of_week == 6).all()
    assert local.min().hour == 4
    assert local.min().minute == 0
    assert (vac["slot_count"] == VACUUM_SLOTS).all()
    assert VACUUM_SLOTS > 1
    assert (vac["user_name"] == "IAMR:dpc-vacuum-lambda").all()
    assert vac["query_text"].str.startswith("vacuum reindex").all()
    comp = q[q["query_text"].str.startswith("analyze compression")]
    assert len(comp) == len(VACUUM_TABLES)  # 2025-06-01 is the first Sunday
    assert comp["arrival_at"].min() > vac["arrival_at"].max()


def test_vacuum_falls_back_to_delete_only_when_too_long():
    plan = {t: m for t, m, _ in vacuum_plan(1.0, 1800.0)}
    assert set(plan.values()) == {"reindex"}
    big = vacuum_plan(3.0, 1800.0)
    for (_table, base), (_, mode, est) in zip(VACUUM_TABLES, big, strict=True):
        assert mode == ("reindex" if base * 3 <= 1800 else "delete only")
        assert est == pytest.approx(base * 3 * (1 if mode == "reindex" else 0.25))
    w = generate_dpc_workload(DPCWorkloadSpec(data_growth=3.0, learners=50), 1)
    texts = w.queries.loc[w.queries["statement_type"] == "vacuum", "query_text"]
    assert texts.str.startswith("vacuum delete only").sum() == sum(
        b * 3 > 1800 for _, b in VACUUM_TABLES
    )


def test_growth_knobs_scale_learners_and_elt():
    base = generate_dpc_workload(DPCWorkloadSpec(days=3), 2).queries
    more = generate_dpc_workload(DPCWorkloadSpec(days=3, learner_growth=2.0), 2).queries
    data = generate_dpc_workload(DPCWorkloadSpec(days=3, data_growth=2.0), 2).queries
    n_base = base["user_name"].str.startswith("learner_").sum()
    n_more = more["user_name"].str.startswith("learner_").sum()
    # Session counts are Poisson-clustered: allow +-25% around the doubling.
    assert 1.5 <= n_more / n_base <= 2.5
    copy = lambda q: q.loc[q["statement_type"] == "copy", "exec_s"].median()  # noqa: E731
    assert copy(data) / copy(base) == pytest.approx(2.0, rel=0.2)


def test_observe_wlm_fills_columns(week):
    def observer(w):
        q = w.queries.head(10)
        return pd.DataFrame(
            {"query_id": q["query_id"], "queue_s": 1.5, "service_class": 6,
             "queue": "batch", "ran_on_cs": True}
        )  # fmt: skip

    out = observe_wlm(week, observer).queries
    assert (out["queue_s"].head(10) == 1.5).all()
    assert out["queue_s"].iloc[10:].isna().all()
    assert (out["service_class"].head(10) == 6).all()
    assert out["ran_on_cs"].sum() == 10


def test_spec_round_trip_and_validation():
    spec = DPCWorkloadSpec(
        days=3, learners=10, faults=Faults(copy_errors=(1,), late_starts=((2, 60.0),))
    )
    assert DPCWorkloadSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(InputError, match="learners"):
        DPCWorkloadSpec(learners=0)
    with pytest.raises(InputError, match=r"unknown key 'nights'"):
        DPCWorkloadSpec.from_dict({"nights": 3})
    with pytest.raises(InputError, match="days"):
        DPCWorkloadSpec.from_dict({"days": 2.5})
    with pytest.raises(InputError, match="start_date"):
        DPCWorkloadSpec(start_date="2025-13-01")
    with pytest.raises(InputError, match=r"faults\.dbt_failures"):
        DPCWorkloadSpec(faults=Faults(dbt_failures=((0, "no_such_model"),)))


def test_parse_fault():
    f = parse_fault("dbt_failure:1", Faults())
    f = parse_fault("failed_run:2:45", f)
    assert f.dbt_failures == ((1, "fct_learning_activity"),)
    assert f.failed_runs == ((2, 45.0),)
    with pytest.raises(InputError, match="expected one of"):
        parse_fault("meteor:1", f)
    with pytest.raises(InputError, match="numbers"):
        parse_fault("late_start:x", f)
    with pytest.raises(InputError, match="day"):
        parse_fault("copy_error:-1", f)


def test_generated_aborts_are_the_statements_own(week):
    # Learner cancels, failed dbt models and COPY errors: none is WLM's doing.
    q = week.queries
    assert q["aborted"].any()
    assert set(q.loc[q["aborted"], "stop_cause"]) == {"user_or_error"}
    assert q.loc[~q["aborted"], "stop_cause"].isna().all()
