"""``dpcsim demo`` from an installed wheel: the sample ships as package data.

The wheel is built from a copy of the source (pip wheel, no build isolation, no
index: offline), installed into a fresh venv in tmp whose only other packages
are the core dependencies already installed here (a .pth line, as
``--system-site-packages`` would give), and ``dpcsim demo`` runs from a folder
outside the checkout, so nothing is read from the source tree.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pandas as pd
import pytest

import dpcsim

SOURCE = Path(__file__).resolve().parents[1]


def _run(cmd, cwd, timeout=300):
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(SOURCE / name, src / name)
    shutil.copytree(SOURCE / "dpcsim", src / "dpcsim",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
    wheels = root / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
          "--no-build-isolation", "-w", wheels, src], cwd=root)  # fmt: skip
    (wheel,) = wheels.glob("dpcsim-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root)
    python = venv / "bin" / "python"
    purelib = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
             cwd=root).stdout.strip()
    )  # fmt: skip
    # The core dependencies come from this interpreter's site-packages, after
    # the venv's own: the installed wheel is the dpcsim that imports.
    deps = [*site.getsitepackages(), sysconfig.get_path("purelib")]
    (purelib / "_dpcsim_test_deps.pth").write_text("\n".join(dict.fromkeys(deps)))
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
          "--no-index", "--find-links", wheels, wheel], cwd=root)  # fmt: skip
    return venv, root


def test_the_wheel_carries_the_sample(fresh_venv):
    venv, root = fresh_venv
    out = _run([venv / "bin" / "python", "-c",
                "import dpcsim; print(dpcsim.__file__); print(dpcsim.sample_dir())"],
               cwd=root).stdout.split()  # fmt: skip
    installed, sample = Path(out[0]), Path(out[1])
    assert venv in installed.parents
    assert venv in sample.parents
    bundled = sorted(p.name for p in dpcsim.sample_dir().iterdir())
    assert sorted(p.name for p in sample.iterdir()) == bundled
    assert {"svl_qlog.csv.gz", "stl_wlm_query.csv.gz", "users.csv"} <= set(bundled)


def test_demo_runs_from_the_installed_wheel(fresh_venv, tmp_path):
    venv, root = fresh_venv
    out = root / "demo"
    done = _run([venv / "bin" / "dpcsim", "demo", "--quick", "--out", out], cwd=root)
    assert "ELTExecutionDelay: publish Definition=" in done.stdout
    assert len(pd.read_csv(out / "baseline" / "alarm_summary.csv")) == 5
    assert (out / "deploy" / "wlm.json").is_file()
    assert (out / "report.html").is_file()
    # The installed plan replays the same sample as the checkout's: the
    # checkout's first three stages at the quick sizes give the same bytes.
    from dpcsim.designs import load_design
    from dpcsim.plan import (
        QUICK,
        export_files,
        fitted_settings,
        sample_dir,
        stage_baseline,
        stage_calibrate,
        stage_ingest,
    )

    here = tmp_path / "checkout"
    design = load_design()
    files = export_files([sample_dir()])
    ingested = stage_ingest(files, design, design.wlm, here)
    calibration = stage_calibrate(
        ingested, design.wlm, seed=0, n_boot=QUICK.bootstrap, out=here, source="x"
    )
    settings = fitted_settings(calibration.fit)
    stage_baseline(ingested, design, settings, seed=0, out=here)
    for name in ("queries.parquet", "summary.json", "alarm_summary.csv"):
        mine = (here / "baseline" / name).read_bytes()
        assert (out / "baseline" / name).read_bytes() == mine, name
