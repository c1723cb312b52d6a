"""``report.html``: report.md as one self-contained page, the figures inline (opens anywhere, offline)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from galcat.atomic import atomic_write

#: figures of an evaluation, in the order the page shows them, with their captions
FIGURES = (
    ("confusion.png", "Confusion matrix (rows true, columns predicted, summed over folds)"),
    ("calibration.png", "Reliability diagram before and after temperature scaling"),
    ("roc.png", "ROC curves (one vs rest)"),
    ("errors.png", "Most confident mistakes"),
)

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 24px auto; padding: 0 16px;
       color: #1b1f24; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ccd; padding: 3px 8px; text-align: left; }
th { background: #eef1f5; }
code { background: #f2f3f5; padding: 0 3px; }
figure { display: inline-block; margin: 8px 16px 16px 0; vertical-align: top; }
figure img { max-width: 520px; border: 1px solid #ccd; }
figcaption { font-size: 13px; color: #556; }
"""


def markdown_to_html(text: str) -> str:
    """CommonMark with tables; raw HTML in the text is escaped, never passed through."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def write_report_html(out_dir, markdown: str, title: str) -> Path:
    """Write ``report.html`` beside ``report.md`` with every figure present embedded as data."""
    out = Path(out_dir)
    figures = []
    for name, caption in FIGURES:
        path = out / name
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            figures.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
                f"<figcaption>{html.escape(caption)} (<code>{name}</code>)</figcaption></figure>"
            )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
        + markdown_to_html(markdown)
        + ("<h2>Figures</h2>\n" + "\n".join(figures) if figures else "")
        + "\n</body></html>\n"
    )
    return atomic_write(out / "report.html", page)
