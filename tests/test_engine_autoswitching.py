"""An auto-WLM schedule: priorities, scaling and refusals, with hand-worked times.

Two auto queues, ``a`` (query group ``a``) and ``b`` (the default). The test
workloads start at midnight UTC, so a switch at "00:10" is t = 600 s.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_engine_mechanisms import workload

from dpcsim.engine import ClusterSettings, simulate
from dpcsim.engine.schedule import WLMSchedule
from dpcsim.errors import InputError
from dpcsim.wlm import QueueConfig, WLMConfig

T_SWITCH = 600.0
A = {"query_group": "a"}


def _auto(a: str, b: str, *, b_scaling: str = "off") -> WLMConfig:
    """Queue ``a`` at priority ``a``, default queue ``b`` at priority ``b``."""
    return WLMConfig(
        queues=(
            QueueConfig(name="a", queue_type="auto", priority=a, query_group=("a",)),
            QueueConfig(
                name="b", queue_type="auto", priority=b, concurrency_scaling=b_scaling
            ),
        ),
        sqa=None,
    )


def _run(rows, config, schedule, **settings):
    settings.setdefault("contention_model", "none")
    res = simulate(
        workload(rows), config, ClusterSettings(**settings), rng=1, schedule=schedule
    )
    return res, res.queries.set_index("query_id")


def _times(q, k):
    return (float(q.loc[k, "start_s"]), float(q.loc[k, "end_s"]))


def test_waiting_queries_take_their_queues_new_priority_at_the_switch():
    # One query at a time (auto_max_concurrency = 1, no contention). Until
    # 00:10 a is high and b lowest; from 00:10 the reverse.
    day, night = _auto("high", "lowest"), _auto("lowest", "high")
    schedule = WLMSchedule(switches=(("00:00", day), ("00:10", night)))
    rows = [
        (0, 650),  # 1 b: runs 0-650 across the switch
        (100, 10, A),  # 2 a: waits; high before the switch, lowest after
        (200, 10),  # 3 b: waits; lowest before, high after
        (300, 10, A),  # 4 a: waits behind 2
        (605, 10, A),  # 5 a: arrives lowest, behind 2 and 4
    ]
    res, q = _run(rows, day, schedule, auto_max_concurrency=1)
    # At 650 s the highest waiting priority is b's: 3 first, then a's line in
    # the order it joined (first come, first served): 2, 4, 5.
    assert [_times(q, k) for k in (1, 3, 2, 4, 5)] == [
        (0, 650),
        (650, 660),
        (660, 670),
        (670, 680),
        (680, 690),
    ]
    assert res.summary["wlm_switches"] == 1
    # Without the schedule a stays high: 2, 4 and 5 before 3.
    _, plain = _run(rows, day, None, auto_max_concurrency=1)
    assert [_times(plain, k) for k in (2, 4, 5, 3)] == [
        (650, 660),
        (660, 670),
        (670, 680),
        (680, 690),
    ]


@pytest.mark.parametrize(
    ("switch", "ends"),
    [
        # Weights 16 (highest) and 1 (lowest) share a throughput of 1 (sigma =
        # 1, kappa = 0): a at 16/17, b at 1/17. Kept: a's 1000 s end at 1062.5
        # s, b's at 2000 s (2000 s of work at throughput 1).
        ("waiting", (1062.5, 2000.0)),
        # Taken at 600 s: b has done 600/17 and its 16400/17 left run at 16/17,
        # 1025 s: b ends at 1625 s and a, alone at the end, at 2000 s.
        ("running", (2000.0, 1625.0)),
    ],
)
def test_running_queries_keep_or_take_the_new_priority_by_setting(switch, ends):
    day, night = _auto("highest", "lowest"), _auto("lowest", "highest")
    schedule = WLMSchedule(switches=(("00:00", day), ("00:10", night)))
    rows = [(0, 1000, A), (0, 1000)]
    _, q = _run(
        rows,
        day,
        schedule,
        contention_model="usl",
        contention_sigma=1.0,
        contention_kappa=0.0,
        contention_demand="solo",
        auto_priority_switch=switch,
    )
    assert (q.loc[1, "end_s"], q.loc[2, "end_s"]) == pytest.approx(ends)


def test_scaling_switched_on_under_auto_wlm_serves_a_waiting_query():
    off = _auto("normal", "normal")
    on = _auto("normal", "normal", b_scaling="auto")
    schedule = WLMSchedule(switches=(("00:00", off), ("00:10", on)))
    settings = {"auto_max_concurrency": 1, "cs_start_delay_s": 10.0}
    _, q = _run([(0, 1000), (100, 50)], off, schedule, **settings)
    # Waiting since 100 s; asked for at the switch, the scaling cluster serves
    # after its 10 s start delay.
    assert (q.loc[2, "start_s"], q.loc[2, "ran_on"]) == (T_SWITCH + 10.0, "cs")
    back = WLMSchedule(switches=(("00:00", on), ("00:10", off)))
    _, q = _run([(0, 1000), (700, 50)], on, back, **settings)
    assert (q.loc[2, "start_s"], q.loc[2, "ran_on"]) == (1000.0, "main")


def test_an_auto_schedule_that_routes_differently_or_goes_manual_is_refused():
    day = _auto("high", "low")
    rerouted = replace(
        day, queues=(replace(day.queues[0], query_group=("x",)), day.queues[1])
    )
    with pytest.raises(InputError, match="not simulated") as err:
        simulate(
            workload([(0, 1)]),
            day,
            schedule=WLMSchedule(switches=(("00:00", day), ("12:00", rerouted))),
        )
    assert "schedule[12:00].a.query_group" in str(err.value)
    manual = WLMConfig(
        queues=(
            QueueConfig(name="a", query_concurrency=2, query_group=("a",)),
            QueueConfig(name="b", query_concurrency=3),
        )
    )
    for routed, other in ((day, manual), (manual, day)):
        with pytest.raises(InputError, match="manual and auto WLM is static"):
            simulate(
                workload([(0, 1)]),
                routed,
                schedule=WLMSchedule(switches=(("00:00", routed), ("12:00", other))),
            )
