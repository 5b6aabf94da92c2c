"""Export: ``codebook.qdc`` and ``project.qdpx`` written for the programs that read them.

- ``codebook.qdc``: superordinate themes are grouping codes (``isCodable="false"``);
  subordinate and minor themes are codable codes nested below them; definitions
  (with the include/exclude notes) are descriptions; each superordinate theme
  has one colour, shared by everything below it.
- ``project.qdpx``: ``project.qde`` at the root, each transcript as
  ``sources/<guid>.txt`` and each memo as ``sources/<guid>.txt`` too. Every coded
  segment is a ``PlainTextSelection`` (character offsets) with its experiential
  statement as description and one coding to its theme.

Written for real importers, not only for the schema (docs/qda.md says what
each program keeps):

- every element that can carry ``creatingUser``/``creationDateTime``
  (``modifyingUser``/``modifiedDateTime``) has them: the memo's own date where the
  data has one, else the build date (``SOURCE_DATE_EPOCH``), never the clock;
- memos are Notes with a ``plainTextPath`` (QualCoder makes journals only from
  those), referred to from the project;
- a segment's three exploratory notes are one Note (QualCoder allows one
  annotation per span and coder), headed by kind, holding a
  ``PlainTextSelection`` on the segment's span (how QualCoder reads an
  annotation) and referred to both from the source (QualCoder) and from the
  segment's selection (the standard's NoteRef);
- each case refers to its transcript with ``SourceRef`` (the standard) and, for
  QualCoder, a code with the case's GUID (under the grouping code ``Cases``)
  codes the whole transcript: QualCoder turns such codes into case links.

GUIDs are UUID5s of our own ids, the zip has fixed dates and sorted entries:
two exports of the same data are byte-identical.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from pathlib import Path

import pandas as pd
from lxml import etree

from ..data import Study, load_study
from ..errors import CompendiumError
from ..files import write_bytes
from ..paths import Paths, paths
from ..transcripts import check_spans
from .archive import zip_bytes
from .schema import (
    CODEBOOK_NS,
    NOTE_KINDS,
    ORIGIN,
    PALETTE,
    PROJECT_NS,
    SHARED_ATTRIBUTES,
    build_datetime,
    check_xml,
    combine_notes,
    guid,
    note_heading_in,
    schemas_available,
)

__all__ = [
    "PROJECT_NAME",
    "CASES_GROUP",
    "codebook_xml",
    "project_xml",
    "memo_files",
    "qdpx_bytes",
    "export",
    "refuse_data_folder",
]

PROJECT_NAME = "Self-compassion in clinicians' accounts: IPA (synthetic data)"
PROJECT_DESCRIPTION = (
    "Synthetic transcripts, codebook, coding and memos of a research compendium that reproduces the "
    "workflow of an Interpretative Phenomenological Analysis; no real interview data. Each selection "
    "is one coded segment: its name holds our segment id and coding round, its description the "
    "experiential statement; one note per segment holds its descriptive, linguistic and conceptual "
    "exploratory notes. The codes under 'Cases' link each participant to the whole transcript."
)
CASES_GROUP = "Cases"
CASES_COLOUR = "#999999"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _sub(
    parent: etree._Element,
    tag: str,
    attrib: dict[str, str] | None = None,
    text: str | None = None,
    ns: str = PROJECT_NS,
) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", attrib or {})
    if text is not None:
        element.text = _xml_text(text)
    return element


def _xml_text(text: str) -> str:
    found = _NOT_XML.search(text)
    if found:
        raise CompendiumError(
            f"Text cannot go into XML: it holds the control character U+{ord(found.group()):04X} "
            f"near {text[max(0, found.start() - 30) : found.start()]!r}.",
            fix="remove the character from the data file (run `python -m compendium validate` to find it).",
        )
    return text


def _describe(theme: dict) -> str:
    """A code's description: the definition, then what to include and exclude."""
    parts = [theme["definition"].strip()]
    rules = [
        f"{word}: {theme[key].strip()}"
        for word, key in (("Include", "include"), ("Exclude", "exclude"))
        if str(theme.get(key) or "").strip()
    ]
    if rules:
        parts.append("\n".join(rules))
    return "\n\n".join(parts)


def _add_codes(parent: etree._Element, codebook: pd.DataFrame, ns: str, cases: list[str] | None = None) -> None:
    """``<Codes>`` with the themes nested as in the codebook; colours by superordinate theme.

    ``cases`` (project only) adds the grouping code ``Cases`` with one code per
    participant whose GUID is the case's GUID (QualCoder's way of linking cases).
    """
    themes = codebook.to_dict("records")
    children: dict[str | None, list[dict]] = defaultdict(list)
    for theme in themes:
        children[theme["parent"]].append(theme)

    def add(container: etree._Element, theme: dict, colour: str) -> None:
        code = _sub(
            container,
            "Code",
            {
                "guid": guid("code", theme["id"]),
                "name": theme["label"],
                "isCodable": "true" if bool(theme["codable"]) else "false",
                "color": colour,
            },
            ns=ns,
        )
        _sub(code, "Description", text=_describe(theme), ns=ns)
        for child in children[theme["id"]]:
            add(code, child, colour)

    codes = _sub(parent, "Codes", ns=ns)
    for i, top in enumerate(children[None]):
        add(codes, top, PALETTE[i % len(PALETTE)])
    if cases:
        group = _sub(
            codes,
            "Code",
            {"guid": guid("code-group", "cases"), "name": CASES_GROUP, "isCodable": "false", "color": CASES_COLOUR},
            ns=ns,
        )
        _sub(
            group,
            "Description",
            text="One code per participant (case), coding the whole transcript: how "
            "QualCoder links cases to documents. Not a theme.",
            ns=ns,
        )
        for pid in cases:
            code = _sub(
                group,
                "Code",
                {"guid": guid("case", pid), "name": pid, "isCodable": "true", "color": CASES_COLOUR},
                ns=ns,
            )
            _sub(code, "Description", text=f"Case {pid}: the whole interview transcript.", ns=ns)


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def codebook_xml(codebook: pd.DataFrame) -> bytes:
    """The codebook as a REFI-QDA codebook (``.qdc``) document."""
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", {"origin": ORIGIN}, nsmap={None: CODEBOOK_NS})
    _add_codes(root, codebook, CODEBOOK_NS)
    return _serialise(root)


def _memo_name(memo: dict) -> str:
    about = f"{memo['kind']}, {memo['participant_id']}" if memo["participant_id"] else memo["kind"]
    return f"Memo {memo['memo_id']} ({about})"


def memo_files(study: Study) -> dict[str, bytes]:
    """Archive entries holding the memos' text (``sources/<memo guid>.txt``)."""
    return {
        f"sources/{guid('memo', memo['memo_id'])}.txt": memo["text"].encode("utf-8")
        for memo in study.memos.to_dict("records")
    }


def project_xml(study: Study) -> bytes:
    """The whole project as ``project.qde``: users, codebook, variables, cases, sources, notes."""
    coding, memos, participants = study.coding, study.memos, study.participants
    analysts = sorted(set(coding["analyst"]) | set(memos["analyst"]))
    built = build_datetime()
    owner = guid("user", analysts[0]) if analysts else None

    def stamp(user: str | None, created: str = built, modified: bool = True) -> dict[str, str]:
        out = {}
        if user:
            out["creatingUser"] = user
        out["creationDateTime"] = created
        if modified:
            if user:
                out["modifyingUser"] = user
            out["modifiedDateTime"] = max(built, created)  # never before its creation
        return out

    root = etree.Element(f"{{{PROJECT_NS}}}Project", {"name": PROJECT_NAME, "origin": ORIGIN}, nsmap={None: PROJECT_NS})
    if owner:
        root.set("creatingUserGUID", owner)
    root.set("creationDateTime", built)
    if owner:
        root.set("modifyingUserGUID", owner)
    root.set("modifiedDateTime", built)
    if analysts:
        users = _sub(root, "Users")
        for analyst in analysts:
            _sub(users, "User", {"guid": guid("user", analyst), "name": analyst})
    with_text = [pid for pid in participants["participant_id"] if pid in study.transcripts]
    _add_codes(_sub(root, "CodeBook"), study.codebook, PROJECT_NS, cases=with_text)

    variables = _sub(root, "Variables")
    for column, (label, description) in SHARED_ATTRIBUTES.items():
        variable = _sub(
            variables, "Variable", {"guid": guid("variable", column), "name": label, "typeOfVariable": "Text"}
        )
        _sub(variable, "Description", text=description)

    cases = _sub(root, "Cases")
    for row in participants.to_dict("records"):
        pid = row["participant_id"]
        case = _sub(cases, "Case", {"guid": guid("case", pid), "name": pid})
        _sub(case, "Description", text=f"Participant {pid} (pseudonym {row['pseudonym']}).")
        for column in SHARED_ATTRIBUTES:
            value = _sub(case, "VariableValue")
            _sub(value, "VariableRef", {"targetGUID": guid("variable", column)})
            _sub(value, "TextValue", text=str(row[column]))
        if pid in study.transcripts:
            _sub(case, "SourceRef", {"targetGUID": guid("source", pid)})

    notes: list[etree._Element] = []
    note_parent = etree.Element("unused")
    for memo in memos.to_dict("records"):
        user = guid("user", memo["analyst"])
        note = _sub(
            note_parent,
            "Note",
            {
                "guid": guid("memo", memo["memo_id"]),
                "name": _memo_name(memo),
                "plainTextPath": f"internal://{guid('memo', memo['memo_id'])}.txt",
                **stamp(user, f"{memo['date']}T00:00:00Z"),
            },
        )
        about = f"participant {memo['participant_id']}" if memo["participant_id"] else "the study as a whole"
        _sub(note, "Description", text=f"{str(memo['kind']).capitalize()} memo by {memo['analyst']} on {about}.")
        notes.append(note)

    pseudonyms = study.pseudonyms
    sources = _sub(root, "Sources")
    for pid in with_text:
        source_guid = guid("source", pid)
        source = _sub(
            sources,
            "TextSource",
            {"guid": source_guid, "name": pid, "plainTextPath": f"internal://{source_guid}.txt", **stamp(owner)},
        )
        _sub(source, "Description", text=f"Interview transcript of participant {pid} ({pseudonyms[pid]}), synthetic.")
        whole = _sub(
            source,
            "PlainTextSelection",
            {
                "guid": guid("case-selection", pid),
                "name": f"Case {pid} (whole transcript)",
                "startPosition": "0",
                "endPosition": str(len(study.transcripts[pid])),
                **stamp(owner),
            },
        )
        _sub(
            _sub(whole, "Coding", {"guid": guid("case-coding", pid), **stamp(owner, modified=False)}),
            "CodeRef",
            {"targetGUID": guid("case", pid)},
        )
        annotations = []
        for seg in coding[coding["participant_id"] == pid].to_dict("records"):
            sid, user = seg["segment_id"], guid("user", seg["analyst"])
            selection = _sub(
                source,
                "PlainTextSelection",
                {
                    "guid": guid("selection", sid),
                    "name": f"{sid} (round {seg['coding_round']})",
                    "startPosition": str(seg["start"]),
                    "endPosition": str(seg["end"]),
                    **stamp(user),
                },
            )
            if seg["experiential_statement"]:
                _sub(selection, "Description", text=seg["experiential_statement"])
            coded = _sub(selection, "Coding", {"guid": guid("coding", sid), **stamp(user, modified=False)})
            _sub(coded, "CodeRef", {"targetGUID": guid("code", seg["theme_id"])})
            text = combine_notes(seg)
            if not text:
                continue
            for column in NOTE_KINDS:
                if note_heading_in(str(seg[column])):
                    raise CompendiumError(
                        f"coding.csv, segment {sid}, column '{column}': a line of the note starts like a note "
                        "heading ('Descriptive note:', 'Linguistic note:' or 'Conceptual note:'), so it could "
                        "not be read back from a QDA program.",
                        fix="reword the start of that line.",
                    )
            _sub(selection, "NoteRef", {"targetGUID": guid("notes", sid)})
            note = _sub(
                note_parent, "Note", {"guid": guid("notes", sid), "name": f"Exploratory notes {sid}", **stamp(user)}
            )
            _sub(note, "PlainTextContent", text=text)
            _sub(
                note,
                "PlainTextSelection",
                {
                    "guid": guid("annotation", sid),
                    "name": sid,
                    "startPosition": str(seg["start"]),
                    "endPosition": str(seg["end"]),
                    **stamp(user),
                },
            )
            notes.append(note)
            annotations.append(sid)
        for sid in annotations:  # QualCoder reads a source's NoteRefs as its annotations
            _sub(source, "NoteRef", {"targetGUID": guid("notes", sid)})
    if notes:
        container = _sub(root, "Notes")
        for note in notes:
            container.append(note)
    _sub(root, "Description", text=PROJECT_DESCRIPTION)
    for memo_id in memos["memo_id"]:
        _sub(root, "NoteRef", {"targetGUID": guid("memo", memo_id)})
    return _serialise(root)


def qdpx_bytes(study: Study, project: bytes | None = None) -> bytes:
    """The ``.qdpx`` archive: ``project.qde``, one ``sources/<guid>.txt`` per transcript and per memo."""
    entries = {"project.qde": project if project is not None else project_xml(study), **memo_files(study)}
    for pid, text in study.transcripts.items():
        entries[f"sources/{guid('source', pid)}.txt"] = text.encode("utf-8")
    return zip_bytes(entries)


def _check_spans(study: Study) -> None:
    problems = check_spans(study.coding.itertuples(index=False), study.transcripts)
    if problems:
        first = dataclasses.replace(problems[0], fix="")
        raise CompendiumError(
            f"{first}\n  ({len(problems)} segment(s) in all; their selections would point at the wrong text)",
            fix="run `python -m compendium validate` and correct the spans it reports.",
        )
    spans = study.coding.groupby(["participant_id", "start", "end", "analyst"])["segment_id"].apply(list)
    shared = [ids for ids in spans if len(ids) > 1]
    if shared:
        raise CompendiumError(
            f"coding.csv: segments {', '.join(shared[0])} have the same span and analyst; QualCoder keeps one "
            "annotation per span and coder, so their exploratory notes would collide.",
            fix="merge them into one segment, or adjust one span by a character.",
        )


def refuse_data_folder(target: Path, p: Paths) -> None:
    """Refuse to write into ``data/`` (the study's inputs)."""
    target = Path(target).resolve()
    data = p.data.resolve()
    if target == data or data in target.parents:
        raise CompendiumError(
            f"{target}: refusing to write into {data}, which holds the study's inputs.",
            fix="write elsewhere (e.g. --out build/imported_coding.csv), review the table, then merge by hand.",
        )


def export(
    out_dir: Path | str | None = None, p: Paths | None = None, validate: bool | None = None
) -> tuple[Path, Path]:
    """Write ``codebook.qdc`` and ``project.qdpx`` into ``out_dir`` (default ``manuscript/supplement``).

    Both documents are validated against the package's QDA-XML schemas before
    anything is written (``validate=False`` skips that; ``None`` skips it only
    when the schemas are missing). Returns the two paths.
    """
    p = p or paths()
    out = Path(out_dir) if out_dir is not None else p.supplement
    refuse_data_folder(out, p)
    study = load_study(p)
    _check_spans(study)
    codebook = codebook_xml(study.codebook)
    project = project_xml(study)
    if validate or (validate is None and schemas_available(p)):
        bug = "nothing was written; this is a fault in compendium/refiqda/export.py: report it with this message"
        check_xml(codebook, "codebook", "codebook.qdc", p, fix=bug)
        check_xml(project, "project", "project.qde", p, fix=bug)
    archive = qdpx_bytes(study, project)
    return write_bytes(out / "codebook.qdc", codebook), write_bytes(out / "project.qdpx", archive)
