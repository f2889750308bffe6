"""Contention from the log: select the queries, check the log identifies the curve,
fit it, and state the result as ``[contention]`` settings and ``fit.json``.

Queries left out of the fit (they still count in the concurrency): result-cache
hits (no WLM work, not in the concurrency either), aborted queries (their time
is cut short), execution times that include queueing (``exec_is_upper_bound``),
zero execution times, queries without a fingerprint, and shapes seen once.
When the log does not identify the curve the fit keeps the defaults
(:func:`~dpcsim.calibration.defaults.contention_defaults`) and says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from dpcsim.calibration.concurrency import (
    CLUSTERS,
    build_profile,
    execution_intervals,
)
from dpcsim.calibration.defaults import ContentionDefaults, contention_defaults
from dpcsim.calibration.fit import CurveFit, check_identifiable, fit_curve

__all__ = ["EXCLUSIONS", "ContentionFit", "fit_contention"]

#: Reasons a query is left out of the fit, in the order they are tested.
EXCLUSIONS: Final = (
    "cache_hit",
    "aborted",
    "exec_includes_queue",
    "zero_exec",
    "no_fingerprint",
    "shape_seen_once",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContentionFit:
    """The calibrated (or default) contention and the evidence for it.

    Attributes
    ----------
    sigma, kappa
        The values to use: fitted when ``identifiable``, else the defaults.
    identifiable
        True when the log identified the curve and the fit converged.
    reason
        Why the log does or does not identify the curve.
    curve
        The fit with intervals and goodness of fit (None when not identifiable).
    defaults
        The defaults a failed identification keeps.
    n_queries_total, n_queries_used, n_shapes_used
        Rows in the log; queries and repeated shapes the fit used.
    excluded
        Queries left out per reason (:data:`EXCLUSIONS`).
    by_cluster
        Queries used per cluster (``main``, ``cs``).
    start_at_arrival
        Used queries whose queue wait was unknown (start taken at arrival).
    max_concurrency
        Largest logged concurrency per cluster [queries].
    within_shape_sd, collinearity
        The identification checks' figures.
    seed
        Seed of the bootstrap.
    """

    sigma: float
    kappa: float
    identifiable: bool
    reason: str
    curve: CurveFit | None
    defaults: ContentionDefaults
    n_queries_total: int
    n_queries_used: int
    n_shapes_used: int
    excluded: dict[str, int] = field(default_factory=dict)
    by_cluster: dict[str, int] = field(default_factory=dict)
    start_at_arrival: int = 0
    max_concurrency: dict[str, int] = field(default_factory=dict)
    within_shape_sd: float = 0.0
    collinearity: float = 1.0
    seed: int = 0

    @property
    def contention_table(self) -> dict[str, Any]:
        """The ``[contention]`` settings table (the keys ``--settings`` reads)."""
        return {
            "model": "usl",
            "sigma": self.sigma,
            "kappa": self.kappa,
            "demand": "observed",
        }

    def settings_toml(self) -> str:
        """``settings.toml``: the ``[contention]`` table, commented with its source."""
        if self.curve is not None:
            c = self.curve
            head = [
                f"# Fitted by dpcsim calibrate from {self.n_queries_used} queries in "
                f"{self.n_shapes_used} repeated shapes.",
                f"# {c.level:.0%} intervals (robust profile likelihood): sigma "
                f"[{c.sigma_ci[0]:.4g}, {c.sigma_ci[1]:.4g}], kappa "
                f"[{c.kappa_ci[0]:.4g}, {c.kappa_ci[1]:.4g}].",
            ]
        else:
            head = [
                "# The log does not identify the curve; these are the defaults.",
                f"# Why: {self.reason}.",
                f"# Defaults from {self.defaults.source}.",
            ]
        body = [
            "[contention]",
            'model = "usl"',
            f"sigma = {self.sigma!r}",
            f"kappa = {self.kappa!r}",
            'demand = "observed"',
        ]
        return "\n".join([*head, *body]) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """``fit.json``: estimates, 95 % intervals, data used, goodness of fit."""
        c = self.curve
        out: dict[str, Any] = {
            "model": "usl",
            "sigma": self.sigma,
            "kappa": self.kappa,
            "sigma_ci": list(c.sigma_ci) if c else [None, None],
            "kappa_ci": list(c.kappa_ci) if c else [None, None],
            "sigma_ci_bootstrap": list(c.sigma_ci_bootstrap) if c else [None, None],
            "kappa_ci_bootstrap": list(c.kappa_ci_bootstrap) if c else [None, None],
            "sigma_se": c.sigma_se if c else None,
            "kappa_se": c.kappa_se if c else None,
            "level": c.level if c else 0.95,
            "interval": (
                "robust profile likelihood (Huber loss drop, chi-square 1 df); "
                f"*_ci_bootstrap: percentile over query shapes, {c.n_boot} draws "
                f"({c.n_boot_failed} did not converge), seed {self.seed}"
                if c
                else None
            ),
            "identifiable": self.identifiable,
            "reason": self.reason,
            "source": "fitted" if self.identifiable else "default",
            "defaults": {
                "sigma": self.defaults.sigma,
                "kappa": self.defaults.kappa,
                "source": self.defaults.source,
            },
            "n_queries_total": self.n_queries_total,
            "n_queries_used": self.n_queries_used,
            "n_shapes_used": self.n_shapes_used,
            "excluded": dict(self.excluded),
            "by_cluster": dict(self.by_cluster),
            "start_at_arrival": self.start_at_arrival,
            "max_concurrency": dict(self.max_concurrency),
            "within_shape_sd_concurrency": self.within_shape_sd,
            "collinearity": self.collinearity,
            "r2_log_exec": c.r2_log_exec if c else None,
            "r2_within_shape": c.r2_within_shape if c else None,
            "residual_scale_log": c.residual_scale if c else None,
            "loss": "huber",
            "huber_threshold_log": c.huber_threshold if c else None,
            "method": (
                "log exec_s = log w_shape - log mean_run(X(n) / n); shape solo "
                "works profiled (Huber location), sigma and kappa by bounded "
                "trust-region least squares with a Huber loss"
            ),
        }
        return out


def fit_contention(
    queries: pd.DataFrame,
    *,
    n_boot: int = 100,
    seed: int = 0,
    defaults: ContentionDefaults | None = None,
) -> ContentionFit:
    """Fit the USL to a canonical workload's logged execution times.

    Parameters
    ----------
    queries
        Canonical query frame (:mod:`dpcsim.schema`): ``arrival_at``,
        ``queue_s``, ``exec_s``, ``ran_on_cs``, ``fingerprint`` and the flags.
    n_boot
        Bootstrap refits over shapes (standard errors and the bootstrap
        intervals reported beside the profile-likelihood ones).
    seed
        Seed of the bootstrap (same inputs and seed, same result).
    defaults
        Kept when the log does not identify the curve; None reads the
        package's (:func:`contention_defaults`).
    """
    defaults = defaults or contention_defaults()
    intervals = execution_intervals(queries)
    profile = build_profile(intervals)
    exec_s = queries["exec_s"].to_numpy(dtype=np.float64)
    fingerprint = queries["fingerprint"].astype("string")
    masks = {
        "cache_hit": ~intervals.counted,
        "aborted": queries["aborted"].to_numpy(dtype=bool),
        "exec_includes_queue": queries["exec_is_upper_bound"].to_numpy(dtype=bool),
        "zero_exec": ~(intervals.end_s > intervals.start_s),
        "no_fingerprint": fingerprint.isna().to_numpy(),
    }
    left = np.ones(len(queries), dtype=bool)
    excluded: dict[str, int] = {}
    for name, mask in masks.items():
        excluded[name] = int(np.sum(left & mask))
        left &= ~mask
    codes = np.where(left, pd.factorize(fingerprint)[0], -1)
    valid = codes >= 0
    size = np.bincount(codes[valid]) if valid.any() else np.zeros(0, dtype=np.int64)
    repeated = valid.copy()
    repeated[valid] = size[codes[valid]] >= 2
    excluded["shape_seen_once"] = int(np.sum(left & ~repeated))
    rows = np.flatnonzero(repeated)
    shape = pd.factorize(codes[rows])[0].astype(np.int64)
    n_shapes = int(shape.max()) + 1 if shape.size else 0
    check = check_identifiable(profile, rows, shape)
    by_cluster = {
        name: int(np.sum(intervals.cluster[rows] == k))
        for k, name in enumerate(CLUSTERS)
    }
    max_n = _max_concurrency(profile, intervals.cluster)
    common: dict[str, Any] = {
        "defaults": defaults,
        "n_queries_total": len(queries),
        "n_queries_used": int(rows.size),
        "n_shapes_used": n_shapes,
        "excluded": excluded,
        "by_cluster": by_cluster,
        "start_at_arrival": int(np.sum(intervals.start_is_arrival[rows])),
        "max_concurrency": max_n,
        "within_shape_sd": check.within_shape_sd,
        "collinearity": check.collinearity,
        "seed": seed,
    }
    if not check.identifiable:
        return ContentionFit(
            sigma=defaults.sigma,
            kappa=defaults.kappa,
            identifiable=False,
            reason=check.reason,
            curve=None,
            **common,
        )
    try:
        curve = fit_curve(profile, rows, exec_s[rows], shape, n_boot=n_boot, rng=seed)
    except RuntimeError as err:
        return ContentionFit(
            sigma=defaults.sigma,
            kappa=defaults.kappa,
            identifiable=False,
            reason=f"{check.reason}, but {err}",
            curve=None,
            **common,
        )
    return ContentionFit(
        sigma=curve.sigma,
        kappa=curve.kappa,
        identifiable=True,
        reason=check.reason,
        curve=curve,
        **common,
    )


def _max_concurrency(profile: Any, cluster: np.ndarray) -> dict[str, int]:
    """Largest logged concurrency of each cluster."""
    out = dict.fromkeys(CLUSTERS, 0)
    if profile.running.size == 0:
        return out
    # Cluster blocks follow CLUSTERS order; find each block by its rows' starts.
    for k, name in enumerate(CLUSTERS):
        idx = profile.start_index[(cluster == k) & (profile.start_index >= 0)]
        if idx.size == 0:
            continue
        end = profile.end_index[(cluster == k) & (profile.end_index >= 0)].max()
        lo = int(idx.min())
        out[name] = int(profile.running[lo : int(end)].max(initial=0))
    return out
