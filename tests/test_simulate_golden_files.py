"""``dpcsim simulate`` writes the same values as the code before its speed work.

The SHA-256 of every file of five runs (the bundled sample through the DPC
design with and without ``--timeline``, session and open replay, with a
storage model; an M/M/10 FIFO queue with and without metrics) were recorded
with the code as it was before the metrics, records, demand and read paths
were rewritten for speed (``tests/golden/simulate_files.json``). The rewritten
paths must reproduce them exactly.

``values`` holds, for every parquet file, the SHA-256 of the table it decodes
to (:func:`table_hash`: schema, pandas metadata and every value, independent
of the file's encodings). When the parquet encodings changed (floats
``BYTE_STREAM_SPLIT``, integers ``DELTA_BINARY_PACKED``: see
:func:`dpcsim.canonical.parquet_options`), the value hashes were computed
from the files of the code before that change, which matched the recorded
bytes, and the byte hashes of ``files`` re-recorded from the new code, whose
value hashes were the same. So the chain back to the code before the speed
work holds through the values, and the bytes still pin the files exactly.
Parquet bytes also depend on the pyarrow version (its ``created_by`` string)
and pandas' metadata, so the bytes are compared only under the versions the
hashes were recorded with. The value hashes leave out the two version strings
of the pandas metadata (``creator``, ``pandas_version``) and are compared
under any versions; they were re-recorded in that form from files whose bytes
matched the recorded ones. The byte hashes were then re-recorded under pandas
3.1.2 (a fresh install's), whose parquet files differ only in that metadata,
from code whose value hashes matched.

Each run is made twice: with the default choice of the plain path's loop and
with its compiled loop forced (``DPCSIM_COMPILED=always``, where numba is
installed), which must write the same bytes.

Regenerate (only for an intended output change) with
``python tests/test_simulate_golden_files.py > tests/golden/simulate_files.json``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dpcsim import logs
from dpcsim.cli import main
from dpcsim.schema import Workload, validate_workload

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
GOLDEN = Path(__file__).resolve().parent / "golden" / "simulate_files.json"
BASE_AT = pd.Timestamp("2025-01-06 00:00:00", tz="UTC")


def _fifo_workload(n: int = 20_000, seed: int = 7) -> Workload:
    """M/M/10 at rho 0.9: busy enough that about half the queries queue."""
    rng = np.random.default_rng(seed)
    arrival_us = np.round(np.cumsum(rng.exponential(1 / 9.0, n)) * 1e6)
    frame = pd.DataFrame(
        {
            "query_id": np.arange(1, n + 1, dtype=np.int64),
            "arrival_at": BASE_AT + pd.to_timedelta(arrival_us.astype(np.int64), "us"),
            "statement_type": "select",
            "exec_s": rng.exponential(1.0, n),
        }
    )
    return Workload(queries=validate_workload(frame))


def _cases(inputs: Path) -> dict[str, list[str]]:
    """Run name -> ``dpcsim simulate`` arguments (without ``--out``)."""
    logs.write_workload(_fifo_workload(), inputs / "fifo")
    fifo_wlm = inputs / "fifo.json"
    fifo_wlm.write_text(json.dumps([{"name": "fifo", "query_concurrency": 10}]))
    storage = inputs / "storage.toml"
    storage.write_text("[storage]\ninitial_used_gb = 500.0\ncapacity_gb = 2000.0\n")
    sample = ["--workload", str(SAMPLE), "--wlm", "design"]
    fifo = ["--workload", str(inputs / "fifo"), "--wlm", str(fifo_wlm)]
    return {
        "sample": [*sample, "--timeline"],
        "sample_open_seed3": [*sample, "--replay", "open", "--seed", "3"],
        "sample_storage": [*sample, "--settings", str(storage)],
        "fifo": [*fifo, "--timeline"],
        "fifo_nometrics": [*fifo, "--no-metrics"],
    }


def _versions() -> dict[str, str]:
    """The library versions the bytes depend on."""
    return {"pyarrow": pa.__version__, "pandas": pd.__version__}


def table_hash(path: Path) -> str:
    """SHA-256 of the table a parquet file decodes to, whatever its encodings.

    The Arrow IPC stream of the table in one chunk per column: its schema
    (with the pandas metadata, less its library versions) and every value's
    bits.
    """
    table = pq.read_table(path).combine_chunks()
    meta = dict(table.schema.metadata or {})
    if b"pandas" in meta:
        doc = json.loads(meta[b"pandas"])
        doc.pop("creator", None)
        doc.pop("pandas_version", None)
        meta[b"pandas"] = json.dumps(doc, sort_keys=True).encode()
    table = table.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def file_hashes(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """``run/file`` -> SHA-256 of every file the five runs write under ``root``,
    and of every parquet file's table (:func:`table_hash`)."""
    inputs = root / "inputs"
    inputs.mkdir()
    files: dict[str, str] = {}
    values: dict[str, str] = {}
    for name, args in _cases(inputs).items():
        folder = root / name
        code = main(["--quiet", "simulate", *args, "--out", str(folder), "--force"])
        assert code == 0, name
        for path in sorted(folder.iterdir()):
            key = f"{name}/{path.name}"
            files[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            if path.suffix == ".parquet":
                values[key] = table_hash(path)
    return files, values


@pytest.mark.parametrize("loop", ["auto", "always"])
def test_simulate_files_equal_the_golden_hashes(tmp_path, monkeypatch, loop):
    if loop == "always":
        pytest.importorskip("numba")
    monkeypatch.setenv("DPCSIM_COMPILED", loop)
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    files, values = file_hashes(tmp_path)
    assert sorted(files) == sorted(golden["files"])
    assert sorted(values) == sorted(golden["values"])
    differ = [k for k, digest in values.items() if golden["values"][k] != digest]
    assert not differ, f"tables differ from the recorded values: {differ}"
    if golden["versions"] != _versions():
        pytest.skip(
            f"values equal; bytes recorded under {golden['versions']}, "
            f"running {_versions()}"
        )
    differ = [k for k, digest in files.items() if golden["files"][k] != digest]
    assert not differ, f"files differ from the recorded bytes: {differ}"


def test_golden_hashes_cover_every_output_and_tell_runs_apart():
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))["files"]
    names = {key.split("/", 1)[1] for key in golden}
    assert {"queries.parquet", "metrics.parquet", "timeline.parquet"} <= names
    assert {"scaling.parquet", "summary.json", "alarm_history.csv"} <= names
    # The runs differ where they should: a hash that matched everything
    # would not be checking the metrics.
    metrics = [v for k, v in golden.items() if k.endswith("/metrics.parquet")]
    assert len(metrics) == len(set(metrics)) == 4


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        files, values = file_hashes(Path(tmp))
    document = {"versions": _versions(), "files": files, "values": values}
    json.dump(document, sys.stdout, indent=1)
    sys.stdout.write("\n")
