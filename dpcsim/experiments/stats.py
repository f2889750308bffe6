"""Statistics of a sweep: means with confidence intervals, the sequential rule,
paired differences against the baseline.

Intervals are Student-t intervals over replications at a stated ``level``
(replications are independent: distinct bootstrap draws or generator seeds).
Paired differences use common random numbers: replication r of a configuration
and of the baseline saw the same days and engine stream, so the difference is
taken per replication and its t interval is corrected for the number of
comparisons (Bonferroni for the intervals, Holm for the reported p-values).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

# scipy.special, not scipy.stats: the same t distribution (scipy.stats.t is
# built on stdtr/stdtrit) for a sixth of the import time of a sweep's driver.
from scipy import special

__all__ = [
    "GROUP",
    "STATS_COLUMNS",
    "groups_needing_more",
    "mean_ci",
    "metric_columns",
    "paired_differences",
    "summarize",
    "t_test_p",
]

GROUP = ["config_id", "scenario_id", "assumption_id"]
STATS_COLUMNS = [*GROUP, "metric", "n", "mean", "ci_low", "ci_high", "level"]


def metric_columns(results: pd.DataFrame) -> list[str]:
    """The ``metric.*`` columns of a results frame, sorted."""
    return sorted(c for c in results.columns if c.startswith("metric."))


def mean_ci(values: np.ndarray, level: float) -> tuple[int, float, float, float]:
    """n, mean and the two-sided t interval at ``level`` (NaN bounds for n < 2)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return 0, float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if n < 2:
        return n, mean, float("nan"), float("nan")
    half = float(special.stdtrit(n - 1, 0.5 + level / 2.0) * x.std(ddof=1) / np.sqrt(n))
    return n, mean, mean - half, mean + half


def t_test_p(d: np.ndarray) -> float:
    """Two-sided p-value of the one-sample t-test of mean 0 (``d``: n >= 2)."""
    n = d.size
    t = float(d.mean()) / float(np.sqrt(d.var(ddof=1) / n))
    return float(2.0 * special.stdtr(n - 1, -abs(t)))


def summarize(results: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """stats.csv: one row per (config, scenario, assumption, metric) over ok runs.

    Every outcome metric is a wait, a count, a cost, a lateness or a share,
    none below 0, so a t interval's lower end is cut at 0 (the upper end and
    the mean are as computed).
    """
    ok = results.loc[results["status"] == "ok"]
    rows = []
    metrics = metric_columns(results)
    for key, group in ok.groupby(GROUP, sort=True):
        for m in metrics:
            n, mean, low, high = mean_ci(group[m].to_numpy(dtype=np.float64), level)
            low = max(low, 0.0) if np.isfinite(low) else low
            rows.append((*key, m.removeprefix("metric."), n, mean, low, high, level))
    return pd.DataFrame(rows, columns=STATS_COLUMNS)


def groups_needing_more(
    results: pd.DataFrame,
    *,
    target_rel_half_width: float,
    level: float,
    metrics: Sequence[str] | None = None,
) -> list[tuple[str, str, str]]:
    """Groups whose interval is wider than the target on some reported metric.

    The relative half-width is ``half / |mean|``; a metric that is constant
    over the replications (half-width 0) meets any target, and a metric whose
    mean is 0 but varies does not.
    """
    table = summarize(results, level)
    if metrics is not None:
        table = table.loc[table["metric"].isin(list(metrics))]
    half = (table["ci_high"] - table["ci_low"]) / 2.0
    rel = np.where(half <= 0.0, 0.0, half / table["mean"].abs().replace(0.0, np.nan))
    wide = ~(np.nan_to_num(rel, nan=np.inf) <= target_rel_half_width)
    keys = table.loc[wide, GROUP].drop_duplicates()
    return [tuple(map(str, k)) for k in keys.itertuples(index=False)]  # type: ignore[misc]


def paired_differences(
    results: pd.DataFrame,
    baseline_config_id: str,
    metrics: Sequence[str],
    *,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per configuration, scenario, assumption and metric: config - baseline.

    Pairs are matched on the replication. ``adjusted_level`` is the Bonferroni
    level ``1 - (1 - level) / m`` for the ``m`` comparisons in the table;
    ``p_adjusted`` is Holm's step-down adjustment of the paired t-test p-values;
    ``significant`` is ``p_adjusted < 1 - level``.
    """
    ok = results.loc[results["status"] == "ok"]
    base = ok.loc[ok["config_id"] == baseline_config_id]
    rows = []
    for key, group in ok.loc[ok["config_id"] != baseline_config_id].groupby(GROUP):
        config_id, scenario_id, assumption_id = key
        ref = base.loc[
            (base["scenario_id"] == scenario_id)
            & (base["assumption_id"] == assumption_id)
        ]
        merged = group.merge(ref, on="replication", suffixes=("", "_base"))
        for m in metrics:
            col = f"metric.{m}"
            if col not in merged:
                continue
            d = (merged[col] - merged[f"{col}_base"]).to_numpy(dtype=np.float64)
            d = d[np.isfinite(d)]
            rows.append((config_id, scenario_id, assumption_id, m, d))
    count = max(len(rows), 1)
    adjusted = 1.0 - (1.0 - level) / count
    out = []
    for config_id, scenario_id, assumption_id, m, d in rows:
        n, mean, low, high = mean_ci(d, adjusted)
        if n >= 2 and np.std(d) > 0:
            p = t_test_p(d)
        else:
            p = 1.0 if n == 0 or mean == 0.0 else 0.0
        out.append(
            (
                config_id,
                scenario_id,
                assumption_id,
                m,
                n,
                mean,
                low,
                high,
                level,
                adjusted,
                p,
            )
        )
    frame = pd.DataFrame(
        out,
        columns=[
            *GROUP,
            "metric",
            "n",
            "mean_diff",
            "ci_low",
            "ci_high",
            "level",
            "adjusted_level",
            "p_value",
        ],
    )
    frame["p_adjusted"] = _holm(frame["p_value"].to_numpy(dtype=np.float64))
    frame["significant"] = frame["p_adjusted"] < 1.0 - level
    return frame


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values."""
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = scaled
    return out
