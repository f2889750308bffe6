"""Outcome metrics read from the engine's codes equal those read from strings.

A sweep reduces each run with :func:`dpcsim.experiments.outcomes.outcome_metrics`,
which counts the engine's per-query codes when the records are fresh. The
reference below is the string-based reduction the codes replace; runs with QMR
aborts, timeouts, SQA and scaling must give identical metrics, and a records
frame changed after the run (no matching codes) takes the string path.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dpcsim.designs import DPC_ELT, load_design
from dpcsim.engine import ClusterSettings, SimResult
from dpcsim.experiments.outcomes import EltWindow, outcome_metrics
from dpcsim.run import Run
from dpcsim.wlm import QMRPredicate, QMRRule
from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload
from dpcsim.workload.whatif import elt_mask


def _reference(run: Run, queues) -> dict[str, float]:
    """The string reduction of the queue, outcome and QMR columns."""
    q = run.records.queries
    queue = q["queue"].astype(str).to_numpy()
    wait = q["queue_s"].to_numpy(dtype=np.float64)
    out = {}
    for name in queues:
        w = wait[(queue == name) & np.isfinite(wait)]
        for p in (50, 95, 99):
            out[f"wait_p{p}_s.{name}"] = float(np.percentile(w, p)) if w.size else 0.0
    outcome = q["outcome"].astype(str).to_numpy()
    n = max(len(q), 1)
    failed = np.isin(outcome, ("aborted", "canceled", "failed"))
    out["failure_ratio"] = float(failed.sum() / n)
    out["wlm_failure_ratio"] = float((outcome == "aborted").sum() / n)
    actions = q["qmr_actions"].astype(str).to_numpy()
    aborted = (outcome == "aborted") & (np.char.find(actions.astype(str), "abort") >= 0)
    out["qmr_aborted"] = float(aborted.sum())
    out["canceled"] = float((outcome == "canceled").sum())
    return out


@pytest.fixture(scope="module")
def runs():
    days = generate_dpc_workload(DPCWorkloadSpec(days=2), rng=20250611)
    design = load_design("dpc")
    tight = QMRRule(
        rule_name="adhoc_abort_20s",
        predicate=(
            QMRPredicate(metric_name="query_execution_time", operator=">", value=20),
        ),
        action="abort",
    )
    base = design.wlm
    queues = list(base.queues)
    adhoc = next(i for i, qc in enumerate(queues) if qc.name == "adhoc")
    batch = next(i for i, qc in enumerate(queues) if qc.name == "batch")
    queues[adhoc] = replace(queues[adhoc], rules=(tight,), query_concurrency=2)
    queues[batch] = replace(queues[batch], max_execution_time=30_000)
    harsh = replace(base, queues=tuple(queues))
    out = []
    for config, settings in (
        (base, ClusterSettings()),
        (harsh, ClusterSettings()),
        (harsh, ClusterSettings(max_concurrency_scaling_clusters=0)),
    ):
        run = Run.simulate(days, config, settings, design=design, rng=4)
        out.append((run, config.queue_names))
    ids = days.queries["query_id"].to_numpy()[elt_mask(days.queries, DPC_ELT)]
    return out, ids


def test_codes_give_the_string_metrics(runs):
    found, ids = runs
    seen = {"aborted": 0.0, "canceled": 0.0}
    for run, queues in found:
        got = outcome_metrics(run, queues, EltWindow(), ids)
        want = _reference(run, queues)
        assert {k: got[k] for k in want} == want
        seen["aborted"] += got["qmr_aborted"]
        seen["canceled"] += got["canceled"]
    # The harsh configurations do abort and cancel: the counts are exercised.
    assert seen["aborted"] > 0
    assert seen["canceled"] > 0


def test_a_changed_frame_takes_the_string_path(runs):
    found, ids = runs
    run, queues = found[1]
    fewer = run.records.queries.iloc[::2].reset_index(drop=True)
    rec = run.records
    # The records' frame filtered after the run: its codes no longer match.
    records = SimResult(
        fewer, rec.timeline, rec.scaling, rec.summary, rec.start_at, codes=rec.codes
    )
    changed = replace(run, records=records)
    got = outcome_metrics(changed, queues, EltWindow(), ids)
    want = _reference(changed, queues)
    assert {k: got[k] for k in want} == want
