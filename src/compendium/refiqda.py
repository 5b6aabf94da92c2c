"""REFI-QDA (QDA-XML 1.0) exchange with QDA software (NVivo, ATLAS.ti, MAXQDA, QualCoder).

Export writes two files, by default into ``manuscript/supplement/``:

- ``codebook.qdc``: the codebook. Superordinate themes are grouping codes
  (``isCodable="false"``); subordinate and minor themes are codable codes nested
  below them; definitions (with the include/exclude notes) are descriptions;
  each superordinate theme has one colour, shared by everything below it.
- ``project.qdpx``: a zip with ``project.qde`` at the root and each transcript
  as ``sources/<guid>.txt``. Every coded segment is a ``PlainTextSelection``
  (character offsets into the transcript) with its experiential statement as
  description, a coding to its theme and its three exploratory notes.

GUIDs are UUID5s of our own ids in a fixed namespace, the zip has fixed
timestamps, sorted entries and one compression setting, and no date comes from
the clock, so two exports of the same data are byte-identical.

Import (:func:`import_qdpx`) reads a ``.qdpx`` written by any tool back into a
table in the ``coding.csv`` format, plus messages that say what was converted,
guessed or left out. Decisions worth knowing:

- QDA-XML has no coding round: the export keeps it in the selection's name
  (``"P01-S01 (round 1)"``); selections made in another tool get round 1.
- A segment coded to a code that is not in ``codebook.yaml`` (or to a grouping
  theme) is *set aside*: it is left out of ``ImportResult.coding``, so that
  table stays valid, and kept in ``ImportResult.set_aside`` with the code's
  name in ``theme_id``; the messages name each such code and its count.
- Positions in a source with Windows (CRLF) line breaks count each break as
  two characters, as the tool saw the text; they are converted to positions in
  the LF text of our transcripts. A byte-order mark is removed and not counted.
"""
from __future__ import annotations

import argparse
import codecs
import io
import os
import re
import time
import unicodedata
import uuid
import zipfile
from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree

from .data import Study, load_codebook, load_coding, load_participants, load_study
from .errors import CompendiumError, Problem
from .files import write_bytes, write_text
from .paths import Paths, paths

__all__ = [
    "PROJECT_NS", "CODEBOOK_NS", "GUID_NAMESPACE", "COLUMNS", "SHARED_ATTRIBUTES", "NOTE_KINDS", "PALETTE",
    "RefiQdaError", "ImportResult", "guid", "schema_dir", "schemas_available", "check_xml", "codebook_xml",
    "project_xml", "qdpx_bytes", "export", "import_qdpx", "command",
]

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
# Never change this: every GUID in every export is derived from it, and tools
# match codes and sources across exports by GUID.
GUID_NAMESPACE = uuid.UUID("55f525dd-8c48-5364-a504-8585871341b1")
ORIGIN = "compendium (reproducible research compendium, synthetic IPA study)"
PROJECT_NAME = "Self-compassion in clinicians' accounts: IPA (synthetic data)"
PROJECT_DESCRIPTION = (
    "Synthetic transcripts, codebook, coding and memos of a research compendium that reproduces the "
    "workflow of an Interpretative Phenomenological Analysis; no real interview data. Each selection "
    "is one coded segment: its name holds our segment id and coding round, its description the "
    "experiential statement, and its notes the descriptive, linguistic and conceptual exploratory notes.")

COLUMNS = ["segment_id", "participant_id", "start", "end", "excerpt", "theme_id", "note_descriptive",
           "note_linguistic", "note_conceptual", "experiential_statement", "analyst", "coding_round"]
INT_COLUMNS = ("start", "end", "coding_round")
# Only the attributes published in the paper's Table 1 may leave the project.
# Background, parent mental illness, own mental health, member check and
# voucher were reported in aggregate only and must never be exported per person.
SHARED_ATTRIBUTES = {
    "age_band": ("Age band", "Age band of the clinician (Table 1)."),
    "gender": ("Gender", "Gender of the clinician (Table 1)."),
    "qualification": ("Qualification", "Professional qualification (Table 1)."),
    "frameworks": ("Predominant framework(s)", "Therapeutic frameworks the clinician mainly uses (Table 1)."),
    "years_with_population": ("Years with population", "Years of work with children and adult children of "
                              "parents with mental illness (Table 1)."),
}
NOTE_KINDS = {"note_descriptive": "Descriptive note", "note_linguistic": "Linguistic note",
              "note_conceptual": "Conceptual note"}
# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442")

SEGMENT_NAME = re.compile(r"^(?P<segment>P\d{2,4}-S\d{2,3})(?: \(round (?P<round>\d)\))?$")
NOTE_KIND = re.compile(r"^\s*(?P<kind>descriptive|linguistic|conceptual)\b", re.IGNORECASE)
PARTICIPANT_ID = re.compile(r"(?<![A-Za-z0-9])P\d{2,4}(?![0-9])")
MAX_MEMBER_BYTES = 256 * 1024 * 1024  # refuse absurdly large (or zip-bomb) members
FIX_EXPORT_AGAIN = ("export the project again from your QDA program (REFI-QDA project, .qdpx) and import "
                    "that file")


class RefiQdaError(CompendiumError):
    """A ``.qdpx`` or ``.qdc`` file that cannot be read or written as QDA-XML."""


def _error(file: str, message: str, fix: str, line: int | None = None) -> RefiQdaError:
    return RefiQdaError(str(Problem(file, message, fix, line=line)))


def guid(kind: str, key: str) -> str:
    """The GUID of one of our items: UUID5 of ``"kind:key"`` in :data:`GUID_NAMESPACE`.

    Examples
    --------
    >>> guid("code", "1.1") == guid("code", "1.1") != guid("code", "1.2")
    True
    """
    return str(uuid.uuid5(GUID_NAMESPACE, f"{kind}:{key}"))


def _norm_guid(value: str | None) -> str:
    """GUIDs compare without braces and case (the schema allows ``{...}`` and upper case)."""
    return (value or "").strip().strip("{}").lower()


# ---------------------------------------------------------------- schemas

def _schema_candidates(p: Paths) -> list[Path]:
    return [p.shared_refi_qda, p.package_schemas]


def schemas_available(p: Paths | None = None) -> bool:
    """Whether the QDA-XML schemas can be found (see :func:`schema_dir`)."""
    p = p or paths()
    return any((f / "Project.xsd").is_file() and (f / "Codebook.xsd").is_file() for f in _schema_candidates(p))


def schema_dir(p: Paths | None = None) -> Path:
    """Folder holding ``Project.xsd`` and ``Codebook.xsd``.

    The REFI-QDA schemas live beside the repository (``../shared/refi-qda``);
    a copy inside the package (``compendium/schemas``) is used if that is absent.
    """
    p = p or paths()
    candidates = _schema_candidates(p)
    for folder in candidates:
        if (folder / "Project.xsd").is_file() and (folder / "Codebook.xsd").is_file():
            return folder
    raise RefiQdaError(
        "The REFI-QDA schemas (Project.xsd, Codebook.xsd) were not found in "
        + " or ".join(str(c) for c in candidates) + ".\n"
        "    fix: put the QDA-XML 1.0 schemas from www.qdasoftware.org in one of those folders.")


@lru_cache(maxsize=4)
def _schema(path: str) -> Any:
    import xmlschema

    return xmlschema.XMLSchema(path)


def check_xml(document: bytes | etree._Element, kind: str, name: str, p: Paths | None = None,
              fix: str | None = None) -> None:
    """Validate a QDA-XML document (``kind`` ``"project"`` or ``"codebook"``); raise :class:`RefiQdaError`."""
    root = _parse_xml(document, name) if isinstance(document, bytes) else document
    schema = _schema(str(schema_dir(p) / f"{kind.title()}.xsd"))
    problems = []
    for err in schema.iter_errors(root.getroottree()):
        reason = re.sub(r"\s+", " ", str(err.reason or err.message))
        if len(reason) > 160:
            reason = reason[:157] + "..."
        where = f"line {err.sourceline}" if getattr(err, "sourceline", None) else "?"
        problems.append(f"  - {where} ({err.path}): {reason}")
        if len(problems) == 5:
            problems.append("  - (further problems not shown)")
            break
    if problems:
        fix = fix or (f"{FIX_EXPORT_AGAIN}; if the program wrote it this way, correct the lines above by hand "
                      "(the order of elements matters) and import again")
        raise RefiQdaError(f"{name}: does not follow the QDA-XML 1.0 {kind.title()}.xsd schema:\n"
                           + "\n".join(problems) + f"\n    fix: {fix}.")


def _parse_xml(data: bytes, name: str) -> etree._Element:
    # No entity expansion, no network: the file may come from anywhere.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        line = err.lineno if err.lineno else None
        raise _error(name, f"is not well-formed XML ({err.msg}).", FIX_EXPORT_AGAIN, line=line) from None


# ---------------------------------------------------------------- export

def _sub(parent: etree._Element, tag: str, attrib: dict[str, str] | None = None,
         text: str | None = None, ns: str = PROJECT_NS) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", attrib or {})
    if text is not None:
        element.text = _xml_text(text)
    return element


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    found = _NOT_XML.search(text)
    if found:
        raise CompendiumError(
            f"Text cannot go into XML: it holds the control character U+{ord(found.group()):04X} "
            f"near {text[max(0, found.start() - 30):found.start()]!r}.\n"
            "    fix: remove the character from the data file (run `python -m compendium validate` to find it).")
    return text


def _describe(theme: dict) -> str:
    """A code's description: the definition, then what to include and exclude."""
    parts = [theme["definition"].strip()]
    rules = [f"{word}: {theme[key].strip()}" for word, key in (("Include", "include"), ("Exclude", "exclude"))
             if str(theme.get(key) or "").strip()]
    if rules:
        parts.append("\n".join(rules))
    return "\n\n".join(parts)


def _add_codes(parent: etree._Element, codebook: pd.DataFrame, ns: str) -> None:
    """``<Codes>`` with the themes nested as in the codebook; colours by superordinate theme."""
    themes = codebook.to_dict("records")
    children: dict[str | None, list[dict]] = defaultdict(list)
    for theme in themes:
        children[theme["parent"]].append(theme)

    def add(container: etree._Element, theme: dict, colour: str) -> None:
        code = _sub(container, "Code", {"guid": guid("code", theme["id"]), "name": theme["label"],
                                        "isCodable": "true" if bool(theme["codable"]) else "false",
                                        "color": colour}, ns=ns)
        _sub(code, "Description", text=_describe(theme), ns=ns)
        for child in children[theme["id"]]:
            add(code, child, colour)

    codes = _sub(parent, "Codes", ns=ns)
    for i, top in enumerate(children[None]):
        add(codes, top, PALETTE[i % len(PALETTE)])


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def codebook_xml(codebook: pd.DataFrame) -> bytes:
    """The codebook as a REFI-QDA codebook (``.qdc``) document."""
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", {"origin": ORIGIN}, nsmap={None: CODEBOOK_NS})
    _add_codes(root, codebook, CODEBOOK_NS)
    return _serialise(root)


def project_xml(study: Study) -> bytes:
    """The whole project as ``project.qde``: users, codebook, variables, cases, sources, notes."""
    coding, memos, participants = study.coding, study.memos, study.participants
    analysts = sorted(set(coding["analyst"]) | set(memos["analyst"]))
    root = etree.Element(f"{{{PROJECT_NS}}}Project", {"name": PROJECT_NAME, "origin": ORIGIN},
                         nsmap={None: PROJECT_NS})
    if analysts:
        root.set("creatingUserGUID", guid("user", analysts[0]))
        users = _sub(root, "Users")
        for analyst in analysts:
            _sub(users, "User", {"guid": guid("user", analyst), "name": analyst})
    _add_codes(_sub(root, "CodeBook"), study.codebook, PROJECT_NS)

    variables = _sub(root, "Variables")
    for column, (label, description) in SHARED_ATTRIBUTES.items():
        variable = _sub(variables, "Variable", {"guid": guid("variable", column), "name": label,
                                                "typeOfVariable": "Text"})
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

    notes: list[tuple[dict[str, str], str]] = []
    for memo in memos.to_dict("records"):
        notes.append(({"guid": guid("memo", memo["memo_id"]), "name": f"Memo {memo['memo_id']} ({memo['kind']})",
                       "creatingUser": guid("user", memo["analyst"]),
                       "creationDateTime": f"{memo['date']}T00:00:00Z"}, memo["text"]))
    pseudonyms = study.pseudonyms
    sources = _sub(root, "Sources")
    for pid in participants["participant_id"]:
        if pid not in study.transcripts:
            continue
        source_guid = guid("source", pid)
        source = _sub(sources, "TextSource", {"guid": source_guid, "name": pid,
                                              "plainTextPath": f"internal://{source_guid}.txt"})
        _sub(source, "Description", text=f"Interview transcript of participant {pid} ({pseudonyms[pid]}), synthetic.")
        for seg in coding[coding["participant_id"] == pid].to_dict("records"):
            sid, user = seg["segment_id"], guid("user", seg["analyst"])
            selection = _sub(source, "PlainTextSelection", {
                "guid": guid("selection", sid), "name": f"{sid} (round {seg['coding_round']})",
                "startPosition": str(seg["start"]), "endPosition": str(seg["end"]), "creatingUser": user})
            if seg["experiential_statement"]:
                _sub(selection, "Description", text=seg["experiential_statement"])
            coded = _sub(selection, "Coding", {"guid": guid("coding", sid), "creatingUser": user})
            _sub(coded, "CodeRef", {"targetGUID": guid("code", seg["theme_id"])})
            for column, label in NOTE_KINDS.items():
                if seg[column]:
                    _sub(selection, "NoteRef", {"targetGUID": guid(column, sid)})
                    notes.append(({"guid": guid(column, sid), "name": f"{label} {sid}", "creatingUser": user},
                                  seg[column]))
        for memo_id in memos.loc[memos["participant_id"] == pid, "memo_id"]:
            _sub(source, "NoteRef", {"targetGUID": guid("memo", memo_id)})
    if notes:
        container = _sub(root, "Notes")
        for attrib, text in notes:
            _sub(_sub(container, "Note", attrib), "PlainTextContent", text=text)
    _sub(root, "Description", text=PROJECT_DESCRIPTION)
    for memo_id in memos.loc[memos["participant_id"] == "", "memo_id"]:
        _sub(root, "NoteRef", {"targetGUID": guid("memo", memo_id)})
    return _serialise(root)


def _zip_date() -> tuple[int, int, int, int, int, int]:
    """Timestamp of every zip entry: ``SOURCE_DATE_EPOCH`` if set, else 1980-01-01 (the zip epoch)."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return (1980, 1, 1, 0, 0, 0)
    try:
        seconds = int(raw)
    except ValueError:
        raise CompendiumError(f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds since 1970.\n"
                              "    fix: unset it or set it to e.g. 1654041600 (as the Makefile does).") from None
    return tuple(time.gmtime(max(seconds, 315532800))[:6])  # type: ignore[return-value]


def _zip(entries: dict[str, bytes]) -> bytes:
    """A zip with sorted entries, fixed dates, permissions and compression."""
    date = _zip_date()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=date)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever the build machine
            info.external_attr = 0o100644 << 16
            archive.writestr(info, entries[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


def qdpx_bytes(study: Study, project: bytes | None = None) -> bytes:
    """The ``.qdpx`` archive: ``project.qde`` and one ``sources/<guid>.txt`` per transcript."""
    entries = {"project.qde": project if project is not None else project_xml(study)}
    for pid, text in study.transcripts.items():
        entries[f"sources/{guid('source', pid)}.txt"] = text.encode("utf-8")
    return _zip(entries)


def _check_spans(study: Study) -> None:
    bad = [row.segment_id for row in study.coding.itertuples()
           if study.transcripts.get(row.participant_id, "")[row.start:row.end] != row.excerpt]
    if bad:
        raise CompendiumError(f"coding.csv: the excerpts of {', '.join(bad[:10])} do not match their transcripts, "
                              "so their selections would point at the wrong text.\n"
                              "    fix: run `python -m compendium validate` and correct the spans it reports.")


def export(out_dir: Path | str | None = None, p: Paths | None = None,
           validate: bool | None = None) -> tuple[Path, Path]:
    """Write ``codebook.qdc`` and ``project.qdpx`` into ``out_dir`` (default ``manuscript/supplement``).

    Both documents are validated against the QDA-XML schemas before anything is
    written; ``validate=None`` (the default) skips that only when the schemas
    are not available (e.g. a copy of the repository without ``../shared``),
    ``True`` insists on it. Returns the two paths.
    """
    p = p or paths()
    out = Path(out_dir) if out_dir is not None else p.supplement
    _refuse_data_folder(out, p)
    study = load_study(p)
    _check_spans(study)
    codebook = codebook_xml(study.codebook)
    project = project_xml(study)
    if validate or (validate is None and schemas_available(p)):
        bug = "nothing was written; this is a fault in compendium/refiqda.py: report it with this message"
        check_xml(codebook, "codebook", "codebook.qdc", p, fix=bug)
        check_xml(project, "project", "project.qde", p, fix=bug)
    archive = qdpx_bytes(study, project)
    return write_bytes(out / "codebook.qdc", codebook), write_bytes(out / "project.qdpx", archive)


# ---------------------------------------------------------------- import

@dataclass
class ImportResult:
    """What :func:`import_qdpx` read.

    ``coding`` has exactly the columns and types of ``load_coding()``;
    ``set_aside`` has the same columns and holds segments coded to codes that
    are not codable themes of ``codebook.yaml`` (``theme_id`` is then the
    code's name, or the id of the grouping theme); ``messages`` say in words
    what was converted, guessed or left out.
    """

    coding: pd.DataFrame
    messages: list[str] = field(default_factory=list)
    set_aside: pd.DataFrame = field(default_factory=lambda: _frame([]))


@dataclass
class _Code:
    guid: str
    name: str
    path: str
    codable: bool
    theme: str | None = None  # our theme id, if matched


def _frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as a table typed like ``load_coding()``."""
    df = pd.DataFrame([{c: row[c] for c in COLUMNS} for row in rows], columns=COLUMNS)
    return df.astype({c: (int if c in INT_COLUMNS else str) for c in COLUMNS})


def _norm_name(name: str) -> str:
    """Names compare ignoring case, spacing, Unicode forms and curly quotes (tools retype labels)."""
    text = unicodedata.normalize("NFKC", name)
    text = text.translate(str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                                         "\u2013": "-", "\u2014": "-"}))
    return " ".join(text.casefold().split())


def _clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _preview(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[:width - 3] + "...")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _were(n: int) -> str:
    return "was" if n == 1 else "were"


def _listing(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


class _Reader:
    """Reads one ``.qdpx``; collects rows and messages."""

    def __init__(self, path: Path, p: Paths) -> None:
        self.path, self.p = path, p
        self.messages: list[str] = []
        self.archive = self._open()
        try:
            self._load()
        except BaseException:
            self.archive.close()
            raise

    def _load(self) -> None:
        self.members = {info.filename.replace("\\", "/"): info for info in self.archive.infolist()
                        if not info.is_dir()}
        self.lower = {name.lower(): name for name in self.members}
        self.qde = self._project_member()
        self.where = f"{self.path}, {self.qde}"
        self.root = _parse_xml(self._read(self.qde), self.where)
        if self.root.tag != f"{{{PROJECT_NS}}}Project":
            raise _error(self.where, f"the root element is <{etree.QName(self.root).localname}> in namespace "
                         f"{etree.QName(self.root).namespace!r}; a REFI-QDA project starts with <Project "
                         f'xmlns="{PROJECT_NS}">.', FIX_EXPORT_AGAIN, line=self.root.sourceline)
        check_xml(self.root, "project", self.where, self.p)

    # -- archive
    def _open(self) -> zipfile.ZipFile:
        path = self.path
        if not path.is_file():
            raise _error(str(path), "file not found.", "check the path; give the .qdpx file your QDA program exported")
        try:
            return zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError):
            head = path.read_bytes()[:64].lstrip(codecs.BOM_UTF8).lstrip()
            if head.startswith(b"<"):
                fix = ("this is an XML file, not a .qdpx archive: if it is a project.qde, zip it together with "
                       "its sources/ folder (project.qde at the top of the zip); a .qdc codebook holds no coding "
                       "to import")
            else:
                fix = ("a .qdpx is a zip archive written by a QDA program's REFI-QDA project export "
                       "(NVivo, ATLAS.ti, MAXQDA, QualCoder); export again in that format, not the program's own "
                       "project format")
            raise _error(str(path), "is not a zip archive, so it cannot be a REFI-QDA project (.qdpx).",
                         fix) from None

    def _project_member(self) -> str:
        top = [name for name in self.members if "/" not in name and name.lower().endswith(".qde")]
        exact = [name for name in top if name.lower() == "project.qde"]
        if exact:
            return exact[0]
        if len(top) == 1:
            self.messages.append(f"{self.path}: the project file is named {top[0]!r} instead of 'project.qde'; "
                                 "read it anyway.")
            return top[0]
        nested = [name for name in self.members if name.lower().endswith(".qde")]
        found = _listing(sorted(self.members), 8) or "nothing"
        fix = (f"the archive holds {nested[0]!r} inside a folder: zip the folder's contents, not the folder, so "
               "that project.qde is at the top" if nested else FIX_EXPORT_AGAIN)
        raise _error(str(self.path), f"has no project.qde at the top of the archive (it holds: {found}).", fix)

    def _read(self, member: str) -> bytes:
        info = self.members[member]
        if info.file_size > MAX_MEMBER_BYTES:
            raise _error(f"{self.path}, {member}", f"is {info.file_size} bytes, more than this import reads.",
                         "split the project or remove large media before exporting")
        try:
            return self.archive.read(info)
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise _error(f"{self.path}, {member}", f"cannot be read from the archive ({err}).",
                         "the file is damaged: copy or export it again") from None

    def _internal(self, reference: str) -> str | None:
        """The archive member an ``internal://`` path points to (``sources/`` in any letter case)."""
        if not reference.lower().startswith("internal://"):
            return None
        target = reference[len("internal://"):].replace("\\", "/").lstrip("/")
        for candidate in (f"sources/{target}", target):
            if candidate.lower() in self.lower:
                return self.lower[candidate.lower()]
        return None

    def _decode(self, raw: bytes, where: str) -> tuple[str, bool]:
        bom = raw.startswith(codecs.BOM_UTF8)
        try:
            return raw[3:].decode("utf-8") if bom else raw.decode("utf-8"), bom
        except UnicodeDecodeError as err:
            raise _error(where, f"is not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start}).",
                         "save the source as UTF-8 plain text in the QDA program (or re-import it as UTF-8) "
                         "and export again") from None

    # -- parts of the project
    def q(self, tag: str) -> str:
        return f"{{{PROJECT_NS}}}{tag}"

    def users(self) -> dict[str, str]:
        return {_norm_guid(u.get("guid")): (u.get("name") or u.get("id") or "").strip()
                for u in self.root.iterfind(f"{self.q('Users')}/{self.q('User')}")}

    def codes(self, codebook: pd.DataFrame) -> dict[str, _Code]:
        """Every code in the project, matched to our themes by GUID, else by name."""
        by_guid = {guid("code", tid): tid for tid in codebook["id"]}
        by_name: dict[str, str] = {}
        for theme in codebook.to_dict("records"):
            by_name[_norm_name(theme["label"])] = theme["id"]
            by_name[_norm_name(f"{theme['id']} {theme['label']}")] = theme["id"]
        labels = dict(zip(codebook["id"], codebook["label"]))
        codes: dict[str, _Code] = {}
        renamed, named = [], []

        def walk(element: etree._Element, trail: list[str]) -> None:
            for item in element.iterfind(self.q("Code")):
                name = item.get("name", "")
                code = _Code(_norm_guid(item.get("guid")), name, " > ".join([*trail, name]),
                             item.get("isCodable", "").strip() in ("true", "1"))
                if code.guid in by_guid:
                    code.theme = by_guid[code.guid]
                    if _norm_name(name) != _norm_name(labels[code.theme]):
                        renamed.append(f"{name!r} is our theme {code.theme} {labels[code.theme]!r}")
                elif _norm_name(name) in by_name:
                    code.theme = by_name[_norm_name(name)]
                    named.append(f"{name!r} -> {code.theme}")
                codes[code.guid] = code
                walk(item, [*trail, name])

        codes_element = self.root.find(f"{self.q('CodeBook')}/{self.q('Codes')}")
        if codes_element is not None:
            walk(codes_element, [])
        if named:
            self.messages.append(f"{_plural(len(named), 'code')} matched to our themes by name, not by GUID "
                                 f"(usual for codes created in another program): {_listing(named, 12)}.")
        if renamed:
            self.messages.append(f"{_plural(len(renamed), 'code')} renamed in the QDA program, matched by GUID: "
                                 f"{_listing(renamed, 12)}.")
        return codes

    def notes(self) -> dict[str, tuple[str, str]]:
        """Note GUID -> (name, text)."""
        found: dict[str, tuple[str, str]] = {}
        for note in self.root.iterfind(f"{self.q('Notes')}/{self.q('Note')}"):
            content = note.find(self.q("PlainTextContent"))
            text = content.text if content is not None else None
            reference = note.get("plainTextPath")
            if text is None and reference:
                member = self._internal(reference)
                text = self._decode(self._read(member), f"{self.path}, {member}")[0] if member else ""
            found[_norm_guid(note.get("guid"))] = (note.get("name") or "", _clean(text))
        return found

    def case_participants(self, resolve: Any) -> dict[str, str]:
        """Source GUID -> participant id, from the cases that refer to the source."""
        linked: dict[str, str] = {}
        for case in self.root.iterfind(f"{self.q('Cases')}/{self.q('Case')}"):
            pid = resolve(case.get("name") or "")
            if pid is None:
                continue
            for ref in case.iterfind(self.q("SourceRef")):
                linked.setdefault(_norm_guid(ref.get("targetGUID")), pid)
        return linked


def _lf_position(crlf: list[int], position: int) -> int:
    r"""A position in CRLF text (``crlf`` lists where each CR stands) as a position in the same text with LF.

    Every CRLF wholly before the position counts one less; a position between
    CR and LF lands on the LF (the line break itself).

    Examples
    --------
    >>> text = "ab\r\ncd\r\n"
    >>> crlf = [2, 6]
    >>> [_lf_position(crlf, i) for i in range(len(text) + 1)]
    [0, 1, 2, 2, 3, 4, 5, 5, 6]
    """
    return position - bisect_left(crlf, position)


def _participant_resolver(participants: pd.DataFrame) -> Any:
    ids = set(participants["participant_id"])
    by_pseudonym = {_norm_name(name): pid
                    for pid, name in zip(participants["participant_id"], participants["pseudonym"])}

    def resolve(name: str) -> str | None:
        stem = re.sub(r"\.(txt|docx?|rtf|pdf)$", "", name.strip(), flags=re.IGNORECASE)
        if stem in ids:
            return stem
        if _norm_name(stem) in by_pseudonym:
            return by_pseudonym[_norm_name(stem)]
        found = PARTICIPANT_ID.search(stem)
        if found:
            return found.group()
        for word in re.findall(r"[^\W\d_]+(?:['-][^\W\d_]+)*", stem):
            if _norm_name(word) in by_pseudonym:
                return by_pseudonym[_norm_name(word)]
        return None

    return resolve


def import_qdpx(path: Path | str, p: Paths | None = None) -> ImportResult:
    """Read coded segments from a ``.qdpx`` file into the ``coding.csv`` format.

    Reads ``codebook.yaml``, ``participants.csv``, ``coding.csv`` and the
    transcripts to match codes, participants and ids; writes nothing.
    Raises :class:`RefiQdaError` for input that cannot be read safely.
    """
    p = p or paths()
    reader = _Reader(Path(path), p)
    with reader.archive:
        return _import(reader, p)


def _import(reader: _Reader, p: Paths) -> ImportResult:
    messages = reader.messages
    codebook = load_codebook(p)
    codable = dict(zip(codebook["id"], codebook["codable"].astype(bool)))
    participants = load_participants(p)
    known = set(participants["participant_id"])
    resolve = _participant_resolver(participants)
    users = reader.users()
    codes = reader.codes(codebook)
    notes = reader.notes()
    cases = reader.case_participants(resolve)
    q = reader.q

    rows: list[dict] = []
    used_notes: set[str] = set()
    missing_notes: dict[tuple[str, str], None] = {}  # (note GUID, where): an ordered set
    no_kind: list[str] = []
    uncoded = 0
    no_analyst = 0
    sources_of: dict[str, list[str]] = defaultdict(list)
    sources = reader.root.find(q("Sources"))
    for source in (sources if sources is not None else []):
        if not isinstance(source.tag, str):
            continue  # comments and processing instructions
        kind = etree.QName(source).localname
        name = source.get("name") or source.get("guid", "")
        label = f"source {name!r}"
        if kind != "TextSource":
            messages.append(f"{label} is a {kind}; only plain-text sources are read, so it was skipped.")
            continue
        selections = source.findall(q("PlainTextSelection"))
        if source.findall(q("Coding")):
            messages.append(f"{label}: coding of the whole document (not of a selection) was skipped; code "
                            "passages instead.")
        if not selections:
            continue
        pid = cases.get(_norm_guid(source.get("guid"))) or resolve(name)
        if pid is None:
            n = len(selections)
            messages.append(f"{label} is not linked to a participant (no case refers to it and its name holds "
                            f"no participant id or pseudonym): its {_plural(n, 'selection')} {_were(n)} not "
                            "imported. fix: name the case or the document after the participant, e.g. 'P03' "
                            "or 'Amy'.")
            continue
        sources_of[pid].append(name)
        seen, bom = _source_text(reader, source, label)
        text = seen.replace("\r\n", "\n").replace("\r", "\n")
        crlf = [m.start() for m in re.finditer("\r\n", seen)]
        if bom:
            messages.append(f"{label}: the text starts with a UTF-8 byte-order mark; it was removed and not "
                            "counted in positions.")
        if crlf:
            n = len(selections)
            messages.append(f"{label}: Windows (CRLF) line breaks; the program's positions count each break as "
                            f"two characters, so {_plural(n, 'selection')} {_were(n)} converted to positions in "
                            "the LF text our transcripts use.")

        source_rows = []
        for selection in selections:
            sel_name = selection.get("name") or ""
            shown = repr(sel_name) if sel_name else f"at line {selection.sourceline}"
            start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
            if not 0 <= start < end <= len(seen):
                raise _error(reader.where, f"selection {shown} in {label} spans {start}-{end}, which is not a "
                             f"stretch of the source text (0-{len(seen)} characters"
                             f"{', line breaks counted as two' if crlf else ''}).",
                             "the source in the archive does not match the project (replaced or edited "
                             f"outside the program?): {FIX_EXPORT_AGAIN}", line=selection.sourceline)
            codings = selection.findall(q("Coding"))
            if not codings:
                uncoded += 1
                continue
            statement = _clean(selection.findtext(q("Description")))
            s, e = _lf_position(crlf, start), _lf_position(crlf, end)
            for coding in codings:
                # Notes on the selection belong to every coding of it; notes on a coding to that one only.
                note_cells: dict[str, list[str]] = {column: [] for column in NOTE_KINDS}
                for ref in [*selection.iterfind(q("NoteRef")), *coding.iterfind(q("NoteRef"))]:
                    target = _norm_guid(ref.get("targetGUID"))
                    if target not in notes:
                        missing_notes.setdefault((target, f"{shown} in {label}"), None)
                        continue
                    used_notes.add(target)
                    note_name, note_text = notes[target]
                    if not note_text:
                        continue
                    found = NOTE_KIND.match(note_name)
                    if found is None and coding is codings[0]:
                        no_kind.append(f"{note_name or 'unnamed note'!r} ({shown} in {label})")
                    column = f"note_{found.group('kind').lower()}" if found else "note_descriptive"
                    if note_text not in note_cells[column]:
                        note_cells[column].append(note_text)
                ref = coding.find(q("CodeRef"))
                target = _norm_guid(ref.get("targetGUID"))
                if target not in codes:
                    raise _error(reader.where, f"selection {shown} in {label} is coded with CodeRef "
                                 f"targetGUID={ref.get('targetGUID')!r}, but the project's CodeBook has no code "
                                 "with that GUID.", f"the export is incomplete or was edited by hand: "
                                 f"{FIX_EXPORT_AGAIN}, or add the code to <CodeBook>", line=ref.sourceline)
                user = (users.get(_norm_guid(coding.get("creatingUser")))
                        or users.get(_norm_guid(selection.get("creatingUser")))
                        or (next(iter(users.values())) if len(users) == 1 else ""))
                no_analyst += not user
                source_rows.append({
                    "segment_id": "", "participant_id": pid, "start": s, "end": e, "excerpt": text[s:e],
                    "theme_id": "", "experiential_statement": statement, "analyst": user, "coding_round": 1,
                    **{column: "\n\n".join(cells) for column, cells in note_cells.items()},
                    "_name": sel_name, "_code": codes[target], "_label": label,
                })
        _relocate(source_rows, text, pid, label, known, p, messages)
        rows += source_rows

    for pid, names in sources_of.items():
        if len(names) > 1:
            messages.append(f"Participant {pid} has {len(names)} sources ({_listing(names)}); their segments "
                            "were all imported for that participant.")
    _assign_ids(rows, p, messages)
    kept, set_aside = [], []
    for row in rows:
        code: _Code = row["_code"]
        if code.theme is not None and codable.get(code.theme):
            row["theme_id"] = code.theme
            kept.append(row)
        else:
            row["theme_id"] = code.theme if code.theme is not None else code.name
            set_aside.append(row)
    _report(rows, kept, set_aside, codes, messages)

    if uncoded:
        messages.append(f"{_plural(uncoded, 'selection')} had no code and {_were(uncoded)} skipped (import reads coded "
                        "segments only).")
    if missing_notes:
        messages.append(f"{_plural(len(missing_notes), 'NoteRef')} pointed to notes missing from the project and "
                        f"{_were(len(missing_notes))} skipped: {_listing([where for _, where in missing_notes])}.")
    if no_kind:
        messages.append(f"{_plural(len(no_kind), 'note')} had no kind in the name (a name starting with "
                        "'Descriptive note', 'Linguistic note' or 'Conceptual note' says which note column it "
                        f"belongs to) and went to note_descriptive: {_listing(no_kind)}.")
    if no_analyst:
        messages.append(f"{_plural(no_analyst, 'segment')} had no user the project names, so analyst is empty; "
                        "fill it in before merging.")
    unused = [n for n in notes if n not in used_notes]
    if unused:
        messages.append(f"{_plural(len(unused), 'note')} not attached to a coded segment (memos and the like) "
                        f"{_were(len(unused))} not imported: import reads coding only and never changes memos.csv.")
    order = ["participant_id", "start", "end", "segment_id"]
    return ImportResult(_frame(kept).sort_values(order, ignore_index=True), messages,
                        _frame(set_aside).sort_values(order, ignore_index=True))


def _source_text(reader: _Reader, source: etree._Element, label: str) -> tuple[str, bool]:
    """The source text as the program saw it (line breaks untouched), and whether it had a BOM."""
    reference = source.get("plainTextPath")
    if reference:
        member = reader._internal(reference)
        if member is None:
            raise _error(reader.where, f"{label} refers to {reference!r}, which is not in the archive "
                         "(expected as sources/<name> inside the .qdpx).",
                         "export the project with its sources embedded (one .qdpx holding sources/)",
                         line=source.sourceline)
        return reader._decode(reader._read(member), f"{reader.path}, {member}")
    content = source.find(reader.q("PlainTextContent"))
    if content is not None and content.text is not None:
        return content.text, False
    raise _error(reader.where, f"{label} has coded selections but no plain text (neither plainTextPath nor "
                 "PlainTextContent).", "convert the document to plain text in the program and export again",
                 line=source.sourceline)


def _relocate(rows: list[dict], text: str, pid: str, label: str, known: set[str], p: Paths,
              messages: list[str]) -> None:
    """Check a source against our transcript; re-find excerpts if the text was edited in the program."""
    if pid not in known or not p.transcript(pid).is_file():
        missing = "is not in participants.csv" if pid not in known else f"has no transcript {pid}.txt"
        messages.append(f"{label}: participant {pid} {missing}, so its segments could not be checked against "
                        "a transcript; add the participant and transcript before merging.")
        return
    ours = p.transcript(pid).read_text(encoding="utf-8")
    if text == ours or not rows:
        return
    moved, lost = 0, []
    for row in rows:
        if ours[row["start"]:row["end"]] == row["excerpt"]:
            continue
        first = ours.find(row["excerpt"])
        if first >= 0 and ours.find(row["excerpt"], first + 1) < 0:
            row["start"], row["end"] = first, first + len(row["excerpt"])
            moved += 1
        else:
            lost.append(_preview(row["excerpt"]))
    message = (f"{label}: the text differs from transcripts/{pid}.txt (edited in the program?); "
               f"{_plural(moved, 'segment')} re-located in our transcript by their text")
    if lost:
        message += (f"; {_plural(len(lost), 'segment')} could not be found there and keep the program's positions "
                    f"(they will fail `compendium validate` until corrected): {_listing(lost, 5)}")
    messages.append(message + ".")


def _assign_ids(rows: list[dict], p: Paths, messages: list[str]) -> None:
    """Keep our segment ids from selection names; number the others after every id already in use."""
    used: dict[str, set[int]] = defaultdict(set)
    if p.coding.is_file():
        for sid in load_coding(p)["segment_id"]:
            pid, _, number = sid.partition("-S")
            used[pid].add(int(number))
    rows.sort(key=lambda r: (r["participant_id"], r["start"], r["end"], r["_name"]))
    taken: set[str] = set()
    pending, no_round = [], 0
    for row in rows:
        found = SEGMENT_NAME.match(row["_name"].strip())
        if found and found["segment"].startswith(row["participant_id"] + "-S") and found["segment"] not in taken:
            row["segment_id"] = found["segment"]
            taken.add(found["segment"])
            used[row["participant_id"]].add(int(found["segment"].partition("-S")[2]))
            if found["round"]:
                row["coding_round"] = int(found["round"])
            else:
                no_round += 1
        else:
            pending.append(row)
            no_round += 1
    for row in pending:
        pid = row["participant_id"]
        number = max(used[pid], default=0) + 1
        used[pid].add(number)
        row["segment_id"] = f"{pid}-S{number:02d}"
    if pending:
        messages.append(f"{_plural(len(pending), 'segment')} had no segment id of ours in the selection name "
                        "(selections made in another program, or a selection with several codes): numbered "
                        f"after the ids already in use: {_listing([r['segment_id'] for r in pending])}.")
    if no_round:
        messages.append(f"{_plural(no_round, 'segment')} had no coding round (QDA-XML has none; our export keeps "
                        "it in the selection name): set to round 1; change coding_round if this was a later "
                        "round.")


def _report(rows: list[dict], kept: list[dict], set_aside: list[dict], codes: dict[str, _Code],
            messages: list[str]) -> None:
    """Messages about codes that are not codable themes, and about empty cells."""
    by_code = Counter(row["_code"].guid for row in set_aside)
    for code_guid, count in by_code.items():
        code = codes[code_guid]
        ids = [row["segment_id"] for row in set_aside if row["_code"].guid == code_guid]
        if code.theme is None:
            where = f" ({code.path})" if code.path != code.name else ""
            messages.append(f"Code {code.name!r}{where} is not in codebook.yaml: "
                            f"{_plural(count, 'segment')} set aside, not in the coding table ({_listing(ids)}). "
                            "fix: add the theme to codebook.yaml and import again, or recode in the program.")
        else:
            messages.append(f"Code {code.name!r} is our grouping theme {code.theme}, which is not codable: "
                            f"{_plural(count, 'segment')} set aside ({_listing(ids)}). fix: code them to one of its "
                            "subordinate or minor themes.")
    used = {row["_code"].guid for row in rows}
    idle = [code.path for code in codes.values() if code.theme is None and code.codable and code.guid not in used]
    if idle:
        messages.append(f"{_plural(len(idle), 'code')} not in codebook.yaml and not used on any segment "
                        f"(ignored): {_listing(idle)}.")
    empty_statement = [r["segment_id"] for r in kept if not r["experiential_statement"]]
    empty_notes = [r["segment_id"] for r in kept if not all(r[c] for c in NOTE_KINDS)]
    if empty_statement or empty_notes:
        messages.append(f"coding.csv needs every cell filled: {_plural(len(empty_statement), 'segment')} "
                        f"without an experiential statement ({_listing(empty_statement) or '-'}) and "
                        f"{_plural(len(empty_notes), 'segment')} with one or more exploratory notes missing "
                        f"({_listing(empty_notes) or '-'}). fix: write them in the program (selection "
                        "description; notes named 'Descriptive note ...', 'Linguistic note ...', "
                        "'Conceptual note ...') or in the CSV before merging.")


# ---------------------------------------------------------------- command line

def _refuse_data_folder(target: Path, p: Paths) -> None:
    target = Path(target).resolve()
    data = p.data.resolve()
    if target == data or data in target.parents:
        raise CompendiumError(f"{target}: refusing to write into {data}, which holds the study's inputs.\n"
                              "    fix: write elsewhere (e.g. --out build/imported_coding.csv), review the "
                              "table, then merge by hand.")


def _shown(path: Path, p: Paths) -> str:
    try:
        return str(Path(path).resolve().relative_to(p.root.resolve()))
    except ValueError:
        return str(path)


def _summary(result: ImportResult) -> list[str]:
    df = result.coding
    lines = [f"qdpx import: {_plural(len(df), 'coded segment')} from "
             f"{_plural(df['participant_id'].nunique(), 'participant')}"
             + (f"; {len(result.set_aside)} set aside" if len(result.set_aside) else "")]
    if len(df):
        per_pid = df.groupby("participant_id").size()
        per_theme = df.groupby("theme_id").size()
        lines.append("  per participant: " + ", ".join(f"{k} {v}" for k, v in per_pid.items()))
        lines.append("  per theme: " + ", ".join(f"{k} {v}" for k, v in per_theme.items()))
    return lines


def command(args: argparse.Namespace) -> None:
    """``python -m compendium qdpx export [FOLDER]`` or ``qdpx import FILE.qdpx [--out FILE.csv]``."""
    p = paths()
    if args.action == "export":
        checked = schemas_available(p)
        codebook, project = export(args.path or None, p)
        print(f"qdpx export: wrote {_shown(codebook, p)} and {_shown(project, p)}"
              + (" (valid QDA-XML 1.0)" if checked else
                 " (NOT checked against the QDA-XML schemas: none found in "
                 + " or ".join(str(c) for c in _schema_candidates(p)) + ")"))
        return
    if not args.path:
        raise CompendiumError("qdpx import needs the file to read.\n"
                              "    fix: `python -m compendium qdpx import PATH/TO/project.qdpx [--out coding.csv]`")
    out = Path(args.out) if args.out else None
    if out is not None:
        _refuse_data_folder(out, p)  # before reading anything, so a mistake costs nothing
    result = import_qdpx(args.path, p)
    for line in _summary(result):
        print(line)
    for message in result.messages:
        print(f"  note: {message}")
    if out is not None:
        write_text(out, result.coding.to_csv(index=False, lineterminator="\n"))
        print(f"qdpx import: wrote {_shown(out, p)} (the coding.csv format)")
        if len(result.set_aside):
            aside = out.with_name(f"{out.stem}_set_aside{out.suffix or '.csv'}")
            write_text(aside, result.set_aside.to_csv(index=False, lineterminator="\n"))
            print(f"qdpx import: wrote {_shown(aside, p)} (segments coded to codes outside codebook.yaml)")
