"""Matching what a QDA program kept to our study: participants, transcript positions and segment ids.

- A source belongs to a participant by its case, else by its name (an id such
  as ``P03``, or a pseudonym): :func:`participant_resolver`.
- A source whose text differs from our transcript has its excerpts found again
  in ours by their text: :func:`relocate`.
- Segment ids come back by the selection's name (our export writes
  ``"P01-S01 (round 1)"``), else by participant and span against ``coding.csv``,
  else as new ids after every id in use: :func:`assign_ids`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable

import pandas as pd

from ..paths import Paths
from ..text import numbered
from .reader import first_few, norm_name

__all__ = ["participant_resolver", "relocate", "assign_ids", "SEGMENT_NAME"]

SEGMENT_NAME = re.compile(r"^(?P<segment>P\d{2,4}-S\d{2,3})(?: \(round (?P<round>\d)\))?$")
PARTICIPANT_ID = re.compile(r"(?<![A-Za-z0-9])P\d{2,4}(?![0-9])")


def _preview(text: str, width: int = 40) -> str:
    """A text shortened to ``width`` characters, in quotes."""
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[: width - 3] + "...")


def participant_resolver(participants: pd.DataFrame) -> Callable[[str], str | None]:
    """A function from a case's or document's name to the participant it names (None if it names none)."""
    ids = set(participants["participant_id"])
    by_pseudonym = {
        norm_name(name): pid for pid, name in zip(participants["participant_id"], participants["pseudonym"])
    }

    def resolve(name: str) -> str | None:
        stem = re.sub(r"\.(txt|docx?|rtf|pdf)$", "", name.strip(), flags=re.IGNORECASE)
        if stem in ids:
            return stem
        if norm_name(stem) in by_pseudonym:
            return by_pseudonym[norm_name(stem)]
        found = PARTICIPANT_ID.search(stem)
        if found:
            return found.group()
        for word in re.findall(r"[^\W\d_]+(?:['-][^\W\d_]+)*", stem):
            if norm_name(word) in by_pseudonym:
                return by_pseudonym[norm_name(word)]
        return None

    return resolve


def relocate(rows: list[dict], text: str, pid: str, label: str, known: set[str], p: Paths, messages: list[str]) -> None:
    """Check a source against our transcript; re-find excerpts if the text was edited in the program."""
    if pid not in known or not p.transcript(pid).is_file():
        missing = "is not in participants.csv" if pid not in known else f"has no transcript {pid}.txt"
        messages.append(
            f"{label}: participant {pid} {missing}, so its segments could not be checked against "
            "a transcript; add the participant and transcript before merging."
        )
        return
    ours = p.transcript(pid).read_text(encoding="utf-8")
    if text == ours or not rows:
        return
    moved, lost = 0, []
    for row in rows:
        if ours[row["start"] : row["end"]] == row["excerpt"]:
            continue
        first = ours.find(row["excerpt"])
        if first >= 0 and ours.find(row["excerpt"], first + 1) < 0:
            row["start"], row["end"] = first, first + len(row["excerpt"])
            moved += 1
        else:
            lost.append(_preview(row["excerpt"]))
    message = (
        f"{label}: the text differs from transcripts/{pid}.txt (edited in the program?); "
        f"{numbered(moved, 'segment')} re-located in our transcript by their text"
    )
    if lost:
        message += (
            f"; {numbered(len(lost), 'segment')} could not be found there and keep the program's positions "
            f"(they will fail `compendium validate` until corrected): {first_few(lost, 5)}"
        )
    messages.append(message + ".")


def assign_ids(rows: list[dict], previous: pd.DataFrame, messages: list[str]) -> None:
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
    tests = (
        lambda r, s: (s["start"], s["end"]) == (r["start"], r["end"]) and s["theme_id"] == r["_code"].theme,
        lambda r, s: (s["start"], s["end"]) == (r["start"], r["end"]),
        lambda r, s: s["theme_id"] == r["_code"].theme and s["start"] < r["end"] and r["start"] < s["end"],
    )
    for test in tests:
        for row in pending:
            if row["segment_id"]:
                continue
            match = next(
                (sid for sid, seg in free.items() if seg["participant_id"] == row["participant_id"] and test(row, seg)),
                None,
            )
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
        messages.append(
            f"{numbered(by_span, 'segment')} had no segment id of ours in the selection name (the "
            "program renamed or re-created the selections) and {} matched to coding.csv by "
            "participant and span.".format("was" if by_span == 1 else "were")
        )
    if fresh:
        messages.append(
            f"{numbered(len(fresh), 'segment')} matched no segment of coding.csv (new selections, or a "
            "selection with several codes): numbered after the ids already in use: "
            f"{first_few([r['segment_id'] for r in fresh])}."
        )
    if no_round:
        messages.append(
            f"{numbered(no_round, 'segment')} had no coding round (QDA-XML has none; our export keeps "
            "it in the selection name): set to round 1; change coding_round if this was a later "
            "round."
        )
