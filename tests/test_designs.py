"""Designs as data: the DPC default, the TOML format, a .py module, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dpcsim.designs as designs
from dpcsim.alarms import alarms_from_document, dpc_design_alarms
from dpcsim.designs import ELTContract, load_design
from dpcsim.errors import InputError
from dpcsim.metrics.dashboard import validate_dashboard

EXAMPLE = Path(designs.__file__).parent / "example" / "design.toml"
DATA = Path(designs.__file__).parents[1] / "data"


def test_dpc_design_is_the_default_and_matches_the_packaged_files():
    d = load_design(None)
    assert load_design("dpc").cluster_id == d.cluster_id
    assert d.cluster_id == "dpc-learning"
    assert d.region == "ap-northeast-1"
    assert d.sns_topic == "dpc-alerts"
    assert d.elt.queue == "batch"
    assert d.elt.query_group == "elt"
    assert (d.elt.window_start, d.elt.window_end) == ("02:00", "09:00")
    assert d.elt.window_min == 420.0
    packaged = json.loads((DATA / "dpc_design_alarms.json").read_text())
    assert d.alarm_requests("123456789012") == packaged
    assert d.alarm_requests("123456789012") == dpc_design_alarms("123456789012")
    assert d.dashboard == json.loads((DATA / "dpc_design_dashboard.json").read_text())
    assert d.role_groups["dpc-dbt"] == ("dpc_elt",)


def test_example_toml_loads_and_fills_the_account():
    d = load_design(EXAMPLE)
    assert d.name == "acme"
    assert d.wlm.queue_names[0] == "etl"
    requests = d.alarm_requests("210987654321")
    assert requests[0]["AlarmActions"] == [
        "arn:aws:sns:us-east-1:210987654321:acme-alerts"
    ]
    assert alarms_from_document(requests, source="example")[0].name == "acme-etl-queue"
    validate_dashboard(d.dashboard)
    assert d.elt.window_min == 240.0


def _toml(tmp_path, text):
    (tmp_path / "wlm.json").write_text((EXAMPLE.parent / "wlm.json").read_text())
    path = tmp_path / "d.toml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = """name = "x"
cluster_id = "c"
region = "eu-west-1"
environment = "dev"
sns_topic = "t"
wlm = "wlm.json"
"""
ELT = """[elt]
queue = "etl"
window_start = "01:00"
window_end = "04:00"
timezone = "Europe/Dublin"
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('colour = "red"\n' + BASE + ELT, "unknown key(s) ['colour']"),
        (BASE + ELT + 'colour = "red"\n', "elt.colour"),
        (BASE.replace('cluster_id = "c"\n', "") + ELT, "cluster_id"),
        (BASE + ELT.replace('"etl"', '"nope"'), "elt.queue"),
        (BASE + ELT.replace('"04:00"', '"25:00"'), "elt.window_end"),
        (BASE + ELT.replace("Europe/Dublin", "Mars/Olympus"), "elt.timezone"),
        (BASE, "[elt] table"),
        (BASE + 'alarms = "missing.json"\n' + ELT, "missing.json"),
    ],
)
def test_bad_toml_names_the_file_and_key(tmp_path, text, expected):
    path = _toml(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_design(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_python_module_design(tmp_path):
    module = tmp_path / "mine.py"
    module.write_text(
        "from dpcsim.designs import load_design\n"
        "import dataclasses\n"
        "DESIGN = dataclasses.replace(load_design(None), name='mine')\n"
    )
    assert load_design(module).name == "mine"
    (tmp_path / "empty.py").write_text("X = 1\n")
    with pytest.raises(InputError, match="defines no Design"):
        load_design(tmp_path / "empty.py")


def test_elt_contract_refuses_zero_cadence():
    with pytest.raises(InputError, match="cadence_min"):
        ELTContract(
            queue="q", query_group=None, window_start="01:00", window_end="02:00",
            timezone="UTC", cadence_min=0,
        )  # fmt: skip


def test_simulate_with_another_design(tmp_path):
    import numpy as np
    import pandas as pd

    from dpcsim import logs
    from dpcsim.cli import main
    from dpcsim.schema import Workload, validate_workload

    rng = np.random.default_rng(2)
    n = 120
    etl = rng.random(n) < 0.5
    frame = pd.DataFrame(
        {
            "query_id": np.arange(1, n + 1, dtype=np.int64),
            "arrival_at": pd.Timestamp("2025-05-26", tz="UTC")
            + pd.to_timedelta(np.sort(rng.integers(0, 600_000_000, n)), unit="us"),
            "statement_type": np.where(etl, "insert", "select"),
            "exec_s": rng.lognormal(2.0, 1.0, n),
            "user_id": np.where(etl, 7, 8),
            "user_name": np.where(etl, "IAMR:acme-etl-airflow", "analyst"),
            "user_groups": np.where(etl, "etl", "analysts"),
            "query_group": np.where(etl, "etl", "default"),
        }
    )
    logs.write_workload(Workload(queries=validate_workload(frame)), tmp_path / "w")
    out = tmp_path / "run"
    args = ["--quiet", "simulate", "--workload", str(tmp_path / "w"), "--wlm", "design"]
    assert main([*args, "--design", str(EXAMPLE), "--out", str(out)]) == 0
    points = pd.read_parquet(out / "metrics.parquet")
    dims = points["dimensions"].astype(str)
    assert dims.str.contains("ClusterIdentifier=acme-dw").any()
    assert not dims.str.contains("dpc-learning").any()
    alarms = pd.read_csv(out / "alarm_summary.csv")
    assert alarms["alarm_name"].tolist() == ["acme-etl-queue"]
    queues = set(pd.read_parquet(out / "queries.parquet")["queue"].astype(str))
    assert queues == {"etl", "analysts"}
