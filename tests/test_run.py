"""``dpcsim.run.Run``: the library run equals the CLI's, one summary, the tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dpcsim import logs
from dpcsim.alarms import design_alarm_specs
from dpcsim.cli import main
from dpcsim.designs import load_design
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine import ClusterSettings
from dpcsim.outputs import MANIFEST
from dpcsim.run import Run
from dpcsim.schema import OUTCOMES, Workload, validate_workload

BASE_AT = pd.Timestamp("2025-05-26 00:00:00", tz="UTC")


def _workload(n=300, seed=4):
    """ELT inserts in batch and learners' selects in adhoc, busy enough to queue."""
    rng = np.random.default_rng(seed)
    elt = rng.random(n) < 0.4
    frame = pd.DataFrame(
        {
            "query_id": np.arange(1, n + 1, dtype=np.int64),
            "arrival_at": BASE_AT
            + pd.to_timedelta(np.sort(rng.integers(0, 1_800_000_000, n)), unit="us"),
            "statement_type": np.where(elt, "insert", "select"),
            "exec_s": rng.lognormal(2.5, 1.0, n),
            "user_id": np.where(elt, 101, 200),
            "user_name": np.where(elt, "IAMR:dpc-elt-stepfunctions", "learner1"),
            "user_groups": np.where(elt, "dpc_elt", "dpc_learners"),
            "query_group": np.where(elt, "elt", "default"),
        }
    )
    return Workload(queries=validate_workload(frame))


@pytest.fixture(scope="module")
def run_():
    return Run.simulate(
        _workload(), dpc_design_config(), rng=7, alarms=design_alarm_specs()
    )


def test_write_equals_the_cli_output_byte_for_byte(run_, tmp_path):
    logs.write_workload(_workload(), tmp_path / "w")
    wlm = tmp_path / "wlm.json"
    wlm.write_text(json.dumps(dpc_design_config().to_json()), encoding="utf-8")
    args = ["--workload", str(tmp_path / "w"), "--wlm", str(wlm), "--seed", "7"]
    args.append("--timeline")  # Run.write writes the timeline by default
    assert main(["--quiet", "simulate", *args, "--out", str(tmp_path / "cli")]) == 0
    run_.write(tmp_path / "lib")
    # The CLI's folder also holds the manifest of what it wrote (dpcsim.outputs).
    cli = sorted(p.name for p in (tmp_path / "cli").iterdir() if p.name != MANIFEST)
    assert cli == sorted(p.name for p in (tmp_path / "lib").iterdir())
    assert "alarm_summary.csv" in cli
    for name in cli:
        lib_bytes = (tmp_path / "lib" / name).read_bytes()
        assert (tmp_path / "cli" / name).read_bytes() == lib_bytes, name


def test_summary_keeps_paid_seconds_and_reconciles(run_):
    s = run_.summary.to_dict()
    engine = run_.records.summary["scaling"]
    assert s["scaling"]["paid_s"] == engine["paid_s"]
    assert s["scaling"]["free_credit_used_s"] + s["scaling"]["paid_s"] == (
        pytest.approx(s["scaling"]["billed_s"])
    )
    assert s["queries"]["arrived"] == sum(s["queries"][o] for o in OUTCOMES)
    assert s["seed"] == run_.seed == 7


def test_queue_table_agrees_with_the_records(run_):
    table = run_.queue_table().set_index("queue")
    q = run_.records.queries
    for name, rows in q.groupby("queue", observed=True):
        assert table.loc[name, "arrived"] == len(rows)
        assert table.loc[name, "on_cs"] == int((rows["ran_on"] == "cs").sum())
        p90 = np.percentile(rows["queue_s"].to_numpy(float), 90)
        assert table.loc[name, "wait_p90_s"] == pytest.approx(p90)
    assert table.loc["(all)", "arrived"] == len(q)


def test_scaling_and_alarm_tables(run_):
    scaling = run_.scaling_table()
    offsets = (scaling["start_at"] - BASE_AT).dt.total_seconds()
    np.testing.assert_allclose(offsets, scaling["start_s"], atol=1e-6)
    alarms = run_.alarm_table()
    assert set(alarms["alarm_name"]) == {a.name for a in design_alarm_specs()}


def test_a_generator_seed_is_recorded_and_reproduces(run_):
    w = _workload(n=60)
    first = Run.simulate(w, dpc_design_config(), rng=np.random.default_rng(1))
    again = Run.simulate(w, dpc_design_config(), rng=first.seed)
    pd.testing.assert_frame_equal(first.records.queries, again.records.queries)
    assert first.alarm_run is None


def test_design_gives_the_alarms_and_cluster_id():
    design = load_design(None)
    run_ = Run.simulate(
        _workload(n=60), design.wlm, ClusterSettings(), rng=0, design=design
    )
    assert run_.alarm_run is not None
    dims = run_.datapoints["dimensions"].astype(str)
    assert dims.str.contains("ClusterIdentifier=dpc-learning").any()
    other = Run.simulate(
        _workload(n=60), design.wlm, rng=0, cluster_id="other", alarms=()
    )
    assert other.alarm_run is None
    assert not other.datapoints["dimensions"].astype(str).str.contains("dpc-").any()


def test_timestamps_and_scaling_totals(run_):
    at = run_.timestamps([0.0, 3600.0], "Asia/Tokyo")
    assert at.iloc[0] == BASE_AT
    assert str(at.dt.tz) == "Asia/Tokyo"
    assert (at.iloc[1] - at.iloc[0]).total_seconds() == 3600.0
    totals = run_.scaling_totals()
    assert totals["paid_s"] + totals["free_credit_used_s"] == pytest.approx(
        totals["billed_s"]
    )
    assert totals["list_price_usd"] >= totals["cost_usd"]


def test_waited_share_counts_queries_that_queued(run_):
    table = run_.queue_table().set_index("queue")
    q = run_.records.queries
    share = 100 * (q["queue_s"] > 0).mean()
    assert table.loc["(all)", "waited_pct"] == pytest.approx(share)
