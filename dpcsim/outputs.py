"""Output folders a user can trust: written whole or not at all, with a manifest.

:func:`output_folder` is a context manager around a command's writes:

* everything is written into a temporary folder beside the target (same parent,
  so the final move is a rename on the same file system);
* if the command fails, the temporary folder is removed and the target is left
  exactly as it was: no half-written output;
* on success the files move into the target and ``.dpcsim-manifest.json``
  lists them. With ``force``, the files an earlier dpcsim run wrote there (its
  manifest) that this run did not write are removed, so nothing stale is read
  back; files dpcsim did not write are never touched.

A target that exists and is not empty is refused without ``force``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from dpcsim.errors import InputError

__all__ = ["MANIFEST", "output_folder", "unrecorded_files", "written_files"]

#: Name of the manifest of the files dpcsim wrote in a folder.
MANIFEST: Final = ".dpcsim-manifest.json"


def written_files(folder: Path) -> list[str]:
    """Files a previous dpcsim run wrote in ``folder`` (its manifest; [] if none)."""
    path = folder / MANIFEST
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    files = data.get("files", []) if isinstance(data, dict) else []
    return [str(f) for f in files if isinstance(f, str)]


def unrecorded_files(folder: Path) -> list[str]:
    """Files in ``folder`` its manifest does not list: never removed by ``force``.

    Without a manifest (a folder dpcsim did not write, or wrote before it kept
    one) every file is unrecorded: ``force`` replaces those a run writes under
    the same name and keeps the rest.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    recorded = {*written_files(folder), MANIFEST}
    present = (str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    return sorted(name for name in present if name not in recorded)


@contextmanager
def output_folder(target: Path, *, force: bool) -> Iterator[Path]:
    """Yield a temporary folder to write into; publish it as ``target`` on success.

    Raises
    ------
    InputError
        ``target`` is a file, or a non-empty folder without ``force``.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise InputError(
            "exists and is not a directory; expected a directory", source=str(target)
        )
    if target.is_dir() and any(target.iterdir()) and not force:
        raise InputError(
            "output directory is not empty; pass --force to overwrite",
            source=str(target),
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(staging: Path, target: Path) -> None:
    """Move the staged files into ``target`` and write its manifest."""
    new = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
    _write_manifest(staging, new)
    if not target.exists() or not any(target.iterdir()):
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
        return
    old = set(written_files(target))
    for name in sorted(old - set(new)):
        stale = target / name
        if stale.is_file():
            stale.unlink()
    for name in [*new, MANIFEST]:
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, dest)


def _write_manifest(folder: Path, files: list[str]) -> None:
    """Write the manifest of ``files`` into ``folder``."""
    body = {"written_by": "dpcsim", "files": files}
    (folder / MANIFEST).write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
