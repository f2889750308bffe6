"""Output folders shared by the subcommands: nothing a user has is overwritten
unless they pass ``--force``."""

from __future__ import annotations

from pathlib import Path

from dpcsim.errors import InputError

__all__ = ["prepare_out_dir"]


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
