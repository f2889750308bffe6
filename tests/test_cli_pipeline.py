"""The command-line chain a new user runs: generate, wlm design, ingest, simulate,
alarms, and a what-if, in-process at one day."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dpcsim.cli import main
from dpcsim.logs import read_workload


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run one command; assert success and a clean stderr; return stdout."""
    assert main(list(argv)) == 0
    captured = capsys.readouterr()
    # No progress bar residue: capsys is not a terminal, so no bars are drawn.
    assert captured.err == ""
    return captured.out


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated day (seed 1), written as a cluster's export files."""
    out = tmp_path_factory.mktemp("pipeline") / "gen"
    assert (
        main(["-q", "generate", "--days", "1", "--seed", "1", "--out", str(out)]) == 0
    )
    return out


def test_the_chain_reads_well_and_reconciles(
    generated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wlm = tmp_path / "wlm.json"
    assert _run(capsys, "wlm", "design", "--out", str(wlm)) == f"wrote {wlm}\n"
    exports = [
        *sorted(generated.glob("*.csv.gz")),
        generated / "users.csv",
        generated / "stepfunctions_executions.json",
        generated / "stl_load_errors.csv",
    ]
    ingested = tmp_path / "ingested"
    text = _run(capsys, "ingest", *map(str, exports), "--wlm", str(wlm),
                "--out", str(ingested))  # fmt: skip
    n = len(read_workload(generated).queries)
    assert len(read_workload(ingested).queries) == n
    assert f"queries: {n}\n" in text
    assert "(accepted " in text
    assert "+ rejected 0)" in text
    assert f"files to {ingested}: workload.parquet" in text
    # ``--wlm design`` is the same configuration as the file it writes.
    by_name = tmp_path / "ingested-design"
    _run(capsys, "-q", "ingest", *map(str, exports), "--wlm", "design",
         "--out", str(by_name))  # fmt: skip
    pd.testing.assert_frame_equal(
        read_workload(by_name).queries.drop(columns="source_file"),
        read_workload(ingested).queries.drop(columns="source_file"),
    )

    run = tmp_path / "run"
    text = _run(capsys, "simulate", "--workload", str(ingested), "--wlm", "design",
                "--out", str(run))  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    assert summary["queries"]["arrived"] == n
    table = text.split("\n\n")[0].splitlines()
    assert table[0].split() == ["queue", "arrived", "completed", "stopped", "failed",
                                "wait", "p50", "p90", "p99", "max", "on", "cs", "on",
                                "sqa"]  # fmt: skip
    total = next(line for line in table if line.startswith("(all)"))
    assert total.split()[1] == str(n)
    assert "concurrency scaling:" in text
    assert "first ALARM (UTC)" in text
    assert f"wrote 6 files to {run}: alarm_history.csv" in text
    for junk in ("nan", "NaN", "NaT", "None"):
        assert junk not in text

    backtest = tmp_path / "backtest"
    text = _run(capsys, "alarms", "--alarms", "design", "--metrics", str(run),
                "--out", str(backtest))  # fmt: skip
    assert "NaT" not in text
    assert "first ALARM (UTC)" in text
    # The back-test of the run's own metrics agrees with the run's alarm summary.
    pd.testing.assert_frame_equal(
        pd.read_csv(backtest / "alarm_summary.csv"),
        pd.read_csv(run / "alarm_summary.csv"),
    )


def test_learner_growth_what_if_adds_adhoc_queries(
    generated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grown = tmp_path / "grown"
    _run(capsys, "-q", "generate", "--days", "1", "--seed", "1",
         "--learner-growth", "5", "--out", str(grown))  # fmt: skip
    runs = {}
    for name, workload in (("base", generated), ("grown", grown)):
        out = tmp_path / f"run-{name}"
        _run(capsys, "-q", "simulate", "--workload", str(workload), "--wlm",
             "design", "--alarms", "none", "--out", str(out))  # fmt: skip
        runs[name] = json.loads((out / "summary.json").read_text())["by_queue"]
    # Five times the learners: several times the adhoc arrivals, same ELT.
    assert runs["grown"]["adhoc"]["arrived"] > 3 * runs["base"]["adhoc"]["arrived"]
    assert runs["grown"]["batch"]["arrived"] == runs["base"]["batch"]["arrived"]
