"""The one canonical JSON writer of the deployable files, and the file writer.

Every JSON file dpcsim emits goes through :func:`canonical_json`: keys sorted
(a stable order whatever order a dict was built in), two-space indent, UTF-8
without escapes and a trailing newline, so the same inputs give the same bytes
and a review diff shows only what changed. The order of *lists* is meaning-
bearing and kept as given (queues in priority order, default queue last, the
SQA object after them). :func:`write_files` writes a ``{relative path: text}``
mapping under one folder; it is the only place :mod:`dpcsim.emit` touches the
filesystem besides :mod:`dpcsim.emit.deploy` reading a folder back.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dpcsim.errors import InputError
from dpcsim.wlm.io import canonical_json as _wlm_canonical_json

__all__ = ["canonical_json", "write_files"]


def canonical_json(obj: Any) -> str:
    """Return the canonical JSON text of ``obj`` (sorted keys, indent 2, newline).

    The same writer as ``wlm.json`` files elsewhere in dpcsim
    (:func:`dpcsim.wlm.io.canonical_json`), so a file written by ``dpcsim wlm
    design`` and by ``dpcsim emit`` compare byte for byte.
    """
    return _wlm_canonical_json(obj)


def write_files(out_dir: str | Path, files: Mapping[str, str]) -> list[Path]:
    """Write ``files`` (relative POSIX path -> text) under ``out_dir``.

    Returns
    -------
    list of Path
        The written paths, in the order of ``files``.

    Raises
    ------
    InputError
        When a relative path leaves ``out_dir`` (``..`` or absolute).
    """
    root = Path(out_dir)
    written = []
    for rel, text in files.items():
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts:
            raise InputError(f"path {rel!r} leaves the output folder", source=str(root))
        path = root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written
