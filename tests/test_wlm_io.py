"""Reading and writing wlm_json_configuration files in their AWS shapes."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest

from dpcsim.designs.dpc_wlm import dpc_design_config, dpc_design_json
from dpcsim.errors import InputError
from dpcsim.wlm import WLMConfig, read_wlm_config, write_wlm_json
from dpcsim.wlm.io import canonical_json

FIXTURES = Path(__file__).parent / "fixtures" / "wlm"


@pytest.fixture
def manual() -> WLMConfig:
    return WLMConfig.from_json((FIXTURES / "facts_manual.json").read_text())


def test_reads_bare_array(manual):
    assert read_wlm_config(FIXTURES / "facts_manual.json") == manual


def test_reads_json_string_of_the_array(manual):
    assert read_wlm_config(FIXTURES / "string_encoded.json") == manual


def test_reads_describe_cluster_parameters_output(manual):
    assert read_wlm_config(FIXTURES / "describe_cluster_parameters.json") == manual


def test_reads_engine_default_parameter():
    cfg = read_wlm_config(FIXTURES / "describe_engine_default.json")
    assert cfg.is_auto
    assert cfg.queue_names == ("Default queue",)


def test_describe_output_error_names_file_and_parameter(tmp_path):
    doc = json.loads((FIXTURES / "describe_cluster_parameters.json").read_text())
    value = json.loads(doc["Parameters"][3]["ParameterValue"])
    value[1]["query_concurrency"] = 0
    doc["Parameters"][3]["ParameterValue"] = json.dumps(value)
    path = tmp_path / "params.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as info:
        read_wlm_config(path)
    msg = str(info.value)
    assert str(path) in msg
    assert "Parameters[3].ParameterValue" in msg
    assert "[1].query_concurrency" in msg
    assert "1 to 50" in msg


def test_describe_output_without_wlm_parameter(tmp_path):
    path = tmp_path / "params.json"
    path.write_text(
        json.dumps({"Parameters": [{"ParameterName": "statement_timeout"}]})
    )
    with pytest.raises(InputError, match=r"params\.json.*no 'wlm_json_configuration'"):
        read_wlm_config(path)


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"[{", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe[]", "not UTF-8"),
        (b'{"Foo": 1}', "describe-cluster-parameters"),
        (b"42", "expected a JSON array"),
        (b'"[{\\"query_concurrency\\": 99}]"', "[0].query_concurrency"),
    ],
)
def test_malformed_files_name_the_file(tmp_path, content, phrase):
    path = tmp_path / "wlm.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_wlm_config(path)
    assert str(info.value).startswith(str(path))
    assert phrase in str(info.value)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_wlm_config(tmp_path / "absent.json")


def test_write_is_canonical_and_round_trips(tmp_path, manual):
    path = write_wlm_json(manual, tmp_path / "out.json")
    text = path.read_text()
    assert text == json.dumps(manual.to_json(), indent=2, sort_keys=True) + "\n"
    assert read_wlm_config(path) == manual
    names = [o.get("name") for o in json.loads(text)]
    assert names == ["bi_short", "bi_long", "etl", "Default queue", None]


def test_package_data_equals_design_json(tmp_path):
    data = resources.files("dpcsim") / "data" / "dpc_design_wlm.json"
    text = data.read_text(encoding="utf-8")
    assert text == canonical_json(dpc_design_json())
    copy = tmp_path / "design.json"
    shutil.copyfile(str(data), copy)
    assert read_wlm_config(copy) == dpc_design_config()
