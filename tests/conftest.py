"""Shared fixtures."""

from __future__ import annotations

import pytest

from dpcsim.engine import simulate
from dpcsim.engine.settings import ClusterSettings


@pytest.fixture
def fixed_demands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run with ``[contention] model = "none"`` and open replay as the defaults.

    The tests that use it check the fixed-demand engine (Erlang C, FIFO
    recursion, mechanisms): every ``ClusterSettings()`` they build, or read from
    a file without a ``[contention]`` table, keeps each query's ``exec_s`` as
    its demand, and arrivals stay as logged.
    """
    defaults = ClusterSettings.__init__.__kwdefaults__
    monkeypatch.setitem(defaults, "contention_model", "none")
    monkeypatch.setitem(simulate.__kwdefaults__, "replay", "open")
