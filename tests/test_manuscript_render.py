"""The manuscript step's shortcuts give exactly what the long way gives.

The template is filled once for the three figure addresses (paths, data: URIs, the typst
folder), every format is written from one reading of the Markdown (pandoc's JSON tree, its
tables re-measured for the PDF's width), and the pandoc conversions run side by side; none
may change a byte or an error.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from compendium import identifiers, server
from compendium.errors import CompendiumError
from compendium.manuscript import FIGURES, TYPST_COLUMNS, _typst_widths, pipe_table_widths
from compendium.manuscript_context import context
from compendium.manuscript_template import render_markdown, render_once
from compendium.manuscript_typeset import run_pandocs, typst_pdf
from compendium.paths import Paths


def test_one_filling_of_the_template_gives_each_variant_as_a_filling_of_its_own(built_copy: Paths) -> None:
    ctx = context(built_copy)
    ctx["provenance_md"] = "| notebook |\n|---|\n| 01_read_corpus |"  # the build adds this table
    with_figures, used = render_once(ctx, built_copy, FIGURES)
    variants = [
        None,
        {stem: f"data:image/png;base64,{stem.upper()}" for stem in FIGURES},
        {stem: f"/figures/{stem}.png" for stem in FIGURES},
    ]
    for figures in variants:
        once = with_figures(figures)
        alone, used_alone = render_markdown(ctx, built_copy, figures=figures)
        assert once == alone
        assert used == used_alone
        assert "compendium-figure-" not in once
    assert "data:image/png;base64,RECURRENCE_HEATMAP" in with_figures(variants[1])


# How the PDF's typst source was written before it came from the one reading: from the Markdown, read
# at the PDF's width (paths relative to the root).
TYPST_LONG_WAY = [
    "-t",
    "typst",
    "-s",
    "-V",
    "papersize=a4",
    "-V",
    "fontsize=11pt",
    f"--columns={TYPST_COLUMNS}",
    "--include-in-header",
    "src/compendium/templates/typst-header.typ",
    "--lua-filter",
    "manuscript/typst.lua",
]


def test_formats_written_from_one_reading_are_the_bytes_of_converting_the_markdown_each(
    built_copy: Paths, tmp_path: Path
) -> None:
    """The long way, as before: each format converted from its own Markdown (figures as data:
    URIs for HTML and DOCX), reading it again every time. The build's HTML, JATS and DOCX must be
    exactly those bytes."""
    import base64
    import subprocess

    from compendium.manuscript import reading_args
    from compendium.manuscript_typeset import pandoc

    root, work = built_copy.root, built_copy.build / "manuscript"
    markdown = (work / "manuscript.md").read_text(encoding="utf-8")
    embedded = markdown
    for stem in FIGURES:
        data = (built_copy.figures / f"{stem}.png").read_bytes()
        embedded = embedded.replace(
            f"(figures/{stem}.png)", f"(data:image/png;base64,{base64.b64encode(data).decode()})"
        )
    assert embedded != markdown
    (tmp_path / "embedded.md").write_text(embedded, encoding="utf-8")
    reading = reading_args(built_copy, work / "apa.csl")
    runs = {
        "manuscript.html": [
            str(tmp_path / "embedded.md"),
            "-t",
            "html5",
            "-s",
            "--include-in-header",
            "build/manuscript/style.html",
        ],
        "manuscript.jats.xml": [
            "build/manuscript/manuscript.md",
            "-t",
            "jats_archiving",
            "-s",
            "--lua-filter",
            "manuscript/jats.lua",
        ],
        "manuscript.docx": [
            str(tmp_path / "embedded.md"),
            "-t",
            "docx",
            "--reference-doc",
            "build/manuscript/reference.docx",
        ],
    }
    # The PDF's typst source, read at the PDF's width with the figures in typst's folder.
    typst_md = markdown
    for stem in FIGURES:
        typst_md = typst_md.replace(f"(figures/{stem}.png)", f"(/figures/{stem}.png)")
    (tmp_path / "typst.md").write_text(typst_md, encoding="utf-8")
    runs["manuscript.typ"] = [str(tmp_path / "typst.md"), *TYPST_LONG_WAY]
    built = {name: built_copy.output / name for name in runs} | {"manuscript.typ": work / "typst" / "manuscript.typ"}
    for name, args in runs.items():
        out = tmp_path / name
        subprocess.run(
            [pandoc(), args[0], *reading, *args[1:], "-o", str(out)], cwd=root, check=True, capture_output=True
        )
        assert out.read_bytes() == built[name].read_bytes(), name


def _pandoc_tree(markdown: str, *args: str) -> dict:
    import json
    import subprocess

    from compendium.manuscript_typeset import pandoc

    out = subprocess.run(
        [pandoc(), "-f", "markdown", "-t", "json", *args], input=markdown, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def _pipe_table(first_cell: str, separator_dashes: int = 3) -> str:
    return f"| {first_cell} | b |\n|:{'-' * separator_dashes}|:--|\n| x | y |\n"


# Tables around the PDF's width: pandoc counts a line's characters (not bytes, escapes as typed,
# trailing spaces left out), the separator line too, and keeps widths only beyond the width.
TABLES = {
    "narrow": _pipe_table("a" * 20),
    "wider than 72": _pipe_table("a" * 100),
    "exactly the PDF's width": _pipe_table("a" * (TYPST_COLUMNS - 8)),
    "one character wider": _pipe_table("a" * (TYPST_COLUMNS - 7)),
    "multibyte characters": _pipe_table("é" * (TYPST_COLUMNS - 8)),
    "escaped characters": _pipe_table("\\." * ((TYPST_COLUMNS - 8) // 2)),
    "long separator only": _pipe_table("a", separator_dashes=TYPST_COLUMNS),
    "trailing spaces": _pipe_table("a" * 100).replace("| x | y |", "| x | y |" + " " * TYPST_COLUMNS),
    "a row longer than the header": "| a | b |\n|:--|:--|\n| " + "x" * TYPST_COLUMNS + " | y |\n",
}


@pytest.mark.parametrize("table", list(TABLES.values()), ids=list(TABLES))
def test_a_tree_read_at_72_columns_is_remeasured_as_pandoc_reads_it_at_the_pdfs_width(table: str) -> None:
    markdown = f"# Results\n\nText before.\n\n{table}\nText between.\n\n{TABLES['wider than 72']}"
    assert len(pipe_table_widths(markdown)) == 2
    assert _typst_widths(_pandoc_tree(markdown), markdown) == _pandoc_tree(markdown, f"--columns={TYPST_COLUMNS}")


def test_a_table_that_is_not_a_pipe_table_leaves_its_widths_to_a_second_reading() -> None:
    grid = "+-----+-----+\n| a   | b   |\n+=====+=====+\n| x   | y   |\n+-----+-----+\n"
    markdown = f"{grid}\n{TABLES['wider than 72']}"
    assert pipe_table_widths(markdown) == [len(TABLES["wider than 72"].splitlines()[0])]
    assert _typst_widths(_pandoc_tree(markdown), markdown) is None


def test_a_grid_table_in_the_template_gets_the_pdf_typst_would_have_from_reading_at_its_width(
    clone_built: Callable[[str], Paths], run_cli: Callable[..., subprocess.CompletedProcess]
) -> None:
    """An author's grid table is measured otherwise than a pipe table: the build reads the
    Markdown a second time at the PDF's width, and the typst source is that reading's."""
    from compendium.manuscript import reading_args
    from compendium.manuscript_typeset import pandoc

    p = clone_built("grid_table")
    template = p.root / "manuscript" / "template.md"
    grid = "+------------+-----------+\n| Step       | Who       |\n+============+===========+\n| Coding     | Two       |\n+------------+-----------+\n"
    template.write_text(
        template.read_text(encoding="utf-8").replace("# Data availability\n", f"# Data availability\n\n{grid}\n"),
        encoding="utf-8",
    )
    pdf_before = (p.output / "manuscript.pdf").read_bytes()
    result = run_cli(p.root, "manuscript")
    assert result.returncode == 0, result.stdout[-3000:]
    work = p.build / "manuscript"
    typst_md = (work / "manuscript.md").read_text(encoding="utf-8")
    assert "| Coding     | Two       |" in typst_md
    for stem in FIGURES:
        typst_md = typst_md.replace(f"(figures/{stem}.png)", f"(/figures/{stem}.png)")
    (work / "expected_typst.md").write_text(typst_md, encoding="utf-8")
    expected = subprocess.run(
        [
            pandoc(),
            "build/manuscript/expected_typst.md",
            *reading_args(p, work / "apa.csl"),
            *TYPST_LONG_WAY,
        ],
        cwd=p.root,
        capture_output=True,
        check=True,
    ).stdout
    assert (work / "typst" / "manuscript.typ").read_bytes() == expected
    assert (p.output / "manuscript.pdf").read_bytes() != pdf_before, "the PDF was not rewritten with the table"


def test_pandoc_runs_side_by_side_and_the_first_failure_in_order_is_reported(tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text("# Fine\n", encoding="utf-8")
    good = ["ok.md", "-f", "markdown", "-t", "html5", "-o", "ok.html"]
    run_pandocs([good, ["ok.md", "-f", "markdown", "-t", "docx", "-o", "ok.docx"]], cwd=tmp_path)
    assert "Fine" in (tmp_path / "ok.html").read_text(encoding="utf-8")
    assert (tmp_path / "ok.docx").stat().st_size > 0
    with pytest.raises(CompendiumError, match="missing-first") as err:
        run_pandocs(
            [good, ["missing-first.md", "-t", "html5"], ["missing-second.md", "-t", "html5"]],
            cwd=tmp_path,
        )
    assert "missing-second" not in str(err.value)


def test_each_conversion_starts_as_soon_as_it_is_given(tmp_path: Path) -> None:
    """The manuscript prepares the DOCX's and HTML's tree while pandoc writes the PDF's source:
    a conversion must be running before the next one is asked for."""
    import time

    from compendium.manuscript_typeset import pandocs_started

    (tmp_path / "ok.md").write_text("# Fine\n", encoding="utf-8")
    seen: list[bool] = []

    def runs():
        yield ["ok.md", "-t", "html5", "-o", "first.html"]
        deadline = time.monotonic() + 60
        while not (tmp_path / "first.html").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append((tmp_path / "first.html").exists())
        yield ["ok.md", "-t", "html5", "-o", "second.html"]

    with pandocs_started(runs(), tmp_path) as started:
        assert len(started) == 2
    assert seen == [True]
    assert (tmp_path / "second.html").is_file()


def test_the_warm_build_server_has_read_the_name_list_its_children_share() -> None:
    identifiers.first_names.cache_clear()
    server._warm()
    assert identifiers.first_names.cache_info().currsize == 1
    assert "jennifer" in identifiers.first_names()


def test_the_warm_build_server_has_compiled_the_template_its_children_fill(
    built_copy: Paths, clone_built: Callable[[str], Paths]
) -> None:
    from compendium.manuscript_template import compiled_template

    compiled_template.cache_clear()
    server._compile_manuscript_template()  # the working tree's template: the same text as the copy's
    assert compiled_template.cache_info().currsize == 1
    ctx = context(built_copy)
    ctx["provenance_md"] = "| notebook |\n|---|\n| 01_read_corpus |"
    render_markdown(ctx, built_copy)
    assert compiled_template.cache_info().hits == 1, "the manuscript compiled the template a second time"
    # An edited template is compiled anew, never filled from the copy kept for the old text.
    p = clone_built("edited_template")
    p.template.write_text(p.template.read_text(encoding="utf-8") + "\nCompiled anew.\n", encoding="utf-8")
    markdown, _ = render_markdown(ctx, p)
    assert "Compiled anew." in markdown
    assert compiled_template.cache_info().currsize == 2


@pytest.mark.parametrize(
    "line, message",
    [("Value {{ no_such_value }}.", "'no_such_value' is undefined"), ("{% if %}", "Expected an expression")],
    ids=["unknown placeholder", "syntax error"],
)
def test_a_broken_template_names_its_line(
    built_copy: Paths, clone_built: Callable[[str], Paths], line, message
) -> None:
    p = clone_built("broken_template")
    lines = p.template.read_text(encoding="utf-8").split("\n")
    lines.insert(40, line)
    p.template.write_text("\n".join(lines), encoding="utf-8")
    ctx = context(built_copy)
    ctx["provenance_md"] = "| notebook |\n|---|\n| 01_read_corpus |"
    with pytest.raises(CompendiumError, match=r"template\.md, line 41: ") as err:
        render_markdown(ctx, p)
    assert message in str(err.value) and "placeholder names" in str(err.value.fix)


def test_the_pdf_uses_only_the_fonts_typst_carries_never_the_machines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A font installed on the machine (here DejaVu Sans, from matplotlib, in the user's font folder)
    that the document asks for is not used: the PDF's bytes must not depend on where it was built."""
    import matplotlib
    import typst

    fonts = tmp_path / "home" / ".fonts"
    fonts.mkdir(parents=True)
    shipped = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    (fonts / "DejaVuSans.ttf").write_bytes(shipped.read_bytes())
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    source = tmp_path / "doc.typ"
    source.write_text('#set text(font: "DejaVu Sans")\nA line of text.\n', encoding="utf-8")

    with_system = tmp_path / "with_system.pdf"
    typst.compile(str(source), output=str(with_system), root=str(tmp_path), timestamp=0)
    assert b"DejaVuSans" in with_system.read_bytes(), "the machine's font should be visible to typst here"

    built = tmp_path / "built.pdf"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    typst_pdf(source, built, tmp_path, Paths(tmp_path))
    assert b"DejaVuSans" not in built.read_bytes()
    assert b"LibertinusSerif" in built.read_bytes()  # typst's own serif stands in


@pytest.mark.heavy  # runs pandoc (for its default reference document)
def test_the_docx_reference_is_made_once_per_date_and_never_kept_when_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compendium.manuscript_typeset import reference_docx

    kept, fresh = tmp_path / "kept" / "reference.docx", tmp_path / "fresh" / "reference.docx"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = reference_docx(kept).read_bytes()
    made = kept.stat().st_mtime_ns
    assert reference_docx(kept).read_bytes() == first and kept.stat().st_mtime_ns == made  # kept, not made again
    # Its entries carry the build's date, which pandoc copies into the manuscript: a new date, a new reference.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")
    second = reference_docx(kept).read_bytes()
    assert second != first
    assert second == reference_docx(fresh).read_bytes()  # the same bytes as one made with nothing kept
    kept.write_bytes(second[:-1] + b"\0")  # a damaged copy is made again, whatever the key says
    assert reference_docx(kept).read_bytes() == second
