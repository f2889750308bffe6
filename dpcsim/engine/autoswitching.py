"""Auto WLM under a time-of-day schedule: priorities, scaling, SQA and QMR switch.

:class:`AutoScheduledEngine` is the :class:`~dpcsim.engine.autowlm.AutoEngine`
plus the switch events of :class:`~dpcsim.engine.switching.Switching`. Under
auto WLM, AWS's table of dynamic properties ("WLM dynamic and static
configuration properties",
https://docs.aws.amazon.com/redshift/latest/dg/cm-c-wlm-dynamic-properties.html)
lists the priority, the Concurrency Scaling mode, the short query maximum
runtime and QMR rules as dynamic (concurrency and memory are AWS's own, so
there is nothing to switch). The routing and the queue list are dynamic too
under auto WLM, but a schedule that changes them is refused
(:func:`~dpcsim.engine.schedule.check_schedule`): AWS does not say what
becomes of the waiting queries of a queue that is removed or whose routing
changes, and dpcsim routes each query once.

How a switch takes effect:

* **Waiting queries** (and those still to arrive) take their queue's new
  priority at the switch: the admission lines are rebuilt by the new
  priorities, first come, first served within each (the order they joined a
  line). Whoever now heads the lines and fits is admitted.
* **Running queries** keep their priority by default; the named setting
  ``auto_priority_switch`` (``[auto_wlm]``) decides. AWS does not say whether a
  changed queue priority reaches queries already running (UNCONFIRMED):
  ``"waiting"`` (default, as AWS documents for manual WLM's dynamic changes:
  running queries are not affected) or ``"running"`` (a running query takes
  its queue's new priority at the switch and, under shared capacity, runs at
  the new weight from then on). A priority a QMR ``change_query_priority``
  action gave a running query is kept either way.
* Scaling mode, the SQA maximum and QMR rules switch as under manual WLM
  (:mod:`dpcsim.engine.switching`): decisions taken after the switch use the
  new settings, queries already on a scaling cluster or SQA finish there, and
  ``qmr_switch`` says which rules a running query meets.
"""

from __future__ import annotations

from array import array
from collections import deque

import numpy as np

from dpcsim.engine.autowlm import AutoEngine
from dpcsim.engine.queues import QueueTables
from dpcsim.engine.switching import Switching

__all__ = ["AutoScheduledEngine"]


class AutoScheduledEngine(Switching, AutoEngine):
    """An auto-WLM run whose dynamic WLM properties switch at given times.

    Parameters are :class:`~dpcsim.engine.switching.Switching`'s.
    """

    def _init_transition(self) -> None:
        """The order queries joined the lines, and QMR's priority changes."""
        #: Order in which each query last joined a line (FIFO within a priority
        #: when the lines are rebuilt).
        self.joined = array("q", bytes(8 * self.n))
        self.joins = 0
        #: Queries whose priority a QMR action changed (kept over switches).
        self.qmr_ranked: set[int] = set()

    def _enqueue(self, q: int, e: int) -> None:
        """Join the line of the query's priority, remembering the order."""
        self.joins += 1
        self.joined[e % self.n] = self.joins
        super()._enqueue(q, e)

    def set_priority(self, i: int, rank: int) -> None:
        """A QMR priority change: as :meth:`AutoEngine.set_priority`, kept."""
        self.qmr_ranked.add(i)
        super().set_priority(i, rank)

    def apply(self, k: int) -> None:
        """Put schedule entry ``k``'s dynamic properties in force now."""
        new = self.entries[k]
        old = self.t
        self.t = new
        self.plain = new.plain
        self._rank_queries(new)
        self.irq.switched(old, new, rules_for=self.settings.qmr_switch)
        self._switch_scaling([self.scaling_on and s for s in new.scaling])
        self._switch_sqa(self.sqa_max_s[k])
        self.pull(0)
        self._restart_lines()

    def _rank_queries(self, new: QueueTables) -> None:
        """New queue priorities for waiting and later queries; rebuild the lines."""
        rank = np.asarray(new.rank, dtype=np.int8)[np.frombuffer(self.cur_q, np.int8)]
        prio = np.frombuffer(self.prio, np.int8)
        running = self._running()
        if self.settings.auto_priority_switch == "running":
            for i in np.flatnonzero(running & (prio != rank)).tolist():
                if i not in self.qmr_ranked:
                    AutoEngine.set_priority(self, i, int(rank[i]))
        idle = ~running
        prio[idle] = rank[idle]
        n = self.n
        waiting = self._waiting()
        self.lines = [deque() for _ in range(5)]
        self.nrank = [0] * 5
        for e in waiting:
            i = e % n
            r = self.prio[i]
            self.rank_at[i] = r
            self.lines[r].append(e)
            self.nrank[r] += 1

    def _waiting(self) -> list[int]:
        """The live entries of every line, in the order they joined."""
        n, ent = self.n, self.ent
        live = [e for line in self.lines for e in line if ent[e % n] == e]
        return sorted(live, key=lambda e: self.joined[e % n])

    def _running(self) -> np.ndarray:
        """Whether each query is running now (started, not ended, not waiting)."""
        start = np.frombuffer(self.start, np.float64)
        end = np.frombuffer(self.end, np.float64)
        waiting = np.frombuffer(self.ent, np.int64) != -1
        running: np.ndarray = ~np.isnan(start) & np.isnan(end) & ~waiting
        return running

    def _switch_scaling(self, cs_q: list[bool]) -> None:
        """Apply the queues' new scaling modes to the waiting lines."""
        n, ent = self.n, self.ent
        turned_on = [
            now_on and not was for was, now_on in zip(self.cs_q, cs_q, strict=True)
        ]
        for q, (was, now_on) in enumerate(zip(self.cs_q, cs_q, strict=True)):
            if was and not now_on:
                live = sum(1 for e in self.cs_wait[q] if ent[e % n] == e)
                self.cs_n -= live
                self.cs_wait[q].clear()
        if any(turned_on):
            # Waiting queries of a queue switched to scaling may now go there,
            # in the order they joined.
            for e in self._waiting():
                i = e % n
                q = self.cur_q[i]
                if q < len(turned_on) and turned_on[q] and self.cs_el[i]:
                    self.cs_wait[q].append(e)
                    self.cs_n += 1
        self.cs_q = cs_q
