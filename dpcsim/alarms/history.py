"""Alarm history (one row per evaluation) and its per-alarm summary.

``alarm_history.csv``: ``alarm_name, evaluated_at, state`` with ``evaluated_at``
in ISO 8601 UTC and ``state`` one of OK, ALARM, INSUFFICIENT_DATA.

``alarm_summary.csv``: one row per alarm:

- ``transitions_to_alarm``: evaluations in ALARM whose previous state was not
  ALARM (the first evaluation counts when it is ALARM: alarms start in
  INSUFFICIENT_DATA). SNS notifications go out on exactly these transitions.
- ``time_in_alarm_s`` [s]: evaluations in ALARM x the evaluation interval (an
  evaluation's state holds until the next one).
- ``first_alarm_at``: the first evaluation in ALARM (empty if never).
- ``final_state``, ``evaluations``, ``first_evaluated_at``, ``last_evaluated_at``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dpcsim.errors import InputError

__all__ = [
    "ALARM",
    "INSUFFICIENT_DATA",
    "OK",
    "RETAIN",
    "STATE_NAMES",
    "AlarmRun",
    "AlarmStates",
    "alarm_counts",
    "alarm_episodes",
    "build_run",
    "summarize",
    "transitions_to_alarm",
    "write_alarm_run",
]

OK, ALARM, INSUFFICIENT_DATA, RETAIN = 0, 1, 2, -1
STATE_NAMES: tuple[str, ...] = ("OK", "ALARM", "INSUFFICIENT_DATA")
HISTORY_FILE, SUMMARY_FILE = "alarm_history.csv", "alarm_summary.csv"


@dataclass(frozen=True, slots=True)
class AlarmStates:
    """One alarm's evaluations: instants [µs since the epoch] and state codes."""

    name: str
    instants_us: np.ndarray  # int64
    states: np.ndarray  # int8: OK, ALARM, INSUFFICIENT_DATA
    tick_s: int  # evaluation interval [s]
    #: float64: the newest period's value each evaluation compared with the
    #: threshold (NaN: no datapoint); None when not kept.
    values: np.ndarray | None = None


class AlarmRun:
    """The result of evaluating a set of alarms.

    ``states`` holds every alarm's evaluations; ``history`` (alarm_name,
    evaluated_at, state) and ``summary`` (one row per alarm, see the module
    docstring) are frames built from them on first use, since a sweep's run
    needs neither (it counts from the states, :func:`alarm_counts`).
    """

    __slots__ = ("_history", "_notes", "_summary", "states")

    def __init__(
        self, states: Sequence[AlarmStates], notes: Mapping[str, str] | None = None
    ):
        self.states: tuple[AlarmStates, ...] = tuple(states)
        # Per alarm name, a note the summary's ``note`` column shows (none:
        # the summary has no such column).
        self._notes = None if notes is None else dict(notes)
        self._history: pd.DataFrame | None = None
        self._summary: pd.DataFrame | None = None

    @property
    def history(self) -> pd.DataFrame:
        """One row per evaluation: alarm_name, evaluated_at [UTC], state."""
        if self._history is None:
            self._history = _history_frame(self.states)
        return self._history

    @property
    def summary(self) -> pd.DataFrame:
        """One row per alarm (see the module docstring)."""
        if self._summary is None:
            self._summary = _summary_frame(self.states)
            if self._notes is not None:
                notes = self._notes
                names = self._summary["alarm_name"]
                self._summary["note"] = [notes.get(str(n), "") for n in names]
        return self._summary


def transitions_to_alarm(states: np.ndarray) -> int:
    """Evaluations in ALARM whose previous state was not (alarms start in
    INSUFFICIENT_DATA, so an ALARM first evaluation counts)."""
    in_alarm = states == ALARM
    previous = np.concatenate(([INSUFFICIENT_DATA], states[:-1]))
    return int(np.sum(in_alarm & (previous != ALARM)))


def alarm_counts(result: AlarmStates) -> tuple[int, float]:
    """Transitions to ALARM and time in ALARM [s] of one alarm's evaluations."""
    in_alarm_s = float(np.sum(result.states == ALARM) * result.tick_s)
    return transitions_to_alarm(result.states), in_alarm_s


def summarize(result: AlarmStates) -> dict[str, object]:
    """Summary row of one alarm."""
    states = result.states
    in_alarm = states == ALARM
    transitions, in_alarm_s = alarm_counts(result)
    first = int(np.argmax(in_alarm)) if in_alarm.any() else -1
    us = result.instants_us
    return {
        "alarm_name": result.name,
        "transitions_to_alarm": transitions,
        "time_in_alarm_s": in_alarm_s,
        "first_alarm_at": _stamp(us[first]) if first >= 0 else pd.NaT,
        "final_state": STATE_NAMES[int(states[-1])],
        "evaluations": len(states),
        "first_evaluated_at": _stamp(us[0]),
        "last_evaluated_at": _stamp(us[-1]),
    }


def _stamp(us: np.integer) -> pd.Timestamp:
    """One instant [µs since the epoch] as a UTC timestamp (µs resolution)."""
    # Only the three instants a summary shows are converted, not the history.
    return pd.Timestamp(np.datetime64(int(us), "us")).tz_localize("UTC")


def build_run(
    results: Sequence[AlarmStates], notes: Mapping[str, str] | None = None
) -> AlarmRun:
    """The run of per-alarm states (its frames are built when first read)."""
    return AlarmRun(results, notes)


def _history_frame(results: Sequence[AlarmStates]) -> pd.DataFrame:
    """One row per evaluation of every alarm, alarm after alarm."""
    alarm_codes, instants, state_codes = _history_codes(results)
    # Categoricals keep a 90-day, per-minute history of many alarms cheap.
    return pd.DataFrame(
        {
            "alarm_name": pd.Categorical.from_codes(
                alarm_codes, categories=pd.Index([r.name for r in results], dtype=str)
            ),
            "evaluated_at": pd.Series(instants.astype("datetime64[us]")).dt.tz_localize(
                "UTC"
            ),
            "state": pd.Categorical.from_codes(
                state_codes, categories=pd.Index(list(STATE_NAMES), dtype=str)
            ),
        }
    )


def _history_codes(
    results: Sequence[AlarmStates],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The history's rows as arrays: alarm index (int32), instant [µs], state
    code (int8)."""
    lengths = [len(r.states) for r in results]
    alarm_codes = np.repeat(np.arange(len(results), dtype=np.int32), lengths)
    if not results:
        empty = np.zeros(0, dtype=np.int64)
        return alarm_codes, empty, empty.astype(np.int8)
    state_codes = np.concatenate([r.states for r in results]).astype(np.int8)
    instants = np.concatenate([r.instants_us for r in results])
    return alarm_codes, instants, state_codes


def _summary_frame(results: Sequence[AlarmStates]) -> pd.DataFrame:
    """One row per alarm (see the module docstring)."""
    summary = pd.DataFrame([summarize(r) for r in results])
    if summary.empty:
        summary = pd.DataFrame(
            columns=["alarm_name", "transitions_to_alarm", "time_in_alarm_s"]
        )
    else:
        for col in ("first_alarm_at", "first_evaluated_at", "last_evaluated_at"):
            summary[col] = pd.to_datetime(summary[col], utc=True).astype(
                "datetime64[us, UTC]"
            )
        summary = summary.astype({"alarm_name": "string", "final_state": "string"})
    return summary


def alarm_episodes(history: pd.DataFrame) -> pd.DataFrame:
    """Stretches of consecutive evaluations in ALARM, one row per stretch.

    Parameters
    ----------
    history
        An alarm history (``alarm_name``, ``evaluated_at`` [UTC], ``state``),
        as :attr:`AlarmRun.history` or ``alarm_history.csv``.

    Returns
    -------
    pandas.DataFrame
        ``alarm_name``, ``start_at`` (first evaluation in ALARM, UTC),
        ``end_at`` (last one) and ``minutes`` (evaluations x the alarm's
        evaluation interval [min]), in history order.
    """
    rows = []
    for name, g in history.groupby("alarm_name", observed=True, sort=False):
        on = g["state"].astype(str).eq("ALARM").to_numpy()
        at = pd.to_datetime(g["evaluated_at"], utc=True).reset_index(drop=True)
        step_s = at.diff().dt.total_seconds().median() if len(at) > 1 else 60.0
        starts = np.flatnonzero(on & ~np.r_[False, on[:-1]])
        ends = np.flatnonzero(on & ~np.r_[on[1:], False])
        for s, e in zip(starts, ends, strict=True):
            rows.append(
                {
                    "alarm_name": name,
                    "start_at": at[s],
                    "end_at": at[e],
                    "minutes": float((e - s + 1) * step_s / 60),
                }
            )
    return pd.DataFrame(rows, columns=["alarm_name", "start_at", "end_at", "minutes"])


def write_alarm_run(
    run: AlarmRun, out_dir: str | Path, *, force: bool = False
) -> dict[str, Path]:
    """Write ``alarm_history.csv`` and ``alarm_summary.csv`` into ``out_dir``.

    Raises
    ------
    InputError
        If a file exists and ``force`` is False (nothing is written then).
    """
    out = Path(out_dir)
    paths = {"history": out / HISTORY_FILE, "summary": out / SUMMARY_FILE}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not force:
        raise InputError(
            f"{', '.join(existing)} already exist(s); pass --force to overwrite",
            source=str(out),
        )
    out.mkdir(parents=True, exist_ok=True)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    _write_history_csv(run.states, paths["history"])
    run.summary.to_csv(
        paths["summary"], index=False, date_format=iso, lineterminator="\n"
    )
    return paths


def _write_history_csv(results: Sequence[AlarmStates], path: Path) -> None:
    """Write :attr:`AlarmRun.history` from the states, with the bytes ``to_csv``
    writes (ISO 8601 UTC to the second, ``\n`` line ends; a test compares them).

    A 90-day, per-minute history of five alarms is 650,000 rows, which
    ``to_csv`` formats one timestamp at a time (seconds). Here each alarm
    name and state is quoted once (by :mod:`csv`, as ``to_csv`` does), each
    instant is formatted once, and the lines are joined in Arrow, a block at a
    time, so the text of a long history is never held whole; a block is
    written from a thread while the next is joined (both release the GIL).
    """
    alarm_codes, _, state_codes = _history_codes(results)
    seconds, at = _second_codes(results)
    when = _iso_seconds(seconds)
    name_fields = _fields([r.name for r in results], "", ",")
    state_fields = _fields(STATE_NAMES, "Z,", "\n")
    with path.open("wb") as out, ThreadPoolExecutor(1) as writer:
        out.write(b"alarm_name,evaluated_at,state\n")
        pending: Future[int] | None = None
        for first in range(0, len(alarm_codes), _CSV_BLOCK_ROWS):
            rows = slice(first, first + _CSV_BLOCK_ROWS)
            text = pc.binary_join_element_wise(
                name_fields.take(pa.array(alarm_codes[rows])),
                when.take(pa.array(at[rows])),
                state_fields.take(pa.array(state_codes[rows])),
                pa.scalar("", pa.large_string()),
            )
            offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)
            begin = int(offsets[text.offset])
            stop = int(offsets[text.offset + len(text)])
            if pending is not None:
                pending.result()
            pending = writer.submit(
                out.write, memoryview(text.buffers()[2])[begin:stop]
            )
        if pending is not None:
            pending.result()


#: Lines of ``alarm_history.csv`` formatted at once.
_CSV_BLOCK_ROWS = 1 << 18


def _second_codes(results: Sequence[AlarmStates]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct whole seconds [s since the epoch] of every alarm's instants,
    and each evaluation's index into them (alarm after alarm).

    Seconds are floored, as ``strftime`` cuts a fraction. Alarms on one
    evaluation grid (the usual case: one schedule for all) share one index,
    found from the sorted grid without a sort.
    """
    if not results:
        return np.zeros(0, np.int64), np.zeros(0, np.intp)
    secs = [np.floor_divide(r.instants_us, 1_000_000) for r in results]
    grid = secs[0]
    if all(np.array_equal(s, grid) for s in secs[1:]) and bool(
        np.all(grid[1:] >= grid[:-1])
    ):
        new = np.ones(len(grid), dtype=bool)
        np.not_equal(grid[1:], grid[:-1], out=new[1:])
        index = np.cumsum(new, dtype=np.intp) - 1
        return grid[new], np.tile(index, len(secs))
    seconds, at = np.unique(np.concatenate(secs), return_inverse=True)
    return seconds, at.reshape(-1)


def _iso_seconds(seconds: np.ndarray) -> pa.Array:
    """``YYYY-MM-DDTHH:MM:SS`` of each second, formatted a block at a time (a
    numpy string of 20 characters takes 80 B, the Arrow one 28 B)."""
    blocks = np.array_split(seconds, max(1, -(-len(seconds) // (1 << 16))))
    return pa.concat_arrays(
        [
            pa.array(
                np.datetime_as_string(block.astype("datetime64[s]"), unit="s"),
                pa.large_string(),
            )
            for block in blocks
        ]
    )


def _fields(values: Sequence[str], before: str, after: str) -> pa.Array:
    """Each value as one CSV field (quoted only where needed, as ``to_csv``
    quotes), between ``before`` and ``after``."""
    out = []
    for value in values:
        buffer = io.StringIO()
        # The terminator to_csv writes: a field holding it is quoted.
        csv.writer(buffer, lineterminator="\n").writerow([str(value)])
        out.append(before + buffer.getvalue()[:-1] + after)
    return pa.array(out, pa.large_string())
