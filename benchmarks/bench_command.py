"""What a user pays: the whole ``dpcsim simulate`` command, its phases, a sweep run.

Every figure is printed beside the reference it is measured against in the
same run (the machine is shared: ratios hold, absolute seconds drift):

(a) 1,000,000 queries (200,000 when quick) of M/M/10 at rho 0.9 through one
    FIFO queue of 10 slots, read from an ingested ``workload.parquet``:
    ``dpcsim simulate`` as a cold process with its default outputs, against a
    plain ``heapq`` event loop of 10 slots on the same arrivals and durations
    (inputs converted outside its timing) and against the bare engine
    (``simulate_arrays``, in-process). The command's own ``--timings`` give
    the phase breakdown (read, route, prepare, demand, engine, records, metrics,
    alarms, write) in seconds. Target: command <= 2.0 x heapq.
(b) The same command with ``--stream`` (metrics and the alarm back-test
    included): time against the heapq loop (target <= 2.5 x), the same
    with ``--no-metrics``, and peak memory; with ``DPCSIM_BENCH_10M=1`` also
    at 10,000,000 queries, the ratio failing its check above 1.2.
(c) In-memory ``dpcsim simulate`` of 3,000,000 queries through the DPC design
    (the sample week tiled): peak memory per query above the peak of a
    process that only imports the command. Target <= 600 B/query. Skipped
    when quick.
(d) A run inside a sweep: the DPC design on the sample week, in-process,
    prepared once (:meth:`dpcsim.run.Run.prepare`), then
    :meth:`~dpcsim.run.Run.simulate_prepared` per seed: seconds per run and
    the ratio to the engine loop alone. Target <= 0.12 s per run.

Each time is the best of :data:`REPEATS`. The command's processes compile
dpcsim's modules once into a temporary bytecode cache (as an installed
package ships them compiled), also where ``PYTHONDONTWRITEBYTECODE`` is set:
otherwise every cold start would pay ~0.1 s of compiling. Run with
``python -m benchmarks.bench_command [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.peak import peak_rss_mb
from benchmarks.reference import heapq_event_loop_waits
from dpcsim.hugepages import NUMPY_HUGEPAGE_VARIABLE

REPEATS = 3
REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
BASE_AT = pd.Timestamp("2025-01-06 00:00:00", tz="UTC")
FIFO_WLM = [{"name": "fifo", "query_concurrency": 10}]
TARGET_COMMAND = 2.0
TARGET_STREAM = 2.5
TARGET_FLAT = 1.2
TARGET_BYTES = 600.0
TARGET_SWEEP_S = 0.12


def run(quick: bool) -> list[str]:
    """Run (a)-(d); return the lines to print."""
    n = 200_000 if quick else 1_000_000
    lines = [f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"]
    with tempfile.TemporaryDirectory(prefix="dpcsim-bench-") as tmp:
        root = Path(tmp)
        arrival_s, exec_s = _fifo_inputs(root, n)
        t_heapq = _best(lambda: heapq_event_loop_waits(arrival_s, exec_s, 10))
        lines += _command(root, n, t_heapq)
        lines += _stream(
            root, n, t_heapq, large=bool(os.environ.get("DPCSIM_BENCH_10M"))
        )
        if not quick:
            lines += _memory(root, 3_000_000)
    lines += _sweep()
    return lines


def _best(call: Any) -> float:
    """Best wall time of :data:`REPEATS` calls [s]."""
    best = float("inf")
    for _ in range(REPEATS):
        gc.collect()
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def _fifo_inputs(root: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Write the M/M/10 workload and WLM file under ``root``; return its arrays."""
    from benchmarks.bench_engine import _mmc_workload
    from dpcsim.logs import write_workload

    workload, arrival_s, exec_s = _mmc_workload(n, seed=2024)
    write_workload(workload, root / f"fifo{n}")
    (root / "fifo.json").write_text(json.dumps(FIFO_WLM), encoding="utf-8")
    return arrival_s, exec_s


def _cli(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[float, dict[str, float]]:
    """Best wall time of a cold ``dpcsim`` process and its ``--timings`` phases
    (``env``: variables set for the process)."""
    best, phases = float("inf"), {}
    cmd = [sys.executable, "-m", "dpcsim", "--quiet", *args, "--force"]
    for _ in range(REPEATS):
        started = time.perf_counter()
        done = subprocess.run(
            cmd,
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            env={**_env(root), **(env or {})},
        )
        wall = time.perf_counter() - started
        if wall < best:
            best, phases = wall, _phases(done.stderr)
    return best, phases


def _env(root: Path) -> dict[str, str]:
    """The environment of a command process: bytecode cached under ``root``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": str(root / "pycache")}


def _phases(stderr: str) -> dict[str, float]:
    """Parse ``phases [s]: read 0.1, ...`` from the command's stderr."""
    for line in stderr.splitlines():
        if "phases [s]:" in line:
            items = line.split("phases [s]:", 1)[1].split(",")
            return {k: float(v) for k, v in (i.split() for i in items)}
    return {}


def _command(root: Path, n: int, t_heapq: float) -> list[str]:
    """(a) the whole command, the bare engine, the phases."""
    from dpcsim import logs
    from dpcsim.engine.simulate import prepare_inputs, simulate_arrays
    from dpcsim.run import PhaseTimer
    from dpcsim.wlm import QueueConfig, WLMConfig

    workload = logs.read_workload(root / f"fifo{n}")
    config = WLMConfig(queues=(QueueConfig(name="fifo", query_concurrency=10),))
    arrays = prepare_inputs(workload, config)
    loop = float("inf")

    def bare() -> None:
        nonlocal loop
        timer = PhaseTimer()
        simulate_arrays(arrays, config, rng=0, phase=timer.phase)
        loop = min(loop, timer.seconds["engine"])

    t_engine = _best(bare)
    del workload
    wl = f"fifo{n}"
    t_cmd, phases = _cli(
        root, "simulate", "--workload", wl, "--wlm", "fifo.json", "--out", "out",
        "--timings",
    )  # fmt: skip
    inside = sum(v for k, v in phases.items() if k != "total")
    phases["start-up, imports, exit"] = t_cmd - inside
    # The same command with the plain path's Python loop (no numba).
    t_python, python_phases = _cli(
        root, "simulate", "--workload", wl, "--wlm", "fifo.json", "--out", "outpy",
        "--timings", env={"DPCSIM_COMPILED": "never"},
    )  # fmt: skip
    ratio = t_cmd / t_heapq
    ok = "OK" if ratio <= TARGET_COMMAND else "ABOVE TARGET"
    lines = [
        f"(a) dpcsim simulate, cold process, {n:,} queries, one FIFO queue of 10 slots",
        f"    heapq loop (reference)      {t_heapq:7.2f} s",
        f"    engine loop (in-process)    {loop:7.2f} s   {loop / t_heapq:.2f} x heapq",
        f"    bare engine + its records   {t_engine:7.2f} s   "
        f"{t_engine / t_heapq:.2f} x heapq",
        f"    whole command               {t_cmd:7.2f} s   {ratio:.2f} x heapq "
        f"(target <= {TARGET_COMMAND}) {ok}",
        f"    same, DPCSIM_COMPILED=never {t_python:7.2f} s   "
        f"{t_python / t_heapq:.2f} x heapq (engine phase "
        f"{python_phases.get('engine', float('nan')):.2f} s)",
        "    phases of the best run [s, share of the command]:",
    ]
    for name, seconds in phases.items():
        if name != "total":
            lines.append(f"      {name:<24}{seconds:7.3f}  {seconds / t_cmd:6.1%}")
    return lines


def _stream(root: Path, n: int, t_heapq: float, *, large: bool) -> list[str]:
    """(b) --stream time and peak memory (and at 10M with DPCSIM_BENCH_10M)."""
    wl = f"fifo{n}"
    t_stream, _ = _cli(
        root, "simulate", "--workload", wl, "--wlm", "fifo.json", "--out", "s",
        "--stream",
    )  # fmt: skip
    t_bare, _ = _cli(
        root, "simulate", "--workload", wl, "--wlm", "fifo.json", "--out", "sn",
        "--stream", "--no-metrics",
    )  # fmt: skip
    ratio = t_stream / t_heapq
    ok = "OK" if ratio <= TARGET_STREAM else "ABOVE TARGET"
    peak = _child_peak(root, "simulate", "--workload", wl, "--wlm", "fifo.json",
                       "--out", "sp", "--stream", "--force")  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "dpcsim", "--quiet", "simulate", "--workload", wl,
         "--wlm", "fifo.json", "--out", "o", "--replay", "open", "--force"],
        cwd=root, capture_output=True, check=True, env=_env(root),
    )  # fmt: skip
    same = _same_outputs(root / "s", root / "o")
    lines = [
        f"(b) dpcsim simulate --stream, {n:,} queries: {t_stream:.2f} s = "
        f"{ratio:.2f} x heapq (target <= {TARGET_STREAM}) {ok}; peak {peak:,.0f} MiB",
        f"    without metrics and alarms (--no-metrics): {t_bare:.2f} s = "
        f"{t_bare / t_heapq:.2f} x heapq",
        "    the stream's queries/scaling/metrics parquet (row groups of 65,536 "
        "rows) and alarm back-test against the in-memory --replay open run: "
        + ("equal, every value to the bit (checked)" if same else "DIFFER"),
    ]
    if large:
        big = 10 * n
        _fifo_inputs(root, big)
        peak_big = _child_peak(
            root, "simulate", "--workload", f"fifo{big}", "--wlm", "fifo.json",
            "--out", "sb", "--stream", "--force",
        )  # fmt: skip
        flat = peak_big / peak
        verdict = "PASS" if flat <= TARGET_FLAT else "FAIL"
        lines.append(
            f"    peak {big:,} / {n:,} = {peak_big:,.0f} / {peak:,.0f} MiB = "
            f"{flat:.2f} (target <= {TARGET_FLAT}) {verdict}"
        )
    else:
        lines.append(
            "    (set DPCSIM_BENCH_10M=1 for the 10x run and the flatness check)"
        )
    return lines


def _same_outputs(stream: Path, memory: Path) -> bool:
    """Whether two runs' tables hold the same values and their CSVs the same bytes."""
    import pyarrow.parquet as pq

    for name in ("queries", "scaling", "metrics"):
        a = pq.read_table(stream / f"{name}.parquet")
        b = pq.read_table(memory / f"{name}.parquet")
        if not a.equals(b):
            return False
    return all(
        (stream / f).read_bytes() == (memory / f).read_bytes()
        for f in ("alarm_history.csv", "alarm_summary.csv")
    )


def _child_peak(root: Path, *args: str) -> float:
    """Peak RSS [MiB] of a cold process running ``dpcsim ARGS``."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_command",
        "--child",
        "--quiet",
        *args,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # This module imports numpy before the command's main() could turn its
    # huge pages off (dpcsim.hugepages): set it as the command would.
    env.setdefault(NUMPY_HUGEPAGE_VARIABLE, "0")
    done = subprocess.run(
        cmd, cwd=root, capture_output=True, text=True, check=True, env=env
    )
    peak: float = json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]
    return peak


def _memory(root: Path, n: int) -> list[str]:
    """(c) in-memory DPC design: bytes per query above the import baseline."""
    from benchmarks.bench_memory import _week, weeks
    from dpcsim.logs import write_workload
    from dpcsim.schema import Workload

    frame = pd.concat(list(weeks(_week(), n)), ignore_index=True)
    write_workload(Workload(queries=frame), root / "dpc3m")
    del frame
    gc.collect()
    base = _child_peak(root, "--version-imports")
    peak = _child_peak(root, "simulate", "--workload", "dpc3m", "--wlm", "design",
                       "--out", "m", "--force")  # fmt: skip
    per_query = (peak - base) * 1024 * 1024 / n
    ok = "OK" if per_query <= TARGET_BYTES else "ABOVE TARGET"
    return [
        f"(c) in-memory dpcsim simulate, DPC design, {n:,} queries "
        f"(sample week tiled): peak {peak:,.0f} MiB, import baseline {base:,.0f} MiB",
        f"    {per_query:,.0f} B/query above the baseline (target <= "
        f"{TARGET_BYTES:.0f}) {ok}",
    ]


def _sweep() -> list[str]:
    """(d) a run inside a sweep: prepared once, replayed per seed."""
    from benchmarks.bench_engine import _sample_week
    from dpcsim.designs import load_design
    from dpcsim.run import PhaseTimer, Run

    week, origin = _sample_week()
    design = load_design("dpc")
    prepared = Run.prepare(week, design.wlm, None, design)
    # As the sweep runs it: only the series the alarms read (keep="alarms");
    # the full build beside it, as `simulate` makes it.
    best = {"alarms": float("inf"), "all": float("inf")}
    best_engine = float("inf")
    for seed in range(REPEATS + 2):
        for keep in ("alarms", "all"):
            timer = PhaseTimer()
            gc.collect()
            started = time.perf_counter()
            Run.simulate_prepared(prepared, rng=seed, timer=timer, keep=keep)
            best[keep] = min(best[keep], time.perf_counter() - started)
            best_engine = min(best_engine, timer.seconds["engine"])
    timer = PhaseTimer()
    Run.simulate_prepared(prepared, rng=0, timer=timer, keep="alarms")
    best_run = best["alarms"]
    ok = "OK" if best_run <= TARGET_SWEEP_S else "ABOVE TARGET"
    return [
        f"(d) a sweep run: DPC design on {origin} ({len(week.queries):,} queries), "
        "prepared once, in-process, the alarms' series only (as a sweep runs it)",
        f"    {best_run:.3f} s per run (target <= {TARGET_SWEEP_S}) {ok}; engine loop "
        f"{best_engine:.3f} s; run / engine = {best_run / best_engine:.2f}; "
        f"with every datapoint {best['all']:.3f} s = "
        f"{best['all'] / best_engine:.2f} x the engine",
        f"    one run's {timer.line()}",
    ]


def _child(args: list[str]) -> None:
    """Run ``dpcsim ARGS`` in this process and print its peak RSS as JSON."""
    if args[-1:] == ["--version-imports"] or "--version-imports" in args:
        import dpcsim.cli
        import dpcsim.run  # noqa: F401
    else:
        from dpcsim.cli import main

        code = main(args)
        if code:
            raise SystemExit(code)
    print(json.dumps({"peak_mb": peak_rss_mb()}))


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.bench_command [--quick]``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child(argv[1:])
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_command")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args(argv)
    for line in run(quick=args.quick):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
