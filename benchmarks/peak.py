"""Peak memory of the current process, for benchmarks that run in a subprocess."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident set size of this process since it started [MiB].

    ``VmHWM`` from ``/proc/self/status``: it starts afresh at ``exec``, whereas
    ``ru_maxrss`` carries over the peak of the parent the child was forked from,
    so a child started by a big benchmark process would report the parent's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
