"""Property tests: limits hold for every accepted config; round trips; routing."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpcsim.errors import InputError
from dpcsim.wlm import WLMConfig, route, route_workload
from dpcsim.wlm.limits import MAX_TOTAL_SLOTS
from dpcsim.wlm.routing import split_groups

NAMES = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_ ]{0,10}[A-Za-z0-9_]", fullmatch=True)
GROUPS = st.sampled_from(
    ["a1", "a2", "A?", "b*", "etl", "ETL*", "dba?1", "x[1]", " pad ", "two words"]
)
PRIORITY = st.sampled_from(["highest", "high", "normal", "low", "lowest"])
METRICS = st.sampled_from(
    ["query_execution_time", "query_cpu_time", "query_temp_blocks_to_disk", "io_skew"]
)


@st.composite
def predicates(draw, auto):
    metric = draw(METRICS)
    # Within every drawn metric's AWS range (query_execution_time: 0-86,399 s).
    value = draw(st.integers(0, 86_399) | st.floats(0, 86_399, allow_nan=False))
    pred = {
        "metric_name": metric,
        "operator": draw(st.sampled_from("=<>")),
        "value": value,
    }
    if auto and draw(st.booleans()):
        pred = {
            "metric_name": "query_priority",
            "operator": "=",
            "value": draw(PRIORITY),
        }
    return pred


@st.composite
def rules(draw, auto, prefix):
    count = draw(st.integers(0, 3))
    actions = ["log", "abort", "change_query_priority" if auto else "hop"]
    out = []
    for j in range(count):
        rule = {
            "rule_name": f"{prefix}_{j}",
            "predicate": draw(st.lists(predicates(auto), min_size=1, max_size=3)),
            "action": draw(st.sampled_from(actions)),
        }
        if rule["action"] == "change_query_priority":
            rule["value"] = draw(PRIORITY)
        out.append(rule)
    return out


@st.composite
def wlm_arrays(draw):
    """Raw arrays, valid in form; slot and memory totals may break the limits."""
    auto = draw(st.booleans())
    n = draw(st.integers(1, 8))
    names = draw(st.lists(NAMES, min_size=n, max_size=n, unique=True))
    use_mem = draw(st.booleans())
    queues = []
    for i, name in enumerate(names):
        q = {"name": name, "queue_type": "auto" if auto else "manual"}
        if i < n - 1:
            q["user_group"] = draw(st.lists(GROUPS, max_size=2))
            q["query_group"] = draw(st.lists(GROUPS, max_size=2))
            q["user_group_wild_card"] = draw(st.sampled_from([0, 1, True, False]))
            q["query_group_wild_card"] = draw(st.integers(0, 1))
        if auto:
            q["priority"] = draw(PRIORITY)
        else:
            q["query_concurrency"] = draw(st.integers(1, 15))
            if use_mem:
                q["memory_percent_to_use"] = draw(st.integers(1, 60))
            q["max_execution_time"] = draw(st.sampled_from([0, 60_000]))
        q["concurrency_scaling"] = draw(st.sampled_from(["auto", "off"]))
        q["rules"] = draw(rules(auto, f"q{i}"))
        queues.append(q)
    if draw(st.booleans()):
        queues.append(
            {
                "short_query_queue": draw(st.booleans()),
                "max_execution_time": draw(st.sampled_from([0, 1000, 5000, 20000])),
            }
        )
    return queues


def _accepted(array):
    try:
        return WLMConfig.from_json(array)
    except InputError:
        return None


@settings(max_examples=150, deadline=None)
@given(wlm_arrays())
def test_every_accepted_config_respects_slot_and_memory_limits(array):
    cfg = _accepted(array)
    queues = [q for q in array if "short_query_queue" not in q]
    mem = [q.get("memory_percent_to_use") for q in queues]
    slots = [q.get("query_concurrency", 0) for q in queues]
    should_fail = (mem[0] is not None and sum(mem) > 100) or sum(
        slots
    ) > MAX_TOTAL_SLOTS
    assert (cfg is None) == should_fail
    if cfg is not None:
        given_mem = [q.memory_percent_to_use for q in cfg.queues]
        assert all(m is None for m in given_mem) or sum(given_mem) <= 100
        assert sum(cfg.memory_percent(i) for i in range(len(cfg.queues))) <= 100 + 1e-9


@settings(max_examples=150, deadline=None)
@given(wlm_arrays())
def test_config_round_trips(array):
    cfg = _accepted(array)
    if cfg is None:
        return
    assert WLMConfig.from_json(cfg.to_json()) == cfg
    assert WLMConfig.from_json(cfg.parameter_value()) == cfg
    assert WLMConfig.from_dict(cfg.to_dict()) == cfg


ROW = st.tuples(
    st.none()
    | st.lists(
        st.sampled_from(["a1", "AX", "bee", "etl", "dba11", "x[1]", "zz"]), max_size=3
    ),
    st.none()
    | st.sampled_from(["default", "etl", "ETL_night", "superuser", "a1", "bq"]),
    st.sampled_from(["alice", "root"]),
    st.none() | st.sampled_from([5, 6, 7, 9, 14, 100, 101]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wlm_arrays(), st.lists(ROW, min_size=1, max_size=40))
def test_route_workload_agrees_with_route_row_by_row(array, rows):
    cfg = _accepted(array)
    if cfg is None:
        return
    frame = pd.DataFrame(
        {
            "user_groups": pd.array(
                [None if g is None else ",".join(g) for g, *_ in rows], dtype="string"
            ),
            "query_group": pd.array([r[1] for r in rows], dtype="string"),
            "user_name": pd.array([r[2] for r in rows], dtype="string"),
            "service_class": pd.array([r[3] for r in rows], dtype="Int64"),
        }
    )
    res = route_workload(cfg, frame, superusers={"root"})
    for k, (groups, label, user, sc) in enumerate(rows):
        su = user == "root"
        if groups is not None or (su and label == "superuser"):
            expected = route(
                cfg, user_groups=groups, query_group=label, is_superuser=su
            )
        else:  # documented fallback: observed class, then label, then default
            observed = None if sc is None else cfg.queue_for_service_class(sc)
            expected = (
                observed
                if observed is not None
                else route(cfg, user_groups=None, query_group=label)
            )
        assert res.queue_index[k] == expected, (k, rows[k])
        name = "superuser" if expected == -1 else cfg.queues[expected].name
        assert res.queue.iloc[k] == name
    assert sum(res.counts.values()) == len(rows)
    assert split_groups(",".join(["a", " b ", ""])) == ("a", "b")
