"""Fit the USL's ``sigma`` and ``kappa`` to logged execution times.

Model. Under egalitarian processor sharing a query of solo work ``w`` that ran
over ``[start, end]`` satisfies ``w = integral of X(n(t)) / n(t) dt``, so with
``h = mean over the run of 1 / (1 + sigma (n - 1) + kappa n (n - 1))``

    log exec_s = log w_shape - log h(sigma, kappa) + error.

Each query shape (fingerprint) has its own ``log w_shape``, a nuisance
parameter; the same shape logged at different concurrencies identifies the
curve. The error is fitted with a Huber loss in log execution time (threshold
1.345 robust standard deviations, from a least-squares pilot), so a few
queries slowed by something else (a lock, a cold cache) do not pull the curve.

Profiling. For given ``(sigma, kappa)`` the best ``log w_shape`` is the Huber
location of ``log exec_s + log h`` within the shape (iteratively reweighted
means, warm-started), so the optimiser (``scipy.optimize.least_squares``,
trust-region reflective with bounds ``sigma, kappa >= 0``) works on two
parameters only; its Jacobian is analytic and includes the profile's response.

Intervals. 95 % robust profile-likelihood intervals: hold one coefficient at
``v``, refit the other and the shape works, and scale the rise in Huber loss
by ``mean(psi') / mean(psi^2)`` of the standardised residuals (Ronchetti's
robust likelihood-ratio test, chi-square with 1 degree of freedom); the
interval is where the rise stays below the 95 % quantile, bounded below by 0.
They follow the curved, correlated ridge of ``(sigma, kappa)``, where the
bootstrap percentile intervals over query shapes (``n_boot`` refits from one
seeded generator, shapes drawn with replacement with all their queries) fell
short: on 60 replicated logs of 3,400 queries the profile intervals held the
true values in 58 (each coefficient; 191 of 200 replications), the bootstrap
ones in 54 and 55. The bootstrap intervals and standard errors are reported
beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq, least_squares
from scipy.stats import chi2

from dpcsim.calibration.concurrency import ConcurrencyProfile

__all__ = [
    "HUBER_K",
    "CurveFit",
    "Identifiability",
    "check_identifiable",
    "fit_curve",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Huber threshold in robust standard deviations (95 % efficiency at the normal).
HUBER_K: Final = 1.345
#: Fewest repeated shapes the bootstrap over shapes is run on.
MIN_SHAPES: Final = 5
#: Fewest queries in repeated shapes.
MIN_QUERIES: Final = 30
#: Smallest pooled within-shape standard deviation of a query's mean
#: concurrency [queries] that identifies a slope.
MIN_WITHIN_SD: Final = 0.25
#: Largest |correlation| of the within-shape linear and quadratic concurrency
#: terms that still separates sigma from kappa.
MAX_COLLINEARITY: Final = 0.9999
#: Coefficients below this are reported as 0 (their effect on a slowdown is
#: under 1e-5 at 30 concurrent queries).
_ZERO: Final = 1e-8
#: Coarse start grid of the least-squares pilot.
_SIGMA_GRID: Final = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)
_KAPPA_GRID: Final = (0.0, 1e-4, 1e-3, 1e-2, 0.1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Identifiability:
    """Whether the log identifies the curve, and why not.

    Attributes
    ----------
    identifiable
        True when every check passed.
    reason
        A sentence: what the log has, and the check that failed.
    within_shape_sd
        Pooled within-shape standard deviation of the queries' mean
        concurrency [queries].
    collinearity
        |correlation| of the within-shape linear and quadratic terms.
    """

    identifiable: bool
    reason: str
    within_shape_sd: float
    collinearity: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CurveFit:
    """A fitted curve with its bootstrap intervals and goodness of fit.

    Attributes
    ----------
    sigma, kappa
        Point estimates.
    sigma_ci, kappa_ci
        Robust profile-likelihood intervals at ``level``.
    sigma_ci_bootstrap, kappa_ci_bootstrap
        Percentile bootstrap intervals over shapes at ``level``.
    sigma_se, kappa_se
        Bootstrap standard errors.
    level
        Interval coverage (0.95).
    n_boot, n_boot_failed
        Bootstrap refits asked for, and those that did not converge (left out).
    r2_log_exec
        Share of the variance of ``log exec_s`` explained (shapes and curve).
    r2_within_shape
        Share of the within-shape variance of ``log exec_s`` the curve explains
        (0 = no better than no contention).
    residual_scale
        Robust standard deviation of the residuals [log units] (1.4826 MAD).
    huber_threshold
        Huber threshold used [log units].
    draws
        The bootstrap estimates, ``(n_boot - n_boot_failed, 2)``.
    """

    sigma: float
    kappa: float
    sigma_ci: tuple[float, float]
    kappa_ci: tuple[float, float]
    sigma_ci_bootstrap: tuple[float, float]
    kappa_ci_bootstrap: tuple[float, float]
    sigma_se: float
    kappa_se: float
    level: float
    n_boot: int
    n_boot_failed: int
    r2_log_exec: float
    r2_within_shape: float
    residual_scale: float
    huber_threshold: float
    draws: FloatArray


class _Problem:
    """Residuals and Jacobian of the profiled model for one set of queries."""

    def __init__(
        self,
        levels: FloatArray,
        times: FloatArray,
        log_exec: FloatArray,
        shape: IntArray,
    ) -> None:
        self.levels = levels
        self.times = times
        self.log_exec = log_exec
        self.shape = shape
        self.n_shapes = int(shape.max()) + 1 if shape.size else 0
        self.count = np.bincount(shape, minlength=self.n_shapes).astype(np.float64)
        self._threshold = np.inf  # least squares until a scale is set
        self._mu: FloatArray | None = None
        self._cache: tuple[tuple[float, float], FloatArray, FloatArray] | None = None

    @property
    def threshold(self) -> float:
        """Huber threshold [log units]; infinite = least squares."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = float(value)
        self._cache = None

    def _terms(self, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``log h`` per query and its derivatives (2, n) in sigma and kappa."""
        sigma, kappa = float(theta[0]), float(theta[1])
        n = self.levels
        g = 1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)
        # Time-weighted sums over each run's levels (the run length cancels).
        sums = (
            self.times @ np.stack([1.0 / g, (n - 1.0) / g**2, n * (n - 1.0) / g**2]).T
        )
        h = sums[:, 0] / self.times.sum(axis=1)
        out: FloatArray = -(sums[:, 1:] / sums[:, :1]).T
        return np.log(h), out

    def _location(self, z: FloatArray) -> FloatArray:
        """Huber location of ``z`` per shape (the mean under least squares)."""
        mean = np.bincount(self.shape, weights=z, minlength=self.n_shapes) / self.count
        if not np.isfinite(self.threshold):
            return mean
        mu = mean if self._mu is None else self._mu.copy()
        c = self.threshold
        for _ in range(100):
            r = z - mu[self.shape]
            psi = np.clip(r, -c, c)
            # Newton's step on the convex Huber loss: exact while the set of
            # points inside the threshold stays put; a shape with none inside
            # takes the (smaller) mean step.
            inside = np.bincount(
                self.shape,
                weights=(np.abs(r) <= c).astype(np.float64),
                minlength=self.n_shapes,
            )
            total = np.bincount(self.shape, weights=psi, minlength=self.n_shapes)
            step = total / np.where(inside > 0, inside, self.count)
            mu += step
            if np.max(np.abs(step)) < 1e-12:
                break
        self._mu = mu
        return mu

    def _evaluate(self, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        key = (float(theta[0]), float(theta[1]))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1], self._cache[2]
        log_h, dlog_h = self._terms(theta)
        z = self.log_exec + log_h
        mu = self._location(z)
        r = z - mu[self.shape]
        # d mu / d theta: the Huber location moves with the queries inside the
        # threshold (all of them under least squares).
        inside = (np.abs(r) <= self.threshold).astype(np.float64)
        weight = np.bincount(self.shape, weights=inside, minlength=self.n_shapes)
        use = np.where((weight > 0)[self.shape], inside, 1.0)
        denom = np.where(weight > 0, weight, self.count)
        jac = np.empty((r.size, 2))
        for k in range(2):
            dmu = np.bincount(
                self.shape, weights=use * dlog_h[k], minlength=self.n_shapes
            )
            jac[:, k] = dlog_h[k] - (dmu / denom)[self.shape]
        self._cache = (key, r, jac)
        return r, jac

    def residuals(self, theta: FloatArray) -> FloatArray:
        return self._evaluate(theta)[0]

    def jacobian(self, theta: FloatArray) -> FloatArray:
        return self._evaluate(theta)[1]

    def cost(self, theta: FloatArray) -> float:
        """The loss at ``theta``: sum of Huber (or squared) losses, halved."""
        r = np.abs(self.residuals(theta))
        c = self.threshold
        loss = (
            np.where(r <= c, 0.5 * r**2, c * r - 0.5 * c**2)
            if np.isfinite(c)
            else 0.5 * r**2
        )
        return float(np.sum(loss))

    def profile_cost(
        self, index: int, value: float, start: float
    ) -> tuple[float, float]:
        """Least loss with parameter ``index`` held at ``value``; (loss, argmin)."""
        other = 1 - index

        def full(x: FloatArray) -> FloatArray:
            theta = np.empty(2)
            theta[index], theta[other] = value, x[0]
            return theta

        result = least_squares(
            lambda x: self.residuals(full(x)),
            np.array([max(start, 0.0)]),
            jac=lambda x: self.jacobian(full(x))[:, other : other + 1],
            bounds=(np.zeros(1), np.full(1, np.inf)),
            method="trf",
            loss="huber",
            f_scale=float(self.threshold),
            x_scale="jac",
            xtol=1e-10,
            ftol=1e-12,
            gtol=1e-10,
            max_nfev=100,
        )
        best = float(np.where(result.x[0] < _ZERO, 0.0, result.x[0]))
        theta = full(np.array([best]))
        return self.cost(theta), best

    def solve(self, start: FloatArray) -> FloatArray:
        """Minimise the (Huber or squared) loss of the profiled residuals."""
        finite = np.isfinite(self.threshold)
        result = least_squares(
            self.residuals,
            start,
            jac=self.jacobian,
            bounds=(np.zeros(2), np.full(2, np.inf)),
            method="trf",
            loss="huber" if finite else "linear",
            f_scale=float(self.threshold) if finite else 1.0,
            x_scale="jac",
            xtol=1e-10,
            ftol=1e-12,
            gtol=1e-10,
            max_nfev=200,
        )
        if not result.success:
            raise RuntimeError(f"USL fit did not converge: {result.message}")
        # The solver keeps iterates strictly inside the bounds: a coefficient
        # below _ZERO is the bound itself.
        out: FloatArray = np.where(result.x < _ZERO, 0.0, result.x)
        return out


def check_identifiable(
    profile: ConcurrencyProfile, rows: IntArray, shape: IntArray
) -> Identifiability:
    """Check that the queries of repeated shapes ran at different concurrencies.

    ``rows`` are the queries of repeated shapes and ``shape`` their shape codes.
    """
    n_shapes = int(shape.max()) + 1 if shape.size else 0
    if n_shapes == 0:
        return Identifiability(
            identifiable=False,
            reason="no query shape (fingerprint) repeats in the log, so execution "
            "time cannot be compared across concurrencies",
            within_shape_sd=0.0,
            collinearity=1.0,
        )
    terms = profile.run_average(lambda n: np.stack([n, n - 1.0, n * (n - 1.0)]), rows)
    count = np.bincount(shape, minlength=n_shapes).astype(np.float64)

    def within(x: FloatArray) -> FloatArray:
        centred: FloatArray = x - (np.bincount(shape, weights=x) / count)[shape]
        return centred

    mean_n, lin, quad = within(terms[0]), within(terms[1]), within(terms[2])
    dof = max(rows.size - n_shapes, 1)
    within_sd = float(np.sqrt(np.sum(mean_n**2) / dof))
    norm = float(np.sqrt(np.sum(lin**2) * np.sum(quad**2)))
    collinearity = float(abs(np.sum(lin * quad)) / norm) if norm > 0 else 1.0
    what = f"{rows.size} queries in {n_shapes} repeated shapes"
    if n_shapes < MIN_SHAPES or rows.size < MIN_QUERIES:
        reason = (
            f"only {what}; the fit needs at least {MIN_SHAPES} repeated shapes and "
            f"{MIN_QUERIES} queries"
        )
        ok = False
    elif within_sd < MIN_WITHIN_SD:
        reason = (
            f"{what}, but concurrency hardly varies within a shape (within-shape "
            f"sd of mean concurrency {within_sd:.3g} < {MIN_WITHIN_SD}): no spread "
            "of concurrency to read the curve from"
        )
        ok = False
    elif collinearity >= MAX_COLLINEARITY:
        reason = (
            f"{what}, but concurrency takes too few levels to separate contention "
            f"(sigma) from coherency (kappa) (collinearity {collinearity:.6f})"
        )
        ok = False
    else:
        reason = f"{what}; within-shape sd of mean concurrency {within_sd:.3g} queries"
        ok = True
    return Identifiability(
        identifiable=ok,
        reason=reason,
        within_shape_sd=within_sd,
        collinearity=collinearity,
    )


def fit_curve(
    profile: ConcurrencyProfile,
    rows: IntArray,
    exec_s: FloatArray,
    shape: IntArray,
    *,
    n_boot: int = 100,
    rng: np.random.Generator | int | None = 0,
    level: float = 0.95,
) -> CurveFit:
    """Fit ``sigma`` and ``kappa`` with profiled shape effects and bootstrap CIs.

    Parameters
    ----------
    profile
        Logged concurrency of the whole workload.
    rows
        Row positions of the queries used (positive duration, repeated shapes).
    exec_s
        Their logged execution times [s] (> 0).
    shape
        Their shape codes, ``0 .. n_shapes - 1``.
    n_boot
        Bootstrap refits over shapes.
    rng
        Seed or generator of the bootstrap draws.
    level
        Coverage of the intervals.
    """
    gen = np.random.default_rng(rng)
    log_exec = np.log(exec_s)
    levels, times = profile.level_times(rows)
    problem = _Problem(levels, times, log_exec, shape)
    start = _grid_start(problem)
    pilot = problem.solve(start)
    r_pilot = problem.residuals(pilot)
    n, s = r_pilot.size, problem.n_shapes
    # Residuals about a per-shape estimate are shrunk by (n - s) / n.
    scale = _robust_sd(r_pilot) * np.sqrt(n / max(n - s, 1))
    threshold = HUBER_K * max(scale, 1e-9)
    problem.threshold = threshold
    theta = problem.solve(pilot)
    residual = problem.residuals(theta)
    r2_total, r2_within = _r_squared(problem, theta)
    draws, failed = _bootstrap(problem, theta, threshold, n_boot, gen)
    alpha = (1.0 - level) / 2.0
    if draws.shape[0]:
        low = np.quantile(draws, alpha, axis=0)
        high = np.quantile(draws, 1.0 - alpha, axis=0)
        se = draws.std(axis=0, ddof=1) if draws.shape[0] > 1 else np.full(2, np.nan)
    else:
        low = high = se = np.full(2, np.nan)
    sigma_ci = _profile_interval(problem, theta, 0, level, float(se[0]))
    kappa_ci = _profile_interval(problem, theta, 1, level, float(se[1]))
    return CurveFit(
        sigma=float(theta[0]),
        kappa=float(theta[1]),
        sigma_ci=sigma_ci,
        kappa_ci=kappa_ci,
        sigma_ci_bootstrap=(float(low[0]), float(high[0])),
        kappa_ci_bootstrap=(float(low[1]), float(high[1])),
        sigma_se=float(se[0]),
        kappa_se=float(se[1]),
        level=level,
        n_boot=n_boot,
        n_boot_failed=failed,
        r2_log_exec=r2_total,
        r2_within_shape=r2_within,
        residual_scale=_robust_sd(residual),
        huber_threshold=float(threshold),
        draws=draws,
    )


def _profile_interval(
    problem: _Problem, theta: FloatArray, index: int, level: float, se: float
) -> tuple[float, float]:
    """Robust profile-likelihood interval of one coefficient.

    The drop in Huber loss when the coefficient is held at ``v`` (the other
    one and the shape works re-fitted), scaled by ``mean(psi') / mean(psi^2)``
    of the standardised residuals, is asymptotically chi-square with one
    degree of freedom (Ronchetti's robust likelihood-ratio test); the interval
    is where it stays below the chi-square quantile. Bounded below by 0.
    """
    r = problem.residuals(theta)
    c = problem.threshold
    psi = np.clip(r, -c, c)
    # Standardised units u = r / s with s = c / HUBER_K.
    scale = c / HUBER_K
    factor = float(np.mean(np.abs(r) <= c) / np.mean((psi / scale) ** 2))
    best_cost = problem.cost(theta)
    critical = float(chi2.ppf(level, 1))
    other_start = float(theta[1 - index])

    def excess(v: float) -> float:
        cost, _ = problem.profile_cost(index, v, other_start)
        return 2.0 * max(cost - best_cost, 0.0) / scale**2 * factor - critical

    estimate = float(theta[index])
    step = se if np.isfinite(se) and se > 0 else max(abs(estimate), 1e-4) * 0.5
    high = estimate + step
    for _ in range(60):
        if excess(high) > 0:
            break
        high = estimate + (high - estimate) * 2.0
    else:
        return (0.0, float("inf"))
    upper = _crossing(excess, estimate, high, step)
    if estimate <= 0.0 or excess(0.0) <= 0:
        return (0.0, upper)
    return (_crossing(excess, 0.0, estimate, step), upper)


def _crossing(
    excess: Callable[[float], float], a: float, b: float, step: float
) -> float:
    """Where ``excess`` changes sign in ``[a, b]``; the bracket's far end when the
    profile is not monotone enough for a root (an interval too wide, never too
    narrow)."""
    try:
        return float(brentq(excess, a, b, xtol=1e-12 + 1e-6 * step))
    except ValueError:
        return a if excess(a) > 0 else b


def _grid_start(problem: _Problem) -> FloatArray:
    """The least-squares best point of a coarse grid (the pilot's start)."""
    best, best_cost = np.zeros(2), np.inf
    for sigma in _SIGMA_GRID:
        for kappa in _KAPPA_GRID:
            theta = np.array([sigma, kappa])
            cost = float(np.sum(problem.residuals(theta) ** 2))
            if cost < best_cost:
                best, best_cost = theta, cost
    return best


def _bootstrap(
    problem: _Problem,
    theta: FloatArray,
    threshold: float,
    n_boot: int,
    gen: np.random.Generator,
) -> tuple[FloatArray, int]:
    """Refit on ``n_boot`` resamples of whole shapes; return the estimates."""
    order = np.argsort(problem.shape, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(problem.count.astype(np.int64))])
    draws: list[FloatArray] = []
    failed = 0
    for _ in range(n_boot):
        picked = gen.integers(0, problem.n_shapes, problem.n_shapes)
        sizes = bounds[picked + 1] - bounds[picked]
        members = np.concatenate(
            [order[bounds[k] : bounds[k + 1]] for k in picked.tolist()]
        )
        codes = np.repeat(np.arange(picked.size, dtype=np.int64), sizes)
        sample = _Problem(
            problem.levels,
            problem.times[members],
            problem.log_exec[members],
            codes,
        )
        sample.threshold = threshold
        try:
            draws.append(sample.solve(theta))
        except RuntimeError:
            failed += 1
    return (np.array(draws) if draws else np.zeros((0, 2))), failed


def _r_squared(problem: _Problem, theta: FloatArray) -> tuple[float, float]:
    """R² of ``log exec_s`` overall, and within shapes against no contention."""
    y = problem.log_exec
    saved = problem.threshold
    problem.threshold = np.inf
    try:
        ss_fit = float(np.sum(problem.residuals(theta) ** 2))
        ss_flat = float(np.sum(problem.residuals(np.zeros(2)) ** 2))
    finally:
        problem.threshold = saved
    ss_total = float(np.sum((y - y.mean()) ** 2))
    r2_total = 1.0 - ss_fit / ss_total if ss_total > 0 else float("nan")
    r2_within = 1.0 - ss_fit / ss_flat if ss_flat > 0 else float("nan")
    return r2_total, r2_within


def _robust_sd(residual: FloatArray) -> float:
    """1.4826 times the median absolute deviation from the median."""
    if residual.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(residual - np.median(residual))))
