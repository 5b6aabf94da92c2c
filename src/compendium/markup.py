"""Text from the data stays text: escape it for pandoc, and stop a build that meets markup in the data.

Excerpts, notes, statements, memos, theme labels, definitions and participant attributes
reach the manuscript through pandoc's Markdown reader. Two defences keep them inert:

* :func:`escape` backslash-escapes every character Markdown could read as syntax, so the
  reader turns the string into plain ``Str``/``Space`` nodes (pandoc's writers then escape
  them again for HTML, DOCX and typst);
* :func:`check_inputs` refuses data that contains markup at all (raw HTML, raw typst or TeX,
  Markdown links and images, citations, math, code), naming the file, row and column,
  because such text in an interview excerpt is either an accident or an attack.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import yaml

from .errors import CompendiumError
from .files import compose_yaml
from .paths import Paths, paths

__all__ = ["escape", "find_markup", "check_inputs", "MarkupError", "RULES"]

# Characters escaped everywhere. Left alone: letters, digits, spaces and the punctuation of
# ordinary prose (. , ; : ? ! ' " ( ) / -), which keeps smart quotes and dashes working.
_ESCAPE = set("\\`*_{}[]<>#+~^$@|&%=")
# Prose punctuation that means something only at the start of a block.
_START = re.compile(r"^(\d+[.)]|[-:!])")

# What counts as markup in data text (each rule: a name for the message and a pattern).
RULES: list[tuple[str, re.Pattern[str]]] = [
    ("an HTML or XML tag", re.compile(r"<\s*/?\s*[A-Za-z!?][^>]*>?")),
    ("an HTML character reference", re.compile(r"&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")),
    ("a Markdown image or link", re.compile(r"!\[|\]\(|\]\[|\]\{")),
    ("a citation key", re.compile(r"(?<![\w.+-])@[\w{]")),
    ("a Markdown footnote", re.compile(r"\^\[|\[\^")),
    ("a Markdown example-list marker", re.compile(r"\(@")),
    ("TeX or LaTeX math ($$)", re.compile(r"\$\$")),
    ("TeX math ($...$)", re.compile(r"\$(?=[^\s\d$])[^$\n]*[^\s$]\$(?!\d)")),
    ("a TeX command", re.compile(r"\\[A-Za-z]+|\\[\[\](){}]")),
    ("typst code", re.compile(r"#(?:[A-Za-z_][\w-]*\s*[(\[{]|let\b|set\b|show\b|import\b|include\b|read\b|eval\b)")),
    ("a code span or raw block (backtick)", re.compile(r"`")),
    ("a raw-format attribute", re.compile(r"\{\s*=")),
    ("a fenced div (:::)", re.compile(r":::")),
    ("an invisible direction control", re.compile("[\u202a-\u202e\u2066-\u2069]")),
]


class MarkupError(CompendiumError):
    """Data text contains markup that would be interpreted by pandoc, a browser or typst."""


def escape(text: object) -> str:
    """``text`` as Markdown that pandoc reads back as exactly that text (whitespace runs become one space).

    >>> escape("<script>alert(1)</script> [@nokey] $$x$$")
    '\\\\<script\\\\>alert(1)\\\\</script\\\\> \\\\[\\\\@nokey\\\\] \\\\$\\\\$x\\\\$\\\\$'
    >>> escape("1. not a list")
    '1\\\\. not a list'
    """
    flat = " ".join(str(text).split())
    out = "".join(f"\\{ch}" if ch in _ESCAPE else ch for ch in flat)
    start = _START.match(out)
    if start:  # "1." or "-" at the start of a quote would open a list inside the block quote
        token = start.group(0)
        out = token[:-1] + "\\" + token[-1] + out[len(token) :]
    return out


def find_markup(text: str) -> list[tuple[str, str]]:
    """Every rule the text breaks, as (rule name, the matching text)."""
    found = []
    for name, pattern in RULES:
        match = pattern.search(text)
        if match:
            found.append((name, match.group(0)[:40]))
    return found


def _describe(found: list[tuple[str, str]]) -> str:
    return "; ".join(f"{rule} {match!r}" for rule, match in found)


def _csv_cells(path: Path) -> list[tuple[int, int, str, str, str]]:
    """(data row, file line, column name, row key, value) for every cell of a CSV file."""
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return []
    cells = []
    line = reader.line_num + 1
    for number, row in enumerate(reader, start=1):
        key = row[0] if row else ""
        for column, value in zip(header, row):
            cells.append((number, line, column, key, value))
        line = reader.line_num + 1
    return cells


def _yaml_cells(path: Path) -> list[tuple[str, int, str, str]]:
    """(theme id, file line, field, value) for every string in the codebook's theme entries."""
    node = compose_yaml(path.read_text(encoding="utf-8"))
    cells: list[tuple[str, int, str, str]] = []

    def walk(n: yaml.Node, where: str, field: str) -> None:
        if isinstance(n, yaml.ScalarNode):
            if n.tag.endswith(":str"):
                cells.append((where, n.start_mark.line + 1, field, n.value))
        elif isinstance(n, yaml.SequenceNode):
            for item in n.value:
                walk(item, where, field)
        elif isinstance(n, yaml.MappingNode):
            ident = next((v.value for k, v in n.value if k.value == "id" and isinstance(v, yaml.ScalarNode)), where)
            for key, value in n.value:
                walk(value, ident, key.value)

    if node is not None:
        walk(node, "", "")
    return cells


def check_inputs(p: Paths | None = None) -> int:
    """Refuse markup in any data text that can reach the manuscript; returns the number of cells checked.

    Raises :class:`MarkupError` naming the file, row (and line) and column of each finding.
    """
    p = p or paths()
    problems: list[str] = []
    checked = 0
    for path in (p.participants, p.coding, p.memos):
        if not path.is_file():
            continue
        rel = p.shown(path)
        for number, line, column, key, value in _csv_cells(path):
            checked += 1
            found = find_markup(value)
            if found:
                problems.append(f"{rel}, row {number} ({key}, line {line}), column {column}: {_describe(found)}")
    if p.codebook.is_file():
        rel = p.shown(p.codebook)
        for theme, line, field, value in _yaml_cells(p.codebook):
            checked += 1
            found = find_markup(value)
            if found:
                problems.append(f"{rel}, line {line} (theme {theme}), field {field}: {_describe(found)}")
    if problems:
        shown = "\n    ".join(problems[:20]) + (
            f"\n    ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        )
        raise MarkupError(
            f"Markup found in the data ({len(problems)} {'place' if len(problems) == 1 else 'places'}); the manuscript "
            f"prints data text literally and refuses text that a browser, pandoc or typst could run:\n    {shown}\n"
            "    fix: write these cells as plain words (no tags, brackets with @ or !, $ signs around text, "
            "backslash commands, # code or backticks), then rebuild"
        )
    return checked
