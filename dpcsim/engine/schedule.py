"""A time-of-day WLM schedule: which configuration is in force when, each day.

A :class:`WLMSchedule` is a list of switches ``(time of day, WLMConfig)``
applied every simulated day in a stated timezone, the way an operator applies
them with a scheduled ``modify-cluster-parameter-group``. A switch changes only
WLM's *dynamic* properties, which AWS applies without a reboot ("WLM dynamic and
static configuration properties",
https://docs.aws.amazon.com/redshift/latest/dg/cm-c-wlm-dynamic-properties.html).
Under manual WLM those are the concurrency (slots), the memory percent, the
WLM timeout, SQA on/off and its maximum runtime and the Concurrency Scaling
mode; the queue list and the routing (user groups, user roles, query groups and
their wildcards) are static, and switching between manual and auto WLM is
static too. :func:`check_schedule` rejects a schedule whose configurations
differ in a static property with an :class:`~dpcsim.errors.InputError` naming
it. QMR rules are dynamic and switch with the rest (which running queries
they check is the setting ``qmr_switch``, see :mod:`dpcsim.engine.switching`).
Under auto WLM the priority, the scaling mode, the SQA maximum and QMR rules
switch (:mod:`dpcsim.engine.autoswitching`); AWS lists the queue list and the
routing as dynamic there too, but a schedule that changes them is refused:
AWS does not say what becomes of the queries waiting in such a queue.

How a switch takes effect (the transition) is in
:mod:`dpcsim.engine.switching`; :func:`transition_slots` is its arithmetic.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

import pandas as pd

from dpcsim.errors import InputError
from dpcsim.wlm import WLMConfig

__all__ = [
    "STATIC_QUEUE_PROPERTIES",
    "WLMSchedule",
    "check_schedule",
    "switch_times_s",
    "transition_slots",
]

#: Queue properties a switch may not change: static under manual WLM (a
#: reboot); under auto WLM not simulated (see :func:`check_schedule`).
STATIC_QUEUE_PROPERTIES: Final = (
    "name",
    "queue_type",
    "user_group",
    "user_group_wild_card",
    "user_role",
    "user_role_wild_card",
    "query_group",
    "query_group_wild_card",
)

_HHMM: Final = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class WLMSchedule:
    """WLM configurations by time of day, applied every day of the run.

    Attributes
    ----------
    switches
        ``("HH:MM", config)`` pairs: from that local time on, ``config``'s
        dynamic properties are in force, until the next switch (the last one
        lasts past midnight until the first). At least one; times distinct.
    timezone
        IANA timezone of the times (e.g. ``"Asia/Tokyo"``).

    Examples
    --------
    >>> night = WLMConfig.from_json('[{"query_concurrency": 4}]')
    >>> day = WLMConfig.from_json('[{"query_concurrency": 2}]')
    >>> s = WLMSchedule(switches=(("09:00", day), ("02:00", night)))
    >>> [t for t, _ in s.switches], s.seconds_of_day()
    (['02:00', '09:00'], [7200.0, 32400.0])
    """

    switches: tuple[tuple[str, WLMConfig], ...]
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        pairs = tuple((str(t), c) for t, c in self.switches)
        if not pairs:
            raise InputError(
                "empty schedule; expected at least one (HH:MM, config) switch",
                location="schedule",
            )
        for t, _ in pairs:
            if _HHMM.match(t) is None:
                raise InputError(
                    f"switch time {t!r}; expected 'HH:MM' (00:00..23:59)",
                    location="schedule",
                )
        times = [t for t, _ in pairs]
        if len(set(times)) != len(times):
            raise InputError(
                f"switch times {times}: a time appears twice", location="schedule"
            )
        try:
            pd.Timestamp("2000-01-01").tz_localize(self.timezone)
        except Exception:
            raise InputError(
                f"timezone {self.timezone!r}; expected an IANA name such as "
                "'Asia/Tokyo'",
                location="schedule.timezone",
            ) from None
        object.__setattr__(self, "switches", tuple(sorted(pairs, key=lambda p: p[0])))

    @property
    def configs(self) -> tuple[WLMConfig, ...]:
        """The configurations in switch-time order."""
        return tuple(c for _, c in self.switches)

    def seconds_of_day(self) -> list[float]:
        """Switch times as seconds after local midnight, in order [s]."""
        out = []
        for t, _ in self.switches:
            h, m = t.split(":")
            out.append(float(int(h) * 3600 + int(m) * 60))
        return out


def check_schedule(schedule: WLMSchedule, config: WLMConfig) -> None:
    """Raise InputError unless every switch differs from ``config`` only dynamically.

    ``config`` is the configuration the workload is routed with (its queue
    list and routing are the schedule's static part).
    """
    for t, other in schedule.switches:
        where = f"schedule[{t}]"
        if other.is_auto != config.is_auto:
            raise InputError(
                f"{'auto' if other.is_auto else 'manual'} WLM where the routed "
                f"configuration is {'auto' if config.is_auto else 'manual'}: "
                "switching between manual and auto WLM is static (it needs a "
                "reboot), so a schedule may not do it",
                location=f"{where}.auto_wlm",
            )
        # Under auto WLM the queue list and routing are dynamic for AWS, but
        # what becomes of the waiting queries of a removed or rerouted queue is
        # not documented, and each query is routed once: not simulated.
        unsimulated = (
            "is dynamic under auto WLM but not simulated (AWS does not say what "
            "becomes of waiting queries when a queue goes or its routing changes)"
        )
        if len(other.queues) != len(config.queues):
            why = (
                f"changing the queue list {unsimulated}"
                if config.is_auto
                else "the queue list is static (adding or removing a queue needs "
                "a reboot)"
            )
            raise InputError(
                f"{len(other.queues)} queues where the routed configuration has "
                f"{len(config.queues)}: {why}",
                location=f"{where}.queues",
            )
        for qa, qb in zip(config.queues, other.queues, strict=True):
            for prop in STATIC_QUEUE_PROPERTIES:
                a, b = getattr(qa, prop), getattr(qb, prop)
                if a != b:
                    why = (
                        f"changing {prop} {unsimulated}"
                        if config.is_auto
                        else f"{prop} is a static WLM property (a change needs a "
                        "reboot)"
                    )
                    raise InputError(
                        f"queue {qa.name!r}: {prop} {b!r} differs from {a!r}; "
                        f"{why}, so a schedule may not change it",
                        location=f"{where}.{qa.name}.{prop}",
                    )


def switch_times_s(
    schedule: WLMSchedule, start_at: pd.Timestamp, until_s: float, delay_s: float
) -> list[tuple[float, int]]:
    """Every switch from the run's start to ``until_s``, with its config's index.

    Returns ``(t, k)`` pairs in time order: ``t`` [s after ``start_at``] is the
    local switch time of some day plus ``delay_s`` (the time AWS takes to apply
    dynamic properties, see ``wlm_apply_delay_s``), ``k`` the index into
    :attr:`WLMSchedule.switches`. The first pair is ``(0.0, k0)``: the
    configuration in force when the run starts (the last switch before it).
    Local days follow the timezone's calendar (a DST day is 23 or 25 h).
    """
    tz = schedule.timezone
    start = pd.Timestamp(start_at)
    start = start.tz_localize("UTC") if start.tzinfo is None else start
    local = start.tz_convert(tz)
    day = local.normalize().tz_localize(None)
    sod = schedule.seconds_of_day()
    out: list[tuple[float, int]] = []
    before: int = len(sod) - 1  # in force at the start: the last switch before it
    d = -1
    while True:
        base = day + pd.Timedelta(days=d)
        for k, s in enumerate(sod):
            at = (base + pd.Timedelta(seconds=s)).tz_localize(
                tz, ambiguous=False, nonexistent="shift_forward"
            )
            t = (at - start).total_seconds() + delay_s
            if t <= 0.0:
                before = k
                continue
            if t > until_s:
                return [(0.0, before), *out]
            out.append((t, k))
        d += 1


def transition_slots(
    new_slots: int, new_slot_mb: float, old_slots: int, old_mb: float
) -> int:
    """Slots of a queue's new configuration open while old queries still run.

    AWS ("WLM dynamic memory allocation",
    https://docs.aws.amazon.com/redshift/latest/dg/cm-c-wlm-dynamic-memory-allocation.html,
    and its worked example cm-c-wlm-dynamic-example.html): queries running at
    the change keep their slots and memory to completion; a new slot is added
    when enough of the queue's new memory is free for it, and while old slots
    are in use the old and new slots together never exceed the new
    concurrency. So with ``old_slots`` slots holding ``old_mb`` [MB] still in
    use, the new configuration's open slots are::

        min(new_slots - old_slots,
            floor((new_slots * new_slot_mb - old_mb) / new_slot_mb))

    (at least 0; all ``new_slots`` once no old query runs).

    >>> transition_slots(4, 25.0, 2, 100.0)   # 2 -> 4 slots: old hold it all
    0
    >>> transition_slots(4, 25.0, 1, 50.0)    # one old query ended
    2
    >>> transition_slots(3, 50.0, 2, 50.0)    # AWS's example, step 4
    1
    """
    if old_slots <= 0:
        return new_slots
    by_count = new_slots - old_slots
    if new_slot_mb > 0.0:
        room = (new_slots * new_slot_mb - old_mb) / new_slot_mb
        # A hair of slack so memory that frees exactly a slot opens it.
        by_mem = math.floor(room + 1e-9)
        by_count = min(by_count, by_mem)
    return max(0, by_count)
