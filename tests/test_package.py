"""The package namespace: public names import, the core stays free of matplotlib."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import dpcsim


def _subpackages() -> list[str]:
    return sorted(
        f"dpcsim.{info.name}"
        for info in pkgutil.iter_modules(dpcsim.__path__)
        if info.ispkg
    )


def test_every_top_level_public_name_imports():
    assert dpcsim.__all__
    for name in dpcsim.__all__:
        assert getattr(dpcsim, name) is not None, name


def test_there_are_subpackages_to_check():
    assert "dpcsim.wlm" in _subpackages()


@pytest.mark.parametrize("package", _subpackages())
def test_subpackage_public_names_import(package):
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{package} defines no __all__"
    assert len(set(names)) == len(names), f"{package}.__all__ repeats a name"
    for name in names:
        assert hasattr(module, name), f"{package}.__all__ lists missing {name!r}"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )


def test_core_imports_without_matplotlib():
    code = (
        "import sys\n"
        "import dpcsim, dpcsim.wlm, dpcsim.engine, dpcsim.logs, dpcsim.run\n"
        "import dpcsim.cli, dpcsim.report\n"
        "dpcsim.cli.build_parser()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib')\n"
        "print(','.join(bad))\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = _run(code)
    assert proc.returncode == 0, f"matplotlib imported: {proc.stdout}{proc.stderr}"


def test_python_m_dpcsim_help_exits_zero():
    proc = subprocess.run(
        [sys.executable, "-m", "dpcsim", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: dpcsim" in proc.stdout


def test_version_is_the_installed_distributions():
    from importlib.metadata import version

    import dpcsim

    assert version("dpcsim") == dpcsim.__version__


def test_the_help_and_the_package_import_without_pandas():
    """`dpcsim --help` and `import dpcsim` wait for no data library; the
    schema's names still come from the package, imported on first use."""
    code = (
        "import sys\n"
        "import contextlib, io, dpcsim, dpcsim.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        "        dpcsim.cli.main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'usage: dpcsim' in out.getvalue()\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules}\n"
        "               & {'pandas', 'pyarrow', 'numpy', 'scipy', 'simpy'})\n"
        "print(','.join(heavy))\n"
        "names = {'COLUMNS', 'STATEMENT_TYPES', 'validate_workload'}\n"
        "assert names <= set(dir(dpcsim))\n"
        "from dpcsim import validate_workload\n"
        "from dpcsim.schema import validate_workload as direct\n"
        "assert validate_workload is direct and dpcsim.COLUMNS[0] == 'query_id'\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    proc = _run(code)
    assert proc.returncode == 0, f"imported: {proc.stdout}{proc.stderr}"


def test_an_unknown_name_of_the_package_is_an_attribute_error():
    import dpcsim

    with pytest.raises(AttributeError, match="no attribute 'colums'"):
        _ = dpcsim.colums  # type: ignore[attr-defined]
