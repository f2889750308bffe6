"""Auto WLM: priority-ordered admission with a memory-driven concurrency.

AWS's auto WLM sizes concurrency and per-query memory itself with a closed
algorithm (facts 2.6). dpcsim approximates it with a documented model:

* **Admission order.** One admission line for the whole cluster, ordered by
  priority (highest, high, normal, low, lowest; a queue's priority is inherited
  by its queries) and first come, first served within a priority. The head of
  the highest non-empty priority is admitted first; nothing behind it is
  admitted while it does not fit (no back-filling, so big queries do not
  starve).
* **Adaptive concurrency.** A query is admitted while the number of running
  queries is below ``auto_max_concurrency`` (default 15, AWS's advice to turn
  on scaling beyond 15 parallel queries) **and** the memory its running
  queries want, ``sum(mem_mb)``, plus its own stays within the cluster's WLM
  memory (``ClusterSettings.cluster_memory_mb``). Queries with unknown
  ``mem_mb`` count as ``auto_default_mem_mb``. A query is always admitted onto
  an idle cluster, even when it wants more than all the memory. Light queries
  thus run many at once and heavy ones few, as AWS describes.
* **Shared capacity.** With ``[contention] model = "usl"`` (the default) the
  concurrency cap is dropped: admission is by memory alone, and the running
  queries share the cluster's capacity by weighted processor sharing, each at
  ``X(n) w / W`` with ``w`` its priority's weight
  (``auto_priority_weights``, default 16/8/4/2/1 from highest to lowest,
  UNCONFIRMED: AWS says only that higher priorities get more resources and
  that lower priorities still progress, so none starves). QMR
  ``change_query_priority`` changes a running query's weight from then on.
  With ``model = "none"`` priority does not change a running query's speed.
* **Limits.** Queries never spill (auto WLM gives each what it is estimated
  to need), WLM timeouts and hops do not exist (as in AWS), and slot counts
  are ignored. A scaling cluster admits up to ``auto_max_concurrency`` queries
  of the scaling queues (a cap kept with contention too: the scaling cluster's
  memory is not modelled).
"""

from __future__ import annotations

from array import array
from collections import deque

import numpy as np

from dpcsim.engine.cluster import Engine
from dpcsim.engine.inputs import QueryArrays
from dpcsim.engine.queues import QueueTables
from dpcsim.engine.records import K_DEQ_RUN, MAIN
from dpcsim.engine.settings import ClusterSettings
from dpcsim.engine.sqa import SQAModel

__all__ = ["AutoEngine"]


class AutoEngine(Engine):
    """One simulation run under auto WLM (see the module docstring)."""

    auto = True

    def __init__(
        self,
        q: QueryArrays,
        tables: QueueTables,
        settings: ClusterSettings,
        sqa: SQAModel | None,
    ) -> None:
        self.cap = settings.auto_max_concurrency
        super().__init__(q, tables, settings, sqa)
        #: Concurrency cap on the main cluster: none under shared capacity.
        self.run_cap = self.cap if not self.ps else 1 << 62
        self.weights = settings.auto_priority_weights
        self.mem_on = False
        ranks = np.asarray(tables.rank, dtype=np.int8)[q.queue]
        self.prio = array("b", ranks.tobytes())
        need = np.where(np.isnan(q.mem_mb), settings.auto_default_mem_mb, q.mem_mb)
        self.need = array("d", need.astype(np.float64).tobytes())
        self.mem_cap = settings.cluster_memory_mb
        self.lines: list[deque[int]] = [deque() for _ in range(5)]
        self.nrank = [0] * 5
        self.rank_at = array("b", bytes(q.n))
        self.run_n = 0
        self.run_mem = 0.0

    def _fits(self, i: int) -> bool:
        """Whether query ``i`` may start now under the concurrency model."""
        if self.run_n == 0:
            return True
        return self.run_n < self.run_cap and self.run_mem + self.need[i] <= self.mem_cap

    def admit(self, i: int, q: int) -> bool:
        """Admit ``i`` if nobody of its priority or higher waits and it fits."""
        r = self.prio[i]
        if any(self.nrank[: r + 1]) or not self._fits(i):
            return False
        self.run_n += 1
        self.run_mem += self.need[i]
        return True

    def _enqueue(self, q: int, e: int) -> None:
        """Join the line of the query's priority."""
        i = e % self.n
        r = self.prio[i]
        self.rank_at[i] = r
        self.lines[r].append(e)
        self.nrank[r] += 1

    def take_entry(self, i: int, q: int) -> None:
        """Remove query ``i`` from the waiting counts (its entry goes stale)."""
        super().take_entry(i, q)
        self.nrank[self.rank_at[i]] -= 1

    def _release_main(self, i: int, q: int) -> None:
        """Return query ``i``'s share and admit from the lines."""
        self.run_n -= 1
        self.run_mem -= self.need[i]
        if self.run_n == 0:
            self.run_mem = 0.0  # no drift from float sums
        self.pull(q)

    def pull(self, q: int) -> None:
        """Admit line heads in priority order while they fit."""
        n, ent = self.n, self.ent
        for line in self.lines:
            while line:
                e = line[0]
                i = e if e < n else e % n
                if ent[i] != e:
                    line.popleft()
                    continue
                if not self._fits(i):
                    return
                line.popleft()
                qq = self.rec.cur_q[i]
                self.take_entry(i, qq)
                self.run_n += 1
                self.run_mem += self.need[i]
                self.log_t(self.env._now)
                self.log_c(qq * 16 + K_DEQ_RUN)
                self.run_query(i, qq, MAIN)

    def can_reassign(self, i: int, q: int, target: int) -> bool:
        """Hops do not exist under auto WLM."""
        return False

    def priority(self, i: int) -> int:
        """Current priority rank of query ``i``."""
        return int(self.prio[i])

    def set_priority(self, i: int, rank: int) -> None:
        """Change query ``i``'s priority (QMR change_query_priority).

        Under shared capacity a running query keeps its work left and
        progresses with the new weight from now on.
        """
        if self.ps and self.live[i]:
            now = self.now()
            where = self.rec.ran[i]
            left = self.ps_stop(i, now)
            self.prio[i] = rank
            self.ps_start(i, where, now, left)
        else:
            self.prio[i] = rank

    def weight(self, i: int) -> float:
        """Share weight of query ``i``: its priority's weight."""
        return self.weights[self.prio[i]]

    def _cs_capacity(self) -> list[int]:
        """One shared pool of ``auto_max_concurrency`` slots per scaling cluster."""
        return [self.cap]

    def _pool(self, q: int) -> int:
        """Every scaling queue shares pool 0."""
        return 0
