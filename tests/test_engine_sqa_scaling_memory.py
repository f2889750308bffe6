"""SQA from the waiting line, eviction, scaling eligibility, spill and QMR metrics.

Hand-made traces of 3-6 queries with exact expected times, each checking one
behaviour the facts sheet documents (sections 2.1, 2.3-2.5 and 7), and one
replicated comparison of slot splits on generated workloads.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import dpcsim.workload as workload_pkg
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine import ClusterSettings, simulate
from dpcsim.wlm import QMRPredicate, QMRRule, QueueConfig, SQAConfig, WLMConfig

# Hand-made traces with fixed demands: each query needs exactly its exec_s.
pytestmark = pytest.mark.usefixtures("fixed_demands")

T0 = pd.Timestamp("2024-01-01", tz="UTC")
SQA5 = SQAConfig(enabled=True, max_execution_time=5000)


def frame(rows):
    """(arrival [s], exec [s], extra) rows -> a canonical-ish frame."""
    out = []
    for k, (at, ex, *extra) in enumerate(rows, start=1):
        row = {
            "query_id": k,
            "arrival_at": T0 + pd.Timedelta(seconds=at),
            "statement_type": "select",
            "exec_s": float(ex),
            "query_group": "default",
        }
        row.update(extra[0] if extra else {})
        out.append(row)
    out_frame = pd.DataFrame(out)
    for col, fill in (("slot_count", 1), ("cs_eligible", True)):
        if col in out_frame:
            out_frame[col] = (
                out_frame[col].astype(object).where(out_frame[col].notna(), fill)
            )
    return out_frame


def run(rows, queues, *, sqa=None, **settings):
    cfg = WLMConfig(queues=tuple(queues), sqa=sqa)
    res = simulate(frame(rows), cfg, ClusterSettings(**settings), rng=1)
    return res, res.queries.set_index("query_id")


def span(q, k):
    return (float(q.loc[k, "start_s"]), float(q.loc[k, "end_s"]), q.loc[k, "ran_on"])


def test_sqa_takes_a_waiting_query_when_its_slot_frees():
    queues = [QueueConfig(name="q", query_concurrency=1)]
    rows = [(0, 100), (1, 4), (2, 3), (3, 8)]
    res, q = run(rows, queues, sqa=SQA5, sqa_slots=1, sqa_predictor="perfect")
    assert span(q, 2) == (1.0, 5.0, "sqa")
    # Query 3 found SQA busy and waited in q; SQA took it when query 2 ended.
    assert span(q, 3) == (5.0, 8.0, "sqa")
    assert q.loc[3, "queue_s"] == 3.0
    # Predicted 8 s > the 5 s maximum: it stays in line for the main slot.
    assert span(q, 4) == (100.0, 108.0, "main")
    assert res.summary["sqa"]["runs"] == 2


def test_sqa_learned_predictor_is_causal():
    # Shape "f" ran 20 s once (finished at 20): later arrivals of "f" are
    # predicted long; the one that arrived before that observation was not.
    queues = [QueueConfig(name="q", query_concurrency=1)]
    f = {"fingerprint": "f"}
    rows = [(0, 20, f), (30, 60), (31, 2, f), (50, 2, f)]
    _, q = run(rows, queues, sqa=SQA5, sqa_prior_s=1.0)
    assert q.loc[1, "ran_on"] == "main"
    # 31 s: the mean of the one earlier "f" is 20 s >= 5 s: no SQA.
    assert span(q, 3) == (90.0, 92.0, "main")
    assert span(q, 4) == (92.0, 94.0, "main")
    _, q = run(rows, queues, sqa=SQA5, sqa_predictor="perfect")
    assert span(q, 3) == (31.0, 33.0, "sqa")


@pytest.mark.parametrize(
    ("eviction", "end", "attempts"), [("hop", 11.0, 1), ("restart", 16.0, 2)]
)
def test_sqa_eviction_moves_to_queue_keeping_work_when_a_slot_is_free(
    eviction, end, attempts
):
    queues = [QueueConfig(name="q", query_concurrency=1)]
    rows = [(0, 4), (1, 10, {"fingerprint": "f"})]
    res, q = run(rows, queues, sqa=SQA5, sqa_prior_s=1.0, sqa_eviction=eviction)
    # Predicted 1 s (prior), on SQA at 1 s, evicted after 5 s at 6 s; q is free
    # since 4 s. hop: continues with 5 s left; restart: 10 s again.
    assert q.loc[2, "sqa_evicted"]
    assert (q.loc[2, "end_s"], q.loc[2, "attempts"], q.loc[2, "queue"]) == (
        end,
        attempts,
        "q",
    )
    assert res.summary["sqa"]["evictions"] == 1


def test_evicted_query_without_a_free_slot_restarts_and_never_returns_to_sqa():
    queues = [QueueConfig(name="q", query_concurrency=1)]
    rows = [(0, 100), (1, 10, {"fingerprint": "f"}), (2, 1)]
    _, q = run(rows, queues, sqa=SQA5, sqa_slots=1, sqa_prior_s=1.0)
    # Evicted at 6 s into a full q: waits as a new attempt, SQA runs query 3.
    assert span(q, 3) == (6.0, 7.0, "sqa")
    assert span(q, 2)[1:] == (110.0, "main")
    assert q.loc[2, "attempts"] == 2


def test_scaling_ineligible_queries_stay_on_main():
    queues = [QueueConfig(name="q", query_concurrency=1, concurrency_scaling="auto")]
    rows = [
        (0, 100),
        (1, 10, {"cs_eligible": False}),  # e.g. reads a temporary table
        (2, 10),
        (3, 10, {"statement_type": "insert"}),  # RA3 write: eligible
    ]
    two = {"cs_start_delay_s": 0.0, "max_concurrency_scaling_clusters": 2}
    _, q = run(rows, queues, **two)
    assert span(q, 2) == (100.0, 110.0, "main")
    assert span(q, 3) == (2.0, 12.0, "cs")
    assert span(q, 4) == (3.0, 13.0, "cs")
    _, q = run(rows, queues, **two, node_type="dc2.large")
    assert q.loc[4, "ran_on"] == "main"  # writes scale on RA3 only


def test_free_credit_balance_starts_at_the_cap():
    queues = [QueueConfig(name="q", query_concurrency=1, concurrency_scaling="auto")]
    rows = [(0, 100), (1, 30)]
    res, _ = run(rows, queues, cs_start_delay_s=0.0)
    money = res.summary["scaling"]
    assert ClusterSettings().cs_free_credit_start_s == 30 * 3600.0
    # billed 60 s (one-minute minimum for 30 s of work), all on free credit
    assert (money["billed_s"], money["paid_s"], money["cost_usd"]) == (60.0, 0.0, 0.0)
    res, _ = run(rows, queues, cs_start_delay_s=0.0, cs_free_credit_start_s=0.0)
    # A new cluster: credit accrues 1 s per 24 s up to the stop, 300 s idle
    # after the query ends at 31 s.
    assert res.summary["scaling"]["paid_s"] == pytest.approx(60.0 - 331.0 / 24.0)


@pytest.mark.parametrize(("penalty", "factor"), [(1.0, 1.5), (2.0, 2.0)])
def test_spill_slows_a_query_short_of_memory_by_the_documented_factor(penalty, factor):
    # 2 x ra3.xlplus = 65,536 MB; 100 % over 4 slots = 16,384 MB per slot.
    queues = [QueueConfig(name="q", query_concurrency=4)]
    rows = [
        (0, 10, {"mem_mb": 32768.0}),  # half of what it wants
        (0, 10, {"mem_mb": 32768.0, "slot_count": 2}),  # wlm_query_slot_count 2
        (0, 10, {"mem_mb": 16384.0}),  # exactly enough
    ]
    _, q = run(rows, queues, spill_penalty=penalty)
    assert q["exec_s"].tolist() == pytest.approx([10.0 * factor, 10.0, 10.0])
    # memory_percent_to_use and node memory set the slot: 4 x ra3.4xlarge
    # (96 GiB each) gives 98,304 MB per slot, so nothing spills.
    _, q = run(rows, queues, spill_penalty=penalty, node_type="ra3.4xlarge",
               node_count=4)  # fmt: skip
    assert q["exec_s"].tolist() == [10.0, 10.0, 10.0]


def _rule(name, metric, value, action="abort"):
    pred = (QMRPredicate(metric_name=metric, operator=">", value=value),)
    return QMRRule(rule_name=name, predicate=pred, action=action)


def test_qmr_on_simulated_spill_and_log_metrics_and_never_evaluated():
    spill_rule = _rule("spill", "query_temp_blocks_to_disk", 1000.0)
    cpu_rule = _rule("cpu", "query_cpu_time", 25.0)
    skew_rule = _rule("skew", "cpu_skew", 5.0, action="log")
    queues = [
        QueueConfig(
            name="q", query_concurrency=4, rules=(spill_rule, cpu_rule, skew_rule)
        )
    ]
    rows = [
        # wants 32,768 MB, holds 16,384: spills 16,384 MB over 15 s of run
        (0, 10, {"mem_mb": 32768.0}),
        (0, 40),  # no figures: nothing fires
    ]
    res, q = run(rows, queues)
    # 16,384 MB / 15 s > 1000 MB by the first check at 10 s
    assert (q.loc[1, "outcome"], q.loc[1, "end_s"]) == ("aborted", 10.0)
    assert q.loc[2, "outcome"] == "completed"
    never = {r["rule"]: r["metrics"] for r in res.summary["qmr_never_evaluated"]}
    assert never == {"cpu": ["query_cpu_time"], "skew": ["cpu_skew"]}
    # With CPU time in the workload the rule is evaluated: 60 s of CPU over
    # 40 s of execution passes 25 s between the checks at 10 s and 20 s.
    rows[1] = (0, 40, {"cpu_s": 60.0})
    res, q = run(rows, queues)
    assert (q.loc[2, "outcome"], q.loc[2, "end_s"]) == ("aborted", 20.0)
    never = {r["rule"] for r in res.summary["qmr_never_evaluated"]}
    assert never == {"skew"}


def test_memory_split_changes_results_on_generated_days():
    """8/3/5 against 5/3/5 at 50/20/30 memory, five generated days.

    The engine has no randomness here (learned SQA predictor); the workload
    does, so each replication is a generated day with its own seed. In every
    replication the batch queue's total execution is longer with 8 slots
    (4,096 MB each) than with 5 (6,554 MB each): its big models spill more.
    """
    design = dpc_design_config()
    five = replace(
        design,
        queues=(replace(design.queues[0], query_concurrency=5), *design.queues[1:]),
    )
    diffs = []
    for seed in range(5):
        w = workload_pkg.generate_dpc_workload(
            workload_pkg.DPCWorkloadSpec(days=1), rng=1000 + seed
        )
        exec_8 = _batch_exec_s(simulate(w, design, rng=0))
        exec_5 = _batch_exec_s(simulate(w, five, rng=0))
        diffs.append(exec_8 - exec_5)
    d = np.asarray(diffs)
    assert (d > 0).all(), d
    # and memory off removes the difference in execution entirely
    off = ClusterSettings(memory_model="off")
    w = workload_pkg.generate_dpc_workload(
        workload_pkg.DPCWorkloadSpec(days=1), rng=1000
    )
    assert _batch_exec_s(simulate(w, design, off, rng=0)) == pytest.approx(
        _batch_exec_s(simulate(w, five, off, rng=0))
    )


def _batch_exec_s(result) -> float:
    q = result.queries
    return float(q.loc[q["queue"] == "batch", "exec_s"].sum())


def test_generated_spill_matches_the_fleet_ratio():
    # Redset, fleet-wide hourly means: spilled / scanned p10 0.23, median 0.39,
    # p90 0.64 (workload-calibration.md). Three generated days per seed, three
    # seeds: each week-part lands inside the fleet's p10-p90 band.
    ratios = []
    for seed in (1, 2, 3):
        w = workload_pkg.generate_dpc_workload(
            workload_pkg.DPCWorkloadSpec(days=3), rng=seed
        )
        q = w.queries
        ratios.append(q["spilled_mb"].sum() / q["scanned_mb"].sum())
    assert all(0.23 <= r <= 0.64 for r in ratios), ratios
