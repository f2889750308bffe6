"""Output folders shared by the subcommands: nothing a user has is overwritten
unless they pass ``--force``."""

from __future__ import annotations

import sys
from pathlib import Path

from dpcsim.errors import InputError
from dpcsim.outputs import MANIFEST, unrecorded_files

__all__ = ["announce_kept_files", "prepare_out_dir"]

#: Files named in a note before the list is cut short.
_SHOWN = 8


def announce_kept_files(out_dir: Path, *, force: bool, quiet: bool) -> list[str]:
    """Say, on stderr, which files in ``out_dir`` ``--force`` will not remove.

    ``--force`` removes only what an earlier dpcsim run recorded in the folder's
    manifest; a user's other files stay, and a run writing a file of the same
    name replaces it. Returns those files (relative names).
    """
    kept = unrecorded_files(out_dir) if force else []
    if kept and not quiet:
        has_manifest = (out_dir / MANIFEST).is_file()
        why = "not in its manifest" if has_manifest else f"{out_dir} has no {MANIFEST}"
        shown = ", ".join(kept[:_SHOWN]) + (", ..." if len(kept) > _SHOWN else "")
        print(
            f"note: --force keeps {len(kept)} file(s) dpcsim did not record writing "
            f"({why}); files this run writes replace those of the same name: {shown}",
            file=sys.stderr,
        )
    return kept


def prepare_out_dir(out_dir: Path, *, force: bool) -> Path:
    """Create ``out_dir``; refuse a file, or a non-empty folder unless ``force``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(
            "exists and is not a directory; expected a directory",
            source=str(out_dir),
        )
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise InputError(
            "output directory is not empty; pass --force to overwrite",
            source=str(out_dir),
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir
