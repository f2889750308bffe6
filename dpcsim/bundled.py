"""The files that ship inside the package: the one-week sample.

The sample (``dpcsim/sample/``: SVL_QLOG, STL_WLM_QUERY, users, Step Functions
and STL_LOAD_ERRORS exports, plus the canonical ``workload.parquet``; see its
README.md) is package data, so ``dpcsim demo`` and ``dpcsim plan`` find it in an
installed wheel as well as in a source checkout (where ``data/sample`` links to
it). :func:`sample_dir` returns a real folder the readers can open.
"""

from __future__ import annotations

import atexit
from contextlib import ExitStack
from pathlib import Path

__all__ = ["sample_dir"]

_KEEP = ExitStack()
atexit.register(_KEEP.close)
_RESOLVED: list[Path] = []


def sample_dir() -> Path:
    """The folder of the bundled one-week sample (a path on the file system).

    From an installed wheel or a checkout this is the package's own ``sample``
    folder; from a zipped install it is a copy extracted once per process and
    removed at exit.
    """
    if not _RESOLVED:
        # Imported here: importlib.resources costs every command ~20 ms.
        from importlib.resources import as_file, files

        resource = files("dpcsim").joinpath("sample")
        _RESOLVED.append(Path(_KEEP.enter_context(as_file(resource))))
    return _RESOLVED[0]
