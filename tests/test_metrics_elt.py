"""ELTExecutionDelay under both definitions, and the simulated Step Functions shift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fixtures.metrics.builders import (
    START,
    FakeSimResult,
    at,
    scaling,
    sim_queries,
    workload,
)
from fixtures.metrics.builders import timeline as make_timeline

from dpcsim.metrics import build_metrics, mart_table_writes, to_records

DAY = 86400.0
H = 3600.0
SFN = "Definition=StepFunctionsCompletion;Environment=prod"
MART = "Definition=MartTableUpdate;Environment=prod"


def _run(run_id, start_s, stop_s, status="SUCCEEDED"):
    return {"run_id": run_id, "status": status, "start_at": at(start_s),
            "stop_at": at(stop_s), "source_file": "t"}  # fmt: skip


def _dbt_failure_log():
    """Two nights; on night 2 dbt's fct_b fails but Step Functions succeeds."""

    def q(arrival_s, text, exec_s=60.0, aborted=False, stype="ctas"):
        return {"arrival_s": arrival_s, "queue_s": 0.0, "exec_s": exec_s,
                "queue": "batch", "query_group": "elt", "statement_type": stype,
                "query_text": text, "aborted": aborted}  # fmt: skip

    rows = [
        {"arrival_s": 0.0, "exec_s": 1.0, "statement_type": "select"},  # clock zero
        q(1740.0, "create table mart.fct_a as select 1"),  # ends 00:30
        q(2340.0, "insert into mart.fct_b select 2", stype="insert"),  # ends 00:40
        q(DAY + 1740.0, 'create table "dpc"."mart"."fct_a__dbt_tmp" as select 1'),
        q(DAY + 2340.0, "insert into mart.fct_b select 2", aborted=True,
          stype="insert"),
        q(DAY + 100.0, "select * from mart.fct_a", stype="select"),  # a read
    ]  # fmt: skip
    runs = [_run("night1", 0.0, H), _run("night2", DAY, DAY + H)]
    return workload(rows, elt_runs=runs)


def _delay(points, dims):
    mine = points[(points["metric_name"] == "ELTExecutionDelay")
                  & (points["dimensions"] == dims)]  # fmt: skip
    return mine.set_index("timestamp")["value"]


def test_definitions_diverge_when_dbt_fails_but_step_functions_succeeds():
    points = build_metrics(
        _dbt_failure_log(), end_at=at(DAY + 3 * H), elt_cadence_min=0
    )
    sfn, mart = _delay(points, SFN), _delay(points, MART)
    # nothing published before the first success / first mart write
    assert sfn.index.min() == at(H)
    assert mart.index.min() == at(1800.0)
    assert sfn[at(H + 60)] == 1.0
    assert sfn[at(DAY + 1.5 * H)] == 30.0
    assert sfn[at(DAY + 3 * H)] == 120.0
    # the stale fct_b (last good write day 1 00:40) drives the mart definition
    assert mart[at(DAY + 1.5 * H)] == (DAY + 1.5 * H - 2400.0) / 60.0
    assert mart[at(DAY + 3 * H)] == (DAY + 3 * H - 2400.0) / 60.0
    assert (mart[mart.index >= at(DAY + H)] > 90).all()
    assert (sfn[(sfn.index >= at(DAY + H)) & (sfn.index <= at(DAY + 2.5 * H))]
            <= 90).all()  # fmt: skip
    assert set(points.loc[points["metric_name"] == "ELTExecutionDelay", "unit"]) == {
        "None"
    }


def test_delay_is_measured_against_the_nightly_cadence_by_default():
    # Night 2's run ends 3 h later than night 1's: 24 h + 90 min after the
    # last success the data is 90 min overdue, and it stays 0 before that.
    runs = [_run("night1", 0.0, H), _run("night2", DAY, DAY + 4 * H)]
    rows = [{"arrival_s": 0.0, "exec_s": 1.0, "statement_type": "select"}]
    points = build_metrics(workload(rows, elt_runs=runs), end_at=at(DAY + 5 * H))
    sfn = _delay(points, SFN)
    assert sfn[at(DAY)] == 0.0
    assert sfn[at(DAY + H)] == 0.0
    assert sfn[at(DAY + 2.5 * H)] == 90.0
    assert sfn[at(DAY + 4 * H - 60)] == 179.0
    assert sfn[at(DAY + 4 * H)] == 0.0


def test_mart_delay_resets_on_a_healthy_night():
    log = _dbt_failure_log()
    points = build_metrics(log, end_at=at(3000.0), elt_cadence_min=0)
    mart = _delay(points, MART)
    # both tables fresh: measured from the older one (fct_a, 00:30)
    assert mart[at(2400.0)] == 10.0
    assert mart[at(3000.0)] == 20.0


def test_failed_run_is_not_a_success():
    runs = [_run("ok", 0.0, 600.0), _run("bad", 1200.0, 1800.0, status="FAILED")]
    rows = [{"arrival_s": 0.0, "exec_s": 1.0, "statement_type": "select"}]
    points = build_metrics(
        workload(rows, elt_runs=runs), end_at=at(2400.0), elt_cadence_min=0
    )
    assert _delay(points, SFN)[at(2400.0)] == 30.0


def test_mart_write_parsing():
    texts = [
        "create table mart.fct_x as select 1",
        'insert into "mart"."dim_y" select 1',
        "alter table mart.fct_z__dbt_tmp rename to fct_z",
        "delete from mart.fct_x where d < 1",
        "select * from mart.fct_x",
        "create table staging.stg_x as select 1",
        "insert into martian.t select 1",
    ]
    frame = pd.DataFrame({"query_text": texts, "outcome": "completed",
                          "end_s": np.arange(len(texts), dtype=float)})  # fmt: skip
    writes = mart_table_writes(frame)
    assert writes["table"].tolist() == ["fct_x", "dim_y", "fct_z", "fct_x"]


def test_simulated_step_functions_stop_is_shifted():
    log = _dbt_failure_log()
    logged = to_records(log).queries
    # the simulation finishes night 1's ELT 10 minutes later than the log did
    late = logged["query_id"].isin(logged["query_id"][logged["arrival_s"] < DAY])
    sim = sim_queries(
        [
            {"query_id": int(r.query_id), "queue": r.queue, "arrival_s": r.arrival_s,
             "start_s": r.start_s + (600.0 if lt else 0.0),
             "end_s": r.end_s + (600.0 if lt else 0.0), "outcome": r.outcome,
             "statement_type": r.statement_type}
            for r, lt in zip(logged.itertuples(), late, strict=True)
        ]
    )  # fmt: skip
    result = FakeSimResult(queries=sim, timeline=make_timeline([]), scaling=scaling([]))
    records = to_records(result, log)
    assert records.elt_runs["stop_s"].tolist() == [H + 600.0, DAY + H]
    points = build_metrics(result, workload=log, end_at=at(2 * H), elt_cadence_min=0)
    assert _delay(points, SFN)[at(2 * H)] == 50.0
    # the mart definition follows the simulated end of the writes too
    assert _delay(points, MART)[at(2 * H)] == pytest.approx((2 * H - 2400.0) / 60.0)


def test_sim_without_workload_has_no_custom_elt_metrics():
    sim = sim_queries([{"query_id": 1, "queue": "batch", "arrival_s": 0.0,
                        "start_s": 0.0, "end_s": 30.0}])  # fmt: skip
    result = FakeSimResult(
        queries=sim,
        timeline=make_timeline(
            [(0.0, "batch", 0, 1, 0, 0), (30.0, "batch", 0, 0, 0, 0)]
        ),
        scaling=scaling([]),
    )
    points = build_metrics(result, elt_cadence_min=0)
    assert "ELTExecutionDelay" not in set(points["metric_name"])
    assert points["timestamp"].min() == START


def test_logged_failure_stays_failed_in_a_simulation():
    # The engine replays the aborted dbt model to its logged end and marks it
    # failed: the mart must not look refreshed in the simulated metrics either.
    from dpcsim.designs.dpc_wlm import dpc_design_config
    from dpcsim.engine import simulate

    log = _dbt_failure_log()
    result = simulate(log, dpc_design_config(), rng=0)
    assert (result.queries["outcome"] == "failed").sum() == 1
    end = at(DAY + 3 * H)
    from_sim = build_metrics(result, workload=log, end_at=end, elt_cadence_min=0)
    from_log = build_metrics(log, end_at=end, elt_cadence_min=0)
    for dims in (SFN, MART):
        pd.testing.assert_series_equal(_delay(from_sim, dims), _delay(from_log, dims))
    failed = from_sim[from_sim["metric_name"] == "WLMFailedQueries"]["value"]
    assert failed.sum() == 1.0


def test_the_shift_is_the_same_whether_records_are_aligned_or_not():
    """Records in the log's order take the positional path; shuffled records,
    or records missing a query, take the merge: the same stop times."""
    from dpcsim.metrics.elt import shift_elt_runs

    logged = pd.DataFrame(
        {
            "query_id": [11, 12, 13, 14, 15],
            "query_group": pd.array(
                ["elt", "elt", None, "elt", "default"], dtype="string"
            ),
            "arrival_s": [10.0, 20.0, 30.0, DAY + 10.0, DAY + 20.0],
            "end_s": [100.0, 200.0, 300.0, DAY + 100.0, DAY + 900.0],
        }
    )
    sim = pd.DataFrame(
        {
            "query_id": [11, 12, 13, 14, 15],
            "queue": pd.array(
                ["batch", "batch", "batch", "batch", "adhoc"], dtype="string"
            ),
            "end_s": [150.0, 260.1, 410.0, DAY + 130.0, DAY + 2000.0],
        }
    )
    runs = pd.DataFrame(
        {"run_id": ["a", "b"], "status": ["SUCCEEDED", "SUCCEEDED"],
         "start_s": [0.0, DAY], "stop_s": [400.0, DAY + 200.0]}
    )  # fmt: skip
    args = {"elt_queue": "batch", "elt_query_group": "elt"}
    aligned = shift_elt_runs(runs, logged, sim, **args)["stop_s"].tolist()
    # Night 1: 13 is in batch, so the last ELT end moves from 300 to 410;
    # night 2: only 14 (15 is neither in batch nor in group elt): 100 -> 130.
    night_2 = DAY + 200.0 + (DAY + 130.0) - (DAY + 100.0)
    assert aligned == [400.0 + 410.0 - 300.0, night_2]
    shuffled = sim.iloc[[3, 0, 4, 2, 1]].reset_index(drop=True)
    assert shift_elt_runs(runs, logged, shuffled, **args)["stop_s"].tolist() == aligned
    # Without query 13's record night 1's last ELT end is 12's.
    partial = sim.iloc[[0, 1, 3, 4]].reset_index(drop=True)
    stops = shift_elt_runs(runs, logged, partial, **args)["stop_s"].tolist()
    assert stops == [400.0 + 260.1 - 200.0, aligned[1]]
