"""End-to-end tests of the manuscript draft: DOCX, PDF and HTML built by `make all` in a temporary copy.

Numbers, pseudonyms and headings expected here are read from the copy's data
and generated values files, never typed in, unless they are fixed by the
study design (three theme levels, COREQ's 32 items in three domains).
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path

import lxml.html
import pandas as pd
import pytest
from docx import Document
from docx.document import Document as Docx
from docx.table import Table
from pypdf import PdfReader

from compendium.descriptives import number_word
from compendium.paths import Paths

pytestmark = pytest.mark.slow  # every test here needs at least one build of the compendium

Runner = Callable[..., subprocess.CompletedProcess]  # run_make / run_cli from conftest.py
Clone = Callable[[str], Paths]  # clone_built from conftest.py

HEADINGS = ["Introduction", "Method", "Results", "Discussion"]
ABSTRACT_LABELS = ["Objectives.", "Design.", "Methods.", "Results.", "Conclusions."]
A4_POINTS = (595.28, 841.89)
NOTICE = "Synthetic data notice"
# Elements whose src/href/srcset/data make a browser fetch something when the page loads.
LOADING_TAGS = {
    "link",
    "script",
    "img",
    "iframe",
    "source",
    "video",
    "audio",
    "embed",
    "object",
    "track",
    "input",
    "frame",
    "base",
}
LOADING_ATTRS = ("src", "href", "srcset", "data", "poster")
EXTERNAL = re.compile(r"^\s*(?:https?:)?//", re.I)


# ---------------------------------------------------------------- readers
def squash(text: str) -> str:
    """Collapse every run of whitespace (line breaks included) to one space."""
    return " ".join(text.split())


def html_text(path: Path) -> str:
    tree = lxml.html.fromstring(path.read_bytes())
    for bad in tree.xpath("//style|//script"):
        bad.drop_tree()
    return squash(tree.text_content())


def docx_text(doc: Docx) -> str:
    parts = [p.text for p in doc.paragraphs]
    parts += [cell.text for table in doc.tables for row in table.rows for cell in row.cells]
    return squash("\n".join(parts))


def pdf_pages(path: Path) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(str(path)).pages]


def external_loads(path: Path) -> list[str]:
    """Every resource a page would fetch from another host when opened."""
    tree = lxml.html.fromstring(path.read_bytes())
    found = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        if tag in LOADING_TAGS:
            for attr in LOADING_ATTRS:
                value = element.get(attr)
                if value and any(EXTERNAL.match(v.split()[0]) for v in value.split(",") if v.strip()):
                    found.append(f"<{tag} {attr}={value[:80]!r}>")
        if tag == "style" or element.get("style"):
            css = element.text_content() if tag == "style" else element.get("style")
            found += [
                f"<{tag}> CSS {m!r}" for m in re.findall(r"url\(\s*['\"]?(?:https?:)?//[^)]*\)|@import[^;]*", css)
            ]
    return found


def tree_hashes(folder: Path) -> dict[str, str]:
    return {
        str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


def mtimes(paths: list[Path]) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in paths}


def table_rows(table: Table) -> list[list[str]]:
    return [[cell.text.strip() for cell in row.cells] for row in table.rows]


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def docx(built_copy: Paths) -> Docx:
    return Document(str(built_copy.output / "manuscript.docx"))


@pytest.fixture(scope="module")
def html_path(built_copy: Paths) -> Path:
    return built_copy.output / "manuscript.html"


@pytest.fixture(scope="module")
def pdf_path(built_copy: Paths) -> Path:
    return built_copy.output / "manuscript.pdf"


@pytest.fixture(scope="module")
def descriptives(built_copy: Paths) -> dict:
    return json.loads((built_copy.values / "descriptives.json").read_text(encoding="utf-8"))


def manuscript_files(p: Paths) -> list[Path]:
    return [
        p.output / name
        for name in (
            "manuscript.docx",
            "manuscript.html",
            "manuscript.pdf",
            "coreq_checklist.csv",
            "coreq_checklist.md",
        )
    ]


# ---------------------------------------------------------------- DOCX
def test_docx_table1_is_a_word_table_with_the_pseudonyms_in_order(built_copy: Paths, docx: Docx) -> None:
    expected = pd.read_csv(built_copy.participants, dtype=str)["pseudonym"].tolist()
    assert len(expected) == 8
    assert len(docx.tables) >= 3, f"expected Word tables for Table 1, Table 2 and Table S1, found {len(docx.tables)}"
    rows = table_rows(docx.tables[0])
    header = pd.read_csv(built_copy.tables / "table1_sample.csv", nrows=0).columns.tolist()
    assert rows[0] == header
    assert rows[-1][0].startswith("Note. ACT = "), "the abbreviations note is not the table's last row"
    assert [r[0] for r in rows[1:-1]] == expected  # Jennifer, Lauren, Amy, ... Eric


def test_docx_table2_has_three_levels_of_themes(docx: Docx) -> None:
    rows = table_rows(docx.tables[1])
    assert rows[0] == ["Superordinate theme", "Subordinate theme", "Minor theme"]
    distinct = [len({r[i] for r in rows[1:] if r[i]}) for i in range(3)]
    assert distinct == [3, 6, 3], f"distinct superordinate/subordinate/minor themes: {distinct}"


def test_docx_normal_style_is_12pt_times_double_spaced(docx: Docx) -> None:
    for name in ("Normal", "Body Text"):
        style = docx.styles[name]
        assert style.font.name == "Times New Roman", name
        assert style.font.size is not None and style.font.size.pt == 12, name
        assert style.paragraph_format.line_spacing == 2.0, name


def test_docx_has_the_main_headings_in_order(docx: Docx) -> None:
    top = [p.text for p in docx.paragraphs if p.style.name == "Heading 1"]
    found = [h for h in top if h in HEADINGS]
    assert found == HEADINGS, f"top-level headings: {top}"


# ---------------------------------------------------------------- PDF
def test_pdf_has_abstract_labels_headings_and_a4_pages(pdf_path: Path) -> None:
    pages = pdf_pages(pdf_path)
    text = squash(" ".join(pages))
    missing = [label for label in ABSTRACT_LABELS if label not in text]
    assert not missing, f"abstract labels missing from the PDF text: {missing}"
    lines = [line.strip() for page in pages for line in page.splitlines()]
    headings = [line for line in lines if line in HEADINGS]
    assert headings == HEADINGS, f"heading lines found in the PDF: {headings}"
    for number, page in enumerate(PdfReader(str(pdf_path)).pages, start=1):
        size = (float(page.mediabox.width), float(page.mediabox.height))
        assert size == pytest.approx(A4_POINTS, abs=1), f"page {number} is {size} pt, not A4"


def test_synthetic_data_notice_is_on_the_first_page(pdf_path: Path, docx: Docx) -> None:
    assert NOTICE in squash(pdf_pages(pdf_path)[0])
    before_abstract = []
    for paragraph in docx.paragraphs:
        if paragraph.style.name.startswith("Heading"):
            break
        before_abstract.append(paragraph.text)
    assert any(text.startswith(NOTICE) for text in before_abstract), (
        f"the notice is not among the DOCX paragraphs before the first heading: {before_abstract}"
    )


# ---------------------------------------------------------------- HTML
def test_html_loads_nothing_from_outside(html_path: Path) -> None:
    assert external_loads(html_path) == []
    tree = lxml.html.fromstring(html_path.read_bytes())
    images = tree.xpath("//img/@src")
    assert len(images) >= 2, "expected Figures 1 and 2 as images"
    assert all(src.startswith("data:image/") for src in images), [src[:40] for src in images]
    # Plain links are allowed, but only in-page, to the notebook pages, or to DOIs in the references.
    links = tree.xpath("//a/@href")
    elsewhere = [h for h in links if not (h.startswith(("#", "notebooks/", "https://doi.org/")))]
    assert elsewhere == []


# ---------------------------------------------------------------- citations
def test_citations_render_in_apa_style(html_path: Path, docx: Docx, pdf_path: Path) -> None:
    cited = re.compile(r"Pietkiewicz and Smith \(2014\)")  # APA 7: narrative citations join authors with "and"
    reference = "Pietkiewicz, I., & Smith, J. A. (2014)"
    html = html_text(html_path)
    assert cited.search(html), "no APA in-text citation of Pietkiewicz and Smith (2014) in the HTML"
    assert reference in html.split("References")[-1]
    assert cited.search(docx_text(docx))
    assert "Pietkiewicz & Smith (2014)" not in html + docx_text(docx)
    assert cited.search(squash(" ".join(pdf_pages(pdf_path)))), "PDF: no narrative citation with 'and'"
    heading = next(i for i, p in enumerate(docx.paragraphs) if p.style.name == "Heading 1" and p.text == "References")
    assert any(p.text.startswith(reference) for p in docx.paragraphs[heading + 1 :]), (
        "the reference is not in the DOCX reference list"
    )


# ---------------------------------------------------------------- numbers from data
def test_numbers_in_the_text_come_from_the_values_file(
    built_copy: Paths, descriptives: dict, html_path: Path, docx: Docx, pdf_path: Path
) -> None:
    durations = pd.read_csv(built_copy.participants)["duration_min"]
    d = descriptives["durations"]
    # The values file is the data's summary ...
    assert descriptives["n"] == len(durations)
    assert (d["min"], d["max"], d["mean"]) == (durations.min(), durations.max(), round(durations.mean(), 2))
    # ... and the text says exactly what the values file says.
    expected = [
        f"{number_word(descriptives['n']).capitalize()} Australian clinicians",
        f"sample comprised {number_word(descriptives['n'])} clinicians",
        f"{d['min']} to {d['max']} minutes",
        f"M = {d['mean']:.1f}",
        f"SD = {d['sd']:.1f}",
    ]
    for name, text in (
        ("HTML", html_text(html_path)),
        ("DOCX", docx_text(docx)),
        ("PDF", squash(" ".join(pdf_pages(pdf_path)))),
    ):
        missing = [e for e in expected if e not in text]
        assert not missing, f"{name}: not found: {missing}"


def test_a_changed_duration_reaches_the_text(clone_built: Clone, run_make: Runner, descriptives: dict) -> None:
    p = clone_built("perturbed")
    participants = pd.read_csv(p.participants, dtype=str, keep_default_na=False)
    durations = participants["duration_min"].astype(int)
    longest = int(durations.idxmax())
    old_max = int(durations.max())
    participants.loc[longest, "duration_min"] = str(old_max + 4)  # 71 -> 75: the maximum and the mean change
    p.participants.write_text(participants.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    new = participants["duration_min"].astype(int)
    new_range = f"{new.min()} to {new.max()} minutes"
    new_mean = round(statistics.mean(new), 2)
    old_mean = descriptives["durations"]["mean"]
    assert new_mean != old_mean

    result = run_make(p.root, "all")
    assert result.returncode == 0, result.stdout[-3000:]
    values = json.loads((p.values / "descriptives.json").read_text(encoding="utf-8"))["durations"]
    assert (values["max"], values["mean"]) == (old_max + 4, new_mean)
    for name, text in (
        ("HTML", html_text(p.output / "manuscript.html")),
        ("DOCX", docx_text(Document(str(p.output / "manuscript.docx")))),
    ):
        assert new_range in text, f"{name}: {new_range!r} not found"
        assert f"M = {new_mean:.1f}" in text, f"{name}: new mean {new_mean} not found"
        assert f"{new.min()} to {old_max} minutes" not in text, f"{name}: the old range is still there"
        assert f"M = {old_mean:.1f}" not in text, f"{name}: the old mean {old_mean} is still there"


# ---------------------------------------------------------------- quote integrity
@pytest.mark.parametrize("tamper", ["excerpt word", "pseudonym"])
def test_a_tampered_quote_stops_the_manuscript(tamper: str, clone_built: Clone, run_cli: Runner) -> None:
    p = clone_built("quote")
    bank_path = p.tables / "quote_bank.csv"
    bank = pd.read_csv(bank_path, dtype=str, keep_default_na=False)
    rendered = (p.build / "manuscript" / "manuscript.md").read_text(encoding="utf-8")
    used = [i for i, excerpt in enumerate(bank["excerpt"]) if excerpt in rendered]
    assert used, "no quote of the quote bank appears in the rendered manuscript"
    row = used[0]
    segment = bank.loc[row, "segment_id"]
    if tamper == "excerpt word":
        words = bank.loc[row, "excerpt"].split(" ")
        middle = len(words) // 2
        words[middle] = "zebra" if words[middle] != "zebra" else "giraffe"
        bank.loc[row, "excerpt"] = " ".join(words)
        named = bank.loc[row, "pseudonym"]
    else:
        others = sorted(set(bank["pseudonym"]) - {bank.loc[row, "pseudonym"]})
        bank.loc[row, "pseudonym"] = named = others[0]
    bank_path.write_text(bank.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    before, stamps = tree_hashes(p.output), mtimes(manuscript_files(p))

    result = run_cli(p.root, "manuscript")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "Traceback" not in result.stdout, result.stdout[-3000:]
    assert result.stdout.lstrip().startswith("error:") or "\nerror:" in result.stdout
    assert segment in result.stdout and named in result.stdout, result.stdout[-2000:]
    assert tree_hashes(p.output) == before, "manuscript outputs changed although the build failed"
    assert mtimes(manuscript_files(p)) == stamps, "manuscript files were rewritten although the build failed"


# ---------------------------------------------------------------- COREQ
def test_coreq_checklist_has_32_items_mapped_to_real_headings(built_copy: Paths, html_path: Path) -> None:
    coreq = pd.read_csv(built_copy.output / "coreq_checklist.csv", dtype={"No.": int}, keep_default_na=False)
    assert coreq["No."].tolist() == list(range(1, 33))
    domains = coreq.groupby("Domain", sort=False)["No."].agg(["min", "max"])
    # COREQ (Tong et al., 2007): items 1-8, 9-23 and 24-32.
    assert domains.reset_index().values.tolist() == [
        ["Research team and reflexivity", 1, 8],
        ["Study design", 9, 23],
        ["Analysis and findings", 24, 32],
    ]
    tree = lxml.html.fromstring(html_path.read_bytes())
    headings = {squash(h.text_content()) for h in tree.xpath("//h1|//h2|//h3|//h4|//h5|//h6")}
    places = set(coreq["Reported in"])
    assert places - {"Not reported"}, "no COREQ item is reported anywhere"
    assert places - {"Not reported"} <= headings, (
        f"not headings of the manuscript: {places - headings - {'Not reported'}}"
    )
    # Items that need a value the study has (sample size, durations, quote rule, ...) are all reported.
    import yaml

    from compendium.manuscript_template import TEMPLATES

    items = yaml.safe_load((TEMPLATES / "coreq.yaml").read_text(encoding="utf-8"))["items"]
    needing = [item["n"] for item in items if item.get("requires")]
    assert len(needing) >= 8
    unreported = coreq.loc[coreq["No."].isin(needing) & (coreq["Reported in"] == "Not reported"), "No."].tolist()
    assert unreported == [], f"COREQ items {unreported} have their values but are reported as missing"


def test_coreq_refuses_a_requirement_the_manuscript_does_not_hold() -> None:
    from compendium.errors import CompendiumError
    from compendium.manuscript_template import coreq_table

    with pytest.raises(CompendiumError, match="requires 'sample.n'"):
        coreq_table("# Participants\n", {"d": {"n": 8}})


# ---------------------------------------------------------------- provenance
def test_provenance_lists_every_table_and_figure_with_its_notebook(built_copy: Paths) -> None:
    prov = pd.read_csv(built_copy.output / "provenance.csv", dtype=str, keep_default_na=False)
    produced = {
        str(f.relative_to(built_copy.root))
        for f in [
            *built_copy.tables.rglob("*.csv"),
            *built_copy.figures.glob("*.svg"),
            *built_copy.values.glob("*.json"),
        ]
    }
    assert set(prov["artefact"]) == produced
    assert prov["artefact"].is_unique
    owner = dict(zip(prov["artefact"], prov["notebook"]))
    for pid in pd.read_csv(built_copy.participants, dtype=str)["participant_id"]:
        assert owner[f"manuscript/tables/cases/case_{pid}.csv"] == f"02_analyse_case_{pid}"
    assert owner["manuscript/tables/corpus_overview.csv"] == "01_read_corpus"
    assert owner["manuscript/tables/table2_themes.csv"] == "03_analyse_across_cases"
    assert owner["manuscript/tables/table1_sample.csv"] == "04_describe_sample"
    assert owner["figures/interview_durations.svg"] == "04_describe_sample"
    assert prov["inputs_sha256"].str.fullmatch(r"[0-9a-f]{64}").all()
    # The digest is the SHA-256 of the sorted "sha256  path" lines of the notebook's inputs, as they are now.
    inputs = pd.read_csv(built_copy.output / "provenance_inputs.csv", dtype=str, keep_default_na=False)
    for notebook, group in inputs.groupby("notebook"):
        lines = []
        for rel, digest in zip(group["input"], group["sha256"]):
            assert hashlib.sha256((built_copy.root / rel).read_bytes()).hexdigest() == digest, f"{notebook}: {rel}"
            lines.append(f"{digest}  {rel}")
        combined = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
        assert set(prov.loc[prov["notebook"] == notebook, "inputs_sha256"]) <= {combined}, notebook


def test_html_links_each_notebook_to_its_self_contained_page(built_copy: Paths, html_path: Path) -> None:
    notebooks = set(pd.read_csv(built_copy.output / "provenance.csv", dtype=str)["notebook"])
    assert len(notebooks) == 11  # corpus overview, eight cases, cross-case, sample
    links = set(lxml.html.fromstring(html_path.read_bytes()).xpath("//a/@href"))
    for name in sorted(notebooks):
        assert f"notebooks/{name}.html" in links, f"no link to notebooks/{name}.html"
        page = built_copy.output / "notebooks" / f"{name}.html"
        assert page.is_file(), page
        assert name in html_text(page)
        assert external_loads(page) == [], f"{page.name} loads external resources"


# ---------------------------------------------------------------- anonymisation gate
def test_anonymisation_gate_stops_a_manuscript_with_an_email_address(clone_built: Clone, run_cli: Runner) -> None:
    p = clone_built("anonymise")
    address = "j.citizen@example.org"
    template = p.template.read_text(encoding="utf-8")
    marker = "\n# Data availability\n"
    assert marker in template
    p.template.write_text(
        template.replace(marker, f"\nQuestions can go to {address} at any time.\n{marker}"), encoding="utf-8"
    )
    before, stamps = tree_hashes(p.output), mtimes(manuscript_files(p))

    result = run_cli(p.root, "manuscript")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "Traceback" not in result.stdout
    assert "e-mail address" in result.stdout and address in result.stdout, result.stdout[-2000:]
    assert tree_hashes(p.output) == before
    assert mtimes(manuscript_files(p)) == stamps
