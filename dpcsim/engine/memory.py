"""Memory per slot and the memory-aware service-time model.

Manual WLM gives every slot of a queue a fixed share of memory: the queue's
``memory_percent_to_use`` of the user-queue memory, divided by its slots
(facts 2.1). A query that wants more working memory than its slots hold spills
intermediate results to disk and runs longer. With ``memory_model = "spill"``
the engine stretches the execution time of such a query::

    exec' = exec * (1 + spill_penalty * max(0, 1 - slot_mem / mem_mb))

where ``slot_mem`` is the memory of the slots the query holds [MB] and
``mem_mb`` the memory it wants [MB]. A query with all the memory it needs runs
at its logged speed; one with none would run ``1 + spill_penalty`` times as
long. Calibration: ``spill_penalty = 1`` (the default) makes a query that gets
half of its memory run 1.5 times as long, in line with the common observation
that disk-based hash joins and sorts on Redshift run roughly 1.5-3 times slower
than in-memory ones; set it from paired runs of the same query at two slot
counts (``exec'/exec - 1`` divided by the memory shortfall). Queries without
``mem_mb`` are never slowed. The model is off by default (the factor is 1).
"""

from __future__ import annotations

import math

__all__ = ["slot_memory_mb", "spill_factor"]


def slot_memory_mb(cluster_memory_mb: float, percent: float, slots: int) -> float:
    """Return the memory of one slot [MB].

    Parameters
    ----------
    cluster_memory_mb
        Memory WLM hands to user queues [MB].
    percent
        The queue's share of it [%].
    slots
        The queue's slot count.

    Examples
    --------
    >>> slot_memory_mb(65536.0, 50.0, 4)
    8192.0
    """
    return cluster_memory_mb * percent / 100.0 / slots


def spill_factor(slot_mem_mb: float, mem_mb: float, spill_penalty: float) -> float:
    """Return the execution-time multiplier of a query short of memory (>= 1).

    Parameters
    ----------
    slot_mem_mb
        Memory the query holds (slot memory times slots taken) [MB].
    mem_mb
        Memory the query wants [MB]; NaN or <= 0 means unknown (factor 1).
    spill_penalty
        Extra run time at zero memory, as a fraction of the execution time.

    Examples
    --------
    >>> spill_factor(500.0, 1000.0, 1.0)
    1.5
    >>> spill_factor(2000.0, 1000.0, 1.0)
    1.0
    """
    if math.isnan(mem_mb) or mem_mb <= 0.0:
        return 1.0
    return 1.0 + spill_penalty * max(0.0, 1.0 - slot_mem_mb / mem_mb)
