"""Errors that dpcsim raises for bad input.

Every reader and config parser raises :class:`InputError` (a ``ValueError``) with a
message that names the file, the row or key, the bad value and what was expected. The
CLI turns it into a one-line message and exit code 2, without a traceback.
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Malformed user input: a file, a row, a column or a configuration key.

    Parameters
    ----------
    message
        What is wrong and what was expected.
    source
        The file (or other origin) the input came from, if any.
    location
        The row number, column or key within ``source``, if any.
    """

    def __init__(
        self, message: str, *, source: str | None = None, location: str | None = None
    ) -> None:
        self.source = source
        self.location = location
        where = ", ".join(p for p in (source, location) if p)
        super().__init__(f"{where}: {message}" if where else message)
