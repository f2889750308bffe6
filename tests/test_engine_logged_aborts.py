"""A logged abort fails again only when its cause was the statement's own.

An error or a user cancel (``stop_cause`` ``user_or_error``, or no cause logged)
belongs to the statement: replayed to its logged end it fails again. An abort the
cluster caused (QMR abort or hop, WLM timeout, ``statement_timeout``) is the
configuration's doing: the configuration under test decides whether it recurs.
"""

from __future__ import annotations

import pandas as pd
import pytest

from dpcsim.engine import ClusterSettings, simulate
from dpcsim.wlm import QMRPredicate, QMRRule, QueueConfig, WLMConfig

pytestmark = pytest.mark.usefixtures("fixed_demands")

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def _workload(causes: list[str | None], exec_s: float = 30.0) -> pd.DataFrame:
    """One aborted query per cause, a minute apart, none waiting."""
    n = len(causes)
    return pd.DataFrame(
        {
            "query_id": range(1, n + 1),
            "arrival_at": [T0 + pd.Timedelta(minutes=k) for k in range(n)],
            "statement_type": "select",
            "exec_s": exec_s,
            "slot_count": 1,
            "cache_hit": False,
            "user_groups": pd.array([None] * n, dtype="string"),
            "query_group": pd.array(["default"] * n, dtype="string"),
            "aborted": True,
            "stop_cause": pd.array(causes, dtype="string"),
        }
    )


def _config(*, abort_after_s: float | None = None) -> WLMConfig:
    rules: tuple[QMRRule, ...] = ()
    if abort_after_s is not None:
        pred = (
            QMRPredicate(
                metric_name="query_execution_time", operator=">", value=abort_after_s
            ),
        )
        rules = (QMRRule(rule_name="long", predicate=pred, action="abort"),)
    queue = QueueConfig(name="default", query_concurrency=2, rules=rules)
    return WLMConfig(queues=(queue,))


CAUSES = [
    "user_or_error",
    None,
    "qmr_abort",
    "qmr_hop",
    "wlm_timeout",
    "statement_timeout",
]


def _outcomes(frame: pd.DataFrame, config: WLMConfig) -> list[str]:
    res = simulate(frame, config, ClusterSettings(), rng=1)
    q = res.queries.sort_values("query_id")
    return [str(o) for o in q["outcome"]]


def test_without_the_cause_only_the_statements_own_aborts_fail() -> None:
    got = _outcomes(_workload(CAUSES), _config())
    assert got == ["failed", "failed"] + ["completed"] * 4


def test_a_rule_that_still_fires_aborts_every_query_it_catches() -> None:
    # 30 s of execution passes a 15 s execution-time rule at its 20 s check.
    got = _outcomes(_workload(CAUSES), _config(abort_after_s=15.0))
    assert got == ["aborted"] * len(CAUSES)


def test_a_workload_without_stop_causes_fails_every_logged_abort() -> None:
    frame = _workload(CAUSES).drop(columns="stop_cause")
    assert _outcomes(frame, _config()) == ["failed"] * len(CAUSES)
