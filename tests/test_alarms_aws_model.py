"""PutMetricAlarm members and nesting checked against botocore's CloudWatch model."""

from __future__ import annotations

import copy
import sys

import pytest

from dpcsim.alarms import aws_model, dpc_design_alarms, parse_alarm
from dpcsim.errors import InputError

pytest.importorskip("botocore")  # the aws extra; make test installs it


def _math_alarm():
    return copy.deepcopy(dpc_design_alarms()[-1])  # Alert-Query-Failure


def test_the_design_alarms_pass_the_model():
    for request in dpc_design_alarms():
        assert parse_alarm(request).name == request["AlarmName"]


def test_model_has_members_the_hand_list_lacks():
    members = aws_model.put_metric_alarm_members()
    assert members is not None
    assert {"EvaluationInterval", "AlarmName", "Metrics"} <= members


def test_a_real_member_dpcsim_does_not_evaluate_is_refused_as_such():
    request = {**dpc_design_alarms()[0], "EvaluationInterval": 60}
    with pytest.raises(InputError, match="CloudWatch has but dpcsim does not"):
        parse_alarm(request)


def test_unknown_nested_member_names_its_path():
    request = _math_alarm()
    request["Metrics"][1]["MetricStat"]["Metric"]["Colour"] = "red"
    with pytest.raises(InputError) as err:
        parse_alarm(request, source="a.json")
    assert "Metrics[1].MetricStat.Metric.Colour" in str(err.value)
    assert "unknown PutMetricAlarm member" in str(err.value)


def test_nesting_and_list_limits():
    request = _math_alarm()
    request["Metrics"][0]["MetricStat"] = ["not", "an", "object"]
    with pytest.raises(InputError, match="expected an object"):
        parse_alarm(request)
    request = _math_alarm()
    request["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"] = [{"Name": "x"}]
    with pytest.raises(InputError, match=r"Dimensions\[0\]\.Value.*required"):
        parse_alarm(request)


def test_without_botocore_the_check_warns_and_falls_back(monkeypatch):
    aws_model._shapes.cache_clear()
    monkeypatch.setitem(sys.modules, "botocore.loaders", None)
    try:
        with pytest.warns(UserWarning, match=r"dpcsim\[aws\]"):
            assert aws_model.put_metric_alarm_members() is None
        with pytest.raises(InputError, match="unknown PutMetricAlarm member"):
            parse_alarm({**dpc_design_alarms()[0], "EvaluationInterval": 60})
    finally:
        aws_model._shapes.cache_clear()


def test_cli_prints_the_missing_extra_as_one_line(monkeypatch, tmp_path, capsys):
    import json
    import warnings

    from dpcsim.cli import main

    metrics = tmp_path / "points.csv"
    metrics.write_text(
        "timestamp,namespace,metric_name,dimensions,value\n"
        "2025-05-26T00:00:00Z,Custom/DPC,CopyErrorCount,,0\n"
    )
    alarm = tmp_path / "alarm.json"
    alarm.write_text(json.dumps(dpc_design_alarms()[1]))
    aws_model._shapes.cache_clear()
    monkeypatch.setitem(sys.modules, "botocore.loaders", None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            args = ["alarms", "--alarms", str(alarm), "--metrics", str(metrics)]
            assert main([*args, "--out", str(tmp_path / "out")]) == 0
    finally:
        aws_model._shapes.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "dpcsim alarms: warning: botocore is not installed: PutMetricAlarm members "
        "are checked against dpcsim's own list, not CloudWatch's service model; "
        "pip install 'dpcsim[aws]' for the full check"
    ]


def test_the_model_read_without_the_loader_is_the_loaders(monkeypatch, tmp_path):
    from botocore.loaders import Loader

    monkeypatch.setenv("HOME", str(tmp_path))
    read = aws_model._bundled_model()
    assert read is not None
    assert read == Loader().load_service_model(aws_model.MODEL_SERVICE, "service-2")
    # A user's own model folder for the service: botocore's loader decides.
    (tmp_path / ".aws" / "models" / aws_model.MODEL_SERVICE).mkdir(parents=True)
    assert aws_model._bundled_model() is None
    aws_model._shapes.cache_clear()
    try:
        assert "AlarmName" in (aws_model.put_metric_alarm_members() or ())
    finally:
        aws_model._shapes.cache_clear()


def test_parsing_alarms_reads_the_model_without_importing_botocores_loader(tmp_path):
    import subprocess

    code = (
        "import sys\n"
        "from dpcsim.alarms import aws_model, dpc_design_alarms, parse_alarm\n"
        "for request in dpc_design_alarms():\n"
        "    parse_alarm(request)\n"
        "assert aws_model._shapes() is not None\n"
        "print('botocore.loaders' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.stdout.strip() == "False"
