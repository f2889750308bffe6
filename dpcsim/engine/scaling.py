"""Concurrency Scaling clusters: start delay, slots, idle stop and billing.

Model (facts 2.5). A query eligible for scaling that would wait in a queue with
``concurrency_scaling = "auto"`` runs on an active scaling cluster with a free
slot instead. When none has one, the engine asks for another cluster: at most
one is starting at a time, and at most ``max_concurrency_scaling_clusters`` run
at once. A cluster serves queries ``cs_start_delay_s`` after the request; until
then the query waits in its queue, and the new cluster takes the longest-waiting
eligible queries when it comes up. A scaling cluster runs the same WLM
configuration as the main cluster, so it has each scaling queue's slot count
(manual WLM) or the auto-WLM concurrency cap (auto WLM). It stops after
``cs_idle_stop_s`` without a running query. Scaling needs a main cluster of
2..32 nodes (``ClusterSettings.scaling_supported``); eligibility by statement
type (writes on RA3 only) is in :mod:`dpcsim.engine.queues`.

Billing: a cluster is billed for the seconds it is running queries, per second,
with a minimum of ``cs_min_billed_s`` (one minute) for each activation that ran
any query; an activation that ran nothing is not billed. Free credits accrue at
one hour per 24 h of main-cluster time (the simulated span), continuously, up to
a cap; each activation's billed seconds draw on the balance at its end, and the
rest is paid at the settings' price (:func:`bill`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import simpy

__all__ = ["CREDIT_ACCRUAL_PER_S", "Bill", "ScalingPool", "bill"]

#: Free-credit seconds earned per second of main-cluster time (1 h per 24 h).
CREDIT_ACCRUAL_PER_S: Final = 1.0 / 24.0

_OFF, _STARTING, _ACTIVE = 0, 1, 2


class ScalingPool:
    """The scaling clusters of one run.

    Parameters
    ----------
    env
        The run's SimPy environment.
    max_clusters
        ``max_concurrency_scaling_clusters`` (0-10).
    start_delay_s, idle_stop_s
        Start delay and idle time before stopping [s].
    capacity
        Slots per pool on one cluster (pool = a scaling queue, or the shared
        auto-WLM pool).
    on_active
        Called with the cluster index when a cluster comes up.
    on_count
        Called with +1 / -1 when the number of active clusters changes.
    """

    def __init__(
        self,
        env: simpy.Environment,
        *,
        max_clusters: int,
        start_delay_s: float,
        idle_stop_s: float,
        capacity: list[int],
        on_active: Callable[[int], None],
        on_count: Callable[[int], None],
    ) -> None:
        self.env = env
        self.max_clusters = max_clusters
        self.start_delay_s = start_delay_s
        self.idle_stop_s = idle_stop_s
        self.capacity = capacity
        self.on_active = on_active
        self.on_count = on_count
        self.state = [_OFF] * max_clusters
        self.free = [[0] * len(capacity) for _ in range(max_clusters)]
        self.running = [0] * max_clusters
        self.up_at = [0.0] * max_clusters
        self.busy_from = [0.0] * max_clusters
        self.busy_s = [0.0] * max_clusters
        self.token = [0] * max_clusters
        self.starting = False
        self.active = 0
        #: One ``(cluster, start_s, end_s, busy_s)`` per finished activation.
        self.rows: list[tuple[int, float, float, float]] = []
        #: When each activation of :attr:`rows` was requested [s].
        self.requested: list[float] = []
        self.req_at = [0.0] * max_clusters

    def take(self, pool: int, slots: int) -> int:
        """Start a query needing ``slots`` of ``pool``; return its cluster or -1."""
        for c in range(self.max_clusters):
            if self.state[c] == _ACTIVE and self.free[c][pool] >= slots:
                self.free[c][pool] -= slots
                if self.running[c] == 0:
                    self.busy_from[c] = self.env.now
                self.running[c] += 1
                return c
        return -1

    def take_on(self, cluster: int, pool: int, slots: int) -> None:
        """Start a query needing ``slots`` of ``pool`` on a given active cluster."""
        self.free[cluster][pool] -= slots
        if self.running[cluster] == 0:
            self.busy_from[cluster] = self.env.now
        self.running[cluster] += 1

    def give(self, cluster: int, pool: int, slots: int) -> None:
        """Return a finished query's slots (call :meth:`settle` after refilling)."""
        self.free[cluster][pool] += slots
        self.running[cluster] -= 1
        if self.running[cluster] == 0:
            self.busy_s[cluster] += self.env.now - self.busy_from[cluster]

    def settle(self, cluster: int) -> None:
        """Arm the idle-stop timer of ``cluster`` if it runs nothing."""
        if self.running[cluster] == 0 and self.state[cluster] == _ACTIVE:
            self.token[cluster] += 1
            ev = self.env.timeout(self.idle_stop_s, (cluster, self.token[cluster]))
            ev.callbacks.append(self._idle)

    def request(self) -> None:
        """Ask for one more cluster unless one is starting or all are on."""
        if self.starting:
            return
        for c in range(self.max_clusters):
            if self.state[c] == _OFF:
                self.state[c] = _STARTING
                self.starting = True
                self.req_at[c] = self.env.now
                ev = self.env.timeout(self.start_delay_s, c)
                ev.callbacks.append(self._activate)
                return

    def _activate(self, ev: Any) -> None:
        """Bring a starting cluster up and let the engine fill it."""
        c = ev._value
        self.starting = False
        self.state[c] = _ACTIVE
        self.free[c] = list(self.capacity)
        self.up_at[c] = self.env.now
        self.busy_s[c] = 0.0
        self.active += 1
        self.on_count(1)
        self.on_active(c)
        self.settle(c)

    def _idle(self, ev: Any) -> None:
        """Stop a cluster that stayed idle for ``idle_stop_s``."""
        c, token = ev._value
        if token != self.token[c] or self.running[c] or self.state[c] != _ACTIVE:
            return
        now = self.env.now
        self.rows.append((c, self.up_at[c], now, self.busy_s[c]))
        self.requested.append(self.req_at[c])
        self.state[c] = _OFF
        self.active -= 1
        self.on_count(-1)


@dataclass(frozen=True, slots=True)
class Bill:
    """Scaling usage and cost of a run.

    Attributes
    ----------
    billed_s
        Billed seconds per activation (rows of :attr:`ScalingPool.rows`).
    free_used_s, paid_s
        Seconds covered by free credits and paid, in total.
    cost_usd
        Paid seconds times the price.
    """

    billed_s: np.ndarray
    free_used_s: float
    paid_s: float
    cost_usd: float


def bill(
    rows: list[tuple[int, float, float, float]],
    *,
    min_billed_s: float,
    credit_start_s: float,
    credit_cap_s: float,
    price_per_s: float,
) -> Bill:
    """Bill activations against free credits (see the module docstring)."""
    billed = np.array(
        [max(busy, min_billed_s) if busy > 0.0 else 0.0 for _, _, _, busy in rows],
        dtype=np.float64,
    )
    balance, last_t, free_used = min(credit_start_s, credit_cap_s), 0.0, 0.0
    for k in sorted(range(len(rows)), key=lambda k: (rows[k][2], k)):
        end = rows[k][2]
        balance = min(credit_cap_s, balance + (end - last_t) * CREDIT_ACCRUAL_PER_S)
        last_t = end
        used = min(balance, float(billed[k]))
        balance -= used
        free_used += used
    paid = float(billed.sum()) - free_used
    return Bill(billed, free_used, paid, paid * price_per_s)
