"""Streaming replay memory: peak RSS flat in run length, beside in-memory speed.

A subprocess replays ``n`` queries of the full DPC design
(:func:`dpcsim.designs.dpc_wlm.dpc_design_config`: three queues, SQA,
Concurrency Scaling, QMR) through :func:`dpcsim.engine.simulate_stream` with the
parquet sink into a
temporary directory. The workload is the one-week sample (``data/sample``;
generated in memory when absent) repeated week after week with new query ids,
produced one week at a time: the input is never materialised. The dynamic SQA
maximum is the sample week's (the tiled workload's differs only by quantile
interpolation). Figures: the peak RSS at 1M and 10M queries (200k and 1M when
quick), their ratio (flat => about 1; the check fails above 1.2), the 10M
(1M) target of 2 GB, and the
streamed queries/s beside ``simulate()`` on the same smaller workload held in
memory, measured in the same run.

Run with ``python -m benchmarks.bench_memory [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.peak import peak_rss_mb
from dpcsim.schema import Workload, validate_workload

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "workload.parquet"
TARGET_MB = 2048.0
#: Peak of the larger run over the smaller one at most (flat in run length).
TARGET_FLAT = 1.2
#: Columns a replay reads (the rest take their canonical missing values).
COLUMNS = (
    "query_id", "arrival_at", "statement_type", "exec_s", "user_name",
    "user_groups", "query_group", "slot_count", "fingerprint", "mem_mb",
    "cache_hit", "aborted",
)  # fmt: skip


def run(quick: bool) -> list[str]:
    """Replay the two sizes in subprocesses; return the lines to print."""
    small, large = (200_000, 1_000_000) if quick else (1_000_000, 10_000_000)
    figs = {n: _child("--stream", n) for n in (small, large)}
    ref = _child("--simulate", small)
    lines = [f"engine streaming: DPC design, peak RSS of a subprocess ({_origin()})"]
    for n, fig in figs.items():
        lines.append(
            f"    stream {n:>12,} queries: peak {fig['peak_mb']:>8,.0f} MiB, "
            f"{n / fig['seconds']:>9,.0f} queries/s, largest window "
            f"{fig['max_held']:,} queries"
        )
    ratio = figs[large]["peak_mb"] / figs[small]["peak_mb"]
    ok = figs[large]["peak_mb"] < TARGET_MB
    flat = "PASS" if ratio <= TARGET_FLAT else "FAIL"
    lines += [
        f"    peak ratio {large:,} / {small:,} = {ratio:.2f} (flat => ~1.00; "
        f"target <= {TARGET_FLAT}) {flat}",
        f"    {large:,} queries under 2 GB: {'PASS' if ok else 'FAIL'} "
        f"({figs[large]['peak_mb']:,.0f} MiB)",
        f"    in-memory simulate() {small:,} queries: peak {ref['peak_mb']:,.0f} MiB, "
        f"{small / ref['seconds']:,.0f} queries/s; stream/simulate speed = "
        f"{ref['seconds'] / figs[small]['seconds']:.2f}",
    ]
    return lines


def _child(mode: str, n: int) -> dict[str, float]:
    """Run this module in a subprocess and return its JSON figures."""
    cmd = [sys.executable, "-m", "benchmarks.bench_memory", mode, str(n)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
    out: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _origin() -> str:
    return "data/sample week tiled" if SAMPLE.is_file() else "generated week tiled"


def _week() -> pd.DataFrame:
    """The sample week's queries in canonical form."""
    if SAMPLE.is_file():
        frame = pd.read_parquet(SAMPLE, columns=list(COLUMNS))
        return validate_workload(frame)
    from dpcsim.workload import DPCWorkloadSpec, generate_dpc_workload

    return generate_dpc_workload(DPCWorkloadSpec(days=7), rng=20250526).queries


def weeks(base: pd.DataFrame, n: int) -> Iterator[pd.DataFrame]:
    """Yield ``n`` queries: ``base`` shifted by one week per chunk, new ids."""
    week = pd.Timedelta(days=7)
    qid = base["query_id"].to_numpy(np.int64)
    rank = np.argsort(np.argsort(qid, kind="stable"), kind="stable")
    k, done = 0, 0
    while done < n:
        chunk = base.iloc[: n - done].copy()
        ids = k * len(base) + 1 + rank[: len(chunk)]
        chunk["query_id"] = ids
        chunk["task_id"] = ids
        chunk["arrival_at"] = chunk["arrival_at"] + k * week
        yield chunk
        done += len(chunk)
        k += 1


def _stream(n: int) -> dict[str, float]:
    from dpcsim import engine
    from dpcsim.designs.dpc_wlm import dpc_design_config
    from dpcsim.run_stream import ParquetSink

    base = _week()
    config = dpc_design_config()
    max_s = engine.dynamic_sqa_max_s([base], config)
    stats: dict[str, int] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out, ParquetSink(out) as sink:
        # The summary's percentiles from the fixed log-histogram, as the
        # command streams (exact ones keep 9 B per query).
        engine.simulate_stream(
            weeks(base, n), config, sink=sink, rng=0, sqa_max_s=max_s, stats=stats,
            quantiles="histogram",
        )  # fmt: skip
    seconds = time.perf_counter() - started
    return {"peak_mb": peak_rss_mb(), "seconds": seconds, **stats}


def _simulate(n: int) -> dict[str, float]:
    from dpcsim import engine
    from dpcsim.designs.dpc_wlm import dpc_design_config

    frame = pd.concat(list(weeks(_week(), n)), ignore_index=True)
    workload = Workload(queries=frame)
    started = time.perf_counter()
    engine.simulate(workload, dpc_design_config(), rng=0)
    return {"peak_mb": peak_rss_mb(), "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--stream", type=int, help="child: stream n queries")
    parser.add_argument("--simulate", type=int, help="child: simulate n in memory")
    args = parser.parse_args()
    if args.stream:
        print(json.dumps(_stream(args.stream)))
    elif args.simulate:
        print(json.dumps(_simulate(args.simulate)))
    else:
        print("\n".join(run(args.quick)))


if __name__ == "__main__":
    main()
