"""``python -m dpcsim``: the command-line interface."""

from __future__ import annotations

from dpcsim.cli import entry

entry()
