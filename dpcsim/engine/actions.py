"""Interrupts of a running query: timeouts, QMR actions, SQA eviction, hops.

When a query starts on a queue that is not plain (or on SQA or a scaling
cluster), unless nothing can interrupt the segment (a *quiet* segment, see
``Engine._quiet_work``: then only its end is scheduled, as on a plain queue),
:meth:`Interrupts.schedule` computes the earliest of its end, its
``statement_timeout`` (arrival + limit; queue and execution count), the WLM
timeout of its queue (execution time in that queue), its first QMR firing
(:func:`~dpcsim.engine.qmr.first_firing`) and, on SQA, the SQA maximum, and
schedules one event: the tuple ``(query, kind, rule, token)`` pushed onto
SimPy's event queue (SimPy's entry shape and order; the engine's driver hands it
to :meth:`Interrupts.fire`). At equal instants the end wins, then the statement
timeout, QMR, the WLM timeout and SQA eviction, in that order. Under shared
capacity (contention) the end is not known in advance: the cluster's virtual
clock ends the query (:meth:`Interrupts.end`) and the event scheduled here is
only the earliest interrupt, all of them in real time; the segment's ``token``
makes an interrupt whose segment already ended go stale.

The engine is reached only through :class:`EngineCore`, the protocol below:
the arrays and methods an interrupt needs, nothing else.

Actions (facts 2.2, 2.3):

* WLM timeout: INSERT/UPDATE/DELETE/UNLOAD and other statements are canceled;
  COPY and maintenance never time out; SELECT and CTAS hop.
* QMR ``abort``: the query ends ``aborted``; ``log`` and
  ``change_query_priority`` record the action once per rule and the query runs
  on; ``hop`` moves it. COPY and maintenance are never stopped.
* Hop: to the next matching queue after the current one. *Reassign* when the
  target has free slots for the query's slot count (a line waiting there for
  more slots than are free does not block it) and at least the slot memory the
  query holds: it continues there with its remaining work. Otherwise SELECT
  and CTAS *restart*: they join the target queue with all work to redo, as a
  new attempt; one whose ``wlm_query_slot_count`` exceeds the target's
  concurrency fails there, as it would on arrival. For a QMR hop the restart
  half is partly UNCONFIRMED (facts 2.2); the engine restarts as for a WLM
  timeout. Other statements hit by a QMR hop keep running where they are.
  With no matching queue the query is canceled (a SELECT/CTAS) or keeps running
  (others, QMR hop only). The WLM timeout of the queue a query was reassigned
  to counts the execution in that queue only.
* ``statement_timeout``: the query is canceled, whether queued or running.
* SQA eviction: the query moves to its routed queue, continuing with its work
  when a slot is free there (``sqa_eviction = "hop"``) or restarting (see
  :mod:`dpcsim.engine.sqa`).

Actions are recorded as ``rule:action`` with ``hop(reassign)``,
``hop(restart)``, ``hop(cancel)`` or ``hop(none)`` (kept running) for hops.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any, Final, Protocol

from simpy.events import NORMAL

from dpcsim.engine.inputs import QueryArrays
from dpcsim.engine.qmr import CHECK_INTERVAL_S, CompiledRule, first_firing
from dpcsim.engine.queues import (
    QMR_UNSTOPPABLE,
    SQA_ELIGIBLE,
    TIMEOUT_ACTION,
    TIMEOUT_CANCEL,
    TIMEOUT_KEEP,
    QueueTables,
)
from dpcsim.engine.records import (
    K_Q_OUT,
    K_RUN,
    MAIN,
    OUT_ABORTED,
    OUT_CANCELED,
    OUT_FAILED,
    SQA,
    Recorder,
)
from dpcsim.engine.settings import ClusterSettings
from dpcsim.engine.sqa import SQAModel

__all__ = ["ARRIVE", "PS_TICK", "EngineCore", "Interrupts"]

END, STMT, QMR, WLM, EVICT = 0, 1, 2, 3, 4
#: Shared capacity: a running query's first QMR check may come (see schedule).
RECHECK = 8
#: The earliest pending recheck is due: ``(generation, RECHECK_DUE, 0, 0)``.
#: Rechecks wait in a side heap, so the many that go stale (the query ended
#: first) never reach the event loop.
RECHECK_DUE = 9
#: Kinds of the engine's own tuple events (not interrupts): a cluster clock's
#: next finish ``(cluster, PS_TICK, generation, 0)`` and a session's next
#: arrival ``(query, ARRIVE, 0, 0)``.
PS_TICK, ARRIVE = 5, 6
#: A waiting query's statement timeout: ``(query, Q_TIMEOUT, entry, 0)``.
Q_TIMEOUT = 7


#: Execution offsets of a query that has not been interrupted yet [s].
_NO_OFFSETS: Final = (0.0, 0.0)


class EngineCore(Protocol):
    """What :class:`Interrupts` needs of an engine (the seam between them)."""

    inp: QueryArrays
    t: QueueTables
    rec: Recorder
    sqa: SQAModel | None
    heap: list[Any]
    eid: Callable[[], int]
    arr: array[float]
    exe: array[float]
    rem: array[float]
    st: array[int]
    sc: array[int]
    ent: array[int]
    end: array[float]
    st_s: float
    mem_on: bool
    learned: bool
    ps: bool
    auto: bool
    settings: ClusterSettings
    free: list[int]
    log_t: Callable[[float], None]
    log_c: Callable[[int], None]

    def now(self) -> float: ...
    def release(self, i: int) -> None: ...
    def admit(self, i: int, q: int) -> bool: ...
    def wait(self, i: int, q: int) -> None: ...
    def run_query(self, i: int, q: int, where: int) -> None: ...
    def spill(self, i: int, q: int) -> float: ...
    def ps_start(self, i: int, where: int, now: float, work: float) -> None: ...
    def segment_left(self, i: int, ran_s: float, fac: float) -> float: ...
    def can_reassign(self, i: int, q: int, target: int) -> bool: ...
    def take_slots(self, i: int, target: int) -> None: ...
    def take_entry(self, i: int, q: int) -> None: ...
    def pull(self, q: int) -> None: ...
    def priority(self, i: int) -> int: ...
    def set_priority(self, i: int, rank: int) -> None: ...
    def qmr_growth(self, i: int, q: int, per: float) -> dict[int, float]: ...


_PRIORITIES: Final = ("highest", "high", "normal", "low", "lowest")


class Interrupts:
    """Timers and actions of running queries for one :class:`Engine`."""

    def __init__(self, eng: EngineCore) -> None:
        self.eng = eng
        #: Running segment of a query: (start time, slowdown factor, token).
        self.seg: dict[int, tuple[float, float, int]] = {}
        self.token = 0
        #: Execution so far in the attempt and in the current queue [s].
        self.xoff: dict[int, tuple[float, float]] = {}
        #: QMR rules already acted on, as (queue, rule index).
        self.done: dict[int, set[tuple[int, int]]] = {}
        self.lower = [_lower_bound_s(r) for r in eng.t.rules]
        #: Pending rechecks (time, query, token) and the sentinel event's time.
        self.rechecks: list[tuple[float, int, int]] = []
        self.recheck_at = math.inf
        self.recheck_gen = 0
        self.evict_s = eng.sqa.max_s if eng.sqa is not None else math.inf
        #: Under a WLM schedule: a query running at a switch -> its queue's WLM
        #: timeout [s] and (``qmr_switch = "new"``) QMR rules as it started.
        #: Dropped when it restarts or moves queue, and at the next switch
        #: once it has ended.
        self.pin: dict[int, tuple[float, tuple[CompiledRule, ...] | None]] = {}

    def schedule(
        self, i: int, q: int, where: int, now: float, dur: float, force: bool = False
    ) -> None:
        """Schedule the one event of a running segment of ``dur`` seconds.

        Under shared capacity ``dur`` is solo work, not the segment's length:
        a query whose solo work ends before its first possible QMR firing gets
        a recheck (kind ``RECHECK``) half a check interval before it, in
        execution time, and the rules are evaluated then (``force``) if it is
        still running.
        """
        eng = self.eng
        ps = eng.ps
        if ps:
            eng.ps_start(i, where, now, dur)
        inf = math.inf
        best, kind, arg = (inf if ps else now + dur), END, -1
        st_s = eng.st_s
        if st_s > 0.0:
            t = eng.arr[i] + st_s
            if t < best:
                best, kind = t, STMT
        x_off, qx_off = self.xoff.get(i, _NO_OFFSETS)
        if where == SQA:
            t = now + self.evict_s
            if t < best:
                best, kind = t, EVICT
        else:
            tables = eng.t
            rules, lower, to = tables.rules[q], self.lower[q], tables.timeout_s[q]
            if self.pin and i in self.pin:
                to, kept = self.pin[i]
                if kept is not None:
                    rules, lower = kept, _lower_bound_s(kept)
            if rules:
                if force or x_off + dur > lower:
                    fire = self._qmr(i, q, rules, x_off, dur)
                    if fire is not None and now + fire[0] - x_off < best:
                        best, kind, arg = now + fire[0] - x_off, QMR, fire[1]
                elif ps:
                    t = now + lower - 0.5 * CHECK_INTERVAL_S - x_off
                    if t < best:
                        best, kind = t, RECHECK
            if to > 0.0 and TIMEOUT_ACTION[eng.st[i]] != TIMEOUT_KEEP:
                t = now + to - qx_off
                if t < best:
                    best, kind = t, WLM
        rem = eng.rem[i]
        self.token = token = self.token + 1
        self.seg[i] = (now, dur / rem if rem > 0.0 else 1.0, token)
        if best == inf:
            return  # shared capacity, no interrupt: the clock ends the query
        if kind == RECHECK:
            heappush(self.rechecks, (best, i, token))
            if best < self.recheck_at:
                self._arm_rechecks(best, now)
            return
        # What env.timeout(delay, value) would schedule, without the event.
        heappush(
            eng.heap,
            (now + max(best - now, 0.0), NORMAL, eng.eid(), (i, kind, arg, token)),
        )

    def _arm_rechecks(self, at: float, now: float) -> None:
        """Make the sentinel event at ``at`` the valid one."""
        self.recheck_gen += 1
        self.recheck_at = at
        eng = self.eng
        heappush(
            eng.heap,
            (max(at, now), NORMAL, eng.eid(), (self.recheck_gen, RECHECK_DUE, 0, 0)),
        )

    def _rechecks_due(self) -> None:
        """Run the rechecks due now; arm the sentinel for the next live one."""
        eng = self.eng
        now = eng.now()
        heap, seg = self.rechecks, self.seg
        self.recheck_at = math.inf
        while heap:
            t, i, token = heap[0]
            live = (s := seg.get(i)) is not None and s[2] == token
            if live and t > now:
                self._arm_rechecks(t, now)
                return
            heappop(heap)
            if live:
                self._recheck(i)

    def _recheck(self, i: int) -> None:
        """Recheck: query ``i`` reached its first possible QMR check; look now."""
        eng = self.eng
        now = eng.now()
        start, fac, _ = self.seg.pop(i)
        ran = now - start
        eng.rem[i] = eng.segment_left(i, ran, fac)
        x_off, qx_off = self.xoff.get(i, (0.0, 0.0))
        self.xoff[i] = (x_off + ran, qx_off + ran)
        q = eng.rec.cur_q[i]
        self.schedule(i, q, eng.rec.ran[i], now, eng.rem[i] * fac, force=True)

    def _qmr(
        self, i: int, q: int, rules: tuple[CompiledRule, ...], x_off: float, dur: float
    ) -> tuple[float, int] | None:
        """Return (execution time [s], rule) of the first QMR firing, if any."""
        eng = self.eng
        total = eng.exe[i] * (dur / eng.rem[i] if eng.rem[i] > 0.0 else 1.0)
        per = CHECK_INTERVAL_S / total if total > 0.0 else math.nan
        done = {r for qq, r in self.done.get(i, ()) if qq == q}
        fire = first_firing(
            rules,
            k_min=math.floor(x_off / CHECK_INTERVAL_S + 1e-9) + 1,
            queue_s=eng.rec.acc_q[i],
            per_check=eng.qmr_growth(i, q, per),
            priority=_PRIORITIES[eng.priority(i)],
            done=done,
            stoppable=not QMR_UNSTOPPABLE[eng.st[i]],
        )
        return None if fire is None else (fire[0] * CHECK_INTERVAL_S, fire[1])

    def end(self, i: int, now: float) -> None:
        """Query ``i`` ran to its end at ``now``."""
        eng = self.eng
        # The query is over: its remaining work and offsets are not needed.
        self.seg.pop(i, None)
        eng.end[i] = now
        eng.release(i)
        self.xoff.pop(i, None)
        self.done.pop(i, None)
        if eng.learned:
            eng.sqa.observe(i, eng.exe[i])  # type: ignore[union-attr]
        after = eng.rec.after
        if after is not None:
            after(i, now)

    def fire(self, item: tuple[int, int, int, int]) -> None:
        """Handle the event ``(query, kind, rule, token)`` of a running segment."""
        i, kind, arg, token = item
        if kind == Q_TIMEOUT:
            self._queue_timeout(i, arg)
            return
        if kind == RECHECK_DUE:
            if i == self.recheck_gen:
                self._rechecks_due()
            return
        eng = self.eng
        now = eng.now()
        seg = self.seg.get(i)
        if seg is None or seg[2] != token:
            return  # the segment ended (shared capacity) before this interrupt
        if kind == END:
            self.end(i, now)
            return
        start, fac, _ = self.seg.pop(i)
        ran = now - start
        eng.rem[i] = eng.segment_left(i, ran, fac)
        x_off, qx_off = self.xoff.get(i, (0.0, 0.0))
        self.xoff[i] = (x_off + ran, qx_off + ran)
        if kind == STMT:
            self._stop(i, OUT_CANCELED)
        elif kind == EVICT:
            self._evict(i)
        elif kind == WLM:
            if TIMEOUT_ACTION[eng.st[i]] == TIMEOUT_CANCEL:
                self._stop(i, OUT_CANCELED)
            else:
                self._hop(i, None)
        else:
            self._act(i, arg)

    def _evict(self, i: int) -> None:
        """Move query ``i`` from SQA to its queue (see :mod:`dpcsim.engine.sqa`)."""
        eng = self.eng
        q = eng.rec.cur_q[i]
        eng.rec.sqa_evicted[i] = 1
        keep = (
            eng.settings.sqa_eviction == "hop"
            and not eng.auto
            and eng.free[q] >= eng.sc[i]
        )
        if not keep:
            eng.release(i)
            self._restart(i, q)
            return
        # Reassigned with the work done: take the queue's slots, then free SQA's.
        now = eng.now()
        eng.take_slots(i, q)
        eng.release(i)
        x_off, _ = self.xoff.get(i, (0.0, 0.0))
        self.xoff[i] = (x_off, 0.0)
        eng.rec.acc_q[i] -= now
        eng.log_t(now)
        eng.log_c(q * 16 + K_RUN)
        eng.run_query(i, q, MAIN)

    def _act(self, i: int, r: int) -> None:
        """Apply QMR rule ``r`` of query ``i``'s queue."""
        eng = self.eng
        q = eng.rec.cur_q[i]
        kept = self.pin[i][1] if self.pin and i in self.pin else None
        rule = (eng.t.rules[q] if kept is None else kept)[r]
        if rule.action == "abort":
            eng.rec.qmr.setdefault(i, []).append(f"{rule.name}:abort")
            self._stop(i, OUT_ABORTED)
        elif rule.action == "hop":
            self._hop(i, rule.name, r)
        else:
            eng.rec.qmr.setdefault(i, []).append(f"{rule.name}:{rule.action}")
            if rule.action == "change_query_priority" and rule.value is not None:
                eng.set_priority(i, _PRIORITIES.index(rule.value))
            self._resume(i, q, r)

    def _resume(self, i: int, q: int, r: int) -> None:
        """Mark rule ``r`` done and keep query ``i`` running where it is."""
        eng = self.eng
        self.done.setdefault(i, set()).add((q, r))
        where = eng.rec.ran[i]
        fac = eng.rem[i] and self._factor(i, q, where)
        self.schedule(
            i, q if where != SQA else eng.t.sqa, where, eng.now(), eng.rem[i] * fac
        )

    def _factor(self, i: int, q: int, where: int) -> float:
        """Slowdown factor of query ``i`` running in ``q`` at ``where``."""
        eng = self.eng
        return eng.spill(i, q) if eng.mem_on and where != SQA else 1.0

    def _hop(self, i: int, rule: str | None, r: int = -1) -> None:
        """Hop query ``i`` (WLM timeout when ``rule`` is None, else QMR)."""
        eng = self.eng
        q = eng.rec.cur_q[i]
        restartable = SQA_ELIGIBLE[eng.st[i]]
        target = eng.inp.next_queue(i, q)
        how = "cancel"
        if target is not None and eng.can_reassign(i, q, target):
            how = "reassign"
        elif target is not None and restartable:
            how = "restart"
        elif rule is not None and not restartable:
            how = "none"
        if rule is not None:
            eng.rec.qmr.setdefault(i, []).append(f"{rule}:hop({how})")
        if how == "cancel":
            self._stop(i, OUT_CANCELED)
        elif how == "none":
            self._resume(i, q, r)
        elif how == "restart":
            assert target is not None
            eng.release(i)
            eng.rec.hops[i] += 1
            self._restart(i, target)
        else:
            assert target is not None
            self._reassign(i, target)

    def _reassign(self, i: int, target: int) -> None:
        """Move running query ``i`` to ``target``'s free slots; it continues."""
        eng = self.eng
        now = eng.now()
        eng.take_slots(i, target)
        eng.release(i)
        eng.rec.hops[i] += 1
        self.pin.pop(i, None)  # it starts in the target under the rules now
        x_off, _ = self.xoff.get(i, (0.0, 0.0))
        self.xoff[i] = (x_off, 0.0)
        eng.rec.acc_q[i] -= now
        eng.log_t(now)
        eng.log_c(target * 16 + K_RUN)
        eng.run_query(i, target, MAIN)

    def _restart(self, i: int, q: int) -> None:
        """Requeue query ``i`` (slots already freed) in ``q`` as a new attempt."""
        eng = self.eng
        eng.rec.attempts[i] += 1
        eng.rem[i] = eng.exe[i]
        self.xoff.pop(i, None)
        self.pin.pop(i, None)
        eng.rec.cur_q[i] = q
        eng.rec.acc_q[i] -= eng.now()
        if eng.sc[i] > eng.t.slots[q] and not eng.auto:
            # wlm_query_slot_count above the target's concurrency: the query
            # fails there (facts 1.3) rather than block the target's line.
            eng.rec.acc_q[i] += eng.now()
            eng.rec.finish(i, eng.now(), OUT_FAILED)
            self._forget(i)
        elif eng.admit(i, q):
            eng.log_t(eng.now())
            eng.log_c(q * 16 + K_RUN)
            eng.run_query(i, q, MAIN)
        else:
            eng.wait(i, q)

    def _stop(self, i: int, outcome: int) -> None:
        """End running query ``i`` with ``outcome`` and free its slots."""
        eng = self.eng
        eng.release(i)
        eng.rec.finish(i, eng.now(), outcome)
        self._forget(i)

    def _forget(self, i: int) -> None:
        """Drop the per-query state of a finished query."""
        self.xoff.pop(i, None)
        self.done.pop(i, None)

    def switched(
        self, old: QueueTables, new: QueueTables, *, rules_for: str = "running"
    ) -> None:
        """A WLM schedule's switch from ``old`` to ``new`` (now in ``eng.t``).

        A query running at the switch keeps the WLM timeout it started with
        (AWS: a new timeout applies to queries that start after the change),
        and with ``rules_for="new"`` its queue's QMR rules as well. With
        ``"running"``, when the rules change, every running segment is checked
        against the new ones from its next 10 s check on: its pending event is
        replaced by one scheduled under the new rules; a rule already acted
        on for a query (a ``log`` or priority change) keeps that mark when the
        new set has a rule of the same name.
        """
        eng = self.eng
        self.lower = [_lower_bound_s(r) for r in new.rules]
        ran, cur_q = eng.rec.ran, eng.rec.cur_q
        live = sorted(i for i in self.seg if ran[i] != SQA)
        # Pins of queries that ended since the last switch go now (not in
        # end(), which every query passes through).
        self.pin = {i: p for i, p in self.pin.items() if i in self.seg}
        for i in live:
            q = cur_q[i]
            keep_rules = rules_for == "new" and old.rules[q] != new.rules[q]
            moved = old.timeout_s[q] != new.timeout_s[q]
            if i not in self.pin and (keep_rules or moved):
                self.pin[i] = (old.timeout_s[q], old.rules[q] if keep_rules else None)
        if rules_for == "new" or old.rules == new.rules:
            return
        for i, done in self.done.items():
            names = {(q, old.rules[q][r].name) for q, r in done}
            self.done[i] = {
                (q, k) for q, name in names for k, rule in enumerate(new.rules[q])
                if rule.name == name
            }  # fmt: skip
        now = eng.now()
        for i in live:
            start, fac, _ = self.seg.pop(i)
            ran_s = now - start
            eng.rem[i] = eng.segment_left(i, ran_s, fac)
            x_off, qx_off = self.xoff.get(i, _NO_OFFSETS)
            self.xoff[i] = (x_off + ran_s, qx_off + ran_s)
            self.schedule(i, cur_q[i], ran[i], now, eng.rem[i] * fac, force=True)

    def arm_queue_timeout(self, i: int, entry: int) -> None:
        """Cancel query ``i`` at its statement timeout if still queued as ``entry``."""
        eng = self.eng
        now = eng.now()
        at = now + max(eng.arr[i] + eng.st_s - now, 0.0)
        # The entry env.timeout(delay) would push, with a tuple for the event.
        heappush(eng.heap, (at, NORMAL, eng.eid(), (i, Q_TIMEOUT, entry, 0)))

    def _queue_timeout(self, i: int, entry: int) -> None:
        """Statement timeout of a waiting query: cancel it."""
        eng = self.eng
        if eng.ent[i] != entry:
            return
        q = eng.rec.cur_q[i]
        now = eng.now()
        eng.take_entry(i, q)
        eng.log_t(now)
        eng.log_c(q * 16 + K_Q_OUT)
        eng.rec.acc_q[i] += now
        eng.rec.finish(i, now, OUT_CANCELED)
        self._forget(i)
        eng.pull(q)


def _lower_bound_s(rules: tuple[CompiledRule, ...]) -> float:
    """Execution time [s] before which none of ``rules`` can fire."""
    if not rules:
        return math.inf
    best = math.inf
    for rule in rules:
        lb = CHECK_INTERVAL_S
        for metric, op, value in rule.predicates:
            if metric == 0 and op == ">" and not isinstance(value, str):
                k = math.floor(float(value) / CHECK_INTERVAL_S) + 1
                lb = max(lb, k * CHECK_INTERVAL_S)
        best = min(best, lb)
    # The first check happens at 10 s; strictly less execution means no check.
    return best - 1e-9
