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


def _delay():
    at = pd.date_range("2025-05-26T00:00Z", periods=6, freq="1h")
    return pd.DataFrame(
        {
            "timestamp": list(at) * 2,
            "definition": ["MartTableUpdate"] * 6 + ["StepFunctionsCompletion"] * 6,
            "value": [0, 40, 95, 120, 0, 0, 0, 0, 0, 0, 0, 0],
        }
    )


def test_elt_delay_draws_the_designs_threshold_and_the_tuned_one_apart():
    ax = figures.plot_elt_delay(
        _ax(), _delay(), threshold_min=90.0, tuned_threshold_min=30.0
    )
    lines = {
        line.get_label(): set(line.get_ydata())
        for line in ax.get_lines()
        if line.get_label().endswith(("min", "min (deploy/)"))
    }
    assert lines == {
        "design's alarm threshold 90 min": {90.0},
        "tuned threshold 30 min (deploy/)": {30.0},
    }
    only_design = figures.plot_elt_delay(_ax(), _delay(), threshold_min=90.0)
    labels = [line.get_label() for line in only_design.get_lines()]
    assert not any("tuned" in label for label in labels)


def _pareto(cost):
    frame = pd.DataFrame(
        {
            "config_id": ["c1", "c2", "c3"],
            "cost_usd": cost,
            "elt_lateness_min": [0.0, 12.0, 30.0],
            "adhoc_p95_wait_s": [40.0, 8.0, 2.0],
            "on_front": [True, True, True],
        }
    )
    for column in ("cost_usd", "elt_lateness_min", "adhoc_p95_wait_s"):
        frame[f"{column}_ci_low"] = frame[column] * 0.9
        frame[f"{column}_ci_high"] = frame[column] * 1.1
    return frame


def test_pareto_without_any_cost_plots_lateness_against_wait():
    ax = figures.plot_pareto(
        _ax(), _pareto([0.0, 0.0, 0.0]), baseline="c1", recommended="c2"
    )
    assert ax.get_xlabel().startswith("ELT lateness")
    (points,) = [
        c.get_offsets() for c in ax.collections if c.get_label() == "configuration"
    ]
    assert [tuple(p) for p in np.asarray(points)] == [(0, 40), (12, 8), (30, 2)]
    assert any("0 USD for all 3 configurations" in t.get_text() for t in ax.texts)
    # The whole spread is on the axes: 33 min (30 + 10 %) and 44 s.
    assert ax.get_xlim()[1] >= 33.0
    assert ax.get_ylim()[1] >= 44.0
    priced = figures.plot_pareto(_ax(), _pareto([0.0, 1.5, 3.0]))
    assert priced.get_xlabel().startswith("Concurrency Scaling cost")
    assert not any("0 USD" in t.get_text() for t in priced.texts)


def test_headroom_marks_the_base_assumptions_where_they_give_more():
    from dpcsim.experiments.recommend import HEADROOM_COLUMNS

    inf = float("inf")
    rows = [
        ("c1", "wait", "objective", 1.5, 1.4, 1.7, "sigma=0.04", 2.0, 1.8, 2.3, 2),
        ("c1", "elt", "objective", inf, 4.0, inf, "none", inf, 4.0, inf, 2),
    ]
    ax = figures.plot_headroom(_ax(), pd.DataFrame(rows, columns=HEADROOM_COLUMNS))
    bars = sorted(p.get_width() for p in ax.patches)
    assert bars == [1.5, 4.0]  # the robust value; inf drawn to the range's end
    ticks = [c for c in ax.collections if c.get_label() == "base assumptions"]
    assert len(ticks) == 1
    offsets = np.asarray(ticks[0].get_offsets())
    assert offsets.shape == (1, 2)  # not where the base is as low
    assert offsets[0, 0] == 2.0
