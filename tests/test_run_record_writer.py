"""The record tables written from a thread while the metrics are built."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpcsim import logs
from dpcsim.designs import load_design
from dpcsim.run import RecordWriter, Run

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def test_the_writer_writes_the_same_bytes_as_the_inline_write(tmp_path: Path) -> None:
    workload = logs.read_workload(SAMPLE)
    design = load_design("dpc")
    inline = tmp_path / "inline"
    Run.simulate(workload, design.wlm, design=design, rng=3).write(
        inline, timeline=True
    )
    early = tmp_path / "early"
    early.mkdir()
    with RecordWriter(early, timeline=True) as records:
        run = Run.simulate(workload, design.wlm, design=design, rng=3,
                           on_records=records)  # fmt: skip
        run.write(early, timeline=True, written=records)
    names = sorted(p.name for p in inline.iterdir())
    assert names == sorted(p.name for p in early.iterdir())
    assert "timeline.parquet" in names
    for name in names:
        assert (inline / name).read_bytes() == (early / name).read_bytes(), name


def test_a_failed_write_is_raised_by_wait_and_nothing_is_left_running(
    tmp_path: Path,
) -> None:
    workload = logs.read_workload(SAMPLE)
    design = load_design("dpc")
    missing = tmp_path / "not" / "there"
    with RecordWriter(missing) as records:
        Run.simulate(workload, design.wlm, design=design, rng=3, on_records=records)
        with pytest.raises(OSError):
            records.wait()
    assert records._thread is not None
    assert not records._thread.is_alive()
