"""The engine under a time-of-day WLM schedule: switches and their transitions.

:class:`ScheduledEngine` is the manual-WLM :class:`~dpcsim.engine.cluster.Engine`
plus one event kind of its own, the switch: a SimPy timeout at each switch of
the :class:`~dpcsim.engine.schedule.WLMSchedule` (every simulated day), whose
callback puts the next configuration's dynamic properties in force. A run
without a schedule never builds this class, so it takes exactly the path it
took before.

What AWS documents, and how it is modelled ("WLM dynamic and static
configuration properties", cm-c-wlm-dynamic-properties.html; "WLM dynamic
memory allocation", cm-c-wlm-dynamic-memory-allocation.html and its example,
cm-c-wlm-dynamic-example.html, all under
https://docs.aws.amazon.com/redshift/latest/dg/):

* Queries running at a change are not affected: they keep their slots and
  memory and run to completion under the old settings (their spill factor and
  any timer already set stay as they were).
* A changed WLM timeout applies to queries that start executing after the
  change (a query that starts later, including a restarted hop, gets the new
  value; a running one keeps the timer set at its start).
* Slots and memory: per queue, the new configuration's slots open as the
  memory held by queries running under the old split frees
  (:func:`~dpcsim.engine.schedule.transition_slots`): old and new slots in use
  never exceed the new concurrency, and a new slot opens only when the queue's
  new memory minus the memory old queries still hold leaves room for it. Queued
  queries take the new slots as they open. A change during a transition starts
  from the current state (every running query becomes "old").

What AWS does not document, and the choice made (results depend on it):

* How long applying dynamic properties takes (the cluster is ``modifying``):
  the named setting ``wlm_apply_delay_s`` (default 0 s) delays every switch.
* Whether a queue gaining memory waits for other queues' old queries. AWS's
  worked example accounts memory per queue (and shows one queue only); AWS
  also says total memory use never exceeds 100 %. The named setting
  ``wlm_transition_memory``: ``"cluster"`` (default: both hold, a new slot
  also needs room in the cluster's memory beside every queue's old queries and
  the new slots already added; freed memory goes to the queues in queue
  order, an assumption) or ``"queue"`` (the per-queue accounting alone).
* SQA and Concurrency Scaling decisions are taken with the settings in force
  when they are taken: after SQA is switched off, no query is sent to SQA and
  queries running there finish; after it is switched on, SQA takes queries from
  the waiting lines again. A query's SQA eligibility (its predicted run time
  under the SQA maximum) is judged when it joins a line. A queue switched to
  scaling ``auto`` lets its waiting queries go to a scaling cluster; one
  switched ``off`` sends no more (those running there finish). A scaling
  cluster already running keeps the slot counts it started with; clusters
  started later take the new ones.
* QMR metrics of an old query (its simulated spill) are computed from the
  configuration in force when they are checked.
* QMR rules: AWS says a change of the rules takes effect without a reboot
  and that WLM checks running queries' metrics every 10 s, not which rules a
  query running at the change meets. The named setting ``qmr_switch``:
  ``"running"`` (default) checks every query against the rules in force, a
  running one from its next check on (a rule already acted on for it, by
  name, is not acted on again); ``"new"`` keeps a running query on the rules
  it started with. Either way a running query keeps the WLM timeout it
  started with.
* A waiting query that wants more slots (``wlm_query_slot_count``) than its
  queue's new concurrency fails at the switch, as it would on arrival.

Only manual WLM is simulated (see :func:`~dpcsim.engine.schedule.check_schedule`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import replace
from typing import Any

import numpy as np

from dpcsim.engine.cluster import Engine
from dpcsim.engine.inputs import QueryArrays
from dpcsim.engine.memory import spill_factor
from dpcsim.engine.queues import QueueTables
from dpcsim.engine.records import K_Q_OUT, MAIN, OUT_FAILED
from dpcsim.engine.schedule import WLMSchedule, switch_times_s, transition_slots
from dpcsim.engine.settings import ClusterSettings
from dpcsim.engine.sqa import SQAModel

__all__ = ["ScheduledEngine", "Switching"]

#: ScalingPool state of a cluster serving queries.
_ACTIVE = 2
_DAY_S = 86400.0


class Switching(Engine, ABC):
    """What every scheduled run shares: the switch events and SQA's capacity.

    A subclass keeps the state its transitions need (:meth:`_init_transition`,
    called at the end of construction) and puts a schedule entry in force in
    :meth:`apply`;
    :class:`ScheduledEngine` (manual WLM) and
    :class:`~dpcsim.engine.autoswitching.AutoScheduledEngine` (auto WLM) are
    the two.

    Parameters
    ----------
    q
        Input arrays.
    tables
        Per-queue constants of each schedule entry (same queue list).
    settings
        Cluster settings.
    sqa
        The SQA model (None when no entry has SQA on).
    sqa_max_s
        SQA maximum runtime [s] of each entry; None where SQA is off.
    schedule
        The schedule (its entries in the order of ``tables``); switches fall
        at its local times from ``q.start_at`` on, each
        ``settings.wlm_apply_delay_s`` late.
    """

    def __init__(
        self,
        q: QueryArrays,
        tables: list[QueueTables],
        settings: ClusterSettings,
        sqa: SQAModel | None,
        sqa_max_s: list[float | None],
        schedule: WLMSchedule,
    ) -> None:
        self.schedule = schedule
        if settings.qmr_switch == "running" and any(
            t.rules != tables[0].rules for t in tables
        ):
            # The rules change and running queries meet the new ones: every
            # segment needs a replaceable event, so no queue is plain.
            tables = [replace(t, plain=(False,) * len(t.plain)) for t in tables]
        #: ``(t, k)``: at ``t`` [s] entry ``k`` takes effect; the first pair,
        #: ``(0.0, k0)``, is in force at the start (extended as the run goes).
        self.switches = switch_times_s(
            schedule, q.start_at, 2 * _DAY_S, settings.wlm_apply_delay_s
        )
        k0 = self.switches[0][1]
        super().__init__(q, tables[k0], settings, sqa)
        self.entries = tables
        self.sqa_max_s = sqa_max_s
        #: Switches applied so far (the start's configuration not counted).
        self.applied = 0
        self.own_release = True
        # Every arrival and wait takes the general path: the shortcuts' lists
        # were built for one configuration.
        self.odd = [True] * self.n
        self.join = [False] * len(tables[k0].names)
        # No quiet segments: their bound (Engine._quiet_work) holds for one
        # configuration's timeouts and slot total, and a switch changes both.
        self.quiet = [-1.0] * len(tables[k0].names)
        self.quick = [False] * len(tables[k0].names)
        self.scaling_on = (
            settings.max_concurrency_scaling_clusters > 0
            and settings.scaling_supported
            and any(any(t.scaling) for t in tables)
        )
        self.cs_q = [self.scaling_on and s for s in self.t.scaling]
        self.sqa_on = sqa_max_s[k0] is not None
        if sqa is not None and not self.sqa_on:
            self.sqa_free = 0
        #: Last arrival walked from the array [s]: switches stop after it
        #: once nothing is left to run.
        self.last_open = 0.0
        self._init_transition()

    @abstractmethod
    def _init_transition(self) -> None:
        """Set up the state this WLM mode's transitions keep."""

    @abstractmethod
    def apply(self, k: int) -> None:
        """Put schedule entry ``k``'s dynamic properties in force now."""

    def is_plain(self) -> bool:
        """Never: a schedule needs the general path."""
        return False

    def run(self) -> None:
        """Arm the first switch, then run as :meth:`Engine.run`."""
        walked = self.open_idx if self.succ is not None else range(self.n)
        self.last_open = max((self.arr[i] for i in walked), default=0.0)
        self._arm(1)
        super().run()

    # -- the switch event -----------------------------------------------------
    def _switch_list(self, until_s: float) -> list[tuple[float, int]]:
        """Every switch from the start until ``until_s`` [s]."""
        return switch_times_s(
            self.schedule,
            self.inp.start_at,
            until_s,
            self.settings.wlm_apply_delay_s,
        )

    def _arm(self, j: int) -> None:
        """Schedule switch ``j`` of :attr:`switches`, extending the list."""
        while j >= len(self.switches):
            self.switches = self._switch_list(2.0 * self.switches[-1][0] + _DAY_S)
        if j < len(self.switches):
            t, _ = self.switches[j]
            ev = self.env.timeout(max(t - self.env._now, 0.0), j)
            ev.callbacks.append(self._on_switch)

    def _on_switch(self, ev: Any) -> None:
        """A switch is due: apply it, then arm the next while work remains."""
        if not self.heap and self.env._now >= self.last_open:
            return  # the run is over: nothing left to switch
        j = int(ev.value)
        self.apply(self.switches[j][1])
        self.applied += 1
        if self.heap or self.env._now < self.last_open:
            self._arm(j + 1)

    def _switch_sqa(self, max_s: float | None) -> None:
        """SQA on/off and its maximum runtime [s] from now on."""
        sqa = self.sqa
        if sqa is None:
            return
        on = max_s is not None
        if on != self.sqa_on:
            # Running SQA queries finish where they are; capacity follows.
            self.sqa_free += self.settings.sqa_slots if on else -self.settings.sqa_slots
            self.sqa_on = on
        if max_s is not None:
            sqa.max_s = max_s
            self.irq.evict_s = max_s

    def _restart_lines(self) -> None:
        """After a switch: start whoever the new settings let start now."""
        for q in range(self.nq):
            if self.waitq[q]:
                self.pull(q)
        if self.sqa_on and self.sqa_wait is not None:
            self._sqa_pull()
        if self.cs_n > 0:
            pool = self.cs_pool
            for c, state in enumerate(pool.state):
                if state == _ACTIVE:
                    self._cs_fill(c)
            pool.request()

    # -- SQA capacity may be below the running count after a switch off --------
    def _try_sqa(self, i: int) -> bool:
        """As :meth:`Engine._try_sqa`, only while SQA has a free slot."""
        return self.sqa_free > 0 and super()._try_sqa(i)

    def _sqa_pull(self) -> None:
        """As :meth:`Engine._sqa_pull`, only while SQA has a free slot."""
        if self.sqa_free > 0:
            super()._sqa_pull()


class ScheduledEngine(Switching):
    """A manual-WLM run whose dynamic WLM properties switch at given times.

    Parameters are :class:`Switching`'s.
    """

    def _init_transition(self) -> None:
        """Per queue: the memory of old queries and the new slots opened."""
        nq = self.nq
        #: Per queue: running query -> memory [MB] it holds from an older split.
        self.held: list[dict[int, float]] = [{} for _ in range(nq)]
        self.old_slots = [0] * nq
        self.old_mb = [0.0] * nq
        #: Per queue: the new configuration's open slots (transition_slots).
        self.open_slots = list(self.t.slots[:nq])
        self.cluster_memory = self.settings.wlm_transition_memory == "cluster"

    def apply(self, k: int) -> None:
        """Put schedule entry ``k``'s dynamic properties in force now."""
        new = self.entries[k]
        old = self.t
        rec = self.rec
        running = (
            (np.frombuffer(rec.ran, np.int8) == MAIN)
            & ~np.isnan(np.frombuffer(rec.start, np.float64))
            & np.isnan(np.frombuffer(rec.end, np.float64))
            & (np.frombuffer(self.ent, np.int64) == -1)
        )
        cur_q = np.frombuffer(rec.cur_q, np.int8)
        for q in range(self.nq):
            was = self.held[q]
            held: dict[int, float] = {}
            slots = 0
            for i in np.flatnonzero(running & (cur_q == q)).tolist():
                s = self.sc[i]
                held[i] = was.get(i, s * old.slot_mem_mb[q])
                slots += s
            self.held[q] = held
            self.old_slots[q] = slots
            self.old_mb[q] = sum(held.values())
            # Every running query is old: no new slot exists or is in use yet.
            self.open_slots[q] = 0
            self.free[q] = 0
        self._fail_too_wide(new)
        self.t = new
        self._grow()
        self.plain = new.plain
        self.fast = [p and not self.mem_on and not self.ps for p in new.plain]
        if self.mem_on:
            self.fac0 = self._first_queue_spill(self.inp, new, self.settings)
        self.irq.switched(old, new, rules_for=self.settings.qmr_switch)
        self.cs_pool.capacity[:] = list(new.slots)
        self._switch_scaling([self.scaling_on and s for s in new.scaling])
        self._switch_sqa(self.sqa_max_s[k])
        self._restart_lines()

    def _fail_too_wide(self, new: QueueTables) -> None:
        """Fail waiting queries that want more slots than their queue now has.

        On arrival such a query fails (facts 1.3); AWS does not say what
        happens to one already waiting when the concurrency drops below its
        ``wlm_query_slot_count``: it is assumed to fail the same way at the
        switch rather than block its line for good.
        """
        n, ent, now = self.n, self.ent, self.env._now
        for q in range(self.nq):
            for e in list(self.waitq[q]):
                i = e % n
                if ent[i] != e or self.sc[i] <= new.slots[q]:
                    continue
                self.take_entry(i, q)
                self.log_t(now)
                self.log_c(q * 16 + K_Q_OUT)
                self.rec.acc_q[i] += now
                self.rec.finish(i, now, OUT_FAILED)
                self.irq.xoff.pop(i, None)
                self.irq.done.pop(i, None)

    def _switch_scaling(self, cs_q: list[bool]) -> None:
        """Apply the queues' new scaling modes to their waiting lines."""
        n, ent = self.n, self.ent
        for q, (was, now_on) in enumerate(zip(self.cs_q, cs_q, strict=True)):
            if was == now_on:
                continue
            if was:
                live = sum(1 for e in self.cs_wait[q] if ent[e % n] == e)
                self.cs_n -= live
                self.cs_wait[q].clear()
            else:
                for e in self.waitq[q]:
                    i = e % n
                    if ent[i] == e and self.cs_el[i]:
                        self.cs_wait[q].append(e)
                        self.cs_n += 1
        self.cs_q = cs_q

    # -- releases and memory during a transition --------------------------------
    def _release_main(self, i: int, q: int) -> None:
        """Free query ``i``'s slots; an old query's frees memory, not slots."""
        held = self.held[q] if q < self.nq else None
        if held and i in held:
            self.old_mb[q] -= held.pop(i)
            self.old_slots[q] -= self.sc[i]
            if not held:
                self.old_mb[q] = 0.0  # no rounding left over
            for g in self._grow():
                if g != q and self.waitq[g]:
                    self.pull(g)
        else:
            self.free[q] += self.sc[i]
        if self.waitq[q]:
            self.pull(q)

    def _grow(self) -> list[int]:
        """Add the new slots memory now allows; return the queues that gained.

        Per queue, :func:`~dpcsim.engine.schedule.transition_slots` bounds the
        new slots. With ``wlm_transition_memory = "cluster"`` a slot added
        also needs room in the cluster's memory beside the old queries of
        every queue and the new slots already added (AWS: total memory use
        never exceeds 100 %); queues take freed memory in queue order (an
        assumption: AWS does not say which queue's slot is added first).
        """
        t, nq = self.t, self.nq
        if not any(self.old_slots):
            # No old query left anywhere: the transition is over.
            gained = [q for q in range(nq) if self.open_slots[q] < t.slots[q]]
            for q in gained:
                self.free[q] += t.slots[q] - self.open_slots[q]
                self.open_slots[q] = t.slots[q]
            return gained
        room = self.settings.cluster_memory_mb - sum(self.old_mb)
        room -= sum(self.open_slots[q] * t.slot_mem_mb[q] for q in range(nq))
        gained = []
        for q in range(nq):
            m = t.slot_mem_mb[q]
            add = (
                transition_slots(t.slots[q], m, self.old_slots[q], self.old_mb[q])
                - self.open_slots[q]
            )
            if self.cluster_memory and m > 0.0:
                add = min(add, max(0, math.floor(room / m + 1e-9)))
            if add > 0:
                self.open_slots[q] += add
                self.free[q] += add
                room -= add * m
                gained.append(q)
        return gained

    def spill(self, i: int, q: int) -> float:
        """As :meth:`Engine.spill`, with an old query's memory as it started."""
        held = self.held[q].get(i) if q < self.nq else None
        if held is None:
            return super().spill(i, q)
        return spill_factor(held, self.mem[i], self.settings.spill_penalty)
