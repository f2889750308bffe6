"""Decisions beyond the splits: manual or auto WLM, priorities, QMR rules, checks."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from _experiments_fixtures import context, small_workload
from test_engine_mechanisms import workload

from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine import ClusterSettings, simulate
from dpcsim.errors import InputError
from dpcsim.experiments import run_sweep, space_from_dict
from dpcsim.experiments.space import apply_decision, is_schedule, schedule_of
from dpcsim.wlm import QMRPredicate, QMRRule, QueueConfig, WLMConfig


def test_each_point_keeps_only_the_decisions_its_wlm_mode_uses() -> None:
    space = space_from_dict(
        {
            "decisions": {
                "wlm_mode": ["manual", "auto"],
                "slots": {"adhoc": [3, 5]},
                "priority": {"batch": ["high", "normal"]},
            }
        }
    )
    # 2 modes x 2 slot counts x 2 priorities = 8 combinations, of which manual
    # WLM uses the slots only and auto WLM the priority only: 4 points.
    assert space.decisions == (
        {"wlm_mode": "manual", "slots.adhoc": 3},
        {"wlm_mode": "manual", "slots.adhoc": 5},
        {"wlm_mode": "auto", "priority.batch": "high"},
        {"wlm_mode": "auto", "priority.batch": "normal"},
    )
    # The design's 8/3/5 under manual WLM is the baseline.
    assert space.baseline == {"wlm_mode": "manual", "slots.adhoc": 5}


def test_auto_mode_keeps_routing_scaling_and_rules() -> None:
    base, settings = dpc_design_config(), ClusterSettings()
    config, _ = apply_decision(
        base, settings, {"wlm_mode": "auto", "priority.batch": "high"}
    )
    assert config.is_auto
    for got, was in zip(config.queues, base.queues, strict=True):
        assert (got.user_group, got.query_group) == (was.user_group, was.query_group)
        assert got.concurrency_scaling == was.concurrency_scaling
        assert got.rules == was.rules
        assert got.memory_percent_to_use is None
        assert got.max_execution_time == 0
    assert [q.priority for q in config.queues] == ["high", "normal", "normal"]
    back, _ = apply_decision(config, settings, {"wlm_mode": "manual"})
    assert not back.is_auto
    assert {q.priority for q in back.queues} == {"normal"}


@pytest.mark.parametrize(
    ("decisions", "where", "says"),
    [
        ({"wlm_mode": ["auto", "fuzzy"]}, "decisions.wlm_mode", "'fuzzy'"),
        ({"slots.adhoc": [5, 60]}, "decisions.slots.adhoc", "60"),
        ({"concurrency_scaling.adhoc": ["maybe"]}, "concurrency_scaling.adhoc", "auto"),
        # A priority only exists under auto WLM.
        ({"wlm_mode": ["auto"], "priority.batch": ["urgent"]}, "priority", "urgent"),
        ({"slots.adhoc": [30], "slots.batch": [30]}, "decisions.slots", "50"),
        (
            {"qmr": {"adhoc": {"nope": {"action": ["log"]}}}},
            "decisions.qmr.adhoc.nope.action",
            "adhoc_abort_30min",
        ),
        (
            {"qmr": {"adhoc": {"adhoc_abort_30min": {"action": ["explode"]}}}},
            "adhoc_abort_30min.action",
            "'log', 'abort', 'hop'",
        ),
        (
            {"qmr": {"adhoc": {"adhoc_abort_30min": {"query_cpu_time": [5]}}}},
            "adhoc_abort_30min.query_cpu_time",
            "query_execution_time",
        ),
        (
            {"qmr": {"adhoc": {"adhoc_abort_30min": {"query_execution_time": [-5]}}}},
            "adhoc_abort_30min.query_execution_time",
            ">= 0",
        ),
    ],
)
def test_a_bad_decision_value_is_refused_naming_its_key(decisions, where, says) -> None:
    with pytest.raises(InputError) as err:
        space_from_dict({"decisions": decisions}, source="space.toml")
    text = str(err.value)
    assert text.startswith("space.toml")
    assert where in text
    assert says in text


AUTO_SPACE = """
[sweep]
replications = 1

[decisions]
priority.adhoc = ["normal", "high"]

[[decisions.schedule.candidates]]
elt = { priority = { batch = "highest", adhoc = "low" } }
day = { priority = { batch = "low", adhoc = "highest" } }

[objectives]
elt_window = ["02:00", "09:00"]
timezone = "Asia/Tokyo"
"""


def _auto_design() -> WLMConfig:
    config, _ = apply_decision(
        dpc_design_config(), ClusterSettings(), {"wlm_mode": "auto"}
    )
    return config


def test_an_auto_wlm_sweep_runs_priorities_and_a_priority_schedule(
    tmp_path: Path,
) -> None:
    base = _auto_design()
    space = space_from_dict(tomllib.loads(AUTO_SPACE), source="space.toml", base=base)
    point = next(d for d in space.decisions if is_schedule(d))
    schedule = schedule_of(base, ClusterSettings(), point)
    assert schedule is not None
    assert [c.queues[0].priority for _, c in schedule.switches] == ["highest", "low"]
    ctx = replace(context(small_workload(tmp_path / "w")), base_wlm=base.to_json())
    report = run_sweep(space, ctx, tmp_path / "sweep", workers=1)
    results = report.results
    assert (results["status"] == "ok").all(), results["error"].tolist()
    assert len(results) == 3  # normal (the baseline), high, the schedule


def test_a_priority_schedule_under_manual_wlm_is_refused() -> None:
    with pytest.raises(InputError, match="auto WLM only") as err:
        space_from_dict(tomllib.loads(AUTO_SPACE), source="space.toml")
    assert "decisions.schedule.candidates[0]" in str(err.value)


def _one_rule_queue(action: str = "abort", seconds: int = 100) -> WLMConfig:
    pred = QMRPredicate(metric_name="query_execution_time", operator=">", value=seconds)
    rule = QMRRule(rule_name="long", predicate=(pred,), action=action)
    return WLMConfig(
        queues=(QueueConfig(name="q", query_concurrency=2, rules=(rule,)),), sqa=None
    )


def test_qmr_decisions_set_a_rules_action_and_threshold() -> None:
    base = _one_rule_queue()
    space = space_from_dict(
        {"decisions": {"qmr": {"q": {"long": {"action": ["abort", "log"]}}}}},
        base=base,
    )
    assert space.baseline == {"qmr.q.long.action": "abort"}
    settings = ClusterSettings(contention_model="none")
    outcomes = {}
    for action in ("abort", "log"):
        point = {"qmr.q.long.action": action, "qmr.q.long.query_execution_time": 50}
        config, _ = apply_decision(base, settings, point)
        (rule,) = config.queues[0].rules
        assert (rule.action, rule.predicate[0].value) == (action, 50)
        res = simulate(workload([(0, 200)]), config, settings, rng=1, replay="open")
        row = res.queries.iloc[0]
        outcomes[action] = (row["outcome"], float(row["end_s"]))
    # QMR checks every 10 s: past 50 s the abort fires at the 60 s check; logged,
    # the 200 s query completes.
    assert outcomes == {"abort": ("aborted", 60.0), "log": ("completed", 200.0)}


def test_data_growth_scales_every_statements_work() -> None:
    # One query of 10 s solo work alone on the cluster: twice the data, twice
    # the work, under fixed demands and under the observed conversion alike.
    config = _one_rule_queue(action="log", seconds=1000)
    for extra in ({"contention_model": "none"}, {"contention_model": "usl"}):
        ends = []
        for scale in (1.0, 2.0):
            settings = ClusterSettings(work_scale=scale, **extra)
            res = simulate(workload([(0, 10)]), config, settings, rng=1)
            ends.append(float(res.queries["end_s"].iloc[0]))
        assert ends == pytest.approx([10.0, 20.0])


def test_a_data_growth_scenario_makes_the_elt_finish_later(tmp_path: Path) -> None:
    space = space_from_dict(
        {
            "sweep": {"replications": 1},
            "scenarios": {"data_growth": [1.0, 3.0]},
        }
    )
    ctx = context(small_workload(tmp_path / "w"))
    results = run_sweep(space, ctx, tmp_path / "sweep", workers=1).results
    assert (results["status"] == "ok").all(), results["error"].tolist()
    by = results.set_index("scenario.data_growth")["metric.elt_finish_min"]
    assert by[3.0] > by[1.0]
    with pytest.raises(InputError, match=r"scenarios\.data_growth"):
        space_from_dict({"scenarios": {"data_growth": [0]}})


def test_a_composed_schedule_pairs_only_configurations_of_one_wlm_mode() -> None:
    import pandas as pd

    from dpcsim.experiments.recommend import _record_composed_schedule

    decisions = {
        "c_manual_a": {"wlm_mode": "manual", "slots.adhoc": 3},
        "c_manual_b": {"wlm_mode": "manual", "slots.adhoc": 5},
        "c_auto": {"wlm_mode": "auto"},
    }
    # Auto WLM has the best ELT and the best adhoc wait, but the chosen
    # configuration is manual: a schedule cannot switch to auto WLM.
    means = pd.DataFrame(
        {
            "metric.elt_lateness_min": [5.0, 9.0, 0.0],
            "metric.wait_p95_s.adhoc": [4.0, 2.0, 0.5],
        },
        index=list(decisions),
    )
    record = _record_composed_schedule(decisions, means, "c_manual_a")
    ev = record["evidence"]
    assert ev["night_config"] == decisions["c_manual_a"]
    assert ev["day_config"] == decisions["c_manual_b"]
    assert ev["composed"] == {"elt_lateness_min": 5.0, "adhoc_p95_wait_s": 2.0}
