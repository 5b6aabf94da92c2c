"""What an import means in research terms: codes set aside, cells left empty, and changes against ``coding.csv``."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from ..text import numbered, plural
from .reader import Code, first_few
from .schema import NOTE_KINDS

__all__ = ["report_codes", "report_sources", "report_skipped", "changes"]


def report_codes(
    rows: list[dict], kept: list[dict], set_aside: list[dict], codes: dict[str, Code], messages: list[str]
) -> None:
    """Messages about codes that are not codable themes, and about empty cells."""
    by_code = Counter(row["_code"].guid for row in set_aside)
    for code_guid, count in by_code.items():
        code = codes[code_guid]
        ids = [row["segment_id"] for row in set_aside if row["_code"].guid == code_guid]
        if code.theme is None:
            where = f" ({code.path})" if code.path != code.name else ""
            messages.append(
                f"Code {code.name!r}{where} is not in codebook.yaml: "
                f"{numbered(count, 'segment')} set aside, not in the coding table ({first_few(ids)}). "
                "fix: add the theme to codebook.yaml and import again, or recode in the program."
            )
        else:
            messages.append(
                f"Code {code.name!r} is our grouping theme {code.theme}, which is not codable: "
                f"{numbered(count, 'segment')} set aside ({first_few(ids)}). fix: code them to one of its "
                "subordinate or minor themes."
            )
    used = {row["_code"].guid for row in rows}
    idle = [
        code.path
        for code in codes.values()
        if code.theme is None and code.codable and not code.case and code.guid not in used
    ]
    if idle:
        messages.append(
            f"{numbered(len(idle), 'code')} not in codebook.yaml and not used on any segment "
            f"(ignored): {first_few(idle)}."
        )
    empty_statement = [r["segment_id"] for r in kept if not r["experiential_statement"]]
    empty_notes = [r["segment_id"] for r in kept if not all(r[c] for c in NOTE_KINDS)]
    if empty_statement or empty_notes:
        messages.append(
            f"coding.csv needs every cell filled: {numbered(len(empty_statement), 'segment')} "
            f"without an experiential statement ({first_few(empty_statement) or '-'}) and "
            f"{numbered(len(empty_notes), 'segment')} with one or more exploratory notes missing "
            f"({first_few(empty_notes) or '-'}). fix: write them in the program (selection "
            "description; notes named 'Descriptive note ...', 'Linguistic note ...', "
            "'Conceptual note ...') or in the CSV before merging."
        )


def report_sources(
    sources_of: dict[str, list[str]], with_bom: list[str], skipped_kinds: Counter[str], messages: list[str]
) -> None:
    """Messages about the sources: several for one participant, byte-order marks, sources that are not text."""
    for pid, names in sources_of.items():
        if len(names) > 1:
            messages.append(
                f"Participant {pid} has {len(names)} sources ({first_few(names)}); their segments "
                "were all imported for that participant."
            )
    if with_bom:
        messages.append(
            f"{numbered(len(with_bom), 'source')} started with a UTF-8 byte-order mark, removed and not "
            f"counted in positions: {first_few(with_bom)}."
        )
    for kind, n in sorted(skipped_kinds.items()):
        messages.append(
            f"{numbered(n, kind)} skipped: only plain-text sources are read (a PDF's or picture's "
            "coding cannot become positions in our transcripts)."
        )


def report_skipped(
    messages: list[str],
    *,
    case_links: int,
    uncoded: int,
    missing_notes: list[str],
    unplaced: list[str],
    no_kind: list[str],
    no_analyst: int,
    unused_notes: int,
) -> None:
    """Messages about what was read but not imported (or imported incomplete), in the order import met it."""
    if case_links:
        messages.append(
            f"{numbered(case_links, 'selection')} coded to a case code (a case's link to its "
            "document) read as case links, not as segments."
        )
    if uncoded:
        messages.append(
            f"{numbered(uncoded, 'selection')} had no code and {plural(uncoded, 'was')} skipped (import reads coded "
            "segments only)."
        )
    if missing_notes:
        messages.append(
            f"{numbered(len(missing_notes), 'NoteRef')} pointed to notes missing from the project and "
            f"{plural(len(missing_notes), 'was')} skipped: {first_few(missing_notes)}."
        )
    if unplaced:
        messages.append(
            f"{numbered(len(unplaced), 'annotation')} on a span that is no coded segment (or on the "
            f"same span in several sources) {plural(len(unplaced), 'was')} not imported: {first_few(unplaced)}."
        )
    if no_kind:
        messages.append(
            f"{numbered(len(no_kind), 'note')} had no kind in the name (a name starting with "
            "'Descriptive note', 'Linguistic note' or 'Conceptual note' says which note column it "
            f"belongs to) and went to note_descriptive: {first_few(no_kind)}."
        )
    if no_analyst:
        messages.append(
            f"{numbered(no_analyst, 'segment')} had no user the project names, so analyst is empty; "
            "fill it in before merging."
        )
    if unused_notes:
        messages.append(
            f"{numbered(unused_notes, 'note')} not attached to a coded segment (memos and the like) "
            f"{plural(unused_notes, 'was')} not imported: import reads coding only and never changes memos.csv."
        )


def changes(before: pd.DataFrame, after: pd.DataFrame, participants: set[str] | None = None) -> list[str]:
    """What differs between two coding tables, in research terms (by segment id).

    ``participants``: the participants the imported file holds sources for;
    segments of others are not called removed (the file did not cover them).
    """
    lines = []
    if participants is not None:
        absent = sorted(set(before["participant_id"]) - participants)
        if absent:
            lines.append(
                f"not in the file, so not compared: {numbered(len(absent), 'participant')} ({first_few(absent)})"
            )
        before = before[before["participant_id"].isin(participants)]
    old = before.set_index("segment_id")
    new = after.set_index("segment_id")
    added = [sid for sid in new.index if sid not in old.index]
    removed = [sid for sid in old.index if sid not in new.index]
    both = [sid for sid in new.index if sid in old.index]

    text_columns = [*NOTE_KINDS, "experiential_statement"]
    was, now = _cells(old, ["theme_id", *text_columns]), _cells(new, ["theme_id", *text_columns])
    was_at, now_at = _spans(old), _spans(new)
    moved = [
        f"{sid} {was[sid]['theme_id']} -> {now[sid]['theme_id']}"
        for sid in both
        if was[sid]["theme_id"] != now[sid]["theme_id"]
    ]
    respanned = [
        f"{sid} {was_at[sid][0]}-{was_at[sid][1]} -> {now_at[sid][0]}-{now_at[sid][1]}"
        for sid in both
        if was_at[sid] != now_at[sid]
    ]
    rewritten = [sid for sid in both if any(was[sid][c] != now[sid][c] for c in text_columns)]
    for what, items in (
        ("added", added),
        ("removed", removed),
        ("moved to another theme", moved),
        ("re-spanned", respanned),
        ("with changed notes or statement", rewritten),
    ):
        if items:
            lines.append(f"{numbered(len(items), 'segment')} {what}: {first_few(items)}")
    return (
        lines
        if any(not line.startswith("not in the file") for line in lines)
        else [*lines, "no change against coding.csv"]
    )


def _cells(table: pd.DataFrame, columns: list[str]) -> dict[str, dict[str, str]]:
    """Text cells of a coding table indexed by segment id: segment id -> column -> text."""
    return {
        str(sid): {c: str(v) for c, v in zip(columns, values)}
        for sid, *values in zip(table.index, *(table[c] for c in columns))
    }


def _spans(table: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Segment id -> (start, end) of a coding table indexed by segment id."""
    return {str(sid): (int(start), int(end)) for sid, start, end in zip(table.index, table["start"], table["end"])}
