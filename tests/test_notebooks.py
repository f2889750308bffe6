"""Every notebook runs top to bottom on the bundled sample and is committed clean.

Each notebook has a papermill ``parameters`` cell; the test injects the cell
papermill would (``QUICK = True`` and a private ``OUT``) right after it, runs
the notebook with nbclient, fails on any error output, and checks it took
under two minutes.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
EXPECTED = {"01_capacity_planning", "02_wlm_what_if", "03_open_questions"}
#: Longest a notebook may take on the sample [s].
BUDGET_S = 120.0


def _parameters_index(nb: nbformat.NotebookNode) -> int:
    tagged = [
        i
        for i, cell in enumerate(nb.cells)
        if "parameters" in cell.get("metadata", {}).get("tags", [])
    ]
    assert len(tagged) == 1, "expected exactly one cell tagged 'parameters'"
    return tagged[0]


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count)
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; strip them"


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_the_four_parameters(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    source = nb.cells[_parameters_index(nb)].source
    for name in ("EXPORTS", "DESIGN", "OUT", "QUICK"):
        assert f"{name} = " in source, name


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    injected = nbformat.v4.new_code_cell(f"QUICK = True\nOUT = {str(tmp_path)!r}\n")
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(_parameters_index(nb) + 1, injected)
    client = NotebookClient(
        nb,
        timeout=int(BUDGET_S),
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.perf_counter()
    client.execute()
    elapsed_s = time.perf_counter() - started
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors
    assert elapsed_s < BUDGET_S


def test_notebooks_exist() -> None:
    assert {p.stem for p in NOTEBOOKS} == EXPECTED
