"""An alarm run's counts, summary and history from its per-alarm states."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dpcsim.alarms.history import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmStates,
    alarm_counts,
    build_run,
)

T0_US = 1_748_736_000_000_000  # 2025-06-01T00:00:00Z


def _states(name: str, codes: list[int], tick_s: int = 60) -> AlarmStates:
    instants = T0_US + np.arange(len(codes), dtype=np.int64) * tick_s * 1_000_000
    return AlarmStates(name, instants, np.array(codes, dtype=np.int8), tick_s)


def test_counts_are_entries_into_alarm_and_minutes_in_it() -> None:
    # INSUFFICIENT, ALARM, ALARM, OK, ALARM, INSUFFICIENT, ALARM: three entries.
    one = _states(
        "a", [INSUFFICIENT_DATA, ALARM, ALARM, OK, ALARM, INSUFFICIENT_DATA, ALARM]
    )
    assert alarm_counts(one) == (3, 4 * 60.0)
    # Alarms start in INSUFFICIENT_DATA: ALARM at the first evaluation counts.
    assert alarm_counts(_states("b", [ALARM, ALARM], tick_s=300)) == (1, 600.0)
    assert alarm_counts(_states("c", [OK, OK, INSUFFICIENT_DATA])) == (0, 0.0)


def test_the_frames_are_built_on_first_use_and_agree_with_the_counts() -> None:
    results = [
        _states("a", [OK, ALARM, OK, ALARM, ALARM]),
        _states("b", [INSUFFICIENT_DATA, OK, OK], tick_s=300),
    ]
    run = build_run(results)
    assert run._summary is None
    assert run._history is None
    summary = run.summary
    assert run.summary is summary  # built once
    assert summary["alarm_name"].tolist() == ["a", "b"]
    for row, states in zip(summary.itertuples(), results, strict=True):
        assert (row.transitions_to_alarm, row.time_in_alarm_s) == alarm_counts(states)
    assert summary["first_alarm_at"].iloc[0] == pd.Timestamp("2025-06-01T00:01:00Z")
    assert pd.isna(summary["first_alarm_at"].iloc[1])
    history = run.history
    assert len(history) == 8
    assert history["state"].astype(str).tolist()[:5] == [
        "OK",
        "ALARM",
        "OK",
        "ALARM",
        "ALARM",
    ]
    assert history["evaluated_at"].iloc[-1] == pd.Timestamp("2025-06-01T00:10:00Z")


def test_the_history_file_is_the_one_to_csv_writes(tmp_path, monkeypatch):
    """The array-formatted alarm_history.csv equals pandas' to_csv, byte for byte:
    names that need CSV quoting, instants with fractions of a second (cut to
    whole seconds), alarms with different grids, blocks that split an alarm,
    an empty history."""
    from dpcsim.alarms import history
    from dpcsim.alarms.history import AlarmStates, build_run, write_alarm_run

    monkeypatch.setattr(history, "_CSV_BLOCK_ROWS", 1_000)

    rng = np.random.default_rng(5)
    minute = 60_000_000
    grid = 1_748_217_600_000_000 + minute * np.arange(3_000, dtype=np.int64)
    results = [
        AlarmStates(name, at, rng.integers(0, 3, len(at)).astype(np.int8), 60)
        for name, at in [
            ("Alert-WLM-Queue", grid),
            ('Alert "quoted", with a comma', grid + 1_500_000),
            ("Alert-Five-Minute", grid[::5] - 999_999),
            ("Alert\nnewline", grid[:7]),
        ]
    ]
    # One grid for all (the usual case, indexed without a sort), two
    # evaluations within one second among them.
    shared = np.sort(np.r_[grid, grid[10] + 400_000])
    same_grid = [
        AlarmStates(name, shared, rng.integers(0, 3, len(shared)).astype(np.int8), 60)
        for name in ("Alert-A", "Alert-B", "Alert-C")
    ]
    for states in (results, same_grid, []):
        run = build_run(states)
        write_alarm_run(run, tmp_path, force=True)
        iso = "%Y-%m-%dT%H:%M:%SZ"
        expected = run.history.to_csv(index=False, date_format=iso, lineterminator="\n")
        assert (tmp_path / "alarm_history.csv").read_text() == expected
