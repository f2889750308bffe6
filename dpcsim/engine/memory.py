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
``mem_mb`` are never slowed. The model is on by default (``memory_model``).

Memory demand from spill (:func:`memory_from_spill`). Some logs give a query's
spill but not its working memory: Redset (``mbytes_spilled``),
SYS_QUERY_DETAIL (``spilled_block_local_disk`` + ``spilled_block_remote_disk``)
or SVL_QUERY_METRICS_SUMMARY (``query_temp_blocks_to_disk``) without
SVL_QUERY_SUMMARY. For such a query, holding ``held`` MB in the configuration
that recorded it (its queue's slot memory times its slots):

* it spilled ``X > 0`` MB: it wanted ``held + X`` (what did not fit went to
  disk). Biased up when a step writes its spill more than once (multi-pass
  hash joins and sorts) or several steps spill the same shortfall, down when
  the temporary blocks are compressed or rounded to 1 MB blocks;
* it did not spill: it wanted at most ``held``; the log says no more, so it is
  taken to want ``unspilled_memory_share * held`` (a setting, default 0.1: the
  bundled generator's non-spilling queries want a median 8.6 % of the memory
  they hold; AWS publishes no such distribution). Under a what-if that gives
  it less than that it spills, all such queries at the same fraction: too
  early for the small ones, too late for those that wanted nearly ``held``.

Queries the log shows on SQA (their memory is not a queue's), and workloads
recorded under auto WLM (no slot memory), keep no memory demand.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["memory_from_spill", "slot_memory_mb", "spill_factor"]


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


def memory_from_spill(
    mem_mb: np.ndarray,
    spilled_mb: np.ndarray,
    held_mb: np.ndarray,
    unspilled_share: float,
) -> np.ndarray:
    """Memory demand [MB]: ``mem_mb`` where known, else estimated from the spill.

    Parameters
    ----------
    mem_mb
        Logged memory demand [MB]; NaN where the log has none.
    spilled_mb
        Logged spill [MB]; NaN where the log has none.
    held_mb
        Memory each query held when it was recorded [MB]; NaN where unknown.
    unspilled_share
        Share of ``held_mb`` a query that did not spill is taken to want.

    Returns
    -------
    numpy.ndarray
        ``mem_mb``, with ``held + spilled`` for a query that spilled and
        ``unspilled_share * held`` for one that did not, where ``mem_mb`` is
        NaN and both ``spilled_mb`` and ``held_mb`` are known (module docstring).

    Examples
    --------
    >>> memory_from_spill(np.array([np.nan, np.nan, 700.0, np.nan]),
    ...                   np.array([300.0, 0.0, 50.0, np.nan]),
    ...                   np.full(4, 1000.0), 0.1).tolist()
    [1300.0, 100.0, 700.0, nan]
    """
    spilled = held_mb + spilled_mb
    estimate = np.where(spilled_mb > 0.0, spilled, unspilled_share * held_mb)
    use = np.isnan(mem_mb) & np.isfinite(spilled_mb) & np.isfinite(held_mb)
    out: np.ndarray = np.where(use, estimate, mem_mb)
    return out
