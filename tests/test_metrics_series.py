"""Sampling a state timeline per minute, against a brute-force reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dpcsim.metrics.series import bin_counts, minute_grid, sample_step, step_function


def _brute(t_ms, v, grid, sampling):
    """Evaluate the step function on a 1 ms lattice in integer ms (no rounding)."""
    out = []
    for g in grid:
        xs = int(g) * 1000 + np.arange(0, 60_000)
        idx = np.searchsorted(t_ms, xs, side="right") - 1
        vals = np.where(idx >= 0, v[np.clip(idx, 0, None)] if v.size else 0.0, 0.0)
        if sampling == "instant":
            out.append(vals[0])
        elif sampling == "max":
            out.append(vals.max())
        else:
            out.append(vals.mean())
    return np.array(out)


changes = st.lists(
    st.tuples(st.integers(0, 240_000), st.integers(0, 9)), min_size=0, max_size=25
)


@settings(max_examples=60, deadline=None)
@given(changes, st.sampled_from(["instant", "max", "mean"]))
def test_sampling_matches_brute_force(rows, sampling):
    rows = sorted(rows, key=lambda r: r[0])
    t_ms = np.array([r[0] for r in rows], dtype="int64")
    v = np.array([float(r[1]) for r in rows])
    t, v = step_function(t_ms / 1000.0, v)
    t_ms = np.round(t * 1000).astype("int64")
    grid = np.arange(0.0, 300.0, 60.0)
    got = sample_step(t, v, grid, sampling=sampling)
    np.testing.assert_allclose(got, _brute(t_ms, v, grid, sampling), atol=1e-9)


def test_ties_keep_the_last_state():
    t, v = step_function(np.array([0.0, 60.0, 60.0, 60.0]), np.array([1, 2, 3, 0]))
    assert t.tolist() == [0.0, 60.0]
    assert sample_step(t, v, np.array([0.0, 60.0])).tolist() == [1.0, 0.0]
    # a change exactly at the next boundary belongs to the next minute
    assert sample_step(t, v, np.array([0.0]), sampling="max").tolist() == [1.0]


def test_bin_counts_half_open_minutes():
    grid = np.array([0.0, 60.0])
    counts = bin_counts(np.array([0.0, 59.999, 60.0, 120.0, -1.0, np.nan]), grid)
    assert counts.tolist() == [2.0, 1.0]


def test_minute_grid_covers_the_last_minute():
    start = pd.Timestamp("2024-01-01 00:00:30", tz="UTC")
    stamps, grid_s = minute_grid(start, 100.0)
    assert [str(s.time()) for s in stamps] == ["00:00:00", "00:01:00", "00:02:00"]
    assert grid_s.tolist() == [-30.0, 30.0, 90.0]
