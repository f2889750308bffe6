"""``alarm_episodes``: stretches of ALARM in a history, by hand-made histories."""

from __future__ import annotations

import pandas as pd

from dpcsim.alarms import alarm_episodes

T0 = pd.Timestamp("2025-05-26 00:00", tz="UTC")


def _history(name, states):
    return pd.DataFrame(
        {
            "alarm_name": name,
            "evaluated_at": [T0 + pd.Timedelta(minutes=i) for i in range(len(states))],
            "state": states,
        }
    )


def test_episodes_start_end_and_length():
    h = pd.concat(
        [
            _history("a", ["INSUFFICIENT_DATA", "ALARM", "ALARM", "OK", "ALARM"]),
            _history("b", ["OK", "OK"]),
        ]
    )
    ep = alarm_episodes(h)
    assert ep["alarm_name"].tolist() == ["a", "a"]
    assert ep["start_at"].tolist() == [
        T0 + pd.Timedelta(minutes=1),
        T0 + pd.Timedelta(minutes=4),
    ]
    assert ep["end_at"].iloc[0] == T0 + pd.Timedelta(minutes=2)
    assert ep["minutes"].tolist() == [2.0, 1.0]


def test_csv_history_with_iso_strings():
    h = _history("a", ["ALARM", "ALARM"])
    h["evaluated_at"] = h["evaluated_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    ep = alarm_episodes(h)
    assert ep["start_at"].iloc[0] == T0
    assert ep["minutes"].iloc[0] == 2.0
