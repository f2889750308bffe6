"""A replay under the recording configuration reproduces the log it recorded.

The bundled sample was recorded by :func:`dpcsim.observe.observed_wlm_columns`
(solo demands, open loop); replaying its workload with the default settings
(observed demands turned back into solo work, learned SQA predictor, spill
model) must give back every logged queue wait, open loop and session-aware.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dpcsim.engine as engine
import dpcsim.wlm as wlm
from dpcsim import logs
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.engine.inputs import prepare
from dpcsim.engine.queues import QueueTables
from dpcsim.engine.simulate import in_memory_demand_s, solo_demand_s
from dpcsim.observe import observed_wlm_columns
from dpcsim.schema import Workload
from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload, observe_wlm


def routed_queue(queries: pd.DataFrame, config: wlm.WLMConfig) -> np.ndarray:
    """Engine queue index of each row, as routed under ``config``."""
    arrays = prepare(queries, config, None)
    out = np.empty(arrays.n, np.int64)
    pos = pd.Index(queries["query_id"]).get_indexer(arrays.query_id)
    out[pos] = np.minimum(arrays.queue, len(config.queues) - 1)
    return out


SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"
BASE_AT = pd.Timestamp("2024-01-01 00:00:00", tz="UTC")


def _queue_error_s(
    workload: Workload, config: wlm.WLMConfig, replay: str
) -> np.ndarray:
    result = engine.simulate(
        workload,
        config,
        engine.ClusterSettings(),
        rng=0,
        replay=replay,  # type: ignore[arg-type]
    )
    sim = result.queries.drop_duplicates("query_id").set_index("query_id").sort_index()
    logged = workload.queries.set_index("query_id").sort_index()
    return np.abs(sim["queue_s"].to_numpy() - logged["queue_s"].to_numpy())


@pytest.mark.parametrize("replay", ["open", "session"])
def test_sample_replays_exactly_under_its_recording_design(replay: str) -> None:
    sample = logs.read_workload(SAMPLE_DIR)
    err = _queue_error_s(sample, dpc_design_config(), replay)
    bad = int((err > 1e-3).sum())
    assert bad == 0, f"{bad} queries' waits differ, up to {np.nanmax(err):.3f} s"


@pytest.mark.parametrize(("seed", "kept"), [(7, False), (9, True)])
def test_small_generated_log_replays_exactly(
    seed: int, kept: bool, tmp_path: Path
) -> None:
    # Two generated days recorded the way the sample is, then replayed with
    # the defaults: SQA (taken from the waiting line, one eviction: restarted
    # with seed 7, reassigned with its work with seed 9), Concurrency Scaling
    # and spill all occur, and every wait comes back.
    config = dpc_design_config()
    settings = engine.ClusterSettings()
    spec = replace(DPCWorkloadSpec(), days=2)
    raw = generate_dpc_workload(spec, seed)
    log = observe_wlm(
        raw, lambda w: observed_wlm_columns(w, config, settings, rng=seed)
    )
    q = log.queries
    assert int((q["service_class"] == 14).sum()) > 100
    assert int(q["ran_on_cs"].sum()) > 50
    evicted = np.isfinite(q["sqa_exec_s"].to_numpy())
    assert int(evicted.sum()) == 1
    after_s = (q["queue_s"] - q["sqa_queue_s"]).to_numpy()[evicted]
    assert bool(after_s[0] < 1e-6) is kept
    slot_mem = np.asarray(QueueTables.from_config(config, settings).slot_mem_mb)
    held = slot_mem[routed_queue(q, config)] * q["slot_count"].to_numpy()
    in_queue = (q["service_class"] != 14).to_numpy()
    assert int(((q["mem_mb"].to_numpy() > held) & in_queue).sum()) > 10
    for replay in ("open", "session"):
        err = _queue_error_s(log, config, replay)
        assert int((err > 1e-3).sum()) == 0, replay
    # The exports log the eviction as two STL_WLM_QUERY attempts, and reading
    # them back folds it into the same row, to the microsecond.
    back = logs.ingest(list(logs.write_exports(log, tmp_path).values()))
    got = back.workload.queries.set_index("query_id").sort_index()
    want = q.set_index("query_id").sort_index()
    assert got.index.equals(want.index)
    cols = ["sqa_queue_s", "sqa_exec_s", "queue_s"]
    np.testing.assert_allclose(got[cols], want[cols], rtol=0, atol=1e-6)
    one = want.index[evicted]
    np.testing.assert_allclose(
        got.loc[one, "exec_s"], want.loc[one, "exec_s"], atol=1e-6
    )


def test_cache_hit_in_a_session_keeps_the_next_arrival() -> None:
    # Session 1: a cache hit logged at 0 for 0.5 s, then a select at 2 s. The
    # replay serves the hit at once, so its 0.5 s is think time: the select
    # still arrives at 2 s, not 1.5 s.
    frame = pd.DataFrame(
        {
            "query_id": np.array([1, 2], dtype=np.int64),
            "arrival_at": BASE_AT + pd.to_timedelta([0, 2_000_000], unit="us"),
            "statement_type": "select",
            "exec_s": [0.5, 1.0],
            "queue_s": [0.0, 0.0],
            "cache_hit": [True, False],
            "user_name": "u",
            "user_groups": "etl",
            "session_id": pd.array([1, 1], dtype="Int64"),
        }
    )
    q = wlm.QueueConfig(name="etl", query_concurrency=2, user_group=("etl",))
    config = wlm.WLMConfig(queues=(q, wlm.QueueConfig(name="default")), sqa=None)
    result = engine.simulate(frame, config, engine.ClusterSettings(), replay="session")
    arrival = result.queries.set_index("query_id")["arrival_s"]
    assert arrival.loc[2] - arrival.loc[1] == pytest.approx(2.0, abs=1e-9)


def test_sqa_query_is_not_de_spilled() -> None:
    # A select that ran on SQA (service class 14) wanting more memory than an
    # adhoc slot holds: SQA ran it without the spill model, so its observed
    # time is its solo work, not that divided by a spill factor.
    frame = pd.DataFrame(
        {
            "query_id": np.array([1], dtype=np.int64),
            "arrival_at": [BASE_AT],
            "statement_type": "select",
            "exec_s": [1.0],
            "queue_s": [0.0],
            "service_class": pd.array([14], dtype="Int64"),
            "mem_mb": [1e9],
            "user_name": "u",
            "user_groups": "etl",
        }
    )
    q = wlm.QueueConfig(name="etl", query_concurrency=2, user_group=("etl",))
    config = wlm.WLMConfig(queues=(q, wlm.QueueConfig(name="default")), sqa=None)
    settings = engine.ClusterSettings()
    arrays = prepare(frame, config, None)
    tables = QueueTables.from_config(config, settings)
    solo = solo_demand_s(arrays, settings)
    out = in_memory_demand_s(solo, arrays, frame, None, tables, settings)
    assert out[0] == pytest.approx(solo[0])
    assert out[0] == pytest.approx(1.0)
