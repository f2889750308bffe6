"""Emitted WLM JSON: intent rules, p99 log rules, limits, canonical form, round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpcsim.emit.source import design_pieces
from dpcsim.emit.wlm_json import (
    QueueLimit,
    add_rules,
    apply_limits,
    log_rules,
    parse_limit,
    parse_wlm_document,
    wlm_document,
    wlm_warnings,
)
from dpcsim.emit.write import canonical_json
from dpcsim.errors import InputError
from dpcsim.wlm import QMRPredicate, QMRRule, QueueConfig, SQAConfig, WLMConfig
from dpcsim.wlm.limits import WLMConfigError


def _design() -> WLMConfig:
    pieces = design_pieces()
    return apply_limits(pieces.wlm, pieces.limits)


def test_design_intent_rules() -> None:
    cfg = _design()
    batch = cfg.queues[cfg.queue_index("batch")].rules
    adhoc = cfg.queues[cfg.queue_index("adhoc")].rules
    assert [(r.rule_name, r.action) for r in batch] == [("batch_abort_2h", "abort")]
    assert batch[0].predicate[0].metric_name == "query_queue_time"
    assert batch[0].predicate[0].value == 7200
    assert adhoc[0].predicate[0].metric_name == "query_execution_time"
    assert adhoc[0].predicate[0].value == 1800


def test_golden_design_wlm_json(golden) -> None:
    golden("emit/wlm.json", canonical_json(wlm_document(_design())))


def test_log_rules_at_p99_below_the_abort() -> None:
    cfg = _design()
    rng = np.random.default_rng(7)
    n = 2000
    queries = pd.DataFrame(
        {
            "queue": np.repeat(["adhoc", "batch", "admin"], [n, n, 20]),
            "exec_s": np.concatenate(
                [rng.exponential(60.0, n), rng.exponential(600.0, n), np.ones(20)]
            ),
            "queue_s": np.concatenate(
                [rng.exponential(5.0, n), rng.exponential(30.0, n), np.ones(20)]
            ),
        }
    )
    rules = log_rules(queries, cfg)
    assert "admin" not in rules  # 20 queries: too few for a p99
    adhoc = {r.predicate[0].metric_name: r for r in rules["adhoc"]}
    p99 = np.percentile(queries.loc[queries.queue == "adhoc", "exec_s"], 99)
    assert adhoc["query_execution_time"].predicate[0].value == int(np.ceil(p99))
    assert adhoc["query_execution_time"].action == "log"
    # exponential(60) p99 is ~276 s, well below the 1800 s abort: kept.
    assert 200 < adhoc["query_execution_time"].predicate[0].value < 400
    # A p99 at or above the abort threshold would never log anything: dropped.
    slow = queries.assign(queue_s=np.where(queries.queue == "batch", 9000.0, 1.0))
    names = [r.rule_name for r in log_rules(slow, cfg)["batch"]]
    assert names == ["batch_log_exec_p99"]
    out = add_rules(cfg, rules)
    assert parse_wlm_document(wlm_document(out), source="x") == out


def test_limit_parsing() -> None:
    lim = parse_limit("adhoc:query_execution_time:900")
    assert lim == QueueLimit(
        queue="adhoc",
        metric_name="query_execution_time",
        seconds=900,
        rule_name="adhoc_abort_exec_900s",
    )
    with pytest.raises(InputError, match="METRIC"):
        parse_limit("adhoc:query_cpu_time:900")
    with pytest.raises(WLMConfigError, match="queue 'nosuch'"):
        apply_limits(_design(), [parse_limit("nosuch:query_queue_time:60")])


def test_hop_on_queue_time_is_flagged() -> None:
    pred = QMRPredicate(metric_name="query_queue_time", operator=">", value=60)
    rule = QMRRule(rule_name="hop_q", predicate=(pred,), action="hop")
    cfg = WLMConfig(queues=(QueueConfig(name="Default queue", rules=(rule,)),))
    assert any("ignores the hop" in w for w in wlm_warnings(cfg))


def test_slot_warning_above_15() -> None:
    assert any("16 slots" in w for w in wlm_warnings(_design()))
    small = WLMConfig(queues=(QueueConfig(name="Default queue", query_concurrency=5),))
    assert wlm_warnings(small) == []


def _queue(name: str, **kw: object) -> dict[str, object]:
    return {"name": name, "query_concurrency": 2, **kw}


# One invalid configuration per AWS limit, with the words the error must contain.
INVALID = [
    ([_queue(f"q{i}") for i in range(9)], "8 user-defined queues"),
    (
        [_queue("a", query_concurrency=30), _queue("b", query_concurrency=21)],
        "at most 50",
    ),
    (
        [_queue("a", memory_percent_to_use=60), _queue("b", memory_percent_to_use=41)],
        "limit is 100",
    ),
    (
        [
            _queue(
                "a",
                user_group=["g"],
                rules=[
                    {
                        "rule_name": f"r{i}",
                        "predicate": [
                            {
                                "metric_name": "query_cpu_time",
                                "operator": ">",
                                "value": i + 1,
                            }
                        ],
                        "action": "log",
                    }
                    for i in range(26)
                ],
            ),
            _queue("Default queue"),
        ],
        "limit is 25",
    ),
    (
        [
            _queue(
                "Default queue",
                rules=[
                    {
                        "rule_name": "r",
                        "predicate": [
                            {
                                "metric_name": "query_cpu_time",
                                "operator": ">",
                                "value": 1,
                            }
                        ]
                        * 4,
                        "action": "log",
                    }
                ],
            )
        ],
        "1 to 3",
    ),
    (
        [
            _queue(
                "Default queue",
                rules=[
                    {
                        "rule_name": "r",
                        "predicate": [
                            {"metric_name": "query_speed", "operator": ">", "value": 1}
                        ],
                        "action": "log",
                    }
                ],
            )
        ],
        "unknown QMR metric",
    ),
    (
        [
            _queue(
                "Default queue",
                rules=[
                    {
                        "rule_name": "r",
                        "predicate": [
                            {
                                "metric_name": "query_cpu_time",
                                "operator": ">=",
                                "value": 1,
                            }
                        ],
                        "action": "log",
                    }
                ],
            )
        ],
        "no '>='",
    ),
    (
        [
            _queue(
                "Default queue",
                rules=[
                    {
                        "rule_name": "r",
                        "predicate": [
                            {
                                "metric_name": "query_execution_time",
                                "operator": ">",
                                "value": 86400,
                            }
                        ],
                        "action": "abort",
                    }
                ],
            )
        ],
        "outside the AWS range 0-86399",
    ),
    (
        [
            _queue(
                "Default queue",
                rules=[
                    {
                        "rule_name": "bad-name",
                        "predicate": [
                            {
                                "metric_name": "query_cpu_time",
                                "operator": ">",
                                "value": 1,
                            }
                        ],
                        "action": "log",
                    }
                ],
            )
        ],
        "alphanumerics and '_'",
    ),
    (
        [
            _queue(
                "Default queue",
                rules=[
                    {
                        "rule_name": "r" * 33,
                        "predicate": [
                            {
                                "metric_name": "query_cpu_time",
                                "operator": ">",
                                "value": 1,
                            }
                        ],
                        "action": "log",
                    }
                ],
            )
        ],
        "limit is 32",
    ),
    (
        [
            _queue("Default queue"),
            {"short_query_queue": True, "max_execution_time": 25000},
        ],
        "1000-20000",
    ),
    (
        [_queue("a", user_group=["g"]), _queue("Default queue", query_group=["x"])],
        "default queue",
    ),
]


@pytest.mark.parametrize(("array", "words"), INVALID)
def test_each_limit_rejected_with_its_name(array: list, words: str) -> None:
    with pytest.raises(WLMConfigError, match=words.replace("(", r"\(")):
        WLMConfig.from_json(array, source="bad.json")


def test_parameter_limit_8000_characters() -> None:
    groups = [f"group_with_a_long_name_{i:04d}" for i in range(300)]
    cfg = WLMConfig(
        queues=(
            QueueConfig(name="a", user_group=tuple(groups)),
            QueueConfig(name="Default queue"),
        )
    )
    with pytest.raises(WLMConfigError, match="limit is 8000"):
        wlm_document(cfg)


_names = st.text(alphabet="abcdefghij_", min_size=1, max_size=10)


@st.composite
def configs(draw: st.DrawFn) -> WLMConfig:
    n = draw(st.integers(1, 8))
    names = draw(st.lists(_names, min_size=n, max_size=n, unique=True))
    names = [f"q_{x}" for x in names]
    slots = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    memory = draw(st.booleans())
    queues = []
    for i, name in enumerate(names):
        last = i == n - 1
        rules = ()
        if draw(st.booleans()):
            pred = QMRPredicate(
                metric_name=draw(
                    st.sampled_from(
                        ["query_execution_time", "query_queue_time", "scan_row_count"]
                    )
                ),
                operator=draw(st.sampled_from([">", "<"])),
                value=draw(st.integers(0, 86_399)),
            )
            rules = (
                QMRRule(
                    rule_name=f"r{i}",
                    predicate=(pred,),
                    action=draw(st.sampled_from(["log", "abort", "hop"])),
                ),
            )
        queues.append(
            QueueConfig(
                name=name,
                query_concurrency=slots[i],
                memory_percent_to_use=(100 // n) if memory else None,
                user_group=() if last else tuple(draw(st.lists(_names, max_size=2))),
                query_group=() if last else tuple(draw(st.lists(_names, max_size=2))),
                query_group_wild_card=False if last else draw(st.booleans()),
                concurrency_scaling=draw(st.sampled_from(["auto", "off"])),
                rules=rules,
            )
        )
    sqa = draw(
        st.one_of(
            st.none(),
            st.builds(
                SQAConfig,
                enabled=st.booleans(),
                max_execution_time=st.sampled_from([0, 1000, 5000, 20000]),
            ),
        )
    )
    return WLMConfig(queues=tuple(queues), sqa=sqa)


@settings(max_examples=150, deadline=None)
@given(configs())
def test_emitted_file_parses_back_to_the_same_configuration(cfg: WLMConfig) -> None:
    text = canonical_json(wlm_document(cfg))
    assert parse_wlm_document(json.loads(text), source="wlm.json") == cfg
    # The parameter value (JSON in a string) parses back too.
    assert WLMConfig.from_json(cfg.parameter_value()) == cfg
    # Canonical: writing the parsed file again gives the same bytes, default last.
    again = canonical_json(wlm_document(parse_wlm_document(text, source="x")))
    assert again == text
    items = json.loads(text)
    queue_items = [i for i in items if "short_query_queue" not in i]
    assert queue_items[-1]["name"] == cfg.queues[-1].name
