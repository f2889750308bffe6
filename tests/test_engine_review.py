"""Exact traces, one per documented WLM behaviour (facts sheet, sections 1.5 and 2).

Each test builds a handful of queries whose start and end times follow from the
documented rule by hand, so a model that departs from the rule fails the test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dpcsim.engine import ClusterSettings, simulate, simulate_stream
from dpcsim.engine.scaling import bill
from dpcsim.schema import validate_workload
from dpcsim.wlm import (
    QMRPredicate,
    QMRRule,
    QueueConfig,
    SQAConfig,
    WLMConfig,
    route_workload,
)

#: These tests check the fixed-demand engine: [contention] model = "none".
pytestmark = pytest.mark.usefixtures("fixed_demands")

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def frame(rows):
    """Rows of (arrival [s], exec [s], extra columns) -> a workload frame."""
    out = []
    for k, (at, ex, *extra) in enumerate(rows, start=1):
        row = {
            "query_id": k,
            "arrival_at": T0 + pd.Timedelta(seconds=at),
            "statement_type": "select",
            "exec_s": float(ex),
            "slot_count": 1,
            "user_groups": None,
            "query_group": "default",
            "fingerprint": None,
            "mem_mb": math.nan,
        }
        row.update(extra[0] if extra else {})
        out.append(row)
    df = pd.DataFrame(out)
    df["slot_count"] = df["slot_count"].astype("int64")
    df["mem_mb"] = df["mem_mb"].astype("float64")
    for col in ("user_groups", "query_group", "fingerprint", "statement_type"):
        df[col] = df[col].astype("string")
    if "user_name" in df.columns:
        df["user_name"] = df["user_name"].astype("string")
    return df


def run(rows, queues, *, sqa=None, superusers=(), **settings):
    # Exact traces: the perfect predictor unless a test asks for another.
    settings.setdefault("sqa_predictor", "perfect")
    """Simulate and return (result, queries indexed by query_id)."""
    cfg = WLMConfig(queues=tuple(queues), sqa=sqa)
    df = frame(rows)
    routing = route_workload(cfg, df, superusers=superusers) if superusers else None
    res = simulate(df, cfg, ClusterSettings(**settings), rng=3, routing=routing)
    s = res.summary
    assert s["arrived"] == len(rows)
    assert s["arrived"] == sum(
        s[o] for o in ("completed", "aborted", "canceled", "failed")
    )
    q = res.queries.set_index("query_id")
    assert np.allclose(q.end_s, q.arrival_s + q.queue_s + q.exec_s)
    return res, q


def se(q, k):
    """(start_s, end_s) of query ``k``."""
    return (q.loc[k, "start_s"], q.loc[k, "end_s"])


def col(q, name):
    """Column ``name`` in query-id order, as a list."""
    return q.sort_index()[name].tolist()


def rule(name, action, value, metric="query_execution_time"):
    pred = (QMRPredicate(metric_name=metric, operator=">", value=value),)
    return QMRRule(rule_name=name, predicate=pred, action=action)


def mq(name, slots=1, mem=None, **kw):
    """A manual queue."""
    return QueueConfig(
        name=name, query_concurrency=slots, memory_percent_to_use=mem, **kw
    )


G, H = {"user_groups": "g"}, {"user_groups": "h"}


def test_routing_array_order_wildcards_and_default():
    queues = [
        mq("qg", query_group=("QG_B",)),
        mq("analysts", user_group=("analysts",)),
        mq("dba", user_group=("dba?1",), user_group_wild_card=True),
        mq("default"),
    ]
    rows = [
        (0, 10, {"user_groups": "analysts", "query_group": "qg_b"}),  # array order
        (0, 10, {"user_groups": "analysts"}),
        (0, 10, {"user_groups": "DBA11"}),  # ? = one char, case-insensitive
        (0, 10, {"user_groups": "dba12"}),  # no match -> default
        (1, 10, {"user_groups": "analysts"}),  # waits for analysts' slot
    ]
    _, q = run(rows, queues)
    assert col(q, "queue") == ["qg", "analysts", "dba", "default", "analysts"]
    assert [se(q, k) for k in (1, 4, 5)] == [(0, 10), (0, 10), (10, 20)]


def test_superuser_queue_one_slot_only_with_label():
    queues = [mq("adhoc", 2, user_group=("g",)), mq("default", 2)]
    su = {"user_name": "root", "query_group": "superuser"}
    rows = [
        (0, 10, su),
        (1, 10, su),  # one slot: waits for the first
        (1, 10, {"user_name": "root"}),  # superuser without the label
        (1, 10, {"user_name": "bob", "query_group": "superuser"}),  # not superuser
    ]
    _, q = run(rows, queues, superusers={"root"})
    assert col(q, "queue") == ["superuser", "superuser", "default", "default"]
    assert [se(q, k) for k in (1, 2, 3, 4)] == [(0, 10), (10, 20), (1, 11), (1, 11)]


def test_multi_slot_fifo_and_slot_count_above_concurrency_fails():
    rows = [
        (0, 10, {"slot_count": 2}),
        (1, 5, {"slot_count": 2}),  # one slot free: waits
        (2, 1),  # FIFO: waits behind the 2-slot head though a slot is free
        (3, 1, {"slot_count": 4}),  # more than the queue's 3 slots: fails
    ]
    _, q = run(rows, [mq("q", 3)])
    assert [se(q, k) for k in (1, 2, 3)] == [(0, 10), (10, 15), (10, 11)]
    assert col(q, "outcome") == ["completed"] * 3 + ["failed"]
    assert q.loc[4, "end_s"] == 3
    assert math.isnan(q.loc[4, "start_s"])


def test_memory_per_slot_is_queue_share_over_slots():
    # ra3.xlplus x 2 = 65536 MB: "big" 50 % / 2 slots = 16384 MB per slot,
    # "default" 50 % / 4 slots = 8192 MB per slot, whatever runs.
    queues = [mq("big", 2, 50, query_group=("big",)), mq("default", 4, 50)]
    want = {"mem_mb": 16384.0}
    rows = [
        (0, 10, {**want, "query_group": "big"}),
        (0, 10, want),  # half its memory: 1 + (1 - 0.5) = 1.5x
        (0, 10, want),
        (0, 10, {**want, "slot_count": 2}),  # two slots hold enough
    ]
    _, q = run(rows, queues, memory_model="spill")
    assert col(q, "end_s") == [10, 15, 15, 10]


def test_wlm_timeout_counts_execution_only_with_outcome_by_statement():
    queues = [
        mq("a", 1, 20, max_execution_time=5000, user_group=("g",)),
        mq("b", 2, 60, user_group=("g",)),
        mq("default", 1, 20),
    ]
    rows = [
        (0, 4, G),
        (0, 4, G),  # waits 4 s, runs 4 s: the timeout ignores queue time
        (0, 20, {**G, "statement_type": "insert"}),  # canceled
        (0, 20, {**G, "statement_type": "vacuum"}),  # keeps running
        (0, 20, {**G, "statement_type": "unload"}),  # canceled
        (0, 20, {**G, "statement_type": "ctas"}),  # hops (reassign to b)
    ]
    _, q = run(rows, queues)
    assert [se(q, k) for k in range(1, 7)] == [
        (0, 4), (4, 8), (8, 13), (13, 33), (33, 38), (38, 58),
    ]  # fmt: skip
    done, canceled = "completed", "canceled"
    assert col(q, "outcome") == [done, done, canceled, done, canceled, done]
    assert (q.loc[6, "queue"], q.loc[6, "hops"], q.loc[6, "attempts"]) == ("b", 1, 1)


def test_hop_goes_to_next_matching_queue_or_cancels_never_default():
    queues = [
        mq("a", 2, 25, max_execution_time=5000, user_group=("g", "h")),
        mq("b", 1, 25, user_group=("other",)),
        mq("c", 1, 25, user_group=("g",)),
        mq("default", 1, 25),
    ]
    rows = [
        (0, 20, G),  # a -> c (b does not match)
        (0, 20, H),  # nothing after a matches h: canceled, not sent to default
        (1, 20, {"user_groups": "other"}),
        (1, 20),
    ]
    _, q = run(rows, queues)
    assert col(q, "queue") == ["c", "a", "b", "default"]
    assert col(q, "outcome") == ["completed", "canceled", "completed", "completed"]
    assert col(q, "end_s") == [20, 5, 21, 21]


def test_reassign_needs_free_slots_and_memory_else_restart():
    # Free slot but less memory per slot in the target: restart (work lost).
    queues = [
        mq("a", 1, 40, max_execution_time=5000, user_group=("g",)),
        mq("b", 1, 10, user_group=("g",)),
        mq("default", 1, 50),
    ]
    _, q = run([(0, 20, G), (0, 3, G)], queues)
    assert (se(q, 1), q.loc[1, "queue"], q.loc[1, "attempts"]) == ((0, 25), "b", 2)
    assert se(q, 2) == (5, 8)
    # Two-slot query: reassigned when b has two free slots of equal memory...
    queues = [
        mq("a", 2, 30, max_execution_time=5000, user_group=("g",)),
        mq("b", 3, 45, user_group=("g",), query_group=("b",)),
        mq("default", 1, 25),
    ]
    two = {**G, "slot_count": 2}
    _, q = run([(0, 20, two), (0, 30, {"query_group": "b"})], queues)
    assert (se(q, 1), q.loc[1, "attempts"], q.loc[1, "queue_s"]) == ((0, 20), 1, 0)
    # ... and restarted (waiting for two slots) when only one is free.
    rows = [(0, 20, two), (0, 30, {"query_group": "b"}), (0, 8, {"query_group": "b"})]
    _, q = run(rows, queues)
    assert (q.loc[1, "end_s"], q.loc[1, "queue_s"], q.loc[1, "attempts"]) == (28, 3, 2)
    # A line waiting in the target for more slots than are free does not stop
    # a reassign into the free slot (the conditions are slots and memory).
    queues = [
        mq("a", 1, 15, max_execution_time=5000, user_group=("g",)),
        mq("b", 3, 45, user_group=("g",), query_group=("b",)),
        mq("default", 1, 40),
    ]
    b2 = {"query_group": "b", "slot_count": 2}
    _, q = run([(0, 30, b2), (1, 10, b2), (0, 20, G)], queues)
    assert (se(q, 3), q.loc[3, "queue"], q.loc[3, "attempts"]) == ((0, 20), "b", 1)
    assert se(q, 2) == (30, 40)


def test_hop_restart_into_queue_with_too_few_slots_fails():
    # wlm_query_slot_count above the target queue's concurrency: the query
    # fails there (facts 1.3) instead of blocking the target's line forever.
    queues = [
        mq("a", 3, 50, max_execution_time=5000, user_group=("g",)),
        mq("b", 2, 30, user_group=("g",), query_group=("b",)),
        mq("default", 1, 20),
    ]
    rows = [(0, 20, {**G, "slot_count": 3}), (1, 10, {"query_group": "b"})]
    _, q = run(rows, queues)
    assert (q.loc[1, "outcome"], q.loc[1, "end_s"], q.loc[1, "queue"]) == (
        "failed",
        5,
        "b",
    )
    assert se(q, 2) == (1, 11)


def test_hop_follows_user_roles():
    # Roles are not a canonical column: route with them, and the hop must too.
    queues = [
        mq("a", 1, 40, max_execution_time=5000, user_role=("r",)),
        mq("b", 1, 40, user_role=("r",)),
        mq("default", 1, 20),
    ]
    cfg = WLMConfig(queues=tuple(queues))
    df = validate_workload(frame([(0, 20, {"user_groups": ""}), (1, 20)]))
    df["user_roles"] = pd.Series(["r", pd.NA], dtype="string")
    routing = route_workload(cfg, df)
    q = simulate(df, cfg, routing=routing).queries.set_index("query_id")
    assert (q.loc[1, "first_queue"], q.loc[1, "queue"], q.loc[1, "hops"]) == (
        "a",
        "b",
        1,
    )
    assert (q.loc[1, "outcome"], q.loc[1, "end_s"], se(q, 2)) == (
        "completed",
        20,
        (1, 21),
    )


def test_statement_timeout_counts_queue_and_lower_limit_applies():
    queues = [mq("q", 1, max_execution_time=20000)]
    rows = [(0, 30), (1, 5), (2, 1)]
    _, q = run(rows, queues, statement_timeout_ms=8000)
    # 8 s statement limit < 20 s WLM timeout; query 2 hits it after 7 s queued
    # plus 1 s running; query 3 ends exactly at its limit (the end wins).
    assert [se(q, k) for k in (1, 2, 3)] == [(0, 8), (8, 9), (9, 10)]
    assert col(q, "outcome") == ["canceled", "canceled", "completed"]
    # WLM timeout 3 s < statement timeout 8 s: the WLM timeout acts first.
    queues = [mq("q", 1, max_execution_time=3000)]
    _, q = run([(0, 30, {"statement_type": "insert"}), (1, 2)], queues, **{
        "statement_timeout_ms": 8000
    })  # fmt: skip
    assert [se(q, k) for k in (1, 2)] == [(0, 3), (3, 5)]


def test_qmr_checks_severity_log_once_copy_and_new_queue_rules():
    rules_a = (
        rule("note", "log", 5.0),
        rule("a_first", "log", 25.0),  # loses to the hop at the 30 s check
        rule("move", "hop", 25.0),
    )
    queues = [
        mq("a", 3, 40, user_group=("g",), rules=rules_a),
        mq("b", 2, 40, user_group=("g",), rules=(rule("kill", "abort", 35.0),)),
        mq("default", 1, 20),
    ]
    rows = [
        (0, 60, G),
        # COPY is never hopped or aborted: the hop rule does not apply to it,
        # so the log rule it would have beaten logs.
        (0, 60, {**G, "statement_type": "copy"}),
        (1, 22, G),  # logs once though "note" holds at two checks
    ]
    _, q = run(rows, queues)
    assert q.loc[1, "qmr_actions"] == "note:log;move:hop(reassign);kill:abort"
    assert (q.loc[1, "end_s"], q.loc[1, "outcome"], q.loc[1, "queue"]) == (
        40,
        "aborted",
        "b",
    )
    assert (se(q, 2), q.loc[2, "qmr_actions"]) == ((0, 60), "note:log;a_first:log")
    assert (se(q, 3), q.loc[3, "qmr_actions"]) == ((1, 23), "note:log")


def test_qmr_hop_on_queue_time_ignored():
    hop = (rule("qhop", "hop", 2.0, metric="query_queue_time"),)
    queues = [
        mq("a", 1, 40, user_group=("g",), rules=hop),
        mq("b", 1, 40, user_group=("g",)),
        mq("default", 1, 20),
    ]
    _, q = run([(0, 10, G), (1, 20, G), (2, 5, G)], queues)
    assert [se(q, k) for k in (1, 2, 3)] == [(0, 10), (10, 30), (30, 35)]
    assert col(q, "hops") == [0, 0, 0]


def test_sqa_only_for_reads_and_ctas_that_would_wait_and_eviction():
    sqa = SQAConfig(enabled=True, max_execution_time=5000)
    rows = [
        (0, 100),
        (1, 2),  # a slot is free: runs on main, not SQA
        (4, 100),
        (5, 2, {"statement_type": "ctas"}),  # would wait: SQA
        (6, 2, {"statement_type": "insert"}),  # not eligible: waits
        (7, 10),  # SQA (learned prior 1 s), evicted at 12: requeued behind 5
    ]
    res, q = run(rows, [mq("q", 2)], sqa=sqa, sqa_predictor="learned", sqa_prior_s=1.0)
    assert col(q, "ran_on") == ["main", "main", "main", "sqa", "main", "main"]
    assert [se(q, k) for k in (2, 4, 5)] == [(1, 3), (5, 7), (100, 102)]
    row = q.loc[6]
    assert (row.start_s, row.end_s, row.attempts, row.sqa_evicted) == (7, 112, 2, True)
    assert (row.queue_s, row.exec_s, row.queue) == (90, 15, "q")
    assert res.summary["sqa"]["evictions"] == 1


def test_sqa_ignores_superuser_queue():
    sqa = SQAConfig(enabled=True, max_execution_time=5000)
    su = {"user_name": "root", "query_group": "superuser"}
    rows = [(0, 10, su), (1, 1, su), (2, 10), (3, 1)]
    _, q = run(rows, [mq("q", 1)], sqa=sqa, superusers={"root"})
    assert col(q, "ran_on") == ["main", "main", "main", "sqa"]
    assert [se(q, k) for k in (2, 4)] == [(10, 11), (3, 4)]


def test_concurrency_scaling_trigger_eligibility_and_clusters():
    queues = [mq("q", 1, concurrency_scaling="auto")]
    base = {"cs_start_delay_s": 10.0, "cs_idle_stop_s": 60.0}
    rows = [(0, 100), (1, 30), (2, 5, {"statement_type": "insert"})]
    _, q = run(rows, queues, node_type="dc2.large", **base)
    assert col(q, "ran_on") == ["main", "cs", "main"]  # writes need RA3
    assert [se(q, k) for k in (2, 3)] == [(11, 41), (100, 105)]
    _, q = run(rows, queues, **base)  # RA3, one cluster of one slot
    assert col(q, "ran_on") == ["main", "cs", "cs"]
    assert [se(q, k) for k in (2, 3)] == [(11, 41), (41, 46)]
    res, q = run(rows, queues, max_concurrency_scaling_clusters=2, **base)
    assert [se(q, k) for k in (2, 3)] == [(11, 41), (21, 26)]
    assert len(res.scaling) == 2
    _, q = run(rows, queues, max_concurrency_scaling_clusters=0, **base)
    assert [se(q, k) for k in (2, 3)] == [(100, 130), (130, 135)]


def test_concurrency_scaling_needs_a_multi_node_cluster_of_at_most_32_nodes():
    queues = [mq("q", 1, concurrency_scaling="auto")]
    rows = [(0, 100), (1, 30)]
    for nodes in (1, 33):
        res, q = run(rows, queues, node_count=nodes, node_type="ra3.4xlarge")
        assert col(q, "ran_on") == ["main", "main"]
        assert len(res.scaling) == 0
    res, q = run(rows, queues, node_count=32, node_type="ra3.4xlarge")
    assert col(q, "ran_on") == ["main", "cs"]


def test_scaling_billing_minimum_and_free_credit_cap():
    queues = [mq("q", 1, concurrency_scaling="auto")]
    settings = {"cs_start_delay_s": 0.0, "cs_idle_stop_s": 20.0}
    rows = [(0, 200), (1, 10), (100, 70)]  # two activations: 10 s and 70 s busy
    res, _ = run(rows, queues, **settings)
    assert res.scaling[["start_s", "end_s", "busy_s", "billed_s"]].values.tolist() == [
        [1.0, 31.0, 10.0, 60.0],
        [100.0, 190.0, 70.0, 70.0],
    ]
    day = 86400.0
    rows_ = [(0, 0.0, day, 7200.0), (0, 2 * day, 2 * day + 30, 0.0)]
    money = bill(
        rows_, min_billed_s=60.0, credit_start_s=0.0, credit_cap_s=108000.0,
        price_per_s=1.0,
    )  # fmt: skip
    assert money.billed_s.tolist() == [7200.0, 0.0]
    assert (money.free_used_s, money.paid_s) == (3600.0, 3600.0)
    capped = bill(
        [(0, 0.0, 100 * day, 200000.0)], min_billed_s=60.0,
        credit_start_s=200000.0, credit_cap_s=108000.0, price_per_s=1.0,
    )  # fmt: skip
    assert (capped.free_used_s, capped.paid_s) == (108000.0, 92000.0)


def test_auto_wlm_priority_admission_without_timeouts_or_hops():
    def aq(name, prio, group=None):
        groups = () if group is None else (group,)
        return QueueConfig(
            name=name, queue_type="auto", priority=prio, query_group=groups
        )

    queues = [aq("hi", "highest", "hi"), aq("lo", "lowest", "lo"), aq("def", "normal")]
    rows = [
        (0, 10),
        (1, 5, {"query_group": "lo"}),
        (2, 5),
        (3, 5, {"query_group": "hi", "slot_count": 9}),  # slot counts ignored
    ]
    _, q = run(rows, queues, auto_max_concurrency=1)
    assert [se(q, k) for k in (1, 4, 3, 2)] == [(0, 10), (10, 15), (15, 20), (20, 25)]
    assert col(q, "outcome") == ["completed"] * 4
    assert col(q, "hops") == [0] * 4


@pytest.mark.parametrize(
    "name",
    ["reassign_restart", "too_few_slots", "sqa", "scaling"],
)
def test_stream_agrees_with_simulate_on_review_traces(name):
    two = {**G, "slot_count": 2}
    cases = {
        "reassign_restart": (
            [(0, 20, two), (0, 30, {"query_group": "b"}), (0, 8, {"query_group": "b"})],
            [mq("a", 2, 30, max_execution_time=5000, user_group=("g",)),
             mq("b", 3, 45, user_group=("g",), query_group=("b",)),
             mq("default", 1, 25)],
            None, {},
        ),
        "too_few_slots": (
            [(0, 20, {**G, "slot_count": 3}), (1, 10, {"query_group": "b"}),
             (500, 1, G)],
            [mq("a", 3, 50, max_execution_time=5000, user_group=("g",)),
             mq("b", 2, 30, user_group=("g",), query_group=("b",)),
             mq("default", 1, 20)],
            None, {},
        ),
        "sqa": (
            [(0, 100), (1, 2), (4, 100), (5, 2, {"statement_type": "ctas"}),
             (6, 2, {"statement_type": "insert"}), (7, 10), (400, 3)],
            [mq("q", 2)],
            SQAConfig(enabled=True, max_execution_time=5000),
            {"sqa_predictor": "learned", "sqa_prior_s": 1.0},
        ),
        "scaling": (
            [(0, 200), (1, 10), (100, 70), (1000, 5)],
            [mq("q", 1, concurrency_scaling="auto")],
            None, {"cs_start_delay_s": 0.0, "cs_idle_stop_s": 20.0},
        ),
    }  # fmt: skip
    rows, queues, sqa, settings = cases[name]
    cfg = WLMConfig(queues=tuple(queues), sqa=sqa)
    df = frame(rows)
    full = simulate(df, cfg, ClusterSettings(**settings), rng=3)
    parts: list[pd.DataFrame] = []
    summary = simulate_stream(
        [df],
        cfg,
        ClusterSettings(**settings),
        sink=lambda r: parts.append(r.queries),
        rng=3,
        window=2,
    )
    pd.testing.assert_frame_equal(pd.concat(parts), full.queries)
    assert summary["arrived"] == full.summary["arrived"]
