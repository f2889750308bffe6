"""Progress bars of the subcommands: on stderr, only on a terminal, no residue."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["NoBar", "show_progress", "steps_bar"]


def show_progress(args: argparse.Namespace) -> bool:
    """Whether to draw progress bars: not ``--quiet`` and stderr is a terminal.

    Redirected stderr (a CI log, ``2> file``) gets no bars: their carriage
    returns would bury the one-line error message that ends a failed run.
    """
    if getattr(args, "quiet", False):
        return False
    return bool(sys.stderr.isatty())


def steps_bar(total: int, desc: str, *, enabled: bool) -> tqdm[NoReturn] | NoBar:
    """A bar over ``total`` steps on stderr that clears its line when closed.

    Use it as a context manager so that an error closes (and erases) the bar
    before the CLI prints its message. Disabled, it is a :class:`NoBar` (tqdm
    is then not imported: a quiet or redirected run does not pay for it).
    """
    if not enabled:
        return NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False)


class NoBar:
    """A disabled bar: the calls the subcommands make on a bar, doing nothing."""

    def __enter__(self) -> NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: float = 1) -> None:
        """Advance by ``n`` steps (nothing to draw)."""

    def close(self) -> None:
        """Close the bar (nothing to erase)."""
