"""Queue assignment: the AWS documentation's cases, wildcards, hops, workloads."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.wlm import (
    PATHS,
    QueueConfig,
    WLMConfig,
    next_matching_queue,
    route,
    route_workload,
)
from dpcsim.wlm.routing import compile_pattern

FIXTURES = Path(__file__).parent / "fixtures" / "wlm"


def _cfg(*queues: QueueConfig) -> WLMConfig:
    return WLMConfig(queues=(*queues, QueueConfig(name="Default queue")))


@pytest.fixture
def aws_example() -> WLMConfig:
    """The assignment-rules example: queue 2 lists QG_B, queue 3 lists the group."""
    return _cfg(
        QueueConfig(name="q1", user_group=("admin_group",)),
        QueueConfig(name="q2", query_group=("QG_B",)),
        QueueConfig(name="q3", user_group=("analysts",)),
    )


def test_query_group_on_earlier_queue_beats_user_group_on_later(aws_example):
    # AWS: the user group matches queue 3, the query group QG_B queue 2 -> queue 2.
    assert route(aws_example, user_groups=["analysts"], query_group="QG_B") == 1
    assert route(aws_example, user_groups=["analysts"], query_group=None) == 2
    assert route(aws_example, user_groups=["admin_group"], query_group="QG_B") == 0


def test_no_match_goes_to_default_queue(aws_example):
    assert route(aws_example, user_groups=["others"], query_group="QG_C") == 3
    assert route(aws_example, user_groups=None, query_group=None) == 3


def test_wildcard_question_mark_matches_one_character():
    cfg = _cfg(
        QueueConfig(name="dba", user_group=("dba?1",), user_group_wild_card=True)
    )
    assert route(cfg, user_groups=["dba11"], query_group=None) == 0
    assert route(cfg, user_groups=["dba12"], query_group=None) == 1
    assert route(cfg, user_groups=["dba1"], query_group=None) == 1
    assert route(cfg, user_groups=["dba111"], query_group=None) == 1


def test_wildcards_off_by_default_so_pattern_is_literal():
    cfg = _cfg(QueueConfig(name="dba", user_group=("dba?1",)))
    assert route(cfg, user_groups=["dba11"], query_group=None) == 1
    assert route(cfg, user_groups=["dba?1"], query_group=None) == 0
    assert route(cfg, user_groups=["DBA?1"], query_group=None) == 0


def test_star_wildcard_on_query_groups():
    cfg = _cfg(
        QueueConfig(name="etl", query_group=("etl*",), query_group_wild_card=True)
    )
    for label in ("etl", "etl_nightly", "ETL-2024"):
        assert route(cfg, user_groups=[], query_group=label) == 0, label
    for label in ("xetl", "et", "report"):
        assert route(cfg, user_groups=[], query_group=label) == 1, label
    mid = _cfg(QueueConfig(name="m", user_group=("*ops*",), user_group_wild_card=True))
    assert route(mid, user_groups=["dataops_team"], query_group=None) == 0


def test_matching_ignores_case_with_and_without_wildcards():
    cfg = _cfg(
        QueueConfig(name="a", user_group=("Analysts",)),
        QueueConfig(name="b", query_group=("Rep*",), query_group_wild_card=True),
    )
    assert route(cfg, user_groups=["ANALYSTS"], query_group=None) == 0
    assert route(cfg, user_groups=["x"], query_group="reporting") == 1


def test_bracket_is_literal_in_wildcards():
    pattern = compile_pattern(["grp[12]*"], wild_card=True)
    assert pattern is not None
    assert pattern.fullmatch("grp[12]x")
    assert not pattern.fullmatch("grp1x")
    dot = compile_pattern(["a.b"], wild_card=True)
    assert dot is not None
    assert not dot.fullmatch("axb")


def test_superuser_queue_needs_superuser_and_label():
    cfg = _cfg(QueueConfig(name="q", query_group=("superuser",)))
    assert route(cfg, user_groups=[], query_group="superuser", is_superuser=True) == -1
    assert route(cfg, user_groups=[], query_group="SuperUser", is_superuser=True) == -1
    # Not a superuser: the label is an ordinary query group.
    assert route(cfg, user_groups=[], query_group="superuser") == 0
    # A superuser without the label routes normally.
    assert route(cfg, user_groups=[], query_group="other", is_superuser=True) == 1


def test_user_roles_match_like_groups():
    cfg = _cfg(QueueConfig(name="r", user_role=("sys:*",), user_role_wild_card=True))
    assert route(cfg, user_groups=[], query_group=None, user_roles=["sys:dba"]) == 0
    assert route(cfg, user_groups=[], query_group=None, user_roles=["dba"]) == 1


def test_next_matching_queue_for_hops():
    cfg = WLMConfig.from_json((FIXTURES / "facts_manual.json").read_text())
    # analysts are listed on bi_short and bi_long: a hop from 0 goes to 1.
    assert next_matching_queue(cfg, 0, user_groups=["analysts"], query_group=None) == 1
    # From bi_long there is no later match; the default queue is never a target.
    assert (
        next_matching_queue(cfg, 1, user_groups=["analysts"], query_group=None) is None
    )
    assert next_matching_queue(cfg, 0, user_groups=[], query_group="etl_x") == 2
    with pytest.raises(ValueError, match="queue index"):
        next_matching_queue(cfg, 4, user_groups=[], query_group=None)


def _frame(**cols: list[object]) -> pd.DataFrame:
    frame = pd.DataFrame(cols)
    for col in ("user_groups", "query_group", "user_name"):
        if col in frame:
            frame[col] = frame[col].astype("string")
    if "service_class" in frame:
        frame["service_class"] = frame["service_class"].astype("Int64")
    return frame


def test_route_workload_paths_and_fallback_order():
    cfg = dpc_design_config()  # batch, admin, adhoc (default)
    frame = _frame(
        user_name=["rdsdb", "IAMR:x", "l1", "l2", "u", "u", "u", "u", "rdsdb"],
        user_groups=[
            "",
            "dpc_elt",
            "dpc_learners",
            "dpc_learners",
            None,
            None,
            None,
            None,
            None,
        ],
        query_group=[
            "superuser",
            "default",
            "elt",
            "default",
            "default",
            "elt",
            "default",
            "default",
            "x",
        ],
        service_class=[None, 6, None, None, 7, 14, 14, None, 5],
    )
    res = route_workload(cfg, frame, superusers={"rdsdb"})
    assert list(res.queue_index) == [-1, 0, 0, 2, 1, 0, 2, 2, -1]
    assert list(res.queue) == [
        "superuser",
        "batch",
        "batch",
        "adhoc",
        "admin",
        "batch",
        "adhoc",
        "adhoc",
        "superuser",
    ]
    assert list(res.path) == [
        "superuser",
        "user_group",
        "query_group",
        "default_no_match",
        "observed_service_class",
        "query_group",
        "default_no_groups",
        "default_no_groups",
        "observed_service_class",
    ]
    assert res.counts == {
        "superuser": 1,
        "query_group": 2,
        "user_group": 1,
        "user_role": 0,
        "observed_service_class": 2,
        "default_no_match": 1,
        "default_no_groups": 2,
    }
    assert sum(res.counts.values()) == len(frame)
    assert res.queue.dtype == "string"
    assert res.path.dtype == "string"


def test_route_workload_ignores_observed_class_when_groups_known():
    cfg = dpc_design_config()
    frame = _frame(
        user_groups=["dpc_learners"], query_group=["default"], service_class=[6]
    )
    res = route_workload(cfg, frame)
    assert list(res.queue) == ["adhoc"]


def test_route_workload_keeps_index_and_handles_missing_columns():
    cfg = dpc_design_config()
    frame = pd.DataFrame({"exec_s": [1.0, 2.0]}, index=[10, 20])
    res = route_workload(cfg, frame)
    assert list(res.queue.index) == [10, 20]
    assert list(res.path) == ["default_no_groups"] * 2
    empty = route_workload(cfg, frame.iloc[:0])
    assert len(empty.queue) == 0
    assert sum(empty.counts.values()) == 0
    assert set(empty.counts) == set(PATHS)


def test_route_workload_observed_class_must_fit_the_config():
    auto = dpc_design_config(mode="auto")
    frame = _frame(
        user_groups=[None, None],
        query_group=["default", "default"],
        service_class=[6, 101],
    )
    res = route_workload(auto, frame)
    # Manual class 6 means nothing under auto WLM; 101 is auto queue 1 (admin).
    assert list(res.queue) == ["adhoc", "admin"]
    assert list(res.path) == ["default_no_groups", "observed_service_class"]


def test_route_workload_one_million_rows_is_fast():
    cfg = dpc_design_config()
    rng = np.random.default_rng(7)
    n = 1_000_000
    groups = np.array(["dpc_elt", "dpc_admin", "dpc_learners", None], dtype=object)
    labels = np.array(["default", "elt", "superuser"], dtype=object)
    users = np.array([f"learner_{i:04d}" for i in range(500)] + ["rdsdb"], dtype=object)
    frame = pd.DataFrame(
        {
            "user_name": pd.array(
                users[rng.integers(0, len(users), n)], dtype="string"
            ),
            "user_groups": pd.array(groups[rng.integers(0, 4, n)], dtype="string"),
            "query_group": pd.array(labels[rng.integers(0, 3, n)], dtype="string"),
            "service_class": pd.array(rng.choice([6, 7, 8, 14], n), dtype="Int64"),
        }
    )
    start = time.perf_counter()
    res = route_workload(cfg, frame, superusers={"rdsdb"})
    elapsed = time.perf_counter() - start
    assert sum(res.counts.values()) == n
    # Typically ~0.3 s on one core; the bound leaves room for a shared machine.
    assert elapsed < 3.0, f"routing 1M rows took {elapsed:.2f} s"


def test_route_accepts_the_logs_comma_separated_groups(aws_example):
    assert route(aws_example, user_groups="others, analysts", query_group=None) == 2
    assert route(aws_example, user_groups="", query_group=None) == 3
