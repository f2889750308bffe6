"""CloudWatch statistics per period from raw datapoints."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpcsim.errors import InputError
from dpcsim.metrics.datapoints import concat_datapoints, make_datapoints
from dpcsim.metrics.statistics import (
    grouped_statistic,
    low_sample_threshold,
    parse_percentile,
    period_statistics,
    statistic_of,
)


def test_basic_statistics_per_epoch_aligned_period() -> None:
    stamps = ["2024-01-01T00:04:59Z", "2024-01-01T00:05:00Z", "2024-01-01T00:09:59Z"]
    data = concat_datapoints(
        [
            make_datapoints(stamps, [1.0, 4.0, 6.0], namespace="N", metric_name="m"),
            make_datapoints(
                stamps[:1], [7.0], namespace="N", metric_name="m", dimensions={"Q": "b"}
            ),
        ]
    )
    out = period_statistics(data, period_s=300)
    assert list(out["dimensions"]) == ["", "", "Q=b"]
    first, second = out.iloc[0], out.iloc[1]
    assert first["timestamp"] == pd.Timestamp("2024-01-01T00:00:00Z")
    assert (first["SampleCount"], first["Sum"], first["Maximum"]) == (1, 1.0, 1.0)
    assert second["timestamp"] == pd.Timestamp("2024-01-01T00:05:00Z")
    assert second["SampleCount"] == 2
    assert second["Average"] == 5.0
    assert (second["Minimum"], second["Maximum"], second["Sum"]) == (4.0, 6.0, 10.0)
    assert str(out["timestamp"].dtype) == "datetime64[us, UTC]"


def test_nearest_rank_percentiles() -> None:
    values = np.arange(1.0, 11.0)  # 1..10
    assert statistic_of(values, "p50") == 5.0  # ceil(0.5 * 10) = 5th
    assert statistic_of(values, "p90") == 9.0
    assert statistic_of(values, "p91") == 10.0
    assert statistic_of(values, "p10") == 1.0
    assert statistic_of(values, "p100") == 10.0
    assert statistic_of(np.array([3.0]), "p99.9") == 3.0
    assert math.isnan(statistic_of(np.array([]), "p50"))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50),
    st.floats(0.1, 100.0),
)
def test_percentile_equals_numpy_inverted_cdf(values: list[float], p: float) -> None:
    arr = np.array(values)
    stat = f"p{p:.4f}".rstrip("0").rstrip(".")
    got = statistic_of(arr, stat)
    want = np.quantile(arr, float(stat[1:]) / 100.0, method="inverted_cdf")
    assert got == pytest.approx(want)  # nearest rank = inverted CDF


def test_grouped_statistic_empty_groups_are_nan() -> None:
    result, count = grouped_statistic(
        np.array([0, 0, 2]), np.array([1.0, 3.0, 5.0]), "Minimum", 3
    )
    assert count.tolist() == [2, 0, 1]
    assert result[0] == 1.0
    assert np.isnan(result[1])
    assert result[2] == 5.0
    samples, _ = grouped_statistic(np.array([1]), np.array([9.0]), "SampleCount", 2)
    assert np.isnan(samples[0])
    assert samples[1] == 1.0


def test_low_sample_thresholds() -> None:
    assert low_sample_threshold(99) == pytest.approx(1000)
    assert low_sample_threshold(50) == pytest.approx(20)
    assert low_sample_threshold(10) == pytest.approx(100)
    assert low_sample_threshold(100) == math.inf


def test_statistic_names() -> None:
    assert parse_percentile("p99.9") == 99.9
    assert parse_percentile("p0") is None
    assert parse_percentile("tm90") is None
    data = make_datapoints(
        ["2024-01-01T00:00:00Z"], [1.0], namespace="N", metric_name="m"
    )
    with pytest.raises(InputError, match="Median"):
        period_statistics(data, period_s=60, stats=("Median",))
    with pytest.raises(InputError, match="positive"):
        period_statistics(data, period_s=0)
