"""Known-answer tests for :mod:`compendium.cases` on a hand-made two-person study."""

from __future__ import annotations

import pandas as pd
import pytest

from compendium.cases import (
    NOTE_KINDS,
    case_segments,
    case_table,
    check_participant,
    experiential_statements,
    exploratory_notes,
    format_lines,
    personal_experiential_themes,
)
from compendium.data import Study
from compendium.errors import CompendiumError

ANN = (
    "Interviewer: What does kindness to yourself look like?\n"  # line 1
    "Ann: Slowing down. Noticing the tired body first.\n"  # line 2
    "Interviewer: And with clients?\n"  # line 3
    "Ann: They flinch at it. It feels selfish to them.\n"  # line 4
    "Interviewer: Say more.\n"  # line 5
    "Ann: Their mum came first, always.\n"  # line 6 (last line)
)
BEN = "Interviewer: Hello?\nBen: Hello there, kindness is hard.\n"

# (segment id, participant, transcript, excerpt, theme); excerpt == transcript[start:end]
SEGMENTS = [
    ("P01-S03", "P01", ANN, "They flinch at it.", "1.2"),  # line 4
    ("P01-S01", "P01", ANN, "Slowing down.", "1.10"),  # line 2
    ("P02-S01", "P02", BEN, "kindness is hard.", "1.2"),  # the other participant: never in P01's tables
    ("P01-S04", "P01", ANN, "Their mum came first, always.", "1.10"),  # last line, ends before the final LF
    ("P01-S02", "P01", ANN, "Noticing the tired body first.\nInterviewer: And with clients?", "1.2"),  # lines 2-3
]


def study() -> Study:
    rows = []
    for sid, pid, text, excerpt, theme in SEGMENTS:
        start = text.index(excerpt)
        n = sid[-1]
        rows.append(
            {
                "segment_id": sid,
                "participant_id": pid,
                "start": start,
                "end": start + len(excerpt),
                "excerpt": excerpt,
                "theme_id": theme,
                "note_descriptive": f"d{n}",
                "note_linguistic": f"l{n}",
                "note_conceptual": f"c{n}",
                "experiential_statement": f"statement {sid}",
            }
        )
    participants = pd.DataFrame({"participant_id": ["P01", "P02"], "pseudonym": ["Ann", "Ben"]})
    codebook = pd.DataFrame({"id": ["1", "1.2", "1.10"], "label": ["Ant", "Bee", "Jay"]})
    return Study(participants, pd.DataFrame(rows), codebook, pd.DataFrame(), {"P01": ANN, "P02": BEN})


# ---------------------------------------------------------------------------- check_participant


def test_check_participant_returns_a_known_id() -> None:
    assert check_participant(study(), "P02") == "P02"


def test_unknown_participant_lists_the_valid_ids() -> None:
    with pytest.raises(CompendiumError) as info:
        check_participant(study(), "P99")
    message = str(info.value)
    assert "Unknown participant 'P99'" in message
    assert "P01 (Ann), P02 (Ben)" in message
    assert "fix:" in message and "participants.csv" in message


def test_case_segments_refuses_an_unknown_participant() -> None:
    with pytest.raises(CompendiumError, match="Unknown participant 'p01'"):
        case_segments(study(), "p01")  # ids are case-sensitive


# ---------------------------------------------------------------------------- format_lines


@pytest.mark.parametrize("first, last, text", [(12, 12, "12"), (12, 14, "12-14"), (1, 2, "1-2")])
def test_format_lines(first: int, last: int, text: str) -> None:
    assert format_lines(first, last) == text


# ---------------------------------------------------------------------------- case_segments


def test_case_segments_transcript_order_and_line_numbers() -> None:
    segs = case_segments(study(), "P01")
    assert segs["segment_id"].tolist() == ["P01-S01", "P01-S02", "P01-S03", "P01-S04"]  # by start offset
    assert segs["line_start"].tolist() == [2, 2, 4, 6]
    assert segs["line_end"].tolist() == [2, 3, 4, 6]  # S02 spans a line break; S04 sits on the last line
    assert segs["theme_label"].tolist() == ["Jay", "Bee", "Bee", "Jay"]
    assert segs.index.tolist() == [0, 1, 2, 3]
    assert (segs["participant_id"] == "P01").all()


def test_case_segments_offsets_agree_with_excerpts() -> None:
    """The fixture itself: every excerpt is the transcript slice, so line numbers can be checked by eye."""
    s = study()
    for r in s.coding.itertuples():
        assert s.transcripts[r.participant_id][r.start : r.end] == r.excerpt


def test_segment_ending_at_a_newline_stays_on_its_line() -> None:
    """An end offset pointing at the line feed (end exclusive) must not be counted on the next line."""
    s = study()
    last = s.coding.set_index("segment_id").loc["P01-S04"]
    assert ANN[last["end"]] == "\n" and last["end"] == len(ANN) - 1
    # including the final line feed in the span still gives line 6
    s.coding.loc[s.coding["segment_id"] == "P01-S04", "end"] = len(ANN)
    segs = case_segments(s, "P01").set_index("segment_id")
    assert (segs.loc["P01-S04", "line_start"], segs.loc["P01-S04", "line_end"]) == (6, 6)


def test_case_segments_of_the_other_participant() -> None:
    segs = case_segments(study(), "P02")
    assert segs[["segment_id", "line_start", "line_end", "theme_label"]].values.tolist() == [["P02-S01", 2, 2, "Bee"]]


# ---------------------------------------------------------------------------- exploratory notes


def test_exploratory_notes_grouped_by_kind_then_transcript_order() -> None:
    notes = exploratory_notes(case_segments(study(), "P01"))
    assert notes.columns.tolist() == ["kind", "segment_id", "line_start", "note"]
    assert list(NOTE_KINDS) == ["descriptive", "linguistic", "conceptual"]
    assert notes["kind"].astype(str).tolist() == ["descriptive"] * 4 + ["linguistic"] * 4 + ["conceptual"] * 4
    assert notes["segment_id"].tolist() == ["P01-S01", "P01-S02", "P01-S03", "P01-S04"] * 3
    assert notes["note"].tolist() == ["d1", "d2", "d3", "d4", "l1", "l2", "l3", "l4", "c1", "c2", "c3", "c4"]
    assert notes["line_start"].tolist() == [2, 2, 4, 6] * 3


# ---------------------------------------------------------------------------- experiential statements


def test_experiential_statements_with_line_references() -> None:
    st = experiential_statements(case_segments(study(), "P01"))
    assert st.columns.tolist() == ["segment_id", "lines", "experiential_statement"]
    assert st.values.tolist() == [
        ["P01-S01", "2", "statement P01-S01"],
        ["P01-S02", "2-3", "statement P01-S02"],
        ["P01-S03", "4", "statement P01-S03"],
        ["P01-S04", "6", "statement P01-S04"],
    ]


# ---------------------------------------------------------------------------- PETs


def test_personal_experiential_themes_counts_and_lines() -> None:
    pets = personal_experiential_themes(case_segments(study(), "P01"))
    assert pets.columns.tolist() == ["theme_id", "theme_label", "statements", "lines"]
    by_theme = {r.theme_id: (r.theme_label, r.statements, r.lines) for r in pets.itertuples()}
    assert by_theme == {"1.2": ("Bee", 2, "2-3, 4"), "1.10": ("Jay", 2, "2, 6")}


def test_personal_experiential_themes_in_theme_order() -> None:
    """PETs are listed like every other theme table: 1.2 before 1.10 (as case_table and Table 2 do)."""
    pets = personal_experiential_themes(case_segments(study(), "P01"))
    assert pets["theme_id"].tolist() == ["1.2", "1.10"]


# ---------------------------------------------------------------------------- case_table


def test_case_table_columns_and_order() -> None:
    t = case_table(study(), "P01")
    assert t.columns.tolist() == [
        "participant_id",
        "pseudonym",
        "theme_id",
        "theme_label",
        "segment_id",
        "line_start",
        "line_end",
        "experiential_statement",
        "excerpt",
    ]
    # theme order (1.2 before 1.10), then transcript order within a theme
    assert t[["theme_id", "segment_id", "line_start", "line_end"]].values.tolist() == [
        ["1.2", "P01-S02", 2, 3],
        ["1.2", "P01-S03", 4, 4],
        ["1.10", "P01-S01", 2, 2],
        ["1.10", "P01-S04", 6, 6],
    ]
    assert (t["pseudonym"] == "Ann").all() and (t["participant_id"] == "P01").all()
    assert t.loc[0, "excerpt"] == "Noticing the tired body first.\nInterviewer: And with clients?"
    assert t.index.tolist() == [0, 1, 2, 3]
