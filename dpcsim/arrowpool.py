"""The Arrow memory pool of the ``dpcsim`` command's process.

pyarrow allocates from a process-wide pool; its Linux wheels default to
mimalloc, which keeps freed pages for reuse. Reading exports and workloads
frees large buffers one after another (parsed blocks, converted columns), so
under mimalloc the peak resident memory holds many of them at once. Arrow's
jemalloc pool returns freed pages to the system within about a second: Arrow
builds it with a background thread and a dirty and muzzy decay of 1,000 ms
(``je_arrow_malloc_conf`` in Arrow's ``memory_pool.cc``; pyarrow's docstring
of ``jemalloc_set_decay_ms`` calls 0 the default, which holds only where
jemalloc has no background thread). On the 1M-query SVL_QLOG + STL_WLM_QUERY
pair, ``ingest`` ran in 3.0-3.2 s with a peak of 845-905 MB under jemalloc
against 3.8-3.9 s and 965-1,005 MB under mimalloc (3 runs each, same files);
the allocator changes no value read or written.

The decay is left at Arrow's 1,000 ms. Freeing a 1M-query workload frame
(364 MB of Arrow buffers) left 664 MiB resident, 529 MiB a second later and
142 MiB after two; with a decay of 0 the same frame left 141 MiB at once. A
3M-query DPC ``simulate`` peaked at the same size with either (2,544 and
2,547 MiB): its peak comes seconds after the frees, when the pages are gone.

Importing dpcsim changes nothing: :func:`use_dpcsim_pool` is called by
:func:`dpcsim.cli.main`, in the process the command owns. A user's own
process keeps its pool unless it calls it; sweep workers keep the default
(a run inside a sweep allocates little from Arrow). An
``ARROW_DEFAULT_MEMORY_POOL`` set in the environment (Arrow's own setting) is
always kept, as is the default where pyarrow was built without jemalloc.
"""

from __future__ import annotations

import os

import pyarrow as pa

__all__ = ["ARROW_POOL", "use_dpcsim_pool"]

#: The pool dpcsim's processes use unless ``ARROW_DEFAULT_MEMORY_POOL`` is set.
ARROW_POOL = "jemalloc"


def use_dpcsim_pool() -> str:
    """Make :data:`ARROW_POOL` this process's default Arrow pool; return its name.

    Keeps the current pool (and returns its name) when the environment sets
    ``ARROW_DEFAULT_MEMORY_POOL`` or pyarrow has no jemalloc.
    """
    chosen = os.environ.get("ARROW_DEFAULT_MEMORY_POOL")
    if chosen or ARROW_POOL not in pa.supported_memory_backends():
        # The user's choice, or a pyarrow built without jemalloc (Windows).
        return str(pa.default_memory_pool().backend_name)
    pool = pa.jemalloc_memory_pool()
    pa.set_memory_pool(pool)
    return str(pool.backend_name)
