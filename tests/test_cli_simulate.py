"""``dpcsim simulate`` in-process: outputs, reconciliation, bad input, determinism."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from dpcsim import logs
from dpcsim.cli import main
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.outputs import MANIFEST
from dpcsim.schema import Workload, validate_workload

BASE_AT = pd.Timestamp("2025-05-26 00:00:00", tz="UTC")
REQUIRED = {"query_id", "queue", "queue_s", "exec_s", "ran_on", "outcome"}


def _workload(n=400, seed=3):
    """Learners in adhoc plus ELT statements in batch, busy enough to queue."""
    rng = np.random.default_rng(seed)
    elt = rng.random(n) < 0.3
    frame = pd.DataFrame(
        {
            "query_id": np.arange(1000, 1000 + n, dtype=np.int64),
            "arrival_at": BASE_AT
            + pd.to_timedelta(np.sort(rng.integers(0, 3_600_000_000, n)), unit="us"),
            "statement_type": np.where(elt, "insert", "select"),
            "exec_s": rng.lognormal(2.0, 1.0, n),
            "user_id": np.where(elt, 101, 200),
            "user_name": np.where(elt, "IAMR:dpc-elt-stepfunctions", "learner1"),
            "user_groups": np.where(elt, "dpc_elt", "dpc_learners"),
            "query_group": np.where(elt, "elt", "default"),
        }
    )
    return Workload(queries=validate_workload(frame))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("simulate-inputs")
    logs.write_workload(_workload(), root / "workload")
    wlm_path = root / "wlm.json"
    wlm_path.write_text(json.dumps(dpc_design_config().to_json()), encoding="utf-8")
    return root


def _run(inputs, out, *extra):
    return main(
        [
            "--quiet",
            "simulate",
            "--workload",
            str(inputs / "workload"),
            "--wlm",
            str(inputs / "wlm.json"),
            "--seed",
            "5",
            "--out",
            str(out),
            *extra,
        ]
    )


def test_outputs_exist_and_reconcile(inputs, tmp_path):
    assert _run(inputs, tmp_path / "out") == 0
    out = tmp_path / "out"
    queries = pq.read_table(out / "queries.parquet").to_pandas()
    assert set(queries.columns) >= REQUIRED
    assert len(queries) == 400
    assert queries["query_id"].is_unique
    assert not (out / "timeline.parquet").exists()  # only with --timeline
    assert {"start_s", "billed_s"} <= set(pq.read_schema(out / "scaling.parquet").names)
    summary = json.loads((out / "summary.json").read_text())
    counts = summary["queries"]
    assert counts["arrived"] == 400
    outcomes = sum(v for k, v in counts.items() if k != "arrived")
    assert outcomes == counts["arrived"]
    assert counts["arrived"] == sum(
        counts[k] for k in ("completed", "aborted", "canceled", "failed")
    )
    assert summary["all_queues"]["arrived"] == 400
    per_queue = summary["by_queue"]
    assert sum(q["arrived"] for q in per_queue.values()) == 400
    for name, row in per_queue.items():
        waits = queries.loc[queries["queue"] == name, "queue_s"]
        assert row["arrived"] == len(waits)
        assert row["wait_s"]["p50"] == pytest.approx(np.percentile(waits, 50))
        assert row["wait_s"]["p50"] <= row["wait_s"]["p90"] <= row["wait_s"]["p99"]
        assert sum(row["ran_on"].values()) == row["arrived"]
    assert summary["scaling"]["billed_s"] >= summary["scaling"]["busy_s"] >= 0


def test_a_canonical_workload_is_routed_once(inputs, tmp_path, monkeypatch):
    # The printed routing paths and the replay share one routing of the workload
    # (routing 1M queries takes about 0.1 s).
    import dpcsim.cli.simulate as command
    import dpcsim.engine.inputs as engine_inputs
    import dpcsim.run as run_module
    import dpcsim.wlm.routing as routing

    calls = []
    real = routing.route_workload

    def counted(*args, **kwargs):
        calls.append(len(args[1]))
        return real(*args, **kwargs)

    for module in (routing, command, run_module, engine_inputs):
        monkeypatch.setattr(module, "route_workload", counted)
    assert _run(inputs, tmp_path / "out") == 0
    assert calls == [400]


def test_prints_a_table(inputs, tmp_path, capsys):
    args = ["simulate", "--workload", str(inputs / "workload"), "--wlm", "design"]
    assert main([*args, "--out", str(tmp_path / "o")]) == 0
    printed = capsys.readouterr().out
    assert "queue" in printed
    assert "p90" in printed
    assert "adhoc" in printed
    assert "batch" in printed


def test_timeline_is_written_on_demand_and_changes_no_other_file(inputs, tmp_path):
    assert _run(inputs, tmp_path / "plain") == 0
    assert _run(inputs, tmp_path / "tl", "--timeline") == 0
    timeline = pq.read_table(tmp_path / "tl" / "timeline.parquet").to_pandas()
    assert len(timeline) > 0
    assert timeline["t_s"].is_monotonic_increasing
    for path in (tmp_path / "plain").iterdir():
        if path.name == MANIFEST:  # lists the files, so it names the timeline
            continue
        assert path.read_bytes() == (tmp_path / "tl" / path.name).read_bytes()


def test_no_metrics_is_the_same_replay_without_metrics(inputs, tmp_path, capsys):
    assert _run(inputs, tmp_path / "full") == 0
    assert _run(inputs, tmp_path / "bare", "--no-metrics", "--timings") == 0
    bare = tmp_path / "bare"
    assert not (bare / "metrics.parquet").exists()
    assert not (bare / "alarm_history.csv").exists()
    for name in ("queries.parquet", "scaling.parquet", "summary.json"):
        assert (bare / name).read_bytes() == (tmp_path / "full" / name).read_bytes()
    err = capsys.readouterr().err
    assert "phases [s]: read" in err
    assert "engine" in err
    assert "metrics" not in err


def test_same_seed_gives_identical_bytes(inputs, tmp_path):
    assert _run(inputs, tmp_path / "a", "--timeline") == 0
    assert _run(inputs, tmp_path / "b", "--timeline") == 0
    for name in (
        "queries.parquet",
        "timeline.parquet",
        "scaling.parquet",
        "summary.json",
    ):
        assert (tmp_path / "a" / name).read_bytes() == (
            tmp_path / "b" / name
        ).read_bytes()


def test_refuses_non_empty_out_without_force(inputs, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert _run(inputs, out) == 2
    assert "--force" in capsys.readouterr().err
    assert _run(inputs, out, "--force") == 0
    assert (out / "summary.json").is_file()


def test_describe_cluster_parameters_and_settings(inputs, tmp_path):
    value = json.dumps(dpc_design_config().to_json())
    described = {
        "Parameters": [
            {"ParameterName": "wlm_json_configuration", "ParameterValue": value}
        ]
    }
    wlm_path = tmp_path / "params.json"
    wlm_path.write_text(json.dumps(described), encoding="utf-8")
    toml = tmp_path / "cluster.toml"
    toml.write_text("[concurrency_scaling]\nmax_concurrency_scaling_clusters = 0\n")
    code = main(["-q", "simulate", "--workload", str(inputs / "workload"),
                 "--wlm", str(wlm_path), "--settings", str(toml),
                 "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == 0
    queries = pq.read_table(tmp_path / "o" / "queries.parquet").to_pandas()
    assert not (queries["ran_on"] == "cs").any()


def test_raw_exports_are_ingested(inputs, tmp_path):
    logs.write_exports(_workload(), tmp_path / "exports")
    code = main(["-q", "simulate", "--workload", str(tmp_path / "exports"),
                 "--wlm", "design", "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["queries"]["arrived"] == 400


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '[{"query_concurrency": 0}]',
        '{"Parameters": []}',
        '[{"query_concurrency": "five"}]',
    ],
)
def test_malformed_wlm_json_exits_2(inputs, tmp_path, capsys, text):
    bad = tmp_path / "bad.json"
    bad.write_text(text, encoding="utf-8")
    code = main(["-q", "simulate", "--workload", str(inputs / "workload"),
                 "--wlm", str(bad), "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "bad.json" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("missing", ["workload", "wlm", "settings"])
def test_missing_file_exits_2(inputs, tmp_path, capsys, missing):
    paths = {
        "workload": str(inputs / "workload"),
        "wlm": str(inputs / "wlm.json"),
        "settings": None,
    }
    paths[missing] = str(tmp_path / "nope")
    argv = ["-q", "simulate", "--workload", paths["workload"], "--wlm", paths["wlm"]]
    if paths["settings"]:
        argv += ["--settings", paths["settings"]]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert "nope" in capsys.readouterr().err


def test_metrics_and_design_alarms_are_written(inputs, tmp_path):
    assert _run(inputs, tmp_path / "out") == 0
    out = tmp_path / "out"
    metrics = pq.read_table(out / "metrics.parquet").to_pandas()
    lengths = metrics[metrics["metric_name"] == "WLMQueueLength"]
    # every queue of the configuration publishes, even one the run never used
    queues = {
        d.split("QueueName=")[1]
        for d in lengths["dimensions"].unique()
        if "QueueName=" in d
    }
    assert queues == {"batch", "admin", "adhoc"}
    summary = pd.read_csv(out / "alarm_summary.csv")
    assert sorted(summary["alarm_name"]) == sorted(
        [
            "Alert-COPY-Error",
            "Alert-ELT-Delay",
            "Alert-Query-Failure",
            "Alert-Storage-High",
            "Alert-WLM-Queue",
        ]
    )
    history = pd.read_csv(out / "alarm_history.csv")
    # evaluated every minute over the hour of data (each from its own first
    # datapoint to the end of its last period)
    for _, rows in history.groupby("alarm_name"):
        steps = pd.to_datetime(rows["evaluated_at"]).diff().dropna()
        assert (steps == pd.Timedelta(minutes=1)).all()
        assert len(rows) >= 60


def test_alarms_none_skips_the_alarm_files(inputs, tmp_path):
    assert _run(inputs, tmp_path / "out", "--alarms", "none") == 0
    assert (tmp_path / "out" / "metrics.parquet").is_file()
    assert not (tmp_path / "out" / "alarm_history.csv").exists()


def test_stream_writes_the_same_records_as_the_in_memory_run(inputs, tmp_path):
    assert _run(inputs, tmp_path / "mem", "--replay", "open", "--timeline") == 0
    assert _run(inputs, tmp_path / "stream", "--stream", "--timeline") == 0
    for name in ("queries", "timeline", "scaling"):
        a = pq.read_table(tmp_path / "mem" / f"{name}.parquet").to_pandas()
        b = pq.read_table(tmp_path / "stream" / f"{name}.parquet").to_pandas()
        pd.testing.assert_frame_equal(a, b)
    summary = json.loads((tmp_path / "stream" / "summary.json").read_text())
    assert summary["arrived"] == 400
    # Metrics and the alarm back-test: the same bytes as the in-memory run's.
    for name in ("metrics.parquet", "alarm_history.csv", "alarm_summary.csv"):
        mem = (tmp_path / "mem" / name).read_bytes()
        assert (tmp_path / "stream" / name).read_bytes() == mem, name


def test_stream_honours_no_metrics_and_timeline(inputs, tmp_path):
    assert _run(inputs, tmp_path / "bare", "--stream", "--no-metrics") == 0
    names = {p.name for p in (tmp_path / "bare").iterdir()}
    assert {"queries.parquet", "scaling.parquet", "summary.json"} <= names
    assert not names & {"metrics.parquet", "timeline.parquet", "alarm_history.csv"}


def test_stream_needs_one_canonical_workload(tmp_path, capsys):
    logs.write_exports(_workload(), tmp_path / "exports")
    code = main(["simulate", "--workload", str(tmp_path / "exports"), "--wlm",
                 "design", "--stream", "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == 2
    assert "workload.parquet" in capsys.readouterr().err


def test_replay_flag_and_stream_refusing_session_replay(inputs, tmp_path, capsys):
    assert _run(inputs, tmp_path / "open", "--replay", "open") == 0
    assert (tmp_path / "open" / "summary.json").is_file()
    assert _run(inputs, tmp_path / "s", "--stream", "--replay", "session") == 2
    assert "--stream replays open loop" in capsys.readouterr().err


def _schedule_file(path, night_json, *, start="00:20", timezone="UTC"):
    """A schedule written as ``dpcsim emit`` writes ``schedule/schedule.json``."""
    from dpcsim.emit.schedule import parse_schedule, schedule_document

    day_json = dpc_design_config().to_json()
    data = {
        "timezone": timezone,
        "windows": [
            {"name": "day", "start": "00:00", "wlm_json": day_json},
            {"name": "night", "start": start, "wlm_json": night_json},
        ],
    }
    # Written by emit's own writer: the file simulate reads is the deployed one.
    doc = schedule_document(parse_schedule(data, source="test"), "dpc-pg")
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def _one_slot_each():
    night = dpc_design_config().to_json()
    for queue in night:
        if "query_concurrency" in queue:
            queue["query_concurrency"] = 1
    return night


def test_schedule_switches_the_configuration_every_day(inputs, tmp_path):
    from dpcsim.emit.schedule import read_schedule, wlm_schedule
    from dpcsim.run import Run

    path = _schedule_file(tmp_path / "schedule.json", _one_slot_each())
    assert _run(inputs, tmp_path / "s", "--schedule", str(path)) == 0
    assert _run(inputs, tmp_path / "plain") == 0
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    # The hour-long workload starts at 00:00 UTC: one switch, at 00:20.
    assert summary["engine"]["wlm_switches"] == 1
    got = pd.read_parquet(tmp_path / "s" / "queries.parquet")
    plain = pd.read_parquet(tmp_path / "plain" / "queries.parquet")
    # The library's run of the same schedule gives the same records.
    lib = Run.simulate(
        logs.read_workload(inputs / "workload"),
        dpc_design_config(),
        rng=5,
        schedule=wlm_schedule(read_schedule(path)),
        alarms=(),
    )
    pd.testing.assert_frame_equal(got, lib.records.queries, check_dtype=False)
    # One slot per queue from 00:20: the queries arriving after wait longer.
    late = got["arrival_s"] >= 20 * 60
    assert got.loc[late, "queue_s"].mean() > 2 * plain.loc[late, "queue_s"].mean()
    early = got["end_s"] < 20 * 60
    pd.testing.assert_frame_equal(got[early], plain[early])
    # Without --wlm the schedule's first window is the routed configuration.
    assert main(["-q", "simulate", "--workload", str(inputs / "workload"),
                 "--schedule", str(path), "--seed", "5",
                 "--out", str(tmp_path / "w")]) == 0  # fmt: skip
    assert (tmp_path / "w" / "queries.parquet").read_bytes() == (
        tmp_path / "s" / "queries.parquet"
    ).read_bytes()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("static", "static properties"),
        ("json", "line 1 column"),
        ("stream", "--stream replays one configuration"),
        ("no-wlm", "--wlm"),
    ],
)
def test_bad_schedules_exit_2_naming_the_cause(inputs, tmp_path, capsys, case, message):
    path = tmp_path / "schedule.json"
    night = _one_slot_each()
    extra = ["--schedule", str(path)]
    _schedule_file(path, night)
    if case == "static":
        # A hand-edited file: emit never writes a static difference.
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["windows"][1]["wlm_json"][0]["query_group"] = ["nightly"]
        path.write_text(json.dumps(doc), encoding="utf-8")
    if case == "json":
        path.write_text("{not json", encoding="utf-8")
    if case == "stream":
        extra.append("--stream")
    argv = ["-q", "simulate", "--workload", str(inputs / "workload")]
    if case != "no-wlm":
        argv += ["--wlm", str(inputs / "wlm.json")]
    else:
        extra = []
    assert main([*argv, *extra, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err
    if case in ("static", "json"):
        assert "schedule.json" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()
