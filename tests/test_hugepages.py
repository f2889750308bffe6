"""The dpcsim command turns numpy's huge pages off, unless the user chose."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dpcsim.hugepages import NUMPY_HUGEPAGE_VARIABLE

# numpy's own record of the switch it read at import (private, but the only
# place it is kept); the environment seen by a child the command starts.
_STATE = (
    "import numpy._core.multiarray as m, os, subprocess, sys\n"
    "child = subprocess.run([sys.executable, '-c', 'import os; "
    f'print(os.environ.get("{NUMPY_HUGEPAGE_VARIABLE}"))\'],'
    " capture_output=True, text=True, check=True).stdout.strip()\n"
    "print(m._get_madvise_hugepage(), child)\n"
)


def _run(code: str, preset: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != NUMPY_HUGEPAGE_VARIABLE}
    if preset is not None:
        env[NUMPY_HUGEPAGE_VARIABLE] = preset
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env,
        check=True,
    )  # fmt: skip
    return done.stdout.splitlines()[-1].split()  # after the command's help


_COMMAND = (
    "from dpcsim.cli import main\n"
    "try:\n"
    "    main(['simulate', '--help'])\n"
    "except SystemExit:\n"
    "    pass\n"
) + _STATE


@pytest.fixture(scope="module")
def numpy_default() -> list[str]:
    """numpy's own default on this machine (on for Linux 4.6 and newer)."""
    return _run(_STATE, None)


def test_the_command_turns_numpy_hugepages_off_for_itself_and_its_children():
    assert _run(_COMMAND, None) == ["False", "0"]


def test_without_the_command_numpy_keeps_its_default(numpy_default):
    assert numpy_default[1] == "None"
    if sys.platform.startswith("linux") and numpy_default[0] != "True":
        pytest.skip("numpy's default is already off here (Linux before 4.6)")
    assert numpy_default[0] == "True" or not sys.platform.startswith("linux")


def test_importing_dpcsim_changes_nothing(numpy_default):
    code = "import dpcsim, dpcsim.run, dpcsim.cli\n" + _STATE
    assert _run(code, None) == numpy_default


def test_a_value_in_the_environment_is_kept():
    assert _run(_COMMAND, "1") == ["True", "1"]
    assert _run(_COMMAND, "0") == ["False", "0"]


def test_nothing_changes_once_numpy_is_imported(numpy_default):
    assert _run("import numpy\n" + _COMMAND, None) == numpy_default


def test_ingest_keeps_numpys_default(numpy_default):
    code = _COMMAND.replace("['simulate', '--help']", "['ingest', '--help']")
    assert _run(code, None) == numpy_default
