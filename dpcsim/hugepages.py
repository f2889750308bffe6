"""numpy's transparent huge pages in the ``dpcsim`` command's process: off.

On Linux numpy asks for transparent huge pages (``madvise(MADV_HUGEPAGE)``)
on every array of 4 MiB or more. Where the system's policy is ``madvise``
(``/sys/kernel/mm/transparent_hugepage/enabled``, the default of many
distributions) each such array is then faulted in 2 MiB at a time, each page
zeroed by the kernel. A command allocates and frees such arrays one after
another (engine inputs, records, metrics), and glibc hands each freed one back
to the system, so the next one pays the faults again. On a virtual machine a
huge-page fault can cost milliseconds.

Measured on the 1M-query one-queue ``dpcsim simulate`` (2-core virtual
machine, 4 alternating runs each): 5.1-8.4 s wall with 2.3-4.8 s of system
time and about 330 huge-page faults (``thp_fault_alloc`` in ``/proc/vmstat``)
under numpy's default, against 3.3-3.4 s (one run 5.1 s) with 0.7-2.3 s of
system time and about 40 faults with huge pages off; the same user time
(2.9-3.2 s) and the same peak memory. The setting changes no value computed.

:func:`numpy_hugepages_off` sets numpy's own switch,
``NUMPY_MADVISE_HUGEPAGE=0`` (read once, when numpy is imported), before
anything imports numpy; :func:`dpcsim.cli.main` calls it first thing, and the
processes a command starts (sweep workers and their fork server) inherit it.
``dpcsim ingest`` keeps numpy's default (:data:`dpcsim.cli.HUGEPAGES_KEPT`): on
the 1M-query SVL_QLOG + STL_WLM_QUERY pair it ran in 3.4 s instead of 5.4 s
without huge pages, but its peak rose from 753 MB to 830-864 MB (2 runs each),
1.35x pyarrow's own read, over the ingest's 1.3x memory budget.
A ``NUMPY_MADVISE_HUGEPAGE`` already in the environment is the user's choice
and is kept (``=1`` restores numpy's default). Importing dpcsim as a library
changes nothing, and nothing is changed once numpy is imported. This module
imports nothing, so that it can run before numpy.
"""

from __future__ import annotations

import os
import sys
from typing import Final

__all__ = ["NUMPY_HUGEPAGE_VARIABLE", "numpy_hugepages_off"]

#: numpy's environment variable: 0 off, 1 on, unset numpy's default (on).
NUMPY_HUGEPAGE_VARIABLE: Final = "NUMPY_MADVISE_HUGEPAGE"


def numpy_hugepages_off() -> str | None:
    """Set ``NUMPY_MADVISE_HUGEPAGE=0`` unless set or numpy is imported.

    Returns the variable's value in force afterwards (None: unset, and numpy
    already imported with its default).
    """
    if NUMPY_HUGEPAGE_VARIABLE not in os.environ and "numpy" not in sys.modules:
        os.environ[NUMPY_HUGEPAGE_VARIABLE] = "0"
    return os.environ.get(NUMPY_HUGEPAGE_VARIABLE)
