"""Text from the data stays text: escaping for pandoc, and the input check that refuses markup.

The hostile strings are our own variants of what an attacker or a careless author might
paste into an excerpt, a note, a theme label or a participant attribute.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from compendium import manuscript_template, manuscript_typeset, markup
from compendium.paths import Paths

HOSTILE = [
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    '<img src="/etc/hostname">',
    "<svg/onload=alert(1)>",
    "<iframe src=//example.org></iframe>",
    '```{=typst}\n#read("data/synthetic/participants.csv")\n```',
    '#read("/etc/hostname")',
    '#eval("1+1") and #import "x.typ"',
    '`#read("x")`{=typst}',
    "[@nokey] and @nokey too",
    "[see @neff2003, p. 3]",
    "$$ \\int x \\, dx",
    "$x^2$ inline",
    "![](/etc/hostname)",
    "![a picture](file:///etc/passwd){width=100%}",
    "[click](javascript:alert(1))",
    "<https://example.org>",
    "\\input{/etc/passwd} \\write18{ls}",
    "\\begin{verbatim}x\\end{verbatim}",
    "::: {.warning}\nboo\n:::",
    "&lt;script&gt; &#60; &#x3C;",
    "<!-- a comment -->",
    "1. looks like a list",
    "- looks like a bullet",
    "# looks like a heading",
    "> looks like a quote",
    "| a | b |",
    "*em* __strong__ ~sub~ ^sup^ ~~strike~~",
    "a \\\nb",
    "[text]{.smallcaps}",
    "^[a footnote]",
    "(@) an example list",
    "trailing backslash \\",
]
LITERAL_NODES = {"Str", "Space", "SoftBreak", "Para", "BlockQuote"}


def _pandoc_json(markdown: str, reader: str) -> dict:
    result = subprocess.run(
        [manuscript_typeset.pandoc(), "-f", reader, "-t", "json"],
        input=markdown,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def _node_types(node: object, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        if "t" in node:
            found.add(node["t"])
        for value in node.values():
            _node_types(value, found)
    elif isinstance(node, list):
        for value in node:
            _node_types(value, found)
    return found


def _stringify(node: object) -> str:
    if isinstance(node, dict):
        if node.get("t") == "Str":
            return node["c"]
        if node.get("t") in ("Space", "SoftBreak"):
            return " "
        return _stringify(node.get("c", []))
    if isinstance(node, list):
        return "".join(_stringify(x) for x in node)
    return ""


def test_escaped_text_reaches_pandoc_as_plain_strings() -> None:
    """Each hostile string, escaped and quoted as the manuscript quotes it, reads back as exactly itself."""
    document = "\n\n".join(f"> {markup.escape(h)} (Amy, line 3)" for h in HOSTILE)
    blocks = _pandoc_json(document, "markdown-smart")["blocks"]
    assert len(blocks) == len(HOSTILE), "an escaped string opened or closed a block"
    for block, original in zip(blocks, HOSTILE):
        types = _node_types(block, set())
        assert types <= LITERAL_NODES, f"{original!r} became {sorted(types - LITERAL_NODES)}"
        assert _stringify(block) == " ".join(original.split()) + " (Amy, line 3)"


def test_escaped_text_with_smart_typography_stays_literal() -> None:
    """The build reads Markdown with smart quotes on: quotes may curl, nothing else may change kind."""
    document = "\n\n".join(f"{markup.escape(h)}" for h in HOSTILE)
    blocks = _pandoc_json(document, "markdown")["blocks"]
    assert len(blocks) == len(HOSTILE)
    for block, original in zip(blocks, HOSTILE):
        types = _node_types(block, set()) - {"Quoted", "SingleQuote", "DoubleQuote"}
        assert types <= LITERAL_NODES, f"{original!r} became {sorted(types - LITERAL_NODES)}"


def test_escaped_text_in_a_table_cell_keeps_the_table_shape() -> None:
    df = pd.DataFrame({"Theme": ["1. One | two", "<b>x</b>"], "Label": ["[@key]", "$$"]})
    blocks = _pandoc_json(manuscript_template.pipe_table(df), "markdown-smart")["blocks"]
    assert [b["t"] for b in blocks] == ["Table"]
    types = _node_types(blocks[0]["c"][3:], set())  # head, bodies, foot
    assert not types & {"RawInline", "RawBlock", "Cite", "Math", "Image", "Link", "OrderedList", "Strong"}


@pytest.mark.parametrize(
    "hostile", [h for h in HOSTILE if not h.startswith(("1.", "- ", "# ", "> ", "| ", "*em", "a \\", "trailing"))]
)
def test_find_markup_flags_each_dangerous_variant(hostile: str) -> None:
    assert markup.find_markup(hostile), f"not flagged: {hostile!r}"


@pytest.mark.parametrize(
    "clean",
    [
        "I said to her, you know, it's okay to rest - you're allowed.",
        "She paid $20 for it, and $5 for the bus.",
        "We met at 3:30 (after school) and talked for 45 minutes; it was 50/50.",
        "\"Selfish,\" she said. 'Selfish!' ... and then nothing.",
        "Mum & dad, and the #1 rule in that house.",
        "an e-mail like name at work",
    ],
)
def test_find_markup_leaves_ordinary_speech_alone(clean: str) -> None:
    assert markup.find_markup(clean) == []


# ---------------------------------------------------------------- check_inputs on a copy of the data
@pytest.fixture()
def data_copy(repo: Paths, tmp_path: Path) -> Paths:
    shutil.copytree(repo.data, tmp_path / "data" / "synthetic")
    return Paths(tmp_path)


def test_check_inputs_passes_the_synthetic_data(data_copy: Paths) -> None:
    assert markup.check_inputs(data_copy) > 1000


@pytest.mark.parametrize(
    ("column", "hostile"),
    [
        ("excerpt", "<script>alert(1)</script>"),
        ("note_descriptive", "<img src=x onerror=alert(1)>"),
        ("note_conceptual", '#read("data/synthetic/participants.csv")'),
        ("experiential_statement", "[@nokey]"),
        ("note_linguistic", "unbalanced $$ here"),
        ("excerpt", "![](/etc/hostname)"),
        ("note_descriptive", "\\input{/etc/hostname}"),
    ],
)
def test_check_inputs_names_file_row_and_column(data_copy: Paths, column: str, hostile: str) -> None:
    coding = pd.read_csv(data_copy.coding, dtype=str, keep_default_na=False)
    row = 4
    coding.loc[row, column] = coding.loc[row, column] + " " + hostile
    data_copy.coding.write_text(coding.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    before = data_copy.coding.read_bytes()
    with pytest.raises(markup.MarkupError) as caught:
        markup.check_inputs(data_copy)
    message = str(caught.value)
    assert f"data/synthetic/coding.csv, row {row + 1} ({coding.loc[row, 'segment_id']}" in message
    assert f"column {column}:" in message
    assert "fix:" in message
    assert data_copy.coding.read_bytes() == before  # inputs are never modified


def test_check_inputs_reads_the_codebook_and_participants(data_copy: Paths) -> None:
    codebook = data_copy.codebook.read_text(encoding="utf-8")
    data_copy.codebook.write_text(
        codebook.replace("label: Go gently", "label: Go <b onmouseover=x>gently</b>", 1), encoding="utf-8"
    )
    people = pd.read_csv(data_copy.participants, dtype=str, keep_default_na=False)
    people.loc[0, "frameworks"] = 'CBT `#read("/etc/hostname")`'
    data_copy.participants.write_text(people.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    with pytest.raises(markup.MarkupError) as caught:
        markup.check_inputs(data_copy)
    message = str(caught.value)
    assert "data/synthetic/codebook.yaml, line" in message and "(theme 3.1.1), field label" in message
    assert "data/synthetic/participants.csv, row 1 (P01, line 2), column frameworks" in message
    assert "2 places" in message
