"""``dpcsim wlm``: check a configuration, write the design's."""

from __future__ import annotations

import json
from pathlib import Path

from dpcsim.cli import main
from dpcsim.designs.dpc_wlm import dpc_design_config
from dpcsim.wlm import WLMConfig

FIXTURES = Path(__file__).parent / "fixtures" / "wlm"


def test_check_lists_every_queue_in_array_order(capsys) -> None:
    assert main(["wlm", "check", str(FIXTURES / "facts_manual.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in out[2:6]]
    assert names == ["bi_short", "bi_long", "etl", "Default"]
    assert "(default)" in out[5]
    assert out[-1] == "SQA on, max runtime dynamic"


def test_check_rejects_too_many_slots_with_the_limit(tmp_path: Path, capsys) -> None:
    bad = [{"name": "a", "query_concurrency": 40}, {"query_concurrency": 20}]
    path = tmp_path / "wlm.json"
    path.write_text(json.dumps(bad))
    assert main(["wlm", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "wlm.json" in err
    assert "50" in err


def test_design_writes_the_configuration_that_parses_back(tmp_path: Path) -> None:
    out = tmp_path / "design.json"
    assert main(["wlm", "design", "--slot-reading", "memory", "--out", str(out)]) == 0
    parsed = WLMConfig.from_json(out.read_text())
    assert parsed == dpc_design_config(slot_reading="memory")


def test_design_refuses_to_overwrite(tmp_path: Path, capsys) -> None:
    out = tmp_path / "design.json"
    out.write_text("mine")
    assert main(["wlm", "design", "--out", str(out)]) == 2
    assert out.read_text() == "mine"
    assert "--force" in capsys.readouterr().err


def test_quiet_check_prints_nothing_and_quiet_design_keeps_the_json(
    tmp_path: Path, capsys
) -> None:
    assert main(["wlm", "design", "-q", "--out", str(tmp_path / "w.json")]) == 0
    assert capsys.readouterr().out == ""
    assert main(["wlm", "check", str(tmp_path / "w.json"), "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["-q", "wlm", "design"]) == 0  # stdout is the product here
    assert capsys.readouterr().out == (tmp_path / "w.json").read_text()
