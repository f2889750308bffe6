"""Streamed runs: a parquet sink for :func:`dpcsim.engine.simulate_stream`.

:class:`ParquetSink` appends each slice's ``queries``, ``timeline`` and
``scaling`` rows to ``queries.parquet``, ``timeline.parquet`` and
``scaling.parquet`` in a directory. Rows are buffered and written in row groups
of exactly ``row_group_rows`` rows (the last one shorter), with the codec and
options of :func:`dpcsim.canonical.write_parquet`, so the files are
byte-identical whatever the stream's chunk and window sizes (and, with
``row_group_rows=1024 * 1024``, pyarrow's default, identical to writing the
whole frames at once with ``pq.write_table``). At most one row group per table
is buffered, which bounds the sink's memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dpcsim.alarms import AlarmSpec, evaluate_alarms
from dpcsim.alarms.cluster import resolve_cluster_id
from dpcsim.alarms.history import write_alarm_run
from dpcsim.canonical import parquet_writer, write_parquet
from dpcsim.designs import Design, default_design
from dpcsim.engine import ClusterSettings, SimResult, dynamic_sqa_max_s, simulate_stream
from dpcsim.engine.plain import preload_for
from dpcsim.logs.store import read_side_tables
from dpcsim.metrics.storage import storage_from_table
from dpcsim.metrics.stream import StreamMetrics
from dpcsim.wlm import WLMConfig

__all__ = ["TABLES", "ParquetSink", "StreamMeasure", "stream_parquet_run"]

T = TypeVar("T")

#: The tables a run writes, by :class:`SimResult` attribute.
TABLES: Final = ("queries", "timeline", "scaling")
#: Rows per row group by default: small enough to keep the buffer (one row
#: group per table) a few tens of MB, large enough for good compression.
DEFAULT_ROW_GROUP_ROWS: Final = 65_536
#: Read buffer per column chunk [bytes]: the reader streams a row group's
#: column chunks through it instead of loading each whole (pyarrow's 0).
READ_BUFFER_BYTES: Final = 1 << 20


class _Background:
    """One writer thread, at most :data:`PENDING_WRITES` writes queued.

    pyarrow encodes and compresses without the GIL, so writing a row group
    beside the engine's Python loop uses the second core; the writes run in
    submission order, so the files are the same bytes as written inline, and
    the queue bound keeps at most that many row groups alive.
    """

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dpcsim-write")
        self.pending: deque[Future[None]] = deque()

    def submit(self, call: Callable[[], None]) -> None:
        """Queue ``call`` after the earlier ones (waits while the queue is full)."""
        while len(self.pending) >= PENDING_WRITES:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(call))

    def drain(self) -> None:
        """Wait for every queued write (re-raising its error); stop the thread."""
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown(wait=True)


#: Row groups queued for the writer thread at most (memory bound).
PENDING_WRITES: Final = 2


class _Table:
    """One parquet file written row group by row group."""

    def __init__(
        self, path: Path, row_group_rows: int, background: _Background
    ) -> None:
        self.path = path
        self.rows = row_group_rows
        self.background = background
        self.writer: pq.ParquetWriter | None = None
        self.parts: list[pa.Table] = []
        self.n = 0
        self.schema: pa.Schema | None = None
        self.closed = False

    def add(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.schema is None:
            self.schema = table.schema
        if table.num_rows:
            self.parts.append(table)
            self.n += table.num_rows
        while self.n >= self.rows:
            self._flush(self.rows)

    def _flush(self, rows: int) -> None:
        assert self.schema is not None
        table = pa.concat_tables(self.parts).combine_chunks()
        if self.writer is None:
            self.writer = parquet_writer(self.path, self.schema)
        writer, group, size = self.writer, table.slice(0, rows), self.rows
        self.background.submit(lambda: writer.write_table(group, row_group_size=size))
        rest = table.slice(rows)
        self.parts = [rest] if rest.num_rows else []
        self.n = rest.num_rows

    def close(self) -> None:
        if self.schema is None or self.closed:
            return
        self.closed = True
        if self.n or self.writer is None:
            if not self.parts:
                self.parts = [self.schema.empty_table()]
            self._flush(self.n)
        assert self.writer is not None
        self.background.submit(self.writer.close)


class ParquetSink:
    """Write a streamed run's tables to ``out_dir`` incrementally.

    Parameters
    ----------
    out_dir
        Existing directory to write ``queries.parquet``, ``timeline.parquet``
        and ``scaling.parquet`` into (overwritten).
    row_group_rows
        Rows per row group [rows].
    tables
        Which of :data:`TABLES` to write (default all).

    Examples
    --------
    >>> with ParquetSink(out) as sink:  # doctest: +SKIP
    ...     summary = simulate_stream(chunks, config, sink=sink, sqa_max_s=m)
    """

    def __init__(
        self,
        out_dir: Path | str,
        *,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
        tables: tuple[str, ...] = TABLES,
    ) -> None:
        if row_group_rows < 1:
            raise ValueError(f"row_group_rows={row_group_rows}; expected >= 1")
        unknown = sorted(set(tables) - set(TABLES))
        if unknown:
            raise ValueError(f"tables={unknown}; expected some of {list(TABLES)}")
        self.out_dir = Path(out_dir)
        self.background = _Background()
        self.tables = {
            name: _Table(
                self.out_dir / f"{name}.parquet", row_group_rows, self.background
            )
            for name in TABLES
            if name in tables
        }

    def __call__(self, result: SimResult) -> None:
        """Append one slice of a run."""
        for name, table in self.tables.items():
            table.add(getattr(result, name))

    def close(self) -> dict[str, Path]:
        """Write what is buffered, close the files and return their paths."""
        try:
            for table in self.tables.values():
                table.close()
        finally:
            self.background.drain()
        return {n: t.path for n, t in self.tables.items() if t.schema is not None}

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


#: Workload columns the streamed replay does not read (they take their
#: canonical missing value; no output of the replay depends on them). With
#: metrics the SQL text is read, dictionary-encoded, for the mart tables.
UNREAD_COLUMNS: Final = ("query_text",)


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamMeasure:
    """What a streamed run measures besides its records (all optional).

    Attributes
    ----------
    design
        The cluster's design (ELT contract, environment); None: the default.
    cluster_id
        ``ClusterIdentifier`` of the datapoints; None: the design's.
    alarms
        Alarms to back-test on the datapoints (``()``: none).
    """

    design: Design | None = None
    cluster_id: str | None = None
    alarms: tuple[AlarmSpec, ...] = ()


def stream_parquet_run(
    path: Path,
    config: WLMConfig,
    settings: ClusterSettings,
    out_dir: Path,
    *,
    seed: int,
    batch_rows: int = DEFAULT_ROW_GROUP_ROWS,
    measure: StreamMeasure | None = None,
    timeline: bool = True,
    window: int = 65_536,
    stats: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Replay a canonical ``workload.parquet`` in batches; write as it goes.

    Memory is bounded by the longest busy stretch of the run, not its length
    (see :func:`dpcsim.engine.simulate_stream`). The file must be sorted by
    arrival, as ``dpcsim ingest`` writes it. A dynamic SQA maximum is computed
    in a first pass over the file. With ``measure`` the CloudWatch datapoints
    are accumulated per slice (:class:`dpcsim.metrics.stream.StreamMetrics`,
    the same bytes as the in-memory run's ``metrics.parquet``), written to
    ``metrics.parquet`` and, with alarms, back-tested into
    ``alarm_history.csv`` / ``alarm_summary.csv``. ``timeline=False`` leaves
    ``timeline.parquet`` out. ``window`` is the engine's window [arrivals]
    and ``stats`` (filled with the window counts) are as for
    :func:`dpcsim.engine.simulate_stream`. Returns the engine's summary.
    """
    read_text = measure is not None
    # A long plain stream loads its compiled loop meanwhile: every window then
    # takes it (windows are shorter than the threshold of a single run).
    with pq.ParquetFile(path) as footer:
        rows, memory_known = footer.metadata.num_rows, _memory_known(footer)
    preload_for(rows, config, settings, memory_known=memory_known)

    def chunks() -> Iterator[pd.DataFrame]:
        # pre_buffer=False: the default read-ahead keeps every row group read so
        # far alive until the file is closed, so peak memory grew with the run.
        # The SQL text (the largest column) is read only for the metrics, as
        # a dictionary: a row group's distinct texts, not one string per row.
        source = pq.ParquetFile(
            path,
            pre_buffer=False,
            buffer_size=READ_BUFFER_BYTES,
            read_dictionary=["query_text"] if read_text else None,
        )
        names = source.schema_arrow.names
        columns = [c for c in names if read_text or c not in UNREAD_COLUMNS]
        batches = source.iter_batches(batch_size=batch_rows, columns=columns)
        yield from _prefetched(batch.to_pandas() for batch in batches)

    sqa = config.sqa
    dynamic = sqa is not None and sqa.enabled and not sqa.max_execution_time
    max_s = dynamic_sqa_max_s(chunks(), config, settings) if dynamic else None
    acc = None if measure is None else _accumulator(path, config, settings, measure)
    tables = TABLES if timeline else tuple(t for t in TABLES if t != "timeline")
    with ParquetSink(out_dir, tables=tables) as sink:

        def take(result: SimResult) -> None:
            sink(result)
            if acc is not None:
                log = result.state_log
                timeline = result.timeline if log is None else log
                rows = result.summary["rows"]
                acc.add(result.queries, timeline, result.scaling, rows, result.start_at)

        summary: dict[str, Any] = simulate_stream(
            chunks(),
            config,
            settings,
            sink=take,
            rng=seed,
            sqa_max_s=max_s,
            quantiles="histogram",
            rows=acc is not None,
            window=window,
            stats=stats,
        )
    if acc is not None and measure is not None:
        datapoints = acc.finish()
        write_parquet(datapoints, Path(out_dir) / "metrics.parquet")
        if measure.alarms:
            write_alarm_run(
                evaluate_alarms(measure.alarms, datapoints), out_dir, force=True
            )
    return summary


def _memory_known(source: pq.ParquetFile) -> bool:
    """Whether any ``mem_mb`` in the file is above 0 (from its statistics)."""
    names = source.schema.names  # the file's leaf columns, as its row groups
    if "mem_mb" not in names:
        return False
    col = names.index("mem_mb")
    meta = source.metadata
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(col).statistics
        if stats is None or not stats.has_min_max:
            if stats is None or stats.null_count != meta.row_group(g).num_rows:
                return True  # unknown: assume demand is known
            continue
        if stats.max > 0.0:
            return True
    return False


def _prefetched(items: Iterator[T]) -> Iterator[T]:
    """``items``, the next one produced in a thread while the caller works.

    Reading and decoding parquet release the GIL, so the next batch is read
    on the second core; one item is held ahead (a bounded read-ahead).
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dpcsim-read") as pool:
        ahead = pool.submit(next, items, None)
        while True:
            item = ahead.result()
            if item is None:
                return
            ahead = pool.submit(next, items, None)
            yield item


def _accumulator(
    path: Path, config: WLMConfig, settings: ClusterSettings, measure: StreamMeasure
) -> StreamMetrics:
    """The per-slice metrics of a run, as :meth:`dpcsim.run.Run.simulate` has them."""
    design = default_design() if measure.design is None else measure.design
    default_id = design.cluster_id
    cluster_id = resolve_cluster_id(measure.cluster_id, measure.alarms, default_id)
    elt_runs, load_errors = read_side_tables(path)
    return StreamMetrics(
        elt=design.elt,
        cluster_id=cluster_id,
        environment=design.environment,
        elt_runs=elt_runs,
        load_errors=load_errors,
        queues=config.queue_names,
        storage=storage_from_table(settings.storage),
        elt_cadence_min=design.elt.cadence_min,
    )
