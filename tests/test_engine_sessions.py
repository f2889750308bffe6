"""Session-aware replay: chains within a session, exact replay of logged arrivals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dpcsim.engine as engine
import dpcsim.wlm as wlm
from dpcsim.engine.result import elt_finish_times
from dpcsim.engine.sessions import session_chain
from dpcsim.errors import InputError
from dpcsim.schema import DTYPES, Workload, validate_workload

BASE_AT = pd.Timestamp("2024-01-01 00:00:00", tz="UTC")
NONE = engine.ClusterSettings(contention_model="none")


def _frame(arrival_s, exec_s, session, groups=None, **extra) -> pd.DataFrame:
    arrival_us = np.round(np.asarray(arrival_s) * 1e6).astype(np.int64)
    n = len(arrival_us)
    return pd.DataFrame(
        {
            "query_id": np.arange(1, n + 1, dtype=np.int64),
            "arrival_at": BASE_AT + pd.to_timedelta(arrival_us, unit="us"),
            "statement_type": "select",
            "exec_s": np.asarray(exec_s, float),
            "user_name": "u",
            "user_groups": groups if groups is not None else "etl",
            "session_id": pd.array(session, dtype="Int64"),
            **extra,
        }
    )


def _config(slots: int = 2) -> wlm.WLMConfig:
    q = wlm.QueueConfig(name="etl", query_concurrency=slots, user_group=("etl",))
    return wlm.WLMConfig(queues=(q, wlm.QueueConfig(name="default")), sqa=None)


def test_schema_places_session_id_after_query_group() -> None:
    cols = list(DTYPES)
    assert cols[cols.index("query_group") + 1] == "session_id"
    assert DTYPES["session_id"] == "Int64"


def test_chain_skips_unknown_sessions_and_overlaps() -> None:
    # Session 7: [0, 4] then 5 (think 1). Session 8: 1 -> [1, 10], then 2 arrives
    # before 10 (the log ran them concurrently): not chained.
    succ, think = session_chain(
        np.array([0.0, 1.0, 2.0, 5.0, 6.0]),
        np.array([4.0, 10.0, 3.0, 6.0, 7.0]),
        np.array([0, 1, 1, 0, -1]),
    )
    assert succ.tolist() == [3, -1, -1, -1, -1]
    assert think.tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]


def test_session_statement_waits_for_the_previous_one() -> None:
    frame = _frame([0.0, 0.0, 11.0], [5.0, 10.0, 1.0], [pd.NA, 1, 1])
    # Logged end of query 2 (session 1) = 0 + 10 = 10; think of 3 = 1 s. Query 1
    # (no session) holds the only slot until 5, so query 2 ends at 15, and query 3
    # arrives at 16 (session replay) or at 11 (open).
    w = Workload(queries=validate_workload(frame))
    s = engine.simulate(w, _config(1), NONE).queries.sort_values("query_id")
    o = engine.simulate(w, _config(1), NONE, replay="open").queries.sort_values(
        "query_id"
    )
    assert s["arrival_s"].tolist() == pytest.approx([0.0, 0.0, 16.0])
    assert s["end_s"].tolist() == pytest.approx([5.0, 15.0, 17.0])
    assert o["arrival_s"].tolist() == pytest.approx([0.0, 0.0, 11.0])
    assert o["queue_s"].tolist() == pytest.approx([0.0, 5.0, 4.0])


def test_bad_replay_mode_is_an_input_error() -> None:
    w = Workload(queries=validate_workload(_frame([0.0], [1.0], [1])))
    with pytest.raises(InputError, match="replay"):
        engine.simulate(w, _config(), NONE, replay="closed")  # type: ignore[arg-type]


@pytest.mark.parametrize("model", ["none", "usl"])
def test_replay_under_recording_configuration_reproduces_arrivals(model: str) -> None:
    # Record a session workload (sessions of 5 statements, think times 0-3 s,
    # 3 slots so queues form) and log what the cluster saw; replaying the log
    # under the same configuration gives back the logged arrivals and times.
    rng = np.random.default_rng(3)
    n_sess, per = 60, 5
    first = np.sort(rng.uniform(0, 300, n_sess))
    exec_s = rng.lognormal(1.0, 0.8, n_sess * per)
    think = rng.uniform(0, 3, n_sess * per)
    arrival = np.empty(n_sess * per)
    for s in range(n_sess):
        t = first[s]
        for k in range(per):
            arrival[s * per + k] = t
            t += exec_s[s * per + k] + think[s * per + k]
    session = np.repeat(np.arange(1, n_sess + 1), per)
    base = Workload(queries=validate_workload(_frame(arrival, exec_s, session)))
    rec_settings = engine.ClusterSettings(
        contention_model=model,
        contention_demand="solo",  # type: ignore[arg-type]
    )
    recorded = engine.simulate(base, _config(3), rec_settings).queries.sort_values(
        "query_id"
    )
    assert float(recorded["queue_s"].max()) > 1.0
    log = base.queries.sort_values("query_id").reset_index(drop=True).copy()
    us = np.round(recorded["arrival_s"].to_numpy() * 1e6).astype(np.int64)
    log["arrival_at"] = BASE_AT + pd.to_timedelta(us, unit="us")
    log["queue_s"] = recorded["queue_s"].to_numpy()
    log["exec_s"] = recorded["exec_s"].to_numpy()
    log_w = Workload(queries=validate_workload(log))
    replay_settings = engine.ClusterSettings(
        contention_model=model,
        contention_demand="observed",  # type: ignore[arg-type]
    )
    replay = engine.simulate(log_w, _config(3), replay_settings).queries.sort_values(
        "query_id"
    )
    # Origin: both runs floor the first arrival to the minute (same instant).
    np.testing.assert_allclose(replay["arrival_s"], recorded["arrival_s"], atol=2e-6)
    np.testing.assert_allclose(
        replay["exec_s"], recorded["exec_s"], rtol=1e-6, atol=1e-5
    )


def test_elt_finish_times_per_night() -> None:
    # Two nights (JST, window opens 01:00 local = 16:00 UTC); an adhoc query is
    # ignored by query_group.
    at = pd.to_datetime(
        [
            "2024-01-01 16:30",
            "2024-01-01 17:00",
            "2024-01-02 16:10",
            "2024-01-01 17:00",
        ],
        utc=True,
    )
    secs = (at - BASE_AT).total_seconds().to_numpy()
    frame = _frame(secs, [60.0, 600.0, 30.0, 5.0], [1, 1, 2, pd.NA],
                   query_group=["elt", "elt", "elt", "adhoc"])  # fmt: skip
    w = Workload(queries=validate_workload(frame))
    res = engine.simulate(w, _config(), NONE)
    nights = elt_finish_times(
        res.queries, res.start_at, queue="etl", query_group="elt",
        workload=w.queries, timezone="Asia/Tokyo", window_start="01:00",
    )  # fmt: skip
    assert nights["night"].tolist() == ["2024-01-02", "2024-01-03"]
    assert nights["finish_at"].tolist() == [
        pd.Timestamp("2024-01-01 17:10", tz="UTC"),
        pd.Timestamp("2024-01-02 16:10:30", tz="UTC"),
    ]
    assert nights["queries"].tolist() == [2, 1]
