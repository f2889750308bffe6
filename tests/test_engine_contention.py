"""Shared cluster capacity: USL math, processor sharing against theory, exact replay.

The M/G/1-PS cells: with ``sigma = 1, kappa = 0`` the main cluster's throughput
is 1 whatever runs, and with more slots than queries ever run together nobody
waits, so the cluster is an M/G/1 processor-sharing queue. Its mean response
time is ``E[S] / (1 - rho)`` and the conditional mean response of a job of size
``s`` is ``s / (1 - rho)`` for any service distribution (Kleinrock; Harchol-Balter,
"Performance Modeling and Design of Computer Systems", ch. 22). Service is
lognormal with log-sd 1.5 (heavy-tailed, E[S] = 1 s). Each cell runs R
independent replications (``SeedSequence.spawn``), drops a warm-up, and checks
``|mean - theory| <= 3 SE + 1% theory`` (3 SE: a ~99% Student-t interval at
R - 1 degrees of freedom; the 1% allows the start-empty bias of a finite run).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import dpcsim.engine as engine
import dpcsim.wlm as wlm
from dpcsim.engine.cluster import general_path
from dpcsim.engine.contention import observed_to_solo, usl_throughput
from dpcsim.schema import Workload, validate_workload

BASE_AT = pd.Timestamp("2024-01-01 00:00:00", tz="UTC")
LOG_SD = 1.5


def _workload(arrival_s: np.ndarray, exec_s: np.ndarray, **extra: object) -> Workload:
    """Selects with the given arrivals [s], durations [s] and extra columns."""
    arrival_us = np.round(arrival_s * 1e6).astype(np.int64)
    frame = pd.DataFrame(
        {
            "query_id": np.arange(1, len(arrival_s) + 1, dtype=np.int64),
            "arrival_at": BASE_AT + pd.to_timedelta(arrival_us, unit="us"),
            "statement_type": "select",
            "exec_s": exec_s,
            "user_name": "analyst",
            "user_groups": "analysts",
            **extra,
        }
    )
    return Workload(queries=validate_workload(frame))


def _one_queue(slots: int) -> wlm.WLMConfig:
    return wlm.WLMConfig(
        queues=(wlm.QueueConfig(name="only", query_concurrency=slots),), sqa=None
    )


def _ps(
    sigma: float = 1.0, kappa: float = 0.0, demand: str = "solo"
) -> engine.ClusterSettings:
    return engine.ClusterSettings(
        contention_model="usl",
        contention_sigma=sigma,
        contention_kappa=kappa,
        contention_demand=demand,  # type: ignore[arg-type]
    )


def test_usl_throughput_values() -> None:
    # X(1) = 1 always; sigma = 1, kappa = 0 keeps X = 1; kappa > 0 makes X fall.
    assert usl_throughput(1, 0.3, 0.1) == 1.0
    assert usl_throughput(8, 1.0, 0.0) == pytest.approx(1.0)
    assert usl_throughput(4, 0.0, 0.0) == 4.0
    assert usl_throughput(10, 0.1, 0.01) == pytest.approx(10 / (1 + 0.9 + 0.9))
    x = usl_throughput(np.array([0, 1, 2]), 0.5, 0.0)
    assert isinstance(x, np.ndarray)
    assert x.tolist() == [0.0, 1.0, pytest.approx(2 / 1.5)]


def test_observed_to_solo_by_hand() -> None:
    # sigma = 0, kappa = 0.25: X(2)/2 = 1/(1 + 0.5) = 2/3. Query a runs [0, 3] with
    # b on [1, 2]: a's work = 1 + (2/3) * 1 + 1 = 8/3; b's = 2/3. c on another
    # cluster runs alone: work = its length.
    work = observed_to_solo(
        np.array([0.0, 1.0, 1.0]),
        np.array([3.0, 2.0, 2.5]),
        np.array([0, 0, 1]),
        0.0,
        0.25,
    )
    assert work.tolist() == pytest.approx([8 / 3, 2 / 3, 1.5])


#: Auto WLM on a cluster with memory for ~49,000 queries of the default 1 GB:
#: nobody ever waits (a manual queue has at most 50 slots, which a PS queue at
#: rho = 0.8 exceeds about once per 70,000 arrivals).
_AUTO = wlm.WLMConfig(
    queues=(wlm.QueueConfig(name="only", queue_type="auto", priority="normal"),),
    sqa=None,
)
_PS_ROOMY = engine.ClusterSettings(
    node_type="ra3.16xlarge",
    node_count=128,
    contention_model="usl",
    contention_sigma=1.0,
    contention_kappa=0.0,
    contention_demand="solo",
)


def _mg1_ps_cell(rho: float, n: int, reps: int, seed: int) -> dict[str, float]:
    """Mean response and the conditional mean response ratio over replications."""
    mean_s = math.exp(LOG_SD**2 / 2)
    means, ratios_small, ratios_big = [], [], []
    for child in np.random.SeedSequence([seed, round(rho * 100)]).spawn(reps):
        rng = np.random.default_rng(child)
        arrival_s = np.cumsum(rng.exponential(1.0 / rho, n))
        size = rng.lognormal(0.0, LOG_SD, n) / mean_s  # E[S] = 1
        res = engine.simulate(_workload(arrival_s, size), _AUTO, _PS_ROOMY)
        q = res.queries.sort_values("query_id")
        assert float(q["queue_s"].max()) == 0.0  # nobody waited: pure PS
        resp = (q["end_s"] - q["arrival_s"]).to_numpy()[n // 10 :]
        s = size[n // 10 :]
        means.append(resp.mean())
        # Conditional mean T(s)/s = 1/(1 - rho) for small and for large jobs.
        small, big = s < np.quantile(s, 0.5), s > np.quantile(s, 0.9)
        ratios_small.append(resp[small].sum() / s[small].sum())
        ratios_big.append(resp[big].sum() / s[big].sum())
    out = {"theory": 1.0 / (1.0 - rho)}
    for name, xs in (("mean", means), ("small", ratios_small), ("big", ratios_big)):
        arr = np.asarray(xs)
        out[name] = float(arr.mean())
        out[name + "_se"] = float(arr.std(ddof=1) / math.sqrt(reps))
    return out


def _assert_cell(cell: dict[str, float]) -> None:
    theory = cell["theory"]
    for name in ("mean", "small", "big"):
        err = abs(cell[name] - theory)
        assert err <= 3 * cell[name + "_se"] + 0.01 * theory, (name, cell)


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_mg1_processor_sharing_fast(rho: float) -> None:
    _assert_cell(_mg1_ps_cell(rho, n=10_000, reps=10, seed=9))


@pytest.mark.slow
@pytest.mark.parametrize("rho", [0.3, 0.5, 0.7, 0.8, 0.9])
def test_mg1_processor_sharing_long(rho: float) -> None:
    _assert_cell(_mg1_ps_cell(rho, n=100_000, reps=20, seed=11))


def _three_queues() -> wlm.WLMConfig:
    queues = (
        wlm.QueueConfig(name="etl", query_concurrency=3, user_group=("etl",)),
        wlm.QueueConfig(name="bi", query_concurrency=2, user_group=("bi",)),
        wlm.QueueConfig(name="default", query_concurrency=4),
    )
    return wlm.WLMConfig(queues=queues, sqa=None)


def _busy_log(n: int, seed: int) -> Workload:
    rng = np.random.default_rng(seed)
    arrival_s = np.cumsum(rng.exponential(2.0, n))
    exec_s = rng.lognormal(1.0, 1.0, n)
    groups = rng.choice(["etl", "bi", "other"], n)
    return _workload(arrival_s, exec_s, user_groups=groups)


def _as_log(base: Workload, res: engine.SimResult) -> Workload:
    """What the cluster would log for run ``res`` of ``base``: times as simulated."""
    q = res.queries.sort_values("query_id").reset_index(drop=True)
    frame = base.queries.sort_values("query_id").reset_index(drop=True).copy()
    arrival_us = np.round(q["arrival_s"].to_numpy() * 1e6).astype(np.int64)
    frame["arrival_at"] = res.start_at + pd.to_timedelta(arrival_us, unit="us")
    frame["queue_s"] = q["queue_s"].to_numpy()
    frame["exec_s"] = q["exec_s"].to_numpy()
    return Workload(queries=validate_workload(frame))


@pytest.mark.parametrize("general", [False, True])
def test_observed_demand_reproduces_the_recorded_exec_times(general: bool) -> None:
    # Record under USL with solo demands, then replay the "log" with demand =
    # observed under the same configuration: every exec_s and queue_s comes back.
    base = _busy_log(3000, seed=5)
    sigma, kappa = 0.1, 0.02
    recorded = engine.simulate(base, _three_queues(), _ps(sigma, kappa, "solo"))
    log = _as_log(base, recorded)
    assert float(log.queries["queue_s"].max()) > 10.0  # queues did form
    if general:
        with general_path():
            replay = engine.simulate(
                log, _three_queues(), _ps(sigma, kappa, "observed")
            )
    else:
        replay = engine.simulate(log, _three_queues(), _ps(sigma, kappa, "observed"))
    a = log.queries.sort_values("query_id")
    b = replay.queries.sort_values("query_id")
    np.testing.assert_allclose(b["exec_s"], a["exec_s"], rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(b["queue_s"], a["queue_s"], rtol=1e-6, atol=1e-5)


def test_contention_slows_queries_and_none_does_not() -> None:
    base = _busy_log(2000, seed=6)
    none = engine.simulate(
        base, _three_queues(), engine.ClusterSettings(contention_model="none")
    )
    usl = engine.simulate(base, _three_queues(), _ps(0.1, 0.02, "solo"))
    a, b = none.queries.sort_values("query_id"), usl.queries.sort_values("query_id")
    np.testing.assert_allclose(
        a["exec_s"], base.queries.sort_values("query_id")["exec_s"]
    )
    assert (b["exec_s"].to_numpy() >= a["exec_s"].to_numpy() - 1e-9).all()
    assert b["exec_s"].sum() > 1.05 * a["exec_s"].sum()


def test_plain_and_general_paths_agree_under_contention() -> None:
    base = _busy_log(2000, seed=7)
    fast = engine.simulate(base, _three_queues(), _ps(0.1, 0.02, "solo"))
    with general_path():
        slow = engine.simulate(base, _three_queues(), _ps(0.1, 0.02, "solo"))
    for col in ("start_s", "end_s", "queue_s"):
        np.testing.assert_allclose(
            fast.queries[col], slow.queries[col], rtol=1e-9, atol=1e-9
        )


def test_priority_weights_share_capacity_under_auto_wlm() -> None:
    # Two queries start together on an auto-WLM cluster with sigma = 1 (X = 1):
    # weights 16 (highest) and 1 (lowest) give speeds 16/17 and 1/17, so the
    # high one (1 s solo) ends at 17/16 s, and the low one (1 s) at 2 s
    # (all the work, 2 s, at throughput 1); lowest still progresses.
    queues = (
        wlm.QueueConfig(
            name="hi", queue_type="auto", priority="highest", user_group=("bi",)
        ),
        wlm.QueueConfig(name="lo", queue_type="auto", priority="lowest"),
    )
    config = wlm.WLMConfig(queues=queues, sqa=None)
    base = _workload(
        np.array([0.0, 0.0]), np.array([1.0, 1.0]), user_groups=["bi", "x"]
    )
    res = engine.simulate(base, config, _ps())
    q = res.queries.sort_values("query_id")
    assert q["end_s"].tolist() == pytest.approx([17 / 16, 2.0])


def test_generated_log_replays_to_its_contended_exec_times() -> None:
    # `dpcsim generate --settings S`: the generator's solo demands are recorded
    # under the design with S's contention; replaying that log under the same
    # design and settings (demand = observed) gives back every logged time.
    from dataclasses import replace

    from dpcsim.designs.dpc_wlm import dpc_design_config
    from dpcsim.observe import observed_wlm_columns
    from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload, observe_wlm

    settings = _ps(0.05, 0.01, "observed")
    solo = generate_dpc_workload(DPCWorkloadSpec(days=1, learners=60), 4)
    log = observe_wlm(
        solo, lambda w: observed_wlm_columns(w, dpc_design_config(), settings, rng=4)
    )
    a = log.queries.set_index("query_id").sort_index()
    b = solo.queries.set_index("query_id").sort_index()
    ran = ~a["cache_hit"].to_numpy()
    assert (a["exec_s"].to_numpy()[ran] >= b["exec_s"].to_numpy()[ran] - 1e-9).all()
    assert a["exec_s"].sum() > 1.01 * b["exec_s"].sum()
    replay = engine.simulate(log, dpc_design_config(), settings, rng=4, replay="open")
    r = replay.queries.drop_duplicates("query_id").set_index("query_id").sort_index()
    close = np.isclose(r["exec_s"], a["exec_s"], rtol=1e-6, atol=1e-5) | a["cache_hit"]
    assert close.mean() == 1.0, close.mean()
    np.testing.assert_allclose(r["queue_s"], a["queue_s"], atol=1e-5)
    # The recording replays with solo demands, so a "solo" replay of the
    # generator's own output is the recording run itself.
    rec = engine.simulate(
        solo,
        dpc_design_config(),
        replace(settings, contention_demand="solo"),
        rng=4,
        replay="open",
    )
    assert rec.summary["ran_on"] == replay.summary["ran_on"]


def test_qmr_checks_real_execution_time_under_contention() -> None:
    # Two 8 s (solo) selects start together; sigma = 1 halves each one's speed,
    # so at the 10 s check both have run 10 s of execution (5 s of work) and
    # `query_execution_time > 9` aborts them there. Without contention they
    # end at 8 s, before any check.
    pred = wlm.QMRPredicate(metric_name="query_execution_time", operator=">", value=9.0)
    rule = wlm.QMRRule(rule_name="slow", predicate=(pred,), action="abort")
    config = wlm.WLMConfig(
        queues=(wlm.QueueConfig(name="q", query_concurrency=2, rules=(rule,)),),
        sqa=None,
    )
    base = _workload(np.array([0.0, 0.0]), np.array([8.0, 8.0]))
    usl = engine.simulate(base, config, _ps()).queries
    assert usl["outcome"].tolist() == ["aborted", "aborted"]
    assert usl["end_s"].tolist() == pytest.approx([10.0, 10.0])
    none = engine.simulate(
        base, config, engine.ClusterSettings(contention_model="none")
    )
    assert none.queries["outcome"].tolist() == ["completed", "completed"]
    assert none.queries["end_s"].tolist() == pytest.approx([8.0, 8.0])


def test_contention_table_in_the_settings_toml(tmp_path) -> None:
    from dpcsim.errors import InputError

    good = tmp_path / "s.toml"
    good.write_text(
        '[contention]\nmodel = "usl"\nsigma = 0.3\nkappa = 0.01\ndemand = "solo"\n'
    )
    s = engine.read_cluster_settings(good)
    assert (s.contention_sigma, s.contention_kappa, s.contention_demand) == (
        0.3,
        0.01,
        "solo",
    )
    assert engine.ClusterSettings.from_dict(s.to_dict()) == s
    bad = tmp_path / "bad.toml"
    bad.write_text('[contention]\nmodel = "amdahl"\n')
    with pytest.raises(InputError, match=r"contention\.model='amdahl'"):
        engine.read_cluster_settings(bad)
    neg = tmp_path / "neg.toml"
    neg.write_text("[contention]\nkappa = -1\n")
    with pytest.raises(InputError, match=r"contention\.kappa=-1"):
        engine.read_cluster_settings(neg)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[contention]\nalpha = 1\n")
    with pytest.raises(InputError, match="unknown key 'alpha' in \\[contention\\]"):
        engine.read_cluster_settings(unknown)


def test_the_event_loop_collects_less_often_and_restores_the_thresholds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from dpcsim.engine import cluster

    seen: list[tuple[int, ...]] = []
    loop = cluster.Engine._run_events

    def watched(self: cluster.Engine) -> None:
        seen.append(gc.get_threshold())
        loop(self)

    monkeypatch.setattr(cluster.Engine, "_run_events", watched)
    before = gc.get_threshold()
    base = _busy_log(300, seed=8)
    with general_path():
        engine.simulate(base, _three_queues(), _ps(0.1, 0.02, "solo"))
    assert seen == [(cluster.LOOP_GC_THRESHOLD, *before[1:])]
    assert gc.get_threshold() == before
    # Restored when the block raises; a higher threshold is kept, not lowered.
    try:
        gc.set_threshold(10 * cluster.LOOP_GC_THRESHOLD, *before[1:])
        inside: list[int] = []

        def fail_inside() -> None:
            with cluster.fewer_collections():
                inside.append(gc.get_threshold()[0])
                raise RuntimeError

        with pytest.raises(RuntimeError):
            fail_inside()
        assert inside == [10 * cluster.LOOP_GC_THRESHOLD]
        assert gc.get_threshold()[0] == 10 * cluster.LOOP_GC_THRESHOLD
    finally:
        gc.set_threshold(*before)
