"""Closed-form queueing results: Erlang B and C, M/M/1, M/M/c, M/M/∞, Little's law.

These formulas are the yardstick the engine is validated against (Poisson arrivals
and exponential service into ``c`` WLM slots form an M/M/c queue) and give reports
a sanity line beside simulated figures. Everything here is a pure function of
rates; nothing simulates, reads files or draws random numbers.

Conventions: ``arrival_rate_per_s`` is λ [1/s], ``service_rate_per_s`` is the
rate of ONE slot μ [1/s] (mean execution time 1/μ [s]), ``servers`` is the slot
count c, and the offered load ``a = λ/μ`` is in Erlangs. The utilization of the
slots is ρ = a / c. Waits are in queue (before a slot is granted) unless a name
says ``response`` (wait + service).

Erlang B uses the recursion B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)), which
stays within [0, 1] at every step and so is numerically stable for any c (no
factorials or powers of a). Erlang C follows from it as
C = c·B / (c − a·(1 − B)). :func:`mmc_birth_death` solves the same queue as a
truncated birth–death chain in log space, independently of the closed forms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "BirthDeathSolution",
    "erlang_b",
    "erlang_c",
    "erlang_c_load",
    "little_mean_number",
    "little_mean_time_s",
    "mm1_mean_response_s",
    "mm1_mean_wait_s",
    "mmc_birth_death",
    "mmc_mean_queue_length",
    "mmc_mean_response_s",
    "mmc_mean_wait_s",
    "mmc_wait_exceeds_probability",
    "mminf_mean_number",
    "mminf_mean_response_s",
    "offered_load",
    "utilization",
]

#: Tail mass below which :func:`mmc_birth_death` truncates the chain by default.
TRUNCATION_TAIL = 1e-18


def _check_rates(arrival_rate_per_s: float, service_rate_per_s: float) -> None:
    """Raise ValueError unless λ ≥ 0 and μ > 0 are finite."""
    if not (math.isfinite(arrival_rate_per_s) and arrival_rate_per_s >= 0):
        raise ValueError(
            f"arrival_rate_per_s={arrival_rate_per_s!r}; expected a finite rate >= 0"
        )
    if not (math.isfinite(service_rate_per_s) and service_rate_per_s > 0):
        raise ValueError(
            f"service_rate_per_s={service_rate_per_s!r}; expected a finite rate > 0"
        )


def _check_servers(servers: int) -> None:
    """Raise ValueError unless ``servers`` is an integer >= 1."""
    if isinstance(servers, bool) or int(servers) != servers or servers < 1:
        raise ValueError(f"servers={servers!r}; expected an integer >= 1")


def offered_load(arrival_rate_per_s: float, service_rate_per_s: float) -> float:
    """Offered load a = λ/μ [Erlang].

    Examples
    --------
    >>> offered_load(9.0, 1.0)
    9.0
    """
    _check_rates(arrival_rate_per_s, service_rate_per_s)
    return arrival_rate_per_s / service_rate_per_s


def utilization(
    servers: int, arrival_rate_per_s: float, service_rate_per_s: float
) -> float:
    """Slot utilization ρ = λ / (c·μ) [fraction]; ≥ 1 means the queue is unstable.

    Examples
    --------
    >>> utilization(10, 9.0, 1.0)
    0.9
    """
    _check_servers(servers)
    return offered_load(arrival_rate_per_s, service_rate_per_s) / servers


def erlang_b(servers: int, load: float) -> float:
    """Erlang B: probability that all ``servers`` are busy in M/M/c/c (blocking).

    Parameters
    ----------
    servers
        Number of servers (slots) c [-], >= 1.
    load
        Offered load a = λ/μ [Erlang], >= 0.

    Returns
    -------
    float
        Blocking probability in [0, 1].

    Examples
    --------
    >>> round(erlang_b(1, 1.0), 6)
    0.5
    >>> round(erlang_b(2, 1.0), 6)
    0.2
    """
    _check_servers(servers)
    if not (math.isfinite(load) and load >= 0):
        raise ValueError(f"load={load!r}; expected a finite offered load >= 0 [Erlang]")
    b = 1.0
    for k in range(1, int(servers) + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Erlang C: probability that an arrival waits in M/M/c.

    Parameters
    ----------
    servers
        Number of servers (slots) c [-], >= 1.
    load
        Offered load a = λ/μ [Erlang], >= 0.

    Returns
    -------
    float
        Probability of waiting in [0, 1]; 1.0 when a >= c (the queue grows
        without bound, every arrival eventually waits).

    Examples
    --------
    >>> round(erlang_c(2, 1.0), 6)
    0.333333
    >>> round(erlang_c(1, 0.5), 6)
    0.5
    """
    b = erlang_b(servers, load)
    if load >= servers:
        return 1.0
    return servers * b / (servers - load * (1.0 - b))


def erlang_c_load(servers: int, p_wait: float, *, tol: float = 1e-12) -> float:
    """Inverse of Erlang C: the offered load at which P(wait) = ``p_wait``.

    Erlang C rises strictly from 0 at a = 0 to 1 at a = c, so the load is
    found by bisection on [0, c].

    Parameters
    ----------
    servers
        Number of servers (slots) c [-], >= 1.
    p_wait
        Target probability of waiting, in (0, 1).
    tol
        Absolute tolerance on the load [Erlang].

    Returns
    -------
    float
        Offered load a = λ/μ [Erlang] in (0, c).

    Examples
    --------
    >>> a = erlang_c_load(2, 1 / 3)
    >>> round(a, 9), round(erlang_c(2, a), 9)
    (1.0, 0.333333333)
    """
    _check_servers(servers)
    if not 0.0 < p_wait < 1.0:
        raise ValueError(f"p_wait={p_wait!r}; expected a probability in (0, 1)")
    lo, hi = 0.0, float(servers)
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if erlang_c(servers, mid) < p_wait:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def mmc_mean_wait_s(
    servers: int, arrival_rate_per_s: float, service_rate_per_s: float
) -> float:
    """Mean wait in queue of M/M/c: Wq = C(c, a) / (c·μ − λ) [s].

    Parameters
    ----------
    servers
        Number of slots c [-].
    arrival_rate_per_s
        Poisson arrival rate λ [1/s].
    service_rate_per_s
        Service rate of one slot μ [1/s].

    Returns
    -------
    float
        Mean wait [s]; ``inf`` when λ >= c·μ.

    Examples
    --------
    >>> round(mmc_mean_wait_s(10, 9.0, 1.0), 6)
    0.668732
    >>> round(mmc_mean_wait_s(1, 0.5, 1.0), 6)
    1.0
    """
    a = offered_load(arrival_rate_per_s, service_rate_per_s)
    _check_servers(servers)
    if a >= servers:
        return math.inf
    return erlang_c(servers, a) / (servers * service_rate_per_s - arrival_rate_per_s)


def mmc_mean_response_s(
    servers: int, arrival_rate_per_s: float, service_rate_per_s: float
) -> float:
    """Mean response time of M/M/c: W = Wq + 1/μ [s] (wait plus execution).

    Examples
    --------
    >>> round(mmc_mean_response_s(1, 0.5, 1.0), 6)
    2.0
    """
    wq = mmc_mean_wait_s(servers, arrival_rate_per_s, service_rate_per_s)
    return wq + 1.0 / service_rate_per_s


def mmc_mean_queue_length(
    servers: int, arrival_rate_per_s: float, service_rate_per_s: float
) -> float:
    """Mean number waiting in M/M/c: Lq = λ·Wq [queries] (Little's law).

    Examples
    --------
    >>> round(mmc_mean_queue_length(1, 0.5, 1.0), 6)
    0.5
    """
    wq = mmc_mean_wait_s(servers, arrival_rate_per_s, service_rate_per_s)
    return arrival_rate_per_s * wq if math.isfinite(wq) else math.inf


def mmc_wait_exceeds_probability(
    servers: int, arrival_rate_per_s: float, service_rate_per_s: float, t_s: float
) -> float:
    """P(Wq > t) = C(c, a)·exp(−(c·μ − λ)·t) for M/M/c under FIFO [probability].

    Parameters
    ----------
    servers, arrival_rate_per_s, service_rate_per_s
        As in :func:`mmc_mean_wait_s`.
    t_s
        Wait threshold [s], >= 0.

    Examples
    --------
    >>> round(mmc_wait_exceeds_probability(2, 1.0, 1.0, 0.0), 6)
    0.333333
    >>> round(mmc_wait_exceeds_probability(1, 0.5, 1.0, 2.0), 6)
    0.18394
    """
    if not (math.isfinite(t_s) and t_s >= 0):
        raise ValueError(f"t_s={t_s!r}; expected a finite wait >= 0 [s]")
    a = offered_load(arrival_rate_per_s, service_rate_per_s)
    _check_servers(servers)
    if a >= servers:
        return 1.0
    decay_per_s = servers * service_rate_per_s - arrival_rate_per_s
    return erlang_c(servers, a) * math.exp(-decay_per_s * t_s)


def mm1_mean_wait_s(arrival_rate_per_s: float, service_rate_per_s: float) -> float:
    """Mean wait in queue of M/M/1: Wq = ρ / (μ − λ) [s]; ``inf`` when λ >= μ.

    Examples
    --------
    >>> round(mm1_mean_wait_s(0.9, 1.0), 6)
    9.0
    """
    _check_rates(arrival_rate_per_s, service_rate_per_s)
    if arrival_rate_per_s >= service_rate_per_s:
        return math.inf
    rho = arrival_rate_per_s / service_rate_per_s
    return rho / (service_rate_per_s - arrival_rate_per_s)


def mm1_mean_response_s(arrival_rate_per_s: float, service_rate_per_s: float) -> float:
    """Mean response time of M/M/1: W = 1 / (μ − λ) [s]; ``inf`` when λ >= μ.

    Examples
    --------
    >>> round(mm1_mean_response_s(0.5, 1.0), 6)
    2.0
    """
    _check_rates(arrival_rate_per_s, service_rate_per_s)
    if arrival_rate_per_s >= service_rate_per_s:
        return math.inf
    return 1.0 / (service_rate_per_s - arrival_rate_per_s)


def mminf_mean_number(arrival_rate_per_s: float, service_rate_per_s: float) -> float:
    """Mean number in service of M/M/∞ (Poisson with mean a = λ/μ) [queries].

    With unlimited slots nobody waits: Wq = 0 and the response time is 1/μ.

    Examples
    --------
    >>> mminf_mean_number(3.0, 0.5)
    6.0
    """
    return offered_load(arrival_rate_per_s, service_rate_per_s)


def mminf_mean_response_s(service_rate_per_s: float) -> float:
    """Mean response time of M/M/∞: W = 1/μ [s] (service only, no wait).

    Examples
    --------
    >>> mminf_mean_response_s(0.5)
    2.0
    """
    _check_rates(0.0, service_rate_per_s)
    return 1.0 / service_rate_per_s


def little_mean_number(arrival_rate_per_s: float, mean_time_s: float) -> float:
    """Little's law L = λ·W: mean number in the system [queries].

    Parameters
    ----------
    arrival_rate_per_s
        Long-run arrival rate λ [1/s].
    mean_time_s
        Mean time a query spends in the system (or the queue) W [s].

    Examples
    --------
    >>> little_mean_number(2.0, 1.5)
    3.0
    """
    if not (arrival_rate_per_s >= 0 and mean_time_s >= 0):
        raise ValueError(
            f"arrival_rate_per_s={arrival_rate_per_s!r}, mean_time_s={mean_time_s!r}; "
            "expected both >= 0"
        )
    return arrival_rate_per_s * mean_time_s


def little_mean_time_s(mean_number: float, arrival_rate_per_s: float) -> float:
    """Little's law W = L / λ: mean time in the system [s].

    Examples
    --------
    >>> little_mean_time_s(3.0, 2.0)
    1.5
    """
    if not (mean_number >= 0 and arrival_rate_per_s > 0):
        raise ValueError(
            f"mean_number={mean_number!r}, arrival_rate_per_s={arrival_rate_per_s!r}; "
            "expected mean_number >= 0 and arrival_rate_per_s > 0"
        )
    return mean_number / arrival_rate_per_s


@dataclass(frozen=True, slots=True, kw_only=True)
class BirthDeathSolution:
    """Stationary solution of M/M/c truncated at ``k_max`` queries in the system.

    Attributes
    ----------
    probabilities
        P(N = n) for n = 0..k_max [probability], summing to 1.
    wait_probability
        P(N >= c): by PASTA, the probability that an arrival waits.
    mean_queue_length
        E[max(N − c, 0)] [queries].
    mean_in_system
        E[N] [queries].
    mean_wait_s
        Lq / λ_eff [s], with λ_eff = λ·(1 − P(N = k_max)) the admitted rate.
    """

    probabilities: npt.NDArray[np.float64]
    wait_probability: float
    mean_queue_length: float
    mean_in_system: float
    mean_wait_s: float


def mmc_birth_death(
    servers: int,
    arrival_rate_per_s: float,
    service_rate_per_s: float,
    *,
    k_max: int | None = None,
) -> BirthDeathSolution:
    """Solve M/M/c as a birth–death chain truncated at ``k_max`` (balance equations).

    The cut equations π(n)·λ = π(n+1)·min(n+1, c)·μ are accumulated in log space
    (no overflow for large c or k_max) and normalised; no Erlang formula is used,
    so this is an independent check of :func:`erlang_c` and
    :func:`mmc_mean_wait_s`.

    Parameters
    ----------
    servers
        Number of slots c [-].
    arrival_rate_per_s
        Poisson arrival rate λ [1/s], > 0.
    service_rate_per_s
        Service rate of one slot μ [1/s].
    k_max
        Largest number in system kept. Default: large enough that the truncated
        tail mass is below :data:`TRUNCATION_TAIL` (requires ρ < 1).

    Returns
    -------
    BirthDeathSolution

    Examples
    --------
    >>> s = mmc_birth_death(2, 1.0, 1.0)
    >>> round(s.wait_probability, 6), round(s.mean_wait_s, 6)
    (0.333333, 0.333333)
    """
    _check_servers(servers)
    _check_rates(arrival_rate_per_s, service_rate_per_s)
    if arrival_rate_per_s <= 0:
        raise ValueError(f"arrival_rate_per_s={arrival_rate_per_s!r}; expected > 0")
    rho = arrival_rate_per_s / (servers * service_rate_per_s)
    if k_max is None:
        if rho >= 1:
            raise ValueError(
                f"utilization {rho:.6g} >= 1; expected < 1, or pass k_max to truncate"
            )
        k_max = servers + math.ceil(math.log(TRUNCATION_TAIL) / math.log(rho))
        k_max = max(k_max, 2 * servers + 100)
    if k_max < servers:
        raise ValueError(f"k_max={k_max!r}; expected >= servers ({servers})")
    n = np.arange(1, k_max + 1, dtype=np.float64)
    log_ratio = np.log(arrival_rate_per_s) - np.log(
        np.minimum(n, servers) * service_rate_per_s
    )
    log_p = np.concatenate(([0.0], np.cumsum(log_ratio)))
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    states = np.arange(k_max + 1, dtype=np.float64)
    lq = float(np.sum(np.maximum(states - servers, 0.0) * p))
    admitted_per_s = arrival_rate_per_s * (1.0 - float(p[-1]))
    return BirthDeathSolution(
        probabilities=p,
        wait_probability=float(p[servers:].sum()),
        mean_queue_length=lq,
        mean_in_system=float(np.sum(states * p)),
        mean_wait_s=lq / admitted_per_s,
    )
