"""The whole command's fast paths equal the slower code they replace, exactly.

Each rewritten step of ``dpcsim simulate`` is checked against the code it
replaced (kept here as the reference) on inputs built to hit the cases where
they could part: equal instants, several queues, rows out of order, queues
without rows, NaN. Equality is exact (``assert_array_equal`` on floats), as
the output files must stay byte-identical.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dpcsim import schema
from dpcsim.canonical import parquet_options, write_parquet
from dpcsim.engine.contention import observed_to_solo
from dpcsim.engine.inputs import _statement_codes, arrival_order
from dpcsim.engine.queues import STATEMENT_TYPES
from dpcsim.metrics.redshift import (
    _cluster_total,
    _period_count,
    _period_mean,
    _queue_rows,
    _sampled,
    processing_clusters,
)
from dpcsim.metrics.series import _value_at, sample_step, step_function
from dpcsim.run import _Codes
from dpcsim.schema import validate_workload
from dpcsim.wlm.routing import _combine, _first_rows

ROOT = Path(__file__).resolve().parents[1]


def _old_solo_one_cluster(start_s, end_s, sigma, kappa):
    """The searchsorted version of the solo-work integral."""
    t = np.concatenate([start_s, end_s])
    step = np.concatenate([np.ones(start_s.size, np.int64), -np.ones(end_s.size)])
    order = np.argsort(t, kind="stable")
    t, step = t[order], step[order]
    n_after = np.cumsum(step)
    seg = np.diff(t)
    n_seg = n_after[:-1]
    speed = np.where(
        n_seg > 0,
        1.0 / (1.0 + sigma * (n_seg - 1.0) + kappa * n_seg * (n_seg - 1.0)),
        0.0,
    )
    cum = np.concatenate([[0.0], np.cumsum(speed * seg)])
    at_start = np.searchsorted(t, start_s, side="left")
    at_end = np.searchsorted(t, end_s, side="left")
    return np.maximum(cum[at_end] - cum[at_start], 0.0)


def _old_observed_to_solo(start_s, end_s, cluster, sigma, kappa):
    work = np.zeros(start_s.size, np.float64)
    for c in np.unique(cluster):
        sel = np.flatnonzero(cluster == c)
        work[sel] = _old_solo_one_cluster(start_s[sel], end_s[sel], sigma, kappa)
    return work


@pytest.mark.parametrize("clusters", [1, 3])
def test_solo_work_equals_the_searchsorted_integral(clusters):
    rng = np.random.default_rng(11)
    n = 5_000
    # Times on a 0.5 s grid: many starts and ends share an instant.
    start = np.round(rng.uniform(0, 600, n) * 2) / 2
    end = start + np.round(rng.exponential(3.0, n) * 2) / 2
    end[::50] = start[::50]  # zero-length executions
    cluster = rng.integers(0, clusters, n)
    new = observed_to_solo(start, end, cluster, 0.02, 0.0044)
    old = _old_observed_to_solo(start, end, cluster, 0.02, 0.0044)
    np.testing.assert_array_equal(new, old)
    assert (new[::50] == 0).all()
    assert (new > 0).mean() > 0.9


def _timeline(seed: int, queues: tuple[str, ...]) -> pd.DataFrame:
    """A random multi-queue timeline in time order, ties across and within queues."""
    rng = np.random.default_rng(seed)
    n = 4_000
    t = np.sort(np.round(rng.uniform(0, 3_000, n)))
    return pd.DataFrame(
        {
            "t_s": t,
            "queue": pd.array(rng.choice(list(queues), n), dtype="string"),
            "queued": rng.integers(0, 9, n).astype("int32"),
            "running": rng.integers(0, 6, n).astype("int32"),
            "running_cs": rng.integers(0, 3, n).astype("int32"),
            "cs_clusters": rng.integers(0, 2, n).astype("int16"),
        }
    )


def _old_total_step(timeline, column):
    diffs = timeline.groupby("queue", sort=False, observed=True)[column].diff()
    deltas = diffs.where(diffs.notna(), timeline[column]).to_numpy(dtype="float64")
    return step_function(timeline["t_s"].to_numpy(), np.cumsum(deltas))


def _old_processing_clusters(timeline):
    t_run, running = _old_total_step(timeline, "running_cs")
    t_up, up = step_function(
        timeline["t_s"].to_numpy(), timeline["cs_clusters"].to_numpy()
    )
    t = np.union1d(t_run, t_up)
    return t, np.minimum(_value_at(t_run, running, t), _value_at(t_up, up, t))


@pytest.mark.parametrize("queues", [("adhoc",), ("adhoc", "batch", "sqa")])
def test_gauges_from_change_rows_equal_the_collapsed_step_function(queues):
    tl = _timeline(5, queues)
    grid = np.arange(-60.0, 3_120.0, 60.0)
    rows_of = _queue_rows(tl["queue"])
    assert sorted(rows_of) == sorted(queues)
    for name, rows in rows_of.items():
        assert (tl["queue"].to_numpy()[rows] == name).all()
        for sampling in ("instant", "max", "mean"):
            for column in ("queued", "running"):
                values = tl[column].to_numpy()[rows]
                t = tl["t_s"].to_numpy()[rows]
                old = sample_step(*step_function(t, values), grid, sampling=sampling)
                new = _sampled(t, values, grid, sampling)
                np.testing.assert_array_equal(new, old)
    t_old, total_old = _old_total_step(tl, "queued")
    total = _cluster_total(tl["queued"].to_numpy(), rows_of)
    t_new, total_new = step_function(tl["t_s"].to_numpy(), total)
    np.testing.assert_array_equal(t_new, t_old)
    np.testing.assert_array_equal(total_new, total_old)
    for old, new in zip(
        _old_processing_clusters(tl), processing_clusters(tl), strict=True
    ):
        np.testing.assert_array_equal(new, old)


def test_rows_of_a_categorical_queue_column_skip_missing_queues():
    queue = pd.Series(
        pd.Categorical.from_codes([0, 2, 2, 0, -1], categories=["a", "b", "c"])
    )
    rows = _queue_rows(queue)
    assert set(rows) == {"a", "c"}
    np.testing.assert_array_equal(rows["a"], [0, 3])
    np.testing.assert_array_equal(rows["c"], [1, 2])


def _old_period(period_of, periods):
    idx = np.searchsorted(periods, period_of)
    inside = (idx < periods.size) & (
        periods[np.clip(idx, 0, periods.size - 1)] == period_of
    )
    return idx, inside


def test_period_means_and_counts_equal_the_searched_ones():
    rng = np.random.default_rng(2)
    periods = np.arange(1_700_000_100.0, 1_700_000_100.0 + 300 * 40, 300.0)
    # Period starts inside, before and after the range, one off-grid, NaN.
    period_of = periods[0] + 300.0 * rng.integers(-5, 45, 3_000)
    period_of[:3] = [np.nan, periods[0] + 150.0, periods[-1]]
    values = rng.normal(size=period_of.size)
    idx, inside = _old_period(period_of, periods)
    sums = np.bincount(idx[inside], weights=values[inside], minlength=periods.size)
    counts = np.bincount(idx[inside], minlength=periods.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        old_mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    np.testing.assert_array_equal(_period_mean(period_of, values, periods), old_mean)
    np.testing.assert_array_equal(
        _period_count(period_of, periods), counts.astype("float64")
    )
    assert 0 < inside.sum() < period_of.size


def test_arrival_order_is_the_lexsort():
    rng = np.random.default_rng(4)
    arrival = np.sort(np.round(rng.uniform(0, 100, 2_000)))
    qid = np.arange(2_000)
    np.testing.assert_array_equal(
        arrival_order(arrival, qid), np.lexsort((qid, arrival))
    )
    for shuffled_ids in (rng.permutation(qid), qid[::-1]):
        np.testing.assert_array_equal(
            arrival_order(arrival, shuffled_ids), np.lexsort((shuffled_ids, arrival))
        )
    unsorted = rng.permutation(arrival)
    np.testing.assert_array_equal(
        arrival_order(unsorted, qid), np.lexsort((qid, unsorted))
    )


@pytest.mark.filterwarnings("ignore:Constructing a Categorical")
@pytest.mark.parametrize(
    "dtype", ["string", "string[python]", "object", "category", "large_string"]
)
def test_statement_codes_equal_the_categoricals_codes(dtype):
    # Known types, None, an unknown type, case and padding that do not match.
    values = [*STATEMENT_TYPES, None, "merge", "SELECT", " select", "copy"] * 3
    if dtype == "object":
        values[-1] = 5  # not text: unknown
    if dtype == "large_string":
        raw = pd.Series(
            pd.arrays.ArrowExtensionArray(pa.array(values, pa.large_string()))
        )
    else:
        raw = pd.Series(values, dtype=dtype)
    expected = pd.Categorical(
        pd.Series(values, dtype=object), categories=list(STATEMENT_TYPES)
    ).codes
    got = _statement_codes(raw)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, expected)
    assert (got == -1).sum() == 4 * 3 + (dtype == "object")


def test_codes_from_the_engine_equal_codes_of_the_strings():
    rng = np.random.default_rng(9)
    names = ("adhoc", "batch", "superuser", "sqa", "unused")
    codes = rng.choice([3, 1, 1, 0, 2], 500)
    column = pd.Series(pd.array(np.asarray(names)[codes], dtype="string"))
    fast, slow = _Codes.present(codes, names), _Codes.of(column)
    assert fast.names == slow.names
    assert "unused" not in fast.names
    np.testing.assert_array_equal(fast.codes, slow.codes)
    rows = rng.random(500) < 0.3
    assert fast.counts(rows) == slow.counts(rows)
    assert list(fast.counts(None).items()) == list(slow.counts(None).items())


def test_workload_in_arrival_order_is_kept_and_any_other_is_sorted(monkeypatch):
    at = pd.Timestamp("2025-01-06", tz="UTC") + pd.to_timedelta(
        [0, 0, 5, 5, 9], unit="s"
    )
    frame = pd.DataFrame(
        {
            "query_id": [1, 2, 7, 8, 3],
            "arrival_at": at,
            "statement_type": "select",
            "exec_s": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    variants = {
        "in order": frame,
        "ids swapped on equal arrivals": frame.iloc[[1, 0, 3, 2, 4]],
        "latest first": frame.iloc[[4, 0, 1, 2, 3]],
    }
    fast = {k: validate_workload(v) for k, v in variants.items()}
    # The slower path: always the stable sort.
    monkeypatch.setattr(schema, "_in_arrival_order", lambda frame: False)
    for name, variant in variants.items():
        pd.testing.assert_frame_equal(fast[name], validate_workload(variant))
        assert fast[name]["query_id"].tolist() == [1, 2, 7, 8, 3], name
    with pytest.raises(ValueError, match="query_id=2 repeats"):
        validate_workload(frame.assign(query_id=[1, 2, 2, 8, 9]))


def test_a_quiet_simulate_imports_no_progress_bar_or_yaml(tmp_path):
    code = (
        "import sys\n"
        "from dpcsim.cli import main\n"
        f"main(['--quiet', 'simulate', '--workload', {str(ROOT / 'data' / 'sample')!r},"
        f" '--wlm', 'design', '--out', {str(tmp_path / 'run')!r}])\n"
        "print(sorted(m for m in ('tqdm', 'yaml', 'scipy', 'matplotlib')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={
            "PYTHONPATH": str(ROOT),
            "PATH": "/usr/bin:/bin",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "run" / "metrics.parquet").is_file()


#: Rows per row group pyarrow's ``write_table`` writes by default (the
#: constant dpcsim.canonical.ROW_GROUP_ROWS must equal, checked here).
ROW_GROUP_ROWS = 1024 * 1024


def test_the_row_group_size_is_pyarrows_default(tmp_path):
    from dpcsim import canonical

    pq.write_table(pa.table({"x": np.zeros(ROW_GROUP_ROWS + 1)}), tmp_path / "x.pq")
    groups = pq.ParquetFile(tmp_path / "x.pq").metadata
    assert groups.num_row_groups == 2
    assert groups.row_group(0).num_rows == canonical.ROW_GROUP_ROWS == ROW_GROUP_ROWS


def test_a_frame_in_arrow_chunks_writes_the_bytes_of_a_contiguous_one(tmp_path):
    rng = np.random.default_rng(8)
    n = ROW_GROUP_ROWS + 150_000  # two row groups
    # Low-cardinality texts (dictionary pages) and unique ones (the writer
    # falls back to plain pages cut by size).
    names = rng.choice(["AWS/Redshift", "Custom/DPC", "ClusterIdentifier=x"], n)
    ids = rng.integers(0, 10**12, n).astype(str)
    frame = pd.DataFrame(
        {
            "t": np.arange(n, dtype=np.int64),
            "name": pd.array(names, dtype="string"),
            "id": pd.array(ids, dtype="string"),
            "value": rng.normal(size=n),
        }
    )
    cuts = [0, 1_000, 5_555, 700_001, ROW_GROUP_ROWS + 3, n]
    chunked = pd.concat(
        [frame.iloc[a:b] for a, b in itertools.pairwise(cuts)],
        ignore_index=True,
    )
    table = pa.Table.from_pandas(chunked)
    assert table["name"].num_chunks == table["id"].num_chunks == len(cuts) - 1
    write_parquet(frame, tmp_path / "flat.parquet")
    write_parquet(chunked, tmp_path / "chunked.parquet")
    assert pq.ParquetFile(tmp_path / "flat.parquet").num_row_groups == 2
    flat = (tmp_path / "flat.parquet").read_bytes()
    assert (tmp_path / "chunked.parquet").read_bytes() == flat
    # Written a row group at a time: the bytes of one whole-table write.
    whole = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(whole, tmp_path / "whole.parquet", **parquet_options(whole.schema))
    assert (tmp_path / "whole.parquet").read_bytes() == flat
    # Categorical texts (the datapoints' names) are written row group by row
    # group as strings: the bytes of their string form, empty frames too.
    categorical = frame.assign(name=pd.Categorical(frame["name"]))
    write_parquet(categorical, tmp_path / "categorical.parquet")
    assert (tmp_path / "categorical.parquet").read_bytes() == flat
    write_parquet(frame.iloc[:0], tmp_path / "empty.parquet")
    write_parquet(categorical.iloc[:0], tmp_path / "empty_categorical.parquet")
    empty = (tmp_path / "empty.parquet").read_bytes()
    assert (tmp_path / "empty_categorical.parquet").read_bytes() == empty


def test_columns_are_written_in_their_types_encoding_and_read_back_to_the_bit(
    tmp_path,
):
    rng = np.random.default_rng(11)
    n = 50_000
    seconds = rng.exponential(30.0, n)
    seconds[[0, 1, 2, 3]] = [np.nan, -0.0, np.inf, 5e-324]
    frame = pd.DataFrame(
        {
            "query_id": rng.integers(-(2**62), 2**62, n),
            "attempts": rng.integers(1, 4, n).astype(np.int32),
            "arrival_at": pd.Timestamp("2025-01-06", tz="UTC")
            + pd.to_timedelta(np.sort(rng.integers(0, 10**11, n)), unit="us"),
            "exec_s": seconds,
            "mem_mb": rng.normal(size=n).astype(np.float32),
            "queue": pd.array(rng.choice(["batch", "adhoc", None], n), dtype="string"),
            "aborted": rng.random(n) < 0.1,
        }
    )
    path = write_parquet(frame, tmp_path / "q.parquet")
    group = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {
        group.column(i).path_in_schema: set(group.column(i).encodings)
        for i in range(group.num_columns)
    }
    for name in ("exec_s", "mem_mb"):
        assert "BYTE_STREAM_SPLIT" in encodings[name]
        assert "RLE_DICTIONARY" not in encodings[name]
    for name in ("query_id", "attempts", "arrival_at"):
        assert "DELTA_BINARY_PACKED" in encodings[name]
    assert "RLE_DICTIONARY" in encodings["queue"]
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    for name, kind in (("exec_s", np.int64), ("mem_mb", np.int32)):
        assert np.array_equal(
            back[name].to_numpy().view(kind), frame[name].to_numpy().view(kind)
        )
    # The values are those that dictionaries everywhere write.
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "d.parquet"
    )
    assert pq.read_table(path).equals(pq.read_table(tmp_path / "d.parquet"))


def _old_combine(parts):
    """The combination of code arrays with a factorize after every part."""
    key = np.zeros(len(parts[0]), dtype=np.int64)
    for codes in parts:
        codes = codes.astype(np.int64)
        shifted = codes - codes.min() if len(codes) else codes
        key = key * (int(shifted.max(initial=0)) + 1) + shifted
        key = pd.factorize(key)[0].astype(np.int64)
    return key


def test_routing_combinations_and_their_first_rows_equal_the_sorted_ones():
    rng = np.random.default_rng(12)
    n = 3_000
    constant = np.full(n, -1)
    for parts in (
        [constant, rng.integers(-1, 4, n), constant, rng.integers(0, 2, n)],
        [constant, constant, constant],
        [rng.integers(-1, 6, n), constant, rng.integers(-2, 1, n)],
    ):
        codes = _combine(parts)
        np.testing.assert_array_equal(codes, _old_combine(parts))
        np.testing.assert_array_equal(
            _first_rows(codes), np.unique(codes, return_index=True)[1]
        )
    assert _first_rows(np.zeros(0, np.int64)).size == 0
