"""The dpcsim command's Arrow pool: jemalloc, unless the environment chose one."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

_CODE = (
    "import pyarrow as pa\n"
    "from dpcsim.arrowpool import use_dpcsim_pool\n"
    "before = pa.default_memory_pool().backend_name\n"
    "import dpcsim, dpcsim.logs\n"
    "after_import = pa.default_memory_pool().backend_name\n"
    "used = use_dpcsim_pool()\n"
    "print(before, after_import, used, pa.default_memory_pool().backend_name)\n"
)


def _pools(env_pool: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if env_pool is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = env_pool
    done = subprocess.run(
        [sys.executable, "-c", _CODE], capture_output=True, text=True, env=env,
        check=True,
    )  # fmt: skip
    return done.stdout.split()


def _has_jemalloc() -> bool:
    return "jemalloc" in pa.supported_memory_backends()


@pytest.mark.skipif(not _has_jemalloc(), reason="pyarrow built without jemalloc")
def test_the_command_pool_is_jemalloc_and_importing_changes_nothing():
    before, after_import, used, now = _pools(None)
    assert after_import == before  # importing dpcsim leaves the pool alone
    assert used == now == "jemalloc"


def test_a_pool_set_in_the_environment_is_kept():
    before, _, used, now = _pools("system")
    assert before == used == now == "system"
