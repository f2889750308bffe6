"""Progress bars of the subcommands: on stderr, only on a terminal, no residue."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from tqdm import tqdm

__all__ = ["show_progress", "steps_bar"]


def show_progress(args: argparse.Namespace) -> bool:
    """Whether to draw progress bars: not ``--quiet`` and stderr is a terminal.

    Redirected stderr (a CI log, ``2> file``) gets no bars: their carriage
    returns would bury the one-line error message that ends a failed run.
    """
    if getattr(args, "quiet", False):
        return False
    return bool(sys.stderr.isatty())


def steps_bar(total: int, desc: str, *, enabled: bool) -> tqdm[NoReturn]:
    """A bar over ``total`` steps on stderr that clears its line when closed.

    Use it as a context manager so that an error closes (and erases) the bar
    before the CLI prints its message.
    """
    return tqdm(
        total=total, desc=desc, disable=not enabled, file=sys.stderr, leave=False
    )
