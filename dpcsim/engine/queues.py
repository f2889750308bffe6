"""Per-queue constants the engine reads in its event loop, and statement classes.

:class:`QueueTables` flattens a :class:`~dpcsim.wlm.WLMConfig` plus
:class:`~dpcsim.engine.settings.ClusterSettings` into plain lists indexed by the
engine's queue index: ``0 .. n-1`` are the configured queues in array order,
``n`` is the superuser queue (one slot, service class 5) and ``n + 1`` is SQA
(service class 14). The statement-class tables encode the per-statement-type
behaviour of the facts sheet, section 2 (WLM timeout, QMR, SQA and Concurrency
Scaling eligibility). The event loop itself lives in :mod:`dpcsim.engine.cluster`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from dpcsim.engine.memory import slot_memory_mb
from dpcsim.engine.qmr import CompiledRule, compile_rules
from dpcsim.engine.settings import ClusterSettings
from dpcsim.schema import STATEMENT_TYPES
from dpcsim.wlm import SUPERUSER_QUEUE, WLMConfig

__all__ = [
    "CS_ALWAYS",
    "CS_RA3_ONLY",
    "PRIORITY_RANK",
    "QMR_UNSTOPPABLE",
    "SQA_ELIGIBLE",
    "TIMEOUT_ACTION",
    "TIMEOUT_CANCEL",
    "TIMEOUT_HOP",
    "TIMEOUT_KEEP",
    "QueueTables",
    "statement_code",
]

#: Statement type -> small integer code used in the loop.
_CODE: Final = {s: i for i, s in enumerate(STATEMENT_TYPES)}

TIMEOUT_KEEP: Final = 0
TIMEOUT_CANCEL: Final = 1
TIMEOUT_HOP: Final = 2

#: WLM-timeout outcome by statement code (facts 2.2): SELECT and CTAS hop;
#: COPY and maintenance keep running; INSERT/UPDATE/DELETE/UNLOAD cancel. DDL,
#: utility and other statements are treated like UDF queries (cancel).
TIMEOUT_ACTION: Final[tuple[int, ...]] = tuple(
    TIMEOUT_HOP
    if s in ("select", "ctas")
    else TIMEOUT_KEEP
    if s in ("copy", "vacuum", "analyze")
    else TIMEOUT_CANCEL
    for s in STATEMENT_TYPES
)

#: QMR never stops COPY or maintenance (facts 2.3): only log-like actions apply.
QMR_UNSTOPPABLE: Final[tuple[bool, ...]] = tuple(
    s in ("copy", "vacuum", "analyze") for s in STATEMENT_TYPES
)

#: Statements SQA may run (read-only and CTAS, facts 2.4).
SQA_ELIGIBLE: Final[tuple[bool, ...]] = tuple(
    s in ("select", "ctas") for s in STATEMENT_TYPES
)

#: Scaling-eligible on any node type (reads; UNLOAD is a read that writes to S3).
CS_ALWAYS: Final[tuple[bool, ...]] = tuple(
    s in ("select", "unload") for s in STATEMENT_TYPES
)

#: Scaling-eligible only on RA3 (writes, facts 2.5); DDL, maintenance, utility
#: and other statements never scale.
CS_RA3_ONLY: Final[tuple[bool, ...]] = tuple(
    s in ("copy", "insert", "update", "delete", "ctas") for s in STATEMENT_TYPES
)

#: Auto-WLM priority -> admission rank (0 is admitted first).
PRIORITY_RANK: Final[dict[str, int]] = {
    "highest": 0,
    "high": 1,
    "normal": 2,
    "low": 3,
    "lowest": 4,
}


def statement_code(statement_type: str) -> int:
    """Return the loop's integer code of a canonical statement type."""
    return _CODE[statement_type]


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueTables:
    """Plain per-queue lists for the event loop (index = engine queue index).

    Attributes
    ----------
    names
        Queue names; then ``superuser`` and ``sqa``.
    slots
        Manual slots (``query_concurrency``; 1 for superuser; SQA slots).
    slot_mem_mb
        Memory of one slot [MB] (queue memory % of cluster memory / slots).
    timeout_s
        WLM timeout ``max_execution_time`` [s]; 0 = none (always 0 under auto).
    rules
        Compiled QMR rules per queue.
    scaling
        ``concurrency_scaling == "auto"`` per queue.
    rank
        Auto-WLM priority rank per queue (0 = highest).
    plain
        True where a running query needs no timer besides its end: no timeout,
        no rules and no ``statement_timeout`` (the fast path).
    """

    names: tuple[str, ...]
    slots: tuple[int, ...]
    slot_mem_mb: tuple[float, ...]
    timeout_s: tuple[float, ...]
    rules: tuple[tuple[CompiledRule, ...], ...]
    scaling: tuple[bool, ...]
    rank: tuple[int, ...]
    plain: tuple[bool, ...]

    @property
    def superuser(self) -> int:
        """Engine index of the superuser queue."""
        return len(self.names) - 2

    @property
    def sqa(self) -> int:
        """Engine index of the SQA service class."""
        return len(self.names) - 1

    @classmethod
    def from_config(cls, config: WLMConfig, settings: ClusterSettings) -> QueueTables:
        """Flatten ``config`` and ``settings`` into per-queue lists."""
        n = len(config.queues)
        auto = config.is_auto
        mem = settings.cluster_memory_mb
        slots = [q.query_concurrency for q in config.queues] + [1, settings.sqa_slots]
        slot_mem = [
            slot_memory_mb(mem, config.memory_percent(i), slots[i]) for i in range(n)
        ]
        # The superuser queue and SQA get memory outside the user-queue split;
        # use the largest user slot so they never count as starved.
        slot_mem += [max(slot_mem), max(slot_mem)]
        timeout = [
            0.0 if auto else q.max_execution_time / 1000.0 for q in config.queues
        ]
        timeout += [0.0, 0.0]
        rules = [compile_rules(q.rules, auto=auto) for q in config.queues] + [(), ()]
        scaling = [q.concurrency_scaling == "auto" for q in config.queues]
        scaling += [False, False]
        rank = [PRIORITY_RANK[q.priority] if auto else 2 for q in config.queues]
        rank += [0, 0]
        st_on = settings.statement_timeout_ms > 0
        plain = [not (timeout[i] > 0 or rules[i] or st_on) for i in range(n + 2)]
        names = (*(q.name for q in config.queues), SUPERUSER_QUEUE, "sqa")
        return cls(
            names=names,
            slots=tuple(slots),
            slot_mem_mb=tuple(slot_mem),
            timeout_s=tuple(timeout),
            rules=tuple(rules),
            scaling=tuple(scaling),
            rank=tuple(rank),
            plain=tuple(plain),
        )
