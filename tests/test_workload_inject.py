"""Faults injected into a logged workload: each kind on a hand-built log whose
times are known, a generic ELT contract, errors that name the fault, and the
injection on a generated DPC week."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpcsim.designs import DPC_ELT, ELTContract
from dpcsim.errors import InputError
from dpcsim.schema import ELT_RUN_DTYPES, LOAD_ERROR_DTYPES, Workload, validate_workload
from dpcsim.workload import DPCWorkloadSpec, Faults, generate_dpc_workload, parse_faults
from dpcsim.workload.inject import LOAD_ERROR_ROWS, inject_faults
from dpcsim.workload.whatif import elt_mask

JST = "Asia/Tokyo"
DAY0 = pd.Timestamp("2025-05-26", tz=JST)
SFN = "IAMR:dpc-elt-stepfunctions"
DQ = "IAMR:dpc-dq-lambda"

#: One night: (offset from local midnight, statement type, SQL, user, group, exec_s)
NIGHT = [
    (
        "02:00:05",
        "delete",
        "delete from stage.events where dt = '{d}'",
        SFN,
        "elt",
        2.0,
    ),
    (
        "02:00:10",
        "copy",
        "copy stage.events from 's3://dpc-raw/events/{d}/part-0.gz' "
        "iam_role 'arn:aws:iam::123456789012:role/copy' gzip",
        SFN,
        "elt",
        40.0,
    ),
    (
        "02:00:20",
        "copy",
        "copy stage.events from 's3://dpc-raw/events/{d}/part-1.gz' "
        "iam_role 'arn:aws:iam::123456789012:role/copy' gzip",
        SFN,
        "elt",
        50.0,
    ),
    (
        "02:10:00",
        "insert",
        "insert into mart.fct_a select * from stage.events",
        "IAMR:dpc-dbt",
        "elt",
        300.0,
    ),
    (
        "02:20:00",
        "insert",
        "insert into mart.fct_b\nselect a.* from mart.fct_a a",
        "IAMR:dpc-dbt",
        "elt",
        200.0,
    ),
    ("02:30:00", "select", "select count(*) from mart.fct_b", DQ, "default", 5.0),
]
#: The day's learner queries: (offset, SQL).
DAYTIME = [("10:00:00", "select 1 from mart.fct_b"), ("14:00:00", "select 2")]


def _log(days: int = 2, *, group: str = "elt", zone: str = JST) -> Workload:
    """A log of ``days`` nights of :data:`NIGHT` and days of :data:`DAYTIME`."""
    rows: list[dict[str, object]] = []
    runs: list[dict[str, object]] = []
    qid = 100
    for day in range(days):
        midnight = pd.Timestamp("2025-05-26", tz=zone) + pd.Timedelta(days=day)
        date = str(midnight.date())
        for at, kind, sql, user, grp, exec_s in NIGHT:
            rows.append(
                {
                    "query_id": qid,
                    "arrival_at": midnight + pd.Timedelta(at),
                    "statement_type": kind,
                    "query_text": sql.format(d=date),
                    "user_name": user,
                    "query_group": group if grp == "elt" else grp,
                    "queue": "batch",
                    "exec_s": exec_s,
                }
            )
            qid += 1
        for at, sql in DAYTIME:
            rows.append(
                {
                    "query_id": qid,
                    "arrival_at": midnight + pd.Timedelta(at),
                    "statement_type": "select",
                    "query_text": sql,
                    "user_name": f"learner_{day}",
                    "query_group": "default",
                    "queue": "adhoc",
                    "exec_s": 3.0,
                }
            )
            qid += 1
        runs.append(
            {
                "run_id": f"nightly-{date}",
                "status": "SUCCEEDED",
                "start_at": midnight + pd.Timedelta("02:00:00"),
                "stop_at": midnight + pd.Timedelta("02:35:00"),
                "source_file": "stepfunctions_executions.json",
            }
        )
    frame = pd.DataFrame(rows)
    frame["arrival_at"] = frame["arrival_at"].dt.tz_convert("UTC")
    elt_runs = pd.DataFrame(runs)
    for col in ("start_at", "stop_at"):
        elt_runs[col] = elt_runs[col].dt.tz_convert("UTC")
    return Workload(
        queries=validate_workload(frame),
        elt_runs=elt_runs.astype(ELT_RUN_DTYPES),
        load_errors=pd.DataFrame(
            {c: pd.Series(dtype=t) for c, t in LOAD_ERROR_DTYPES.items()}
        ),
    )


def _by_id(w: Workload) -> pd.DataFrame:
    return w.queries.set_index("query_id")


def test_late_start_moves_that_night_only() -> None:
    log = _log()
    out = inject_faults(log, parse_faults("late_start:1:45"), DPC_ELT, 1)
    before, after = _by_id(log), _by_id(out.workload)
    moved = (after["arrival_at"] - before["arrival_at"]).dt.total_seconds()
    first = 100 + len(NIGHT) + len(DAYTIME)  # day 1's first query id
    night1 = list(range(first, first + len(NIGHT)))
    assert (moved.loc[night1] == 45 * 60).all()
    assert (moved.drop(night1) == 0).all()  # day 0, the learners, untouched
    runs = out.workload.elt_runs
    shift = (runs["start_at"] - log.elt_runs["start_at"]).dt.total_seconds()
    assert shift.tolist() == [0.0, 2700.0]
    (incident,) = out.incidents.itertuples()
    assert incident.kind == "late_start"
    assert incident.start_at == (DAY0 + pd.Timedelta("1 days 02:00:05")).tz_convert(
        "UTC"
    )


def test_copy_error_aborts_one_copy_and_logs_its_lines() -> None:
    log = _log()
    out = inject_faults(log, parse_faults("copy_error:0"), DPC_ELT, 3)
    q = _by_id(out.workload)
    hit = q.index[q["aborted"]]
    assert len(hit) == 1
    assert hit[0] in (101, 102)
    share = q.loc[hit[0], "exec_s"] / _by_id(log).loc[hit[0], "exec_s"]
    assert 0.05 <= share <= 0.3
    assert q.loc[hit[0], "stop_cause"] == "user_or_error"
    errors = out.workload.load_errors
    assert len(errors) == LOAD_ERROR_ROWS
    assert set(errors["query_id"]) == {hit[0]}
    assert (errors["error_at"] == q.loc[hit[0], "arrival_at"]).all()
    part = "0" if hit[0] == 101 else "1"
    assert set(errors["filename"]) == {f"s3://dpc-raw/events/2025-05-26/part-{part}.gz"}
    assert errors["line_number"].is_unique
    # The Map state tolerates the failed file: the execution still succeeds.
    assert (out.workload.elt_runs["status"] == "SUCCEEDED").all()


def test_dbt_failure_aborts_the_model_and_skips_its_readers() -> None:
    log = _log()
    out = inject_faults(log, parse_faults("dbt_failure:0:fct_a"), DPC_ELT, 2)
    q = _by_id(out.workload)
    assert bool(q.loc[103, "aborted"])  # insert into mart.fct_a, night 0
    assert 104 not in q.index  # insert into mart.fct_b reads fct_a: skipped
    assert 105 in q.index
    assert 107 in q.index
    assert not q.loc[[109, 110]]["aborted"].any()  # night 1 untouched
    assert len(q) == len(log.queries) - 1
    assert out.incidents["start_at"].iloc[0] == q.loc[103, "arrival_at"]


def test_failed_run_fails_then_reruns_the_whole_night() -> None:
    log = _log()
    out = inject_faults(log, parse_faults("failed_run:0:20"), DPC_ELT, 5)
    q = _by_id(out.workload)
    failed = q.index[q["aborted"]]
    assert len(failed) == 1
    k = int(failed[0]) - 100
    assert len(NIGHT) // 2 <= k < len(NIGHT)  # in the night's second half
    end = q.loc[failed[0], "arrival_at"] + pd.to_timedelta(
        q.loc[failed[0], "exec_s"], unit="s"
    )
    for later in range(failed[0] + 1, 100 + len(NIGHT)):
        assert later not in q.index  # never issued
    runs = out.workload.elt_runs.set_index("run_id")
    assert runs.loc["nightly-2025-05-26", "status"] == "FAILED"
    assert abs((runs.loc["nightly-2025-05-26", "stop_at"] - end).total_seconds()) < 1e-5
    rerun = runs.loc["nightly-2025-05-26-rerun"]
    assert rerun["status"] == "SUCCEEDED"
    assert abs((rerun["start_at"] - end).total_seconds() - 20 * 60) < 1e-5
    copies = q.loc[q.index > log.queries["query_id"].max()]
    assert len(copies) == len(NIGHT)  # the whole night again
    offsets = (copies["arrival_at"] - copies["arrival_at"].min()).dt.total_seconds()
    night = _by_id(log).loc[100 : 99 + len(NIGHT), "arrival_at"]
    expected = (night - night.min()).dt.total_seconds()
    np.testing.assert_allclose(offsets.to_numpy(), expected.to_numpy())
    assert copies["query_text"].tolist() == [n[2].format(d="2025-05-26") for n in NIGHT]


def test_stuck_query_and_load_spike() -> None:
    log = _log()
    out = inject_faults(
        log, parse_faults("stuck_query:1:2, load_spike:0:3"), DPC_ELT, 9
    )
    q = out.workload.queries
    new = q.loc[q["query_id"] > log.queries["query_id"].max()]
    stuck = new.loc[new["exec_s"] == 7200.0]
    assert len(stuck) == 1
    assert stuck["query_text"].iloc[0] in {sql for _, sql in DAYTIME}
    local = stuck["arrival_at"].dt.tz_convert(JST).iloc[0]
    assert local.date() == (DAY0 + pd.Timedelta(days=1)).date()
    # An integer factor keeps every statement of every layer: 3x the night.
    spiked = new.loc[new["exec_s"] != 7200.0]
    assert len(spiked) == 2 * len(NIGHT)
    assert elt_mask(spiked, DPC_ELT).all()
    assert q["query_id"].is_unique
    assert list(out.incidents["kind"]) == ["stuck_query", "load_spike"]


def test_a_contract_without_query_group_takes_its_queue_and_zone() -> None:
    # Another design: ELT in queue "batch" without a query group, New York.
    contract = ELTContract(
        queue="batch",
        window_start="02:00",
        window_end="06:00",
        timezone="America/New_York",
    )
    log = _log(group="default", zone="America/New_York")
    out = inject_faults(log, parse_faults("late_start:0:10"), contract, 1)
    moved = (
        _by_id(out.workload)["arrival_at"] - _by_id(log)["arrival_at"]
    ).dt.total_seconds()
    # Night 0's statements in "batch" (the DQ check included), nothing else.
    assert sorted(moved.index[moved == 600]) == list(range(100, 100 + len(NIGHT)))
    # Under the DPC contract the same night is only the DQ check (no "elt"
    # group): no COPY to fail, and the error names the fault and the night.
    with pytest.raises(InputError, match=r"faults\.copy_errors: day 0: "):
        inject_faults(log, parse_faults("copy_error:0"), DPC_ELT, 1)


@pytest.mark.parametrize(
    ("fault", "key", "words"),
    [
        ("late_start:5:30", "late_starts", "days 0-1"),
        ("dbt_failure:0:fct_missing", "dbt_failures", "fct_missing"),
        ("stuck_query:9:1", "stuck_queries", "days 0-1"),
    ],
)
def test_a_fault_the_log_cannot_take_is_an_error(
    fault: str, key: str, words: str
) -> None:
    with pytest.raises(InputError, match=rf"faults\.{key}: .*{words}"):
        inject_faults(_log(), parse_faults(fault), DPC_ELT, 1)


def test_no_copy_that_night_names_the_fault() -> None:
    log = _log()
    q = log.queries.loc[log.queries["statement_type"] != "copy"]
    bare = Workload(queries=q, elt_runs=log.elt_runs, load_errors=log.load_errors)
    with pytest.raises(
        InputError, match=r"faults\.copy_errors: day 1: .*no completed COPY"
    ):
        inject_faults(bare, parse_faults("copy_error:1"), DPC_ELT, 1)


def test_the_input_is_untouched_and_the_seed_decides() -> None:
    log = _log()
    snapshot = log.queries.copy()
    faults = parse_faults("copy_error:0, failed_run:1:15, stuck_query:0:1")
    a = inject_faults(log, faults, DPC_ELT, 4)
    b = inject_faults(log, faults, DPC_ELT, 4)
    pd.testing.assert_frame_equal(log.queries, snapshot)
    pd.testing.assert_frame_equal(a.workload.queries, b.workload.queries)
    pd.testing.assert_frame_equal(a.incidents, b.incidents)
    picks = {
        int(inject_faults(log, faults, DPC_ELT, s).workload.queries["aborted"].idxmax())
        for s in range(8)
    }
    assert len(picks) > 1  # the seed chooses the COPY


def test_on_a_generated_week_every_kind_lands() -> None:
    week = generate_dpc_workload(DPCWorkloadSpec(days=3, learners=40), 2)
    faults = Faults(
        copy_errors=(0,),
        dbt_failures=((1, "fct_learning_activity"),),
        late_starts=((2, 60.0),),
        failed_runs=((0, 30.0),),
        stuck_queries=((1, 3.0),),
        load_spikes=((2, 2.0),),
    )
    out = inject_faults(week, faults, DPC_ELT, 6)
    assert sorted(out.incidents["kind"]) == sorted(
        [
            "copy_error",
            "dbt_failure",
            "late_start",
            "failed_run",
            "stuck_query",
            "load_spike",
        ]
    )
    runs = out.workload.elt_runs
    assert (runs["status"] == "FAILED").sum() == 1
    assert runs["run_id"].str.endswith("-rerun").sum() == 1
    # Night 0's failed COPY is copied again by its re-run: its lines fail twice.
    errors = out.workload.load_errors
    assert len(errors) == 2 * LOAD_ERROR_ROWS
    assert errors["query_id"].nunique() == 2
    assert out.workload.queries["query_id"].is_unique


def test_the_generator_spikes_the_night_it_is_told() -> None:
    spec = DPCWorkloadSpec(days=2, learners=30)
    plain = generate_dpc_workload(spec, 8)
    spiked = generate_dpc_workload(
        DPCWorkloadSpec(days=2, learners=30, faults=Faults(load_spikes=((1, 3.0),))), 8
    )
    night1 = (
        elt_mask(plain.queries, DPC_ELT)
        & (
            plain.queries["arrival_at"]
            >= (DAY0 + pd.Timedelta("1 days 02:00:00")).tz_convert("UTC")
        ).to_numpy()
    )
    assert len(spiked.queries) == len(plain.queries) + 2 * int(night1.sum())


def test_copies_are_new_sessions() -> None:
    log = _log()
    sessions = log.queries["session_id"].copy()
    sessions.iloc[:] = np.arange(len(sessions)) // 2  # two statements a session
    q = log.queries.assign(session_id=sessions.astype("Int64"))
    log = Workload(queries=q, elt_runs=log.elt_runs, load_errors=log.load_errors)
    out = inject_faults(
        log, parse_faults("failed_run:0:10, load_spike:1:2"), DPC_ELT, 3
    )
    new = out.workload.queries
    added = new.loc[new["query_id"] > log.queries["query_id"].max(), "session_id"]
    # A re-run or a burst does not chain into the logged sessions.
    assert not set(added) & set(q["session_id"])
    # Within a copy, statements that shared a session still do.
    assert added.nunique() < len(added)


def test_a_stuck_query_is_a_users_query_outside_the_elt_window() -> None:
    log = _log()
    night = log.queries.loc[log.queries["query_id"] == 106].assign(
        query_id=999,
        task_id=999,
        user_name="learner_night",
        query_group="default",
        query_text="select 3",
        arrival_at=(DAY0 + pd.Timedelta("03:00:00")).tz_convert("UTC"),
    )
    q = validate_workload(pd.concat([log.queries, night], ignore_index=True))
    owl = Workload(queries=q, elt_runs=log.elt_runs, load_errors=log.load_errors)
    texts = set()
    for seed in range(12):
        out = inject_faults(owl, parse_faults("stuck_query:0:1"), DPC_ELT, seed)
        new = out.workload.queries
        stuck = new.loc[new["query_id"] > 999]
        texts |= set(stuck["query_text"])
    # 03:00 is inside the 02:00-09:00 window: only the daytime SELECTs are drawn.
    assert texts == {sql for _, sql in DAYTIME}
