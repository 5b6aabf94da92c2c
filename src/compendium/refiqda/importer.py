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

This module maps what was read to our tables; reading the archive and its XML is
:mod:`.reader`, matching participants, positions and ids :mod:`.matching`, and
the messages about codes and the changes against ``coding.csv``
:mod:`.import_report`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from lxml import etree

from ..data import load_codebook, load_coding, load_participants
from ..paths import Paths, paths
from ..text import numbered, plural
from .import_report import changes, report_codes, report_skipped, report_sources
from .matching import assign_ids, participant_resolver, relocate
from .reader import Code, Note, QdpxReader, clean_text, lf_position, source_text
from .schema import FIX_EXPORT_AGAIN, NOTE_KINDS, coding_table, error, norm_guid, split_notes

__all__ = ["ImportResult", "import_qdpx", "changes", "frame"]

NOTE_KIND = re.compile(r"^\s*(?P<kind>descriptive|linguistic|conceptual)\b", re.IGNORECASE)


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


def frame(rows: list[dict], p: Paths | None = None) -> pd.DataFrame:
    """Rows as a table typed like ``load_coding()`` (the columns and types of ``p``'s ``datapackage.json``).

    A text column the import does not fill (one a study added to its coding table) is left empty.
    """
    table = coding_table(p)
    df = pd.DataFrame([{c: row.get(c, "") for c in table.columns} for row in rows], columns=table.columns)
    return df.astype({c: (int if c in table.integers else str) for c in table.columns})


def import_qdpx(path: Path | str, p: Paths | None = None) -> ImportResult:
    """Read coded segments from a ``.qdpx`` file into the ``coding.csv`` format.

    Reads ``codebook.yaml``, ``participants.csv``, ``coding.csv`` and the
    transcripts to match codes, participants and ids; writes nothing.
    Raises :class:`RefiQdaError` for input that cannot be read safely.
    """
    p = p or paths()
    reader = QdpxReader(Path(path), p)
    with reader.archive:
        return _import(reader, p)


def _note_cells(note: Note, column_hint: list[str]) -> dict[str, str]:
    """The note columns a note fills: by its kind headings, else by the kind in its name."""
    cells = split_notes(note.text)
    if cells is not None:
        return cells
    found = NOTE_KIND.match(note.name)
    if found is None:
        column_hint.append(note.name or "unnamed note")
    column = f"note_{found.group('kind').lower()}" if found else "note_descriptive"
    return {column: note.text}


def _import(reader: QdpxReader, p: Paths) -> ImportResult:
    messages = reader.messages
    codebook = load_codebook(p)
    codable = dict(zip(codebook["id"], codebook["codable"].astype(bool)))
    participants = load_participants(p)
    known = set(participants["participant_id"])
    resolve = participant_resolver(participants)
    users = reader.users()
    linked, case_guids = reader.cases(resolve)
    codes = reader.codes(codebook, set(case_guids))
    notes = reader.notes()
    q = reader.q

    def case_link(coding: etree._Element) -> bool:
        code = codes.get(norm_guid(coding.find(q("CodeRef")).get("targetGUID")))
        return code is not None and code.case

    # Annotation notes (QualCoder's form): which source each one belongs to, if a source says so.
    annotation_of: dict[str, str] = {}
    for source in reader.root.iterfind(f"{q('Sources')}/*"):
        for ref in source.iterfind(q("NoteRef")):
            annotation_of.setdefault(norm_guid(ref.get("targetGUID")), norm_guid(source.get("guid")))

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
    for source in sources if sources is not None else []:
        if not isinstance(source.tag, str):
            continue  # comments and processing instructions
        kind = etree.QName(source).localname
        name = source.get("name") or source.get("guid", "")
        label = f"source {name!r}"
        if kind != "TextSource":
            skipped_kinds[kind] += 1
            continue
        source_guid = norm_guid(source.get("guid"))
        selections = source.findall(q("PlainTextSelection"))
        if source.findall(q("Coding")):
            messages.append(
                f"{label}: coding of the whole document (not of a selection) was skipped; code passages instead."
            )
        # A selection coded only to case codes is a case link: it names the participant, it is no segment.
        pid = linked.get(source_guid)
        links = [
            sel
            for sel in selections
            if sel.findall(q("Coding")) and all(case_link(c) for c in sel.iterfind(q("Coding")))
        ]
        for selection in links:
            for coding in selection.iterfind(q("Coding")):
                pid = pid or case_guids.get(norm_guid(coding.find(q("CodeRef")).get("targetGUID")))
        pid = pid or resolve(name)
        case_links += len(links)
        selections = [sel for sel in selections if not any(sel is link for link in links)]
        if not selections:
            continue
        if pid is None:
            n = len(selections)
            messages.append(
                f"{label} is not linked to a participant (no case refers to it and its name holds "
                f"no participant id or pseudonym): its {numbered(n, 'selection')} {plural(n, 'was')} not "
                "imported. fix: name the case or the document after the participant, e.g. 'P03' "
                "or 'Amy'."
            )
            continue
        sources_of[pid].append(name)
        seen, bom = source_text(reader, source, label)
        source_lengths[source_guid] = len(seen)
        text = seen.replace("\r\n", "\n").replace("\r", "\n")
        crlf = [m.start() for m in re.finditer("\r\n", seen)]
        if bom:
            with_bom.append(name)
        if crlf and atlas:
            messages.append(
                f"{label}: Windows (CRLF) line breaks; ATLAS.ti counts each as one character, so "
                "the positions were read as positions in the LF text our transcripts use."
            )
            crlf = []
        elif crlf:
            n = len(selections)
            messages.append(
                f"{label}: Windows (CRLF) line breaks; the program's positions count each break as "
                f"two characters, so {numbered(n, 'selection')} {plural(n, 'was')} converted to positions in "
                "the LF text our transcripts use."
            )

        for selection in source.iterfind(q("PlainTextSelection")):
            selection_spans[norm_guid(selection.get("guid"))] = (
                source_guid,
                (int(selection.get("startPosition")), int(selection.get("endPosition"))),
            )
        source_rows = []
        for selection in selections:
            sel_name = selection.get("name") or ""
            shown = (
                repr(sel_name if len(sel_name) <= 40 else sel_name[:37] + "...")
                if sel_name
                else f"at line {selection.sourceline}"
            )
            start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
            if not 0 <= start < end <= len(seen if crlf else text):
                raise error(
                    reader.where,
                    f"selection {shown} in {label} spans {start}-{end}, which is not a "
                    f"stretch of the source text (0-{len(seen)} characters"
                    f"{', line breaks counted as two' if crlf else ''}).",
                    "the source in the archive does not match the project (replaced or edited "
                    f"outside the program?): {FIX_EXPORT_AGAIN}",
                    line=selection.sourceline,
                )
            codings = [c for c in selection.findall(q("Coding")) if not case_link(c)]
            if not codings:
                uncoded += 1
                continue
            statement = clean_text(selection.findtext(q("Description")))
            s, e = lf_position(crlf, start), lf_position(crlf, end)
            for coding in codings:
                # Notes on the selection belong to every coding of it; notes on a coding to that one only.
                note_cells: dict[str, list[str]] = {column: [] for column in NOTE_KINDS}
                for ref in [*selection.iterfind(q("NoteRef")), *coding.iterfind(q("NoteRef"))]:
                    target = norm_guid(ref.get("targetGUID"))
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
                target = norm_guid(ref.get("targetGUID"))
                if target not in codes:
                    raise error(
                        reader.where,
                        f"selection {shown} in {label} is coded with CodeRef "
                        f"targetGUID={ref.get('targetGUID')!r}, but the project's CodeBook has no code "
                        "with that GUID.",
                        f"the export is incomplete or was edited by hand: "
                        f"{FIX_EXPORT_AGAIN}, or add the code to <CodeBook>",
                        line=ref.sourceline,
                    )
                user = (
                    users.get(norm_guid(coding.get("creatingUser")))
                    or users.get(norm_guid(selection.get("creatingUser")))
                    or (next(iter(users.values())) if len(users) == 1 else "")
                )
                no_analyst += not user
                row = {
                    "segment_id": "",
                    "participant_id": pid,
                    "start": s,
                    "end": e,
                    "excerpt": text[s:e],
                    "theme_id": "",
                    "experiential_statement": statement,
                    "analyst": user,
                    "coding_round": 1,
                    "_cells": note_cells,
                    "_name": sel_name,
                    "_code": codes[target],
                    "_label": label,
                    "_raw": (start, end),
                    "_source": source_guid,
                }
                source_rows.append(row)
                spans_of_source[source_guid].append(row)
        relocate(source_rows, text, pid, label, known, p, messages)
        rows += source_rows

    # Annotation notes: attach by span, in the source that refers to them, else the one source with that span.
    by_span: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for source_rows in spans_of_source.values():
        for row in source_rows:
            by_span[row["_raw"]].append(row)
    # Links between a note and a selection (NVivo's annotations): the note belongs to the segments on that span.
    linked_to: dict[str, tuple[str, tuple[int, int]]] = {}
    for link in reader.root.iterfind(f"{q('Links')}/{q('Link')}"):
        ends = [norm_guid(link.get("originGUID")), norm_guid(link.get("targetGUID"))]
        note_end = [g for g in ends if g in notes]
        selection_end = [g for g in ends if g in selection_spans]
        if note_end and selection_end:
            linked_to.setdefault(note_end[0], selection_spans[selection_end[0]])
    unplaced = []
    for note_guid, note in notes.items():
        if note_guid in used_notes:
            continue
        home: str | None
        if note_guid in linked_to:
            home, span = linked_to[note_guid]
        elif note.span is not None:
            home, span = annotation_of.get(note_guid), note.span
        else:
            continue  # neither linked to a selection nor an annotation: a memo, reported below
        candidates = [r for r in by_span.get(span, []) if home is None or r["_source"] == home]
        if len({r["_source"] for r in candidates}) != 1:
            unplaced.append(note.name or note_guid)
            continue
        used_notes.add(note_guid)
        for row in candidates:
            hint = []
            for column, value in _note_cells(note, hint).items():
                if value and value not in row["_cells"][column]:
                    row["_cells"][column].append(value)
            if hint and row is candidates[0]:
                no_kind.append(f"{hint[0]!r} (an annotation on {row['_label']})")
    for row in rows:
        for column, cells in row.pop("_cells").items():
            row[column] = "\n\n".join(cells)

    report_sources(sources_of, with_bom, skipped_kinds, messages)
    previous = load_coding(p) if p.coding.is_file() else frame([], p)
    assign_ids(rows, previous, messages)
    kept, set_aside = [], []
    for row in rows:
        code: Code = row["_code"]
        if code.theme is not None and codable.get(code.theme):
            row["theme_id"] = code.theme
            kept.append(row)
        else:
            row["theme_id"] = code.theme if code.theme is not None else code.name
            set_aside.append(row)
    report_codes(rows, kept, set_aside, codes, messages)

    unused = [n for n in notes if n not in used_notes and notes[n].span is None and n not in linked_to]
    report_skipped(
        messages,
        case_links=case_links,
        uncoded=uncoded,
        missing_notes=[where for _, where in missing_notes],
        unplaced=unplaced,
        no_kind=no_kind,
        no_analyst=no_analyst,
        unused_notes=len(unused),
    )
    order = ["participant_id", "start", "end", "segment_id"]
    result = ImportResult(
        frame(kept, p).sort_values(order, ignore_index=True),
        messages,
        frame(set_aside, p).sort_values(order, ignore_index=True),
    )
    result.changes = changes(previous, result.coding, set(sources_of))
    return result
