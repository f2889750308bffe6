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

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dpcsim.canonical import parquet_writer
from dpcsim.engine import ClusterSettings, SimResult, dynamic_sqa_max_s, simulate_stream
from dpcsim.wlm import WLMConfig

__all__ = ["TABLES", "ParquetSink", "stream_parquet_run"]

#: The tables a run writes, by :class:`SimResult` attribute.
TABLES: Final = ("queries", "timeline", "scaling")
#: Rows per row group by default: small enough to keep the buffer (one row
#: group per table) a few tens of MB, large enough for good compression.
DEFAULT_ROW_GROUP_ROWS: Final = 65_536


class _Table:
    """One parquet file written row group by row group."""

    def __init__(self, path: Path, row_group_rows: int) -> None:
        self.path = path
        self.rows = row_group_rows
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
        self.writer.write_table(table.slice(0, rows), row_group_size=self.rows)
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
        self.writer.close()


class ParquetSink:
    """Write a streamed run's tables to ``out_dir`` incrementally.

    Parameters
    ----------
    out_dir
        Existing directory to write ``queries.parquet``, ``timeline.parquet``
        and ``scaling.parquet`` into (overwritten).
    row_group_rows
        Rows per row group [rows].

    Examples
    --------
    >>> with ParquetSink(out) as sink:  # doctest: +SKIP
    ...     summary = simulate_stream(chunks, config, sink=sink, sqa_max_s=m)
    """

    def __init__(
        self, out_dir: Path | str, *, row_group_rows: int = DEFAULT_ROW_GROUP_ROWS
    ) -> None:
        if row_group_rows < 1:
            raise ValueError(f"row_group_rows={row_group_rows}; expected >= 1")
        self.out_dir = Path(out_dir)
        self.tables = {
            name: _Table(self.out_dir / f"{name}.parquet", row_group_rows)
            for name in TABLES
        }

    def __call__(self, result: SimResult) -> None:
        """Append one slice of a run."""
        for name, table in self.tables.items():
            table.add(getattr(result, name))

    def close(self) -> dict[str, Path]:
        """Write what is buffered, close the files and return their paths."""
        for table in self.tables.values():
            table.close()
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
#: canonical missing value; no output of the replay depends on them).
UNREAD_COLUMNS: Final = ("query_text",)


def stream_parquet_run(
    path: Path,
    config: WLMConfig,
    settings: ClusterSettings,
    out_dir: Path,
    *,
    seed: int,
    batch_rows: int = DEFAULT_ROW_GROUP_ROWS,
) -> dict[str, Any]:
    """Replay a canonical ``workload.parquet`` in batches; write as it goes.

    Memory is bounded by the longest busy stretch of the run, not its length
    (see :func:`dpcsim.engine.simulate_stream`). The file must be sorted by
    arrival, as ``dpcsim ingest`` writes it. A dynamic SQA maximum is computed
    in a first pass over the file. Returns the engine's summary.
    """

    def chunks() -> Iterator[pd.DataFrame]:
        # pre_buffer=False: the default read-ahead keeps every row group read so
        # far alive until the file is closed, so peak memory grew with the run.
        source = pq.ParquetFile(path, pre_buffer=False)
        # The replay never reads the SQL text (the largest column); leaving it
        # out of the read keeps a row group's footprint small.
        columns = [c for c in source.schema_arrow.names if c not in UNREAD_COLUMNS]
        for batch in source.iter_batches(batch_size=batch_rows, columns=columns):
            yield batch.to_pandas()

    sqa = config.sqa
    dynamic = sqa is not None and sqa.enabled and not sqa.max_execution_time
    max_s = dynamic_sqa_max_s(chunks(), config) if dynamic else None
    with ParquetSink(out_dir) as sink:
        summary: dict[str, Any] = simulate_stream(
            chunks(),
            config,
            settings,
            sink=sink,
            rng=seed,
            sqa_max_s=max_s,
            quantiles="histogram",
        )
    return summary
