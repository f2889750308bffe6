"""Where local sweep workers are started from.

Workers fork from a :mod:`multiprocessing` fork server that has imported the
sweep's module once (:func:`worker_context`), so a worker starts in a few
milliseconds instead of paying about 0.5 s of imports. Where the platform has
no fork server, workers are spawned. Never a plain ``fork`` of the driver,
which may hold threads (Arrow's pools, a progress bar, a notebook kernel).

The server lives as long as the driver process, so later pools find it
running; workers inherit the environment it started with (their working
directory and ``sys.path`` follow the driver, which multiprocessing sends with
each worker). A command that will run a sweep calls
:func:`start_worker_server` first, so that the server imports while the
command does its own; this module imports nothing of dpcsim for that reason.
"""

from __future__ import annotations

import gc
from multiprocessing import forkserver, get_all_start_methods, get_context
from multiprocessing.context import ForkServerContext, SpawnContext
from typing import Final

__all__ = ["SWEEP_MODULE", "freeze_loaded", "start_worker_server", "worker_context"]

#: What the server preloads for a sweep's workers: the module of the worker
#: function (:func:`dpcsim.experiments.execute.iter_task`) and what a run
#: loads on first use (:mod:`dpcsim.experiments.preload`).
SWEEP_MODULE: Final = "dpcsim.experiments.preload"


def worker_context(module: str) -> ForkServerContext | SpawnContext:
    """The context workers running code of ``module`` are started with:
    ``forkserver`` preloading ``module`` where the platform has it, else
    ``spawn``. A server already running keeps its own preload."""
    if "forkserver" not in get_all_start_methods():
        return get_context("spawn")
    context = get_context("forkserver")
    context.set_forkserver_preload([module])
    return context


def start_worker_server(module: str = SWEEP_MODULE) -> None:
    """Start the fork server now (it preloads ``module`` meanwhile); nothing
    where workers are spawned, or when it is already running."""
    if worker_context(module).get_start_method() == "forkserver":
        forkserver.ensure_running()


def freeze_loaded() -> None:
    """Collect once, then move every object alive into the collector's
    permanent generation (``gc.freeze``), in a sweep worker before its first
    task.

    A sweep worker's modules, functions and caches (about 70,000 objects)
    live as long as it does; frozen, the cyclic collector, which a run's
    allocations set off often, does not walk them at each collection (about
    8 % of a run of the sample, measured before the event loop raised its
    threshold: :func:`dpcsim.engine.cluster.fewer_collections`). Frozen
    objects are still freed when their last reference goes.
    """
    gc.collect()
    gc.freeze()
