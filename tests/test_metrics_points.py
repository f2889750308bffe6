"""Datapoint frames built by dpcsim.metrics.points: categorical names, same values.

The frames hold their text columns as categoricals; concatenating and sorting
them must give exactly what the same operations give on plain strings.
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd

from dpcsim.metrics.datapoints import validate_datapoints
from dpcsim.metrics.points import concat_points, points, sort_points

TEXTS = ["namespace", "metric_name", "dimensions", "unit"]


def _parts() -> list[pd.DataFrame]:
    rng = np.random.default_rng(3)
    stamps = pd.date_range("2025-05-26", periods=90, freq="min", tz="UTC")
    specs = [
        ("AWS/Redshift", "WLMQueueLength", {"QueueName": "batch"}, "Count"),
        ("Custom/DPC", "ELTExecutionDelay", None, "Seconds"),
        ("AWS/Redshift", "WLMQueueLength", {"QueueName": "adhoc"}, "Count"),
        ("AWS/Redshift", "WLMQueueLength", {"QueueName": "batch"}, "Count"),
        ("AWS/Redshift", "ConcurrencyScalingSeconds", None, "Seconds"),
    ]
    parts = []
    for k, (namespace, name, dims, unit) in enumerate(specs):
        # The repeated series covers later minutes, given in reverse.
        at = stamps[::-1] + pd.Timedelta(hours=2) if k == 3 else stamps
        parts.append(
            points(at, rng.normal(size=len(at)), namespace=namespace,
                   metric_name=name, dimensions=dims, unit=unit)
        )  # fmt: skip
    # A part that is itself a concatenation (several categories per column).
    return [concat_points(parts[:2]), *parts[2:]]


def test_concatenated_points_equal_concatenated_strings():
    parts = _parts()
    out = concat_points(parts)
    for col in TEXTS:
        categories = list(out[col].cat.categories)
        assert categories == sorted(set(categories))
    plain = pd.concat([p.astype(dict.fromkeys(TEXTS, "string")) for p in parts])
    pd.testing.assert_frame_equal(
        out.astype(dict.fromkeys(TEXTS, "string")), plain.reset_index(drop=True)
    )
    # validate_datapoints (what a user's frame goes through) leaves it as it is.
    pd.testing.assert_frame_equal(validate_datapoints(out), out)


def test_sorted_points_are_a_stable_sort_of_the_strings():
    out = sort_points(concat_points(_parts()))
    keys = ["namespace", "metric_name", "dimensions", "timestamp"]
    plain = concat_points(_parts()).astype(dict.fromkeys(TEXTS, "string"))
    expected = plain.sort_values(keys, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(out.astype(dict.fromkeys(TEXTS, "string")), expected)


def test_consuming_concat_and_sort_give_the_same_frames_and_let_go_of_inputs():
    parts = _parts()
    watched = [weakref.ref(p) for p in parts]
    merged = concat_points(parts, consume=True)
    pd.testing.assert_frame_equal(merged, concat_points(_parts()))
    # The list is emptied and no part outlives the call.
    assert parts == []
    assert all(w() is None for w in watched)
    unsorted = merged.copy()
    out = sort_points(merged, consume=True)
    pd.testing.assert_frame_equal(out, sort_points(unsorted))
    assert merged.columns.empty
    # The sort moved rows (the comparison is not of a frame with itself).
    assert not out["timestamp"].equals(unsorted["timestamp"])
