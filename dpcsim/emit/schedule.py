"""A time-of-day WLM schedule: windows as data and what applies them.

A :class:`Schedule` is a list of windows in one IANA time zone, each with its
own WLM configuration. Window ``i`` holds from its ``start`` (inclusive) to the
next window's ``start`` (exclusive), local wall-clock time, wrapping at
midnight: the boundary instant belongs to the window that *starts* there, so
``start="06:00"`` means 06:00:00 is already in the new window. The windows are
contiguous over 24 h by construction; a window whose ``end`` is given must end
exactly where the next one starts (no gaps, no overlaps).

Only dynamic WLM properties may differ between windows (slots, memory,
timeouts, Concurrency Scaling mode, SQA; no groups, no added or removed
queues, no renames): a static change would wait for a reboot and never take
effect at the window's start. Redshift's own scheduled actions can only
resize, pause and resume, so each boundary is an EventBridge Scheduler
schedule (``cron(MM HH * * ? *)`` with ``ScheduleExpressionTimezone``) invoking
the small function in :mod:`dpcsim.emit.wlm_window_lambda`, which modifies the
same parameter group. A dynamic change starts as the schedule fires, and slots
then drain as the queries running at the boundary finish
(cm-c-wlm-dynamic-memory-allocation). On a day when a daylight-saving change
skips or repeats the boundary's local time, EventBridge Scheduler's own rule
for that hour applies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dpcsim.emit.botocheck import validate_input
from dpcsim.emit.changes import diff_wlm
from dpcsim.emit.jsonfile import read_json_file
from dpcsim.engine.schedule import WLMSchedule
from dpcsim.errors import InputError
from dpcsim.wlm import WLMConfig

__all__ = [
    "Schedule",
    "Window",
    "parse_schedule",
    "read_schedule",
    "schedule_document",
    "scheduler_requests",
    "wlm_schedule",
]

_HHMM: Final = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_DAY_MIN: Final = 24 * 60


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """One window: from ``start`` (local ``HH:MM``, inclusive) to the next start."""

    name: str
    start: str
    config: WLMConfig

    @property
    def start_min(self) -> int:
        """Minutes after local midnight."""
        hh, mm = self.start.split(":")
        return int(hh) * 60 + int(mm)


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """Windows covering the day in ``timezone``, sorted by start."""

    timezone: str
    windows: tuple[Window, ...]

    def ends(self) -> list[str]:
        """Each window's end (the next window's start, wrapping)."""
        starts = [w.start for w in self.windows]
        return starts[1:] + starts[:1]

    def window_at(self, minute_of_day: int) -> Window:
        """The window holding local minute ``minute_of_day`` (0..1439)."""
        chosen = self.windows[-1]
        for w in self.windows:
            if w.start_min <= minute_of_day % _DAY_MIN:
                chosen = w
        return chosen


def parse_schedule(data: Mapping[str, Any], *, source: str) -> Schedule:
    """Read and validate a schedule object.

    ``{"timezone": "Asia/Tokyo", "windows": [{"name", "start": "HH:MM",
    "end": "HH:MM" (optional), "wlm_json": [...]}, ...]}``.

    Raises
    ------
    InputError
        Naming the window and the rule: an unknown time zone, a bad time, two
        windows starting together, a gap or overlap at a boundary, or a static
        property differing between windows.
    """
    zone = data.get("timezone")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"timezone {zone!r}: expected an IANA time zone such as Asia/Tokyo",
            source=source,
        ) from None
    raw = data.get("windows")
    if not isinstance(raw, list) or not raw:
        raise InputError("windows: expected a non-empty list", source=source)
    windows = []
    for i, item in enumerate(raw):
        where = f"windows[{i}]"
        name = item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", name):
            raise InputError(
                f"{where}.name {name!r}: expected 1-32 of A-Za-z0-9_-", source=source
            )
        start = item.get("start")
        if not isinstance(start, str) or not _HHMM.match(start):
            raise InputError(f"{where}.start {start!r}: expected HH:MM", source=source)
        config = WLMConfig.from_json(item.get("wlm_json"), source=f"{source} {where}")
        windows.append((Window(name=name, start=start, config=config), item.get("end")))
    windows.sort(key=lambda p: p[0].start_min)
    schedule = Schedule(timezone=str(zone), windows=tuple(w for w, _ in windows))
    _check(schedule, [e for _, e in windows], source)
    return schedule


def read_schedule(path: str | Path) -> Schedule:
    """Read a schedule file: ``schedule/schedule.json`` as ``dpcsim emit`` writes it.

    Only its ``timezone`` and ``windows`` are read (see :func:`parse_schedule`);
    the other keys ``emit`` writes (``parameter_group``, ``boundary_rule``)
    are ignored.

    Raises
    ------
    InputError
        Naming the file: an undecodable byte, not JSON, not an object, or an
        invalid schedule.
    """
    source = str(path)
    data = read_json_file(path)
    if not isinstance(data, Mapping):
        raise InputError(
            f"a JSON {type(data).__name__}; expected an object with timezone and "
            "windows",
            source=source,
        )
    return parse_schedule(data, source=source)


def wlm_schedule(schedule: Schedule) -> WLMSchedule:
    """The engine's form of ``schedule``: one switch at each window's start."""
    return WLMSchedule(
        switches=tuple((w.start, w.config) for w in schedule.windows),
        timezone=schedule.timezone,
    )


def _check(schedule: Schedule, given_ends: Sequence[Any], source: str) -> None:
    """Unique names and starts, ends that meet the next start, dynamic-only diffs."""
    names = [w.name for w in schedule.windows]
    if len(set(names)) != len(names):
        raise InputError(f"window names repeat: {names}", source=source)
    starts = [w.start for w in schedule.windows]
    if len(set(starts)) != len(starts):
        raise InputError(f"two windows start at the same time: {starts}", source=source)
    for w, end, given in zip(
        schedule.windows, schedule.ends(), given_ends, strict=True
    ):
        if given is not None and given != end:
            raise InputError(
                f"window {w.name!r} ends at {given} but the next window starts at "
                f"{end}: the windows must cover 24 h with no gap or overlap",
                source=source,
            )
    first = schedule.windows[0].config
    for w in schedule.windows[1:]:
        changes = diff_wlm(first, w.config)
        static = [c for c in changes.changes if not c.dynamic]
        if static:
            what = ", ".join(f"{c.where} {c.what}" for c in static)
            raise InputError(
                f"window {w.name!r} differs from {schedule.windows[0].name!r} in "
                f"static properties ({what}); only dynamic properties may change "
                "between windows (a static change waits for a reboot)",
                source=source,
            )


def schedule_document(schedule: Schedule, parameter_group: str) -> dict[str, Any]:
    """``schedule/schedule.json``: the windows as data, boundaries explained."""
    return {
        "parameter_group": parameter_group,
        "timezone": schedule.timezone,
        "boundary_rule": "a window holds from its start (inclusive) to the next "
        "window's start (exclusive), local time; the boundary instant belongs to "
        "the window that starts there",
        "windows": [
            {
                "name": w.name,
                "start": w.start,
                "end": end,
                "wlm_json": w.config.to_json(),
            }
            for w, end in zip(schedule.windows, schedule.ends(), strict=True)
        ],
    }


def lambda_windows(schedule: Schedule, parameter_group: str) -> dict[str, Any]:
    """``schedule/windows.json``: what the function reads (name -> value string)."""
    return {
        "parameter_group": parameter_group,
        "windows": {w.name: w.config.parameter_value() for w in schedule.windows},
    }


def scheduler_requests(
    schedule: Schedule,
    *,
    parameter_group: str,
    function_arn: str,
    role_arn: str,
    source: str = "schedule",
) -> list[dict[str, Any]]:
    """One EventBridge Scheduler ``CreateSchedule`` input per window.

    Each is checked with botocore's model of the ``scheduler`` API.
    """
    out = []
    for w in schedule.windows:
        hh, mm = w.start.split(":")
        request = {
            "Name": f"{parameter_group}-wlm-{w.name}"[:64],
            "Description": f"Switch {parameter_group} to WLM window {w.name} at "
            f"{w.start} {schedule.timezone}",
            "ScheduleExpression": f"cron({int(mm)} {int(hh)} * * ? *)",
            "ScheduleExpressionTimezone": schedule.timezone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": {
                "Arn": function_arn,
                "RoleArn": role_arn,
                "Input": json.dumps(
                    {"parameter_group": parameter_group, "window": w.name},
                    sort_keys=True,
                ),
            },
        }
        validate_input(
            "scheduler", "CreateSchedule", request, source=f"{source} {w.name}"
        )
        out.append(request)
    return out
