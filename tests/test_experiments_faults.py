"""Injected incidents in experiments: the ``faults`` scenario of a sweep, the
bootstrap's days and sessions, and the alarm tuning on a log of another
design (its own ELT contract and alarm names)."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _experiments_fixtures import context, small_workload

from dpcsim.alarms import dpc_design_alarms
from dpcsim.designs import DPC_ELT, ELTContract
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine import ClusterSettings
from dpcsim.errors import InputError
from dpcsim.experiments import run_sweep, space_from_dict
from dpcsim.experiments.recommend import recommend
from dpcsim.experiments.replicate import BootstrapDays
from dpcsim.experiments.tuning import TuningGrid, normal_weeks, tune_alarms
from dpcsim.logs import read_workload
from dpcsim.schema import Workload
from dpcsim.workload import DPCWorkloadSpec, Faults, generate_dpc_workload

FAULTS = ["none", "failed_run:0:60", "copy_error:1"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object, object]:
    path = small_workload(tmp_path_factory.mktemp("w"))
    ctx = context(path, alarms=dpc_design_alarms())
    space = space_from_dict(
        {
            "sweep": {"seed": 3, "replications": 4},
            "decisions": {"slots.adhoc": [5]},
            "scenarios": {"faults": FAULTS},
        }
    )
    report = run_sweep(space, ctx, tmp_path_factory.mktemp("sweep"), workers=1)
    return space, ctx, report.results


def test_a_failed_run_makes_every_replication_later(swept: tuple) -> None:  # type: ignore[type-arg]
    _, _, results = swept
    assert (results["status"] == "ok").all()
    by = results.pivot_table(
        index="replication", columns="scenario.faults", values="metric.elt_finish_min"
    )
    # Common random numbers: the same days with and without the fault. The
    # re-run starts an hour after the failure, so night 0 ends later every time.
    assert (by["failed_run:0:60"] > by["none"] + 60 / 2).all()
    copy = results.pivot_table(
        index="replication",
        columns="scenario.faults",
        values="metric.alarm_transitions.Alert-COPY-Error",
    )
    assert (copy["copy_error:1"] >= 1).all()
    assert (copy["none"] == 0).all()


def test_the_recommendation_weighs_incidents_apart(swept: tuple) -> None:  # type: ignore[type-arg]
    space, ctx, results = swept
    rec = recommend(space, ctx, results, replications=2, headroom_steps=1)
    table = rec.verdict_table
    assert set(table["faults"]) == set(FAULTS)
    # Normal load is the fault-free scenario; alarm transitions there count.
    assert rec.document["verdict"]["holds"] == bool(
        table.loc[table["faults"] == "none", "meets_all"].all()
    )
    record = next(r for r in rec.document["recommendations"] if r["id"] == "INCIDENTS")
    rows = record["evidence"]["scenarios"]
    assert {r["faults"] for r in rows} == {"failed_run:0:60", "copy_error:1"}
    copy_row = next(r for r in rows if r["faults"] == "copy_error:1")
    assert copy_row["alarm_transitions"]["Alert-COPY-Error"] >= 1


def test_bad_faults_scenarios_name_the_key() -> None:
    for value, words in (
        ("late_start:one", "late_start:DAY"),
        ("crash:1", "expected one of"),
        (3, "expected a string"),
    ):
        with pytest.raises(InputError, match=rf"scenarios\.faults: .*{words}"):
            space_from_dict({"scenarios": {"faults": [value]}}, source="space.toml")


def test_a_day_drawn_twice_is_two_sets_of_sessions(tmp_path: Path) -> None:
    log = read_workload(small_workload(tmp_path))
    boot = BootstrapDays(log, 11, "Asia/Tokyo", pool=[0])  # every day a copy of 0
    week = boot.week(0)
    day = (
        week.queries["arrival_at"].dt.tz_convert("Asia/Tokyo").dt.normalize()
        != week.queries["arrival_at"].min().tz_convert("Asia/Tokyo").normalize()
    )
    first = set(week.queries.loc[~day, "session_id"].dropna())
    second = set(week.queries.loc[day, "session_id"].dropna())
    assert first
    assert second
    assert not first & second


def test_normal_weeks_leave_out_the_days_a_log_shows_incidents_on(
    tmp_path: Path,
) -> None:
    spec = DPCWorkloadSpec(days=3, learners=40, faults=Faults(copy_errors=(1,)))
    log = generate_dpc_workload(spec, 5)
    weeks = normal_weeks(BootstrapDays(log, 2, "Asia/Tokyo"), fault_days=[2])
    assert isinstance(weeks, BootstrapDays)
    # Day 1 has the load errors, day 2 is named: only day 0 is drawn.
    assert weeks.pool.tolist() == [0]
    assert set(weeks.days(0)) == {0}


def _other_design_log(tmp_path: Path) -> tuple[Workload, ELTContract]:
    """The small week as another design would log it: ELT group "etl"."""
    log = read_workload(small_workload(tmp_path))
    q = log.queries.copy()
    q["query_group"] = q["query_group"].replace({"elt": "etl"})
    contract = ELTContract(
        queue="batch",
        query_group="etl",
        window_start="02:00",
        window_end="09:00",
        timezone="Asia/Tokyo",
    )
    return (
        Workload(queries=q, elt_runs=log.elt_runs, load_errors=log.load_errors),
        contract,
    )


def test_tuning_on_another_designs_log(tmp_path: Path) -> None:
    log, contract = _other_design_log(tmp_path)
    # Another design's names: the incidents follow the metrics, not the names.
    requests = []
    for r in dpc_design_alarms():
        if r["AlarmName"] in ("Alert-COPY-Error", "Alert-WLM-Queue"):
            requests.append({**r, "AlarmName": r["AlarmName"].replace("Alert", "acme")})
    grid = TuningGrid(thresholds={}, periods_s={}, rules={}, treat_missing=("missing",))
    incidents = {"copy_error": "copy_error:1", "dbt_failure": "dbt_failure:1:fct_nope"}

    def tune(
        alarms: list[dict[str, object]], elt: ELTContract, reps: int
    ) -> pd.DataFrame:
        return tune_alarms(
            alarms,
            BootstrapDays(log, 4, contract.timezone),
            dpc_design_config(),
            ClusterSettings(),
            contract=elt,
            root=4,
            replications=reps,
            grid=grid,
            incidents=incidents,
        )

    table = tune(requests, contract, 2)
    copy = table.loc[table["alarm"] == "acme-COPY-Error"].iloc[0]
    assert (copy["incidents"], copy["missed"]) == (1, 0)
    assert copy["detection_delay_min"] <= 6.0
    assert copy["not_injected"] == ""
    queue = table.loc[table["alarm"] == "acme-WLM-Queue"].iloc[0]
    assert queue["incidents"] == 0  # no load spike was asked for
    # Under the DPC contract the "etl" log has no ELT night: the COPY error
    # cannot be injected, and the table says so instead of dropping it.
    table = tune(requests[:1], DPC_ELT, 1)
    row = table.iloc[0]
    assert row["incidents"] == 0
    assert "copy_error: faults.copy_errors: day 1" in row["not_injected"]


def test_elt_statements_follow_the_contract(tmp_path: Path) -> None:
    from dpcsim.workload.whatif import elt_mask

    log, contract = _other_design_log(tmp_path)
    theirs = elt_mask(log.queries, contract)
    dpc = elt_mask(log.queries, DPC_ELT)
    assert theirs.sum() > 1000
    # DPC's contract finds only its DQ Lambda's checks in this log.
    assert np.all(log.queries.loc[dpc, "user_name"] == DPC_ELT.users[0])
    assert not (theirs & dpc).any()


def test_another_designs_queue_alarm_is_the_default_objective(tmp_path: Path) -> None:
    import json

    from dpcsim.experiments.execute import contract_dict
    from dpcsim.experiments.recommend import load_sweep
    from dpcsim.experiments.space import queue_alarms

    renamed = [
        {**r, "AlarmName": str(r["AlarmName"]).replace("Alert", "acme")}
        for r in dpc_design_alarms()
    ]
    assert queue_alarms(renamed) == ("acme-WLM-Queue",)
    space = space_from_dict({}, alarms=renamed)
    assert space.objectives.alarms == ("acme-WLM-Queue",)
    # A sweep folder keeps the design's contract and alarms: recommend reads
    # the same defaults back (window, zone, alarm objective).
    path = small_workload(tmp_path / "w")
    contract = ELTContract(
        queue="batch",
        query_group="elt",
        window_start="01:00",
        window_end="08:00",
        timezone="Asia/Seoul",
    )
    ctx = replace(context(path, alarms=renamed), elt=contract_dict(contract))
    folder = tmp_path / "sweep"
    space = space_from_dict(
        {"sweep": {"replications": 1}}, text="[sweep]\nreplications = 1\n"
    )
    run_sweep(space, ctx, folder, workers=1)
    (folder / "sweep.json").write_text(
        json.dumps({**asdict(ctx), "window": asdict(ctx.window)})
    )
    read, back, _ = load_sweep(folder)
    assert back.contract() == contract
    assert read.objectives.elt_window == ("01:00", "08:00")
    assert read.objectives.timezone == "Asia/Seoul"
    assert read.objectives.alarms == ("acme-WLM-Queue",)


def test_storage_growth_is_caught_sooner_at_a_lower_threshold(tmp_path: Path) -> None:
    log = read_workload(small_workload(tmp_path))
    storage_alarm = [
        r for r in dpc_design_alarms() if r["AlarmName"] == "Alert-Storage-High"
    ]
    grid = TuningGrid(
        thresholds={"Alert-Storage-High": (70.0, 80.0)},
        periods_s={},
        rules={},
        treat_missing=("missing",),
    )

    def tune(storage: dict[str, object]) -> pd.DataFrame:
        return tune_alarms(
            storage_alarm,
            BootstrapDays(log, 1, "Asia/Tokyo"),
            dpc_design_config(),
            ClusterSettings(storage=storage),
            contract=DPC_ELT,
            root=1,
            replications=1,
            grid=grid,
        ).set_index("threshold")

    # The model's 1 TB of 2 TB: growth fills 90 % of the free TB by the last
    # arrival, so 70 % is crossed before 80 %, and both before the end.
    table = tune({"model": "on"})
    assert (table["incidents"] == 1).all()
    assert (table["missed"] == 0).all()
    assert (
        table.loc[70.0, "detection_delay_min"] < table.loc[80.0, "detection_delay_min"]
    )
    assert (table["false_alarms_per_week"] == 0).all()
    # Without storage inputs there is no PercentageDiskSpaceUsed to alarm on.
    off = tune({})
    assert (off["incidents"] == 0).all()
    assert off["not_injected"].str.contains("the storage model is off").all()
