"""Case-by-case analysis: one participant's notes, statements and personal experiential themes."""

from __future__ import annotations

import pandas as pd

from .data import Study
from .transcripts import line_span
from .errors import CompendiumError
from .themes import theme_key

__all__ = [
    "check_participant",
    "case_segments",
    "exploratory_notes",
    "experiential_statements",
    "personal_experiential_themes",
    "case_table",
    "NOTE_KINDS",
    "format_lines",
]

NOTE_KINDS = {"descriptive": "note_descriptive", "linguistic": "note_linguistic", "conceptual": "note_conceptual"}


def check_participant(study: Study, participant: str) -> str:
    """Return ``participant`` if it is in the study, else raise an error listing the valid ids."""
    if participant not in study.pseudonyms:
        valid = ", ".join(f"{k} ({v})" for k, v in study.pseudonyms.items())
        raise CompendiumError(
            f"Unknown participant {participant!r}.", fix=f"use one of the ids in participants.csv: {valid}"
        )
    return participant


def format_lines(first: int, last: int) -> str:
    """'12' or '12-14': a transcript line reference."""
    return str(first) if first == last else f"{first}-{last}"


def case_segments(study: Study, participant: str) -> pd.DataFrame:
    """The participant's coded segments in transcript order, with line numbers and theme labels."""
    check_participant(study, participant)
    text = study.transcripts[participant]
    segs = study.coding[study.coding["participant_id"] == participant].sort_values("start").copy()
    spans = [line_span(text, s, e) for s, e in zip(segs["start"], segs["end"])]
    segs["line_start"] = [a for a, _ in spans]
    segs["line_end"] = [b for _, b in spans]
    labels = dict(zip(study.codebook["id"], study.codebook["label"]))
    segs["theme_label"] = segs["theme_id"].map(labels)
    return segs.reset_index(drop=True)


def exploratory_notes(segments: pd.DataFrame) -> pd.DataFrame:
    """Notes in long form, grouped by kind (descriptive, linguistic, conceptual), then transcript order."""
    long = segments.melt(
        id_vars=["segment_id", "line_start"], value_vars=list(NOTE_KINDS.values()), var_name="kind", value_name="note"
    )
    long["kind"] = long["kind"].map({v: k for k, v in NOTE_KINDS.items()})
    long["kind"] = pd.Categorical(long["kind"], categories=list(NOTE_KINDS), ordered=True)
    return long.sort_values(["kind", "line_start"]).reset_index(drop=True)[["kind", "segment_id", "line_start", "note"]]


def experiential_statements(segments: pd.DataFrame) -> pd.DataFrame:
    """Experiential statements in transcript order with their line references."""
    out = segments[["segment_id", "line_start", "line_end", "experiential_statement"]].copy()
    out.insert(1, "lines", [format_lines(a, b) for a, b in zip(out.pop("line_start"), out.pop("line_end"))])
    return out


def personal_experiential_themes(segments: pd.DataFrame) -> pd.DataFrame:
    """PETs: themes, how many statements each gathers, and where in the transcript they sit."""
    grouped = segments.groupby(["theme_id", "theme_label"], sort=False)
    out = pd.DataFrame(
        {
            "statements": grouped.size(),
            "lines": grouped[["line_start", "line_end"]].apply(
                lambda g: ", ".join(format_lines(a, b) for a, b in zip(g["line_start"], g["line_end"]))
            ),
        }
    ).reset_index()
    return out.sort_values("theme_id", key=lambda c: c.map(theme_key)).reset_index(drop=True)


def case_table(study: Study, participant: str) -> pd.DataFrame:
    """The per-case table written for the cross-case step: theme -> statement -> line-referenced excerpt."""
    segs = case_segments(study, participant)
    out = segs[
        [
            "participant_id",
            "theme_id",
            "theme_label",
            "segment_id",
            "line_start",
            "line_end",
            "experiential_statement",
            "excerpt",
        ]
    ].copy()
    out.insert(1, "pseudonym", study.pseudonyms[participant])
    return out.sort_values(
        ["theme_id", "line_start"], key=lambda c: c.map(theme_key) if c.name == "theme_id" else c
    ).reset_index(drop=True)
