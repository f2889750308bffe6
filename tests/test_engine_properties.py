"""Property tests of the engine on random small workloads and configurations.

Hypothesis draws up to 40 queries (ties in arrival, zero and long durations,
multi-slot queries, several statement types) and one to three manual queues
(random slots, SQA on or off, Concurrency Scaling on or off, optionally a WLM
timeout). For every draw the records and the timeline must satisfy invariants
that hold whatever the mechanism: no start before arrival, never more running
than slots, every query ends exactly once, Little's law on the sample path, and
determinism (identical frames and parquet bytes for the same seed).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dpcsim.engine as engine
import dpcsim.wlm as wlm
from dpcsim.schema import Workload, validate_workload

BASE_AT = pd.Timestamp("2024-05-01 00:00:00", tz="UTC")
OUTCOMES = {"completed", "aborted", "canceled", "failed"}
TYPES = ("select", "select", "ctas", "insert", "copy", "vacuum")
PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def scenarios(draw):
    """A (workload, config, settings) triple small enough to reason about."""
    n_queues = draw(st.integers(1, 3))
    slots = draw(st.lists(st.integers(1, 4), min_size=n_queues, max_size=n_queues))
    timeout = draw(st.sampled_from([0, 0, 2_000, 5_000]))
    action = draw(st.sampled_from([None, "log", "hop", "abort"]))
    predicate = wlm.QMRPredicate(
        metric_name="query_execution_time", operator=">", value=4
    )
    # Group "shared" matches every non-default queue, so timeouts and QMR hops
    # from the first queue have a next matching queue to hop to.
    queues = tuple(
        wlm.QueueConfig(
            name=f"q{i}",
            query_concurrency=slots[i],
            query_group=() if i == n_queues - 1 else (f"g{i}", "shared"),
            concurrency_scaling=draw(st.sampled_from(["off", "auto"])),
            max_execution_time=timeout if i < n_queues - 1 else 0,
            rules=()
            if action is None
            else (
                wlm.QMRRule(
                    rule_name=f"long{i}", predicate=(predicate,), action=action
                ),
            ),
        )
        for i in range(n_queues)
    )
    sqa = wlm.SQAConfig(max_execution_time=2000) if draw(st.booleans()) else None
    config = wlm.WLMConfig(queues=queues, sqa=sqa)
    cluster = engine.ClusterSettings(
        max_concurrency_scaling_clusters=draw(st.integers(0, 2)),
        cs_start_delay_s=draw(st.sampled_from([0.0, 5.0])),
        cs_idle_stop_s=30.0,
        sqa_slots=draw(st.integers(1, 3)),
        sqa_predictor=draw(st.sampled_from(["perfect", "noisy"])),
        sqa_noise_sigma=1.5,
    )
    n = draw(st.integers(1, 40))
    arrival_s = draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    exec_s = draw(
        st.lists(
            st.one_of(st.just(0.0), st.floats(0.01, 30.0), st.sampled_from([1.0, 8.0])),
            min_size=n,
            max_size=n,
        )
    )
    frame = pd.DataFrame(
        {
            "query_id": np.arange(1, n + 1, dtype=np.int64),
            "arrival_at": BASE_AT + pd.to_timedelta(np.sort(arrival_s), unit="s"),
            "statement_type": draw(
                st.lists(st.sampled_from(TYPES), min_size=n, max_size=n)
            ),
            "exec_s": exec_s,
            "user_name": "u",
            "user_groups": "analysts",
            "query_group": draw(
                st.lists(
                    st.sampled_from(
                        [f"g{i}" for i in range(n_queues)] + ["default", "shared"]
                    ),
                    min_size=n,
                    max_size=n,
                )
            ),
            "slot_count": draw(
                st.lists(st.integers(1, min(slots)), min_size=n, max_size=n)
            ),
        }
    )
    return Workload(queries=validate_workload(frame)), config, cluster


def _queries(result):
    return result.queries.sort_values("query_id").reset_index(drop=True)


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_query_ends_exactly_once_and_never_starts_early(scenario):
    workload, config, cluster = scenario
    out = _queries(engine.simulate(workload, config, cluster, rng=1))
    assert out["query_id"].is_unique
    assert sorted(out["query_id"]) == sorted(workload.queries["query_id"])
    assert set(out["outcome"]) <= OUTCOMES
    started = out["start_s"].notna()
    assert (out["start_s"][started] >= out["arrival_s"][started] - 1e-9).all()
    assert (out["start_s"][started] <= out["end_s"][started] + 1e-9).all()
    assert (out["queue_s"] >= -1e-9).all()
    assert (out["exec_s"] >= 0).all()
    # A query that never ran was canceled or aborted while queued (e.g. a
    # statement_timeout), never "completed".
    assert not (~started & (out["outcome"] == "completed")).any()
    # The engine's accounting identity: end = arrival + total wait + total run.
    np.testing.assert_allclose(
        out["end_s"], out["arrival_s"] + out["queue_s"] + out["exec_s"], atol=1e-6
    )


def _max_concurrent(starts, ends, weights):
    """Largest weighted number of half-open intervals [start, end) alive at once."""
    times = np.concatenate([starts, ends])
    delta = np.concatenate([weights, -weights])
    # At equal times a departure (negative delta) frees its slot before a start.
    order = np.lexsort((delta, times))
    return int(np.max(np.cumsum(delta[order]), initial=0))


@PROPERTY_SETTINGS
@given(scenarios())
def test_running_never_exceeds_slots(scenario):
    workload, config, cluster = scenario
    result = engine.simulate(workload, config, cluster, rng=2)
    out = _queries(result)
    # From the records: queries that ran once, on main, in their final queue.
    simple = (
        (out["ran_on"] == "main")
        & ~out["sqa_evicted"]
        & (out["hops"] == 0)
        & (out["attempts"] == 1)
        & (out["outcome"] == "completed")
    )
    slot_count = workload.queries.set_index("query_id")["slot_count"]
    for index, queue in enumerate(config.queues):
        rows = out[simple & (out["queue"] == queue.name)]
        weights = slot_count.loc[rows["query_id"]].to_numpy()
        peak = _max_concurrent(
            rows["start_s"].to_numpy(), rows["end_s"].to_numpy(), weights
        )
        assert peak <= config.queues[index].query_concurrency, queue.name
    # From the timeline: queries on the main cluster never exceed the slots.
    tl = result.timeline
    limits = {q.name: q.query_concurrency for q in config.queues}
    limits["sqa"] = cluster.sqa_slots
    for name, rows in tl.groupby("queue", sort=True):
        if name in limits:
            main = rows["running"] - rows["running_cs"]
            assert (main <= limits[name]).all(), name
    assert (tl["queued"] >= 0).all()
    assert (tl["running_cs"] <= tl["running"]).all()
    assert (tl["cs_clusters"] <= cluster.max_concurrency_scaling_clusters).all()
    assert tl["t_s"].is_monotonic_increasing


def _integral_in_system(arrival_s, end_s, t0, t1):
    """Integral of N(t) over [t0, t1] by sweeping arrival and end events [query-s]."""
    times = np.concatenate([arrival_s, end_s, [t0, t1]])
    delta = np.concatenate([np.ones(len(arrival_s)), -np.ones(len(end_s)), [0, 0]])
    order = np.argsort(times, kind="stable")
    times, level = times[order], np.cumsum(delta[order])
    widths = np.diff(np.clip(times, t0, t1))
    return float(np.sum(level[:-1] * widths))


@PROPERTY_SETTINGS
@given(scenarios(), st.floats(0.1, 0.9))
def test_littles_law_on_the_sample_path(scenario, window_fraction):
    workload, config, cluster = scenario
    result = engine.simulate(workload, config, cluster, rng=3)
    out = _queries(result)
    arrival_s, end_s = out["arrival_s"].to_numpy(), out["end_s"].to_numpy()
    horizon_s = max(float(end_s.max()), 1e-9)
    # Whole horizon: everyone arrives and leaves inside [0, T], so L = lam * W exactly.
    area = _integral_in_system(arrival_s, end_s, 0.0, horizon_s)
    lam, mean_w = len(out) / horizon_s, float(np.mean(end_s - arrival_s))
    assert area / horizon_s == pytest.approx(lam * mean_w, rel=1e-9, abs=1e-9)
    # A window [0, H]: sojourns clipped at the boundary, lambda counts arrivals in it.
    h = window_fraction * horizon_s
    inside = np.clip(end_s, None, h) - np.clip(arrival_s, None, h)
    arrived = arrival_s < h
    area_h = _integral_in_system(arrival_s, end_s, 0.0, h)
    if arrived.any():
        lam_h, w_h = arrived.sum() / h, float(inside[arrived].mean())
        assert area_h / h == pytest.approx(lam_h * w_h, rel=1e-9, abs=1e-9)
    # The timeline's queued + running, summed over queues, integrates to the same.
    assert _timeline_area(result) == pytest.approx(area, rel=1e-6, abs=1e-6)


def _timeline_area(result):
    """Integral over time of queued + running summed over every queue [query-s]."""
    tl = result.timeline.reset_index(drop=True)
    times = np.unique(tl["t_s"].to_numpy())
    if len(times) < 2:
        return 0.0
    # Level of each queue after the last change at or before each instant.
    total = np.zeros(len(times))
    for _, rows in tl.groupby("queue", sort=True):
        last = rows.groupby("t_s", sort=True).tail(1)
        level = (last["queued"] + last["running"]).to_numpy(dtype=np.float64)
        idx = np.searchsorted(last["t_s"].to_numpy(), times, side="right") - 1
        total += np.where(idx >= 0, level[np.clip(idx, 0, None)], 0.0)
    return float(np.sum(total[:-1] * np.diff(times)))


def _parquet_bytes(frame):
    sink = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


@settings(PROPERTY_SETTINGS, max_examples=15)
@given(scenarios(), st.integers(0, 2**32 - 1))
def test_same_inputs_and_seed_give_identical_output(scenario, seed):
    workload, config, cluster = scenario
    first = engine.simulate(workload, config, cluster, rng=seed)
    second = engine.simulate(workload, config, cluster, rng=seed)
    for name in ("queries", "timeline", "scaling"):
        a, b = getattr(first, name), getattr(second, name)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert _parquet_bytes(a) == _parquet_bytes(b)
    assert first.summary == second.summary
    assert first.start_at == second.start_at
