"""Intervals with their stated coverage, the sequential rule, paired differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from dpcsim.experiments.stats import (
    groups_needing_more,
    mean_ci,
    paired_differences,
    summarize,
    t_test_p,
)

TRIALS = 4000


def test_t_interval_covers_at_its_level() -> None:
    """Coverage of 95 % intervals from n = 5 over 4000 independent trials.

    The coverage estimate has a standard error of sqrt(.95 * .05 / 4000) =
    0.0034; the test allows 4 standard errors (false failure rate < 1e-4).
    """
    rng = np.random.default_rng(2024)
    hits = 0
    for _ in range(TRIALS):
        _, _, low, high = mean_ci(rng.normal(10.0, 3.0, size=5), 0.95)
        hits += low <= 10.0 <= high
    assert abs(hits / TRIALS - 0.95) < 4 * np.sqrt(0.95 * 0.05 / TRIALS)


def test_interval_and_t_test_agree_with_scipy_stats() -> None:
    """The t quantile and p-value computed from scipy.special agree with
    scipy.stats' t interval and one-sample t-test (samples of 2 to 40, with
    means from 0 to several standard errors away)."""
    rng = np.random.default_rng(7)
    for n in (2, 3, 5, 10, 40):
        for shift in (0.0, 0.3, 1.0, 4.0):
            d = rng.normal(shift, 1.0, size=n)
            _, _, low, high = mean_ci(d, 0.9)
            want_low, want_high = sps.t.interval(
                0.9, n - 1, loc=d.mean(), scale=sps.sem(d)
            )
            assert np.isclose(low, want_low, rtol=1e-12, atol=1e-12)
            assert np.isclose(high, want_high, rtol=1e-12, atol=1e-12)
            want_p = sps.ttest_1samp(d, 0.0).pvalue
            assert np.isclose(t_test_p(d), want_p, rtol=1e-9, atol=1e-15)


def _results(values: dict[str, list[float]], metric: str = "x") -> pd.DataFrame:
    rows = []
    for config, xs in values.items():
        for r, x in enumerate(xs):
            rows.append(
                {
                    "config_id": config,
                    "scenario_id": "s",
                    "assumption_id": "a",
                    "replication": r,
                    "status": "ok",
                    f"metric.{metric}": x,
                }
            )
    return pd.DataFrame(rows)


def test_summary_rows_state_their_level() -> None:
    table = summarize(_results({"c": [1.0, 2.0, 3.0]}), level=0.9)
    row = table.iloc[0]
    assert (row["n"], row["mean"], row["level"]) == (3, 2.0, 0.9)
    # t(0.95, 2) = 2.919986; sd = 1; half = 2.919986 / sqrt(3).
    assert np.isclose(row["ci_high"] - 2.0, 2.919986 / np.sqrt(3), atol=1e-6)


def test_sequential_rule_asks_for_more_only_where_wide() -> None:
    frame = _results(
        {
            "tight": [10.0, 10.1, 9.9, 10.0],
            "wide": [1.0, 9.0, 3.0, 12.0],
            "constant": [0.0, 0.0, 0.0, 0.0],
        }
    )
    wide = groups_needing_more(frame, target_rel_half_width=0.1, level=0.95)
    assert wide == [("wide", "s", "a")]


def test_paired_differences_use_common_numbers_and_correct_for_many() -> None:
    """With common noise per replication, a 0.5 shift is found; a null is not."""
    rng = np.random.default_rng(5)
    noise = rng.normal(0.0, 5.0, size=10)
    jitter = [rng.normal(0.0, 0.1, size=10) for _ in range(3)]
    frame = _results(
        {
            "base": list(100 + noise),
            "better": list(99.5 + noise + jitter[0]),
            "same1": list(100 + noise + jitter[1]),
            "same2": list(100 + noise + jitter[2]),
        }
    )
    diff = paired_differences(frame, "base", ["x"], level=0.95).set_index("config_id")
    assert diff.loc["better", "significant"]
    assert diff.loc["better", "ci_high"] < 0
    # Three comparisons: the intervals are at the Bonferroni level 1 - 0.05 / 3.
    assert np.isclose(diff["adjusted_level"].iloc[0], 1 - 0.05 / 3)
    # Without common numbers (independent noise) the same shift is lost in noise.
    indep = _results(
        {
            "base": list(100 + noise),
            "better": list(99.5 + rng.normal(0.0, 5.0, size=10)),
        }
    )
    lost = paired_differences(indep, "base", ["x"]).set_index("config_id")
    assert lost.loc["better", "ci_high"] - lost.loc["better", "ci_low"] > 2.0
