"""The streaming replay equals ``simulate()`` exactly, in bounded windows.

Workloads come in bursts separated by quiet gaps of random length (some too
short for the system to empty), so windows cut at regeneration points, grow
when there is none, and re-run their tail. Every mechanism that carries state
or could leak across a cut is on in some scenario: SQA (fixed and dynamic
maximum; perfect, noisy and learned predictors), Concurrency Scaling with start
delay, idle stop and billing against free credits, QMR rules, WLM timeouts and
hops, ``statement_timeout``, multi-slot queries, result-cache hits, logged
aborts, and auto WLM. Equality is exact (``check_exact``) on every frame and on
the summary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dpcsim.engine as engine
import dpcsim.wlm as wlm
from dpcsim.engine.sqa import noise_factors
from dpcsim.errors import InputError
from dpcsim.schema import Workload, validate_workload

#: These tests check the fixed-demand engine: [contention] model = "none".
pytestmark = pytest.mark.usefixtures("fixed_demands")

BASE_AT = pd.Timestamp("2024-05-01 00:03:17.25", tz="UTC")
TYPES = ("select", "select", "select", "ctas", "insert", "copy", "vacuum", "unload")


def _workload(seed: int, n: int) -> pd.DataFrame:
    """Bursty arrivals (integer-second ties included) with mixed statements."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(2.0, n)
    quiet = rng.random(n) < 0.04
    gaps[quiet] += rng.choice([20.0, 120.0, 600.0], quiet.sum())
    arrival = np.cumsum(gaps)
    arrival[rng.random(n) < 0.1] //= 1.0  # ties at whole seconds
    arrival = np.maximum.accumulate(arrival)
    frame = pd.DataFrame(
        {
            "query_id": rng.permutation(np.arange(10, 10 + n, dtype=np.int64)),
            "arrival_at": BASE_AT + pd.to_timedelta(np.round(arrival * 1e6), unit="us"),
            "statement_type": rng.choice(TYPES, n),
            "exec_s": np.where(rng.random(n) < 0.05, 0.0, rng.lognormal(0.5, 1.3, n)),
            "user_name": "u",
            "user_groups": rng.choice(["etl", "analysts", "ops", "none"], n),
            "query_group": rng.choice(["", "adhoc", "batch"], n),
            "slot_count": rng.choice([1, 1, 1, 2], n),
            "fingerprint": rng.choice(["fa", "fb", "fc", "fd", None], n),
            "cache_hit": rng.random(n) < 0.05,
            "aborted": rng.random(n) < 0.03,
            "mem_mb": rng.choice([100.0, 4000.0, 90000.0], n),
        }
    )
    # Logged causes: the statement's own aborts fail again, the cluster's are
    # left to the configuration under test, in both paths alike.
    causes = rng.choice(["user_or_error", "qmr_abort", "wlm_timeout"], n)
    frame["stop_cause"] = pd.array(
        np.where(frame["aborted"], causes, None), dtype="string"
    )
    return validate_workload(frame)


def _config(auto: bool, sqa_ms: int) -> wlm.WLMConfig:
    rule = wlm.QMRRule(
        rule_name="long",
        predicate=(
            wlm.QMRPredicate(metric_name="query_execution_time", operator=">", value=9),
        ),
        action="log" if auto else "hop",
    )
    kind = "auto" if auto else "manual"

    def slots(n: int) -> dict[str, int]:
        return {} if auto else {"query_concurrency": n}

    queues = (
        wlm.QueueConfig(
            name="batch", queue_type=kind, **slots(3), user_group=("etl",),
            query_group=("batch",), concurrency_scaling="auto", rules=(rule,),
            max_execution_time=0 if auto else 6_000,
            priority="high" if auto else "normal",
        ),
        wlm.QueueConfig(
            name="adhoc", queue_type=kind, **slots(2),
            user_group=("analysts", "etl"), query_group=("adhoc",),
            concurrency_scaling="auto", priority="low" if auto else "normal",
        ),
        wlm.QueueConfig(name="default", queue_type=kind, **slots(2)),
    )  # fmt: skip
    return wlm.WLMConfig(queues=queues, sqa=wlm.SQAConfig(max_execution_time=sqa_ms))


def _settings(predictor: str, **extra: object) -> engine.ClusterSettings:
    return engine.ClusterSettings(
        node_type="ra3.4xlarge",
        max_concurrency_scaling_clusters=2,
        cs_start_delay_s=4.0,
        cs_idle_stop_s=25.0,
        cs_free_credit_start_s=30.0,
        sqa_slots=1,
        sqa_predictor=predictor,
        auto_max_concurrency=4,
        **extra,  # type: ignore[arg-type]
    )


def _stream(frame, config, cluster, *, chunk, window, seed=5, **kw):
    parts: list[engine.SimResult] = []
    chunks = (frame.iloc[k : k + chunk] for k in range(0, len(frame), chunk))
    stats: dict[str, int] = {}
    summary = engine.simulate_stream(
        chunks, config, cluster, sink=parts.append, rng=seed, window=window,
        stats=stats, **kw,
    )  # fmt: skip
    joined = {
        name: pd.concat([getattr(p, name) for p in parts])
        for name in ("queries", "timeline", "scaling")
    }
    return joined, summary, stats, parts


def _assert_equal(frame, config, cluster, *, chunk, window, **kw):
    want = engine.simulate(Workload(queries=frame), config, cluster, rng=5)
    got, summary, stats, parts = _stream(
        frame, config, cluster, chunk=chunk, window=window, **kw
    )
    for name, part in got.items():
        pd.testing.assert_frame_equal(part, getattr(want, name), check_exact=True)
    assert summary == want.summary
    assert all(p.start_at == want.start_at for p in parts)
    return stats, want


SCENARIOS = [
    # (seed, auto WLM, SQA max [ms], predictor, statement_timeout [ms], memory)
    (1, False, 2_000, "perfect", 0, "off"),
    (2, False, 3_000, "noisy", 40_000, "spill"),
    (3, False, 0, "learned", 0, "off"),
    (4, True, 8_000, "learned", 30_000, "off"),
    (5, True, 0, "noisy", 0, "off"),
]


@pytest.mark.parametrize(
    ("seed", "auto", "sqa_ms", "pred", "stmt_ms", "mem"), SCENARIOS
)
def test_stream_equals_simulate(seed, auto, sqa_ms, pred, stmt_ms, mem):
    frame = _workload(seed, 1_500)
    config = _config(auto, sqa_ms)
    cluster = _settings(pred, statement_timeout_ms=stmt_ms, memory_model=mem)
    max_s = engine.dynamic_sqa_max_s([frame.iloc[:700], frame.iloc[700:]], config)
    stats, want = _assert_equal(
        frame, config, cluster, chunk=97, window=60, sqa_max_s=max_s
    )
    # The scenario really exercises the mechanisms and the window machinery.
    s = want.summary
    assert s["scaling"]["activations"] > 0
    assert s["sqa"]["runs"] > 0
    assert s["canceled"] + s["hops"] + s["qmr_actions"] > 0
    assert stats["windows"] > 10


def test_plain_path_and_window_sizes():
    """Chunk and window sizes do not change a byte; no-SQA runs take the plain path."""
    frame = _workload(11, 2_000)
    queues = (
        wlm.QueueConfig(name="batch", query_concurrency=2, user_group=("etl",)),
        wlm.QueueConfig(name="default", query_concurrency=2),
    )
    config = wlm.WLMConfig(queues=queues)
    cluster = engine.ClusterSettings()
    reruns = []
    for chunk, window in ((1, 7), (333, 50), (5_000, 100_000)):
        stats, _ = _assert_equal(frame, config, cluster, chunk=chunk, window=window)
        reruns.append(stats["reruns"])
    # Seven arrivals are often all one busy period: the window had to grow.
    assert reruns[0] > 0
    assert reruns[2] == 0


def test_memory_is_bounded_by_the_window():
    """A long run holds at most a window's worth of queries at once."""
    frame = pd.concat(
        [_workload(7, 1_000)]
        + [
            _workload(7, 1_000).assign(
                query_id=lambda f, k=k: f["query_id"] + 10_000 * k,
                arrival_at=lambda f, k=k: f["arrival_at"] + pd.Timedelta(days=k),
            )
            for k in range(1, 6)
        ],
        ignore_index=True,
    )
    config = _config(False, 2_000)
    stats, _ = _assert_equal(frame, config, _settings("learned"), chunk=250, window=200)
    # 6,000 queries, never more than 2 x 200 held (doubled once at most: the
    # workload's busy periods are shorter than 200 queries).
    assert stats["max_held"] <= 400
    assert stats["windows"] >= 6_000 // 400


def test_noise_draws_do_not_depend_on_the_cut():
    whole = noise_factors(99, 0, 1_000, 0.5)
    pieces = np.concatenate(
        [noise_factors(99, a, b - a, 0.5) for a, b in ((0, 1), (1, 400), (400, 1_000))]
    )
    np.testing.assert_array_equal(whole, pieces)
    z = np.log(noise_factors(3, 0, 200_000, 1.0))
    # Standard normal: mean within 5 s.e., variance within 5 s.e. (n = 200,000).
    assert abs(z.mean()) < 5 / np.sqrt(2e5)
    assert abs(z.var() - 1.0) < 5 * np.sqrt(2 / 2e5)


def test_dynamic_sqa_needs_a_maximum():
    frame = _workload(1, 50)
    with pytest.raises(ValueError, match="sqa_max_s"):
        engine.simulate_stream([frame], _config(False, 0), sink=lambda r: None)


def test_chunks_out_of_order_are_rejected():
    frame = _workload(1, 100)
    chunks = [frame.iloc[50:], frame.iloc[:50]]
    with pytest.raises(InputError, match=r"chunk 2.*arrival order"):
        engine.simulate_stream(chunks, _config(False, 2_000), sink=lambda r: None)


def test_empty_stream():
    seen: list[engine.SimResult] = []
    empty = _workload(1, 10).iloc[:0]
    summary = engine.simulate_stream([empty], _config(False, 2_000), sink=seen.append)
    want = engine.simulate(Workload(queries=empty), _config(False, 2_000))
    assert seen == []
    assert summary == want.summary


def test_parquet_sink_bytes(tmp_path):
    """Same bytes as writing the whole frames, whatever the window; small groups too."""
    import pyarrow.parquet as pq

    from dpcsim.canonical import write_parquet
    from dpcsim.run_stream import ParquetSink

    frame = _workload(3, 1_200)
    config, cluster = _config(False, 2_000), _settings("perfect")
    want = engine.simulate(Workload(queries=frame), config, cluster, rng=5)
    outs = {}
    for label, window, rows in (("a", 40, 1 << 20), ("b", 5_000, 1 << 20),
                                ("c", 40, 100), ("d", 333, 100)):  # fmt: skip
        out = tmp_path / label
        out.mkdir()
        with ParquetSink(out, row_group_rows=rows) as sink:
            engine.simulate_stream([frame], config, cluster, sink=sink, rng=5,
                                   window=window)  # fmt: skip
        outs[label] = {n: (out / f"{n}.parquet").read_bytes() for n in
                       ("queries", "timeline", "scaling")}  # fmt: skip
    for name in ("queries", "timeline", "scaling"):
        whole = write_parquet(getattr(want, name), tmp_path / f"{name}.parquet")
        assert outs["a"][name] == outs["b"][name] == whole.read_bytes()
        assert outs["c"][name] == outs["d"][name]
        back = pq.read_table(tmp_path / "c" / f"{name}.parquet")
        pd.testing.assert_frame_equal(back.to_pandas(), getattr(want, name))
    meta = pq.ParquetFile(tmp_path / "c" / "queries.parquet").metadata
    assert meta.num_row_groups == 12


@pytest.mark.parametrize(
    ("seed", "auto", "sqa_ms", "pred", "stmt_ms", "mem"), SCENARIOS
)
def test_stream_equals_simulate_with_shared_capacity(
    seed, auto, sqa_ms, pred, stmt_ms, mem
):
    # Solo demands: the clocks are idle at every cut (V restarts at 0 there in
    # both runs), so the streaming replay stays exact under contention.
    frame = _workload(seed, 1_500)
    config = _config(auto, sqa_ms)
    cluster = _settings(
        pred,
        statement_timeout_ms=stmt_ms,
        memory_model=mem,
        contention_model="usl",
        contention_sigma=0.1,
        contention_kappa=0.02,
        contention_demand="solo",
    )
    max_s = engine.dynamic_sqa_max_s([frame.iloc[:700], frame.iloc[700:]], config)
    stats, want = _assert_equal(
        frame, config, cluster, chunk=97, window=60, sqa_max_s=max_s
    )
    assert stats["windows"] > 10
    assert want.summary["sqa"]["runs"] > 0


@pytest.mark.parametrize(("seed", "auto", "scale"), [(3, False, 1.0), (4, True, 1.5)])
def test_stream_converts_observed_times_to_the_same_bits(seed, auto, scale):
    # demand = "observed" (the default): logged times become solo work against
    # the logged concurrency. The windowed conversion continues the whole
    # log's running integral and cuts only where no emitted query's logged
    # execution can overlap a later window's, so every frame is equal to the
    # last bit: logged waits (running past the cut), evicted SQA attempts,
    # runs logged on scaling clusters, spill from known memory.
    frame = _workload(seed, 1_500)
    rng = np.random.default_rng(seed + 100)
    n = len(frame)
    waited = rng.random(n) < 0.4
    frame["queue_s"] = np.where(waited, rng.exponential(20.0, n), 0.0)
    evicted = rng.random(n) < 0.05
    frame["sqa_queue_s"] = np.where(evicted, 0.5 * frame["queue_s"], np.nan)
    frame["sqa_exec_s"] = np.where(evicted, rng.exponential(2.0, n), np.nan)
    frame["ran_on_cs"] = rng.random(n) < 0.05
    frame = validate_workload(frame)
    config = _config(auto, 0)
    cluster = _settings(
        "perfect",
        contention_model="usl",
        contention_sigma=0.1,
        contention_kappa=0.02,
        contention_demand="observed",
        work_scale=scale,  # data growth: the solo demands scaled
    )
    # The first pass converts the log too (the maximum is the solo demands').
    parts = [frame.iloc[k : k + 97] for k in range(0, n, 97)]
    max_s = engine.dynamic_sqa_max_s(parts, config, cluster)
    assert max_s != engine.dynamic_sqa_max_s(parts, config)
    stats, want = _assert_equal(
        frame, config, cluster, chunk=97, window=60, sqa_max_s=max_s
    )
    assert stats["windows"] > 10
    assert want.summary["sqa"]["max_s"] == max_s
    # The log's concurrency changed the demands: not a solo-demand run.
    solo = engine.simulate(
        Workload(queries=frame),
        config,
        _settings("perfect", contention_model="usl", contention_sigma=0.1,
                  contention_kappa=0.02, contention_demand="solo"),
        rng=5,
    )  # fmt: skip
    assert not want.queries["exec_s"].equals(solo.queries["exec_s"])
