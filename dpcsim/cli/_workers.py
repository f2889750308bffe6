"""The local sweep pool's fork server, started as a command begins."""

from __future__ import annotations

import os


def start_local_workers(workers: int | None, scheduler: str | None) -> None:
    """Start the fork server now when the sweep will run on local worker
    processes (``--workers`` above 1, or several cores; no ``--scheduler``),
    so that it imports the sweep while this command imports its own."""
    local = (os.cpu_count() or 1) if workers is None else workers
    if scheduler or local <= 1:  # in-process, on Dask, or refused later
        return
    from dpcsim.workerserver import start_worker_server

    start_worker_server()
