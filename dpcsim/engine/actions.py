"""Interrupts of a running query: timeouts, QMR actions, SQA eviction, hops.

When a query starts on a queue that is not plain (or on SQA or a scaling
cluster), :meth:`Interrupts.schedule` computes the earliest of its end, its
``statement_timeout`` (arrival + limit; queue and execution count), the WLM
timeout of its queue (execution time in that queue), its first QMR firing
(:func:`~dpcsim.engine.qmr.first_firing`) and, on SQA, the SQA maximum, and
schedules one event: the tuple ``(query, kind, rule)`` pushed onto SimPy's event
queue (SimPy's entry shape and order; the engine's driver hands it to
:meth:`Interrupts.fire`). At equal instants the end wins, then the statement
timeout, QMR, the WLM timeout and SQA eviction, in that order.

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
from heapq import heappush
from typing import TYPE_CHECKING, Any, Final

from simpy.events import NORMAL

from dpcsim.engine.qmr import CHECK_INTERVAL_S, CompiledRule, first_firing
from dpcsim.engine.queues import (
    QMR_UNSTOPPABLE,
    SQA_ELIGIBLE,
    TIMEOUT_ACTION,
    TIMEOUT_CANCEL,
    TIMEOUT_KEEP,
)
from dpcsim.engine.records import (
    K_Q_OUT,
    K_RUN,
    MAIN,
    OUT_ABORTED,
    OUT_CANCELED,
    OUT_FAILED,
    SQA,
)

if TYPE_CHECKING:
    from dpcsim.engine.cluster import Engine

__all__ = ["Interrupts"]

END, STMT, QMR, WLM, EVICT = 0, 1, 2, 3, 4
_PRIORITIES: Final = ("highest", "high", "normal", "low", "lowest")


class Interrupts:
    """Timers and actions of running queries for one :class:`Engine`."""

    def __init__(self, eng: Engine) -> None:
        self.eng = eng
        #: Running segment of a query: (start time, slowdown factor).
        self.seg: dict[int, tuple[float, float]] = {}
        #: Execution so far in the attempt and in the current queue [s].
        self.xoff: dict[int, tuple[float, float]] = {}
        #: QMR rules already acted on, as (queue, rule index).
        self.done: dict[int, set[tuple[int, int]]] = {}
        self.lower = [_lower_bound_s(r) for r in eng.t.rules]
        self.evict_s = eng.sqa.max_s if eng.sqa is not None else math.inf

    def schedule(self, i: int, q: int, where: int, now: float, dur: float) -> None:
        """Schedule the one event of a running segment of ``dur`` seconds."""
        eng = self.eng
        best, kind, arg = now + dur, END, -1
        if eng.st_s > 0.0:
            t = eng.arr[i] + eng.st_s
            if t < best:
                best, kind = t, STMT
        x_off, qx_off = self.xoff.get(i, (0.0, 0.0))
        if where == SQA:
            t = now + self.evict_s
            if t < best:
                best, kind = t, EVICT
        else:
            rules = eng.t.rules[q]
            if rules and x_off + dur > self.lower[q]:
                fire = self._qmr(i, q, rules, x_off, dur)
                if fire is not None and now + fire[0] - x_off < best:
                    best, kind, arg = now + fire[0] - x_off, QMR, fire[1]
            to = eng.t.timeout_s[q]
            if to > 0.0 and TIMEOUT_ACTION[eng.st[i]] != TIMEOUT_KEEP:
                t = now + to - qx_off
                if t < best:
                    best, kind = t, WLM
        rem = eng.rem[i]
        self.seg[i] = (now, dur / rem if rem > 0.0 else 1.0)
        # What env.timeout(delay, value) would schedule, without the event.
        heappush(
            eng.heap, (now + max(best - now, 0.0), NORMAL, eng.eid(), (i, kind, arg))
        )

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

    def fire(self, item: tuple[int, int, int]) -> None:
        """Handle the event ``(query, kind, rule)`` of a running segment."""
        i, kind, arg = item
        eng = self.eng
        now = eng.env._now
        if kind == END:
            # The query is over: its remaining work and offsets are not needed.
            del self.seg[i]
            eng.end[i] = now
            eng.release(i)
            self.xoff.pop(i, None)
            self.done.pop(i, None)
            if eng.learned:
                eng.sqa.observe(i, eng.exe[i])  # type: ignore[union-attr]
            return
        start, fac = self.seg.pop(i)
        ran = now - start
        eng.rem[i] = max(eng.rem[i] - ran / fac, 0.0)
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
            and not eng._auto
            and eng.free[q] >= eng.sc[i]
        )
        if not keep:
            eng.release(i)
            self._restart(i, q)
            return
        # Reassigned with the work done: take the queue's slots, then free SQA's.
        now = eng.env._now
        eng.take_slots(i, q)
        eng.release(i)
        x_off, _ = self.xoff.get(i, (0.0, 0.0))
        self.xoff[i] = (x_off, 0.0)
        eng.rec.acc_q[i] -= now
        eng.log_t(now)
        eng.log_c(q * 16 + K_RUN)
        eng._run(i, q, MAIN)

    def _act(self, i: int, r: int) -> None:
        """Apply QMR rule ``r`` of query ``i``'s queue."""
        eng = self.eng
        q = eng.rec.cur_q[i]
        rule = eng.t.rules[q][r]
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
            i, q if where != SQA else eng.t.sqa, where, eng.env._now, eng.rem[i] * fac
        )

    def _factor(self, i: int, q: int, where: int) -> float:
        """Slowdown factor of query ``i`` running in ``q`` at ``where``."""
        eng = self.eng
        return eng._spill(i, q) if eng.mem_on and where != SQA else 1.0

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
        now = eng.env._now
        eng.take_slots(i, target)
        eng.release(i)
        eng.rec.hops[i] += 1
        x_off, _ = self.xoff.get(i, (0.0, 0.0))
        self.xoff[i] = (x_off, 0.0)
        eng.rec.acc_q[i] -= now
        eng.log_t(now)
        eng.log_c(target * 16 + K_RUN)
        eng._run(i, target, MAIN)

    def _restart(self, i: int, q: int) -> None:
        """Requeue query ``i`` (slots already freed) in ``q`` as a new attempt."""
        eng = self.eng
        eng.rec.attempts[i] += 1
        eng.rem[i] = eng.exe[i]
        self.xoff.pop(i, None)
        eng.rec.cur_q[i] = q
        eng.rec.acc_q[i] -= eng.env._now
        if eng.sc[i] > eng.t.slots[q] and not eng._auto:
            # wlm_query_slot_count above the target's concurrency: the query
            # fails there (facts 1.3) rather than block the target's line.
            eng.rec.acc_q[i] += eng.env._now
            eng.rec.finish(i, eng.env._now, OUT_FAILED)
            self._forget(i)
        elif eng._admit(i, q):
            eng.log_t(eng.env._now)
            eng.log_c(q * 16 + K_RUN)
            eng._run(i, q, MAIN)
        else:
            eng._wait(i, q)

    def _stop(self, i: int, outcome: int) -> None:
        """End running query ``i`` with ``outcome`` and free its slots."""
        eng = self.eng
        eng.release(i)
        eng.rec.finish(i, eng.env._now, outcome)
        self._forget(i)

    def _forget(self, i: int) -> None:
        """Drop the per-query state of a finished query."""
        self.xoff.pop(i, None)
        self.done.pop(i, None)

    def arm_queue_timeout(self, i: int, entry: int) -> None:
        """Cancel query ``i`` at its statement timeout if still queued as ``entry``."""
        eng = self.eng
        delay = max(eng.arr[i] + eng.st_s - eng.env._now, 0.0)
        ev = eng.env.timeout(delay, (i, entry))
        ev.callbacks.append(self._queue_timeout)

    def _queue_timeout(self, ev: Any) -> None:
        """Statement timeout of a waiting query: cancel it."""
        i, entry = ev._value
        eng = self.eng
        if eng.ent[i] != entry:
            return
        q = eng.rec.cur_q[i]
        now = eng.env._now
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
