"""Schedule decisions: the space file's [decisions.schedule] and the SCHEDULE record."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _experiments_fixtures import context, small_workload

from dpcsim.alarms import dpc_design_alarms
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine import ClusterSettings
from dpcsim.errors import InputError
from dpcsim.experiments import run_sweep, space_from_dict
from dpcsim.experiments.recommend import _record_schedule, recommend
from dpcsim.experiments.space import (
    Objectives,
    apply_decision,
    axis_id,
    is_schedule,
    schedule_of,
)

SPACE_TOML = """
[sweep]
seed = 5
replications = 2

[decisions]
slots.adhoc = [2, 5]

[decisions.schedule]
# the switch times default to objectives.elt_window and timezone

[[decisions.schedule.candidates]]
elt = { slots = { batch = 10, adhoc = 3 }, concurrency_scaling = { adhoc = "off" } }
day.slots = { batch = 6, adhoc = 7 }
day.concurrency_scaling = { adhoc = "auto" }
day.sqa_max_s = 5

[objectives]
elt_window = ["02:00", "09:00"]
timezone = "Asia/Tokyo"
adhoc_p95_wait_s = 30.0
"""


def test_space_file_schedule_decision_builds_a_schedule() -> None:
    space = space_from_dict(tomllib.loads(SPACE_TOML), source="space.toml")
    points = [d for d in space.decisions if is_schedule(d)]
    assert len(points) == 1
    point = points[0]
    assert point["schedule.elt.slots.batch"] == 10
    assert (point["schedule.elt_at"], point["schedule.day_at"]) == ("02:00", "09:00")
    base, settings = dpc_design_config(), ClusterSettings()
    schedule = schedule_of(base, settings, point)
    assert schedule is not None
    assert schedule.timezone == "Asia/Tokyo"
    (t_elt, elt), (t_day, day) = schedule.switches
    assert (t_elt, t_day) == ("02:00", "09:00")
    slots = {q.name: q.query_concurrency for q in elt.queues}
    assert slots == {"batch": 10, "admin": 3, "adhoc": 3}
    assert [q.concurrency_scaling for q in day.queues] == ["auto", "auto", "auto"]
    assert day.sqa is not None
    assert day.sqa.max_execution_time == 5000
    assert elt.sqa == base.sqa  # untouched where the entry says nothing
    # The static part of a schedule point is its day configuration.
    assert apply_decision(base, settings, point)[0] == day
    # The single-configuration points are unchanged by the schedule table.
    singles = [d for d in space.decisions if not is_schedule(d)]
    assert sorted(d["slots.adhoc"] for d in singles) == [2, 5]


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ("{ timeout_s = { adhoc = 60 } }", "timeout_s.adhoc"),
        (
            "{ max_concurrency_scaling_clusters = 2 }",
            "max_concurrency_scaling_clusters",
        ),
        ("{ slots = { nosuch = 2 } }", "slots.nosuch"),
        ("{ slots = { adhoc = [2, 3] } }", "slots.adhoc"),
    ],
)
def test_schedule_entries_only_take_one_dynamic_value(entry: str, key: str) -> None:
    text = f"""
[[decisions.schedule.candidates]]
elt = {entry}
day = {{ slots = {{ adhoc = 5 }} }}
"""
    with pytest.raises(InputError) as err:
        space_from_dict(tomllib.loads(text), source="space.toml")
    assert f"decisions.schedule.candidates[0].elt.{key}" in str(err.value)
    assert "space.toml" in str(err.value)


def test_schedule_times_must_be_hhmm() -> None:
    text = """
[decisions.schedule]
at = ["2am", "09:00"]
[[decisions.schedule.candidates]]
elt = { slots = { adhoc = 3 } }
day = { slots = { adhoc = 5 } }
"""
    with pytest.raises(InputError, match=r"decisions\.schedule\.at"):
        space_from_dict(tomllib.loads(text), source="space.toml")


def test_an_invalid_entry_configuration_names_the_candidate() -> None:
    text = """
[[decisions.schedule.candidates]]
elt = { slots = { batch = 49, adhoc = 5 } }
day = { slots = { adhoc = 5 } }
"""
    with pytest.raises(InputError, match=r"decisions\.schedule\.candidates\[0\]"):
        space_from_dict(tomllib.loads(text), source="space.toml")


def test_recommend_uses_the_simulated_schedule(tmp_path: Path) -> None:
    path = small_workload(tmp_path / "w")
    ctx = context(path, alarms=dpc_design_alarms())
    space = space_from_dict(tomllib.loads(SPACE_TOML), source="space.toml")
    report = run_sweep(space, ctx, tmp_path / "sweep", workers=1)
    results = report.results
    assert (results["status"] == "ok").all(), results["error"].tolist()
    point = next(d for d in space.decisions if is_schedule(d))
    sid = axis_id("c", point)
    rows = results.loc[results["config_id"] == sid]
    assert len(rows) == 2  # two replications, simulated like any decision
    rec = recommend(space, ctx, results, replications=2, headroom_steps=1)
    doc = rec.document
    record = next(r for r in doc["recommendations"] if r["id"] == "SCHEDULE")
    ev = record["evidence"]
    assert ev["transition_simulated"] is True
    assert ev["schedule_config_id"] == sid
    chosen = doc["recommended_config_id"]
    assert chosen != sid
    assert ev["best_single_config_id"] == chosen
    assert ev["switch_times"] == {
        "elt": "02:00",
        "day": "09:00",
        "timezone": "Asia/Tokyo",
    }
    # The figures are the sweep rows' means and paired differences.
    col = "metric.wait_p95_s.adhoc"
    fig = ev["figures"]["adhoc_p95_wait_s"]
    assert fig["schedule"]["mean"] == pytest.approx(rows[col].mean())
    best = results.loc[results["config_id"] == chosen].set_index("replication")
    diff = rows.set_index("replication")[col] - best[col]
    assert fig["difference"][0]["mean"] == pytest.approx(float(np.mean(diff)))
    # Schedules do not compete for the single best configuration.
    assert sid not in set(rec.pareto["config_id"])


def _rows(config_id: str, wait: list[float], lateness: float) -> list[dict]:
    return [
        {
            "config_id": config_id,
            "scenario_id": "s0",
            "assumption_id": "a0",
            "replication": r,
            "status": "ok",
            "metric.cost_usd": 0.0,
            "metric.elt_lateness_min": lateness,
            "metric.elt_on_time": 1.0,
            "metric.wait_p95_s.adhoc": w,
            "metric.alarm_transitions.Alert-WLM-Queue": 0.0,
        }
        for r, w in enumerate(wait)
    ]


def test_schedule_record_prefers_a_schedule_meeting_the_objectives() -> None:
    obj = Objectives(adhoc_p95_wait_s=30.0)
    point = {
        "schedule.elt.slots.adhoc": 3,
        "schedule.day.slots.adhoc": 7,
        "schedule.elt_at": "02:00",
        "schedule.day_at": "09:00",
        "schedule.timezone": "Asia/Tokyo",
    }
    late = dict(point, **{"schedule.day.slots.adhoc": 6})
    decisions = {"cS": {"slots.adhoc": 5}, "cA": point, "cB": late}
    frame = pd.DataFrame(
        _rows("cS", [20.0, 24.0, 22.0], 0.0)
        + _rows("cA", [10.0, 12.0, 11.0], 0.0)  # meets, 11 s less wait each night
        + _rows("cB", [1.0, 2.0, 1.5], 0.0)  # less wait still, but
    )
    frame.loc[frame["config_id"] == "cB", "metric.elt_on_time"] = 0.0  # ELT late
    means = (
        frame.loc[frame["config_id"] == "cS"]
        .groupby("config_id")
        .mean(numeric_only=True)
    )
    names = {"cA": "night 3 adhoc slots, day 7", "cS": "adhoc 5"}
    rec = _record_schedule(
        frame, decisions, means, "cS", {"cA", "cB"}, obj, 0.95, names
    )
    ev = rec["evidence"]
    assert ev["transition_simulated"] is True
    assert ev["schedule_config_id"] == "cA"  # cB misses the ELT objective
    assert ev["meets_objectives"] is True
    assert ev["day_config"] == {"slots.adhoc": 7}
    diff = ev["figures"]["adhoc_p95_wait_s"]["difference"][0]
    assert diff["mean"] == pytest.approx(-11.0)
    assert diff["significant"]  # -10, -12, -11: a tight paired interval
    assert "improves adhoc_p95_wait_s" in rec["observation"]
    # Named by their decisions, the hash only as a key.
    assert "Schedule night 3 adhoc slots, day 7 (key cA)" in rec["observation"]
    assert "configuration adhoc 5 (key cS)" in rec["observation"]
    # Without schedule decisions: the composed fallback, labelled as such.
    single = frame.loc[frame["config_id"] == "cS"]
    fallback = _record_schedule(single, decisions, means, "cS", set(), obj, 0.95, names)
    assert fallback["evidence"]["transition_simulated"] is False
    assert "not simulated" in fallback["title"]


def test_a_schedule_is_named_by_both_of_its_configurations() -> None:
    from dpcsim.designs.dpc_wlm import dpc_design_config
    from dpcsim.engine import ClusterSettings
    from dpcsim.experiments.recommend import decision_words

    point = {
        "schedule.elt.slots.batch": 8,
        "schedule.day.slots.batch": 5,
        "schedule.day.memory_pct.batch": 40,
        "schedule.elt_at": "02:00",
        "schedule.day_at": "09:00",
        "schedule.timezone": "Asia/Tokyo",
    }
    words = decision_words(dpc_design_config(), ClusterSettings(), point)
    night, day = words.removeprefix("schedule (Asia/Tokyo): ").split("; ")
    assert night.startswith("batch/admin/adhoc 8/3/5,")
    assert night.endswith("from 02:00")
    assert day.startswith("batch/admin/adhoc 5/3/5, memory 40/")
    assert day.endswith("from 09:00")
