"""Rebuild the WLM configuration a log was recorded under, from the log itself.

STL_WLM_QUERY names each query's service class: 6 + i is manual queue ``i``
(100 + i auto queue ``i``), 5 the superuser queue, 14 short query acceleration
(Redshift Database Developer Guide, "WLM system tables and views"). From the
canonical workload's ``service_class``, ``queue``, ``slot_count`` and
``ran_on_cs`` columns:

* one queue per service class up to the highest one logged, named by its most
  common ``queue`` value (``service_class_<n>`` when the log names none);
* a manual queue's slots are the most slots its queries held at once on the
  main cluster (``wlm_query_slot_count`` included). A queue that ever queued
  reached its slot count, so this is exact for it; for one that never queued
  it is a lower bound that replays the same (no query waited for a slot);
* Concurrency Scaling ``auto`` on a queue some of whose queries ran on a
  scaling cluster, else ``off``; SQA on when class 14 appears, with the dynamic
  maximum runtime (the AWS default);
* not in the log, so left at AWS defaults and listed in ``notes``: memory
  (split equally), WLM timeouts and QMR rules (none), routing rules (queries
  are routed by their logged service class instead, see
  :func:`routing_by_service_class`), auto WLM priorities (``normal``).

A service class between two logged ones that no query used gets AWS's default
5 slots and a note: its queue existed (classes follow array order) but the log
says nothing of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from dpcsim.calibration.concurrency import execution_intervals, max_overlap
from dpcsim.errors import InputError
from dpcsim.wlm import QueueConfig, RoutingResult, SQAConfig, WLMConfig, route_workload

__all__ = ["Reconstruction", "reconstruct_wlm_config", "routing_by_service_class"]

SUPERUSER_CLASS: Final = 5
MANUAL_BASE: Final = 6
MANUAL_LAST: Final = 13
SQA_CLASS: Final = 14
AUTO_BASE: Final = 100
AUTO_LAST: Final = 107
#: AWS's default slots of a manual queue (used for an unobserved class).
DEFAULT_SLOTS: Final = 5
MAX_SLOTS_PER_QUEUE: Final = 50
_NAME_BAD: Final = re.compile(r"[^0-9A-Za-z_ ]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconstruction:
    """A configuration rebuilt from a log, and what it could not know.

    Attributes
    ----------
    config
        The configuration.
    slots_observed
        Queue name -> most slots held at once on the main cluster (manual).
    queries_by_queue
        Queue name -> logged queries of its service class (SQA ones excluded).
    notes
        What was assumed because the log does not record it.
    """

    config: WLMConfig
    slots_observed: dict[str, int]
    queries_by_queue: dict[str, int]
    notes: tuple[str, ...]


def reconstruct_wlm_config(
    queries: pd.DataFrame, *, source: str = "<workload>"
) -> Reconstruction:
    """Rebuild the recording WLM configuration from a canonical query frame.

    Raises
    ------
    InputError
        When the log has no service classes, or mixes manual and auto ones.
    """
    sc = queries["service_class"].to_numpy(dtype=np.float64, na_value=np.nan)
    known = np.isfinite(sc)
    classes = np.unique(sc[known]).astype(np.int64)
    manual = classes[(classes >= MANUAL_BASE) & (classes <= MANUAL_LAST)]
    auto = classes[(classes >= AUTO_BASE) & (classes <= AUTO_LAST)]
    if manual.size == 0 and auto.size == 0:
        raise InputError(
            "no user-queue service class (6-13 manual, 100-107 auto) in the log; "
            "expected STL_WLM_QUERY's service_class, or pass --wlm",
            source=source,
            location="service_class",
        )
    if manual.size and auto.size:
        raise InputError(
            f"the log mixes manual service classes {manual.tolist()} and auto ones "
            f"{auto.tolist()} (WLM changed mode during it); expected one mode, or "
            "pass --wlm",
            source=source,
            location="service_class",
        )
    is_auto = bool(auto.size)
    base = AUTO_BASE if is_auto else MANUAL_BASE
    top = int((auto if is_auto else manual).max())
    intervals = execution_intervals(queries)
    on_main = intervals.counted & ~queries["ran_on_cs"].to_numpy(dtype=bool)
    ran_on_cs = queries["ran_on_cs"].to_numpy(dtype=bool)
    slot_count = queries["slot_count"].to_numpy(dtype=np.int64)
    names = queries["queue"].astype("string")
    notes = [
        "memory_percent_to_use: not in the log; memory split equally",
        "WLM timeouts and QMR rules: not in the log; none",
        "routing rules: not in the log; queries routed by their logged service class",
    ]
    if is_auto:
        notes.append("auto WLM priorities: not in the log; normal")
    queues: list[QueueConfig] = []
    slots_observed: dict[str, int] = {}
    queries_by_queue: dict[str, int] = {}
    used: set[str] = set()
    for cls in range(base, top + 1):
        rows = known & (sc == cls)
        name = _queue_name(names[rows], cls, used)
        used.add(name.casefold())
        queries_by_queue[name] = int(rows.sum())
        scaling: Literal["auto", "off"] = (
            "auto" if bool(np.any(ran_on_cs[rows])) else "off"
        )
        if is_auto:
            queues.append(
                QueueConfig(name=name, queue_type="auto", concurrency_scaling=scaling)
            )
            continue
        main = rows & on_main
        held = max_overlap(
            intervals.start_s[main], intervals.end_s[main], slot_count[main]
        )
        if not rows.any():
            notes.append(
                f"service class {cls}: no query in the log; queue {name!r} given "
                f"AWS's default {DEFAULT_SLOTS} slots"
            )
            slots = DEFAULT_SLOTS
        else:
            slots = min(max(held, 1), MAX_SLOTS_PER_QUEUE)
        slots_observed[name] = held
        queues.append(
            QueueConfig(name=name, query_concurrency=slots, concurrency_scaling=scaling)
        )
    sqa_on = bool(np.any(known & (sc == SQA_CLASS)))
    try:
        config = WLMConfig(
            queues=tuple(queues),
            sqa=SQAConfig(enabled=True, max_execution_time=0) if sqa_on else None,
        )
    except InputError as err:
        raise InputError(
            f"the configuration rebuilt from the log is not valid ({err}); pass --wlm",
            source=source,
        ) from None
    return Reconstruction(
        config=config,
        slots_observed=slots_observed,
        queries_by_queue=queries_by_queue,
        notes=tuple(notes),
    )


def routing_by_service_class(config: WLMConfig, queries: pd.DataFrame) -> RoutingResult:
    """Route every row to the queue of its logged service class.

    Users' groups are ignored (a rebuilt configuration has no routing rules).
    An SQA row (class 14) goes to the queue its ``queue`` column names, where
    that is a queue of ``config``; rows without a usable class fall back as
    :func:`dpcsim.wlm.route_workload` does (query group, then default queue).
    """
    frame = queries.copy()
    frame["user_groups"] = pd.array([pd.NA] * len(frame), dtype="string")
    sc = frame["service_class"].astype("Int64")
    classes = {
        name: config.service_class(i) for i, name in enumerate(config.queue_names)
    }
    named = frame["queue"].astype("string").map(classes).astype("Int64")
    frame["service_class"] = sc.where(sc != SQA_CLASS, named)
    return route_workload(config, frame)


def _queue_name(logged: pd.Series, service_class: int, used: set[str]) -> str:
    """The most common logged name of a class, made a valid, unique queue name."""
    counts = logged.dropna().value_counts(sort=False)
    counts = counts[~counts.index.str.casefold().isin(["superuser", "sqa"])]
    name = ""
    if len(counts):
        best = counts.sort_index().sort_values(ascending=False, kind="stable")
        name = _NAME_BAD.sub("_", str(best.index[0])).strip()[:64]
    if not name or name.casefold() in used:
        name = f"service_class_{service_class}"
    return name
