"""Import: a ``.qdpx`` written by any QDA program back into the ``coding.csv`` format.

:func:`import_qdpx` returns the coding table plus messages that say what was
converted, guessed or left out, and what changed against ``coding.csv`` in
research terms (segments added, removed, moved to another theme, re-spanned).

Decisions worth knowing:

- Real files differ: the namespaces ``urn:QDA-XML:project:0:4`` and
  ``urn:QDA-XML:codebook:0:4`` (MAXQDA 24 writes the codebook inside the
  project in the latter) are read as QDA-XML 1.0; ``Sources/`` may have any
  letter case; ``plainTextPath`` may be ``internal://``, ``relative://`` or a
  bare relative path; PDF, picture, audio and video sources are skipped with a
  note.
- Segment ids come back by the selection's name (our export writes
  ``"P01-S01 (round 1)"``), else by participant and span against
  ``coding.csv`` (same span; then same theme and overlapping span, which is a
  re-spanned segment); the rest get new ids after every id in use. A matched
  segment keeps its coding round; others get round 1.
- Exploratory notes are read wherever the program kept them: NoteRefs on the
  selection or its coding, or annotation Notes (a Note holding a
  ``PlainTextSelection``, QualCoder's form) on the segment's span. A note whose
  text is headed ``Descriptive note:`` / ``Linguistic note:`` /
  ``Conceptual note:`` goes paragraph by paragraph into those columns.
- Codes whose GUID is a case's GUID (how our export and QualCoder link cases to
  documents) are case links, not themes: they are never imported as segments.
- A segment coded to a code that is not in ``codebook.yaml`` (or to a grouping
  theme) is *set aside*: kept in ``ImportResult.set_aside`` with the code's name
  in ``theme_id``, named in the messages.
- Positions in a source with Windows (CRLF) line breaks count each break as
  two characters, as the tool saw the text; they are converted to positions in
  the LF text of our transcripts. A byte-order mark is removed and not counted.
- The archive is read with caps (see :mod:`compendium.refiqda.archive`) and the
  XML with an element cap, whatever the file claims.
"""
from __future__ import annotations

import codecs
import re
import unicodedata
from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree

from ..data import load_codebook, load_coding, load_participants
from ..paths import Paths, paths
from ..text import numbered, plural
from .archive import Archive
from .schema import (CODEBOOK_NAMESPACES, FIX_EXPORT_AGAIN, NOTE_KINDS, PROJECT_NAMESPACES, PROJECT_NS, check_xml,
                     coding_table, error, guid, norm_guid, parse_xml, split_notes)

__all__ = ["ImportResult", "import_qdpx", "changes", "frame"]

SEGMENT_NAME = re.compile(r"^(?P<segment>P\d{2,4}-S\d{2,3})(?: \(round (?P<round>\d)\))?$")
NOTE_KIND = re.compile(r"^\s*(?P<kind>descriptive|linguistic|conceptual)\b", re.IGNORECASE)
PARTICIPANT_ID = re.compile(r"(?<![A-Za-z0-9])P\d{2,4}(?![0-9])")
_error = error
_norm_guid = norm_guid
_USER_ATTRIBUTES = ("creatingUser", "modifyingUser", "creatingUserGUID", "modifyingUserGUID")
_DATE_ATTRIBUTES = ("creationDateTime", "modifiedDateTime")
_GUID = re.compile(r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?")
_DATETIME = re.compile(r"-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")



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
    set_aside: pd.DataFrame = field(default_factory=lambda: frame([]))
    changes: list[str] = field(default_factory=list)  # against coding.csv, in research terms


@dataclass
class _Note:
    name: str
    text: str
    span: tuple[int, int] | None = None  # an annotation's span in its source (QualCoder's form)


@dataclass
class _Code:
    guid: str
    name: str
    path: str
    codable: bool
    theme: str | None = None  # our theme id, if matched
    case: bool = False  # a case-link code (its GUID is a case's GUID)


def frame(rows: list[dict], p: Paths | None = None) -> pd.DataFrame:
    """Rows as a table typed like ``load_coding()`` (the columns and types of ``p``'s ``datapackage.json``).

    A text column the import does not fill (one a study added to its coding table) is left empty.
    """
    table = coding_table(p)
    df = pd.DataFrame([{c: row.get(c, "") for c in table.columns} for row in rows], columns=table.columns)
    return df.astype({c: (int if c in table.integers else str) for c in table.columns})


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






def _listing(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


class _Reader:
    """Reads one ``.qdpx`` (bounded); collects messages."""

    def __init__(self, path: Path, p: Paths) -> None:
        self.path, self.p = path, p
        self.messages: list[str] = []
        self.archive = Archive(path)
        try:
            self._load()
        except BaseException:
            self.archive.close()
            raise

    def _load(self) -> None:
        self.members = self.archive.members
        self.qde = self._project_member()
        self.where = f"{self.path}, {self.qde}"
        self.root = parse_xml(self.archive.read(self.qde), self.where)
        namespace = etree.QName(self.root).namespace
        if etree.QName(self.root).localname != "Project" or namespace not in PROJECT_NAMESPACES:
            raise _error(self.where, f"the root element is <{etree.QName(self.root).localname}> in namespace "
                         f"{namespace!r}; a REFI-QDA project starts with <Project "
                         f'xmlns="{PROJECT_NS}">.', FIX_EXPORT_AGAIN, line=self.root.sourceline)
        self._normalise_namespaces()
        self._drop_bad_optional_attributes()
        check_xml(self.root, "project", self.where, self.p)

    def _normalise_namespaces(self) -> None:
        """Read the draft namespaces (0:4) and a codebook namespace inside the project as QDA-XML 1.0."""
        variants: Counter[str] = Counter()
        for element in self.root.iter():
            if not isinstance(element.tag, str):
                continue
            name = etree.QName(element)
            if name.namespace != PROJECT_NS and name.namespace in (*PROJECT_NAMESPACES, *CODEBOOK_NAMESPACES):
                variants[name.namespace] += 1
                element.tag = f"{{{PROJECT_NS}}}{name.localname}"
        if variants:
            etree.cleanup_namespaces(self.root)
            self.messages.append(f"{self.path}: read the namespace(s) {', '.join(sorted(variants))} (an older draft "
                                 "of the standard, or a codebook namespace inside the project) as QDA-XML 1.0.")

    def _drop_bad_optional_attributes(self) -> None:
        """Ignore optional user and date attributes whose values the schema does not allow.

        Real exports write ``creatingUser=""`` for a user missing from
        ``<Users>``, or a date without its date part; import reads neither, so
        they are dropped (and counted) rather than failing the whole file.
        """
        dropped: Counter[str] = Counter()
        for element in self.root.iter():
            if not isinstance(element.tag, str):
                continue
            for attribute in _USER_ATTRIBUTES + _DATE_ATTRIBUTES:
                value = element.get(attribute)
                if value is None:
                    continue
                pattern = _GUID if attribute in _USER_ATTRIBUTES else _DATETIME
                if not pattern.fullmatch(value.strip()):
                    del element.attrib[attribute]
                    dropped[f"{attribute}={value!r}"] += 1
        if dropped:
            n = sum(dropped.values())
            self.messages.append(f"{self.path}: {numbered(n, 'optional attribute')} with a value the standard does "
                                 f"not allow {plural(n, 'was')} ignored (import does not use them): "
                                 f"{_listing([f'{k} ({v}x)' for k, v in dropped.most_common()], 4)}.")

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

    def text(self, reference: str) -> tuple[str, bool] | None:
        """The text a path points to (decoded; whether it had a BOM), or ``None`` if not in the archive."""
        member = self.archive.resolve(reference)
        if member is None:
            return None
        return self._decode(self.archive.read(member), f"{self.path}, {member}")

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

    def codes(self, codebook: pd.DataFrame, case_guids: set[str]) -> dict[str, _Code]:
        """Every code in the project, matched to our themes by GUID, else by name; case links marked."""
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
                             item.get("isCodable", "true").strip() not in ("false", "0"))
                if code.guid in case_guids:
                    code.case = True
                elif code.guid in by_guid:
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
            self.messages.append(f"{numbered(len(named), 'code')} matched to our themes by name, not by GUID "
                                 f"(usual for codes created in another program): {_listing(named, 12)}.")
        if renamed:
            self.messages.append(f"{numbered(len(renamed), 'code')} renamed in the QDA program, matched by GUID: "
                                 f"{_listing(renamed, 12)}.")
        return codes

    def notes(self) -> dict[str, _Note]:
        """Note GUID -> its name, text and (for annotations) the span it holds."""
        found: dict[str, _Note] = {}
        for note in self.root.iterfind(f"{self.q('Notes')}/{self.q('Note')}"):
            content = note.find(self.q("PlainTextContent"))
            text = content.text if content is not None else None
            reference = note.get("plainTextPath")
            if text is None and reference:
                read = self.text(reference)
                text = read[0] if read else ""
            span = None
            selection = note.find(self.q("PlainTextSelection"))
            if selection is not None:
                span = (int(selection.get("startPosition")), int(selection.get("endPosition")))
            found[_norm_guid(note.get("guid"))] = _Note(note.get("name") or "", _clean(text), span)
        return found

    def cases(self, resolve: Any) -> tuple[dict[str, str], dict[str, str | None]]:
        """(source GUID -> participant id from the cases' SourceRefs, case GUID -> participant id or None)."""
        linked: dict[str, str] = {}
        case_guids: dict[str, str | None] = {}
        for case in self.root.iterfind(f"{self.q('Cases')}/{self.q('Case')}"):
            pid = resolve(case.get("name") or "")
            case_guids[_norm_guid(case.get("guid"))] = pid
            if pid is None:
                continue
            for ref in case.iterfind(self.q("SourceRef")):
                linked.setdefault(_norm_guid(ref.get("targetGUID")), pid)
        return linked, case_guids


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


def _note_cells(note: _Note, column_hint: list[str]) -> dict[str, str]:
    """The note columns a note fills: by its kind headings, else by the kind in its name."""
    cells = split_notes(note.text)
    if cells is not None:
        return cells
    found = NOTE_KIND.match(note.name)
    if found is None:
        column_hint.append(note.name or "unnamed note")
    column = f"note_{found.group('kind').lower()}" if found else "note_descriptive"
    return {column: note.text}


def _import(reader: _Reader, p: Paths) -> ImportResult:
    messages = reader.messages
    codebook = load_codebook(p)
    codable = dict(zip(codebook["id"], codebook["codable"].astype(bool)))
    participants = load_participants(p)
    known = set(participants["participant_id"])
    resolve = _participant_resolver(participants)
    users = reader.users()
    linked, case_guids = reader.cases(resolve)
    codes = reader.codes(codebook, set(case_guids))
    notes = reader.notes()
    q = reader.q

    def case_link(coding: etree._Element) -> bool:
        code = codes.get(_norm_guid(coding.find(q("CodeRef")).get("targetGUID")))
        return code is not None and code.case

    # Annotation notes (QualCoder's form): which source each one belongs to, if a source says so.
    annotation_of: dict[str, str] = {}
    for source in reader.root.iterfind(f"{q('Sources')}/*"):
        for ref in source.iterfind(q("NoteRef")):
            annotation_of.setdefault(_norm_guid(ref.get("targetGUID")), _norm_guid(source.get("guid")))

    rows: list[dict] = []
    used_notes: set[str] = set()
    missing_notes: dict[tuple[str, str], None] = {}  # (note GUID, where): an ordered set
    no_kind: list[str] = []
    uncoded = case_links = 0
    no_analyst = 0
    sources_of: dict[str, list[str]] = defaultdict(list)
    spans_of_source: dict[str, list[dict]] = defaultdict(list)
    source_lengths: dict[str, int] = {}
    skipped_kinds: Counter[str] = Counter()
    with_bom: list[str] = []
    selection_spans: dict[str, tuple[str, tuple[int, int]]] = {}  # selection GUID -> (source GUID, raw span)
    atlas = "atlas.ti" in (reader.root.get("origin") or "").lower()
    sources = reader.root.find(q("Sources"))
    for source in (sources if sources is not None else []):
        if not isinstance(source.tag, str):
            continue  # comments and processing instructions
        kind = etree.QName(source).localname
        name = source.get("name") or source.get("guid", "")
        label = f"source {name!r}"
        if kind != "TextSource":
            skipped_kinds[kind] += 1
            continue
        source_guid = _norm_guid(source.get("guid"))
        selections = source.findall(q("PlainTextSelection"))
        if source.findall(q("Coding")):
            messages.append(f"{label}: coding of the whole document (not of a selection) was skipped; code "
                            "passages instead.")
        # A selection coded only to case codes is a case link: it names the participant, it is no segment.
        pid = linked.get(source_guid)
        links = [sel for sel in selections if sel.findall(q("Coding"))
                 and all(case_link(c) for c in sel.iterfind(q("Coding")))]
        for selection in links:
            for coding in selection.iterfind(q("Coding")):
                pid = pid or case_guids.get(_norm_guid(coding.find(q("CodeRef")).get("targetGUID")))
        pid = pid or resolve(name)
        case_links += len(links)
        selections = [sel for sel in selections if not any(sel is link for link in links)]
        if not selections:
            continue
        if pid is None:
            n = len(selections)
            messages.append(f"{label} is not linked to a participant (no case refers to it and its name holds "
                            f"no participant id or pseudonym): its {numbered(n, 'selection')} {plural(n, 'was')} not "
                            "imported. fix: name the case or the document after the participant, e.g. 'P03' "
                            "or 'Amy'.")
            continue
        sources_of[pid].append(name)
        seen, bom = _source_text(reader, source, label)
        source_lengths[source_guid] = len(seen)
        text = seen.replace("\r\n", "\n").replace("\r", "\n")
        crlf = [m.start() for m in re.finditer("\r\n", seen)]
        if bom:
            with_bom.append(name)
        if crlf and atlas:
            messages.append(f"{label}: Windows (CRLF) line breaks; ATLAS.ti counts each as one character, so "
                            "the positions were read as positions in the LF text our transcripts use.")
            crlf = []
        elif crlf:
            n = len(selections)
            messages.append(f"{label}: Windows (CRLF) line breaks; the program's positions count each break as "
                            f"two characters, so {numbered(n, 'selection')} {plural(n, 'was')} converted to positions in "
                            "the LF text our transcripts use.")

        for selection in source.iterfind(q("PlainTextSelection")):
            selection_spans[_norm_guid(selection.get("guid"))] = (
                source_guid, (int(selection.get("startPosition")), int(selection.get("endPosition"))))
        source_rows = []
        for selection in selections:
            sel_name = selection.get("name") or ""
            shown = repr(sel_name if len(sel_name) <= 40 else sel_name[:37] + "...") if sel_name else \
                f"at line {selection.sourceline}"
            start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
            if not 0 <= start < end <= len(seen if crlf else text):
                raise _error(reader.where, f"selection {shown} in {label} spans {start}-{end}, which is not a "
                             f"stretch of the source text (0-{len(seen)} characters"
                             f"{', line breaks counted as two' if crlf else ''}).",
                             "the source in the archive does not match the project (replaced or edited "
                             f"outside the program?): {FIX_EXPORT_AGAIN}", line=selection.sourceline)
            codings = [c for c in selection.findall(q("Coding")) if not case_link(c)]
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
                    hint: list[str] = []
                    for column, value in _note_cells(notes[target], hint).items():
                        if value and value not in note_cells[column]:
                            note_cells[column].append(value)
                    if hint and coding is codings[0]:
                        no_kind.append(f"{hint[0]!r} ({shown} in {label})")
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
                row = {
                    "segment_id": "", "participant_id": pid, "start": s, "end": e, "excerpt": text[s:e],
                    "theme_id": "", "experiential_statement": statement, "analyst": user, "coding_round": 1,
                    "_cells": note_cells, "_name": sel_name, "_code": codes[target], "_label": label,
                    "_raw": (start, end), "_source": source_guid,
                }
                source_rows.append(row)
                spans_of_source[source_guid].append(row)
        _relocate(source_rows, text, pid, label, known, p, messages)
        rows += source_rows

    # Annotation notes: attach by span, in the source that refers to them, else the one source with that span.
    by_span: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for source_rows in spans_of_source.values():
        for row in source_rows:
            by_span[row["_raw"]].append(row)
    # Links between a note and a selection (NVivo's annotations): the note belongs to the segments on that span.
    linked_to: dict[str, tuple[str, tuple[int, int]]] = {}
    for link in reader.root.iterfind(f"{q('Links')}/{q('Link')}"):
        ends = [_norm_guid(link.get("originGUID")), _norm_guid(link.get("targetGUID"))]
        note_end = [g for g in ends if g in notes]
        selection_end = [g for g in ends if g in selection_spans]
        if note_end and selection_end:
            linked_to.setdefault(note_end[0], selection_spans[selection_end[0]])
    unplaced = []
    for note_guid, note in notes.items():
        if note_guid in used_notes or (note.span is None and note_guid not in linked_to):
            continue
        if note_guid in linked_to:
            home, span = linked_to[note_guid]
        else:
            home, span = annotation_of.get(note_guid), note.span
        candidates = [r for r in by_span.get(span, []) if home is None or r["_source"] == home]
        if len({r["_source"] for r in candidates}) != 1:
            unplaced.append(note.name or note_guid)
            continue
        used_notes.add(note_guid)
        for row in candidates:
            hint: list[str] = []
            for column, value in _note_cells(note, hint).items():
                if value and value not in row["_cells"][column]:
                    row["_cells"][column].append(value)
            if hint and row is candidates[0]:
                no_kind.append(f"{hint[0]!r} (an annotation on {row['_label']})")
    for row in rows:
        for column, cells in row.pop("_cells").items():
            row[column] = "\n\n".join(cells)

    for pid, names in sources_of.items():
        if len(names) > 1:
            messages.append(f"Participant {pid} has {len(names)} sources ({_listing(names)}); their segments "
                            "were all imported for that participant.")
    if with_bom:
        messages.append(f"{numbered(len(with_bom), 'source')} started with a UTF-8 byte-order mark, removed and not "
                        f"counted in positions: {_listing(with_bom)}.")
    for kind, n in sorted(skipped_kinds.items()):
        messages.append(f"{numbered(n, kind)} skipped: only plain-text sources are read (a PDF's or picture's "
                        "coding cannot become positions in our transcripts).")
    previous = load_coding(p) if p.coding.is_file() else frame([], p)
    _assign_ids(rows, previous, messages)
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

    if case_links:
        messages.append(f"{numbered(case_links, 'selection')} coded to a case code (a case's link to its "
                        "document) read as case links, not as segments.")
    if uncoded:
        messages.append(f"{numbered(uncoded, 'selection')} had no code and {plural(uncoded, 'was')} skipped (import reads coded "
                        "segments only).")
    if missing_notes:
        messages.append(f"{numbered(len(missing_notes), 'NoteRef')} pointed to notes missing from the project and "
                        f"{plural(len(missing_notes), 'was')} skipped: {_listing([where for _, where in missing_notes])}.")
    if unplaced:
        messages.append(f"{numbered(len(unplaced), 'annotation')} on a span that is no coded segment (or on the "
                        f"same span in several sources) {plural(len(unplaced), 'was')} not imported: {_listing(unplaced)}.")
    if no_kind:
        messages.append(f"{numbered(len(no_kind), 'note')} had no kind in the name (a name starting with "
                        "'Descriptive note', 'Linguistic note' or 'Conceptual note' says which note column it "
                        f"belongs to) and went to note_descriptive: {_listing(no_kind)}.")
    if no_analyst:
        messages.append(f"{numbered(no_analyst, 'segment')} had no user the project names, so analyst is empty; "
                        "fill it in before merging.")
    unused = [n for n in notes if n not in used_notes and notes[n].span is None and n not in linked_to]
    if unused:
        messages.append(f"{numbered(len(unused), 'note')} not attached to a coded segment (memos and the like) "
                        f"{plural(len(unused), 'was')} not imported: import reads coding only and never changes memos.csv.")
    order = ["participant_id", "start", "end", "segment_id"]
    result = ImportResult(frame(kept, p).sort_values(order, ignore_index=True), messages,
                          frame(set_aside, p).sort_values(order, ignore_index=True))
    result.changes = changes(previous, result.coding, set(sources_of))
    return result


def _source_text(reader: _Reader, source: etree._Element, label: str) -> tuple[str, bool]:
    """The source text as the program saw it (line breaks untouched), and whether it had a BOM."""
    reference = source.get("plainTextPath")
    if reference:
        read = reader.text(reference)
        if read is None:
            raise _error(reader.where, f"{label} refers to {reference!r}, which is not in the archive "
                         "(expected as sources/<name> inside the .qdpx).",
                         "export the project with its sources embedded (one .qdpx holding sources/)",
                         line=source.sourceline)
        return read
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
               f"{numbered(moved, 'segment')} re-located in our transcript by their text")
    if lost:
        message += (f"; {numbered(len(lost), 'segment')} could not be found there and keep the program's positions "
                    f"(they will fail `compendium validate` until corrected): {_listing(lost, 5)}")
    messages.append(message + ".")


def _assign_ids(rows: list[dict], previous: pd.DataFrame, messages: list[str]) -> None:
    """Segment ids: from our selection names, else matched by participant and span to ``coding.csv``, else new.

    Span matching tries, in order: the same span and theme, the same span (the
    segment moved to another theme), then the same theme and an overlapping
    span (the segment was re-spanned). A matched segment keeps its coding round.
    """
    used: dict[str, set[int]] = defaultdict(set)
    old = {row["segment_id"]: row for row in previous.to_dict("records")}
    for sid in old:
        pid, _, number = sid.partition("-S")
        used[pid].add(int(number))
    rows.sort(key=lambda r: (r["participant_id"], r["start"], r["end"], r["_name"]))
    taken: set[str] = set()
    pending, no_round, by_span = [], 0, 0
    for row in rows:
        found = SEGMENT_NAME.match(row["_name"].strip())
        if found and found["segment"].startswith(row["participant_id"] + "-S") and found["segment"] not in taken:
            row["segment_id"] = found["segment"]
            taken.add(found["segment"])
            used[row["participant_id"]].add(int(found["segment"].partition("-S")[2]))
            if found["round"]:
                row["coding_round"] = int(found["round"])
            elif found["segment"] in old:
                row["coding_round"] = int(old[found["segment"]]["coding_round"])
            else:
                no_round += 1
        else:
            pending.append(row)
    free = {sid: seg for sid, seg in old.items() if sid not in taken}
    tests = (lambda r, s: (s["start"], s["end"]) == (r["start"], r["end"]) and s["theme_id"] == r["_code"].theme,
             lambda r, s: (s["start"], s["end"]) == (r["start"], r["end"]),
             lambda r, s: s["theme_id"] == r["_code"].theme and s["start"] < r["end"] and r["start"] < s["end"])
    for test in tests:
        for row in pending:
            if row["segment_id"]:
                continue
            match = next((sid for sid, seg in free.items()
                          if seg["participant_id"] == row["participant_id"] and test(row, seg)), None)
            if match is not None:
                row["segment_id"] = match
                row["coding_round"] = int(free.pop(match)["coding_round"])
                by_span += 1
    fresh = [row for row in pending if not row["segment_id"]]
    for row in fresh:
        pid = row["participant_id"]
        number = max(used[pid], default=0) + 1
        used[pid].add(number)
        row["segment_id"] = f"{pid}-S{number:02d}"
        no_round += 1
    if by_span:
        messages.append(f"{numbered(by_span, 'segment')} had no segment id of ours in the selection name (the "
                        "program renamed or re-created the selections) and {} matched to coding.csv by "
                        "participant and span.".format("was" if by_span == 1 else "were"))
    if fresh:
        messages.append(f"{numbered(len(fresh), 'segment')} matched no segment of coding.csv (new selections, or a "
                        "selection with several codes): numbered after the ids already in use: "
                        f"{_listing([r['segment_id'] for r in fresh])}.")
    if no_round:
        messages.append(f"{numbered(no_round, 'segment')} had no coding round (QDA-XML has none; our export keeps "
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
                            f"{numbered(count, 'segment')} set aside, not in the coding table ({_listing(ids)}). "
                            "fix: add the theme to codebook.yaml and import again, or recode in the program.")
        else:
            messages.append(f"Code {code.name!r} is our grouping theme {code.theme}, which is not codable: "
                            f"{numbered(count, 'segment')} set aside ({_listing(ids)}). fix: code them to one of its "
                            "subordinate or minor themes.")
    used = {row["_code"].guid for row in rows}
    idle = [code.path for code in codes.values()
            if code.theme is None and code.codable and not code.case and code.guid not in used]
    if idle:
        messages.append(f"{numbered(len(idle), 'code')} not in codebook.yaml and not used on any segment "
                        f"(ignored): {_listing(idle)}.")
    empty_statement = [r["segment_id"] for r in kept if not r["experiential_statement"]]
    empty_notes = [r["segment_id"] for r in kept if not all(r[c] for c in NOTE_KINDS)]
    if empty_statement or empty_notes:
        messages.append(f"coding.csv needs every cell filled: {numbered(len(empty_statement), 'segment')} "
                        f"without an experiential statement ({_listing(empty_statement) or '-'}) and "
                        f"{numbered(len(empty_notes), 'segment')} with one or more exploratory notes missing "
                        f"({_listing(empty_notes) or '-'}). fix: write them in the program (selection "
                        "description; notes named 'Descriptive note ...', 'Linguistic note ...', "
                        "'Conceptual note ...') or in the CSV before merging.")


# ---------------------------------------------------------------- command line



def changes(before: pd.DataFrame, after: pd.DataFrame, participants: set[str] | None = None) -> list[str]:
    """What differs between two coding tables, in research terms (by segment id).

    ``participants``: the participants the imported file holds sources for;
    segments of others are not called removed (the file did not cover them).
    """
    lines = []
    if participants is not None:
        absent = sorted(set(before["participant_id"]) - participants)
        if absent:
            lines.append(f"not in the file, so not compared: {numbered(len(absent), 'participant')} "
                         f"({_listing(absent)})")
        before = before[before["participant_id"].isin(participants)]
    old = before.set_index("segment_id")
    new = after.set_index("segment_id")
    added = [sid for sid in new.index if sid not in old.index]
    removed = [sid for sid in old.index if sid not in new.index]
    both = [sid for sid in new.index if sid in old.index]
    moved = [f"{sid} {old.at[sid, 'theme_id']} -> {new.at[sid, 'theme_id']}" for sid in both
             if old.at[sid, "theme_id"] != new.at[sid, "theme_id"]]
    respanned = [f"{sid} {old.at[sid, 'start']}-{old.at[sid, 'end']} -> {new.at[sid, 'start']}-{new.at[sid, 'end']}"
                 for sid in both if (old.at[sid, "start"], old.at[sid, "end"]) != (new.at[sid, "start"],
                                                                                 new.at[sid, "end"])]
    text_columns = [*NOTE_KINDS, "experiential_statement"]
    rewritten = [sid for sid in both if any(old.at[sid, c] != new.at[sid, c] for c in text_columns)]
    for what, items in (("added", added), ("removed", removed), ("moved to another theme", moved),
                        ("re-spanned", respanned), ("with changed notes or statement", rewritten)):
        if items:
            lines.append(f"{numbered(len(items), 'segment')} {what}: {_listing(items)}")
    return lines if any(not line.startswith("not in the file") for line in lines) else \
        [*lines, "no change against coding.csv"]
