"""Tests for compendium.refiqda: REFI-QDA (QDA-XML 1.0) export and import."""

from __future__ import annotations

import importlib
import codecs
import io
import re
import zipfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import xmlschema
from lxml import etree

from compendium import cli, refiqda
from compendium.refiqda import schema as schema_module
from compendium.data import load_codebook, load_coding, load_memos, load_participants, load_transcript
from compendium.errors import CompendiumError
from compendium.paths import paths

export_module = importlib.import_module("compendium.refiqda.export")
NS = {"q": refiqda.PROJECT_NS}
CB = {"c": refiqda.CODEBOOK_NS}
FIXTURE = Path(__file__).parent / "fixtures" / "qdpx"
AMY_SOURCE = "Sources/6B1D7C2E-0A4F-4E21-9C3B-5D8E7F6A1B20.txt"
P05_SOURCE = "Sources/0F3E2D1C-4B5A-4978-8695-A4B3C2D1E0F9.txt"


def schemas() -> Path:
    """The package's own copy of the QDA-XML 1.0 schemas (the tests never read outside the repository)."""
    return paths().root / "src" / "compendium" / "schemas"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return refiqda.export(tmp_path_factory.mktemp("supplement"))


@pytest.fixture(scope="module")
def archive(exported: tuple[Path, Path]) -> dict[str, bytes]:
    with zipfile.ZipFile(exported[1]) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.fixture(scope="module")
def qde(archive: dict[str, bytes]) -> etree._Element:
    return etree.fromstring(archive["project.qde"])


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def fixture_entries(qde_text: str | None = None) -> dict[str, bytes]:
    """The hand-made fixture: its project.qde, P03 as CRLF with a BOM, P05 unchanged."""
    amy = load_transcript("P03").replace("\n", "\r\n")
    return {
        "project.qde": (
            qde_text if qde_text is not None else (FIXTURE / "project.qde").read_text(encoding="utf-8")
        ).encode("utf-8"),
        AMY_SOURCE: codecs.BOM_UTF8 + amy.encode("utf-8"),
        P05_SOURCE: load_transcript("P05").encode("utf-8"),
    }


def fixture_qdpx(tmp_path: Path, qde_text: str | None = None) -> Path:
    return write_zip(tmp_path / "second_coder.qdpx", fixture_entries(qde_text))


def fixture_text() -> str:
    return (FIXTURE / "project.qde").read_text(encoding="utf-8")


# ---------------------------------------------------------------- export


def test_guids_are_uuid5_of_our_ids_in_a_fixed_namespace() -> None:
    # Known answer: changing the namespace or the naming scheme would break every
    # project a researcher has already opened in a QDA program.
    assert refiqda.guid("code", "1.1") == "a5e5fb19-d3a3-5aa2-ac1b-d0c25ff8b89b"
    assert refiqda.guid("source", "P01") == "7be98647-69c8-52f9-981f-78ee62347742"
    assert refiqda.guid("code", "1.1") != refiqda.guid("code", "1.2")


def test_exports_validate_against_the_refi_qda_schemas(exported: tuple[Path, Path], archive: dict[str, bytes]) -> None:
    codebook, _ = exported
    xmlschema.XMLSchema(str(schemas() / "Codebook.xsd")).validate(str(codebook))
    xmlschema.XMLSchema(str(schemas() / "Project.xsd")).validate(io.BytesIO(archive["project.qde"]))


def test_codebook_nests_themes_with_one_colour_per_superordinate_theme(exported: tuple[Path, Path]) -> None:
    root = etree.parse(str(exported[0])).getroot()
    assert root.tag == f"{{{refiqda.CODEBOOK_NS}}}CodeBook"
    themes = load_codebook().set_index("id")
    top = root.findall("c:Codes/c:Code", CB)
    assert [c.get("name") for c in top] == [themes.loc[i, "label"] for i in ("1", "2", "3")]
    assert [c.get("isCodable") for c in top] == ["false"] * 3
    assert len({c.get("color") for c in top}) == 3
    for superordinate in top:
        for code in superordinate.iterfind(".//c:Code", CB):
            assert code.get("color") == superordinate.get("color")
            assert code.get("isCodable") == "true"
    seen = {}
    for code in root.iterfind(".//c:Code", CB):
        tid = {refiqda.guid("code", i): i for i in themes.index}[code.get("guid")]
        seen[tid] = code
        assert code.get("name") == themes.loc[tid, "label"]
        assert code.findtext("c:Description", namespaces=CB).startswith(themes.loc[tid, "definition"].strip())
    assert sorted(seen) == sorted(themes.index)
    # minor themes sit under their subordinate theme, three levels deep
    go_gently = seen["3.1.1"]
    assert go_gently.getparent() is seen["3.1"] and seen["3.1"].getparent() is seen["3"]


def test_archive_holds_project_and_transcripts_with_fixed_entries(
    archive: dict[str, bytes], exported: tuple[Path, Path], qde: etree._Element
) -> None:
    with zipfile.ZipFile(exported[1]) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names) and names[0] == "project.qde"
    assert all(re.fullmatch(r"sources/[0-9a-f-]{36}\.txt", n) for n in names[1:])
    assert len(names) == 1 + len(load_participants()) + len(load_memos())  # transcripts and memo texts
    assert len({i.date_time for i in infos}) == 1
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
    participants = load_participants()["participant_id"]
    sources = qde.findall("q:Sources/q:TextSource", NS)
    assert [s.get("name") for s in sources] == list(participants)
    for source in sources:
        path = source.get("plainTextPath")
        assert path == f"internal://{source.get('guid')}.txt"
        member = "sources/" + path.removeprefix("internal://")
        assert archive[member].decode("utf-8") == load_transcript(source.get("name"))


def test_every_selection_slices_its_source_to_the_coded_excerpt(archive: dict[str, bytes], qde: etree._Element) -> None:
    coding = load_coding().set_index("segment_id")
    notes = {n.get("guid"): n for n in qde.iterfind("q:Notes/q:Note", NS)}
    count = 0
    for source in qde.iterfind("q:Sources/q:TextSource", NS):
        text = archive["sources/" + source.get("plainTextPath").removeprefix("internal://")].decode("utf-8")
        for selection in source.iterfind("q:PlainTextSelection", NS):
            if selection.get("name").startswith("Case "):  # the case link (whole transcript)
                assert (selection.get("startPosition"), selection.get("endPosition")) == ("0", str(len(text)))
                assert [r.get("targetGUID") for r in selection.iterfind("q:Coding/q:CodeRef", NS)] == [
                    refiqda.guid("case", source.get("name"))
                ]
                continue
            segment = coding.loc[selection.get("name").split(" ")[0]]
            start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
            assert text[start:end] == segment["excerpt"]
            assert segment["participant_id"] == source.get("name")
            assert selection.findtext("q:Description", namespaces=NS) == segment["experiential_statement"]
            refs = selection.findall("q:Coding/q:CodeRef", NS)
            assert [r.get("targetGUID") for r in refs] == [refiqda.guid("code", segment["theme_id"])]
            linked = [notes[r.get("targetGUID")] for r in selection.iterfind("q:NoteRef", NS)]
            assert [(n.get("name"), n.findtext("q:PlainTextContent", namespaces=NS)) for n in linked] == [
                (
                    f"Exploratory notes {segment.name}",
                    "\n\n".join(f"{label}: {segment[column]}" for column, label in refiqda.NOTE_KINDS.items()),
                )
            ]
            # the same note is an annotation on the segment's span, referred to from the source (QualCoder)
            span = linked[0].find("q:PlainTextSelection", NS)
            assert (span.get("startPosition"), span.get("endPosition")) == (str(start), str(end))
            assert linked[0].get("guid") in [r.get("targetGUID") for r in source.findall("q:NoteRef", NS)]
            count += 1
    assert count == len(coding) == 126


def test_only_the_published_table1_attributes_leave_the_project(qde: etree._Element, archive: dict[str, bytes]) -> None:
    variables = {v.get("guid"): v.get("name") for v in qde.iterfind("q:Variables/q:Variable", NS)}
    assert sorted(variables.values()) == sorted(
        ["Age band", "Gender", "Qualification", "Predominant framework(s)", "Years with population"]
    )
    participants = load_participants().set_index("participant_id")
    columns = {label: column for column, (label, _) in refiqda.SHARED_ATTRIBUTES.items()}
    for case in qde.iterfind("q:Cases/q:Case", NS):
        row = participants.loc[case.get("name")]
        values = {
            variables[v.find("q:VariableRef", NS).get("targetGUID")]: v.findtext("q:TextValue", namespaces=NS)
            for v in case.iterfind("q:VariableValue", NS)
        }
        assert values == {label: row[column] for label, column in columns.items()}
        assert [r.get("targetGUID") for r in case.iterfind("q:SourceRef", NS)] == [
            refiqda.guid("source", case.get("name"))
        ]
    text = archive["project.qde"].decode("utf-8")
    for secret in (
        "parent_mental_illness",
        "own_mental_health",
        "member_check",
        "voucher",
        "Background",
        "White Australian",
        "Migrated, ",
        "follow-up answers",
        "email reflection",
        "transcript edited",
    ):
        assert secret not in text


def test_users_and_memos_come_from_the_data(qde: etree._Element, archive: dict[str, bytes]) -> None:
    memos, coding = load_memos(), load_coding()
    users = {u.get("name") for u in qde.iterfind("q:Users/q:User", NS)}
    assert users == set(coding["analyst"]) | set(memos["analyst"])
    notes = {n.get("guid"): n for n in qde.iterfind("q:Notes/q:Note", NS)}
    assert len(notes) == len(memos) + len(coding)  # one note per memo, one per segment
    for memo in memos.itertuples():
        note = notes[refiqda.guid("memo", memo.memo_id)]
        assert note.get("creationDateTime") == f"{memo.date}T00:00:00Z"  # from the data, not the clock
        # modified: the build date (SOURCE_DATE_EPOCH), never before the memo's own date
        assert note.get("modifiedDateTime") == max(schema_module.build_datetime(), f"{memo.date}T00:00:00Z")
        # QualCoder makes journals only from notes with a plainTextPath; the schema wants the text in one place
        assert note.find("q:PlainTextContent", NS) is None
        member = "sources/" + note.get("plainTextPath").removeprefix("internal://")
        assert archive[member].decode("utf-8") == memo.text
        assert memo.memo_id in note.get("name") and (memo.participant_id or memo.kind) in note.get("name")
        # referred to from the project, never from a source (QualCoder reads a source's NoteRefs as annotations)
        assert refiqda.guid("memo", memo.memo_id) in [r.get("targetGUID") for r in qde.findall("q:NoteRef", NS)]
    assert len({n.get("name") for n in notes.values()}) == len(notes)  # QualCoder needs unique journal names


def test_exporting_twice_gives_identical_bytes(tmp_path: Path, exported: tuple[Path, Path]) -> None:
    first = refiqda.export(tmp_path / "a")
    second = refiqda.export(tmp_path / "b")
    for one, two, earlier in zip(first, second, exported):
        assert one.read_bytes() == two.read_bytes() == earlier.read_bytes()


def test_zip_dates_follow_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    def dates() -> set[tuple[int, ...]]:
        with zipfile.ZipFile(io.BytesIO(refiqda.zip_bytes({"b.txt": b"x", "a.txt": b"y"}))) as zf:
            assert zf.namelist() == ["a.txt", "b.txt"]
            return {i.date_time for i in zf.infolist()}

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1654041600")
    assert dates() == {(2022, 6, 1, 0, 0, 0)}
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert dates() == {(1980, 1, 1, 0, 0, 0)}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(CompendiumError, match="SOURCE_DATE_EPOCH"):
        dates()


def test_export_without_schemas_is_said_aloud(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], exported: tuple[Path, Path]
) -> None:
    # A copy of the repository with nothing beside it (as `make verify` builds) still exports, and says so.
    monkeypatch.setattr(schema_module, "schema_candidates", lambda p: [tmp_path / "missing"])
    with pytest.raises(refiqda.RefiQdaError, match="schemas .* were not found"):
        refiqda.export(tmp_path / "strict", validate=True)
    assert not (tmp_path / "strict").exists()
    assert cli.main(["qdpx", "export", str(tmp_path / "lenient")]) == 0
    assert "NOT checked against the QDA-XML schemas" in capsys.readouterr().out
    assert (tmp_path / "lenient" / "project.qdpx").read_bytes() == exported[1].read_bytes()
    with pytest.raises(refiqda.RefiQdaError, match="were not found"):  # import never reads unchecked XML
        refiqda.import_qdpx(exported[1])


def test_export_checks_its_documents_before_writing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = b'<Project xmlns="urn:QDA-XML:project:1.0"><Users/></Project>'  # no name, empty Users
    monkeypatch.setattr(export_module, "project_xml", lambda study: broken)
    with pytest.raises(refiqda.RefiQdaError, match="(?s)project.qde: does not follow.*fault in compendium"):
        refiqda.export(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_refuses_to_write_into_the_data_folder() -> None:
    with pytest.raises(CompendiumError, match="refusing to write"):
        refiqda.export(paths().data / "exports")
    assert not (paths().data / "exports").exists()


# ---------------------------------------------------------------- import


def test_round_trip_gives_back_the_coding_table(exported: tuple[Path, Path]) -> None:
    result = refiqda.import_qdpx(exported[1])
    pd.testing.assert_frame_equal(result.coding, load_coding())
    assert result.set_aside.empty and list(result.set_aside.columns) == list(load_coding().columns)
    assert result.messages == [
        "8 selections coded to a case code (a case's link to its document) read as case links, not as segments.",
        f"{len(load_memos())} notes not attached to a coded segment (memos and the like) "
        "were not imported: import reads coding only and never changes memos.csv.",
    ]
    assert result.changes == ["no change against coding.csv"]
    csv = result.coding.to_csv(index=False, lineterminator="\n")
    assert csv == paths().coding.read_text(encoding="utf-8")


EXPECTED_FIXTURE = [
    # segment_id, participant, start, end, excerpt, theme, descriptive, linguistic, conceptual, statement
    ("P03-S17", "P03", 3604, 3639, "this deep sense that they're faulty", "1.1", "", "", "", ""),
    (
        "P03-S18",
        "P03",
        4802,
        4837,
        "A lot of my clients were the carer.",
        "1.2",
        "Caring for a parent named as the usual story of these clients.",
        "",
        "",
        "Clients were the carers at home",
    ),
    (
        "P03-S19",
        "P03",
        6019,
        6041,
        "Slowly. Really slowly.",
        "3.1.1",
        "Amy answers the question of how with a single word about speed, then repeats it.",
        "The repetition with an intensifier ('Really') works as emphasis.",
        "Slowness is framed as the method itself, not a delay before it.",
        "Going slowly because warmth once meant danger",
    ),
    (
        "P03-S20",
        "P03",
        7852,
        7902,
        "So you're kind of showing them.\nAmy: Showing, yes.",
        "3.1.2",
        "The interviewer sums up and Amy agrees: the clinician shows rather than tells.",
        "Amy takes up the interviewer's verb and repeats it.",
        "Worth is modelled in the relationship before it is named.",
        "Showing worth before naming it",
    ),
    # overlaps our P05-S09 (same theme): matched by span, so a re-spanned P05-S09
    (
        "P05-S09",
        "P05",
        7527,
        7561,
        "I'm really glad you came in today.",
        "3.1.2",
        "",
        "",
        "Welcoming the child aloud lends him a sense of worth he can later take up himself.",
        "Saying out loud that the child is welcome",
    ),
    (
        "P05-S16",
        "P05",
        7527,
        7561,
        "I'm really glad you came in today.",
        "3.1",
        "",
        "",
        "",
        "Saying out loud that the child is welcome",
    ),
]


def expected_frame(rows: list[tuple]) -> pd.DataFrame:
    table = refiqda.coding_table()  # the columns and types of datapackage.json's coding table
    records = [dict(zip(table.columns[:10], row), analyst="Second author", coding_round=1) for row in rows]
    return pd.DataFrame(records, columns=table.columns).astype(
        {c: (int if c in table.integers else str) for c in table.columns}
    )


def test_import_of_another_programs_project(tmp_path: Path) -> None:
    result = refiqda.import_qdpx(fixture_qdpx(tmp_path))
    pd.testing.assert_frame_equal(result.coding, expected_frame(EXPECTED_FIXTURE))
    pd.testing.assert_frame_equal(
        result.set_aside,
        expected_frame(
            [
                (
                    "P03-S21",
                    "P03",
                    10372,
                    10457,
                    "Interviewer: Has the last year changed any of this, with the pandemic and everything?",
                    "Telehealth",
                    "",
                    "",
                    "",
                    "",
                )
            ]
        ),
    )
    for frame in (result.coding, result.set_aside):
        for row in frame.itertuples():
            assert load_transcript(row.participant_id)[row.start : row.end] == row.excerpt

    messages = result.messages
    assert len(messages) == 10, messages

    def one(*parts: str) -> str:
        found = [m for m in messages if all(part in m for part in parts)]
        assert len(found) == 1, (parts, messages)
        return found[0]

    one(
        "7 codes matched to our themes by name",
        "'Go gently' -> 3.1.1",
        "'rapport  building' -> 3.1.2",
        "'Lasting sense of ‘something’s wrong with me’' -> 1.1",
    )
    one("1 source started with a UTF-8 byte-order mark", "removed", "Interview with Amy")
    one("'Interview with Amy'", "CRLF", "5 selections were converted")
    one("1 segment had no segment id of ours", "matched to coding.csv by participant and span")
    one("6 segments matched no segment of coding.csv", "P03-S17, P03-S18, P03-S19, P03-S20, P03-S21, P05-S16")
    one("6 segments had no coding round", "round 1")
    one("Code 'Telehealth' is not in codebook.yaml", "1 segment set aside", "P03-S21")
    one(
        "1 segment without an experiential statement (P03-S17)",
        "4 segments with one or more exploratory notes missing (P03-S17, P03-S18, P05-S09, P05-S16)",
    )
    one("1 note had no kind", "'Annotation 1'", "note_descriptive")
    one("1 note not attached to a coded segment", "was not imported")
    # what changed, in research terms, only for the participants the file covers
    assert result.changes[0] == "not in the file, so not compared: 6 participants (P01, P02, P04, P06, P07, P08)"
    assert "1 segment re-spanned: P05-S09 7503-7737 -> 7527-7561" in result.changes
    assert any(c.startswith("5 segments added: P03-S17, P03-S18, P03-S19, P03-S20, P05-S16") for c in result.changes)
    removed = next(c for c in result.changes if " removed: " in c)
    assert removed.startswith(f"{((load_coding()['participant_id'].isin(['P03', 'P05'])).sum() - 1)} segments")


def test_source_without_case_or_participant_name_is_reported_not_guessed(tmp_path: Path) -> None:
    qde_text = fixture_text().replace('name="P05 interview"', 'name="Focus group notes"')
    result = refiqda.import_qdpx(fixture_qdpx(tmp_path, qde_text))
    assert set(result.coding["participant_id"]) == {"P03"}
    assert any(
        "'Focus group notes' is not linked to a participant" in m and "1 selection was not imported" in m
        for m in result.messages
    )


def test_source_edited_in_the_program_is_relocated_by_text(tmp_path: Path, archive: dict[str, bytes]) -> None:
    # The program's text gains a first line and the positions move with it, as
    # when a transcript is corrected inside a QDA program; one excerpt is also retyped.
    prefix = "Interviewer: (recording starts)\n"
    root = etree.fromstring(archive["project.qde"])
    source = root.find("q:Sources/q:TextSource[@name='P01']", NS)
    for selection in source.iterfind("q:PlainTextSelection", NS):
        for attribute in ("startPosition", "endPosition"):
            selection.set(attribute, str(int(selection.get(attribute)) + len(prefix)))
    member = "sources/" + source.get("plainTextPath").removeprefix("internal://")
    first = load_coding().iloc[0]
    assert first["segment_id"] == "P01-S01" and first["excerpt"].startswith("There's being able")
    edited = prefix + load_transcript("P01").replace("There's being able", "There is being abl", 1)
    entries = {**archive, "project.qde": etree.tostring(root), member: edited.encode("utf-8")}
    result = refiqda.import_qdpx(write_zip(tmp_path / "edited.qdpx", entries))

    expected = load_coding()
    expected.loc[0, "start"] += len(prefix)
    expected.loc[0, "end"] += len(prefix)
    expected.loc[0, "excerpt"] = edited[expected.loc[0, "start"] : expected.loc[0, "end"]]
    pd.testing.assert_frame_equal(result.coding, expected)
    p01 = int((expected["participant_id"] == "P01").sum())
    message = next(m for m in result.messages if "differs from transcripts/P01.txt" in m)
    assert f"{p01 - 1} segments re-located" in message and "1 segment could not be found" in message


# ---------------------------------------------------------------- bad input


def expect_error(path: Path, *parts: str) -> str:
    with pytest.raises(refiqda.RefiQdaError) as info:
        refiqda.import_qdpx(path)
    text = str(info.value)
    assert str(path) in text and "fix:" in text
    for part in parts:
        assert part in text, text
    return text


def test_error_when_the_file_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "coding.qdpx"
    path.write_bytes(b"PK but not really a zip archive")
    expect_error(path, "is not a zip archive", "REFI-QDA project export")


def test_error_when_given_a_bare_xml_file(tmp_path: Path) -> None:
    path = tmp_path / "project.qde"
    path.write_text(fixture_text(), encoding="utf-8")
    expect_error(path, "is not a zip archive", "zip it together with its sources/ folder")


def test_error_when_the_file_is_missing(tmp_path: Path) -> None:
    expect_error(tmp_path / "nowhere.qdpx", "file not found")


def test_error_when_project_qde_is_missing(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "empty.qdpx", {AMY_SOURCE: b"Interviewer: hello\n"})
    expect_error(path, "has no project.qde at the top of the archive", AMY_SOURCE)


def test_error_when_project_qde_sits_in_a_folder(tmp_path: Path) -> None:
    entries = {f"export/{name}": data for name, data in fixture_entries().items()}
    expect_error(write_zip(tmp_path / "nested.qdpx", entries), "has no project.qde", "zip the folder's contents")


def test_error_when_the_xml_is_not_well_formed(tmp_path: Path) -> None:
    path = fixture_qdpx(tmp_path, fixture_text().replace("</Users>", "</User>", 1))
    expect_error(path, "project.qde", "is not well-formed XML", "line 14")


def test_error_when_the_xml_does_not_follow_the_schema(tmp_path: Path) -> None:
    # <Cases> before <CodeBook> breaks the order the schema requires
    text = fixture_text()
    cases = text[text.index("  <Cases>") : text.index("  <Sources>")]
    text = text.replace(cases, "").replace("  <CodeBook>", cases + "  <CodeBook>")
    expect_error(
        fixture_qdpx(tmp_path, text),
        "does not follow the QDA-XML 1.0 Project.xsd schema",
        "Unexpected child with tag '{urn:QDA-XML:project:1.0}CodeBook'",
    )


def test_error_when_a_selection_lies_outside_its_source(tmp_path: Path) -> None:
    path = fixture_qdpx(tmp_path, fixture_text().replace('endPosition="10491"', 'endPosition="99999"'))
    expect_error(
        path,
        "selection 'Has the last year changed any of this'",
        "'Interview with Amy'",
        "spans 10406-99999",
        "0-15916 characters, line breaks counted as two",
        "line 72",
    )


def test_error_when_a_coderef_points_to_a_missing_code(tmp_path: Path) -> None:
    text = fixture_text().replace(
        '<CodeRef targetGUID="{10000000-AAAA-4BBB-8CCC-000000000311}"/>',
        '<CodeRef targetGUID="{99999999-AAAA-4BBB-8CCC-000000000311}"/>',
    )
    expect_error(
        fixture_qdpx(tmp_path, text),
        "'Slowly. Really slowly.'",
        "targetGUID='{99999999-AAAA-4BBB-8CCC-000000000311}'",
        "CodeBook has no code",
        "line 45",
    )


def test_error_when_a_source_file_is_missing_from_the_archive(tmp_path: Path) -> None:
    entries = fixture_entries()
    del entries[P05_SOURCE]
    expect_error(write_zip(tmp_path / "partial.qdpx", entries), "'P05 interview'", "not in the archive")


# ---------------------------------------------------------------- command line


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = cli.main(["qdpx", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_command_exports_and_imports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "(valid QDA-XML 1.0)" in run(capsys, "export", tmp_path / "supp")[1]
    assert sorted(p.name for p in (tmp_path / "supp").iterdir()) == ["codebook.qdc", "project.qdpx"]
    code, printed, _ = run(capsys, "import", tmp_path / "supp" / "project.qdpx", "--out", tmp_path / "back.csv")
    assert code == 0
    assert (tmp_path / "back.csv").read_bytes() == paths().coding.read_bytes()
    assert not (tmp_path / "back_set_aside.csv").exists()
    assert "changes against coding.csv:\n    no change against coding.csv" in printed
    assert "qdpx import: 126 coded segments from 8 participants" in printed
    assert "per theme: 1.1 13, 1.2 21," in printed


def test_command_writes_set_aside_segments_beside_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    printed = run(capsys, "import", fixture_qdpx(tmp_path), "--out", tmp_path / "second.csv")[1]
    assert len(pd.read_csv(tmp_path / "second.csv")) == 6
    aside = pd.read_csv(tmp_path / "second_set_aside.csv", dtype=str)
    assert aside[["segment_id", "theme_id"]].values.tolist() == [["P03-S21", "Telehealth"]]
    assert "note: Code 'Telehealth' is not in codebook.yaml" in printed


def test_command_without_out_prints_a_summary_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = fixture_qdpx(tmp_path)
    printed = run(capsys, "import", path)[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert "qdpx import: 6 coded segments from 2 participants; 1 set aside" in printed
    assert "per participant: P03 4, P05 2" in printed


def test_command_never_writes_into_the_data_folder(
    tmp_path: Path, exported: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    target = paths().data / "imported.csv"
    code, _, err = run(capsys, "import", exported[1], "--out", target)
    assert code == 1 and "refusing to write into" in err and "Traceback" not in err
    assert not target.exists()


def test_command_import_needs_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["qdpx", "import"])
    assert info.value.code == 2 and "the following arguments are required: file" in capsys.readouterr().err


def test_every_element_that_can_carry_a_user_and_a_date_has_them(
    qde: etree._Element, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From Project.xsd: the attributes each of our elements may carry (PlainTextSelection inside a Note too).
    wanted = {
        "Project": ("creatingUserGUID", "creationDateTime", "modifyingUserGUID", "modifiedDateTime"),
        "TextSource": ("creatingUser", "creationDateTime", "modifyingUser", "modifiedDateTime"),
        "PlainTextSelection": ("creatingUser", "creationDateTime", "modifyingUser", "modifiedDateTime"),
        "Note": ("creatingUser", "creationDateTime", "modifyingUser", "modifiedDateTime"),
        "Coding": ("creatingUser", "creationDateTime"),
    }
    seen = Counter()
    for element in qde.iter():
        name = etree.QName(element).localname
        for attribute in wanted.get(name, ()):
            assert element.get(attribute), (name, element.get("name"), attribute)
        seen[name] += 1
    assert seen["Coding"] == len(load_coding()) + len(load_participants())  # segments and case links
    # the dates come from the build date, so another SOURCE_DATE_EPOCH gives other dates and nothing else
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    from compendium.data import load_study

    other = etree.fromstring(export_module.project_xml(load_study()))
    assert other.get("creationDateTime") == "2023-11-14T22:13:20Z"
    dates = {e.get("creationDateTime") for e in other.iter() if etree.QName(e).localname == "Coding"}
    assert dates == {"2023-11-14T22:13:20Z"}


def test_export_refuses_notes_that_would_not_come_back_whole(tmp_path: Path) -> None:
    from dataclasses import replace

    from compendium.data import load_study

    study = load_study()
    coding = study.coding.copy()
    coding.loc[0, "note_linguistic"] = "First line.\nConceptual note: a line that reads as a heading."
    with pytest.raises(CompendiumError, match=r"(?s)segment P01-S01, column 'note_linguistic'.*fix: reword"):
        export_module.project_xml(replace(study, coding=coding))


def test_export_refuses_two_segments_on_one_span_by_one_analyst(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dataclasses import replace

    from compendium.data import load_study

    study = load_study()
    twin = study.coding.iloc[[0]].assign(segment_id="P01-S99", theme_id="2.1")
    doubled = replace(study, coding=pd.concat([study.coding, twin], ignore_index=True))
    monkeypatch.setattr(export_module, "load_study", lambda p: doubled)
    with pytest.raises(CompendiumError, match="P01-S01, P01-S99 have the same span and analyst"):
        refiqda.export(tmp_path / "out")
    assert not (tmp_path / "out").exists()
