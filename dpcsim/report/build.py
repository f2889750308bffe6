"""Build the report from a run folder: ``build_report`` and ``write_report``.

The report is rebuilt from the folder's files alone (no simulation), so
``dpcsim report DIR`` can be run again after any step. It is written as one
self-contained HTML page and the same content in Markdown.
"""

from __future__ import annotations

from pathlib import Path

from dpcsim import __version__
from dpcsim.report.context import ReportContext
from dpcsim.report.corrections import corrections_section
from dpcsim.report.document import Document, to_html, to_markdown
from dpcsim.report.folder import RunFolder, read_run_folder
from dpcsim.report.operations import alarms_section, deploy_section
from dpcsim.report.questions import elt_section, runbook_section, split_section
from dpcsim.report.sections import summary_section, trust_section

__all__ = ["HTML_FILE", "MD_FILE", "build_document", "build_report", "write_report"]

HTML_FILE, MD_FILE = "report.html", "report.md"


def build_document(folder: RunFolder) -> Document:
    """The report's eight sections, computed from ``folder``."""
    ctx = ReportContext.from_folder(folder)
    design = (folder.run or {}).get("design", {})
    name = (
        design.get("name", "the design") if isinstance(design, dict) else "the design"
    )
    sections = [
        summary_section(ctx),
        trust_section(ctx),
        elt_section(ctx),
        split_section(ctx),
        alarms_section(ctx),
        runbook_section(ctx),
        corrections_section(ctx),
        deploy_section(ctx),
    ]
    seed = (folder.run or {}).get("seed", "n/a")
    return Document(
        title=f"WLM capacity report: {name}",
        subtitle=f"Built by dpcsim {__version__} from the run folder "
        f"{folder.path.name}/ (seed {seed}); every figure is computed from its files.",
        sections=sections,
        footer=f"dpcsim {__version__} · run version "
        f"{(folder.run or {}).get('version', 'n/a')} · seed {seed} · rebuild with "
        f"dpcsim report {folder.path.name}",
    )


def build_report(run_dir: str | Path) -> tuple[str, str]:
    """Return the report of the run folder ``run_dir`` as (HTML, Markdown).

    Parameters
    ----------
    run_dir
        A folder laid out as ``dpcsim plan --out`` writes it; missing parts
        are named in the report with the command that produces them.

    Raises
    ------
    dpcsim.errors.InputError
        When the folder does not exist or a file in it is malformed.
    """
    document = build_document(read_run_folder(run_dir))
    return to_html(document), to_markdown(document)


def write_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` into ``run_dir``; return their paths."""
    html, md = build_report(run_dir)
    root = Path(run_dir)
    html_path, md_path = root / HTML_FILE, root / MD_FILE
    html_path.write_text(html, encoding="utf-8")
    md_path.write_text(md, encoding="utf-8")
    return html_path, md_path
