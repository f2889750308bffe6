"""Ingest speed and peak memory on a 1,000,000-row SVL_QLOG + STL_WLM_QUERY pair.

Target (issue 2, section 3): at most 15 s and 2 GB peak memory for the 1M pair.
The pair is written with dpcsim's own writers (gzip CSV, AWS layout), then
``dpcsim.logs.ingest`` runs in a fresh subprocess that reports its wall time and
``ru_maxrss``. The reference, measured in the same run on the same files, is a
plain ``pyarrow.csv.read_csv`` of both files (type inference, no checks): the
ratio ingest/reference says what the checks, the join and the canonical frame
cost on this machine. ``quick`` uses 200,000 rows.

Run alone with ``python -m benchmarks.bench_ingest [--quick]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dpcsim.logs import write_stl_wlm_query, write_svl_qlog
from dpcsim.schema import validate_workload

TARGET_S = 15.0
TARGET_MB = 2048.0
FULL_ROWS = 1_000_000
QUICK_ROWS = 200_000

_TEMPLATES = (
    "select * from mart.fct_learning where course_id = {}",
    "select count(*) from mart.dim_learner where cohort = '{}'",
    "insert into mart.fct_progress select * from stage.progress where d = {}",
    "copy stage.events from 's3://dpc/events/{}/' iam_role default",
    "create table mart.fct_{} as select * from stage.x",
    "delete from stage.tmp where batch_id = {}",
    "analyze stage.events_{}",
)

# Peak memory of the child itself [MB]: VmHWM resets at exec, whereas ru_maxrss
# keeps the parent's peak inherited through fork (the parent holds the workload).
_PEAK = """
def PEAK():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

_INGEST = """
import json, resource, sys, time
t0 = time.perf_counter()
from dpcsim.logs import ingest
r = ingest(sys.argv[1:])
s = time.perf_counter() - t0
peak = PEAK()
print(json.dumps({"seconds": s, "peak_mb": peak, "queries": len(r.workload.queries),
                  "rows": r.summary.rows_read, "rejected": len(r.rejects)}))
"""

_REFERENCE = """
import json, resource, sys, time
t0 = time.perf_counter()
import pyarrow.csv as c
rows = sum(c.read_csv(p).num_rows for p in sys.argv[1:])
s = time.perf_counter() - t0
peak = PEAK()
print(json.dumps({"seconds": s, "peak_mb": peak, "rows": rows}))
"""


def synthetic_queries(n: int, seed: int = 0) -> pd.DataFrame:
    """A canonical frame of ``n`` queries over a week (vectorised, seeded)."""
    rng = np.random.default_rng(seed)
    start_us = pd.Timestamp("2024-03-01", tz="UTC").value // 1000
    arrival = np.sort(rng.integers(0, 7 * 86_400 * 10**6, n)) + start_us
    template = rng.integers(0, len(_TEMPLATES), n)
    literal = rng.integers(0, 2_000, n)
    text = [_TEMPLATES[t].format(v) for t, v in zip(template, literal, strict=True)]
    sc = rng.choice(np.array([6, 7, 8, 14]), n, p=[0.4, 0.4, 0.1, 0.1])
    names = np.array(
        ["", "", "", "", "", "", "batch", "adhoc", "admin"] + [""] * 5 + ["sqa"]
    )
    frame = pd.DataFrame(
        {
            "query_id": np.arange(100_000, 100_000 + n),
            "arrival_at": pd.to_datetime(arrival, unit="us", utc=True),
            "user_id": rng.integers(100, 600, n),
            "query_group": np.where(template >= 2, "elt", "default"),
            "statement_type": "other",
            "exec_s": np.round(rng.lognormal(-3.0, 2.0, n), 6),
            "queue_s": np.round(rng.exponential(1.0, n) * (rng.random(n) < 0.1), 6),
            "service_class": sc,
            "queue": names[sc],
            "aborted": rng.random(n) < 0.005,
            "cache_hit": rng.random(n) < 0.1,
            "ran_on_cs": rng.random(n) < 0.02,
            "query_text": text,
        }
    )
    return validate_workload(frame)


def run(quick: bool) -> list[str]:
    """Write the pair, time ingest and the reference; return the lines to print."""
    n = QUICK_ROWS if quick else FULL_ROWS
    with tempfile.TemporaryDirectory(prefix="dpcsim-bench-ingest-") as tmp:
        folder = Path(tmp)
        queries = synthetic_queries(n)
        files = [
            str(write_svl_qlog(queries, folder / "svl_qlog.csv.gz")),
            str(write_stl_wlm_query(queries, folder / "stl_wlm_query.csv.gz")),
        ]
        del queries
        reference = _child(_REFERENCE, files)
        measured = _child(_INGEST, files)
    rows = int(measured["rows"])
    seconds = float(measured["seconds"])
    peak = float(measured["peak_mb"])
    # Time grows linearly with rows, so a quick run is judged on its time scaled
    # to 1M; its memory is judged unscaled (the interpreter baseline dominates).
    scale = FULL_ROWS / n
    verdict_s = "PASS" if seconds * scale <= TARGET_S else "FAIL"
    verdict_mb = "PASS" if peak <= TARGET_MB else "FAIL"
    note = "" if scale == 1 else f" (quick; time verdict scaled x{scale:g})"
    return [
        f"ingest {n:,}-query SVL_QLOG + STL_WLM_QUERY pair ({rows:,} rows){note}",
        f"  ingest:    {seconds:6.2f} s, {rows / seconds:,.0f} rows/s, "
        f"peak {peak:,.0f} MB -> {len(files)} files, {measured['queries']:,} queries, "
        f"{measured['rejected']} rejected",
        f"  reference: {reference['seconds']:6.2f} s, "
        f"{reference['rows'] / reference['seconds']:,.0f} rows/s, peak "
        f"{reference['peak_mb']:,.0f} MB (plain pyarrow.csv.read_csv)",
        f"  ratio ingest/reference: time {seconds / reference['seconds']:.1f}x, "
        f"memory {peak / reference['peak_mb']:.1f}x",
        f"  target <= {TARGET_S:g} s: {verdict_s}; target <= {TARGET_MB:,.0f} MB: "
        f"{verdict_mb}",
    ]


_PEAK_IMPORTS = "import resource\n"


def _child(code: str, files: list[str]) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; return the JSON it prints."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_IMPORTS + _PEAK + code, *files],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"benchmark child failed after "
            f"{time.perf_counter() - started:.1f} s:\n{done.stderr}"
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    for line in run(quick="--quick" in sys.argv[1:]):
        print(line)
