"""The report of a run folder: figures, sections, HTML and Markdown.

``build_report(run_dir) -> (html, md)`` and ``write_report(run_dir)`` turn a
``dpcsim plan`` run folder into ``report.html`` (self-contained) and
``report.md``. :mod:`dpcsim.report.figures` holds the ``plot_*`` functions
(the only matplotlib import of dpcsim); this package does not import it until
a report is built, so ``import dpcsim.report`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["build_report", "read_run_folder", "write_report"]

if TYPE_CHECKING:
    from dpcsim.report.build import build_report, write_report
    from dpcsim.report.folder import read_run_folder


def __getattr__(name: str) -> Any:
    """Import the builder on first use (keeps matplotlib out of plain imports)."""
    if name in ("build_report", "write_report"):
        from dpcsim.report import build

        return getattr(build, name)
    if name == "read_run_folder":
        from dpcsim.report.folder import read_run_folder

        return read_run_folder
    raise AttributeError(name)
