"""dpcsim deploy against a real moto server process on 127.0.0.1.

moto does not implement ModifyClusterParameterGroup (HTTP 500), and its
DescribeClusterParameters returns the same fixed defaults for every group. The
small responder below, added to moto's Redshift responses in this test process
before the server starts, fills that gap: ModifyClusterParameterGroup stores
the parameters per group (after moto's own check that the group exists) and
DescribeClusterParameters returns moto's defaults overlaid with the stored
values, ``Source: user``. moto never validates requests the way AWS does
(it accepts ``MetricName`` and ``Metrics`` together), so validity is the job of
the offline checks; here the test asserts what was applied, read back through
boto3 and moto's request recorder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto.core.responses import ActionResult
from moto.moto_api import recorder
from moto.redshift.responses import RedshiftResponse
from moto.server import ThreadedMotoServer

from dpcsim.cli import main
from dpcsim.emit import EmitInputs, design_pieces, emit
from dpcsim.emit.deploy import deploy, load_plan
from dpcsim.errors import InputError

PG = "dpc-learning-wlm"
REGION = "ap-northeast-1"
#: Parameters the responder stores: group name -> parameter name -> item.
STORED: dict[str, dict[str, dict[str, Any]]] = {}


def _modify_cluster_parameter_group(self: RedshiftResponse) -> ActionResult:
    """Store the parameters of an existing group (moto raises for a missing one)."""
    name = self._get_param("ParameterGroupName")
    self.redshift_backend.describe_cluster_parameter_groups(name)
    for item in self._get_param("Parameters", []):
        STORED.setdefault(name, {})[item["ParameterName"]] = dict(item)
    return ActionResult(
        {
            "ParameterGroupName": name,
            "ParameterGroupStatus": "Your parameter group "
            "has been updated but changes won't get applied until you reboot",
        }
    )


def _describe_cluster_parameters(self: RedshiftResponse) -> ActionResult:
    """moto's defaults with the stored values on top (``Source: user``)."""
    name = self._get_param("ParameterGroupName")
    params = {
        p["ParameterName"]: dict(p)
        for p in self.redshift_backend.describe_cluster_parameters(name)
    }
    for pname, item in STORED.get(name, {}).items():
        params[pname] = {**params.get(pname, {}), **item, "Source": "user"}
    return ActionResult({"Parameters": list(params.values())})


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server bound to 127.0.0.1 only, port chosen by the OS."""
    patch = pytest.MonkeyPatch()
    patch.setattr(
        RedshiftResponse,
        "modify_cluster_parameter_group",
        _modify_cluster_parameter_group,
        raising=False,
    )
    patch.setattr(
        RedshiftResponse, "describe_cluster_parameters", _describe_cluster_parameters
    )
    patch.setattr(
        recorder, "_location", str(tmp_path_factory.mktemp("moto") / "recording")
    )
    for key, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        patch.setenv(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1"
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        patch.undo()


def _clients(url: str) -> tuple[Any, Any]:
    kw = {"endpoint_url": url, "region_name": REGION}
    return boto3.client("redshift", **kw), boto3.client("cloudwatch", **kw)


@pytest.fixture
def folder(tmp_path: Path, endpoint: str) -> Path:
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    STORED.clear()
    redshift, _ = _clients(endpoint)
    redshift.create_cluster_parameter_group(
        ParameterGroupName=PG, ParameterGroupFamily="redshift-1.0", Description="t"
    )
    redshift.create_cluster_parameter_group(
        ParameterGroupName="other-group",
        ParameterGroupFamily="redshift-1.0",
        Description="t",
    )
    p = design_pieces()
    emit(
        EmitInputs(
            wlm=p.wlm,
            alarms=p.alarms,
            dashboard_body=p.dashboard_body,
            dashboard_name=p.dashboard_name,
            parameter_group=PG,
            sns_topic_arn=f"arn:aws:sns:{REGION}:123456789012:dpc-alerts",
            topic_name=p.sns_topic,
            cluster_id=p.cluster_id,
            region=p.region,
            limits=p.limits,
            extra_parameters={"max_concurrency_scaling_clusters": 2},
        ),
        tmp_path / "deploy",
    )
    return tmp_path / "deploy"


def _recorded(endpoint: str) -> list[str]:
    """The Action of every recorded request."""
    text = requests.get(
        f"{endpoint}/moto-api/recorder/download-recording", timeout=10
    ).text
    actions = []
    for line in text.splitlines():
        entry = json.loads(line)
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            import base64

            body = base64.b64decode(body).decode("utf-8", "replace")
        target = entry["headers"].get("X-Amz-Target", "")
        for part in body.split("&"):
            if part.startswith("Action="):
                actions.append(part[len("Action=") :])
        if target:
            actions.append(target.rsplit(".", 1)[-1])
    return actions


def test_dry_run_changes_nothing(folder: Path, endpoint: str) -> None:
    requests.post(f"{endpoint}/moto-api/recorder/reset-recording", timeout=10)
    requests.post(f"{endpoint}/moto-api/recorder/start-recording", timeout=10)
    redshift, cloudwatch = _clients(endpoint)
    plan = load_plan(folder, parameter_group=PG)
    report = deploy(plan, redshift, cloudwatch)
    requests.post(f"{endpoint}/moto-api/recorder/stop-recording", timeout=10)
    assert report.applied == []
    assert report.error is None
    assert any("wlm_json_configuration" in w for w in report.would_change)
    assert any(
        w == "alarm Alert-WLM-Queue: does not exist yet" for w in report.would_change
    )
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    assert STORED == {}
    actions = _recorded(endpoint)
    assert actions
    assert not any(a.startswith(("Modify", "Put")) for a in actions)


def test_apply_reads_back_everything(folder: Path, endpoint: str) -> None:
    requests.post(f"{endpoint}/moto-api/recorder/reset-recording", timeout=10)
    requests.post(f"{endpoint}/moto-api/recorder/start-recording", timeout=10)
    redshift, cloudwatch = _clients(endpoint)
    report = deploy(
        load_plan(folder, parameter_group=PG), redshift, cloudwatch, apply=True
    )
    requests.post(f"{endpoint}/moto-api/recorder/stop-recording", timeout=10)
    assert report.ok, report.lines()
    assert len(report.applied) == 7  # parameter group, five alarms, dashboard
    params = {
        p["ParameterName"]: p
        for p in redshift.describe_cluster_parameters(ParameterGroupName=PG)[
            "Parameters"
        ]
    }
    sent = json.loads((folder / "wlm.json").read_text(encoding="utf-8"))
    assert json.loads(params["wlm_json_configuration"]["ParameterValue"]) == sent
    assert params["max_concurrency_scaling_clusters"]["ParameterValue"] == "2"
    assert "other-group" not in STORED
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert sorted(alarms) == sorted(
        design_pieces().alarms[i]["AlarmName"] for i in range(5)
    )
    assert alarms["Alert-WLM-Queue"]["Threshold"] == 10.0
    body = json.loads(
        cloudwatch.get_dashboard(DashboardName=design_pieces().dashboard_name)[
            "DashboardBody"
        ]
    )
    assert any("WLMQueueWaitTime" in json.dumps(w) for w in body["widgets"])
    actions = _recorded(endpoint)
    assert actions.count("ModifyClusterParameterGroup") == 1
    assert actions.count("PutMetricAlarm") == 5
    assert actions.count("PutDashboard") == 1


def test_refuses_another_parameter_group(folder: Path) -> None:
    with pytest.raises(InputError, match="refusing to touch any other group"):
        load_plan(folder, parameter_group="other-group")


def test_stops_at_first_error(folder: Path, endpoint: str) -> None:
    redshift, cloudwatch = _clients(endpoint)
    redshift.delete_cluster_parameter_group(ParameterGroupName=PG)
    report = deploy(
        load_plan(folder, parameter_group=PG), redshift, cloudwatch, apply=True
    )
    assert report.error is not None
    assert "ClusterParameterGroupNotFound" in report.error
    assert report.applied == []
    assert len(report.not_applied) == 7
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []


def test_cli_dry_run_and_apply(folder: Path, endpoint: str, capsys) -> None:
    base = [
        "deploy",
        str(folder),
        "--parameter-group",
        PG,
        "--endpoint-url",
        endpoint,
        "--region",
        REGION,
    ]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "dry run (nothing applied" in out
    assert "would change" in out
    assert STORED == {}
    assert main([*base, "--apply"]) == 0
    assert "applied: dashboard" in capsys.readouterr().out
    assert main(["deploy", str(folder), "--parameter-group", "x"]) == 2
