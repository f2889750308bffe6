"""Parsing, defaults and round trips of the WLM configuration model."""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import json
from pathlib import Path

import pytest

from dpcsim.errors import InputError
from dpcsim.wlm import (
    QMRPredicate,
    QMRRule,
    QueueConfig,
    SQAConfig,
    WLMConfig,
    WLMConfigError,
)

FIXTURES = Path(__file__).parent / "fixtures" / "wlm"


def _load(name: str) -> WLMConfig:
    return WLMConfig.from_json((FIXTURES / name).read_text(), source=name)


def test_facts_manual_example_parses_with_every_field():
    cfg = _load("facts_manual.json")
    assert cfg.queue_names == ("bi_short", "bi_long", "etl", "Default queue")
    assert not cfg.is_auto
    assert [q.query_concurrency for q in cfg.queues] == [10, 3, 4, 5]
    assert [cfg.memory_percent(i) for i in range(4)] == [25.0, 35.0, 25.0, 15.0]
    etl = cfg.queues[2]
    assert etl.query_group == ("etl*",)
    assert etl.query_group_wild_card is True
    assert etl.user_group_wild_card is False
    assert cfg.queues[0].concurrency_scaling == "auto"
    hop = cfg.queues[0].rules[0]
    assert hop == QMRRule(
        rule_name="bi_hop_slow",
        predicate=(
            QMRPredicate(metric_name="query_execution_time", operator=">", value=120),
        ),
        action="hop",
    )
    assert cfg.sqa == SQAConfig(enabled=True, max_execution_time=0)
    assert [cfg.service_class(i) for i in range(4)] == [6, 7, 8, 9]


def test_facts_auto_example_parses_with_priorities_and_rule_value():
    cfg = _load("facts_auto.json")
    assert cfg.is_auto
    assert [q.priority for q in cfg.queues] == ["highest", "normal"]
    rule = cfg.queues[0].rules[0]
    assert rule.action == "change_query_priority"
    assert rule.value == "lowest"
    assert rule.predicate[1].value == "normal"
    assert [cfg.service_class(i) for i in range(2)] == [100, 101]
    assert cfg.memory_percent(0) == 50.0  # auto WLM: modelled as an equal split
    assert cfg.sqa == SQAConfig(enabled=True, max_execution_time=0)


@pytest.mark.parametrize("name", ["facts_manual.json", "facts_auto.json"])
def test_facts_examples_round_trip(name):
    cfg = _load(name)
    assert WLMConfig.from_json(cfg.to_json()) == cfg
    assert WLMConfig.from_json(json.dumps(cfg.to_json())) == cfg
    assert WLMConfig.from_dict(cfg.to_dict()) == cfg
    assert WLMConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_to_json_puts_default_last_and_sqa_appended():
    out = _load("facts_auto.json").to_json()
    assert [o.get("name") for o in out[:-1]] == ["etl", "Default queue"]
    assert out[-1] == {"short_query_queue": True, "max_execution_time": 0}
    assert out[-2]["auto_wlm"] is True
    assert "query_concurrency" not in out[0]
    assert out[0]["rules"][0]["value"] == "lowest"


def test_engine_default_value_is_one_auto_default_queue():
    cfg = WLMConfig.from_json('[{"auto_wlm":true}]')
    assert cfg.is_auto
    assert cfg.queue_names == ("Default queue",)
    assert cfg.sqa is None
    assert not cfg.sqa_enabled


def test_default_names_and_older_default_queue():
    cfg = WLMConfig.from_json(
        '[{"query_group":["a"]},{"user_group":["b"]},{"query_concurrency":5}]'
    )
    assert cfg.queue_names == ("Queue 1", "Queue 2", "Default queue")
    assert all(q.query_concurrency == 5 for q in cfg.queues)
    assert cfg.memory_percent(1) == pytest.approx(100 / 3)


def test_legacy_forms_comma_separated_groups_and_boolean_flags():
    cfg = _load("legacy_forms.json")
    assert cfg.queues[0].user_group == ("dba_*", "admins")
    assert cfg.queues[0].user_group_wild_card is True
    assert cfg.queues[0].query_group_wild_card is True
    assert cfg.queues[1].query_group == ("adhoc",)
    assert cfg.sqa == SQAConfig(enabled=False, max_execution_time=5000)
    assert not cfg.sqa_enabled
    assert WLMConfig.from_json(cfg.to_json()) == cfg


def test_auto_wlm_flag_on_last_queue_makes_all_queues_auto():
    cfg = WLMConfig.from_json(
        '[{"user_group":["etl"],"priority":"high"},{"auto_wlm":true}]'
    )
    assert [q.queue_type for q in cfg.queues] == ["auto", "auto"]
    assert cfg.queues[0].priority == "high"


def test_queue_index_and_superuser():
    cfg = _load("facts_manual.json")
    assert cfg.queue_index("etl") == 2
    assert cfg.queue_index("superuser") == -1
    assert cfg.service_class(-1) == 5
    with pytest.raises(KeyError, match="bi_short"):
        cfg.queue_index("nope")


def test_queue_for_service_class_maps_logged_classes():
    manual = _load("facts_manual.json")
    assert manual.queue_for_service_class(6) == 0
    assert manual.queue_for_service_class(9) == 3
    assert manual.queue_for_service_class(10) is None  # no fifth queue
    assert manual.queue_for_service_class(14) is None  # SQA does not tell
    assert manual.queue_for_service_class(5) == -1
    assert manual.queue_for_service_class(100) is None
    auto = _load("facts_auto.json")
    assert auto.queue_for_service_class(101) == 1
    assert auto.queue_for_service_class(6) is None


def test_parameter_value_is_compact_and_limited():
    cfg = _load("facts_manual.json")
    text = cfg.parameter_value()
    assert " " not in text.replace("Default queue", "")
    assert WLMConfig.from_json(text) == cfg
    rules = tuple(
        QMRRule(
            rule_name=f"r{i:02d}_" + "x" * 27,
            predicate=tuple(
                QMRPredicate(
                    metric_name="query_temp_blocks_to_disk", operator=">", value=v
                )
                for v in (1, 2, 3)
            ),
            action="log",
        )
        for i in range(25)
    )
    groups = tuple(f"analyst_group_{k:03d}_" + "g" * 16 for k in range(40))
    big = WLMConfig(
        queues=(
            QueueConfig(name="bi", user_group=groups, query_concurrency=1),
            QueueConfig(name="Default queue", rules=rules),
        )
    )
    assert WLMConfig.from_json(big.to_json()) == big  # valid, just too long
    with pytest.raises(
        InputError, match=r"\d+ characters; the AWS parameter limit is 8000"
    ):
        big.parameter_value()


def test_dataclasses_are_frozen_and_coerce_lists():
    q = QueueConfig(name="q", user_group=["a", "b"])  # type: ignore[arg-type]
    assert q.user_group == ("a", "b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.name = "other"  # type: ignore[misc]
    cfg = dataclasses.replace(_load("facts_manual.json"), sqa=None)
    assert cfg.to_json()[-1]["name"] == "Default queue"


def test_errors_are_input_errors_with_source_and_location():
    with pytest.raises(WLMConfigError) as info:
        WLMConfig.from_json(
            '[{"query_concurrency":5},{"query_concurrency":60}]', source="wlm.json"
        )
    err = info.value
    assert isinstance(err, InputError)
    assert err.source == "wlm.json"
    assert err.location == "[1].query_concurrency"
    assert str(err).startswith("wlm.json: [1].query_concurrency: ")
    assert "60" in str(err)
    assert "1 to 50" in str(err)


@pytest.mark.parametrize(
    "module", ["dpcsim.wlm.config", "dpcsim.wlm.routing", "dpcsim.designs.dpc_wlm"]
)
def test_docstring_examples_run(module):
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0
