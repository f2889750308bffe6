"""Run every benchmark: ``python -m benchmarks [--quick] [NAME ...]``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path


def _bench_modules() -> list[str]:
    """Names of the ``bench_*`` modules beside this file, sorted."""
    here = Path(__file__).parent
    return sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks and print their figures; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("names", nargs="*", help="e.g. engine ingest alarms")
    args = parser.parse_args(argv)
    selected = [
        name
        for name in _bench_modules()
        if not args.names or name.removeprefix("bench_") in args.names
    ]
    for name in selected:
        module = importlib.import_module(f"benchmarks.{name}")
        started = time.perf_counter()
        print(f"== {name.removeprefix('bench_')}", flush=True)
        for line in module.run(quick=args.quick):
            print(f"   {line}", flush=True)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
