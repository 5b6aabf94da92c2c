"""The manuscript step's shortcuts give exactly what the long way gives.

The template is filled once for the three figure addresses (paths, data: URIs, the typst
folder), DOCX, HTML and JATS are written from one reading of the Markdown (pandoc's JSON
tree), and the pandoc conversions run side by side; none may change a byte or an error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compendium import identifiers, server
from compendium.errors import CompendiumError
from compendium.manuscript import FIGURES
from compendium.manuscript_context import context
from compendium.manuscript_template import render_markdown, render_once
from compendium.manuscript_typeset import run_pandocs
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
    for name, args in runs.items():
        out = tmp_path / name
        subprocess.run(
            [pandoc(), args[0], *reading, *args[1:], "-o", str(out)], cwd=root, check=True, capture_output=True
        )
        assert out.read_bytes() == (built_copy.output / name).read_bytes(), name


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


def test_the_warm_build_server_has_read_the_name_list_its_children_share() -> None:
    identifiers.first_names.cache_clear()
    server._warm()
    assert identifiers.first_names.cache_info().currsize == 1
    assert "jennifer" in identifiers.first_names()
