"""Shared test options and fixtures.

``--update-golden`` rewrites the golden files; ``fixed_demands`` runs a test on
the fixed-demand engine (no contention, open replay).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dpcsim.engine import simulate
from dpcsim.engine.settings import ClusterSettings

GOLDEN_DIR = Path(__file__).parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/ from the current output instead of comparing",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare text with ``tests/golden/<name>`` byte for byte (or rewrite it)."""
    update = bool(request.config.getoption("--update-golden"))

    def check(name: str, text: str) -> None:
        path = GOLDEN_DIR / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
            return
        assert path.exists(), f"{path} is missing; run pytest --update-golden once"
        assert text.encode("utf-8") == path.read_bytes(), f"{name} differs from golden"

    return check


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
