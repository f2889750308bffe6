"""The sweep's result store: one parquet file per finished run, published atomically.

Layout of a sweep folder::

    DIR/space.toml          the space the sweep ran (a copy)
    DIR/runs/<run_key>.parquet
                            one row per finished run (ok or failed), written to a
                            temporary name and renamed into place, so a reader
                            (or a resumed sweep) sees a run completely or not at
                            all
    DIR/results.parquet     every run, one row each (rebuilt from runs/)
    DIR/stats.csv           means and intervals (see dpcsim.experiments.stats)

A sweep killed at any moment (Ctrl-C, SIGKILL of the driver, a dead worker)
loses at most the runs not yet renamed into ``runs/``; resuming skips every key
present there, so no run is redone or duplicated.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["ResultStore", "write_recommendation"]

_FIRST = [
    "run_key",
    "config_id",
    "scenario_id",
    "assumption_id",
    "replication",
    "status",
    "error",
    "seed",
]


class ResultStore:
    """A sweep folder's run store.

    Parameters
    ----------
    root
        The sweep folder (created if missing).
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.runs = self.root / "runs"
        self.runs.mkdir(parents=True, exist_ok=True)
        for stale in self.runs.glob(".tmp-*"):
            stale.unlink(missing_ok=True)
        # The tables this store published: load() need not read them back.
        self._published: dict[str, pa.Table] = {}

    def done_keys(self) -> set[str]:
        """Keys of every published run."""
        return {p.stem for p in self.runs.glob("*.parquet")}

    def publish(self, row: Mapping[str, Any]) -> None:
        """Write one run's row under its key, atomically (write, fsync, rename)."""
        key = str(row["run_key"])
        final = self.runs / f"{key}.parquet"
        if final.exists():
            return
        tmp = self.runs / f".tmp-{key}-{uuid.uuid4().hex}"
        table = pa.Table.from_pylist([dict(row)])
        with tmp.open("wb") as fh:
            # One row: compression, statistics and dictionaries would only
            # cost time (zstd alone triples the write).
            pq.write_table(
                table,
                fh,
                compression="none",
                write_statistics=False,
                use_dictionary=False,
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        self._published[key] = table

    def publish_all(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Publish several rows."""
        for row in rows:
            self.publish(row)

    def load(self) -> pd.DataFrame:
        """Every published run as one frame, sorted by key (fixed column order).

        Runs this store published are taken from memory, the others (an earlier
        sweep's) read from their files: the same frame either way (tested).
        """
        files = sorted(self.runs.glob("*.parquet"))
        if not files:
            return pd.DataFrame(columns=_FIRST)
        tables = [
            self._published[f.stem] if f.stem in self._published else pq.read_table(f)
            for f in files
        ]
        # One Arrow concatenation per schema (runs of one kind share theirs),
        # then pandas aligns the few kinds (failed runs have no metrics).
        kinds: dict[pa.Schema, list[pa.Table]] = {}
        for table in tables:
            kinds.setdefault(table.schema, []).append(table)
        frames = [pa.concat_tables(group).to_pandas() for group in kinds.values()]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        rest = sorted(c for c in frame.columns if c not in _FIRST)
        cols = [c for c in _FIRST if c in frame.columns] + rest
        out: pd.DataFrame = frame[cols].sort_values("run_key", kind="stable")
        return out.reset_index(drop=True)

    def write_results(self, frame: pd.DataFrame) -> Path:
        """Write results.parquet atomically."""
        return _atomic_parquet(frame, self.root / "results.parquet")

    def write_text(self, name: str, text: str) -> Path:
        """Write a text file atomically."""
        path = self.root / name
        tmp = path.with_name(f".tmp-{name}-{uuid.uuid4().hex}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        return path


def write_recommendation(rec: Any, out_dir: str | Path) -> list[Path]:
    """Write recommendation.json, pareto.csv, headroom.csv, alarm_tuning.csv."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "recommendation.json", out / "pareto.csv", out / "headroom.csv"]
    paths[0].write_text(
        json.dumps(rec.document, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    rec.pareto.to_csv(paths[1], index=False)
    rec.headroom.to_csv(paths[2], index=False)
    if rec.alarm_tuning is not None:
        paths.append(out / "alarm_tuning.csv")
        rec.alarm_tuning.to_csv(paths[-1], index=False)
    return paths


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> Path:
    tmp = path.with_name(f".tmp-{path.name}-{uuid.uuid4().hex}")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return path
