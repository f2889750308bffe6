"""Calibration of the synthetic DPC workload against workload-calibration.md.

Target set: the Redset fleet figures (median 37-40 ms, mean 2.8-3 s, ~3% of
queries > 60 s carrying 90-95% of busy time, ~31% reads, ~10% cache hits, ~0.5%
aborted, ~4% COPY/UNLOAD), not the single 24 h trace (median 9 ms).

Each statistic is computed on one generated week for each of SEEDS. Over 10
seeds (11-20) the generator gives: median 40.2 +- 2.0 ms, mean 2.94 +- 0.06 s,
p99 82 +- 0.5 s, share > 60 s 2.90 +- 0.05 %, busy share 91.2 +- 0.4 %,
per-minute dispersion 59 +- 5 (learners alone 173 +- 20), top-10 shapes
0.329 +- 0.005, repeats 0.936 +- 0.003, reads 28.3 +- 1.0 %, cache hits
9.3 +- 0.4 %. Every tolerance below is at least about 3 standard deviations
from that 10-seed mean: a failure means the model moved, not bad luck.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload
from dpcsim.workload.arrivals import cascade
from dpcsim.workload.calibration import calibration_statistics
from dpcsim.workload.classes import prompt_sessions

SEEDS = (11, 12, 13)


@pytest.fixture(scope="module", params=SEEDS)
def queries(request: pytest.FixtureRequest) -> pd.DataFrame:
    return generate_dpc_workload(DPCWorkloadSpec(), request.param).queries


@pytest.fixture(scope="module")
def stats(queries) -> dict[str, float]:
    """The library's calibration statistics (dpcsim.workload.calibration)."""
    return calibration_statistics(queries, tz="Asia/Tokyo")


def _offsets_s(q: pd.DataFrame) -> np.ndarray:
    return np.sort(
        (q["arrival_at"] - q["arrival_at"].min()).dt.total_seconds().to_numpy()
    )


def test_execution_time_quantiles(stats):
    # Targets: median about 37-40 ms, mean about 2.8-3 s, p99 in minutes.
    # Tolerance: median in [30, 50] ms (the fleet figure is a median over
    # clusters; ours is 40.2 +- 2.0), mean in [2.6, 3.2] s (the target band
    # +- 0.2 s, over 3 sd). p99 in [60, 180] s: the targets bound it, since
    # with 3% of queries over 60 s and a mean of 3 s, the 1% above p99 can
    # carry at most 3 - 0.02 * 60 = 1.8 s of the mean, so p99 <= 180 s.
    assert 30.0 <= stats["median_exec_ms"] <= 50.0
    assert 2.6 <= stats["mean_exec_s"] <= 3.2
    assert 60.0 <= stats["p99_exec_s"] <= 180.0


def test_tail_share_and_busy_time(stats):
    # Target: about 3% of queries > 60 s carrying 90-95% of busy time.
    # Tolerance: share in [2.4%, 3.6%] (3% +- 0.6 pt, over 6 sd); busy share
    # in [89%, 96%] (the published band +- 1 pt; 91.2 +- 0.4 here, so the
    # lower edge is 5 sd away).
    assert 2.4 <= stats["long_pct"] <= 3.6
    assert 89.0 <= stats["long_busy_pct"] <= 96.0


def test_tail_is_long_and_smooth(queries):
    # The > 60 s tail decreases on a log scale (no bump beyond its head) and
    # reaches tens of minutes: counts per quarter decade from 60 s never rise
    # (seeds 11-25: about 760, 43, 21, 8; the head is forced by the targets:
    # 3% of queries carrying 91% of a 2.9 s mean average about 90 s), and the
    # longest query of the week is over 15 min (18-37 min over seeds 11-25).
    e = queries["exec_s"].to_numpy()
    edges = 60.0 * 10 ** (0.25 * np.arange(5))  # 60 s .. 10.7 min
    counts = np.histogram(e, edges)[0]
    assert (np.diff(counts) <= 0).all(), counts
    assert counts[-1] >= 1
    assert e.max() >= 900.0


def test_mix(stats):
    # Targets: 31% reads, 10% cache hits, 0.5% aborted, 4% COPY/UNLOAD.
    # Tolerances: reads 31 +- 5 pt, cache 8-12%, aborted 0.3-0.8%, COPY/UNLOAD 3-5%.
    assert 26.0 <= stats["select_pct"] <= 36.0
    assert 8.0 <= stats["cache_hit_pct"] <= 12.0
    assert 0.3 <= stats["aborted_pct"] <= 0.8
    assert 3.0 <= stats["copy_unload_pct"] <= 5.0


def test_cache_hits_do_almost_no_work(queries):
    # "Cached queries do almost no work": all under 0.1 s, median a few ms.
    cached = queries.loc[queries["cache_hit"], "exec_s"].to_numpy()
    assert cached.max() < 0.1
    assert np.median(cached) < 0.005
    assert (queries.loc[queries["cache_hit"], "statement_type"] == "select").all()


def test_burstier_than_poisson(stats):
    # Real trace: inter-arrival CV 6.2, per-minute dispersion ~150 (Poisson: 1).
    # Ours: dispersion 59 +- 5 (live-lab prompts, session cascades, the COPY
    # burst). Tolerance: CV >= 3 and dispersion in [42, 200]: the lower edge
    # is 3.5 sd below our mean; the real trace's 150 is a single busy cluster.
    assert stats["interarrival_cv"] >= 3.0
    assert 42.0 <= stats["per_minute_dispersion"] <= 200.0


def test_learners_alone_are_bursty(queries):
    # The learners' process alone (no ELT) must also be far from Poisson:
    # per-minute dispersion 173 +- 20 over 10 seeds; tolerance >= 100 (3.6 sd).
    ad = queries[queries["user_name"].str.startswith("learner_")]
    t = _offsets_s(ad)
    gaps = np.diff(t)
    assert gaps.std() / gaps.mean() >= 2.0
    per_min = np.bincount((t // 60).astype(np.int64))
    assert per_min.var() / per_min.mean() >= 100.0


def test_hourly_shape_jst(queries, stats):
    # Hour-of-day peak / daily mean in the fleet's p10-p90 band [1.17, 6.1],
    # trough / daily mean in [0.01, 0.90]; weekend/weekday in [0.94, 1.32].
    local = queries["arrival_at"].dt.tz_convert("Asia/Tokyo")
    assert 1.17 <= stats["hour_peak_ratio"] <= 6.1
    assert 0.01 <= stats["hour_trough_ratio"] <= 0.90
    per_day = local.dt.floor("D").value_counts()
    weekend = per_day[per_day.index.day_of_week >= 5].mean()
    assert 0.94 <= weekend / per_day[per_day.index.day_of_week < 5].mean() <= 1.32


def test_learner_profile_peaks_in_the_evening(queries):
    # Learners' hours: the adhoc peak is in the JST evening (19-23 h).
    ad = queries[queries["user_name"].str.startswith("learner_")]
    hod = np.bincount(
        ad["arrival_at"].dt.tz_convert("Asia/Tokyo").dt.hour, minlength=24
    )
    assert 19 <= int(np.argmax(hod)) <= 23


def test_hourly_counts_variation(queries, stats):
    # Fleet p10-p90: CV of hourly counts [0.26, 2.48], busiest / mean [2.3, 41.9].
    counts = np.bincount((_offsets_s(queries) // 3600).astype(np.int64))
    assert 0.26 <= stats["hourly_cv"] <= 2.48
    assert 2.3 <= counts.max() / counts.mean() <= 41.9


def test_repetition(queries):
    # Targets: ~90% repeat an earlier shape (tolerance +-5 pt; ours 93.6 +-
    # 0.3); top-10 shapes "about a third" (tolerance [0.30, 0.40]; ours 0.329
    # +- 0.005, 5 sd from the lower edge); a user repeating a shape within
    # 60 s "common" (fleet median 64%; tolerance >= 0.4).
    fp = queries["fingerprint"]
    assert fp.notna().all()
    assert 0.85 <= fp.duplicated().mean() <= 0.95
    assert 0.30 <= fp.value_counts().head(10).sum() / len(fp) <= 0.40
    gap = queries.groupby(["user_name", "fingerprint"])["arrival_at"].diff()
    assert (gap.dt.total_seconds() <= 60).mean() >= 0.40


def test_memory_and_spill_plausible(queries):
    q = queries
    assert (q["mem_mb"] > 0).all()
    assert (q["spilled_mb"] >= 0).all()
    assert (q["scanned_mb"] >= 0).all()
    # Long queries want more memory than short ones, and only they spill much.
    long = q["exec_s"] > 60
    assert q.loc[long, "mem_mb"].median() > 5 * q.loc[~long, "mem_mb"].median()
    assert (q.loc[q["spilled_mb"] > 0, "mem_mb"] > 1024).all()


def test_cascade_matches_hawkes_cluster_theory():
    # A Hawkes cascade with branching n has mean cluster size 1 / (1 - n)
    # (Borel law). 20,000 roots at n = 0.5: the size's sd is sqrt(n) / (1 -
    # n)^1.5 = 2, so the mean's standard error is 0.014; tolerance 0.07 (5 se).
    roots = np.sort(np.random.default_rng(3).uniform(0.0, 1e7, 20_000))
    t, cluster, generation = cascade(
        roots, 4, branching=0.5, kernel_s=15.0, max_size=10_000
    )
    assert abs(t.size / roots.size - 2.0) <= 0.07
    assert np.all(np.diff(t) >= 0)
    assert (generation == 0).sum() == roots.size
    # Triggered starts follow their root, within a few kernels.
    assert np.all(t >= roots[cluster] - 1e-9)
    capped = cascade(roots, 4, branching=0.9, kernel_s=15.0, max_size=5)[1]
    assert np.bincount(capped).max() <= 5


def test_live_lab_prompts_burst_in_the_evening():
    # Each weekday lab (20:00-21:30 JST) holds one prompt answered by about
    # 17% of learners (binomial: 68 +- 7.5 of 400) within about a minute.
    start, prompt = prompt_sessions(7, 0, 400, np.random.default_rng(5))
    per = np.bincount(prompt)
    assert per.size == 5
    assert np.all(np.abs(per - 68) <= 4 * 7.5)
    hour = (start % 86_400.0) / 3600.0
    assert np.all((hour >= 20.0) & (hour < 21.6))
    spread = [np.ptp(start[prompt == k]) for k in range(per.size)]
    assert max(spread) < 180.0
