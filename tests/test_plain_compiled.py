"""The compiled plain loops give the Python loops' records to the bit.

The inputs are built to hit what an exact replay gets wrong first: arrivals
and ends at the same instant (times on a 0.25 s grid), ends tied in virtual
time, queries of several slots behind narrower ones, queries wider than their
queue, result-cache hits, an idle cluster between bursts.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dpcsim.engine import plaincompiled
from dpcsim.engine.contention import VirtualClock, rate_table
from dpcsim.engine.plain import run_plain, run_plain_shared
from dpcsim.engine.records import Recorder
from dpcsim.errors import InputError

pytest.importorskip("numba")


def arrays(seed: int, n: int, slots: tuple[int, ...]) -> SimpleNamespace:
    """Arrivals in bursts on a 0.25 s grid, executions on the same grid."""
    rng = np.random.default_rng(seed)
    gaps = rng.choice([0.0, 0.0, 0.25, 0.5, 1.0, 40.0], n)
    queue = rng.integers(0, len(slots), n)
    width = rng.choice([1, 1, 1, 2, 3, 5], n)
    return SimpleNamespace(
        n=n,
        arrival_s=np.cumsum(gaps),
        exec_s=rng.integers(0, 24, n) * 0.25,
        queue=queue.astype(np.int8),
        slots=width.astype(np.int64),
        cache_hit=rng.random(n) < 0.04,
    )


def records(inp: SimpleNamespace, slots: tuple[int, ...], shared: bool, compiled: bool):
    rec = Recorder(inp.n, inp.queue, len(slots))
    if shared:
        clock = VirtualClock(rate_table(2, 0.037, 0.0021), 0.037, 0.0021)
        run_plain_shared(inp, rec, slots, clock, compiled=compiled)
    else:
        run_plain(inp, rec, slots, compiled=compiled)
    out = {
        name: np.frombuffer(getattr(rec, name), dtype).view(np.uint8)
        for name, dtype in (
            ("start", np.float64),
            ("end", np.float64),
            ("acc_q", np.float64),
            ("outcome", np.int8),
            ("log_t", np.float64),
            ("log_c", np.int32),
        )
    }
    out["_outcome_values"] = np.frombuffer(rec.outcome, np.int8)
    out["_end_values"] = np.frombuffer(rec.end, np.float64)
    return out


@pytest.mark.parametrize("shared", [False, True], ids=["slots", "shared"])
@pytest.mark.parametrize("seed", range(6))
def test_compiled_loop_writes_the_python_loops_records_bit_for_bit(seed, shared):
    slots = ((3, 2), (1,), (5, 1, 2))[seed % 3]
    inp = arrays(seed, 3000, slots)
    py = records(inp, slots, shared, compiled=False)
    jit = records(inp, slots, shared, compiled=True)
    # The cases the inputs are built for do occur.
    assert (py["_outcome_values"] != 0).any()  # wider than the queue: failed
    assert inp.cache_hit.any()
    ends = py["_end_values"]
    done = ends[~np.isnan(ends)]
    assert len(done) - len(np.unique(done)) > 100  # queries ending together
    for name in ("start", "end", "acc_q", "outcome", "log_t", "log_c"):
        assert np.array_equal(py[name], jit[name]), name


def test_compiled_shared_loop_handles_many_ends_in_one_instant():
    # 40 queries of equal work start together on 40 slots and end together.
    slots = (40,)
    n = 80
    inp = SimpleNamespace(
        n=n,
        arrival_s=np.repeat([0.0, 0.0], 40),
        exec_s=np.full(n, 3.0),
        queue=np.zeros(n, np.int8),
        slots=np.ones(n, np.int64),
        cache_hit=np.zeros(n, bool),
    )
    py = records(inp, slots, True, compiled=False)
    jit = records(inp, slots, True, compiled=True)
    assert len(np.unique(py["_end_values"])) == 2
    for name in ("start", "end", "acc_q", "log_t", "log_c"):
        assert np.array_equal(py[name], jit[name]), name


def test_the_choice_follows_dpcsim_compiled(monkeypatch):
    monkeypatch.setattr(plaincompiled, "_loaded", {})
    monkeypatch.setenv("DPCSIM_COMPILED", "auto")
    assert not plaincompiled.use_compiled(1000)
    assert plaincompiled.use_compiled(plaincompiled.COMPILED_MIN_QUERIES)
    monkeypatch.setenv("DPCSIM_COMPILED", "never")
    assert not plaincompiled.use_compiled(10**7)
    monkeypatch.setenv("DPCSIM_COMPILED", "Always")
    assert plaincompiled.use_compiled(10)
    # Once loaded, even a short run takes them: the loading is paid.
    monkeypatch.setenv("DPCSIM_COMPILED", "auto")
    plaincompiled.compiled_loops()
    assert plaincompiled.use_compiled(10)


def test_a_bad_dpcsim_compiled_names_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv("DPCSIM_COMPILED", "yes")
    with pytest.raises(InputError, match=r"DPCSIM_COMPILED='yes'.*auto.*always.*never"):
        plaincompiled.use_compiled(10)


def test_always_without_numba_says_what_to_install(monkeypatch):
    monkeypatch.setenv("DPCSIM_COMPILED", "always")
    monkeypatch.setattr(plaincompiled.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match=r"dpcsim\[fast\]"):
        plaincompiled.use_compiled(10)
    monkeypatch.setenv("DPCSIM_COMPILED", "auto")
    monkeypatch.setattr(plaincompiled, "_loaded", {})
    assert not plaincompiled.use_compiled(10**7)


def test_a_whole_run_is_the_same_compiled_python_or_general(monkeypatch):
    # Two synthetic DPC days (ELT bursts, multi-slot loads, cache hits)
    # through three plain queues with shared capacity: the compiled loop,
    # the Python loop and the general (SimPy event) path give the same run.
    from dataclasses import replace

    import pandas as pd

    from dpcsim.engine import ClusterSettings, simulate
    from dpcsim.wlm import QueueConfig, WLMConfig
    from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload

    workload = generate_dpc_workload(replace(DPCWorkloadSpec(), days=2), 11)
    config = WLMConfig(
        queues=(
            QueueConfig(name="etl", query_concurrency=2, user_group=("dpc_elt",)),
            QueueConfig(name="dq", query_concurrency=1, query_group=("dq",)),
            QueueConfig(name="default", query_concurrency=2),
        )
    )
    settings = ClusterSettings(memory_model="off")

    def run(mode: str, general: bool = False):
        monkeypatch.setenv("DPCSIM_COMPILED", mode)
        monkeypatch.setattr("dpcsim.engine.cluster.Engine.force_general", general)
        return simulate(workload, config, settings, rng=3, replay="open")

    jit, py, gen = run("always"), run("never"), run("never", general=True)
    assert set(jit.queries["queue"]) == {"etl", "dq", "default"}
    assert (jit.queries["queue_s"] > 0).mean() > 0.05  # queues do form
    pd.testing.assert_frame_equal(jit.queries, py.queries, check_exact=True)
    pd.testing.assert_frame_equal(jit.timeline, py.timeline, check_exact=True)
    assert jit.summary == py.summary
    # The general path keeps its own virtual clock (lazy deletion, weights):
    # the same schedule, its sums rounded in another order.
    pd.testing.assert_frame_equal(jit.queries, gen.queries, rtol=1e-9)
    counts = [
        {q: {k: v for k, v in row.items() if type(v) is int} for q, row in r.items()}
        for r in (jit.summary["by_queue"], gen.summary["by_queue"])
    ]
    assert counts[0] == counts[1]


def test_plain_possible_reads_the_configuration_and_settings():
    from dpcsim.designs import load_design
    from dpcsim.engine import ClusterSettings
    from dpcsim.engine.plain import plain_possible
    from dpcsim.wlm import QMRPredicate, QMRRule, QueueConfig, SQAConfig, WLMConfig

    fifo = WLMConfig(queues=(QueueConfig(name="fifo", query_concurrency=10),))
    base = ClusterSettings()
    assert plain_possible(fifo, base, memory_known=False)
    # Memory demand matters only with the spill model on.
    assert not plain_possible(fifo, base, memory_known=True)
    off = ClusterSettings(memory_model="off")
    assert plain_possible(fifo, off, memory_known=True)
    assert not plain_possible(
        fifo, ClusterSettings(statement_timeout_ms=60_000), memory_known=False
    )
    sqa = WLMConfig(queues=fifo.queues, sqa=SQAConfig(enabled=True))
    assert not plain_possible(sqa, base, memory_known=False)
    timed = QueueConfig(name="fifo", query_concurrency=10, max_execution_time=5000)
    assert not plain_possible(WLMConfig(queues=(timed,)), base, memory_known=False)
    pred = (QMRPredicate(metric_name="query_execution_time", operator=">", value=9),)
    ruled = QueueConfig(
        name="fifo", query_concurrency=10,
        rules=(QMRRule(rule_name="r", predicate=pred, action="abort"),),
    )  # fmt: skip
    assert not plain_possible(WLMConfig(queues=(ruled,)), base, memory_known=False)
    # The DPC design (SQA, Concurrency Scaling, rules) never takes it.
    assert not plain_possible(load_design("dpc").wlm, base, memory_known=False)


def test_preload_loads_in_a_thread_that_the_run_waits_for(monkeypatch):
    import threading

    monkeypatch.setattr(plaincompiled, "_loaded", {})
    monkeypatch.setenv("DPCSIM_COMPILED", "auto")
    plaincompiled.preload(10)  # too short a run: nothing starts
    assert not any(t.name == "dpcsim-numba" for t in threading.enumerate())
    assert not plaincompiled._loaded
    plaincompiled.preload(plaincompiled.COMPILED_MIN_QUERIES)
    plain, shared = plaincompiled.compiled_loops()  # waits for the thread
    assert plaincompiled._loaded == {"plain": plain, "shared": shared}
    for t in threading.enumerate():
        if t.name == "dpcsim-numba":
            t.join(timeout=60)
            assert not t.is_alive()


def test_a_failed_load_warns_and_runs_the_python_loop(monkeypatch):
    monkeypatch.setattr(plaincompiled, "_loaded", {})
    monkeypatch.setattr(plaincompiled, "_failed", [])
    monkeypatch.setenv("DPCSIM_COMPILED", "auto")

    def broken() -> None:
        raise OSError("cache directory not writable")

    monkeypatch.setattr(plaincompiled, "_load", broken)
    n = plaincompiled.COMPILED_MIN_QUERIES
    with pytest.warns(RuntimeWarning, match="cache directory not writable"):
        assert plaincompiled.loops_for(n) is None
    # Not tried again in this process; with "always" the failure is an error.
    assert not plaincompiled.use_compiled(n)
    monkeypatch.setenv("DPCSIM_COMPILED", "always")
    with pytest.raises(OSError, match="not writable"):
        plaincompiled.loops_for(n)


def test_the_stream_knows_memory_demand_from_the_file_statistics(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dpcsim.run_stream import _memory_known

    def written(values, row_group_size=2):
        path = tmp_path / f"w{len(list(tmp_path.iterdir()))}.parquet"
        pq.write_table(
            pa.table(
                {
                    "query_id": range(len(values)),
                    "mem_mb": pa.array(values, pa.float64()),
                }
            ),
            path,
            row_group_size=row_group_size,
        )
        return pq.ParquetFile(path)

    assert not _memory_known(written([None, None, None]))
    assert not _memory_known(written([0.0, None, 0.0, 0.0]))
    assert _memory_known(written([None, None, 0.0, 512.0]))  # the second group
    no_column = tmp_path / "bare.parquet"
    pq.write_table(pa.table({"query_id": [1, 2]}), no_column)
    assert not _memory_known(pq.ParquetFile(no_column))


def test_numba_with_its_jit_disabled_counts_as_a_failed_load(monkeypatch):
    # NUMBA_DISABLE_JIT makes njit return the Python functions, which would run
    # the array loops interpreted: slower than the plain path's own loop.
    import numba

    monkeypatch.setattr(plaincompiled, "_loaded", {})
    monkeypatch.setattr(plaincompiled, "_failed", [])
    monkeypatch.setattr(numba.config, "DISABLE_JIT", True)
    monkeypatch.setenv("DPCSIM_COMPILED", "auto")
    with pytest.warns(RuntimeWarning, match="NUMBA_DISABLE_JIT"):
        assert plaincompiled.loops_for(plaincompiled.COMPILED_MIN_QUERIES) is None


def test_the_simulate_help_names_the_threshold_the_engine_uses(capsys):
    from dpcsim.cli import main

    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"{plaincompiled.COMPILED_MIN_QUERIES:,} queries or more" in text
    assert "DPCSIM_COMPILED=never" in text
