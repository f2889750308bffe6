"""The figure functions: what they draw, and the same bytes for the same data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpcsim.report import figures


def _ax():
    return figures.figure(8, 3).add_subplot()


def _history(alarm_minutes, total_minutes=7 * 1440):
    at = pd.date_range("2025-05-25T00:00Z", periods=total_minutes, freq="1min")
    state = np.full(total_minutes, "OK", dtype=object)
    state[list(alarm_minutes)] = "ALARM"
    return pd.DataFrame(
        {
            "alarm_name": "A",
            "evaluated_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "state": state,
        }
    )


def test_one_minute_alarm_on_a_week_stays_visible():
    ax = figures.plot_alarm_timeline(_ax(), _history([3000]))
    widths = [
        path.get_extents().width for c in ax.collections for path in c.get_paths()
    ]
    total_h = 7 * 24
    # one ALARM minute is 1/10080 of the axis; it is drawn at the minimum width.
    assert min(widths) == pytest.approx(figures.MIN_SPAN_FRACTION * total_h)
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["1× ALARM, 1 min"]


def test_alarm_episodes_are_counted_as_transitions():
    ax = figures.plot_alarm_timeline(_ax(), _history([10, 11, 12, 50, 9000]))
    assert [t.get_text() for t in ax.texts] == ["3× ALARM, 5 min"]


def test_queue_length_bin_keeps_a_value_carried_in():
    # 5 queued from t=100 s until t=7300 s: the second hour has no change in
    # it but still holds 5 queued queries.
    timeline = pd.DataFrame(
        {"t_s": [0.0, 100.0, 7300.0], "queue": "batch", "queued": [0, 5, 0]}
    )
    ax = figures.plot_queue_length(_ax(), timeline, bin_s=3600.0)
    x, y = ax.lines[0].get_data()
    assert list(y[:3]) == [5, 5, 5]
    assert list(x[:3]) == [0.0, 1.0, 2.0]


def test_queue_never_queued_is_named_in_the_legend():
    timeline = pd.DataFrame(
        {"t_s": [0.0, 10.0], "queue": ["admin", "batch"], "queued": [0, 3]}
    )
    ax = figures.plot_queue_length(_ax(), timeline)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["admin (never queued)", "batch"]


def test_wait_distribution_marks_the_percentiles():
    rng = np.random.default_rng(7)
    waits = np.concatenate([np.zeros(900), rng.exponential(30.0, 100)])
    queries = pd.DataFrame({"queue": "adhoc", "queue_s": waits})
    ax = figures.plot_wait_distribution(_ax(), queries, percentiles=(95, 99))
    notes = [t.get_text() for t in ax.texts]
    assert notes == [
        f"p95 {np.percentile(waits, 95):.0f} s",
        f"p99 {np.percentile(waits, 99):.0f} s",
    ]
    assert ax.get_legend().get_texts()[0].get_text() == "adhoc (10.0 % waited)"


def test_contention_curve_peaks_where_the_law_says():
    fit = {
        "sigma": 0.08,
        "kappa": 0.002,
        "sigma_ci": [0.07, 0.09],
        "kappa_ci": [0.001, 0.003],
    }
    ax = figures.plot_contention_fit(_ax(), fit, max_concurrency=40)
    x, y = ax.lines[0].get_data()
    # USL peak: n* = sqrt((1 - sigma) / kappa)
    assert x[np.argmax(y)] == pytest.approx(np.sqrt(0.92 / 0.002), abs=0.3)


def test_same_data_same_png_bytes():
    def draw():
        fig = figures.figure(6, 3)
        figures.plot_alarm_timeline(fig.add_subplot(), _history([100, 5000]))
        return figures.to_png(fig)

    first = draw()
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert draw() == first
    assert b"Software" not in first
