"""dpcsim emit: golden files, offline checks beyond botocore, round trips, cfn-lint."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from botocore.stub import Stubber

from dpcsim.alarms import read_alarms
from dpcsim.cli import main
from dpcsim.emit import EmitInputs, build_bundle, design_pieces, wlm_window_lambda
from dpcsim.emit.alarms import (
    check_alarm_request,
    read_tuning,
    round_trip,
    with_evidence,
)
from dpcsim.emit.changes import diff_wlm
from dpcsim.emit.dashboard import check_dashboard, dashboard_request
from dpcsim.emit.parameter_group import check_modify_request
from dpcsim.emit.schedule import parse_schedule
from dpcsim.engine import ClusterSettings
from dpcsim.errors import InputError
from dpcsim.run import Run
from dpcsim.schema import Workload, validate_workload
from dpcsim.wlm import WLMConfig

PG = "dpc-learning-wlm"
TOPIC = "arn:aws:sns:ap-northeast-1:123456789012:dpc-alerts"
BASE_AT = pd.Timestamp("2025-05-26 00:00:00", tz="UTC")
TUNING_HEADER = (
    "alarm,threshold,period_s,evaluation_periods,datapoints_to_alarm,"
    "treat_missing_data,variant,false_alarms_per_week,fa_ci_low,fa_ci_high,"
    "detection_delay_min,missed,incidents,selected\n"
)


def _inputs(**kw: object) -> EmitInputs:
    p = design_pieces()
    base: dict[str, object] = dict(  # noqa: C408 - keyword form reads as the API
        wlm=p.wlm,
        alarms=p.alarms,
        dashboard_body=p.dashboard_body,
        dashboard_name=p.dashboard_name,
        parameter_group=PG,
        sns_topic_arn=TOPIC,
        topic_name=p.sns_topic,
        cluster_id=p.cluster_id,
        region=p.region,
        limits=p.limits,
        extra_parameters={"max_concurrency_scaling_clusters": 1},
    )
    base.update(kw)
    return EmitInputs(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def run():
    """A short simulated run of the design: learners in adhoc and a burst of
    long ELT statements in batch's first 15 minutes (it queues)."""
    rng = np.random.default_rng(3)
    n = 900
    elt = rng.random(n) < 0.3
    frame = pd.DataFrame(
        {
            "query_id": np.arange(1000, 1000 + n, dtype=np.int64),
            "arrival_at": BASE_AT
            + pd.to_timedelta(
                np.where(
                    elt,
                    rng.integers(0, 900_000_000, n),
                    rng.integers(0, 3 * 3_600_000_000, n),
                ),
                unit="us",
            ),
            "statement_type": np.where(elt, "insert", "select"),
            "exec_s": np.where(
                elt, rng.lognormal(5.0, 0.5, n), rng.lognormal(2.5, 1.0, n)
            ),
            "user_id": np.where(elt, 101, 200),
            "user_name": np.where(elt, "IAMR:dpc-elt-stepfunctions", "learner1"),
            "user_groups": np.where(elt, "dpc_elt", "dpc_learners"),
            "query_group": np.where(elt, "elt", "default"),
        }
    )
    frame = frame.sort_values("arrival_at", kind="stable").reset_index(drop=True)
    workload = Workload(queries=validate_workload(frame))
    cfg = _inputs().wlm
    # Fixed demands: the hand-made times are what each query needs.
    settings = ClusterSettings(contention_model="none")
    return Run.simulate(workload, cfg, settings, rng=5)


def test_golden_files_byte_for_byte(golden) -> None:
    bundle = build_bundle(_inputs())
    for rel, text in bundle.files.items():
        if rel.endswith((".json", ".yaml", ".md")):
            golden(f"emit/design/{rel}", text)


def test_parameter_group_request_and_apply_types() -> None:
    bundle = build_bundle(_inputs())
    req = json.loads(bundle.files["modify-cluster-parameter-group.json"])
    params = {p["ParameterName"]: p for p in req["Parameters"]}
    assert WLMConfig.from_json(params["wlm_json_configuration"]["ParameterValue"]) == (
        bundle.config
    )
    assert params["max_concurrency_scaling_clusters"]["ApplyType"] == "static"
    # Unknown current configuration: nothing proves the WLM change dynamic.
    assert params["wlm_json_configuration"]["ApplyType"] == "static"
    # Against a current config differing only in slots, the change is dynamic.
    current = copy.deepcopy(bundle.config.to_json())
    current[2]["query_concurrency"] = 4
    cur = WLMConfig.from_json(current)
    again = build_bundle(_inputs(current=cur, extra_parameters={}))
    req = json.loads(again.files["modify-cluster-parameter-group.json"])
    assert req["Parameters"][0]["ApplyType"] == "dynamic"
    assert not again.changes.needs_reboot
    assert "No reboot is needed" in again.files["CHANGES.md"]


BAD_REQUESTS = [
    (
        {
            "ParameterGroupName": PG,
            "Parameters": [
                {
                    "ParameterName": "max_concurrency_scaling_clusters",
                    "ParameterValue": 2,
                }
            ],
        },
        "botocore",
    ),
    (
        {
            "ParameterGroupName": PG,
            "Parameters": [
                {
                    "ParameterName": "max_concurrency_scaling_clusters",
                    "ParameterValue": "11",
                    "ApplyType": "static",
                }
            ],
        },
        "0-10",
    ),
    (
        {
            "ParameterGroupName": PG,
            "Parameters": [
                {
                    "ParameterName": "max_concurrency_scaling_clusters",
                    "ParameterValue": "1",
                    "ApplyType": "dynamic",
                }
            ],
        },
        "static parameter",
    ),
    (
        {
            "ParameterGroupName": PG,
            "Parameters": [
                {
                    "ParameterName": "require_ssl",
                    "ParameterValue": "yes",
                    "ApplyType": "static",
                }
            ],
        },
        "'true', 'false'",
    ),
    (
        {
            "ParameterGroupName": PG,
            "Parameters": [
                {
                    "ParameterName": "statement_timeout",
                    "ParameterValue": str(i * 0 + 50),
                    "ApplyType": "static",
                }
                for i in range(1)
            ],
        },
        "0 or 100-2147483647",
    ),
    (
        {
            "ParameterGroupName": PG,
            "Parameters": [
                {
                    "ParameterName": "statement_timeout",
                    "ParameterValue": "0",
                    "ApplyType": "static",
                }
            ]
            * 21,
        },
        "1 to 20",
    ),
    (
        {
            "ParameterGroupName": "default.redshift-1.0",
            "Parameters": [
                {
                    "ParameterName": "statement_timeout",
                    "ParameterValue": "0",
                    "ApplyType": "static",
                }
            ],
        },
        "default parameter groups",
    ),
    (
        {
            "ParameterGroupName": PG,
            "Parameters": [
                {
                    "ParameterName": "wlm_json_configuration",
                    "ParameterValue": '[{"query_concurrency": 51}]',
                    "ApplyType": "dynamic",
                }
            ],
        },
        "1 to 50",
    ),
]


@pytest.mark.parametrize(("request_", "words"), BAD_REQUESTS)
def test_modify_request_rules(request_: dict, words: str) -> None:
    with pytest.raises(InputError, match=words):
        check_modify_request(request_)


def _alarm(**kw: object) -> dict:
    base = copy.deepcopy(design_pieces().alarms[3])  # Alert-WLM-Queue
    base.update(kw)
    return base


BAD_ALARMS = [
    (_alarm(Period="60"), "botocore"),
    (_alarm(Period=45), "10, 20, 30 or a multiple of 60"),
    (_alarm(Period=60, EvaluationPeriods=1441, DatapointsToAlarm=1), "86400"),
    (_alarm(Period=3600, EvaluationPeriods=169, DatapointsToAlarm=1), "604800"),
    (_alarm(Metrics=[]), "exactly one of MetricName or Metrics"),
    (_alarm(AlarmDescription="x" * 1025), "1024"),
    (_alarm(MetricName="WLMRejectedQueries"), "not a Redshift metric"),
    (_alarm(Dimensions=[{"Name": "QueueName", "Value": "batch"}]), "dimension set"),
]


@pytest.mark.parametrize(("alarm", "words"), BAD_ALARMS)
def test_alarm_rules_beyond_botocore(alarm: dict, words: str) -> None:
    with pytest.raises(InputError, match=words):
        check_alarm_request(alarm, source="a.json")


def test_math_alarm_rules() -> None:
    ratio = copy.deepcopy(design_pieces().alarms[4])
    check_alarm_request(ratio, source="ok")
    two = copy.deepcopy(ratio)
    two["Metrics"][0]["ReturnData"] = True
    with pytest.raises(InputError, match="ReturnData"):
        check_alarm_request(two, source="x")
    bad_id = copy.deepcopy(ratio)
    bad_id["Metrics"][0]["Id"] = "Failed"
    with pytest.raises(InputError, match="a-z"):
        check_alarm_request(bad_id, source="x")


def test_description_keeps_evidence_within_1024(tmp_path: Path) -> None:
    path = tmp_path / "alarm_tuning.csv"
    path.write_text(
        TUNING_HEADER + "Alert-WLM-Queue,12,60,10,8,missing,m8of10,0.25,"
        "0.1,0.6,4.5,1,12,t\n",
        encoding="utf-8",
    )
    (row,) = read_tuning(path)
    out = with_evidence(_alarm(AlarmDescription="d" * 2000), row)
    assert len(out["AlarmDescription"]) == 1024
    assert out["AlarmDescription"].endswith("missed 1 of 12 incidents.")
    assert "0.25 false alarms/week (CI 0.10-0.60)" in out["AlarmDescription"]


def test_tuning_bad_cell_names_line(tmp_path: Path) -> None:
    path = tmp_path / "alarm_tuning.csv"
    path.write_text(
        TUNING_HEADER + "Alert-WLM-Queue,x,60,10,8,missing,v,0,0,0,,0,0,t\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"line 2.*threshold = 'x'"):
        read_tuning(path)


def test_tuned_alarm_round_trip_on_simulated_metrics(tmp_path: Path, run) -> None:
    path = tmp_path / "alarm_tuning.csv"
    path.write_text(
        TUNING_HEADER
        + "Alert-WLM-Queue,10,60,10,10,missing,design,1.0,0.5,2.0,10,0,3,f\n"
        + "Alert-WLM-Queue,5,60,3,2,notBreaching,m2of3,0.4,0.1,0.9,3.0,0,3,true\n",
        encoding="utf-8",
    )
    bundle = build_bundle(
        _inputs(
            tuning=read_tuning(path),
            datapoints=run.datapoints,
            queries=run.records.queries,
        )
    )
    emitted = json.loads(bundle.files["alarms/Alert-WLM-Queue.json"])
    assert (emitted["Threshold"], emitted["EvaluationPeriods"]) == (5.0, 3)
    assert emitted["DatapointsToAlarm"] == 2
    assert "m2of3" in emitted["AlarmDescription"]
    # Read the written files back through dpcsim's reader and evaluate both sets.
    for rel, text in bundle.files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    files = [read_alarms(p)[0] for p in sorted((tmp_path / "alarms").glob("*.json"))]
    source = read_alarms(tmp_path / "template.yaml")
    assert round_trip(source, files, run.datapoints) == []
    # The tuned alarm does fire on this run, so the comparison is not vacuous.
    from dpcsim.alarms import evaluate_alarms

    states = evaluate_alarms(files, run.datapoints).summary.set_index("alarm_name")
    assert states.loc["Alert-WLM-Queue", "transitions_to_alarm"] >= 1
    # A changed threshold is caught.
    changed = read_alarms(tmp_path / "alarms" / "Alert-WLM-Queue.json")[0]
    req = dict(changed.request, Threshold=1000.0)
    from dpcsim.alarms import parse_alarm

    assert round_trip([parse_alarm(req)], [changed], run.datapoints) != []
    # The p99 log rules come from the run of the proposed configuration.
    rules = [r.rule_name for q in bundle.config.queues for r in q.rules]
    assert "adhoc_log_exec_p99" in rules


def test_metric_math_expression_is_carried_unchanged() -> None:
    guarded = copy.deepcopy(design_pieces().alarms[4])
    guarded["Metrics"][2] = {
        "Id": "ratio",
        "Expression": "FILL(failed, 0) / attempted * (attempted / attempted)",
        "ReturnData": True,
        "Label": "guarded",
    }
    alarms = [*design_pieces().alarms[:4], guarded]
    bundle = build_bundle(_inputs(alarms=alarms))
    out = json.loads(bundle.files["alarms/Alert-Query-Failure.json"])
    assert out["Metrics"][2]["Expression"] == guarded["Metrics"][2]["Expression"]


def test_dashboard_wait_widget_and_grid() -> None:
    bundle = build_bundle(_inputs())
    req = json.loads(bundle.files["dashboard.json"])
    assert isinstance(req["DashboardBody"], str)
    body = check_dashboard(req, source="dashboard.json")
    wait = [w for w in body["widgets"] if "WLMQueueWaitTime" in json.dumps(w)]
    assert len(wait) == 1
    assert wait[0]["y"] == 18
    assert any(m[5] == "adhoc" for m in wait[0]["properties"]["metrics"])
    overlap = copy.deepcopy(body)
    overlap["widgets"][1]["x"] = 6
    with pytest.raises(InputError, match="overlaps"):
        check_dashboard(dashboard_request("d", overlap), source="d")
    wide = copy.deepcopy(body)
    wide["widgets"][1]["width"] = 13
    with pytest.raises(InputError, match="24 columns"):
        check_dashboard(dashboard_request("d", wide), source="d")


def test_changes_md_dynamic_static_and_renames() -> None:
    cfg = build_bundle(_inputs()).config
    current = copy.deepcopy(cfg.to_json())
    current[0]["name"] = "etl"  # batch used to be called etl
    current[1]["query_concurrency"] = 2
    bundle = build_bundle(_inputs(current=WLMConfig.from_json(current)))
    text = bundle.files["CHANGES.md"]
    assert "**A reboot is needed.**" in text
    assert "queue 'etl' is renamed 'batch'" in text
    assert (
        "| queue admin | `query_concurrency` | 2 | 3 | dynamic, waits for the reboot |"
        in text
    )
    assert "| queue etl | `name` | etl | batch | reboot (static) |" in text
    groups = copy.deepcopy(cfg.to_json())
    groups[1]["user_group"] = ["dpc_admin", "dpc_ops"]
    changes = diff_wlm(WLMConfig.from_json(groups), cfg)
    assert [(c.what, c.dynamic) for c in changes.changes] == [("user_group", False)]


def _window(name: str, start: str, adhoc_slots: int, **kw: object) -> dict:
    cfg = design_pieces().wlm.to_json()
    cfg[2]["query_concurrency"] = adhoc_slots
    cfg[0].update(kw)
    return {"name": name, "start": start, "wlm_json": cfg}


def test_schedule_windows_and_scheduler(tmp_path: Path) -> None:
    data = {
        "timezone": "Asia/Tokyo",
        "windows": [_window("day", "08:00", 5), _window("night", "22:00", 2)],
    }
    schedule = parse_schedule(data, source="s")
    assert schedule.ends() == ["22:00", "08:00"]
    assert schedule.window_at(8 * 60).name == "day"  # the boundary starts "day"
    assert schedule.window_at(8 * 60 - 1).name == "night"
    assert schedule.window_at(22 * 60).name == "night"
    bundle = build_bundle(_inputs(schedule=schedule))
    sched = json.loads(bundle.files["schedule/scheduler/dpc-learning-wlm-wlm-day.json"])
    assert sched["ScheduleExpression"] == "cron(0 8 * * ? *)"
    assert sched["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    gap = copy.deepcopy(data)
    gap["windows"][0]["end"] = "21:00"
    with pytest.raises(InputError, match="no gap or overlap"):
        parse_schedule(gap, source="s")
    static = {
        "timezone": "Asia/Tokyo",
        "windows": [
            _window("day", "08:00", 5),
            _window("night", "22:00", 5, user_group=["x"]),
        ],
    }
    with pytest.raises(InputError, match="static properties"):
        parse_schedule(static, source="s")
    with pytest.raises(InputError, match="IANA"):
        parse_schedule({**data, "timezone": "JST+9"}, source="s")
    # The function, offline against botocore's stubbed Redshift client.
    import boto3

    windows = json.loads(bundle.files["schedule/windows.json"])
    client = boto3.client(
        "redshift",
        region_name="ap-northeast-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    stub = Stubber(client)
    stub.add_response(
        "modify_cluster_parameter_group",
        {"ParameterGroupName": PG, "ParameterGroupStatus": "applying"},
        {
            "ParameterGroupName": PG,
            "Parameters": [
                {
                    "ParameterName": "wlm_json_configuration",
                    "ParameterValue": windows["windows"]["night"],
                    "ApplyType": "dynamic",
                }
            ],
        },
    )
    with stub:
        out = wlm_window_lambda.handler(
            {"window": "night"}, client=client, windows=windows
        )
    stub.assert_no_pending_responses()
    assert out == {"parameter_group": PG, "window": "night"}
    with pytest.raises(ValueError, match="only modifies"):
        wlm_window_lambda.handler(
            {"window": "night", "parameter_group": "other"},
            client=client,
            windows=windows,
        )


def test_template_passes_cfn_lint() -> None:
    from cfnlint.api import ManualArgs, lint

    text = build_bundle(_inputs()).files["template.yaml"]
    matches = lint(text, config=ManualArgs(regions=["ap-northeast-1"]))
    errors = [str(m) for m in matches if m.rule.id.startswith("E")]
    assert errors == []
    assert [str(m) for m in matches] == []  # no warnings either


def test_cli_from_recommendation(tmp_path: Path) -> None:
    cfg = design_pieces().wlm.to_json()
    cfg[2]["query_concurrency"] = 4
    rec = {
        "verdict": {"holds": True, "text": "holds"},
        "baseline_config_id": "a",
        "recommended_config_id": "b",
        "recommended": {"wlm_json": cfg, "max_concurrency_scaling_clusters": 2},
        "recommendations": [],
    }
    (tmp_path / "recommendation.json").write_text(json.dumps(rec), encoding="utf-8")
    current = {
        "Parameters": [
            {
                "ParameterName": "wlm_json_configuration",
                "ParameterValue": json.dumps(design_pieces().wlm.to_json()),
            },
            {
                "ParameterName": "max_concurrency_scaling_clusters",
                "ParameterValue": "1",
            },
        ]
    }
    (tmp_path / "current.json").write_text(json.dumps(current), encoding="utf-8")
    out = tmp_path / "deploy"
    args = [
        "-q",
        "emit",
        "--recommendation",
        str(tmp_path / "recommendation.json"),
        "--current",
        str(tmp_path / "current.json"),
        "--parameter-group",
        PG,
        "--out",
        str(out),
    ]
    assert main(args) == 0
    text = (out / "CHANGES.md").read_text(encoding="utf-8")
    assert "| `max_concurrency_scaling_clusters` | 1 | 2 | static |" in text
    assert (
        "| queue adhoc | `query_concurrency` | 5 | 4 | dynamic, waits for the reboot |"
        in text
    )
    assert "**A reboot is needed.**" in text  # the static CS parameter
    assert main(args) == 2  # a non-empty --out is refused
    auto = design_pieces().wlm.to_json()
    for q in auto[:3]:
        for key in ("query_concurrency", "memory_percent_to_use"):
            q.pop(key)
        q["queue_type"] = "auto"
    rec["recommended"]["auto_wlm_json"] = auto
    (tmp_path / "recommendation.json").write_text(json.dumps(rec), encoding="utf-8")
    assert main([*args[:-1], str(tmp_path / "deploy2")]) == 0
    emitted = WLMConfig.from_json((tmp_path / "deploy2" / "wlm-auto.json").read_text())
    assert emitted.is_auto


def test_cli_explicit_files_with_tuning_queries_and_metrics(
    tmp_path: Path, run
) -> None:
    (tmp_path / "run").mkdir()
    run.write(tmp_path / "run")
    queries = str(tmp_path / "run" / "queries.parquet")
    alarms = tmp_path / "alarms.json"
    alarms.write_text(json.dumps(list(design_pieces().alarms)), encoding="utf-8")
    tuning = tmp_path / "alarm_tuning.csv"
    tuning.write_text(
        TUNING_HEADER
        + "Alert-WLM-Queue,5,60,3,2,notBreaching,m2of3,0.4,0.1,0.9,3.0,0,3,true\n",
        encoding="utf-8",
    )
    out = tmp_path / "deploy"
    args = ["-q", "emit", "--wlm", "design", "--alarms", str(alarms),
            "--tuning", str(tuning), "--queries", queries,
            "--metrics", str(tmp_path / "run"), "--parameter-group", PG,
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    emitted = json.loads((out / "alarms" / "Alert-WLM-Queue.json").read_text())
    assert emitted["DatapointsToAlarm"] == 2
    assert "Simulated replay" in emitted["AlarmDescription"]
    assert "m2of3" in emitted["AlarmDescription"]
    assert len(emitted["AlarmDescription"]) <= 1024
    cfg = WLMConfig.from_json((out / "wlm.json").read_text())
    assert "adhoc_log_exec_p99" in [r.rule_name for q in cfg.queues for r in q.rules]
    bad = tmp_path / "bad_tuning.csv"
    bad.write_text(TUNING_HEADER + "Nope,5,60,3,2,missing,v,0,0,0,,0,0,t\n",
                   encoding="utf-8")  # fmt: skip
    args[args.index(str(tuning))] = str(bad)
    assert main([*args, "--force"]) == 2


def test_changes_md_carries_the_publisher_contract_without_sphinx_roles() -> None:
    """The contract is read by whoever deploys the Lambda: plain literals only."""
    text = build_bundle(_inputs()).files["CHANGES.md"]
    assert "WLMCausedFailedQueries" in text
    assert "stl_wlm_rule_action" in text
    for role in (":mod:`", ":func:`", ":class:`", ":data:`"):
        assert role not in text
