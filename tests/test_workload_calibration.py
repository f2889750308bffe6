"""Calibration of the synthetic DPC workload against workload-calibration.md.

Target set: the Redset fleet figures (median 37-40 ms, mean 2.8-3 s, ~3% of
queries > 60 s carrying 90-95% of busy time, ~31% reads, ~10% cache hits, ~0.5%
aborted, ~4% COPY/UNLOAD), not the single 24 h trace (median 9 ms).

Each statistic is computed on one generated week for each of SEEDS. Over 10
seeds the generator's seed-to-seed standard deviations are small next to every
tolerance below (median 1.7 ms, mean 0.10 s, share > 60 s 0.1 pt, busy share
0.5 pt, reads 2 pt, cache 0.7 pt, dispersion 0.5, peak ratio 0.12), so each
tolerance is at least about 3 standard deviations (most more than 5) from the
10-seed mean: a failure means the model moved, not bad luck.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload

SEEDS = (11, 12, 13)


@pytest.fixture(scope="module", params=SEEDS)
def queries(request: pytest.FixtureRequest) -> pd.DataFrame:
    return generate_dpc_workload(DPCWorkloadSpec(), request.param).queries


def _offsets_s(q: pd.DataFrame) -> np.ndarray:
    return np.sort(
        (q["arrival_at"] - q["arrival_at"].min()).dt.total_seconds().to_numpy()
    )


def test_execution_time_quantiles(queries):
    # Targets: median about 37-40 ms, mean about 2.8-3 s, p99 in minutes.
    # Tolerance: median in [25, 60] ms, mean in [2, 4] s, p99 >= 60 s (the
    # fleet figures are medians over clusters, a band is the honest claim).
    e = queries["exec_s"].to_numpy()
    assert 0.025 <= np.median(e) <= 0.060
    assert 2.0 <= e.mean() <= 4.0
    assert np.quantile(e, 0.99) >= 60.0


def test_tail_share_and_busy_time(queries):
    # Target: about 3% of queries > 60 s carrying 90-95% of busy time.
    # Tolerance: share in [2%, 4%], busy share >= 85% (we reach ~88%).
    e = queries["exec_s"].to_numpy()
    long = e > 60.0
    assert 0.02 <= long.mean() <= 0.04
    assert e[long].sum() / e.sum() >= 0.85


def test_mix(queries):
    # Targets: 31% reads, 10% cache hits, 0.5% aborted, 4% COPY/UNLOAD.
    # Tolerances: reads 31 +- 5 pt, cache 8-12%, aborted 0.3-0.8%, COPY/UNLOAD 3-5%.
    st = queries["statement_type"]
    assert 0.26 <= (st == "select").mean() <= 0.36
    assert 0.08 <= queries["cache_hit"].mean() <= 0.12
    assert 0.003 <= queries["aborted"].mean() <= 0.008
    assert 0.03 <= st.isin(["copy", "unload"]).mean() <= 0.05


def test_cache_hits_do_almost_no_work(queries):
    # "Cached queries do almost no work": all under 0.1 s, median a few ms.
    cached = queries.loc[queries["cache_hit"], "exec_s"].to_numpy()
    assert cached.max() < 0.1
    assert np.median(cached) < 0.005
    assert (queries.loc[queries["cache_hit"], "statement_type"] == "select").all()


def test_burstier_than_poisson(queries):
    # Real trace: inter-arrival CV 6.2, per-minute dispersion ~150 (Poisson: 1).
    # Tolerance: CV >= 3 and dispersion >= 10, both far above Poisson's 1.
    t = _offsets_s(queries)
    gaps = np.diff(t)
    assert gaps.std() / gaps.mean() >= 3.0
    per_min = np.bincount((t // 60).astype(np.int64))
    assert per_min.var() / per_min.mean() >= 10.0


def test_learners_alone_are_bursty(queries):
    # The learners' process alone (no ELT) must also be far from Poisson.
    ad = queries[queries["user_name"].str.startswith("learner_")]
    gaps = np.diff(_offsets_s(ad))
    assert gaps.std() / gaps.mean() >= 2.0


def test_hourly_shape_jst(queries):
    # Hour-of-day peak / daily mean in the fleet's p10-p90 band [1.17, 6.1],
    # trough / daily mean in [0.01, 0.90]; weekend/weekday in [0.94, 1.32].
    local = queries["arrival_at"].dt.tz_convert("Asia/Tokyo")
    hod = np.bincount(local.dt.hour, minlength=24)
    assert 1.17 <= hod.max() / hod.mean() <= 6.1
    assert 0.01 <= hod.min() / hod.mean() <= 0.90
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


def test_hourly_counts_variation(queries):
    # Fleet p10-p90: CV of hourly counts [0.26, 2.48], busiest / mean [2.3, 41.9].
    counts = np.bincount((_offsets_s(queries) // 3600).astype(np.int64))
    assert 0.26 <= counts.std() / counts.mean() <= 2.48
    assert 2.3 <= counts.max() / counts.mean() <= 41.9


def test_repetition(queries):
    # Targets: ~90% repeat an earlier shape (tolerance +-5 pt); top-10 shapes
    # "about a third" (tolerance [0.2, 0.45]: we reach ~0.27); a user repeating
    # a shape within 60 s "common" (fleet median 64%; tolerance >= 0.4).
    fp = queries["fingerprint"]
    assert fp.notna().all()
    assert 0.85 <= fp.duplicated().mean() <= 0.95
    assert 0.20 <= fp.value_counts().head(10).sum() / len(fp) <= 0.45
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
