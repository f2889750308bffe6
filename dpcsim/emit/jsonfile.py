"""Reading the JSON files ``emit`` and ``simulate --schedule`` take, one error each.

``recommendation.json`` and ``schedule/schedule.json`` (and a current
configuration's describe output) are read here, so that every one of them
meets a bad byte or bad JSON with the same one-line error naming the file,
the line and the column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dpcsim.errors import InputError

__all__ = ["read_json_file"]


def read_json_file(path: str | Path) -> Any:
    """Parse a UTF-8 JSON file (a byte-order mark is allowed).

    Raises
    ------
    InputError
        Naming the file: an undecodable byte, or invalid JSON with its line and
        column.
    FileNotFoundError
        When ``path`` does not exist.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"byte {exc.start} is not UTF-8; expected a UTF-8 JSON file",
            source=source,
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            source=source,
        ) from None
