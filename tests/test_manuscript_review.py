"""The built manuscript read as a reviewer would: themes with commentary and quotes from several
clinicians, the sections a journal asks for, APA details, JATS, layout, hostile data and
themes that drop out of the results. Everything expected is read from the build's own data."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import lxml.etree
import pandas as pd
import pytest
import yaml
from docx import Document
from docx.document import Document as Docx

from conftest import data_restored
from compendium.paths import Paths

pytestmark = pytest.mark.slow

Runner = Callable[..., subprocess.CompletedProcess]
Clone = Callable[[str], Paths]
ATTRIBUTION = re.compile(r"\((?P<who>[^,()]+), [^()]+, lines? \d+(?:–\d+)?\)$")
MECHANICAL = re.compile(
    r"\b(\w+) of (?:the )?\1\b|\b(?:zero|one|two|three|four|five|six|seven|eight|nine|\d+) of (?:the )?"
    r"(?P<n>\w+) \w+ (?:were|was) (?P=n)\b|From each of the first \d|ties by participant id",
    re.I,
)
SECTIONS = [
    "How the clinicians understood self-compassion",
    "Discussion",
    "Strengths and limitations",
    "Implications for practice",
    "Conclusions",
    "Declarations",
    "Ethics approval and consent",
    "Funding",
    "Conflicts of interest",
    "Author contributions (CRediT)",
    "Acknowledgements",
    "Data availability",
]


def squash(text: str) -> str:
    """Whitespace runs as one space, curly quotes as straight ones (pandoc's smart typography)."""
    return " ".join(text.translate(str.maketrans("‘’“”", "''\"\"")).split())


def codebook(p: Paths) -> list[dict]:
    return yaml.safe_load(p.codebook.read_text(encoding="utf-8"))["themes"]


def theme_sections(doc: Docx) -> dict[str, list]:
    """Paragraphs under each heading, up to the next heading of any level."""
    sections: dict[str, list] = {}
    current = None
    for paragraph in doc.paragraphs:
        if paragraph.style.name.startswith("Heading"):
            current = squash(paragraph.text)
            sections[current] = []
        elif current is not None:
            sections[current].append(paragraph)
    return sections


@pytest.fixture(scope="module")
def docx(built_copy: Paths) -> Docx:
    return Document(str(built_copy.output / "manuscript.docx"))


def test_every_subordinate_and_minor_theme_has_commentary_and_several_voices(built_copy: Paths, docx: Docx) -> None:
    sections = theme_sections(docx)
    themes = [t for t in codebook(built_copy) if t["level"] in ("subordinate", "minor")]
    assert len(themes) == 9
    voices: dict[str, int] = {}
    for theme in themes:
        paragraphs = sections.get(squash(theme["label"]))
        assert paragraphs is not None, f"no heading for theme {theme['id']} {theme['label']!r}"
        quotes = [squash(p.text) for p in paragraphs if p.style.name == "Block Text"]
        speakers = [ATTRIBUTION.search(q).group("who") for q in quotes if ATTRIBUTION.search(q)]
        assert len(speakers) == len(quotes), f"{theme['id']}: a block quote without (pseudonym, profession, line)"
        assert len(quotes) >= 2 and len(set(speakers)) >= 2, f"{theme['id']}: quotes from {speakers}"
        commentary = " ".join(p.text for p in paragraphs if p.style.name != "Block Text")
        words = len(commentary.split())
        assert words >= 150, f"{theme['id']}: {words} words of commentary"
        assert re.search(r"“[^”]+” \(lines? \d", commentary), f"{theme['id']}: no embedded phrase with its line"
        for who in speakers:
            voices[who] = voices.get(who, 0) + 1
    # No clinician dominates: nobody supplies more than twice an equal share of the block quotes.
    total = sum(voices.values())
    assert max(voices.values()) <= 2 * total / len(voices), voices


def test_quoted_clinicians_are_named_with_their_profession(built_copy: Paths, docx: Docx) -> None:
    people = pd.read_csv(built_copy.participants, dtype=str)
    job = {r.pseudonym: r.qualification.replace(" & ", " and ") for r in people.itertuples()}
    for paragraph in docx.paragraphs:
        if paragraph.style.name == "Block Text":
            match = ATTRIBUTION.search(squash(paragraph.text))
            assert match, paragraph.text
            who = match.group("who")
            assert who in job
            assert job[who][:1].lower() + job[who][1:] in paragraph.text


def test_quotes_that_start_mid_sentence_begin_with_an_ellipsis(docx: Docx) -> None:
    for paragraph in docx.paragraphs:
        if paragraph.style.name == "Block Text":
            first = paragraph.text.lstrip()[:1]
            assert not first.islower(), f"a quote starts mid-sentence without an ellipsis: {paragraph.text[:60]!r}"


def test_sections_a_journal_asks_for_are_present(docx: Docx) -> None:
    headings = [squash(p.text) for p in docx.paragraphs if p.style.name.startswith("Heading")]
    missing = [s for s in SECTIONS if s not in headings]
    assert not missing, f"missing sections: {missing}"
    results = headings.index("Results")
    assert headings.index("How the clinicians understood self-compassion") == results + 1


def test_table1_note_spells_out_every_abbreviation_in_the_table(built_copy: Paths, docx: Docx) -> None:
    text = squash(
        "\n".join([p.text for p in docx.paragraphs] + [c.text for t in docx.tables for r in t.rows for c in r.cells])
    )
    frameworks = " ".join(pd.read_csv(built_copy.participants, dtype=str)["frameworks"])
    abbreviations = sorted(set(re.findall(r"\b[A-Z]{2,}\b", frameworks)))
    assert abbreviations == ["ACT", "CBT", "EMDR", "IFS"]
    note = re.search(r"Note\. (.+?internal family systems\.)", text)
    assert note, "no Table 1 note"
    for abbr in abbreviations:
        assert f"{abbr} = " in note.group(1)


def test_apa_statistics_and_no_mechanical_counts(built_copy: Paths, docx: Docx) -> None:
    import json

    d = json.loads((built_copy.values / "descriptives.json").read_text(encoding="utf-8"))["durations"]
    text = squash("\n".join(p.text for p in docx.paragraphs))
    assert f"M = {d['mean']:.1f}, SD = {d['sd']:.1f}" in text
    assert f"SD {d['sd']}" not in text
    found = [m.group(0) for m in MECHANICAL.finditer(text)]
    assert not found, f"mechanical count phrases: {found}"
    for phrase in ("eight of the eight", "nine of nine", "nine of the nine", "ties by participant id"):
        assert phrase not in text


def test_abstract_results_name_the_findings(built_copy: Paths, docx: Docx) -> None:
    text = squash("\n".join(p.text for p in docx.paragraphs))
    results = text.split("Results.", 1)[1].split("Conclusions.", 1)[0]
    for theme in codebook(built_copy):
        if theme["level"] == "superordinate":
            assert theme["label"] in results
    assert "loyalty" in results and "suffering" in results


def test_data_availability_cites_the_compendium_from_citation_cff(built_copy: Paths, docx: Docx) -> None:
    cff = yaml.safe_load((built_copy.root / "CITATION.cff").read_text(encoding="utf-8"))
    text = squash("\n".join(p.text for p in docx.paragraphs))
    section = text.split("Data availability", 1)[1]
    assert cff["title"] in section and f"version {cff['version']}" in section
    identifier = cff.get("doi") or cff.get("repository-code") or cff.get("url")
    assert (identifier and identifier in section) or "does not yet name a persistent identifier" in section


def test_coreq_gender_item_agrees_with_the_reflexivity_section(built_copy: Paths, docx: Docx) -> None:
    coreq = pd.read_csv(built_copy.output / "coreq_checklist.csv", dtype={"No.": int}, keep_default_na=False)
    item = coreq[coreq["No."] == 4].iloc[0]
    reflexivity = " ".join(p.text for p in theme_sections(docx)["Reflexivity"])
    gendered = re.search(r"\b(?:she|her|hers|he|him|his)\b", reflexivity, re.I)
    if item["Reported in"] == "Not reported":
        assert not gendered, f"COREQ 4 says the gender is not stated, but Reflexivity says {gendered.group(0)!r}"
    else:
        assert item["Reported in"] == "Reflexivity" and gendered


# ---------------------------------------------------------------- JATS
def test_jats_is_well_formed_with_front_matter_and_references(built_copy: Paths) -> None:
    path = built_copy.output / "manuscript.jats.xml"
    root = lxml.etree.parse(str(path), lxml.etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    assert root.tag == "article"
    meta = root.find("front/article-meta")
    assert meta.findtext("title-group/article-title").startswith("Offering kindness")
    assert meta.find("contrib-group/contrib") is not None
    abstract = squash("".join(meta.find("abstract").itertext()))
    assert abstract.startswith("Objectives.") and "Conclusions." in abstract
    keywords = [k.text for k in meta.findall("kwd-group/kwd")]
    assert "self-compassion" in keywords and len(keywords) == 5
    body = squash("".join(root.find("body").itertext()))
    assert "Objectives." not in body  # the abstract moved to the front matter
    refs = root.findall("back/ref-list/ref")
    cited = set(re.findall(r"@(\w+)", (built_copy.build / "manuscript" / "manuscript.md").read_text(encoding="utf-8")))
    bib = set(re.findall(r"^@\w+\{(\w+),", built_copy.bibliography.read_text(encoding="utf-8"), re.M))
    assert len(refs) == len(cited & bib) > 20
    assert "Pietkiewicz and Smith" in body


# ---------------------------------------------------------------- layout
def test_no_pdf_page_before_the_last_is_more_than_a_third_empty(built_copy: Paths, tmp_path: Path) -> None:
    """Render every page and measure the longest blank stretch inside the text area."""
    import matplotlib.image

    pdftoppm = os.environ.get("COMPENDIUM_PDFTOPPM") or shutil.which("pdftoppm")  # make test finds or installs it
    assert pdftoppm, "pdftoppm (poppler) is needed to look at the rendered pages: run tools/pdftoppm.sh"
    subprocess.run(
        [pdftoppm, "-r", "30", "-gray", "-png", str(built_copy.output / "manuscript.pdf"), str(tmp_path / "page")],
        check=True,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) > 5
    for page in pages[:-1]:
        pixels = matplotlib.image.imread(str(page))
        if pixels.ndim == 3:  # grey + alpha, or RGB(A): keep the first channel
            pixels = pixels[..., 0]
        height = pixels.shape[0]
        margin = round(height * 90 / 842)  # typst's default 1.25 in margins on A4
        area = pixels[margin : height - margin]
        blank = (area > 0.95).all(axis=1)
        longest = run = 0
        for row in blank:
            run = run + 1 if row else 0
            longest = max(longest, run)
        assert longest <= len(area) / 3, f"{page.name}: {longest / len(area):.0%} of the text area is blank"


# ---------------------------------------------------------------- determinism
def test_two_builds_give_identical_bytes(built_copy: Paths, clone_built: Clone, run_cli: Runner) -> None:
    p = clone_built("twice")
    before = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in p.output.glob("manuscript.*")}
    assert set(before) == {"manuscript.docx", "manuscript.html", "manuscript.pdf", "manuscript.jats.xml"}
    result = run_cli(p.root, "manuscript")
    assert result.returncode == 0, result.stdout[-2000:]
    after = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in p.output.glob("manuscript.*")}
    assert after == before


# ---------------------------------------------------------------- themes that drop out
def test_a_theme_that_no_longer_recurs_drops_its_commentary_with_a_note(clone_built: Clone, run_cli: Runner) -> None:
    p = clone_built("threshold")
    # --into-pipeline: the stricter threshold replaces the pipeline's own tables (a plain hand run with a
    # non-default value would go to build/scratch/ and leave them alone)
    result = run_cli(p.root, "run", "03_analyse_across_cases", "-p", "recurrence_threshold=0.7", "--into-pipeline")
    assert result.returncode == 0, result.stdout[-2000:]
    rec = pd.read_csv(p.tables / "theme_recurrence.csv", dtype={"theme_id": str})
    dropped = rec.loc[~rec["recurrent"], "theme_id"].tolist()
    kept = rec.loc[rec["recurrent"], "theme_id"].tolist()
    assert dropped and kept, "the stricter threshold should drop some themes and keep others"
    result = run_cli(p.root, "manuscript")
    assert result.returncode == 0, result.stdout[-2000:]
    sections = theme_sections(Document(str(p.output / "manuscript.docx")))
    labels = {t["id"]: squash(t["label"]) for t in codebook(p)}
    for theme_id in dropped:
        text = squash(" ".join(x.text for x in sections[labels[theme_id]]))
        assert text.startswith(f"Note. In this build theme {theme_id}"), text[:200]
        assert "recurrence rule" in text and len(text.split()) < 80
        assert not [x for x in sections[labels[theme_id]] if x.style.name == "Block Text"]
    for theme_id in kept:
        assert [x for x in sections[labels[theme_id]] if x.style.name == "Block Text"], theme_id


# ---------------------------------------------------------------- hostile data, end to end
def _plant_in_excerpt(p: Paths, hostile: str) -> str:
    """Replace one excerpt, in coding.csv and in its transcript, by hostile text of the same length."""
    coding = pd.read_csv(p.coding, dtype=str, keep_default_na=False)
    for row, seg in coding.iterrows():  # noqa: B007 - the row found is used after the loop
        excerpt = seg["excerpt"]
        if "\n" not in excerpt and len(excerpt) > len(hostile) + 10:
            break
    planted = (hostile + " " + "x" * len(excerpt))[: len(excerpt)]
    transcript = p.transcript(seg["participant_id"])
    text = transcript.read_text(encoding="utf-8")
    start, end = int(seg["start"]), int(seg["end"])
    assert text[start:end] == excerpt
    transcript.write_text(text[:start] + planted + text[end:], encoding="utf-8")
    coding.loc[row, "excerpt"] = planted
    p.coding.write_text(coding.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    return f"row {row + 1} ({seg['segment_id']}"


def _outputs(p: Paths) -> dict[str, str]:
    return {
        str(f.relative_to(p.root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for folder in (p.output, p.tables, p.figures, p.supplement)
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(document.cookie)</script>",
        "<img src=/etc/hostname onerror=alert(1)>",
        '#read("data/synthetic/participants.csv")',
        "[@nokey]",
        "$$ unbalanced",
        "![](/etc/hostname)",
        "\\input{/etc/hostname}",
    ],
)
def test_hostile_excerpt_stops_make_all_before_any_output(hostile: str, hostile_copy: Paths, run_make: Runner) -> None:
    p = hostile_copy
    with data_restored(p):
        where = _plant_in_excerpt(p, hostile)
        before = _outputs(p)
        result = run_make(p.root, "all")
        assert result.returncode != 0, result.stdout[-2000:]
        assert "Traceback" not in result.stdout
        assert "data/synthetic/coding.csv" in result.stdout and where in result.stdout, result.stdout[-2000:]
        assert "column excerpt" in result.stdout
        assert _outputs(p) == before, "outputs changed although the build stopped"


@pytest.fixture(scope="module")
def hostile_copy(clone_built: Clone) -> Paths:
    """One clone of the build for every hostile excerpt in turn (its data restored after each)."""
    return clone_built("hostile")


def test_hostile_theme_label_stops_the_manuscript_step(clone_built: Clone, run_cli: Runner) -> None:
    p = clone_built("label")
    text = p.codebook.read_text(encoding="utf-8")
    p.codebook.write_text(
        text.replace("label: Rapport building", 'label: "Rapport <svg onload=alert(1)>"', 1), encoding="utf-8"
    )
    before = _outputs(p)
    result = run_cli(p.root, "manuscript")
    assert result.returncode == 1 and "Traceback" not in result.stdout
    assert "codebook.yaml, line" in result.stdout and "field label" in result.stdout, result.stdout[-1500:]
    assert _outputs(p) == before


def test_the_built_html_passes_its_own_allowlist(built_copy: Paths) -> None:
    import base64

    from compendium import manuscript, manuscript_checks

    figures = [
        "data:image/png;base64," + base64.b64encode((built_copy.figures / f"{s}.png").read_bytes()).decode()
        for s in manuscript.FIGURES
    ]
    manuscript_checks.check_html(built_copy.output / "manuscript.html", figures)
    manuscript_checks.check_docx(built_copy.output / "manuscript.docx", len(figures))
