"""The fast run path changes no output: prepared runs, the state log, distinct texts.

Each fast path is compared with the slower path it replaces, on a generated
DPC day (three queues, SQA, scaling, QMR, ELT, load errors) and on the bundled
sample: the same files byte for byte, the same frames value for value.
"""

from __future__ import annotations

import subprocess
import sys
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dpcsim import logs
from dpcsim.cli import COMMANDS, SUMMARIES
from dpcsim.designs import load_design
from dpcsim.engine import ClusterSettings, SimResult, simulate
from dpcsim.metrics import MART_WRITE_PATTERN, MetricInputs, build_metrics, to_records
from dpcsim.metrics.elt import mart_tables
from dpcsim.run import PhaseTimer, Run
from dpcsim.schema import Workload
from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def day() -> Workload:
    return generate_dpc_workload(DPCWorkloadSpec(days=1), rng=20250526)


@pytest.fixture(scope="module")
def design():
    return load_design("dpc")


def _files(folder: Path) -> dict[str, bytes]:
    """The run's files, without the manifest only the CLI writes."""
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.name != ".dpcsim-manifest.json"
    }


def test_prepared_runs_write_the_same_bytes_as_simulate(day, design, tmp_path):
    prepared = Run.prepare(day, design.wlm, None, design)
    arrival = prepared.arrays.arrival_s.copy()
    queue = prepared.arrays.queue.copy()
    tight = ClusterSettings(max_concurrency_scaling_clusters=0)
    for seed, settings in ((1, None), (2, tight), (1, None)):
        Run.simulate(day, design.wlm, settings, rng=seed, design=design).write(
            tmp_path / f"ref{seed}"
        )
        fast = Run.simulate_prepared(prepared, settings, rng=seed)
        fast.write(tmp_path / f"fast{seed}")
        assert _files(tmp_path / f"fast{seed}") == _files(tmp_path / f"ref{seed}")
    # The prepared arrays are only read by a run.
    np.testing.assert_array_equal(prepared.arrays.arrival_s, arrival)
    np.testing.assert_array_equal(prepared.arrays.queue, queue)
    # The tight setting did change the run (the comparison is not vacuous).
    assert _files(tmp_path / "fast2") != _files(tmp_path / "fast1")


class _Watch(PhaseTimer):
    """A timer that notes, as each phase starts, which objects are gone."""

    def __init__(self, **refs: weakref.ref[object]) -> None:
        super().__init__()
        self.refs = refs
        self.gone: dict[str, dict[str, bool]] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.gone.setdefault(name, {k: r() is None for k, r in self.refs.items()})
        with super().phase(name):
            yield


def test_a_released_run_lets_go_of_its_frame_and_arrays_and_gives_the_same_run(
    day, design, tmp_path
):
    # A copy of the shared fixture: this test hands over its only reference.
    workload = Workload(
        queries=day.queries.copy(),
        elt_runs=day.elt_runs,
        load_errors=day.load_errors,
    )
    prepared = Run.prepare(workload, design.wlm, None, design)
    frame = weakref.ref(workload.queries)
    arrival = weakref.ref(prepared.arrays.arrival_s)
    del workload
    watch = _Watch(frame=frame, arrays=arrival)
    run = Run.simulate_prepared(prepared, rng=1, timer=watch, release=True)
    # Freed by reference counting alone: the frame before the engine, the
    # engine arrays before the records and metrics.
    assert watch.gone["engine"] == {"frame": True, "arrays": False}
    assert watch.gone["records"] == {"frame": True, "arrays": True}
    assert prepared.workload is None
    assert prepared.arrays is None
    with pytest.raises(ValueError, match="released"):
        Run.simulate_prepared(prepared, rng=1)
    run.write(tmp_path / "released")
    held = Run.prepare(day, design.wlm, None, design)
    Run.simulate_prepared(held, rng=1).write(tmp_path / "held")
    assert _files(tmp_path / "released") == _files(tmp_path / "held")
    assert held.arrays is not None  # a run without release only reads


def test_records_from_the_inputs_alone_equal_records_from_the_workload(day, design):
    result = simulate(day, design.wlm, rng=2)
    inputs = MetricInputs.of(day, result.start_at)
    alone = to_records(result, None, elt=design.elt, inputs=inputs)
    full = to_records(result, day, elt=design.elt)
    pd.testing.assert_frame_equal(alone.queries, full.queries)
    pd.testing.assert_frame_equal(alone.elt_runs, full.elt_runs)
    pd.testing.assert_frame_equal(alone.load_errors, full.load_errors)
    assert len(full.elt_runs)
    assert full.queries["query_text"].notna().any()
    # Inputs of another clock zero are not used without the workload to redo them.
    shifted = MetricInputs.of(day, result.start_at - pd.Timedelta(minutes=1))
    bare = to_records(result, None, elt=design.elt, inputs=shifted)
    assert bare.queries["query_text"].isna().all()
    assert not len(bare.elt_runs)


def test_metrics_from_the_state_log_equal_metrics_from_the_timeline(day, design):
    result = simulate(day, design.wlm, rng=3)
    assert result.state_log is not None
    frame_result = SimResult(
        queries=result.queries,
        timeline=result.timeline,  # a built frame: the slower path
        scaling=result.scaling,
        summary=result.summary,
        start_at=result.start_at,
    )
    assert frame_result.state_log is None
    kwargs = {"workload": day, "design": design, "queues": design.wlm.queue_names}
    fast = build_metrics(result, **kwargs)
    slow = build_metrics(frame_result, **kwargs)
    assert len(fast) > 1000
    pd.testing.assert_frame_equal(fast, slow)


def test_timeline_from_the_state_log_is_sorted_with_string_queues(day, design):
    timeline = simulate(day, design.wlm, rng=3).timeline
    assert timeline["t_s"].is_monotonic_increasing
    assert str(timeline["queue"].dtype) in ("string", "str")
    assert set(timeline["queue"].unique()) <= {
        *design.wlm.queue_names,
        "sqa",
        "superuser",
    }


def test_mart_tables_equal_the_pattern_on_every_row():
    texts = pd.Series(
        [
            "insert into mart.daily_sales select 1",
            "INSERT INTO MART.Daily_Sales select 1",
            None,
            "select * from mart.daily_sales",
            'create table if not exists "dev"."mart"."fact__dbt_tmp" (a int)',
            "insert into mart.daily_sales select 1",
            "delete from mart.users where id = 1;",
            "",
        ]
        * 50,
        dtype="string",
    )
    per_row = (
        texts.fillna("").str.extract(MART_WRITE_PATTERN, expand=False).astype("string")
    )
    fast = mart_tables(texts)
    pd.testing.assert_series_equal(fast, per_row, check_names=False)
    assert fast.notna().sum() == 5 * 50


def test_records_take_texts_by_query_id_whatever_the_log_order(day, design):
    result = simulate(day, design.wlm, rng=4)
    # The same log shuffled, with one query id repeated: the first row wins,
    # as the former drop_duplicates + reindex lookup gave.
    rng = np.random.default_rng(5)
    queries = day.queries.iloc[rng.permutation(len(day.queries))].reset_index(drop=True)
    dup = queries.iloc[[0]].copy()
    dup["query_text"] = "insert into mart.should_not_win select 1"
    shuffled = Workload(
        queries=pd.concat([queries, dup], ignore_index=True),
        elt_runs=day.elt_runs,
        load_errors=day.load_errors,
    )
    records = to_records(result, shuffled, elt=design.elt)
    lookup = shuffled.queries.drop_duplicates("query_id").set_index("query_id")
    expected = lookup.reindex(result.queries["query_id"].to_numpy())
    got = records.queries
    np.testing.assert_array_equal(
        got["query_text"].fillna("<NA>").to_numpy(),
        expected["query_text"].astype("string").fillna("<NA>").to_numpy(),
    )
    np.testing.assert_array_equal(
        got["scanned_mb"].to_numpy(), expected["scanned_mb"].to_numpy(dtype=float)
    )


@pytest.mark.skipif(not (SAMPLE / "workload.parquet").is_file(), reason="no sample")
def test_the_sample_run_is_the_same_through_the_cli_and_prepared(design, tmp_path):
    from dpcsim.cli import main

    out = tmp_path / "cli"
    args = ["--workload", str(SAMPLE), "--wlm", "design", "--timeline"]
    assert main(["--quiet", "simulate", *args, "--out", str(out)]) == 0
    week = logs.read_workload(SAMPLE)
    prepared = Run.prepare(week, design.wlm, None, design)
    Run.simulate_prepared(prepared, rng=0).write(tmp_path / "lib")
    assert _files(tmp_path / "lib") == _files(out)


def test_phase_timer_accumulates_named_phases():
    timer = PhaseTimer()
    for _ in range(2):
        with timer.phase("read"):
            sum(range(1000))
    with timer.phase("write"):
        pass
    assert list(timer.seconds) == ["read", "write"]
    assert timer.seconds["read"] > 0
    assert timer.line().startswith("phases [s]: read ")
    assert timer.line().endswith(f"total {sum(timer.seconds.values()):.3f}")


def test_summaries_are_the_subcommands_own_help():
    import importlib

    for name in COMMANDS:
        if name in SUMMARIES:
            module = importlib.import_module(f"dpcsim.cli.{name}")
            assert SUMMARIES[name] == module.HELP, name


def test_every_subcommand_has_its_summary_line():
    import importlib

    from dpcsim.cli import COMMANDS, SUMMARIES

    assert set(SUMMARIES) == set(COMMANDS)
    for name in COMMANDS:
        module = importlib.import_module(f"dpcsim.cli.{name}")
        assert SUMMARIES[name] == module.HELP, name


def test_a_subcommand_imports_no_other_subcommand():
    code = (
        "import sys\n"
        "from dpcsim.cli import build_parser\n"
        "build_parser(['simulate', '--help-not-parsed'])\n"
        "others = [m for m in sys.modules if m.startswith('dpcsim.cli.')\n"
        "          and m.split('.')[2] not in ('simulate',) and not m.split('.')[2]"
        ".startswith('_')]\n"
        "print(','.join(sorted(others)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    # simulate itself reads alarm files through dpcsim.cli.alarms on demand only.
    assert done.stdout.strip() == ""


def test_sort_points_equals_a_stable_sort_on_the_four_keys():
    from dpcsim.metrics.points import concat_points, points, sort_points

    rng = np.random.default_rng(11)
    stamps = pd.date_range("2025-01-06", periods=50, freq="min", tz="UTC")
    frames = []
    for k in range(30):
        metric = ["WLMQueueLength", "WLMRunningQueries", "CPUUtilization"][k % 3]
        dims = {"QueueName": ["adhoc", "batch"][k % 2]} if k % 5 else None
        take = np.sort(rng.choice(50, 10, replace=False))
        if k % 7 == 0:
            take = take[::-1]  # a run whose times go backwards
        frames.append(
            points(
                stamps[take],
                rng.normal(size=10).round(1),
                namespace=["AWS/Redshift", "Custom/DPC"][k % 4 == 0],
                metric_name=metric,
                dimensions=dims,
                unit="Count",
            )
        )
    frame = concat_points(frames)
    keys = ["namespace", "metric_name", "dimensions", "timestamp"]
    expected = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(sort_points(frame), expected)


def test_key_changes_treat_nulls_as_equal_only_to_nulls():
    import pyarrow as pa

    from dpcsim.metrics.points import _changes

    text = pa.chunked_array([["a", "a", None], [None, "b", "b", None, "a"]])
    got = _changes(text)
    # a->a, a->None, None->None, None->b, b->b, b->None, None->a
    assert got.tolist() == [False, True, False, True, False, True, True]


def test_the_metrics_timeline_shares_the_state_log_read_only(day, design):
    result = simulate(day, design.wlm, rng=6)
    assert result.state_log is not None
    before = result.state_log.queued.copy()
    timeline = to_records(result, day, elt=design.elt).timeline
    assert np.shares_memory(timeline["queued"].to_numpy(), result.state_log.queued)
    with pytest.raises(ValueError, match="read-only"):
        timeline.loc[0, "queued"] = 99
    np.testing.assert_array_equal(result.state_log.queued, before)
