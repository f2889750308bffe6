"""What-ifs: thinning, superposition, speed factor, ELT shift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpcsim.designs import DPC_ELT
from dpcsim.workload import DPCWorkloadSpec, Faults, generate_dpc_workload
from dpcsim.workload.whatif import elt_mask, scale_arrivals, shift_elt, speed_up


@pytest.fixture(scope="module")
def base():
    spec = DPCWorkloadSpec(days=3, faults=Faults(copy_errors=(1,)))
    return generate_dpc_workload(spec, 4)


def test_thinning_rate_within_binomial_ci(base):
    n = len(base.queries)
    for seed in range(5):
        kept = len(scale_arrivals(base, 0.3, seed).queries)
        # Binomial(n, 0.3): 4 standard errors (two-sided p < 1e-4 per draw).
        assert abs(kept - 0.3 * n) <= 4 * np.sqrt(n * 0.3 * 0.7)


def test_thinning_keeps_rows_unchanged_and_respects_where(base):
    learners = base.queries["user_name"].str.startswith("learner_").to_numpy()
    out = scale_arrivals(base, 0.5, 1, where=learners).queries
    # Non-selected rows all survive, untouched.
    elt = base.queries[~learners].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        out[~out["user_name"].str.startswith("learner_")].reset_index(drop=True), elt
    )
    merged = out.merge(base.queries, on="query_id", suffixes=("", "_b"))
    assert (merged["exec_s"] == merged["exec_s_b"]).all()


def test_superposition_count_and_unique_ids(base):
    n = len(base.queries)
    out = scale_arrivals(base, 2.0, 3).queries
    assert out["query_id"].is_unique
    # factor 2: one whole layer of resampled days; days differ in size, so
    # the count is n plus the sizes of the resampled days (same horizon).
    assert 1.6 * n <= len(out) <= 2.4 * n
    new = out[out["query_id"] > base.queries["query_id"].max()]
    assert len(new) == len(out) - n
    assert (new["task_id"] == new["query_id"]).all()
    assert out["arrival_at"].min() >= base.queries["arrival_at"].min() - pd.Timedelta(
        days=1
    )
    # Copies are whole-day shifts of originals: the time of day is preserved.
    tod = lambda s: (s - s.dt.floor("D")).dt.total_seconds()  # noqa: E731
    assert set(np.round(tod(new["arrival_at"]), 6)) <= set(
        np.round(tod(base.queries["arrival_at"]), 6)
    )


def test_fractional_superposition_mean(base):
    n = len(base.queries)
    sizes = [len(scale_arrivals(base, 1.5, s).queries) for s in range(6)]
    # Mean of 6 draws of n + 0.5 * (resampled days); day sizes vary by ~10%.
    assert 1.3 * n <= np.mean(sizes) <= 1.7 * n


def test_speed_factor_exact(base):
    fast = speed_up(base, 4.0)
    q, f = base.queries, fast.queries
    np.testing.assert_array_equal(f["exec_s"].to_numpy(), q["exec_s"].to_numpy() / 4.0)
    t0 = base.start_at
    off = (q["arrival_at"] - t0).dt.total_seconds().to_numpy()
    off_fast = (f["arrival_at"] - t0).dt.total_seconds().to_numpy()
    np.testing.assert_allclose(off_fast, off / 4.0, atol=1e-6)
    assert fast.start_at == t0
    err = (fast.load_errors["error_at"] - t0).dt.total_seconds().to_numpy()
    base_err = (base.load_errors["error_at"] - t0).dt.total_seconds().to_numpy()
    np.testing.assert_allclose(err, base_err / 4.0, atol=1e-6)
    assert not fast.load_errors.empty


def test_shift_elt(base):
    moved = shift_elt(base, 90, DPC_ELT)
    mask = elt_mask(base.queries, DPC_ELT)
    assert mask.sum() > 1000
    before = base.queries.set_index("query_id")["arrival_at"]
    after = moved.queries.set_index("query_id")["arrival_at"].reindex(before.index)
    delta = (after - before).dt.total_seconds().to_numpy()
    assert np.all(delta[mask] == 90 * 60)
    assert np.all(delta[~mask] == 0)
    assert (
        (moved.elt_runs["start_at"] - base.elt_runs["start_at"]).dt.total_seconds()
        == 5400
    ).all()
    assert (
        (
            moved.load_errors["error_at"] - base.load_errors["error_at"]
        ).dt.total_seconds()
        == 5400
    ).all()


def test_bad_factors(base):
    with pytest.raises(ValueError, match="factor"):
        scale_arrivals(base, 0.0)
    with pytest.raises(ValueError, match="factor"):
        speed_up(base, -1.0)


def test_superposed_days_are_new_sessions(base):
    out = scale_arrivals(base, 2.0, 3).queries
    added = out.loc[out["query_id"] > base.queries["query_id"].max(), "session_id"]
    assert added.notna().any()
    assert not set(added.dropna()) & set(base.queries["session_id"].dropna())
