"""A time-of-day WLM schedule: exact transitions, static properties, switch times.

Every expected time below is worked out by hand from AWS's documented
transition ("WLM dynamic memory allocation" and its worked example): running
queries keep their slots and memory, new slots open as that memory frees, a
new WLM timeout applies only to queries that start after the change.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from test_engine_mechanisms import workload

from dpcsim.engine import ClusterSettings, simulate
from dpcsim.engine.schedule import WLMSchedule, switch_times_s, transition_slots
from dpcsim.errors import InputError
from dpcsim.wlm import QMRPredicate, QMRRule, QueueConfig, SQAConfig, WLMConfig

pytestmark = pytest.mark.usefixtures("fixed_demands")

#: The test workloads start at midnight UTC; "00:10" is t = 600 s.
T_SWITCH = 600.0


def _one_queue(slots: int, timeout_ms: int = 0) -> WLMConfig:
    return WLMConfig(
        queues=(
            QueueConfig(
                name="default", query_concurrency=slots, max_execution_time=timeout_ms
            ),
        )
    )


def _run(rows, config, schedule, **settings):
    settings.setdefault("sqa_predictor", "perfect")
    res = simulate(
        workload(rows), config, ClusterSettings(**settings), rng=1, schedule=schedule
    )
    return res, res.queries.set_index("query_id")


def test_more_slots_open_only_as_old_memory_frees_and_new_timeout_for_later_starts():
    # 00:00 two slots (no timeout); 00:10 four slots at the same 100 % memory
    # and a 30 s WLM timeout. A1 and A2 hold both old slots, i.e. all of the
    # queue's memory, across the switch.
    two, four = _one_queue(2), _one_queue(4, timeout_ms=30_000)
    schedule = WLMSchedule(switches=(("00:00", two), ("00:10", four)))
    rows = [
        (0, 1000),  # 1 A1: old slot, runs past 630 s (no new timeout): ends 1000
        (0, 1500),  # 2 A2: ends 1500
        (100, 20),  # 3 B1
        (100, 20),  # 4 B2
        (100, 100),  # 5 B3: starts after the switch, canceled at the 30 s timeout
        (100, 20),  # 6 B4
    ]
    res, q = _run(rows, two, schedule)
    # At 600 s the new slots are 25 % each and the old queries hold 100 %: no
    # slot opens (an instant switch would start B1 and B2 at 600 s). At 1000 s
    # A1 frees 50 %: two new slots (3 - 1 old by count, 50 % / 25 % by memory).
    assert (q.loc[1, "end_s"], q.loc[1, "outcome"]) == (1000.0, "completed")
    assert (q.loc[2, "end_s"], q.loc[2, "outcome"]) == (1500.0, "completed")
    assert (q.loc[3, "start_s"], q.loc[3, "end_s"]) == (1000.0, 1020.0)
    assert (q.loc[4, "start_s"], q.loc[4, "end_s"]) == (1000.0, 1020.0)
    # B1 and B2 end at 1020 s: their two new slots go to B3 and B4.
    assert (q.loc[5, "start_s"], q.loc[5, "end_s"]) == (1020.0, 1050.0)
    assert q.loc[5, "outcome"] == "canceled"
    assert (q.loc[6, "start_s"], q.loc[6, "end_s"]) == (1020.0, 1040.0)
    assert q.loc[3, "queue_s"] == 900.0
    assert res.summary["wlm_switches"] == 1
    # Without the schedule (two slots all along) B1 would start at 1000 s alone.
    _, plain = _run(rows, two, None)
    assert (plain.loc[3, "start_s"], plain.loc[4, "start_s"]) == (1000.0, 1020.0)


def _two_queue(q1: tuple[int, int], q2: tuple[int, int]) -> WLMConfig:
    return WLMConfig(
        queues=(
            QueueConfig(
                name="q1",
                query_concurrency=q1[0],
                memory_percent_to_use=q1[1],
                query_group=("q1",),
            ),
            QueueConfig(
                name="q2", query_concurrency=q2[0], memory_percent_to_use=q2[1]
            ),
        )
    )


def test_aws_worked_example_four_to_three_slots_at_more_memory():
    # AWS's "Dynamic WLM example": queue 1 goes from 4 slots at 50 % to 3 slots
    # at 75 %, queue 2 from 4 slots at 50 % to 4 at 25 %, while A1..A4 run in
    # queue 1 and B1..B4 wait there. Its table: nothing when A1 ends, B1 when
    # A2 ends, B2 when A3 ends, B3 when A4 ends (B4 waits for a B).
    before, after = _two_queue((4, 50), (4, 50)), _two_queue((3, 75), (4, 25))
    schedule = WLMSchedule(switches=(("00:00", before), ("00:10", after)))
    g = {"query_group": "q1"}
    rows = [(0, 1100 + 100 * k, g) for k in range(4)]  # A1..A4 end 1100..1400
    rows += [(100, 10_000, g) for _ in range(4)]  # B1..B4
    _, q = _run(rows, before, schedule)
    assert list(q.loc[5:8, "start_s"]) == [1200.0, 1300.0, 1400.0, 11_200.0]


def test_fewer_slots_wait_for_old_queries():
    # Four running queries under four slots; at 00:10 the queue gets one slot.
    four, one = _one_queue(4), _one_queue(1)
    schedule = WLMSchedule(switches=(("00:00", four), ("00:10", one)))
    rows = [(0, 700), (0, 800), (0, 900), (0, 1000), (650, 5)]
    _, q = _run(rows, four, schedule)
    # The single new slot needs all the queue's memory: it opens at 1000 s.
    assert q.loc[5, "start_s"] == 1000.0


def test_sqa_switched_on_takes_a_waiting_short_query():
    off = _one_queue(1)
    on = replace(off, sqa=SQAConfig(max_execution_time=5000))
    schedule = WLMSchedule(switches=(("00:00", off), ("00:10", on)))
    rows = [(0, 1000), (100, 1), (700, 2)]
    _, q = _run(rows, off, schedule)
    assert (q.loc[2, "start_s"], q.loc[2, "ran_on"]) == (T_SWITCH, "sqa")
    assert (q.loc[3, "start_s"], q.loc[3, "ran_on"]) == (700.0, "sqa")
    # The other way round: after SQA goes off, a short query waits for a slot.
    back = WLMSchedule(switches=(("00:00", on), ("00:10", off)))
    _, q = _run([(0, 1000), (700, 2)], on, back)
    assert (q.loc[2, "start_s"], q.loc[2, "ran_on"]) == (1000.0, "main")


def test_apply_delay_setting_moves_the_switch():
    two, four = _one_queue(2), _one_queue(4)
    schedule = WLMSchedule(switches=(("00:00", two), ("00:10", four)))
    rows = [(0, 1), (700, 10), (700, 10), (700, 10)]
    _, q = _run(rows, two, schedule, wlm_apply_delay_s=120.0)
    # The switch lands at 720 s: at 700 s two slots, the third query waits.
    assert list(q.loc[2:4, "start_s"]) == [700.0, 700.0, 710.0]
    _, q = _run(rows, two, schedule)
    assert list(q.loc[2:4, "start_s"]) == [700.0, 700.0, 700.0]


@pytest.mark.parametrize(
    ("contention", "sqa_scaling"), [("none", False), ("usl", False), ("usl", True)]
)
def test_a_schedule_of_one_configuration_changes_nothing(contention, sqa_scaling):
    rng = np.random.default_rng(7)
    n = 400
    # Busy hours 16:30-17:30 UTC on three days: the 02:00 JST switch (17:00 UTC)
    # falls inside each, with queries running and waiting.
    day = rng.integers(0, 3, n) * 86400.0
    arrivals = np.sort(day + rng.uniform(16.5 * 3600.0, 17.5 * 3600.0, n))
    rows = [
        (float(a), float(e), {"query_group": g})
        for a, e, g in zip(
            arrivals,
            rng.lognormal(3.0, 1.5, n),
            rng.choice(["q1", "other"], n),
            strict=True,
        )
    ]
    cfg = _two_queue((3, 60), (2, 40))
    if sqa_scaling:  # SQA on and Concurrency Scaling on the second queue
        q2 = replace(cfg.queues[1], concurrency_scaling="auto")
        cfg = WLMConfig(queues=(cfg.queues[0], q2), sqa=SQAConfig())
    schedule = WLMSchedule(
        switches=(("02:00", cfg), ("09:00", cfg)), timezone="Asia/Tokyo"
    )
    model = {"contention_model": contention}
    res, q = _run(rows, cfg, schedule, **model)
    _, ref = _run(rows, cfg, None, **model)
    pd.testing.assert_frame_equal(q, ref)
    assert (q["queue_s"] > 0).any()  # the switches fell on a loaded queue
    if sqa_scaling:
        assert {"sqa", "cs"} <= set(q["ran_on"])
    # Two a day, for as long as queries arrive or run.
    last = float(q["end_s"].max())
    due = switch_times_s(schedule, res.start_at, 4 * 86400.0, 0.0)[1:]
    assert res.summary["wlm_switches"] == sum(t < last for t, _ in due) >= 5


def test_static_property_differences_are_rejected():
    base = _two_queue((3, 60), (2, 40))
    other = replace(
        base, queues=(replace(base.queues[0], query_group=("x",)), base.queues[1])
    )
    schedule = WLMSchedule(switches=(("00:00", base), ("12:00", other)))
    with pytest.raises(InputError, match="query_group") as err:
        simulate(workload([(0, 1)]), base, schedule=schedule)
    assert "static" in str(err.value)
    assert "schedule[12:00].q1" in str(err.value)
    fewer = WLMSchedule(switches=(("00:00", base), ("12:00", _one_queue(5))))
    with pytest.raises(InputError, match="queue list is static"):
        simulate(workload([(0, 1)]), base, schedule=fewer)
    auto = WLMConfig.from_json('[{"auto_wlm": true}]')
    with pytest.raises(InputError, match="manual and auto WLM is static"):
        simulate(
            workload([(0, 1)]),
            _one_queue(2),
            schedule=WLMSchedule(switches=(("00:00", _one_queue(2)), ("12:00", auto))),
        )
    with pytest.raises(InputError, match="HH:MM"):
        WLMSchedule(switches=(("25:00", base),))


def test_switch_times_follow_the_local_day():
    cfg = _one_queue(1)
    s = WLMSchedule(switches=(("02:00", cfg), ("09:00", cfg)), timezone="Asia/Tokyo")
    start = pd.Timestamp("2024-01-01 00:00", tz="UTC")  # 09:00 in Tokyo
    got = switch_times_s(s, start, 2 * 86400.0, 0.0)
    # 09:00 JST is the start itself (entry 1 in force); 02:00 JST = 17:00 UTC.
    assert got == [(0.0, 1), (61200.0, 0), (86400.0, 1), (147600.0, 0), (172800.0, 1)]
    late = switch_times_s(s, start, 86400.0, 60.0)
    # With a 60 s apply delay the start is still under the previous day's 02:00.
    assert late == [(0.0, 0), (60.0, 1), (61260.0, 0)]


def test_transition_slots_arithmetic():
    # AWS's example, queue 1 after the change: 3 slots of 50 GB (150 GB).
    steps = [(4, 100.0), (3, 75.0), (2, 50.0), (1, 25.0), (0, 0.0)]
    assert [transition_slots(3, 50.0, s, mb) for s, mb in steps] == [0, 0, 1, 2, 3]


def test_scaling_switched_on_serves_a_waiting_query():
    off = _one_queue(1)
    auto = WLMConfig(queues=(replace(off.queues[0], concurrency_scaling="auto"),))
    schedule = WLMSchedule(switches=(("00:00", off), ("00:10", auto)))
    _, q = _run([(0, 1000), (100, 50)], off, schedule, cs_start_delay_s=10.0)
    # Waiting since 100 s with scaling off; asked for at the switch, the
    # cluster serves after its 10 s start delay.
    assert (q.loc[2, "start_s"], q.loc[2, "ran_on"]) == (T_SWITCH + 10.0, "cs")
    back = WLMSchedule(switches=(("00:00", auto), ("00:10", off)))
    _, q = _run([(0, 1000), (700, 50)], auto, back, cs_start_delay_s=10.0)
    assert (q.loc[2, "start_s"], q.loc[2, "ran_on"]) == (1000.0, "main")


def test_a_waiting_query_wider_than_the_new_concurrency_fails_at_the_switch():
    three, two = _one_queue(3), _one_queue(2)
    schedule = WLMSchedule(switches=(("00:00", three), ("00:10", two)))
    rows = [(0, 1000), (100, 10, {"slot_count": 3}), (200, 10)]
    res, q = _run(rows, three, schedule)
    assert (q.loc[2, "outcome"], q.loc[2, "end_s"]) == ("failed", T_SWITCH)
    assert q.loc[2, "queue_s"] == T_SWITCH - 100.0
    # The line behind it moves on: one old slot holds 1/3 of the memory, the
    # new slots are 1/2 each: one opens (2 - 1 by count, by memory 1).
    assert q.loc[3, "start_s"] == T_SWITCH
    assert res.summary["failed"] == 1


@pytest.mark.parametrize(
    ("memory", "b2_start"), [("cluster", 1000.0), ("queue", 600.0)]
)
def test_a_queue_gaining_memory_waits_for_other_queues_old_queries(memory, b2_start):
    # Before: q1 2 slots at 50 %, q2 2 slots at 50 % (each slot 25 % of the
    # cluster). At 00:10: q1 1 slot at 25 %, q2 3 slots at 75 % (25 % each).
    # Two old queries in each queue hold all the memory at the switch.
    before, after = _two_queue((2, 50), (2, 50)), _two_queue((1, 25), (3, 75))
    schedule = WLMSchedule(switches=(("00:00", before), ("00:10", after)))
    g = {"query_group": "q1"}
    rows = [(0, 1000, g), (0, 1200, g), (0, 2000), (0, 3000), (100, 10)]
    _, q = _run(rows, before, schedule, wlm_transition_memory=memory)
    # q2 alone: 3 - 2 old slots by count, (75 % - 50 %) / 25 % by memory: one
    # new slot at once. With the whole cluster counted, q1's old queries still
    # hold 50 %: the slot opens when one of them ends (1000 s).
    assert q.loc[5, "start_s"] == b2_start


def _ruled(slots: int, *rules: QMRRule, timeout_ms: int = 0) -> WLMConfig:
    queue = replace(_one_queue(slots, timeout_ms).queues[0], rules=rules)
    return WLMConfig(queues=(queue,))


def _exec_rule(name: str, over_s: int, action: str) -> QMRRule:
    return QMRRule(
        rule_name=name,
        predicate=(
            QMRPredicate(
                metric_name="query_execution_time", operator=">", value=over_s
            ),
        ),
        action=action,
    )


#: 00:00 no rule; 00:10 (600 s) a rule aborting past 120 s of execution (it
#: fires at the 130 s check); 00:20 (1200 s) no rule again.
_ABORT_ROWS = [
    (0, 500),  # 1 ends before the rule: completed at 500
    (300, 700),  # 2 running at 600 with 300 s done: meets the rule or not
    (650, 400),  # 3 starts under the rule: aborted at 650 + 130
    (1150, 400),  # 4 50 s done when the rule goes: completes, or keeps it
    (1300, 400),  # 5 after the window: completed at 1700
]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        # The next check after the switch (310 s of execution, at 610 s)
        # aborts query 2; query 4 completes once the rule is gone.
        ("running", {2: ("aborted", 610.0), 4: ("completed", 1550.0)}),
        # Running queries keep the rules they started with.
        ("new", {2: ("completed", 1000.0), 4: ("aborted", 1280.0)}),
    ],
)
def test_qmr_rules_switch_with_the_schedule(mode, expected):
    plain, ruled = _one_queue(10), _ruled(10, _exec_rule("long", 120, "abort"))
    schedule = WLMSchedule(
        switches=(("00:00", plain), ("00:10", ruled), ("00:20", plain))
    )
    _, q = _run(_ABORT_ROWS, plain, schedule, qmr_switch=mode)
    want = {
        1: ("completed", 500.0),
        3: ("aborted", 780.0),
        5: ("completed", 1700.0),
        **expected,
    }
    got = {i: (q.loc[i, "outcome"], q.loc[i, "end_s"]) for i in want}
    assert got == want
    assert q.loc[3, "qmr_actions"] == "long:abort"
    # The same rule all day aborts every query that runs past 130 s.
    _, always = _run(_ABORT_ROWS, ruled, None)
    assert (always["outcome"] == "aborted").all()


def test_a_running_query_keeps_its_timeout_while_new_rules_check_it():
    # 00:10 brings a 60 s WLM timeout and a log rule past 30 s of execution.
    # Query 2 runs across the switch: no timeout (it started without one),
    # but the log rule records it at its next check. Query 3 starts after:
    # the timeout hops it, and with no queue to go to it is canceled. (Query
    # 1 puts the run's start at midnight.)
    before = _one_queue(4)
    after = _ruled(4, _exec_rule("slow", 30, "log"), timeout_ms=60_000)
    schedule = WLMSchedule(switches=(("00:00", before), ("00:10", after)))
    _, q = _run([(0, 1), (500, 300), (700, 300)], before, schedule)
    assert (q.loc[2, "outcome"], q.loc[2, "end_s"]) == ("completed", 800.0)
    assert q.loc[2, "qmr_actions"] == "slow:log"
    assert (q.loc[3, "outcome"], q.loc[3, "end_s"]) == ("canceled", 760.0)
    assert q.loc[3, "qmr_actions"] == "slow:log"


def test_a_rule_acted_on_is_not_acted_on_again_after_a_switch():
    # The log rule is in both entries, second in the new one: query 1 is
    # logged once, before the switch, and not again when it is rechecked.
    logged = _exec_rule("slow", 30, "log")
    one = _ruled(2, logged)
    two = _ruled(2, _exec_rule("huge", 5000, "abort"), logged)
    schedule = WLMSchedule(switches=(("00:00", one), ("00:10", two)))
    _, q = _run([(0, 900)], one, schedule)
    assert (q.loc[1, "outcome"], q.loc[1, "qmr_actions"]) == ("completed", "slow:log")


@pytest.mark.parametrize("mode", ["running", "new"])
def test_rule_switch_under_shared_capacity(mode):
    # Under contention the times move, the outcomes of the hand-worked case
    # hold: query 2 has far more than 120 s done at 600 s, query 4 at most
    # 50 s at 1200 s.
    plain, ruled = _one_queue(10), _ruled(10, _exec_rule("long", 120, "abort"))
    schedule = WLMSchedule(
        switches=(("00:00", plain), ("00:10", ruled), ("00:20", plain))
    )
    settings = {
        "qmr_switch": mode,
        "contention_model": "usl",
        "contention_demand": "solo",
        "contention_sigma": 0.2,
        "contention_kappa": 0.01,
    }
    _, q = _run(_ABORT_ROWS, plain, schedule, **settings)
    first = {"running": ("aborted", "completed"), "new": ("completed", "aborted")}
    assert (q.loc[2, "outcome"], q.loc[4, "outcome"]) == first[mode]
    assert q.loc[3, "outcome"] == "aborted"
    assert (q.loc[1, "outcome"], q.loc[5, "outcome"]) == ("completed", "completed")
    if mode == "running":
        # Aborted at its first check after the switch: within 10 s of it
        # (a check every 10 s of execution, execution slower than real time).
        assert 600.0 < q.loc[2, "end_s"] <= 600.0 + 10.0 * 3
