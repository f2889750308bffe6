"""Hand-built traces with exact start and end times for each engine mechanism."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dpcsim.engine import ClusterSettings, simulate
from dpcsim.wlm import QMRPredicate, QMRRule, QueueConfig, SQAConfig, WLMConfig

#: These tests check the fixed-demand engine: [contention] model = "none".
pytestmark = pytest.mark.usefixtures("fixed_demands")

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def workload(rows):
    """Rows of (arrival [s], exec [s], extra dict) -> canonical-ish frame."""
    out = []
    for k, (at, ex, *extra) in enumerate(rows, start=1):
        row = {
            "query_id": k,
            "arrival_at": T0 + pd.Timedelta(seconds=at),
            "statement_type": "select",
            "exec_s": float(ex),
        }
        row.update(extra[0] if extra else {})
        out.append(row)
    frame = pd.DataFrame(out)
    defaults = {"slot_count": 1, "cache_hit": False, "fingerprint": None}
    for col, fill in defaults.items():
        if col in frame.columns:
            frame[col] = frame[col].where(frame[col].notna(), fill)
    if "slot_count" in frame.columns:
        frame["slot_count"] = frame["slot_count"].astype("int64")
    if "cache_hit" in frame.columns:
        frame["cache_hit"] = frame["cache_hit"].astype(bool)
    for col, fill in (("user_groups", None), ("query_group", "default")):
        if col not in frame.columns:
            frame[col] = fill
    frame["user_groups"] = frame["user_groups"].astype("string")
    frame["query_group"] = frame["query_group"].fillna("default").astype("string")
    return frame


def run(rows, queues, *, sqa=None, **settings):
    # Exact traces: the perfect predictor unless a test asks for another.
    settings.setdefault("sqa_predictor", "perfect")
    cfg = WLMConfig(queues=tuple(queues), sqa=sqa)
    res = simulate(workload(rows), cfg, ClusterSettings(**settings), rng=1)
    s = res.summary
    assert s["arrived"] == sum(
        s[o] for o in ("completed", "aborted", "canceled", "failed")
    )
    q = res.queries.set_index("query_id")
    ok = np.isclose(q.end_s, q.arrival_s + q.queue_s + q.exec_s)
    assert ok.all()
    return res, q


def times(q, k):
    row = q.loc[k]
    return (row.start_s, row.end_s)


def rule(name, action, metric="query_execution_time", op=">", value=15.0):
    pred = (QMRPredicate(metric_name=metric, operator=op, value=value),)
    return QMRRule(rule_name=name, predicate=pred, action=action)


def two_queues(*, timeout_ms=5000, rules=(), b_slots=2, cs="off"):
    """Queue a (1 slot, group g, 20 %), queue b (group g, 60 %), default (20 %)."""
    return [
        QueueConfig(
            name="a",
            query_concurrency=1,
            memory_percent_to_use=20,
            max_execution_time=timeout_ms,
            user_group=("g",),
            rules=rules,
            concurrency_scaling=cs,
        ),
        QueueConfig(
            name="b",
            query_concurrency=b_slots,
            memory_percent_to_use=60,
            user_group=("g",),
            query_group=("b",),
        ),
        QueueConfig(name="default", query_concurrency=1, memory_percent_to_use=20),
    ]


G = {"user_groups": "g"}
B = {"query_group": "b"}


def test_slot_exhaustion_and_fifo():
    queues = [QueueConfig(name="q", query_concurrency=2)]
    _, q = run([(0, 10), (1, 10), (2, 5), (3, 1)], queues)
    assert [times(q, k) for k in (1, 2, 3, 4)] == [(0, 10), (1, 11), (10, 15), (11, 12)]
    assert (q.loc[3, "queue_s"], q.loc[4, "queue_s"]) == (8, 8)


def test_multi_slot_query_blocks_fifo_line():
    queues = [QueueConfig(name="q", query_concurrency=3)]
    rows = [(0, 10), (1, 5, {"slot_count": 3}), (2, 1)]
    _, q = run(rows, queues)
    assert times(q, 2) == (10, 15)
    assert times(q, 3) == (15, 16)  # FIFO: waits behind the 3-slot query


def test_slot_count_above_concurrency_fails():
    queues = [QueueConfig(name="q", query_concurrency=2)]
    res, q = run([(0, 10), (1, 5, {"slot_count": 3})], queues)
    assert (q.loc[2, "outcome"], q.loc[2, "end_s"], res.summary["failed"]) == (
        "failed",
        1,
        1,
    )
    assert math.isnan(q.loc[2, "start_s"])


def test_timeout_hop_by_reassign():
    _, q = run([(0, 20, G)], two_queues())
    row = q.loc[1]
    assert (row.start_s, row.end_s, row.queue, row.first_queue) == (0, 20, "b", "a")
    assert (row.hops, row.attempts, row.outcome) == (1, 1, "completed")


def test_timeout_hop_by_restart():
    # b's only slot is busy until 30, so the query restarts there from scratch.
    rows = [(0, 20, G), (0.5, 29.5, B)]
    _, q = run(rows, two_queues(b_slots=1))
    row = q.loc[1]
    assert (row.end_s, row.queue_s, row.exec_s) == (50, 25, 25)
    assert (row.hops, row.attempts, row.outcome, row.queue) == (1, 2, "completed", "b")


def test_timeout_cancels_dml():
    _, q = run([(0, 20, {**G, "statement_type": "insert"})], two_queues())
    assert (q.loc[1, "end_s"], q.loc[1, "outcome"]) == (5, "canceled")


def test_timeout_hop_without_matching_queue_cancels():
    queues = two_queues()
    queues[1] = QueueConfig(name="b", query_concurrency=2, memory_percent_to_use=60)
    _, q = run([(0, 20, G)], queues)
    assert (q.loc[1, "end_s"], q.loc[1, "outcome"], q.loc[1, "queue"]) == (
        5,
        "canceled",
        "a",
    )


def test_copy_keeps_running_past_timeout():
    _, q = run([(0, 20, {**G, "statement_type": "copy"})], two_queues())
    assert (q.loc[1, "end_s"], q.loc[1, "outcome"], q.loc[1, "hops"]) == (
        20,
        "completed",
        0,
    )


def test_qmr_abort_at_first_check_past_threshold():
    queues = [QueueConfig(name="q", rules=(rule("kill", "abort"),))]
    _, q = run([(0, 30), (0, 15)], queues)
    # query_execution_time > 15 first holds at the 20 s check.
    assert (q.loc[1, "end_s"], q.loc[1, "outcome"]) == (20, "aborted")
    assert q.loc[1, "qmr_actions"] == "kill:abort"
    assert (q.loc[2, "outcome"], q.loc[2, "qmr_actions"]) == ("completed", "")


def test_qmr_hop_reassigns():
    queues = two_queues(timeout_ms=0, rules=(rule("slow", "hop", value=5.0),))
    _, q = run([(0, 25, G)], queues)
    row = q.loc[1]
    assert (row.end_s, row.queue, row.hops, row.qmr_actions) == (
        25,
        "b",
        1,
        "slow:hop(reassign)",
    )


def test_qmr_log_fires_once_and_copy_is_never_aborted():
    rules = (rule("note", "log", value=5.0), rule("kill", "abort", value=25.0))
    queues = [QueueConfig(name="q", query_concurrency=2, rules=rules)]
    _, q = run([(0, 22), (0, 40, {"statement_type": "copy"})], queues)
    assert (q.loc[1, "end_s"], q.loc[1, "qmr_actions"]) == (22, "note:log")
    assert (q.loc[2, "end_s"], q.loc[2, "outcome"]) == (40, "completed")
    assert q.loc[2, "qmr_actions"] == "note:log"


def test_qmr_severity_abort_beats_log_at_same_check():
    rules = (rule("a_log", "log", value=5.0), rule("z_abort", "abort", value=5.0))
    _, q = run([(0, 30)], [QueueConfig(name="q", rules=rules)])
    assert (q.loc[1, "end_s"], q.loc[1, "qmr_actions"]) == (10, "z_abort:abort")


def test_qmr_hop_on_queue_time_is_ignored_but_abort_applies():
    hop = rule("qhop", "hop", metric="query_queue_time", value=3.0)
    queues = [QueueConfig(name="q", query_concurrency=1, rules=(hop,))]
    _, q = run([(0, 10), (1, 20)], queues)
    assert (q.loc[2, "end_s"], q.loc[2, "hops"], q.loc[2, "qmr_actions"]) == (30, 0, "")
    abort = rule("qab", "abort", metric="query_queue_time", value=3.0)
    _, q = run(
        [(0, 10), (1, 20)], [QueueConfig(name="q", query_concurrency=1, rules=(abort,))]
    )
    # queue time 9 s > 3 s: aborted at the first check, 10 s into execution.
    assert (q.loc[2, "end_s"], q.loc[2, "outcome"]) == (20, "aborted")


def test_sqa_runs_short_query_that_would_wait():
    queues = [QueueConfig(name="q", query_concurrency=1)]
    sqa = SQAConfig(enabled=True, max_execution_time=5000)
    res, q = run([(0, 100), (1, 1), (2, 8)], queues, sqa=sqa, sqa_predictor="perfect")
    assert (times(q, 2), q.loc[2, "ran_on"]) == ((1, 2), "sqa")
    assert (times(q, 3), q.loc[3, "ran_on"]) == ((100, 108), "main")  # too long
    assert res.summary["sqa"]["runs"] == 1


def test_sqa_eviction_restarts_in_queue():
    queues = [QueueConfig(name="q", query_concurrency=1)]
    sqa = SQAConfig(enabled=True, max_execution_time=5000)
    rows = [(0, 100), (1, 10, {"fingerprint": "f"})]
    res, q = run(rows, queues, sqa=sqa, sqa_predictor="learned", sqa_prior_s=1.0)
    row = q.loc[2]
    assert (row.start_s, row.end_s, row.attempts, row.sqa_evicted) == (1, 110, 2, True)
    assert (row.queue_s, row.exec_s, row.ran_on) == (94, 15, "main")
    assert res.summary["sqa"]["evictions"] == 1


def test_scaling_start_delay_idle_stop_and_billing():
    queues = [QueueConfig(name="q", query_concurrency=1, concurrency_scaling="auto")]
    settings = {
        "cs_start_delay_s": 10.0,
        "cs_idle_stop_s": 60.0,
        "cs_free_credit_start_s": 30.0,
        "cs_price_usd_per_node_hour": 3.6,
    }
    res, q = run(
        [(0, 100), (1, 30), (2, 5, {"statement_type": "vacuum"})], queues, **settings
    )
    assert (times(q, 2), q.loc[2, "ran_on"]) == ((11, 41), "cs")
    assert (times(q, 3), q.loc[3, "ran_on"]) == ((100, 105), "main")  # not eligible
    sc = res.scaling.iloc[0]
    assert (sc.start_s, sc.end_s, sc.busy_s, sc.billed_s) == (11, 101, 30, 60)
    free = 30.0 + 101.0 / 24.0
    money = res.summary["scaling"]
    assert money["free_credit_used_s"] == pytest.approx(free)
    assert money["cost_usd"] == pytest.approx((60 - free) * 3.6 * 2 / 3600)
    tl = res.timeline
    assert tl.loc[tl.t_s == 11, "cs_clusters"].tolist() == [1]
    assert tl.loc[tl.t_s == 101, "cs_clusters"].tolist() == [0]


def test_auto_wlm_admits_by_priority():
    queues = [
        QueueConfig(name="hi", queue_type="auto", priority="high", query_group=("hi",)),
        QueueConfig(
            name="lo", queue_type="auto", priority="lowest", query_group=("lo",)
        ),
        QueueConfig(name="default", queue_type="auto"),
    ]
    rows = [(0, 10), (1, 5, {"query_group": "lo"}), (2, 5, {"query_group": "hi"})]
    _, q = run(rows, queues, auto_max_concurrency=1)
    assert [times(q, k) for k in (1, 3, 2)] == [(0, 10), (10, 15), (15, 20)]


def test_statement_timeout_cancels_running_and_queued():
    queues = [QueueConfig(name="q", query_concurrency=1)]
    _, q = run([(0, 20), (1, 1)], queues, statement_timeout_ms=8000)
    assert (q.loc[1, "end_s"], q.loc[1, "outcome"]) == (8, "canceled")
    assert (times(q, 2), q.loc[2, "outcome"]) == ((8, 9), "completed")  # end wins ties
    # A restarted query keeps its arrival's deadline and is canceled while queued.
    rows = [(0, 20, G), (0.5, 29.5, B)]
    _, q = run(rows, two_queues(b_slots=1), statement_timeout_ms=8000)
    assert (q.loc[1, "end_s"], q.loc[1, "outcome"], q.loc[1, "attempts"]) == (
        8,
        "canceled",
        2,
    )
    assert q.loc[1, "queue_s"] == 3


def test_cache_hits_do_no_wlm_work():
    queues = [QueueConfig(name="q", query_concurrency=1)]
    _, q = run([(0, 10), (3, 7, {"cache_hit": True}), (4, 1)], queues)
    assert (times(q, 2), q.loc[2, "queue_s"], q.loc[2, "exec_s"]) == ((3, 3), 0, 0)
    assert times(q, 3) == (10, 11)


def test_memory_aware_slowdown():
    # ra3.xlplus x 2 = 65536 MB; 4 slots -> 16384 MB per slot.
    queues = [QueueConfig(name="q", query_concurrency=4)]
    rows = [
        (0, 10, {"mem_mb": 32768.0}),
        (0, 10, {"mem_mb": 8000.0}),
        (0, 10, {"mem_mb": 32768.0, "slot_count": 2}),
    ]
    _, q = run(rows, queues)  # on by default where mem_mb is known
    assert q.end_s.tolist() == [15.0, 10.0, 10.0]
    _, q = run(rows, queues, memory_model="off")
    assert q.end_s.tolist() == [10.0, 10.0, 10.0]


def test_deterministic_and_timeline_counts():
    queues = [QueueConfig(name="q", query_concurrency=2)]
    sqa = SQAConfig(enabled=True)
    rows = [(0.1 * k, 1 + (k % 7)) for k in range(40)]
    a, _ = run(rows, queues, sqa=sqa, sqa_predictor="noisy")
    b, _ = run(rows, queues, sqa=sqa, sqa_predictor="noisy")
    pd.testing.assert_frame_equal(a.queries, b.queries)
    pd.testing.assert_frame_equal(a.timeline, b.timeline)
    tl = a.timeline[a.timeline.queue == "q"]
    assert (tl.running.max(), tl.running.min(), tl.queued.min()) == (2, 0, 0)
    assert tl.iloc[-1][["queued", "running"]].tolist() == [0, 0]


def test_plain_path_equals_general_path(monkeypatch):
    rng = np.random.default_rng(7)
    n = 400
    extra = [
        {"query_group": "b" if rng.random() < 0.4 else "default",
         "slot_count": int(rng.choice([1, 1, 1, 2, 4])),
         "cache_hit": bool(rng.random() < 0.05)}
        for _ in range(n)
    ]  # fmt: skip
    at = np.round(np.cumsum(rng.exponential(0.3, n)), 3)
    rows = [(at[k], round(rng.exponential(1.0), 3), extra[k]) for k in range(n)]
    queues = [QueueConfig(name="b", query_concurrency=3, query_group=("b",)),
              QueueConfig(name="default", query_concurrency=2)]  # fmt: skip
    plain, _ = run(rows, queues)
    assert plain.summary["failed"] > 0
    assert plain.summary["cache_hits"] > 0
    monkeypatch.setattr("dpcsim.engine.cluster.Engine.force_general", True)
    general, _ = run(rows, queues)
    pd.testing.assert_frame_equal(plain.queries, general.queries)
    pd.testing.assert_frame_equal(plain.timeline, general.timeline)
    assert plain.summary == general.summary


def test_logged_abort_runs_to_its_logged_end_and_fails():
    # Query 1 errored after 4 s in the log: it holds its slot for 4 s, ends
    # failed, and query 2 waits for it exactly as it did on the cluster.
    one = [QueueConfig(name="q", query_concurrency=1)]
    res, q = run([(0, 4, {"aborted": True}), (1, 2)], one)
    assert q.loc[1, "outcome"] == "failed"
    assert times(q, 1) == (0.0, 4.0)
    assert q.loc[2, "outcome"] == "completed"
    assert times(q, 2) == (4.0, 6.0)
    assert res.summary["failed"] == 1
