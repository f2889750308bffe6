"""The engine's fast paths give what the slower ones they replace give, bit for bit.

Quiet segments. Under manual WLM with no ``statement_timeout``, a query's
first segment in a queue without a WLM timeout whose demand cannot reach the
queue's first QMR check (``Engine._quiet_work``) gets no timer, recheck or
segment record: its clock (shared capacity) or a plain end event (fixed
demands) ends it. These tests compare such runs with runs in which every
segment takes the interrupt path (``_quiet_work`` patched to "never"), record
by record, state log and summary, on workloads where QMR rules do fire, so a
wrong classification would change an outcome.

Observed to solo work. :func:`~dpcsim.engine.contention.observed_to_solo`
reads each instant's cumulative progress at its own place in the sorted
order; the reference below looks it up by binary search (the first of equal
instants), on inputs full of ties.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dpcsim import logs
from dpcsim.designs import load_design
from dpcsim.engine import ClusterSettings, SimResult, simulate
from dpcsim.engine.actions import Interrupts
from dpcsim.engine.cluster import Engine
from dpcsim.engine.contention import observed_to_solo
from dpcsim.engine.inputs import prepare
from dpcsim.engine.queues import QueueTables
from dpcsim.engine.records import _DELTAS, Recorder
from dpcsim.schema import Workload, validate_workload
from dpcsim.wlm import QMRPredicate, QMRRule, QueueConfig, WLMConfig

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "dpcsim" / "sample"
BASE_AT = pd.Timestamp("2025-01-06 00:00:00", tz="UTC")
STATE_FIELDS = ("t_s", "queue", "queued", "running", "running_cs", "cs_clusters")


def _never_quiet(self: Engine) -> list[float]:
    """Every segment takes the interrupt path (the engine before quiet segments)."""
    return [-1.0] * len(self.t.names)


def _run_both(
    monkeypatch: pytest.MonkeyPatch, *args: Any, **kwargs: Any
) -> tuple[SimResult, SimResult, int, int]:
    """(quiet run, interrupt-path run, and how many segments each scheduled)."""
    calls = [0]
    schedule = Interrupts.schedule

    def counted(self: Interrupts, *a: Any, **k: Any) -> None:
        calls[0] += 1
        schedule(self, *a, **k)

    monkeypatch.setattr(Interrupts, "schedule", counted)
    quiet = simulate(*args, **kwargs)
    n_quiet, calls[0] = calls[0], 0
    monkeypatch.setattr(Engine, "_quiet_work", _never_quiet)
    every = simulate(*args, **kwargs)
    return quiet, every, n_quiet, calls[0]


def _assert_same(a: SimResult, b: SimResult) -> None:
    pd.testing.assert_frame_equal(a.queries, b.queries, check_exact=True)
    pd.testing.assert_frame_equal(a.scaling, b.scaling, check_exact=True)
    assert a.state_log is not None
    assert b.state_log is not None
    for field in STATE_FIELDS:
        x, y = getattr(a.state_log, field), getattr(b.state_log, field)
        assert x.dtype == y.dtype, field
        assert x.tobytes() == y.tobytes(), field
    assert a.summary == b.summary


@pytest.fixture(scope="module")
def slow_sample() -> Workload:
    """The bundled sample with every execution 40 times longer.

    The design's QMR aborts (batch 2 h, adhoc 30 min of execution) then fire
    on hundreds of queries, and most segments are still far below them.
    """
    week = logs.read_workload(SAMPLE_DIR)
    frame = week.queries.copy()
    frame["exec_s"] = frame["exec_s"] * 40.0
    return Workload(queries=frame)


@pytest.mark.parametrize(
    ("model", "replay"),
    [("usl", "session"), ("usl", "open"), ("none", "session"), ("none", "open")],
)
def test_quiet_segments_leave_every_output_unchanged(
    monkeypatch: pytest.MonkeyPatch, slow_sample: Workload, model: str, replay: str
) -> None:
    settings = ClusterSettings(contention_model=model)  # type: ignore[arg-type]
    quiet, every, n_quiet, n_every = _run_both(
        monkeypatch,
        slow_sample,
        load_design("dpc").wlm,
        settings,
        rng=0,
        replay=replay,
    )
    _assert_same(quiet, every)
    aborted = int((quiet.queries["outcome"] == "aborted").sum())
    assert aborted >= 20  # the rules fire: a misclassified segment would show
    # Most segments skip the interrupt path; without it every one takes it.
    assert n_quiet * 4 < n_every
    assert n_every >= len(slow_sample.queries) // 2


def _saturated_workload() -> Workload:
    """Selects arriving in bursts, short and long, to keep every slot busy [s]."""
    rng = np.random.default_rng(11)
    n = 600
    arrival_s = np.sort(rng.uniform(0.0, 900.0, n))
    exec_s = np.where(rng.random(n) < 0.8, rng.uniform(0.5, 8.0, n), 40.0)
    arrival_us = np.round(arrival_s * 1e6).astype(np.int64)
    frame = pd.DataFrame(
        {
            "query_id": np.arange(1, n + 1, dtype=np.int64),
            "arrival_at": BASE_AT + pd.to_timedelta(arrival_us, unit="us"),
            "statement_type": "select",
            "exec_s": exec_s,
        }
    )
    return Workload(queries=validate_workload(frame))


def test_quiet_bound_holds_under_heavy_contention(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Queries classified quiet end before the rules' first recheck, slowest case.

    One queue of 5 slots with a QMR ``log`` rule at 60 s of execution (first
    recheck at 65 s), steep contention (sigma 0.2, kappa 0.05: each of 5
    running queries progresses at 0.36 of its solo speed) and a line that
    keeps every slot busy. Queries of 40 s solo work run past 60 s and get
    the rule's log action; the short ones are below the quiet bound.
    """
    rule = QMRRule(
        rule_name="long_log",
        predicate=(
            QMRPredicate(metric_name="query_execution_time", operator=">", value=60),
        ),
        action="log",
    )
    config = WLMConfig(
        queues=(QueueConfig(name="q", query_concurrency=5, rules=(rule,)),)
    )
    settings = ClusterSettings(
        contention_sigma=0.2, contention_kappa=0.05, contention_demand="solo"
    )
    workload = _saturated_workload()
    arrays = prepare(workload, config, None)
    tables = QueueTables.from_config(config, settings)
    bound = Engine(arrays, tables, settings, None).quiet[0]
    solo = arrays.exec_s
    assert 0.0 < bound < 40.0
    assert int((solo < bound).sum()) > 300
    quiet, every, n_quiet, n_every = _run_both(
        monkeypatch, workload, config, settings, rng=0, replay="open"
    )
    _assert_same(quiet, every)
    q = quiet.queries.set_index("query_id").loc[arrays.query_id]
    short = solo < bound
    assert float(q["exec_s"].to_numpy()[short].max()) < 65.0
    assert (q["queue_s"].to_numpy() > 0.0).sum() > 100  # the line is long
    logged = q["qmr_actions"].to_numpy() == "long_log:log"
    assert logged.sum() > 50
    assert not logged[short].any()
    assert n_quiet < n_every


def _solo_by_search(
    start_s: np.ndarray, end_s: np.ndarray, sigma: float, kappa: float
) -> np.ndarray:
    """Solo work of the queries of one cluster, C(t) looked up by searchsorted."""
    t = np.concatenate([start_s, end_s])
    step = np.concatenate([np.ones(start_s.size), -np.ones(end_s.size)]).astype(int)
    order = np.argsort(t, kind="stable")
    t, step = t[order], step[order]
    n_seg = np.cumsum(step)[:-1]
    speed = np.where(
        n_seg > 0,
        1.0 / (1.0 + sigma * (n_seg - 1.0) + kappa * n_seg * (n_seg - 1.0)),
        0.0,
    )
    cum = np.concatenate([[0.0], np.cumsum(speed * np.diff(t))])
    at_start = np.searchsorted(t, start_s, side="left")
    at_end = np.searchsorted(t, end_s, side="left")
    out: np.ndarray = np.maximum(cum[at_end] - cum[at_start], 0.0)
    return out


def test_observed_to_solo_matches_a_binary_search_lookup() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(1, 300))
        # Coarse grids make equal instants common; a fifth run for 0 s.
        start = np.round(rng.uniform(0.0, 50.0, n), int(rng.integers(0, 3)))
        run = np.round(rng.exponential(3.0, n), int(rng.integers(0, 3)))
        end = start + np.where(rng.random(n) < 0.2, 0.0, run)
        sigma, kappa = float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.0, 0.1))
        got = observed_to_solo(start, end, np.zeros(n, np.int64), sigma, kappa)
        want = _solo_by_search(start, end, sigma, kappa)
        assert got.tobytes() == want.tobytes()


def _state_log_reference(t: np.ndarray, code: np.ndarray) -> dict[str, np.ndarray]:
    """The state log by the definition: per queue, a running sum of its changes
    in log order, keeping the last change of a queue at each instant."""
    deltas = _DELTAS[code & 15]
    q = code >> 4
    state = np.zeros((t.size, 3), np.int64)
    keep = np.zeros(t.size, bool)
    for qq in np.unique(q):
        rows = np.flatnonzero(q == qq)
        state[rows] = np.cumsum(deltas[rows, :3], axis=0)
        keep[rows] = np.r_[t[rows][1:] != t[rows][:-1], True]
    clusters = np.cumsum(deltas[:, 3])
    return {
        "t_s": t[keep],
        "queue": q[keep],
        "queued": state[keep, 0],
        "running": state[keep, 1],
        "running_cs": state[keep, 2],
        "cs_clusters": clusters[keep],
    }


@pytest.mark.parametrize("n_queues", [1, 2, 5, 9])
def test_the_state_log_is_each_queues_running_sum(n_queues: int) -> None:
    """On a log full of ties (changes of several queues at one instant, and of
    one queue twice at an instant), in any queue order."""
    rng = np.random.default_rng(n_queues)
    n = 5_000
    rec = Recorder(1, np.zeros(1, np.int64), n_queues)
    t = np.sort(rng.integers(0, n // 4, n)).astype(np.float64)
    code = rng.integers(0, n_queues, n) * 16 + rng.integers(0, 11, n)
    rec.log_t.extend(t.tolist())
    rec.log_c.extend(code.tolist())
    log = rec.state_log(tuple(f"q{k}" for k in range(n_queues)))
    want = _state_log_reference(t, code)
    for field in STATE_FIELDS:
        got = getattr(log, field)
        assert np.array_equal(got, want[field]), field
    assert log.queued.dtype == np.int32
    assert log.cs_clusters.dtype == np.int16
