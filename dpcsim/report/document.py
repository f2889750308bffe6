"""The report as data (sections of blocks) and its HTML and Markdown renderings.

Sections hold typed blocks (paragraphs, key-value cards, tables, figures, code,
notes); :func:`to_html` and :func:`to_markdown` render the same blocks, so the
two files never disagree. All text is escaped here, once: a queue called
``<script>`` prints as text in both. The HTML is one self-contained file:
figures are ``data:`` PNGs, the style is inline, and the Content-Security-Policy
forbids every other resource.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CSP",
    "Card",
    "Code",
    "Document",
    "Figure",
    "Note",
    "Paragraph",
    "Section",
    "Table",
    "to_html",
    "to_markdown",
]

#: The report's Content-Security-Policy: nothing but inline style and data: images.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;
margin:0 auto;padding:1.5rem;color:#1f2328;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{border-bottom:2px solid #d0d7de;
padding-bottom:.2rem;margin-top:2.2rem}h3{margin-top:1.4rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem;display:block;
overflow-x:auto;max-width:100%}
caption{text-align:left;font-size:.85rem;color:#57606a;padding:.2rem 0}
th,td{border:1px solid #d0d7de;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:.7rem;margin:.8rem 0}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.55rem .8rem;min-width:12rem;
flex:1}.card .k{font-size:.78rem;color:#57606a;text-transform:uppercase}
.card .v{font-size:1.05rem;font-weight:600}.card.bad{border-left:5px solid #cf222e}
.card.good{border-left:5px solid #1a7f37}.card.warn{border-left:5px solid #bf8700}
.card .key{font-size:.7rem;color:#8c959f;font-family:monospace}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eaeef2}
figcaption{font-size:.85rem;color:#57606a}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;font-size:.82rem}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:.5rem .8rem;border-radius:6px}
footer{margin-top:2rem;font-size:.8rem;color:#57606a}
"""


@dataclass(frozen=True, slots=True)
class Paragraph:
    """Plain text (escaped on rendering)."""

    text: str


@dataclass(frozen=True, slots=True)
class Note:
    """A highlighted remark, e.g. which command produces a missing input."""

    text: str


@dataclass(frozen=True, slots=True)
class Card:
    """One key figure of the first page; ``tone`` is good, bad, warn or ''.

    ``key`` is an identifier shown small under the figure (a configuration's
    hash, to find it in the CSV files).
    """

    label: str
    value: str
    detail: str = ""
    tone: str = ""
    key: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    """A table of already formatted cells."""

    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Figure:
    """A figure drawn on demand (``render() -> PNG bytes``) with its caption.

    Drawing is deferred so the Markdown rendering, which names figures by
    caption, never pays for matplotlib.
    """

    render: Callable[[], bytes]
    caption: str


@dataclass(frozen=True, slots=True)
class Code:
    """Commands or file contents, shown verbatim."""

    text: str


Block = Paragraph | Note | Card | Table | Figure | Code | Sequence[Card]


@dataclass(frozen=True, slots=True)
class Section:
    """A numbered section; ``subtitle`` blocks start a sub-heading."""

    number: int
    title: str
    blocks: list[Block | str] = field(default_factory=list)

    @property
    def heading(self) -> str:
        """The heading text, "N. Title"."""
        return f"{self.number}. {self.title}"


@dataclass(frozen=True, slots=True)
class Document:
    """The whole report."""

    title: str
    subtitle: str
    sections: list[Section]
    footer: str


def to_html(doc: Document) -> str:
    """Render ``doc`` as one self-contained HTML page."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(doc.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_h(doc.title)}</h1><p>{_h(doc.subtitle)}</p>",
        "<nav><ol>",
        *(f'<li><a href="#s{s.number}">{_h(s.title)}</a></li>' for s in doc.sections),
        "</ol></nav>",
    ]
    for section in doc.sections:
        parts.append(f'<section id="s{section.number}"><h2>{_h(section.heading)}</h2>')
        parts.extend(_html_block(b) for b in section.blocks)
        parts.append("</section>")
    parts.append(f"<footer>{_h(doc.footer)}</footer></body></html>")
    return "\n".join(parts) + "\n"


def to_markdown(doc: Document) -> str:
    """Render ``doc`` as Markdown (figures named by caption; see the HTML)."""
    lines = [f"# {_m(doc.title)}", "", _m(doc.subtitle), ""]
    for section in doc.sections:
        lines += [f"## {_m(section.heading)}", ""]
        for block in section.blocks:
            lines += [*_md_block(block), ""]
    lines += ["---", "", _m(doc.footer), ""]
    return "\n".join(lines)


def _html_block(block: Block | str) -> str:
    """One block as HTML; a bare string is a sub-heading."""
    if isinstance(block, str):
        return f"<h3>{_h(block)}</h3>"
    if isinstance(block, Paragraph):
        return f"<p>{_h(block.text)}</p>"
    if isinstance(block, Note):
        return f'<p class="note">{_h(block.text)}</p>'
    if isinstance(block, Code):
        return f"<pre>{_h(block.text)}</pre>"
    if isinstance(block, Figure):
        data = base64.b64encode(block.render()).decode("ascii")
        return (
            f'<figure><img alt="{_h(block.caption)}" src="data:image/png;base64,'
            f'{data}"><figcaption>{_h(block.caption)}</figcaption></figure>'
        )
    if isinstance(block, Table):
        return _html_table(block)
    cards = [block] if isinstance(block, Card) else list(block)
    return '<div class="cards">' + "".join(_html_card(c) for c in cards) + "</div>"


def _html_card(card: Card) -> str:
    tone = f" {card.tone}" if card.tone else ""
    detail = f'<div class="d">{_h(card.detail)}</div>' if card.detail else ""
    key = f'<div class="key">key {_h(card.key)}</div>' if card.key else ""
    return (
        f'<div class="card{tone}"><div class="k">{_h(card.label)}</div>'
        f'<div class="v">{_h(card.value)}</div>{detail}{key}</div>'
    )


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{_h(c)}</th>" for c in table.columns)
    body = "".join(
        "<tr>" + "".join(_html_cell(v) for v in row) + "</tr>" for row in table.rows
    )
    caption = f"<caption>{_h(table.caption)}</caption>" if table.caption else ""
    return (
        f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


_NUMERIC = re.compile(r"^[-+]?[\d,]+(\.\d+)?( \[[-+\d.,\s]+\])?( [A-Za-z/%]+)?$")


def _html_cell(value: str) -> str:
    numeric = bool(_NUMERIC.match(value))
    return f'<td class="num">{_h(value)}</td>' if numeric else f"<td>{_h(value)}</td>"


def _md_block(block: Block | str) -> list[str]:
    if isinstance(block, str):
        return [f"### {_m(block)}"]
    if isinstance(block, Paragraph):
        return [_m(block.text)]
    if isinstance(block, Note):
        return [f"> **Note:** {_m(block.text)}"]
    if isinstance(block, Code):
        fence = "````" if "```" in block.text else "```"
        return [fence, block.text, fence]
    if isinstance(block, Figure):
        return [f"*Figure: {_m(block.caption)} (drawn in report.html)*"]
    if isinstance(block, Table):
        rows = [
            "| " + " | ".join(_m(c) for c in block.columns) + " |",
            "|" + "---|" * len(block.columns),
        ]
        rows += ["| " + " | ".join(_m(v) for v in row) + " |" for row in block.rows]
        return ([f"*{_m(block.caption)}*", ""] if block.caption else []) + rows
    cards = [block] if isinstance(block, Card) else list(block)
    return [
        f"- **{_m(c.label)}:** {_m(c.value)}"
        + (f" ({_m(c.detail)})" if c.detail else "")
        + (f" [key {_m(c.key)}]" if c.key else "")
        for c in cards
    ]


def _h(text: str) -> str:
    """HTML-escaped text (quotes too: used in attributes)."""
    return html.escape(str(text), quote=True)


_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>|#"})


def _m(text: str) -> str:
    """Markdown-escaped single-line text (no raw HTML, no table breaks)."""
    return " ".join(str(text).split()).translate(_MD_SPECIAL)
