"""What the workspaces show: a transcript with marked passages, a comparison table, Markdown as HTML, model answers.

Plain functions from data to HTML (or a widget, for :func:`reveal`); every text
from the data or a student is escaped (:func:`html.escape`, or Markdown rendered
with raw HTML off).
"""

from __future__ import annotations

import html

import ipywidgets as w
import pandas as pd
from IPython.display import Markdown as IPyMarkdown

from .compare import comparison_summary
from .text import Markdown, check_mode, line_bounds

__all__ = ["OUTCOME_COLOURS", "transcript_html", "comparison_html", "markdown_html", "reveal"]

OUTCOME_COLOURS = {"both read this": "#d9f0d3", "only you": "#dbe9f6", "only the study": "#eeeeee"}
MARK = "background:#fff3b0"


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def transcript_html(text: str, marked: list[tuple[int, int]] | None = None, height: str = "26em") -> str:
    """A transcript as a scrolling HTML box: line numbers, bold speakers, marked spans highlighted."""
    spans = _merge(list(marked or []))
    rows = []
    for number, (a, b) in enumerate(line_bounds(text), start=1):
        pieces, pos = [], a
        for s, e in spans:
            s, e = max(s, a), min(e, b)
            if s >= e:
                continue
            pieces.append(html.escape(text[pos:s]))
            pieces.append(f'<mark style="{MARK}">{html.escape(text[s:e])}</mark>')
            pos = e
        pieces.append(html.escape(text[pos:b]))
        line = "".join(pieces)
        head, sep, rest = line.partition(": ")
        if sep and "<" not in head:
            line = f"<b>{head}</b>: {rest}"
        rows.append(
            f'<div style="display:flex;gap:0.6em;margin:0 0 0.35em 0">'
            f'<span style="color:#777;min-width:2.2em;text-align:right;user-select:none">{number}</span>'
            f"<span>{line}</span></div>"
        )
    return (
        f'<div class="cw-lines" style="max-height:{height};overflow-y:auto;border:1px solid #ccc;'
        f'padding:0.4em;font-size:0.92em;line-height:1.35">{"".join(rows)}</div>'
    )


def comparison_html(comparison: pd.DataFrame) -> str:
    """The comparison table as HTML, one coloured row per passage (or pair of passages that meet)."""
    summary = html.escape(str(comparison_summary(comparison)))
    if comparison.empty:
        return f"<p>{summary}</p>"
    head = (
        "<tr><th>lines</th><th>outcome</th><th>yours</th><th>your statement</th><th>study</th>"
        "<th>study's statement</th><th>passage</th><th>to think about</th></tr>"
    )
    body = []
    for r in comparison.itertuples(index=False):
        cells = [
            r.lines,
            r.outcome,
            r.your_segment,
            r.your_statement,
            r.study_segment,
            r.study_statement,
            r.excerpt,
            r.feedback,
        ]
        tds = "".join(f'<td style="padding:0.25em 0.5em;vertical-align:top">{html.escape(str(c))}</td>' for c in cells)
        body.append(f'<tr style="background:{OUTCOME_COLOURS[str(r.outcome)]}">{tds}</tr>')
    return f'<p>{summary}</p><table style="border-collapse:collapse;font-size:0.9em">{head}{"".join(body)}</table>'


def markdown_html(text: str) -> str:
    """Markdown (already escaped for student text) rendered to HTML for an HTML widget."""
    from markdown_it import MarkdownIt  # locked already (a dependency of the notebook stack)

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(str(text))


def reveal(answer: str, mode: str) -> object:
    """The model answer: shown at once in solution mode, behind a button in exercise mode.

    In exercise mode the answer is not in any output until the button is pressed,
    so a rendered exercise handout does not carry it.
    """
    check_mode(mode)
    text = "**Model answer**\n\n" + str(answer)
    if mode == "solution":
        return Markdown(text)
    button = w.Button(description="Show the model answer", icon="eye", layout=w.Layout(width="auto"))
    button.add_class("tutorial-reveal")
    out = w.Output()

    def show(_: object) -> None:
        out.clear_output()
        out.append_display_data(IPyMarkdown(text))
        button.disabled = True

    button.on_click(show)
    return w.VBox([button, out])
