"""Every AWS limit and form rule: a malformed config names the key and the limit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dpcsim.wlm import WLMConfig, WLMConfigError

SRC = "wlm.json"


def _rule(name: str = "r1", action: str = "log", **extra: Any) -> dict[str, Any]:
    pred = [{"metric_name": "query_execution_time", "operator": ">", "value": 60}]
    return {"rule_name": name, "predicate": pred, "action": action, **extra}


def _pred(
    metric: str = "query_cpu_time", op: str = ">", value: Any = 1
) -> dict[str, Any]:
    return {"metric_name": metric, "operator": op, "value": value}


def _manual(*queues: dict[str, Any]) -> list[dict[str, Any]]:
    return [*queues, {"query_concurrency": 5}]


def _auto(*queues: dict[str, Any]) -> list[dict[str, Any]]:
    return [*({"queue_type": "auto", **q} for q in queues), {"auto_wlm": True}]


# (config, expected location, phrases the message must contain)
CASES: list[tuple[str, Any, str | None, tuple[str, ...]]] = [
    (
        "nine_queues",
        [{"query_group": [f"g{i}"], "query_concurrency": 1} for i in range(8)]
        + [{"query_concurrency": 1}],
        None,
        ("9 queues", "1 to 8"),
    ),
    ("no_queue", [{"short_query_queue": True}], None, ("at least one",)),
    ("empty_array", [], None, ("at least one",)),
    ("not_array", {"query_concurrency": 5}, None, ("expected a JSON array",)),
    ("bad_json", "[{", None, ("not valid JSON",)),
    ("item_not_object", [5], "[0]", ("expected a queue or SQA object",)),
    (
        "concurrency_0",
        [{"query_concurrency": 0}],
        "[0].query_concurrency",
        ("=0", "1 to 50"),
    ),
    (
        "concurrency_51",
        _manual({"query_group": ["a"], "query_concurrency": 51}),
        "[0].query_concurrency",
        ("=51", "1 to 50"),
    ),
    (
        "concurrency_float",
        [{"query_concurrency": 2.5}],
        "[0].query_concurrency",
        ("2.5", "integer"),
    ),
    (
        "concurrency_bool",
        [{"query_concurrency": True}],
        "[0].query_concurrency",
        ("True", "integer"),
    ),
    (
        "slots_total",
        [{"query_group": ["a"], "query_concurrency": 30}, {"query_concurrency": 21}],
        "[1].query_concurrency",
        ("51 slots", "at most 50"),
    ),
    (
        "memory_sum",
        [
            {"query_group": ["a"], "memory_percent_to_use": 60},
            {"memory_percent_to_use": 41},
        ],
        "[1].memory_percent_to_use",
        ("101 %", "100 %"),
    ),
    (
        "memory_partial",
        [{"query_group": ["a"], "memory_percent_to_use": 60}, {}],
        "[1].memory_percent_to_use",
        ("every queue",),
    ),
    (
        "memory_fraction",
        [{"memory_percent_to_use": 50.5}],
        "[0].memory_percent_to_use",
        ("50.5", "integer"),
    ),
    (
        "memory_zero",
        [{"memory_percent_to_use": 0}],
        "[0].memory_percent_to_use",
        ("=0", "1 to 100"),
    ),
    (
        "timeout_negative",
        [{"max_execution_time": -1}],
        "[0].max_execution_time",
        ("-1", ">= 0"),
    ),
    (
        "default_user_group",
        [{"user_group": ["x"]}],
        "[0].user_group",
        ("default queue", "cannot have user_groups"),
    ),
    (
        "default_query_group",
        [*_manual({"query_group": ["a"]})[:1], {"query_group": ["y"]}],
        "[1].query_group",
        ("default queue", "query_groups"),
    ),
    (
        "name_duplicate",
        [{"name": "a", "query_group": ["x"]}, {"name": "a"}],
        "[1].name",
        ("'a'", "unique"),
    ),
    ("name_too_long", [{"name": "q" * 65}], "[0].name", ("65 characters", "64")),
    (
        "name_bad_chars",
        [{"name": "bad-name"}],
        "[0].name",
        ("bad-name", "alphanumerics"),
    ),
    ("name_reserved", [{"name": "superuser"}], "[0].name", ("reserved",)),
    (
        "name_default_clash",
        [{"query_group": ["a"], "name": "Default queue"}, {}],
        "[1].name",
        ("unique",),
    ),
    (
        "queue_type_bad",
        [{"queue_type": "fast"}],
        "[0].queue_type",
        ("'fast'", "'manual' or 'auto'"),
    ),
    (
        "queue_type_conflict",
        [{"queue_type": "manual", "auto_wlm": True}],
        "[0].queue_type",
        ("contradicts",),
    ),
    (
        "mixed_types",
        [{"query_group": ["a"], "queue_type": "auto"}, {"queue_type": "manual"}],
        "[0].queue_type",
        ("mixed", "unconfirmed"),
    ),
    ("priority_manual", [{"priority": "high"}], "[0].priority", ("auto WLM only",)),
    (
        "priority_bad",
        _auto({"user_group": ["a"], "priority": "critical"}),
        "[0].priority",
        ("'critical'", "highest"),
    ),
    (
        "cs_bad",
        [{"concurrency_scaling": "on"}],
        "[0].concurrency_scaling",
        ("'on'", "'auto' or 'off'"),
    ),
    (
        "auto_concurrency",
        _auto({"user_group": ["a"], "query_concurrency": 9}),
        "[0].query_concurrency",
        ("manual queues only",),
    ),
    (
        "auto_timeout",
        _auto({"user_group": ["a"], "max_execution_time": 1000}),
        "[0].max_execution_time",
        ("ignored under auto",),
    ),
    (
        "unknown_key",
        [{"query_concurency": 5}],
        "[0].query_concurency",
        ("unknown key", "query_concurrency"),
    ),
    (
        "unknown_rule_key",
        [{"rules": [_rule(extra_key=1)]}],
        "[0].rules[0].extra_key",
        ("unknown key", "rule_name"),
    ),
    (
        "unknown_sqa_key",
        [{}, {"short_query_queue": True, "foo": 1}],
        "[1].foo",
        ("unknown key", "short_query_queue"),
    ),
    (
        "wildcard_2",
        [{"user_group_wild_card": 2}],
        "[0].user_group_wild_card",
        ("2", "0, 1, true or false"),
    ),
    (
        "group_not_string",
        [{"query_group": ["a", 3]}, {}],
        "[0].query_group[1]",
        ("3", "name string"),
    ),
    (
        "sqa_duplicate",
        [{}, {"short_query_queue": True}, {"short_query_queue": True}],
        "[2]",
        ("second SQA object",),
    ),
    (
        "sqa_999",
        [{}, {"short_query_queue": True, "max_execution_time": 999}],
        "[1].max_execution_time",
        ("999", "1000-20000"),
    ),
    (
        "sqa_20001",
        [{}, {"short_query_queue": True, "max_execution_time": 20001}],
        "[1].max_execution_time",
        ("20001", "1-20 s"),
    ),
    (
        "sqa_flag",
        [{}, {"short_query_queue": "yes"}],
        "[1].short_query_queue",
        ("'yes'",),
    ),
    (
        "predicate_string",
        [
            {
                "rules": [
                    {
                        "rule_name": "r",
                        "predicate": "query_temp_blocks_to_disk > 100000",
                        "action": "log",
                    }
                ]
            }
        ],
        "[0].rules[0].predicate",
        ("is a string", "array of objects"),
    ),
    (
        "predicate_none",
        [{"rules": [{"rule_name": "r", "predicate": [], "action": "log"}]}],
        "[0].rules[0].predicate",
        ("0 predicates", "1 to 3"),
    ),
    (
        "predicate_four",
        [{"rules": [{"rule_name": "r", "predicate": [_pred()] * 4, "action": "log"}]}],
        "[0].rules[0].predicate",
        ("4 predicates", "1 to 3"),
    ),
    (
        "operator_ge",
        [
            {
                "rules": [
                    {"rule_name": "r", "predicate": [_pred(op=">=")], "action": "log"}
                ]
            }
        ],
        "[0].rules[0].predicate[0].operator",
        ("'>='", "no '>='"),
    ),
    (
        "metric_unknown",
        [
            {
                "rules": [
                    {
                        "rule_name": "r",
                        "predicate": [_pred(metric="query_time")],
                        "action": "log",
                    }
                ]
            }
        ],
        "[0].rules[0].predicate[0].metric_name",
        ("'query_time'", "query_cpu_time"),
    ),
    (
        "metric_value_negative",
        [
            {
                "rules": [
                    {"rule_name": "r", "predicate": [_pred(value=-5)], "action": "log"}
                ]
            }
        ],
        "[0].rules[0].predicate[0].value",
        ("-5", ">= 0"),
    ),
    (
        "metric_value_string",
        [
            {
                "rules": [
                    {"rule_name": "r", "predicate": [_pred(value="5")], "action": "log"}
                ]
            }
        ],
        "[0].rules[0].predicate[0].value",
        ("'5'", "number"),
    ),
    (
        "predicate_missing_key",
        [
            {
                "rules": [
                    {
                        "rule_name": "r",
                        "predicate": [
                            {"metric_name": "query_cpu_time", "operator": ">"}
                        ],
                        "action": "log",
                    }
                ]
            }
        ],
        "[0].rules[0].predicate[0].value",
        ("missing",),
    ),
    (
        "priority_metric_manual",
        [
            {
                "rules": [
                    {
                        "rule_name": "r",
                        "predicate": [_pred("query_priority", "=", "high")],
                        "action": "log",
                    }
                ]
            }
        ],
        "[0].rules[0].predicate[0].metric_name",
        ("auto WLM only",),
    ),
    (
        "priority_metric_op",
        _auto(
            {
                "user_group": ["a"],
                "rules": [
                    {
                        "rule_name": "r",
                        "predicate": [_pred("query_priority", ">", "high")],
                        "action": "log",
                    }
                ],
            }
        ),
        "[0].rules[0].predicate[0].operator",
        ("operator '='",),
    ),
    (
        "rule_name_long",
        [{"rules": [_rule("r" * 33)]}],
        "[0].rules[0].rule_name",
        ("33 characters", "32"),
    ),
    (
        "rule_name_chars",
        [{"rules": [_rule("bad-rule")]}],
        "[0].rules[0].rule_name",
        ("bad-rule", "alphanumerics"),
    ),
    (
        "rule_name_duplicate",
        [{"query_group": ["a"], "rules": [_rule("r")]}, {"rules": [_rule("r")]}],
        "[1].rules[0].rule_name",
        ("'r' repeats", "unique"),
    ),
    (
        "rules_per_queue",
        [{"rules": [_rule(f"r{i}") for i in range(26)]}],
        "[0].rules",
        ("26 QMR rules", "25 per queue"),
    ),
    (
        "rules_total",
        [
            {"query_group": ["a"], "rules": [_rule(f"a{i}") for i in range(20)]},
            {"rules": [_rule(f"b{i}") for i in range(6)]},
        ],
        "[1].rules[5]",
        ("25 across all queues",),
    ),
    (
        "hop_auto",
        _auto({"user_group": ["a"], "rules": [_rule(action="hop")]}),
        "[0].rules[0].action",
        ("'hop'", "manual WLM only"),
    ),
    (
        "change_priority_manual",
        [{"rules": [_rule(action="change_query_priority", value="low")]}],
        "[0].rules[0].action",
        ("auto WLM only",),
    ),
    (
        "change_priority_no_value",
        _auto({"user_group": ["a"], "rules": [_rule(action="change_query_priority")]}),
        "[0].rules[0].value",
        ("rule-level value",),
    ),
    (
        "change_priority_bad_value",
        _auto(
            {
                "user_group": ["a"],
                "rules": [_rule(action="change_query_priority", value="urgent")],
            }
        ),
        "[0].rules[0].value",
        ("'urgent'",),
    ),
    (
        "value_on_abort",
        [{"rules": [_rule(action="abort", value="low")]}],
        "[0].rules[0].value",
        ("only allowed with action change_query_priority",),
    ),
    (
        "action_bad",
        [{"rules": [_rule(action="kill")]}],
        "[0].rules[0].action",
        ("'kill'", "abort"),
    ),
    (
        "rules_not_array",
        [{"rules": {"rule_name": "r"}}],
        "[0].rules",
        ("expected an array",),
    ),
]


@pytest.mark.parametrize(
    ("config", "location", "phrases"),
    [pytest.param(c, loc, ph, id=name) for name, c, loc, ph in CASES],
)
def test_malformed_config_names_key_and_limit(config, location, phrases):
    text = config if isinstance(config, str) else json.dumps(config)
    with pytest.raises(WLMConfigError) as info:
        WLMConfig.from_json(text, source=SRC)
    err = info.value
    assert err.source == SRC
    assert err.location == location, str(err)
    message = str(err)
    expected_prefix = f"{SRC}: {location}: " if location else f"{SRC}: "
    assert message.startswith(expected_prefix), message
    for phrase in phrases:
        assert phrase in message, message


def test_limits_at_the_boundary_are_accepted():
    eight = [{"query_group": [f"g{i}"], "query_concurrency": 7} for i in range(7)]
    cfg = WLMConfig.from_json([*eight, {"query_concurrency": 1}])  # 8 queues, 50 slots
    assert sum(q.query_concurrency for q in cfg.queues) == 50
    mem = [
        {"query_group": ["a"], "memory_percent_to_use": 60},
        {"memory_percent_to_use": 40},
    ]
    assert WLMConfig.from_json(mem).memory_percent(1) == 40.0
    rules = [_rule(f"r{i}") for i in range(25)]
    assert len(WLMConfig.from_json([{"rules": rules}]).queues[0].rules) == 25
    name = "q" * 64
    assert WLMConfig.from_json([{"name": name}]).queue_names == (name,)
    for ms in (0, 1000, 20000):
        cfg = WLMConfig.from_json(
            [{}, {"short_query_queue": True, "max_execution_time": ms}]
        )
        assert cfg.sqa is not None
        assert cfg.sqa.max_execution_time == ms
    three = {"rule_name": "r3", "predicate": [_pred()] * 3, "action": "abort"}
    assert (
        len(WLMConfig.from_json([{"rules": [three]}]).queues[0].rules[0].predicate) == 3
    )


def test_superuser_queue_is_not_counted_in_slots():
    # 50 user slots plus the fixed superuser slot is still within the limit.
    cfg = WLMConfig.from_json([{"query_group": ["a"], "query_concurrency": 45}, {}])
    assert sum(q.query_concurrency for q in cfg.queues) == 50


def test_from_dict_rejects_unknown_and_bad_fields():
    good = WLMConfig.from_json([{}]).to_dict()
    bad = {**good, "extra": 1}
    with pytest.raises(WLMConfigError, match="unknown key"):
        WLMConfig.from_dict(bad)
    bad_queue = {
        "queues": [{**good["queues"][0], "query_concurrency": 99}],
        "sqa": None,
    }
    with pytest.raises(WLMConfigError, match=r"\[0\]\.query_concurrency.*1 to 50"):
        WLMConfig.from_dict(bad_queue)
