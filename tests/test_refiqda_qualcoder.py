"""Our project.qdpx against QualCoder's REFI-QDA importer, and back through a QualCoder-shaped export.

QualCoder is not installed for these tests. What its importer needs was read
from its source: ``src/qualcoder/refi.py`` in github.com/ccbogel/QualCoder
(commit c3204641e0a997c08219d2377eb5736cd94504bc), class ``RefiImport``
(``import_project``, ``parse_project_tag``, ``sub_codes``, ``parse_variables``,
``parse_cases``, ``clean_up_case_codes_and_case_text``, ``load_text_source``,
``name_creating_user_create_date_source_path_helper``, ``load_codings_for_text``,
``parse_notes``, ``insert_annotation``) and the tables in ``src/qualcoder/__main__.py``.
The QualCoder-shaped export below follows ``RefiExport`` in the same file
(``sources_xml``, ``text_selection_xml``, ``cases_xml``, ``case_source_ref_xml``,
``create_journal_note_xml``, ``create_annotation_note_xml``, ``export_project``).
The list is in our own words; no QualCoder code is copied.
"""

from __future__ import annotations

import codecs
import uuid
import zipfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from compendium import refiqda
from compendium.data import load_coding, load_memos, load_participants

Q = refiqda.PROJECT_NS
NS = {"q": Q}
OTHER = uuid.UUID("0b7f2c1e-5d0a-4c9e-9f3b-2a6d8e4c1b70")  # stands in for QualCoder's random GUIDs


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return refiqda.export(tmp_path_factory.mktemp("supplement"))[1]


@pytest.fixture(scope="module")
def entries(exported: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(exported) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.fixture(scope="module")
def qde(entries: dict[str, bytes]) -> etree._Element:
    return etree.fromstring(entries["project.qde"])


def q(tag: str) -> str:
    return f"{{{Q}}}{tag}"


def member(path: str) -> str:
    """Where QualCoder looks for an internal file: the text after 'internal:/', under the sources folder."""
    assert "internal:/" in path, path
    return "sources" + path.split("internal:/")[1]


# What QualCoder's importer reads without checking that it is there (a missing one
# raises and stops the import part-way, leaving a half-filled project), plus the
# database constraints its inserts do not catch.
def test_every_element_qualcoders_importer_reads_unconditionally_is_in_our_export(
    qde: etree._Element, entries: dict[str, bytes]
) -> None:
    # The project's origin: upper-cased when there is no basePath; also searched for "ATLAS".
    assert qde.get("origin") and qde.get("basePath") is None
    # The archive has a lower-case sources/ folder at the top, so QualCoder looks there (else Sources/).
    assert all(name == "project.qde" or name.startswith("sources/") for name in entries)
    # CodeBook: its first child is taken as <Codes>.
    assert etree.QName(qde.find("q:CodeBook", NS)[0]).localname == "Codes"
    # Code names must be unique (code_name and code_cat have unique names; a clash drops a code).
    names = Counter(c.get("name") for c in qde.iterfind(".//q:Code", NS))
    assert max(names.values()) == 1
    # Variables: name and typeOfVariable go into attribute_type (name is its primary key).
    variables = qde.findall("q:Variables/q:Variable", NS)
    assert all(v.get("name") and v.get("typeOfVariable") == "Text" for v in variables)
    assert len({v.get("name") for v in variables}) == len(variables)
    variable_guids = {v.get("guid") for v in variables}
    # Cases: a Case without a name is read as file variables, not as a case; names are unique (cases.name).
    cases = qde.findall("q:Cases/q:Case", NS)
    assert [c.get("name") for c in cases] == list(load_participants()["participant_id"])
    for case in cases:
        assert case.find("q:Description", NS).text  # the case memo
        for value in case.iterfind("q:VariableValue", NS):
            assert value.find("q:VariableRef", NS).get("targetGUID") in variable_guids
            assert value.find("q:TextValue", NS).text is not None
    # Case links in QualCoder's form: a code with the case's GUID codes the whole transcript.
    codes = {c.get("guid"): c for c in qde.iterfind(".//q:Code", NS)}
    case_guids = {c.get("guid") for c in cases}
    assert case_guids <= set(codes)
    # Sources: with no 'path', plainTextPath is split at 'internal:/' and must name a file in sources/.
    sources = qde.findall("q:Sources/q:TextSource", NS)
    assert len({s.get("name") for s in sources}) == len(sources)  # a repeated name gets a prefix
    notes = {n.get("guid"): n for n in qde.iterfind("q:Notes/q:Note", NS)}
    annotation_keys = []
    linked_cases = set()
    for source in sources:
        assert source.get("path") is None and member(source.get("plainTextPath")) in entries
        text = entries[member(source.get("plainTextPath"))].decode("utf-8")
        assert not text.startswith("\ufeff") and "\r" not in text  # QualCoder counts a BOM and CR as characters
        for selection in source.iterfind("q:PlainTextSelection", NS):
            # startPosition and endPosition are passed to int() directly
            start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
            assert 0 <= start < end <= len(text)
            # a Coding's first child is taken as its CodeRef, whose targetGUID must be a known code
            for coding in selection.iterfind("q:Coding", NS):
                assert etree.QName(coding[0]).localname == "CodeRef" and coding[0].get("targetGUID") in codes
                if coding[0].get("targetGUID") in case_guids:
                    linked_cases.add(coding[0].get("targetGUID"))
        # A NoteRef directly in a TextSource marks that note as an annotation of the source: it must hold
        # PlainTextContent and a PlainTextSelection; (source, start, end, user) is unique in annotation.
        for ref in source.iterfind("q:NoteRef", NS):
            note = notes[ref.get("targetGUID")]
            assert note.findtext("q:PlainTextContent", namespaces=NS)
            span = note.find("q:PlainTextSelection", NS)
            annotation_keys.append(
                (source.get("guid"), span.get("startPosition"), span.get("endPosition"), note.get("creatingUser"))
            )
    assert linked_cases == case_guids
    assert len(annotation_keys) == len(set(annotation_keys)) == len(load_coding())
    # Notes: creationDateTime (or modifiedDateTime) is read and .replace()d on every Note.
    assert all(n.get("creationDateTime") or n.get("modifiedDateTime") for n in notes.values())
    # Journals: a Note with plainTextPath and a name that is no annotation; the names must be unique
    # (journal.name is unique and the clash fallback itself fails).
    annotations = {ref.get("targetGUID") for s in sources for ref in s.iterfind("q:NoteRef", NS)}
    journals = [n for g, n in notes.items() if n.get("plainTextPath") and g not in annotations]
    assert len(journals) == len(load_memos())
    assert all(n.get("name") and member(n.get("plainTextPath")) in entries for n in journals)
    assert len({n.get("name") for n in journals}) == len(journals)
    # Users: name and guid, and every creatingUser names one of them (else the owner is "default").
    users = {u.get("guid") for u in qde.iterfind("q:Users/q:User", NS)}
    assert all(u.get("name") for u in qde.iterfind("q:Users/q:User", NS))
    for element in qde.iter():
        if isinstance(element.tag, str) and element.get("creatingUser"):
            assert element.get("creatingUser") in users
    # Selections keep their statement as Description (QualCoder's coding memo).
    described = qde.findall("q:Sources/q:TextSource/q:PlainTextSelection/q:Description", NS)
    assert len(described) == len(load_coding())


# ---------------------------------------------------------------- a QualCoder-shaped export


def renew(value: str) -> str:
    return str(uuid.uuid5(OTHER, value))


def qualcoder_shaped(entries: dict[str, bytes]) -> dict[str, bytes]:
    """Our export as QualCoder exports it after importing it (from reading RefiExport, see the module docstring).

    New GUIDs everywhere; selection names replaced by the excerpt text; no
    round; sources and journals written with a byte-order mark under new file
    names; the case codes gone (QualCoder turns them into case links) and cases
    without SourceRef (QualCoder writes one only for a link at 0-0); categories
    without colour, codes with QualCoder's own colours; annotations as Notes
    holding PlainTextContent and a PlainTextSelection, and only the first
    annotation of each source referred to from the source.
    """
    root = etree.fromstring(entries["project.qde"])
    root.set("origin", "QualCoder 4.0")
    root.set("name", "project.qda")
    out: dict[str, bytes] = {}
    case_guids = {c.get("guid") for c in root.iterfind("q:Cases/q:Case", NS)}
    group = root.find("q:CodeBook/q:Codes/q:Code[@name='Cases']", NS)
    group.getparent().remove(group)
    for code in root.iterfind(".//q:Code", NS):
        if code.get("isCodable") == "false":
            del code.attrib["color"]
        else:
            code.set("color", "#FF6F00")
    for case in root.iterfind("q:Cases/q:Case", NS):
        for ref in case.findall("q:SourceRef", NS):
            case.remove(ref)
    notes = root.find("q:Notes", NS)
    by_guid = {n.get("guid"): n for n in notes}
    annotations = []
    for source in root.iterfind("q:Sources/q:TextSource", NS):
        text = entries[member(source.get("plainTextPath"))].decode("utf-8")
        plain = renew(source.get("plainTextPath"))
        source.set("plainTextPath", f"internal://{plain}.txt")
        out[f"sources/{plain}.txt"] = codecs.BOM_UTF8 + text.encode("utf-8")
        refs = source.findall("q:NoteRef", NS)
        for ref in refs:
            source.remove(ref)
            annotations.append(by_guid[ref.get("targetGUID")])
        for selection in source.findall("q:PlainTextSelection", NS):
            coding = selection.find("q:Coding", NS)
            if coding[0].get("targetGUID") in case_guids:
                source.remove(selection)
                continue
            start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
            selection.set("name", text[start:end])
            for ref in selection.findall("q:NoteRef", NS):
                selection.remove(ref)
        if refs:  # only the first annotation of a source gets a NoteRef
            etree.SubElement(source, q("NoteRef"), targetGUID=renew("ref" + refs[0].get("targetGUID")))
    for note in list(notes):
        notes.remove(note)
    for memo in load_memos().itertuples():
        journal = by_guid[refiqda.guid("memo", memo.memo_id)]
        new = renew(journal.get("guid"))
        etree.SubElement(
            notes,
            q("Note"),
            guid=new,
            creatingUser=journal.get("creatingUser"),
            creationDateTime=journal.get("creationDateTime"),
            name=journal.get("name"),
            plainTextPath=f"internal://{new}.txt",
        )
        out[f"sources/{new}.txt"] = codecs.BOM_UTF8 + memo.text.encode("utf-8")
    for i, note in enumerate(annotations):
        new = etree.SubElement(
            notes,
            q("Note"),
            guid=renew("ref" + note.get("guid")),
            creatingUser=note.get("creatingUser"),
            creationDateTime=note.get("creationDateTime"),
        )
        etree.SubElement(new, q("PlainTextContent")).text = note.findtext("q:PlainTextContent", namespaces=NS)
        span = note.find("q:PlainTextSelection", NS)
        etree.SubElement(
            new,
            q("PlainTextSelection"),
            guid=renew(f"span{i}"),
            startPosition=span.get("startPosition"),
            endPosition=span.get("endPosition"),
        )
    for ref in root.findall("q:NoteRef", NS):
        root.remove(ref)
    # every other GUID anew (references follow; notes and their references were renewed above)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in (
            "guid",
            "targetGUID",
            "creatingUser",
            "modifyingUser",
            "creatingUserGUID",
            "modifyingUserGUID",
        ):
            value = element.get(attribute)
            renewed_above = etree.QName(element).localname in ("Note", "NoteRef") and attribute in (
                "guid",
                "targetGUID",
            )
            if value and not renewed_above:
                element.set(attribute, renew(value))
    out["project.qde"] = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    refiqda.check_xml(root, "project", "QualCoder-shaped fixture")
    return out


def write(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def test_round_trip_through_a_qualcoder_shaped_export_gives_back_coding_csv(
    tmp_path: Path, entries: dict[str, bytes]
) -> None:
    shaped = qualcoder_shaped(entries)
    root = etree.fromstring(shaped["project.qde"])
    names = [s.get("name") for s in root.iterfind("q:Sources/q:TextSource/q:PlainTextSelection", NS)]
    assert not any(name.startswith("P0") and "-S" in name[:8] for name in names)  # none of our ids survive
    assert all(data.startswith(codecs.BOM_UTF8) for name, data in shaped.items() if name.endswith(".txt"))
    ours = {refiqda.guid("code", t) for t in ("1.1", "3.1")}
    assert not ours & {c.get("guid") for c in root.iterfind(".//q:Code", NS)}  # new GUIDs

    result = refiqda.import_qdpx(write(tmp_path / "qualcoder.qdpx", shaped))
    pd.testing.assert_frame_equal(result.coding, load_coding())
    assert result.changes == ["no change against coding.csv"]
    assert any(
        "126 segments had no segment id of ours" in m and "matched to coding.csv by participant and span" in m
        for m in result.messages
    )
    assert any(m.startswith("8 sources started with a UTF-8 byte-order mark") for m in result.messages)


def test_changes_made_in_the_program_are_reported_in_research_terms(tmp_path: Path, entries: dict[str, bytes]) -> None:
    shaped = qualcoder_shaped(entries)
    root = etree.fromstring(shaped["project.qde"])
    coding = load_coding()
    code_of = {refiqda.guid("code", t): t for t in load_coding()["theme_id"].unique()}
    p01 = root.find("q:Sources/q:TextSource[@name='P01']", NS)
    selections = p01.findall("q:PlainTextSelection", NS)
    segs = coding[coding["participant_id"] == "P01"].reset_index(drop=True)
    p01.remove(selections[0])  # removed: P01-S01
    selections[1].set("endPosition", str(int(selections[1].get("endPosition")) - 10))  # re-spanned: P01-S02
    theme_guid = {v: k for k, v in code_of.items()}
    new_theme = "2.2" if segs.loc[2, "theme_id"] != "2.2" else "2.1"
    selections[2].find("q:Coding/q:CodeRef", NS).set("targetGUID", renew(theme_guid[new_theme]))  # moved: P01-S03
    added = etree.fromstring(etree.tostring(selections[3]))
    added.set("guid", renew("added"))
    added.set("startPosition", "0")
    added.set("endPosition", "40")
    p01.insert(p01.index(selections[3]), added)  # added: a new segment, numbered after the ids in use
    shaped["project.qde"] = etree.tostring(root)
    result = refiqda.import_qdpx(write(tmp_path / "edited.qdpx", shaped))
    last = max(int(s.partition("-S")[2]) for s in segs["segment_id"])
    assert result.changes[:4] == [
        f"1 segment added: P01-S{last + 1:02d}",
        "1 segment removed: P01-S01",
        f"1 segment moved to another theme: P01-S03 {segs.loc[2, 'theme_id']} -> {new_theme}",
        f"1 segment re-spanned: P01-S02 {segs.loc[1, 'start']}-{segs.loc[1, 'end']} -> "
        f"{segs.loc[1, 'start']}-{segs.loc[1, 'end'] - 10}",
    ]
