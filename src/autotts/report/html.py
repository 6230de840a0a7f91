"""A self-contained HTML report: inline CSS, images embedded as base64 data URIs, no scripts, no
external fonts or links, so the file opens offline and can be mailed as one attachment.

Build a :class:`HtmlReport` from sections (headings, paragraphs, tables, images) and :meth:`write` it.
Tables are also written as CSV beside the HTML by whoever produces them; the HTML only shows them.
"""

from __future__ import annotations

import base64
import csv
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1280px;
       color: #1d1d1f; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.7rem; border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid #eee; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
div.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .82rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: right; white-space: nowrap; }
th { background: #f4f4f6; }
td.text, th.text { text-align: left; }
td.wrap { white-space: normal; min-width: 14rem; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #555; }
p.note { color: #555; font-size: .9rem; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; font-size: .8rem; }
nav ul { columns: 2; font-size: .9rem; }
section.summary { border: 2px solid #3b4cc0; border-radius: 8px; background: #f5f7ff; padding: .4rem 1.2rem .8rem;
                  margin: 1rem 0 1.5rem; }
section.summary h2 { margin-top: .6rem; border: none; }
p.verdict { font-size: 1.15rem; font-weight: 600; margin: .4rem 0 .8rem; }
section.summary table { font-size: .9rem; background: #fff; }
details { margin: .6rem 0 1rem; }
details > summary { cursor: pointer; font-weight: 600; color: #333; }
"""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        value = value if round(value, 2) != 0 else 0.0  # never print −0.00
        return f"{value:,.2f}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


@dataclass
class HtmlReport:
    """An HTML document assembled in order; every image is read and embedded when added."""

    title: str
    parts: list[str] = field(default_factory=list)
    headings: list[tuple[str, str]] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        anchor = f"s{len(self.headings)}"
        if level == 2:
            self.headings.append((anchor, text))
        self.parts.append(f'<h{level} id="{anchor}">{html.escape(text)}</h{level}>')

    def paragraph(self, text: str, note: bool = False) -> None:
        cls = ' class="note"' if note else ""
        self.parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def preformatted(self, text: str) -> None:
        self.parts.append(f"<pre>{html.escape(text)}</pre>")

    def table(self, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, caption: str = "") -> None:
        """A table of dict rows; text columns are left-aligned."""
        if not rows:
            self.paragraph("(no rows)", note=True)
            return
        columns = list(columns or rows[0].keys())
        text_columns = {c for c in columns if any(isinstance(r.get(c), str) for r in rows)}
        long_columns = {c for c in text_columns if any(len(str(r.get(c) or "")) > 40 for r in rows)}
        out = ['<div class="scroll"><table>']
        if caption:
            out.append(f"<caption>{html.escape(caption)}</caption>")
        out.append("<tr>" + "".join(self._th(c, c in text_columns) for c in columns) + "</tr>")
        for row in rows:
            cells = []
            for c in columns:
                cls = ' class="text wrap"' if c in long_columns else ' class="text"' if c in text_columns else ""
                cells.append(f"<td{cls}>{html.escape(_cell(row.get(c)))}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</table></div>")
        self.parts.append("\n".join(out))

    @staticmethod
    def _th(name: str, text: bool) -> str:
        cls = ' class="text"' if text else ""
        return f"<th{cls}>{html.escape(name)}</th>"

    def summary_box(
        self, title: str, verdict: str, *tables: Sequence[dict[str, Any]], notes: Sequence[str] = ()
    ) -> None:
        """The answer first: a framed section with a one-sentence verdict, small tables and notes."""
        self.heading(title)
        heading = self.parts.pop()
        self.parts.append(f'<section class="summary">{heading}<p class="verdict">{html.escape(verdict)}</p>')
        for rows in tables:
            if rows:
                self.table(rows)
        for note in notes:
            self.paragraph(note, note=True)
        self.parts.append("</section>")

    def begin_details(self, summary: str) -> None:
        """Start a collapsed block (closed by :meth:`end_details`); everything added between is inside."""
        self.parts.append(f"<details><summary>{html.escape(summary)}</summary>")

    def end_details(self) -> None:
        self.parts.append("</details>")

    def image(self, path: Path, caption: str = "") -> None:
        """Embed a PNG as a data URI (the file itself stays beside the report)."""
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        self.images.append(Path(path))
        alt = html.escape(caption or Path(path).stem)
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">{cap}</figure>')

    def raw(self, fragment: str) -> None:
        """Trusted HTML produced by this package (e.g. a nested card)."""
        self.parts.append(fragment)

    def extend(self, other: HtmlReport, level_shift: int = 1) -> None:
        """Append another report's body (its headings one level deeper)."""
        self.images.extend(other.images)
        for part in other.parts:
            for level in (5, 4, 3, 2):
                part = part.replace(f"<h{level} ", f"<h{min(6, level + level_shift)} ")
                part = part.replace(f"</h{level}>", f"</h{min(6, level + level_shift)}>")
            self.parts.append(part)

    def render(self) -> str:
        nav = ""
        if len(self.headings) > 2:
            items = "".join(f'<li><a href="#{a}">{html.escape(t)}</a></li>' for a, t in self.headings)
            nav = f"<nav><ul>{items}</ul></nav>"
        body = "\n".join(self.parts)
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(self.title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{html.escape(self.title)}</h1>\n{nav}\n{body}\n</body>\n</html>\n"
        )

    def write(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(), encoding="utf-8")
        return path


def write_csv(path: Path, rows: Iterable[dict[str, Any]], columns: Sequence[str] | None = None) -> Path:
    """Rows as CSV (columns: the union of keys in first-seen order unless given)."""
    rows = list(rows)
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return path
