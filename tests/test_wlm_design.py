"""The seed design as a ready configuration."""

from __future__ import annotations

import pytest

from dpcsim.designs.dpc_wlm import (
    DPC_ROLE_GROUPS,
    dpc_design_config,
    dpc_design_json,
    groups_for_user,
)
from dpcsim.wlm import route
from dpcsim.wlm.limits import RECOMMENDED_MAX_SLOTS


def test_design_queues_order_default_and_memory():
    cfg = dpc_design_config()
    assert cfg.queue_names == ("batch", "admin", "adhoc")
    assert cfg.default_index == 2  # adhoc catches every learner
    assert [q.memory_percent_to_use for q in cfg.queues] == [50, 20, 30]
    assert [q.concurrency_scaling for q in cfg.queues] == ["auto", "auto", "off"]
    assert cfg.queues[2].query_concurrency == 5  # "at most 5 concurrent"
    assert cfg.sqa_enabled
    assert cfg.sqa is not None
    assert cfg.sqa.max_execution_time == 0


@pytest.mark.parametrize(
    ("reading", "slots"), [("slots", [8, 3, 5]), ("memory", [5, 3, 5])]
)
def test_design_slot_readings(reading, slots):
    cfg = dpc_design_config(slot_reading=reading)
    assert [q.query_concurrency for q in cfg.queues] == slots
    total = sum(slots)
    share = [s / total for s in slots]
    if reading == "slots":
        # The literal reading keeps the 50/20/30 share within 1.5 points.
        assert share == pytest.approx([0.5, 0.2, 0.3], abs=0.015)
        assert total == RECOMMENDED_MAX_SLOTS + 1
    else:
        assert total <= RECOMMENDED_MAX_SLOTS


def test_design_timeouts_as_qmr_or_wlm_timeout():
    qmr = dpc_design_config()
    batch_rule = qmr.queues[0].rules[0]
    assert batch_rule.action == "abort"
    assert batch_rule.predicate[0].metric_name == "query_execution_time"
    assert batch_rule.predicate[0].value == 7200
    assert qmr.queues[2].rules[0].predicate[0].value == 1800
    assert qmr.queues[1].rules == ()
    assert all(q.max_execution_time == 0 for q in qmr.queues)
    wlm = dpc_design_config(timeouts="wlm")
    assert [q.max_execution_time for q in wlm.queues] == [7_200_000, 0, 1_800_000]
    assert all(not q.rules for q in wlm.queues)
    both = dpc_design_config(timeouts="both")
    assert both.queues[0].max_execution_time == 7_200_000
    assert both.queues[0].rules


def test_design_auto_mode_priorities():
    cfg = dpc_design_config(mode="auto")
    assert cfg.is_auto
    assert [q.priority for q in cfg.queues] == ["high", "highest", "normal"]
    with pytest.raises(ValueError, match="auto WLM ignores"):
        dpc_design_config(mode="auto", timeouts="wlm")
    with pytest.raises(ValueError, match="slot_reading"):
        dpc_design_config(slot_reading="half")  # type: ignore[arg-type]


def test_design_routes_each_population_to_its_queue():
    cfg = dpc_design_config()
    for role, group in DPC_ROLE_GROUPS.items():
        expected = {"dpc_elt": 0, "dpc_admin": 1}[group]
        groups = groups_for_user(f"IAMR:{role}")
        assert route(cfg, user_groups=groups, query_group=None) == expected, role
    learner = groups_for_user("learner_0001")
    assert learner == ("dpc_learners",)
    assert route(cfg, user_groups=learner, query_group="default") == 2
    # The ELT label routes to batch even without groups (log fallback).
    assert route(cfg, user_groups=None, query_group="elt") == 0
    # Learners cannot reach admin with a label: admin lists no query group.
    assert route(cfg, user_groups=learner, query_group="admin") == 2
    assert groups_for_user("IAMR:unknown-role") == ()


def test_design_json_is_aws_array():
    out = dpc_design_json()
    assert [o.get("name") for o in out] == ["batch", "admin", "adhoc", None]
    assert out[-1] == {"short_query_queue": True, "max_execution_time": 0}
    assert len(dpc_design_config().parameter_value()) < 8000
