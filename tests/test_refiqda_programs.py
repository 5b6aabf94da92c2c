"""Imports of projects shaped like real exports of NVivo, MAXQDA 24 and ATLAS.ti.

The fixtures (tests/fixtures/qdpx/<program>/project.qde, described in that
folder's README) were written for this repository from the programs' documented
habits and from what QualCoder's importer says about them; no exported file of
those programs was copied. The tests zip each with sources built from our
transcripts the way that program stores them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from compendium import cli, refiqda
from compendium.data import load_coding, load_transcript

FIXTURES = Path(__file__).parent / "fixtures" / "qdpx"


def qde(program: str) -> str:
    return (FIXTURES / program / "project.qde").read_text(encoding="utf-8")


def zipped(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def crlf(pid: str) -> bytes:
    return load_transcript(pid).replace("\n", "\r\n").encode("utf-8")


def nvivo(tmp_path: Path) -> Path:
    return zipped(
        tmp_path / "nvivo.qdpx",
        {
            "project.qde": qde("nvivo").encode("utf-8"),
            "Sources/{50C00000-0000-4000-8000-0000000000A2}.txt": crlf("P02"),
            "Sources/{50C00000-0000-4000-8000-000000000002}.docx": b"PK\x03\x04 (a Word file; not read)",
            "Sources/{50C00000-0000-4000-8000-0000000000F1}.pdf": b"%PDF-1.7 (not read)",
            "Sources/{A0000000-0000-4000-8000-000000000001}.txt": b"She treats caring for her mother as simply her job.\r\n",
        },
    )


def maxqda(tmp_path: Path, text: str | None = None) -> Path:
    return zipped(
        tmp_path / "maxqda.qdpx",
        {
            "project.qde": (text or qde("maxqda24")).encode("utf-8"),
            "sources/1E2F3A4B-0004-4C5D-8E6F-7A8B9C0D1E04.txt": load_transcript("P04").encode("utf-8"),
        },
    )


def atlas(tmp_path: Path) -> Path:
    return zipped(
        tmp_path / "atlas.qdpx",
        {
            "project.qde": qde("atlasti").encode("utf-8"),
            "sources/d0c00000-0000-4e1f-9a2b-000000000006.txt": crlf("P06"),
            "sources/d0c00000-0000-4e1f-9a2b-0000000000aa.png": b"\x89PNG (not read)",
        },
    )


def ours(segment_id: str) -> pd.Series:
    return load_coding().set_index("segment_id").loc[segment_id]


def check_excerpts(result: refiqda.ImportResult) -> None:
    for row in result.coding.itertuples():
        assert load_transcript(row.participant_id)[row.start : row.end] == row.excerpt


def one(messages: list[str], *parts: str) -> str:
    found = [m for m in messages if all(part in m for part in parts)]
    assert len(found) == 1, (parts, messages)
    return found[0]


def test_nvivo_shaped_project(tmp_path: Path) -> None:
    result = refiqda.import_qdpx(nvivo(tmp_path))
    check_excerpts(result)
    got = result.coding.set_index("segment_id")
    assert list(got.index) == ["P02-S01", "P02-S02"]  # matched by participant and span
    for sid in got.index:
        assert (got.loc[sid, "start"], got.loc[sid, "end"]) == (ours(sid)["start"], ours(sid)["end"])
    assert got.loc["P02-S01", "theme_id"] == "3.1" and got.loc["P02-S02", "theme_id"] == "1.2"
    assert set(got["analyst"]) == {"Second author"}
    # the annotation NVivo keeps as a Note linked to an uncoded selection on the same span
    assert got.loc["P02-S02", "note_descriptive"] == "She treats caring for her mother as simply her job."
    assert got.loc["P02-S01", "note_descriptive"] == ""
    messages = result.messages
    one(messages, "urn:QDA-XML:codebook:1:0", "as QDA-XML 1.0")
    one(messages, "'Interview 2'", "CRLF", "converted")
    one(messages, "1 PDFSource skipped", "only plain-text sources are read")
    one(messages, "1 note had no kind", "'Annotation'")
    one(messages, "1 selection had no code")  # the annotation's own anchor


def test_maxqda24_shaped_project(tmp_path: Path) -> None:
    result = refiqda.import_qdpx(maxqda(tmp_path))
    check_excerpts(result)
    got = result.coding.set_index("segment_id")
    s02 = ours("P04-S02")
    assert got.loc["P04-S02", "start"] == s02["start"] + 10 and got.loc["P04-S02", "end"] == s02["end"]
    new = [sid for sid in got.index if sid != "P04-S02"]
    assert len(new) == 1 and got.loc[new[0], "excerpt"] == "Interviewer: Sets like concrete."
    assert got.loc[new[0], "theme_id"] == "3.1" and got.loc[new[0], "analyst"] == "Second author"
    one(result.messages, "urn:QDA-XML:codebook:0:4", "as QDA-XML 1.0")
    one(result.messages, "1 code not in codebook.yaml and not used", "Paraphrases")
    assert (
        f"1 segment re-spanned: P04-S02 {s02['start']}-{s02['end']} -> {s02['start'] + 10}-{s02['end']}"
        in result.changes
    )
    assert any(c.startswith(f"1 segment added: {new[0]}") for c in result.changes)


def test_maxqda_project_with_300_codes_and_no_codings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = qde("maxqda24")
    start = text.index("      <PlainTextSelection")
    end = text.index("      <VariableValue>", start)  # the source's own variable, after its selections
    text = text[:start] + text[end:]
    codes = "".join(
        f'      <Code guid="6A1B2C3D-0000-4E5F-8A9B-{i:012d}" name="Code {i}" isCodable="true"/>\n' for i in range(300)
    )
    text = text.replace("    <Codes>\n", "    <Codes>\n" + codes, 1)
    assert cli.main(["qdpx", "import", str(maxqda(tmp_path, text))]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("qdpx import: 0 coded segments from 0 participants\n")
    assert "301 codes not in codebook.yaml and not used on any segment (ignored)" in printed
    assert "not in the file, so not compared: 8 participants" in printed


def test_atlasti_shaped_project(tmp_path: Path) -> None:
    result = refiqda.import_qdpx(atlas(tmp_path))
    check_excerpts(result)
    got = result.coding.set_index("segment_id")
    assert list(got.index) == ["P06-S01", "P06-S02"]
    for sid in got.index:  # ATLAS.ti counts a CRLF as one character: positions are the LF ones, unconverted
        assert (got.loc[sid, "start"], got.loc[sid, "end"]) == (ours(sid)["start"], ours(sid)["end"])
    assert got.loc["P06-S01", "theme_id"] == "3.1.1"  # '3.1.1 Go gently': id and label in the name
    assert set(got["analyst"]) == {"Second author"}  # no creatingUser: the project's one user
    one(result.messages, "ATLAS.ti counts each as one character")
    one(result.messages, "1 PictureSource skipped")
    assert f"1 segment moved to another theme: P06-S01 {ours('P06-S01')['theme_id']} -> 3.1.1" in result.changes


def test_source_folder_and_paths_in_any_letter_case_and_form(tmp_path: Path) -> None:
    text = qde("maxqda24").replace(
        'plainTextPath="internal://1E2F3A4B-0004-4C5D-8E6F-7A8B9C0D1E04.txt"',
        'plainTextPath="relative://Texts/P04.TXT"',
    )
    path = zipped(
        tmp_path / "relative.qdpx",
        {"project.qde": text.encode("utf-8"), "SOURCES/texts/p04.txt": load_transcript("P04").encode("utf-8")},
    )
    result = refiqda.import_qdpx(path)
    check_excerpts(result)
    assert len(result.coding) == 2


def test_the_draft_project_namespace_is_read_as_1_0(tmp_path: Path) -> None:
    text = qde("maxqda24").replace(
        '<Project xmlns="urn:QDA-XML:project:1.0"', '<Project xmlns="urn:QDA-XML:project:0:4"'
    )
    result = refiqda.import_qdpx(maxqda(tmp_path, text))
    assert len(result.coding) == 2
    one(result.messages, "urn:QDA-XML:project:0:4", "urn:QDA-XML:codebook:0:4", "as QDA-XML 1.0")


def test_another_root_namespace_is_refused_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = qde("maxqda24").replace('<Project xmlns="urn:QDA-XML:project:1.0"', '<Project xmlns="urn:example:other"')
    assert cli.main(["qdpx", "import", str(maxqda(tmp_path, text))]) == 1
    err = capsys.readouterr().err
    assert "a REFI-QDA project starts with <Project" in err and "fix:" in err and "Traceback" not in err
